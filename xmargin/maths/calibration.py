"""Calibration of the portfolio scenario set (issue 23, point 6):
scan ranges and volatility shocks per risk group, from volatility inputs
or from a price history, and the scenario rows they give.

A group's **scan range** is the move its price can make over the margin
horizon at the chosen confidence (SPAN's "price scan range"):

- from an annual volatility sigma: the log-return quantile
  ``z * sigma * sqrt(horizon_days / 365)``, with ``z`` the standard
  normal's quantile at the confidence (2.326 at 99 %, one-sided each way);
- from a price history: the empirical quantiles of the overlapping
  log-returns over ``horizon`` rows, upward at the confidence and downward
  at one minus it.

A log-return r becomes the price move ``exp(r) - 1`` (up) or
``exp(-r) - 1`` (down), rounded *away from zero* to the step (0.1 % by
default): the scan never understates a move. A group's **vol shock** is
the relative change of its volatility over the horizon at the same
confidence: from a history, of the realised volatility over a rolling
window; from inputs, ``z * vol_of_vol * sqrt(horizon_days / 365)``.

**Rows.** The shocked groups' prices move together in every sign
combination at their full scan range (2**g rows: each pair of groups is
covered whatever their correlation, which SPAN's 16 rows applied to all
groups at once are not), and, while rows remain under the engine's 32,
each group alone at a third and two thirds of its range each way (SPAN's
intermediate price points). With more than five shocked groups the
combinations would not fit: refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import product
from statistics import NormalDist

MAX_ROWS = 32
YEAR_DAYS = 365
DEFAULT_STEP = Decimal("0.001")


@dataclass(frozen=True)
class Scan:
    """One group's calibrated moves, fractions of its price."""

    up: Decimal
    down: Decimal  # negative
    vol_shock: Decimal | None  # relative, e.g. 0.25 for +/-25 %; None: not derived

    @property
    def range(self) -> Decimal:
        """The larger of the two moves' sizes."""
        return max(self.up, -self.down)


@dataclass(frozen=True)
class Row:
    """A scenario: each named group's signed price move."""

    name: str
    moves: dict[str, Decimal]


def z_score(confidence: float) -> float:
    """The standard normal quantile at `confidence` (one-sided)."""
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must lie in (0.5, 1), got {confidence}")
    return NormalDist().inv_cdf(confidence)


def _away(x: float, step: Decimal) -> Decimal:
    """`x` rounded away from zero to a multiple of `step`."""
    d = Decimal(repr(x)) / step
    whole = d.to_integral_value(rounding=ROUND_CEILING if x >= 0 else ROUND_FLOOR)
    return whole * step


def from_log_quantiles(
    up_log: float, down_log: float, vol_shock: float | None, step: Decimal = DEFAULT_STEP
) -> Scan:
    """A scan from the upward and downward log-return quantiles
    (`down_log` <= 0 <= `up_log`)."""
    if up_log < 0 or down_log > 0:
        raise ValueError("the upward quantile must be >= 0 and the downward <= 0")
    return Scan(
        _away(math.expm1(up_log), step),
        _away(math.expm1(down_log), step),
        None if vol_shock is None else _away(vol_shock, step),
    )


def scan_from_vol(
    sigma: float,
    horizon_days: float,
    confidence: float,
    vol_of_vol: float | None = None,
    step: Decimal = DEFAULT_STEP,
) -> Scan:
    """A group's scan from its annual volatility (and, for the vol shock,
    its annual volatility of volatility)."""
    if sigma <= 0 or horizon_days <= 0:
        raise ValueError("volatility and horizon must be positive")
    z = z_score(confidence)
    root = math.sqrt(horizon_days / YEAR_DAYS)
    r = z * sigma * root
    shock = None if vol_of_vol is None else z * vol_of_vol * root
    return from_log_quantiles(r, -r, shock, step)


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of `values`, linearly interpolated between order
    statistics (the usual definition: numpy's default)."""
    if not values:
        raise ValueError("no values")
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def log_returns(prices: Sequence[float], horizon: int) -> list[float]:
    """Overlapping log-returns over `horizon` rows."""
    if horizon < 1:
        raise ValueError("the horizon is at least one row")
    if any(p <= 0 for p in prices):
        raise ValueError("prices must be positive")
    if len(prices) <= horizon:
        raise ValueError(f"{len(prices)} prices cannot give a {horizon}-row return")
    return [math.log(prices[i + horizon] / prices[i]) for i in range(len(prices) - horizon)]


def realised_vols(prices: Sequence[float], window: int, rows_per_year: float) -> list[float]:
    """Annualised realised volatility of one-row log-returns over each
    rolling `window` of rows."""
    r = log_returns(prices, 1)
    if len(r) < window or window < 2:
        raise ValueError(f"need at least {window} returns (and a window of 2 or more)")
    out = []
    for i in range(len(r) - window + 1):
        w = r[i : i + window]
        mean = sum(w) / window
        var = sum((x - mean) ** 2 for x in w) / (window - 1)
        out.append(math.sqrt(var * rows_per_year))
    return out


def scan_from_history(
    prices: Sequence[float],
    horizon: int,
    confidence: float,
    vol_window: int | None = None,
    rows_per_year: float = YEAR_DAYS,
    step: Decimal = DEFAULT_STEP,
) -> Scan:
    """A group's scan from its price history (rows at a fixed interval):
    the return quantiles over `horizon` rows; with `vol_window`, the vol
    shock from the relative changes of the rolling realised volatility
    over the same horizon."""
    z_score(confidence)  # the same bounds as the volatility path
    r = log_returns(prices, horizon)
    up = max(quantile(r, confidence), 0.0)
    down = min(quantile(r, 1 - confidence), 0.0)
    shock = None
    if vol_window is not None:
        vols = realised_vols(prices, vol_window, rows_per_year)
        changes = [abs(vols[i + horizon] / vols[i] - 1) for i in range(len(vols) - horizon)]
        if not changes:
            raise ValueError("the history is too short for the vol window and horizon")
        shock = quantile(changes, confidence)
    return from_log_quantiles(up, down, shock, step)


def _fraction(x: Decimal) -> str:
    return format(x.normalize(), "f") if x != 0 else "0"


def rows(scans: Mapping[str, Scan]) -> list[Row]:
    """The scenario rows (module docstring): every sign combination of the
    groups' full ranges, then each group alone at a third and two thirds of
    its range each way, while the rows fit."""
    names = list(scans)
    if not names:
        raise ValueError("no group to shock")
    if 2 ** len(names) > MAX_ROWS:
        raise ValueError(
            f"{len(names)} shocked groups need {2 ** len(names)} rows for their sign "
            f"combinations, over the engine's {MAX_ROWS}"
        )
    out: list[Row] = []
    for signs in product((1, -1), repeat=len(names)):
        moves = {
            n: (scans[n].up if s > 0 else scans[n].down) for n, s in zip(names, signs, strict=True)
        }
        label = ", ".join(
            f"{n} {'up' if s > 0 else 'down'}" for n, s in zip(names, signs, strict=True)
        )
        out.append(Row(label, moves))
    for n in names:
        if len(out) + 4 > MAX_ROWS:
            break
        for third in (2, 1):
            for s in (1, -1):
                full = scans[n].up if s > 0 else scans[n].down
                move = _away(float(full * third / 3), DEFAULT_STEP)
                out.append(Row(f"{n} {'up' if s > 0 else 'down'} {third}/3", {n: move}))
    return out


def portfolio_section(base: Mapping[str, object], scans: Mapping[str, Scan]) -> dict[str, object]:
    """The `portfolio:` section of a deploy config: `base`'s groups and
    parameters, its scenarios replaced by the calibrated rows (moves as
    decimal strings)."""
    out = {k: v for k, v in base.items() if k != "scenarios"}
    out["scenarios"] = [
        {"name": r.name, "moves": {g: _fraction(m) for g, m in r.moves.items()}}
        for r in rows(scans)
    ]
    return out
