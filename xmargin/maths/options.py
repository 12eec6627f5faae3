"""Option positions' linear margin (issue 23, point 3), as OptionsBook
computes it, to the wei.

Per contract (one unit of the underlying), WAD USD, S the underlying's
price, K the strike, m the Black-76 mark (`black76.price`):

- a long is worth its mark (rounded down) and needs it as initial margin
  (rounded up: a long's value opens no further risk), no maintenance
  margin;
- a short owes its mark (rounded up) and needs, per contract,
  ``max(rate * S - OTM, floor * S)`` (each product rounded up; OTM is
  ``max(K - S, 0)`` for a call, ``max(S - K, 0)`` for a put) with the IM or
  the MM pair of the underlying's rule; a short put's requirement is at
  most ``K - m`` (its whole loss is K);
- from expiry on, the value at the settlement price and no margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmargin.maths.fixed_point import ceil_div

WAD = 10**18


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


def linear_risk(
    price: int, strike: int, is_call: bool, mark: int, size: int, params: MarginParams
) -> OptionRisk:
    """A live position's value and linear margin (`size` contracts, WAD,
    negative when short; `mark` per contract)."""
    n = abs(size)
    if size > 0:
        return OptionRisk(n * mark // WAD, ceil_div(n * mark, WAD), 0)
    otm = out_of_the_money(price, strike, is_call)
    im = per_contract(price, otm, params.im_rate, params.im_floor)
    mm = per_contract(price, otm, params.mm_rate, params.mm_floor)
    if not is_call:
        cap = strike - min(strike, mark)
        im, mm = min(im, cap), min(mm, cap)
    return OptionRisk(-ceil_div(n * mark, WAD), ceil_div(n * im, WAD), ceil_div(n * mm, WAD))


def expired_risk(payoff: int, size: int) -> OptionRisk:
    """An expired position: its value at the settlement payoff, no margin."""
    n = abs(size)
    if size > 0:
        return OptionRisk(n * payoff // WAD, 0, 0)
    return OptionRisk(-ceil_div(n * payoff, WAD), 0, 0)
