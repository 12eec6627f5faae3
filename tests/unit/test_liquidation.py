"""Liquidation: sizes, penalty split, collateral liquidation, the bad-debt
waterfall and the keepers' views, against numbers worked out by hand.

Setting (unless a test says otherwise): a flat ETH market (MMR 5 %, IMR 10 %,
no size add-on, taker 0.1 %, skew scale 1,000,000 ETH, funding off) and the
default liquidation parameters: penalty 2 % of closed notional, keeper share
25 % just under MM rising to 75 % at a 20 % shortfall, target E / MM = 1.2,
whole position below E / MM = 0.5, dust $10, collateral discount 5 %.

The trader deposits 4,000 USDC and buys 10 ETH at $3,000: premium
10 * 3000 * 10 / 2e6 = $0.15 and fee $30, so its quote balance is
3,969.85 USDC and, at a price P, equity is 3,969.85 + 10 (P - 3000) and
MM is 10 P * 5 % = 0.5 P.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction as F  # noqa: N817 (exact arithmetic reads better short)

import ape
import pytest

from tests.conftest import isolated
from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.chain.revert_data import revert_reason
from xmargin.maths import errors
from xmargin.maths.liquidation import LiquidationParams

LP = LiquidationParams()
FEED = 10**8
ZERO = "0x" + "0" * 40


@pytest.fixture
def liq_engine(clearinghouse, owner, weth, usdc, fund, lp):
    """The flat ETH market, liquidation configured, and a 100k USDC pool."""
    clearinghouse.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner)
    allow_atomic(clearinghouse, owner)
    clearinghouse.set_liquidation_params(LP.as_tuple(), sender=owner)
    return clearinghouse


@pytest.fixture
def bull_10(liq_engine, trader, usdc, fund):
    fund(usdc, trader, 4_000 * USDC, liq_engine)
    liq_engine.deposit(0, usdc, 4_000 * USDC, sender=trader)
    liq_engine.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader)
    assert liq_engine.balance_of(trader, 0, usdc) == 3_969_850_000
    return liq_engine


def set_price(feed, owner, usd: float | int | F) -> None:
    feed.set_answer(int(F(usd) * FEED), sender=owner)


def quote_ledgers(ch, usdc, people) -> int:
    """Every quote ledger: accounts (sub 0), the pool and the insurance fund."""
    return sum(ch.balance_of(p, 0, usdc) for p in people) + ch.pool_balance() + ch.insurance_fund()


def closed(ch, tx) -> int:
    """Size a liquidation closed, from its event (Ape's in-process provider
    does not decode return data forwarded by the core's fallback)."""
    (ev,) = tx.events.filter(ch.Liquidation)
    return abs(ev.size_delta)


def bought(ch, tx) -> int:
    (ev,) = tx.events.filter(ch.CollateralLiquidation)
    return ev.collateral_out


def keeper_share(equity: F, mm: F) -> F:
    """The documented Dutch-auction share, exact."""
    if equity <= 0:
        return F(3, 4)
    t = min((mm - equity) / mm / F(1, 5), 1)
    return F(1, 4) + F(1, 2) * t


# ---------------------------------------------------------------- partial liquidation


def test_partial_liquidation_restores_target_health(
    lens, bull_10, eth_feed, owner, trader, keeper, usdc, weth
):
    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    # E = 3,969.85 - 2,700 = 1,269.85 < MM = 1,365: liquidatable.
    # IM = 27,300 * 10 % = 2,730.
    assert tuple(ch.account_health(trader, 0)) == (1_269_850 * 10**15, 2_730 * E18, 1_365 * E18)
    assert lens.is_liquidatable(ch, trader, 0)
    # Least x with E - 2 % * 2,730 x = 1.2 * 5 % * 2,730 (10 - x), where the
    # liq_engine takes E two native units ($0.000002) low for rounding:
    # x = (1.2 * 1,365 - 1,269.849998) / (2,730 * (1.2 * 5 % - 2 %))
    #   = 368.150002 / 109.2 = 3.37133701465...
    x_exact = F(368_150_002, 10**6) / F(1092, 10)
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    size = closed(ch, tx)
    assert 0 <= size - x_exact * ETH < 1  # rounded up to the next wei
    pos = ch.position(trader, 0, 0)
    assert pos.size == 10 * ETH - size and pos.entry_price == 2_730 * E18

    # Penalty 2 % of 2,730 x = 2 % of 9,203.75005 = $184.075001 and a hair
    # (x was rounded up to the wei), rounded up to the native unit.
    (ev,) = tx.events.filter(ch.Liquidation)
    assert ev.penalty == 184_075_002
    # Shortfall 95.15 / 1,365 = 6.97 %: share 25 % + 50 % * 6.97 / 20 = 42.43 %.
    share = keeper_share(F(126985, 100), F(1365))
    assert abs(ev.keeper_reward - F(ev.penalty) * share) < 2
    assert ev.insurance_share == ev.penalty - ev.keeper_reward
    assert ch.insurance_fund() == ev.insurance_share
    assert ch.balance_of(keeper, 0, usdc) == ev.keeper_reward
    assert ev.quote_delta == -2_700 * USDC  # the loss, realised
    # Quote: 3,969.85 - 2,700 - 184.075002
    assert ch.balance_of(trader, 0, usdc) == 3_969_850_000 - 2_700_000_000 - 184_075_002

    # E / MM is back at 1.2.
    e, _, mm = ch.account_health(trader, 0)
    assert F(12, 10) <= F(e, mm) < F(12, 10) + F(1, 10**8)
    assert not lens.is_liquidatable(ch, trader, 0)
    # Closing a hair less (1e-7 ETH) would not have reached the target.
    less = F(size, ETH) - F(1, 10**7)
    e_less = F(126985, 100) - F(2, 100) * 2_730 * less
    mm_less = F(5, 100) * 2_730 * (10 - less)
    assert e_less / mm_less < F(12, 10)

    # Nothing created or lost: the tokens equal the ledgers to the wei.
    assert usdc.balanceOf(ch) == quote_ledgers(ch, usdc, [trader, keeper])


def test_size_add_on_closes_barely_more_than_needed(
    clearinghouse, owner, trader, keeper, usdc, weth, eth_feed, fund
):
    """With a size-dependent MMR the liq_engine iterates the freed-margin ratio;
    its answer reaches the target and is within 1e-6 of the least size."""
    ch = clearinghouse
    # MMR 5 % + 0.5 * |size| / 1,000 ETH: a large add-on (10 ETH: +0.5 %).
    ch.list_market(
        params(weth, skew_scale=1_000 * ETH, im_size_scalar=E18, mm_size_scalar=E18 // 2),
        sender=owner,
    )
    allow_atomic(ch, owner)
    ch.set_liquidation_params(LP.as_tuple(), sender=owner)
    fund(usdc, trader, 4_000 * USDC, ch)
    ch.deposit(0, usdc, 4_000 * USDC, sender=trader)
    ch.trade(0, 0, 10 * ETH, 3_100 * E18, sender=trader)
    q0 = F(ch.balance_of(trader, 0, usdc), USDC)
    set_price(eth_feed, owner, 2_740)

    def ratio(x: F) -> F:
        """E / MM after closing x, exact, from the documented rules."""
        e = q0 + 10 * (2_740 - 3_000) - F(2, 100) * 2_740 * x
        rest = 10 - x
        mm = rest * 2_740 * (F(5, 100) + F(1, 2) * rest / 1_000)
        return e / mm

    assert ratio(F(0)) < 1
    size = F(closed(ch, ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)), ETH)
    assert ratio(size) >= F(12, 10)
    assert ratio(size * (1 - F(1, 10**6))) < F(12, 10)
    e, _, mm = ch.account_health(trader, 0)
    assert F(e, mm) >= F(12, 10)


# ---------------------------------------------------------------- whole position, bad debt


def test_far_under_closes_all_and_insurance_takes_only_what_is_left(
    bull_10, eth_feed, owner, trader, keeper, usdc
):
    ch = bull_10
    set_price(eth_feed, owner, 2_650)
    # E = 3,969.85 - 3,500 = 469.85; MM = 1,325: E / MM = 0.35 < 0.5 -> all 10 ETH.
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    assert closed(ch, tx) == 10 * ETH
    assert ch.position_mask(trader, 0) == 0
    # Penalty 2 % of 26,500 = 530; shortfall 64.5 % > 20 %: keeper 75 % = 397.5.
    # The insurance fund's 132.5 is capped at what is left: 469.85 - 397.5 = 72.35.
    (liq,) = tx.events.filter(ch.Liquidation)
    assert (liq.penalty, liq.keeper_reward, liq.insurance_share) == (
        469_850_000,
        397_500_000,
        72_350_000,
    )
    assert not list(tx.events.filter(ch.BadDebt))
    assert ch.balance_of(trader, 0, usdc) == 0
    assert ch.insurance_fund() == 72_350_000
    assert ch.balance_of(keeper, 0, usdc) == 397_500_000
    assert ch.bad_debt_total() == 0
    # The pool kept the trader's realised loss (3,500) and the fee and premium.
    assert ch.pool_balance() == 3_500 * USDC + 30_150_000
    assert usdc.balanceOf(ch) == quote_ledgers(ch, usdc, [trader, keeper])


def test_penalty_rate_is_capped_at_the_markets_maintenance_ratio(
    bull_10, eth_feed, owner, trader, keeper, usdc
):
    """Found by the state machine (owner parameters within bounds): an 8 %
    penalty on a 5 % MMR market charged more than the MM a close frees, so
    liquidations lowered E - MM. The rate is now min(penalty, mmr_base)."""
    ch = bull_10
    ch.set_liquidation_params(replace(LP, penalty=8 * E18 // 100).as_tuple(), sender=owner)
    set_price(eth_feed, owner, 2_650)
    # E = 469.85, MM = 1,325 (E / MM 0.35: all 10 ETH). Penalty 5 % (not 8 %)
    # of 26,500 = 1,325; shortfall > 20 %: keeper 75 % = 993.75 (8 % would
    # pay 1,590). No equity is left for the fund; the keeper's share leaves
    # 469.85 - 993.75 = -523.90, written off (empty fund: the pool).
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    (ev,) = tx.events.filter(ch.Liquidation)
    assert (ev.penalty, ev.keeper_reward, ev.insurance_share) == (993_750_000, 993_750_000, 0)
    (bad,) = tx.events.filter(ch.BadDebt)
    assert (bad.deficit, bad.from_insurance, bad.from_pool) == (523_900_000, 0, 523_900_000)
    assert ch.balance_of(trader, 0, usdc) == 0
    assert usdc.balanceOf(ch) == quote_ledgers(ch, usdc, [trader, keeper])


def test_deficit_beyond_the_insurance_fund_falls_on_the_pool(
    bull_10, eth_feed, owner, trader, keeper, usdc, lp, fund
):
    ch = bull_10
    fund(usdc, lp, 50 * USDC, ch)
    ch.fund_insurance(50 * USDC, sender=lp)
    set_price(eth_feed, owner, 2_000)
    # E = 3,969.85 - 10,000 = -6,030.15 <= 0: all, keeper share at its maximum.
    # Penalty 2 % of 20,000 = 400: the keeper's 300 is a bounty the account
    # cannot pay; the insurance fund's share is 0 (no equity left).
    # Quote -6,030.15 - 300 = -6,330.15: insurance pays its 50, the pool 6,280.15.
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    (liq,) = tx.events.filter(ch.Liquidation)
    assert (liq.penalty, liq.keeper_reward, liq.insurance_share) == (300 * USDC, 300 * USDC, 0)
    (bad,) = tx.events.filter(ch.BadDebt)
    assert (bad.deficit, bad.from_insurance, bad.from_pool) == (
        6_330_150_000,
        50 * USDC,
        6_280_150_000,
    )
    assert ch.insurance_fund() == 0
    assert ch.balance_of(keeper, 0, usdc) == 300 * USDC
    # Pool: +30.15 (fee, premium) +10,000 (the loss, realised) -6,280.15.
    assert ch.pool_balance() == 30_150_000 + 10_000 * USDC - 6_280_150_000
    assert (ch.bad_debt_total(), ch.bad_debt_insurance(), ch.bad_debt_pool()) == (
        6_330_150_000,
        50 * USDC,
        6_280_150_000,
    )
    # 4,000 (trader) + 50 (insurance) in, all accounted for.
    assert usdc.balanceOf(ch) == 4_050 * USDC == quote_ledgers(ch, usdc, [trader, keeper])


# ---------------------------------------------------------------- collateral liquidation


@pytest.fixture
def weth_backed(liq_engine, trader, usdc, weth, fund, eth_feed, owner, keeper):
    """1 WETH + 1,000 USDC, long 10 ETH; at $2,600 the position is closed whole
    and the account is left with 1 WETH against a quote debt."""
    ch = liq_engine
    fund(usdc, trader, 1_000 * USDC, ch)
    fund(weth, trader, ETH, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=trader)
    ch.deposit(0, weth, ETH, sender=trader)
    ch.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader)  # quote 969.85
    set_price(eth_feed, owner, 2_600)
    # E = 969.85 - 4,000 + 90 % * 2,600 = -690.15: all; the keeper's 75 % of
    # the 520 penalty (390), no insurance share; quote 969.85 - 4,000 - 390.
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    assert not list(tx.events.filter(ch.BadDebt))  # WETH still held
    assert ch.balance_of(trader, 0, usdc) == -3_420_150_000
    assert ch.insurance_fund() == 0
    return ch


def test_collateral_liquidation_partial(weth_backed, trader, stranger, usdc, weth, fund):
    ch = weth_backed
    fund(usdc, stranger, 1_000 * USDC, ch)
    # 1,000 USDC buys 1,000 / (2,600 * 95 %) = 0.404858299595141700 WETH.
    expected = 1_000 * USDC * 10**12 * E18 // (2_470 * E18)
    assert expected == 404_858_299_595_141_700
    tx = ch.liquidate_collateral(trader, 0, weth, 1_000 * USDC, expected, sender=stranger)
    assert bought(ch, tx) == expected
    # Seized inside the engine: credited to the liquidator's sub-account 0,
    # no WETH left the Clearinghouse.
    assert ch.balance_of(stranger, 0, weth) == expected
    assert weth.balanceOf(stranger) == 0 and weth.balanceOf(ch) == ETH
    assert usdc.balanceOf(stranger) == 0
    assert ch.balance_of(trader, 0, usdc) == -2_420_150_000
    assert ch.balance_of(trader, 0, weth) == ETH - expected
    assert not list(tx.events.filter(ch.BadDebt))
    # Withdrawing it is the liquidator's own later step.
    ch.withdraw(0, weth, expected, sender=stranger)
    assert weth.balanceOf(stranger) == expected
    assert ch.balance_of(stranger, 0, weth) == 0
    assert weth.balanceOf(ch) == ETH - expected == ch.balance_of(trader, 0, weth)
    # A discount under the 10 % haircut: the account's equity rose.
    e, _, _ = ch.account_health(trader, 0)
    assert e > -690_150_000 * 10**12 - 390 * E18


def test_collateral_liquidation_takes_all_then_bad_debt(
    weth_backed, trader, stranger, usdc, weth, fund, keeper
):
    ch = weth_backed
    fund(usdc, stranger, 5_000 * USDC, ch)
    # The whole debt (3,420.15) would buy 1.385 WETH; the account has 1, which
    # costs 2,470 USDC. The rest, 950.15, is a deficit: the insurance fund is
    # empty, so the pool pays it all.
    tx = ch.liquidate_collateral(trader, 0, weth, 5_000 * USDC, 0, sender=stranger)
    assert bought(ch, tx) == ETH
    assert usdc.balanceOf(stranger) == 5_000 * USDC - 2_470 * USDC
    (bad,) = tx.events.filter(ch.BadDebt)
    assert (bad.deficit, bad.from_insurance, bad.from_pool) == (950_150_000, 0, 950_150_000)
    assert ch.balance_of(trader, 0, usdc) == 0 and ch.balance_of(trader, 0, weth) == 0
    assert ch.held_mask(trader, 0) == 0
    assert usdc.balanceOf(ch) == quote_ledgers(ch, usdc, [trader, keeper, stranger])
    assert weth.balanceOf(ch) == ETH == ch.balance_of(stranger, 0, weth)


def test_collateral_liquidation_bad_input(
    weth_backed, trader, stranger, usdc, weth, wbtc_listed, fund, snapshot_balances
):
    ch = weth_backed
    fund(usdc, stranger, 1_000 * USDC, ch)
    before = snapshot_balances(ch, [usdc, weth], [trader, stranger])
    with ape.reverts(errors.SELF_LIQUIDATION):
        ch.liquidate_collateral(trader, 0, weth, 1_000 * USDC, 0, sender=trader)
    with ape.reverts(errors.QUOTE_NOT_COLLATERAL):
        ch.liquidate_collateral(trader, 0, usdc, 1_000 * USDC, 0, sender=stranger)
    with ape.reverts(errors.ZERO_AMOUNT):
        ch.liquidate_collateral(trader, 0, weth, 0, 0, sender=stranger)
    with ape.reverts(errors.HOLDS_NONE):
        ch.liquidate_collateral(trader, 0, wbtc_listed.token, 1_000 * USDC, 0, sender=stranger)
    with ape.reverts(errors.OUT_BELOW_MIN):
        ch.liquidate_collateral(trader, 0, weth, 1_000 * USDC, ETH, sender=stranger)
    with ape.reverts(errors.NO_DEBT):
        ch.liquidate_collateral(stranger, 0, weth, 1_000 * USDC, 0, sender=trader)
    assert snapshot_balances(ch, [usdc, weth], [trader, stranger]) == before


def test_collateral_liquidation_needs_no_positions_and_negative_equity(
    bull_10, eth_feed, owner, trader, stranger, weth, fund, usdc
):
    ch = bull_10
    fund(weth, trader, ETH, ch)
    ch.deposit(0, weth, ETH, sender=trader)
    set_price(eth_feed, owner, 2_000)
    with ape.reverts(errors.HAS_POSITIONS):
        ch.liquidate_collateral(trader, 0, weth, USDC, 0, sender=stranger)


def test_collateral_liquidation_refuses_a_debt_its_collateral_covers(
    bull_10, eth_feed, owner, trader, stranger, weth, fund, usdc, snapshot_balances
):
    ch = bull_10
    fund(weth, trader, 10 * ETH, ch)
    ch.deposit(0, weth, 10 * ETH, sender=trader)
    set_price(eth_feed, owner, 2_000)
    ch.trade(0, 0, -10 * ETH, 0, sender=trader)  # closes under water: a quote debt
    assert ch.balance_of(trader, 0, usdc) < 0
    # ... that 10 WETH * $2,000 * 90 % = $18,000 covers: E > 0, not liquidatable.
    fund(usdc, stranger, 1_000 * USDC, ch)
    before = snapshot_balances(ch, [usdc, weth], [trader, stranger])
    with ape.reverts(errors.NOT_LIQUIDATABLE):
        ch.liquidate_collateral(trader, 0, weth, 1_000 * USDC, 0, sender=stranger)
    with ape.reverts(errors.AMOUNT_TOO_LARGE):
        ch.liquidate_collateral(trader, 0, weth, 2**128 + 1, 0, sender=stranger)
    assert snapshot_balances(ch, [usdc, weth], [trader, stranger]) == before


def test_collateral_discount_never_exceeds_the_maintenance_haircut(
    weth_backed, trader, stranger, usdc, weth, fund, owner
):
    """A 20 % discount on WETH (10 % maintenance haircut) would lower the
    account's equity; the engine sells at 10 % off instead."""
    ch = weth_backed
    ch.set_liquidation_params(replace(LP, collateral_discount=2 * 10**17).as_tuple(), sender=owner)
    fund(usdc, stranger, 1_000 * USDC, ch)
    e0, _, _ = ch.account_health(trader, 0)
    tx = ch.liquidate_collateral(trader, 0, weth, 1_000 * USDC, 0, sender=stranger)
    # 1,000 / (2,600 * 90 %) = 0.427350427350427350 WETH
    assert bought(ch, tx) == 1_000 * 10**18 * 10**18 // (2_340 * 10**18)
    e1, _, _ = ch.account_health(trader, 0)
    assert e1 >= e0


def test_collateral_liquidation_refuses_a_repay_worth_no_unit(
    liq_engine, trader, stranger, usdc, wbtc, fund, eth_feed, owner, keeper
):
    """1 native USDC ($0.000001) buys less than one satoshi ($0.000570 at 5 % off)."""
    ch = liq_engine
    fund(usdc, trader, 500 * USDC, ch)
    fund(wbtc, trader, 10**7, ch)  # 0.1 WBTC
    ch.deposit(0, usdc, 500 * USDC, sender=trader)
    ch.deposit(0, wbtc, 10**7, sender=trader)
    ch.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader)
    set_price(eth_feed, owner, 2_000)
    ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)  # whole; WBTC and a debt left
    fund(usdc, stranger, USDC, ch)
    with ape.reverts(errors.REPAY_BELOW_ONE_UNIT):
        ch.liquidate_collateral(trader, 0, wbtc, 1, 0, sender=stranger)


# ---------------------------------------------------------------- rules and bad input


def test_revoking_one_operator_never_clears_the_self_liquidation_guard(
    bull_10, trader, keeper, stranger, lp, usdc, eth_feed, owner, snapshot_balances
):
    """Liquidation reads the operator slot only when the account's header
    counts an approved operator. The owner attacks the count: approving one
    operator twice, revoking another that was never approved and revoking
    one twice must leave the other still counted, or it could liquidate its
    own owner's account and take the liquidator's share."""
    ch = bull_10
    masks = (ch.held_mask(trader, 0), ch.position_mask(trader, 0))
    ch.set_operator(0, keeper, True, sender=trader)
    ch.set_operator(0, keeper, True, sender=trader)  # again: counted once
    ch.set_operator(0, stranger, True, sender=trader)
    ch.set_operator(0, lp, False, sender=trader)  # never approved: no change
    ch.set_operator(0, stranger, False, sender=trader)
    ch.set_operator(0, stranger, False, sender=trader)  # again: no change
    # The count shares the header word with the masks and never spills.
    assert (ch.held_mask(trader, 0), ch.position_mask(trader, 0)) == masks
    assert ch.is_operator(trader, 0, keeper) and not ch.is_operator(trader, 0, stranger)
    set_price(eth_feed, owner, 2_730)
    before = snapshot_balances(ch, [usdc], [trader, keeper])
    with ape.reverts(errors.SELF_LIQUIDATION):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    with ape.reverts(errors.BATCH_ALL_FAILED):  # its one item refused
        ch.liquidate_many([(trader, 0, 0, 10 * ETH, 0)], sender=keeper)
    assert snapshot_balances(ch, [usdc], [trader, keeper]) == before
    # Revoked: a stranger again, and the last one revoked leaves none.
    ch.set_operator(0, keeper, False, sender=trader)
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=stranger)
    assert len(tx.events.filter(ch.Liquidation)) == 1
    assert ch.held_mask(trader, 0) == masks[0]


def test_healthy_accounts_cannot_be_liquidated(
    lens, bull_10, trader, keeper, usdc, snapshot_balances, eth_feed, owner
):
    ch = bull_10
    set_price(eth_feed, owner, 2_750)  # E = 1,469.85 >= MM = 1,375
    assert not lens.is_liquidatable(ch, trader, 0)
    before = snapshot_balances(ch, [usdc], [trader, keeper])
    with ape.reverts(errors.NOT_LIQUIDATABLE):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    assert snapshot_balances(ch, [usdc], [trader, keeper]) == before


def test_bad_liquidation_input(
    bull_10, trader, keeper, usdc, eth_feed, owner, chain, snapshot_balances
):
    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    ch.set_operator(0, keeper, True, sender=trader)
    before = snapshot_balances(ch, [usdc], [trader, keeper])
    with ape.reverts(errors.SELF_LIQUIDATION):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=trader)
    with ape.reverts(errors.SELF_LIQUIDATION):  # an operator of the account
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    ch.set_operator(0, keeper, False, sender=trader)
    with ape.reverts(errors.UNKNOWN_MARKET):
        ch.liquidate(trader, 0, 1, 10 * ETH, 0, sender=keeper)
    with ape.reverts(errors.ZERO_SIZE):
        ch.liquidate(trader, 0, 0, 0, 0, sender=keeper)
    with ape.reverts(errors.NO_POSITION):
        ch.liquidate(trader, 1, 0, 10 * ETH, 0, sender=keeper)
    # The reward here is 42 % of $184.08, about $78.
    with ape.reverts(errors.REWARD_BELOW_MIN):
        ch.liquidate(trader, 0, 0, 10 * ETH, 79 * USDC, sender=keeper)
    # No valid price: a clean revert.
    chain.mine(timestamp=chain.pending_timestamp + 3_700)
    with ape.reverts(errors.PRICE_STALE):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    assert snapshot_balances(ch, [usdc], [trader, keeper]) == before


def test_a_whole_position_close_cannot_be_split(bull_10, trader, keeper, eth_feed, owner):
    ch = bull_10
    set_price(eth_feed, owner, 2_650)  # far under: the liq_engine closes all 10 ETH
    with ape.reverts(errors.MUST_CLOSE_WHOLE):
        ch.liquidate(trader, 0, 0, 9 * ETH, 0, sender=keeper)
    assert closed(ch, ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)) == 10 * ETH


def test_no_partial_close_when_it_would_lower_health(
    clearinghouse, owner, weth, trader, keeper, usdc, fund, eth_feed
):
    """Review finding: with a 5 % penalty and a 5 % MMR, closing part of a
    position at E / MM = 0.93 lowers E / MM (it rises only above penalty / MMR
    = 1), so pieces would each pay a larger keeper share. The liq_engine closes
    the whole position and refuses pieces."""
    ch = clearinghouse
    ch.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner)
    allow_atomic(ch, owner)
    ch.set_liquidation_params(replace(LP, penalty=5 * 10**16).as_tuple(), sender=owner)
    fund(usdc, trader, 4_000 * USDC, ch)
    ch.deposit(0, usdc, 4_000 * USDC, sender=trader)
    ch.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader)
    set_price(eth_feed, owner, 2_730)  # E / MM = 1,269.85 / 1,365 = 0.93
    with ape.reverts(errors.MUST_CLOSE_WHOLE):
        ch.liquidate(trader, 0, 0, ETH, 0, sender=keeper)
    assert closed(ch, ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)) == 10 * ETH


def test_deficit_of_a_self_closed_account_can_be_settled(
    lens, bull_10, trader, stranger, usdc, weth, eth_feed, owner, keeper
):
    """Review finding: an owner closing its own position under water leaves a
    debt with nothing to liquidate; anyone can have it written off."""
    ch = bull_10
    set_price(eth_feed, owner, 2_000)
    with ape.reverts(errors.HAS_POSITIONS):
        ch.settle_bad_debt(trader, 0, sender=stranger)
    # A close that pays (fee 20 > premium rebate 0.10) would deepen the
    # deficit of an insolvent account: refused (liquidation pays nothing).
    with ape.reverts(errors.REDUCTION_TOO_COSTLY):
        ch.trade(0, 0, -10 * ETH, 0, sender=trader)
    # Without fees the close earns its rebate: allowed, and it strands a debt.
    flat_free = params(weth, im_size_scalar=0, mm_size_scalar=0, taker_fee=0, maker_fee=0)
    ch.set_market_params(0, flat_free, sender=owner)
    ch.trade(0, 0, -10 * ETH, 0, sender=trader)
    debt = -ch.balance_of(trader, 0, usdc)
    # 3,969.85 - 10,000 loss - premium refund/fee of the close
    assert debt > 6_000 * USDC
    assert lens.is_liquidatable(ch, trader, 0)
    with ape.reverts(errors.NO_DEBT):
        ch.settle_bad_debt(stranger, 0, sender=stranger)
    tx = ch.settle_bad_debt(trader, 0, sender=stranger)
    (bad,) = tx.events.filter(ch.BadDebt)
    assert (bad.deficit, bad.from_insurance, bad.from_pool) == (debt, 0, debt)
    assert ch.balance_of(trader, 0, usdc) == 0 and not lens.is_liquidatable(ch, trader, 0)
    assert usdc.balanceOf(ch) == quote_ledgers(ch, usdc, [trader, keeper]) == 4_000 * USDC


def test_settle_bad_debt_refuses_an_account_with_collateral(weth_backed, trader, stranger):
    with ape.reverts(errors.HOLDS_COLLATERAL):
        weth_backed.settle_bad_debt(trader, 0, sender=stranger)


def test_liquidation_stops_while_paused_and_through_the_grace_period(
    bull_10, trader, keeper, guardian, owner, eth_feed, usdc, fund, chain
):
    """Paused: no liquidation (Aave v3 pauses them too), but the owner of
    an account below MM may top up. After the unpause, liquidations wait
    `liquidation_grace` seconds (here 10 minutes); a closed market does not
    stop them."""
    ch = bull_10
    with ape.reverts(errors.NOT_OWNER):
        ch.set_liquidation_grace(3_600, sender=guardian)
    with ape.reverts(errors.GRACE_TOO_LONG):
        ch.set_liquidation_grace(4 * 3_600 + 1, sender=owner)
    tx = ch.set_liquidation_grace(600, sender=owner)
    assert [e.grace for e in tx.events.filter(ch.LiquidationGraceSet)] == [600]
    assert ch.liquidation_grace() == 600
    ch.pause(sender=guardian)
    set_price(eth_feed, owner, 2_730)
    ch.set_market_closed(0, True, sender=owner)
    with ape.reverts(errors.PAUSED):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    tx = ch.unpause(sender=owner)
    (ev,) = tx.events.filter(ch.Unpaused)
    unpaused_at = chain.blocks[tx.block_number].timestamp
    assert ev.liquidations_resume_at == unpaused_at + 600 == ch.liquidations_resume_at()
    chain.pending_timestamp = unpaused_at + 599
    with ape.reverts(errors.IN_GRACE):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    chain.pending_timestamp = unpaused_at + 600
    assert closed(ch, ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)) > 0


def test_a_top_up_during_the_pause_saves_the_account(
    bull_10, trader, keeper, guardian, owner, eth_feed, usdc, fund
):
    """At $2,730 the bull has E = 1,269.85 < MM = 1,365. Paused, its owner
    deposits 100 USDC: E = 1,369.85 >= MM, and after the unpause (grace 0)
    nobody can liquidate it."""
    ch = bull_10
    ch.pause(sender=guardian)
    set_price(eth_feed, owner, 2_730)
    fund(usdc, trader, 100 * USDC, ch)
    ch.deposit(0, usdc, 100 * USDC, sender=trader)
    assert tuple(ch.account_health(trader, 0))[::2] == (1_369_850 * 10**15, 1_365 * E18)
    ch.unpause(sender=owner)
    with ape.reverts(errors.NOT_LIQUIDATABLE):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)


def test_liquidation_needs_configuration(
    clearinghouse, owner, weth, trader, keeper, usdc, fund, eth_feed
):
    ch = clearinghouse
    ch.list_market(params(weth), sender=owner)
    allow_atomic(ch, owner)
    fund(usdc, trader, 4_000 * USDC, ch)
    ch.deposit(0, usdc, 4_000 * USDC, sender=trader)
    ch.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader)
    set_price(eth_feed, owner, 2_000)
    with ape.reverts(errors.NOT_CONFIGURED):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)


def test_liquidation_params_are_bounded_and_owner_only(clearinghouse, owner, stranger):
    ch = clearinghouse
    with ape.reverts(errors.NOT_OWNER):
        ch.set_liquidation_params(LP.as_tuple(), sender=stranger)
    bad = {
        "penalty": (10**17 + 1, errors.PENALTY_TOO_HIGH),
        "keeper_share_min": (8 * 10**17, errors.SHARE_MIN_ABOVE_MAX),
        "auction_depth": (0, errors.AUCTION_DEPTH_RANGE),
        "target_health": (E18, errors.TARGET_TOO_LOW),
        "full_close_health": (E18, errors.FULL_CLOSE_TOO_HIGH),
        "dust_notional": (10**24 + 1, errors.DUST_TOO_LARGE),
        "collateral_discount": (2 * 10**17 + 1, errors.DISCOUNT_TOO_HIGH),
    }
    for field, (value, reason) in bad.items():
        with ape.reverts(reason):
            ch.set_liquidation_params(replace(LP, **{field: value}).as_tuple(), sender=owner)
    with ape.reverts(errors.SHARE_TOO_HIGH):
        ch.set_liquidation_params(replace(LP, keeper_share_max=E18 + 1).as_tuple(), sender=owner)
    with ape.reverts(errors.TARGET_TOO_HIGH):
        ch.set_liquidation_params(replace(LP, target_health=2 * E18 + 1).as_tuple(), sender=owner)
    tx = ch.set_liquidation_params(LP.as_tuple(), sender=owner)
    assert tuple(ch.liquidation_params()) == LP.as_tuple()
    assert [e.event_name for e in tx.events] == ["LiquidationParamsSet"]
    # The parameters are packed into words: every field at its bound (and
    # the others at distinct values) reads back unchanged.
    top = LiquidationParams(
        penalty=10**17,
        keeper_share_min=E18 - 1,
        keeper_share_max=E18,
        auction_depth=E18,
        target_health=2 * E18,
        full_close_health=E18 - 1,
        dust_notional=10**24,
        collateral_discount=2 * 10**17,
    )
    ch.set_liquidation_params(top.as_tuple(), sender=owner)
    assert tuple(ch.liquidation_params()) == top.as_tuple()


# ---------------------------------------------------------------- incentives


def test_self_liquidation_through_another_address_loses_the_insurance_share(
    bull_10, trader, keeper, stranger, usdc, eth_feed, owner, chain
):
    """A third party earns the keeper reward; the owner liquidating itself from
    a second address earns the same reward but pays the whole penalty."""
    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    with isolated(chain):
        third = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
        (ev,) = third.events.filter(ch.Liquidation)
        third_party_profit = ch.balance_of(keeper, 0, usdc)
        assert third_party_profit == ev.keeper_reward > 0

    before = ch.balance_of(trader, 0, usdc) + ch.balance_of(stranger, 0, usdc)
    own = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=stranger)  # the owner's second address
    (ev2,) = own.events.filter(ch.Liquidation)
    # Realised PnL is the owner's either way; net of it, the owner lost the
    # insurance share.
    after = ch.balance_of(trader, 0, usdc) + ch.balance_of(stranger, 0, usdc) - ev2.quote_delta
    assert after - before == -ev2.insurance_share < 0
    assert ch.balance_of(stranger, 0, usdc) <= third_party_profit


def test_splitting_a_liquidation_never_pays_more(
    lens, bull_10, trader, keeper, eth_feed, owner, chain, usdc
):
    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    with isolated(chain):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
        one = ch.balance_of(keeper, 0, usdc)
    # Four pieces of 1 ETH: after each, E / MM is higher and the share lower.
    rewards = []
    while lens.is_liquidatable(ch, trader, 0):
        tx = ch.liquidate(trader, 0, 0, ETH, 0, sender=keeper)
        (ev,) = tx.events.filter(ch.Liquidation)
        rewards.append(ev.keeper_reward)
    assert len(rewards) >= 2
    assert rewards == sorted(rewards, reverse=True)
    assert sum(rewards) <= one


# ---------------------------------------------------------------- keepers' views and the registry


def test_registry_and_batch_views(lens, bull_10, trader, hedger, usdc, fund, eth_feed, owner):
    ch = bull_10
    fund(usdc, hedger, 10_000 * USDC, ch)
    ch.deposit(3, usdc, 10_000 * USDC, sender=hedger)
    assert ch.num_accounts() == 1  # a deposit alone registers nothing
    ch.trade(3, 0, -2 * ETH, 2_999 * E18, sender=hedger)
    ch.trade(3, 0, ETH, 3_001 * E18, sender=hedger)  # no second registration
    assert ch.num_accounts() == 2
    assert tuple(ch.account_at(0)) == (trader.address, 0)
    assert tuple(ch.account_at(1)) == (hedger.address, 3)

    set_price(eth_feed, owner, 2_730)
    assert [tuple(a) for a in lens.accounts_to_liquidate(ch, 0, 50)] == [(trader.address, 0)]
    assert [tuple(a) for a in lens.accounts_to_liquidate(ch, 1, 50)] == []
    assert list(lens.accounts_to_liquidate(ch, 0, 0)) == []
    rows = lens.account_healths(ch, 0, 50)
    assert [(r.owner, r.sub_id) for r in rows] == [(trader.address, 0), (hedger.address, 3)]
    assert rows[0].equity == 1_269_850 * 10**15 and rows[0].mm == 1_365 * E18
    # The hedger is short 1 ETH from $3,000: up $270 at $2,730.
    assert tuple(rows[1])[2:5] == tuple(ch.account_health(hedger, 3))
    assert (rows[1].error, rows[1].asset) == ("", ZERO)  # read
    assert len(lens.account_healths(ch, 0, 1)) == 1
    # Review finding: a registered account with nothing owed is reported in
    # WAD USD like any other (it was the raw native quote balance).
    ch.trade(3, 0, ETH, 3_001 * E18, sender=hedger)
    assert ch.position_mask(hedger, 3) == 0
    assert tuple(lens.account_healths(ch, 1, 1)[0])[2:5] == tuple(ch.account_health(hedger, 3))
    assert lens.account_healths(ch, 1, 1)[0].equity > 9_000 * E18


def test_insurance_fund_deposits(liq_engine, stranger, usdc, fund):
    ch = liq_engine
    with ape.reverts(errors.ZERO_AMOUNT):
        ch.fund_insurance(0, sender=stranger)
    with ape.reverts(errors.AMOUNT_TOO_LARGE):
        ch.fund_insurance(2**128 + 1, sender=stranger)
    fund(usdc, stranger, 5 * USDC, ch)
    tx = ch.fund_insurance(5 * USDC, sender=stranger)
    assert ch.insurance_fund() == 5 * USDC
    assert usdc.balanceOf(ch) == 5 * USDC
    (ev,) = tx.events.filter(ch.InsuranceFunded)
    assert (ev.amount, ev.balance) == (5 * USDC, 5 * USDC)


def test_liquidator_called_directly_holds_nothing(project, owner, stranger):
    admin = owner.deploy(project.ClearinghouseAdmin)
    liquidator = owner.deploy(project.ClearinghouseLiquidator, admin)
    with ape.reverts(errors.UNKNOWN_MARKET):
        liquidator.liquidate(stranger, 0, 0, 1, 0, sender=owner)
    # The insurance top-up runs in ClearinghouseAdmin (through the
    # liquidator's fallback): called directly, no quote asset to pull.
    with ape.reverts():
        admin.fund_insurance(1, sender=owner)


def test_keeper_survives_a_lost_race(bull_10, trader, keeper, stranger, eth_feed, owner):
    """The keeper planned a liquidation, another liquidator got there first:
    its transaction reverts, it logs a lost race and carries on."""
    from xmargin.ops.keeper import Keeper, PassStats

    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    log: list[dict] = []
    bot = Keeper(engine=None, sender=keeper, log=log.append)
    ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=stranger)  # the rival, first
    stats = PassStats()
    assert bot._send(ch.liquidate, trader, 0, 0, 10 * ETH, 0, stats=stats) is None
    assert (stats.lost_races, stats.reverted) == (1, 0)
    assert log[-1]["event"] == "lost_race"
    assert log[-1]["reason"] == errors.NOT_LIQUIDATABLE
    # Any other revert is counted apart, and does not raise either.
    assert bot._send(ch.liquidate, trader, 0, 7, ETH, 0, stats=stats) is None
    assert (stats.lost_races, stats.reverted) == (1, 1)
    assert log[-1]["reason"] == errors.UNKNOWN_MARKET


def test_keeper_plans_what_the_engine_does(
    lens, bull_10, trader, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner
):
    """At $2,730 the bull (quote 3,969.85, long 10 ETH at $3,000) has
    E = 1,269.85 and MM = 1,365 (hand-computed in
    test_registry_and_batch_views): the keeper's plan from the model
    (`xmargin.maths.liquidation`) is a partial close, and the engine closes
    exactly that size and pays exactly that reward."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    (done,) = [e for e in log if e["event"] == "liquidated"]
    assert (done["closed"], done["reward"]) == (done["predicted"], done["predicted_reward"])
    assert 0 < done["closed"] < 10 * ETH
    assert (stats.liquidations, stats.reverted, stats.lost_races) == (1, 0, 0)


# ---------------------------------------------------------------- batches


def _bull(ch, who, usdc, fund, sub_id: int = 0) -> None:
    """Another 10 ETH bull on 4,000 USDC (a little more premium than the
    trader's: the skew is 10 ETH long before it)."""
    fund(usdc, who, 4_000 * USDC, ch)
    ch.deposit(sub_id, usdc, 4_000 * USDC, sender=who)
    ch.trade(sub_id, 0, 10 * ETH, 3_100 * E18, sender=who)


def _item(owner, sub_id: int = 0, market_id: int = 0, size: int = 10 * ETH, reward: int = 0):
    return (owner.address if hasattr(owner, "address") else owner, sub_id, market_id, size, reward)


def test_a_batch_liquidates_each_item_and_skips_those_that_fail(
    chain, bull_10, trader, hedger, stranger, keeper, usdc, eth_feed, owner, fund
):
    """Issue 20: one `liquidate_many` closes the trader exactly as a lone
    `liquidate` does (the hand-worked numbers of
    `test_partial_liquidation_restores_target_health`) and the hedger as a
    lone `liquidate` would in the same state; a healthy account, an
    unknown market and the caller's own account are skipped with their
    reasons, and the others go through."""
    ch = bull_10
    _bull(ch, hedger, usdc, fund)
    _bull(ch, keeper, usdc, fund, sub_id=1)  # the batch caller's own account
    fund(usdc, stranger, 4_000 * USDC, ch)
    ch.deposit(0, usdc, 4_000 * USDC, sender=stranger)
    ch.trade(0, 0, ETH, 3_100 * E18, sender=stranger)  # 1 ETH on $4,000: healthy
    set_price(eth_feed, owner, 2_730)
    # The hedger alone, for comparison.
    with isolated(chain):
        alone = ch.liquidate(hedger, 0, 0, 10 * ETH, 0, sender=keeper)
        (want,) = alone.events.filter(ch.Liquidation)
        want_hedger = (ch.balance_of(hedger, 0, usdc), tuple(ch.position(hedger, 0, 0)))
    items = [
        _item(trader),
        _item(stranger),
        _item(hedger, market_id=7),
        _item(keeper, sub_id=1),
        _item(hedger),
    ]
    tx = ch.liquidate_many(items, sender=keeper)
    done = {(ev.owner, ev.sub_id): ev for ev in tx.events.filter(ch.Liquidation)}
    assert set(done) == {(trader.address, 0), (hedger.address, 0)}
    assert all(ev.liquidator == keeper.address for ev in done.values())
    skipped = [
        (ev.owner, ev.market_id, revert_reason(ev.reason))
        for ev in tx.events.filter(ch.LiquidationSkipped)
    ]
    assert skipped == [
        (stranger.address, 0, errors.NOT_LIQUIDATABLE),
        (hedger.address, 7, errors.UNKNOWN_MARKET),
        (keeper.address, 0, errors.SELF_LIQUIDATION),
    ]
    # The trader: the hand-worked close, penalty and balance.
    x_exact = F(368_150_002, 10**6) / F(1092, 10)
    ev = done[(trader.address, 0)]
    assert 0 <= abs(ev.size_delta) - x_exact * ETH < 1
    assert ev.penalty == 184_075_002
    assert ch.balance_of(trader, 0, usdc) == 3_969_850_000 - 2_700_000_000 - 184_075_002
    # The hedger: exactly its lone liquidation.
    got = done[(hedger.address, 0)]
    fields = ("size_delta", "new_size", "quote_delta", "penalty", "keeper_reward")
    assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
    assert (ch.balance_of(hedger, 0, usdc), tuple(ch.position(hedger, 0, 0))) == want_hedger
    # Both rewards to the caller's sub-account 0; nothing created or lost.
    assert ch.balance_of(keeper, 0, usdc) == sum(ev.keeper_reward for ev in done.values())
    people = [trader, hedger, stranger, keeper]
    held = usdc.balanceOf(ch)
    assert held == quote_ledgers(ch, usdc, people) + ch.balance_of(keeper, 1, usdc)


def test_a_batch_that_would_do_nothing_reverts(bull_10, trader, stranger, keeper, eth_feed, owner):
    """Every item failing (or none given) reverts the batch, so a keeper's
    simulation catches it and nothing is sent; the engine's own
    `liquidate` cannot be called from outside a batch for someone else."""
    ch = bull_10
    with ape.reverts(errors.BATCH_ALL_FAILED):
        ch.liquidate_many([], sender=keeper)
    with ape.reverts(errors.BATCH_ALL_FAILED):
        ch.liquidate_many([_item(trader)], sender=keeper)  # healthy at $3,000
    set_price(eth_feed, owner, 2_730)
    with ape.reverts(errors.BATCH_ALL_FAILED):
        ch.liquidate_many([_item(trader)], sender=trader)  # its own account
    with ape.reverts():
        ch.liquidate_many([_item(trader)] * 101, sender=keeper)  # over 100: not decoded
    tx = ch.liquidate_many([_item(trader), _item(trader)], sender=stranger)
    # The second item finds the account at its target health.
    (ev,) = tx.events.filter(ch.LiquidationSkipped)
    assert revert_reason(ev.reason) == errors.NOT_LIQUIDATABLE


def test_a_batch_item_starved_of_gas_reverts_the_batch(bull_10, trader, keeper, eth_feed, owner):
    """A caller that gives the batch too little gas cannot make the engine
    log a liquidatable account as skipped: the batch reverts instead."""
    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    need = ch.liquidate_many.estimate_gas_cost([_item(trader)], sender=keeper)
    for gas in (need // 2, need * 3 // 4):
        with ape.reverts():
            ch.liquidate_many([_item(trader)], sender=keeper, gas=gas)
    assert ch.position(trader, 0, 0).size == 10 * ETH


def test_a_batch_goes_on_past_an_account_whose_price_broke(
    project, bull_10, trader, hedger, keeper, usdc, wbtc_listed, oracle, owner, fund, eth_feed
):
    """Issue 19 inside a batch: the hedger holds WBTC, whose feed turns
    hostile; its item is skipped with the router's reason (the batch's
    price cache never holds a price the router refused) and the trader's
    goes through."""
    from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE

    ch, wbtc = bull_10, wbtc_listed.token
    _bull(ch, hedger, usdc, fund)
    fund(wbtc, hedger, 10**6, ch)
    ch.deposit(0, wbtc, 10**6, sender=hedger)
    set_price(eth_feed, owner, 2_730)
    hostile = owner.deploy(project.MockRevertingFeed, 60_000 * FEED)
    oracle.set_feed(wbtc, hostile, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    hostile.set_mode(1, sender=owner)
    tx = ch.liquidate_many([_item(hedger), _item(trader)], sender=keeper)
    (ev,) = tx.events.filter(ch.LiquidationSkipped)
    assert (ev.owner, revert_reason(ev.reason)) == (hedger.address, errors.FEED_CALL_FAILED)
    (done,) = tx.events.filter(ch.Liquidation)
    assert done.owner == trader.address


@pytest.mark.parametrize("pipeline", [True, False], ids=["in flight", "one by one"])
def test_keeper_batch_survives_a_rival_taking_one_item(
    lens, bull_10, trader, hedger, keeper, stranger, usdc, weth, wbtc_listed, oracle, eth_feed,
    owner, fund, pipeline,
):  # fmt: skip
    """The keeper plans both bulls into one `liquidate_many`; a rival
    liquidates the trader just before it is sent. The batch still closes
    the hedger; the trader's item is logged as a lost race, and the pass
    ends with nobody liquidatable. The same whether the keeper's batches
    are sent in flight (its own nonces) or one by one."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = bull_10
    _bull(ch, hedger, usdc, fund)
    set_price(eth_feed, owner, 2_730)
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    log: list[dict] = []
    config = KeeperConfig(gas_asset=None, pipeline=pipeline)
    bot = Keeper(engine, keeper, config, log=log.append, from_block=0)
    # The rival strikes just before the keeper's batch goes out.
    target = bot.pipeline if pipeline else bot
    name = "submit" if pipeline else "_send"
    send = getattr(target, name)

    def rival_first(*args, **kwargs):
        ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=stranger)
        setattr(target, name, send)
        return send(*args, **kwargs)

    setattr(target, name, rival_first)
    stats = bot.run_once()
    assert (stats.batches, stats.liquidations, stats.lost_races, stats.reverted) == (1, 1, 1, 0)
    (skip,) = [e for e in log if e["event"] == "batch_item_skipped"]
    assert (skip["owner"], skip["reason"], skip["lost_race"]) == (
        trader.address,
        errors.NOT_LIQUIDATABLE,
        True,
    )
    (done,) = [e for e in log if e["event"] == "liquidated"]
    assert (done["owner"], done["closed"]) == (hedger.address, done["predicted"])
    for who in (trader, hedger):
        assert not lens.is_liquidatable(ch, who, 0)


def test_a_second_batch_in_the_same_transaction_reads_prices_afresh(
    project, bull_10, trader, hedger, keeper, usdc, eth_feed, owner, fund, oracle
):
    """Outside review: the batch's price cache is the batch's own. Two
    batches in one transaction with the price moved between them (a
    pull-style feed, an owner's multicall): the second reads the router's
    new $2,900, at which the hedger (10 ETH on 4,000 USDC: E = 2,969.x, MM
    = 1,450) is healthy, so its only item fails and the transaction
    reverts instead of liquidating it at the first batch's $2,730."""
    ch = bull_10
    _bull(ch, hedger, usdc, fund)
    set_price(eth_feed, owner, 2_730)
    helper = owner.deploy(project.TwoBatches)
    with ape.reverts(errors.BATCH_ALL_FAILED):
        helper.run(ch, [_item(trader)], eth_feed, 2_900 * FEED, [_item(hedger)], sender=keeper)
    # The first batch alone goes through at $2,730.
    helper.run(
        ch, [_item(trader)], eth_feed, 2_730 * FEED, [_item(trader), _item(hedger)], sender=keeper
    )
    assert ch.position(hedger, 0, 0).size < 10 * ETH


def _keeper_over(ch, lens, oracle, usdc, weth, wbtc_listed, eth_feed, keeper, log, **config):
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    config = KeeperConfig(gas_asset=None, **config)
    return Keeper(engine, keeper, config, log=log.append, from_block=0)


def test_keeper_batches_after_its_own_other_sends(
    lens, bull_10, trader, hedger, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner, fund
):
    """Outside review: the keeper also sends through Ape (settlements,
    reconcile, one-by-one liquidations), which takes the node's nonce; its
    batches in flight must never reuse one (the keeper then stopped with
    `Invalid nonce`)."""
    from xmargin.ops.keeper import PassStats

    ch = bull_10
    _bull(ch, hedger, usdc, fund)
    log: list[dict] = []
    bot = _keeper_over(ch, lens, oracle, usdc, weth, wbtc_listed, eth_feed, keeper, log)
    set_price(eth_feed, owner, 2_730)
    stats = bot.run_once()
    assert (stats.batches, stats.liquidations) == (1, 2)
    bot._send(ch.reconcile, weth.address, stats=PassStats())  # any send through Ape
    fund(usdc, trader, 4_000 * USDC, ch)
    ch.deposit(0, usdc, 4_000 * USDC, sender=trader)
    ch.trade(0, 0, 10 * ETH, 2_732 * E18, sender=trader)
    set_price(eth_feed, owner, 2_480)
    stats = bot.run_once()
    assert stats.batches == 1 and stats.liquidations >= 1


def test_keeper_finds_an_account_whose_log_it_missed(
    lens, bull_10, trader, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner
):
    """Outside review: a node that once answered without a log (a backend
    behind the head) made the replica value the trader with no position;
    only candidates were compared with the chain, so it was never
    liquidated. The audit compares accounts with the chain in turn: the
    first pass re-reads it (`replica_mismatch`), the next liquidates it."""
    log: list[dict] = []
    ch = bull_10
    bot = _keeper_over(ch, lens, oracle, usdc, weth, wbtc_listed, eth_feed, keeper, log)
    apply = bot.replica.replica.apply

    def lossy(name, args):  # the trade's log never arrived
        if name != "Trade":
            apply(name, args)

    bot.replica.replica.apply = lossy  # type: ignore[method-assign]
    bot.replica.update(ch.chain_manager.blocks.head.number)
    bot.replica.replica.apply = apply  # type: ignore[method-assign]
    assert bot.replica.replica.accounts[(trader.address, 0)].positions == {}
    set_price(eth_feed, owner, 2_500)
    assert lens.is_liquidatable(ch, trader, 0)
    first = bot.run_once()
    assert first.mismatches == 1
    (seen,) = [e for e in log if e["event"] == "replica_mismatch"]
    assert (seen["owner"], seen["sub_id"]) == (trader.address, 0)
    bot.run_once()
    assert not lens.is_liquidatable(ch, trader, 0)


def test_keeper_adds_an_account_the_registry_holds_and_its_replica_lacks(
    lens, bull_10, trader, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner
):
    """The registry (`num_accounts`, `account_at`) names every account that
    ever traded: one whose events the replica never saw is read and added
    on the next pass (`replica_gap`) and liquidated."""
    log: list[dict] = []
    ch = bull_10
    bot = _keeper_over(ch, lens, oracle, usdc, weth, wbtc_listed, eth_feed, keeper, log, audit=0)
    bot.replica.update(ch.chain_manager.blocks.head.number)
    bot.replica.replica.accounts.clear()
    bot.replica.replica.registered.clear()
    set_price(eth_feed, owner, 2_500)
    stats = bot.run_once()
    assert [e["event"] for e in log if e["event"] == "replica_gap"] == []  # audit off: none
    assert stats.liquidations == 0
    bot.config.audit = 50
    stats = bot.run_once()
    (gap,) = [e for e in log if e["event"] == "replica_gap"]
    assert (gap["owner"], gap["index"]) == (trader.address, 0)
    assert stats.liquidations == 1
    assert not lens.is_liquidatable(ch, trader, 0)


def test_keeper_values_accounts_from_events_alone(
    lens, bull_10, trader, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner
):
    """Issue 20: the keeper's replica is rebuilt from the engine's events
    (the deposit, then the trade), with no call per account: at $2,730 it
    values the bull at the hand-computed E = 3,969.85 - 10 * 270 =
    1,269.85 and MM = 10 * 2,730 * 5 % = 1,365 (USD)."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig, PassStats

    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=[].append, from_block=0)
    stats = PassStats()
    (row,) = bot.scan(ch.chain_manager.blocks.head.number, stats)
    assert (row.owner, row.sub_id) == (trader.address, 0)
    assert (row.equity, row.mm) == (1_269_850 * E18 // 1_000, 1_365 * E18)
    # the deposit, the trade and its registration
    assert (stats.accounts, stats.valued, stats.events) == (1, 1, 3)
    assert bot.replica.replica.accounts[(trader.address, 0)].balances == {"USDC": 3_969_850_000}


def test_keeper_rereads_an_account_its_replica_got_wrong(
    lens, bull_10, trader, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner
):
    """A replica that went wrong (a log its node never returned, a lying
    RPC) makes a healthy account look liquidatable: the keeper checks the
    chain at the same block before sending anything, logs the mismatch,
    sends nothing, and re-reads the account, so the next pass agrees."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = bull_10
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    log: list[dict] = []
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append, from_block=0)
    head = ch.chain_manager.blocks.head.number
    bot.replica.update(head)
    # A withdrawal of 3,900 USDC that never happened on chain.
    bot.replica.replica.apply(
        "Withdraw",
        {"owner": trader.address, "sub_id": 0, "asset": usdc.address, "balance": 69_850_000},
    )
    stats = bot.run_once()
    (mismatch,) = [e for e in log if e["event"] == "replica_mismatch"]
    h = ch.account_health(trader, 0)
    assert mismatch["chain"] == [h.equity, h.im, h.mm]
    assert mismatch["replica"][0] == h.equity - 3_900 * E18
    assert (stats.mismatches, stats.liquidatable, stats.liquidations) == (1, 0, 0)
    assert bot.replica.replica.accounts[(trader.address, 0)].balances == {"USDC": 3_969_850_000}
    log.clear()
    assert bot.run_once().mismatches == 0


def test_keeper_sends_nothing_while_liquidations_are_closed(
    lens, bull_10, trader, keeper, usdc, weth, wbtc_listed, oracle, eth_feed, owner, guardian
):
    """Paused, the bull at $2,730 is listed below MM, but every liquidation
    would revert: the keeper logs it once and sends nothing."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = bull_10
    set_price(eth_feed, owner, 2_730)
    ch.pause(sender=guardian)
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    assert [e["event"] for e in log] == ["scan", "liquidations_closed", "pass"]
    assert (log[1]["paused"], stats.liquidatable, stats.liquidations) == (True, 1, 0)
    assert ch.position(trader, 0, 0).size == 10 * ETH


@pytest.mark.parametrize("mode", [1, 3], ids=["reverting feed", "gas-burning feed"])
def test_keeper_liquidates_everyone_else_when_one_feed_breaks(
    project, lens, bull_10, trader, hedger, keeper, stranger, usdc, weth, wbtc_listed, oracle,
    eth_feed, owner, fund, mode,
):  # fmt: skip
    """Issue 19: an account holding WBTC whose feed turns hostile cannot be
    read; the lens's page names it with the router's reason and WBTC, and
    reads the two others. The keeper logs the one it cannot read and
    liquidates the bull in the same pass."""
    from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch, wbtc = bull_10, wbtc_listed.token
    hostile = owner.deploy(project.MockRevertingFeed, 60_000 * FEED)
    oracle.set_feed(wbtc, hostile, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    fund(wbtc, hedger, 10**8, ch)
    ch.deposit(0, wbtc, 10**8, sender=hedger)
    ch.trade(0, 0, -ETH, 0, sender=hedger)  # a position: its health needs WBTC's price
    fund(usdc, stranger, 1_000 * USDC, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=stranger)
    ch.trade(0, 0, ETH // 10, 2**200, sender=stranger)  # registry index 2, after the broken one
    hostile.set_mode(mode, sender=owner)
    set_price(eth_feed, owner, 2_730)
    # The lens names the broken account and the asset to blame, and reads
    # the others in the same page (issue 19).
    rows = lens.account_healths(ch, 0, 50)
    assert [(r.owner, r.error, r.asset) for r in rows] == [
        (trader.address, "", ZERO),
        (hedger.address, errors.FEED_CALL_FAILED, wbtc.address),
        (stranger.address, "", ZERO),
    ]
    assert tuple(rows[1])[2:5] == (0, 0, 0)
    assert tuple(rows[0])[2:5] == tuple(ch.account_health(trader, 0))
    assert [tuple(a) for a in lens.accounts_to_liquidate(ch, 0, 50)] == [(trader.address, 0)]
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc}
    feeds = {"WETH": eth_feed, "WBTC": hostile}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    (unreadable,) = [e for e in log if e["event"] == "account_unreadable"]
    assert (unreadable["owner"], unreadable["sub_id"]) == (hedger.address, 0)
    assert (unreadable["reason"], unreadable["asset"]) == (errors.FEED_CALL_FAILED, "WBTC")
    # three accounts with liabilities screened, one of them unreadable
    assert (stats.accounts, stats.unreadable, stats.liquidations) == (3, 1, 1)
    h = ch.account_health(trader, 0)
    assert h.equity >= h.mm
    # `xmargin accounts` reads the same way, each row with its registry index.
    from xmargin.chain.scan import read_healths

    missing: list[tuple] = []
    block = ch.chain_manager.blocks.head.number
    rows = read_healths(engine, block, on_unreadable=lambda *a: missing.append(a))
    assert [(r.index, r.owner) for r in rows] == [(0, trader.address), (2, stranger.address)]
    assert missing == [(1, hedger.address, 0, errors.FEED_CALL_FAILED, wbtc.address)]


def test_keeper_refuses_a_record_of_another_deployment(
    project, lens, bull_10, usdc, weth, wbtc_listed, oracle, eth_feed, owner
):
    """Issue 20's bad input: a record whose addresses are not this engine's
    (another deployment on the same chain) is refused with what differs,
    before any pass; the record of this engine passes."""
    from dataclasses import replace as with_fields

    from tests.engines import engine_over
    from xmargin.chain.deployments import DeploymentError
    from xmargin.chain.engine import check_engine

    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(bull_10, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    check_engine(engine)
    other_router = owner.deploy(project.OracleRouter)
    with pytest.raises(DeploymentError, match="belongs to another deployment"):
        check_engine(with_fields(engine, router=other_router))
    no_code = with_fields(engine, clearinghouse=project.Clearinghouse.at(owner.address))
    with pytest.raises(DeploymentError, match="has no code"):
        check_engine(no_code)


def test_keeper_shards_split_the_accounts_between_them(
    lens, bull_10, trader, hedger, keeper, stranger, usdc, weth, wbtc_listed, oracle, eth_feed,
    owner, fund,
):  # fmt: skip
    """Issue 20 point 4: three keepers, shards 0/3, 1/3 and 2/3, each sending
    from its own account. An account belongs to shard keccak(owner's 20 bytes ++
    sub-account id as a 32-byte word) mod 3 (computed here from that
    rule); each keeper liquidates exactly its own shard's accounts, and
    the three together leave nobody liquidatable."""
    from eth_utils import keccak

    from xmargin.ops.keeper import KeeperConfig

    ch = bull_10
    _bull(ch, hedger, usdc, fund)
    set_price(eth_feed, owner, 2_730)
    doomed = [trader, hedger]
    assert all(lens.is_liquidatable(ch, who, 0) for who in doomed)

    def shard(who) -> int:
        word = bytes.fromhex(who.address[2:]) + bytes(32)
        return int.from_bytes(keccak(word), "big") % 3

    assert len({shard(w) for w in doomed}) == 2, "the test needs the two in different shards"
    log: list[dict] = []
    senders = {0: keeper, 1: stranger, 2: owner}
    for index in (2, 1, 0):
        bot = _keeper_over(
            ch, lens, oracle, usdc, weth, wbtc_listed, eth_feed, senders[index], log,
            shard=(index, 3),
        )  # fmt: skip
        # The work that is not per account: the keeper of shard 0 alone.
        chores: list[str] = []
        for chore in ("watch_assets", "settle_orders", "settle_lp_requests"):
            setattr(bot, chore, lambda _stats, name=chore, into=chores: into.append(name))
        start = ch.chain_manager.blocks.head.number
        bot.run_once()
        assert chores == (["watch_assets", "settle_orders", "settle_lp_requests"] * (index == 0))
        assert len([e for e in log if e["event"] == "pass" and e["shard"] == f"{index}/3"]) == 1
        head = ch.chain_manager.blocks.head.number
        events = ch.Liquidation.range(start + 1, head + 1) if head > start else []
        assert {e.owner for e in events} == {w.address for w in doomed if shard(w) == index}
        assert {e.liquidator for e in events} <= {senders[index].address}
        for who in doomed:
            assert lens.is_liquidatable(ch, who, 0) == (shard(who) < index)
    with pytest.raises(ValueError, match="index must be in"):
        KeeperConfig(shard=(2, 2))


def test_cash_word_round_trips_at_its_bounds(harness, owner):
    """Issue 20 point 5: the pool's cash (int128, two's complement) and the
    insurance fund (uint128) share one storage word. Each at the ends of
    its lane, both signs of the cash, round-trips through `pool_balance`
    and `insurance_fund`; moving the cash leaves the fund as it was; a
    value past its lane reverts instead of spilling into the other (with
    the catalogue's reason when stored whole, bare when a settlement moves
    the cash: the orders extension has no room for the reason)."""
    cases = [
        (2**127 - 1, 2**128 - 1),
        (-(2**127), 0),
        (-1, 1),
        (0, 2**128 - 1),
        (123_456 * 10**6, 7 * 10**6),
    ]
    for cash, fund in cases:
        harness.harness_store_cash(cash, fund, sender=owner)
        assert (harness.pool_balance(), harness.insurance_fund()) == (cash, fund)
    harness.harness_store_cash(-5, 2**128 - 1, sender=owner)
    harness.harness_move_cash(2**127 - 1 + 5, sender=owner)
    assert (harness.pool_balance(), harness.insurance_fund()) == (2**127 - 1, 2**128 - 1)
    harness.harness_move_cash(-(2**128) + 1, sender=owner)
    assert (harness.pool_balance(), harness.insurance_fund()) == (-(2**127), 2**128 - 1)
    for cash, fund in ((2**127, 0), (-(2**127) - 1, 0), (0, 2**128), (2**255 - 1, 0)):
        with ape.reverts(errors.LEDGER_FULL):
            harness.harness_store_cash(cash, fund, sender=owner)
    for delta in (-1, 2**128):
        with ape.reverts():
            harness.harness_move_cash(delta, sender=owner)  # the cash is -2**127
    assert (harness.pool_balance(), harness.insurance_fund()) == (-(2**127), 2**128 - 1)


def test_bad_debt_totals_round_trip_at_their_bounds(harness, owner):
    """Issue 20 point 5: the bad debt paid by the insurance fund and by
    the pool share one word (uint128 each; the total is their sum). Each
    lane filled to its top reads back, the other untouched; more stops at
    the top (a statistic must not block a write-off) and never carries
    into the other lane."""
    harness.harness_record_bad_debt(2**128 - 1, 0, sender=owner)
    assert harness.bad_debt_insurance() == 2**128 - 1
    assert (harness.bad_debt_pool(), harness.bad_debt_total()) == (0, 2**128 - 1)
    harness.harness_record_bad_debt(5, 7, sender=owner)
    assert (harness.bad_debt_insurance(), harness.bad_debt_pool()) == (2**128 - 1, 7)
    harness.harness_record_bad_debt(0, 2**128 - 1, sender=owner)
    assert (harness.bad_debt_insurance(), harness.bad_debt_pool()) == (2**128 - 1, 2**128 - 1)
    assert harness.bad_debt_total() == 2**129 - 2


def test_a_full_insurance_fund_never_blocks_a_liquidation(
    bull_10, eth_feed, owner, trader, keeper, stranger, usdc, fund
):
    """The fund's lane is uint128. Filled to the top by anyone's top-up (a
    griefer's), a liquidation that would pay the fund a share still goes
    through: the share is cut to the room left, 0, so the penalty is the
    keeper's reward alone; one more unit of top-up is refused with the
    catalogue's reason. (The outside review of the packing found that the
    first version reverted here.)"""
    ch = bull_10
    fund(usdc, stranger, 2**128 - 1, ch)
    ch.fund_insurance(2**128 - 1, sender=stranger)
    assert ch.insurance_fund() == 2**128 - 1
    fund(usdc, stranger, 1, ch)
    with ape.reverts(errors.LEDGER_FULL):
        ch.fund_insurance(1, sender=stranger)
    eth_feed.set_answer(2_730 * FEED, sender=owner)  # below MM, equity left
    tx = ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    [ev] = tx.decode_logs(ch.Liquidation)
    assert ev.insurance_share == 0
    assert ev.penalty == ev.keeper_reward > 0
    assert ch.insurance_fund() == 2**128 - 1
