"""The stateful fuzz machine of the whole engine, whichever chain drives it.

A hypothesis state machine drives two traders (two sub-accounts each), a
keeper, a third-party liquidator, an LP and the owner against one engine:
USDC, WETH and WBTC deposits, withdrawals and moves between sub-accounts,
trades in both markets (small ones and ones levered up to the IM limit),
oracle moves (drift, +-50 % gaps, x10 / /10 spikes, prices beyond the
router's bounds, staleness by advancing time past the heartbeat with only
some feeds refreshed), funding over time, LP deposit and redemption
requests (ERC-7540: requested, settled by anyone after the delay, claimed,
cancelled; and an LP round trip around a price round it saw coming),
direct liquidations by any caller (the owner and its operator included),
the keeper's own scan-and-liquidate pass (`xmargin.ops.keeper.Keeper.run_once`),
collateral liquidations, bad-debt write-offs, insurance top-ups, owner
parameter changes (liquidation, market and asset parameters) within and
beyond their bounds, and from a stranger, and (issue 19) feeds and WBTC's
token turning hostile mid-run, assets frozen to worthless, and whole
closes past another invalid price.

The machine talks to the chain only through contracts and a chain object
of Ape's shapes; its context comes from `tests.fuzz.setup_world.build`
through a driver: Ape's in-process chain (`test_stateful_engine.py`, the
CI suite and the regressions) or titanoboa's EVM (`tests.fuzz.run_boa`,
the long runs of `make fuzz`). Its model (`tests.perps_world.World`) sends
nothing by itself: it predicts, and compares what the driver reads.

Every rule predicts its outcome with `tests.perps_world.World` (the Python
model): a valid action must succeed with exactly the model's numbers; an
invalid one (wrong caller, zero, more than the balance, below IM, a stale
or out-of-bounds price, a healthy account, a split whole-position close,
...) must revert with exactly the model's reason, and the invariants that
follow confirm that nothing changed.

Invariants after every step (exact, 0 wei, unless stated):
  1. tokens held by the Clearinghouse == account ledgers + pool ledger +
     insurance fund, per token (fees and penalties are ledger transfers);
  2. every account's balances, positions and (equity, IM, MM) == the model,
     and a health view reverts, with the router's reason, exactly when a
     price it needs is invalid; market states, the pool's aggregates (within
     one wei per open position, proven in docs/margin.md) == the model;
  3. no risk-increasing action (trade, withdrawal, transfer) ended below IM:
     the model predicts every `below initial margin` revert, and after every
     successful one the model's E >= IM (checked in `World.trade` too);
  4. only accounts with E < MM are liquidated (the model predicts every
     `account not liquidatable`); a liquidation never lowers E - MM by more
     than two native quote units of rounding (the penalty rate is capped at
     the market's MMR), a partial one reaches the target E / MM, and a
     collateral liquidation never lowers equity;
  5. bad-debt totals == the deficits the model absorbed, insurance first,
     and total == from insurance + from pool;
  6. self-liquidation: the owner and its operator are refused; the reward
     is a function of the account alone (the model has no caller input and
     every reward equals it), so the owner through a second address earns a
     third party's reward and pays the penalty: never a profit over one.
  7. the keeper finds every liquidation: after its pass no tracked account
     is liquidatable unless the keeper logged why it left it;
  8. the pool (docs/pool.md): `pool_state` == `xmargin.maths.pool` from the
     markets' aggregates, to the wei (value, the cash it must keep, net
     notional, larger sides, the value its caps need); every trade that
     grows a market's larger side or |skew| meets the caps exactly as the
     model predicts (reserve, profit, total), and a pool over its caps
     releases nothing to LPs;
  9. every liquidatable account has an entry a third party can use:
     `liquidate`, `liquidate_collateral` or `settle_bad_debt`;
  (10-12 in docs/testing.md)
  13. an LP round trip around a price round gains no more than its part of
     what the pool earned between its settlements; the vault's escrow and
     share supply == the machine's account of its requests.
  14. a trade round trip by delayed orders around a price round gains no
     more than the funding its position earned;
  15. a liquidation costs the pool (its value) no more than the closed
     position's own loss plus the keeper's reward, the pool's part of a
     deficit it writes off, and the refundable skew premium a close at
     the oracle price leaves it owing when it grows |skew| (a known limit,
     docs/liquidation.md) (`World.liquidate`).
"""

from __future__ import annotations

import ast
import contextlib
from collections import Counter
from dataclasses import replace
from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.fuzz.setup_world import LP_DELAY, LP_SEED
from tests.perps_world import HEARTBEAT, World, next_timestamp, reverts
from xmargin.chain.events import EventCursor
from xmargin.maths import account as acct
from xmargin.maths import errors, model, perps
from xmargin.maths import liquidation as liq
from xmargin.maths import lp_requests as lr
from xmargin.maths.replica import EVENTS, MarketMark, Marks, Replica, Unpriced
from xmargin.ops.keeper import Keeper, KeeperConfig, PassStats

E18 = 10**18
USDC = 10**6
NOT_OWNER = errors.NOT_OWNER
# What a run reached (printed at the end of a run, grouped by
# tests/fuzz/reach.py; the scenarios assert on what their fixed sequences
# reached).
COVERAGE: Counter[str] = Counter()

sizes = st.one_of(
    st.integers(min_value=-5 * E18, max_value=5 * E18),
    st.integers(min_value=-5_000, max_value=5_000).map(lambda n: n * E18 // 1_000 + 3),
).filter(bool)
# Per mille of a balance; > 1,000 is over it, 0 is the zero-amount refusal.
fractions = st.integers(-100, 1_200).map(lambda x: max(x, 0))


def _named(f, name: str):
    """A distinct copy of rule body `f`, so one body can be registered as
    several rules (hypothesis picks rules uniformly: this weights them)."""

    def rule_body(self, **kwargs):
        return f(self, **kwargs)

    rule_body.__name__ = rule_body.__qualname__ = name
    return rule_body


def _called(line: dict) -> str:
    """The function a keeper log line names (Ape logs its signature,
    the titanoboa driver its name)."""
    return str(line.get("call", "")).split("(")[0]


class EngineMachine(RuleBasedStateMachine):
    # `setup_world.build`'s context, set by the driver before a run (a
    # hypothesis machine is built without arguments).
    ctx: ClassVar[dict] = {}
    # which driver's chain: "ape" or "boa" (reports name it)
    driver: ClassVar[str] = "ape"

    @initialize()
    def start(self):
        COVERAGE["examples"] += 1
        c = self.ctx
        self.chain, self.owner, self.guardian = c["chain"], c["owner"], c["guardian"]
        self.snapshot = self.chain.snapshot()
        self.usdc, self.pool, self.lp = c["usdc"], c["pool"], c["lp"]
        self.keeper_acct, self.stranger = c["keeper"], c["stranger"]
        self.tokens = c["tokens"]  # usdc, weth, wbtc
        # feed -> how it turned hostile (`feed_turns_hostile`)
        self.hostile: dict[int, str] = {}
        # how WBTC's token is hostile now, if it is (`token_turns_hostile`)
        self.token_hostile: str | None = None
        self.unlisted = c["unlisted"]
        trader, hedger = c["trader"], c["hedger"]
        self.actors = [(trader, 0), (trader, 1), (hedger, 0), (hedger, 1)]
        # Who may not liquidate an account: its owner, and hedger for trader/1.
        self.operator_of = {(str(trader), 1): hedger}
        # The dust spammer's accounts (`dust_spam`): tracked, and liquidatable
        # like the actors' (`exposed`), but acted on only by that rule.
        self.spam = [(self.stranger, 1), (self.stranger, 2)]
        self.exposed = [*self.actors, *self.spam]
        tracked = [*self.actors, (self.keeper_acct, 0), (self.stranger, 0), *self.spam]
        self.w = World.read(
            c["ch"],
            c["params"],
            c["feeds"],
            tracked,
            self.usdc.address,
            c["assets"],
            [t.address for t in self.tokens[1:]],
            {t.address: t for t in self.tokens},
        )
        self.w.reader = c["reader"]
        self.w.pm_config = c["pm_config"]
        self.initial_prices = [3_000 * E18, 60_000 * E18]
        self.w.prices = list(self.initial_prices)
        self.w.refresh_prices(self.owner)
        self.keeper = Keeper(
            engine=c["engine"],
            sender=self.keeper_acct,
            config=KeeperConfig(gas_asset=None, orders=False, lp_requests=False),
            log=self._keeper_log,
        )
        if "keeper_pipeline" in c:
            # A driver without a mempool sends the keeper's batches its own way.
            self.keeper._pipeline = c["keeper_pipeline"](self.keeper_acct)
        self.keeper_lines: list[dict] = []
        # The keeper's replica of every account, rebuilt from the events
        # since block 0 (`replica_matches_the_chain`), keyed by address like
        # the model.
        self.mirror = Replica(c["ch"].address, self.usdc.address, {})
        self.mirror_logs = EventCursor(c["ch"], EVENTS, 0)
        # The machine's own account of the vault's requests and supply.
        self.lp_reqs = {
            (str(who), kind): lr.Request()
            for who in (self.lp, self.stranger)
            for kind in (True, False)
        }
        self.lp_supply = LP_SEED

    def _keeper_log(self, entry: dict) -> None:
        self.keeper_lines.append(entry)

    def teardown(self):
        if hasattr(self, "snapshot"):
            self.chain.restore(self.snapshot)

    # ------------------------------------------------------------ helpers

    @property
    def ch(self):
        return self.w.ch

    def _next(self) -> int:
        """Pins the next transaction's timestamp; returns it."""
        return next_timestamp(self.chain)

    def _refused(self, fn, reason: str) -> None:
        """`fn()` must revert with `reason`; the model is untouched and the
        invariants (run after this rule) confirm the chain is too."""
        with reverts(reason):
            fn()
        COVERAGE[f"refused: {reason}"] += 1

    def _target(self, pick: int):
        """Actor `pick % 4`; for picks >= 4, a liquidatable actor or dust
        account if there is one (and then the liquidation rule picks one of
        its open markets)."""
        if pick >= len(self.actors):
            now = self.chain.blocks.head.timestamp + 1
            under = []
            for who, sub in self.exposed:
                with contextlib.suppress(model.PriceError):
                    if self.w.liquidatable(who, sub, now):
                        under.append((who, sub))
            if under:
                return under[pick % len(under)]
        return self.actors[pick % len(self.actors)]

    def _liquidator(self, who: int, owner, sub: int):
        """0-1: the keeper, 2: the stranger (a third party, or the owner's
        second address), 3: the account's owner, 4: its operator if it has
        one (both refused)."""
        if who == 4:
            return self.operator_of.get((str(owner), sub), owner)
        return (self.keeper_acct, self.keeper_acct, self.stranger, owner)[who]

    def _third(self, owner):
        """A third party to an account of `owner`: the stranger, or for the
        stranger's own (dust) accounts the keeper's address."""
        return self.keeper_acct if str(owner) == str(self.stranger) else self.stranger

    def _operators(self, owner, sub: int) -> tuple[str, ...]:
        op = self.operator_of.get((str(owner), sub))
        return (str(op),) if op else ()

    @staticmethod
    def _count(kind: str, reason: str | None) -> None:
        COVERAGE[kind if reason is None else f"refused: {reason}"] += 1

    def _outflow_refusal(
        self, who, sub: int, amount: int, balance: int, now: int, change, orders_block=True
    ) -> str | None:
        """Why taking `amount` of a `balance` out of an account is refused
        (None: it goes): a pending order (unless `orders_block` is off), zero,
        more than the balance, or below IM after `change`."""
        if orders_block and (str(who), sub) in self.w.orders:
            return errors.ORDER_PENDING
        if amount == 0:
            return errors.ZERO_AMOUNT
        if amount > balance:
            return errors.INSUFFICIENT_BALANCE
        return self.w.im_failure_after(who, sub, now, change)

    def _token(self, address):
        """The listed token (USDC, WETH or WBTC) at `address`."""
        return next(t for t in self.tokens if str(t.address) == str(address))

    def _asset(self, i: int):
        return self.unlisted if i == len(self.tokens) else self.tokens[i]

    def _token_refusal(self, token, who, pulling: bool) -> str | None:
        """The reason a transfer of `token` between `who` and the engine
        reverts with while WBTC's token is hostile (None: it moves)."""
        how = self.token_hostile
        if token is not self.tokens[2] or how is None:
            return None
        if how == "paused":
            return "token paused"
        if how == "blocks the engine" or (how == "blocks trader" and who == self.actors[0][0]):
            return "blocklisted"
        if how == "returns false":
            return errors.TRANSFER_FROM_FAILED if pulling else errors.TRANSFER_FAILED
        return None  # returns nothing, or rebased up: it moves

    # ------------------------------------------------------------ collateral

    @rule(actor=st.integers(0, 3), asset=st.integers(0, 3), frac=fractions)
    def deposit(self, actor, asset, frac):
        who, sub = self.actors[actor]
        token = self._asset(asset)
        self._deposit(who, sub, token, token.balanceOf(who) * frac // 1_000)

    def _deposit(self, who, sub: int, token, amount: int) -> bool:
        """`who` deposits `amount` of `token` into sub-account `sub`, or is
        refused with the model's reason; True when it went through."""
        wallet = token.balanceOf(who)
        ch = self.ch
        self._next()
        if token is self.unlisted:
            self._refused(
                lambda: ch.deposit(sub, token, max(amount, 1), sender=who),
                errors.ASSET_NOT_LISTED,
            )
        elif token.address in self.w.frozen:
            self._refused(
                lambda: ch.deposit(sub, token, max(amount, 1), sender=who), errors.ASSET_FROZEN
            )
        elif amount == 0:
            self._refused(lambda: ch.deposit(sub, token, 0, sender=who), errors.ZERO_AMOUNT)
        elif (refusal := self._token_refusal(token, who, pulling=True)) is not None:
            # The token refuses before it looks at the wallet.
            self._refused(lambda: ch.deposit(sub, token, amount, sender=who), refusal)
        elif amount > wallet:
            self._refused(
                lambda: ch.deposit(sub, token, amount, sender=who), "mock: balance too low"
            )
        else:
            ch.deposit(sub, token, amount, sender=who)
            self.w.balances[(str(who), sub)][token.address] += amount
            return True
        return False

    @rule(actor=st.integers(0, 3), asset=st.integers(0, 3), frac=fractions)
    def withdraw(self, actor, asset, frac):
        who, sub = self.actors[actor]
        token = self._asset(asset)
        ch = self.ch
        now = self._next()
        if (str(who), sub) in self.w.orders:
            # A pending order locks margin in its account (docs/orders.md).
            self._refused(lambda: ch.withdraw(sub, token, 1, sender=who), errors.ORDER_PENDING)
            return
        if token is self.unlisted:
            self._refused(lambda: ch.withdraw(sub, token, 1, sender=who), errors.ASSET_NOT_LISTED)
            return
        key = (str(who), sub)
        balance = self.w.balances[key][token.address]
        amount = max(balance, 0) * frac // 1_000

        def take(w: World) -> None:
            w.balances[key][token.address] -= amount

        reason = self._outflow_refusal(who, sub, amount, balance, now, take, orders_block=False)
        if reason is None:
            reason = self._token_refusal(token, who, pulling=False)
        if reason is not None:
            self._refused(lambda: ch.withdraw(sub, token, amount, sender=who), reason)
            return
        wallet = token.balanceOf(who)
        ch.withdraw(sub, token, amount, sender=who)
        take(self.w)
        assert token.balanceOf(who) == wallet + amount

    @rule(actor=st.integers(0, 3), asset=st.integers(0, 2), frac=st.integers(1, 1_200))
    def transfer_between(self, actor, asset, frac):
        who, sub = self.actors[actor]
        other = 1 - sub
        token = self._asset(asset)
        src, dst = (str(who), sub), (str(who), other)
        balance = self.w.balances[src][token.address]
        amount = max(balance, 0) * frac // 1_000
        ch = self.ch

        def move(w: World) -> None:
            w.balances[src][token.address] -= amount
            w.balances[dst][token.address] += amount

        now = self._next()
        reason = self._outflow_refusal(who, sub, amount, balance, now, move)
        if reason is not None:
            self._refused(
                lambda: ch.transfer_between(sub, other, token, amount, sender=who), reason
            )
            return
        ch.transfer_between(sub, other, token, amount, sender=who)
        move(self.w)

    # ------------------------------------------------------------ trading

    def _set_margin_mode(self, actor, portfolio):
        """Switches between linear and portfolio margin: refused when the
        account is already in that mode, or would end below the new mode's
        IM (or a price the check needs is invalid)."""
        who, sub = self.actors[actor]
        key = (str(who), sub)
        ch = self.ch
        now = self._next()

        def switch(w: World) -> None:
            if portfolio:
                w.portfolio.add(key)
            else:
                w.portfolio.discard(key)

        reason = errors.ORDER_PENDING if key in self.w.orders else None
        before = None
        if reason is None and self.w.paused:
            # While paused the engine prices the account before the switch
            # (even one with no liabilities), and refuses a switch that
            # lowers its IM or MM.
            try:
                before = self.w.health(who, sub, now)
            except model.PriceError as err:
                reason = err.reason
        if reason is None and (key in self.w.portfolio) == portfolio:
            reason = errors.ALREADY_IN_MODE
        if reason is None:
            reason = self.w.im_failure_after(who, sub, now, switch)
        if reason is None and before is not None:
            with self.w._trial(switch):
                after = self.w.health(who, sub, now)
            if after.im < before.im or after.mm < before.mm:
                reason = errors.PAUSED
        if reason is not None:
            self._refused(lambda: ch.set_margin_mode(sub, portfolio, sender=who), reason)
            return
        tx = ch.set_margin_mode(sub, portfolio, sender=who)
        assert [(e.owner, e.sub_id, e.portfolio) for e in tx.events.filter(ch.MarginModeSet)] == [
            (str(who), sub, portfolio)
        ]
        switch(self.w)
        assert ch.portfolio_mode(who, sub) == portfolio
        COVERAGE["to portfolio mode" if portfolio else "to linear mode"] += 1

    # Twice, so accounts spend long enough in portfolio mode to be liquidated
    # there; the replays call it by this name.
    margin_mode_rule = rule(actor=st.integers(0, 3), portfolio=st.sampled_from([True, True, False]))
    set_margin_mode = margin_mode_rule(_named(_set_margin_mode, "set_margin_mode"))
    set_margin_mode_b = margin_mode_rule(_named(_set_margin_mode, "set_margin_mode_b"))

    @rule(actor=st.integers(0, 3), market=st.integers(0, 1), delta=sizes)
    def trade(self, actor, market, delta):
        who, sub = self.actors[actor]
        self._count("trade", self.w.trade(self.chain, who, sub, market, delta))

    @rule(actor=st.integers(0, 3), market=st.integers(0, 1))
    def close_whole(self, actor, market):
        """Closes the actor's position in `market` whole. Issue 19, point 4:
        a linear account's whole close that pays no premium goes through
        even when another of its prices is invalid (the world predicts it
        from `trading._probe`'s rule); counted apart when it did."""
        who, sub = self.actors[actor]
        size = self.w.positions[(str(who), sub, market)].size
        unreadable = False
        try:
            self.w.health(who, sub, next_timestamp(self.chain))
        except model.PriceError:
            unreadable = True
        reason = self.w.trade(self.chain, who, sub, market, -size if size else 1)
        if reason is None and unreadable and size:
            COVERAGE["whole close past an invalid price"] += 1
        self._count("whole close", reason)

    @rule(market=st.integers(0, 1), size=sizes, first_long=st.booleans())
    def hedged_pair(self, market, size, first_long):
        """trader/0 and hedger/0 take opposite sides of `size` in one market
        (the griefer's pair of issue 17): no net exposure and no cash
        requirement, but both legs count against the reserve, as either
        leg closing would leave the pool holding the other."""
        (a, sa), (b, sb) = self.actors[0], self.actors[2]
        size = abs(size) or 1
        long_first = size if first_long else -size
        self._count("hedged pair leg", self.w.trade(self.chain, a, sa, market, long_first))
        self._count("hedged pair leg", self.w.trade(self.chain, b, sb, market, -long_first))

    # ------------------------------------------------------------ orders

    @rule(actor=st.integers(0, 3), market=st.integers(0, 1), delta=sizes, tight=st.booleans())
    def commit_order(self, actor, market, delta, tight):
        """A delayed order (docs/orders.md), at any price or at the current
        oracle price as its limit (refused at settlement if the price moves
        against it, or by the skew premium alone)."""
        who, sub = self.actors[actor]
        any_price = 2**200 if delta > 0 else 0
        acceptable = self.w.prices[market] if tight else any_price
        reason = self.w.commit(self.chain, who, sub, market, delta, acceptable)
        self._count("order commit", reason)

    @rule(settler=st.integers(0, 3), actor=st.integers(0, 4))
    def settle_order(self, settler, actor):
        """Anyone settles an account's order; the fee goes to the settler's
        sub-account 0. Actor 4: an account that has an order, if any."""
        pending = [a for a in self.actors if (str(a[0]), a[1]) in self.w.orders]
        who, sub = pending[0] if actor == 4 and pending else self.actors[actor % 4]
        reason = self.w.settle(self.chain, self.actors[settler][0], who, sub)
        self._count("order settle", reason)

    @rule(actor=st.integers(0, 3))
    def cancel_order(self, actor):
        who, sub = self.actors[actor]
        self._count("order cancel", self.w.cancel(self.chain, who, sub))

    @rule(
        sub=st.integers(0, 1),
        market=st.integers(0, 1),
        delta=st.one_of(sizes, st.just(0)),
        take=st.integers(0, 1_200),
    )
    def operator_acts(self, sub, market, delta, take):
        """hedger operates trader's sub-account 1, not 0: it trades and
        withdraws USDC there (the tokens go to trader), and is refused on 0."""
        trader, hedger = self.actors[0][0], self.actors[2][0]
        ch, usdc = self.ch, self.usdc
        if sub == 0:
            self._next()
            reason = errors.NOT_OPERATOR
            self._refused(
                lambda: ch.trade_for(trader, 0, market, delta or 1, 0, sender=hedger), reason
            )
            self._refused(lambda: ch.withdraw_for(trader, 0, usdc, 1, sender=hedger), reason)
            return
        self._count(
            "operator trade", self.w.trade(self.chain, trader, 1, market, delta, via=hedger)
        )
        key = (str(trader), 1)
        balance = self.w.balances[key][usdc.address]
        amount = max(balance, 0) * take // 1_000

        def pay(w: World) -> None:
            w.balances[key][usdc.address] -= amount

        now = self._next()
        reason = self._outflow_refusal(trader, 1, amount, balance, now, pay)
        if reason is not None:
            self._refused(lambda: ch.withdraw_for(trader, 1, usdc, amount, sender=hedger), reason)
            return
        wallets = usdc.balanceOf(trader), usdc.balanceOf(hedger)
        ch.withdraw_for(trader, 1, usdc, amount, sender=hedger)
        pay(self.w)
        assert (usdc.balanceOf(trader), usdc.balanceOf(hedger)) == (
            wallets[0] + amount,
            wallets[1],
        )

    def _lever_up(self, actor, market, short, pct) -> None:
        self._lever(*self.actors[actor], market, short, pct)

    def _lever(self, who, sub: int, market, short, pct):
        """A trade sized to use `pct` % of the free margin (the model's
        estimate): what pushes accounts to the edge of liquidation. The
        trade's refusal, "no free margin", or None when it went through."""
        now = self.chain.blocks.head.timestamp + 1
        try:
            h = self.w.health(who, sub, now)
        except model.PriceError:
            size = -E18 if short else E18
            reason = self.w.trade(self.chain, who, sub, market, size)
            self._count("trade", reason)
            return reason
        free = h.equity - h.im
        p = self.w.params[market]
        rate = p.imr_base
        if (str(who), sub) in self.w.portfolio and self.w.pm_config is not None:
            # the IM a naked unit costs under the scenario set: the group's
            # largest move, times the IM factor
            c = self.w.pm_config
            group = c.groups.of(p.asset)
            worst = max(abs(s.shocks[group]) for s in c.scenarios.scenarios)
            rate = worst * c.params.im_factor // E18
        per_unit = self.w.prices[market] * (rate + p.taker_fee) // E18
        if free <= 0 or per_unit == 0:
            return "no free margin"
        size = free * pct // 100 * E18 // per_unit
        size = min(size, p.max_oi) or 1
        size = -size if short else size
        reason = self.w.trade(self.chain, who, sub, market, size)
        self._count("levered trade", reason)
        return reason

    lever_up_rule = rule(
        actor=st.integers(0, 3),
        market=st.integers(0, 1),
        short=st.booleans(),
        pct=st.integers(50, 105),
    )
    lever_up_a = lever_up_rule(_named(_lever_up, "lever_up_a"))
    lever_up_b = lever_up_rule(_named(_lever_up, "lever_up_b"))
    lever_up_c = lever_up_rule(_named(_lever_up, "lever_up_c"))

    @rule(
        slot=st.integers(0, 1),
        market=st.integers(0, 1),
        short=st.booleans(),
        cents=st.integers(1, 2_000),
        pct=st.integers(90, 105),
    )
    def dust_spam(self, slot, market, short, cents, pct):
        """Adversary: the stranger opens dust accounts (its sub-accounts 1
        and 2, a cent to $20 of USDC each) levered to the edge of IM, so a
        small move leaves positions worth less than a liquidation's gas
        below MM, and many of them cost the keeper a scan. They are tracked
        accounts, so every invariant holds for them: the keeper leaves none
        liquidatable (7), each has an entry (9), their bad debt goes
        through the waterfall like any other (5), and the stranger cannot
        liquidate them itself (6)."""
        who, sub = self.spam[slot]
        if self._deposit(who, sub, self.usdc, cents * USDC // 100):
            COVERAGE["dust spam: account funded"] += 1
        if self._lever(who, sub, market, short, pct) is None:
            COVERAGE["dust spam: account levered"] += 1

    # ------------------------------------------------------------ oracle and time

    def move_price(self, kind: str, market: int, bps: int) -> None:
        """One oracle event on feed `market`: a small `drift` of `bps`, a
        +-50 % `gap` between two blocks, a 20-50 % `squeeze` against the
        side holding the skew, a x10 or /10 `spike` (the Mango pattern; it
        may leave the router's bounds), or back to the start."""
        self._next()
        scale = 10 ** (18 - self.w.feed_params[market].decimals)
        answer = self.w.prices[market] // scale
        if kind == "drift":
            self.w.set_price(market, bps, self.owner)
        elif kind == "gap":
            self.w.set_price(market, 5_000 if bps > 0 else -5_000, self.owner)
        elif kind == "squeeze":
            # 20-50 % against the side holding the skew: the move that
            # liquidates the levered majority.
            skew = self.w.states[market].skew
            move = 2_000 + abs(bps) * 10
            self.w.set_price(market, -move if skew > 0 else move, self.owner)
        elif kind == "spike":
            self.w.set_answer(market, answer * 10 if bps > 0 else max(answer // 10, 1), self.owner)
        else:
            self.w.set_answer(market, self.initial_prices[market] // scale, self.owner)
        COVERAGE[f"price {kind}"] += 1

    # Registered three times: price moves are what make accounts liquidatable.
    price_rule = rule(
        kind=st.sampled_from(["drift", "squeeze", "gap", "drift", "squeeze", "spike", "restore"]),
        market=st.integers(0, 1),
        bps=st.integers(-300, 300),
    )
    oracle_a = price_rule(_named(move_price, "oracle_a"))
    oracle_b = price_rule(_named(move_price, "oracle_b"))
    oracle_c = price_rule(_named(move_price, "oracle_c"))

    @rule(seconds=st.integers(1, 2 * 86_400))
    def wait(self, seconds):
        """Funding accrues; every feed then posts a fresh round."""
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + seconds
        self.w.refresh_prices(self.owner)

    @rule(seconds=st.integers(HEARTBEAT + 1, 3 * HEARTBEAT), fresh=st.integers(0, 2))
    def go_stale(self, seconds, fresh):
        """Time passes beyond the heartbeat; only feed `fresh` (if any) posts."""
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + seconds
        self.w.refresh_prices(self.owner, [fresh] if fresh < 2 else [])
        if fresh == 2:
            self.chain.mine()
        COVERAGE["stale feeds"] += 1

    # ------------------------------------------------------------ pool

    def _lp(self, stranger: bool):
        return self.stranger if stranger else self.lp

    @rule(stranger=st.booleans(), deposit=st.booleans(), frac=st.integers(0, 1_000))
    def lp_request(self, stranger, deposit, frac):
        """An LP requests a deposit (up to 10 % of the seed) or the
        redemption of up to all its shares; adding restarts the delay."""
        who = self._lp(stranger)
        key = (str(who), deposit)
        if deposit:
            amount = LP_SEED * frac // 10_000
            send = lambda: self.pool.requestDeposit(amount, who, who, sender=who)  # noqa: E731
            reason = errors.PAUSED if self.w.paused else None
        else:
            amount = self.pool.balanceOf(who) * frac // 1_000
            send = lambda: self.pool.requestRedeem(amount, who, who, sender=who)  # noqa: E731
            reason = None
        if reason is None and amount == 0:
            reason = errors.ZERO_AMOUNT
        now = self._next()
        if reason is not None:
            self._refused(send, reason)
            return
        send()
        r = self.lp_reqs[key]
        self.lp_reqs[key] = replace(r, pending=r.pending + amount, since=now)
        COVERAGE["LP request: " + ("deposit" if deposit else "redeem")] += 1

    @rule(stranger=st.booleans(), deposit=st.booleans(), settler=st.integers(0, 1))
    def lp_settle(self, stranger, deposit, settler):
        """Anyone settles an LP request: exactly when, and at the rate, the
        model says (docs/orders.md)."""
        who = self._lp(stranger)
        by = (self.keeper_acct, self.lp)[settler]
        self._lp_settle(who, deposit, by)

    def _lp_settle(self, who, deposit: bool, by) -> int | None:
        key = (str(who), deposit)
        r = self.lp_reqs[key]
        method = self.pool.settle_deposit if deposit else self.pool.settle_redeem
        now = self._next()
        reason, out = self.w.lp_settle(deposit, r, LP_DELAY, self.lp_supply, now)
        if reason is not None:
            self._refused(lambda: method(who, sender=by), reason)
            return None
        tx = method(who, sender=by)
        self.lp_reqs[key] = lr.settle(r, out)
        if out == 0:
            # Buys or fetches nothing: the pending part went back.
            cancelled = (
                self.pool.DepositRequestCancelled if deposit else self.pool.RedeemRequestCancelled
            )
            assert len(tx.events.filter(cancelled)) == 1
            COVERAGE["LP dust request returned"] += 1
            return None
        (ev,) = tx.events.filter(self.pool.DepositSettled if deposit else self.pool.RedeemSettled)
        if deposit:
            assert (ev.assets, ev.shares) == (r.pending, out)
            self.w.pool += r.pending
            self.lp_supply += out
        else:
            assert (ev.shares, ev.assets) == (r.pending, out)
            self.w.pool -= out
            self.lp_supply -= r.pending
        COVERAGE["LP settled: " + ("deposit" if deposit else "redeem")] += 1
        return out

    @rule(stranger=st.booleans(), deposit=st.booleans(), how=st.integers(0, 2))
    def lp_claim(self, stranger, deposit, how):
        """The controller claims all (0), half by its `in` side (1) or half
        by its `out` side (2) of what settled: pro rata, for the vault."""
        who = self._lp(stranger)
        key = (str(who), deposit)
        r = self.lp_reqs[key]
        by_in = r.claimable_in if how == 0 else r.claimable_in // 2 if how == 1 else 0
        by_out = r.claimable_out // 2 if how == 2 else 0
        if deposit:
            send = (
                (lambda: self.pool.deposit(by_in, who, sender=who))
                if by_out == 0
                else (lambda: self.pool.mint(by_out, who, sender=who))
            )
        else:
            send = (
                (lambda: self.pool.redeem(by_in, who, who, sender=who))
                if by_out == 0
                else (lambda: self.pool.withdraw(by_out, who, who, sender=who))
            )
        try:
            got_in, got_out = lr.split(r, by_in, by_out)
        except ValueError as err:
            self._refused(send, str(err))
            return
        shares, wallet = self.pool.balanceOf(who), self.usdc.balanceOf(who)
        send()
        if deposit:
            assert self.pool.balanceOf(who) == shares + got_out
        else:
            assert self.usdc.balanceOf(who) == wallet + got_out
        self.lp_reqs[key] = replace(
            r, claimable_in=r.claimable_in - got_in, claimable_out=r.claimable_out - got_out
        )
        COVERAGE["LP claim"] += 1

    @rule(stranger=st.booleans(), deposit=st.booleans())
    def lp_cancel(self, stranger, deposit):
        who = self._lp(stranger)
        key = (str(who), deposit)
        r = self.lp_reqs[key]
        method = self.pool.cancelDepositRequest if deposit else self.pool.cancelRedeemRequest
        if r.pending == 0:
            self._refused(lambda: method(0, who, sender=who), errors.NO_REQUEST)
            return
        method(0, who, sender=who)
        self.lp_reqs[key] = replace(r, pending=0, since=0)
        COVERAGE["LP cancel"] += 1

    @rule(market=st.integers(0, 1), bps=st.sampled_from([-200, 200]))
    def lp_ahead_of_a_round(self, market, bps):
        """Attack 2: the stranger, seeing a 2 % round coming, requests a
        deposit of the whole seed before it and its redemption after. Both
        settle at prices published after the round, the same prices, so the
        round trip gains only what the pool earned between the two
        settlements (funding over the delay), never the round."""
        who, r = self.stranger, self.lp_reqs[(str(self.stranger), True)]
        redeem = self.lp_reqs[(str(self.stranger), False)]
        now = self.chain.blocks.head.timestamp + 1
        if (
            r != lr.Request()
            or redeem != lr.Request()
            or self.pool.balanceOf(who)
            or self.w.paused
            or self.w.pool_price_error(now) is not None
        ):
            return
        self.lp_request(True, True, 10_000 * 1_000 // 10_000)  # LP_SEED * 1000 / 10,000
        amount = self.lp_reqs[(str(who), True)].pending
        # The next second, or a later pin kept (`next_timestamp`): pinning
        # head + 1 below a pending block already later failed once in CI
        # with "timestamp must be strictly later than parent".
        next_timestamp(self.chain)
        self.w.set_price(market, bps, self.owner)  # the round lands
        round_prices = list(self.w.prices)
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + LP_DELAY
        self.w.refresh_prices(self.owner)
        shares = self._lp_settle(who, True, self.keeper_acct)
        if shares is None:
            return
        rate_in = (self.w.pool_state(self.chain.blocks.head.timestamp).value, self.lp_supply)
        self.lp_claim(True, True, 0)
        self.lp_request(True, False, 1_000)
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + LP_DELAY
        self.w.refresh_prices(self.owner)
        value_before = self.w.pool_state(self.chain.blocks.head.timestamp + 1).value
        out = self._lp_settle(who, False, self.keeper_acct)
        if out is None:
            return  # the pool's rules hold the redemption: nothing gained yet
        assert self.w.prices == round_prices
        self.lp_claim(True, False, 0)
        # What the shares fetched beyond the deposit is their part of the
        # pool's change between the settlements (both at the round's
        # prices), plus a unit of rounding each way.
        precision = self.w.quote_precision
        earned = max(value_before - rate_in[0], 0) // precision
        assert out <= amount + lr.to_assets(shares, earned, rate_in[1]) + 2, (out, amount)
        COVERAGE["attack 2: round trip around a round"] += 1

    # ------------------------------------------------------------ liquidation

    def _liquidate(self, who, actor, market, part):
        """Anyone (the account's owner and operator included) liquidates
        `part` per mille of a position (> 1,000: everything, 0: zero size)."""
        owner, sub = self._target(actor)
        liquidator = self._liquidator(who, owner, sub)
        open_markets = self.w.open_markets(owner, sub)
        if actor >= len(self.actors) and open_markets:
            if (str(owner), sub) in self.w.portfolio:
                # market 0: the position the engine takes first; 1: another
                # (refused unless it loses as much in the worst scenario)
                open_markets = self._portfolio_order(owner, sub, open_markets)
            market = open_markets[market % len(open_markets)]
        size = abs(self.w.positions[(str(owner), sub, market)].size)
        max_size = 2**96 if part > 1_000 else size * part // 1_000
        if part and not max_size:
            max_size = 1
        reason = self.w.liquidate(
            self.chain,
            liquidator,
            owner,
            sub,
            market,
            max_size,
            operators=self._operators(owner, sub),
        )
        portfolio = (str(owner), sub) in self.w.portfolio
        self._count("portfolio liquidation" if portfolio else "liquidation", reason)
        if reason is None and self.w.premium_jump:
            COVERAGE["liquidation left the pool a refundable premium"] += 1

    @rule(actor=st.integers(0, 3), market=st.integers(0, 1), pct=st.integers(10, 200))
    def sandwich_liquidation(self, actor, market, pct):
        """The sandwicher of issue 18: stranger sells `pct` % of the skew
        into it, liquidates a linear account's position in that market and
        buys back, all at one oracle price. Invariant 12: with the
        per-window liquidation capacity it earns no more than the plain
        liquidation's reward would have, to a few units of rounding. With
        the capacity off (a market without a maker fee: a documented limit,
        docs/orders.md; the owner may set one within bounds) it earns at
        most |x| * price * |L| / skew_scale more, the skew the liquidation
        moved at the sandwich's size (found by the outside review of issue
        22: $429 more after the owner set a zero fee)."""
        who, sub = self.actors[actor]
        w, key = self.w, (str(who), sub)
        skew = w.states[market].skew
        now = self._next()
        if (
            not skew
            or key in w.portfolio
            or not w.positions[(*key, market)].size
            or w.liquidate_reason(self.stranger, who, sub, market, 2**96, now) is not None
            or w.capacity_left(market, now) == 0
            or w.pool_price_error(now) is not None
        ):
            return
        h = w.health(who, sub, now)
        try:
            plain = liq.liquidate(
                w.states[market],
                w.params[market],
                w.positions[(*key, market)],
                h.equity,
                h.mm,
                w.prices[market],
                now,
                2**96,
                w.quote_precision,
                w.lp,
                realise=w._realise(market, now),
                capacity=w.capacity_left(market, now),
            ).penalty.keeper
        except ValueError:
            return
        capped = w.capacity_left(market, now) is not None
        me = (str(self.stranger), 0)
        before = w.balances[me][w.quote]
        x = -skew * pct // 100 or (-1 if skew > 0 else 1)
        if w.trade(self.chain, self.stranger, 0, market, x) is not None:
            return
        held = w.positions[(*key, market)].size
        reason = w.liquidate(self.chain, self.stranger, who, sub, market, 2**96)
        moved = abs(held - w.positions[(*key, market)].size)
        # Buy back whatever happened (a refused back-leg would leave the
        # stranger a position: the rule then ends with it, as a trader).
        back = w.trade(self.chain, self.stranger, 0, market, -x)
        COVERAGE["sandwich" if reason is None else f"sandwich, liquidation {reason}"] += 1
        if reason is None and back is None:
            gain = w.balances[me][w.quote] - before
            if capped:
                assert gain <= plain + 4, (gain, plain)
                COVERAGE["sandwich earned no more than the plain liquidation"] += 1
            else:
                skew_moved = abs(x) * w.prices[market] // E18 * moved // w.params[market].skew_scale
                assert gain <= plain + skew_moved // w.quote_precision + 4, (
                    gain,
                    plain,
                    skew_moved,
                )
                COVERAGE["sandwich, capacity off: within the skew it moved"] += 1

    def _portfolio_order(self, owner, sub: int, open_markets: list[int]) -> list[int]:
        """A portfolio account's open markets in the engine's liquidation
        order (the model's), or as they are when a price it needs is invalid."""
        now = self.chain.blocks.head.timestamp + 1
        try:
            book = self.w.book(owner, sub, now)
            order = acct.liquidation_order(book, self.w.pm_config)
        except (model.PriceError, KeyError):
            return open_markets
        return [int(m) for m in order]

    @rule(
        actor=st.integers(0, 3),
        market=st.integers(0, 1),
        short=st.booleans(),
        pct=st.integers(60, 105),
        drop=st.integers(300, 5_000),
        by_keeper=st.booleans(),
        part=st.sampled_from([1_100, 500, 100]),
        then=st.sampled_from(
            [
                "nothing",
                "collateral",
                "collateral, keeper",
                "adl",
                "keeper",
                "close and sell",
                "write-off",
            ]
        ),
    )
    def crash(self, actor, market, short, pct, drop, by_keeper, part, then="nothing"):
        """A levered position, the price moving `drop` basis points against
        it, then a liquidation: a third party's (`part` per mille) or the
        keeper's pass; `then` what a crash leaves: a third party sells the
        collateral of an account left with debt and no position (as it is,
        or once its owner closes what the liquidation left: "close and
        sell", `_sell_what_is_left`),
        writes off such a debt once its collateral is dead
        (`_write_off_what_is_left`), ADLs a
        winner the move took past the profit cap, or the keeper passes
        again (a debt nothing backs any more). Single rules rarely line
        these up (issue 22: the `ci` run of 5980c8d reached no liquidation
        at all; in 32,851 steps on titanoboa the keeper's frequent passes
        took every collateral liquidation and ADL before a third party's
        rule found one); here they happen from whatever state the run is
        in, each step predicted by the model as in its own rule."""
        if then == "write-off":
            actor -= actor % 2  # a sub-account 0: the ones holding WETH
        self._lever_up(actor, market, short, pct)
        self.move_price("drift", market, drop if short else -drop)
        target = len(self.actors) + actor  # a liquidatable account, if any
        if then == "adl":
            # Before the liquidation (the keeper's pass would ADL first: in
            # 23,964 steps it made 33 ADL closes, a third party none).
            self.adl(0, target, market, 1_100)
        if by_keeper:
            self._keeper_pass()
        else:
            self._liquidate(0, target, market, part)
        COVERAGE["crash"] += 1
        if then.startswith("collateral"):
            # WETH, the collateral the traders hold, or WBTC
            self.liquidate_collateral(2, target, 1 + actor % 2, 1_000)
        if then == "close and sell":
            self._sell_what_is_left(actor % len(self.actors))
        if then == "write-off":
            self._write_off_what_is_left(actor % len(self.actors))
        if then.endswith("keeper"):
            self._keeper_pass()

    # Third parties (the keeper's address or the stranger, which may be the
    # owner's second address) twice; the owner or its operator once.
    liquidate_rule = rule(
        who=st.sampled_from([0, 2]),
        actor=st.integers(0, 15),
        market=st.integers(0, 1),
        part=st.sampled_from([1_100, 1_100, 1_000, 500, 100, 10, 1, 0]),
    )
    liquidate_a = liquidate_rule(_named(_liquidate, "liquidate_a"))
    liquidate_b = liquidate_rule(_named(_liquidate, "liquidate_b"))
    self_liquidate = rule(
        who=st.sampled_from([3, 4]),
        actor=st.integers(4, 15),
        market=st.integers(0, 1),
        part=st.just(1_100),
    )(_named(_liquidate, "self_liquidate"))

    @rule(
        who=st.sampled_from([0, 2, 0, 2, 3, 4]),
        actor=st.integers(0, 7),
        market=st.integers(0, 1),
        part=st.sampled_from([1_100, 1_100, 500, 10, 0]),
    )
    def adl(self, who, actor, market, part):
        """Auto-deleverages `part` per mille of a position (> 1,000: as much
        as the engine wants, 0: zero size): refused unless the market's
        traders' profit is past its cap and the position wins on the skew's
        side; by its owner or operator, always. Actors 4-7 prefer a position
        the engine would take, if the market needs ADL and has one."""
        owner, sub = self.actors[actor % len(self.actors)]
        if actor >= len(self.actors):
            now = self.chain.blocks.head.timestamp + 1
            eligible = [
                (w, s)
                for w, s in self.actors
                if self.w.adl_reason(self.stranger, w, s, market, 2**96, now) is None
            ]
            if eligible:
                owner, sub = eligible[actor % len(eligible)]
        caller = self._liquidator(who, owner, sub)
        size = abs(self.w.positions[(str(owner), sub, market)].size)
        max_size = 2**96 if part > 1_000 else max(size * part // 1_000, 1 if part else 0)
        reason = self.w.adl(
            self.chain, caller, owner, sub, market, max_size, operators=self._operators(owner, sub)
        )
        self._count("auto-deleveraging", reason)

    @rule(
        who=st.sampled_from([0, 2, 0, 2, 3, 4]),
        actor=st.integers(0, 15),
        asset=st.sampled_from([1, 2, 1, 2, 0, 3]),
        frac=st.sampled_from([1_000, 500, 100, 1_200, 1, 0]),
    )
    def liquidate_collateral(self, who, actor, asset, frac):
        owner, sub = self._target(actor)
        self._sell(self._liquidator(who, owner, sub), owner, sub, self._asset(asset), frac)

    def _sell(self, liquidator, owner, sub: int, token, frac: int) -> None:
        """`liquidator` repays `frac` per mille of the account's quote debt
        (or `frac` units without debt) for its `token`."""
        debt = max(-self.w.balances[(str(owner), sub)][self.usdc.address], 0)
        repay = debt * frac // 1_000 if debt else frac
        reason = self.w.liquidate_collateral(
            self.chain,
            liquidator,
            owner,
            sub,
            token.address,
            repay,
            operators=self._operators(owner, sub),
        )
        self._count("collateral liquidation", reason)

    def _close_what_is_left(self, pick: int) -> list:
        """The owner of the crashed account (else of another account holding
        collateral) closes its open positions whole; the accounts then left
        with quote debt, no position and collateral that still counts."""
        quote = self.w.quote
        backed = [a for a in self.exposed if any(x != quote for x in self.w.priced(*a))]
        closing = self.actors[pick] if self.actors[pick] in backed else None
        if closing is None and backed:
            closing = backed[pick % len(backed)]
        if closing is not None:
            who, sub = closing
            for m in self.w.open_markets(who, sub):
                size = self.w.positions[(str(who), sub, m)].size
                self._count("whole close", self.w.trade(self.chain, who, sub, m, -size))
        return [
            (w, s)
            for w, s in self.exposed
            if self.w.balances[(str(w), s)][quote] < 0
            and not self.w.open_markets(w, s)
            and any(a != quote for a in self.w.priced(w, s))
        ]

    def _write_off_what_is_left(self, pick: int) -> None:
        """A debt that only dead collateral backs: an account left with quote
        debt and no position (`_close_what_is_left`) holds collateral that
        is then frozen to worthless and whose feed breaks (its decimals
        move), so nobody can sell it; the keeper's pass writes the debt off
        through the waterfall (`settle_bad_debt`). The fourth long run
        reached the keeper's write-off not once in 38,554 steps, the second
        once in 23,964."""
        left = self._close_what_is_left(pick)
        if not left:
            COVERAGE["no debt left to write off"] += 1
            self._keeper_pass()
            return
        who, sub = left[pick % len(left)]
        held = [a for a in self.w.priced(who, sub) if a != self.w.quote]
        asset = held[pick % len(held)]
        index = self.tokens.index(self._token(asset))
        if asset not in self.w.frozen:
            self.freeze_or_unfreeze(index, "owner")
        m = self.w.asset_feed(asset)
        if m not in self.hostile:
            self.feed_turns_hostile(m, "decimals")
        self._keeper_pass()

    def _sell_what_is_left(self, pick: int) -> None:
        """A third party sells the collateral of an account left with quote
        debt and no position. The owner of an account holding collateral
        first closes what the crash's liquidation left open (a partial close
        stops at the target health, and a position blocks a collateral
        sale), which realizes the crash's loss; while the collateral still
        covers the debt, its price then falls just past that point (the
        smallest whole per cent the model says is enough, at most 50 %).
        Without this, a third party's collateral liquidation came once in
        23,964 steps and not at all in 20,626 (issue 22)."""
        quote = self.w.quote
        left = self._close_what_is_left(pick)
        now = self.chain.blocks.head.timestamp + 1
        if not left:
            # WETH, the collateral the traders hold, or WBTC: refused
            self.liquidate_collateral(2, len(self.actors) + pick, 1 + pick % 2, 1_000)
            return
        who, sub = left[pick % len(left)]
        held = [a for a in self.w.priced(who, sub) if a != quote]
        asset = held[pick % len(held)]
        m = self.w.asset_feed(asset)
        try:
            h = self.w.health(who, sub, now)
        except model.PriceError:
            h = None
        if h is not None and h.equity >= h.mm:
            price = self.w.prices[m]
            drop = None
            for pct in range(1, 51):
                self.w.prices[m] = price * (100 - pct) // 100
                try:
                    under = self.w.liquidatable(who, sub, now)
                finally:
                    self.w.prices[m] = price
                if under:
                    drop = pct
                    break
            if drop is None:
                COVERAGE["collateral covers its debt past a 50 % fall"] += 1
            else:
                self.move_price("drift", m, -100 * drop)
                COVERAGE["collateral fell below its debt"] += 1
        self._sell(self._third(who), who, sub, self._token(asset), 1_000)

    @rule(actor=st.integers(0, 3))
    def settle_bad_debt(self, actor):
        owner, sub = self.actors[actor]
        bal = self.w.balances[(str(owner), sub)]
        now = self._next()
        if self.w.open_markets(owner, sub):
            reason = errors.HAS_POSITIONS
        elif bal[self.usdc.address] >= 0:
            reason = errors.NO_DEBT
        elif (why := self.w.write_off_reason(owner, sub, now)) is not None:
            reason = why
        else:
            tx = self.ch.settle_bad_debt(owner, sub, sender=self.stranger)
            moved = self.w.write_off(owner, sub)
            written = tx.events.filter(self.ch.CollateralWrittenOff)
            assert {ev.asset: ev.amount for ev in written} == moved
            self.w._expect_bad_debt(tx, owner, sub)
            return
        self._refused(lambda: self.ch.settle_bad_debt(owner, sub, sender=self.stranger), reason)

    def _keeper_pass(self):
        """The keeper's own pass: its replica brought up to the head, every
        account with liabilities valued locally, the liquidatable ones
        liquidated. Every transaction it sent is replayed against the
        model, and afterwards no tracked account may still be liquidatable
        (invariant 7)."""
        self._next()
        head = self.chain.blocks.head.number
        now = self.chain.blocks.head.timestamp
        # What the keeper values: every account with quote debt or a
        # position (the others can never be liquidated).
        valued = [(str(w), s) for w, s in self.w.accounts if self.w.has_liabilities(w, s)]
        # An account whose own prices are invalid cannot be valued; the
        # keeper logs it and handles every other account (issue 19: it
        # never dies of a price).
        unreadable = set()
        for who, sub in valued:
            needs = [self.w.asset_feed(a) for a in self.w.priced(who, sub)]
            needs += self.w.open_markets(who, sub)
            if self.w.first_price_error(needs, self.chain.blocks[head].timestamp) is not None:
                unreadable.add((who, sub))
        self.keeper_lines.clear()
        stats = self.keeper.run_once()
        COVERAGE["keeper pass" + (" around unreadable accounts" if unreadable else "")] += 1
        logged = {
            (line["owner"], line["sub_id"])
            for line in self.keeper_lines
            if line["event"] == "account_unreadable"
        }
        assert logged == unreadable, (logged, unreadable)
        assert stats.unreadable == len(unreadable)
        assert stats.accounts == len(valued)
        valued = [a for a in valued if a not in unreadable]
        if self.w.liquidations_closed(now) is not None:
            # Paused or in the grace period: the keeper sends nothing.
            assert stats.liquidations == stats.collateral_liquidations == stats.adl == 0
            assert any(line["event"] == "liquidations_closed" for line in self.keeper_lines) or (
                stats.liquidatable == 0
            )
            COVERAGE["keeper pass while liquidations are stopped"] += 1
            return
        COVERAGE["keeper liquidation"] += stats.liquidations
        COVERAGE["keeper collateral liquidation"] += stats.collateral_liquidations
        COVERAGE["keeper bad-debt settlement"] += stats.bad_debts_settled
        assert stats.mismatches == 0
        expected = [a for a in valued if self.w.liquidatable(*a, now)]
        assert stats.liquidatable == len(expected)
        waiting = self._replay_keeper()
        # The keeper may leave an account it cannot help: a debt its wallet
        # cannot repay, or a repayment worth less than one collateral unit,
        # or a liquidation that waits for the pool's prices.
        left_alone = waiting | {
            (line["owner"], line["sub_id"])
            for line in self.keeper_lines
            if line["event"] in ("skip_collateral", "capacity_wait")
        }
        now = self.chain.blocks.head.timestamp
        self._check_why_left_alone(now)
        for who, sub in self.exposed:
            if (str(who), sub) in left_alone | unreadable:
                continue
            try:
                left = self.w.liquidatable(who, sub, now)
            except model.PriceError:
                continue  # a feed aged past its heartbeat during the pass
            if left:
                raise AssertionError(f"the keeper left {who}/{sub} liquidatable")
        # Nor a market past its profit cap with a winner the engine would
        # auto-deleverage (the next block's time: what a caller would meet),
        # unless the winner became one only by that second's funding: at
        # the keeper's block a position it had just liquidated in part was
        # marked to the oracle with nothing owed, so not in profit; a
        # second later the funding owed to it made it a winner by 9e-8 USD
        # (found by the fifth long run; the keeper's next pass takes it).
        then = now + 1
        for m in range(len(self.w.params)):
            if self.w.pool_price_error(then) or self.w.caps[m] is None:
                continue
            if not self.w.adl_state(m, then).needed:
                continue
            for who, sub in self.exposed:
                if (str(who), sub) in unreadable:
                    # The keeper ranks winners by leverage, which needs the
                    # account's equity: one it cannot read waits (a known
                    # limit, docs/liquidation.md; found by the long run).
                    COVERAGE["ADL of an unreadable account left to a later pass"] += 1
                    continue
                reason = self.w.adl_reason(self._third(who), who, sub, m, 2**96, then)
                if reason is None and self.w.adl_reason(self._third(who), who, sub, m, 2**96, now):
                    COVERAGE["ADL winner by a second's funding left to the next pass"] += 1
                    continue
                assert reason is not None, f"the keeper left {who}/{sub} to ADL in market {m}"

    def _check_why_left_alone(self, now: int) -> None:
        """The keeper's reasons for leaving a liquidatable account, checked
        against the model rather than taken on its word (the outside review
        of issue 22): `capacity_wait` only when the liquidation windows of
        the markets it could close are used up (every open market in linear
        margin, the first in the engine's order in portfolio margin);
        `skip_collateral` only for no debt, an empty wallet, no collateral
        whose price can be read, or a repayment worth no collateral unit."""
        w = self.w
        wallet = self.usdc.balanceOf(self.keeper_acct)  # it only falls in a pass
        for line in self.keeper_lines:
            if line["event"] not in ("capacity_wait", "skip_collateral"):
                continue
            key = (line["owner"], line["sub_id"])
            if line["event"] == "capacity_wait":
                markets = w.open_markets(*key)
                if key in w.portfolio:
                    markets = self._portfolio_order(*key, markets)[:1]
                # (unless a window ran out while the pass went on)
                rolled = any(now >= w.windows[m][0] + w.capacity.window for m in markets)
                assert markets, line
                assert rolled or all(w.capacity_left(m, now) == 0 for m in markets), line
                COVERAGE["keeper waited for a used-up window (checked)"] += 1
            elif line["event"] == "skip_collateral":
                why = line["why"]
                debt = -w.balances[key][w.quote]
                priced = [a for a in w.held(*key) if w.price_error(w.asset_feed(a), now) is None]
                if why == "no debt":
                    assert debt <= 0, line
                elif why == "empty wallet":
                    assert wallet == 0, line
                elif why == "no collateral":
                    assert not priced, line
                else:
                    assert why == "repayment worth less than one collateral unit", line
                    assert debt > 0, line
                COVERAGE[f"keeper skipped a collateral sale: {why} (checked)"] += 1

    @rule(actor=st.integers(0, 3), market=st.integers(0, 1), delta=sizes, tight=st.booleans())
    def order_round(self, actor, market, delta, tight):
        """An order's whole life in one step: commit, a third party's
        settlement at once (on BTC, whose delay is 3 s, too early; on ETH
        it may fill), the delay passes, the feeds publish, the keeper
        settles (fills, refuses at the limit, or removes an order whose
        trade its checks refuse)."""
        self.commit_order(actor=actor, market=market, delta=delta, tight=tight)
        self.settle_order(settler=(actor + 1) % 4, actor=actor)
        self.orders_come_due(seconds=3)

    @rule(market=st.integers(0, 1), long=st.booleans(), up=st.booleans())
    def order_ahead_of_a_round(self, market, long, up):
        """Attack 1: the stranger, seeing a 0.5 % round coming, commits an
        order before it and the closing order after. Both settle on prices
        published after their delay, both after the round, at the same
        price: invariant 14, the round trip gains nothing beyond the funding
        its position earned meanwhile, and pays two trade fees and two
        settlement fees."""
        w, me = self.w, (str(self.stranger), 0)
        now = self.chain.blocks.head.timestamp + 1
        if (
            me in w.orders
            or any(w.positions[(*me, m)].size for m in range(len(w.params)))
            or w.paused
            or any(w.price_error(m, now) for m in range(len(w.params)))
        ):
            return
        size = (E18 if market == 0 else E18 // 20) * (1 if long else -1)
        # The round trip's gain is what its quote balance gained: the
        # position is closed at the end, so its PnL, fees and funding are
        # all booked there. Not its equity: collateral it seized in
        # liquidations moves with the round (found by the fourth long run:
        # 2.3 seized WETH gained $35 on a 0.5 % round).
        before = w.balances[me][w.quote]

        def stop(why: str | None) -> bool:
            if why is not None:
                COVERAGE[f"attack 1 stopped: {why}"] += 1
            return why is not None

        if stop(w.commit(self.chain, self.stranger, 0, market, size, 2**200 if long else 0)):
            return
        next_timestamp(self.chain)  # as in `lp_ahead_of_a_round`
        w.set_price(market, 50 if up else -50, self.owner)  # the round lands
        price = w.prices[market]
        self.wait(2)  # past the delay: every feed publishes again
        if stop(w.settle(self.chain, self.keeper_acct, self.stranger, 0)):
            return
        if stop(None if w.positions[(*me, market)].size else "open refused at settlement"):
            return
        opened = self.chain.blocks.head.timestamp
        if stop(w.commit(self.chain, self.stranger, 0, market, -size, 0 if long else 2**200)):
            return
        self.wait(2)
        if stop(w.settle(self.chain, self.keeper_acct, self.stranger, 0)):
            return
        if stop("close refused at settlement" if w.positions[(*me, market)].size else None):
            return
        assert w.prices[market] == price
        gain = (w.balances[me][w.quote] - before) * w.quote_precision
        # Funding over the holding time at the market's highest rate.
        p = w.params[market]
        dt = self.chain.blocks.head.timestamp - opened
        funding = abs(size) * price // E18 * p.max_funding_rate // E18 * dt // 86_400
        assert gain <= funding + w.quote_precision, (gain, funding)
        COVERAGE["attack 1: round trip around a round"] += 1

    @rule(seconds=st.integers(1, 40))
    def orders_come_due(self, seconds):
        """Time passes, every feed publishes, and the keeper settles what is
        due (a 60 s window: orders older than it expire instead)."""
        self.wait(seconds)
        self.keeper_settles_orders()

    @rule()
    def keeper_settles_orders(self):
        """The keeper's order step alone (its passes here leave orders out,
        so the pass's own expectations stay about health): every due order
        it settles, refuses or sees fail is replayed against the model."""
        self._next()
        self.keeper_lines.clear()
        self.keeper.settle_orders(PassStats())
        for line in self.keeper_lines:
            event = line["event"]
            if event in ("order_settled", "order_refused"):
                who = self._owner_account(line["owner"])
                tx = self.chain.provider.get_receipt(line["tx"])
                sub = int(line["sub_id"])
                assert self.w.settle(self.chain, self.keeper_acct, who, sub, tx=tx) is None
                COVERAGE[f"keeper {event.replace('_', ' ')}"] += 1
                if line["trade_refused"]:
                    COVERAGE["keeper order removed: its trade refused"] += 1
            elif event == "reverted" and "settle_order" in line["call"]:
                # Only the order's own timing or price reverts: the model
                # must agree.
                who, sub = self._owner_account(line["args"][0]), int(line["args"][1])
                then = self.chain.blocks.head.timestamp
                got = self.w.settle_outcome(self.keeper_acct, who, sub, then)[0]
                assert got == line["reason"], (got, line)
                COVERAGE["keeper settlement reverted"] += 1
            else:
                raise AssertionError(f"unexpected keeper line {line}")

    @rule()
    def keeper_pass(self):
        """The keeper's pass: its replica from the events, the screen, the
        exact model, then liquidations and ADL."""
        self._keeper_pass()

    def _replay_keeper(self) -> set[tuple[str, int]]:
        """Checks every transaction of the keeper's pass against the model;
        returns the accounts whose liquidation waits for a price the
        realisation cap needs."""
        waiting: set[tuple[str, int]] = set()
        # accounts of a batch refused whole, and those the pass then acted on
        retry: set[tuple[str, int]] = set()
        tried = {
            (str(line["args"][0]), int(line["args"][1]))
            if _called(line) == "liquidate"
            else (line.get("owner"), int(line.get("sub_id", -1)))
            for line in self.keeper_lines
        }
        for line in self.keeper_lines:
            event = line["event"]
            if event in (
                "scan",
                "pass",
                "haircut_ramped",
                "asset_balance_unreadable",
                "account_unreadable",
                "skip_collateral",
                "adl_needed",
                "capacity_wait",
                # a batch's send and any replacement: its items' own
                # lines (`liquidated`, `batch_item_skipped`) are checked
                "batch_sent",
                "batch_replaced",
            ):
                continue
            # No rival, no gas price: every transaction the keeper sends here
            # must go through, but for an ADL of a portfolio account that
            # would raise its MM (the keeper does not model portfolio MM; the
            # model must agree with the engine's refusal).
            then = self.chain.blocks.head.timestamp
            if event == "reverted" and line["reason"] == self.w.pool_price_error(then):
                # A liquidation realising a profit waits for the pool's
                # prices (the realisation cap); the keeper moves on.
                waiting.add((line["args"][0], int(line["args"][1])))
                continue
            if event == "batch_item_skipped":
                # The same, for an item of the keeper's `liquidate_many`:
                # the only refusal it may meet here.
                assert line["reason"] == self.w.pool_price_error(then), line
                waiting.add((line["owner"], int(line["sub_id"])))
                COVERAGE["keeper batch item skipped"] += 1
                continue
            if event == "reverted" and line["reason"] == errors.ADL_RAISES_MM:
                owner, sub, market, size = line["args"]
                who = self._owner_account(owner)
                then = self.chain.blocks.head.timestamp
                assert (
                    self.w.adl_reason(self.keeper_acct, who, int(sub), int(market), int(size), then)
                    == errors.ADL_RAISES_MM
                )
                continue
            if event == "seized_kept":
                # The keeper's withdrawal of what it seized, refused by a
                # hostile token: the collateral stays in its sub-account 0.
                token = self.ctx["engine"].tokens[line["asset"]]
                assert line["reason"] == self._token_refusal(
                    token, self.keeper_acct, pulling=False
                ), line
                self.w.balances[(str(self.keeper_acct), 0)][token.address] += line["amount"]
                COVERAGE["keeper kept seized collateral its token would not send"] += 1
                continue
            if (
                event == "lost_race"
                and _called(line) == "liquidate_many"
                and line["reason"] == errors.BATCH_ALL_FAILED
            ):
                # A batch whose simulation refused every item (found by the
                # long run: each waited for the pool's prices): nothing was
                # sent, and the keeper tries each account alone next, in
                # lines checked here like any other.
                retry |= {(str(o), int(s)) for o, s, *_ in ast.literal_eval(line["args"][0])}
                COVERAGE["keeper batch refused whole"] += 1
                continue
            assert event not in ("reverted", "lost_race", "skip_unprofitable"), line
            who = self._owner_account(line["owner"])
            sub = int(line["sub_id"])
            tx = self.chain.provider.get_receipt(line["tx"]) if "tx" in line else None
            if event == "liquidated":
                market = {"ETH": 0, "BTC": 1}[line["market"]]
                if (str(who), sub) in self.w.portfolio:
                    COVERAGE["keeper liquidation of a portfolio account"] += 1
                assert (
                    self.w.liquidate(
                        self.chain, self.keeper_acct, who, sub, market, line["max_size"], tx=tx
                    )
                    is None
                )
                if self.w.premium_jump:
                    COVERAGE["liquidation left the pool a refundable premium"] += 1
            elif event == "collateral_liquidated":
                asset = self.ctx["engine"].tokens[line["asset"]].address
                assert (
                    self.w.liquidate_collateral(
                        self.chain, self.keeper_acct, who, sub, asset, line["repaid"], tx=tx
                    )
                    is None
                )
                # Credited to its sub-account 0, then withdrawn by the keeper.
                self.w.balances[(str(self.keeper_acct), 0)][asset] -= line["collateral_out"]
            elif event == "bad_debt_settled":
                self.w.write_off(who, sub)
                self.w._expect_bad_debt(tx, who, sub)
            elif event == "adl":
                market = {"ETH": 0, "BTC": 1}[line["market"]]
                reason = self.w.adl(
                    self.chain, self.keeper_acct, who, sub, market, line["max_size"], tx=tx
                )
                assert reason is None
                COVERAGE["keeper auto-deleveraging"] += 1
            else:
                raise AssertionError(f"unexpected keeper line {line}")
        # Each account of a batch refused whole was tried again alone.
        assert retry <= tried, (retry, tried)
        return waiting

    def _owner_account(self, address: str):
        for who, _ in self.exposed:
            if str(who) == address:
                return who
        raise AssertionError(f"the keeper touched an untracked account {address}")

    # ------------------------------------------------------------ insurance and owner

    @rule(amount=st.integers(0, 5_000 * USDC))
    def fund_insurance(self, amount):
        self._next()
        if amount == 0:
            self._refused(
                lambda: self.ch.fund_insurance(0, sender=self.stranger), errors.ZERO_AMOUNT
            )
            return
        self.ch.fund_insurance(amount, sender=self.stranger)
        self.w.insurance += amount

    @rule(
        penalty=st.integers(0, 10**17),
        shares=st.tuples(st.integers(0, E18), st.integers(0, E18)),
        depth=st.integers(1, E18),
        health=st.integers(E18 + 1, 2 * E18),
        full_close=st.integers(0, E18 - 1),
        dust=st.integers(0, 1_000 * E18),
        discount=st.integers(0, 2 * 10**17),
        bad=st.sampled_from(
            [None, None, None, "stranger", "penalty", "shares", "depth", "target", "discount"]
        ),
    )
    def set_liquidation_params(
        self, penalty, shares, depth, health, full_close, dust, discount, bad
    ):
        lp = liq.LiquidationParams(
            penalty, min(shares), max(shares), depth, health, full_close, dust, discount
        )
        sender = self.stranger if bad == "stranger" else self.owner
        reason = {
            "stranger": NOT_OWNER,
            "penalty": errors.PENALTY_TOO_HIGH,
            "shares": errors.SHARE_MIN_ABOVE_MAX,
            "depth": errors.AUCTION_DEPTH_RANGE,
            "target": errors.TARGET_TOO_HIGH,
            "discount": errors.DISCOUNT_TOO_HIGH,
        }.get(bad)
        lp = {
            "penalty": replace(lp, penalty=10**17 + 1),
            "shares": replace(lp, keeper_share_min=lp.keeper_share_max + 1),
            "depth": replace(lp, auction_depth=0),
            "target": replace(lp, target_health=2 * E18 + 1),
            "discount": replace(lp, collateral_discount=2 * 10**17 + 1),
        }.get(bad, lp)
        if bad == "shares" and lp.keeper_share_min > E18:
            lp = replace(lp, keeper_share_min=E18, keeper_share_max=E18 - 1)
        self._next()
        if reason is not None:
            self._refused(
                lambda: self.ch.set_liquidation_params(lp.as_tuple(), sender=sender), reason
            )
            return
        self.ch.set_liquidation_params(lp.as_tuple(), sender=sender)
        self.w.lp = lp

    @rule(
        market=st.integers(0, 1),
        mmr_pct=st.integers(1, 30),
        im_extra_pct=st.integers(1, 20),
        scalar=st.integers(0, 2 * E18),
        fee_bp=st.integers(0, 50),
        skew_ratio=st.sampled_from([0, 0, 10, 50]),
        bad=st.sampled_from([None, None, "stranger", "mmr", "fee"]),
    )
    def set_market_params(self, market, mmr_pct, im_extra_pct, scalar, fee_bp, skew_ratio, bad):
        """Risk ratios, size add-ons, fees and (skew_ratio > 0) a skew scale of
        skew_ratio x the OI cap: premiums of 2-10 % of notional, enough to
        exceed the MM a reduction frees."""
        old = self.w.params[market]
        p = replace(
            old,
            skew_scale=old.max_oi * skew_ratio if skew_ratio else old.skew_scale,
            mmr_base=mmr_pct * E18 // 100,
            imr_base=(mmr_pct + im_extra_pct) * E18 // 100,
            mm_size_scalar=scalar // 2,
            im_size_scalar=scalar,
            taker_fee=fee_bp * E18 // 10_000,
            maker_fee=fee_bp * E18 // 20_000,
        )
        sender = self.stranger if bad == "stranger" else self.owner
        reason = {
            "stranger": NOT_OWNER,
            "mmr": errors.MM_RATIO_ABOVE_IM,
            "fee": errors.FEE_TOO_HIGH,
        }.get(bad)
        if bad == "mmr":
            p = replace(p, mmr_base=p.imr_base)
        elif bad == "fee":
            p = replace(p, taker_fee=10**17 + 1)
        now = self._next()
        if reason is None:
            reason = self.w.price_error(market, now)
        if reason is not None:
            self._refused(
                lambda: self.ch.set_market_params(market, p.as_tuple(), sender=sender), reason
            )
            return
        self.ch.set_market_params(market, p.as_tuple(), sender=sender)
        # Funding accrues to now under the old parameters first.
        self.w.states[market] = self._accrued(market, old, now)
        self.w.params[market] = p

    def _accrued(self, market, p, now):
        return perps.accrue(self.w.states[market], p, self.w.prices[market], now)

    @rule(
        asset=st.integers(1, 2),
        mm_pct=st.integers(0, 40),
        im_extra_pct=st.integers(0, 30),
        bad=st.sampled_from([None, None, "stranger", "order", "above"]),
    )
    def set_asset_params(self, asset, mm_pct, im_extra_pct, bad):
        token = self.tokens[asset]
        mm = mm_pct * E18 // 100
        im = (mm_pct + im_extra_pct) * E18 // 100
        sender = self.stranger if bad == "stranger" else self.owner
        reason = {
            "stranger": NOT_OWNER,
            "order": errors.MM_HAIRCUT_ABOVE_IM,
            "above": errors.HAIRCUT_TOO_HIGH,
        }.get(bad)
        if bad == "order":
            mm = im + 1
        elif bad == "above":
            im = E18 + 1
        if bad != "stranger" and token.address in self.w.frozen:
            # A frozen asset's haircuts follow its ramp (after the owner check).
            reason = errors.ASSET_FROZEN
        cap = self.ch.asset_config(token).cap
        self._next()
        if reason is not None:
            self._refused(
                lambda: self.ch.set_asset_params(token, im, mm, cap, sender=sender), reason
            )
            return
        self.ch.set_asset_params(token, im, mm, cap, sender=sender)
        a = self.w.assets[token.address]
        self.w.assets[token.address] = replace(a, im_haircut=im, mm_haircut=mm)

    # ------------------------------------------------------------ governance

    @rule(who=st.sampled_from(["guardian", "owner", "stranger"]), grace=st.sampled_from([0, 600]))
    def pause_or_unpause(self, who, grace):
        """The guardian or the owner pauses; only the owner unpauses, after
        setting a liquidation grace of `grace` seconds; a stranger is
        refused either. While paused, risk-increasing trades, margin
        switches that lower a margin, liquidations, ADL and LP exits are
        refused; deposits, withdrawals that keep IM and reductions go on."""
        ch, w = self.ch, self.w
        self._next()
        if who == "stranger":
            if w.paused:
                self._refused(lambda: ch.unpause(sender=self.stranger), NOT_OWNER)
            else:
                self._refused(lambda: ch.pause(sender=self.stranger), errors.NOT_OWNER_OR_GUARDIAN)
            return
        if not w.paused:
            ch.pause(sender=self.guardian if who == "guardian" else self.owner)
            w.paused = True
            COVERAGE["pause"] += 1
            return
        if who == "guardian":
            self._refused(lambda: ch.unpause(sender=self.guardian), NOT_OWNER)
            return
        ch.set_liquidation_grace(grace, sender=self.owner)
        self._next()
        tx = ch.unpause(sender=self.owner)
        w.paused = False
        w.resume_at = self.chain.blocks[tx.block_number].timestamp + grace
        assert ch.liquidations_resume_at() == w.resume_at
        COVERAGE["unpause"] += 1

    @rule(m=st.integers(0, 1), how=st.sampled_from(["decimals", "phase"]))
    def feed_turns_hostile(self, m, how):
        """Issue 19: feed `m` turns hostile mid-run: its decimals move (8 to
        9: a price read 10x high if believed), or its proxy jumps to a new
        Chainlink phase. The router refuses it with its own reason, so
        every account and market that needs it is refused and every other
        keeps every action (the next rules' predictions and the keeper
        pass check it). The next call restores it: the decimals go back,
        or the owner confirms the new phase."""
        w, feed = self.w, self.w.feeds[m]
        router = self.ctx["engine"].router
        self._next()
        if m in self.hostile:
            if self.hostile.pop(m) == "decimals":
                feed.set_decimals(w.feed_params[m].decimals, sender=self.owner)
                w.live_decimals.pop(m)
                w.read_round(m)
            else:
                w.refresh_prices(self.owner, [m])  # confirming needs a fresh price
                self._next()
                router.confirm_feed(self.tokens[1 + m], sender=self.owner)
                phase = w.rounds[m].round_id >> 64
                w.feed_params[m] = replace(w.feed_params[m], phase=phase)
            COVERAGE["feed restored"] += 1
            return
        if how == "decimals":
            w.live_decimals[m] = w.feed_params[m].decimals + 1
            feed.set_decimals(w.live_decimals[m], sender=self.owner)
            w.read_round(m)
        else:
            r = w.rounds[m]
            t = self.chain.blocks.head.timestamp
            jump = ((r.round_id >> 64) + 1) << 64 | 1
            feed.set_round(jump, r.answer, t, t, jump, sender=self.owner)
            w.read_round(m)
        self.hostile[m] = how
        COVERAGE[f"feed turned hostile: {how}"] += 1

    @rule(
        how=st.sampled_from(
            [
                "paused",
                "blocks the engine",
                "blocks trader",
                "returns false",
                "returns nothing",
                "rebases up",
            ]
        )
    )
    def token_turns_hostile(self, how):
        """Issue 19: WBTC's token turns hostile mid-run
        (contracts/mocks/MockHostileToken.vy): paused, blocklisting the
        engine or one user, transfers that return false or nothing, or a
        rebase of 1 % up on what the engine holds. Only deposits and
        withdrawals of WBTC call the token, so the deposit and withdraw
        rules predict its refusal there (`_token_refusal`); every other
        action goes on, WBTC's collateral liquidation included (credited
        inside the engine), and the keeper keeps seized WBTC its token will
        not send. A rebased-in surplus is never counted (invariant 1 keeps
        it apart). The next call restores the token."""
        token = self.tokens[2]
        self._next()
        if self.token_hostile is not None:
            token.set_mode(0, sender=self.owner)
            self._next()
            token.set_blocked(self.ch, False, sender=self.owner)
            self._next()
            token.set_blocked(self.actors[0][0], False, sender=self.owner)
            self.token_hostile = None
            COVERAGE["token restored"] += 1
            return
        if how == "rebases up":
            held = token.balanceOf(self.ch)
            token.rebase(self.ch, 100, True, sender=self.owner)
            surplus = self.w.surplus.get(token.address, 0) + held * 100 // 10_000
            self.w.surplus[token.address] = surplus
        else:
            mode = {"paused": 1, "returns false": 3, "returns nothing": 4}.get(how, 2)
            token.set_mode(mode, sender=self.owner)
            if how.startswith("blocks"):
                self._next()
                victim = self.ch if how == "blocks the engine" else self.actors[0][0]
                token.set_blocked(victim, True, sender=self.owner)
        self.token_hostile = how
        COVERAGE[f"token turned hostile: {how}"] += 1

    @rule(asset=st.integers(1, 2), by=st.sampled_from(["guardian", "owner"]))
    def freeze_or_unfreeze(self, asset, by):
        """Issue 19: a collateral turns bad. The guardian or the owner
        freezes it with a one-day ramp, the day passes (every feed posts
        again, funding accrues) and anyone moves its haircuts to 100 %:
        from then on it counts for nothing, its price is not read, deposits
        of it are refused, and a debt it alone backs is written off. On the
        next call the owner unfreezes it (the old haircuts come back)."""
        ch, w = self.ch, self.w
        token = self.tokens[asset]
        self._next()
        if token.address in w.frozen:
            ch.unfreeze_asset(token, sender=self.owner)
            w.assets[token.address] = w.frozen.pop(token.address)
            COVERAGE["asset unfrozen"] += 1
            return
        # The guardian's freeze gives holders a week, the owner's a day.
        freezer, ramp = (self.guardian, 7 * 86_400) if by == "guardian" else (self.owner, 86_400)
        tx = ch.freeze_asset(token, ramp, sender=freezer)
        since = self.chain.blocks[tx.block_number].timestamp
        self.chain.pending_timestamp = since + ramp
        w.refresh_prices(self.owner)
        self._next()
        ch.ramp_frozen_haircut(token, sender=self.stranger)
        old = w.assets[token.address]
        w.frozen[token.address] = old
        w.assets[token.address] = replace(old, im_haircut=E18, mm_haircut=E18)
        cfg = ch.asset_config(token)
        assert (cfg.im_haircut, cfg.mm_haircut) == (E18, E18)
        COVERAGE["asset frozen to worthless"] += 1

    # ------------------------------------------------------------ invariants

    @invariant()
    def matches_the_model(self):
        if hasattr(self, "w"):
            # kept for `replica_matches_the_chain` at the same block
            self._read = (self.chain.blocks.head.number, self.w.check(self.chain))
            # What traders are paid never exceeds what the pool holds: its
            # ledger goes below zero only by absorbing bad debt.
            assert self.w.pool >= 0 or self.w.bad_debt[2] > 0, self.w.pool
            COVERAGE["steps checked"] += 1
            if self.w.bad_debt[0] != getattr(self, "_bad_debt_seen", 0):
                COVERAGE["bad debt absorbed"] += 1
                self._bad_debt_seen = self.w.bad_debt[0]

    @invariant()
    def replica_matches_the_chain(self):
        """Issue 20: the keeper's replica, rebuilt from the engine's events
        alone, holds every account's balances, positions and margin mode
        as the chain does, and values every account's health to the wei
        as `account_health` does (unpriced exactly when it reverts). The
        global inputs (prices, funding, parameters) come from the model,
        which the other invariants hold equal to the chain; the keeper's
        own replica reads them from the chain (checked on every keeper
        pass: no `replica_mismatch`)."""
        if not hasattr(self, "w"):
            return
        w, r = self.w, self.mirror
        head = self.chain.blocks.head
        for _, _, name, args in self.mirror_logs.advance_logs(head.number):
            r.apply(name, args)
        marks = self._marks(head.timestamp)
        read = getattr(self, "_read", None)
        got = read[1] if read is not None and read[0] == head.number else w.read_chain()
        for who, sub in w.accounts:
            key = (str(who), sub)
            state = r.accounts.get(key)
            balances = {} if state is None else state.balances
            assert balances == {a: b for a, b in got.balances[key].items() if b}, key
            for m in range(len(w.params)):
                p = state.positions.get(m) if state else None
                assert (tuple(vars(p).values()) if p else (0, 0, 0)) == got.positions[(*key, m)]
            assert (state is not None and state.portfolio) == (key in w.portfolio)
            h = r.health(key, marks)
            if isinstance(h, Unpriced):
                assert got.health[key] is None, (key, h)
                COVERAGE["replica: unpriced account"] += 1
            else:
                assert (h.equity, h.im, h.mm) == got.health[key], key
        # Accounts the machine does not track (the insurance account that
        # written-off collateral moves to): their balances, read one by one.
        for key in set(r.accounts) - {(str(who), sub) for who, sub in w.accounts}:
            for a in w.assets:
                assert r.accounts[key].balances.get(a, 0) == self.ch.balance_of(*key, a)
        COVERAGE["replica checked"] += 1

    def _marks(self, now: int) -> Marks:
        """The model's prices, funding and parameters as the replica's marks."""
        w = self.w
        prices: dict[str, int] = {}
        refused: dict[str, str] = {}
        markets = {}
        for m, p in enumerate(w.params):
            reason = w.price_error(m, now)
            accrued = 0
            if reason is None:
                prices[p.asset] = w.prices[m]
                index = perps.funding(w.states[m], p, w.prices[m], now)[1]
                accrued = index - w.states[m].funding_index
            else:
                refused[p.asset] = reason
                index = 0
            markets[m] = MarketMark(str(m), p.asset, p, prices.get(p.asset), index, accrued)
        return Marks(w.quote, w.assets, prices, refused, markets, w.pm_config)

    @invariant()
    def lp_requests_match(self):
        """The vault's escrow against the machine's account of its requests:
        the share supply, and the quote it holds (pending deposits plus
        settled redemptions not yet claimed)."""
        if not hasattr(self, "w"):
            return
        held = sum(
            r.pending if deposit else r.claimable_out for (_, deposit), r in self.lp_reqs.items()
        )
        assert self.pool.requests_held() == held == self.usdc.balanceOf(self.pool)
        assert self.pool.totalSupply() == self.lp_supply

    @invariant()
    def every_liquidatable_account_has_an_entry(self):
        """Invariant 9: an account below MM that a third party may act on
        has an entry the engine accepts: `liquidate` in some market if it
        holds positions, else `liquidate_collateral` for an asset it holds,
        else (quote debt only) `settle_bad_debt`."""
        if not hasattr(self, "w"):
            return
        w, now = self.w, self.chain.blocks.head.timestamp + 1
        if w.liquidations_closed(now) is not None:
            return  # every entry is refused alike until they resume
        for who, sub in self.exposed:
            try:
                if not w.liquidatable(who, sub, now):
                    continue
            except model.PriceError:
                continue  # nothing can price it: every entry reverts alike
            ops = self._operators(who, sub)
            debt = -w.balances[(str(who), sub)][w.quote]
            markets, held = w.open_markets(who, sub), w.held(who, sub)
            if markets:
                reasons = [
                    w.liquidate_reason(self._third(who), who, sub, m, 2**96, now, ops)
                    or (errors.LIQ_CAPACITY if w.capacity_left(m, now) == 0 else None)
                    or w.liquidation_pool_failure(m, w.positions[(str(who), sub, m)], now)
                    for m in markets
                ]
                if None not in reasons and errors.LIQ_CAPACITY in reasons:
                    # Its markets' liquidation windows are used up: it waits
                    # for the next window (docs/orders.md).
                    COVERAGE["liquidation waits for the next window"] += 1
                    continue
                if None not in reasons and w.pool_price_error(now) in reasons:
                    # Its only entries realise a profit, and the realisation
                    # cap cannot value the pool until a price recovers
                    # (issue 19: fault isolation).
                    COVERAGE["liquidation waits for the pool's prices"] += 1
                    continue
            elif held and w.write_off_reason(who, sub, now) is not None:
                reasons = [
                    w.liquidate_collateral_reason(self._third(who), who, sub, a, debt, now, ops)
                    for a in held
                ]
            else:
                reasons = [None if debt > 0 else errors.NO_DEBT]
            assert None in reasons, (str(who), sub, reasons)
            COVERAGE["liquidatable with an entry"] += 1
