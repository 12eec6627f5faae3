# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse
@notice The core of the engine: the ledger and every user action. It holds
        pooled multi-asset collateral for every account `(owner, sub_id)`,
        prices it through the OracleRouter, reports each account's equity,
        initial and maintenance margin, and runs deposits, withdrawals,
        transfers between sub-accounts and the margin mode. Everything
        else runs on this contract's storage, at its address, through
        `__default__`: trades and delayed orders in ClearinghouseOrders;
        the LiquidityPool's cash in and out and the pool's value in
        ClearinghousePool; liquidation, keeper reads and the approval of
        an account's operators in ClearinghouseLiquidator; the owner's and
        guardian's functions and configuration reads in
        ClearinghouseAdmin (docs/architecture.md).
@custom:security Owner (two-step) configures; a guardian may pause.
                 Every external function holds one global reentrancy lock
                 (module pragmas), views included, so no view can be read
                 mid-call by a reentering token.
"""

from .modules import constants
from .modules import extensions
from .modules import state

initializes: state
initializes: extensions

exports: (
    # ownership (renounce is deliberately not exported) and pause
    state.ownable_2step.owner,
    state.ownable_2step.pending_owner,
    state.governance.paused,
    # accounts: balances and each account's operators (set in
    # ClearinghouseLiquidator)
    state.collateral.quote_asset,
    state.collateral.balance_of,
    state.operators.is_operator,
    # collateral in and out
    state.funds.deposit,
    state.funds.withdraw,
    state.funds.withdraw_for,
    state.funds.reconcile,
    state.funds.transfer_between,
    # health and margin mode
    state.health.account_health,
    state.health.health_probe,
    state.health.exposure_probe,
    state.health.set_margin_mode,
    # perpetual markets (trades and orders run in ClearinghouseOrders)
    state.markets.position,
    # ledger reads for keepers and integrators
    state.accounts.held_mask,
    state.accounts.position_mask,
    state.accounts.holds_options,
    state.portfolio.portfolio_mode,
    state.registry.num_accounts,
    state.registry.account_at,
    state.collateral.total_deposits,
    # the asset registry (set in ClearinghouseAdmin) and frozen assets' ramps
    state.collateral.num_assets,
    state.collateral.asset_list,
    state.collateral.asset_config,
    state.collateral.listed_assets,
    state.collateral.asset_freeze,
    state.collateral.ramp_frozen_haircut,
    state.health.collateral_value,
    state.health.portfolio_exposure,
    # the order book and its rules (orders trade in ClearinghouseOrders)
    state.trading.cancel_order,
    # the size liquidations may still close in a market's window (a read
    # the liquidation extension had no room for)
    state.liquidation.liquidation_capacity,
    state.orders.pending_order,
    state.orders.order_rules,
    state.orders.order_fees,
    # the extensions this contract runs (modules/extensions.vy)
    extensions.LIQUIDATOR,
    extensions.POOL,
    extensions.ORDERS,
)


@deploy
def __init__(
    quote_asset: address,
    oracle: address,
    quote_cap: uint256,
    liquidator: address,
    pool: address,
    orders: address,
):
    """
    @notice Deploys the engine with its quote (settlement) asset.
    @param quote_asset The USD stablecoin in which PnL settles (face value).
    @param oracle The OracleRouter pricing every other asset.
    @param quote_cap Largest total quote deposit, native units.
    @param liquidator The ClearinghouseLiquidator extension (liquidation,
           insurance fund, registry views; it forwards the owner's and
           guardian's functions to ClearinghouseAdmin).
    @param pool The ClearinghousePool extension (the LiquidityPool's cash
           in and out, pool value and requirement).
    @param orders The ClearinghouseOrders extension (trades, delayed
           orders and their rules).
    """
    state.__init__()
    extensions.__init__(liquidator, pool, orders)
    state.oracle._set(oracle)
    state.collateral._initialize(quote_asset, quote_cap)


@external
@reentrant
@raw_return
def __default__() -> Bytes[constants.MAX_RETURN]:
    """
    @notice Runs the extensions' functions on this contract's storage,
            returning their result: trades and orders in ClearinghouseOrders,
            the pool's selectors in ClearinghousePool, every other one in
            ClearinghouseLiquidator
            (liquidation, insurance fund, keeper views, and through it the
            owner's and guardian's functions). Unknown selectors revert there.
    @dev `@reentrant` here only: the extensions' functions take the shared
         lock themselves (the same transient slot, as it is the same contract
         context), so this hop must not take it first.
    """
    return raw_call(
        extensions._target(), msg.data, max_outsize=constants.MAX_RETURN, is_delegate_call=True
    )
