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
from ..modules import extensions
from ..modules import state

initializes: state
initializes: extensions

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
    state.markets.position,
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
    @notice Deploys the engine as the Clearinghouse does.
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
    @notice Runs the extensions' functions on this contract's storage, as
            the Clearinghouse does.
    """
    return raw_call(
        extensions._target(), msg.data, max_outsize=constants.MAX_RETURN, is_delegate_call=True
    )


@external
def harness_settle(owner: address, sub_id: uint256, delta: int256):
    """
    @notice Adds `delta` (native quote units, may be negative) to an
            account's quote balance, as realised PnL would.
    """
    state.collateral._add(owner, sub_id, state.collateral.quote_asset, delta)


@external
def harness_store_funding(market_id: uint256, rate: int256, index: int256):
    """
    @notice Stores a market's funding rate and index as of now, through the
            engine's own packing (`markets._store_funding`), for the funding
            word's round-trip test at its bounds.
    """
    state.markets._store_funding(market_id, rate, index)


@external
def harness_store_position(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size: int256,
    entry_price: uint256,
    funding_index: int256,
):
    """
    @notice Stores a position through the engine's own packing
            (`markets._store_position`), for the position words' round-trip
            test at their bounds. Touches nothing else (no mask, no totals).
    """
    state.markets._store_position(owner, sub_id, market_id, size, entry_price, funding_index)


@external
def harness_store_totals(
    market_id: uint256, long_oi: uint256, short_oi: uint256, entry_sum: int256, funding_sum: int256
):
    """
    @notice Stores a market's open interest and pool sums through the
            engine's own packing (`markets._store_totals`; the skew is
            long - short), for the open-interest word's round-trip test.
    """
    state.markets._store_totals(
        market_id,
        state.markets.MarketTotals(
            skew=0,
            long_oi=long_oi,
            short_oi=short_oi,
            entry_sum=entry_sum,
            funding_sum=funding_sum,
        ),
    )


@external
def harness_store_cash(cash: int256, fund: uint256):
    """
    @notice Stores the pool's cash and the insurance fund through the
            engine's own packing (`liquidity._store_cash`), for the cash
            word's round-trip test at its bounds. Moves no token.
    """
    state.liquidity._store_cash(cash, fund)


@external
def harness_move_cash(delta: int256):
    """
    @notice Moves the pool's cash as a settlement does (`liquidity._move_cash`).
    """
    state.liquidity._move_cash(delta)


@external
def harness_record_bad_debt(from_insurance: uint256, from_pool: uint256):
    """
    @notice Adds to the bad-debt totals through the engine's own packing
            (`liquidation._record_bad_debt`), for their round-trip test.
    """
    state.liquidation._record_bad_debt(from_insurance, from_pool)
