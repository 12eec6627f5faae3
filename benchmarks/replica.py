"""The keeper's local pass: every account valued from its replica, on one core.

    python benchmarks/replica.py [--accounts 100000] [--repeat 3]

Builds a replica of N simulated accounts (`xmargin.maths.replica`) the way
the keeper's events would: each deposits USDC and some WETH or WBTC, and
holds one to three positions on ETH, BTC and SOL perps (a tenth in
portfolio margin mode, a fifth with only collateral: those cannot be
liquidated and are skipped as the keeper skips them). Then times
`Replica.healths` (each account's exact (equity, IM, MM), the model the
fuzz machine checks against the chain to the wei) at one set of marks,
then again after a 15 % drop of every price: the pass the keeper makes on
every block and price round. No chain: this is the keeper's CPU per pass.

Prints a table and writes benchmarks/results/replica.json. Timings on a
shared machine vary by about 10 %; the figure is the best of `--repeat`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from xmargin.maths.model import AssetParams
from xmargin.maths.perps import MarketParams, Position
from xmargin.maths.portfolio import (
    PortfolioConfig,
    PortfolioParams,
    RiskGroups,
    Scenario,
    ScenarioSet,
)
from xmargin.maths.replica import MarketMark, Marks, Replica, Unpriced
from xmargin.ops.screen import Screen

T = TypeVar("T")

RESULTS = Path(__file__).resolve().parent / "results" / "replica.json"
WAD = 10**18
USDC = 10**6
ENGINE = "0x" + "ee" * 20
PRICES = {"WETH": 3_000 * WAD, "WBTC": 60_000 * WAD, "SOL": 150 * WAD}
DECIMALS = {"WETH": 18, "WBTC": 8}
MARKETS = {0: ("ETH-PERP", "WETH"), 1: ("BTC-PERP", "WBTC"), 2: ("SOL-PERP", "SOL")}


def _params(asset: str) -> MarketParams:
    return MarketParams(
        asset=asset,
        imr_base=WAD // 20,
        mmr_base=WAD // 40,
        im_size_scalar=WAD // 100,
        mm_size_scalar=WAD // 200,
        skew_scale=1_000_000 * WAD,
        taker_fee=WAD // 1_000,
        maker_fee=WAD // 2_000,
        max_oi=10**9 * WAD,
        max_funding_velocity=WAD,
        max_funding_rate=WAD // 10,
    )


def _portfolio() -> PortfolioConfig:
    names = ("usd", "eth", "btc", "sol")
    members = {"USDC": 0, "WETH": 1, "WBTC": 2, "SOL": 3}
    rows = [
        Scenario(f"s{i}", (0, a, b, c))
        for i, (a, b, c) in enumerate(
            (x * WAD // 100, y * WAD // 100, z * WAD // 100)
            for x in (-15, 15)
            for y in (-15, 15)
            for z in (-20, 20)
        )
    ]
    params = PortfolioParams(
        floor_fraction=WAD // 100, min_per_position=10 * WAD, im_factor=3 * WAD // 2
    )
    return PortfolioConfig(RiskGroups(names, members), ScenarioSet(tuple(rows)), params)


def build(n: int, seed: int = 1) -> Replica:
    """A replica of `n` accounts as their deposit and trade events would
    leave them: each deposits USDC and WETH or WBTC worth $1k-$50k in all,
    and four in five trade 0.5x-8x that notional over one to three
    markets, long or short at random, some after borrowing quote against
    their tokens. Every account is above its IM at the marks."""
    rng = random.Random(seed)
    r = Replica(ENGINE, "USDC", {})
    for i in range(n):
        s = r.state((f"0x{i:040x}", i % 4))
        usd = rng.randrange(1_000, 50_000)
        token = rng.choice(("WETH", "WBTC"))
        share = rng.random()
        s.add("USDC", int(usd * (1 - share)) * USDC)
        s.add(token, int(usd * share * 10 ** DECIMALS[token]) * WAD // PRICES[token])
        if rng.random() < 0.2:
            continue  # collateral only: never liquidatable
        # Quote borrowed against the token: a loss booked so far.
        s.add("USDC", -int(usd * share * rng.random() * 0.3) * USDC)
        # Portfolio mode margins the worst scenario (moves of 15-20 %): its
        # accounts run less leverage to stay above IM.
        s.portfolio = rng.random() < 0.1
        leverage = rng.uniform(0.5, 2.5 if s.portfolio else 8)
        chosen = rng.sample(list(MARKETS), rng.randint(1, 3))
        for m in chosen:
            price = PRICES[MARKETS[m][1]]
            notional = int(usd * leverage / len(chosen)) * WAD
            size = notional * WAD // price * rng.choice((-1, 1))
            s.positions[m] = Position(size, price, rng.randrange(0, 10**12))
    r.take_dirty()
    return r


def marks(move: int = 0) -> Marks:
    """Every price moved by `move` percent."""
    prices = {a: p * (100 + move) // 100 for a, p in PRICES.items()}
    assets = {
        "USDC": AssetParams(6),
        "WETH": AssetParams(18, WAD // 10, WAD // 20),
        "WBTC": AssetParams(8, WAD // 10, WAD // 20),
        "SOL": AssetParams(9, WAD // 5, WAD // 10),
    }
    markets = {
        m: MarketMark(sym, a, _params(a), prices[a], 2 * 10**12) for m, (sym, a) in MARKETS.items()
    }
    return Marks("USDC", assets, prices, {}, markets, _portfolio())


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """(best CPU seconds of `repeat` runs, the last result)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    console = Console()
    r = build(args.accounts)
    screen = Screen(r)
    t0 = time.process_time()
    screen.refresh(marks())
    build_seconds = time.process_time() - t0
    rows = []
    for label, move in (("at the marks", 0), ("after a 15 % drop", -15)):
        at = marks(move)
        exact_s, healths = timed(lambda at=at: r.healths(at), args.repeat)
        under = {k for k, h in healths.items() if not isinstance(h, Unpriced) and h.liquidatable}

        def screened(at: Marks = at) -> tuple[list, dict]:
            keys, _ = screen.candidates(at)
            return keys, {k: r.health(k, at) for k in keys}

        screen_s, (keys, exact) = timed(screened, args.repeat)
        found = {k for k, h in exact.items() if not isinstance(h, Unpriced) and h.liquidatable}
        # The screen may not miss one: the keeper would never see it.
        if found != under:
            raise AssertionError(f"the screen missed {len(under - found)} accounts")
        rows.append(
            {
                "pass": label,
                "accounts": args.accounts,
                "valued": len(healths),
                "liquidatable": len(under),
                "exact_all_seconds_cpu": round(exact_s, 3),
                "screen_candidates": len(keys),
                "screened_seconds_cpu": round(screen_s, 3),
            }
        )
    table = Table(title=f"Keeper local pass, {args.accounts:,} accounts, one core (CPU s)")
    cols = ("pass", "with liabilities", "liquidatable", "exact, all", "candidates", "screened")
    for col in cols:
        table.add_column(col, justify="left" if col == "pass" else "right")
    for row in rows:
        table.add_row(
            row["pass"],
            f"{row['valued']:,}",
            f"{row['liquidatable']:,}",
            f"{row['exact_all_seconds_cpu']:.3f}",
            f"{row['screen_candidates']:,}",
            f"{row['screened_seconds_cpu']:.3f}",
        )
    console.print(table)
    console.print(f"screen arrays built from the replica in {build_seconds:.2f} s CPU (once)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"build_seconds_cpu": round(build_seconds, 3), "passes": rows}
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
