"""Pure-integer mirror of the perpetual-market maths (contracts/modules/markets.vy
and trading.vy): margin ratios, skew premium, fees, funding, settlement.

Same operations, same order, same rounding as the contracts (the
rounding helpers are `xmargin.maths.fixed_point`'s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, replace

from xmargin.maths.fixed_point import WAD, ceil_div, div_trunc, floor_div, mul_div_up

SECONDS_PER_DAY = 86_400
MAX_SIZE = 2**96
MAX_MARKETS = 32


# ---------------------------------------------------------------- market data


@dataclass(frozen=True)
class MarketParams:
    """Mirror of `markets.MarketParams` (WAD ratios, WAD sizes)."""

    asset: str
    imr_base: int
    mmr_base: int
    im_size_scalar: int
    mm_size_scalar: int
    skew_scale: int
    taker_fee: int
    maker_fee: int
    max_oi: int
    max_funding_velocity: int
    max_funding_rate: int

    def as_tuple(self) -> tuple[str | int, ...]:
        """The on-chain struct, in field order."""
        return astuple(self)


@dataclass(frozen=True)
class MarketState:
    """Mirror of `markets.MarketState`."""

    skew: int = 0
    long_oi: int = 0
    short_oi: int = 0
    entry_sum: int = 0
    funding_sum: int = 0
    funding_rate: int = 0
    funding_index: int = 0
    last_funding_time: int = 0


@dataclass(frozen=True)
class Position:
    size: int = 0
    entry_price: int = 0
    funding_index: int = 0


@dataclass(frozen=True)
class PositionRisk:
    """One position's (or a sum of positions') contribution to health, WAD USD."""

    pnl: int = 0
    funding: int = 0
    notional: int = 0
    im: int = 0
    mm: int = 0

    def __add__(self, other: PositionRisk) -> PositionRisk:
        return PositionRisk(
            self.pnl + other.pnl,
            self.funding + other.funding,
            self.notional + other.notional,
            self.im + other.im,
            self.mm + other.mm,
        )


# ---------------------------------------------------------------- maths


def funding(state: MarketState, p: MarketParams, price: int, now: int) -> tuple[int, int]:
    """(rate, index) as of `now`: `markets._funding`."""
    dt = now - state.last_funding_time
    cap = p.max_funding_rate
    r0 = min(max(state.funding_rate, -cap), cap)
    if dt == 0:
        return r0, state.funding_index
    k = min(max(div_trunc(state.skew * WAD, p.skew_scale), -WAD), WAD)
    velocity = div_trunc(k * p.max_funding_velocity, WAD)
    r1 = r0 + div_trunc(velocity * dt, SECONDS_PER_DAY)
    if r1 > cap or r1 < -cap:
        bound = -cap if velocity < 0 else cap
        # the exact ramp to the cap, one division (no whole-second t_hit)
        area = bound * dt - div_trunc((bound - r0) ** 2 * SECONDS_PER_DAY, 2 * velocity)
        r1 = bound
    else:
        area = div_trunc((r0 + r1) * dt, 2)
    return r1, state.funding_index + div_trunc(area * price, SECONDS_PER_DAY * WAD)


def accrue(state: MarketState, p: MarketParams, price: int, now: int) -> MarketState:
    """`markets._accrue`: the state with funding stored as of `now`."""
    rate, index = funding(state, p, price, now)
    return replace(state, funding_rate=rate, funding_index=index, last_funding_time=now)


def margin_ratio(size_abs: int, base: int, scalar: int, skew_scale: int) -> int:
    return min(base + ceil_div(size_abs * scalar, skew_scale), WAD)


def pnl_funding(pos: Position, price: int, index: int) -> tuple[int, int]:
    """`markets._pnl_funding`: (unrealised PnL rounded down, funding owed
    rounded up), WAD USD."""
    return (
        floor_div(pos.size * (price - pos.entry_price), WAD),
        ceil_div(pos.size * (index - pos.funding_index), WAD),
    )


def risk(pos: Position, p: MarketParams, price: int, index: int) -> PositionRisk:
    """`markets._risk`: one position at `price` and funding `index`.

    notional = size_abs * price / WAD and each margin = notional * ratio /
    WAD (`margin_ratio`) rounded up, PnL rounded down, funding owed rounded
    up (`pnl_funding`), written out inline: the keeper values every account
    with this on every block (benchmarks/replica.py)."""
    size = pos.size
    size_abs = size if size >= 0 else -size
    notional = -(-(size_abs * price) // WAD)
    scale = p.skew_scale
    imr = min(p.imr_base - (-(size_abs * p.im_size_scalar) // scale), WAD)
    mmr = min(p.mmr_base - (-(size_abs * p.mm_size_scalar) // scale), WAD)
    return PositionRisk(
        pnl=size * (price - pos.entry_price) // WAD,
        funding=-(-(size * (index - pos.funding_index)) // WAD),
        notional=notional,
        im=-(-(notional * imr) // WAD),
        mm=-(-(notional * mmr) // WAD),
    )


def fill_adjustment(skew: int, delta: int, price: int, skew_scale: int) -> int:
    """Fill price minus oracle price, rounded against the trader (never clamped)."""
    num = price * (2 * skew + delta)
    den = 2 * skew_scale
    if delta > 0:
        return ceil_div(num, den)
    return floor_div(num, den)


def premium(delta: int, adjustment: int) -> int:
    return ceil_div(delta * adjustment, WAD)


def fee(skew: int, delta: int, price: int, p: MarketParams) -> int:
    maker = min(abs(delta), abs(skew)) if (skew > 0 > delta) or (skew < 0 < delta) else 0
    taker = abs(delta) - maker
    return mul_div_up(maker * p.maker_fee + taker * p.taker_fee, price, WAD * WAD)


def is_reducing(old_size: int, new_size: int) -> bool:
    """Only shrinks a position: same side and smaller, or to zero."""
    return old_size != 0 and (
        new_size == 0 or ((new_size > 0) == (old_size > 0) and abs(new_size) < abs(old_size))
    )


@dataclass(frozen=True)
class TradeResult:
    fill_price: int
    pnl: int
    funding: int
    premium: int
    fee: int
    # native quote units credited to the trader (the pool gets the negation)
    quote_delta: int
    reducing: bool
    state: MarketState
    position: Position


def trade(
    state: MarketState,
    p: MarketParams,
    old: Position,
    delta: int,
    price: int,
    now: int,
    quote_precision: int,
    realise: Callable[[int], int] | None = None,
) -> TradeResult:
    """`trading._trade` without its permission checks: what a fill does.
    `realise` maps the old position's net profit to what the pool pays of
    it (the realisation cap, `xmargin.maths.pool.pay_out`; all of it when
    None)."""
    state = accrue(state, p, price, now)
    index = state.funding_index
    new_size = old.size + delta
    adj = fill_adjustment(state.skew, delta, price, p.skew_scale)
    r = risk(old, p, price, index)
    prem = premium(delta, adj)
    f = fee(state.skew, delta, price, p)
    net = r.pnl - r.funding
    paid = net if realise is None else realise(net)
    state, position, quote_delta = settle(
        state, old, new_size, price, index, paid - prem - f, quote_precision
    )
    return TradeResult(
        fill_price=max(price + adj, 0),
        pnl=r.pnl,
        funding=r.funding,
        premium=prem,
        fee=f,
        quote_delta=quote_delta,
        reducing=is_reducing(old.size, new_size),
        state=state,
        position=position,
    )


def settle(
    state: MarketState,
    old: Position,
    new_size: int,
    price: int,
    index: int,
    owed: int,
    quote_precision: int,
) -> tuple[MarketState, Position, int]:
    """`trading._apply`: books `owed` (WAD USD, > 0 to the account) rounded
    down to native quote units, and re-enters the position at `price` and
    `index` in the market aggregates. Returns (state, position, quote_delta).
    Shared by trades and liquidations."""
    quote_delta = floor_div(owed, quote_precision)
    long_oi, short_oi = state.long_oi, state.short_oi
    if old.size > 0:
        long_oi -= old.size
    elif old.size < 0:
        short_oi -= -old.size
    if new_size > 0:
        long_oi += new_size
    elif new_size < 0:
        short_oi += -new_size
    state = replace(
        state,
        skew=state.skew + new_size - old.size,
        long_oi=long_oi,
        short_oi=short_oi,
        entry_sum=state.entry_sum + new_size * price - old.size * old.entry_price,
        funding_sum=state.funding_sum + new_size * index - old.size * old.funding_index,
    )
    position = Position(new_size, price, index) if new_size else Position()
    return state, position, quote_delta


def liquidation_price(moving: int, slope: int, price: int, equity: int, rest_mm: int) -> int:
    """`ClearinghouseLens._solve`: the price p of one asset with
    E + moving * (p - P) = rest_mm + slope * p, rounded toward P (`moving`:
    the WAD base units whose value moves with it, positions and haircut
    collateral; `slope`: sum of |size| * MM ratio, WAD^2; `rest_mm`: the MM
    of positions on other assets); 0 if no positive price does it."""
    num = (rest_mm - equity) * WAD + moving * price
    den = floor_div(moving * WAD - slope, WAD)
    if den == 0:
        return 0
    p = ceil_div(num, den) if den > 0 else floor_div(-num, -den)
    return max(p, 0)
