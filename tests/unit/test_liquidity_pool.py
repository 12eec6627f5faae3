"""The LiquidityPool: an ERC-4626 vault whose assets are the Clearinghouse's
pool ledger, priced with traders' unrealised PnL.

Trader: long 10 ETH at $3,000 (skew scale 1,000,000 ETH, taker 0.1 %):
premium 10 * 3000 * 10 / 2e6 = $0.15, fee $30, so the pool's cash grows by
$30.15; the $0.15 premium is refundable as skew unwinds, so the pool's value
grows by $30 only. At $3,300 the trader is up $3,000, which the pool owes,
and the premium it would refund is 3300 * 10^2 / 2e6 = $0.165.
"""

from __future__ import annotations

import ape
import pytest

from tests.conftest import HEARTBEAT
from tests.markets import ETH_MARKET, allow_atomic, params
from xmargin.maths import errors, perps

E18 = 10**18
USDC = 10**6
ETH = E18


@pytest.fixture
def pool(project, clearinghouse, owner):
    vault = owner.deploy(project.LiquidityPool, clearinghouse.address, "xmargin LP", "xLP", 0)
    clearinghouse.set_pool(vault, sender=owner)
    return vault


@pytest.fixture
def funded_pool(pool, lp, usdc, fund):
    fund(usdc, lp, 100_000 * USDC, pool)
    pool.deposit(100_000 * USDC, lp, sender=lp)
    return pool


@pytest.fixture
def long_10(clearinghouse, owner, trader, usdc, fund, weth_listed):
    clearinghouse.list_market(params(weth_listed.token.address), sender=owner)
    allow_atomic(clearinghouse, owner)
    fund(usdc, trader, 10_000 * USDC, clearinghouse)
    clearinghouse.deposit(0, usdc, 10_000 * USDC, sender=trader)
    clearinghouse.trade(0, 0, 10 * ETH, 2**200, sender=trader)


def test_deposit_mints_one_to_one_and_moves_cash_to_the_ledger(clearinghouse, pool, lp, usdc, fund):
    fund(usdc, lp, 100_000 * USDC, pool)
    tx = pool.deposit(100_000 * USDC, lp, sender=lp)
    assert pool.balanceOf(lp) == 100_000 * USDC
    assert pool.totalAssets() == clearinghouse.pool_value() == 100_000 * USDC
    assert clearinghouse.pool_balance() == 100_000 * USDC
    # The tokens sit in the Clearinghouse, none in the vault.
    assert usdc.balanceOf(clearinghouse) == 100_000 * USDC
    assert usdc.balanceOf(pool) == 0
    assert pool.decimals() == 6 and pool.asset() == usdc.address
    (event,) = tx.events.filter(pool.Deposit)
    assert (event.assets, event.shares) == (100_000 * USDC, 100_000 * USDC)


def test_share_price_includes_traders_pnl(
    clearinghouse, funded_pool, long_10, lp, usdc, weth_listed, owner
):
    assert clearinghouse.pool_balance() == 100_030_150_000
    assert funded_pool.totalAssets() == 100_030_000_000
    weth_listed.feed.set_answer(3_300 * 10**8, sender=owner)
    # value = 100,030.15 cash - 3,000 owed to the trader - 0.165 premium owed
    assert funded_pool.totalAssets() == 97_029_985_000
    s = clearinghouse.pool_state()
    assert (s.traders_pnl, s.traders_funding, s.premium_owed) == (3_000 * E18, 0, 165 * E18 // 1000)
    assert s.side_notional == 33_000 * E18
    # 100,000 shares * (97,029,985,000 + 1) / (100,000,000,000 + 1), rounded down
    assert funded_pool.previewRedeem(100_000 * USDC) == 97_029_985_000
    funded_pool.redeem(100_000 * USDC, lp, lp, sender=lp)
    assert usdc.balanceOf(lp) == 97_029_985_000
    # What is left is exactly the trader's gain plus the premium refund.
    assert clearinghouse.pool_balance() == 3_000_165_000


def test_withdrawals_keep_a_buffer_of_open_interest(
    clearinghouse, funded_pool, long_10, lp, weth_listed, owner
):
    clearinghouse.set_pool_buffer(E18 // 10, sender=owner)
    weth_listed.feed.set_answer(3_300 * 10**8, sender=owner)
    # required = 3,000 owed + 0.165 premium + 10 % of 33,000 notional = 6,300.165;
    # free = 100,030.15 - 6,300.165 = 93,729.985
    assert clearinghouse.pool_withdrawable() == 93_729_985_000
    assert funded_pool.maxWithdraw(lp) == 93_729_985_000
    with ape.reverts(errors.POOL_CANNOT_COVER):
        funded_pool.withdraw(93_729_985_001, lp, lp, sender=lp)
    funded_pool.withdraw(93_729_985_000, lp, lp, sender=lp)
    assert clearinghouse.pool_withdrawable() == 0


def test_donations_change_no_share_price(clearinghouse, funded_pool, usdc, fund, stranger):
    before = funded_pool.totalAssets()
    fund(usdc, stranger, 5_000 * USDC, stranger)
    usdc.transfer(funded_pool, 2_500 * USDC, sender=stranger)
    usdc.transfer(clearinghouse, 2_500 * USDC, sender=stranger)
    assert funded_pool.totalAssets() == before
    assert funded_pool.convertToAssets(USDC) == USDC


def test_pause_stops_deposits_and_withdrawals(
    funded_pool, clearinghouse, lp, usdc, fund, guardian, owner
):
    """Paused, no LP money moves either way (withdrawals wait for the
    liquidations: test_lps_cannot_leave_while_liquidations_are_stopped)."""
    clearinghouse.pause(sender=guardian)
    assert funded_pool.maxDeposit(lp) == funded_pool.maxMint(lp) == 0
    assert funded_pool.maxWithdraw(lp) == 0
    fund(usdc, lp, USDC, funded_pool)
    with ape.reverts(errors.PAUSED):
        funded_pool.deposit(USDC, lp, sender=lp)
    with ape.reverts(errors.PAUSED):
        funded_pool.withdraw(1_000 * USDC, lp, lp, sender=lp)
    clearinghouse.unpause(sender=owner)  # grace 0: at once
    funded_pool.withdraw(1_000 * USDC, lp, lp, sender=lp)
    assert usdc.balanceOf(lp) == 1_001 * USDC


def test_bad_deposits_and_withdrawals(
    funded_pool, clearinghouse, lp, stranger, usdc, fund, long_10
):
    with ape.reverts(errors.ZERO_AMOUNT):
        funded_pool.deposit(0, lp, sender=lp)
    # The pool earned fees: one share is now worth more than 1 unit, so a
    # 1-unit deposit would mint no share.
    assert funded_pool.convertToShares(1) == 0
    fund(usdc, stranger, 1, funded_pool)
    with ape.reverts(errors.BELOW_ONE_SHARE):
        funded_pool.deposit(1, stranger, sender=stranger)
    with ape.reverts(errors.INSUFFICIENT_SHARES):
        funded_pool.redeem(1, stranger, stranger, sender=stranger)
    with ape.reverts():  # snekmate: insufficient allowance
        funded_pool.redeem(1, stranger, lp, sender=stranger)


def test_only_the_pool_moves_pool_cash(clearinghouse, funded_pool, stranger, owner, project):
    with ape.reverts(errors.NOT_POOL):
        clearinghouse.pool_withdraw(1, stranger, sender=stranger)
    with ape.reverts(errors.NOT_POOL):
        clearinghouse.pool_deposit(1, sender=stranger)
    with ape.reverts(errors.POOL_ALREADY_SET):
        clearinghouse.set_pool(funded_pool, sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.set_pool_buffer(0, sender=stranger)
    with ape.reverts(errors.BUFFER_TOO_HIGH):
        clearinghouse.set_pool_buffer(E18 + 1, sender=owner)


def test_tokens_equal_the_ledgers(clearinghouse, funded_pool, long_10, trader, usdc):
    """USDC held == trader quote balances + pool cash, to the unit."""
    assert usdc.balanceOf(clearinghouse) == (
        clearinghouse.balance_of(trader, 0, usdc) + clearinghouse.pool_balance()
    )


def test_mint_rounds_in_the_vaults_favour(funded_pool, long_10, lp, usdc, fund):
    # value 100,030,000,000 units over 100,000,000,000 shares:
    # 1,000 shares cost ceil(1,000 * 100,030,000,001 / 100,000,000,001) = 1,001
    assert funded_pool.previewMint(1_000) == 1_001
    fund(usdc, lp, 1_001, funded_pool)
    tx = funded_pool.mint(1_000, lp, sender=lp)
    (event,) = tx.events.filter(funded_pool.Deposit)
    assert (event.assets, event.shares) == (1_001, 1_000)
    assert usdc.balanceOf(lp) == 0


def test_lp_cannot_take_refundable_premium(
    clearinghouse, pool, owner, lp, stranger, usdc, fund, weth_listed
):
    """Regression (review): an attacker grows the skew, paying a large
    premium into the pool, leaves the pool as an LP with a share of that
    premium, then unwinds the skew and is refunded in full. With the premium
    counted as owed until skew unwinds, the round trip loses the fees."""
    clearinghouse.list_market(
        params(weth_listed.token.address, skew_scale=10_000 * ETH, max_oi=1_000 * ETH),
        sender=owner,
    )
    allow_atomic(clearinghouse, owner)
    fund(usdc, lp, 1_000_000 * USDC, pool)
    pool.deposit(1_000_000 * USDC, lp, sender=lp)
    attacker = stranger
    start = 2_000_000 * USDC
    fund(usdc, attacker, start, pool)
    usdc.approve(clearinghouse, 1_000_000 * USDC, sender=attacker)
    pool.deposit(1_000_000 * USDC, attacker, sender=attacker)
    clearinghouse.deposit(0, usdc, 1_000_000 * USDC, sender=attacker)
    # 1,000 ETH long: premium 3000 * 1000^2 / 20,000 = $150,000, fee $3,000.
    clearinghouse.trade(0, 0, 1_000 * ETH, 2**200, sender=attacker)
    assert clearinghouse.pool_state().premium_owed == 150_000 * E18
    pool.redeem(pool.balanceOf(attacker), attacker, attacker, sender=attacker)
    clearinghouse.trade(0, 0, -1_000 * ETH, 0, sender=attacker)
    clearinghouse.withdraw(0, usdc, 2**256 - 1, sender=attacker)
    assert usdc.balanceOf(attacker) < start
    # The honest LP keeps at least its deposit (it earned the fees).
    assert pool.previewRedeem(pool.balanceOf(lp)) >= 1_000_000 * USDC


def test_deposits_stop_when_the_pool_has_no_value(
    clearinghouse, funded_pool, owner, lp, trader, usdc, fund, weth_listed
):
    """A new LP's money must not fill the hole of an insolvent pool."""
    clearinghouse.list_market(params(weth_listed.token.address), sender=owner)
    allow_atomic(clearinghouse, owner)
    fund(usdc, trader, 1_000_000 * USDC, clearinghouse)
    clearinghouse.deposit(0, usdc, 1_000_000 * USDC, sender=trader)
    clearinghouse.trade(0, 0, 1_000 * ETH, 2**200, sender=trader)
    weth_listed.feed.set_answer(3_200 * 10**8, sender=owner)  # trader up $200,000
    assert funded_pool.totalAssets() == 0
    assert funded_pool.maxDeposit(lp) == 0
    fund(usdc, lp, USDC, funded_pool)
    with ape.reverts(errors.POOL_NO_VALUE):
        funded_pool.deposit(USDC, lp, sender=lp)


def test_max_functions_return_zero_while_a_price_is_invalid(funded_pool, long_10, lp, chain, usdc):
    """ERC-4626: max* must not revert. With the ETH price stale the pool
    cannot be valued: they report 0 and the actions themselves revert."""
    assert funded_pool.maxRedeem(lp) > 0
    chain.mine(timestamp=chain.blocks.head.timestamp + 3_600 + 60)
    assert funded_pool.maxDeposit(lp) == 0
    assert funded_pool.maxMint(lp) == 0
    assert funded_pool.maxWithdraw(lp) == 0
    assert funded_pool.maxRedeem(lp) == 0
    with ape.reverts(errors.PRICE_STALE):
        funded_pool.totalAssets()
    with ape.reverts(errors.PRICE_STALE):
        funded_pool.redeem(USDC, lp, lp, sender=lp)


# ---------------------------------------------------------------- capital caps
#
# The standard test market on the 100,000 USDC pool. A long of x ETH from
# zero skew at $3,000 pays the taker fee 3 * x and the premium
# 3000 * x^2 / 2e6 (refundable, so not the pool's value): the pool's value
# after it is 100,000 + 3 * x, its net notional 3,000 * x.

BUY = 2**200


@pytest.fixture
def capped(clearinghouse, funded_pool, owner, trader, hedger, usdc, fund, weth_listed):
    """ETH-PERP listed and capped at reserve 30 %, profit 100 %; the trader
    and the hedger each hold 10,000 USDC."""
    ch = clearinghouse
    ch.list_market(params(weth_listed.token.address), sender=owner)
    allow_atomic(ch, owner)
    ch.set_market_caps(0, 3 * E18 // 10, E18, E18, sender=owner)
    for who in (trader, hedger):
        fund(usdc, who, 10_000 * USDC, ch)
        ch.deposit(0, usdc, 10_000 * USDC, sender=who)
    return ch


def test_reserve_cap_bounds_the_pools_net_exposure(capped, trader, hedger, weth_listed, owner):
    """10 ETH: net notional 30,000 <= 30 % of 100,030 = 30,009. 0.01 ETH
    more: 30,030 > 30 % of 100,030.03 = 30,009.009, refused. At $3,100 the
    market is over its cap (31,000 > 30 % of 100,030.15 - 1,000 - 0.155):
    what grows the skew is refused, what shrinks it (the hedger's short,
    the trader's own reduction) is not."""
    ch = capped
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    with ape.reverts(errors.RESERVE_CAP):
        ch.trade(0, 0, ETH // 100, BUY, sender=trader)
    assert ch.position(trader, 0, 0).size == 10 * ETH
    weth_listed.feed.set_answer(3_100 * 10**8, sender=owner)
    with ape.reverts(errors.RESERVE_CAP):
        ch.trade(0, 0, ETH // 1_000, BUY, sender=trader)
    ch.trade(0, 0, -ETH, 0, sender=hedger)
    ch.trade(0, 0, -ETH, 0, sender=trader)
    assert ch.position(trader, 0, 0).size == 9 * ETH
    # Skew 8 at $3,100: 24,800 is within 30 % of the value again.
    ch.trade(0, 0, ETH // 100, BUY, sender=trader)


def test_pnl_cap_stops_new_exposure_while_traders_win_big(
    capped, trader, hedger, weth_listed, owner
):
    """Reserve 100 %, profit 5 %. Long 10 ETH at $3,000, then $3,500:
    traders' net profit 5,000; value 100,030.15 - 5,000 - 0.175 premium =
    95,029.975, 5 % of it 4,751.49875: no new long by the hedger, but a
    short (it shrinks the skew) is taken. (The winner's own trade re-marks
    its position, realising the 5,000 and leaving no unrealised profit to
    cap: what a winner may realise is bounded by auto-deleveraging and the
    realisation cap, not by this check.)"""
    ch = capped
    ch.set_market_caps(0, E18, 5 * E18 // 100, 5 * E18 // 100, sender=owner)
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    weth_listed.feed.set_answer(3_500 * 10**8, sender=owner)
    s = ch.pool_state()
    assert (s.traders_pnl, s.value) == (5_000 * E18, 95_029_975 * 10**15)
    with ape.reverts(errors.PNL_CAP):
        ch.trade(0, 0, ETH // 100, BUY, sender=hedger)
    ch.trade(0, 0, -ETH, 0, sender=hedger)
    assert ch.position(hedger, 0, 0).size == -ETH


def test_total_reserve_caps_every_market_together(capped, trader, owner, wbtc_listed, stranger):
    """Both markets at reserve 30 %, all together at 40 %. Long 10 ETH
    (30,000). A BTC long of 0.2 ($12,000, fee 12) would make 42,000 > 40 %
    of 100,042 = 40,016.8; 0.16 BTC ($9,600, fee 9.6) makes 39,600 <=
    40,015.84."""
    ch = capped
    ch.list_market(params(wbtc_listed.token.address), sender=owner)
    allow_atomic(ch, owner)
    ch.set_market_caps(1, 3 * E18 // 10, E18, E18, sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        ch.set_total_reserve_factor(4 * E18 // 10, sender=stranger)
    tx = ch.set_total_reserve_factor(4 * E18 // 10, sender=owner)
    assert [e.factor for e in tx.events.filter(ch.TotalReserveFactorSet)] == [4 * E18 // 10]
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    with ape.reverts(errors.TOTAL_RESERVE_CAP):
        ch.trade(0, 1, 2 * ETH // 10, BUY, sender=trader)
    ch.trade(0, 1, 16 * ETH // 100, BUY, sender=trader)
    assert ch.pool_state().net_notional == 39_600 * E18


def test_withdrawals_keep_the_value_the_caps_need(capped, funded_pool, trader, lp):
    """Long 10 ETH under a 30 % reserve needs a value of 30,000 / 0.3 =
    100,000; the pool is worth 100,030 (cash 100,030.15 less the 0.15
    premium it owes), so an LP may take 30 USDC and no more."""
    ch = capped
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    s = ch.pool_state()
    assert (s.net_notional, s.min_value, s.value) == (30_000 * E18, 100_000 * E18, 100_030 * E18)
    assert ch.pool_withdrawable() == funded_pool.maxWithdraw(lp) == 30 * USDC
    with ape.reverts(errors.CAPS_NEED_VALUE):
        funded_pool.withdraw(30 * USDC + 1, lp, lp, sender=lp)
    funded_pool.withdraw(30 * USDC, lp, lp, sender=lp)
    assert ch.pool_withdrawable() == 0


def test_a_hedged_pair_needs_no_cash_but_counts_against_the_reserve(
    capped, funded_pool, trader, hedger, stranger, lp, usdc, fund, owner
):
    """Buffer 10 %, reserve 200 %. The pair builds 50 ETH long and 50 ETH
    short in 10 ETH steps (each long pays taker 30 and premium 0.15, each
    short maker 15 and gets the 0.15 back): net skew 0, cash 100,225. No
    price risk now, so the pool keeps no cash for it (the old rule, 10 % of
    300,000 gross, kept 30,000). But either leg may close at any time (a
    reduction is never refused), so the reserve counts the larger side:
    150,000 needs a value of 75,000, and an LP may take 25,225."""
    ch = capped
    ch.set_pool_buffer(E18 // 10, sender=owner)
    ch.set_market_caps(0, 2 * E18, E18, E18, sender=owner)
    for who in (trader, hedger):  # IM of 50 ETH: 15,007.5
        fund(usdc, who, 10_000 * USDC, ch)
        ch.deposit(0, usdc, 10_000 * USDC, sender=who)
    for _ in range(5):
        ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
        ch.trade(0, 0, -10 * ETH, 0, sender=hedger)
    s = ch.pool_state()
    assert (s.side_notional, s.net_notional, s.required) == (150_000 * E18, 0, 0)
    assert (s.value, s.min_value) == (100_225 * E18, 75_000 * E18)
    assert ch.pool_withdrawable() == funded_pool.maxWithdraw(lp) == 25_225 * USDC
    fund(usdc, stranger, 1_000 * USDC, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=stranger)
    ch.trade(0, 0, ETH, BUY, sender=stranger)
    assert ch.position(stranger, 0, 0).size == ETH


def test_a_hedged_pair_cannot_walk_past_the_reserve(capped, trader, hedger, usdc, fund):
    """The attack an outside review found on a reserve of net notional:
    alternate long 10 / short 10 (net 0 after each pair), then close the
    short leg, which no cap may refuse, and hold +100 ETH ($300,000) on a
    100,000 pool capped at 30 %. The reserve counts the larger side, so
    the second long (side 20 ETH, $60,000 > 30 % of 100,075.0) is refused,
    and closing the short leaves 10 ETH ($30,000) within the cap."""
    ch = capped
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    ch.trade(0, 0, -10 * ETH, 0, sender=hedger)
    with ape.reverts(errors.RESERVE_CAP):
        ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    ch.trade(0, 0, 10 * ETH, BUY, sender=hedger)  # the short leg closes
    s = ch.pool_state()
    assert (s.net_notional, s.side_notional) == (30_000 * E18, 30_000 * E18)
    assert s.side_notional <= s.value * 3 // 10


def test_lps_cannot_leave_while_liquidations_are_stopped(
    capped, funded_pool, trader, lp, guardian, owner, weth_listed, chain
):
    """Paused, ETH falls to $1,500: the long 10 ETH account is under water
    (E < 0), and the pool's value counts its loss as the pool's gain until
    a liquidation writes the deficit off. So no LP leaves while
    liquidations are stopped (paused, then the 10-minute grace): the first
    out would leave the bad debt to the others (an outside review's
    finding). Deposits stop while paused, as before."""
    ch = capped
    ch.set_liquidation_grace(600, sender=owner)
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    ch.pause(sender=guardian)
    weth_listed.feed.set_answer(1_500 * 10**8, sender=owner)
    assert ch.pool_withdrawable() == funded_pool.maxWithdraw(lp) == 0
    with ape.reverts(errors.PAUSED):
        funded_pool.withdraw(USDC, lp, lp, sender=lp)
    tx = ch.unpause(sender=owner)
    resume = chain.blocks[tx.block_number].timestamp + 600
    assert ch.pool_withdrawable() == 0
    with ape.reverts(errors.IN_GRACE):
        funded_pool.withdraw(USDC, lp, lp, sender=lp)
    chain.pending_timestamp = resume
    weth_listed.feed.set_answer(1_500 * 10**8, sender=owner)  # fresh round
    funded_pool.withdraw(USDC, lp, lp, sender=lp)


def test_caps_are_bounded_and_owner_only(capped, owner, stranger):
    ch = capped
    with ape.reverts(errors.NOT_OWNER):
        ch.set_market_caps(0, E18, E18, E18, sender=stranger)
    with ape.reverts(errors.UNKNOWN_MARKET):
        ch.set_market_caps(1, E18, E18, E18, sender=owner)
    for reserve, pnl, target, reason in (
        (0, E18, E18, errors.RESERVE_FACTOR_RANGE),
        (2 * E18 + 1, E18, E18, errors.RESERVE_FACTOR_RANGE),
        (E18, 0, 0, errors.PNL_FACTOR_RANGE),
        (E18, E18 + 1, E18, errors.PNL_FACTOR_RANGE),
        # ADL brings profit back to a target at or under the cap, never 0
        (E18, E18 // 2, 0, errors.ADL_TARGET_RANGE),
        (E18, E18 // 2, E18 // 2 + 1, errors.ADL_TARGET_RANGE),
    ):
        with ape.reverts(reason):
            ch.set_market_caps(0, reserve, pnl, target, sender=owner)
    for factor in (0, 2 * E18 + 1):
        with ape.reverts(errors.RESERVE_FACTOR_RANGE):
            ch.set_total_reserve_factor(factor, sender=owner)
    assert tuple(ch.market_caps(0)) == (3 * E18 // 10, E18, E18)
    assert ch.total_reserve_factor() == 0
    tx = ch.set_market_caps(0, 2 * E18, E18 // 2, E18 // 4, sender=owner)
    (ev,) = tx.events.filter(ch.MarketCapsSet)
    assert (ev.market_id, ev.reserve_factor, ev.max_pnl_factor, ev.adl_target_factor) == (
        0,
        2 * E18,
        E18 // 2,
        E18 // 4,
    )
    assert tuple(ch.market_caps(0)) == (2 * E18, E18 // 2, E18 // 4)


# ---------------------------------------------------------------- auto-deleveraging
#
# Reserve 100 %, profit cap 5 %, ADL target 2 % on the 100,000 USDC pool.
# The trader goes long 10 ETH at $3,000 (fee 30, premium 0.15: cash
# 100,030.15); at $3,600 it is up 6,000 and the pool owes a premium refund
# of 3,600 * 10^2 / 2e6 = 0.18, so the value is 100,030.15 - 6,000 - 0.18 =
# 94,029.97: limit 5 % = 4,701.4985, target 2 % = 1,880.5994.

P3600 = 3_600 * 10**8


def adl_closed(ch, who, max_size: int, caller) -> int:
    """ADLs `who`'s ETH position; the size closed (from the event)."""
    (ev,) = ch.adl(who, 0, 0, max_size, sender=caller).events.filter(ch.AutoDeleverage)
    return abs(ev.size_delta)


@pytest.fixture
def adl_ready(capped, owner, trader, weth_listed):
    ch = capped
    ch.set_market_caps(0, E18, 5 * E18 // 100, 2 * E18 // 100, sender=owner)
    ch.trade(0, 0, 10 * ETH, BUY, sender=trader)
    return ch


def test_adl_closes_the_least_size_that_brings_profit_to_the_target(
    adl_ready, trader, keeper, owner, weth_listed
):
    """Excess 6,000 - 1,880.5994 = 4,119.4006; the position earns 600 per
    ETH, so the engine closes x = ceil(4,119.4006 / 600 ETH) =
    6.865667666666666667 ETH as a reducing trade would: that part's profit
    4,119.4006, less the maker fee 0.05 % * x * 3,600 = 12.3582018, plus
    the skew premium refund x * 3,600 * (20 - x) / 2e6 = 0.16231672948:
    4,107.204714 USDC. The rest keeps its $3,000 entry, and the market's
    profit is the target."""
    ch = adl_ready
    weth_listed.feed.set_answer(P3600, sender=owner)
    a = ch.adl_state(0)
    assert (a.profit, a.value) == (6_000 * E18, 94_029_970 * 10**15)
    assert (a.limit, a.target) == (4_701_498_500 * 10**12, 1_880_599_400 * 10**12)
    quote_before = ch.balance_of(trader, 0, ch.quote_asset())
    cash_before = ch.pool_balance()
    closed = 6_865_667_666_666_666_667
    tx = ch.adl(trader, 0, 0, 10 * ETH, sender=keeper)
    (ev,) = tx.events.filter(ch.AutoDeleverage)
    assert (ev.owner, ev.sub_id, ev.market_id, ev.caller) == (trader, 0, 0, keeper)
    assert (ev.size_delta, ev.new_size, ev.price) == (-closed, 10 * ETH - closed, 3_600 * E18)
    assert (ev.pnl, ev.funding) == (closed * 600, 0)
    adj = perps.fill_adjustment(10 * ETH, -closed, 3_600 * E18, ETH_MARKET.skew_scale)
    assert ev.premium == perps.premium(-closed, adj) == -162_316_729_483_598_193
    assert ev.fee == -(-closed * 3_600 * 5 // 10_000) == 12_358_201_800_000_000_001
    assert ev.quote_delta == 4_107_204_714
    assert (ev.profit_before, ev.value) == (6_000 * E18, 94_029_970 * 10**15)
    assert ch.balance_of(trader, 0, ch.quote_asset()) == quote_before + 4_107_204_714
    assert ch.pool_balance() == cash_before - 4_107_204_714
    pos = ch.position(trader, 0, 0)
    assert (pos.size, pos.entry_price) == (10 * ETH - closed, 3_000 * E18)
    # The rest's profit: 3.134332333333333333 ETH * 600, at the target.
    a = ch.adl_state(0)
    assert a.profit == (10 * ETH - closed) * 600 <= a.target
    with ape.reverts(errors.ADL_NOT_NEEDED):
        ch.adl(trader, 0, 0, 10 * ETH, sender=keeper)


def test_adl_closes_winners_whole_until_the_target_and_obeys_max_size(
    adl_ready, trader, hedger, keeper, owner, weth_listed, stranger
):
    """The hedger adds 2 ETH long (fee 6, premium 3000 * (10 + 1) * 2 / 1e6
    = 0.066: cash 100,036.216). At $3,600 the market's profit is 7,200,
    far above 5 % of the value: an ADL capped at 1 ETH closes 1 ETH of the
    hedger and pays it 600 - 1.8 maker fee + 3,600 * 23 / 2e6 premium
    refund = 598.2414; then the hedger's whole remaining 1 ETH (600 < the
    excess; 598.2378 at skew 11); then the part of the trader's that
    reaches the target."""
    ch = adl_ready
    ch.trade(0, 0, 2 * ETH, BUY, sender=hedger)
    weth_listed.feed.set_answer(P3600, sender=owner)
    assert ch.adl_state(0).profit == 7_200 * E18
    assert adl_closed(ch, hedger, ETH, stranger) == ETH
    assert ch.position(hedger, 0, 0).size == ETH
    assert adl_closed(ch, hedger, 10 * ETH, stranger) == ETH
    assert ch.position(hedger, 0, 0).size == 0
    assert ch.position_mask(hedger, 0) == 0
    # cash 100,036.216 - 1,196.4792 paid, premium owed 0.18 at skew 10:
    # value 92,839.5568, target 1,856.791136, excess 4,143.208864 over 600
    # per ETH.
    a = ch.adl_state(0)
    assert (a.profit, a.value) == (6_000 * E18, 92_839_556_800 * 10**12)
    assert a.target == 1_856_791_136 * 10**12
    closed = adl_closed(ch, trader, 10 * ETH, stranger)
    assert closed == 6_905_348_106_666_666_667
    assert ch.adl_state(0).profit == (10 * ETH - closed) * 600 <= a.target


def test_adl_refuses_what_it_must_not_close(
    adl_ready, trader, hedger, keeper, owner, weth_listed, wbtc_listed, guardian, chain, stranger
):
    """Each a clear revert, nothing closed: within the cap, a losing
    position, the account itself or its operator, an uncapped market, no
    position, zero size, an unknown market, paused, in the grace period, a
    stale price."""
    ch = adl_ready
    ch.trade(0, 0, -ETH, 0, sender=hedger)  # a short: it loses as ETH rises
    weth_listed.feed.set_answer(3_300 * 10**8, sender=owner)
    # profit 3,000 - 300 = 2,700 within 5 % of ~97,030
    with ape.reverts(errors.ADL_NOT_NEEDED):
        ch.adl(trader, 0, 0, ETH, sender=keeper)
    weth_listed.feed.set_answer(P3600, sender=owner)
    with ape.reverts(errors.ADL_NOT_IN_PROFIT):
        ch.adl(hedger, 0, 0, ETH, sender=keeper)
    with ape.reverts(errors.ADL_SELF):
        ch.adl(trader, 0, 0, ETH, sender=trader)
    ch.set_operator(0, stranger, True, sender=trader)
    with ape.reverts(errors.ADL_SELF):
        ch.adl(trader, 0, 0, ETH, sender=stranger)
    ch.list_market(params(wbtc_listed.token.address), sender=owner)
    allow_atomic(ch, owner)
    with ape.reverts(errors.ADL_NOT_SET):
        ch.adl(trader, 0, 1, ETH, sender=keeper)
    with ape.reverts(errors.NO_POSITION):
        ch.adl(keeper, 0, 0, ETH, sender=trader)
    with ape.reverts(errors.ZERO_SIZE):
        ch.adl(trader, 0, 0, 0, sender=keeper)
    with ape.reverts(errors.UNKNOWN_MARKET):
        ch.adl(trader, 0, 2, ETH, sender=keeper)
    ch.set_liquidation_grace(600, sender=owner)
    ch.pause(sender=guardian)
    with ape.reverts(errors.PAUSED):
        ch.adl(trader, 0, 0, ETH, sender=keeper)
    tx = ch.unpause(sender=owner)
    with ape.reverts(errors.IN_GRACE):
        ch.adl(trader, 0, 0, ETH, sender=keeper)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + 600 + HEARTBEAT
    with ape.reverts(errors.PRICE_STALE):
        ch.adl(trader, 0, 0, ETH, sender=keeper)
    assert ch.position(trader, 0, 0).size == 10 * ETH
    assert ch.position(hedger, 0, 0).size == -ETH
    weth_listed.feed.set_answer(P3600, sender=owner)  # a fresh round: it runs
    ch.adl(trader, 0, 0, ETH, sender=keeper)
    assert ch.position(trader, 0, 0).size == 9 * ETH


@pytest.fixture
def thin(clearinghouse, funded_pool, owner, trader, hedger, usdc, fund, weth_listed):
    """ETH-PERP with a thin skew scale (1,000 ETH: the premium matters) and
    funding on, capped at reserve 100 %, profit 5 %, ADL target 2 %."""
    ch = clearinghouse
    market = params(
        weth_listed.token.address,
        skew_scale=1_000 * ETH,
        max_funding_velocity=E18,
        max_funding_rate=E18 // 10,
    )
    ch.list_market(market, sender=owner)
    allow_atomic(ch, owner)
    ch.set_market_caps(0, E18, 5 * E18 // 100, 2 * E18 // 100, sender=owner)
    for who, amount in ((trader, 30_000), (hedger, 20_000)):
        fund(usdc, who, amount * USDC, ch)
        ch.deposit(0, usdc, amount * USDC, sender=who)
    return ch


def test_adl_never_closes_against_the_skew(
    thin, trader, hedger, stranger, owner, weth_listed, chain
):
    """An outside review's attack: the market is over its profit cap (a
    long 30 ETH at $3,300); the attacker shorts 30 ETH into the long skew
    (paid the skew premium, 1,485), waits for a few cents of funding to put
    the short in profit, and has a second address ADL it. A close that
    grows |skew| at no premium left the refund the pool owes unfunded:
    4,306.56 USDC out of the pool in three rounds. ADL now takes only the
    side the skew is on (and charges a trade's premium and fee)."""
    ch = thin
    ch.trade(0, 0, 30 * ETH, BUY, sender=trader)
    chain.mine(timestamp=chain.blocks.head.timestamp + 3_600)
    weth_listed.feed.set_answer(3_300 * 10**8, sender=owner)
    a = ch.adl_state(0)
    assert a.profit > a.limit
    ch.trade(0, 0, -30 * ETH, 0, sender=hedger)
    chain.mine(timestamp=chain.blocks.head.timestamp + 12)
    assert ch.position(hedger, 0, 0).size == -30 * ETH
    with ape.reverts(errors.ADL_WRONG_SIDE):
        ch.adl(hedger, 0, 0, 30 * ETH, sender=stranger)


def test_self_adl_through_a_second_address_is_no_cheaper_than_a_trade(
    adl_ready, trader, stranger, owner, weth_listed, chain
):
    """The other finding: ADL at no fee let a winner exit through a second
    address 12.20 USDC cheaper than a trade of the same size. ADL now
    charges what the trade would: the two differ only by the rounding of
    the quote credit (the trade also realises the rest, at 600 per ETH)."""
    ch = adl_ready
    weth_listed.feed.set_answer(P3600, sender=owner)
    q = ch.quote_asset()
    snap = chain.snapshot()
    before = ch.balance_of(trader, 0, q)
    closed = adl_closed(ch, trader, 10 * ETH, stranger)
    via_adl = ch.balance_of(trader, 0, q) - before
    chain.restore(snap)
    ch.trade(0, 0, -closed, 0, sender=trader)
    rest = (10 * ETH - closed) * 600 // 10**12  # the remainder's profit, native units
    via_trade = ch.balance_of(trader, 0, q) - before - rest
    assert abs(via_adl - via_trade) <= 1
