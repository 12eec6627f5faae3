"""Option positions' linear margin (issue 23, point 3), as OptionsBook
computes it, to the wei.

Per contract (one unit of the underlying), WAD USD, S the underlying's
price, K the strike, m the Black-76 mark (`black76.price`):

- a long is worth its mark (rounded down) and needs it as initial margin
  (rounded up: a long's value opens no further risk); its maintenance
  margin is what a move of ``mm_rate`` against it would take from its
  value (`repriced_loss`, at most the mark);
- a short owes its mark (rounded up) and needs, per contract, the larger
  of ``max(rate * S - OTM, floor * S)`` (each product rounded up; OTM is
  ``max(K - S, 0)`` for a call, ``max(S - K, 0)`` for a put) and the
  repriced loss of a move of ``rate`` against it, with the IM or the MM
  pair of the underlying's rule; a short put's requirement is at most
  ``K - m`` (its whole loss is K);
- from expiry on, the value at the settlement price and no margin; until
  the settlement is recorded, provisionally a long at nothing and a short
  owing its payoff at today's price with the rule's floors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xmargin.maths import black76
from xmargin.maths.fixed_point import ceil_div, floor_div

WAD = 10**18
# The highest volatility a scenario reprices at (OptionsBook.MAX_SHOCKED_VOL).
MAX_SHOCKED_VOL = 100 * WAD


@dataclass(frozen=True)
class MarginParams:
    """An underlying's short-option rule, WAD fractions of its price."""

    im_rate: int
    im_floor: int
    mm_rate: int
    mm_floor: int

    def valid(self) -> bool:
        """The bounds `OptionsBook.set_margin_params` enforces."""
        return (
            0 < self.mm_floor <= self.mm_rate <= self.im_rate <= WAD // 2
            and self.mm_floor <= self.im_floor <= self.im_rate
        )


@dataclass(frozen=True)
class OptionRisk:
    """A position's part of its account's health, WAD USD."""

    value: int
    im: int
    mm: int


def per_contract(price: int, otm: int, rate: int, floor: int) -> int:
    """``max(rate * S - OTM, floor * S)`` per contract, rounded up."""
    base = ceil_div(rate * price, WAD)
    return max(base - min(base, otm), ceil_div(floor * price, WAD))


def out_of_the_money(price: int, strike: int, is_call: bool) -> int:
    """How far the option is out of the money, per contract (0 in it)."""
    return max(strike - price, 0) if is_call else max(price - strike, 0)


def repriced_loss(
    price: int,
    strike: int,
    is_call: bool,
    sigma: int,
    tau: int,
    mark: int,
    rate: int,
    short: bool,
) -> int:
    """What one contract loses when the price moves by `rate` against its
    holder (a short call and a long put as it rises, the others as it
    falls), repriced by Black-76 at the same volatility and time, plus the
    module's error bound of both valuations."""
    rises = is_call == short
    moved = price + ceil_div(price * rate, WAD) if rises else price - price * rate // WAD
    after = black76.price(moved, strike, sigma, tau, is_call)
    err = (moved + price + 2 * strike) * black76.NCDF_ERROR // WAD + 2 * black76.VALUE_ROUNDING
    return (after - min(after, mark) if short else mark - min(mark, after)) + err


def linear_risk(
    price: int,
    strike: int,
    is_call: bool,
    sigma: int,
    tau: int,
    size: int,
    params: MarginParams,
) -> OptionRisk:
    """A live position's value and linear margin (`size` contracts, WAD,
    negative when short), at the price, volatility and time left."""
    if size == 0:
        raise ValueError("a position has a size")
    n = abs(size)
    mark = black76.price(price, strike, sigma, tau, is_call)
    if size > 0:
        lost = repriced_loss(price, strike, is_call, sigma, tau, mark, params.mm_rate, False)
        return OptionRisk(
            n * mark // WAD, ceil_div(n * mark, WAD), ceil_div(n * min(lost, mark), WAD)
        )
    otm = out_of_the_money(price, strike, is_call)
    im = max(
        per_contract(price, otm, params.im_rate, params.im_floor),
        repriced_loss(price, strike, is_call, sigma, tau, mark, params.im_rate, True),
    )
    mm = max(
        per_contract(price, otm, params.mm_rate, params.mm_floor),
        repriced_loss(price, strike, is_call, sigma, tau, mark, params.mm_rate, True),
    )
    if not is_call:
        cap = strike - min(strike, mark)
        im, mm = min(im, cap), min(mm, cap)
    return OptionRisk(-ceil_div(n * mark, WAD), ceil_div(n * im, WAD), ceil_div(n * mm, WAD))


def expired_risk(payoff: int, size: int) -> OptionRisk:
    """An expired, settled position: its value at the settlement payoff,
    no margin."""
    n = abs(size)
    if size > 0:
        return OptionRisk(n * payoff // WAD, 0, 0)
    return OptionRisk(-ceil_div(n * payoff, WAD), 0, 0)


def unsettled_risk(
    price: int, strike: int, is_call: bool, size: int, params: MarginParams
) -> OptionRisk:
    """An expired position before its settlement is recorded, valued
    provisionally at its payoff at today's price: a long worth it (IM the
    same, MM what a move of the MM rate could take from it, at most
    rate * S a contract); a short owing it and needing the rule's floors."""
    n = abs(size)
    owed = max(price - strike, 0) if is_call else max(strike - price, 0)
    if size > 0:
        return OptionRisk(
            n * owed // WAD,
            ceil_div(n * owed, WAD),
            ceil_div(n * min(owed, ceil_div(params.mm_rate * price, WAD)), WAD),
        )
    return OptionRisk(
        -ceil_div(n * owed, WAD),
        ceil_div(n * ceil_div(params.im_floor * price, WAD), WAD),
        ceil_div(n * ceil_div(params.mm_floor * price, WAD), WAD),
    )


@dataclass(frozen=True)
class ScenarioRisk:
    """A position repriced over a portfolio grid (OptionsBook.scenario_risk),
    WAD USD: its value at the mark, its P&L per scenario, and contracts x
    price when it is short and not settled (the short-option minimum's
    base)."""

    value: int
    pnls: tuple[int, ...]
    short_notional: int


def _value(scaled: int, size: int) -> int:
    """A position's value from n * unit: a long's rounded down, a short's
    owed rounded up."""
    return scaled // WAD if size > 0 else -ceil_div(scaled, WAD)


def scenario_risk(
    price: int,
    strike: int,
    is_call: bool,
    sigma: int,
    tau: int,
    size: int,
    moves: Sequence[int],
    vol_moves: Sequence[int],
    settled: int = 0,
) -> ScenarioRisk:
    """A position of `size` contracts repriced in each scenario: the
    underlying at price * (1 + move) (rounded down), the volatility at
    sigma * (1 + vol move) (rounded down, at most 100), the same time
    left, by Black-76; each P&L floored, less the module's error bound of
    both valuations (a few wei per contract when the value is the payoff:
    `tau` 0, an expired series before its settlement, `sigma` 0). An
    expired long before its settlement loses its whole provisional payoff
    in every scenario (it may be worth nothing at the settlement round).
    After the settlement (`settled`, its price) no move changes it."""
    if size == 0:
        raise ValueError("a position has a size")
    if len(moves) != len(vol_moves):
        raise ValueError("one volatility move per price move")
    n = abs(size)
    if settled:
        payoff = black76.price(settled, strike, 0, 0, is_call)
        return ScenarioRisk(_value(n * payoff, size), tuple(0 for _ in moves), 0)
    mark = black76.price(price, strike, sigma, tau, is_call)
    if tau == 0 and size > 0:
        # expired, not settled: a long's provisional payoff backs nothing
        lost = -(n * mark // WAD)
        return ScenarioRisk(_value(n * mark, size), tuple(lost for _ in moves), 0)
    pnls = []
    for move, vol_move in zip(moves, vol_moves, strict=True):
        if move < -WAD or vol_move < -WAD:
            raise ValueError("a move below -100 %")
        moved = price * (WAD + move) // WAD
        shocked = min(sigma * (WAD + vol_move) // WAD, MAX_SHOCKED_VOL)
        after = black76.price(moved, strike, shocked, tau, is_call)
        err = 2 * black76.VALUE_ROUNDING
        if tau:
            err += (moved + price + 2 * strike) * black76.NCDF_ERROR // WAD
        pnls.append(floor_div(size * (after - mark), WAD) - ceil_div(n * err, WAD))
    short = ceil_div(n * price, WAD) if size < 0 else 0
    return ScenarioRisk(_value(n * mark, size), tuple(pnls), short)


def liquidation_penalty(size: int, price: int, mm: int, rate: int, freed: int | None = None) -> int:
    """A liquidated position's penalty (OptionsDesk.liquidate_options):
    `rate` of its notional, at most half its linear MM, WAD USD; in
    portfolio mode also at most half the MM its close frees (`freed`)."""
    penalty = min(abs(size) * price // WAD * rate // WAD, mm // 2)
    return penalty if freed is None else min(penalty, freed // 2)


def liquidation_choice(candidates: Sequence[tuple[int, int, int, int]]) -> int | None:
    """The position `liquidate_options` closes among (series, margin freed,
    margin added, penalty), in the account's held order (live series
    only): the most freed per unit of penalty (a free close first); when
    none frees any, the one adding the least (linear mode adds none); the
    first on ties; None when there is none."""
    top = 2**256 - 1
    best, best_key = None, (0, 0)
    for series, freed, added, penalty in candidates:
        ratio = freed * WAD // penalty if penalty else top
        key = (1, ratio) if freed else (0, top - added)
        if best is None or key > best_key:
            best, best_key = series, key
    return best
