"""xmargin.maths.pool against hand-computed numbers (docs/pool.md). The
fuzz machine holds it to the chain's `pool_state` after every step."""

from __future__ import annotations

from xmargin.maths import errors
from xmargin.maths import pool as pm
from xmargin.maths.perps import MarketParams, MarketState

E18 = 10**18
ETH = MarketParams(
    "WETH", E18 // 10, E18 // 20, E18, E18 // 2, 10**6 * E18, 10**15, 5 * 10**14, 10**3 * E18, 0, 0
)
# Long 10 ETH entered at $3,000; cash 100,030.15 (fee 30, premium 0.15).
LONG_10 = MarketState(skew=10 * E18, long_oi=10 * E18, entry_sum=10 * E18 * 3_000 * E18)
CASH = 100_030_150_000 * 10**12


def test_a_long_at_3300_against_its_caps():
    """At $3,300: PnL 3,000, premium owed 3300 * 10^2 / 2e6 = 0.165, value
    97,029.985; net notional and larger side 33,000. Reserve 30 %: needs 110,000; profit
    10 %: 3,000 / 0.1 = 30,000; so min_value 110,000, and the pool releases
    nothing. A trade ending here breaks the reserve first (33,000 >
    29,108.9955)."""
    t = pm.market_terms(LONG_10, ETH, 3_300 * E18, 0)
    assert (t.pnl, t.funding, t.side_notional, t.premium_owed) == (
        3_000 * E18,
        0,
        33_000 * E18,
        165 * E18 // 1_000,
    )
    caps = pm.Caps(3 * E18 // 10, E18 // 10, E18 // 10)
    s = pm.pool_state(CASH, [t], [caps], E18 // 10, 0)
    assert s.value == 97_029_985 * 10**15
    # 3,000 gains + 0.165 premium + 10 % of 33,000 net notional
    assert s.required == 6_300_165 * 10**15
    assert s.min_value == 110_000 * E18
    assert pm.withdrawable(s, 10**12) == 0
    assert pm.cap_breach(s, t, caps, 0) == errors.RESERVE_CAP
    # Reserve 40 % (38,811.994 >= 33,000): the profit, 3,000, is under 10 % of
    # the value (9,702.9985) but over 2 % (1,940.5997).
    loose = pm.Caps(4 * E18 // 10, E18 // 10, E18 // 10)
    assert pm.cap_breach(s, t, loose, 0) is None
    assert pm.cap_breach(s, t, pm.Caps(4 * E18 // 10, E18 // 50, E18 // 50), 0) == errors.PNL_CAP
    # Total 30 %: 33,000 > 29,108.9955.
    assert pm.cap_breach(s, t, None, 3 * E18 // 10) == errors.TOTAL_RESERVE_CAP
    # A trade that grew only |skew| meets the profit cap, not the reserves.
    assert pm.cap_breach(s, t, caps, 3 * E18 // 10, side_grew=False) is None
    # Uncapped, the buffer alone: 97,029.985 - 3,300 of it is free.
    free = pm.pool_state(CASH, [t], [None], E18 // 10, 0)
    assert free.min_value == 0
    assert pm.withdrawable(free, 10**12) == 93_729_985_000


# ---------------------------------------------------------------- ADL rank


def test_adl_rank_by_hand():
    """2 ETH long entered at $2,000, now $2,500, no funding, equity $5,000:
    profit ratio 1,000 / 4,000 = 0.25, leverage 5,000 / 5,000 = 1."""
    from xmargin.maths.perps import Position

    pos = Position(size=2 * E18, entry_price=2_000 * E18, funding_index=0)
    assert pm.adl_rank(pos, 2_500 * E18, 0, 5_000 * E18, skew=E18) == E18 // 4
    # Leverage 2 doubles it; no equity left ranks first.
    assert pm.adl_rank(pos, 2_500 * E18, 0, 2_500 * E18, skew=E18) == E18 // 2
    assert pm.adl_rank(pos, 2_500 * E18, 0, 0, skew=E18) == 2**256 - 1
    # Not on the skew's side, or not in profit: the engine would not take it.
    assert pm.adl_rank(pos, 2_500 * E18, 0, 5_000 * E18, skew=-E18) == 0
    assert pm.adl_rank(pos, 2_000 * E18, 0, 5_000 * E18, skew=E18) == 0
