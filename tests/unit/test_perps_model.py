"""xmargin.maths.perps against hand-computed numbers (no chain): the branches the
random property test may not reach in its bounded CI run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.test_funding import FUNDING_MARKET
from xmargin.maths import fixed_point, perps

E18 = 10**18
DAY = 86_400


@pytest.mark.parametrize(
    ("skew", "cap", "expected"),
    [
        (100 * E18, E18 // 100, (E18 // 100, 15 * E18)),  # reaches the cap exactly
        (100 * E18, 5 * E18 // 1_000, (5 * E18 // 1_000, 1125 * E18 // 100)),
        (-100 * E18, 5 * E18 // 1_000, (-5 * E18 // 1_000, -1125 * E18 // 100)),
        (0, E18 // 100, (0, 0)),
    ],
)
def test_funding_over_one_day(skew, cap, expected):
    p = replace(FUNDING_MARKET, asset="eth", max_funding_rate=cap)
    state = perps.MarketState(skew=skew, last_funding_time=1_000)
    assert perps.funding(state, p, 3_000 * E18, 1_000 + DAY) == expected


def test_rate_beyond_a_lowered_cap_is_clamped_first():
    p = replace(FUNDING_MARKET, asset="eth", max_funding_rate=E18 // 1_000)
    state = perps.MarketState(skew=0, funding_rate=E18 // 100, last_funding_time=0)
    # No skew: the rate stays at the (clamped) 0.1 %/day: $3 per ETH per day.
    assert perps.funding(state, p, 3_000 * E18, DAY) == (E18 // 1_000, 3 * E18)


def test_div_trunc_matches_vyper():
    assert [fixed_point.div_trunc(a, b) for a, b in ((-7, 2), (7, -2), (7, 2), (-8, 2))] == [
        -3,
        -3,
        3,
        -4,
    ]
    assert (
        fixed_point.floor_div(-7, 2),
        fixed_point.ceil_div(-7, 2),
        fixed_point.ceil_div(7, 2),
    ) == (-4, -3, 4)
