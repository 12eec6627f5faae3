"""Delayed orders: commit, settle, cancel, the rules and the locks.

The market is tests.markets.ETH_MARKET (ETH at $3,000, skew scale
1,000,000 ETH, taker 0.1 %, maker 0.05 %) switched to delayed orders:
a 10 s delay, a 300 s window and a 2 USDC settlement fee. Every expected
number is worked out by hand in the comments.
"""

from __future__ import annotations

import ape
import pytest

from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.maths import errors
from xmargin.maths import orders as om

DELAY = 10
WINDOW = 300
FEE = 2 * USDC
FEED = 10**8  # the mock feeds' 8 decimals
NONE = (0,) * 7  # no pending order


@pytest.fixture
def delayed(clearinghouse, market, owner) -> int:
    clearinghouse.set_order_rules(market, DELAY, WINDOW, FEE, False, 0, sender=owner)
    return market


@pytest.fixture
def deposit(deposit_usdc):
    return deposit_usdc


def commit(ch, who, market, size, acceptable, clock, dt=0, sub_id=0):
    t = clock.at(dt)
    tx = ch.commit_order(who, sub_id, market, size, acceptable, sender=who)
    return t, tx


def state(ch, usdc, people) -> tuple:
    """Everything a refused call must leave as it was."""
    return (
        tuple(ch.balance_of(p, 0, usdc) for p in people),
        tuple(tuple(ch.pending_order(p, 0)) for p in people),
        tuple(tuple(ch.position(p, 0, 0)) for p in people),
        ch.order_fees(),
        ch.pool_balance(),
        tuple(ch.market_state(0)),
    )


# ---------------------------------------------------------------- rules


def test_rules_are_owners_and_bounded(clearinghouse, market, owner, stranger):
    ch = clearinghouse
    with ape.reverts(errors.NOT_OWNER):
        ch.set_order_rules(market, DELAY, WINDOW, FEE, False, 0, sender=stranger)
    bad = [
        ((0, WINDOW, FEE, False, 0), errors.ORDER_DELAY_RANGE),
        ((3_601, WINDOW, FEE, False, 0), errors.ORDER_DELAY_RANGE),
        ((DELAY, 0, FEE, False, 0), errors.ORDER_WINDOW_RANGE),
        ((DELAY, 7 * 86_400 + 1, FEE, False, 0), errors.ORDER_WINDOW_RANGE),
        ((DELAY, WINDOW, 2**128, False, 0), errors.AMOUNT_TOO_LARGE),
        ((DELAY, WINDOW, FEE, False, E18 + 1), errors.ORDER_DEVIATION_RANGE),
        # maker 0.05 % + taker 0.1 % = 0.15 % < a 0.5 % round: not atomic.
        ((DELAY, WINDOW, FEE, True, 5 * E18 // 1_000), errors.FEES_BELOW_DEVIATION),
    ]
    for args, reason in bad:
        rules = om.OrderRules(*args)
        if reason == errors.FEES_BELOW_DEVIATION:
            assert om.rules_reason(rules) is None
            assert om.atomic_reason(rules, E18 // 2_000, E18 // 1_000) == reason
        else:
            assert om.rules_reason(rules) == reason
        with ape.reverts(reason):
            ch.set_order_rules(market, *args, sender=owner)
    with ape.reverts(errors.UNKNOWN_MARKET):
        ch.set_order_rules(1, DELAY, WINDOW, FEE, False, 0, sender=owner)
    # At the bounds, and a deviation the fees just cover (0.15 %).
    tx = ch.set_order_rules(
        market, 3_600, 7 * 86_400, 2**128 - 1, True, 15 * E18 // 10_000, sender=owner
    )
    assert tuple(ch.order_rules(market)) == (
        3_600,
        7 * 86_400,
        2**128 - 1,
        True,
        15 * E18 // 10_000,
    )
    (event,) = tx.events.filter(ch.OrderRulesSet)
    assert (event.min_delay, event.window, event.atomic) == (3_600, 7 * 86_400, True)


def test_atomic_trades_need_the_switch_and_covering_fees(
    clearinghouse, market, owner, trader, deposit, weth
):
    ch = clearinghouse
    deposit(trader, 10_000)
    ch.set_order_rules(market, DELAY, WINDOW, FEE, False, 0, sender=owner)
    with ape.reverts(errors.TRADE_BY_ORDER):
        ch.trade(0, market, ETH, 4_000 * E18, sender=trader)
    ch.set_order_rules(market, DELAY, WINDOW, FEE, True, 15 * E18 // 10_000, sender=owner)
    ch.trade(0, market, ETH, 4_000 * E18, sender=trader)
    # The owner cuts the fees under the declared deviation: atomic trades
    # stop (0.04 % + 0.1 % < 0.15 %); closing goes through an order.
    ch.set_market_params(market, params(weth.address, maker_fee=4 * E18 // 10_000), sender=owner)
    with ape.reverts(errors.FEES_BELOW_DEVIATION):
        ch.trade(0, market, -ETH, 0, sender=trader)


def test_a_market_without_rules_trades_neither_way(
    clearinghouse, market, owner, trader, deposit, wbtc
):
    ch = clearinghouse
    deposit(trader, 10_000)
    ch.list_market(params(wbtc.address), sender=owner)
    with ape.reverts(errors.TRADE_BY_ORDER):
        ch.trade(0, 1, 10**16, 10**30, sender=trader)
    with ape.reverts(errors.NO_ORDER_RULES):
        ch.commit_order(trader, 0, 1, 10**16, 10**30, sender=trader)


# ---------------------------------------------------------------- commit


def test_commit_escrows_the_fee(clearinghouse, delayed, trader, usdc, deposit, clock):
    ch = clearinghouse
    deposit(trader, 10_000)
    t, tx = commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    assert ch.balance_of(trader, 0, usdc) == 10_000 * USDC - FEE
    assert ch.order_fees() == FEE
    assert tuple(ch.pending_order(trader, 0)) == (delayed, ETH, 3_100 * E18, t, FEE, DELAY, WINDOW)
    (event,) = tx.events.filter(ch.OrderCommitted)
    assert (event.size_delta, event.fee, event.settle_after, event.expires) == (
        ETH,
        FEE,
        t + DELAY,
        t + DELAY + WINDOW,
    )
    # Nothing traded yet.
    assert tuple(ch.position(trader, 0, delayed)) == (0, 0, 0)
    assert ch.pool_balance() == 0


def test_bad_commits_revert_and_change_nothing(
    clearinghouse, delayed, trader, stranger, usdc, deposit, clock, fund
):
    ch = clearinghouse
    deposit(trader, 10_000)
    fund(usdc, stranger, USDC, ch)
    ch.deposit(0, usdc, USDC, sender=stranger)  # 1 USDC: below the 2 USDC fee
    before = state(ch, usdc, (trader, stranger))
    for args, who, reason in [
        ((trader, 0, 5, ETH, 0), trader, errors.UNKNOWN_MARKET),
        ((trader, 0, delayed, 0, 0), trader, errors.ZERO_SIZE),
        ((trader, 0, delayed, 2**96 + 1, 0), trader, errors.SIZE_TOO_LARGE),
        ((trader, 0, delayed, ETH, 0), stranger, errors.NOT_OPERATOR),
        ((stranger, 0, delayed, ETH, 10**30), stranger, errors.INSUFFICIENT_BALANCE),
    ]:
        with ape.reverts(reason):
            ch.commit_order(*args, sender=who)
    assert state(ch, usdc, (trader, stranger)) == before
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    pending = state(ch, usdc, (trader, stranger))
    with ape.reverts(errors.ORDER_PENDING):
        ch.commit_order(trader, 0, delayed, -ETH, 0, sender=trader)
    assert state(ch, usdc, (trader, stranger)) == pending


def test_an_operator_commits_for_the_owner(
    clearinghouse, delayed, trader, stranger, deposit, clock
):
    ch = clearinghouse
    deposit(trader, 10_000)
    ch.set_operator(0, stranger, True, sender=trader)
    t = clock.at(0)
    ch.commit_order(trader, 0, delayed, ETH, 3_100 * E18, sender=stranger)
    assert ch.pending_order(trader, 0).commit_time == t


# ---------------------------------------------------------------- settle


def test_settle_fills_at_the_first_price_after_the_delay(
    clearinghouse, delayed, trader, keeper, usdc, deposit, clock, eth_feed, owner
):
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    clock.at(DELAY)
    eth_feed.set_answer(3_030 * FEED, sender=owner)  # published at commit + DELAY
    clock.at(DELAY + 5)
    tx = ch.settle_order(trader, 0, sender=keeper)
    # fill = 3030 * (1 + (0 + 1) / 2e6) = 3030.001515; premium $0.001515;
    # taker fee 0.1 % of $3,030 = $3.03: -3.031515 USDC to the pool.
    fill = 3_030_001_515 * 10**12
    assert ch.balance_of(trader, 0, usdc) == 10_000 * USDC - FEE - 3_031_515
    assert ch.pool_balance() == 3_031_515
    assert ch.balance_of(keeper, 0, usdc) == FEE
    assert ch.order_fees() == 0
    assert tuple(ch.pending_order(trader, 0)) == NONE
    assert tuple(ch.position(trader, 0, delayed)) == (ETH, 3_030 * E18, 0)
    (settled,) = tx.events.filter(ch.OrderSettled)
    assert (settled.filled, settled.oracle_price, settled.fill_price, settled.fee) == (
        True,
        3_030 * E18,
        fill,
        FEE,
    )
    assert settled.settler == keeper.address
    (trade,) = tx.events.filter(ch.Trade)
    assert (trade.fill_price, trade.quote_delta) == (fill, -3_031_515)
    # Settled once: the second call finds no order.
    with ape.reverts(errors.NO_ORDER):
        ch.settle_order(trader, 0, sender=keeper)


def test_settle_refuses_early_stale_and_expired(
    clearinghouse, delayed, trader, keeper, usdc, deposit, clock, eth_feed, owner
):
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    people = (trader, keeper)
    before = state(ch, usdc, people)
    clock.at(DELAY - 2)
    with ape.reverts(errors.ORDER_TOO_EARLY):
        ch.settle_order(trader, 0, sender=keeper)
    # A round one second before the delay ends, seen before the commit:
    # not a settlement price.
    clock.at(DELAY - 1)
    eth_feed.set_answer(3_015 * FEED, sender=owner)
    before = state(ch, usdc, people)
    clock.at(DELAY + 1)
    with ape.reverts(errors.ORDER_PRICE_TOO_OLD):
        ch.settle_order(trader, 0, sender=keeper)
    assert state(ch, usdc, people) == before
    clock.at(DELAY + WINDOW)
    eth_feed.set_answer(3_020 * FEED, sender=owner)
    before = state(ch, usdc, people)
    clock.at(DELAY + WINDOW + 1)
    with ape.reverts(errors.ORDER_EXPIRED):
        ch.settle_order(trader, 0, sender=keeper)
    assert state(ch, usdc, people) == before
    with ape.reverts(errors.NO_ORDER):
        ch.settle_order(keeper, 0, sender=keeper)


def test_a_fill_beyond_the_acceptable_price_is_refused_and_pays_the_settler(
    clearinghouse, delayed, trader, keeper, usdc, deposit, clock, eth_feed, owner
):
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, ETH, 3_020 * E18, clock)
    clock.at(DELAY)
    eth_feed.set_answer(3_030 * FEED, sender=owner)
    tx = ch.settle_order(trader, 0, sender=keeper)
    # 3030.001515 > 3020: refused. The settler keeps the fee; nothing trades
    # and the pool neither gains nor pays.
    assert ch.balance_of(trader, 0, usdc) == 10_000 * USDC - FEE
    assert ch.balance_of(keeper, 0, usdc) == FEE
    assert ch.pool_balance() == 0
    assert tuple(ch.position(trader, 0, delayed)) == (0, 0, 0)
    assert tuple(ch.pending_order(trader, 0)) == NONE
    (event,) = tx.events.filter(ch.OrderSettled)
    assert (event.filled, event.fill_price) == (False, 0)
    assert list(tx.events.filter(ch.Trade)) == []
    assert not om.fills(om.Order(size_delta=ETH, acceptable_price=3_020 * E18), 3_030 * E18)


def test_a_trade_refused_at_settlement_removes_the_order(
    clearinghouse, delayed, trader, keeper, usdc, deposit, clock, eth_feed, owner
):
    """Risk checks run at settlement. One that fails removes the order (the
    settler keeps the fee) instead of leaving it pending: otherwise an
    order kept unsettleable on purpose (committed without the margin)
    would wait for the round its owner likes, then be funded and settled
    on the price before it (found by review)."""
    ch = clearinghouse
    deposit(trader, 320)
    # At $3,000 a 1 ETH long needs IM 300.003 + fee 3 of 318 after the
    # escrow; at $3,300 it needs IM 330.0033: below IM.
    commit(ch, trader, delayed, ETH, 10**30, clock)
    clock.at(DELAY)
    eth_feed.set_answer(3_300 * FEED, sender=owner)
    tx = ch.settle_order(trader, 0, sender=keeper)
    (event,) = tx.events.filter(ch.OrderSettled)
    assert (event.filled, event.trade_refused, event.fill_price) == (False, True, 0)
    assert list(tx.events.filter(ch.Trade)) == []
    assert tuple(ch.pending_order(trader, 0)) == NONE
    assert ch.balance_of(trader, 0, usdc) == 320 * USDC - FEE
    assert ch.balance_of(keeper, 0, usdc) == FEE
    assert tuple(ch.position(trader, 0, delayed)) == (0, 0, 0)
    assert ch.pool_balance() == 0
    # The account is free again at once.
    ch.withdraw(0, usdc, USDC, sender=trader)


def test_an_underfunded_order_is_not_a_free_option(
    clearinghouse, delayed, trader, keeper, usdc, deposit_usdc, clock, eth_feed, owner
):
    """The review's attack: commit +100 ETH on 10 USDC so that every
    keeper's settlement fails, wait for a round seen coming, fund and
    settle on the price before it. The first keeper settlement after the
    delay now removes the order: the attacker keeps no option and loses
    the fee; funding later settles nothing."""
    ch = clearinghouse
    deposit_usdc(trader, 10)
    commit(ch, trader, delayed, 100 * ETH, 10**30, clock)
    clock.at(DELAY)
    eth_feed.set_answer(3_000 * FEED, sender=owner)
    tx = ch.settle_order(trader, 0, sender=keeper)
    assert tx.events.filter(ch.OrderSettled)[0].trade_refused
    deposit_usdc(trader, 100_000)
    eth_feed.set_answer(3_000 * FEED, sender=owner)
    with ape.reverts(errors.NO_ORDER):
        ch.settle_order(trader, 0, sender=trader)
    assert ch.position(trader, 0, delayed).size == 0
    assert ch.balance_of(trader, 0, usdc) == 100_010 * USDC - FEE


def test_rule_changes_do_not_move_a_pending_order(
    clearinghouse, delayed, trader, keeper, deposit, clock, eth_feed, owner
):
    """An order keeps the delay and window of its commit: the owner
    shortening the delay cannot let it settle on a round visible at the
    commit, nor a longer window lock its account longer (found by review)."""
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, ETH, 10**30, clock)
    ch.set_order_rules(delayed, 1, 7 * 86_400, FEE, False, 0, sender=owner)
    clock.at(DELAY - 2)
    eth_feed.set_answer(3_015 * FEED, sender=owner)
    with ape.reverts(errors.ORDER_TOO_EARLY):
        ch.settle_order(trader, 0, sender=keeper)
    clock.at(DELAY + WINDOW + 1)
    ch.cancel_order(trader, 0, sender=trader)  # expired under its own window


# ---------------------------------------------------------------- cancel


def test_cancel_only_after_expiry_and_only_by_the_owner(
    clearinghouse, delayed, trader, stranger, usdc, deposit, clock
):
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    clock.at(DELAY + WINDOW)
    with ape.reverts(errors.ORDER_NOT_EXPIRED):
        ch.cancel_order(trader, 0, sender=trader)
    clock.at(DELAY + WINDOW + 1)
    with ape.reverts(errors.NOT_OPERATOR):
        ch.cancel_order(trader, 0, sender=stranger)
    tx = ch.cancel_order(trader, 0, sender=trader)
    assert ch.balance_of(trader, 0, usdc) == 10_000 * USDC
    assert ch.order_fees() == 0
    (event,) = tx.events.filter(ch.OrderCancelled)
    assert (event.size_delta, event.fee) == (ETH, FEE)
    with ape.reverts(errors.NO_ORDER):
        ch.cancel_order(trader, 0, sender=trader)


def test_a_new_commit_replaces_an_expired_order(
    clearinghouse, delayed, trader, usdc, deposit, clock
):
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    t, tx = commit(ch, trader, delayed, -ETH, 0, clock, dt=DELAY + WINDOW + 1)
    assert [e.event_name for e in tx.events] == ["OrderCancelled", "OrderCommitted"]
    assert ch.balance_of(trader, 0, usdc) == 10_000 * USDC - FEE
    assert ch.order_fees() == FEE
    assert tuple(ch.pending_order(trader, 0)) == (delayed, -ETH, 0, t, FEE, DELAY, WINDOW)


# ---------------------------------------------------------------- locks


def test_a_pending_order_locks_margin_out_of_the_account(
    clearinghouse, delayed, trader, stranger, usdc, deposit, clock, owner, wbtc
):
    """Once the settlement price is known, the committer must not be able
    to make the order fail (and keep the option of not trading) by taking
    margin out or trading elsewhere first."""
    ch = clearinghouse
    deposit(trader, 10_000)
    ch.list_market(params(wbtc.address), sender=owner)
    allow_atomic(ch, owner)
    ch.set_operator(0, stranger, True, sender=trader)
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    before = state(ch, usdc, (trader,))
    for call, who in [
        (lambda s: ch.withdraw(0, usdc, USDC, sender=s), trader),
        (lambda s: ch.withdraw_for(trader, 0, usdc, USDC, sender=s), stranger),
        (lambda s: ch.transfer_between(0, 1, usdc, USDC, sender=s), trader),
        (lambda s: ch.set_margin_mode(0, True, sender=s), trader),
        (lambda s: ch.trade(0, 1, 10**16, 10**30, sender=s), trader),
        (lambda s: ch.trade_for(trader, 0, 1, 10**16, 10**30, sender=s), stranger),
    ]:
        with ape.reverts(errors.ORDER_PENDING):
            call(who)
    assert state(ch, usdc, (trader,)) == before
    # Adding margin is always allowed; other sub-accounts are not locked.
    deposit(trader, 100)
    deposit(trader, 100, sub_id=1)
    ch.withdraw(1, usdc, 100 * USDC, sender=trader)


def test_closing_by_order_works_while_paused(
    clearinghouse, delayed, trader, keeper, deposit, clock, eth_feed, owner, guardian
):
    ch = clearinghouse
    deposit(trader, 10_000)
    commit(ch, trader, delayed, 2 * ETH, 10**30, clock)
    clock.at(DELAY)
    eth_feed.set_answer(3_000 * FEED, sender=owner)
    ch.settle_order(trader, 0, sender=keeper)
    ch.pause(sender=guardian)
    commit(ch, trader, delayed, -ETH, 0, clock, dt=DELAY + 10)
    clock.at(2 * DELAY + 10)
    eth_feed.set_answer(3_000 * FEED, sender=owner)
    ch.settle_order(trader, 0, sender=keeper)
    assert ch.position(trader, 0, delayed).size == ETH
    # An order that adds risk is refused while paused: removed, fee to the
    # settler, nothing trades.
    commit(ch, trader, delayed, ETH, 10**30, clock, dt=2 * DELAY + 20)
    clock.at(3 * DELAY + 20)
    eth_feed.set_answer(3_000 * FEED, sender=owner)
    tx = ch.settle_order(trader, 0, sender=keeper)
    assert tx.events.filter(ch.OrderSettled)[0].trade_refused
    assert ch.position(trader, 0, delayed).size == ETH


# ---------------------------------------------------------------- the attack


def test_trading_ahead_of_a_round_gains_nothing_by_order(
    clearinghouse, delayed, trader, keeper, usdc, deposit, clock, eth_feed, owner
):
    """The attack of issue 18 (1): a +0.5 % round (3,000 -> 3,015) is seen
    before it lands. A 100 ETH long committed before it can only settle on
    a price published DELAY after the commit, so the round is already in
    it; its close settles the same way. With the price flat after the
    round the trader pays both fills' premium and fees and the two
    settlement fees, and gains nothing.

    open at 3015: adjustment 3015 * 100 / 2e6 = 0.15075, premium 15.075,
                  taker fee 0.1 % of 301,500 = 301.5
    close at 3015: adjustment 3015 * (200 - 100) / 2e6 = 0.15075, premium
                  -15.075 (received), maker fee 0.05 % of 301,500 = 150.75
    net: -301.5 - 150.75 = -452.25 USD, and 2 x 2 USDC to the settler."""
    ch = clearinghouse
    deposit(trader, 100_000)
    commit(ch, trader, delayed, 100 * ETH, 10**30, clock)
    clock.at(1)
    eth_feed.set_answer(3_015 * FEED, sender=owner)  # the round seen coming
    clock.at(DELAY + 1)
    with ape.reverts(errors.ORDER_PRICE_TOO_OLD):
        ch.settle_order(trader, 0, sender=keeper)
    clock.at(DELAY + 2)
    eth_feed.set_answer(3_015 * FEED, sender=owner)  # the next publication
    ch.settle_order(trader, 0, sender=keeper)
    assert ch.position(trader, 0, delayed).entry_price == 3_015 * E18
    commit(ch, trader, delayed, -100 * ETH, 0, clock, dt=DELAY + 10)
    clock.at(2 * DELAY + 10)
    eth_feed.set_answer(3_015 * FEED, sender=owner)
    ch.settle_order(trader, 0, sender=keeper)
    assert ch.balance_of(trader, 0, usdc) == 100_000 * USDC - 452_250_000 - 2 * FEE
    assert ch.balance_of(keeper, 0, usdc) == 2 * FEE


def test_an_atomic_round_trip_ahead_of_a_round_gains_at_most_the_bound(
    clearinghouse, market, trader, usdc, deposit, eth_feed, owner, weth
):
    """Where a market trades atomically its fees cover the declared
    deviation: fees of 0.2 % (maker) + 0.3 % (taker) against a 0.5 %
    round. 100 ETH long at 3,000, close at 3,015:
    open:  premium 100 * 3000 * 100 / 2e6 = 15, taker fee 0.3 % of 300,000 = 900
    close: PnL +1,500, premium received 100 * 3015 * 100 / 2e6 = 15.075,
           maker fee 0.2 % of 301,500 = 603
    net: 1,500 - 15 - 900 + 15.075 - 603 = -2.925 USD: the round trip loses."""
    ch = clearinghouse
    fees = {"taker_fee": 3 * E18 // 1_000, "maker_fee": 2 * E18 // 1_000}
    ch.set_market_params(market, params(weth.address, **fees), sender=owner)
    ch.set_order_rules(market, DELAY, WINDOW, 0, True, 5 * E18 // 1_000, sender=owner)
    deposit(trader, 100_000)
    ch.trade(0, market, 100 * ETH, 10**30, sender=trader)
    eth_feed.set_answer(3_015 * FEED, sender=owner)
    ch.trade(0, market, -100 * ETH, 0, sender=trader)
    assert ch.balance_of(trader, 0, usdc) == 100_000 * USDC - 2_925_000


# ---------------------------------------------------------------- the keeper


def test_the_keeper_settles_due_orders_once(
    lens, clearinghouse, delayed, trader, hedger, stranger, keeper, usdc, weth, wbtc_listed,
    oracle, eth_feed, owner, deposit_usdc, clock,
):  # fmt: skip
    """Three orders: one fills, one is refused at its acceptable price, one
    fails its margin check at settlement (removed all the same). Before the
    delay the keeper sends nothing; after the rounds it has settled all
    three, earning 3 x 2 USDC, and a further pass sends nothing."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = clearinghouse
    deposit_usdc(trader, 10_000)
    deposit_usdc(stranger, 10_000)
    deposit_usdc(hedger, 320)
    commit(ch, trader, delayed, ETH, 3_100 * E18, clock)
    commit(ch, stranger, delayed, ETH, 3_020 * E18, clock, dt=1)
    commit(ch, hedger, delayed, ETH, 10**30, clock, dt=2)
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)
    log: list[dict] = []
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append)
    clock.at(DELAY)
    eth_feed.set_answer(3_000 * FEED, sender=owner)  # published too early for the last two
    first = bot.run_once()
    assert (first.orders_filled, first.orders_refused, first.reverted) == (1, 0, 0)
    clock.at(DELAY + 12)
    eth_feed.set_answer(3_300 * FEED, sender=owner)
    second = bot.run_once()
    # stranger: 3,300.00165 > 3,020, refused; hedger: IM 330.0033 > 318 - 3.3
    assert (second.orders_filled, second.orders_refused, second.reverted) == (0, 2, 0)
    refused = {e["owner"]: e["trade_refused"] for e in log if e["event"] == "order_refused"}
    assert refused == {stranger.address: False, hedger.address: True}
    third = bot.run_once()
    assert (third.orders_filled, third.orders_refused, third.reverted) == (0, 0, 0)
    assert ch.balance_of(keeper, 0, usdc) == 3 * FEE
    assert ch.pending_order(hedger, 0).size_delta == 0
    assert ch.position(trader, 0, delayed).size == ETH
