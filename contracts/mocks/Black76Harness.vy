# pragma version 0.4.3
"""
@title Test-only window onto the Black-76 module
@notice Exposes `contracts/modules/black76.vy` so tests compare it with
        `xmargin/maths/black76.py` to the wei and benchmarks measure its gas.
@custom:security Test helper only (contracts/mocks): never deployed by the
                 project's scripts.
"""

from snekmate.utils import math

from ..modules import black76


@external
@pure
def ncdf(x: int256) -> uint256:
    """
    @notice N(x) in WAD.
    @param x The point, WAD.
    @return uint256 The standard normal CDF at x, WAD.
    """
    return black76._ncdf(x)


@external
@pure
def npdf(x: int256) -> uint256:
    """
    @notice phi(x) in WAD.
    @param x The point, WAD.
    @return uint256 The standard normal density at x, WAD.
    """
    return black76._npdf(x)


@external
@pure
def wad_ln(x: int256) -> int256:
    """
    @notice snekmate's `_wad_ln`, as the module calls it.
    @param x A positive WAD.
    @return int256 ln(x), WAD.
    """
    return math._wad_ln(x)


@external
@pure
def wad_exp(x: int256) -> int256:
    """
    @notice snekmate's `_wad_exp`, as the module calls it.
    @param x A WAD below 135e18.
    @return int256 exp(x), WAD.
    """
    return math._wad_exp(x)


@external
@pure
def price(f: uint256, k: uint256, sigma: uint256, tau: uint256, is_call: bool) -> uint256:
    """
    @notice One unit's Black-76 value.
    @param f The underlying's price, WAD USD.
    @param k The strike, WAD USD.
    @param sigma Annual volatility, WAD.
    @param tau Seconds to expiry.
    @param is_call A call if true, else a put.
    @return uint256 The value, WAD USD, rounded down.
    """
    return black76._price(f, k, sigma, tau, is_call)


@external
@pure
def greeks(
    f: uint256, k: uint256, sigma: uint256, tau: uint256, is_call: bool
) -> (int256, uint256, uint256, int256):
    """
    @notice One unit's sensitivities.
    @param f The underlying's price, WAD USD.
    @param k The strike, WAD USD.
    @param sigma Annual volatility, WAD.
    @param tau Seconds to expiry.
    @param is_call A call if true, else a put.
    @return (int256, uint256, uint256, int256) Delta, gamma, vega, theta, WAD.
    """
    return black76._greeks(f, k, sigma, tau, is_call)


@external
def price_gas(
    f: uint256, k: uint256, sigma: uint256, tau: uint256, is_call: bool
) -> (uint256, uint256):
    """
    @notice The gas one valuation takes inside a transaction (benchmarks).
    @param f The underlying's price, WAD USD.
    @param k The strike, WAD USD.
    @param sigma Annual volatility, WAD.
    @param tau Seconds to expiry.
    @param is_call A call if true, else a put.
    @return (uint256, uint256) Gas used by `_price` (from `msg.gas`), and the value.
    """
    before: uint256 = msg.gas
    value: uint256 = black76._price(f, k, sigma, tau, is_call)
    return before - msg.gas, value
