"""Portfolio margin on chain (issue 7): the mode switch, the health branch,
the risk set and its guards, and liquidation of portfolio accounts.

Setting: tests/portfolio_config.py (the hand-computed examples of
docs/portfolio-margin.md). Markets 0 (ETH, on the WETH feed) and 1 (BTC, on
the WBTC feed) are the standard test market with the size add-on off: taker
fee 0.1 %, skew scale 1,000,000 units, funding off. A trade of `n` units at
skew 0 and price P pays the fee n * P * 0.1 % and the skew premium
n^2 * P / 2e6 (rounded up), so every quote balance below is worked out by
hand in its comment.

Every expected margin is hand-computed, and every account is also checked
against the Python model (`xmargin.maths.portfolio`) to the wei: `account_health`
against `portfolio_health`, `portfolio_exposure` against `group_exposure`.
"""

from __future__ import annotations

import ape
import pytest
from ape.utils import ZERO_ADDRESS
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE, feed_price_wad, isolated
from tests.markets import FUNDING_ON, allow_atomic, params
from tests.portfolio_config import (
    ASSETS,
    BTC_PERP,
    CONFIG,
    DEPEG,
    E18,
    ETH_PERP,
    GROUPS,
    PARAMS,
    TOGETHER,
    USD,
    USDC,
    deploy_risk,
)
from xmargin.maths import account as acct
from xmargin.maths import errors, perps
from xmargin.maths import portfolio as pm
from xmargin.maths.liquidation import LiquidationParams

ETH_ID, BTC_ID = 0, 1
MARKETS = ((ETH_ID, "WETH", ETH_PERP), (BTC_ID, "WBTC", BTC_PERP))


@pytest.fixture
def tokens(usdc, weth, wbtc) -> dict:
    return {"USDC": usdc, "WETH": weth, "WBTC": wbtc}


@pytest.fixture
def pm_engine(project, clearinghouse, owner, tokens):
    """Both markets, the example risk groups and scenario set, liquidation on."""
    ch = clearinghouse
    for _, symbol, _p in MARKETS:
        ch.list_market(params(tokens[symbol], im_size_scalar=0, mm_size_scalar=0), sender=owner)
        allow_atomic(ch, owner)
    for symbol, group in GROUPS.members.items():
        ch.set_risk_group(tokens[symbol], group, sender=owner)
    ch.set_portfolio_risk(deploy_risk(project, owner), sender=owner)
    ch.set_liquidation_params(LiquidationParams().as_tuple(), sender=owner)
    return ch


@pytest.fixture
def deposit(pm_engine, tokens, fund):
    def do(who, symbol: str, amount: int, sub_id: int = 0) -> None:
        fund(tokens[symbol], who, amount, pm_engine)
        pm_engine.deposit(sub_id, tokens[symbol], amount, sender=who)

    return do


def trade(ch, who, market_id: int, size: int, sub_id: int = 0):
    limit = 10**30 if size > 0 else 0
    return ch.trade(sub_id, market_id, size, limit, sender=who)


def model_account(ch, who, tokens, eth_feed, btc_feed, sub_id: int = 0) -> acct.Account:
    """The account as model inputs: ledger balances and positions read from
    the chain, prices straight from the feeds (funding is off: index 0)."""
    prices = {"WETH": feed_price_wad(eth_feed), "WBTC": feed_price_wad(btc_feed)}
    exposures = []
    for m, symbol, mp in MARKETS:
        pos = ch.position(who, sub_id, m)
        if pos.size:
            p = perps.Position(pos.size, pos.entry_price, pos.funding_index)
            exposures.append(acct.Exposure(f"{symbol}-PERP", symbol, p, mp, 0))
    balances = {s: ch.balance_of(who, sub_id, t) for s, t in tokens.items()}
    return acct.Account(balances, ASSETS, "USDC", prices, tuple(exposures))


def assert_mirrors_model(ch, who, tokens, eth_feed, btc_feed, config=CONFIG, sub_id: int = 0):
    """account_health and portfolio_exposure == the Python model, to the wei."""
    account = model_account(ch, who, tokens, eth_feed, btc_feed, sub_id)
    x = acct.group_exposure(account, config.groups)
    got = ch.portfolio_exposure(who, sub_id)
    assert (got.equity, got.addon, tuple(got.lo), tuple(got.hi)) == (x.equity, x.addon, x.lo, x.hi)
    assert (got.gross_notional, got.open_positions) == (x.gross_notional, x.open_positions)
    expected = acct.portfolio_health(account, config)
    if ch.portfolio_mode(who, sub_id):
        assert tuple(ch.account_health(who, sub_id)) == (expected.equity, expected.im, expected.mm)
    return expected


# ---------------------------------------------------------------- hand-computed examples


def test_hedged_eth_collateral_and_short_perp(
    pm_engine, trader, deposit, tokens, eth_feed, wbtc_listed
):
    ch = pm_engine
    deposit(trader, "WETH", 10 * E18)
    # Short 10 ETH: fee $30, premium 100 * 3000 / 2e6 = $0.15: quote -30.15.
    trade(ch, trader, ETH_ID, -10 * E18)
    assert ch.balance_of(trader, 0, tokens["USDC"]) == -30_150_000
    # Linear: MM 5 % of 30,000 = 1,500; IM 3,000 + haircut gap 3,000 = 6,000.
    equity = 27_000 * USD - 30_150_000 * 10**12
    assert tuple(ch.account_health(trader, 0)) == (equity, 6_000 * USD, 1_500 * USD)
    tx = ch.set_margin_mode(0, True, sender=trader)
    assert [(e.owner, e.sub_id, e.portfolio) for e in tx.events.filter(ch.MarginModeSet)] == [
        (trader.address, 0, True)
    ]
    # V_ETH = 27,000 - 30,000 = -3,000; V_USD = -30.15. s0 (ETH +10 %): -300;
    # the de-peg gains on the debt. MM = max(300, floor 150) = 300;
    # IM = 1.5 * 300 + 3,000 = 3,450. Equity unchanged.
    assert tuple(ch.account_health(trader, 0)) == (equity, 3_450 * USD, 300 * USD)
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)


def test_naked_short_and_the_switch_that_would_break_initial_margin(
    pm_engine, trader, hedger, deposit, tokens, eth_feed, wbtc_listed
):
    ch = pm_engine
    # Quote 10,000 - 30.15 = 9,969.85 against short 10 ETH: V_ETH = -30,000,
    # V_USD = 9,969.85. s0: -3,000; de-peg: -498.4925. MM 3,000, IM 4,500.
    deposit(hedger, "USDC", 10_000 * USDC)
    trade(ch, hedger, ETH_ID, -10 * E18)
    ch.set_margin_mode(0, True, sender=hedger)
    equity = 9_969_850_000 * 10**12
    assert tuple(ch.account_health(hedger, 0)) == (equity, 4_500 * USD, 3_000 * USD)
    assert_mirrors_model(ch, hedger, tokens, eth_feed, wbtc_listed.feed)

    # 4,000 USDC: linear IM 3,000 <= 3,969.85, portfolio IM 4,500 is not met.
    deposit(trader, "USDC", 4_000 * USDC)
    trade(ch, trader, ETH_ID, -10 * E18)
    with ape.reverts(errors.BELOW_IM):
        ch.set_margin_mode(0, True, sender=trader)
    assert not ch.portfolio_mode(trader, 0)
    with ape.reverts(errors.ALREADY_IN_MODE):
        ch.set_margin_mode(0, False, sender=trader)


def test_btc_eth_spread(pm_engine, trader, deposit, tokens, eth_feed, wbtc_listed):
    ch = pm_engine
    deposit(trader, "USDC", 10_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    # Long 0.5 BTC: fee $30, premium 0.25 * 60,000 / 2e6 = $0.0075.
    trade(ch, trader, BTC_ID, E18 // 2)
    trade(ch, trader, ETH_ID, -10 * E18)
    # Quote 10,000 - 30.0075 - 30.15 = 9,939.8425. V_ETH = -30,000,
    # V_BTC = +30,000: together 0, apart (s2) -1,200 - 1,200 = -2,400;
    # de-peg -496.992125. MM 2,400 (floor 0.5 % * 60,000 = 300), IM 3,600.
    # Linear would be MM 3,000, IM 6,000.
    equity = 9_939_842_500 * 10**12
    assert tuple(ch.account_health(trader, 0)) == (equity, 3_600 * USD, 2_400 * USD)
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)


def test_a_depeg_can_be_the_worst_scenario(
    pm_engine, hedger, deposit, tokens, eth_feed, wbtc_listed
):
    ch = pm_engine
    # 20,000 USDC, long 2 ETH: fee $6, premium 4 * 3,000 / 2e6 = $0.006.
    # Quote 19,993.994: the de-peg loses 999.6997, more than ETH -10 % (600).
    # MM 999.6997; IM ceil(1.5 * 999.6997) = 1,499.54955. Linear MM is 300.
    deposit(hedger, "USDC", 20_000 * USDC)
    ch.set_margin_mode(0, True, sender=hedger)
    trade(ch, hedger, ETH_ID, 2 * E18)
    assert tuple(ch.account_health(hedger, 0)) == (
        19_993_994_000 * 10**12,
        1_499_549_550 * 10**12,
        999_699_700 * 10**12,
    )
    assert_mirrors_model(ch, hedger, tokens, eth_feed, wbtc_listed.feed)


def test_a_spread_frees_capital_linear_margin_keeps_locked(
    project, pm_engine, owner, trader, deposit, tokens, usdc, eth_feed, wbtc_listed
):
    """With scenarios where ETH and BTC only move together (plus the de-peg),
    the spread's IM is 750 instead of linear's 6,000: the account can take
    out 8,000 of its 10,000 USDC, and then cannot go back to linear."""
    ch = pm_engine
    together = pm.PortfolioConfig(GROUPS, pm.ScenarioSet(TOGETHER + DEPEG), PARAMS)
    ch.set_portfolio_risk(deploy_risk(project, owner, together), sender=owner)
    deposit(trader, "USDC", 10_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, -10 * E18)  # naked for now: IM 4,500
    trade(ch, trader, BTC_ID, E18 // 2)
    ch.withdraw(0, usdc, 8_000 * USDC, sender=trader)
    # Quote 1,939.8425; de-peg -96.992125 < floor 300: MM 300, IM 450.
    assert tuple(ch.account_health(trader, 0)) == (
        1_939_842_500 * 10**12,
        450 * USD,
        300 * USD,
    )
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed, together)
    with ape.reverts(errors.BELOW_IM):
        ch.set_margin_mode(0, False, sender=trader)
    with ape.reverts(errors.BELOW_IM):
        ch.withdraw(0, usdc, 1_500 * USDC, sender=trader)


def test_floor_and_per_position_minimum(
    pm_engine, trader, hedger, deposit, tokens, eth_feed, wbtc_listed
):
    ch = pm_engine
    # 10 WETH, short 9 ETH: V_ETH = 27,000 - 27,000 = 0, but the quote
    # (-27 fee - 81 * 3,000 / 2e6 = -0.1215 premium) gains in the de-peg
    # only. Every loss is 0: floor 0.5 % * 27,000 = 135; IM 202.5 + 3,000.
    deposit(trader, "WETH", 10 * E18)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, -9 * E18)
    h = ch.account_health(trader, 0)
    assert (h.im, h.mm) == (3_202_500 * 10**15, 135 * USD)
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)
    # 1 WETH, short 0.9 ETH: the floor 13.5 is below $50 per position.
    deposit(hedger, "WETH", E18)
    ch.set_margin_mode(0, True, sender=hedger)
    trade(ch, hedger, ETH_ID, -9 * E18 // 10)
    h = ch.account_health(hedger, 0)
    assert (h.im, h.mm) == (375 * USD, 50 * USD)
    assert_mirrors_model(ch, hedger, tokens, eth_feed, wbtc_listed.feed)


@pytest.fixture
def thin_spread(pm_engine, trader, deposit, usdc):
    """The BTC/ETH spread (test_btc_eth_spread, quote 9,939.8425) after
    withdrawing 6,000 USDC: equity 3,939.8425 against MM 2,400, IM 3,600."""
    ch = pm_engine
    deposit(trader, "USDC", 10_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, BTC_ID, E18 // 2)
    trade(ch, trader, ETH_ID, -10 * E18)
    ch.withdraw(0, usdc, 6_000 * USDC, sender=trader)
    return ch


def test_closing_a_hedge_leg_is_a_risk_increase(thin_spread, trader, tokens, eth_feed, wbtc_listed):
    """In portfolio mode a reduction can raise MM (one leg of a spread left
    naked), so it must end at or above IM or leave MM no higher: the linear
    engine's "reductions are always allowed" would let an account shed its
    hedge without the margin the naked leg needs."""
    ch = thin_spread
    h = ch.account_health(trader, 0)
    assert (h.equity, h.im, h.mm) == (3_939_842_500 * 10**12, 3_600 * USD, 2_400 * USD)
    # Closing the ETH short leaves long 0.5 BTC naked: "together down" loses
    # 3,000, MM 3,000 > 2,400 and IM 4,500 > equity: refused, nothing moves.
    reason = errors.REDUCTION_NEEDS_IM
    with ape.reverts(reason):
        trade(ch, trader, ETH_ID, 10 * E18)
    with ape.reverts(reason):
        trade(ch, trader, BTC_ID, -E18 // 2)
    assert ch.position(trader, 0, ETH_ID).size == -10 * E18
    # Half of it: V_ETH = -15,000 against V_BTC = 30,000. "together down"
    # loses 3,000 - 1,500 = 1,500, "ETH up, BTC down" 600 + 1,200 = 1,800:
    # MM 1,800 < 2,400, a real reduction: allowed.
    trade(ch, trader, ETH_ID, 5 * E18)
    h = ch.account_health(trader, 0)
    assert (h.im, h.mm) == (2_700 * USD, 1_800 * USD)
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)


def test_a_hedge_leg_is_not_closed_past_an_invalid_price(thin_spread, trader, owner, wbtc_listed):
    """Issue 19, point 4, and its portfolio limit: a linear account may
    close a position whole past another invalid price, a portfolio account
    may not. With BTC's feed moved to 6 decimals the naked BTC leg could no
    longer be valued or liquidated, so closing the ETH short that hedges it
    waits for the price, with the router's reason."""
    ch = thin_spread
    wbtc_listed.feed.set_decimals(6, sender=owner)
    with ape.reverts(errors.FEED_DECIMALS_CHANGED):
        trade(ch, trader, ETH_ID, 10 * E18)
    assert ch.position(trader, 0, ETH_ID).size == -10 * E18


def test_a_reduction_that_lowers_mm_needs_no_initial_margin(
    thin_spread, owner, trader, eth_feed, tokens, wbtc_listed
):
    """The other half of the rule: below IM, a reduction is still allowed
    when it leaves MM lower (real de-risking)."""
    ch = thin_spread
    # ETH +8 %: the short loses 2,400, equity 1,539.8425; V_ETH = -32,400:
    # "ETH up, BTC down" loses 1,296 + 1,200 = 2,496 = MM, above equity.
    eth_feed.set_answer(3_240 * 10**8, sender=owner)
    h = ch.account_health(trader, 0)
    assert (h.equity, h.mm) == (1_539_842_500 * 10**12, 2_496 * USD)
    # Buying back 5 ETH: V_ETH = -16,200, the worst loss 648 + 1,200 =
    # 1,848 < 2,496, IM 2,772 > equity: allowed, on the MM branch alone.
    trade(ch, trader, ETH_ID, 5 * E18)
    h = ch.account_health(trader, 0)
    assert h.mm == 1_848 * USD and h.equity < h.im
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)


def test_a_reduction_that_ends_with_no_liabilities_is_not_checked(
    project, pm_engine, owner, trader, deposit, usdc, tokens
):
    """As for every risk check, an account left with no position and no debt
    is not priced: closing its last position is allowed even when the set
    would charge the USDC left more than the position it hedged."""
    ch = pm_engine
    for token in tokens.values():
        ch.set_risk_group(token, 0, sender=owner)
    mild = owner.deploy(project.PortfolioRisk, [[-E18 // 10]], 0, 0, E18, [], [], 0, [], [])
    ch.set_portfolio_risk(mild, sender=owner)
    deposit(trader, "USDC", 1_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, -E18 // 10)  # short 0.1 ETH hedges the USDC
    # Every asset can go to zero, IM 1.5 x MM: the short still offsets 300
    # of the 1,000 USDC, so closing it raises MM (about 700 -> 1,000) and IM
    # (1,500) would exceed equity; but after it nothing is owed.
    ch.set_portfolio_risk(
        owner.deploy(project.PortfolioRisk, [[-E18]], 0, 0, 3 * E18 // 2, [], [], 0, [], []),
        sender=owner,
    )
    trade(ch, trader, ETH_ID, E18 // 10)
    assert ch.position_mask(trader, 0) == 0
    assert ch.balance_of(trader, 0, usdc) > 0


def test_portfolio_liquidation_market_needs_a_portfolio_account_with_a_position(
    pm_engine, trader, hedger, deposit
):
    ch = pm_engine
    deposit(trader, "USDC", 10_000 * USDC)
    with ape.reverts(errors.NOT_PORTFOLIO):
        ch.portfolio_liquidation_market(trader, 0)
    ch.set_margin_mode(0, True, sender=trader)
    with ape.reverts(errors.PM_NO_POSITION):
        ch.portfolio_liquidation_market(trader, 0)


def test_equal_losses_in_the_worst_scenario_may_be_liquidated_in_either_order(
    lens, pm_engine, owner, trader, keeper, deposit, eth_feed, wbtc_listed
):
    """Long 1 ETH and long 0.05 BTC are both $3,000: in "together down" each
    loses 300. The view names the first market; liquidate accepts either."""
    ch = pm_engine
    deposit(trader, "USDC", 1_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, E18)
    trade(ch, trader, BTC_ID, E18 // 20)
    # Both -10 %: PnL -600, equity ~394 < MM 540 (each now loses 270).
    eth_feed.set_answer(2_700 * 10**8, sender=owner)
    wbtc_listed.feed.set_answer(54_000 * 10**8, sender=owner)
    assert lens.is_liquidatable(ch, trader, 0)
    assert ch.portfolio_liquidation_market(trader, 0) == ETH_ID
    tx = ch.liquidate(trader, 0, BTC_ID, E18, 0, sender=keeper)
    assert [e.market_id for e in tx.events.filter(ch.Liquidation)] == [BTC_ID]


# ---------------------------------------------------------------- liquidation


def test_portfolio_accounts_are_liquidated_whole_position_by_position(
    lens, pm_engine, owner, trader, keeper, deposit, tokens, usdc, eth_feed, wbtc_listed
):
    ch = pm_engine
    deposit(trader, "USDC", 4_600 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, -10 * E18)  # IM 4,500 <= 4,569.85
    # ETH $3,150: PnL -1,500, equity 3,069.85; V_ETH = -31,500, s0 -3,150.
    # Portfolio MM 3,150 > equity: liquidatable. Linear MM would be 1,575.
    eth_feed.set_answer(3_150 * 10**8, sender=owner)
    h = ch.account_health(trader, 0)
    assert (h.equity, h.mm) == (3_069_850_000 * 10**12, 3_150 * USD)
    assert lens.is_liquidatable(ch, trader, 0)
    with ape.reverts(errors.MUST_CLOSE_WHOLE):
        ch.liquidate(trader, 0, ETH_ID, E18, 0, sender=keeper)
    tx = ch.liquidate(trader, 0, ETH_ID, 10 * E18, 0, sender=keeper)
    (event,) = tx.events.filter(ch.Liquidation)
    # Closed at the oracle: PnL -1,500; penalty 2 % of 31,500 = 630, the
    # keeper's share at a shortfall of 1 - 3,069.85 / 3,150 = 2.54 %:
    # 25 % + 50 % * 2.54 / 20 = 31.36 %.
    assert (event.size_delta, event.new_size, event.penalty) == (10 * E18, 0, 630 * USDC)
    shortfall = 80_150 * 10**15 * E18 // (3_150 * E18)
    share = 25 * 10**16 + 50 * 10**16 * (shortfall * E18 // (20 * 10**16)) // E18
    assert event.keeper_reward == 630 * USDC * share // E18
    assert share // 10**14 == 3136
    # Flat: quote 4,569.85 - 1,500 - 630 = 2,439.85. Nothing is enforced on
    # an account with no debt and no position, but the model still reports
    # the de-peg of its USDC: MM 5 % of 2,439.85 = 121.9925, IM 182.98875.
    assert ch.balance_of(trader, 0, usdc) == 2_439_850_000
    assert tuple(ch.account_health(trader, 0)) == (
        2_439_850_000 * 10**12,
        18_298_875 * 10**13,
        1_219_925 * 10**14,
    )
    assert not lens.is_liquidatable(ch, trader, 0)


@pytest.fixture
def stressed_spread(pm_engine, owner, trader, deposit, eth_feed, wbtc_listed):
    """The BTC/ETH spread after ETH +15 % and BTC -15 %, in portfolio mode.

    Quote 9,939.8425 (test_btc_eth_spread). At ETH $3,450 and BTC $51,000
    both legs lose 4,500: equity 939.8425. V_ETH = -34,500, V_BTC = 25,500,
    V_USD = 9,939.8425. s0 -3,450 + 2,550 = -900; s2 (ETH +4 %, BTC -4 %)
    -1,380 - 1,020 = -2,400, the worst: MM 2,400 > equity. In s2 the ETH
    short loses 1,380 and the BTC long 1,020: ETH goes first."""
    ch = pm_engine
    deposit(trader, "USDC", 10_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, BTC_ID, E18 // 2)
    trade(ch, trader, ETH_ID, -10 * E18)
    eth_feed.set_answer(3_450 * 10**8, sender=owner)
    wbtc_listed.feed.set_answer(51_000 * 10**8, sender=owner)
    return ch


def test_portfolio_liquidation_order_and_the_waterfall(
    stressed_spread, trader, keeper, tokens, usdc, eth_feed, wbtc_listed
):
    ch = stressed_spread
    h = ch.account_health(trader, 0)
    assert (h.equity, h.mm) == (939_842_500 * 10**12, 2_400 * USD)
    account = model_account(ch, trader, tokens, eth_feed, wbtc_listed.feed)
    assert acct.liquidation_order(account, CONFIG) == ["WETH-PERP", "WBTC-PERP"]
    assert ch.portfolio_liquidation_market(trader, 0) == ETH_ID
    with ape.reverts(errors.WRONG_ORDER):
        ch.liquidate(trader, 0, BTC_ID, E18, 0, sender=keeper)

    # ETH: PnL -4,500; penalty 2 % of 34,500 = 690; shortfall
    # 1 - 939.84 / 2,400 = 61 % > 20 %: the keeper takes 75 % = 517.5, the
    # fund 172.5 (the account still has 422.34 after the reward).
    tx = ch.liquidate(trader, 0, ETH_ID, 10 * E18, 0, sender=keeper)
    (ev,) = tx.events.filter(ch.Liquidation)
    assert (ev.market_id, ev.size_delta, ev.penalty) == (ETH_ID, 10 * E18, 690 * USDC)
    assert (ev.keeper_reward, ev.insurance_share) == (517_500_000, 172_500_000)
    # Quote 9,939.8425 - 4,500 - 690 = 4,749.8425; with the BTC leg's -4,500
    # equity is 249.8425. Now V_BTC = 25,500 alone: s1 (-10 %) loses 2,550.
    assert ch.balance_of(trader, 0, usdc) == 4_749_842_500
    h = ch.account_health(trader, 0)
    assert (h.equity, h.mm) == (249_842_500 * 10**12, 2_550 * USD)
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)
    assert ch.portfolio_liquidation_market(trader, 0) == BTC_ID

    # BTC: PnL -4,500, penalty 510, reward 75 % = 382.5, nothing left for the
    # fund. Quote 4,749.8425 - 4,500 - 382.5 = -132.6575 with nothing
    # behind it: the insurance fund (172.5) pays the deficit, 39.8425 remains.
    tx = ch.liquidate(trader, 0, BTC_ID, E18, 0, sender=keeper)
    (ev,) = tx.events.filter(ch.Liquidation)
    assert (ev.keeper_reward, ev.insurance_share) == (382_500_000, 0)
    (bad,) = tx.events.filter(ch.BadDebt)
    assert (bad.deficit, bad.from_insurance, bad.from_pool) == (132_657_500, 132_657_500, 0)
    assert ch.balance_of(trader, 0, usdc) == 0
    assert ch.insurance_fund() == 39_842_500
    assert ch.balance_of(keeper, 0, usdc) == 517_500_000 + 382_500_000
    assert ch.position_mask(trader, 0) == 0


def test_keeper_liquidates_portfolio_accounts_in_the_engines_order(
    lens, stressed_spread, trader, keeper, tokens, oracle, usdc, eth_feed, wbtc_listed
):
    """The keeper's plan for a portfolio account is the engine's market,
    closed whole; one pass takes both legs, ETH first."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = stressed_spread
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": ETH_ID, "BTC": BTC_ID}, lens=lens)
    log: list[dict] = []
    bot = Keeper(engine=engine, sender=keeper, config=KeeperConfig(gas_asset=None), log=log.append)
    stats = bot.run_once()
    done = [e for e in log if e["event"] == "liquidated"]
    assert [(e["market"], e["closed"], e["max_size"]) for e in done] == [
        ("ETH", 10 * E18, 10 * E18),
        ("BTC", E18 // 2, E18 // 2),
    ]
    assert [e["reward"] for e in done] == [e["predicted_reward"] for e in done]
    assert (stats.liquidations, stats.reverted, stats.lost_races) == (2, 0, 0)
    assert ch.position_mask(trader, 0) == 0


def test_keeper_values_portfolio_accounts_with_the_risk_set_in_force(
    project, lens, stressed_spread, owner, trader, keeper, tokens, oracle, eth_feed, wbtc_listed
):
    """Issue 16's last point, through issue 20's replica: the keeper values
    a portfolio account with `Account.health()` and the scenario set the
    engine has now. The stressed spread is at the hand-worked E = 939.8425,
    MM = 2,400; after the owner replaces the risk set (ETH and BTC moving
    together: the spread is hedged), the keeper's next pass values it with
    the new set, as the engine does (an earlier keeper kept the set it
    started with, and every liquidation it planned was refused)."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig, PassStats

    ch = stressed_spread
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": ETH_ID, "BTC": BTC_ID}, lens=lens)
    log: list[dict] = []
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append, from_block=0)
    (row,) = bot.scan(ch.chain_manager.blocks.head.number, PassStats())
    assert (row.equity, row.mm) == (939_842_500 * 10**12, 2_400 * USD)
    together = pm.PortfolioConfig(GROUPS, pm.ScenarioSet(TOGETHER + DEPEG), PARAMS)
    ch.set_portfolio_risk(deploy_risk(project, owner, together), sender=owner)
    stats = PassStats()
    rows = bot.scan(ch.chain_manager.blocks.head.number, stats)
    h = ch.account_health(trader, 0)
    assert h.mm < 2_400 * USD
    assert [(r.equity, r.im, r.mm) for r in rows] == [tuple(h)]
    assert stats.mismatches == 0  # the audit compared it with the chain too


def test_a_portfolio_account_below_mm_without_positions_can_be_liquidated(
    pm_engine, trader, keeper, owner, deposit, tokens, eth_feed, wbtc_listed, lens, fund, guardian
):
    """Portfolio MM counts the collateral's worst scenario, so an account
    with collateral, quote debt and no position can sit at 0 <= E < MM.
    `liquidate_collateral` must act on it (it used to demand E < 0, so the
    keeper saw a liquidatable account nothing could touch).

    10 WETH, long 10 ETH at $3,000 (taker fee 30, premium 0.15), closed at
    $2,000 (loss 10,000, maker fee 10, premium refund 0.1): quote
    -10,040.05. In portfolio mode at $1,200: WETH weighted 10 * 1,200 * 0.9
    = 10,800, E = 759.95; worst scenario ETH -10 %: MM = 1,080."""
    ch, usdc, weth = pm_engine, tokens["USDC"], tokens["WETH"]
    deposit(trader, "WETH", 10 * E18)
    trade(ch, trader, ETH_ID, 10 * E18)
    eth_feed.set_answer(2_000 * 10**8, sender=owner)
    trade(ch, trader, ETH_ID, -10 * E18)
    assert ch.balance_of(trader, 0, usdc) == -10_040_050_000
    ch.set_margin_mode(0, True, sender=trader)
    eth_feed.set_answer(1_200 * 10**8, sender=owner)
    e, mm = 759_950 * 10**15, 1_080 * USD
    h = ch.account_health(trader, 0)
    assert (h.equity, h.mm) == (e, mm)
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)
    assert lens.is_liquidatable(ch, trader, 0)
    with ape.reverts(errors.NO_POSITION):
        ch.liquidate(trader, 0, ETH_ID, E18, 0, sender=keeper)
    with ape.reverts(errors.HOLDS_COLLATERAL):
        ch.settle_bad_debt(trader, 0, sender=keeper)
    # The keeper repays 500 USDC for WETH. The account is solvent, so the
    # 5 % discount scales with its shortfall (1,080 - 759.95) / 1,080:
    # 1.4817... %, rounded down for the account.
    discount = 5 * E18 // 100 * (mm - e) // mm
    fund(usdc, keeper, 500 * USDC, ch)
    ch.liquidate_collateral(trader, 0, weth, 500 * USDC, 0, sender=keeper)
    out = 500 * E18 * E18 * E18 // (1_200 * E18 * (E18 - discount))
    assert ch.balance_of(keeper, 0, weth) == out  # seized in the engine
    assert ch.balance_of(trader, 0, weth) == 10 * E18 - out
    assert ch.balance_of(trader, 0, usdc) == -9_540_050_000
    # E rises by 500 - out * 1,080 (the discount is under the haircut),
    # MM falls by out * 120: the shortfall shrinks, and the keeper's gain
    # is out * 1,200 - 500, about 7.5 USD (22 % of net worth at 5 % flat,
    # for an account 0.4 % under MM, in an outside review's example).
    weighted = (10 * E18 - out) * 1_200 * 9 // 10
    after = ch.account_health(trader, 0)
    assert after.equity == weighted - 9_540_050_000 * 10**12
    assert after.mm == -(-weighted // 10)
    assert after.mm - after.equity < mm - e
    assert 7 * E18 < out * 1_200 - 500 * E18 < 8 * E18
    assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)


def test_a_paused_account_may_not_switch_to_a_lower_margin(
    pm_engine, trader, deposit, tokens, guardian, owner
):
    """10 WETH, short 10 ETH: linear IM 6,000 and MM 1,500; portfolio IM
    3,450 and MM 300 (test_hedged_eth_collateral_and_short_perp). While
    paused, the switch that lowers the margin is a risk increase and is
    refused; the one that raises it is allowed."""
    ch = pm_engine
    deposit(trader, "WETH", 10 * E18)
    trade(ch, trader, ETH_ID, -10 * E18)
    ch.pause(sender=guardian)
    with ape.reverts(errors.PAUSED):
        ch.set_margin_mode(0, True, sender=trader)
    assert not ch.portfolio_mode(trader, 0)
    ch.unpause(sender=owner)
    ch.set_margin_mode(0, True, sender=trader)
    assert tuple(ch.account_health(trader, 0))[1:] == (3_450 * USD, 300 * USD)
    ch.pause(sender=guardian)
    ch.set_margin_mode(0, False, sender=trader)
    assert tuple(ch.account_health(trader, 0))[1:] == (6_000 * USD, 1_500 * USD)


# ---------------------------------------------------------------- configuration


def test_risk_set_constructor_refuses_bad_sets(project, owner):
    def deploy(rows, floor=0, minimum=0, factor=E18):
        return owner.deploy(project.PortfolioRisk, rows, floor, minimum, factor, [], [], 0, [], [])

    with ape.reverts(errors.NO_SCENARIOS):
        deploy([])
    with ape.reverts(errors.NO_GROUPS):
        deploy([[]])
    with ape.reverts(errors.RAGGED_SHOCKS):
        deploy([[0, 0], [0]])
    with ape.reverts(errors.SHOCK_OUT_OF_RANGE):
        deploy([[-E18 - 1]])
    with ape.reverts(errors.SHOCK_OUT_OF_RANGE):
        deploy([[9 * E18 + 1]])
    with ape.reverts(errors.FLOOR_TOO_HIGH):
        deploy([[0]], floor=E18 + 1)
    with ape.reverts(errors.MIN_TOO_LARGE):
        deploy([[0]], minimum=10**24 + 1)
    with ape.reverts(errors.IM_FACTOR_RANGE):
        deploy([[0]], factor=E18 - 1)
    with ape.reverts(errors.IM_FACTOR_RANGE):
        deploy([[0]], factor=10 * E18 + 1)
    risk = deploy([[-E18, 9 * E18]] * 32, E18, 10**24, 10 * E18)
    assert (risk.num_groups(), risk.num_scenarios(), risk.shock(31, 1)) == (2, 32, 9 * E18)
    with ape.reverts(errors.NO_SUCH_SCENARIO):
        risk.shock(32, 0)


def test_risk_set_grid_rounds_against_the_account(project, owner):
    """The grid alone, against xmargin.maths.portfolio.grid_pnls and by hand."""
    risk = deploy_risk(project, owner)
    lo = [3_000, -7, 10**6, 0, 0, 0, 0, 0]
    hi = [3_001, -6, 10**6, 0, 0, 0, 0, 0]
    # Each scenario's sum is floored once.
    # s0 (+10 %, +10 %, 0), lower bounds: floor(300 - 0.7) = 299.
    # s1 (-10 %, -10 %, 0), upper bounds: floor(-300.1 + 0.6) = -300.
    # s3 (-4 %, +4 %, 0): floor(-120.04 - 0.28) = -121.
    # s4 (de-peg -5 %): -50,000.
    expected = pm.grid_pnls(lo, hi, CONFIG.scenarios)
    assert list(risk.scenario_pnls(lo, hi)) == expected
    assert (expected[0], expected[1], expected[3], expected[4]) == (299, -300, -121, -50_000)
    # the worst loss is the de-peg: 5 % of 1e6 = 50,000 wei;
    # floor: 0.5 % of 10**21 = 5e18 vs 2 * 50 USD = 1e20.
    mm, im = risk.requirement(lo, hi, 10**21, 2)
    assert (mm, im) == (100 * USD, 150 * USD)
    mm, im = risk.requirement(lo, hi, 0, 0)
    assert (mm, im) == (50_000, 75_000)
    with ape.reverts(errors.EXPOSURE_BOUNDS):
        risk.requirement(hi, lo, 0, 0)
    with ape.reverts(errors.EXPOSURE_TOO_LARGE):
        risk.requirement([2**160 + 1] + lo[1:], [2**160 + 1] + hi[1:], 0, 0)
    with ape.reverts(errors.EXPOSURE_TOO_LARGE):
        risk.requirement([-(2**160) - 1] + lo[1:], [-(2**160) - 1] + hi[1:], 0, 0)
    # worst_scenario: the de-peg (s4) here; with no exposure every P&L is 0
    # and the first scenario wins the tie.
    assert tuple(risk.worst_scenario(lo, hi)) == (4, [0, 0, -5 * E18 // 100, 0, 0, 0, 0, 0])
    (index, _row) = risk.worst_scenario([0] * 8, [0] * 8)
    assert index == 0


def test_configuration_guards(
    project, owner, stranger, clearinghouse, trader, tokens, oracle, make_token, make_feed
):
    ch = clearinghouse
    with ape.reverts(errors.PM_NOT_CONFIGURED):
        ch.set_margin_mode(0, True, sender=trader)
    with ape.reverts():
        ch.set_portfolio_risk(deploy_risk(project, owner), sender=stranger)
    with ape.reverts():
        ch.set_risk_group(tokens["WETH"], 1, sender=stranger)
    with ape.reverts(errors.RISK_SET_NOT_CONTRACT):
        ch.set_portfolio_risk(stranger, sender=owner)
    with ape.reverts(errors.NO_SUCH_GROUP):
        ch.set_risk_group(tokens["WETH"], 8, sender=owner)
    # An asset not yet listed could later be listed in a group the set in
    # force does not have: refused.
    with ape.reverts(errors.GROUP_ASSET_NOT_LISTED):
        ch.set_risk_group(stranger, 1, sender=owner)
    tx = ch.set_risk_group(tokens["WBTC"], 2, sender=owner)
    assert [(e.asset, e.group) for e in tx.events.filter(ch.RiskGroupSet)] == [
        (tokens["WBTC"].address, 2)
    ]
    one_group = owner.deploy(project.PortfolioRisk, [[-E18 // 10]], 0, 0, E18, [], [], 0, [], [])
    two_groups = owner.deploy(project.PortfolioRisk, [[0, 0]], 0, 0, E18, [], [], 0, [], [])
    with ape.reverts(errors.ASSET_GROUP_NOT_IN_SET):
        ch.set_portfolio_risk(one_group, sender=owner)
    three = deploy_risk(project, owner)
    tx = ch.set_portfolio_risk(three, sender=owner)
    assert [(e.previous_risk, e.new_risk) for e in tx.events.filter(ch.PortfolioRiskSet)] == [
        (ZERO_ADDRESS, three.address)
    ]
    with ape.reverts(errors.NO_SUCH_GROUP):
        ch.set_risk_group(tokens["WETH"], 3, sender=owner)
    # A market on an oracle key that is no collateral is checked the same way.
    ch.set_risk_group(tokens["WBTC"], 1, sender=owner)
    link = make_token(18, "LINK")
    oracle.set_feed(link, make_feed(15), HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    ch.list_market(params(link), sender=owner)
    allow_atomic(ch, owner)
    ch.set_risk_group(link, 2, sender=owner)
    with ape.reverts(errors.MARKET_GROUP_NOT_IN_SET):
        ch.set_portfolio_risk(two_groups, sender=owner)
    ch.set_risk_group(link, 1, sender=owner)
    ch.set_portfolio_risk(two_groups, sender=owner)
    assert ch.portfolio_risk() == two_groups.address


# ---------------------------------------------------------------- property


pm_steps = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.sampled_from((ETH_ID, BTC_ID)), st.integers(-30, 30)),
        st.tuples(
            st.just("deposit"), st.sampled_from(("USDC", "WETH", "WBTC")), st.integers(1, 50)
        ),
        st.tuples(st.just("price"), st.sampled_from(("eth", "btc")), st.integers(-300, 300)),
    ),
    min_size=1,
    max_size=8,
)


@given(steps=pm_steps)
def test_chain_equals_the_model_after_any_sequence(
    pm_engine, owner, trader, deposit, tokens, eth_feed, wbtc_listed, steps
):
    """Random trades on both markets, deposits of every asset and price moves
    of up to +-30 %: after each step the engine's portfolio exposure and
    health equal the Python model's to the wei (refused steps change
    nothing and are skipped)."""
    with isolated(ape.chain):
        ch = pm_engine
        feeds = {"eth": eth_feed, "btc": wbtc_listed.feed}
        deposit(trader, "USDC", 50_000 * USDC)
        ch.set_margin_mode(0, True, sender=trader)
        unit = {"USDC": 1_000 * USDC, "WETH": E18 // 10, "WBTC": 10**6}
        for kind, key, value in steps:
            if kind == "trade":
                size = value * E18 // (10 if key == ETH_ID else 200)
                if size == 0:
                    continue
                try:
                    trade(ch, trader, key, size)
                except ape.exceptions.ContractLogicError as e:
                    assert errors.BELOW_IM in str(e) or errors.REDUCTION_NEEDS_IM in str(e)
            elif kind == "deposit":
                deposit(trader, key, value * unit[key])
            else:
                feed = feeds[key]
                feed.set_answer(feed.answer() * (1_000 + value) // 1_000, sender=owner)
            assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed)


# ---------------------------------------------------------------- funding in the scenarios


def test_funding_accrued_since_a_touch_moves_with_the_scenario_price(
    pm_engine, owner, trader, deposit, tokens, eth_feed, chain
):
    """Issue 23, point 7. The funding a position has accrued since its
    market was last touched is booked at the price of the next touch, so a
    scenario that moves the price moves that funding too. Attack: a trader
    holds long 100 ETH on one market and short 100 on another, both idle
    for ten days at the funding cap (each leg pays: the long on a long
    skew, the short on a short skew). Valued at today's price the book is
    flat (V_ETH = 0 before the fix: MM = the 0.5 % floor, $3,000); but a
    10 % rise makes each leg owe 10 % more of its ~$28,500 accrued: the
    account loses ~$5,700 with the price, nearly double the MM it posted.
    The grid must see size * (price - accrued)."""
    ch = pm_engine
    day = 86_400
    cap = FUNDING_ON["max_funding_rate"]  # 1 %/day; skew 100 of 1,000 ramps 1 %/day per day
    funded = FUNDING_ON
    ids = []
    for _ in range(2):
        ch.list_market(params(tokens["WETH"], **funded), sender=owner)
        allow_atomic(ch, owner)
        ids.append(ch.num_markets() - 1)
    # 100,000 less two skew premiums of 100^2 x 3,000 / 2,000 = $15,000:
    # quote $70,000, whose 5 % de-peg row (-$3,500) stays below the ETH rows.
    deposit(trader, "USDC", 100_000 * USDC)
    trade(ch, trader, ids[0], 100 * E18)
    trade(ch, trader, ids[1], -100 * E18)
    ch.set_margin_mode(0, True, sender=trader)
    touched = [ch.market_state(m).last_funding_time for m in ids]
    chain.pending_timestamp = touched[1] + 10 * day
    eth_feed.set_answer(3_000 * 10**8, sender=owner)
    now = chain.blocks.head.timestamp

    # By hand: each rate ramps to the cap in exactly one day (cap / velocity)
    # and holds it: area = cap * dt - cap * 1 day / 2 (rate x seconds);
    # accrued per ETH = area * $3,000 / 1 day; the short's index falls.
    def accrued(dt: int) -> int:
        return (cap * dt - cap * day // 2) * 3_000 * E18 // (day * E18)

    a_long, a_short = accrued(now - touched[0]), -accrued(now - touched[1])
    assert [ch.funding_now(m)[1] for m in ids] == [a_long, a_short]
    assert 28_499 * E18 < 100 * a_long < 28_501 * E18
    # V_ETH = 100 (3,000 - a_long) - 100 (3,000 - a_short) = -100 (a_long - a_short):
    # the worst row is "together up" (+10 %): MM = 10 (a_long - a_short) ~ $5,700,
    # above the floor (0.5 % of $600,000 gross = $3,000).
    v = -100 * (a_long - a_short)
    x = ch.portfolio_exposure(trader, 0)
    assert (x.lo[0], x.hi[0]) == (v, v)
    mm = -v // 10
    h = ch.account_health(trader, 0)
    assert h.mm == mm and 5_699 * USD < mm < 5_701 * USD
    assert x.lo[2] == 70_000 * USD and h.im == mm * 3 // 2
    # Independent of the grid: publish the +10 % row one block later. The
    # equity falls by the accrued funding's 10 % (and one more second of
    # funding at the cap: 2 x 100 x 1 %/day x 1 s x $3,300, about $0.76).
    eth_feed.set_answer(3_300 * 10**8, sender=owner)
    after = ch.account_health(trader, 0)
    assert mm - 1 * USD < h.equity - after.equity <= mm + 1 * USD
    # The model agrees, the accrued part read from the market's stored index.
    account = _funded_model(ch, trader, tokens, ids, eth_feed)
    expected = acct.portfolio_health(account, CONFIG)
    assert tuple(ch.account_health(trader, 0)) == (expected.equity, expected.im, expected.mm)


def _funded_model(ch, who, tokens, ids, eth_feed) -> acct.Account:
    """The account as model inputs, each market's funding read with the part
    accrued since its last touch."""
    exposures = []
    for m in ids:
        pos = ch.position(who, 0, m)
        index = ch.funding_now(m)[1]
        stored = ch.market_state(m).funding_index
        mp = perps.MarketParams(*ch.market_params(m))
        p = perps.Position(pos.size, pos.entry_price, pos.funding_index)
        exposures.append(
            acct.Exposure(f"M{m}", "WETH", p, mp, index, index - stored, feed_price_wad(eth_feed))
        )
    prices = {"WETH": feed_price_wad(eth_feed)}
    balances = {s: ch.balance_of(who, 0, t) for s, t in tokens.items()}
    return acct.Account(balances, ASSETS, "USDC", prices, tuple(exposures))


# ---------------------------------------------------------------- the lens's liquidation price


@pytest.mark.parametrize(
    ("usd_in", "weth_in", "size"),
    [(10_000, 0, -10), (0, 10, -12), (0, 1, 3), (2_000, 0, 4)],
    ids=["naked short", "WETH-backed short", "WETH-backed long", "long"],
)
def test_the_lens_solves_the_portfolio_liquidation_price(
    pm_engine, lens, owner, trader, deposit, tokens, eth_feed, wbtc_listed, usd_in, weth_in, size
):
    """Issue 23, point 7: the lens reported 0 for every portfolio account
    (and before that plugged the portfolio MM into the linear formula). It
    now moves the asset's part of its group (positions and the collateral
    in it) and asks the risk set at each trial price. Checked on chain by
    brute force (publish the price: healthy at the lens's figure, below MM
    one cent past it) and against the model's exact search."""
    from dataclasses import replace

    from xmargin.maths import scenarios

    ch = pm_engine
    if usd_in:
        deposit(trader, "USDC", usd_in * USDC)
    if weth_in:
        deposit(trader, "WETH", weth_in * E18)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, size * E18)
    (row,) = lens.position_details(ch, trader, 0)
    account = replace(model_account(ch, trader, tokens, eth_feed, wbtc_listed.feed), margin=CONFIG)
    exact = scenarios.liquidation_price(account, "WETH")
    assert exact is not None and row.liquidation_price > 0
    assert abs(row.liquidation_price - exact) <= 3_000 * E18 // 10**9 + 1
    # On chain: the healthy side of the boundary, to the feed's 8 decimals.
    cent = 10**6
    answer = -(-row.liquidation_price // 10**10) if size > 0 else row.liquidation_price // 10**10
    past = answer - cent if size > 0 else answer + cent
    eth_feed.set_answer(answer, sender=owner)
    h = ch.account_health(trader, 0)
    assert h.equity >= h.mm
    eth_feed.set_answer(past, sender=owner)
    h = ch.account_health(trader, 0)
    assert h.equity < h.mm


def test_an_explicit_credit_prices_a_btc_eth_spread(
    project, pm_engine, owner, trader, deposit, tokens, eth_feed, wbtc_listed
):
    """Issue 23, point 3: with a 50 % ETH/BTC credit in force, long 100 ETH
    against short 5 BTC ($300,000 each) is charged each leg's own 10 %
    scan less half the smaller: 30,000 + 30,000 - 2 x 15,000 = 30,000,
    plus the quote's own de-peg risk (a group with no credit listed keeps
    its whole scan, as SPAN sums combined commodities): above the 24,000
    the joint rows imply (their 4 % apart rows credit the spread 80 %).
    The engine's health equals the mirror's to the wei."""
    from dataclasses import replace

    ch = pm_engine
    config = replace(CONFIG, params=replace(PARAMS, credits=((0, 1, E18 // 2),)))
    ch.set_portfolio_risk(deploy_risk(project, owner, config), sender=owner)
    deposit(trader, "USDC", 100_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, ETH_ID, 100 * E18)
    trade(ch, trader, BTC_ID, -5 * E18)
    # Quote: 100,000 less the fees (0.1 %: 300 + 300) and the premiums
    # (n^2 P / 2e6: 100^2 x 3,000 / 2e6 = 15, 5^2 x 60,000 / 2e6 = 0.75):
    # 99,384.25, whose 5 % de-peg is 4,969.2125; the floor (0.5 % of
    # 600,000) is below. MM 34,969.2125, IM x 1.5 = 52,453.81875.
    assert ch.balance_of(trader, 0, tokens["USDC"]) == 99_384_250_000
    h = ch.account_health(trader, 0)
    assert h.mm == 34_969_212_500 * 10**12 and h.im == 52_453_818_750 * 10**12
    expected = assert_mirrors_model(ch, trader, tokens, eth_feed, wbtc_listed.feed, config)
    assert expected.mm == h.mm
