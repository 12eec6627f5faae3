"""Black-76 in WAD fixed point: the exact mirror of contracts/modules/black76.vy.

An option on the oracle price `F` (USD per unit, WAD), struck at `K`
(WAD), `tau` seconds from expiry, at annual volatility `sigma` (WAD:
0.8e18 is 80 %). Cash-settled European calls and puts. No discounting:
the engine's quote balance earns no interest, so the premium is paid and
the payoff settled in the same undiscounted quote (r = 0 in Black's formula).

    d1 = (ln(F / K) + sigma^2 tau / 2) / (sigma sqrt(tau)),  d2 = d1 - sigma sqrt(tau)
    call = F N(d1) - K N(d2),  put = K N(-d2) - F N(-d1)

Each step rounds as the contract does, so the chain and this module agree
to the wei (tests/unit/test_black76.py); the tests compare both with an
80-digit decimal reference and with a double-precision float one:

- `ncdf` is Hart's double-precision rational approximation of the normal
  CDF (Hart et al. 1968, algorithm 5666, as written out by G. West, "Better
  approximations to cumulative normal functions", 2005) in WAD, over
  snekmate's `_wad_exp`: within `NCDF_ERROR` WAD units of the exact CDF.
- So a price is off by at most `(F + K) * NCDF_ERROR / WAD` plus a few wei of
  rounding: `price_error_bound`. The issue's target is 1e-8 of `F`; the
  measured error is about seven orders of magnitude below it
  (docs/options.md).

`ln` and `exp` are snekmate 0.1.2's `_wad_ln` / `_wad_exp` (Remco Bloemen's
rational approximations), reproduced bit for bit: 256-bit wrapping,
arithmetic shifts and truncating signed division, as the EVM does them.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

WAD = 10**18
YEAR = 365 * 86_400
# sqrt(2 pi), WAD, rounded down (2.506628274631000502415765...)
SQRT_2PI = 2_506_628_274_631_000_502
# Hart's split between the rational approximation and the continued
# fraction (7.07106781186547 = 5 sqrt 2), and where the tail is zero.
HART_SPLIT = 7_071_067_811_865_470_000
HART_ZERO = 37 * WAD
# Hart 5666's coefficients (15 significant digits), WAD; highest power first.
HART_P = (
    35_262_496_599_891_100,
    700_383_064_443_688_000,
    6_373_962_203_531_650_000,
    33_912_866_078_383_000_000,
    112_079_291_497_871_000_000,
    221_213_596_169_931_000_000,
    220_206_867_912_376_000_000,
)
HART_Q = (
    88_388_347_648_318_400,
    1_755_667_163_182_640_000,
    16_064_177_579_207_000_000,
    86_780_732_202_946_100_000,
    296_564_248_779_674_000_000,
    637_333_633_378_831_000_000,
    793_826_512_519_948_000_000,
    440_413_735_824_752_000_000,
)
# |ncdf(x) - N(x)| in WAD units:
# measured at most 42 over 42,001 points of [-10, 10] and [-40, 40] against
# an 80-digit reference (tests/unit/test_black76.py keeps it within 64).
NCDF_ERROR = 64
# The rounding of ln, the two divisions in d1 and the final floor, in wei.
VALUE_ROUNDING = 4

_MASK = (1 << 256) - 1
# `_wad_ln`'s final constants: the scale s, ln 2 and ln(2**96 / 1e18), in 2**174 base.
_LN_SCALE = 1_677_202_110_996_718_588_342_820_967_067_443_963_516_166
_LN_2 = int(
    "16_597_577_552_685_614_221_487_285_958_193_947_469_193_820_559_219_878_177_908_093_499_208_371"
)
_LN_OFFSET = int(
    "600_920_179_829_731_861_736_702_779_321_621_459_595_472_258_049_074_101_567_377_883_020_018_308"
)


def _i256(x: int) -> int:
    """`x` wrapped to int256, as the EVM's unsafe arithmetic leaves it."""
    x &= _MASK
    return x - (1 << 256) if x >> 255 else x


def _sdiv(a: int, b: int) -> int:
    """The EVM's SDIV: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def wad_ln(x: int) -> int:
    """snekmate `_wad_ln`: ln(x / 1e18) * 1e18, for x > 0 (0 for 0)."""
    if x < 0:
        raise ValueError("math: wad_ln undefined")
    if x == 0:
        return 0
    k = x.bit_length() - 1 - 96
    x = ((x << (159 - k)) & _MASK) >> 159
    p = _i256(_i256((x + 3_273_285_459_638_523_848_632_254_066_296) * x) >> 96)
    p += 24_828_157_081_833_163_892_658_089_445_524
    p = _i256(_i256(p * x) >> 96) + 43_456_485_725_739_037_958_740_375_743_393
    p = _i256(_i256(p * x) >> 96) - 11_111_509_109_440_967_052_023_855_526_967
    p = _i256(_i256(p * x) >> 96) - 45_023_709_667_254_063_763_336_534_515_857
    p = _i256(_i256(p * x) >> 96) - 14_706_773_417_378_608_786_704_636_184_526
    p = _i256(p * x - (795_164_235_651_350_426_258_249_787_498 << 96))
    q = _i256((x + 5_573_035_233_440_673_466_300_451_813_936) * x) >> 96
    q += 71_694_874_799_317_883_764_090_561_454_958
    q = (_i256(q * x) >> 96) + 283_447_036_172_924_575_727_196_451_306_956
    q = (_i256(q * x) >> 96) + 401_686_690_394_027_663_651_624_208_769_553
    q = (_i256(q * x) >> 96) + 204_048_457_590_392_012_362_485_061_816_622
    q = (_i256(q * x) >> 96) + 31_853_899_698_501_571_402_653_359_427_138
    q = (_i256(q * x) >> 96) + 909_429_971_244_387_300_277_376_558_375
    r = _sdiv(p, q)
    total = _i256(r * _LN_SCALE + k * _LN_2 + _LN_OFFSET)
    return total >> 174


def wad_exp(x: int) -> int:
    """snekmate `_wad_exp`: exp(x / 1e18) * 1e18 (0 below about -41.4)."""
    if x <= -41_446_531_673_892_822_313:
        return 0
    if x >= 135_305_999_368_893_231_589:
        raise ValueError("math: wad_exp overflow")
    x = _sdiv(x << 78, 5**18)
    k = (_sdiv(x << 96, 54_916_777_467_707_473_351_141_471_128) + 2**95) >> 96
    x = x - k * 54_916_777_467_707_473_351_141_471_128
    y = (_i256((x + 1_346_386_616_545_796_478_920_950_773_328) * x) >> 96) + (
        57_155_421_227_552_351_082_224_309_758_442
    )
    inner = (_i256((y + x - 94_201_549_194_550_492_254_356_042_504_812) * y) >> 96) + (
        28_719_021_644_029_726_153_956_944_680_412_240
    )
    p = _i256(inner * x + (4_385_272_521_454_847_904_659_076_985_693_276 << 96))
    q = (_i256((x - 2_855_989_394_907_223_263_936_484_059_900) * x) >> 96) + (
        50_020_603_652_535_783_019_961_831_881_945
    )
    q = (_i256(q * x) >> 96) - 533_845_033_583_426_703_283_633_433_725_380
    q = (_i256(q * x) >> 96) + 3_604_857_256_930_695_427_073_651_918_091_429
    q = (_i256(q * x) >> 96) - 14_423_608_567_350_463_180_887_372_962_807_573
    q = (_i256(q * x) >> 96) + 26_449_188_498_355_588_339_934_803_723_976_023
    r = _sdiv(p, q)
    scaled = (
        (r & _MASK) * 3_822_833_074_963_236_453_042_738_258_902_158_003_155_416_615_667
    ) & _MASK
    return _i256(scaled >> (195 - k))


# ---------------------------------------------------------------- the normal distribution


def ncdf_tail(xa: int) -> int:
    """N(-|x|) in WAD for `xa` = |x| in WAD: the lower tail, rounded down at
    each step (Hart 5666)."""
    if xa >= HART_ZERO:
        return 0
    e = wad_exp(-(xa * xa // (2 * WAD)))
    if xa < HART_SPLIT:
        num = 0
        for c in HART_P:
            num = num * xa // WAD + c
        den = 0
        for c in HART_Q:
            den = den * xa // WAD + c
        return e * num // den
    b = xa + 650_000_000_000_000_000
    for c in (4, 3, 2, 1):
        b = xa + c * WAD * WAD // b
    return e * WAD // b * WAD // SQRT_2PI


def ncdf(x: int) -> int:
    """N(x), the standard normal CDF, in WAD (x in WAD)."""
    tail = ncdf_tail(abs(x))
    return WAD - tail if x > 0 else tail


def npdf(x: int) -> int:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi), in WAD, rounded down."""
    return wad_exp(-(x * x // (2 * WAD))) * WAD // SQRT_2PI


# ---------------------------------------------------------------- Black-76


@dataclass(frozen=True)
class Terms:
    """The pieces every Black-76 figure shares (WAD; d1, d2 signed)."""

    sigma_sqrt: int  # sigma * sqrt(tau / YEAR), rounded down
    d1: int
    d2: int


def terms(f: int, k: int, sigma: int, tau: int) -> Terms | None:
    """d1, d2 and sigma sqrt(T); None when the option has no time value left
    (tau, sigma or sigma sqrt(T) zero: it is worth its intrinsic value)."""
    # A price of 0 is in the domain (a scenario's fall of 100 %): the chain
    # takes f / k as 1e-18 (below); a strike must be positive.
    if f < 0 or k <= 0:
        raise ValueError("black76: the price must not be negative, the strike positive")
    sigma_sqrt = isqrt(sigma * sigma * tau // YEAR)
    if sigma_sqrt == 0:
        return None
    half_var = sigma * sigma * tau // (2 * YEAR * WAD)
    # f / k below 1e-18 is taken as 1e-18, as on chain (wad_ln(0) is 0).
    d1 = _sdiv((wad_ln(max(f * WAD // k, 1)) + half_var) * WAD, sigma_sqrt)
    return Terms(sigma_sqrt, d1, d1 - sigma_sqrt)


def price(f: int, k: int, sigma: int, tau: int, is_call: bool) -> int:
    """The Black-76 value of one unit of the option, WAD USD, rounded down
    (never below 0)."""
    t = terms(f, k, sigma, tau)
    if t is None:
        return max(f - k, 0) if is_call else max(k - f, 0)
    if is_call:
        plus, minus = f * ncdf(t.d1), k * ncdf(t.d2)
    else:
        plus, minus = k * ncdf(-t.d2), f * ncdf(-t.d1)
    return max(plus - minus, 0) // WAD


def price_error_bound(f: int, k: int) -> int:
    """How far `price` may be from the exact Black-76 value, WAD: each N is
    within NCDF_ERROR, times F and K, plus the rounding of ln, the two
    divisions in d1 and the final floor (a few wei, bounded by 4 here)."""
    return (f + k) * NCDF_ERROR // WAD + VALUE_ROUNDING


@dataclass(frozen=True)
class Greeks:
    """Per unit of the option, WAD: delta (per 1 of F), gamma (per 1 of F,
    per 1 of F), vega (per 1.00 of volatility), theta (per year, negative:
    the value time takes)."""

    delta: int
    gamma: int
    vega: int
    theta: int


def greeks(f: int, k: int, sigma: int, tau: int, is_call: bool) -> Greeks:
    """The option's sensitivities (r = 0); at expiry delta is the payoff's
    slope (1, 0 or -1; 0 at the money) and the others are 0."""
    t = terms(f, k, sigma, tau)
    if t is None:
        if is_call:
            return Greeks(WAD if f > k else 0, 0, 0, 0)
        return Greeks(-WAD if f < k else 0, 0, 0, 0)
    n1 = ncdf(t.d1)
    phi = npdf(t.d1)
    sqrt_t = isqrt(tau * WAD * WAD // YEAR)
    delta = n1 if is_call else n1 - WAD
    gamma = phi * WAD * WAD // (f * t.sigma_sqrt)
    vega = f * phi // WAD * sqrt_t // WAD
    theta = -(f * phi // WAD * sigma // (2 * sqrt_t)) if sqrt_t else 0
    return Greeks(delta, gamma, vega, theta)
