"""A Python mirror of one engine's state, driven alongside the chain.

`World` holds what the model needs (balances per account and asset,
positions, market states, the pool ledger, oracle prices) and predicts each
action's outcome with `xmargin.model` / `xmargin.perps`: the exact result of
a valid action, or the revert reason of an invalid one. `check` compares
every account, market and ledger with the chain. Used by the trading
property test and the stateful fuzz machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import ape

from xmargin import model, perps

E18 = 10**18


@dataclass
class World:
    ch: Any
    params: list[perps.MarketParams]
    feeds: list[Any]
    # (owner, sub_id) pairs the world tracks
    accounts: list[tuple[Any, int]]
    quote: str
    assets: dict[str, model.AssetParams]
    quote_precision: int
    # market id -> collateral asset priced by the same feed (or None)
    market_collateral: list[str | None] = field(default_factory=list)
    # asset address -> token contract, for the tokens-held invariant
    tokens: dict[str, Any] = field(default_factory=dict)
    states: list[perps.MarketState] = field(default_factory=list)
    prices: list[int] = field(default_factory=list)
    positions: dict[tuple[str, int, int], perps.Position] = field(default_factory=dict)
    balances: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    pool: int = 0

    @classmethod
    def read(cls, ch, params, feeds, accounts, quote, assets, market_collateral, tokens) -> World:
        """A world seeded from the chain's current state (before any action).

        Only the tracked accounts may hold balances in the engine: the
        tokens-held invariant counts theirs and the pool's, nothing else.
        """
        w = cls(ch, params, feeds, accounts, quote, assets, 10 ** (18 - assets[quote].decimals))
        w.market_collateral = list(market_collateral)
        w.tokens = dict(tokens)
        w.states = [perps.MarketState(*ch.market_state(m)) for m in range(len(params))]
        w.prices = [f.answer() * 10 ** (18 - f.decimals()) for f in feeds]
        for who, sub in accounts:
            w.balances[(str(who), sub)] = {a: ch.balance_of(who, sub, a) for a in assets}
            for m in range(len(params)):
                w.positions[(str(who), sub, m)] = perps.Position(*ch.position(who, sub, m))
        w.pool = ch.pool_balance()
        return w

    # ------------------------------------------------------------ model maths

    def collateral_prices(self) -> dict[str, int]:
        return {a: self.prices[m] for m, a in enumerate(self.market_collateral) if a}

    def risk(self, who, sub, now) -> perps.PositionRisk:
        total = perps.PositionRisk()
        for m in range(len(self.params)):
            pos = self.positions[(str(who), sub, m)]
            if pos.size:
                _, index = perps.funding(self.states[m], self.params[m], self.prices[m], now)
                total += perps.risk(pos, self.params[m], self.prices[m], index)
        return total

    def health(self, who, sub, now) -> model.Health:
        return model.account_health(
            self.balances[(str(who), sub)],
            self.assets,
            self.collateral_prices(),
            self.quote,
            positions=self.risk(who, sub, now),
        )

    def has_liabilities(self, who, sub) -> bool:
        return self.balances[(str(who), sub)][self.quote] < 0 or any(
            self.positions[(str(who), sub, m)].size for m in range(len(self.params))
        )

    def below_im_after(self, who, sub, now, change) -> bool:
        """Applies `change(world)` tentatively; True if the account ends below IM."""
        saved = (
            list(self.states),
            dict(self.positions),
            {k: dict(v) for k, v in self.balances.items()},
        )
        change(self)
        below = self.has_liabilities(who, sub) and ((h := self.health(who, sub, now)).equity < h.im)
        self.states, self.positions, self.balances = saved
        return below

    # ------------------------------------------------------------ actions

    def set_price(self, m: int, bps: int, owner) -> None:
        scale = 10 ** (18 - self.feeds[m].decimals())
        self.prices[m] = self.prices[m] * (10_000 + bps) // 10_000 // scale * scale
        self.feeds[m].set_answer(self.prices[m] // scale, sender=owner)

    def refresh_prices(self, owner) -> None:
        for feed, price in zip(self.feeds, self.prices, strict=True):
            feed.set_answer(price // 10 ** (18 - feed.decimals()), sender=owner)

    def trade(self, chain, who, sub, m, delta) -> str | None:
        """Trades on chain; asserts the exact outcome. Returns the revert reason, if any."""
        key = (str(who), sub, m)
        old = self.positions[key]
        now = chain.blocks.head.timestamp + 1  # the trade's block
        chain.pending_timestamp = now
        r = perps.trade(
            self.states[m], self.params[m], old, delta, self.prices[m], now, self.quote_precision
        )

        def apply(w: World) -> None:
            w.states[m], w.positions[key] = r.state, r.position
            w.balances[(str(who), sub)][w.quote] += r.quote_delta

        reason = None
        if not r.reducing:
            new_oi = r.state.long_oi if old.size + delta > 0 else r.state.short_oi
            if new_oi > self.params[m].max_oi:
                reason = "xmargin: open interest cap reached"
            elif self.below_im_after(who, sub, now, apply):
                reason = "xmargin: below initial margin"
        limit = 0 if delta < 0 else 2**200
        if reason is not None:
            with ape.reverts(reason):
                self.ch.trade(sub, m, delta, limit, sender=who)
            return reason
        tx = self.ch.trade(sub, m, delta, limit, sender=who)
        (event,) = tx.events.filter(self.ch.Trade)
        # WAD-level amounts, before the quote balance's native rounding.
        assert (event.fill_price, event.pnl, event.funding, event.premium, event.fee) == (
            r.fill_price,
            r.pnl,
            r.funding,
            r.premium,
            r.fee,
        )
        assert event.quote_delta == r.quote_delta
        apply(self)
        self.pool -= r.quote_delta
        return None

    # ------------------------------------------------------------ checks

    def check(self, chain) -> None:
        """Every account, market and ledger equals the model, to the wei."""
        ch, now = self.ch, chain.blocks.head.timestamp
        for who, sub in self.accounts:
            for asset, amount in self.balances[(str(who), sub)].items():
                assert ch.balance_of(who, sub, asset) == amount
            for m in range(len(self.params)):
                assert tuple(ch.position(who, sub, m)) == tuple(
                    vars(self.positions[(str(who), sub, m)]).values()
                )
            expected = self.health(who, sub, now)
            assert tuple(ch.account_health(who, sub)) == (expected.equity, expected.im, expected.mm)
        for m in range(len(self.params)):
            assert tuple(ch.market_state(m)) == tuple(vars(self.states[m]).values())
        assert ch.pool_balance() == self.pool
        # Tokens held == the ledgers, to the unit: every settlement is a
        # transfer between a trader's quote balance and the pool.
        for asset, token in self.tokens.items():
            ledgers = sum(b[asset] for b in self.balances.values())
            if asset == self.quote:
                ledgers += self.pool
            assert token.balanceOf(ch) == ledgers
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
            perps.mul_div_up(
                perps.mul_div_up(abs(st.skew), self.prices[m], E18), abs(st.skew), 2 * p.skew_scale
            )
            for m, (st, p) in enumerate(zip(self.states, self.params, strict=True))
        )
        assert s.premium_owed == owed
        assert s.value == max(s.cash - s.traders_pnl + s.traders_funding - owed, 0)


def with_asset(p: perps.MarketParams, asset: str) -> perps.MarketParams:
    return replace(p, asset=asset)
