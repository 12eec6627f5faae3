"""Fixed-point integers as the contracts compute them (contracts/modules/fixed_point.vy,
snekmate `_mul_div`), and exact decimal strings in and out.

Every division says which way it rounds. Vyper's `//` on signed integers
truncates toward zero, Python's floors: `div_trunc` reproduces the former
wherever a contract uses a bare `//`; `floor_div` / `ceil_div` mirror
`fixed_point._floor_div` / `_ceil_div`.
"""

from __future__ import annotations

WAD = 10**18
# Token and feed decimals are at most a WAD's 18: amounts scale up to WAD exactly.
MAX_DECIMALS = 18


# ---------------------------------------------------------------- rounding


def mul_div_down(x: int, y: int, d: int) -> int:
    """floor(x * y / d) for non-negative integers (snekmate `_mul_div`, roundup=False)."""
    if x < 0 or y < 0 or d <= 0:
        raise ValueError("mul_div_down takes non-negative x, y and positive d")
    return x * y // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """ceil(x * y / d) for non-negative x, y (snekmate `_mul_div(..., True)`)."""
    return -((-(x * y)) // d)


def div_trunc(a: int, b: int) -> int:
    """a / b rounded toward zero (Vyper's signed `//`)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def floor_div(a: int, b: int) -> int:
    """floor(a / b) for b > 0 (`fixed_point._floor_div`)."""
    assert b > 0
    return a // b


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0 (`fixed_point._ceil_div`)."""
    assert b > 0
    return -((-a) // b)


# ---------------------------------------------------------------- units


def precision(decimals: int) -> int:
    """10**(18 - decimals): what one native unit of a `decimals` token (or
    feed answer) is worth in WAD units."""
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals {decimals} outside 0..{MAX_DECIMALS}")
    return power_of_ten(MAX_DECIMALS - decimals)


def power_of_ten(n: int) -> int:
    """10**n for n >= 0."""
    # typeshed types `int ** int` as Any (a negative exponent gives a float).
    out: int = 10**n
    return out


def parse_wad(text: str) -> int:
    """'0.15' -> 150000000000000000, exactly (no float)."""
    return parse_units(text, MAX_DECIMALS)


def parse_units(text: str, decimals: int) -> int:
    """A decimal string in whole units -> native integer units, exactly.

    Refuses more fractional digits than `decimals` rather than round.
    """
    s = str(text).strip().replace("_", "")
    negative = s.startswith("-")
    if negative:
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"not a decimal number: {text!r}")
    if len(frac) > decimals:
        raise ValueError(f"{text!r} has more than {decimals} decimals")
    value = int(whole or "0") * power_of_ten(decimals) + int((frac or "0").ljust(decimals, "0"))
    return -value if negative else value


def format_units(value: int, decimals: int, places: int = 2) -> str:
    """Native/WAD integer -> human string with `places` decimals, truncated
    toward zero (display only: never feed the result back into maths)."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    whole, frac = divmod(v, 10**decimals)
    if places == 0:
        return f"{sign}{whole:,}"
    frac_s = str(frac).rjust(decimals, "0")[:places].ljust(places, "0")
    return f"{sign}{whole:,}.{frac_s}"


def format_exact(value: int, decimals: int) -> str:
    """An integer in units of 10**-decimals as an exact decimal string: no
    rounding, no thousands separator, no trailing zeros ("2100", "-0.5")."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    digits = str(frac).rjust(decimals, "0").rstrip("0") if decimals else ""
    text = f"{whole}.{digits}" if digits else str(whole)
    return "0" if text == "0" else sign + text
