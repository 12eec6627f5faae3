# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse
@notice Holds pooled multi-asset collateral for every account `(owner,
        sub_id)`, prices it through the OracleRouter and reports each
        account's equity, initial margin and maintenance margin. Positions
        and liquidation are built on these modules in later releases.
@custom:security Owner (two-step) configures; a guardian may pause.
                 Every external function holds one global reentrancy lock
                 (module pragmas), views included, so no view can be read
                 mid-call by a reentering token.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .modules import collateral
from .modules import funds
from .modules import governance
from .modules import health

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: governance[ownable := ownable]
initializes: collateral[ownable := ownable]
initializes: health[collateral := collateral]
initializes: funds[collateral := collateral, governance := governance, health := health]

exports: (
    # ownership (renounce is deliberately not exported)
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    # guardian and pause
    governance.guardian,
    governance.paused,
    governance.set_guardian,
    governance.pause,
    governance.unpause,
    # asset registry
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
    # accounts
    collateral.balance_of,
    funds.deposit,
    funds.withdraw,
    # health
    health.account_health,
    health.collateral_value,
)


@deploy
def __init__(quote_asset: address, oracle: address, quote_cap: uint256):
    """
    @notice Deploys the engine with its quote (settlement) asset.
    @param quote_asset The USD stablecoin in which PnL settles (face value).
    @param oracle The OracleRouter pricing every other asset.
    @param quote_cap Largest total quote deposit, native units.
    """
    ownable.__init__()
    ownable_2step.__init__()
    collateral.__init__(quote_asset, oracle, quote_cap)
