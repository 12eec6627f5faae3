"""The liquidity pool's claim on traders and its capital caps.

Mirror of `contracts/modules/liquidity.vy` (docs/pool.md): each market's
terms from its exact aggregates (`market_terms`), the pool's value, the
cash it must keep and the least value its caps need (`pool_state`), and
the cap a trade that grows a market's larger side or its |skew| would
break (`cap_breach`).
All amounts are WAD USD, rounded as the contract rounds: against the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD, ceil_div, floor_div, mul_div_down, mul_div_up
from xmargin.maths.perps import MarketParams, MarketState


@dataclass(frozen=True)
class Caps:
    """A market's capital caps, WAD fractions of pool value."""

    reserve_factor: int
    max_pnl_factor: int


@dataclass(frozen=True)
class MarketTerms:
    """`liquidity.MarketTerms`: one market's part of the pool's claim."""

    pnl: int
    funding: int
    net_notional: int
    # max(long, short) * price: what the pool may come to hold
    side_notional: int
    premium_owed: int

    @property
    def profit(self) -> int:
        """Traders' net profit in the market: PnL less the funding they owe."""
        return self.pnl - self.funding


@dataclass(frozen=True)
class PoolState:
    """`liquidity.PoolState`, field for field."""

    cash: int
    traders_pnl: int
    traders_funding: int
    premium_owed: int
    side_notional: int
    value: int
    required: int
    net_notional: int
    min_value: int


def market_terms(state: MarketState, params: MarketParams, price: int, index: int) -> MarketTerms:
    """A market's terms at `price`, with the funding `index` accrued to now."""
    skew_abs = abs(state.skew)
    net = mul_div_up(skew_abs, price, WAD)
    return MarketTerms(
        pnl=ceil_div(price * state.skew - state.entry_sum, WAD),
        funding=floor_div(index * state.skew - state.funding_sum, WAD),
        net_notional=net,
        side_notional=mul_div_up(max(state.long_oi, state.short_oi), price, WAD),
        premium_owed=mul_div_up(net, skew_abs, 2 * params.skew_scale),
    )


def pool_state(
    cash: int,
    terms: Sequence[MarketTerms | None],
    caps: Sequence[Caps | None],
    buffer: int,
    total_reserve: int,
) -> PoolState:
    """The pool with `cash` (WAD) over the markets' `terms` (None for a
    market with no open interest, which the contract skips), each market's
    `caps` (None: uncapped), the cash `buffer` and the total reserve factor
    (0: none)."""
    live = [t for t in terms if t is not None]
    pnl = sum(t.pnl for t in live)
    funding = sum(t.funding for t in live)
    owed = sum(t.premium_owed for t in live)
    net = sum(t.net_notional for t in live)
    need = 0
    for t, c in zip(terms, caps, strict=True):
        if t is None or c is None:
            continue
        need = max(need, mul_div_up(t.side_notional, WAD, c.reserve_factor))
        if t.profit > 0:
            need = max(need, mul_div_up(t.profit, WAD, c.max_pnl_factor))
    side = sum(t.side_notional for t in live)
    if total_reserve:
        need = max(need, mul_div_up(side, WAD, total_reserve))
    return PoolState(
        cash=cash,
        traders_pnl=pnl,
        traders_funding=funding,
        premium_owed=owed,
        side_notional=side,
        value=max(cash - pnl + funding - owed, 0),
        required=max(pnl - funding, 0) + owed + mul_div_up(net, buffer, WAD),
        net_notional=net,
        min_value=need,
    )


def cap_breach(
    after: PoolState,
    traded: MarketTerms,
    caps: Caps | None,
    total_reserve: int,
    side_grew: bool = True,
    skew_grew: bool = True,
) -> str | None:
    """The reason a trade reverts with that grew a market's larger side
    (`side_grew`) or its |skew| (`skew_grew`), given the pool (`after`) and
    that market's terms (`traded`) after it, or None. In the contract's
    order: the market's reserve, its profit, the total reserve."""
    if caps is not None:
        if side_grew and traded.side_notional > mul_div_down(after.value, caps.reserve_factor, WAD):
            return errors.RESERVE_CAP
        if skew_grew and traded.profit > mul_div_down(after.value, caps.max_pnl_factor, WAD):
            return errors.PNL_CAP
    if (
        total_reserve
        and side_grew
        and after.side_notional > mul_div_down(after.value, total_reserve, WAD)
    ):
        return errors.TOTAL_RESERVE_CAP
    return None


def withdrawable(state: PoolState, precision: int) -> int:
    """`pool_withdrawable`: the most cash the pool may release, native
    quote units (`precision` = 10**(18 - decimals))."""
    free = state.cash - state.required
    if free <= 0 or state.value <= state.min_value:
        return 0
    return min(free, state.value - state.min_value) // precision
