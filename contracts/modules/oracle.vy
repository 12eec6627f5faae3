# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin engine oracle
@notice The one OracleRouter the engine prices every asset and market with.
        Every other module reads prices through `_price`; only this module
        writes the router's address (at deployment and through `_set`,
        which `markets.set_oracle` calls once it has checked that the new
        router prices everything listed).
@custom:security The router reverts rather than return a price it cannot
                 vouch for, so a bad feed stops only the accounts that need
                 that price.
"""

from ..interfaces import IOracleRouter
from . import errors


event OracleSet:
    previous_oracle: indexed(address)
    new_oracle: indexed(address)


oracle: public(IOracleRouter)


@internal
def _set(new_oracle: address):
    """
    @dev Points the engine at `new_oracle` (the caller has checked it).
    """
    assert new_oracle.is_contract, errors.ORACLE_NOT_CONTRACT
    log OracleSet(previous_oracle=self.oracle.address, new_oracle=new_oracle)
    self.oracle = IOracleRouter(new_oracle)


@internal
@view
def _price(asset: address) -> uint256:
    """
    @dev The checked WAD USD price of `asset`; reverts with the router's reason.
    """
    return staticcall self.oracle.price(asset)


@internal
@view
def _price_time(asset: address) -> (uint256, uint256):
    """
    @dev The checked WAD USD price of `asset` and when its feed published it.
    """
    return staticcall self.oracle.price_time(asset)
