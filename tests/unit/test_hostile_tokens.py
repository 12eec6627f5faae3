"""Fee-on-transfer and reentrant tokens: refused, with every balance as it was."""

import ape
import pytest
from ape.exceptions import ContractLogicError, TransactionError

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE
from xmargin.maths import errors

ONE = 10**18


def _list(ch, oracle, owner, token, make_feed):
    oracle.set_feed(token, make_feed(1), HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    ch.list_asset(token, 0, 0, 10**30, sender=owner)
    return token


@pytest.fixture
def fee_token(project, owner, clearinghouse, oracle, make_feed):
    token = owner.deploy(project.MockFeeToken, "Fee", "FEE", 18, 100)  # 1 %
    return _list(clearinghouse, oracle, owner, token, make_feed)


@pytest.fixture
def reentrant(project, owner, clearinghouse, oracle, make_feed):
    token = owner.deploy(project.MockReentrantToken, "Re", "RE", 18)
    return _list(clearinghouse, oracle, owner, token, make_feed)


def test_fee_on_transfer_deposit_refused(clearinghouse, trader, fee_token, fund, snapshot_balances):
    fund(fee_token, trader, 10 * ONE, clearinghouse)
    before = snapshot_balances(clearinghouse, [fee_token], [trader])
    with ape.reverts(errors.FEE_ON_TRANSFER):
        clearinghouse.deposit(0, fee_token, 10 * ONE, sender=trader)
    assert snapshot_balances(clearinghouse, [fee_token], [trader]) == before


def test_fee_switched_on_after_deposit(clearinghouse, trader, fee_token, fund, owner):
    """A token that starts charging later: the engine still sends exactly the
    booked amount (the fee falls on the receiver) and its books still match
    the tokens it holds."""
    fee_token.set_fee_bps(0, sender=owner)
    fund(fee_token, trader, 10 * ONE, clearinghouse)
    clearinghouse.deposit(0, fee_token, 10 * ONE, sender=trader)
    fee_token.set_fee_bps(100, sender=owner)
    clearinghouse.withdraw(0, fee_token, 10 * ONE, sender=trader)
    assert fee_token.balanceOf(trader) == 10 * ONE - ONE // 10
    assert fee_token.balanceOf(clearinghouse) == clearinghouse.total_deposits(fee_token) == 0


def _reentry_payloads(ch, token, trader):
    return {
        "deposit": ch.deposit.encode_input(0, token, 1),
        "withdraw": ch.withdraw.encode_input(0, token, 1),
        "account_health (read-only reentrancy)": ch.account_health.encode_input(trader, 0),
        "balance_of (read-only reentrancy)": ch.balance_of.encode_input(trader, 0, token),
    }


@pytest.mark.parametrize("outer", ["deposit", "withdraw"])
@pytest.mark.parametrize(
    "inner",
    [
        "deposit",
        "withdraw",
        "account_health (read-only reentrancy)",
        "balance_of (read-only reentrancy)",
    ],
)
def test_reentrancy_blocked(
    clearinghouse, trader, reentrant, fund, snapshot_balances, outer, inner
):
    fund(reentrant, trader, 10 * ONE, clearinghouse)
    clearinghouse.deposit(0, reentrant, 5 * ONE, sender=trader)
    before = snapshot_balances(clearinghouse, [reentrant], [trader])
    reentrant.arm(
        clearinghouse, _reentry_payloads(clearinghouse, reentrant, trader)[inner], sender=trader
    )
    with pytest.raises(ContractLogicError) as err:
        getattr(clearinghouse, outer)(0, reentrant, ONE, sender=trader)
    # The lock's own revert carries no reason. Any reason would mean the
    # inner call ran and failed on its own terms (allowance, balance): the
    # lock would then be untested (regression found in review).
    assert err.value.message == TransactionError.DEFAULT_MESSAGE
    assert snapshot_balances(clearinghouse, [reentrant], [trader]) == before
    assert reentrant.reentered() == 0
    # Disarmed, the same call goes through: the revert was the lock.
    reentrant.disarm(sender=trader)
    getattr(clearinghouse, outer)(0, reentrant, ONE, sender=trader)


def test_reentrant_token_harmless_when_callback_targets_elsewhere(
    clearinghouse, trader, reentrant, fund, usdc
):
    """The mock really does call out: pointed at another contract, the
    nested call succeeds and is counted."""
    fund(reentrant, trader, ONE, clearinghouse)
    reentrant.arm(usdc, usdc.approve.encode_input(trader, 0), sender=trader)
    clearinghouse.deposit(0, reentrant, ONE, sender=trader)
    assert reentrant.reentered() == 1
