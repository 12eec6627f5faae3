"""Option positions on engine accounts, traded against the pool (issue 23,
points 1, 3 and 5): delayed orders on a price and a volatility published
after the delay, the vol spread, the caps, the engine's health and the
pool's value with options, expiry settlement and option liquidation.

Every figure is computed here from the Python mirror of Black-76
(`xmargin.maths.black76`, itself checked to the wei and against a float
reference) and of the linear rule (`xmargin.maths.options`), with the
rounding stated in docs/options.md, never read back from the contracts.

The attacks each test stands for: a trader who sees the next price or
volatility round (orders settle only on rounds after the delay); a trader
whose order would fail (a refusal removes it, it never waits for a better
round); a trader who sells options past margin (IM refused); an LP who
leaves while the pool is short options (the short margin is cash it keeps,
and the options' mark counts in its value); a feed that dies (the pool's
value falls back to the option's bound instead of reverting); an account
that liquidates itself (refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ape
import pytest

from tests.conftest import (
    HEARTBEAT,
    UNDERLYING_USD,
    VOL_ANSWER,
    VOL_BOUNDS,
    WETH_CAP,
    WETH_PARAMS,
)
from tests.conftest import OPTION_RULE as RULE
from xmargin.maths import black76, errors, options
from xmargin.maths.fixed_point import WAD

USDC = 10**6
TO_NATIVE = 10**12  # WAD USD per native USDC unit
SPOT = UNDERLYING_USD * WAD
SIGMA = VOL_ANSWER * 10**10
PARAMS = options.MarginParams(*RULE)
SPREAD = 5 * WAD // 100  # 5 % of the volatility each side
MIN_SIZE = WAD // 10
MAX_OI = 100 * WAD
DELAY = 5
WINDOW = 120
RESERVE = WAD // 2
PENALTY = WAD // 100
TRADE, CLOSE, LIQUIDATION = 0, 1, 2


def _ceil(x: int) -> int:
    return -((-x) // WAD)


def _native(delta_wad: int) -> int:
    """The engine's conversion of a WAD USD amount to USDC units: floor,
    against the account either way."""
    return delta_wad // TO_NATIVE


@dataclass
class World:
    """The engine with a funded pool ($100,000), a desk on the book, an
    at-the-money call (series 0) and a $2,800 put (series 1), 30 days out."""

    project: Any
    ch: Any
    book: Any
    desk: Any
    pool: Any
    chain: Any
    owner: Any
    feed: Any
    vol_feed: Any
    underlying: Any
    usdc: Any
    expiry: int
    call: int = 0
    put: int = 1

    def publish(self, after: int, usd: int = UNDERLYING_USD, vol: int = VOL_ANSWER) -> int:
        """Mines `after` seconds on and publishes a price and a volatility
        round there; returns that block's time."""
        self.chain.mine(timestamp=self.chain.blocks.head.timestamp + after)
        self.feed.set_answer(usd * 10**8, sender=self.owner)
        self.vol_feed.set_answer(vol, sender=self.owner)
        return int(self.chain.blocks.head.timestamp)

    def trade(self, who: Any, series: int, size: int, limit: int, sub: int = 0, **kw: Any) -> Any:
        """Commits, publishes fresh rounds after the delay, and has a keeper
        (the owner) execute; returns the execution receipt."""
        self.desk.commit_option_order(sub, series, size, limit, sender=who)
        self.publish(DELAY, **kw)
        return self.desk.execute_option_order(who, sub, sender=self.owner)


@pytest.fixture
def w(
    project,
    owner,
    clearinghouse,
    options_book,
    underlying,
    underlying_feed,
    vol_feed,
    expiry,
    chain,
    lp,
    usdc,
    fund,
) -> World:
    vault = owner.deploy(project.LiquidityPool, clearinghouse.address, "xmargin LP", "xLP", 0)
    clearinghouse.set_pool(vault, sender=owner)
    fund(usdc, lp, 100_000 * USDC, vault)
    vault.deposit(100_000 * USDC, lp, sender=lp)
    desk = owner.deploy(project.OptionsDesk, options_book, clearinghouse)
    clearinghouse.set_options_desk(desk, sender=owner)
    # An option's underlying is a listed asset (so it has a risk group).
    clearinghouse.list_asset(
        underlying, WETH_PARAMS.im_haircut, WETH_PARAMS.mm_haircut, WETH_CAP, sender=owner
    )
    desk.set_trade_rules(underlying, SPREAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=owner)
    desk.set_pool_limits(RESERVE, PENALTY, sender=owner)
    options_book.list_series(underlying, SPOT, expiry, True, sender=owner)
    options_book.list_series(underlying, 2_800 * WAD, expiry, False, sender=owner)
    return World(
        project,
        clearinghouse,
        options_book,
        desk,
        vault,
        chain,
        owner,
        underlying_feed,
        vol_feed,
        underlying,
        usdc,
        expiry,
    )


def _ask(strike, tau, is_call, price=SPOT, sigma=SIGMA):
    return black76.price(price, strike, sigma + sigma * SPREAD // WAD, tau, is_call)


def _bid(strike, tau, is_call, price=SPOT, sigma=SIGMA):
    return black76.price(price, strike, sigma - sigma * SPREAD // WAD, tau, is_call)


# ---------------------------------------------------------------- buying


def test_buying_calls_pays_the_ask_and_the_pool_owes_the_mark(w, trader, deposit_usdc):
    deposit_usdc(trader, 10_000)
    cash_before = w.ch.pool_balance()
    size = 2 * WAD
    tx = w.trade(trader, w.call, size, 1_000 * WAD)
    tau = w.expiry - tx.timestamp
    premium = _ask(SPOT, tau, True)
    paid = _ceil(size * premium)  # the buyer pays rounded up
    assert w.desk.position(trader, 0, w.call) == size
    assert list(w.desk.account_series(trader, 0)) == [w.call]
    assert w.desk.net_oi(w.call) == size and list(w.desk.active_series()) == [w.call]
    assert w.ch.balance_of(trader, 0, w.usdc) == 10_000 * USDC + _native(-paid)
    assert w.ch.pool_balance() == cash_before - _native(-paid)
    (ev,) = tx.events.filter(w.desk.OptionOrderExecuted)
    assert (ev.premium, ev.price, ev.filled, ev.executor) == (premium, SPOT, True, w.owner.address)
    (traded,) = tx.events.filter(w.desk.OptionTraded)
    assert (traded.size, traded.cash, traded.position, traded.kind) == (size, -paid, size, TRADE)

    # The account: its long is worth the mark (rounded down) and needs it as IM.
    w.chain.mine()
    tau = w.expiry - w.chain.blocks.head.timestamp
    mark = black76.price(SPOT, SPOT, SIGMA, tau, True)
    risk = options.linear_risk(SPOT, SPOT, True, SIGMA, tau, size, PARAMS)
    h = w.ch.account_health(trader, 0)
    quote = (10_000 * USDC + _native(-paid)) * TO_NATIVE
    assert h.equity == quote + risk.value == quote + size * mark // WAD
    assert (h.im, h.mm) == (risk.im, risk.mm)
    # The pool: short two calls, owes their mark rounded up, and keeps the
    # short rule's IM of them as cash: 15 % of $3,000 a contract at the
    # money (no OTM credit, above the 10 % floor).
    s = w.ch.pool_state()
    assert s.traders_pnl == _ceil(size * mark)
    assert s.cash == w.ch.pool_balance() * TO_NATIVE
    assert s.value == s.cash - s.traders_pnl
    assert s.required == s.traders_pnl + 2 * 450 * WAD
    # The spread is the pool's: the trader paid more than the mark.
    assert paid > _ceil(size * mark)


def test_a_premium_beyond_the_limit_removes_the_order(w, trader, deposit_usdc):
    deposit_usdc(trader, 10_000)
    # A limit a dollar under the ask at a 60 s later tau is still under it.
    limit = _ask(SPOT, w.expiry - w.chain.blocks.head.timestamp, True) - WAD
    tx = w.trade(trader, w.call, WAD, limit)
    (ev,) = tx.events.filter(w.desk.OptionOrderExecuted)
    assert not ev.filled and ev.premium == 0
    assert w.desk.pending_option_order(trader, 0).size == 0
    assert w.desk.position(trader, 0, w.call) == 0
    assert w.ch.balance_of(trader, 0, w.usdc) == 10_000 * USDC
    # a seller's limit is a floor
    bid = _bid(SPOT, w.expiry - w.chain.blocks.head.timestamp, True)
    tx = w.trade(trader, w.call, -WAD, bid + WAD)
    assert not tx.events.filter(w.desk.OptionOrderExecuted)[0].filled


def test_an_order_waits_for_a_price_and_a_vol_after_its_delay(w, trader, deposit_usdc, stranger):
    deposit_usdc(trader, 10_000)
    w.desk.commit_option_order(0, w.call, WAD, 1_000 * WAD, sender=trader)
    with ape.reverts(errors.ORDER_PENDING):
        w.desk.commit_option_order(0, w.call, WAD, 1_000 * WAD, sender=trader)
    with ape.reverts(errors.ORDER_TOO_EARLY):
        w.desk.execute_option_order(trader, 0, sender=stranger)
    # After the delay, rounds from before the commit are not enough...
    w.chain.mine(timestamp=w.chain.blocks.head.timestamp + DELAY)
    with ape.reverts(errors.ORDER_PRICE_TOO_OLD):
        w.desk.execute_option_order(trader, 0, sender=stranger)
    # ... nor a new price with an old volatility (a trader who sees the
    # volatility round coming trades ahead of it otherwise) ...
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    with ape.reverts(errors.ORDER_PRICE_TOO_OLD):
        w.desk.execute_option_order(trader, 0, sender=stranger)
    # ... both must be new.
    w.vol_feed.set_answer(VOL_ANSWER, sender=w.owner)
    w.desk.execute_option_order(trader, 0, sender=stranger)
    assert w.desk.position(trader, 0, w.call) == WAD
    # Past its window an order cannot execute; anyone removes it.
    w.desk.commit_option_order(0, w.call, WAD, 1_000 * WAD, sender=trader)
    with ape.reverts(errors.ORDER_NOT_EXPIRED):
        w.desk.cancel_option_order(trader, 0, sender=stranger)
    w.chain.mine(timestamp=w.chain.blocks.head.timestamp + DELAY + WINDOW + 1)
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    w.vol_feed.set_answer(VOL_ANSWER, sender=w.owner)
    with ape.reverts(errors.ORDER_EXPIRED):
        w.desk.execute_option_order(trader, 0, sender=stranger)
    tx = w.desk.cancel_option_order(trader, 0, sender=stranger)
    assert tx.events.filter(w.desk.OptionOrderCancelled)[0].caller == stranger.address
    assert w.desk.pending_option_order(trader, 0).size == 0
    with ape.reverts(errors.NO_ORDER):
        w.desk.execute_option_order(trader, 0, sender=stranger)


def test_bad_orders_are_refused_at_commit(w, trader):
    with ape.reverts(errors.ZERO_SIZE):
        w.desk.commit_option_order(0, w.call, 0, 0, sender=trader)
    with ape.reverts(errors.SIZE_TOO_LARGE):
        w.desk.commit_option_order(0, w.call, 10**30 * WAD, 0, sender=trader)
    with ape.reverts(errors.UNKNOWN_SERIES):
        w.desk.commit_option_order(0, 7, WAD, 0, sender=trader)
    # a desk whose owner set no trade rules for the underlying
    bare = w.owner.deploy(w.project.OptionsDesk, w.book, w.ch)
    with ape.reverts(errors.NO_TRADE_RULES):
        bare.commit_option_order(0, w.call, WAD, 0, sender=trader)
    # an underlying the engine does not list (so it has no risk group)
    with ape.reverts(errors.UNDERLYING_NOT_LISTED):
        bare.set_trade_rules(w.book, SPREAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=w.owner)
    with ape.reverts(errors.TRADE_RULES_RANGE):
        bare.set_trade_rules(w.underlying, WAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=w.owner)
    with ape.reverts(errors.TRADE_RULES_RANGE):
        bare.set_trade_rules(w.underlying, SPREAD, 0, MAX_OI, DELAY, WINDOW, sender=w.owner)
    # the bounds: a spread of at most half the volatility, a minimum within
    # the cap, a delay of 1 s to 1 h, a window of 1 to 10 minutes (the
    # executor picks the round inside it: the second review), a reserve
    # of at most the pool's value, a penalty of at most 5 %
    for bad in (
        (WAD // 2 + 1, MIN_SIZE, MAX_OI, DELAY, WINDOW),
        (SPREAD, MAX_OI + 1, MAX_OI, DELAY, WINDOW),
        (SPREAD, MIN_SIZE, MAX_OI, 0, WINDOW),
        (SPREAD, MIN_SIZE, MAX_OI, 3_601, WINDOW),
        (SPREAD, MIN_SIZE, MAX_OI, DELAY, 59),
        (SPREAD, MIN_SIZE, MAX_OI, DELAY, 601),
    ):
        with ape.reverts(errors.TRADE_RULES_RANGE):
            bare.set_trade_rules(w.underlying, *bad, sender=w.owner)
    bare.set_trade_rules(w.underlying, WAD // 2, MIN_SIZE, MAX_OI, 3_600, 600, sender=w.owner)
    assert tuple(bare.trade_rules(w.underlying)) == (WAD // 2, MIN_SIZE, MAX_OI, 3_600, 600)
    with ape.reverts(errors.TRADE_RULES_RANGE):
        bare.set_pool_limits(RESERVE, WAD // 10, sender=w.owner)
    with ape.reverts(errors.TRADE_RULES_RANGE):
        bare.set_pool_limits(WAD + 1, PENALTY, sender=w.owner)
    # only the owner sets them
    with ape.reverts(errors.NOT_OWNER):
        w.desk.set_trade_rules(w.underlying, SPREAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=trader)
    with ape.reverts(errors.NOT_OWNER):
        w.desk.set_pool_limits(RESERVE, PENALTY, sender=trader)
    w.chain.mine(timestamp=w.expiry)
    with ape.reverts(errors.SERIES_EXPIRED):
        w.desk.commit_option_order(0, w.call, WAD, 0, sender=trader)


# ---------------------------------------------------------------- selling


def test_selling_past_initial_margin_is_refused_and_removes_the_order(w, trader, deposit_usdc):
    # A short $2,800 put needs IM max(15 % * 3000 - 200, 10 % * 3000) =
    # $300 per contract (or the repriced loss, if larger) on top of its
    # mark; $1,000 carries three, not four.
    deposit_usdc(trader, 1_000)
    tau = w.expiry - w.chain.blocks.head.timestamp - DELAY
    per = options.linear_risk(SPOT, 2_800 * WAD, False, SIGMA, tau, -WAD, PARAMS)
    assert 300 * WAD <= per.im < 330 * WAD  # hand figure: the rule's $300
    tx = w.trade(trader, w.put, -4 * WAD, 0)
    ev = tx.events.filter(w.desk.OptionOrderExecuted)[0]
    assert not ev.filled
    assert w.desk.position(trader, 0, w.put) == 0
    assert w.ch.balance_of(trader, 0, w.usdc) == 1_000 * USDC
    assert w.desk.pending_option_order(trader, 0).size == 0
    tx = w.trade(trader, w.put, -2 * WAD, 0)
    tau = w.expiry - tx.timestamp
    received = 2 * WAD * _bid(2_800 * WAD, tau, False) // WAD  # a seller is paid rounded down
    assert w.desk.position(trader, 0, w.put) == -2 * WAD
    assert w.ch.balance_of(trader, 0, w.usdc) == 1_000 * USDC + _native(received)
    assert w.desk.net_oi(w.put) == -2 * WAD
    # The pool is long the puts: it is owed their mark rounded down, keeps
    # no short margin for them.
    w.chain.mine()
    tau = w.expiry - w.chain.blocks.head.timestamp
    mark = black76.price(SPOT, 2_800 * WAD, SIGMA, tau, False)
    s = w.ch.pool_state()
    assert s.traders_pnl == -(2 * WAD * mark // WAD)
    assert s.required == 0
    # The account cannot take its premium out past IM.
    with ape.reverts(errors.BELOW_IM):
        w.ch.withdraw(0, w.usdc, 1_000 * USDC, sender=trader)


def test_the_caps_bound_what_the_pool_is_short(w, trader, hedger, deposit_usdc):
    deposit_usdc(trader, 100_000)
    w.desk.set_trade_rules(w.underlying, SPREAD, MIN_SIZE, 3 * WAD, DELAY, WINDOW, sender=w.owner)
    tx = w.trade(trader, w.call, 4 * WAD, 10_000 * WAD)
    assert not tx.events.filter(w.desk.OptionOrderExecuted)[0].filled
    w.trade(trader, w.call, 3 * WAD, 10_000 * WAD)
    # a trade that shrinks traders' net position passes the full cap
    deposit_usdc(hedger, 100_000)
    w.trade(hedger, w.call, -WAD, 0)
    assert w.desk.net_oi(w.call) == 2 * WAD
    # The reserve: the pool's short-call IM ($450 a contract at the money,
    # or the repriced loss) within a factor of its ~$100k value: 0.5 % of
    # it is ~$500, so a second net call is refused.
    w.desk.set_trade_rules(w.underlying, SPREAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=w.owner)
    w.desk.set_pool_limits(5 * WAD // 1_000, PENALTY, sender=w.owner)
    tx = w.trade(trader, w.call, WAD, 10_000 * WAD)
    assert not tx.events.filter(w.desk.OptionOrderExecuted)[0].filled
    assert w.desk.net_oi(w.call) == 2 * WAD
    # ... while reducing it is always allowed.
    tx = w.trade(trader, w.call, -WAD, 0)
    assert tx.events.filter(w.desk.OptionOrderExecuted)[0].filled
    assert w.desk.net_oi(w.call) == WAD


def test_no_dust_positions(w, trader, deposit_usdc):
    """Dust in many series would fill the pool's list of active series
    (16) and freeze new series for everyone: a position is 0 or at least
    the minimum, and a whole close is always allowed."""
    deposit_usdc(trader, 10_000)
    with ape.reverts(errors.OPTION_TOO_SMALL):
        w.desk.commit_option_order(0, w.call, MIN_SIZE - 1, 1_000 * WAD, sender=trader)
    w.trade(trader, w.call, WAD, 1_000 * WAD)
    with ape.reverts(errors.OPTION_TOO_SMALL):
        w.desk.commit_option_order(0, w.call, -WAD + MIN_SIZE - 1, 0, sender=trader)
    # a small order that keeps the position above the minimum is fine
    w.trade(trader, w.call, -(MIN_SIZE - 1), 0)
    left = WAD - MIN_SIZE + 1
    assert w.desk.position(trader, 0, w.call) == left
    w.trade(trader, w.call, -left, 0)
    assert w.desk.position(trader, 0, w.call) == 0


# ---------------------------------------------------------------- expiry


def test_expired_positions_settle_into_the_quote_balance(w, trader, hedger, deposit_usdc, stranger):
    deposit_usdc(trader, 10_000)
    deposit_usdc(hedger, 10_000)
    w.trade(trader, w.call, 2 * WAD, 1_000 * WAD)
    w.trade(hedger, w.call, -WAD, 0)
    trader_before = w.ch.balance_of(trader, 0, w.usdc)
    hedger_before = w.ch.balance_of(hedger, 0, w.usdc)
    cash_before = w.ch.pool_balance()
    w.chain.mine(timestamp=w.expiry + 60)
    with ape.reverts(errors.NOT_SETTLED):
        w.desk.settle_option(trader, 0, w.call, sender=stranger)
    w.feed.set_answer(3_250 * 10**8, sender=w.owner)
    w.book.settle_expiry(w.underlying, w.expiry, w.feed.round_id(), sender=stranger)
    # an expired series trades no more
    with ape.reverts(errors.SERIES_EXPIRED):
        w.desk.commit_option_order(0, w.call, WAD, 1_000 * WAD, sender=trader)
    payoff = 250 * WAD
    w.desk.settle_option(trader, 0, w.call, sender=stranger)
    w.desk.settle_option(hedger, 0, w.call, sender=stranger)
    assert w.ch.balance_of(trader, 0, w.usdc) == trader_before + 500 * USDC
    assert w.ch.balance_of(hedger, 0, w.usdc) == hedger_before - 250 * USDC
    assert w.ch.pool_balance() == cash_before - 250 * USDC
    assert w.desk.position(trader, 0, w.call) == 0 == w.desk.net_oi(w.call)
    assert list(w.desk.account_series(trader, 0)) == [] == list(w.desk.active_series())
    with ape.reverts(errors.NO_OPTION_POSITION):
        w.desk.settle_option(trader, 0, w.call, sender=stranger)
    # With no options left the account is an ordinary one again: it may
    # take everything out.
    w.ch.withdraw(0, w.usdc, trader_before + 500 * USDC, sender=trader)
    assert payoff == 250 * WAD


# ---------------------------------------------------------------- liquidation


def test_liquidation_closes_the_position_freeing_most_margin_per_penalty(
    w, trader, deposit_usdc, keeper
):
    deposit_usdc(trader, 1_200)
    w.trade(trader, w.put, -WAD, 0)
    w.trade(trader, w.call, -WAD, 0)
    with ape.reverts(errors.NOT_LIQUIDATABLE):
        w.desk.liquidate_options(trader, 0, sender=keeper)
    # The price jumps 50 %: the short call goes deep in the money.
    w.publish(10, usd=4_500)
    price = 4_500 * WAD

    def risks(at):
        tau = w.expiry - at
        return (
            options.linear_risk(price, SPOT, True, SIGMA, tau, -WAD, PARAMS),
            options.linear_risk(price, 2_800 * WAD, False, SIGMA, tau, -WAD, PARAMS),
        )

    call_risk, put_risk = risks(w.chain.blocks.head.timestamp)
    h = w.ch.account_health(trader, 0)
    quote = w.ch.balance_of(trader, 0, w.usdc)
    assert h.equity == quote * TO_NATIVE + call_risk.value + put_risk.value
    assert h.mm == call_risk.mm + put_risk.mm
    assert h.equity < h.mm
    # The account may not liquidate itself.
    with ape.reverts(errors.SELF_LIQUIDATION):
        w.desk.liquidate_options(trader, 0, sender=trader)
    keeper_before = w.ch.balance_of(keeper, 0, w.usdc)
    tx = w.desk.liquidate_options(trader, 0, sender=keeper)
    call_risk, put_risk = risks(tx.timestamp)
    # Penalty: 1 % of the notional ($45), at most the position's MM; the
    # close that frees the most MM per unit of penalty goes first: the
    # call's MM (7.5 % of $4,500 or its repriced loss) beats the put's
    # floor (5 % of $4,500 = $225).
    pen_call = min(price * PENALTY // WAD, call_risk.mm)
    pen_put = min(price * PENALTY // WAD, put_risk.mm)
    assert pen_call == pen_put == 45 * WAD
    assert put_risk.mm == 225 * WAD < call_risk.mm
    (ev,) = tx.events.filter(w.desk.OptionTraded)
    assert (ev.series_id, ev.kind, ev.position, ev.size) == (w.call, LIQUIDATION, 0, WAD)
    # closed at the mark (a short's debt rounded up), the penalty to the keeper
    assert ev.cash == call_risk.value
    assert w.ch.balance_of(keeper, 0, w.usdc) == keeper_before + 45 * USDC
    assert w.ch.balance_of(trader, 0, w.usdc) == (quote + _native(call_risk.value) - 45 * USDC)
    assert w.desk.position(trader, 0, w.call) == 0
    assert list(w.desk.account_series(trader, 0)) == [w.put]


# ---------------------------------------------------------------- the engine's door


def test_only_the_desk_moves_option_cash_and_it_is_named_once(w, stranger, trader):
    with ape.reverts(errors.DESK_ONLY):
        w.ch.option_pay(trader, 0, 10**24, stranger, 0, False, CLOSE, sender=stranger)
    with ape.reverts(errors.DESK_ALREADY_SET):
        w.ch.set_options_desk(w.book, sender=w.owner)
    assert w.ch.options_desk() == w.desk.address


def test_an_account_with_options_cannot_have_its_debt_written_off(
    w, trader, deposit_usdc, stranger
):
    deposit_usdc(trader, 10_000)
    w.trade(trader, w.call, -WAD, 0)
    with ape.reverts(errors.HAS_POSITIONS):
        w.ch.settle_bad_debt(trader, 0, sender=stranger)


def test_a_dead_vol_feed_values_the_pool_at_the_bound_instead_of_reverting(w, trader, deposit_usdc):
    deposit_usdc(trader, 10_000)
    w.trade(trader, w.call, 2 * WAD, 1_000 * WAD)
    # The volatility goes stale; the price stays fresh.
    w.chain.mine(timestamp=w.chain.blocks.head.timestamp + HEARTBEAT + 1)
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    with ape.reverts():
        w.ch.account_health(trader, 0)
    s = w.ch.pool_state()
    # Two calls the pool is short, at the price: $6,000 owed; the rule's
    # IM without the OTM credit: 15 % of $3,000 a contract.
    assert s.traders_pnl == 6_000 * WAD
    assert s.required == 6_000 * WAD + 2 * 450 * WAD
    assert VOL_BOUNDS[0] < SIGMA < VOL_BOUNDS[1]


# ---------------------------------------------------------------- the outside review


def test_premiums_round_against_the_trader(w, trader, hedger, deposit_usdc):
    """A buy pays the premium rounded up, a sell is paid it rounded down
    (the review: the first version rounded a holder's valuation, the
    trader's way for a cash flow). Fractional sizes make it visible."""
    deposit_usdc(trader, 10_000)
    deposit_usdc(hedger, 10_000)
    size = WAD + 1
    tx = w.trade(trader, w.call, size, 1_000 * WAD)
    tau = w.expiry - tx.timestamp
    ask = _ask(SPOT, tau, True)
    assert tx.events.filter(w.desk.OptionTraded)[0].cash == -_ceil(size * ask)
    tx = w.trade(hedger, w.call, -size, 0)
    bid = _bid(SPOT, w.expiry - tx.timestamp, True)
    assert tx.events.filter(w.desk.OptionTraded)[0].cash == size * bid // WAD
    assert size * ask % WAD != 0 and size * bid % WAD != 0  # the case rounds


def test_no_jump_in_the_pool_value_between_expiry_and_settlement(
    w, hedger, stranger, lp, deposit_usdc, fund
):
    """The review's LP attack: traders short in-the-money puts, so the pool
    is long them; the pool valued that long at nothing from the expiry
    until someone recorded the settlement, then at the payoff: an LP
    entering in the gap and settling the expiry took $4,033 of 100,000.
    Now an expired, unsettled series is worth its payoff at today's
    price: at $2,000, 10 puts at $2,800 are $8,000 to the pool in the gap
    and after the settlement alike."""
    deposit_usdc(hedger, 50_000)
    w.trade(hedger, w.put, -10 * WAD, 0)
    w.chain.mine(timestamp=w.expiry + 10)
    w.feed.set_answer(2_000 * 10**8, sender=w.owner)  # the first round after expiry
    gap = w.ch.pool_state()
    assert gap.traders_pnl == -8_000 * WAD
    fund(w.usdc, stranger, 100_000 * USDC, w.pool)
    w.pool.deposit(100_000 * USDC, stranger, sender=stranger)
    w.book.settle_expiry(w.underlying, w.expiry, w.feed.round_id(), sender=stranger)
    assert w.ch.pool_state().traders_pnl == -8_000 * WAD
    w.pool.redeem(w.pool.balanceOf(stranger), stranger, stranger, sender=stranger)
    assert w.usdc.balanceOf(stranger) <= 100_000 * USDC


def test_lp_requests_wait_for_the_options_feeds(w, trader, lp, deposit_usdc, fund):
    """An LP who sees a volatility round coming must not leave at the old
    one: requests settle only once the options' price and volatility were
    published after their delay too."""
    vault = w.owner.deploy(w.project.LiquidityPool, w.ch.address, "x", "x", 60)
    # the engine names its pool once: this test's vault replaces nothing,
    # it reads the same engine's gate
    deposit_usdc(trader, 50_000)
    w.trade(trader, w.call, 20 * WAD, 10_000 * WAD)
    ready = w.chain.blocks.head.timestamp + 61
    w.chain.mine(timestamp=ready)
    # a round of the perps' feeds alone is not enough
    assert w.ch.pool_prices_since() < ready
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    assert w.ch.pool_prices_since() < ready
    w.vol_feed.set_answer(VOL_ANSWER, sender=w.owner)
    assert w.ch.pool_prices_since() >= ready
    assert vault.address != w.pool.address


def test_an_lp_withdrawal_keeps_the_option_reserve(w, trader, lp, deposit_usdc):
    """The reserve factor bounded the pool's short-option margin on trades
    only; an LP's largest withdrawal took the margin to 100 % of the value
    against a 50 % cap. The pool's least value now includes margin / factor."""
    deposit_usdc(trader, 100_000)
    w.trade(trader, w.call, 50 * WAD, 10_000 * WAD)
    owed, margin, need = w.desk.pool_terms()
    assert margin == 50 * 450 * WAD  # 15 % of $3,000 a contract, at the money
    assert need == margin * WAD // RESERVE
    w.pool.withdraw(w.pool.maxWithdraw(lp), lp, lp, sender=lp)
    s = w.ch.pool_state()
    assert margin <= s.value * RESERVE // WAD


def test_a_worthless_long_does_not_shield_collateral(w, trader, keeper, weth, fund):
    """The review: a long needing no margin (far out of the money) was never
    closed by `liquidate_options`, and while it stood `liquidate_collateral`
    and `settle_bad_debt` refused: an under-water account kept its WETH.
    Now it is closed last, at its mark, with no penalty."""
    w.book.list_series(w.underlying, 30_000 * WAD, w.expiry, True, sender=w.owner)
    deep = w.book.num_series() - 1
    fund(weth, trader, 10**18, w.ch)
    w.ch.deposit(0, weth, 10**18, sender=trader)
    w.trade(trader, w.put, -4 * WAD, 0)
    w.trade(trader, deep, WAD // 10, 0)
    w.publish(10, usd=1_000)
    w.desk.liquidate_options(trader, 0, sender=keeper)  # the puts: MM first
    assert list(w.desk.account_series(trader, 0)) == [deep]
    h = w.ch.account_health(trader, 0)
    assert h.equity < 0 and h.mm == 0
    tx = w.desk.liquidate_options(trader, 0, sender=keeper)
    (ev,) = tx.events.filter(w.desk.OptionTraded)
    assert (ev.series_id, ev.kind) == (deep, LIQUIDATION)
    assert not w.ch.holds_options(trader, 0)
    fund(w.usdc, keeper, 10_000 * USDC, w.ch)
    w.ch.liquidate_collateral(trader, 0, weth, 1_000 * USDC, 0, sender=keeper)


def test_the_book_lists_at_most_sixteen_unsettled_series(w, trader, deposit_usdc):
    """The review: 16 dust positions filled the desk's list of active
    series and froze every other series. The book now lists at most 16
    series whose expiry is not settled (here 2 and 14 more), and the
    desk's list holds 32: the rest can only be settled series, whose
    positions anyone settles out of it."""
    for i in range(14):
        w.book.list_series(w.underlying, (3_100 + 100 * i) * WAD, w.expiry, True, sender=w.owner)
    assert w.book.live_series() == 16
    with ape.reverts(errors.TOO_MANY_SERIES):
        w.book.list_series(w.underlying, 2_900 * WAD, w.expiry, True, sender=w.owner)
    w.chain.mine(timestamp=w.expiry + 10)
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    w.book.settle_expiry(w.underlying, w.expiry, w.feed.round_id(), sender=w.owner)
    assert w.book.live_series() == 0


# ---------------------------------------------------------------- the keeper


@pytest.fixture
def bot_log(w, keeper, lens, oracle, weth, wbtc_listed, eth_feed):
    """A keeper over the engine with the desk, and its log."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    tokens = {"USDC": w.usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(w.ch, oracle, tokens, feeds, {}, lens=lens, desk=w.desk)
    log: list[dict] = []
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append, from_block=0)
    return bot, log


def test_the_keeper_liquidates_option_accounts(w, trader, deposit_usdc, keeper, bot_log):
    """The keeper's replica learns from the engine's `OptionCash` events
    that the account holds options, reads its health on chain (it cannot
    price options locally), and closes its options one call at a time
    until it is back above MM: here both, the call first."""
    bot, log = bot_log
    deposit_usdc(trader, 1_200)
    w.trade(trader, w.put, -WAD, 0)
    w.trade(trader, w.call, -WAD, 0)
    w.publish(10, usd=4_500)
    h = w.ch.account_health(trader, 0)
    assert h.equity < h.mm
    before = w.ch.balance_of(keeper, 0, w.usdc)
    stats = bot.run_once()
    closed = [e for e in log if e["event"] == "option_liquidated"]
    assert [e["series"] for e in closed] == [w.call, w.put]
    assert stats.option_liquidations == 2
    assert not w.ch.holds_options(trader, 0)
    assert list(w.desk.account_series(trader, 0)) == []
    # two penalties of 1 % of $4,500
    assert w.ch.balance_of(keeper, 0, w.usdc) == before + 2 * 45 * USDC
    h = w.ch.account_health(trader, 0)
    assert h.equity >= h.mm == 0
    # the replica follows the cash: at the head, the account's quote is the chain's
    bot.replica.update(w.chain.blocks.head.number)
    state = bot.replica.replica.accounts[(trader.address, 0)]
    assert not state.options
    assert state.balances["USDC"] == w.ch.balance_of(trader, 0, w.usdc)


def test_the_keeper_executes_orders_and_settles_expiries(w, trader, hedger, deposit_usdc, bot_log):
    """Orders execute once their price and volatility were both published
    after the delay; after the expiry the keeper records the settlement on
    the feed's first round after it ($3,250, not the later $3,400) and
    settles every holder: the buyer of 2 calls is paid 2 x $250, the
    seller of 1 pays $250, the pool the net $250."""
    bot, log = bot_log
    deposit_usdc(trader, 10_000)
    deposit_usdc(hedger, 10_000)
    w.desk.commit_option_order(0, w.call, 2 * WAD, 1_000 * WAD, sender=trader)
    w.desk.commit_option_order(0, w.call, -WAD, 0, sender=hedger)
    assert bot.run_once().option_orders_filled == 0  # too early
    w.chain.mine(timestamp=w.chain.blocks.head.timestamp + DELAY)
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    assert bot.run_once().option_orders_filled == 0  # the volatility is older
    w.vol_feed.set_answer(VOL_ANSWER, sender=w.owner)
    assert bot.run_once().option_orders_filled == 2
    assert (w.desk.position(trader, 0, w.call), w.desk.position(hedger, 0, w.call)) == (
        2 * WAD,
        -WAD,
    )
    trader_before = w.ch.balance_of(trader, 0, w.usdc)
    hedger_before = w.ch.balance_of(hedger, 0, w.usdc)
    cash_before = w.ch.pool_balance()
    for dt, usd in ((-30, 3_100), (60, 3_250), (120, 3_400)):
        w.chain.mine(timestamp=w.expiry + dt)
        w.feed.set_answer(usd * 10**8, sender=w.owner)
    stats = bot.run_once()
    assert (stats.expiries_settled, stats.options_settled) == (1, 2)
    assert w.book.settlement(w.underlying, w.expiry) == 3_250 * WAD
    assert w.ch.balance_of(trader, 0, w.usdc) == trader_before + 500 * USDC
    assert w.ch.balance_of(hedger, 0, w.usdc) == hedger_before - 250 * USDC
    assert w.ch.pool_balance() == cash_before - 250 * USDC
    assert [e["event"] for e in log].count("option_settled") == 2
    # nothing left to do on the next pass
    stats = bot.run_once()
    assert (stats.expiries_settled, stats.options_settled, stats.reverted) == (0, 0, 0)


# ---------------------------------------------------------------- reading an account


def test_an_option_account_reads_as_the_engine_values_it(w, trader, deposit_usdc, bot_log):
    """`read_account` (behind `xmargin status`) values the account's options
    with the Python mirror: its health agrees with the engine's to the wei,
    each position's risk with the book's `position_risk`, the greeks with
    the desk's `account_greeks`; the table and the JSON show them."""
    from rich.console import Console

    from xmargin.chain.engine import read_account
    from xmargin.ui import json_view as jv
    from xmargin.ui import report

    bot, _ = bot_log
    deposit_usdc(trader, 10_000)
    w.trade(trader, w.call, 2 * WAD, 1_000 * WAD)
    w.trade(trader, w.put, -WAD, 0)
    w.chain.mine()
    view = read_account(bot.engine, trader.address, 0)
    assert view.model_agrees
    assert [o.series_id for o in view.options] == [w.call, w.put]
    for o in view.options:
        r = w.book.position_risk(o.series_id, o.size)
        assert (o.risk.value, o.risk.im, o.risk.mm) == (r.value, r.im, r.mm)
    total = [sum(getattr(o.greeks, k) for o in view.options) for k in ("delta", "gamma", "vega")]
    g = w.desk.account_greeks(trader, 0)
    assert total == [g.delta, g.gamma, g.vega]
    # By hand (sigma sqrt(t) = 0.8 sqrt(30/365) = 0.2294): the call's
    # d1 = 0.1147, N = 0.5457; the put's d1 = (ln(3000/2800) + 0.0263) /
    # 0.2294 = 0.4155, N = 0.6611, delta -0.3389; long 2 calls and short
    # the put: 1.0913 + 0.3389 = 1.4302.
    assert abs(g.delta - 14302 * WAD // 10_000) < WAD // 1_000
    console = Console(width=200, record=True)
    console.print(report.options_table("Options", view))
    text = console.export_text()
    assert "#0 3,000.00 call" in text and "#1 2,800.00 put" in text
    doc = jv.option_positions(view)
    assert [d["kind"] for d in doc] == ["call", "put"]
    assert doc[0]["size"] == "2" and doc[1]["size"] == "-1"


def test_the_lens_lists_option_positions_with_their_greeks(
    w, trader, hedger, deposit_usdc, lens, eth_feed, market, bot_log
):
    """Issue 23, point 4: `ClearinghouseLens.option_details` gives each
    option position its mark, value, linear margins and greeks, and
    `option_greeks` the account's totals: the same
    as the Python mirror behind `xmargin status` (to the wei) and the
    hand-computed deltas. A linear account's perp on another asset keeps
    its liquidation price (where the account flips, checked on chain)."""
    from xmargin.chain.engine import read_account

    bot, _ = bot_log
    deposit_usdc(trader, 10_000)
    w.trade(trader, w.call, 2 * WAD, 1_000 * WAD)
    w.trade(trader, w.put, -WAD, 0)
    w.ch.trade(0, 0, 5 * WAD, 3_001 * WAD, sender=trader)
    w.chain.mine()
    view = read_account(bot.engine, trader.address, 0)
    rows = lens.option_details(w.ch, trader, 0)
    assert [r.series_id for r in rows] == [o.series_id for o in view.options] == [w.call, w.put]
    for r, o in zip(rows, view.options, strict=True):
        assert (r.asset, r.strike, r.expiry, r.is_call, r.size) == (
            w.underlying.address,
            o.strike,
            o.expiry,
            o.is_call,
            o.size,
        )
        assert (r.value, r.im, r.mm) == (o.risk.value, o.risk.im, o.risk.mm)
        assert (r.delta, r.gamma, r.vega, r.theta) == (
            o.greeks.delta,
            o.greeks.gamma,
            o.greeks.vega,
            o.greeks.theta,
        )
    # By hand (test_an_option_account_reads_as_the_engine_values_it): two
    # calls at N(d1) = 0.5457 each, the short put -(-0.3389).
    assert abs(rows[0].delta - 10_913 * WAD // 10_000) < WAD // 1_000
    assert abs(rows[1].delta - 3_389 * WAD // 10_000) < WAD // 1_000
    assert rows[0].gamma > 0 > rows[1].gamma and rows[0].theta < 0 < rows[1].theta
    # The account's totals: the rows summed, as the desk sums them.
    total = lens.option_greeks(w.ch, trader, 0)
    by_desk = w.desk.account_greeks(trader, 0)
    for k in ("delta", "gamma", "vega", "theta"):
        assert getattr(total, k) == sum(getattr(r, k) for r in rows) == getattr(by_desk, k)
    assert abs(total.delta - 14_302 * WAD // 10_000) < WAD // 1_000
    # The perp's liquidation price, the options held fixed: a dollar above
    # it the account is healthy, at it (cut to the feed's decimals) not.
    (perp,) = lens.position_details(w.ch, trader, 0)
    assert 0 < perp.liquidation_price < 3_000 * WAD
    eth_feed.set_answer(perp.liquidation_price // 10**10 + 10**8, sender=w.owner)
    h = w.ch.account_health(trader, 0)
    assert h.equity >= h.mm
    eth_feed.set_answer(perp.liquidation_price // 10**10, sender=w.owner)
    h = w.ch.account_health(trader, 0)
    assert h.equity < h.mm
    # An account holding no option has no rows.
    assert lens.option_details(w.ch, hedger, 0) == []


# ---------------------------------------------------------------- the second review


@pytest.fixture(params=[1, 100], ids=["one by one", "batched"])
def bot_perps(request, w, keeper, lens, oracle, weth, wbtc_listed, eth_feed, market):
    """`bot_log`'s keeper with the WETH perp market (id 0) in its record."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    tokens = {"USDC": w.usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(w.ch, oracle, tokens, feeds, {"ETH-PERP": market}, lens=lens, desk=w.desk)
    log: list[dict] = []
    config = KeeperConfig(gas_asset=None, batch=request.param)
    return Keeper(engine, keeper, config, log=log.append, from_block=0), log


def test_an_expired_unsettled_option_does_not_shield_perps(
    w, trader, deposit_usdc, eth_feed, bot_perps
):
    """The review: an account below MM whose only option is in an expired
    series not yet settled (no round of its underlying since the expiry)
    has perps the engine would liquidate; the keeper tried
    `liquidate_options` (`no position`), gave up and never reached them."""
    from tests.unit.test_liquidation import LP

    bot, log = bot_perps
    w.ch.set_liquidation_params(LP.as_tuple(), sender=w.owner)
    deposit_usdc(trader, 4_000)
    w.trade(trader, w.call, MIN_SIZE, 1_000 * WAD)
    eth_feed.set_answer(3_000 * 10**8, sender=w.owner)
    w.ch.trade(0, 0, 10 * WAD, 3_001 * WAD, sender=trader)
    w.chain.mine(timestamp=w.expiry - 60)
    w.feed.set_answer(UNDERLYING_USD * 10**8, sender=w.owner)
    w.vol_feed.set_answer(VOL_ANSWER, sender=w.owner)
    w.chain.mine(timestamp=w.expiry + 60)
    eth_feed.set_answer(2_650 * 10**8, sender=w.owner)  # the perp crashes
    h = w.ch.account_health(trader, 0)
    assert h.equity < h.mm and w.ch.holds_options(trader, 0)
    bot.run_once()
    assert w.ch.position(trader, 0, 0).size < 10 * WAD


def test_the_settlement_round_is_found_past_incomplete_and_many_rounds(w, bot_log):
    """The review: the walk back from the latest round stopped at an
    incomplete round (`updatedAt` 0, which the router skips as invalid)
    and gave up after 64 rounds. A binary search finds the first round
    after the expiry past both."""
    from xmargin.chain.options import settlement_round

    bot, _ = bot_log
    w.chain.mine(timestamp=w.expiry + 60)
    w.feed.set_answer(3_250 * 10**8, sender=w.owner)
    first = int(w.feed.round_id())
    now = w.chain.blocks.head.timestamp
    w.feed.set_round(first + 1, 3_300 * 10**8, now, 0, first + 1, sender=w.owner)
    for _ in range(70):
        w.feed.set_answer(3_400 * 10**8, sender=w.owner)
    block = w.chain.blocks.head.number
    router = bot.engine.router
    assert settlement_round(router, bot._aggregator_at, str(w.underlying), w.expiry, block) == first
    # and none while the latest round is older than the expiry
    assert (
        settlement_round(router, bot._aggregator_at, str(w.underlying), w.expiry + 10**6, block)
        is None
    )


def test_the_keeper_drops_lapsed_orders_and_sends_no_refusal(
    w, trader, hedger, deposit_usdc, bot_log
):
    """The review: lapsed orders stayed in the keeper's book (read every
    pass, forever), and an order that can only be refused (a buy with a
    limit of 0) was sent, the keeper paying for nothing. Now a lapsed
    order is dropped and a refusal is simulated first and not sent."""
    bot, log = bot_log
    deposit_usdc(trader, 10_000)
    deposit_usdc(hedger, 10_000)
    w.desk.commit_option_order(0, w.call, WAD, 0, sender=trader)  # refused at any premium
    w.desk.commit_option_order(0, w.put, WAD, 1_000 * WAD, sender=hedger)
    w.publish(DELAY)
    stats = bot.run_once()
    assert (stats.option_orders_filled, stats.option_orders_refused) == (1, 0)
    assert w.desk.pending_option_order(trader, 0).size == WAD  # not sent
    w.chain.mine(timestamp=w.chain.blocks.head.timestamp + WINDOW + 10)
    bot.run_once()
    assert (trader.address, 0) not in bot._desk_book.pending
    assert not [e for e in log if e["event"] == "reverted"]
