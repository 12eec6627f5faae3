# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Test-only Clearinghouse with a settlement-debt hook
@notice The exact modules and entry points of `Clearinghouse.vy`, plus
        `harness_settle` to move an account's quote balance the way realised
        PnL will once perpetual markets exist. It lets unit tests reach
        states (a debt, an account below initial margin) that deposits and
        withdrawals alone cannot create. Never deployed outside tests.
"""

from ..modules import constants
from ..modules import errors
from ..modules import state

initializes: state

exports: (
    state.ownable_2step.owner,
    state.ownable_2step.pending_owner,
    state.governance.paused,
    state.collateral.quote_asset,
    state.collateral.total_deposits,
    state.accounts.held_mask,
    state.collateral.balance_of,
    state.funds.deposit,
    state.funds.withdraw,
    state.health.account_health,
    state.health.collateral_value,
)

# The extension (ClearinghouseLiquidator, which forwards what it does not
# implement to ClearinghouseAdmin) runs on this contract's storage.
LIQUIDATOR: public(immutable(address))


@deploy
def __init__(quote_asset: address, oracle: address, quote_cap: uint256, liquidator: address):
    """
    @notice Deploys the engine with its quote (settlement) asset.
    @param quote_asset The USD stablecoin in which PnL settles (face value).
    @param oracle The OracleRouter pricing every other asset.
    @param quote_cap Largest total quote deposit, native units.
    @param liquidator The ClearinghouseLiquidator extension (liquidation,
           insurance fund, registry views; it forwards the owner's and
           guardian's functions to ClearinghouseAdmin).
    """
    assert liquidator.is_contract, errors.BAD_LIQUIDATOR
    state.__init__()
    state.oracle._set(oracle)
    state.collateral._initialize(quote_asset, quote_cap)
    LIQUIDATOR = liquidator


@external
@reentrant
@raw_return
def __default__() -> Bytes[constants.MAX_RETURN]:
    """
    @notice Runs the extension's functions (liquidation, insurance fund,
            keeper views, and through it the owner's and guardian's
            functions) on this contract's storage, returning their result.
            Unknown selectors revert there.
    @dev `@reentrant` here only: the extension's functions take the shared
         lock themselves (the same transient slot, as it is the same contract
         context), so this hop must not take it first.
    """
    return raw_call(LIQUIDATOR, msg.data, max_outsize=constants.MAX_RETURN, is_delegate_call=True)


@external
def harness_settle(owner: address, sub_id: uint256, delta: int256):
    """
    @notice Adds `delta` (native quote units, may be negative) to an
            account's quote balance, as realised PnL would.
    """
    state.collateral._add(owner, sub_id, state.collateral.quote_asset, delta)
