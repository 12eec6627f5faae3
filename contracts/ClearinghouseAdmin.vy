# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse admin extension
@notice The owner's and guardian's functions of the Clearinghouse: ownership
        transfer, guardian and pause, asset and market configuration. They
        run only by `delegatecall` from the Clearinghouse's `__default__`, on
        the Clearinghouse's storage, so they are part of the same engine at
        the same address; they live here because together they are ~7 kB of
        code, which the core needs for trading and liquidation under the
        24,576-byte limit (EIP-170). Called directly, this contract acts on
        its own empty storage and refuses every call.
@custom:security Storage layout must equal the Clearinghouse's: both
                 `initializes` the same modules in the same order, and a unit
                 test compares the compiler's layouts. None of these
                 functions returns data (the core's fallback cannot forward
                 it); results are in events.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .modules import collateral
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
    # ownership (renounce is deliberately not exported)
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    # guardian and pause
    governance.set_guardian,
    governance.pause,
    governance.unpause,
    # asset registry
    collateral.list_asset,
    collateral.set_asset_params,
    # perpetual markets
    markets.set_oracle,
    markets.list_market,
    markets.set_market_params,
    markets.set_market_closed,
    # liquidity pool
    liquidity.set_pool,
    liquidity.set_pool_buffer,
    # liquidation
    liquidation.set_liquidation_params,
    # portfolio margin
    portfolio.set_portfolio_risk,
    portfolio.set_risk_group,
)


@deploy
def __init__():
    ownable.__init__()
    ownable_2step.__init__()
    # This contract's own storage is never used: it renounces its own
    # ownership, so called directly, every owner-only function reverts and
    # `pause` (owner or the zero guardian) cannot pass either.
    ownable._transfer_ownership(empty(address))
