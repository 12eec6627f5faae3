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
# A price cache for one batch (`liquidation.liquidate_many`): while a
# batch runs (`batch` is its number in this transaction, 0 outside one),
# `_price` returns the price cached for that batch instead of asking the
# router again. Transient (EIP-1153): gone at the end of the transaction;
# keyed by batch, so a second batch in the same transaction (after a feed
# or the router changed) never sees the first one's prices.
cached: transient(HashMap[uint256, HashMap[address, uint256]])
batch: transient(uint256)
batches: transient(uint256)


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
    b: uint256 = self.batch
    if b != 0:
        cached: uint256 = self.cached[b][asset]
        if cached != 0:
            return cached
    return staticcall self.oracle.price(asset)


@internal
def _start_price_cache():
    """
    @dev Opens a fresh cache for a batch (its own number in this transaction).
    """
    self.batches += 1
    self.batch = self.batches


@internal
def _stop_price_cache():
    self.batch = 0


@internal
def _cache_price(asset: address):
    """
    @dev Caches `asset`'s price for the batch, if the router gives one (a
         price it refuses is left out: the accounts that need it fail alone).
    """
    b: uint256 = self.batch
    if self.cached[b][asset] != 0:
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
        self.cached[b][asset] = abi_decode(out, uint256)


@internal
@view
def _price_time(asset: address) -> (uint256, uint256):
    """
    @dev The checked WAD USD price of `asset` and when its feed published it.
    """
    return staticcall self.oracle.price_time(asset)
