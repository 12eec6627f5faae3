# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin LiquidityPool
@notice An ERC-4626 vault over the quote asset (USDC): the counterparty of
        every perpetual trade. Its assets live in the Clearinghouse's pool
        ledger, not in this contract: `totalAssets()` is the
        Clearinghouse's `pool_value()`, which counts traders' unrealised PnL
        and funding against the pool, so the share price moves with the
        market and LPs cannot enter or leave around a price move for free.
        Tokens sent straight here or to the Clearinghouse change no share
        price (no donation or inflation attack through balances).
        Deposits stop while the Clearinghouse is paused; withdrawals stop
        while its liquidations do (paused, then the grace period after),
        and where the pool's cash would no longer cover traders' gains
        plus a buffer or its value the capital caps (`maxWithdraw` says
        how much is free; docs/pool.md). The max*
        functions return 0 instead of reverting while a price is invalid.
@custom:security Shares are snekmate ERC-20 (with EIP-2612 permit); the
                 vault maths is ERC-4626 with one virtual share and one
                 virtual asset, rounding in the vault's favour: shares down
                 on deposit and redeem, up on mint and withdraw.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from ethereum.ercs import IERC4626
from snekmate.auth import ownable
from snekmate.tokens import erc20
from snekmate.utils import math

from .interfaces import IClearinghousePool
from .modules import token_transfer
from .modules import errors

implements: IERC20
implements: IERC4626

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.allowance,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)

# The Clearinghouse caps amounts at 2**128 (constants.MAX_AMOUNT).
MAX_ASSETS_IN: constant(uint256) = 2**128

asset: public(immutable(address))
CLEARINGHOUSE: public(immutable(IClearinghousePool))


@deploy
def __init__(clearinghouse: IClearinghousePool, name: String[25], symbol: String[5]):
    """
    @notice Deploys the vault for a Clearinghouse; the Clearinghouse's owner
            then names it with `set_pool`.
    @param clearinghouse The engine whose pool ledger this vault owns.
    @param name Share token name.
    @param symbol Share token symbol.
    """
    quote: address = staticcall clearinghouse.quote_asset()
    CLEARINGHOUSE = clearinghouse
    asset = quote
    ownable.__init__()
    erc20.__init__(name, symbol, staticcall IERC20Detailed(quote).decimals(), name, "1")
    # Nothing here is owned: the erc20 module needs `ownable` only for its
    # minter role, which this vault never uses.
    ownable._transfer_ownership(empty(address))


# ---------------------------------------------------------------- views


@external
@view
def totalAssets() -> uint256:
    """
    @notice The pool's value in quote units: cash plus its claim on traders.
    @return Native quote units.
    """
    return staticcall CLEARINGHOUSE.pool_value()


@external
@view
def convertToShares(assets: uint256) -> uint256:
    """
    @notice Shares worth `assets` now, rounded down.
    @param assets Native quote units.
    @return Shares.
    """
    return self._to_shares(assets, self._value(), False)


@external
@view
def convertToAssets(shares: uint256) -> uint256:
    """
    @notice Assets `shares` are worth now, rounded down.
    @param shares Shares.
    @return Native quote units.
    """
    return self._to_assets(shares, self._value(), False)


@external
@view
def maxDeposit(receiver: address) -> uint256:
    """
    @notice Most assets `receiver` may deposit: 0 while paused.
    @param receiver Unused: the same for everyone.
    @return Native quote units.
    """
    ok: bool = False
    pool_value: uint256 = 0
    ok, pool_value = self._try_read(method_id("pool_value()"))
    if not ok or not self._accepts_deposits(pool_value):
        return 0
    return MAX_ASSETS_IN


@external
@view
def maxMint(receiver: address) -> uint256:
    """
    @notice Most shares `receiver` may mint: 0 while paused.
    @param receiver Unused: the same for everyone.
    @return Shares.
    """
    ok: bool = False
    pool_value: uint256 = 0
    ok, pool_value = self._try_read(method_id("pool_value()"))
    if not ok or not self._accepts_deposits(pool_value):
        return 0
    return self._to_shares(MAX_ASSETS_IN, pool_value, False)


@external
@view
def maxWithdraw(owner: address) -> uint256:
    """
    @notice Most assets `owner` may withdraw now: their shares' worth, at
            most the pool's free cash.
    @param owner A shareholder.
    @return Native quote units.
    """
    ok: bool = False
    pool_value: uint256 = 0
    free: uint256 = 0
    ok, pool_value, free = self._try_value_and_free()
    if not ok:
        return 0
    return min(self._to_assets(erc20.balanceOf[owner], pool_value, False), free)


@external
@view
def maxRedeem(owner: address) -> uint256:
    """
    @notice Most shares `owner` may redeem now.
    @param owner A shareholder.
    @return Shares.
    """
    ok: bool = False
    pool_value: uint256 = 0
    free: uint256 = 0
    ok, pool_value, free = self._try_value_and_free()
    if not ok:
        return 0
    return min(erc20.balanceOf[owner], self._to_shares(free, pool_value, False))


@external
@view
def previewDeposit(assets: uint256) -> uint256:
    """
    @notice Shares a deposit of `assets` mints now.
    @param assets Native quote units.
    @return Shares, rounded down.
    """
    return self._to_shares(assets, self._value(), False)


@external
@view
def previewMint(shares: uint256) -> uint256:
    """
    @notice Assets a mint of `shares` costs now.
    @param shares Shares.
    @return Native quote units, rounded up.
    """
    return self._to_assets(shares, self._value(), True)


@external
@view
def previewWithdraw(assets: uint256) -> uint256:
    """
    @notice Shares a withdrawal of `assets` burns now.
    @param assets Native quote units.
    @return Shares, rounded up.
    """
    return self._to_shares(assets, self._value(), True)


@external
@view
def previewRedeem(shares: uint256) -> uint256:
    """
    @notice Assets a redemption of `shares` pays now.
    @param shares Shares.
    @return Native quote units, rounded down.
    """
    return self._to_assets(shares, self._value(), False)


# ---------------------------------------------------------------- actions


@external
def deposit(assets: uint256, receiver: address) -> uint256:
    """
    @notice Deposits `assets` quote from the caller, mints shares to `receiver`.
    @param assets Native quote units, > 0.
    @param receiver Who gets the shares.
    @return Shares minted.
    """
    pool_value: uint256 = self._value()
    shares: uint256 = self._to_shares(assets, pool_value, False)
    self._deposit(assets, shares, receiver, pool_value)
    return shares


@external
def mint(shares: uint256, receiver: address) -> uint256:
    """
    @notice Mints exactly `shares` to `receiver` for the assets they cost.
    @param shares Shares, > 0.
    @param receiver Who gets the shares.
    @return Assets taken from the caller.
    """
    pool_value: uint256 = self._value()
    assets: uint256 = self._to_assets(shares, pool_value, True)
    self._deposit(assets, shares, receiver, pool_value)
    return assets


@external
def withdraw(assets: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Pays `assets` to `receiver`, burning `owner`'s shares.
    @param assets Native quote units, > 0.
    @param receiver Who gets the quote tokens.
    @param owner Whose shares burn (the caller, or one who approved it).
    @return Shares burned.
    """
    shares: uint256 = self._to_shares(assets, self._value(), True)
    self._withdraw(assets, shares, receiver, owner)
    return shares


@external
def redeem(shares: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Burns `owner`'s `shares`, pays what they are worth to `receiver`.
    @param shares Shares, > 0.
    @param receiver Who gets the quote tokens.
    @param owner Whose shares burn (the caller, or one who approved it).
    @return Assets paid.
    """
    assets: uint256 = self._to_assets(shares, self._value(), False)
    self._withdraw(assets, shares, receiver, owner)
    return assets


# ---------------------------------------------------------------- internals


@internal
@view
def _value() -> uint256:
    """
    @dev The pool's value: one Clearinghouse call, which prices every market
         with open interest, so each action reads it once.
    """
    return staticcall CLEARINGHOUSE.pool_value()


@internal
@view
def _to_shares(assets: uint256, pool_value: uint256, roundup: bool) -> uint256:
    return math._mul_div(assets, erc20.totalSupply + 1, pool_value + 1, roundup)


@internal
@view
def _to_assets(shares: uint256, pool_value: uint256, roundup: bool) -> uint256:
    return math._mul_div(shares, pool_value + 1, erc20.totalSupply + 1, roundup)


@internal
@view
def _try_read(selector: Bytes[4]) -> (bool, uint256):
    """
    @dev A Clearinghouse view that may revert (an invalid price): ERC-4626's
         max* functions must return 0 then, not revert.
    """
    ok: bool = False
    data: Bytes[32] = b""
    ok, data = raw_call(
        CLEARINGHOUSE.address,
        selector,
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 32:
        return False, 0
    return True, convert(data, uint256)


@internal
@view
def _try_value_and_free() -> (bool, uint256, uint256):
    """
    @dev pool_value and pool_withdrawable without reverting.
    """
    ok: bool = False
    pool_value: uint256 = 0
    free: uint256 = 0
    ok, pool_value = self._try_read(method_id("pool_value()"))
    if ok:
        ok, free = self._try_read(method_id("pool_withdrawable()"))
    return ok, pool_value, free


@internal
@view
def _accepts_deposits(pool_value: uint256) -> bool:
    """
    @dev Not while paused, and never into a pool worth nothing while shares
         exist: a new LP's money must not fill an existing hole.
    """
    return not staticcall CLEARINGHOUSE.paused() and (pool_value > 0 or erc20.totalSupply == 0)


@internal
def _deposit(assets: uint256, shares: uint256, receiver: address, pool_value: uint256):
    assert not staticcall CLEARINGHOUSE.paused(), errors.PAUSED
    assert self._accepts_deposits(pool_value), errors.POOL_NO_VALUE
    assert assets > 0, errors.ZERO_AMOUNT
    assert assets <= MAX_ASSETS_IN, errors.AMOUNT_TOO_LARGE
    assert shares > 0, errors.BELOW_ONE_SHARE
    erc20._mint(receiver, shares)
    token_transfer._pull(asset, msg.sender, assets)
    assert extcall IERC20(asset).approve(
        CLEARINGHOUSE.address, assets, default_return_value=True
    ), errors.APPROVE_FAILED
    extcall CLEARINGHOUSE.pool_deposit(assets)
    log IERC4626.Deposit(sender=msg.sender, owner=receiver, assets=assets, shares=shares)


@internal
def _withdraw(assets: uint256, shares: uint256, receiver: address, owner: address):
    assert assets > 0 and shares > 0, errors.ZERO_AMOUNT
    if msg.sender != owner:
        erc20._spend_allowance(owner, msg.sender, shares)
    assert erc20.balanceOf[owner] >= shares, errors.INSUFFICIENT_SHARES
    erc20._burn(owner, shares)
    extcall CLEARINGHOUSE.pool_withdraw(assets, receiver)
    log IERC4626.Withdraw(
        sender=msg.sender, receiver=receiver, owner=owner, assets=assets, shares=shares
    )
