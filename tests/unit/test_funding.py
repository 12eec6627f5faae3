"""Funding: a rate that drifts with skew, capped, integrated exactly per second.

Market: ETH at $3,000, skew scale 1,000 ETH, max velocity 10 %/day per day,
no fees. 100 ETH long makes the proportional skew 0.1, so the rate climbs
at 0.1 * 10 % = 1 % per day, every day.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from tests.markets import ETH_MARKET, allow_atomic

E18 = 10**18
ETH = E18
USDC = 10**6
DAY = 86_400

FUNDING_MARKET = replace(
    ETH_MARKET,
    im_size_scalar=0,
    mm_size_scalar=0,
    skew_scale=1_000 * ETH,
    taker_fee=0,
    maker_fee=0,
    max_oi=1_000 * ETH,
    max_funding_velocity=10 * E18 // 100,
    max_funding_rate=E18 // 100,
)


@pytest.fixture
def market(clearinghouse, owner, weth_listed):
    def make(**changes):
        p = replace(FUNDING_MARKET, asset=weth_listed.token.address, **changes)
        clearinghouse.list_market(p.as_tuple(), sender=owner)
        allow_atomic(clearinghouse, owner)
        return clearinghouse.num_markets() - 1

    return make


@pytest.fixture
def long_100(clearinghouse, trader, usdc, fund, chain):
    """Trader: 1,000,000 USDC, long 100 ETH. Returns the trade's timestamp."""

    def do(market_id: int) -> int:
        fund(usdc, trader, 1_000_000 * USDC, clearinghouse)
        clearinghouse.deposit(0, usdc, 1_000_000 * USDC, sender=trader)
        tx = clearinghouse.trade(0, market_id, 100 * ETH, 2**200, sender=trader)
        return chain.blocks[tx.block_number].timestamp

    return do


def _at(chain, owner, feed, timestamp: int) -> None:
    """Mines a block at `timestamp` whose only tx refreshes the ETH price."""
    chain.pending_timestamp = timestamp
    feed.set_answer(3_000 * 10**8, sender=owner)


def test_rate_ramps_and_index_integrates(
    clearinghouse, market, long_100, chain, owner, weth_listed
):
    m = market()
    t0 = long_100(m)
    _at(chain, owner, weth_listed.feed, t0 + DAY)
    rate, index = clearinghouse.funding_now(m)
    # Rate: 0 -> 1 %/day over the day; average 0.5 % of $3,000 = $15 per ETH.
    assert rate == E18 // 100
    assert index == 15 * E18


def test_long_pays_funding_when_touched(
    clearinghouse, market, long_100, chain, owner, trader, usdc, weth_listed
):
    m = market()
    t0 = long_100(m)
    # Opening 100 at skew 0: fill 3000 * (1 + 100 / 2,000) = 3,150; premium $15,000.
    assert clearinghouse.balance_of(trader, 0, usdc) == (1_000_000 - 15_000) * USDC
    _at(chain, owner, weth_listed.feed, t0 + DAY - 1)
    chain.pending_timestamp = t0 + DAY
    clearinghouse.trade(0, m, -100 * ETH, 0, sender=trader)
    # Closing 100 at skew 100 gets the premium back (fill 3,150 on a sale) and
    # pays 100 * $15 of funding: net -$1,500 over the round trip.
    assert clearinghouse.balance_of(trader, 0, usdc) == (1_000_000 - 1_500) * USDC
    assert clearinghouse.pool_balance() == 1_500 * USDC
    s = clearinghouse.market_state(m)
    assert (s.funding_rate, s.funding_index, s.last_funding_time) == (
        E18 // 100,
        15 * E18,
        t0 + DAY,
    )


def test_rate_stops_at_its_cap(clearinghouse, market, long_100, chain, owner, weth_listed):
    m = market(max_funding_rate=5 * E18 // 1_000)
    t0 = long_100(m)
    _at(chain, owner, weth_listed.feed, t0 + DAY)
    rate, index = clearinghouse.funding_now(m)
    # Cap 0.5 %/day, reached after half a day: 0.25 % avg for 0.5 day, then
    # 0.5 % for 0.5 day = 0.375 % of $3,000 = $11.25 per ETH.
    assert rate == 5 * E18 // 1_000
    assert index == 1125 * E18 // 100


def test_a_year_idle_at_the_cap(clearinghouse, market, long_100, chain, owner, trader, weth_listed):
    m = market(max_funding_rate=5 * E18 // 1_000)
    t0 = long_100(m)
    year = 365 * DAY
    _at(chain, owner, weth_listed.feed, t0 + year)
    rate, index = clearinghouse.funding_now(m)
    # Ramp for half a day, then the cap for the rest of the year:
    # area = 0.005 * 43,200 / 2 + 0.005 * (365 days - 43,200 s) (rate x seconds),
    # index = area * $3,000 / 1 day.
    area = 5 * 10**15 * 43_200 // 2 + 5 * 10**15 * (year - 43_200)
    assert rate == 5 * E18 // 1_000
    assert index == area * 3_000 * E18 // (DAY * E18)
    h = clearinghouse.account_health(trader, 0)
    owed = 100 * index  # size (100 ETH) * index / WAD, exact here
    assert h.equity == (1_000_000 - 15_000) * E18 - owed
    assert h.equity > h.mm > 0


def test_short_skew_makes_longs_receive(
    clearinghouse, market, chain, owner, trader, hedger, usdc, fund, weth_listed
):
    m = market()
    fund(usdc, hedger, 1_000_000 * USDC, clearinghouse)
    clearinghouse.deposit(0, usdc, 1_000_000 * USDC, sender=hedger)
    tx = clearinghouse.trade(0, m, -100 * ETH, 0, sender=hedger)
    t0 = chain.blocks[tx.block_number].timestamp
    _at(chain, owner, weth_listed.feed, t0 + DAY)
    rate, index = clearinghouse.funding_now(m)
    assert (rate, index) == (-(E18 // 100), -15 * E18)
    # The short pays: funding owed = -100 * -15 = +$1,500 (up, against it).
    h = clearinghouse.account_health(hedger, 0)
    assert h.equity == (1_000_000 - 15_000) * E18 - 1_500 * E18


def test_short_skew_rate_stops_at_the_negative_cap(
    clearinghouse, market, chain, owner, hedger, usdc, fund, weth_listed
):
    m = market(max_funding_rate=5 * E18 // 1_000)
    fund(usdc, hedger, 1_000_000 * USDC, clearinghouse)
    clearinghouse.deposit(0, usdc, 1_000_000 * USDC, sender=hedger)
    tx = clearinghouse.trade(0, m, -100 * ETH, 0, sender=hedger)
    t0 = chain.blocks[tx.block_number].timestamp
    _at(chain, owner, weth_listed.feed, t0 + DAY)
    # Mirror of test_rate_stops_at_its_cap: -0.5 %/day after half a day,
    # index -$11.25 per ETH.
    assert tuple(clearinghouse.funding_now(m)) == (-5 * E18 // 1_000, -1125 * E18 // 100)


@pytest.mark.parametrize("side", [1, -1])
def test_the_cap_crossing_is_not_cut_to_a_whole_second(
    clearinghouse, market, chain, owner, hedger, usdc, fund, weth_listed, side
):
    """The cap (1/7 %/day) is reached 86,400 / 7 = 12,342.857... s after the
    trade. Cutting that to 12,342 s booked cap * 0.857 s / 2 of rate-seconds
    too many: $2.1e-5 per ETH of funding that the receiving side was paid
    and nobody owed (equity overstated). The index must be the exact
    integral of the piecewise-linear rate, whichever side is skewed."""
    cap = E18 // 700
    m = market(max_funding_rate=cap)
    fund(usdc, hedger, 1_000_000 * USDC, clearinghouse)
    clearinghouse.deposit(0, usdc, 1_000_000 * USDC, sender=hedger)
    tx = clearinghouse.trade(
        0, m, side * 100 * ETH, side * 2**200 if side > 0 else 0, sender=hedger
    )
    t0 = chain.blocks[tx.block_number].timestamp
    _at(chain, owner, weth_listed.feed, t0 + DAY)
    rate, index = clearinghouse.funding_now(m)
    # velocity 1 %/day per day; the ramp lasts t* = cap / velocity days,
    # area = cap * (1 day - t*) + cap * t* / 2 (rate x seconds).
    velocity = Fraction(E18, 100)
    t_star = Fraction(cap) / velocity * DAY
    area = cap * (DAY - t_star) + cap * t_star / 2
    exact = side * area * 3_000 * E18 / (DAY * E18)
    assert rate == side * cap
    assert abs(index - exact) < 1
    # the whole-second cut was 2.1e13 wei of index: far outside that
    assert abs(exact) > 37 * E18 // 100
