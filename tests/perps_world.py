"""A Python mirror of one engine's state, driven alongside the chain.

`World` holds what the model needs (balances per account and asset,
positions, market states, the pool ledger, the insurance fund and bad-debt
totals, each feed's latest round) and predicts each action's outcome with
`xmargin.maths.model` / `xmargin.maths.perps` / `xmargin.maths.liquidation`: the exact result
of a valid action, or the revert reason of an invalid one (an invalid price
included: the router's reason, in the order the contract reads prices).
`check` compares every account, market and ledger with the chain. Used by
the trading property test and the stateful fuzz machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field, replace
from typing import Any

from ape.exceptions import ContractLogicError

from xmargin.maths import account as acct
from xmargin.maths import errors, fixed_point, model, perps
from xmargin.maths import liquidation as liq
from xmargin.maths import lp_requests as lr
from xmargin.maths import orders as om
from xmargin.maths import pool as pool_model
from xmargin.maths import portfolio as pm

E18 = 10**18
HEARTBEAT = 3_600
BOUNDS = model.PriceBounds(10**12, 10**6 * E18)  # conftest's MIN_PRICE, MAX_PRICE
# Rounding a liquidation may cost an account, native quote units: the
# realised PnL rounds down and the penalty up (docs/liquidation.md).
LIQUIDATION_ROUNDING = 2

Account = tuple[str, int]


@contextmanager
def reverts(reason: str) -> Iterator[None]:
    """The body must revert with exactly `reason`. Both drivers raise Ape's
    `ContractLogicError` for a revert (the titanoboa driver with the
    contract's reason, as `xmargin.chain.light` does), so the model needs
    no more of Ape than that exception's type."""
    try:
        yield
    except ContractLogicError as err:
        got = err.revert_message
        assert got == reason, f"expected revert {reason!r}, got {got!r}"
    else:
        raise AssertionError(f"did not revert (expected {reason!r})")


def next_timestamp(chain) -> int:
    """Pins the next block's timestamp one second after the head (or keeps a
    later pin) and returns it. Ape's in-process chain mines a block for a
    reverted transaction too, so the head moves on refusals as well."""
    now = max(chain.blocks.head.timestamp + 1, chain.pending_timestamp)
    chain.pending_timestamp = now
    return now


@dataclass(frozen=True)
class ChainState:
    """What the chain reports, in the model's shapes (see `World.read_chain`)."""

    balances: dict[Account, dict[str, int]]
    positions: dict[tuple[str, int, int], tuple]
    # (equity, IM, MM), or None where the view reverted
    health: dict[Account, tuple[int, int, int] | None]
    states: list[tuple]
    # pool ledger, insurance fund, [bad debt total, insurance, pool], registry size
    ledgers: tuple[int, int, list[int], int]
    held: dict[str, int]


@dataclass
class World:
    ch: Any
    params: list[perps.MarketParams]
    feeds: list[Any]
    # (owner, sub_id) pairs the world tracks
    accounts: list[tuple[Any, int]]
    quote: str
    # listed assets in listing order (the order the contract prices them)
    assets: dict[str, model.AssetParams]
    quote_precision: int
    # market id -> collateral asset priced by the same feed (or None)
    market_collateral: list[str | None] = field(default_factory=list)
    # asset address -> token contract, for the tokens-held invariant
    tokens: dict[str, Any] = field(default_factory=dict)
    states: list[perps.MarketState] = field(default_factory=list)
    prices: list[int] = field(default_factory=list)
    # each feed's latest round, as the router reads it
    rounds: list[model.Round] = field(default_factory=list)
    feed_params: list[model.FeedParams] = field(default_factory=list)
    positions: dict[tuple[str, int, int], perps.Position] = field(default_factory=dict)
    balances: dict[Account, dict[str, int]] = field(default_factory=dict)
    pool: int = 0
    lp: liq.LiquidationParams = field(default_factory=liq.LiquidationParams)
    insurance: int = 0
    # running totals: deficit, from insurance, from pool (native quote units)
    bad_debt: list[int] = field(default_factory=lambda: [0, 0, 0])
    # frozen assets (at the end of their ramp: 100 % haircuts) -> their
    # parameters at the freeze, which `unfreeze_asset` puts back
    frozen: dict[str, model.AssetParams] = field(default_factory=dict)
    # asset -> tokens the engine holds beyond its ledgers (a rebase up:
    # left alone, never counted)
    surplus: dict[str, int] = field(default_factory=dict)
    # feed -> the decimals it answers now, when they moved from the
    # configured ones (a feed turned hostile)
    live_decimals: dict[int, int] = field(default_factory=dict)
    # the on-chain registry, in index order
    registered: list[Account] = field(default_factory=list)
    # optional test-only batch reader (contracts/mocks/StateReader.vy)
    reader: Any = None
    # accounts in portfolio margin mode, and the engine's risk set and groups
    # (keyed by asset address); None while the engine has no risk set
    portfolio: set[Account] = field(default_factory=set)
    pm_config: pm.PortfolioConfig | None = None
    # the pool's capital caps (docs/pool.md): per market (None: uncapped),
    # the total reserve factor (0: none) and the cash buffer
    caps: list[pool_model.Caps | None] = field(default_factory=list)
    total_reserve: int = 0
    buffer: int = 0
    # governance: paused, and when liquidations (and ADL) resume after it
    paused: bool = False
    resume_at: int = 0
    # delayed orders: each market's rules, each account's pending order and
    # the escrowed settlement fees (a quote ledger)
    order_rules: list[om.OrderRules] = field(default_factory=list)
    orders: dict[Account, om.Order] = field(default_factory=dict)
    order_fees: int = 0
    # the liquidation capacity and each market's window: (start, size used)
    capacity: liq.Capacity = field(default_factory=liq.Capacity)
    windows: list[tuple[int, int]] = field(default_factory=list)
    # the refundable premium the last liquidation left the pool owing
    # (WAD; invariant 15 allows it: docs/liquidation.md, known limits)
    premium_jump: int = 0

    @classmethod
    def read(cls, ch, params, feeds, accounts, quote, assets, market_collateral, tokens) -> World:
        """A world seeded from the chain's current state (before any action).

        Only the tracked accounts may hold balances in the engine: the
        tokens-held invariant counts theirs, the pool's and the insurance
        fund's, nothing else.
        """
        # Own copies: owner rules change params and haircuts in the world.
        w = cls(
            ch,
            list(params),
            list(feeds),
            list(accounts),
            quote,
            dict(assets),
            10 ** (18 - assets[quote].decimals),
        )
        w.market_collateral = list(market_collateral)
        w.tokens = dict(tokens)
        w.states = [perps.MarketState(*ch.market_state(m)) for m in range(len(params))]
        w.feed_params = [model.FeedParams(f.decimals(), HEARTBEAT) for f in feeds]
        w.rounds = [model.Round(*f.latestRoundData()) for f in feeds]
        w.prices = [
            r.answer * 10 ** (18 - fp.decimals)
            for r, fp in zip(w.rounds, w.feed_params, strict=True)
        ]
        for who, sub in accounts:
            w.balances[(str(who), sub)] = {a: ch.balance_of(who, sub, a) for a in assets}
            for m in range(len(params)):
                w.positions[(str(who), sub, m)] = perps.Position(*ch.position(who, sub, m))
        w.pool = ch.pool_balance()
        w.caps = [
            pool_model.Caps(*c) if any(c) else None
            for c in (ch.market_caps(m) for m in range(len(params)))
        ]
        w.total_reserve = ch.total_reserve_factor()
        w.buffer = ch.pool_buffer()
        w.paused = ch.paused()
        w.resume_at = ch.liquidations_resume_at()
        w.lp = liq.LiquidationParams(*ch.liquidation_params())
        w.order_rules = [
            om.OrderRules(*(int(v) for v in ch.order_rules(m))) for m in range(len(params))
        ]
        w.order_fees = ch.order_fees()
        w.capacity = liq.Capacity(*(int(v) for v in ch.liquidation_capacity(0)[:2]))
        # A fresh engine: no market has used a window yet.
        w.windows = [(0, 0) for _ in params]
        for who, sub in accounts:
            o = om.Order(*(int(v) for v in ch.pending_order(who, sub)))
            if o.exists:
                w.orders[(str(who), sub)] = o
        w.insurance = ch.insurance_fund()
        w.bad_debt = [ch.bad_debt_total(), ch.bad_debt_insurance(), ch.bad_debt_pool()]
        w.registered = [
            (str(a.owner), int(a.sub_id))
            for a in (ch.account_at(i) for i in range(ch.num_accounts()))
        ]
        return w

    # ------------------------------------------------------------ prices

    def price_error(self, m: int, now: int) -> str | None:
        """The router's revert reason for feed `m` at time `now`, or None."""
        try:
            model.normalise_price(self.rounds[m], self.feed_params[m], BOUNDS, now)
        except model.PriceError as err:
            return err.reason
        return None

    def asset_feed(self, asset: str) -> int:
        return self.market_collateral.index(asset)

    def require_prices(self, feeds: list[int], now: int) -> None:
        """Raises PriceError for the first feed, in read order, the router refuses."""
        for m in feeds:
            if (reason := self.price_error(m, now)) is not None:
                raise model.PriceError(reason)

    def first_price_error(self, feeds: list[int], now: int) -> str | None:
        try:
            self.require_prices(feeds, now)
        except model.PriceError as err:
            return err.reason
        return None

    # ------------------------------------------------------------ model maths

    def collateral_prices(self) -> dict[str, int]:
        return {a: self.prices[m] for m, a in enumerate(self.market_collateral) if a}

    def open_markets(self, who, sub) -> list[int]:
        return [m for m in range(len(self.params)) if self.positions[(str(who), sub, m)].size]

    def held(self, who, sub) -> list[str]:
        """Non-quote assets with a balance, in listing order."""
        bal = self.balances[(str(who), sub)]
        return [a for a in self.assets if a != self.quote and bal[a] > 0]

    def priced(self, who, sub) -> list[str]:
        """Held assets whose price health reads: not the worthless ones
        (a 100 % maintenance haircut)."""
        return [a for a in self.held(who, sub) if not model.worthless(self.assets[a])]

    def health(self, who, sub, now) -> model.Health:
        """(equity, IM, MM), or PriceError with the reason the chain reverts with:
        held collateral is priced first (listing order), then markets."""
        feeds = [self.asset_feed(a) for a in self.priced(who, sub)] + self.open_markets(who, sub)
        self.require_prices(feeds, now)
        return self.book(who, sub, now).health()

    def book(self, who, sub, now) -> acct.Account:
        """The account as model inputs (prices already checked), margined in
        its mode: the scenario set for an account in portfolio mode."""
        prices = dict(self.collateral_prices())
        exposures = []
        for m in self.open_markets(who, sub):
            p = self.params[m]
            prices[p.asset] = self.prices[m]
            _, index = perps.funding(self.states[m], p, self.prices[m], now)
            exposures.append(
                acct.Exposure(
                    str(m),
                    p.asset,
                    self.positions[(str(who), sub, m)],
                    p,
                    index,
                    index - self.states[m].funding_index,
                    self.prices[m],
                )
            )
        margin = self.pm_config if (str(who), sub) in self.portfolio else None
        return acct.Account(
            self.balances[(str(who), sub)],
            self.assets,
            self.quote,
            prices,
            tuple(exposures),
            margin,
        )

    def has_liabilities(self, who, sub) -> bool:
        return self.balances[(str(who), sub)][self.quote] < 0 or bool(self.open_markets(who, sub))

    def liquidatable(self, who, sub, now) -> bool:
        """`is_liquidatable` (PriceError if a price it needs is invalid)."""
        if not self.has_liabilities(who, sub):
            return False
        h = self.health(who, sub, now)
        return h.equity < h.mm

    @contextmanager
    def _trial(self, change: Callable[[World], None]) -> Iterator[None]:
        """`change(world)` applied for the body of the `with`, then undone."""
        saved = (
            list(self.states),
            dict(self.positions),
            {k: dict(v) for k, v in self.balances.items()},
            set(self.portfolio),
        )
        change(self)
        try:
            yield
        finally:
            self.states, self.positions, self.balances, self.portfolio = saved

    def im_failure_after(
        self,
        who,
        sub,
        now,
        change: Callable[[World], None],
        floor: str = "im",
        unreadable_ok: bool = False,
    ) -> str | None:
        """Applies `change(world)` tentatively; the reason the IM check that
        follows would revert with (below IM, or a price), or None. With
        `floor="mm"`, the check of a reduction that costs more than the
        margin it frees (E >= MM); with `floor="solvent"`, that of one that
        pays no more than it frees (E >= MM or E >= 0). With
        `unreadable_ok`, a health that cannot be read passes."""
        reason = None
        with self._trial(change):
            if self.has_liabilities(who, sub):
                try:
                    h = self.health(who, sub, now)
                except model.PriceError as err:
                    reason = None if unreadable_ok else err.reason
                else:
                    bound, why = {
                        "im": (h.im, errors.BELOW_IM),
                        "mm": (h.mm, errors.REDUCTION_TOO_COSTLY),
                        "solvent": (min(h.mm, 0), errors.REDUCTION_TOO_COSTLY),
                    }[floor]
                    if h.equity < bound:
                        reason = why
        return reason

    # ------------------------------------------------------------ oracle

    def _post(self, m: int, answer: int, owner) -> None:
        self.feeds[m].set_answer(answer, sender=owner)
        # The round as the router will read it (its timestamp is the block's).
        self.read_round(m)
        self.prices[m] = answer * 10 ** (18 - self.feed_params[m].decimals)

    def read_round(self, m: int) -> None:
        """Feed `m`'s latest round, and the decimals it answers in if they
        moved (the router refuses such a round)."""
        rnd = model.Round(*self.feeds[m].latestRoundData())
        self.rounds[m] = replace(rnd, decimals=self.live_decimals.get(m))

    def set_price(self, m: int, bps: int, owner) -> None:
        """Moves feed `m` by `bps` basis points (and refreshes its round)."""
        scale = 10 ** (18 - self.feed_params[m].decimals)
        self._post(m, self.prices[m] * (10_000 + bps) // 10_000 // scale, owner)

    def pool_state(self, now: int) -> pool_model.PoolState:
        """The pool as `pool_state()` reports it at `now` (every market with
        open interest needs a valid price: see `pool_price_error`)."""
        terms = [
            pool_model.market_terms(s, p, price, perps.funding(s, p, price, now)[1])
            if s.long_oi or s.short_oi
            else None
            for s, p, price in zip(self.states, self.params, self.prices, strict=True)
        ]
        return pool_model.pool_state(
            self.pool * self.quote_precision, terms, self.caps, self.buffer, self.total_reserve
        )

    def pool_price_error(self, now: int) -> str | None:
        """Why reading the pool reverts at `now`: the first market with open
        interest whose price is invalid."""
        live = [m for m, s in enumerate(self.states) if s.long_oi or s.short_oi]
        return self.first_price_error(live, now)

    def set_answer(self, m: int, answer: int, owner) -> None:
        self._post(m, answer, owner)

    def refresh_prices(self, owner, which: list[int] | None = None) -> None:
        for m in range(len(self.feeds)) if which is None else which:
            self._post(m, self.prices[m] // 10 ** (18 - self.feed_params[m].decimals), owner)

    # ------------------------------------------------------------ trading

    def trade(self, chain, who, sub, m, delta, via=None) -> str | None:
        """Trades on chain at once (by `via`, an operator, with
        `trade_for`); asserts the exact outcome. Returns the revert reason,
        if any."""
        now = next_timestamp(chain)  # the trade's block
        p = self.params[m]
        reason = om.atomic_reason(self.order_rules[m], p.maker_fee, p.taker_fee)
        if reason is None and (str(who), sub) in self.orders:
            reason = errors.ORDER_PENDING
        r = apply = None
        if reason is None:
            reason, r, apply = self._trade_outcome(who, sub, m, delta, now)
        limit = 0 if delta < 0 else 2**200

        def send():
            if via is None:
                return self.ch.trade(sub, m, delta, limit, sender=who)
            return self.ch.trade_for(who, sub, m, delta, limit, sender=via)

        if reason is not None:
            with reverts(reason):
                send()
            return reason
        assert r is not None and apply is not None
        self._book_trade(send(), who, sub, r, apply, now)
        return None

    def _trade_outcome(self, who, sub, m, delta, now):
        """(reason, TradeResult, apply) of `trading._trade` at the market's
        price now: the revert reason, or the exact result and how it
        changes the world."""
        key = (str(who), sub, m)
        old = self.positions[key]
        # The market's price is read before the size is checked.
        reason = self.price_error(m, now) or (errors.ZERO_SIZE if delta == 0 else None)
        r = None
        apply = None

        def fill(realise: Callable[[int], int] | None = None) -> perps.TradeResult:
            p, price = self.params[m], self.prices[m]
            return perps.trade(
                self.states[m], p, old, delta, price, now, self.quote_precision, realise
            )

        if reason is None:
            r = fill()
            if not r.reducing and self.paused:
                reason = errors.PAUSED
            elif self.caps[m] is not None and r.pnl - r.funding > 0:
                # The realisation cap values the pool (after the portfolio
                # health read a reduction makes first).
                reason = self._realisation_failure(who, sub, now, r.reducing)
                if reason is None:
                    r = fill(self._realise(m, now))
        if reason is None and r is not None:

            def apply(w: World) -> None:
                w.states[m], w.positions[key] = r.state, r.position
                w.balances[(str(who), sub)][w.quote] += r.quote_delta

            if not r.reducing:
                new_oi = r.state.long_oi if old.size + delta > 0 else r.state.short_oi
                if new_oi > self.params[m].max_oi:
                    reason = errors.OI_CAP
                else:
                    reason = self.cap_failure_after(m, r, now)
                    reason = reason or self.im_failure_after(who, sub, now, apply)
            else:
                reason = self._reduction_failure(who, sub, m, old, r, now, apply)
        return reason, r, apply

    def _book_trade(self, tx, who, sub, r: perps.TradeResult, apply, now: int) -> None:
        """Checks a trade's event against the model's result and books it."""
        (event,) = tx.events.filter(self.ch.Trade)
        # WAD-level amounts, before the quote balance's native rounding.
        got = (event.fill_price, event.pnl, event.funding, event.premium, event.fee)
        want = (r.fill_price, r.pnl, r.funding, r.premium, r.fee)
        assert got == want, f"trade at {now}: chain {got} != model {want}"
        assert event.quote_delta == r.quote_delta
        apply(self)
        self.pool -= r.quote_delta
        self._register(who, sub)
        if not r.reducing:
            # Invariant 3: a risk-increasing action never ends below IM.
            h = self.health(who, sub, now)
            assert h.equity >= h.im
        return None

    # ------------------------------------------------------------ orders

    def commit(self, chain, who, sub, m, delta, acceptable) -> str | None:
        """`commit_order` by the owner; asserts the escrow and the event."""
        now = next_timestamp(chain)
        key = (str(who), sub)
        rules = self.order_rules[m]
        pending = self.orders.get(key, om.Order())
        if delta == 0:
            reason = errors.ZERO_SIZE
        elif abs(delta) > perps.MAX_SIZE:
            reason = errors.SIZE_TOO_LARGE
        else:
            reason = om.commit_reason(rules, pending, now, self.balances[key][self.quote])
        if reason is not None:
            with reverts(reason):
                self.ch.commit_order(who, sub, m, delta, acceptable, sender=who)
            return reason
        tx = self.ch.commit_order(who, sub, m, delta, acceptable, sender=who)
        names = [e.event_name for e in tx.events]
        assert names == (["OrderCancelled"] if pending.exists else []) + ["OrderCommitted"]
        if pending.exists:
            self._refund(key, pending)
        self.balances[key][self.quote] -= rules.settlement_fee
        self.order_fees += rules.settlement_fee
        self.orders[key] = om.Order(
            m,
            delta,
            min(acceptable, om.MAX_ACCEPTABLE),
            now,
            rules.settlement_fee,
            rules.min_delay,
            rules.window,
        )
        return None

    def _refund(self, key: Account, o: om.Order) -> None:
        del self.orders[key]
        self.order_fees -= o.fee
        self.balances[key][self.quote] += o.fee

    def settle_reason(self, who, sub, now: int) -> str | None:
        """Why `settle_order` reverts before the trade's own checks, in the
        contract's order: no order, too early, expired, the router's price
        error, then a price published before the delay."""
        o = self.orders.get((str(who), sub), om.Order())
        reason = om.settle_reason(o, now, 2**64)
        if reason is None:
            reason = self.price_error(o.market_id, now)
        if reason is None:
            reason = om.settle_reason(o, now, self.rounds[o.market_id].updated_at)
        return reason

    def settle_outcome(self, settler, who, sub, now: int):
        """(revert reason, filled, the trade's refusal, TradeResult, apply)
        of `settle_order` now: it reverts only for the order's own timing
        or price; a fill beyond the limit or a trade its checks refuse
        removes the order (the refusal is returned, nothing trades)."""
        key = (str(who), sub)
        reason = self.settle_reason(who, sub, now)
        o = self.orders.get(key, om.Order())
        m = o.market_id
        filled = False
        refusal = r = apply = None
        if reason is None:
            fill = om.fill_price(
                self.states[m].skew, o.size_delta, self.prices[m], self.params[m].skew_scale
            )
            filled = om.fills(o, fill)
            if filled:
                # The fee reaches the settler before the trade's checks.
                payee = (str(settler), 0)
                self.balances[payee][self.quote] += o.fee
                del self.orders[key]
                try:
                    refusal, r, apply = self._trade_outcome(who, sub, m, o.size_delta, now)
                finally:
                    self.balances[payee][self.quote] -= o.fee
                    self.orders[key] = o
                filled = refusal is None
        return reason, filled, refusal, r, apply

    def settle(self, chain, settler, who, sub, tx=None) -> str | None:
        """`settle_order` (sent here unless the keeper's `tx` is given);
        asserts the fill or the refusal, the fee to the settler's
        sub-account 0, and the trade. Returns the revert reason, if any."""
        now = next_timestamp(chain) if tx is None else self._tx_time(chain, tx)
        key = (str(who), sub)
        o = self.orders.get(key, om.Order())
        reason, filled, refusal, r, apply = self.settle_outcome(settler, who, sub, now)
        if reason is not None:
            assert tx is None, f"the keeper settled an order the model refuses: {reason}"
            with reverts(reason):
                self.ch.settle_order(who, sub, sender=settler)
            return reason
        if tx is None:
            tx = self.ch.settle_order(who, sub, sender=settler)
        (event,) = tx.events.filter(self.ch.OrderSettled)
        got = (event.filled, event.trade_refused, event.oracle_price, event.fee)
        assert got == (filled, refusal is not None, self.prices[o.market_id], o.fee), refusal
        del self.orders[key]
        self.order_fees -= o.fee
        self.balances[(str(settler), 0)][self.quote] += o.fee
        if filled:
            assert r is not None and apply is not None
            self._book_trade(tx, who, sub, r, apply, now)
        else:
            assert list(tx.events.filter(self.ch.Trade)) == []
        return None

    def cancel(self, chain, who, sub) -> str | None:
        now = next_timestamp(chain)
        key = (str(who), sub)
        o = self.orders.get(key, om.Order())
        reason = om.cancel_reason(o, now)
        if reason is not None:
            with reverts(reason):
                self.ch.cancel_order(who, sub, sender=who)
            return reason
        self.ch.cancel_order(who, sub, sender=who)
        self._refund(key, o)
        return None

    def _realisation_failure(self, who, sub, now: int, reducing: bool) -> str | None:
        """Why a trade that realises a profit in a capped market cannot value
        the pool for the realisation cap: a portfolio account's reduction
        reads its health first, then every market with open interest."""
        if reducing and (str(who), sub) in self.portfolio:
            try:
                self.health(who, sub, now)
            except model.PriceError as err:
                return err.reason
        return self.pool_price_error(now)

    def cap_failure_after(self, m: int, r: perps.TradeResult, now: int) -> str | None:
        """Why a risk-increasing trade in market `m` meets the pool's caps
        (`liquidity._check_caps`), if it grew the larger side or |skew|: a
        price the pool needs, or the broken cap."""
        before = self.states[m]
        side_grew = max(r.state.long_oi, r.state.short_oi) > max(before.long_oi, before.short_oi)
        skew_grew = abs(r.state.skew) > abs(before.skew)
        if not (side_grew or skew_grew) or (self.caps[m] is None and not self.total_reserve):
            return None
        saved = (list(self.states), self.pool)
        self.states[m] = r.state
        self.pool -= r.quote_delta
        try:
            reason = self.pool_price_error(now)
            if reason is None:
                after = self.pool_state(now)
                price = self.prices[m]
                index = perps.funding(r.state, self.params[m], price, now)[1]
                traded = pool_model.market_terms(r.state, self.params[m], price, index)
                reason = pool_model.cap_breach(
                    after, traded, self.caps[m], self.total_reserve, side_grew, skew_grew
                )
        finally:
            self.states, self.pool = saved
        return reason

    def _reduction_failure(self, who, sub, m, old, r, now, apply) -> str | None:
        """Why a reducing trade reverts, in the contract's order: a portfolio
        account's health before the trade (its prices), then a reduction
        that pays must end at or above MM, or pay no more than the MM it
        frees and stay solvent; then a portfolio account must end at or
        above IM or with MM no higher than before."""
        mm_before = None
        if (str(who), sub) in self.portfolio:
            try:
                mm_before = self.health(who, sub, now).mm
            except model.PriceError as err:
                return err.reason
        if (cost := r.premium + r.fee) > 0:
            index = r.state.funding_index
            p = self.params[m]
            freed = perps.risk(old, p, self.prices[m], index).mm
            if r.position.size:
                freed -= perps.risk(r.position, p, self.prices[m], index).mm
            # A linear whole close that pays no premium goes through when
            # the account's health cannot be read (`trading._probe`).
            whole = mm_before is None and not r.position.size and r.premium <= 0
            reason = self.im_failure_after(
                who,
                sub,
                now,
                apply,
                floor="mm" if cost > freed else "solvent",
                unreadable_ok=whole,
            )
            if reason is not None:
                return reason
        if mm_before is None:
            return None
        reason = None
        with self._trial(apply):
            if self.has_liabilities(who, sub):
                h = self.health(who, sub, now)
                if h.equity < h.im and h.mm > mm_before:
                    reason = errors.REDUCTION_NEEDS_IM
        return reason

    def _register(self, who, sub) -> None:
        acct = (str(who), sub)
        if self.open_markets(who, sub) and acct not in self.registered:
            self.registered.append(acct)

    # ------------------------------------------------------------ liquidation

    def liquidation_pool_failure(self, m: int, old: perps.Position, now: int) -> str | None:
        """Why a liquidation that realises a profit in a capped market cannot
        value the pool for the realisation cap (a market with open interest
        priced invalid): the engine then waits for the price (issue 19)."""
        if self.caps[m] is None:
            return None
        index = perps.funding(self.states[m], self.params[m], self.prices[m], now)[1]
        pnl, owed = perps.pnl_funding(old, self.prices[m], index)
        return self.pool_price_error(now) if pnl - owed > 0 else None

    def _realise(self, m: int, now: int) -> Callable[[int], int] | None:
        """The realisation cap a close in market `m` meets at `now` (None:
        uncapped), against the pool before the close."""
        if self.caps[m] is None or self.pool_price_error(now):
            return None
        pool = self.pool_state(now)
        return lambda net: pool_model.pay_out(pool, net)

    def lp_settle(
        self, is_deposit: bool, r: lr.Request, delay: int, supply: int, now: int
    ) -> tuple[str | None, int]:
        """The LiquidityPool's `settle_deposit` / `settle_redeem` of `r` at
        `now` (share supply `supply`): (the revert reason, 0), or (None, the
        shares a deposit buys / the assets a redemption fetches; 0: the
        request went back to its controller)."""
        if r.pending == 0:
            return errors.NO_REQUEST, 0
        ready = r.settles_from(delay)
        if now < ready:
            return errors.REQUEST_TOO_EARLY, 0
        if (reason := self.pool_price_error(now)) is not None:
            return reason, 0
        published = [
            None if self.price_error(m, now) else self.rounds[m].updated_at
            for m in range(len(self.states))
        ]
        has_oi = [bool(s.long_oi or s.short_oi) for s in self.states]
        since = lr.prices_since(published, has_oi)
        if since is None or since < ready:
            return errors.REQUEST_PRICE_TOO_OLD, 0
        value = self.pool_state(now).value // self.quote_precision
        if is_deposit:
            if self.paused:
                return errors.PAUSED, 0
            if supply and value == 0:
                return errors.POOL_NO_VALUE, 0
            # 0 shares: the request goes back to its controller
            return None, lr.to_shares(r.pending, value, supply)
        assets = lr.to_assets(r.pending, value, supply)
        if assets == 0:
            return None, 0  # worth nothing: the shares go back
        if (reason := self.liquidations_closed(now)) is not None:
            return reason, 0
        # `pool_withdraw`: the pool after the cash leaves
        self.pool -= assets
        after = self.pool_state(now)
        self.pool += assets
        if after.cash < after.required:
            return errors.POOL_CANNOT_COVER, 0
        if after.value < after.min_value:
            return errors.CAPS_NEED_VALUE, 0
        return None, assets

    def liquidations_closed(self, now: int) -> str | None:
        """Why liquidations (and ADL, and LP withdrawals) are refused at
        `now`: paused, or within the grace period after the unpause."""
        if self.paused:
            return errors.PAUSED
        if now < self.resume_at:
            return errors.IN_GRACE
        return None

    def write_off_reason(self, who, sub, now) -> str | None:
        """Why `settle_bad_debt` refuses the account's collateral, in the
        contract's order: an asset that still counts, or a worthless one
        the router still prices (liquidators sell it instead)."""
        for a in self.held(who, sub):
            if not model.worthless(self.assets[a]):
                return errors.HOLDS_COLLATERAL
            if self.price_error(self.asset_feed(a), now) is None:
                return errors.STILL_PRICED
        return None

    def write_off(self, who, sub) -> dict[str, int]:
        """`settle_bad_debt`'s first step: the worthless collateral moves to
        the insurance account (the Clearinghouse's sub-account 0)."""
        bal = self.balances[(str(who), sub)]
        fund = self.balances.setdefault((str(self.ch.address), 0), dict.fromkeys(self.assets, 0))
        moved = {a: bal[a] for a in self.held(who, sub)}
        for a, amount in moved.items():
            bal[a] = 0
            fund[a] += amount
        return moved

    def settle_bad_debt(self, who, sub) -> tuple[int, int, int] | None:
        """`_settle_bad_debt`: (deficit, from insurance, from pool) if it fires."""
        bal = self.balances[(str(who), sub)]
        if self.open_markets(who, sub) or self.held(who, sub) or bal[self.quote] >= 0:
            return None
        deficit = -bal[self.quote]
        from_insurance, from_pool = liq.absorb(deficit, self.insurance)
        self.insurance -= from_insurance
        self.pool -= from_pool
        bal[self.quote] = 0
        for i, amount in enumerate((deficit, from_insurance, from_pool)):
            self.bad_debt[i] += amount
        return deficit, from_insurance, from_pool

    def liquidate_reason(self, liquidator, who, sub, m, max_size, now, operators=()) -> str | None:
        """The reason `liquidate` reverts with, in the contract's order, or None."""
        if (closed := self.liquidations_closed(now)) is not None:
            return closed
        if str(liquidator) == str(who) or str(liquidator) in operators:
            return errors.SELF_LIQUIDATION
        if not 0 <= m < len(self.params):
            return errors.UNKNOWN_MARKET
        if max_size == 0:
            return errors.ZERO_SIZE
        if self.lp.target_health == 0:
            return errors.NOT_CONFIGURED
        if not self.positions[(str(who), sub, m)].size:
            return errors.NO_POSITION
        try:
            h = self.health(who, sub, now)
        except model.PriceError as err:
            return err.reason
        if h.equity >= h.mm:
            return errors.NOT_LIQUIDATABLE
        if (str(who), sub) in self.portfolio:
            assert self.pm_config is not None
            losses = acct.close_contributions(self.book(who, sub, now), self.pm_config)
            if losses[str(m)] != min(losses.values()):
                return errors.WRONG_ORDER
        return None

    def liquidate(
        self, chain, liquidator, who, sub, m, max_size, operators=(), tx=None
    ) -> str | None:
        """Liquidates on chain (or checks `tx`, a liquidation the keeper sent)
        and asserts the exact outcome; returns the revert reason, if any.

        Invariant 4: only an account below MM is liquidated, a partial close
        reaches the target health, and no liquidation lowers E - MM by more
        than its rounding (the penalty rate is capped at the market's MMR).
        """
        key = (str(who), sub, m)
        old = self.positions[key]
        now = self._tx_time(chain, tx)
        reason = self.liquidate_reason(liquidator, who, sub, m, max_size, now, operators)
        res = None
        if reason is None:
            h = self.health(who, sub, now)
            try:
                res = liq.liquidate(
                    self.states[m],
                    self.params[m],
                    old,
                    h.equity,
                    h.mm,
                    self.prices[m],
                    now,
                    max_size,
                    self.quote_precision,
                    self.lp,
                    whole=(str(who), sub) in self.portfolio,
                    realise=self._realise(m, now),
                    capacity=self.capacity_left(m, now),
                )
            except ValueError as err:
                reason = str(err)
            reason = reason or self.liquidation_pool_failure(m, old, now)
        if reason is not None:
            assert tx is None, f"the keeper's liquidation should have reverted: {reason}"
            with reverts(reason):
                self.ch.liquidate(who, sub, m, max_size, 0, sender=liquidator)
            return reason
        assert res is not None
        if tx is None:
            tx = self.ch.liquidate(who, sub, m, max_size, 0, sender=liquidator)
        # This account's close in `tx` (a keeper's batch holds several).
        (ev,) = [
            e
            for e in tx.events.filter(self.ch.Liquidation)
            if (e.owner, e.sub_id, e.market_id) == (str(who), sub, m)
        ]
        closed = abs(ev.size_delta)
        assert (closed, ev.new_size, ev.price, ev.funding_index) == (
            res.closed,
            res.position.size,
            self.prices[m],
            res.state.funding_index,
        )
        assert (ev.equity_before, ev.mm_before, ev.quote_delta) == (h.equity, h.mm, res.quote_delta)
        assert (ev.penalty, ev.keeper_reward, ev.insurance_share) == (
            res.penalty.total,
            res.penalty.keeper,
            res.penalty.insurance,
        )
        # The pool before, where every price it needs is valid.
        pool_before = self.pool_state(now) if self.pool_price_error(now) is None else None
        self.states[m], self.positions[key] = res.state, res.position
        if self.capacity_left(m, now) is not None:
            start, used = self.windows[m]
            if now >= start + self.capacity.window:
                start, used = now, 0
            self.windows[m] = (start, used + res.closed)
        self.balances[(str(who), sub)][self.quote] += res.quote_delta - res.penalty.total
        self.pool -= res.quote_delta
        self.insurance += res.penalty.insurance
        self.balances[(str(liquidator), 0)][self.quote] += res.penalty.keeper
        from_pool = self.bad_debt[2]
        self._expect_bad_debt(tx, who, sub)
        from_pool = self.bad_debt[2] - from_pool
        self.premium_jump = 0
        if pool_before is not None:
            # Invariant 15: a liquidation costs the pool no more than the
            # closed position's own loss (and the clean-up bounty of a
            # bankrupt account, which the waterfall funds), a unit of
            # rounding per position aside. A deficit the account ran up
            # before (the pool counted it as its gain until now) that the
            # close writes off past the insurance fund is the pool's too:
            # the write-off, not the liquidation, costs it (found by the
            # fuzz once insurance ran dry). So is the refundable skew
            # premium a close at the oracle price leaves the pool owing
            # when it grows |skew| (docs/liquidation.md, known limits; the
            # liquidation capacity bounds it per window; found by the
            # first long run on titanoboa: a 10 ETH close from skew -0.26
            # to +9.74 ETH, $15.56 owed).
            loss = max(-res.quote_delta, 0) + res.penalty.keeper + from_pool
            pool_after = self.pool_state(now)
            drop = pool_before.value - pool_after.value
            self.premium_jump = max(pool_after.premium_owed - pool_before.premium_owed, 0)
            slack = (1 + len(self.params)) * self.quote_precision
            assert drop <= loss * self.quote_precision + self.premium_jump + slack, (
                drop,
                loss,
                self.premium_jump,
            )
        if (str(who), sub) in self.portfolio:
            # Portfolio MM is not a sum over positions: a close can raise it
            # (docs/portfolio-margin.md), so invariant 4's E - MM bound and
            # the partial-close target are linear-mode properties.
            return None
        after = self.health(who, sub, now)
        slack = LIQUIDATION_ROUNDING * self.quote_precision
        assert after.equity - after.mm >= h.equity - h.mm - slack
        if res.position.size and res.closed == res.wanted:
            # A partial close the caller did not cap reached the target E / MM.
            assert after.equity * E18 >= self.lp.target_health * after.mm
        return None

    def capacity_left(self, m: int, now: int) -> int | None:
        """Size liquidations may still close in market `m` now (None: uncapped)."""
        start, used = self.windows[m]
        return self.capacity.left(self.params[m], start, used, now)

    @staticmethod
    def _tx_time(chain, tx) -> int:
        """The timestamp `tx` ran at, or the next block's (pinned) when None."""
        return next_timestamp(chain) if tx is None else chain.blocks[tx.block_number].timestamp

    def _expect_bad_debt(self, tx, who, sub) -> None:
        settled = self.settle_bad_debt(who, sub)
        events = [
            e for e in tx.events.filter(self.ch.BadDebt) if (e.owner, e.sub_id) == (str(who), sub)
        ]
        if settled is None:
            assert events == []
        else:
            (ev,) = events
            assert (ev.deficit, ev.from_insurance, ev.from_pool) == settled

    def liquidate_collateral_reason(
        self, liquidator, who, sub, asset, repay, now, operators=()
    ) -> str | None:
        bal = self.balances[(str(who), sub)]
        if (closed := self.liquidations_closed(now)) is not None:
            return closed
        if str(liquidator) == str(who) or str(liquidator) in operators:
            return errors.SELF_LIQUIDATION
        if asset not in self.assets:
            return errors.ASSET_NOT_LISTED
        if asset == self.quote:
            return errors.QUOTE_NOT_COLLATERAL
        if repay == 0:
            return errors.ZERO_AMOUNT
        if repay > model.MAX_AMOUNT:
            return errors.AMOUNT_TOO_LARGE
        if self.open_markets(who, sub):
            return errors.HAS_POSITIONS
        if bal[self.quote] >= 0:
            return errors.NO_DEBT
        try:
            h = self.health(who, sub, now)
        except model.PriceError as err:
            return err.reason
        # E < MM, as `is_liquidatable` (MM is 0 without positions in linear
        # margin; the collateral's worst scenario loss in portfolio margin).
        if h.equity >= h.mm:
            return errors.NOT_LIQUIDATABLE
        if bal[asset] <= 0:
            return errors.HOLDS_NONE
        # A worthless asset is not priced by health; the sale reads it.
        if (reason := self.price_error(self.asset_feed(asset), now)) is not None:
            return reason
        return None

    def liquidate_collateral(
        self, chain, liquidator, who, sub, asset, repay, operators=(), tx=None
    ) -> str | None:
        """`liquidate_collateral` on chain (or checks the keeper's `tx`);
        the equity of the account never falls (discount <= MM haircut)."""
        now = self._tx_time(chain, tx)
        bal = self.balances[(str(who), sub)]
        reason = self.liquidate_collateral_reason(
            liquidator, who, sub, asset, repay, now, operators
        )
        repaid = out = 0
        if reason is None:
            m = self.asset_feed(asset)
            h = self.health(who, sub, now)
            repaid, out = liq.collateral_out(
                repay,
                -bal[self.quote],
                bal[asset],
                self.prices[m],
                self.quote_precision,
                self.assets[asset].precision,
                self.assets[asset].mm_haircut,
                self.lp,
                h.equity,
                h.mm,
            )
            if out == 0:
                reason = errors.REPAY_BELOW_ONE_UNIT
        if reason is not None:
            assert tx is None, f"the keeper's collateral liquidation should revert: {reason}"
            with reverts(reason):
                self.ch.liquidate_collateral(who, sub, asset, repay, 0, sender=liquidator)
            return reason
        before = self.health(who, sub, now)
        if tx is None:
            tx = self.ch.liquidate_collateral(who, sub, asset, repay, 0, sender=liquidator)
        (ev,) = tx.events.filter(self.ch.CollateralLiquidation)
        assert (ev.repaid, ev.collateral_out) == (repaid, out)
        bal[self.quote] += repaid
        bal[asset] -= out
        # Seized inside the engine: credited to the liquidator's sub-account 0.
        self.balances[(str(liquidator), 0)][asset] += out
        self._expect_bad_debt(tx, who, sub)
        assert self.health(who, sub, now).equity >= before.equity
        return None

    # ------------------------------------------------------------ auto-deleveraging

    def adl_state(self, m: int, now: int) -> pool_model.AdlState:
        """`adl_state(m)` at `now` (every market with open interest priced)."""
        s = self.states[m]
        terms = None
        if s.long_oi or s.short_oi:
            index = perps.funding(s, self.params[m], self.prices[m], now)[1]
            terms = pool_model.market_terms(s, self.params[m], self.prices[m], index)
        return pool_model.adl_state(self.pool_state(now).value, terms, self.caps[m])

    def adl_reason(self, caller, who, sub, m, max_size, now, operators=()) -> str | None:
        """The reason `adl` reverts with, in the contract's order, or None."""
        if (closed := self.liquidations_closed(now)) is not None:
            return closed
        if str(caller) == str(who) or str(caller) in operators:
            return errors.ADL_SELF
        if not 0 <= m < len(self.params):
            return errors.UNKNOWN_MARKET
        if max_size == 0:
            return errors.ZERO_SIZE
        if self.caps[m] is None:
            return errors.ADL_NOT_SET
        pos = self.positions[(str(who), sub, m)]
        if not pos.size:
            return errors.NO_POSITION
        portfolio = (str(who), sub) in self.portfolio
        try:
            mm_before = self.health(who, sub, now).mm if portfolio else 0
        except model.PriceError as err:
            return err.reason
        reason = self.price_error(m, now) or self.pool_price_error(now)
        if reason is not None:
            return reason
        if not self.adl_state(m, now).needed:
            return errors.ADL_NOT_NEEDED
        index = perps.funding(self.states[m], self.params[m], self.prices[m], now)[1]
        pnl, owed = perps.pnl_funding(pos, self.prices[m], index)
        if pnl - owed <= 0:
            return errors.ADL_NOT_IN_PROFIT
        skew = self.states[m].skew
        if skew == 0 or (pos.size > 0) != (skew > 0):
            return errors.ADL_WRONG_SIDE
        if portfolio:
            # Portfolio MM is the whole book's: the close must not raise it
            # unless the account stays at or above it.
            res = self._adl_result(who, sub, m, max_size, now)
            with self._trial(lambda w: w._book_adl(who, sub, m, res)):
                h = self.health(who, sub, now)
                if h.equity < h.mm and h.mm > mm_before:
                    return errors.ADL_RAISES_MM
        return None

    def _adl_result(self, who, sub, m, max_size, now) -> pool_model.AdlResult:
        state = perps.accrue(self.states[m], self.params[m], self.prices[m], now)
        return pool_model.adl(
            state,
            self.params[m],
            self.positions[(str(who), sub, m)],
            self.adl_state(m, now),
            self.prices[m],
            state.funding_index,
            max_size,
            self.quote_precision,
            self.pool_state(now),
        )

    def _book_adl(self, who, sub, m, res: pool_model.AdlResult) -> None:
        self.states[m], self.positions[(str(who), sub, m)] = res.state, res.position
        self.balances[(str(who), sub)][self.quote] += res.quote_delta

    def adl(self, chain, caller, who, sub, m, max_size, operators=(), tx=None) -> str | None:
        """`adl` on chain (or checks the keeper's `tx`) against the model to
        the wei; returns the revert reason, if any. The market's profit
        falls by what the close realised and, unless the caller's size, the
        position or |skew| ran out first, ends at the target."""
        now = self._tx_time(chain, tx)
        reason = self.adl_reason(caller, who, sub, m, max_size, now, operators)
        if reason is not None:
            assert tx is None, f"the keeper's ADL should have reverted: {reason}"
            with reverts(reason):
                self.ch.adl(who, sub, m, max_size, sender=caller)
            return reason
        a = self.adl_state(m, now)
        skew = abs(self.states[m].skew)
        res = self._adl_result(who, sub, m, max_size, now)
        if tx is None:
            tx = self.ch.adl(who, sub, m, max_size, sender=caller)
        (ev,) = tx.events.filter(self.ch.AutoDeleverage)
        assert (abs(ev.size_delta), ev.new_size, ev.price, ev.funding_index) == (
            res.closed,
            res.position.size,
            self.prices[m],
            res.state.funding_index,
        )
        assert (ev.pnl, ev.funding, ev.premium, ev.fee, ev.quote_delta) == (
            res.pnl,
            res.funding,
            res.premium,
            res.fee,
            res.quote_delta,
        )
        assert (ev.profit_before, ev.value) == (a.profit, a.value)
        self._book_adl(who, sub, m, res)
        self.pool -= res.quote_delta
        after = self.adl_state(m, now)
        # The aggregates round once each side: a wei or two.
        assert abs(a.profit - (res.pnl - res.funding) - after.profit) <= 2
        if res.position.size and res.closed < min(max_size, skew):
            assert after.profit <= a.target + 2
        return None

    # ------------------------------------------------------------ checks

    def read_chain(self) -> ChainState:
        """The chain's side of every comparison `check` makes: one call to
        the test-only StateReader when the world has one, else view by view."""
        ch, n = self.ch, len(self.params)
        keys = [(str(who), sub) for who, sub in self.accounts]
        assets = list(self.assets)
        if self.reader is not None:
            bal, pos, hs, states, led, held = self.reader.read(
                ch, [{"owner": o, "sub_id": s} for o, s in keys], assets, n
            )
            return ChainState(
                balances={
                    k: dict(zip(assets, bal[i * len(assets) :], strict=False))
                    for i, k in enumerate(keys)
                },
                positions={
                    (*k, m): tuple(pos[i * n + m]) for i, k in enumerate(keys) for m in range(n)
                },
                health={
                    k: (h.equity, h.im, h.mm) if h.ok else None
                    for k, h in zip(keys, hs, strict=True)
                },
                states=[tuple(x) for x in states],
                ledgers=(
                    led.pool_balance,
                    led.insurance_fund,
                    [led.bad_debt_total, led.bad_debt_insurance, led.bad_debt_pool],
                    led.num_accounts,
                ),
                held=dict(zip(assets, held, strict=True)),
            )
        health = {}
        for k in keys:
            try:
                health[k] = tuple(ch.account_health(*k))
            except ContractLogicError:
                health[k] = None
        return ChainState(
            balances={k: {a: ch.balance_of(*k, a) for a in assets} for k in keys},
            positions={(*k, m): tuple(ch.position(*k, m)) for k in keys for m in range(n)},
            health=health,
            states=[tuple(ch.market_state(m)) for m in range(n)],
            ledgers=(
                ch.pool_balance(),
                ch.insurance_fund(),
                [ch.bad_debt_total(), ch.bad_debt_insurance(), ch.bad_debt_pool()],
                ch.num_accounts(),
            ),
            held={a: self.tokens[a].balanceOf(ch) for a in assets if a in self.tokens},
        )

    def check(self, chain) -> ChainState:
        """Every account, market and ledger equals the model, to the wei;
        returns what was read of the chain (for other checks at the same
        block)."""
        ch, now = self.ch, chain.blocks.head.timestamp
        got = self.read_chain()
        for who, sub in self.accounts:
            key = (str(who), sub)
            assert got.balances[key] == self.balances[key], key
            for m in range(len(self.params)):
                assert got.positions[(*key, m)] == tuple(vars(self.positions[(*key, m)]).values())
            try:
                expected = self.health(who, sub, now)
            except model.PriceError as err:
                # A bad price never becomes a number in a health check.
                assert got.health[key] is None, (key, err.reason, got.health[key], now, self.rounds)
                with reverts(err.reason):
                    ch.account_health(who, sub)
            else:
                assert got.health[key] == (expected.equity, expected.im, expected.mm), key
        assert got.states == [tuple(vars(s).values()) for s in self.states]
        pool, insurance, totals, registered = got.ledgers
        assert (pool, insurance) == (self.pool, self.insurance)
        # Invariant 5: bad debt == what insurance and pool absorbed.
        assert totals == self.bad_debt
        assert totals[0] == totals[1] + totals[2]
        assert registered == len(self.registered)
        # Invariant 1: tokens held == the ledgers, to the unit: every
        # settlement is a transfer between ledgers inside the engine (a
        # surplus a token rebased in stays apart).
        for asset in self.tokens:
            ledgers = sum(b[asset] for b in self.balances.values())
            if asset == self.quote:
                ledgers += self.pool + self.insurance + self.order_fees
            assert got.held[asset] == ledgers + self.surplus.get(asset, 0), asset
        # The escrow and the model's pending orders, to the wei. (An order
        # the model missed would show in the escrow, or as an unexpected
        # `order pending` on that account's next action.)
        assert ch.order_fees() == self.order_fees
        for who, sub in self.accounts:
            want = self.orders.get((str(who), sub))
            if want is not None:
                assert om.Order(*(int(v) for v in ch.pending_order(who, sub))) == want
        if any(self.price_error(m, now) for m in range(len(self.params))):
            return got  # the pool's views need every market price
        # The pool's claim on traders, from exact aggregates, against the sum
        # of per-position figures: each position rounds once, so they differ
        # by at most one wei per open position, and only against the pool.
        risks = [
            perps.risk(
                pos,
                self.params[m],
                self.prices[m],
                perps.funding(self.states[m], self.params[m], self.prices[m], now)[1],
            )
            for (_, _, m), pos in self.positions.items()
            if pos.size
        ]
        s = ch.pool_state()
        assert 0 <= s.traders_pnl - sum(r.pnl for r in risks) <= len(risks)
        assert 0 <= sum(r.funding for r in risks) - s.traders_funding <= len(risks)
        # Refundable skew premium: price * skew^2 / (2 * skew_scale), rounded up.
        owed = sum(
            fixed_point.mul_div_up(
                fixed_point.mul_div_up(abs(st.skew), self.prices[m], E18),
                abs(st.skew),
                2 * p.skew_scale,
            )
            for m, (st, p) in enumerate(zip(self.states, self.params, strict=True))
        )
        assert s.premium_owed == owed
        assert s.value == max(s.cash - s.traders_pnl + s.traders_funding - owed, 0)
        # The whole pool, from the markets' aggregates, to the wei: value,
        # the cash it must keep (net notional) and the value its caps need.
        assert tuple(s) == astuple(self.pool_state(now))
        # The caps bound new exposure, not price moves: a market may sit over
        # them, but the pool then releases nothing to LPs.
        if s.value < s.min_value:
            assert self.ch.pool_withdrawable() == 0
        return got


def with_asset(p: perps.MarketParams, asset: str) -> perps.MarketParams:
    return replace(p, asset=asset)
