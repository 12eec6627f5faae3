"""LP requests (ERC-7540): deposits and redemptions settle at a price
published after a delay, so an LP who sees a price round coming cannot move
pool money around it (issue 18, attack 2; docs/orders.md).

The attack, by hand. The pool holds 1,000,000 USDC from one LP (1,000,000
shares). A trader opens 1,000 ETH long at $3,000 on tests.markets.ETH_MARKET
(skew scale 1,000,000 ETH, taker 0.1 %, funding off): fee $3,000 and skew
premium 3000 * 1000^2 / 2e6 = $1,500 go into the pool's cash, and the
premium is owed back as the skew unwinds, so the pool is worth
V0 = 1,003,000. A 2 % round down to $2,940 makes the trader lose $60,000
and the premium owed 2940 * 1000^2 / 2e6 = $1,470: V1 = V0 + 60,030 =
1,063,030. An attacker who puts 9,000,000 in before the round and takes it
out after owns 9,000,000 / 10,003,000 of the pool across the round and
takes 54,010.80 of the LP's 60,030.
"""

from __future__ import annotations

import ape
import pytest

from tests.markets import allow_atomic, params
from xmargin.maths import errors
from xmargin.maths import lp_requests as lr

E18 = 10**18
USDC = 10**6
ETH = E18
DELAY = 60

V0 = 1_003_000 * USDC
V1 = 1_063_030 * USDC
LP_SHARES = 1_000_000 * USDC
ATTACK = 9_000_000 * USDC


def make_vault(project, ch, owner, delay):
    vault = owner.deploy(project.LiquidityPool, ch.address, "xmargin LP", "xLP", delay)
    ch.set_pool(vault, sender=owner)
    return vault


@pytest.fixture
def vault(project, clearinghouse, owner):
    return make_vault(project, clearinghouse, owner, DELAY)


def request_deposit(vault, who, amount, usdc, fund, clock, t):
    """Funds `who`, then requests at `t` on the test's clock."""
    fund(usdc, who, amount, vault)
    clock.at(t)
    return vault.requestDeposit(amount, who, who, sender=who)


def publish(feed, owner, usd):
    feed.set_answer(usd * 10**8, sender=owner)


def seeded(vault, lp, usdc, fund, eth_feed, owner, clock, t0=0):
    """The LP's 1,000,000 request, settled and claimed: 1,000,000 shares.
    No market has open interest, so only the delay applies."""
    request_deposit(vault, lp, LP_SHARES, usdc, fund, clock, t0)
    clock.at(t0 + DELAY)
    vault.settle_deposit(lp, sender=lp)
    clock.at(t0 + DELAY + 1)
    vault.deposit(LP_SHARES, lp, sender=lp)
    assert vault.balanceOf(lp) == LP_SHARES


def open_long_1000(ch, owner, trader, deposit_usdc, weth):
    ch.list_market(params(weth.address), sender=owner)
    allow_atomic(ch, owner)
    deposit_usdc(trader, 1_000_000)
    ch.trade(0, 0, 1_000 * ETH, 2**200, sender=trader)


# ---------------------------------------------------------------- attack 2


def test_instant_vault_lets_an_lp_take_a_round_it_saw_coming(
    project, clearinghouse, owner, lp, stranger, trader, usdc, fund, eth_feed, weth, deposit_usdc
):
    """The attack as it stood: a vault without requests (delay 0)."""
    pool = make_vault(project, clearinghouse, owner, 0)
    fund(usdc, lp, LP_SHARES, pool)
    pool.deposit(LP_SHARES, lp, sender=lp)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    assert pool.totalAssets() == V0
    fund(usdc, stranger, ATTACK, pool)
    pool.deposit(ATTACK, stranger, sender=stranger)
    shares = lr.to_shares(ATTACK, V0, LP_SHARES)
    assert pool.balanceOf(stranger) == shares
    publish(eth_feed, owner, 2_940)
    pool.redeem(shares, stranger, stranger, sender=stranger)
    got = lr.to_assets(shares, V1 + ATTACK, LP_SHARES + shares)
    assert usdc.balanceOf(stranger) == got
    assert 54_000 * USDC < got - ATTACK < 54_020 * USDC
    # ... all of it taken from the LP, who is left with V1 less the take
    # (give or take a unit of rounding, which stays with the LP).
    assert abs(pool.convertToAssets(LP_SHARES) - (V1 - (got - ATTACK))) <= 1


def test_requests_settle_after_the_round_and_the_attack_gains_nothing(
    vault,
    clearinghouse,
    owner,
    lp,
    stranger,
    trader,
    usdc,
    fund,
    eth_feed,
    weth,
    clock,
    deposit_usdc,
):
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    assert vault.totalAssets() == V0
    # The attacker requests before the round; the round lands at once.
    request_deposit(vault, stranger, ATTACK, usdc, fund, clock, 100)
    clock.at(101)
    publish(eth_feed, owner, 2_940)
    # Due at 160, but no price published since then.
    clock.at(100 + DELAY)
    with ape.reverts(errors.REQUEST_PRICE_TOO_OLD):
        vault.settle_deposit(stranger, sender=stranger)
    clock.at(100 + DELAY + 1)
    publish(eth_feed, owner, 2_940)
    clock.at(100 + DELAY + 2)
    vault.settle_deposit(stranger, sender=owner)
    shares = lr.to_shares(ATTACK, V1, LP_SHARES)
    assert vault.claimableDepositRequest(0, stranger) == ATTACK
    assert vault.maxMint(stranger) == shares
    clock.at(200)
    vault.deposit(ATTACK, stranger, sender=stranger)
    assert vault.balanceOf(stranger) == shares
    # And out again: request, a later round at the same price, settle, claim.
    vault.requestRedeem(shares, stranger, stranger, sender=stranger)
    clock.at(201 + DELAY)
    publish(eth_feed, owner, 2_940)
    clock.at(202 + DELAY)
    vault.settle_redeem(stranger, sender=owner)
    got = lr.to_assets(shares, V1 + ATTACK, LP_SHARES + shares)
    vault.redeem(shares, stranger, stranger, sender=stranger)
    assert usdc.balanceOf(stranger) == got
    assert ATTACK - 2 <= got <= ATTACK
    # The LP keeps the whole 60,030 the round made.
    assert V1 <= vault.convertToAssets(LP_SHARES) <= V1 + 2


def test_an_lp_who_sees_an_adverse_round_cannot_leave_before_it(
    vault, clearinghouse, owner, lp, trader, usdc, fund, eth_feed, weth, clock, deposit_usdc
):
    """A 2 % round up costs the pool 60,000 less the 30 of premium it no
    longer owes... the LP requests out first and still bears it."""
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    clock.at(100)
    vault.requestRedeem(LP_SHARES // 2, lp, lp, sender=lp)
    clock.at(101)
    publish(eth_feed, owner, 3_060)
    clock.at(100 + DELAY)
    publish(eth_feed, owner, 3_060)
    vault.settle_redeem(lp, sender=owner)
    # premium owed at $3,060: 3060 * 1000^2 / 2e6 = 1,530
    v = V0 - 60_000 * USDC - 30 * USDC
    assert vault.claimableRedeemRequest(0, lp) == LP_SHARES // 2
    assert vault.maxWithdraw(lp) == lr.to_assets(LP_SHARES // 2, v, LP_SHARES)
    assert vault.maxWithdraw(lp) == v // 2


# ---------------------------------------------------------------- life of a request


def test_a_deposit_request_escrows_settles_and_claims(
    vault, clearinghouse, lp, usdc, fund, clock, owner
):
    tx = request_deposit(vault, lp, 5_000 * USDC, usdc, fund, clock, 0)
    (ev,) = tx.events.filter(vault.DepositRequest)
    assert (ev.controller, ev.owner, ev.requestId, ev.sender, ev.assets) == (
        lp.address,
        lp.address,
        0,
        lp.address,
        5_000 * USDC,
    )
    assert usdc.balanceOf(vault) == vault.requests_held() == 5_000 * USDC
    assert vault.pendingDepositRequest(0, lp) == 5_000 * USDC
    assert vault.totalAssets() == 0  # escrow is not pool value
    assert vault.maxDeposit(lp) == vault.maxMint(lp) == 0
    clock.at(DELAY - 1)
    with ape.reverts(errors.REQUEST_TOO_EARLY):
        vault.settle_deposit(lp, sender=owner)
    clock.at(DELAY)
    tx = vault.settle_deposit(lp, sender=owner)
    (ev,) = tx.events.filter(vault.DepositSettled)
    assert (ev.controller, ev.settler, ev.assets, ev.shares) == (
        lp.address,
        owner.address,
        5_000 * USDC,
        5_000 * USDC,
    )
    assert vault.pendingDepositRequest(0, lp) == 0
    assert vault.balanceOf(vault) == vault.totalSupply() == 5_000 * USDC
    assert clearinghouse.pool_balance() == 5_000 * USDC
    assert usdc.balanceOf(vault) == vault.requests_held() == 0
    with ape.reverts(errors.NO_REQUEST):
        vault.settle_deposit(lp, sender=owner)
    # Claimed in two parts: by assets, then by shares (the rest).
    vault.deposit(2_000 * USDC, lp, sender=lp)
    tx = vault.mint(3_000 * USDC, lp, lp, sender=lp)
    (ev,) = tx.events.filter(vault.Deposit)
    assert (ev.assets, ev.shares) == (3_000 * USDC, 3_000 * USDC)
    assert vault.balanceOf(lp) == 5_000 * USDC and vault.balanceOf(vault) == 0


def test_a_redeem_request_escrows_shares_that_keep_their_risk(
    vault, clearinghouse, lp, usdc, fund, clock, owner, eth_feed
):
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    clock.at(100)
    tx = vault.requestRedeem(400_000 * USDC, lp, lp, sender=lp)
    (ev,) = tx.events.filter(vault.RedeemRequest)
    assert (ev.controller, ev.owner, ev.shares) == (lp.address, lp.address, 400_000 * USDC)
    assert vault.balanceOf(vault) == 400_000 * USDC
    assert vault.totalSupply() == LP_SHARES
    assert vault.pendingRedeemRequest(0, lp) == 400_000 * USDC
    clock.at(100 + DELAY)
    vault.settle_redeem(lp, sender=owner)
    assert vault.totalSupply() == 600_000 * USDC
    assert clearinghouse.pool_balance() == 600_000 * USDC
    assert usdc.balanceOf(vault) == vault.requests_held() == 400_000 * USDC
    assert vault.claimableRedeemRequest(0, lp) == vault.maxRedeem(lp) == 400_000 * USDC
    # Claimed in three parts; an odd split rounds for the vault and the
    # last claim takes the rest.
    tx = vault.withdraw(100_000 * USDC, lp, lp, sender=lp)
    (ev,) = tx.events.filter(vault.Withdraw)
    assert (ev.assets, ev.shares, ev.owner) == (100_000 * USDC, 100_000 * USDC, lp.address)
    vault.redeem(3, lp, lp, sender=lp)
    vault.redeem(vault.maxRedeem(lp), lp, lp, sender=lp)
    assert usdc.balanceOf(lp) == 400_000 * USDC
    assert usdc.balanceOf(vault) == vault.requests_held() == 0
    assert vault.maxWithdraw(lp) == vault.maxRedeem(lp) == 0


def test_a_redemption_waits_while_the_pool_cannot_pay(
    vault, clearinghouse, owner, lp, trader, usdc, fund, eth_feed, weth, clock, deposit_usdc
):
    """The pool's withdrawal rules apply at settlement: the request stays."""
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    clearinghouse.set_pool_buffer(E18, sender=owner)  # keep 100 % of net notional
    clock.at(100)
    vault.requestRedeem(LP_SHARES, lp, lp, sender=lp)
    clock.at(100 + DELAY)
    publish(eth_feed, owner, 3_000)
    with ape.reverts(errors.POOL_CANNOT_COVER):
        vault.settle_redeem(lp, sender=owner)
    assert vault.pendingRedeemRequest(0, lp) == LP_SHARES
    clearinghouse.set_pool_buffer(0, sender=owner)
    vault.settle_redeem(lp, sender=owner)
    assert vault.claimableRedeemRequest(0, lp) == LP_SHARES


def test_cancel_returns_only_what_is_pending(vault, lp, usdc, fund, clock, owner, eth_feed):
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    request_deposit(vault, lp, 7 * USDC, usdc, fund, clock, 100)
    vault.requestRedeem(9 * USDC, lp, lp, sender=lp)
    tx = vault.cancelDepositRequest(0, lp, sender=lp)
    (ev,) = tx.events.filter(vault.DepositRequestCancelled)
    assert ev.assets == 7 * USDC
    tx = vault.cancelRedeemRequest(0, lp, sender=lp)
    (ev,) = tx.events.filter(vault.RedeemRequestCancelled)
    assert ev.shares == 9 * USDC
    assert usdc.balanceOf(lp) == 7 * USDC and vault.balanceOf(lp) == LP_SHARES
    assert usdc.balanceOf(vault) == vault.requests_held() == 0
    with ape.reverts(errors.NO_REQUEST):
        vault.cancelDepositRequest(0, lp, sender=lp)
    with ape.reverts(errors.NO_REQUEST):
        vault.settle_redeem(lp, sender=owner)


def test_operators_act_for_their_controller(vault, lp, stranger, usdc, fund, clock, owner):
    tx = vault.setOperator(stranger, True, sender=lp)
    (ev,) = tx.events.filter(vault.OperatorSet)
    assert (ev.controller, ev.operator, ev.approved) == (lp.address, stranger.address, True)
    assert vault.isOperator(lp, stranger)
    fund(usdc, lp, 10 * USDC, vault)
    clock.at(0)
    vault.requestDeposit(10 * USDC, lp, lp, sender=stranger)  # from lp's tokens
    clock.at(DELAY)
    vault.settle_deposit(lp, sender=owner)
    vault.deposit(10 * USDC, stranger, lp, sender=stranger)
    assert vault.balanceOf(stranger) == 10 * USDC
    vault.setOperator(stranger, False, sender=lp)
    with ape.reverts(errors.NOT_CONTROLLER):
        vault.setOperator(lp, True, sender=lp)


def test_trading_cannot_open_or_shut_the_settlement_gate(
    vault, clearinghouse, owner, lp, stranger, keeper, trader, usdc, fund, eth_feed, weth,
    wbtc_listed, clock, deposit_usdc,
):  # fmt: skip
    """Found by review: when only markets with open interest gated
    settlement, an attacker holding the only open interest (0.001 BTC) in a
    quiet market kept his own request unsettleable, then closed it and
    settled himself just before an ETH round he saw coming: +54,010.71.
    Every listed market gates now: his position changes nothing, and the
    request settles when BTC publishes, after the round."""
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    clock.at(70)
    publish(wbtc_listed.feed, owner, 60_000)  # BTC's round before the request
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    clearinghouse.list_market(params(wbtc_listed.token.address), sender=owner)
    allow_atomic(clearinghouse, owner)
    deposit_usdc(stranger, 100)
    tiny = ETH // 1_000
    clearinghouse.trade(0, 1, tiny, 2**200, sender=stranger)
    request_deposit(vault, stranger, ATTACK, usdc, fund, clock, 100)
    clock.at(170)
    publish(eth_feed, owner, 3_000)
    clock.at(1_000)
    with ape.reverts(errors.REQUEST_PRICE_TOO_OLD):
        vault.settle_deposit(stranger, sender=keeper)
    # He closes his BTC position: the gate stays shut all the same.
    clock.at(3_001)
    clearinghouse.trade(0, 1, -tiny, 0, sender=stranger)
    clock.at(3_010)
    with ape.reverts(errors.REQUEST_PRICE_TOO_OLD):
        vault.settle_deposit(stranger, sender=stranger)
    clock.at(3_020)
    publish(eth_feed, owner, 2_940)  # the round he saw coming lands
    clock.at(3_600)
    publish(wbtc_listed.feed, owner, 60_000)  # BTC's heartbeat round
    v = vault.totalAssets()
    vault.settle_deposit(stranger, sender=keeper)
    # At the post-round value: about V1 (plus his two BTC trades' fees and
    # premium, less nothing); his shares are worth what he paid.
    assert V1 < v < V1 + USDC
    shares = lr.to_shares(ATTACK, v, LP_SHARES)
    assert vault.maxMint(stranger) == shares
    assert lr.to_assets(shares, v + ATTACK, LP_SHARES + shares) <= ATTACK


def test_a_dust_request_goes_back_instead_of_sticking(
    vault, clearinghouse, owner, lp, stranger, hedger, keeper, trader, usdc, fund, eth_feed,
    weth, clock, deposit_usdc,
):  # fmt: skip
    """Found by review: a 1-unit deposit request gifted to a controller
    could never settle once a share is worth more than one unit (the keeper
    retried it forever), and it kept others from requesting for that
    controller. Now its settlement returns it to the controller."""
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    clock.at(100)
    publish(eth_feed, owner, 2_940)  # a share is now worth ~1.063 units
    fund(usdc, stranger, 1, vault)
    clock.at(110)
    vault.requestDeposit(1, hedger, stranger, sender=stranger)  # the gift
    clock.at(110 + DELAY)
    publish(eth_feed, owner, 2_940)
    tx = vault.settle_deposit(hedger, sender=keeper)
    (ev,) = tx.events.filter(vault.DepositRequestCancelled)
    assert (ev.controller, ev.assets) == (hedger.address, 1)
    assert not tx.events.filter(vault.DepositSettled)
    assert usdc.balanceOf(hedger) == 1 and vault.pendingDepositRequest(0, hedger) == 0
    assert vault.requests_held() == 0
    # Anyone may open a request for it again.
    fund(usdc, keeper, 10 * USDC, vault)
    vault.requestDeposit(10 * USDC, hedger, keeper, sender=keeper)


def test_claims_by_assets_in_parts_end_with_nothing_left(
    vault, clearinghouse, owner, lp, trader, keeper, usdc, fund, eth_feed, weth, clock,
    deposit_usdc,
):  # fmt: skip
    """Found by review: claiming a redemption by assets in small parts
    rounded the shares up until none were left while an asset was, so
    `redeem(maxRedeem)` reverted. The part that takes the last share now
    takes the last asset too: 20 shares at 1,063,030 / 1,000,000 fetch 21
    units; each withdrawal of 1 burns ceil(20 / 21) = 1 share, so the
    twentieth burns the last share and takes the last 2 units."""
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    clock.at(100)
    publish(eth_feed, owner, 2_940)
    vault.requestRedeem(20, lp, lp, sender=lp)
    clock.at(101 + DELAY)
    publish(eth_feed, owner, 2_940)
    vault.settle_redeem(lp, sender=keeper)
    assert (vault.maxRedeem(lp), vault.maxWithdraw(lp)) == (20, 21)
    before = usdc.balanceOf(lp)
    r = lr.Request(0, 0, 20, 21)
    for _ in range(20):
        if r.claimable_out == 0:
            break
        n, a = lr.split(r, 0, 1)
        vault.withdraw(1, lp, lp, sender=lp)
        r = lr.Request(0, 0, r.claimable_in - n, r.claimable_out - a)
        assert (vault.maxRedeem(lp), vault.maxWithdraw(lp)) == (r.claimable_in, r.claimable_out)
    assert r == lr.Request() and usdc.balanceOf(lp) == before + 21


# ---------------------------------------------------------------- bad input


def _held(vault, usdc, people):
    return (
        usdc.balanceOf(vault),
        vault.requests_held(),
        vault.totalSupply(),
        tuple((usdc.balanceOf(p), vault.balanceOf(p)) for p in people),
        tuple(tuple(vault.deposit_requests(p)) + tuple(vault.redeem_requests(p)) for p in people),
    )


def test_bad_requests_revert_and_change_nothing(
    vault, lp, stranger, usdc, fund, clock, owner, eth_feed, guardian, clearinghouse
):
    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    request_deposit(vault, lp, 50 * USDC, usdc, fund, clock, 100)
    vault.requestRedeem(70 * USDC, lp, lp, sender=lp)
    fund(usdc, stranger, 1_000 * USDC, vault)
    people = (lp, stranger)
    before = _held(vault, usdc, people)
    cases = [
        (errors.ZERO_AMOUNT, vault.requestDeposit, (0, stranger, stranger)),
        (errors.ZERO_AMOUNT, vault.requestRedeem, (0, lp, lp)),
        (errors.AMOUNT_TOO_LARGE, vault.requestDeposit, (2**128 + 1, stranger, stranger)),
        # someone else's tokens or shares
        (errors.NOT_CONTROLLER, vault.requestDeposit, (USDC, stranger, lp)),
        (errors.NOT_CONTROLLER, vault.requestDeposit, (USDC, "0x" + "00" * 20, stranger)),
        (errors.INSUFFICIENT_SHARES, vault.requestRedeem, (USDC, stranger, stranger)),
        # restarting another controller's pending delay
        (errors.NOT_CONTROLLER, vault.requestDeposit, (USDC, lp, stranger)),
        # cancelling or claiming someone else's request
        (errors.NOT_CONTROLLER, vault.cancelDepositRequest, (0, lp)),
        (errors.NOT_CONTROLLER, vault.cancelRedeemRequest, (0, lp)),
        (errors.NOT_CONTROLLER, vault.deposit, (USDC, stranger, lp)),
        (errors.NOT_CONTROLLER, vault.redeem, (USDC, stranger, lp)),
        # claims before settlement
        (errors.ABOVE_CLAIMABLE, vault.deposit, (USDC, stranger)),
        (errors.ABOVE_CLAIMABLE, vault.mint, (USDC, stranger)),
        (errors.ABOVE_CLAIMABLE, vault.withdraw, (USDC, stranger, stranger)),
        (errors.ABOVE_CLAIMABLE, vault.redeem, (USDC, stranger, stranger)),
        (errors.ZERO_AMOUNT, vault.deposit, (0, stranger)),
        # settling early, or what is not there
        (errors.REQUEST_TOO_EARLY, vault.settle_deposit, (lp,)),
        (errors.REQUEST_TOO_EARLY, vault.settle_redeem, (lp,)),
        (errors.NO_REQUEST, vault.settle_deposit, (stranger,)),
        (errors.NO_REQUEST, vault.settle_redeem, (stranger,)),
    ]
    for reason, method, args in cases:
        with ape.reverts(reason):
            method(*args, sender=stranger)
        assert _held(vault, usdc, people) == before, (reason, method)
    with ape.reverts(errors.ASYNC_VAULT):
        vault.previewDeposit(USDC)
    with ape.reverts(errors.ASYNC_VAULT):
        vault.previewRedeem(USDC)
    # Paused: no new deposit request, and none settles.
    clearinghouse.pause(sender=guardian)
    with ape.reverts(errors.PAUSED):
        vault.requestDeposit(USDC, stranger, stranger, sender=stranger)
    clock.at(100 + DELAY)
    with ape.reverts(errors.PAUSED):
        vault.settle_deposit(lp, sender=stranger)
    assert _held(vault, usdc, people) == before


def test_a_vault_without_requests_refuses_them(project, clearinghouse, owner, lp):
    pool = make_vault(project, clearinghouse, owner, 0)
    with ape.reverts(errors.SYNC_VAULT):
        pool.requestDeposit(USDC, lp, lp, sender=lp)
    with ape.reverts(errors.SYNC_VAULT):
        pool.requestRedeem(USDC, lp, lp, sender=lp)
    with ape.reverts(errors.NOT_CONTROLLER):
        pool.deposit(USDC, lp, owner, sender=lp)
    with ape.reverts(errors.REQUEST_DELAY_RANGE):
        owner.deploy(
            project.LiquidityPool, clearinghouse.address, "x", "x", lr.MAX_REQUEST_DELAY + 1
        )


def test_erc165_and_erc7575(project, clearinghouse, owner, vault):
    ids = [bytes.fromhex(x) for x in ("e3bc4e65", "ce3bbe50", "620ee8e4")]
    assert vault.supportsInterface(bytes.fromhex("01ffc9a7"))
    assert vault.supportsInterface(bytes.fromhex("2f0a18c5"))  # ERC-7575
    assert all(vault.supportsInterface(i) for i in ids)
    assert not vault.supportsInterface(bytes.fromhex("ffffffff"))
    assert vault.share() == vault.address
    assert vault.REQUEST_DELAY() == DELAY
    sync = owner.deploy(project.LiquidityPool, clearinghouse.address, "x", "x", 0)
    assert not any(sync.supportsInterface(i) for i in ids)


def test_the_abi_has_every_erc4626_and_erc7540_function(vault):
    names = {(m.name, len(m.inputs)) for m in vault.contract_type.abi if m.type == "function"}
    wanted = {
        ("asset", 0), ("totalAssets", 0), ("convertToShares", 1), ("convertToAssets", 1),
        ("maxDeposit", 1), ("previewDeposit", 1), ("deposit", 2), ("maxMint", 1),
        ("previewMint", 1), ("mint", 2), ("maxWithdraw", 1), ("previewWithdraw", 1),
        ("withdraw", 3), ("maxRedeem", 1), ("previewRedeem", 1), ("redeem", 3),
        ("deposit", 3), ("mint", 3), ("requestDeposit", 3), ("requestRedeem", 3),
        ("pendingDepositRequest", 2), ("claimableDepositRequest", 2),
        ("pendingRedeemRequest", 2), ("claimableRedeemRequest", 2),
        ("setOperator", 2), ("isOperator", 2), ("share", 0), ("supportsInterface", 1),
    }  # fmt: skip
    assert wanted <= names


# ---------------------------------------------------------------- the keeper


def test_the_keeper_settles_due_requests_once(
    lens, vault, clearinghouse, owner, lp, stranger, trader, keeper, usdc, fund, eth_feed, weth,
    wbtc_listed, oracle, clock, deposit_usdc,
):  # fmt: skip
    """Three requests: a deposit, a redemption and a cancelled deposit.
    Before the delay, and on a price published before it, the keeper sends
    nothing; once the feed publishes it settles the two live ones, at the
    rates the model gives, and a further pass sends nothing."""
    from tests.engines import engine_over
    from xmargin.ops.keeper import Keeper, KeeperConfig

    seeded(vault, lp, usdc, fund, eth_feed, owner, clock)
    open_long_1000(clearinghouse, owner, trader, deposit_usdc, weth)
    request_deposit(vault, stranger, 30_000 * USDC, usdc, fund, clock, 100)
    vault.requestRedeem(200_000 * USDC, lp, lp, sender=lp)
    request_deposit(vault, trader, 5 * USDC, usdc, fund, clock, 110)
    vault.cancelDepositRequest(0, trader, sender=trader)
    tokens = {"USDC": usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(clearinghouse, oracle, tokens, feeds, {"ETH": 0}, pool=vault, lens=lens)
    log: list[dict] = []
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append)
    clock.at(101 + DELAY)  # both due (the redemption was requested at 101)
    first = bot.run_once()  # but the last price is from before their delay
    assert (first.lp_deposits, first.lp_redemptions, first.reverted) == (0, 0, 0)
    publish(eth_feed, owner, 2_940)
    second = bot.run_once()
    assert (second.lp_deposits, second.lp_redemptions, second.reverted) == (1, 1, 0)
    # The deposit settled first (the keeper goes in controller order, and
    # each settlement moves the rate only by rounding): both at V1.
    settled = {e["controller"]: (e["assets"], e["shares"]) for e in log if "lp_" in e["event"]}
    shares = lr.to_shares(30_000 * USDC, V1, LP_SHARES)
    deposit_first = stranger.address < lp.address
    if deposit_first:
        out = lr.to_assets(200_000 * USDC, V1 + 30_000 * USDC, LP_SHARES + shares)
    else:
        out = lr.to_assets(200_000 * USDC, V1, LP_SHARES)
        shares = lr.to_shares(30_000 * USDC, V1 - out, LP_SHARES - 200_000 * USDC)
    assert settled == {
        stranger.address: (30_000 * USDC, shares),
        lp.address: (out, 200_000 * USDC),
    }
    third = bot.run_once()
    assert (third.lp_deposits, third.lp_redemptions, third.lost_races) == (0, 0, 0)
