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
# A price cache for one batch (`liquidation.liquidate_many`, which holds
# the engine's lock): while `caching`, `_price` returns a price cached in
# this transaction instead of asking the router again. Transient (EIP-1153):
# gone at the end of the transaction, and ignored outside the batch.
cached: transient(HashMap[address, uint256])
caching: transient(bool)


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
    @dev The checked WAD USD price of `asset`; reverts with the router's
         reason. Inside a batch, the price cached for it if any.
    """
    if self.caching:
        cached: uint256 = self.cached[asset]
        if cached != 0:
            return cached
    return staticcall self.oracle.price(asset)


@internal
def _start_price_cache():
    self.caching = True


@internal
def _stop_price_cache():
    self.caching = False


@internal
def _cache_price(asset: address):
    """
    @dev Caches `asset`'s price for the batch, if the router gives one (a
         price it refuses is left out: the accounts that need it fail alone).
    """
    if self.cached[asset] != 0:
        return
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        self.oracle.address,
        abi_encode(asset, method_id=method_id("price(address)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if ok and len(out) == 32:
        self.cached[asset] = abi_decode(out, uint256)


@internal
@view
def _price_time(asset: address) -> (uint256, uint256):
    """
    @dev The checked WAD USD price of `asset` and when its feed published it.
    """
    return staticcall self.oracle.price_time(asset)
