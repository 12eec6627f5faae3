"""Pure-integer mirror of xmargin's on-chain risk maths.

Every function here computes, from the same inputs, exactly the numbers the
contracts compute: same operations, same order, same rounding (floor, which
is always against the account). Tests compare the chain to this module to
the wei; the keeper and the CLI use it to explain an account's health.

Units (see docs/margin.md):
- prices: USD per whole token, WAD (1e18);
- token amounts: native decimals;
- values, equity, margins: WAD USD;
- haircuts and other rates: WAD fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from xmargin.maths import errors
from xmargin.maths.fixed_point import MAX_DECIMALS, WAD, ceil_div, mul_div_down, precision
from xmargin.maths.perps import PositionRisk

MAX_ASSETS = 16

MAX_AMOUNT = 2**128
MAX_PRICE = 10**36
MAX_HEARTBEAT = 7 * 86_400


class PriceError(ValueError):
    """A feed answer the OracleRouter would refuse; `reason` is its revert string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AssetParams:
    """What the engine knows of a listed asset."""

    decimals: int
    im_haircut: int = 0
    mm_haircut: int = 0

    @cached_property
    def precision(self) -> int:
        return precision(self.decimals)


@dataclass(frozen=True)
class CollateralValue:
    """Mirror of `collateral.CollateralValue` (all WAD USD)."""

    quote: int
    market: int
    weighted_mm: int
    weighted_im: int


@dataclass(frozen=True)
class Health:
    """Mirror of `health.Health` (all WAD USD)."""

    equity: int
    im: int
    mm: int

    @property
    def free_margin(self) -> int:
        """Equity above IM: how much more risk the account may take."""
        return self.equity - self.im

    @property
    def liquidatable(self) -> bool:
        return self.equity < self.mm

    @property
    def status(self) -> str:
        """healthy / below IM (no new risk) / liquidatable (equity < MM)."""
        if self.liquidatable:
            return "liquidatable"
        if self.equity < self.im:
            return "below IM"
        return "healthy"


@dataclass(frozen=True)
class Round:
    """One `latestRoundData()` answer."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int
    # what the feed's `decimals()` answers at the read (None: not read, taken
    # as the configured ones); the router refuses a price when they moved
    decimals: int | None = None


@dataclass(frozen=True)
class FeedParams:
    decimals: int
    heartbeat: int
    # the Chainlink phase (`roundId >> 64`) the owner confirmed
    phase: int = 0


@dataclass(frozen=True)
class PriceBounds:
    min_price: int
    max_price: int


def token_value(amount: int, asset: AssetParams, price: int) -> int:
    """Market value of `amount` native units at `price`, WAD USD, rounded down."""
    return mul_div_down(amount * asset.precision, price, WAD)


def weighted(value: int, haircut: int) -> int:
    """`value` less a haircut, rounded down."""
    return mul_div_down(value, WAD - haircut, WAD)


def worthless(params: AssetParams) -> bool:
    """A 100 % maintenance haircut (a frozen asset at the end of its ramp):
    the asset counts for nothing in any view, its price is never read, and
    an account's debt can be written off with it (`settle_bad_debt`)."""
    return params.mm_haircut == WAD


def frozen_haircut(start: int, since: int, ramp: int, now: int) -> int:
    """A frozen asset's haircut at `now` (`ramp_frozen_haircut`): from
    `start` (the haircut at the freeze) linearly to 100 % over `ramp`
    seconds, rounded up."""
    t = max(0, min(now - since, ramp))
    return start + ceil_div((WAD - start) * t, ramp)


def collateral_value(
    balances: Mapping[str, int],
    assets: Mapping[str, AssetParams],
    prices: Mapping[str, int],
    quote: str,
) -> CollateralValue:
    """An account's collateral, as `collateral._collateral_value` computes it.

    `balances` maps asset -> native balance (the quote balance may be
    negative); `prices` must hold a WAD price for every non-quote asset
    with a non-zero balance.
    """
    q = balances.get(quote, 0) * assets[quote].precision
    market = weighted_mm = weighted_im = 0
    for name, amount in balances.items():
        if name == quote or amount == 0:
            continue
        if amount < 0:
            raise ValueError(f"non-quote balance of {name} is negative")
        params = assets[name]
        if worthless(params):
            continue  # counts for nothing; its price is not read
        v = token_value(amount, params, prices[name])
        market += v
        weighted_mm += weighted(v, params.mm_haircut)
        weighted_im += weighted(v, params.im_haircut)
    return CollateralValue(quote=q, market=market, weighted_mm=weighted_mm, weighted_im=weighted_im)


def account_health(
    balances: Mapping[str, int],
    assets: Mapping[str, AssetParams],
    prices: Mapping[str, int],
    quote: str,
    positions: PositionRisk | None = None,
) -> Health:
    """(equity, IM, MM) of an account: `health._account_health`.

    equity = quote + sum(weighted_mm) + PnL - funding owed;
    IM = sum(weighted_mm) - sum(weighted_im) + position IM; MM = position MM.
    `positions` is the sum of `perps.risk` over the open positions. With
    none, `equity >= IM` is exactly `quote + sum(weighted_im) >= 0`.
    """
    c = collateral_value(balances, assets, prices, quote)
    r = positions
    return Health(
        equity=c.quote + c.weighted_mm + (r.pnl - r.funding if r else 0),
        im=c.weighted_mm - c.weighted_im + (r.im if r else 0),
        mm=r.mm if r else 0,
    )


def has_liabilities(balances: Mapping[str, int], quote: str) -> bool:
    """Whether a risk-increasing action must be margin-checked."""
    return balances.get(quote, 0) < 0


# Each check's reason for the primary feed, the second feed and a vol feed.
_REASONS: dict[str, tuple[str, str, str]] = {
    "decimals": (
        errors.FEED_DECIMALS_CHANGED,
        errors.SECOND_DECIMALS_CHANGED,
        errors.VOL_DECIMALS_CHANGED,
    ),
    "phase": (errors.FEED_PHASE_CHANGED, errors.SECOND_PHASE_CHANGED, errors.VOL_PHASE_CHANGED),
    "positive": (errors.PRICE_NOT_POSITIVE, errors.SECOND_NOT_POSITIVE, errors.VOL_NOT_POSITIVE),
    "incomplete": (errors.PRICE_INCOMPLETE, errors.SECOND_INCOMPLETE, errors.VOL_INCOMPLETE),
    "future": (errors.PRICE_FROM_FUTURE, errors.SECOND_FROM_FUTURE, errors.VOL_FROM_FUTURE),
    "stale": (errors.PRICE_STALE, errors.SECOND_STALE, errors.VOL_STALE),
    "bounds": (errors.PRICE_OUT_OF_BOUNDS, errors.PRICE_OUT_OF_BOUNDS, errors.VOL_OUT_OF_BOUNDS),
}
PRIMARY, SECOND, VOL = 0, 1, 2


def normalise_price(
    rnd: Round, feed: FeedParams, bounds: PriceBounds, now: int, second: bool = False
) -> int:
    """The WAD price the OracleRouter returns for one feed's round, or PriceError
    with the router's exact revert reason (the second feed's when `second`)."""
    return normalise_answer(rnd, feed, bounds, now, SECOND if second else PRIMARY)


def normalise_answer(
    rnd: Round, feed: FeedParams, bounds: PriceBounds, now: int, which: int
) -> int:
    """`OracleRouter._read`: one feed's round as a WAD answer (a price, or an
    annualised volatility for `which` = VOL: `OracleRouter.vol`), or
    PriceError with the reason of that kind of feed."""

    def fail(check: str) -> PriceError:
        return PriceError(_REASONS[check][which])

    if not 0 <= feed.decimals <= MAX_DECIMALS:
        raise ValueError(f"feed decimals {feed.decimals} outside 0..{MAX_DECIMALS}")
    if rnd.decimals is not None and rnd.decimals != feed.decimals:
        raise fail("decimals")
    if rnd.round_id >> 64 != feed.phase:
        raise fail("phase")
    if rnd.answer <= 0:
        raise fail("positive")
    if rnd.updated_at == 0 or rnd.answered_in_round < rnd.round_id:
        raise fail("incomplete")
    if rnd.updated_at > now:
        raise fail("future")
    if now - rnd.updated_at > feed.heartbeat:
        raise fail("stale")
    p = rnd.answer * precision(feed.decimals) if rnd.answer <= MAX_PRICE else 0
    if not bounds.min_price < p < bounds.max_price:
        raise fail("bounds")
    return p


def checked_price(
    primary: tuple[Round, FeedParams],
    bounds: PriceBounds,
    now: int,
    secondary: tuple[Round, FeedParams] | None = None,
    max_deviation: int = 0,
) -> int:
    """OracleRouter.price: the primary's price, cross-checked against an
    optional second feed (|s - p| / p <= max_deviation, compared exactly)."""
    p = normalise_price(*primary, bounds, now)
    if secondary is not None:
        s = normalise_price(*secondary, bounds, now, second=True)
        if abs(s - p) * WAD > max_deviation * p:
            raise PriceError(errors.FEEDS_DEVIATE)
    return p
