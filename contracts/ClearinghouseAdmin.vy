# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse admin extension
@notice The engine's configuration in one place: the owner's and
        guardian's functions (ownership transfer, guardian and pause, the
        oracle, assets, markets, the pool, liquidation and portfolio-margin
        parameters, each with its bounds checks) and the reads of what they
        set. They run only by `delegatecall` from the Clearinghouse's
        `__default__` (through ClearinghouseLiquidator's), on the
        Clearinghouse's storage, at its address. They live here, not in the
        core, because the setters with their checks are ~10.7 kB the core
        does not have (measured: docs/architecture.md). Called directly,
        this contract acts on its own empty storage and refuses every call.
@custom:security Storage layout equals the Clearinghouse's by construction:
                 both `initializes: state` and declare nothing else; a unit
                 test compares the compiler's layouts. Every change emits an
                 event.
"""

from .modules import state

# The Clearinghouse's storage, by construction (modules/state.vy).
initializes: state

exports: (
    # ownership (renounce is deliberately not exported)
    state.ownable_2step.transfer_ownership,
    state.ownable_2step.accept_ownership,
    # guardian and pause
    state.governance.guardian,
    state.governance.set_guardian,
    state.governance.pause,
    state.governance.unpause,
    state.governance.liquidation_grace,
    state.governance.liquidations_resume_at,
    state.governance.set_liquidation_grace,
    # oracle
    state.oracle.oracle,
    state.markets.set_oracle,
    # asset registry
    state.collateral.list_asset,
    state.collateral.set_asset_params,
    state.collateral.freeze_asset,
    state.collateral.unfreeze_asset,
    # perpetual markets
    state.markets.num_markets,
    state.markets.market_params,
    # a market's totals and funding (reads, here for the core's room)
    state.markets.market_state,
    state.markets.funding_now,
    state.markets.market_closed,
    state.markets.list_market,
    state.markets.set_market_params,
    state.markets.set_market_closed,
    state.orders.set_order_rules,
    # liquidity pool
    state.liquidity.pool,
    state.liquidity.pool_buffer,
    state.liquidity.set_pool,
    state.liquidity.set_pool_buffer,
    state.liquidity.market_caps,
    state.liquidity.set_market_caps,
    state.liquidity.total_reserve_factor,
    state.liquidity.set_total_reserve_factor,
    # liquidation
    state.liquidation.liquidation_params,
    state.liquidation.set_liquidation_params,
    state.liquidation.set_liquidation_capacity,
    # insurance fund and bad-debt totals (the write-off runs in the liquidator)
    state.liquidation.fund_insurance,
    state.liquidation.insurance_fund,
    state.liquidation.bad_debt_total,
    state.liquidation.bad_debt_insurance,
    state.liquidation.bad_debt_pool,
    state.liquidation.recover_collateral,
    # portfolio margin
    state.portfolio.portfolio_risk,
    state.portfolio.risk_group,
    state.portfolio.set_portfolio_risk,
    state.portfolio.set_risk_group,
)


@deploy
def __init__():
    state.__init__()
    # This contract's own storage is never used: it renounces its own
    # ownership, so called directly, every owner-only function reverts and
    # `pause` (owner or the zero guardian) cannot pass either.
    state.ownable._transfer_ownership(empty(address))
