# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse liquidation extension
@notice Liquidation, collateral liquidation, the insurance fund and the
        keepers' batch views (`modules/liquidation.vy`), run only by
        `delegatecall` from the Clearinghouse's `__default__` on the
        Clearinghouse's storage, at its address. Selectors this contract
        does not implement are forwarded, again by `delegatecall`, to
        ClearinghouseAdmin (the owner's and guardian's functions), so the
        core needs one extension address. Both live outside the core because
        the core, with trading and health, must stay under the
        24,576-byte limit (EIP-170).
        Called directly, this contract acts on its own empty storage: no
        owner, no configuration, no quote asset; every function reverts or
        reports nothing.
@custom:security Storage layout must equal the Clearinghouse's: the same
                 modules are initialized in the same order, and a unit test
                 compares the compiler's layouts.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .modules import collateral
from .modules import constants
from .modules import funds
from .modules import governance
from .modules import health
from .modules import liquidation
from .modules import liquidity
from .modules import markets
from .modules import operators
from .modules import portfolio
from .modules import registry
from .modules import trading
from .modules import errors

# Same modules, same order as Clearinghouse.vy: same storage layout.
initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: governance[ownable := ownable]
initializes: operators
initializes: collateral[ownable := ownable]
initializes: markets[ownable := ownable, collateral := collateral]
initializes: health[collateral := collateral, markets := markets, portfolio := portfolio]
initializes: funds[
    collateral := collateral, governance := governance, health := health, operators := operators
]
initializes: trading[
    collateral := collateral,
    governance := governance,
    health := health,
    markets := markets,
    operators := operators,
    portfolio := portfolio,
    registry := registry,
]
initializes: liquidity[ownable := ownable, collateral := collateral, markets := markets]
initializes: registry
initializes: liquidation[
    ownable := ownable,
    collateral := collateral,
    health := health,
    markets := markets,
    operators := operators,
    portfolio := portfolio,
    registry := registry,
    trading := trading,
]
initializes: portfolio[ownable := ownable, collateral := collateral, markets := markets]

exports: (
    # liquidation
    liquidation.liquidate,
    liquidation.liquidate_collateral,
    liquidation.liquidation_params,
    # insurance fund and bad debt
    liquidation.fund_insurance,
    liquidation.insurance_fund,
    liquidation.bad_debt_total,
    liquidation.bad_debt_insurance,
    liquidation.bad_debt_pool,
    liquidation.settle_bad_debt,
    # keepers' views
    liquidation.is_liquidatable,
    liquidation.accounts_to_liquidate,
    liquidation.account_healths,
    registry.num_accounts,
    registry.account_at,
    health.set_margin_mode,
    portfolio.portfolio_risk,
    portfolio.risk_group,
    portfolio.portfolio_mode,
    portfolio.portfolio_exposure,
    portfolio.portfolio_liquidation_market,
)

ADMIN: public(immutable(address))


@deploy
def __init__(admin: address):
    """
    @notice Deploys the extension, forwarding unknown selectors to `admin`.
    @param admin The ClearinghouseAdmin extension.
    """
    assert admin.is_contract, errors.BAD_ADMIN
    ownable.__init__()
    ownable_2step.__init__()
    # Its own storage is never used: without an owner, every owner-only
    # function forwarded from a direct call reverts.
    ownable._transfer_ownership(empty(address))
    ADMIN = admin


@external
@reentrant
@raw_return
def __default__() -> Bytes[constants.MAX_RETURN]:
    """
    @notice Runs the owner's and guardian's functions (ClearinghouseAdmin)
            on the calling Clearinghouse's storage.
    @dev `@reentrant`: the admin functions take the shared lock themselves.
    """
    return raw_call(ADMIN, msg.data, max_outsize=constants.MAX_RETURN, is_delegate_call=True)
