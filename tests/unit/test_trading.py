"""Perpetual trades: fills, fees, settlement, margin rules, bad input.

Every expected number is worked out by hand in the comments (ETH at $3,000,
skew scale 1,000,000 ETH, taker 0.1 %, maker 0.05 %, IMR 10 % + |size|/K,
MMR 5 % + |size|/(2K), funding off so that time does not move PnL here;
funding has its own tests).
"""

from __future__ import annotations

from dataclasses import replace

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.markets import E18, ETH, ETH_MARKET, P3000, USDC, allow_atomic, params
from xmargin.maths import errors, perps


def quote(ch, who, usdc, sub_id=0) -> int:
    return ch.balance_of(who, sub_id, usdc)


def test_open_long_fill_fee_and_health(clearinghouse, market, trader, usdc, deposit_usdc):
    deposit_usdc(trader, 10_000)
    # fill = 3000 * (1 + (0 + 1) / (2 * 1e6)) = 3000.0015
    tx = clearinghouse.trade(0, market, ETH, 3_000_0015 * E18 // 10_000, sender=trader)
    fill = 3_000_001_500_000_000_000_000
    # premium 1 * 0.0015 = $0.0015; taker fee 0.1 % of $3,000 = $3
    # quote: -(3 + 0.0015) USD = -3_001_500 native (6 decimals)
    assert quote(clearinghouse, trader, usdc) == 10_000 * USDC - 3_001_500
    assert clearinghouse.pool_balance() == 3_001_500
    assert tuple(clearinghouse.position(trader, 0, market)) == (ETH, P3000, 0)
    assert clearinghouse.position_mask(trader, 0) == 1
    s = clearinghouse.market_state(market)
    assert (s.skew, s.long_oi, s.short_oi, s.entry_sum) == (ETH, ETH, 0, ETH * P3000)
    # equity = 9,996.9985; IM = 3,000 * (0.1 + 1e-6) = 300.003;
    # MM = 3,000 * (0.05 + 0.5e-6) = 150.0015
    assert tuple(clearinghouse.account_health(trader, 0)) == (
        9_996_998_500 * 10**12,
        300_003 * 10**15,
        1_500_015 * 10**14,
    )
    (event,) = tx.events.filter(clearinghouse.Trade)
    assert (event.fill_price, event.premium, event.fee, event.quote_delta) == (
        fill,
        15 * 10**14,
        3 * E18,
        -3_001_500,
    )


def test_close_in_profit_settles_against_the_pool(
    clearinghouse, market, trader, usdc, deposit_usdc, eth_feed, owner
):
    deposit_usdc(trader, 10_000)
    clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    eth_feed.set_answer(3_300 * 10**8, sender=owner)
    # Selling into long skew reduces it: fill above the oracle,
    # 3300 * (1 + (1 + 0) / 2e6) = 3300.00165; the trader receives
    # 1 * 0.00165 = $0.00165 of premium and pays the maker fee, 0.05 % of
    # $3,300 = $1.65; realised PnL 1 * (3,300 - 3,000) = $300.
    clearinghouse.trade(0, market, -ETH, 3_300 * E18, sender=trader)
    # 300 + 0.00165 - 1.65 = 298.35165 -> +298_351_650
    assert quote(clearinghouse, trader, usdc) == 10_000 * USDC - 3_001_500 + 298_351_650
    # The pool took the fees and premium and paid the profit: zero-sum.
    assert clearinghouse.pool_balance() == 3_001_500 - 298_351_650
    assert quote(clearinghouse, trader, usdc) - 10_000 * USDC + clearinghouse.pool_balance() == 0
    assert tuple(clearinghouse.position(trader, 0, market)) == (0, 0, 0)
    assert clearinghouse.position_mask(trader, 0) == 0
    s = clearinghouse.market_state(market)
    assert (s.skew, s.long_oi, s.short_oi, s.entry_sum, s.funding_sum) == (0, 0, 0, 0, 0)
    assert tuple(clearinghouse.account_health(trader, 0)) == (10_295_350_150 * 10**12, 0, 0)


def test_skew_premium_and_maker_taker_split(
    clearinghouse, market, trader, hedger, usdc, deposit_usdc
):
    deposit_usdc(trader, 100_000)
    deposit_usdc(hedger, 100_000)
    clearinghouse.trade(0, market, 10 * ETH, 2 * P3000, sender=trader)
    # Hedger sells 15 into +10 skew: the 10 that reduce skew pay maker
    # (10 * 3000 * 0.05 % = $15), the 5 beyond pay taker (5 * 3000 * 0.1 % = $15).
    # fill = 3000 * (1 + (2 * 10 - 15) / 2e6) = 3000.0075 > oracle;
    # premium = -15 * 0.0075 = -$0.1125 (received).
    tx = clearinghouse.trade(0, market, -15 * ETH, 3_000 * E18, sender=hedger)
    (event,) = tx.events.filter(clearinghouse.Trade)
    assert event.fill_price == 3_000_007_500_000_000_000_000
    assert event.premium == -1125 * 10**14
    assert event.fee == 30 * E18
    # -30 + 0.1125 = -29.8875 -> -29_887_500
    assert event.quote_delta == -29_887_500
    assert quote(clearinghouse, hedger, usdc) == 100_000 * USDC - 29_887_500
    s = clearinghouse.market_state(market)
    assert (s.skew, s.long_oi, s.short_oi) == (-5 * ETH, 10 * ETH, 15 * ETH)


def test_acceptable_price_guards_both_sides(
    clearinghouse, market, trader, usdc, deposit_usdc, snapshot_balances
):
    deposit_usdc(trader, 10_000)
    fill = 3_000_001_500_000_000_000_000
    before = snapshot_balances(clearinghouse, [usdc], [trader])
    with ape.reverts(errors.FILL_ABOVE_LIMIT):
        clearinghouse.trade(0, market, ETH, fill - 1, sender=trader)
    assert snapshot_balances(clearinghouse, [usdc], [trader]) == before
    assert clearinghouse.position(trader, 0, market).size == 0
    clearinghouse.trade(0, market, ETH, fill, sender=trader)
    # Selling 1 back at skew +1: fill = 3000 * (1 + 1 / 2e6) = 3000.0015.
    with ape.reverts(errors.FILL_BELOW_LIMIT):
        clearinghouse.trade(0, market, -ETH, fill + 1, sender=trader)
    clearinghouse.trade(0, market, -ETH, fill, sender=trader)


def test_open_below_initial_margin_reverts(
    clearinghouse, market, trader, usdc, deposit_usdc, snapshot_balances
):
    deposit_usdc(trader, 1_000)
    # 3.5 ETH: IM = 10,500 * (0.1 + 3.5e-6) = 1,050.04 > equity ~ 989.5
    before = snapshot_balances(clearinghouse, [usdc], [trader])
    with ape.reverts(errors.BELOW_IM):
        clearinghouse.trade(0, market, 35 * ETH // 10, 2 * P3000, sender=trader)
    assert snapshot_balances(clearinghouse, [usdc], [trader]) == before
    assert clearinghouse.pool_balance() == 0
    # 3 ETH: IM = 9,000 * (0.1 + 3e-6) = 900.027 <= equity 1,000 - 9.0045
    clearinghouse.trade(0, market, 3 * ETH, 2 * P3000, sender=trader)


def test_reducing_is_allowed_below_initial_margin(
    clearinghouse, market, trader, usdc, deposit_usdc, eth_feed, owner
):
    deposit_usdc(trader, 1_000)
    clearinghouse.trade(0, market, 3 * ETH, 2 * P3000, sender=trader)
    eth_feed.set_answer(2_800 * 10**8, sender=owner)
    # equity = 1,000 - 9.0045 - 600 = 390.9955 < IM = 8,400 * 0.100003 = 840.03
    h = clearinghouse.account_health(trader, 0)
    assert h.equity < h.im
    with ape.reverts(errors.BELOW_IM):
        clearinghouse.trade(0, market, ETH // 10, 2 * P3000, sender=trader)
    with ape.reverts(errors.BELOW_IM):
        clearinghouse.withdraw(0, usdc, 1, sender=trader)
    # De-risking is always possible.
    clearinghouse.trade(0, market, -ETH, 0, sender=trader)
    assert clearinghouse.position(trader, 0, market).size == 2 * ETH


def test_flip_long_to_short_in_one_trade(clearinghouse, market, trader, deposit_usdc):
    deposit_usdc(trader, 10_000)
    clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    clearinghouse.trade(0, market, -3 * ETH, 0, sender=trader)
    assert clearinghouse.position(trader, 0, market).size == -2 * ETH
    s = clearinghouse.market_state(market)
    assert (s.skew, s.long_oi, s.short_oi) == (-2 * ETH, 0, 2 * ETH)


def test_flip_is_risk_increasing(clearinghouse, market, trader, deposit_usdc, owner):
    deposit_usdc(trader, 10_000)
    clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    clearinghouse.pause(sender=owner)
    with ape.reverts(errors.PAUSED):
        clearinghouse.trade(0, market, -2 * ETH, 0, sender=trader)


def test_pause_and_closed_market_allow_only_reduction(
    clearinghouse, market, trader, deposit_usdc, guardian, owner
):
    deposit_usdc(trader, 10_000)
    clearinghouse.trade(0, market, 2 * ETH, 2 * P3000, sender=trader)
    clearinghouse.pause(sender=guardian)
    with ape.reverts(errors.PAUSED):
        clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    clearinghouse.trade(0, market, -ETH // 2, 0, sender=trader)
    clearinghouse.unpause(sender=owner)
    clearinghouse.set_market_closed(market, True, sender=owner)
    with ape.reverts(errors.MARKET_CLOSED):
        clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    clearinghouse.trade(0, market, -ETH // 2, 0, sender=trader)
    assert clearinghouse.position(trader, 0, market).size == ETH


def test_open_interest_cap(clearinghouse, market, trader, deposit_usdc, owner, weth):
    deposit_usdc(trader, 10_000)
    clearinghouse.trade(0, market, 2 * ETH, 2 * P3000, sender=trader)
    clearinghouse.set_market_params(market, params(weth.address, max_oi=2 * ETH), sender=owner)
    with ape.reverts(errors.OI_CAP):
        clearinghouse.trade(0, market, 1, 2 * P3000, sender=trader)
    # Above a lowered cap, reductions still go through.
    clearinghouse.set_market_params(market, params(weth.address, max_oi=ETH), sender=owner)
    clearinghouse.trade(0, market, -ETH // 2, 0, sender=trader)
    # Shorts have their own cap.
    with ape.reverts(errors.OI_CAP):
        clearinghouse.trade(0, market, -3 * ETH, 0, sender=trader)


@pytest.mark.parametrize(
    ("market_id", "size", "reason"),
    [
        (7, ETH, errors.UNKNOWN_MARKET),
        (0, 0, errors.ZERO_SIZE),
        (0, 2**96 + 1, errors.SIZE_TOO_LARGE),
        (0, -(2**96) - 1, errors.SIZE_TOO_LARGE),
    ],
)
def test_bad_trades_revert(clearinghouse, market, trader, deposit_usdc, market_id, size, reason):
    deposit_usdc(trader, 10_000)
    with ape.reverts(reason):
        clearinghouse.trade(0, market_id, size, 2**200, sender=trader)


def test_stale_price_blocks_trading_and_health(clearinghouse, market, trader, deposit_usdc, chain):
    deposit_usdc(trader, 10_000)
    clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    chain.mine(timestamp=chain.blocks.head.timestamp + 3_600 + 60)
    with ape.reverts(errors.PRICE_STALE):
        clearinghouse.trade(0, market, -ETH, 0, sender=trader)
    with ape.reverts(errors.PRICE_STALE):
        clearinghouse.account_health(trader, 0)


def test_sub_accounts_are_isolated(
    clearinghouse, market, trader, usdc, deposit_usdc, eth_feed, owner
):
    deposit_usdc(trader, 10_000, sub_id=0)
    deposit_usdc(trader, 1_000, sub_id=1)
    clearinghouse.trade(1, market, 3 * ETH, 2 * P3000, sender=trader)
    before = tuple(clearinghouse.account_health(trader, 0))
    eth_feed.set_answer(2_700 * 10**8, sender=owner)
    # Sub-account 1 is under water (-900 PnL on 991 equity); sub 0 is untouched.
    assert clearinghouse.account_health(trader, 1).equity < 100 * E18
    assert tuple(clearinghouse.account_health(trader, 0)) == before == (10_000 * E18, 0, 0)
    assert quote(clearinghouse, trader, usdc, 0) == 10_000 * USDC


def test_cross_margin_collateral_backs_positions(
    clearinghouse, market, trader, weth, fund, deposit_usdc
):
    """WETH collateral alone (no USDC) backs a BTC-free ETH perp: 1 WETH at
    $3,000 with a 10 % MM haircut is $2,700 of equity."""
    fund(weth, trader, ETH, clearinghouse)
    clearinghouse.deposit(0, weth, ETH, sender=trader)
    clearinghouse.trade(0, market, 5 * ETH, 2 * P3000, sender=trader)
    h = clearinghouse.account_health(trader, 0)
    # The trade costs fees and premium in quote: a quote debt, backed by WETH.
    assert clearinghouse.balance_of(trader, 0, clearinghouse.quote_asset()) < 0
    assert h.equity > h.im


# ---------------------------------------------------------------- listing


def test_list_market_is_owner_only_and_checked(clearinghouse, owner, stranger, weth, project):
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.list_market(params(weth.address), sender=stranger)
    unpriced = owner.deploy(project.MockERC20, "N", "N", 18)
    with ape.reverts(errors.NO_FEED):
        clearinghouse.list_market(params(unpriced.address), sender=owner)
    tx = clearinghouse.list_market(params(weth.address), sender=owner)
    allow_atomic(clearinghouse, owner)
    assert clearinghouse.num_markets() == 1
    (event,) = tx.events.filter(clearinghouse.MarketListed)
    assert event.market_id == 0
    assert tuple(clearinghouse.market_params(0)) == params(weth.address)


def test_thirty_two_markets_and_a_health_check_over_twenty_positions(
    clearinghouse, owner, trader, usdc, deposit_usdc, make_token, make_feed, oracle
):
    """MAX_MARKETS is 32: the 33rd listing is refused, and one account's
    health over 20 open positions in 4 feeds equals the model's sum, computed
    from the known prices, sizes and fees (not read back from the chain)."""
    prices_usd = (3_000, 100, 10, 5)  # sizes stay under the 1,000-unit OI cap
    tokens, feeds = [], []
    for usd in prices_usd:
        tokens.append(make_token(18, "SYN"))
        feeds.append(make_feed(usd))
        oracle.set_feed(tokens[-1], feeds[-1], 3_600, 10**12, 10**24, sender=owner)
    for m in range(32):
        clearinghouse.list_market(params(tokens[m % 4].address), sender=owner)
        allow_atomic(clearinghouse, owner)
    with ape.reverts(errors.TOO_MANY_MARKETS):
        clearinghouse.list_market(params(tokens[0].address), sender=owner)
    assert clearinghouse.num_markets() == 32

    deposit_usdc(trader, 50_000)
    market = replace(ETH_MARKET, asset="")
    quote = 50_000 * USDC  # native units
    positions = []
    for m in range(20):
        price = prices_usd[m % 4] * E18
        # Longs and shorts of about $1,000 to $4,000 notional.
        size = (1_000 + 150 * m) * E18 * E18 // price * (1 if m % 3 else -1)
        limit = 2**255 if size > 0 else 0
        clearinghouse.trade(0, m, size, limit, sender=trader)
        t = perps.trade(perps.MarketState(), market, perps.Position(), size, price, 0, 10**12)
        # Each market starts flat: the fill pays its premium and taker fee,
        # rounded to native units against the trader.
        quote += t.quote_delta
        positions.append(perps.Position(size, price, 0))
    assert clearinghouse.position_mask(trader, 0) == 2**20 - 1
    # ETH +5 %, the $100 asset -10 %, the others unchanged.
    moved = (3_150 * E18, 90 * E18, 10 * E18, 5 * E18)
    feeds[0].set_answer(3_150 * 10**8, sender=owner)
    feeds[1].set_answer(90 * 10**8, sender=owner)
    total = sum(
        (perps.risk(pos, market, moved[m % 4], 0) for m, pos in enumerate(positions)),
        perps.PositionRisk(),
    )
    expected = (quote * 10**12 + total.pnl - total.funding, total.im, total.mm)
    assert tuple(clearinghouse.account_health(trader, 0)) == expected


def test_market_params_at_their_bounds_read_back_unchanged(clearinghouse, owner, weth):
    """The parameters are packed into four words: each field at the largest
    value the checks allow (and every field distinct) round-trips."""
    top = params(
        weth.address,
        imr_base=E18,
        mmr_base=E18 - 1,
        im_size_scalar=10 * E18,
        mm_size_scalar=10 * E18 - 1,
        skew_scale=2**96,
        taker_fee=10**17,
        maker_fee=10**17 - 1,
        max_oi=2**96 - 1,
        max_funding_velocity=10 * E18,
        max_funding_rate=10 * E18 - 1,
    )
    clearinghouse.list_market(top, sender=owner)
    allow_atomic(clearinghouse, owner)
    assert tuple(clearinghouse.market_params(0)) == top
    lower = params(weth.address, skew_scale=E18, max_oi=1, taker_fee=0, maker_fee=0)
    clearinghouse.set_market_params(0, lower, sender=owner)
    assert tuple(clearinghouse.market_params(0)) == lower
    assert tuple(clearinghouse.market_params(1)) == (ZERO_ADDRESS, *[0] * 10)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"mmr_base": 0}, errors.ZERO_MM_RATIO),
        ({"mmr_base": 10 * E18 // 100}, errors.MM_RATIO_ABOVE_IM),
        ({"imr_base": E18 + 1}, errors.IM_RATIO_TOO_HIGH),
        ({"mm_size_scalar": 2 * E18}, errors.MM_SCALAR_ABOVE_IM),
        ({"im_size_scalar": 11 * E18, "mm_size_scalar": 0}, errors.SIZE_SCALAR_TOO_LARGE),
        ({"skew_scale": E18 - 1}, errors.SKEW_SCALE_TOO_SMALL),
        ({"skew_scale": 2**96 + 1}, errors.SKEW_SCALE_TOO_LARGE),
        ({"maker_fee": 2 * E18 // 1_000}, errors.MAKER_FEE_ABOVE_TAKER),
        ({"taker_fee": E18 // 10 + 1}, errors.FEE_TOO_HIGH),
        ({"max_oi": 2**96 + 1}, errors.OI_CAP_TOO_LARGE),
        ({"max_oi": 1_000_001 * ETH}, errors.OI_CAP_ABOVE_SKEW_SCALE),
        ({"max_funding_rate": 10 * E18 + 1}, errors.RATE_CAP_TOO_LARGE),
        ({"max_funding_velocity": 10 * E18 + 1}, errors.VELOCITY_TOO_LARGE),
    ],
)
def test_out_of_bounds_market_params_revert(clearinghouse, owner, weth, change, reason):
    with ape.reverts(reason):
        clearinghouse.list_market(params(weth.address, **change), sender=owner)
    assert clearinghouse.num_markets() == 0


def test_market_asset_cannot_change(clearinghouse, market, owner, usdc):
    with ape.reverts(errors.MARKET_ASSET_FIXED):
        clearinghouse.set_market_params(market, params(usdc.address), sender=owner)


def test_deviating_second_feed_blocks_trading(
    clearinghouse, market, trader, deposit_usdc, oracle, owner, weth, make_feed
):
    deposit_usdc(trader, 10_000)
    second = make_feed(3_000)
    oracle.set_secondary_feed(weth, second, 3_600, E18 // 50, sender=owner)  # 2 %
    clearinghouse.trade(0, market, ETH, 2 * P3000, sender=trader)
    second.set_answer(3_100 * 10**8, sender=owner)  # 3.3 % away
    with ape.reverts(errors.FEEDS_DEVIATE):
        clearinghouse.trade(0, market, -ETH, 0, sender=trader)
    with ape.reverts(errors.FEEDS_DEVIATE):
        clearinghouse.account_health(trader, 0)


def test_profit_beyond_deposits_can_be_withdrawn(
    clearinghouse, market, trader, usdc, deposit_usdc, eth_feed, owner, project, lp, fund
):
    """Regression (review): total_deposits underflowed when a trader withdrew
    quote won from the pool, so profits were stuck."""
    pool = owner.deploy(project.LiquidityPool, clearinghouse.address, "xmargin LP", "xLP", 0)
    clearinghouse.set_pool(pool, sender=owner)
    fund(usdc, lp, 100_000 * USDC, pool)
    pool.deposit(100_000 * USDC, lp, sender=lp)
    deposit_usdc(trader, 1_000)
    clearinghouse.trade(0, market, 2 * ETH, 2 * P3000, sender=trader)
    eth_feed.set_answer(3_300 * 10**8, sender=owner)
    clearinghouse.trade(0, market, -2 * ETH, 0, sender=trader)
    balance = clearinghouse.balance_of(trader, 0, usdc)
    assert balance > 1_000 * USDC
    clearinghouse.withdraw(0, usdc, 2**256 - 1, sender=trader)
    assert usdc.balanceOf(trader) == balance
    assert clearinghouse.total_deposits(usdc) == 0


def test_a_short_can_close_after_skew_scale_is_cut_below_it(
    clearinghouse, market, trader, usdc, deposit_usdc, owner, weth
):
    """Regression (review): with |skew| > skew_scale a buy's fill price is
    negative and the close reverted. The premium stays exact; the reported
    fill stops at 0."""
    deposit_usdc(trader, 100_000)
    clearinghouse.trade(0, market, -10 * ETH, 0, sender=trader)
    clearinghouse.set_market_params(
        market, params(weth, skew_scale=4 * ETH, max_oi=4 * ETH), sender=owner
    )
    tx = clearinghouse.trade(0, market, 10 * ETH, 2 * P3000, sender=trader)
    (event,) = tx.events.filter(clearinghouse.Trade)
    # adjustment = 3000 * (2 * -10 + 10) / 8 = -3,750: premium -37,500 (a refund)
    assert event.fill_price == 0
    assert event.premium == -37_500 * E18
    assert clearinghouse.position(trader, 0, market).size == 0


def test_set_oracle_requires_market_prices(
    clearinghouse, market, owner, project, oracle, weth_listed, wbtc_listed, make_token, make_feed
):
    """Review finding: a router that prices every collateral asset but not a
    market's asset would freeze health checks, trades and the pool."""
    btc_like = make_token(18, "XYZ")
    oracle.set_feed(btc_like, make_feed(50), 3_600, 10**12, 10**24, sender=owner)
    clearinghouse.list_market(params(btc_like.address), sender=owner)
    allow_atomic(clearinghouse, owner)
    new = owner.deploy(project.OracleRouter)
    for listed in (weth_listed, wbtc_listed):
        new.set_feed(listed.token, listed.feed, 3_600, 10**12, 10**24, sender=owner)
    with ape.reverts(errors.NO_FEED):
        clearinghouse.set_oracle(new, sender=owner)
    new.set_feed(btc_like, make_feed(50), 3_600, 10**12, 10**24, sender=owner)
    clearinghouse.set_oracle(new, sender=owner)
    assert clearinghouse.oracle() == new.address


def test_open_interest_word_round_trips_at_its_bounds(harness, owner, weth):
    """Issue 20 point 5: a market's open interest is one word (long uint128
    | short uint128) and its skew is long - short, no longer stored; the
    pool's two sums are their own words. Each side at the ends of its lane
    reads back through `market_state`, the skew as the difference (both
    signs, to +-(2**128 - 1)), the funding word untouched; a side past its
    lane reverts instead of spilling into the other."""
    if harness.num_markets() == 0:
        harness.list_market(params(weth.address), sender=owner)
    funding = tuple(harness.market_state(0))[5:]
    top = 2**128 - 1
    cases = [
        (top, 0, 2**255 - 1, -(2**255)),
        (0, top, -(2**255), 2**255 - 1),
        (top, top, -1, 1),
        (2**96, 2**96 - 1, 10**60, -(10**60)),
        (0, 0, 0, 0),
    ]
    for long_oi, short_oi, entry_sum, funding_sum in cases:
        harness.harness_store_totals(0, long_oi, short_oi, entry_sum, funding_sum, sender=owner)
        state = tuple(harness.market_state(0))
        assert state[:5] == (long_oi - short_oi, long_oi, short_oi, entry_sum, funding_sum)
        assert state[5:] == funding
    for long_oi, short_oi in ((2**128, 0), (0, 2**128), (2**255, 1)):
        with ape.reverts():
            harness.harness_store_totals(0, long_oi, short_oi, 0, 0, sender=owner)
    assert tuple(harness.market_state(0))[:5] == (0, 0, 0, 0, 0)


def test_funding_word_round_trips_at_its_bounds(harness, owner, weth):
    """Issue 20 point 5: a market's funding rate, index and last funding
    time share one storage word (int72 | int144 | uint40, two's
    complement). Each at the ends of its lane, both signs, round-trips
    through `market_state`; a rate or an index past its lane reverts
    instead of spilling into the next."""
    if harness.num_markets() == 0:
        harness.list_market(params(weth.address), sender=owner)
    before = tuple(harness.market_state(0))[:5]
    cases = [
        (2**71 - 1, -(2**143)),
        (-(2**71), 2**143 - 1),
        (-1, -1),
        (10 * E18, -(10**40)),
        (0, 0),
    ]
    for rate, index in cases:
        tx = harness.harness_store_funding(0, rate, index, sender=owner)
        state = harness.market_state(0)
        stamp = harness.chain_manager.blocks[tx.block_number].timestamp
        assert (state.funding_rate, state.funding_index, state.last_funding_time) == (
            rate,
            index,
            stamp,
        )
        assert tuple(state)[:5] == before  # the totals are another word
    for rate, index in ((0, 2**143), (0, -(2**143) - 1), (2**71, 0), (-(2**71) - 1, 0)):
        with ape.reverts():
            harness.harness_store_funding(0, rate, index, sender=owner)
    # The bound that keeps every stored rate inside its lane: the largest
    # rate cap the engine accepts (constants.MAX_FUNDING_RATE, above).
    harness.set_market_params(0, params(weth.address, max_funding_rate=10 * E18), sender=owner)
    with ape.reverts(errors.RATE_CAP_TOO_LARGE):
        harness.set_market_params(
            0, params(weth.address, max_funding_rate=10 * E18 + 1), sender=owner
        )
    assert 10 * E18 < 2**71


def test_position_words_round_trip_at_their_bounds(harness, owner, trader):
    """Issue 20 point 5: a position is two words (size int128 | entry price
    uint128, then the funding index). Each field at the ends of its lane,
    both signs, round-trips through `position`; a size or an entry price
    past its lane reverts instead of spilling; storing a flat position
    clears both words (it reads back all zero)."""
    cases = [
        (2**127 - 1, 2**128 - 1, -(2**255)),
        (-(2**127), 1, 2**255 - 1),
        (-1, 10**36, -1),
        (3 * E18, 2_500 * E18, 0),
    ]
    for size, entry, index in cases:
        harness.harness_store_position(trader, 7, 3, size, entry, index, sender=owner)
        assert tuple(harness.position(trader, 7, 3)) == (size, entry, index)
        assert tuple(harness.position(trader, 7, 2)) == (0, 0, 0)  # its neighbour
    for size, entry in ((2**127, 1), (-(2**127) - 1, 1), (1, 2**128)):
        with ape.reverts():
            harness.harness_store_position(trader, 7, 3, size, entry, 0, sender=owner)
    harness.harness_store_position(trader, 7, 3, 0, 2_500 * E18, 5, sender=owner)
    assert tuple(harness.position(trader, 7, 3)) == (0, 0, 0)
