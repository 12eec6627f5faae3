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
combinations would not fit: refused. With a vol shock (the largest
group's: the risk set moves every volatility alike), the full-range rows
move the volatility up by it, two rows move the volatility alone up and
down, and while rows remain the full-range rows come again with it down;
then four shocked groups at most fit.
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
    """A scenario: each named group's signed price move, and every implied
    volatility's relative move."""

    name: str
    moves: dict[str, Decimal]
    vol: Decimal = Decimal(0)


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
    """A scan from the upward and downward log-return quantiles. A side
    whose quantile has the wrong sign (a history that only rose, say)
    takes the other side's size: no side is ever a zero move. A history
    that does not move at all is refused."""
    for x in (up_log, down_log, 0.0 if vol_shock is None else vol_shock):
        if not math.isfinite(x):
            raise ValueError(f"a move must be a finite number, got {x}")
    size = max(up_log, -down_log)
    if size <= 0:
        raise ValueError("the prices do not move: no scan can be derived")
    up = up_log if up_log > 0 else size
    down = down_log if down_log < 0 else -size
    try:
        return Scan(
            _away(math.expm1(up), step),
            _away(math.expm1(down), step),
            None if vol_shock is None else _away(vol_shock, step),
        )
    except OverflowError:
        raise ValueError(f"a log move of {size:.4g} is beyond any price") from None


def scan_from_vol(
    sigma: float,
    horizon_days: float,
    confidence: float,
    vol_of_vol: float | None = None,
    step: Decimal = DEFAULT_STEP,
) -> Scan:
    """A group's scan from its annual volatility (and, for the vol shock,
    its annual volatility of volatility)."""
    for x in (sigma, horizon_days, 1.0 if vol_of_vol is None else vol_of_vol):
        if not (math.isfinite(x) and x > 0):
            raise ValueError(
                f"volatility, vol of vol and horizon must be positive numbers, got {x}"
            )
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


def min_returns(confidence: float) -> int:
    """Fewest returns whose empirical quantile at `confidence` is not an
    interpolation below the worst one seen: 1 / (1 - confidence)
    (100 at 99 %)."""
    return math.ceil(1 / (1 - confidence) - 1e-9)


def realised_vols(prices: Sequence[float], window: int) -> list[float]:
    """Realised volatility (per row, not annualised: only its relative
    changes are used) of one-row log-returns over each rolling `window`."""
    r = log_returns(prices, 1)
    if len(r) < window or window < 2:
        raise ValueError(f"need at least {window} returns (and a window of 2 or more)")
    out = []
    for i in range(len(r) - window + 1):
        w = r[i : i + window]
        mean = sum(w) / window
        var = sum((x - mean) ** 2 for x in w) / (window - 1)
        out.append(math.sqrt(var))
    return out


def scan_from_history(
    prices: Sequence[float],
    horizon: int,
    confidence: float,
    vol_window: int | None = None,
    step: Decimal = DEFAULT_STEP,
) -> Scan:
    """A group's scan from its price history (rows at a fixed interval):
    the return quantiles over `horizon` rows (at least `min_returns` of
    them); with `vol_window`, the vol shock from the relative changes of
    the rolling realised volatility over the same horizon (windows that
    do not move are refused)."""
    z_score(confidence)  # the same bounds as the volatility path
    need = min_returns(confidence)
    r = log_returns(prices, horizon)
    if len(r) < need:
        raise ValueError(
            f"{len(r)} returns over {horizon} row(s): a {confidence:.2%} quantile needs "
            f"at least {need}"
        )
    shock = None
    if vol_window is not None:
        vols = realised_vols(prices, vol_window)
        if min(vols) <= 0:
            raise ValueError(f"the price does not move over some {vol_window}-row window")
        changes = [abs(vols[i + horizon] / vols[i] - 1) for i in range(len(vols) - horizon)]
        if len(changes) < need:
            raise ValueError(
                f"{len(changes)} vol changes: the history is too short for the vol window "
                f"and horizon (a {confidence:.2%} quantile needs {need})"
            )
        shock = quantile(changes, confidence)
    return from_log_quantiles(quantile(r, confidence), quantile(r, 1 - confidence), shock, step)


def _fraction(x: Decimal) -> str:
    return format(x.normalize(), "f") if x != 0 else "0"


def vol_move(scans: Mapping[str, Scan]) -> Decimal | None:
    """The volatility move the rows carry: the largest group's vol shock
    (the risk set moves every implied volatility alike), None when no
    group's was derived."""
    shocks = [s.vol_shock for s in scans.values() if s.vol_shock is not None]
    return max(shocks) if shocks else None


def rows(scans: Mapping[str, Scan]) -> list[Row]:
    """The scenario rows (module docstring): every sign combination of the
    groups' full ranges, then each group alone at a third and two thirds of
    its range each way, while the rows fit. With a volatility move `v`
    (`vol_move`), the full-range rows move every volatility up by `v` (a
    stressed market's volatility rises), two rows move it alone up and
    down by `v`, and, while rows remain, the full-range rows come again
    with it down (SPAN prices every point with the volatility both ways)."""
    names = list(scans)
    if not names:
        raise ValueError("no group to shock")
    v = vol_move(scans)
    needed = 2 ** len(names) + (2 if v is not None else 0)
    if needed > MAX_ROWS:
        raise ValueError(
            f"{len(names)} shocked groups need {needed} rows for their sign "
            f"combinations{' and the volatility rows' if v is not None else ''}, "
            f"over the engine's {MAX_ROWS}"
        )
    joint: list[Row] = []
    for signs in product((1, -1), repeat=len(names)):
        moves = {
            n: (scans[n].up if s > 0 else scans[n].down) for n, s in zip(names, signs, strict=True)
        }
        label = ", ".join(
            f"{n} {'up' if s > 0 else 'down'}" for n, s in zip(names, signs, strict=True)
        )
        joint.append(Row(label, moves))
    if v is None:
        out = joint
    else:
        out = [Row(f"{r.name}, vol up", r.moves, v) for r in joint]
        out += [Row("vol up", {}, v), Row("vol down", {}, -v)]
        if len(out) + len(joint) <= MAX_ROWS:
            out += [Row(f"{r.name}, vol down", r.moves, -v) for r in joint]
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
        | ({"vol": _fraction(r.vol)} if r.vol else {})
        for r in rows(scans)
    ]
    return out
