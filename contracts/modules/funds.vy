# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin deposits and withdrawals
@notice Moves collateral tokens between users and their accounts. Every
        entry is non-reentrant (module pragma), follows checks-effects-
        interactions, moves tokens only through `token_transfer` (balance-
        delta checked, so fee-on-transfer tokens revert) and logs an event.
@custom:security A withdrawal leaves the account at or above initial margin;
                 pausing blocks deposits but never a healthy withdrawal.
"""

from . import collateral
from . import constants
from . import health
from . import operators
from . import orders
from . import token_transfer
from . import errors

uses: collateral
uses: health
uses: operators
uses: orders


event Deposit:
    owner: indexed(address)
    sub_id: indexed(uint256)
    asset: indexed(address)
    amount: uint256
    balance: int256


event Withdraw:
    owner: indexed(address)
    sub_id: indexed(uint256)
    asset: indexed(address)
    amount: uint256
    balance: int256


event TransferBetween:
    owner: indexed(address)
    sub_from: indexed(uint256)
    sub_to: indexed(uint256)
    asset: address
    amount: uint256


@external
def deposit(sub_id: uint256, asset: address, amount: uint256):
    """
    @notice Deposits `amount` of `asset` from the caller into the caller's
            sub-account `sub_id`.
    @dev The caller must have approved this contract for `amount`.
    @param sub_id The caller's sub-account number (any uint256).
    @param asset A listed token.
    @param amount Native units, > 0, within the asset's deposit cap.
    @dev Allowed while paused: a margin top-up only lowers risk. Refused
         for a frozen asset.
    """
    collateral._check_listed(asset)
    assert collateral.freeze_word[asset] == 0, errors.ASSET_FROZEN
    assert amount > 0, errors.ZERO_AMOUNT
    total: uint256 = collateral.total_deposits[asset]
    cap: uint256 = collateral.asset_cap[asset]
    # `cap - total` cannot underflow while total <= cap; a cap lowered below
    # the total stops deposits. Comparing this way never overflows.
    assert total <= cap and amount <= cap - total, errors.DEPOSIT_CAP
    # A non-quote asset's tokens must cover its ledgers: a newcomer must
    # not pay for a shortfall nobody has reconciled yet (`reconcile`).
    if asset != collateral.quote_asset:
        assert token_transfer._held(asset) >= total, errors.ASSET_SHORT
    collateral.total_deposits[asset] = total + amount
    new_balance: int256 = collateral._add(msg.sender, sub_id, asset, convert(amount, int256))
    token_transfer._pull(asset, msg.sender, amount)
    log Deposit(owner=msg.sender, sub_id=sub_id, asset=asset, amount=amount, balance=new_balance)


@external
def withdraw(sub_id: uint256, asset: address, amount: uint256) -> uint256:
    """
    @notice Withdraws `amount` of `asset` from the caller's sub-account to
            the caller. Works while paused if the account stays healthy.
    @dev `amount == max_value(uint256)` withdraws the whole positive balance.
         Reverts if the account would end below initial margin.
    @param sub_id The caller's sub-account number.
    @param asset A listed token.
    @param amount Native units, > 0 and <= the balance.
    @return The tokens sent: `amount`, or its share of what the engine holds
            when a non-quote asset's tokens fall short of its ledgers
            (`reconcile`).
    """
    return self._withdraw(msg.sender, sub_id, asset, amount)


@external
def withdraw_for(owner: address, sub_id: uint256, asset: address, amount: uint256) -> uint256:
    """
    @notice An operator withdraws from `owner`'s sub-account; the tokens go
            to `owner`, never to the operator.
    @param owner The account owner (receives the tokens).
    @param sub_id The sub-account the caller operates.
    @param asset A listed token.
    @param amount Native units, > 0 and <= the balance (max_value = all).
    @return The tokens sent (as `withdraw`).
    """
    operators._check_operator(owner, sub_id)
    return self._withdraw(owner, sub_id, asset, amount)


@external
def reconcile(asset: address) -> uint256:
    """
    @notice Compares the tokens of a non-quote `asset` the engine holds
            with its ledgers; on a shortfall, freezes the asset (a 7-day
            ramp) with an `AssetShortfall` event. Anyone may call (the
            keeper does when it sees a shortfall); every withdrawal of the
            asset does the same.
    @param asset A listed non-quote asset.
    @return The fraction of the ledgers the tokens cover (WAD, at most 1).
    """
    collateral._check_listed(asset)
    assert asset != collateral.quote_asset, errors.QUOTE_HAIRCUT
    return collateral._reconcile(asset, token_transfer._held(asset))


@external
def transfer_between(sub_from: uint256, sub_to: uint256, asset: address, amount: uint256):
    """
    @notice Moves collateral between two of the caller's sub-accounts. The
            source must stay at or above initial margin.
    @param sub_from The sub-account that gives.
    @param sub_to The sub-account that receives.
    @param asset A listed token.
    @param amount Native units, > 0 and <= the source balance.
    """
    assert sub_from != sub_to, errors.SAME_SUB_ACCOUNT
    self._debit(msg.sender, sub_from, asset, amount)
    collateral._add(msg.sender, sub_to, asset, convert(amount, int256))
    health._check_initial_margin(msg.sender, sub_from)
    log TransferBetween(
        owner=msg.sender, sub_from=sub_from, sub_to=sub_to, asset=asset, amount=amount
    )


@internal
def _withdraw(owner: address, sub_id: uint256, asset: address, amount: uint256) -> uint256:
    to_send: uint256 = amount
    if amount == max_value(uint256):
        to_send = convert(max(collateral.balances[owner][sub_id][asset], 0), uint256)
    new_balance: int256 = self._debit(owner, sub_id, asset, to_send)
    # Reconciliation, where it is cheap: a non-quote asset's tokens held
    # against its ledgers. On a shortfall the asset is frozen and every
    # withdrawal is paid the same fraction (the ledger is debited in
    # full), so nobody who leaves first takes the others' tokens.
    to_pay: uint256 = to_send
    if asset != collateral.quote_asset:
        to_pay = to_send * collateral._reconcile(asset, token_transfer._held(asset)) // (
            constants.WAD
        )
    # Settlement moves quote balances without deposits, so a trader can
    # withdraw more quote than was ever deposited: the cap's running total
    # (net deposits) floors at zero instead of underflowing.
    collateral._untrack_deposit(asset, to_send)
    health._check_initial_margin(owner, sub_id)
    token_transfer._push(asset, owner, to_pay)
    # The event books the ledger's debit; the tokens sent are `to_pay`.
    log Withdraw(owner=owner, sub_id=sub_id, asset=asset, amount=to_send, balance=new_balance)
    return to_pay


@internal
def _debit(owner: address, sub_id: uint256, asset: address, amount: uint256) -> int256:
    """
    @dev Takes `amount` (> 0, at most the balance) of a listed asset out of
         an account's balance; returns the new balance. The caller checks
         the account's margin afterwards.
    """
    # A pending order settles on this account: it may not take margin out
    # from under it once the settlement price is known.
    orders._check_no_order(owner, sub_id)
    collateral._check_listed(asset)
    assert amount > 0, errors.ZERO_AMOUNT
    balance: int256 = collateral.balances[owner][sub_id][asset]
    assert balance > 0 and amount <= convert(balance, uint256), errors.INSUFFICIENT_BALANCE
    # amount <= balance <= 2**128: the conversion cannot fail.
    return collateral._add(owner, sub_id, asset, -convert(amount, int256))
