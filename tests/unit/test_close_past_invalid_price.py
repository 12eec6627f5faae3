"""Issue 19, point 4: a whole close of a position whose own market is priced
goes through while another of the account's prices is invalid, under the
rule of docs/liquidation.md ("Closing past an invalid price"): a linear
account's whole close that pays no skew premium needs no health read.

Setting: the ETH market (flat margins: IMR 10 %, MMR 5 %, skew scale
1,000,000 ETH, taker 0.1 %, maker 0.05 %). The trader deposits 1,000 USDC
and 0.1 WBTC ($6,000, maintenance haircut 8 %) and buys 10 ETH at $3,000.
Then ETH falls to $2,900 and WBTC's feed moves from 8 to 6 decimals, so the
router refuses WBTC (`feed decimals changed`) and the trader's health can no
longer be read.
"""

from __future__ import annotations

import ape
import pytest

from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.maths import errors

FEED = 10**8
BUY_ANY = 10**30


@pytest.fixture
def eth_market(clearinghouse, owner, weth):
    ch = clearinghouse
    ch.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner)
    allow_atomic(ch, owner)
    return ch


def open_long(ch, usdc, wbtc, trader, fund) -> None:
    fund(usdc, trader, 1_000 * USDC, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=trader)
    fund(wbtc, trader, 10**7, ch)
    ch.deposit(0, wbtc, 10**7, sender=trader)
    ch.trade(0, 0, 10 * ETH, BUY_ANY, sender=trader)


def break_wbtc(ch, trader, eth_feed, wbtc_listed, owner) -> None:
    eth_feed.set_answer(2_900 * FEED, sender=owner)
    wbtc_listed.feed.set_decimals(6, sender=owner)
    with ape.reverts(errors.FEED_DECIMALS_CHANGED):
        ch.account_health(trader, 0)


@pytest.fixture
def long_with_skew(eth_market, usdc, wbtc, trader, hedger, fund, wbtc_listed, eth_feed, owner):
    """The hedger is long 20 first (skew 20). The trader's buy at skew 20:
    premium 10 * 3,000 * (40 + 10) / 2,000,000 = 0.75, taker fee 30: quote
    1,000 - 30.75 = 969.25. Its close sells into the long skew, so it earns
    a premium back: it pays none."""
    ch = eth_market
    fund(usdc, hedger, 100_000 * USDC, ch)
    ch.deposit(0, usdc, 100_000 * USDC, sender=hedger)
    ch.trade(0, 0, 20 * ETH, BUY_ANY, sender=hedger)
    open_long(ch, usdc, wbtc, trader, fund)
    assert ch.balance_of(trader, 0, usdc) == 969_250_000
    break_wbtc(ch, trader, eth_feed, wbtc_listed, owner)
    return ch


def test_a_whole_close_that_pays_no_premium_goes_through(long_with_skew, usdc, wbtc, trader):
    """Selling 10 at skew 30 and $2,900: premium -10 * 2,900 * (60 - 10) /
    2,000,000 = -0.725 (a rebate), maker fee 10 * 2,900 * 0.05 % = 14.5,
    PnL -1,000. The account is credited -1,000 + 0.725 - 14.5 = -1,013.775
    and ends at 969.25 - 1,013.775 = -44.525 USDC beside its 0.1 WBTC; the
    pool's ledger takes exactly +1,013.775. Before issue 19 the close read
    the whole account's health and reverted with WBTC's reason."""
    ch = long_with_skew
    pool_before = ch.pool_balance()
    tx = ch.trade(0, 0, -10 * ETH, 0, sender=trader)
    (ev,) = tx.events.filter(ch.Trade)
    assert (ev.new_size, ev.pnl) == (0, -1_000 * E18)
    assert (ev.premium, ev.fee) == (-725 * 10**15, 145 * E18 // 10)
    assert ev.quote_delta == -1_013_775_000
    assert ch.position(trader, 0, 0).size == 0
    assert ch.balance_of(trader, 0, usdc) == -44_525_000
    assert ch.balance_of(trader, 0, wbtc) == 10**7
    assert ch.pool_balance() - pool_before == 1_013_775_000
    # Tokens held == every ledger: the close moved no token.
    assert usdc.balanceOf(ch) == 101_000 * USDC
    assert wbtc.balanceOf(ch) == ch.total_deposits(wbtc) == 10**7


def test_a_partial_close_still_needs_the_health(long_with_skew, usdc, trader, snapshot_balances):
    """Only a whole close is exempt: a partial one keeps a position whose
    margin the account must still back, so it reads the health."""
    ch = long_with_skew
    before = snapshot_balances(ch, [usdc], [trader])
    with ape.reverts(errors.FEED_DECIMALS_CHANGED):
        ch.trade(0, 0, -5 * ETH, 0, sender=trader)
    assert snapshot_balances(ch, [usdc], [trader]) == before
    assert ch.position(trader, 0, 0).size == 10 * ETH


def test_a_close_into_a_skew_the_owner_built_cannot_pay_a_premium_blind(
    eth_market, usdc, wbtc, trader, hedger, fund, wbtc_listed, eth_feed, owner, snapshot_balances
):
    """The attack the premium rule stops. The owner of the trader account
    also runs the hedger: after WBTC's feed breaks, the hedger shorts 500,
    so the trader's close (a sell) pays a premium into the pool that the
    unreadable account may not be able to back; the hedger would take it
    back as a rebate when it unwinds. A close that pays a premium still
    needs the health: refused with WBTC's reason, nothing moves.

    The trader's buy at skew 0: premium 10 * 3,000 * 10 / 2,000,000 = 0.15,
    taker fee 30: quote 969.85. With the hedger short 500 the close would
    pay 10 * 2,900 * (1,000 + 10) / 2,000,000 = 14.645."""
    ch = eth_market
    open_long(ch, usdc, wbtc, trader, fund)
    assert ch.balance_of(trader, 0, usdc) == 969_850_000
    break_wbtc(ch, trader, eth_feed, wbtc_listed, owner)
    fund(usdc, hedger, 200_000 * USDC, ch)
    ch.deposit(0, usdc, 200_000 * USDC, sender=hedger)
    ch.trade(0, 0, -500 * ETH, 0, sender=hedger)
    before = snapshot_balances(ch, [usdc], [trader, hedger])
    with ape.reverts(errors.FEED_DECIMALS_CHANGED):
        ch.trade(0, 0, -10 * ETH, 0, sender=trader)
    assert snapshot_balances(ch, [usdc], [trader, hedger]) == before
    assert ch.position(trader, 0, 0).size == 10 * ETH


def test_a_readable_account_keeps_the_reduction_rule(
    eth_market, usdc, wbtc, trader, hedger, fund, eth_feed, owner
):
    """With every price valid the close is checked as before: at $2,300 the
    trader's equity is 969.25 - 7,000 + 5,520 = -510.75, and a close that
    charges (maker fee 11.5 > rebate 0.575) would deepen the deficit:
    refused with the reduction rule's reason, not let through."""
    ch = eth_market
    fund(usdc, hedger, 100_000 * USDC, ch)
    ch.deposit(0, usdc, 100_000 * USDC, sender=hedger)
    ch.trade(0, 0, 20 * ETH, BUY_ANY, sender=hedger)
    open_long(ch, usdc, wbtc, trader, fund)
    eth_feed.set_answer(2_300 * FEED, sender=owner)
    assert ch.account_health(trader, 0).equity == -51_075 * E18 // 100
    with ape.reverts(errors.REDUCTION_TOO_COSTLY):
        ch.trade(0, 0, -10 * ETH, 0, sender=trader)


def test_only_the_engine_asks_its_probes(clearinghouse, trader, stranger):
    """`health_probe` and `exposure_probe` are not locked (the extensions
    that ask them hold the lock), so nobody else may read them: no outsider
    sees state mid-transaction (a token's transfer hook included)."""
    with ape.reverts(errors.ENGINE_ONLY):
        clearinghouse.health_probe(trader, 0, sender=stranger)
    with ape.reverts(errors.ENGINE_ONLY):
        clearinghouse.exposure_probe(trader, 0, sender=stranger)
