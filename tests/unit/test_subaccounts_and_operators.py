"""Moving collateral between sub-accounts, and operators acting for an owner."""

from __future__ import annotations

import ape
import pytest

from tests.markets import ETH, P3000, USDC
from xmargin.maths import errors


@pytest.fixture
def funded(clearinghouse, trader, usdc, fund):
    fund(usdc, trader, 10_000 * USDC, clearinghouse)
    clearinghouse.deposit(0, usdc, 10_000 * USDC, sender=trader)


def test_transfer_between_moves_only_the_ledger(clearinghouse, funded, trader, usdc):
    total = clearinghouse.total_deposits(usdc)
    tx = clearinghouse.transfer_between(0, 7, usdc, 4_000 * USDC, sender=trader)
    assert clearinghouse.balance_of(trader, 0, usdc) == 6_000 * USDC
    assert clearinghouse.balance_of(trader, 7, usdc) == 4_000 * USDC
    assert clearinghouse.total_deposits(usdc) == total
    assert usdc.balanceOf(clearinghouse) == 10_000 * USDC
    assert clearinghouse.held_mask(trader, 7) == 1
    (event,) = tx.events.filter(clearinghouse.TransferBetween)
    assert (event.sub_from, event.sub_to, event.amount) == (0, 7, 4_000 * USDC)
    # The whole balance: the source's bit clears.
    clearinghouse.transfer_between(0, 7, usdc, 6_000 * USDC, sender=trader)
    assert clearinghouse.held_mask(trader, 0) == 0


@pytest.mark.parametrize(
    ("sub_to", "amount", "reason"),
    [
        (0, USDC, errors.SAME_SUB_ACCOUNT),
        (1, 0, errors.ZERO_AMOUNT),
        (1, 10_000 * USDC + 1, errors.INSUFFICIENT_BALANCE),
    ],
)
def test_bad_transfers_revert(
    clearinghouse, funded, trader, usdc, snapshot_balances, sub_to, amount, reason
):
    before = snapshot_balances(clearinghouse, [usdc], [trader], sub_ids=(0, 1))
    with ape.reverts(reason):
        clearinghouse.transfer_between(0, sub_to, usdc, amount, sender=trader)
    assert snapshot_balances(clearinghouse, [usdc], [trader], sub_ids=(0, 1)) == before


def test_transfer_of_an_unlisted_asset_reverts(clearinghouse, funded, trader, stranger):
    with ape.reverts(errors.ASSET_NOT_LISTED):
        clearinghouse.transfer_between(0, 1, stranger, 1, sender=trader)


def test_transfer_leaving_the_source_below_im_reverts(clearinghouse, funded, market, trader, usdc):
    clearinghouse.trade(0, market, 3 * ETH, 2 * P3000, sender=trader)
    # IM = 9,000 * 0.100003 = 900.027; equity = 10,000 - 9.0045
    with ape.reverts(errors.BELOW_IM):
        clearinghouse.transfer_between(0, 1, usdc, 9_100 * USDC, sender=trader)
    clearinghouse.transfer_between(0, 1, usdc, 9_000 * USDC, sender=trader)
    h = clearinghouse.account_health(trader, 0)
    assert h.equity >= h.im


def test_rescuing_an_isolated_sub_account(clearinghouse, funded, market, trader, usdc, fund):
    fund(usdc, trader, 1_000 * USDC, clearinghouse)
    clearinghouse.deposit(1, usdc, 1_000 * USDC, sender=trader)
    clearinghouse.trade(1, market, 3 * ETH, 2 * P3000, sender=trader)
    before = clearinghouse.account_health(trader, 1)
    clearinghouse.transfer_between(0, 1, usdc, 2_000 * USDC, sender=trader)
    after = clearinghouse.account_health(trader, 1)
    assert after.equity - before.equity == 2_000 * 10**18
    assert after.im == before.im


def test_operator_trades_and_withdraws_only_to_the_owner(
    clearinghouse, funded, market, trader, keeper, usdc
):
    with ape.reverts(errors.NOT_OPERATOR):
        clearinghouse.trade_for(trader, 0, market, ETH, 2 * P3000, sender=keeper)
    tx = clearinghouse.set_operator(0, keeper, True, sender=trader)
    assert [e.event_name for e in tx.events] == ["OperatorSet"]
    assert clearinghouse.is_operator(trader, 0, keeper)
    clearinghouse.trade_for(trader, 0, market, ETH, 2 * P3000, sender=keeper)
    assert clearinghouse.position(trader, 0, market).size == ETH
    assert clearinghouse.position(keeper, 0, market).size == 0
    clearinghouse.withdraw_for(trader, 0, usdc, 1_000 * USDC, sender=keeper)
    assert usdc.balanceOf(trader) == 1_000 * USDC
    assert usdc.balanceOf(keeper) == 0
    # Another sub-account of the same owner is out of reach.
    with ape.reverts(errors.NOT_OPERATOR):
        clearinghouse.withdraw_for(trader, 1, usdc, 1, sender=keeper)
    clearinghouse.set_operator(0, keeper, False, sender=trader)
    with ape.reverts(errors.NOT_OPERATOR):
        clearinghouse.trade_for(trader, 0, market, -ETH, 0, sender=keeper)


def test_operator_is_still_held_to_initial_margin(
    clearinghouse, funded, market, trader, keeper, usdc
):
    clearinghouse.set_operator(0, keeper, True, sender=trader)
    clearinghouse.trade_for(trader, 0, market, 3 * ETH, 2 * P3000, sender=keeper)
    with ape.reverts(errors.BELOW_IM):
        clearinghouse.withdraw_for(trader, 0, usdc, 9_500 * USDC, sender=keeper)


def test_set_operator_rejects_self_and_zero(clearinghouse, trader):
    with ape.reverts(errors.OWNER_NEEDS_NO_APPROVAL):
        clearinghouse.set_operator(0, trader, True, sender=trader)
    with ape.reverts(errors.ZERO_OPERATOR):
        clearinghouse.set_operator(0, "0x" + "00" * 20, True, sender=trader)
