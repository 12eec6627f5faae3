"""`xmargin calibrate`'s work: a deploy config's risk groups, a price
history CSV or volatility inputs, the calibrated scans
(`xmargin.maths.calibration`) and the `portfolio:` section they give,
checked by the same model the deploy pipeline loads it with."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from xmargin.chain.config_models import PortfolioIn
from xmargin.maths import calibration as cal


class CalibrationError(ValueError):
    """Bad input to the calibration: the message says what and where."""


@dataclass(frozen=True)
class Calibration:
    scans: dict[str, cal.Scan]
    section: dict[str, Any]
    source: str


def base_section(config: Path) -> dict[str, Any]:
    """The `portfolio:` section of a deploy config (its groups and
    parameters are kept; its scenarios are replaced)."""
    raw = yaml.safe_load(config.read_text()) or {}
    section = raw.get("portfolio") if isinstance(raw, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get("groups"), dict):
        raise CalibrationError(f"{config}: no `portfolio:` section with `groups:`")
    return section


def read_prices(path: Path) -> dict[str, list[float]]:
    """A wide CSV (UTF-8, a byte-order mark allowed): a header
    `time,<group>,<group>...`, then one row per observation, oldest first,
    at a fixed interval; blank lines are skipped and the first column is
    not read. Every price must be a positive finite number and every
    group's column name unique."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise CalibrationError(f"{path}: not a UTF-8 CSV file ({e})") from None
    if len(rows) < 3 or len(rows[0]) < 2:
        raise CalibrationError(f"{path}: need a header (time, then groups) and 2+ rows")
    names = [n.strip() for n in rows[0][1:]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CalibrationError(f"{path}: a column named twice: {', '.join(twice)}")
    out: dict[str, list[float]] = {n: [] for n in names}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names) + 1:
            raise CalibrationError(f"{path}:{line}: {len(row)} fields, expected {len(names) + 1}")
        for n, cell in zip(names, row[1:], strict=True):
            try:
                price = float(cell)
            except ValueError:
                raise CalibrationError(f"{path}:{line}: {n} is not a number: {cell!r}") from None
            if not (math.isfinite(price) and price > 0):
                raise CalibrationError(
                    f"{path}:{line}: {n} price must be a positive finite number: {cell!r}"
                )
            out[n].append(price)
    return out


def _known(groups: Mapping[str, object], names: list[str], what: str) -> None:
    unknown = [n for n in names if n not in groups]
    if unknown:
        raise CalibrationError(
            f"{what} names groups the config does not have: {', '.join(unknown)} "
            f"(groups: {', '.join(groups)})"
        )


def _all(groups: Mapping[str, object], names: list[str], what: str) -> None:
    """Every group must be calibrated: a group left out would move in no
    scenario, and its assets would carry no risk in portfolio mode."""
    missing = [g for g in groups if g not in names]
    if missing:
        raise CalibrationError(
            f"groups without a scan: {', '.join(missing)} (give each {what}); a group "
            "that moves in no scenario carries no risk in portfolio mode"
        )


def from_history(
    config: Path,
    prices: Path,
    horizon: int,
    confidence: float,
    vol_window: int | None,
) -> Calibration:
    base = base_section(config)
    series = read_prices(prices)
    _known(base["groups"], list(series), f"{prices}")
    _all(base["groups"], list(series), f"a column of {prices.name}")
    scans: dict[str, cal.Scan] = {}
    for g, p in series.items():
        try:
            scans[g] = cal.scan_from_history(p, horizon, confidence, vol_window)
        except ValueError as e:
            raise CalibrationError(f"{prices.name}, column {g}: {e}") from None
    return Calibration(scans, _checked(base, scans), f"history {prices.name}")


def from_vols(
    config: Path,
    vols: Mapping[str, float],
    vol_of_vols: Mapping[str, float],
    horizon_days: float,
    confidence: float,
) -> Calibration:
    base = base_section(config)
    _known(base["groups"], list(vols), "--vol")
    _all(base["groups"], list(vols), "a --vol")
    _known(vols, list(vol_of_vols), "--vol-of-vol (every group needs a --vol)")
    try:
        scans = {
            g: cal.scan_from_vol(v, horizon_days, confidence, vol_of_vols.get(g))
            for g, v in vols.items()
        }
    except ValueError as e:
        raise CalibrationError(str(e)) from None
    return Calibration(scans, _checked(base, scans), "volatility inputs")


def _checked(base: dict[str, Any], scans: Mapping[str, cal.Scan]) -> dict[str, Any]:
    """The section, loaded by the deploy pipeline's own model (so a move
    outside its bounds fails here, not at deployment)."""
    section = cal.portfolio_section(base, scans)
    try:
        PortfolioIn.model_validate(section).config()
    except ValueError as e:
        raise CalibrationError(f"the calibrated section does not load: {e}") from None
    return section


def to_yaml(section: Mapping[str, Any]) -> str:
    """The section as a config file's `portfolio:` block."""
    return yaml.safe_dump({"portfolio": dict(section)}, sort_keys=False, allow_unicode=True)


def as_json(c: Calibration) -> dict[str, Any]:
    def s(x: Decimal | None) -> str | None:
        return None if x is None else str(x)

    return {
        "source": c.source,
        "scans": {
            g: {"up": s(v.up), "down": s(v.down), "vol_shock": s(v.vol_shock)}
            for g, v in c.scans.items()
        },
        "portfolio": c.section,
    }
