"""What-if health: an account's equity, IM and MM as one underlying's price moves.

Pure functions over model inputs: no chain call. An account read once
(`xmargin.chain.engine.read_account`) becomes a `Portfolio`; `curve` then
recomputes its health with `xmargin.maths.model` and `xmargin.maths.perps` at each price
of one asset, every other price held where it is and funding frozen at the
index read. Moving an asset moves everything the oracle prices from it:
the perp markets on that asset *and* collateral held in it (one oracle
price feeds both on chain).

`liquidation_price` finds, under the same assumptions, the price at which
the account's equity meets its maintenance margin, exactly by the model's
integer maths. `position_liquidation_price` is the number the
ClearinghouseLens reports for one position, which holds collateral fixed
even in the same asset: the two agree (to rounding) when the account holds
no collateral in the moved asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xmargin.maths import model, perps

if TYPE_CHECKING:
    from xmargin.chain.engine import AccountView, PositionView
    from xmargin.maths.portfolio import PortfolioConfig

BPS = 10_000
# The chart's default span (+-50 %) and how far it stretches to show a
# liquidation price: at most down to -99 % and up to +500 %.
DEFAULT_SPAN_BPS = 5_000
MIN_MOVE_BPS = -9_900
MAX_MOVE_BPS = 50_000
DEFAULT_POINTS = 201


@dataclass(frozen=True)
class Exposure:
    """One open position and the asset its market is priced from."""

    market: str
    asset: str
    position: perps.Position
    params: perps.MarketParams
    # funding index, held fixed in every scenario
    index: int


@dataclass(frozen=True)
class Portfolio:
    """Everything an account's health depends on, as model inputs.

    `prices` holds the WAD USD price of every asset the account holds
    (besides the quote) or trades a market on.
    """

    balances: Mapping[str, int]
    assets: Mapping[str, model.AssetParams]
    quote: str
    prices: Mapping[str, int]
    exposures: tuple[Exposure, ...] = ()
    # set for an account in portfolio margin mode: its IM and MM come from
    # the scenario set (xmargin.maths.portfolio), its equity stays the linear one
    margin: PortfolioConfig | None = None

    def health(self, prices: Mapping[str, int] | None = None) -> model.Health:
        """(equity, IM, MM) at `prices` (default: the prices read)."""
        prices = {**self.prices, **(prices or {})}
        if self.margin is not None:
            from xmargin.maths import portfolio

            return portfolio.portfolio_health(
                replace(self, prices=prices, margin=None), self.margin
            )
        risk = sum(
            (perps.risk(e.position, e.params, prices[e.asset], e.index) for e in self.exposures),
            perps.PositionRisk(),
        )
        return model.account_health(self.balances, self.assets, prices, self.quote, positions=risk)

    def underlyings(self) -> tuple[str, ...]:
        """Assets whose price moves this account's health: traded ones first,
        then collateral, each once."""
        traded = [e.asset for e in self.exposures]
        held = [s for s, amount in self.balances.items() if amount and s != self.quote]
        return tuple(dict.fromkeys([*traded, *held]))

    def holds(self, asset: str) -> bool:
        return self.balances.get(asset, 0) > 0

    def markets_on(self, asset: str) -> tuple[Exposure, ...]:
        return tuple(e for e in self.exposures if e.asset == asset)


def from_view(
    view: AccountView,
    assets: Mapping[str, model.AssetParams],
    quote: str,
    symbols: Mapping[str, str],
    margin: PortfolioConfig | None = None,
) -> Portfolio:
    """The Portfolio of an account read from chain.

    Args:
        view: the account (`xmargin.chain.engine.read_account`).
        assets: asset symbol -> its listing (`Engine.asset_params()`).
        quote: the quote asset's symbol.
        symbols: token address -> asset symbol (markets name their asset by address).
        margin: the scenario set, for an account in portfolio mode.
    """
    exposures = tuple(
        Exposure(
            market=p.market.symbol,
            asset=symbols[p.market.params.asset],
            position=p.position,
            params=p.market.params,
            index=p.market.index,
        )
        for p in view.positions
    )
    prices = dict(view.prices)
    for e, p in zip(exposures, view.positions, strict=True):
        prices[e.asset] = p.market.price
    return Portfolio(view.balances, assets, quote, prices, exposures, margin)


def moved(price: int, move_bps: int) -> int:
    """`price` moved by `move_bps` basis points, rounded down."""
    return price * (BPS + move_bps) // BPS


def move_of(price: int, base: int) -> float:
    """The move from `base` to `price`, in basis points (display only)."""
    return (price - base) * BPS / base


def health_at(portfolio: Portfolio, asset: str, price: int) -> model.Health:
    """The account's health with `asset` at `price`, everything else as read."""
    return portfolio.health({asset: price})


def liquidation_price(
    portfolio: Portfolio, asset: str, max_price: int = model.MAX_PRICE
) -> int | None:
    """The price of `asset` at which equity meets maintenance margin.

    Exact by the model's integer maths: the boundary between a price where
    the account is liquidatable (equity < MM) and one where it is not, on
    the healthy side (for a long, the lowest healthy price; for a short,
    the highest), searched in [0, max_price]. None when no price in that
    range changes whether the account is liquidatable.
    """
    now = portfolio.prices[asset]

    def under(price: int) -> bool:
        return portfolio.health({asset: price}).liquidatable

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


def position_liquidation_price(health: model.Health, position: PositionView) -> int:
    """`ClearinghouseLens._liquidation_price` of one position: the price of
    its market at which the account's equity meets its MM, collateral and
    other markets held, funding frozen (0: no positive price does it)."""
    size = position.position.size
    p = position.market.params
    mmr = perps.margin_ratio(abs(size), p.mmr_base, p.mm_size_scalar, p.skew_scale)
    return perps.liquidation_price(
        size, position.market.price, mmr, health.equity, health.mm, position.risk.mm
    )


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


def curve(portfolio: Portfolio, asset: str, moves_bps: Sequence[int] | None = None) -> Curve:
    """Health of the account at each move of `asset` (default `chart_moves`)."""
    base = portfolio.prices[asset]
    liq = liquidation_price(portfolio, asset)
    if moves_bps is None:
        moves_bps = chart_moves(None if liq is None else move_of(liq, base))
    points = tuple(
        Point(m, moved(base, m), health_at(portfolio, asset, moved(base, m))) for m in moves_bps
    )
    return Curve(
        asset=asset,
        price=base,
        points=points,
        liquidation_price=liq,
        markets=portfolio.markets_on(asset),
        collateral=portfolio.balances.get(asset, 0) if asset != portfolio.quote else 0,
    )


def account_curves(portfolio: Portfolio) -> list[Curve]:
    """One curve per underlying of the account (`Portfolio.underlyings`)."""
    return [curve(portfolio, asset) for asset in portfolio.underlyings()]
