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
from dataclasses import dataclass, replace

from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD, ceil_div, floor_div, mul_div_down, mul_div_up
from xmargin.maths.perps import (
    MarketParams,
    MarketState,
    Position,
    fee,
    fill_adjustment,
    pnl_funding,
    premium,
)


@dataclass(frozen=True)
class Caps:
    """A market's capital caps, WAD fractions of pool value."""

    reserve_factor: int
    max_pnl_factor: int
    # what auto-deleveraging brings traders' net profit back to
    adl_target_factor: int


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


def pay_out(state: PoolState, net: int) -> int:
    """`liquidity._pay_out`, the realisation cap: what the pool in `state`
    (before the close) pays of a close's `net` (PnL less funding owed,
    WAD): all of a loss; of a profit, all while cash - premium owed back
    covers traders' net gains (PnL - funding), else the share cash / gains,
    rounded down; never more than that cash (0 when there is none)."""
    if net <= 0:
        return net
    assets = state.cash - state.premium_owed
    if assets <= 0:
        return 0
    owed = state.traders_pnl - state.traders_funding
    paid = net * assets // owed if owed > assets else net
    return min(paid, assets)


def withdrawable(state: PoolState, precision: int) -> int:
    """`pool_withdrawable`: the most cash the pool may release, native
    quote units (`precision` = 10**(18 - decimals))."""
    free = state.cash - state.required
    if free <= 0 or state.value <= state.min_value:
        return 0
    return min(free, state.value - state.min_value) // precision


# ---------------------------------------------------------------- auto-deleveraging


@dataclass(frozen=True)
class AdlState:
    """`deleverage.AdlState`: a market's net profit against its ADL bounds."""

    profit: int
    value: int
    # max_pnl_factor * value and adl_target_factor * value, rounded down
    limit: int
    target: int

    @property
    def needed(self) -> bool:
        """ADL may run: traders' net profit is above the limit."""
        return self.profit > self.limit


def adl_state(value: int, terms: MarketTerms | None, caps: Caps | None) -> AdlState:
    """`adl_state(market_id)` for a market with `terms` (None: no open
    interest) in a pool worth `value`."""
    profit = terms.profit if terms is not None else 0
    if caps is None:
        return AdlState(profit, value, 0, 0)
    return AdlState(
        profit,
        value,
        mul_div_down(value, caps.max_pnl_factor, WAD),
        mul_div_down(value, caps.adl_target_factor, WAD),
    )


@dataclass(frozen=True)
class AdlResult:
    """What `adl` closes and books (WAD USD unless native)."""

    closed: int
    # the closed part's realised PnL and funding owed; the skew premium it
    # paid (< 0: received) and the fee, as a reducing trade of that size
    pnl: int
    funding: int
    premium: int
    fee: int
    # native quote units credited to the account (the pool's negation)
    quote_delta: int
    state: MarketState
    position: Position


def adl(
    state: MarketState,
    params: MarketParams,
    pos: Position,
    a: AdlState,
    price: int,
    index: int,
    max_size: int,
    quote_precision: int,
    pool: PoolState,
) -> AdlResult:
    """`deleverage.adl` with `state` accrued to `index`: raises ValueError
    with the reason for a market within its cap, a position not in profit
    or not on the skew's side; else closes the least size whose share of
    the position's net profit covers `a.profit - a.target` (rounded up), at
    most the position, |skew| and `max_size`, as a reducing trade (skew
    premium and fee), realising the closed part's profit and funding in
    proportion (the rest keeps its entry terms), paid as far as the `pool`
    (before the close) can pay it (`pay_out`)."""
    pnl, owed = pnl_funding(pos, price, index)
    net = pnl - owed
    if not a.needed:
        raise ValueError(errors.ADL_NOT_NEEDED)
    if net <= 0:
        raise ValueError(errors.ADL_NOT_IN_PROFIT)
    skew = state.skew
    if skew == 0 or (pos.size > 0) != (skew > 0):
        raise ValueError(errors.ADL_WRONG_SIDE)
    size_abs = abs(pos.size)
    closed = min(mul_div_up(a.profit - a.target, size_abs, net), size_abs, abs(skew), max_size)
    delta = -closed if pos.size > 0 else closed
    paid = premium(delta, fill_adjustment(skew, delta, price, params.skew_scale))
    charged = fee(skew, delta, price, params)
    part_pnl, part_owed = pnl_funding(
        Position(-delta, pos.entry_price, pos.funding_index), price, index
    )
    quote_delta = floor_div(pay_out(pool, part_pnl - part_owed) - paid - charged, quote_precision)
    long_oi, short_oi = state.long_oi, state.short_oi
    if pos.size > 0:
        long_oi -= closed
    else:
        short_oi -= closed
    state = replace(
        state,
        skew=state.skew + delta,
        long_oi=long_oi,
        short_oi=short_oi,
        entry_sum=state.entry_sum + delta * pos.entry_price,
        funding_sum=state.funding_sum + delta * pos.funding_index,
    )
    new_size = pos.size + delta
    position = replace(pos, size=new_size) if new_size else Position()
    return AdlResult(closed, part_pnl, part_owed, paid, charged, quote_delta, state, position)


def adl_rank(pos: Position, price: int, index: int, equity: int, skew: int) -> int:
    """The keeper's ADL order (highest first), as Hyperliquid ranks: the
    position's profit ratio (net profit / entry notional) times the
    account's leverage (notional / equity), WAD. 0 for a position the
    engine would not take: not in profit, or not on the side of the
    market's `skew`; an account with no equity left ranks above every
    other."""
    pnl, owed = pnl_funding(pos, price, index)
    net = pnl - owed
    if net <= 0 or pos.size == 0 or pos.size * skew <= 0:
        return 0
    if equity <= 0:
        return 2**256 - 1
    entry_notional = mul_div_up(abs(pos.size), pos.entry_price, WAD)
    notional = mul_div_up(abs(pos.size), price, WAD)
    return mul_div_down(mul_div_down(net, WAD, entry_notional), notional, equity)
