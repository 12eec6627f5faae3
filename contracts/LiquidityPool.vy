# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin LiquidityPool
@notice An ERC-4626 vault over the quote asset (USDC): the counterparty of
        every perpetual trade, and with a request delay an ERC-7540
        asynchronous vault. Its assets live in the Clearinghouse's pool
        ledger, not in this contract: `totalAssets()` is the
        Clearinghouse's `pool_value()`, which counts traders' unrealised
        PnL and funding against the pool, so the share price moves with
        the market.
        Requests (`REQUEST_DELAY` > 0, every shipped deployment): money
        moves in and out only by request. `requestDeposit` escrows assets,
        `requestRedeem` escrows shares; from `REQUEST_DELAY` seconds later,
        once every feed the pool's value rests on has published a price
        after that moment, anyone (the keeper) settles the request at the
        pool's value then; the controller claims with `deposit`/`mint` or
        `redeem`/`withdraw`, and may cancel what is still pending. So an
        LP who sees a price round coming cannot enter or leave at the old
        price (docs/orders.md). With a delay of 0 the vault is a plain
        synchronous ERC-4626 (tests, and pools with no price exposure).
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
                 on deposit and redeem, up on mint and withdraw. Escrowed
                 shares (pending redemptions, settled deposits not yet
                 claimed) are held by this contract and count in the
                 supply; escrowed assets (pending deposits, settled
                 redemptions) are held here and are not pool value.
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
# IERC4626 in full (deposit and mint take an optional ERC-7540 controller,
# which the compiler's `implements` check does not model; a unit test
# checks the ABI instead).

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
# A week: longer would lock LPs' money past any settlement need.
MAX_REQUEST_DELAY: constant(uint256) = 7 * 86400


# One controller's requests of one kind (ERC-7540 requestId 0: a
# controller's requests of a kind are fungible and add up).
struct Request:
    # deposit: assets waiting; redeem: shares waiting
    pending: uint256
    # when `pending` was last added to: it settles from since + delay
    since: uint256
    # settled, not yet claimed: deposit (assets paid, shares owed);
    # redeem (shares burned, assets owed)
    claimable_in: uint256
    claimable_out: uint256


event DepositRequest:
    controller: indexed(address)
    owner: indexed(address)
    requestId: indexed(uint256)
    sender: address
    assets: uint256


event RedeemRequest:
    controller: indexed(address)
    owner: indexed(address)
    requestId: indexed(uint256)
    sender: address
    shares: uint256


event OperatorSet:
    controller: indexed(address)
    operator: indexed(address)
    approved: bool


event DepositSettled:
    controller: indexed(address)
    settler: indexed(address)
    assets: uint256
    shares: uint256


event RedeemSettled:
    controller: indexed(address)
    settler: indexed(address)
    shares: uint256
    assets: uint256


event DepositRequestCancelled:
    controller: indexed(address)
    assets: uint256


event RedeemRequestCancelled:
    controller: indexed(address)
    shares: uint256


asset: public(immutable(address))
CLEARINGHOUSE: public(immutable(IClearinghousePool))
# Seconds from a request to its settlement; 0: a synchronous ERC-4626.
REQUEST_DELAY: public(immutable(uint256))

deposit_requests: public(HashMap[address, Request])
redeem_requests: public(HashMap[address, Request])
isOperator: public(HashMap[address, HashMap[address, bool]])
# Quote tokens this vault holds for requests: pending deposits plus
# settled redemptions not yet claimed.
requests_held: public(uint256)


@deploy
def __init__(
    clearinghouse: IClearinghousePool, name: String[25], symbol: String[5], request_delay: uint256
):
    """
    @notice Deploys the vault for a Clearinghouse; the Clearinghouse's owner
            then names it with `set_pool`.
    @param clearinghouse The engine whose pool ledger this vault owns.
    @param name Share token name.
    @param symbol Share token symbol.
    @param request_delay Seconds from an LP request to its settlement, at
           most a week; 0 makes deposits and redemptions instant (no
           requests), which lets anyone who sees a price round coming
           trade the pool against it (docs/orders.md).
    """
    assert request_delay <= MAX_REQUEST_DELAY, errors.REQUEST_DELAY_RANGE
    quote: address = staticcall clearinghouse.quote_asset()
    CLEARINGHOUSE = clearinghouse
    asset = quote
    REQUEST_DELAY = request_delay
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
def maxDeposit(controller: address) -> uint256:
    """
    @notice Most assets a deposit may take now: with requests, the
            controller's settled deposit not yet claimed; without, any
            amount unless paused.
    @param controller Whose claim (requests); unused without.
    @return Native quote units.
    """
    if REQUEST_DELAY != 0:
        return self.deposit_requests[controller].claimable_in
    ok: bool = False
    pool_value: uint256 = 0
    ok, pool_value = self._try_read(method_id("pool_value()"))
    if not ok or not self._accepts_deposits(pool_value):
        return 0
    return MAX_ASSETS_IN


@external
@view
def maxMint(controller: address) -> uint256:
    """
    @notice Most shares a mint may give now: with requests, the
            controller's settled shares not yet claimed; without, any
            amount unless paused.
    @param controller Whose claim (requests); unused without.
    @return Shares.
    """
    if REQUEST_DELAY != 0:
        return self.deposit_requests[controller].claimable_out
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
    @notice Most assets a withdrawal may pay now: with requests, the
            controller's settled redemption not yet claimed; without,
            the owner's shares' worth, at most the pool's free cash.
    @param owner A shareholder (the controller, with requests).
    @return Native quote units.
    """
    if REQUEST_DELAY != 0:
        return self.redeem_requests[owner].claimable_out
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
    @notice Most shares a redemption may burn now: with requests, the
            controller's settled shares not yet claimed; without, the
            owner's shares the pool's free cash pays for.
    @param owner A shareholder (the controller, with requests).
    @return Shares.
    """
    if REQUEST_DELAY != 0:
        return self.redeem_requests[owner].claimable_in
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
    @notice Shares a deposit of `assets` mints now; reverts with requests
            (ERC-7540: the price is the settlement's).
    @param assets Native quote units.
    @return Shares, rounded down.
    """
    self._check_sync()
    return self._to_shares(assets, self._value(), False)


@external
@view
def previewMint(shares: uint256) -> uint256:
    """
    @notice Assets a mint of `shares` costs now; reverts with requests.
    @param shares Shares.
    @return Native quote units, rounded up.
    """
    self._check_sync()
    return self._to_assets(shares, self._value(), True)


@external
@view
def previewWithdraw(assets: uint256) -> uint256:
    """
    @notice Shares a withdrawal of `assets` burns now; reverts with requests.
    @param assets Native quote units.
    @return Shares, rounded up.
    """
    self._check_sync()
    return self._to_shares(assets, self._value(), True)


@external
@view
def previewRedeem(shares: uint256) -> uint256:
    """
    @notice Assets a redemption of `shares` pays now; reverts with requests.
    @param shares Shares.
    @return Native quote units, rounded down.
    """
    self._check_sync()
    return self._to_assets(shares, self._value(), False)


@external
@view
def pendingDepositRequest(requestId: uint256, controller: address) -> uint256:
    """
    @notice Assets the controller has requested to deposit, not yet settled.
    @param requestId Always 0: a controller's requests add up.
    @param controller Whose request.
    @return Native quote units.
    """
    return self.deposit_requests[controller].pending


@external
@view
def claimableDepositRequest(requestId: uint256, controller: address) -> uint256:
    """
    @notice Assets of the controller's settled deposits, not yet claimed.
    @param requestId Always 0.
    @param controller Whose request.
    @return Native quote units.
    """
    return self.deposit_requests[controller].claimable_in


@external
@view
def pendingRedeemRequest(requestId: uint256, controller: address) -> uint256:
    """
    @notice Shares the controller has requested to redeem, not yet settled.
    @param requestId Always 0.
    @param controller Whose request.
    @return Shares.
    """
    return self.redeem_requests[controller].pending


@external
@view
def claimableRedeemRequest(requestId: uint256, controller: address) -> uint256:
    """
    @notice Shares of the controller's settled redemptions, not yet claimed.
    @param requestId Always 0.
    @param controller Whose request.
    @return Shares.
    """
    return self.redeem_requests[controller].claimable_in


@external
@view
def share() -> address:
    """
    @notice The share token (ERC-7575): this vault.
    @return This contract.
    """
    return self


@external
@view
def supportsInterface(interface_id: bytes4) -> bool:
    """
    @notice ERC-165: ERC-165 and ERC-7575 (`share()`), and with requests
            ERC-7540's operator, asynchronous deposit and asynchronous
            redemption interfaces.
    @param interface_id The interface.
    @return Whether this vault implements it.
    """
    if interface_id in [0x01FFC9A7, 0x2F0A18C5]:
        return True
    return REQUEST_DELAY != 0 and interface_id in [0xE3BC4E65, 0xCE3BBE50, 0x620EE8E4]


# ---------------------------------------------------------------- requests


@external
def setOperator(operator: address, approved: bool) -> bool:
    """
    @notice Lets `operator` request, cancel and claim for the caller (ERC-7540).
    @param operator Who acts for the caller.
    @param approved Grant or revoke.
    @return True.
    """
    assert operator != msg.sender, errors.NOT_CONTROLLER
    self.isOperator[msg.sender][operator] = approved
    log OperatorSet(controller=msg.sender, operator=operator, approved=approved)
    return True


@external
def requestDeposit(assets: uint256, controller: address, owner: address) -> uint256:
    """
    @notice Escrows `assets` of `owner`'s quote for a deposit that settles
            at the pool's value `REQUEST_DELAY` seconds later or after.
    @dev Adding to a pending request restarts its delay, so only the
         controller or its operator may add to one that is pending.
    @param assets Native quote units, > 0.
    @param controller Who settles into claimable shares and claims them.
    @param owner Whose tokens (the caller, or one who made it an operator).
    @return The request id: always 0.
    """
    self._check_async()
    self._check_acting_for(owner)
    assert controller != empty(address), errors.NOT_CONTROLLER
    assert not staticcall CLEARINGHOUSE.paused(), errors.PAUSED
    assert assets > 0, errors.ZERO_AMOUNT
    r: Request = self.deposit_requests[controller]
    if r.pending != 0:
        self._check_acting_for(controller)
    r.pending += assets
    assert r.pending <= MAX_ASSETS_IN, errors.AMOUNT_TOO_LARGE
    r.since = block.timestamp
    self.deposit_requests[controller] = r
    self.requests_held += assets
    token_transfer._pull(asset, owner, assets)
    log DepositRequest(
        controller=controller, owner=owner, requestId=0, sender=msg.sender, assets=assets
    )
    return 0


@external
def requestRedeem(shares: uint256, controller: address, owner: address) -> uint256:
    """
    @notice Escrows `owner`'s `shares` for a redemption that settles at the
            pool's value `REQUEST_DELAY` seconds later or after. The shares
            keep their part of the pool's gains and losses until then.
    @dev Adding to a pending request restarts its delay, so only the
         controller or its operator may add to one that is pending.
    @param shares Shares, > 0.
    @param controller Who settles into claimable assets and claims them.
    @param owner Whose shares (the caller, its operator, or an ERC-20 spender).
    @return The request id: always 0.
    """
    self._check_async()
    assert controller != empty(address), errors.NOT_CONTROLLER
    assert shares > 0, errors.ZERO_AMOUNT
    if msg.sender != owner and not self.isOperator[owner][msg.sender]:
        erc20._spend_allowance(owner, msg.sender, shares)
    assert erc20.balanceOf[owner] >= shares, errors.INSUFFICIENT_SHARES
    r: Request = self.redeem_requests[controller]
    if r.pending != 0:
        self._check_acting_for(controller)
    r.pending += shares
    r.since = block.timestamp
    self.redeem_requests[controller] = r
    erc20._transfer(owner, self, shares)
    log RedeemRequest(
        controller=controller, owner=owner, requestId=0, sender=msg.sender, shares=shares
    )
    return 0


@external
def settle_deposit(controller: address) -> uint256:
    """
    @notice Settles the controller's pending deposit at the pool's value
            now: the assets go to the pool, the shares they buy wait here
            for the controller's claim. Anyone may settle (the keeper).
    @param controller Whose request.
    @return Shares now claimable from this settlement.
    """
    r: Request = self.deposit_requests[controller]
    self._check_due(r)
    assert not staticcall CLEARINGHOUSE.paused(), errors.PAUSED
    pool_value: uint256 = self._value()
    assert self._fills_no_hole(pool_value), errors.POOL_NO_VALUE
    assets: uint256 = r.pending
    shares: uint256 = self._to_shares(assets, pool_value, False)
    if shares == 0:
        # Buys nothing (a dust request): returned, so no request is stuck.
        self._cancel_deposit(controller)
        return 0
    r.pending = 0
    r.since = 0
    r.claimable_in += assets
    r.claimable_out += shares
    self.deposit_requests[controller] = r
    self.requests_held -= assets
    erc20._mint(self, shares)
    assert extcall IERC20(asset).approve(
        CLEARINGHOUSE.address, assets, default_return_value=True
    ), errors.APPROVE_FAILED
    extcall CLEARINGHOUSE.pool_deposit(assets)
    log DepositSettled(controller=controller, settler=msg.sender, assets=assets, shares=shares)
    return shares


@external
def settle_redeem(controller: address) -> uint256:
    """
    @notice Settles the controller's pending redemption at the pool's value
            now: the shares burn, their worth leaves the pool and waits here
            for the controller's claim. Anyone may settle (the keeper). The
            pool's withdrawal rules apply (free cash, caps, liquidations
            open); the request waits while they refuse.
    @param controller Whose request.
    @return Assets now claimable from this settlement.
    """
    r: Request = self.redeem_requests[controller]
    self._check_due(r)
    shares: uint256 = r.pending
    assets: uint256 = self._to_assets(shares, self._value(), False)
    if assets == 0:
        # Worth nothing (dust shares): returned, so no request is stuck.
        self._cancel_redeem(controller)
        return 0
    r.pending = 0
    r.since = 0
    r.claimable_in += shares
    r.claimable_out += assets
    self.redeem_requests[controller] = r
    self.requests_held += assets
    erc20._burn(self, shares)
    extcall CLEARINGHOUSE.pool_withdraw(assets, self)
    log RedeemSettled(controller=controller, settler=msg.sender, shares=shares, assets=assets)
    return assets


@external
def cancelDepositRequest(requestId: uint256, controller: address):
    """
    @notice Returns the controller's pending deposit (not what has settled)
            to the controller.
    @param requestId Always 0.
    @param controller Whose request: the caller or one it operates for.
    """
    self._check_acting_for(controller)
    self._cancel_deposit(controller)


@external
def cancelRedeemRequest(requestId: uint256, controller: address):
    """
    @notice Returns the controller's pending shares (not what has settled)
            to the controller.
    @param requestId Always 0.
    @param controller Whose request: the caller or one it operates for.
    """
    self._check_acting_for(controller)
    self._cancel_redeem(controller)


# ---------------------------------------------------------------- actions


@external
def deposit(assets: uint256, receiver: address, controller: address = msg.sender) -> uint256:
    """
    @notice Without requests: deposits `assets` quote from the caller and
            mints shares to `receiver`. With requests: claims the shares
            `assets` of the controller's settled deposits bought.
    @param assets Native quote units, > 0.
    @param receiver Who gets the shares.
    @param controller Whose claim (requests): the caller or one it
           operates for; without requests, the caller.
    @return Shares minted or claimed.
    """
    if REQUEST_DELAY != 0:
        return self._claim_deposit(controller, receiver, assets, 0)
    assert controller == msg.sender, errors.NOT_CONTROLLER
    pool_value: uint256 = self._value()
    shares: uint256 = self._to_shares(assets, pool_value, False)
    self._deposit(assets, shares, receiver, pool_value)
    return shares


@external
def mint(shares: uint256, receiver: address, controller: address = msg.sender) -> uint256:
    """
    @notice Without requests: mints exactly `shares` to `receiver` for the
            assets they cost. With requests: claims `shares` of the
            controller's settled deposits.
    @param shares Shares, > 0.
    @param receiver Who gets the shares.
    @param controller Whose claim (requests); without requests, the caller.
    @return Assets taken from the caller, or of the claim.
    """
    if REQUEST_DELAY != 0:
        return self._claim_deposit(controller, receiver, 0, shares)
    assert controller == msg.sender, errors.NOT_CONTROLLER
    pool_value: uint256 = self._value()
    assets: uint256 = self._to_assets(shares, pool_value, True)
    self._deposit(assets, shares, receiver, pool_value)
    return assets


@external
def withdraw(assets: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Without requests: pays `assets` to `receiver`, burning `owner`'s
            shares. With requests: pays `assets` of the settled
            redemptions of `owner` (the controller) to `receiver`.
    @param assets Native quote units, > 0.
    @param receiver Who gets the quote tokens.
    @param owner Whose shares burn (the caller, or one who approved it);
           with requests, the controller (the caller or one it operates for).
    @return Shares burned, or of the claim.
    """
    if REQUEST_DELAY != 0:
        return self._claim_redeem(owner, receiver, 0, assets)
    shares: uint256 = self._to_shares(assets, self._value(), True)
    self._withdraw(assets, shares, receiver, owner)
    return shares


@external
def redeem(shares: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Without requests: burns `owner`'s `shares` and pays what they
            are worth to `receiver`. With requests: pays what `shares` of
            the settled redemptions of `owner` (the controller) fetched.
    @param shares Shares, > 0.
    @param receiver Who gets the quote tokens.
    @param owner Whose shares burn (the caller, or one who approved it);
           with requests, the controller (the caller or one it operates for).
    @return Assets paid.
    """
    if REQUEST_DELAY != 0:
        return self._claim_redeem(owner, receiver, shares, 0)
    assets: uint256 = self._to_assets(shares, self._value(), False)
    self._withdraw(assets, shares, receiver, owner)
    return assets


# ---------------------------------------------------------------- internals


@internal
@view
def _check_sync():
    assert REQUEST_DELAY == 0, errors.ASYNC_VAULT


@internal
@view
def _check_async():
    assert REQUEST_DELAY != 0, errors.SYNC_VAULT


@internal
@view
def _check_acting_for(controller: address):
    assert msg.sender == controller or self.isOperator[controller][msg.sender], (
        errors.NOT_CONTROLLER
    )


@internal
@view
def _check_due(r: Request):
    """
    @dev A pending request settles from `since + REQUEST_DELAY`, on prices
         every feed of the pool's value published at or after that moment:
         a round seen coming before then is already in the price.
    """
    assert r.pending > 0, errors.NO_REQUEST
    ready: uint256 = r.since + REQUEST_DELAY
    assert block.timestamp >= ready, errors.REQUEST_TOO_EARLY
    assert staticcall CLEARINGHOUSE.pool_prices_since() >= ready, errors.REQUEST_PRICE_TOO_OLD


@internal
def _cancel_deposit(controller: address):
    assets: uint256 = self.deposit_requests[controller].pending
    assert assets > 0, errors.NO_REQUEST
    self.deposit_requests[controller].pending = 0
    self.deposit_requests[controller].since = 0
    self.requests_held -= assets
    token_transfer._push(asset, controller, assets)
    log DepositRequestCancelled(controller=controller, assets=assets)


@internal
def _cancel_redeem(controller: address):
    shares: uint256 = self.redeem_requests[controller].pending
    assert shares > 0, errors.NO_REQUEST
    self.redeem_requests[controller].pending = 0
    self.redeem_requests[controller].since = 0
    erc20._transfer(self, controller, shares)
    log RedeemRequestCancelled(controller=controller, shares=shares)


@internal
@view
def _split(r: Request, by_in: uint256, by_out: uint256) -> (uint256, uint256):
    """
    @dev A claim on settled requests, given by its `in` side (by_out 0) or
         its `out` side: both sides, pro rata, rounding for the vault (the
         side computed from `in` down, `in` from `out` up); the last claim
         takes what is left.
    """
    i: uint256 = by_in
    o: uint256 = by_out
    if o == 0:
        assert i > 0, errors.ZERO_AMOUNT
        assert i <= r.claimable_in, errors.ABOVE_CLAIMABLE
        o = r.claimable_out
        if i != r.claimable_in:
            o = math._mul_div(i, r.claimable_out, r.claimable_in, False)
    else:
        assert o <= r.claimable_out, errors.ABOVE_CLAIMABLE
        i = r.claimable_in
        if o != r.claimable_out:
            i = math._mul_div(o, r.claimable_in, r.claimable_out, True)
        if i == r.claimable_in:
            # Rounding up took the last of the `in` side: the rest goes too.
            o = r.claimable_out
    return i, o


@internal
def _claim_deposit(
    controller: address, receiver: address, assets: uint256, shares: uint256
) -> uint256:
    """
    @dev Claims settled shares by `assets` (shares 0) or by `shares`;
         returns the other side.
    """
    self._check_acting_for(controller)
    r: Request = self.deposit_requests[controller]
    a: uint256 = 0
    n: uint256 = 0
    a, n = self._split(r, assets, shares)
    r.claimable_in -= a
    r.claimable_out -= n
    self.deposit_requests[controller] = r
    erc20._transfer(self, receiver, n)
    log IERC4626.Deposit(sender=controller, owner=receiver, assets=a, shares=n)
    return n if shares == 0 else a


@internal
def _claim_redeem(
    controller: address, receiver: address, shares: uint256, assets: uint256
) -> uint256:
    """
    @dev Claims settled assets by `shares` (assets 0) or by `assets`;
         returns the other side.
    """
    self._check_acting_for(controller)
    r: Request = self.redeem_requests[controller]
    n: uint256 = 0
    a: uint256 = 0
    n, a = self._split(r, shares, assets)
    r.claimable_in -= n
    r.claimable_out -= a
    self.redeem_requests[controller] = r
    self.requests_held -= a
    token_transfer._push(asset, receiver, a)
    log IERC4626.Withdraw(
        sender=msg.sender, receiver=receiver, owner=controller, assets=a, shares=n
    )
    return a if shares == 0 else n


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
    return not staticcall CLEARINGHOUSE.paused() and self._fills_no_hole(pool_value)


@internal
@view
def _fills_no_hole(pool_value: uint256) -> bool:
    """
    @dev The value part of `_accepts_deposits`, for callers that checked
         the pause already.
    """
    return pool_value > 0 or erc20.totalSupply == 0


@internal
def _deposit(assets: uint256, shares: uint256, receiver: address, pool_value: uint256):
    assert not staticcall CLEARINGHOUSE.paused(), errors.PAUSED
    assert self._fills_no_hole(pool_value), errors.POOL_NO_VALUE
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
