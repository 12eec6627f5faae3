"""What-if health: an account's equity, IM and MM as one underlying's price moves.

Pure functions over model inputs: no chain call. An account read once
(`xmargin.chain.engine.read_account`) becomes an `xmargin.maths.account.Account`;
`curve` then recomputes its health (`Account.health`) at each price of one
asset, every other price held where it is and funding frozen at the index
read. Moving an asset moves everything the oracle prices from it:
the perp markets on that asset *and* collateral held in it (one oracle
price feeds both on chain).

`liquidation_price` finds, under the same assumptions, the price at which
the account's equity meets its maintenance margin, exactly by the model's
integer maths, in either margin mode. `lens_liquidation_price` is the
closed form the ClearinghouseLens reports for a linear account's positions
on an asset (its positions on it and its collateral in it moving together):
the two agree to rounding (tests/unit/test_charts.py checks both against a
brute-force search of the price). For a portfolio account the lens bisects
over the risk set to the price / 1e9 (`lens_agrees`;
tests/unit/test_portfolio_margin.py checks it against this search and the
chain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xmargin.maths import model, option_book, perps
from xmargin.maths.account import Account, Exposure
from xmargin.maths.fixed_point import WAD, div_trunc

BPS = 10_000
# The chart's default span (+-50 %) and how far it stretches to show a
# liquidation price: at most down to -99 % and up to +500 %.
DEFAULT_SPAN_BPS = 5_000
MIN_MOVE_BPS = -9_900
MAX_MOVE_BPS = 50_000
DEFAULT_POINTS = 201
# The lens bisects a portfolio account's liquidation price to its price /
# this (ClearinghouseLens.BISECT_PRECISION).
LENS_PRECISION = 10**9
# An account's option positions and token address -> symbol (what
# `option_book.account_health` reprices), or None.
Options = tuple[tuple[option_book.OptionView, ...], Mapping[str, str]] | None


def moved(price: int, move_bps: int) -> int:
    """`price` moved by `move_bps` basis points, rounded down."""
    return price * (BPS + move_bps) // BPS


def move_of(price: int, base: int) -> float:
    """The move from `base` to `price`, in basis points (display only)."""
    return (price - base) * BPS / base


def health_at(account: Account, asset: str, price: int, book: Options = None) -> model.Health:
    """The account's health with `asset` at `price`, everything else as read
    (its option positions too, when `book` gives them: (positions, token
    address -> symbol); each on `asset` repriced at the same volatility
    and time left)."""
    if book is None or not book[0]:
        return account.health({asset: price})
    return option_book.account_health(account, book[0], book[1], {asset: price})


def liquidation_price(
    account: Account, asset: str, max_price: int = model.MAX_PRICE, book: Options = None
) -> int | None:
    """The price of `asset` at which equity meets maintenance margin.

    Exact by the model's integer maths: the boundary between a price where
    the account is liquidatable (equity < MM) and one where it is not, on
    the healthy side (for a long, the lowest healthy price; for a short,
    the highest), searched in [0, max_price]. None when no price in that
    range changes whether the account is liquidatable.
    """
    now = account.prices[asset] if asset in account.prices else _option_price(book, asset)

    def under(price: int) -> bool:
        return health_at(account, asset, price, book).liquidatable

    here = under(now)
    if under(0) != here:
        lo, hi = 0, now
    elif under(max_price) != here:
        lo, hi = now, max_price
    else:
        return None
    lo_under = under(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if under(mid) == lo_under:
            lo = mid
        else:
            hi = mid
    return hi if lo_under else lo


def lens_agrees(model_price: int, lens_price: int) -> bool:
    """Whether the lens's liquidation price is the model's: equal (both 0
    for none), or within the lens's bisection step (the price / 1e9, the
    portfolio solver's precision) and one wei."""
    if not model_price or not lens_price:
        return model_price == lens_price
    return abs(model_price - lens_price) <= max(model_price, lens_price) // LENS_PRECISION + 1


def lens_liquidation_price(account: Account, asset: str) -> int:
    """`ClearinghouseLens._liquidation_price` of a linear account's positions
    on `asset`: the price of `asset` at which equity meets MM, every
    position on it (less the funding accrued since its market's last touch,
    which moves with the price) and the collateral held in it (less its MM
    haircut) moving, other prices held (0: no positive price does
    it). For a portfolio account the lens bisects over the risk set instead
    (`liquidation_price` is the exact search it agrees with: `lens_agrees`);
    this returns 0 for one."""
    if account.margin is not None:
        return 0
    price = account.prices[asset]
    h = account.health()
    size = slope = moved_mm = 0
    for e in account.markets_on(asset):
        s = e.position.size
        # the funding accrued since the market's last touch moves with the price
        size += div_trunc(s * (price - e.accrued_when(price)), price)
        slope += abs(s) * perps.margin_ratio(
            abs(s), e.params.mmr_base, e.params.mm_size_scalar, e.params.skew_scale
        )
        moved_mm += perps.risk(e.position, e.params, price, e.index).mm
    held = 0
    if asset != account.quote and account.balances.get(asset, 0) > 0:
        a = account.assets[asset]
        held = account.balances[asset] * a.precision * (WAD - a.mm_haircut) // WAD
    return perps.liquidation_price(size + held, slope, price, h.equity, h.mm - moved_mm)


@dataclass(frozen=True)
class Point:
    move_bps: int
    price: int
    health: model.Health


@dataclass(frozen=True)
class Curve:
    """An account's health along one asset's price moves."""

    asset: str
    # the asset's price as read, WAD USD
    price: int
    points: tuple[Point, ...]
    liquidation_price: int | None
    # markets on this asset the account trades, and its collateral in it
    markets: tuple[Exposure, ...]
    collateral: int

    @property
    def liquidation_move_bps(self) -> float | None:
        if self.liquidation_price is None:
            return None
        return move_of(self.liquidation_price, self.price)


def chart_moves(
    liquidation_move_bps: float | None,
    span_bps: int = DEFAULT_SPAN_BPS,
    points: int = DEFAULT_POINTS,
) -> list[int]:
    """Evenly spaced moves (bps) over +-span, stretched to show the
    liquidation move with a margin when it lies within [-99 %, +500 %]."""
    lo, hi = -span_bps, span_bps
    if liquidation_move_bps is not None:
        margin = span_bps // 5
        if MIN_MOVE_BPS <= liquidation_move_bps < lo:
            lo = max(MIN_MOVE_BPS, int(liquidation_move_bps) - margin)
        elif hi < liquidation_move_bps <= MAX_MOVE_BPS:
            hi = min(MAX_MOVE_BPS, int(liquidation_move_bps) + margin)
    return [lo + (hi - lo) * i // (points - 1) for i in range(points)]


def curve(
    account: Account, asset: str, moves_bps: Sequence[int] | None = None, book: Options = None
) -> Curve:
    """Health of the account at each move of `asset` (default `chart_moves`),
    its option positions repriced with it when `book` gives them."""
    base = account.prices[asset] if asset in account.prices else _option_price(book, asset)
    liq = liquidation_price(account, asset, book=book)
    if moves_bps is None:
        moves_bps = chart_moves(None if liq is None else move_of(liq, base))
    points = tuple(
        Point(m, moved(base, m), health_at(account, asset, moved(base, m), book)) for m in moves_bps
    )
    return Curve(
        asset=asset,
        price=base,
        points=points,
        liquidation_price=liq,
        markets=account.markets_on(asset),
        collateral=account.balances.get(asset, 0) if asset != account.quote else 0,
    )


def account_curves(account: Account, book: Options = None) -> list[Curve]:
    """One curve per underlying of the account (`Account.underlyings`), then
    per underlying of its option positions (`book`) not already among them."""
    assets = list(account.underlyings())
    if book is not None:
        for o in book[0]:
            symbol = book[1].get(o.asset, o.asset)
            if not o.settled and symbol not in assets:
                assets.append(symbol)
    return [curve(account, asset, book=book) for asset in assets]


def _option_price(book: Options, asset: str) -> int:
    """The price an option position on `asset` was read at."""
    for o in book[0] if book else ():
        if book is not None and book[1].get(o.asset, o.asset) == asset and o.price:
            return o.price
    raise ValueError(f"no price of {asset} was read")
