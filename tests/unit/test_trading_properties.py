"""Property: any sequence of trades, price moves and waits keeps the chain
equal to xmargin.maths.perps / xmargin.maths.model to the wei.

After every step, for every account: quote balance, position and
(equity, IM, MM) equal the model's; each market's state equals the model's;
and trader gains plus the pool's ledger sum to zero exactly (every fee,
premium, PnL and funding payment is a transfer between a trader and the
pool). A trade the model says must fail (below IM, over the OI cap) must
revert on chain with that reason and change nothing.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import isolated
from tests.markets import ETH_MARKET, allow_atomic
from tests.perps_world import World

E18 = 10**18
USDC = 10**6
DEPOSIT = 20_000 * USDC

# Funding caps low enough that hours of skew reach them, in both directions.
MARKETS = (
    replace(
        ETH_MARKET,
        skew_scale=10_000 * E18,
        max_oi=40 * E18,
        max_funding_velocity=E18 // 10,
        max_funding_rate=E18 // 100_000,
    ),
    replace(
        ETH_MARKET,
        imr_base=E18 // 5,
        mmr_base=E18 // 10,
        skew_scale=500 * E18,
        max_oi=2 * E18,
        max_funding_velocity=E18,
        max_funding_rate=E18 // 10_000,
    ),
)

# Wei-level sizes (not round numbers, so every rounding is exercised), of
# every magnitude from dust to several units.
sizes = st.one_of(
    st.integers(min_value=-6 * E18, max_value=6 * E18),
    st.integers(min_value=-6_000, max_value=6_000).map(lambda n: n * E18 // 1_000 + 7),
).filter(bool)
trade = st.tuples(st.just("trade"), st.integers(0, 3), st.integers(0, 1), sizes)
steps = st.lists(
    st.one_of(
        trade,
        trade,
        trade,
        st.tuples(st.just("price"), st.integers(0, 1), st.integers(-2_500, 2_500)),
        st.tuples(st.just("wait"), st.integers(1, 3 * 86_400)),
    ),
    min_size=3,
    max_size=10,
)


@pytest.fixture(scope="module")
def world(clearinghouse, owner, trader, hedger, usdc, fund, weth_listed, wbtc_listed, chain):
    feeds = (weth_listed.feed, wbtc_listed.feed)
    params = []
    for p, listed in zip(MARKETS, (weth_listed, wbtc_listed), strict=True):
        p = replace(p, asset=listed.token.address)
        clearinghouse.list_market(p.as_tuple(), sender=owner)
        allow_atomic(clearinghouse, owner)
        params.append(p)
    accounts = [(trader, 0), (trader, 1), (hedger, 0), (hedger, 1)]
    for who, sub in accounts:
        fund(usdc, who, DEPOSIT, clearinghouse)
        clearinghouse.deposit(sub, usdc, DEPOSIT, sender=who)
    return params, feeds, accounts


@given(steps=steps)
def test_trades_match_the_model(world, steps, clearinghouse, owner, usdc, chain, assets):
    params, feeds, accounts = world
    with isolated(chain):
        w = World.read(
            clearinghouse,
            params,
            list(feeds),
            accounts,
            usdc.address,
            {usdc.address: assets[usdc.address]},
            [None, None],
            {usdc.address: usdc},
        )
        w.prices = [3_000 * E18, 60_000 * E18]
        w.refresh_prices(owner)
        for step in steps:
            if step[0] == "price":
                w.set_price(step[1], step[2], owner)
            elif step[0] == "wait":
                chain.pending_timestamp = chain.blocks.head.timestamp + step[1]
                w.refresh_prices(owner)
            else:
                _, who_i, m, delta = step
                who, sub = accounts[who_i]
                w.trade(chain, who, sub, m, delta)
            w.check(chain)
