"""Reference values of the normal CDF and of Black-76, independent of the
fixed-point mirror in `xmargin.maths.black76`: an 80-digit decimal
evaluation (the Taylor series of the error function and Laplace's
continued fraction) and a double-precision one over `math.erfc`. The tests
and benchmarks/black76.py measure the fixed-point values against them;
nothing on a decision path uses them.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

from xmargin.maths.black76 import YEAR

WAD = 10**18

_PREC = 80
_PI = Decimal("3.1415926535897932384626433832795028841971693993751058209749445923078164062862")


def _phi(x: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PREC
        return (-(x * x) / 2).exp() / (2 * _PI).sqrt()


def exact_ncdf(x: Decimal) -> Decimal:
    """N(x) to about 70 digits: the Taylor series of the error function
    below |x| = 3 (all its terms positive), Laplace's continued fraction for
    the tail above."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        a = abs(x)
        if a < 3:
            term = total = a
            n = 0
            while term > Decimal(10) ** -75:
                n += 1
                term = term * a * a / (2 * n + 1)
                total += term
            half = _phi(a) * total
            return Decimal("0.5") + half if x >= 0 else Decimal("0.5") - half
        cf = a
        for k in range(400, 0, -1):
            cf = a + k / cf
        tail = _phi(a) / cf
        return 1 - tail if x > 0 else tail


def exact_price(f: int, k: int, sigma: int, tau: int, is_call: bool) -> Decimal:
    """Black-76 (r = 0) in 80-digit decimals, WAD USD, from the same inputs."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        fd, kd, s = Decimal(f) / WAD, Decimal(k) / WAD, Decimal(sigma) / WAD
        t = Decimal(tau) / YEAR
        sst = s * t.sqrt()
        d1 = ((fd / kd).ln() + s * s * t / 2) / sst
        d2 = d1 - sst
        if is_call:
            v = fd * exact_ncdf(d1) - kd * exact_ncdf(d2)
        else:
            v = kd * exact_ncdf(-d2) - fd * exact_ncdf(-d1)
        return v * WAD


def float_price(f: float, k: float, sigma: float, years: float, is_call: bool) -> float:
    """Black-76 (r = 0) in double precision, N from `math.erfc`."""

    def n(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2))

    sst = sigma * math.sqrt(years)
    d1 = (math.log(f / k) + sigma * sigma * years / 2) / sst
    d2 = d1 - sst
    if is_call:
        return f * n(d1) - k * n(d2)
    return k * n(-d2) - f * n(-d1)
