# pragma version 0.4.3
"""
@title xmargin extension routing
@notice Where the Clearinghouse's `__default__` sends a call it does not
        implement: trades and delayed orders to ClearinghouseOrders, the
        liquidity pool's selectors, auto-deleveraging, the bad-debt
        write-off and the OptionsDesk's link to ClearinghousePool, every other one to ClearinghouseLiquidator (which
        forwards what it does not implement to ClearinghouseAdmin). All of
        them run by `delegatecall`, on the Clearinghouse's storage.
"""

from . import errors

LIQUIDATOR: public(immutable(address))
POOL: public(immutable(address))
ORDERS: public(immutable(address))


@deploy
def __init__(liquidator: address, pool: address, orders: address):
    assert liquidator.is_contract, errors.BAD_LIQUIDATOR
    assert pool.is_contract, errors.BAD_POOL_EXTENSION
    assert orders.is_contract, errors.BAD_ORDERS_EXTENSION
    LIQUIDATOR = liquidator
    POOL = pool
    ORDERS = orders


@internal
@view
def _target() -> address:
    """
    @dev The extension that implements the selector of this call.
    """
    # Shorter calldata (no selector) reverts here: nothing implements it.
    selector: bytes4 = convert(slice(msg.data, 0, 4), bytes4)
    if selector in [
        method_id("trade(uint256,uint256,int256,uint256)", output_type=bytes4),
        method_id("trade_for(address,uint256,uint256,int256,uint256)", output_type=bytes4),
        method_id("commit_order(address,uint256,uint256,int256,uint256)", output_type=bytes4),
        method_id("settle_order(address,uint256)", output_type=bytes4),
        method_id(
            "execute_order(address,uint256,uint256,int256,uint256,uint256)",
            output_type=bytes4,
        ),
    ]:
        return ORDERS
    if selector in [
        method_id("pool_balance()", output_type=bytes4),
        method_id("pool_state()", output_type=bytes4),
        method_id("pool_value()", output_type=bytes4),
        method_id("pool_withdrawable()", output_type=bytes4),
        method_id("pool_prices_since()", output_type=bytes4),
        method_id("pool_deposit(uint256)", output_type=bytes4),
        method_id("pool_withdraw(uint256,address)", output_type=bytes4),
        method_id("adl_state(uint256)", output_type=bytes4),
        method_id("adl(address,uint256,uint256,uint256)", output_type=bytes4),
        method_id("pool_pay_out(uint256,int256)", output_type=bytes4),
        method_id("settle_bad_debt(address,uint256)", output_type=bytes4),
        method_id("options_desk()", output_type=bytes4),
        method_id("set_options_desk(address)", output_type=bytes4),
        method_id(
            "option_pay(address,uint256,int256,address,uint256,bool,uint256)",
            output_type=bytes4,
        ),
    ]:
        return POOL
    return LIQUIDATOR
