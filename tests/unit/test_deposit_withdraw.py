"""Deposits and withdrawals: exact bookkeeping, caps, pause, bad input."""

import ape
import pytest

from tests.conftest import HEARTBEAT
from xmargin.chain.abi import deploy_clearinghouse
from xmargin.maths import errors

USDC = 10**6
ETH = 10**18
BTC = 10**8


def test_deposit_credits_account_and_moves_tokens(clearinghouse, trader, weth, fund):
    fund(weth, trader, 3 * ETH, clearinghouse)
    tx = clearinghouse.deposit(0, weth, 2 * ETH, sender=trader)
    assert clearinghouse.balance_of(trader, 0, weth) == 2 * ETH
    assert weth.balanceOf(trader) == 1 * ETH
    assert weth.balanceOf(clearinghouse) == 2 * ETH
    assert clearinghouse.total_deposits(weth) == 2 * ETH
    [ev] = tx.decode_logs(clearinghouse.Deposit)
    assert (ev.owner, ev.sub_id, ev.asset) == (trader.address, 0, weth.address)
    assert (ev.amount, ev.balance) == (2 * ETH, 2 * ETH)
    # A second deposit adds up; the event carries the running balance.
    tx = clearinghouse.deposit(0, weth, 1 * ETH, sender=trader)
    assert tx.decode_logs(clearinghouse.Deposit)[0].balance == 3 * ETH
    assert clearinghouse.total_deposits(weth) == 3 * ETH


def test_sub_accounts_are_separate(clearinghouse, trader, hedger, usdc, fund):
    fund(usdc, trader, 500 * USDC, clearinghouse)
    clearinghouse.deposit(7, usdc, 200 * USDC, sender=trader)
    clearinghouse.deposit(2**256 - 1, usdc, 300 * USDC, sender=trader)
    assert clearinghouse.balance_of(trader, 7, usdc) == 200 * USDC
    assert clearinghouse.balance_of(trader, 2**256 - 1, usdc) == 300 * USDC
    assert clearinghouse.balance_of(trader, 0, usdc) == 0
    assert clearinghouse.balance_of(hedger, 7, usdc) == 0
    with ape.reverts(errors.INSUFFICIENT_BALANCE):
        clearinghouse.withdraw(0, usdc, 1, sender=trader)
    # Another owner cannot reach the same sub_id.
    with ape.reverts(errors.INSUFFICIENT_BALANCE):
        clearinghouse.withdraw(7, usdc, 1, sender=hedger)


def test_withdraw_returns_exact_amount(clearinghouse, trader, wbtc, fund):
    fund(wbtc, trader, 2 * BTC, clearinghouse)
    clearinghouse.deposit(0, wbtc, 2 * BTC, sender=trader)
    tx = clearinghouse.withdraw(0, wbtc, BTC // 2 + 1, sender=trader)
    assert wbtc.balanceOf(trader) == BTC // 2 + 1
    assert clearinghouse.balance_of(trader, 0, wbtc) == 2 * BTC - BTC // 2 - 1
    assert clearinghouse.total_deposits(wbtc) == 2 * BTC - BTC // 2 - 1
    [ev] = tx.decode_logs(clearinghouse.Withdraw)
    assert (ev.amount, ev.balance) == (BTC // 2 + 1, 2 * BTC - BTC // 2 - 1)


def test_withdraw_max_means_everything(clearinghouse, trader, usdc, fund):
    fund(usdc, trader, 123 * USDC + 7, clearinghouse)
    clearinghouse.deposit(0, usdc, 123 * USDC + 7, sender=trader)
    tx = clearinghouse.withdraw(0, usdc, 2**256 - 1, sender=trader)
    assert tx.decode_logs(clearinghouse.Withdraw)[0].amount == 123 * USDC + 7
    assert usdc.balanceOf(trader) == 123 * USDC + 7
    assert clearinghouse.balance_of(trader, 0, usdc) == 0
    assert clearinghouse.held_mask(trader, 0) == 0
    # Nothing left: "max" of an empty balance is a zero withdrawal.
    with ape.reverts(errors.ZERO_AMOUNT):
        clearinghouse.withdraw(0, usdc, 2**256 - 1, sender=trader)


def test_held_mask_tracks_non_zero_balances(clearinghouse, trader, usdc, weth, wbtc, fund):
    for token, amount in ((usdc, USDC), (weth, ETH), (wbtc, BTC)):
        fund(token, trader, amount, clearinghouse)
    clearinghouse.deposit(0, weth, ETH, sender=trader)
    assert clearinghouse.held_mask(trader, 0) == 0b010
    clearinghouse.deposit(0, wbtc, BTC, sender=trader)
    clearinghouse.deposit(0, usdc, USDC, sender=trader)
    assert clearinghouse.held_mask(trader, 0) == 0b111
    clearinghouse.withdraw(0, weth, ETH // 2, sender=trader)
    assert clearinghouse.held_mask(trader, 0) == 0b111
    clearinghouse.withdraw(0, weth, ETH // 2, sender=trader)
    assert clearinghouse.held_mask(trader, 0) == 0b101


def test_deposit_cap(clearinghouse, owner, trader, hedger, weth, fund):
    clearinghouse.set_asset_params(weth, 0, 0, 5 * ETH, sender=owner)
    fund(weth, trader, 10 * ETH, clearinghouse)
    fund(weth, hedger, 10 * ETH, clearinghouse)
    clearinghouse.deposit(0, weth, 3 * ETH, sender=trader)
    # The cap is global across accounts: 2 ETH left, exactly reachable.
    with ape.reverts(errors.DEPOSIT_CAP):
        clearinghouse.deposit(0, weth, 2 * ETH + 1, sender=hedger)
    clearinghouse.deposit(0, weth, 2 * ETH, sender=hedger)
    with ape.reverts(errors.DEPOSIT_CAP):
        clearinghouse.deposit(0, weth, 1, sender=trader)
    # Lowering the cap below deposits stops deposits but not withdrawals.
    clearinghouse.set_asset_params(weth, 0, 0, 1 * ETH, sender=owner)
    with ape.reverts(errors.DEPOSIT_CAP):
        clearinghouse.deposit(0, weth, 1, sender=trader)
    clearinghouse.withdraw(0, weth, 3 * ETH, sender=trader)
    assert clearinghouse.total_deposits(weth) == 2 * ETH


BAD_DEPOSITS = [
    ("zero", 0, errors.ZERO_AMOUNT),
    ("overflow-sized", 2**256 - 1, errors.DEPOSIT_CAP),
    ("above cap", 1_000 * ETH + 1, errors.DEPOSIT_CAP),
]


@pytest.mark.parametrize(
    ("case", "amount", "reason"), BAD_DEPOSITS, ids=[c[0] for c in BAD_DEPOSITS]
)
def test_bad_deposit_reverts_and_changes_nothing(
    clearinghouse, trader, weth, usdc, fund, snapshot_balances, case, amount, reason
):
    fund(weth, trader, 2_000 * ETH, clearinghouse)
    clearinghouse.deposit(0, weth, ETH, sender=trader)
    before = snapshot_balances(clearinghouse, [weth, usdc], [trader])
    with ape.reverts(reason):
        clearinghouse.deposit(0, weth, amount, sender=trader)
    assert snapshot_balances(clearinghouse, [weth, usdc], [trader]) == before


def test_deposit_unknown_asset(clearinghouse, trader, make_token, fund, snapshot_balances):
    token = make_token(18, "UNK")
    fund(token, trader, ETH, clearinghouse)
    before = snapshot_balances(clearinghouse, [token], [trader])
    with ape.reverts(errors.ASSET_NOT_LISTED):
        clearinghouse.deposit(0, token, ETH, sender=trader)
    with ape.reverts(errors.ASSET_NOT_LISTED):
        clearinghouse.withdraw(0, token, ETH, sender=trader)
    assert snapshot_balances(clearinghouse, [token], [trader]) == before


def test_deposit_without_allowance(clearinghouse, trader, weth, snapshot_balances):
    weth.mint(trader, ETH, sender=trader)
    before = snapshot_balances(clearinghouse, [weth], [trader])
    with ape.reverts("mock: allowance too low"):
        clearinghouse.deposit(0, weth, ETH, sender=trader)
    assert snapshot_balances(clearinghouse, [weth], [trader]) == before


BAD_WITHDRAWALS = [
    ("zero", 0, errors.ZERO_AMOUNT),
    ("more than balance", 5 * ETH + 1, errors.INSUFFICIENT_BALANCE),
    ("overflow-sized", 2**256 - 2, errors.INSUFFICIENT_BALANCE),
]


@pytest.mark.parametrize(
    ("case", "amount", "reason"), BAD_WITHDRAWALS, ids=[c[0] for c in BAD_WITHDRAWALS]
)
def test_bad_withdraw_reverts_and_changes_nothing(
    clearinghouse, trader, weth, fund, snapshot_balances, case, amount, reason
):
    fund(weth, trader, 5 * ETH, clearinghouse)
    clearinghouse.deposit(0, weth, 5 * ETH, sender=trader)
    before = snapshot_balances(clearinghouse, [weth], [trader])
    with ape.reverts(reason):
        clearinghouse.withdraw(0, weth, amount, sender=trader)
    assert snapshot_balances(clearinghouse, [weth], [trader]) == before


def test_pause_allows_top_ups_and_healthy_withdrawals(
    clearinghouse, guardian, owner, trader, usdc, weth, fund
):
    """A deposit only lowers an account's risk: while paused (and
    liquidations with it) a user can still top up margin."""
    fund(usdc, trader, 100 * USDC, clearinghouse)
    fund(weth, trader, ETH, clearinghouse)
    clearinghouse.deposit(0, usdc, 60 * USDC, sender=trader)
    clearinghouse.pause(sender=guardian)
    tx = clearinghouse.deposit(0, weth, ETH, sender=trader)
    assert [(e.asset, e.amount) for e in tx.events.filter(clearinghouse.Deposit)] == [
        (weth.address, ETH)
    ]
    assert clearinghouse.balance_of(trader, 0, weth) == ETH
    clearinghouse.withdraw(0, usdc, 60 * USDC, sender=trader)
    clearinghouse.withdraw(0, weth, ETH, sender=trader)
    assert usdc.balanceOf(trader) == 100 * USDC
    assert weth.balanceOf(trader) == ETH


def test_donation_moves_no_account_and_no_cap(
    clearinghouse, owner, trader, stranger, weth, fund, oracle
):
    """Tokens sent straight to the contract (the donation attack class) are
    not collateral: no balance, no total, no health changes."""
    clearinghouse.set_asset_params(weth, 0, 0, 2 * ETH, sender=owner)
    fund(weth, trader, 2 * ETH, clearinghouse)
    clearinghouse.deposit(0, weth, ETH, sender=trader)
    health_before = clearinghouse.account_health(trader, 0)
    weth.mint(stranger, 50 * ETH, sender=stranger)
    weth.transfer(clearinghouse, 50 * ETH, sender=stranger)
    assert weth.balanceOf(clearinghouse) == 51 * ETH
    assert clearinghouse.balance_of(trader, 0, weth) == ETH
    assert clearinghouse.balance_of(stranger, 0, weth) == 0
    assert clearinghouse.total_deposits(weth) == ETH
    assert clearinghouse.account_health(trader, 0) == health_before
    # The cap still admits exactly the 1 ETH left by real deposits.
    clearinghouse.deposit(0, weth, ETH, sender=trader)
    # The donor cannot withdraw what they sent.
    with ape.reverts(errors.INSUFFICIENT_BALANCE):
        clearinghouse.withdraw(0, weth, 1, sender=stranger)


def test_withdraw_with_stale_oracle_when_no_liabilities(clearinghouse, trader, weth, fund, chain):
    """An account with no debt never needs a price to withdraw, so an oracle
    outage cannot trap its funds."""
    fund(weth, trader, ETH, clearinghouse)
    clearinghouse.deposit(0, weth, ETH, sender=trader)
    chain.mine(timestamp=chain.blocks.head.timestamp + HEARTBEAT + 60)
    with ape.reverts(errors.PRICE_STALE):
        clearinghouse.account_health(trader, 0)
    clearinghouse.withdraw(0, weth, ETH, sender=trader)
    assert weth.balanceOf(trader) == ETH


@pytest.mark.parametrize("quote_decimals", [6, 8, 18])
def test_quote_of_any_decimals(project, owner, oracle, make_token, trader, fund, quote_decimals):
    quote = make_token(quote_decimals, "USDx")
    one = 10**quote_decimals
    ch = deploy_clearinghouse(project, owner, quote.address, oracle.address, 10**12 * one)
    fund(quote, trader, 5 * one + 3, ch)
    ch.deposit(0, quote, 5 * one + 3, sender=trader)
    # Face value, scaled exactly to WAD.
    assert ch.account_health(trader, 0) == (5 * 10**18 + 3 * 10 ** (18 - quote_decimals), 0, 0)
    ch.withdraw(0, quote, 5 * one + 3, sender=trader)
    assert quote.balanceOf(trader) == 5 * one + 3
