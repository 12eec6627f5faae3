"""account_health against hand-computed numbers, and the initial-margin rule.

Standard listing (tests/conftest.py): USDC quote (6 dp, face value);
WETH (18 dp, $3,000, IM haircut 20 %, MM haircut 10 %);
WBTC (8 dp, $60,000, IM haircut 15 %, MM haircut 8 %).
"""

import ape
import pytest

from tests.conftest import HEARTBEAT
from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD

USDC = 10**6
ETH = 10**18
BTC = 10**8


def deposit(ch, who, token, amount, fund, sub_id=0):
    fund(token, who, amount, ch)
    ch.deposit(sub_id, token, amount, sender=who)


def test_empty_account(clearinghouse, trader):
    assert clearinghouse.account_health(trader, 0) == (0, 0, 0)


def test_three_assets(clearinghouse, trader, usdc, weth, wbtc, fund):
    deposit(clearinghouse, trader, usdc, 1_000 * USDC, fund)
    deposit(clearinghouse, trader, weth, 2 * ETH, fund)
    deposit(clearinghouse, trader, wbtc, BTC // 2, fund)
    # WETH: 2 x 3,000 = 6,000 -> 5,400 after 10 %, 4,800 after 20 %.
    # WBTC: 0.5 x 60,000 = 30,000 -> 27,600 after 8 %, 25,500 after 15 %.
    c = clearinghouse.collateral_value(trader, 0)
    assert c.quote == 1_000 * WAD
    assert c.market == 36_000 * WAD
    assert c.weighted_mm == 33_000 * WAD
    assert c.weighted_im == 30_300 * WAD
    h = clearinghouse.account_health(trader, 0)
    assert h.equity == 34_000 * WAD  # 1,000 + 5,400 + 27,600
    assert h.im == 2_700 * WAD  # 33,000 - 30,300
    assert h.mm == 0


def test_haircuts_equal_means_no_im(clearinghouse, owner, trader, weth, fund):
    clearinghouse.set_asset_params(weth, WAD // 10, WAD // 10, 10**30, sender=owner)
    deposit(clearinghouse, trader, weth, ETH, fund)
    assert clearinghouse.account_health(trader, 0) == (2_700 * WAD, 0, 0)


def test_value_rounds_down(clearinghouse, trader, weth, weth_listed, owner, fund):
    # $3,000.12345678 per ETH; 1 wei is worth 3,000.12345678 wei of USD,
    # floored to 3,000, then 10 % off -> 2,700; 20 % off -> 2,400.
    weth_listed.feed.set_answer(300_012_345_678, sender=owner)
    deposit(clearinghouse, trader, weth, 1, fund)
    c = clearinghouse.collateral_value(trader, 0)
    assert (c.market, c.weighted_mm, c.weighted_im) == (3_000, 2_700, 2_400)
    # 7 wei: 21,000.864... -> 21,000; 18,900; 16,800.
    deposit(clearinghouse, trader, weth, 6, fund)
    c = clearinghouse.collateral_value(trader, 0)
    assert (c.market, c.weighted_mm, c.weighted_im) == (21_000, 18_900, 16_800)


def test_haircut_rounds_down(clearinghouse, trader, weth, weth_listed, owner, fund):
    # 1 wei at $3,001 is worth 3,001 wei of USD; 10 % off = 2,700.9 -> 2,700;
    # 20 % off = 2,400.8 -> 2,400. IM = 2,700 - 2,400 = 300.
    weth_listed.feed.set_answer(3_001 * 10**8, sender=owner)
    deposit(clearinghouse, trader, weth, 1, fund)
    c = clearinghouse.collateral_value(trader, 0)
    assert (c.market, c.weighted_mm, c.weighted_im) == (3_001, 2_700, 2_400)
    assert clearinghouse.account_health(trader, 0) == (2_700, 300, 0)


def test_price_move_changes_health(clearinghouse, trader, weth, weth_listed, owner, fund):
    deposit(clearinghouse, trader, weth, ETH, fund)
    weth_listed.feed.set_answer(1_500 * 10**8, sender=owner)
    assert clearinghouse.account_health(trader, 0) == (1_350 * WAD, 150 * WAD, 0)


def test_stale_price_of_held_asset_reverts(clearinghouse, trader, weth, fund, chain):
    deposit(clearinghouse, trader, weth, ETH, fund)
    chain.mine(timestamp=chain.blocks.head.timestamp + HEARTBEAT + 60)
    with ape.reverts(errors.PRICE_STALE):
        clearinghouse.account_health(trader, 0)


def test_stale_price_of_asset_not_held_is_ignored(
    clearinghouse, trader, usdc, weth_listed, wbtc_listed, owner, fund, chain
):
    deposit(clearinghouse, trader, usdc, 10 * USDC, fund)
    deposit(clearinghouse, trader, weth_listed.token, ETH, fund)
    t = chain.blocks.head.timestamp
    wbtc_listed.feed.set_round(50, 60_000 * 10**8, t, t - 10 * HEARTBEAT, 50, sender=owner)
    assert clearinghouse.account_health(trader, 0) == (2_710 * WAD, 300 * WAD, 0)


def test_collateral_value_reads_no_market_price(
    clearinghouse, trader, usdc, weth_listed, wbtc_listed, market, owner, fund, chain
):
    """collateral_value prices the collateral only: a stale feed of a market
    the account trades (but whose asset it does not hold) stops its health,
    never its collateral figures."""
    deposit(clearinghouse, trader, usdc, 10_000 * USDC, fund)
    deposit(clearinghouse, trader, wbtc_listed.token, BTC // 10, fund)
    clearinghouse.trade(0, market, ETH // 100, 10**30, sender=trader)
    t = chain.blocks.head.timestamp
    weth_listed.feed.set_round(50, 3_000 * 10**8, t, t - 10 * HEARTBEAT, 50, sender=owner)
    with ape.reverts(errors.PRICE_STALE):
        clearinghouse.account_health(trader, 0)
    # 0.1 WBTC x 60,000 = 6,000 -> 5,520 after 8 %, 5,100 after 15 %.
    quote = clearinghouse.balance_of(trader, 0, usdc) * 10**12
    assert tuple(clearinghouse.collateral_value(trader, 0)) == (
        quote,
        6_000 * WAD,
        5_520 * WAD,
        5_100 * WAD,
    )


def test_negative_price_of_held_asset_reverts(
    clearinghouse, trader, weth, weth_listed, owner, fund
):
    deposit(clearinghouse, trader, weth, ETH, fund)
    weth_listed.feed.set_answer(-1, sender=owner)
    with ape.reverts(errors.PRICE_NOT_POSITIVE):
        clearinghouse.account_health(trader, 0)


# ---------------------------------------------------------------- initial margin (harness)


@pytest.fixture
def indebted(harness, trader, weth_listed, fund):
    """1 WETH ($3,000) and a settled loss of 2,000 USDC.

    equity = -2,000 + 2,700 = 700; IM = 2,700 - 2,400 = 300.
    Withdrawing w wei leaves r = 1e18 - w; equity - IM = 2,400 r / 1e18 - 2,000,
    so r >= 833,333,333,333,333,334 wei: at most 166,666,666,666,666,666 wei out.
    """
    deposit(harness, trader, weth_listed.token, ETH, fund)
    harness.harness_settle(trader, 0, -2_000 * USDC, sender=trader)
    assert harness.account_health(trader, 0) == (700 * WAD, 300 * WAD, 0)
    return weth_listed.token


MAX_OUT = 166_666_666_666_666_666


def test_withdraw_up_to_initial_margin(harness, trader, indebted):
    harness.withdraw(0, indebted, MAX_OUT, sender=trader)
    h = harness.account_health(trader, 0)
    remaining = ETH - MAX_OUT
    assert h.equity == -2_000 * WAD + remaining * 2_700
    assert h.im == remaining * 300
    assert h.equity - h.im == remaining * 2_400 - 2_000 * WAD >= 0


def test_withdraw_below_initial_margin_reverts(harness, trader, indebted, snapshot_balances):
    before = snapshot_balances(harness, [indebted], [trader])
    with ape.reverts(errors.BELOW_IM):
        harness.withdraw(0, indebted, MAX_OUT + 1, sender=trader)
    with ape.reverts(errors.BELOW_IM):
        harness.withdraw(0, indebted, 2**256 - 1, sender=trader)
    assert snapshot_balances(harness, [indebted], [trader]) == before


def test_withdraw_with_debt_needs_a_price(harness, trader, indebted, chain):
    chain.mine(timestamp=chain.blocks.head.timestamp + HEARTBEAT + 60)
    with ape.reverts(errors.PRICE_STALE):
        harness.withdraw(0, indebted, 1, sender=trader)


def test_debt_cannot_be_withdrawn(harness, trader, indebted, usdc):
    with ape.reverts(errors.INSUFFICIENT_BALANCE):
        harness.withdraw(0, usdc, 1, sender=trader)
    with ape.reverts(errors.ZERO_AMOUNT):
        harness.withdraw(0, usdc, 2**256 - 1, sender=trader)


def test_paused_withdrawal_still_margin_checked(harness, trader, guardian, indebted):
    harness.pause(sender=guardian)
    with ape.reverts(errors.BELOW_IM):
        harness.withdraw(0, indebted, MAX_OUT + 1, sender=trader)
    harness.withdraw(0, indebted, MAX_OUT, sender=trader)


def test_repaying_debt_clears_liability(harness, trader, indebted, usdc, fund):
    deposit(harness, trader, usdc, 2_000 * USDC, fund)
    assert harness.balance_of(trader, 0, usdc) == 0
    # The quote bit is cleared with the balance: nothing owed, no margin check.
    assert harness.held_mask(trader, 0) == 0b010
    harness.withdraw(0, indebted, ETH, sender=trader)
