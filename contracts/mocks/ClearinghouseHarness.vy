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

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from ..modules import collateral
from ..modules import funds
from ..modules import governance
from ..modules import health

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: governance[ownable := ownable]
initializes: collateral[ownable := ownable]
initializes: health[collateral := collateral]
initializes: funds[collateral := collateral, governance := governance, health := health]

exports: (
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    governance.guardian,
    governance.paused,
    governance.set_guardian,
    governance.pause,
    governance.unpause,
    collateral.oracle,
    collateral.quote_asset,
    collateral.num_assets,
    collateral.asset_list,
    collateral.asset_config,
    collateral.total_deposits,
    collateral.held_mask,
    collateral.listed_assets,
    collateral.list_asset,
    collateral.set_asset_params,
    collateral.set_oracle,
    collateral.balance_of,
    funds.deposit,
    funds.withdraw,
    health.account_health,
    health.collateral_value,
)


@deploy
def __init__(quote_asset: address, oracle: address, quote_cap: uint256):
    ownable.__init__()
    ownable_2step.__init__()
    collateral.__init__(quote_asset, oracle, quote_cap)


@external
def harness_settle(owner: address, sub_id: uint256, delta: int256):
    """
    @notice Adds `delta` (native quote units, may be negative) to an
            account's quote balance, as realised PnL would.
    """
    collateral._add(owner, sub_id, collateral.quote_asset, delta)
