"""ClearinghouseLens: the per-position breakdown, liquidation prices and the
keepers' pages."""

from __future__ import annotations

import ape
import pytest

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE
from tests.markets import ETH, P3000, USDC, allow_atomic, params
from xmargin.maths import errors, perps

E18 = 10**18


@pytest.fixture
def account(clearinghouse, trader, usdc, fund):
    def make(usdc_amount: int, size: int):
        fund(usdc, trader, usdc_amount * USDC, clearinghouse)
        clearinghouse.deposit(0, usdc, usdc_amount * USDC, sender=trader)
        clearinghouse.trade(0, 0, size, 0 if size < 0 else 2 * P3000, sender=trader)

    return make


def _liquidated_below_a_dollar_above(clearinghouse, trader, feed, owner, row):
    """A long's reported liquidation price: at it (cut to the feed's 8
    decimals) the account is below MM; a dollar above, it is not."""
    feed.set_answer(row.liquidation_price // 10**10 + 100_000_000, sender=owner)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity >= h.mm
    feed.set_answer(row.liquidation_price // 10**10, sender=owner)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity < h.mm


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
    _liquidated_below_a_dollar_above(clearinghouse, trader, weth_listed.feed, owner, row)


def test_short_liquidation_price(lens, clearinghouse, market, account, trader, weth_listed, owner):
    account(1_000, -3 * ETH)
    (row,) = lens.position_details(clearinghouse, trader, 0)
    # Short: E - 3 (p - 3000) = 3 p MMR -> p = (E + 9,000) / 3.1500045 = 3,171.737...
    assert 3_171_73 * E18 // 100 < row.liquidation_price < 3_171_74 * E18 // 100
    weth_listed.feed.set_answer(-(-row.liquidation_price // 10**10), sender=owner)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity < h.mm


def test_a_long_backed_by_its_own_asset_moves_with_it(
    lens, clearinghouse, market, account, trader, weth_listed, owner, fund
):
    """Issue 23, point 7: 2 WETH and 1,000 USDC behind a 3 ETH long. Equity
    counts the WETH at 90 % (its MM haircut), and it falls with ETH:
    E = 990.9865 + 5,400 = 6,390.9865, so
    6,390.9865 + (3 + 1.8) (p - 3,000) = 3 p * 0.0500015
    p = (14,400 - 6,390.9865) / (4.8 - 0.1500045) = 1,722.3700...
    Holding the WETH fixed, as the lens did, gave (9,000 - 6,390.9865) /
    2.8499955 = $915.44, where the account was long gone."""
    fund(weth_listed.token, trader, 2 * ETH, clearinghouse)
    clearinghouse.deposit(0, weth_listed.token, 2 * ETH, sender=trader)
    account(1_000, 3 * ETH)
    (row,) = lens.position_details(clearinghouse, trader, 0)
    equity = 6_390_986_500 * 10**12
    den = (48 * E18 // 10 * E18 - 3 * E18 * 50_001_500_000_000_000) // E18
    assert row.liquidation_price == -(-(48 * E18 // 10 * P3000 - equity * E18) // den)
    assert 1_722_37 * E18 // 100 < row.liquidation_price < 1_722_38 * E18 // 100
    # At that price the account is liquidatable; a dollar above, it is not.
    _liquidated_below_a_dollar_above(clearinghouse, trader, weth_listed.feed, owner, row)


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
    allow_atomic(clearinghouse, owner)
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
        # each market on its own asset, no collateral but USDC
        assert r.liquidation_price == perps.liquidation_price(
            r.size, abs(r.size) * mmr, r.price, h.equity, h.mm - r.mm
        )


# ---------------------------------------------------------------- keeper pages


def test_keeper_views_skip_an_account_below_mm_that_owes_nothing(
    project, clearinghouse, lens, owner, trader, keeper, usdc, weth_listed, fund
):
    """An account in portfolio mode holding only WETH, in a risk set with an
    'ETH to zero' scenario, is a wei below its MM (collateral rounds down in
    equity, up in the scenario): no entry point can liquidate it (no
    position, no debt), so the keeper's views must not list it."""
    ch = clearinghouse
    weth, feed = weth_listed.token, weth_listed.feed
    feed.set_answer(300_012_345_678, sender=owner)  # $3,000.12345678
    ch.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner)
    allow_atomic(ch, owner)
    ch.set_risk_group(weth, 0, sender=owner)
    ch.set_risk_group(usdc, 1, sender=owner)
    risk = owner.deploy(
        project.PortfolioRisk, [[-E18, 0], [E18 // 10, 0]], 0, 0, E18, [], [], 0, [], []
    )
    ch.set_portfolio_risk(risk, sender=owner)
    fund(weth, trader, E18 + 7, ch)
    ch.deposit(0, weth, E18 + 7, sender=trader)
    fund(usdc, trader, 1_000 * USDC, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=trader)
    # Open and close a position: the account is in the keepers' registry.
    ch.trade(0, 0, E18 // 100, 10**30, sender=trader)
    ch.trade(0, 0, -(E18 // 100), 0, sender=trader)
    ch.withdraw(0, usdc, 2**256 - 1, sender=trader)
    ch.set_margin_mode(0, True, sender=trader)
    h = ch.account_health(trader, 0)
    assert h.equity < h.mm, "the scenario needs an account below MM"

    assert not lens.is_liquidatable(ch, trader, 0)
    assert list(lens.accounts_to_liquidate(ch, 0, 50)) == []
    for refused in (
        lambda: ch.liquidate(trader, 0, 0, E18, 0, sender=keeper),
        lambda: ch.liquidate_collateral(trader, 0, weth, USDC, 0, sender=keeper),
        lambda: ch.settle_bad_debt(trader, 0, sender=keeper),
    ):
        with pytest.raises(ape.exceptions.ContractLogicError):
            refused()


def test_keeper_views_report_a_reverting_feed_with_the_routers_reason(
    project, clearinghouse, lens, owner, oracle, trader, wbtc_listed, market, fund
):
    """A feed that reverts with a reason longer than any of the engine's:
    the router turns it into its own reason (issue 19: the feed's text
    never reaches readers); the lens's single-account view reverts with the
    engine's reason, and its pages report it per account."""
    ch = clearinghouse
    wbtc = wbtc_listed.token
    feed = owner.deploy(project.MockRevertingFeed, 60_000 * 10**8)
    oracle.set_feed(wbtc, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    fund(wbtc, trader, 10**8, ch)
    ch.deposit(0, wbtc, 10**8, sender=trader)
    ch.trade(0, market, E18 // 10, 10**30, sender=trader)
    feed.set_reverting(True, sender=owner)
    reason = errors.FEED_CALL_FAILED
    with ape.reverts(reason):
        ch.account_health(trader, 0)
    with ape.reverts(reason):
        lens.is_liquidatable(ch, trader, 0)
    # The pages never revert for it: the account is left out of the
    # liquidatable list and named in its health row, with WBTC to blame.
    assert list(lens.accounts_to_liquidate(ch, 0, 50)) == []
    (row,) = lens.account_healths(ch, 0, 50)
    assert (row.owner, row.error, row.asset) == (trader.address, reason, wbtc.address)
    assert (row.equity, row.im, row.mm) == (0, 0, 0)
