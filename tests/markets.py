"""The standard test perp market, shared by the trading, pool, lens and fuzz tests.

ETH at $3,000, skew scale 1,000,000 ETH, taker 0.1 %, maker 0.05 %,
IMR 10 % + |size|/K, MMR 5 % + |size|/(2K), funding off (funding has its own
market in test_funding).
"""

from __future__ import annotations

from dataclasses import replace

from xmargin.maths.perps import MarketParams

E18 = 10**18
USDC = 10**6
ETH = E18
P3000 = 3_000 * E18

ETH_MARKET = MarketParams(
    asset="",  # filled with the WETH token address (the oracle key)
    imr_base=10 * E18 // 100,
    mmr_base=5 * E18 // 100,
    im_size_scalar=E18,
    mm_size_scalar=E18 // 2,
    skew_scale=1_000_000 * ETH,
    taker_fee=E18 // 1_000,
    maker_fee=E18 // 2_000,
    max_oi=1_000 * ETH,
    max_funding_velocity=0,
    max_funding_rate=0,
)


# Funding on (for tests of funding in the grid): no fees, no size add-on,
# skew scale 1,000; a skew of 100 ramps the rate 1 %/day per day up to a
# 1 %/day cap.
FUNDING_ON = dict(
    im_size_scalar=0,
    mm_size_scalar=0,
    taker_fee=0,
    maker_fee=0,
    skew_scale=1_000 * ETH,
    max_funding_velocity=E18 // 10,
    max_funding_rate=E18 // 100,
)


def params(asset, **changes) -> tuple:
    """ETH_MARKET's on-chain struct for `asset`, with `changes` applied."""
    return replace(ETH_MARKET, asset=str(asset), **changes).as_tuple()


def allow_atomic(ch, owner, market_id: int | None = None) -> None:
    """Lets a listed market (the last one by default) trade atomically, as
    tests that are not about delayed orders need: a 1 s delay, a 60 s
    window, no settlement fee, and a declared deviation of 0 (the mock
    feeds publish only when a test says so)."""
    if market_id is None:
        market_id = ch.num_markets() - 1
    ch.set_order_rules(market_id, 1, 60, 0, True, 0, sender=owner)
