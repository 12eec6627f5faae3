# pragma version 0.4.3
"""
@title xmargin Black-76 option values in WAD fixed point
@notice The value of a cash-settled European call or put on the oracle
        price `f` (USD per unit, WAD), struck at `k` (WAD), `tau` seconds
        before expiry, at annual volatility `sigma` (WAD): Black's 1976
        formula with no discounting (the engine's quote earns no interest):
            d1 = (ln(f / k) + sigma^2 tau / 2) / (sigma sqrt(tau)),
            d2 = d1 - sigma sqrt(tau),
            call = f N(d1) - k N(d2),  put = k N(-d2) - f N(-d1).
        N is Hart's double-precision rational approximation (Hart et al.
        1968, algorithm 5666) over snekmate's `_wad_exp`; ln is snekmate's
        `_wad_ln`. Every step rounds down, in the order
        `xmargin/maths/black76.py` mirrors to the wei. N is within 64 WAD
        units of the exact CDF (measured 42, docs/options.md), so a value is
        within (f + k) * 64 / 1e18 + 4 wei of Black-76's.
@custom:security Pure functions, no storage. Callers bound the inputs
                 (0 < f, k <= 1e36; sigma <= 100e18; tau <= 10 years): then
                 no step overflows and `_wad_exp` stays in its domain.
"""

from snekmate.utils import math

from . import constants

YEAR: constant(uint256) = 365 * 86_400
# The value's stated error bound, (f + k) * NCDF_ERROR / 1e18 +
# VALUE_ROUNDING wei (see the title): callers that must not understate a
# loss add it (OptionsBook's repriced moves).
NCDF_ERROR: constant(uint256) = 64
VALUE_ROUNDING: constant(uint256) = 4
# sqrt(2 pi), WAD, rounded down.
SQRT_2PI: constant(uint256) = 2_506_628_274_631_000_502
# Hart's split between the rational approximation and the continued
# fraction (5 sqrt 2), and where the tail is taken as zero.
HART_SPLIT: constant(uint256) = 7_071_067_811_865_470_000
HART_ZERO: constant(uint256) = 37 * 10**18
# Hart 5666's coefficients (15 significant digits) are written out in WAD in
# `_ncdf_tail`'s Horner steps, highest power first (`HART_P`, `HART_Q` in
# the Python mirror); a loop over a constant array cost 2,000 gas more.


@internal
@pure
def _half_square_exp(xa: uint256) -> uint256:
    """
    @dev exp(-xa^2 / 2) in WAD, for xa = |x| in WAD below 37e18.
    """
    return convert(math._wad_exp(-convert(xa * xa // (2 * constants.WAD), int256)), uint256)


@internal
@pure
def _ncdf_tail(xa: uint256) -> uint256:
    """
    @dev N(-xa) in WAD for xa = |x| in WAD (Hart 5666), rounded down.
    """
    if xa >= HART_ZERO:
        return 0
    e: uint256 = self._half_square_exp(xa)
    if xa < HART_SPLIT:
        w: uint256 = constants.WAD
        num: uint256 = 35_262_496_599_891_100 * xa // w + 700_383_064_443_688_000
        num = num * xa // w + 6_373_962_203_531_650_000
        num = num * xa // w + 33_912_866_078_383_000_000
        num = num * xa // w + 112_079_291_497_871_000_000
        num = num * xa // w + 221_213_596_169_931_000_000
        num = num * xa // w + 220_206_867_912_376_000_000
        den: uint256 = 88_388_347_648_318_400 * xa // w + 1_755_667_163_182_640_000
        den = den * xa // w + 16_064_177_579_207_000_000
        den = den * xa // w + 86_780_732_202_946_100_000
        den = den * xa // w + 296_564_248_779_674_000_000
        den = den * xa // w + 637_333_633_378_831_000_000
        den = den * xa // w + 793_826_512_519_948_000_000
        den = den * xa // w + 440_413_735_824_752_000_000
        return e * num // den
    b: uint256 = xa + 650_000_000_000_000_000
    b = xa + 4 * 10**36 // b
    b = xa + 3 * 10**36 // b
    b = xa + 2 * 10**36 // b
    b = xa + 10**36 // b
    return e * constants.WAD // b * constants.WAD // SQRT_2PI


@internal
@pure
def _ncdf(x: int256) -> uint256:
    """
    @dev N(x), the standard normal CDF, in WAD.
    """
    tail: uint256 = self._ncdf_tail(convert(abs(x), uint256))
    if x > 0:
        return constants.WAD - tail
    return tail


@internal
@pure
def _npdf(x: int256) -> uint256:
    """
    @dev phi(x) = exp(-x^2 / 2) / sqrt(2 pi), in WAD, rounded down.
    """
    xa: uint256 = convert(abs(x), uint256)
    if xa >= HART_ZERO:
        return 0
    return self._half_square_exp(xa) * constants.WAD // SQRT_2PI


@internal
@pure
def _terms(f: uint256, k: uint256, sigma: uint256, tau: uint256) -> (uint256, int256, int256):
    """
    @dev (sigma sqrt(tau / YEAR), d1, d2); sigma sqrt is 0 when the option
         has no time value left (then d1 and d2 are 0 and meaningless).
    """
    sigma_sqrt: uint256 = isqrt(sigma * sigma * tau // YEAR)
    if sigma_sqrt == 0:
        return 0, 0, 0
    half_var: int256 = convert(sigma * sigma * tau // (2 * YEAR * constants.WAD), int256)
    # A ratio below 1e-18 rounds to 0, where `_wad_ln` returns 0 (as if
    # f were k): it is taken as 1e-18 instead (ln = -41.4), deep in the
    # money for a put, worthless for a call, as it should be.
    ln_fk: int256 = math._wad_ln(convert(max(f * constants.WAD // k, 1), int256))
    # Signed `//` truncates toward zero, as the Python mirror's `_sdiv`.
    d1: int256 = (ln_fk + half_var) * convert(constants.WAD, int256) // convert(sigma_sqrt, int256)
    return sigma_sqrt, d1, d1 - convert(sigma_sqrt, int256)


@internal
@pure
def _price(f: uint256, k: uint256, sigma: uint256, tau: uint256, is_call: bool) -> uint256:
    """
    @dev One unit's Black-76 value, WAD USD, rounded down, never below 0;
         the intrinsic value once no time value is left.
    """
    sigma_sqrt: uint256 = 0
    d1: int256 = 0
    d2: int256 = 0
    sigma_sqrt, d1, d2 = self._terms(f, k, sigma, tau)
    if sigma_sqrt == 0:
        if is_call:
            return f - min(f, k)
        return k - min(k, f)
    plus: uint256 = 0
    minus: uint256 = 0
    if is_call:
        plus = f * self._ncdf(d1)
        minus = k * self._ncdf(d2)
    else:
        plus = k * self._ncdf(-d2)
        minus = f * self._ncdf(-d1)
    if minus >= plus:
        return 0
    return (plus - minus) // constants.WAD


@internal
@pure
def _greeks(
    f: uint256, k: uint256, sigma: uint256, tau: uint256, is_call: bool
) -> (int256, uint256, uint256, int256):
    """
    @dev (delta, gamma, vega, theta) of one unit, WAD: delta per 1 of f,
         gamma per 1 of f squared, vega per 1.00 of volatility, theta per
         year (negative). At expiry: the payoff's slope, and zeros.
    """
    sigma_sqrt: uint256 = 0
    d1: int256 = 0
    d2: int256 = 0
    sigma_sqrt, d1, d2 = self._terms(f, k, sigma, tau)
    wad: int256 = convert(constants.WAD, int256)
    if sigma_sqrt == 0:
        if is_call:
            return (wad if f > k else 0), 0, 0, 0
        return (-wad if f < k else 0), 0, 0, 0
    n1: int256 = convert(self._ncdf(d1), int256)
    phi: uint256 = self._npdf(d1)
    sqrt_t: uint256 = isqrt(tau * constants.WAD * constants.WAD // YEAR)
    delta: int256 = n1 if is_call else n1 - wad
    gamma: uint256 = phi * constants.WAD * constants.WAD // (f * sigma_sqrt)
    vega: uint256 = f * phi // constants.WAD * sqrt_t // constants.WAD
    theta: int256 = 0
    if sqrt_t != 0:
        theta = -convert(f * phi // constants.WAD * sigma // (2 * sqrt_t), int256)
    return delta, gamma, vega, theta
