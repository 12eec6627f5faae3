"""ClearinghouseLens: the per-position breakdown and liquidation prices."""

from __future__ import annotations

import pytest

from tests.markets import ETH, P3000, USDC, params
from xmargin.maths import perps

E18 = 10**18


@pytest.fixture
def account(clearinghouse, trader, usdc, fund):
    def make(usdc_amount: int, size: int):
        fund(usdc, trader, usdc_amount * USDC, clearinghouse)
        clearinghouse.deposit(0, usdc, usdc_amount * USDC, sender=trader)
        clearinghouse.trade(0, 0, size, 0 if size < 0 else 2 * P3000, sender=trader)

    return make


def test_long_liquidation_price(lens, clearinghouse, market, account, trader, weth_listed, owner):
    account(1_000, 3 * ETH)
    (row,) = lens.position_details(clearinghouse, trader, 0)
    # 1,000 USDC - $9 fee - $0.0135 premium: equity E = 990.9865; MMR(3 ETH)
    # = 0.05 + 3 * 0.5 / 1e6 = 0.0500015. Solve E + 3 (p - 3000) = 3 p MMR:
    # p = (9,000 - 990.9865) / (3 - 0.1500045) = 2,810.1846...
    assert row.liquidation_price == -(
        -(9_000 * E18 - 990_986_500 * 10**12) * E18 // 2_849_995_500_000_000_000
    )
    assert 2_810_18 * E18 // 100 < row.liquidation_price < 2_810_19 * E18 // 100
    assert (row.size, row.entry_price, row.price, row.notional) == (
        3 * ETH,
        P3000,
        P3000,
        9_000 * E18,
    )
    # At that price the account is liquidatable; a dollar above, it is not.
    weth_listed.feed.set_answer(row.liquidation_price // 10**10 + 100_000_000, sender=owner)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity >= h.mm
    weth_listed.feed.set_answer(row.liquidation_price // 10**10, sender=owner)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity < h.mm


def test_short_liquidation_price(lens, clearinghouse, market, account, trader, weth_listed, owner):
    account(1_000, -3 * ETH)
    (row,) = lens.position_details(clearinghouse, trader, 0)
    # Short: E - 3 (p - 3000) = 3 p MMR -> p = (E + 9,000) / 3.1500045 = 3,171.737...
    assert 3_171_73 * E18 // 100 < row.liquidation_price < 3_171_74 * E18 // 100
    weth_listed.feed.set_answer(-(-row.liquidation_price // 10**10), sender=owner)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity < h.mm


def test_an_overcollateralised_long_has_no_liquidation_price(
    lens, clearinghouse, market, account, trader
):
    account(10_000, 3 * ETH)
    (row,) = lens.position_details(clearinghouse, trader, 0)
    assert row.liquidation_price == 0


def test_rows_sum_to_account_health_and_match_the_model(
    lens, clearinghouse, market, account, trader, owner, weth_listed, wbtc_listed
):
    clearinghouse.list_market(params(wbtc_listed.token.address), sender=owner)
    account(50_000, 5 * ETH)
    clearinghouse.trade(0, 1, -ETH // 2, 0, sender=trader)
    rows = lens.position_details(clearinghouse, trader, 0)
    assert [r.market_id for r in rows] == [0, 1]
    h = clearinghouse.account_health(trader, 0)
    assert sum(r.mm for r in rows) == h.mm
    assert sum(r.im for r in rows) == h.im  # no collateral haircut gap (USDC only)
    for r in rows:
        p = perps.MarketParams(*clearinghouse.market_params(r.market_id))
        mmr = perps.margin_ratio(abs(r.size), p.mmr_base, p.mm_size_scalar, p.skew_scale)
        assert r.liquidation_price == perps.liquidation_price(
            r.size, r.price, mmr, h.equity, h.mm, r.mm
        )
