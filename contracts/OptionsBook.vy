# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin option series
@notice Cash-settled European calls and puts on the engine's underlyings:
        each series is an underlying (the OracleRouter's key), a strike
        (WAD USD), an expiry (unix seconds) and a side. The owner lists
        series; a series is marked by Black-76 (`modules/black76.vy`) from
        the router's checked price and implied volatility for its expiry,
        until expiry; then from the settlement price, which anyone records
        once, from the first valid oracle round at or after the expiry
        (`settle_expiry`), for every series of that underlying and expiry.
        One contract is one unit of the underlying. Trading, positions and
        their margin build on this (docs/options.md).
@custom:security Listing bounds keep every Black-76 input inside the
                 module's domain (strike within 10x of the price at
                 listing, expiry at most two years out, the router's
                 bounds on price and volatility); a settlement price is
                 written once and never changes.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .interfaces import IOracleRouter
from .modules import black76
from .modules import constants
from .modules import errors

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    # ownership (renounce is deliberately not exported)
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


struct Series:
    asset: address
    # WAD USD per unit of the underlying.
    strike: uint256
    # Unix seconds.
    expiry: uint256
    is_call: bool


event SeriesListed:
    series_id: indexed(uint256)
    asset: indexed(address)
    strike: uint256
    expiry: uint256
    is_call: bool


event ExpirySettled:
    asset: indexed(address)
    expiry: indexed(uint256)
    price: uint256
    round_id: uint256
    caller: address


event OracleSet:
    previous_oracle: indexed(address)
    new_oracle: indexed(address)


# Most series ever listed: ids are 0..MAX_SERIES-1 (accounts will hold a
# bounded number of them; the registry itself is never looped over).
MAX_SERIES: constant(uint256) = 4096
# A strike within [price / 10, price * 10] of the underlying at listing.
MONEYNESS: constant(uint256) = 10
# Expiry at least an hour and at most two years after listing (Black-76's
# module is bounded for up to ten years).
MIN_TIME: constant(uint256) = 3_600
MAX_TIME: constant(uint256) = 730 * 86_400

oracle: public(IOracleRouter)
num_series: public(uint256)
series: public(HashMap[uint256, Series])
# keccak(asset, strike, expiry, is_call) -> series id + 1 (0: not listed).
series_key: HashMap[bytes32, uint256]
# How many series an (underlying, expiry) has: settlement needs one.
expiry_count: public(HashMap[address, HashMap[uint256, uint256]])
# Settlement price of an (underlying, expiry), WAD USD; 0 until recorded.
settlement: public(HashMap[address, HashMap[uint256, uint256]])


@deploy
def __init__(oracle: address):
    """
    @notice The deployer becomes the owner.
    @param oracle The OracleRouter the engine prices with.
    """
    ownable.__init__()
    ownable_2step.__init__()
    self._set_oracle(oracle)


# ---------------------------------------------------------------- owner


@external
def set_oracle(oracle: address):
    """
    @notice Points the book at another OracleRouter (the engine's, when
            the engine's changes).
    @param oracle The new router.
    """
    ownable._check_owner()
    self._set_oracle(oracle)


@external
def list_series(asset: address, strike: uint256, expiry: uint256, is_call: bool) -> uint256:
    """
    @notice Lists a cash-settled European option series. The underlying
            must have a valid price and a valid implied volatility for
            `expiry` now; the strike must lie within 10x of the price
            either way; the expiry between an hour and two years away.
    @param asset The underlying (the router's price key).
    @param strike The strike, WAD USD per unit.
    @param expiry The expiry, unix seconds.
    @param is_call True for a call, False for a put.
    @return The new series id.
    """
    ownable._check_owner()
    assert expiry >= block.timestamp + MIN_TIME, errors.EXPIRY_TOO_SOON
    assert expiry <= block.timestamp + MAX_TIME, errors.EXPIRY_TOO_FAR
    # Both reads revert with the router's reason when invalid.
    price: uint256 = staticcall self.oracle.price(asset)
    vol: uint256 = staticcall self.oracle.vol(asset, expiry)
    assert (
        strike > 0
        and strike <= constants.MAX_PRICE
        and strike * MONEYNESS >= price
        and strike <= price * MONEYNESS
    ), errors.STRIKE_OUT_OF_RANGE
    key: bytes32 = keccak256(abi_encode(asset, strike, expiry, is_call))
    assert self.series_key[key] == 0, errors.SERIES_EXISTS
    series_id: uint256 = self.num_series
    assert series_id < MAX_SERIES, errors.TOO_MANY_SERIES
    self.num_series = series_id + 1
    self.series_key[key] = series_id + 1
    self.series[series_id] = Series(asset=asset, strike=strike, expiry=expiry, is_call=is_call)
    self.expiry_count[asset][expiry] += 1
    log SeriesListed(
        series_id=series_id, asset=asset, strike=strike, expiry=expiry, is_call=is_call
    )
    return series_id


# ---------------------------------------------------------------- anyone


@external
def settle_expiry(asset: address, expiry: uint256, round_id: uint256) -> uint256:
    """
    @notice Records the settlement price of every series of `asset` at
            `expiry`: the answer of the primary feed's first round
            published at or after `expiry`, which the caller names
            (`round_id`) and the router checks. Anyone may call it, once.
    @param asset The underlying.
    @param expiry The expiry, unix seconds, passed.
    @param round_id The feed's round (Chainlink: phase << 64 | round).
    @return The settlement price, WAD USD.
    """
    assert self.expiry_count[asset][expiry] != 0, errors.NOTHING_TO_SETTLE
    assert self.settlement[asset][expiry] == 0, errors.ALREADY_SETTLED
    # Reverts before expiry, and for any round but the first at or after it.
    price: uint256 = staticcall self.oracle.settlement_price(asset, expiry, round_id)
    self.settlement[asset][expiry] = price
    log ExpirySettled(asset=asset, expiry=expiry, price=price, round_id=round_id, caller=msg.sender)
    return price


# ---------------------------------------------------------------- views


@external
@view
def find_series(asset: address, strike: uint256, expiry: uint256, is_call: bool) -> uint256:
    """
    @notice The id of a listed series.
    @dev Reverts `unknown series` when it is not listed.
    @param asset The underlying.
    @param strike The strike, WAD USD.
    @param expiry The expiry, unix seconds.
    @param is_call True for a call.
    @return The series id.
    """
    id_plus_one: uint256 = self.series_key[keccak256(abi_encode(asset, strike, expiry, is_call))]
    assert id_plus_one != 0, errors.UNKNOWN_SERIES
    return id_plus_one - 1


@external
@view
def mark(series_id: uint256) -> uint256:
    """
    @notice The value of one contract of a series, WAD USD: Black-76 from
            the router's price and implied volatility before expiry; the
            payoff at the settlement price after it.
    @dev Reverts `unknown series`, `expired, not settled` (after expiry,
         before `settle_expiry`), or with the router's reason.
    @param series_id The series.
    @return The mark, WAD USD per unit of the underlying, rounded down.
    """
    return self._mark(self._series(series_id))


@external
@view
def greeks(series_id: uint256) -> (int256, uint256, uint256, int256):
    """
    @notice Delta, gamma, vega and theta of one contract before expiry
            (the payoff's slope and zeros after it), WAD: delta per 1 USD
            of the underlying, gamma per 1 USD squared, vega per 1.00 of
            volatility, theta per year.
    @dev Reverts as `mark` does.
    @param series_id The series.
    @return (delta, gamma, vega, theta).
    """
    s: Series = self._series(series_id)
    if block.timestamp >= s.expiry:
        return black76._greeks(self._settlement(s), s.strike, 0, 0, s.is_call)
    return black76._greeks(
        staticcall self.oracle.price(s.asset),
        s.strike,
        staticcall self.oracle.vol(s.asset, s.expiry),
        s.expiry - block.timestamp,
        s.is_call,
    )


# ---------------------------------------------------------------- internals


@internal
def _set_oracle(oracle: address):
    assert oracle.is_contract, errors.ORACLE_NOT_CONTRACT
    log OracleSet(previous_oracle=self.oracle.address, new_oracle=oracle)
    self.oracle = IOracleRouter(oracle)


@internal
@view
def _series(series_id: uint256) -> Series:
    assert series_id < self.num_series, errors.UNKNOWN_SERIES
    return self.series[series_id]


@internal
@view
def _settlement(s: Series) -> uint256:
    price: uint256 = self.settlement[s.asset][s.expiry]
    assert price != 0, errors.NOT_SETTLED
    return price


@internal
@view
def _mark(s: Series) -> uint256:
    """
    @dev One contract's value: Black-76 before expiry (tau > 0), the payoff
         at the settlement price from expiry on.
    """
    if block.timestamp >= s.expiry:
        return black76._price(self._settlement(s), s.strike, 0, 0, s.is_call)
    return black76._price(
        staticcall self.oracle.price(s.asset),
        s.strike,
        staticcall self.oracle.vol(s.asset, s.expiry),
        s.expiry - block.timestamp,
        s.is_call,
    )
