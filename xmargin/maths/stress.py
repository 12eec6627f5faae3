"""The stress simulator's pure part: price paths, parameter overrides and
the statistics of many paths (`xmargin stress`, docs/stress.md).

A path is a list of steps; a step is the price of each moved asset as a
multiple of its price at the fork (WAD: 0.7e18 is -30 %). Feed answers are
integers in the feed's own units: `answer_at` scales one and never lets it
reach zero. Nothing here touches a chain.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from xmargin.maths.fixed_point import WAD

# Steps a path may have, and the seconds one may span.
MAX_STEPS = 1_000
MAX_SECONDS = 365 * 86_400
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


class StressInputError(ValueError):
    """A shock, duration, override or path request that cannot be run; the
    message says what to pass instead."""


# ---------------------------------------------------------------- inputs


def parse_shock(text: str) -> dict[str, int]:
    """`ETH=-30%,BTC=+10%` -> {"ETH": -0.30 WAD, "BTC": 0.10 WAD}. A move of
    -100 % or below would make a price non-positive and is refused, as is
    a name given twice or a move that is not a percentage."""
    moves: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value.endswith("%"):
            raise StressInputError(f"'{part}': a shock is NAME=MOVE%, e.g. ETH=-30% or WBTC=+10%")
        try:
            percent = Decimal(value[:-1])
        except InvalidOperation as err:
            raise StressInputError(f"'{part}': '{value}' is not a percentage") from err
        if not percent.is_finite():
            raise StressInputError(f"'{part}': '{value}' is not a percentage")
        if percent <= -100:
            raise StressInputError(
                f"'{part}': a move of {value} would make the price zero or negative; "
                "a price can fall by less than 100 %"
            )
        if percent > 10_000:
            raise StressInputError(f"'{part}': moves above +10000% are refused")
        if name in moves:
            raise StressInputError(f"'{name}' is shocked twice")
        moves[name] = int(percent * WAD / 100)
    if not moves:
        raise StressInputError("no shock given: e.g. --shock ETH=-30%,BTC=+10%")
    return moves


def parse_duration(text: str) -> int:
    """`1h`, `30m`, `90s`, `2d` or bare seconds -> seconds (at least 1)."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if found is None:
        raise StressInputError(f"'{text}': a duration is a whole number with s, m, h or d (1h)")
    seconds = int(found.group(1)) * _UNITS[found.group(2) or "s"]
    if not 1 <= seconds <= MAX_SECONDS:
        raise StressInputError(f"'{text}': a path spans 1 s to 365 d")
    return seconds


def check_steps(steps: int, seconds: int) -> None:
    if not 1 <= steps <= MAX_STEPS:
        raise StressInputError(f"--steps {steps}: 1 to {MAX_STEPS} steps")
    if seconds < steps:
        raise StressInputError(f"{steps} steps over {seconds} s: each step needs a second at least")


@dataclass(frozen=True)
class Override:
    """`--set ETH-PERP.mmr_base=0.06`: a config field of one market or
    asset (by its config name), or of the `risk` / `pool` section."""

    target: str
    field: str
    value: str

    @property
    def label(self) -> str:
        return f"{self.target}.{self.field}={self.value}"


def parse_override(text: str) -> Override:
    found = re.fullmatch(r"\s*([A-Za-z0-9_\-]+)\.([a-z0-9_]+)\s*=\s*(\S+)\s*", text)
    if found is None:
        raise StressInputError(
            f"'{text}': an override is TARGET.FIELD=VALUE, e.g. ETH-PERP.mmr_base=0.06"
        )
    return Override(*found.groups())


# ---------------------------------------------------------------- paths


@dataclass(frozen=True)
class Path:
    """Step k (1-based) moves each asset to `steps[k-1][asset]` times its
    price at the fork (WAD), `seconds` after the previous step."""

    steps: tuple[dict[str, int], ...]
    seconds: int

    @property
    def final(self) -> dict[str, int]:
        return self.steps[-1]


def linear_path(moves: Mapping[str, int], steps: int, seconds_total: int) -> Path:
    """The move spread evenly over `steps` (price moves, not log moves):
    step k is at 1 + move * k / steps; the last step is the whole shock."""
    check_steps(steps, seconds_total)
    return Path(
        steps=tuple(
            {a: WAD + move * k // steps for a, move in moves.items()} for k in range(1, steps + 1)
        ),
        seconds=seconds_total // steps,
    )


def answer_at(answer: int, multiple: int) -> int:
    """A feed answer moved to `multiple` (WAD) of itself, rounded down, at least 1."""
    return max(answer * multiple // WAD, 1)


def gbm_path(
    rng: random.Random,
    vols: Mapping[str, float],
    steps: int,
    seconds_total: int,
    correlation: float = 0.0,
) -> Path:
    """Geometric Brownian motion without drift: each step's log move is
    vol * sqrt(dt) * z, z standard normal, every asset sharing a common
    factor with weight sqrt(correlation). `vols` are annual (0.8 = 80 %)."""
    check_steps(steps, seconds_total)
    if not 0.0 <= correlation <= 1.0:
        raise StressInputError(f"correlation {correlation}: between 0 and 1")
    dt = seconds_total / steps / (365 * 86_400)
    logs = dict.fromkeys(vols, 0.0)
    out = []
    for _ in range(steps):
        common = rng.gauss(0.0, 1.0)
        for asset, vol in vols.items():
            z = math.sqrt(correlation) * common + math.sqrt(1 - correlation) * rng.gauss(0, 1)
            logs[asset] += vol * math.sqrt(dt) * z - vol * vol * dt / 2
        out.append({a: _wad_exp(x) for a, x in logs.items()})
    return Path(steps=tuple(out), seconds=seconds_total // steps)


def bridge_path(
    rng: random.Random, target: Mapping[str, int], steps: int, seconds_total: int, wobble: float
) -> Path:
    """A Brownian bridge in log price from the fork's prices to `target`
    (WAD multiples, e.g. a scenario row): the path ends exactly there and
    wanders `wobble` (log standard deviation over the whole path) between."""
    check_steps(steps, seconds_total)
    walks = {a: [0.0] for a in target}
    for asset in target:
        for _ in range(steps):
            walks[asset].append(walks[asset][-1] + rng.gauss(0.0, wobble / math.sqrt(steps)))
    out = []
    for k in range(1, steps + 1):
        step = {}
        for asset, end in target.items():
            w = walks[asset]
            bridge = w[k] - w[steps] * k / steps
            log_end = math.log(end / WAD)
            step[asset] = _wad_exp(log_end * k / steps + bridge) if k < steps else end
        out.append(step)
    return Path(steps=tuple(out), seconds=seconds_total // steps)


def _wad_exp(x: float) -> int:
    return max(int(math.exp(x) * WAD), 1)


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[int], q: float) -> int:
    """The q-th percentile (0..100) by the nearest-rank method: the
    smallest value with at least q % of the values at or below it."""
    if not values:
        raise ValueError("percentile of no values")
    ranked = sorted(values)
    rank = max(math.ceil(q / 100 * len(ranked)), 1)
    return ranked[rank - 1]


@dataclass(frozen=True)
class Distribution:
    """Bad debt over many paths (native quote units)."""

    paths: int
    mean: int
    p95: int
    p99: int
    worst: int
    # index of the worst path (the first if several tie)
    worst_path: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Distribution:
        if not values:
            raise ValueError("no paths")
        worst = max(values)
        return cls(
            paths=len(values),
            mean=sum(values) // len(values),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            worst=worst,
            worst_path=list(values).index(worst),
        )


def resolve_names(
    moves: Mapping[str, int], priced: Sequence[str], markets: Mapping[str, str]
) -> dict[str, int]:
    """Shock names -> the priced assets they move. A name is an asset
    (`WETH`), a market (`ETH-PERP`, moving its oracle asset) or a market
    without its `-PERP` (`ETH`). `priced` lists the assets with a feed;
    `markets` maps market symbol -> its asset. Unknown names are refused
    with the names that would do."""
    out: dict[str, int] = {}
    for name, move in moves.items():
        asset = None
        if name in priced:
            asset = name
        elif name in markets:
            asset = markets[name]
        elif f"{name}-PERP" in markets:
            asset = markets[f"{name}-PERP"]
        if asset is None or asset not in priced:
            known = sorted({*priced, *markets, *(m.removesuffix("-PERP") for m in markets)})
            raise StressInputError(
                f"'{name}' is not an asset with a feed or a market of this deployment: "
                f"shock one of {', '.join(known)}"
            )
        if asset in out:
            raise StressInputError(f"'{name}' moves {asset}, which another name already moves")
        out[asset] = move
    return out
