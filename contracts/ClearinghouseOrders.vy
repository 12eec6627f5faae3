# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse orders extension
@notice Trading (`modules/trading.vy`): delayed orders (commit, settle,
        cancel) and the atomic `trade` where a market's rules allow it
        (the reads of the order book and rules, `modules/orders.vy`, are
        the core's). It runs only by `delegatecall` from the
        Clearinghouse's `__default__`,
        which sends it exactly the selectors this contract exports, on the
        Clearinghouse's storage, at its address.
        Called directly, this contract acts on its own empty storage: no
        market is listed, so every entry point reverts or reports nothing.
@custom:security Storage layout equals the Clearinghouse's by construction:
                 both `initializes: state` and declare nothing else; a unit
                 test compares the compiler's layouts.
"""

from .modules import state

# The Clearinghouse's storage, by construction (modules/state.vy).
initializes: state

exports: (
    state.trading.trade,
    state.trading.trade_for,
    state.trading.commit_order,
    state.trading.settle_order,
    state.trading.execute_order,
)


@deploy
def __init__():
    """
    @notice Deploys the extension. Its own storage is never used: with no
            owner and no market, every entry point reverts.
    """
    state.__init__()
    state.ownable._transfer_ownership(empty(address))
