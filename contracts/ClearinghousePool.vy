# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse pool extension
@notice The liquidity pool's side of the engine (`modules/liquidity.vy`):
        the LiquidityPool vault's cash in and out, and the reads of what
        the pool is worth and may release, auto-deleveraging
        (`modules/deleverage.vy`), and the write-off of an account's dead
        debt (`settle_bad_debt`, paid by the insurance fund, then the
        pool), and the OptionsDesk's cash (`option_pay`). It runs only by `delegatecall`
        from the Clearinghouse's `__default__`, which sends it exactly the
        selectors this contract exports, on the Clearinghouse's storage, at
        its address.
        Called directly, this contract acts on its own empty storage: no
        pool is named, so every entry point reverts or reports nothing.
@custom:security Storage layout equals the Clearinghouse's by construction:
                 both `initializes: state` and declare nothing else; a unit
                 test compares the compiler's layouts.
"""

from .modules import state

# The Clearinghouse's storage, by construction (modules/state.vy).
initializes: state

exports: (
    state.liquidity.pool_balance,
    state.liquidity.pool_state,
    state.liquidity.pool_value,
    state.liquidity.pool_withdrawable,
    state.liquidity.pool_prices_since,
    state.liquidity.pool_deposit,
    state.liquidity.pool_withdraw,
    state.deleverage.adl_state,
    state.deleverage.adl,
    state.liquidity.pool_pay_out,
    # the write-off of an account's dead debt (insurance fund, then pool)
    state.liquidation.settle_bad_debt,
    # the OptionsDesk: named once, and its one door for cash
    state.options.options_desk,
    state.options.set_options_desk,
    state.option_cash.option_pay,
)


@deploy
def __init__():
    """
    @notice Deploys the extension. Its own storage is never used: without
            an owner or a named pool, every entry point reverts.
    """
    state.__init__()
    state.ownable._transfer_ownership(empty(address))
