# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin engine state
@notice Every module of the engine, initialized once and in one order. The
        Clearinghouse and its extensions (ClearinghouseOrders,
        ClearinghousePool, ClearinghouseLiquidator, ClearinghouseAdmin), which run on the Clearinghouse's storage by
        `delegatecall`, each `initializes: state`, so their storage layouts
        are the same by construction. Each storage field is written by the
        one module that declares it; the others call its internal functions
        (docs/architecture.md has the map).
@custom:security A deployable must declare no storage of its own besides
                 `state` and immutables, or the layouts would drift; the
                 storage-layout test compares the compiler's layouts.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from . import accounts
from . import collateral
from . import deleverage
from . import funds
from . import governance
from . import health
from . import liquidation
from . import liquidity
from . import markets
from . import operators
from . import option_cash
from . import options
from . import oracle
from . import orders
from . import portfolio
from . import registry
from . import trading

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: governance[ownable := ownable]
initializes: accounts
initializes: operators[accounts := accounts]
initializes: oracle
initializes: options[ownable := ownable]
initializes: registry
initializes: collateral[
    ownable := ownable, accounts := accounts, governance := governance, oracle := oracle
]
initializes: markets[ownable := ownable, collateral := collateral, oracle := oracle]
initializes: orders[ownable := ownable, markets := markets]
initializes: liquidity[
    ownable := ownable,
    collateral := collateral,
    governance := governance,
    markets := markets,
    options := options,
    oracle := oracle,
]
initializes: portfolio[
    ownable := ownable, accounts := accounts, collateral := collateral, markets := markets
]
initializes: health[
    accounts := accounts,
    collateral := collateral,
    governance := governance,
    markets := markets,
    options := options,
    oracle := oracle,
    orders := orders,
    portfolio := portfolio,
]
initializes: funds[
    collateral := collateral,
    health := health,
    operators := operators,
    orders := orders,
]
initializes: trading[
    accounts := accounts,
    collateral := collateral,
    governance := governance,
    health := health,
    liquidity := liquidity,
    markets := markets,
    operators := operators,
    oracle := oracle,
    orders := orders,
    registry := registry,
]
initializes: deleverage[
    accounts := accounts,
    collateral := collateral,
    governance := governance,
    liquidity := liquidity,
    markets := markets,
    operators := operators,
]
initializes: liquidation[
    ownable := ownable,
    accounts := accounts,
    collateral := collateral,
    governance := governance,
    liquidity := liquidity,
    markets := markets,
    operators := operators,
    oracle := oracle,
    portfolio := portfolio,
    trading := trading,
]
initializes: option_cash[
    accounts := accounts,
    collateral := collateral,
    governance := governance,
    health := health,
    liquidity := liquidity,
    operators := operators,
    options := options,
    registry := registry,
]


@deploy
def __init__():
    ownable.__init__()
    ownable_2step.__init__()
