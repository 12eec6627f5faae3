"""Black-76 on chain (issue 23, points 2 and 9): gas per valuation and the
error of the fixed-point value, over a grid of strikes, volatilities and
expiries.

    make bench-black76
    python benchmarks/black76.py

Deploys `contracts/mocks/Black76Harness.vy` on an anvil it starts
(benchmarks/nodes.py) and reads, for each grid point, `price_gas`: the gas
`black76._price` takes inside a call (`msg.gas` before and after, so no
call overhead), and its value. The value is compared with an 80-digit
decimal Black-76 (`xmargin.maths.black76_exact`) and with
a double-precision float one. Prints a table and writes
benchmarks/results/black76.json.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

from ape import accounts, networks, project
from ape.logging import logger
from nodes import NETWORK, anvil  # benchmarks/nodes.py (scripts run from benchmarks/)
from rich.console import Console
from rich.table import Table

from xmargin.maths import black76 as b76
from xmargin.maths.black76_exact import exact_price, float_price

RESULTS = Path(__file__).resolve().parent / "results" / "black76.json"
WAD = 10**18
DAY = 86_400
F = 3_000 * WAD
STRIKES = (50, 80, 95, 100, 105, 120, 200)  # per cent of F
SIGMAS = (20, 80, 150)  # per cent a year
TAUS = (3_600, 7 * DAY, 30 * DAY, 365 * DAY)


def measure() -> list[dict[str, Any]]:
    rows = []
    with (
        anvil(steps_tracing=False) as (url, _),
        networks.parse_network_choice(NETWORK, provider_settings={"host": url}),
    ):
        pricer = project.Black76Harness.deploy(sender=accounts.test_accounts[0])
        for pct in STRIKES:
            k = F * pct // 100
            for s in SIGMAS:
                sigma = s * WAD // 100
                for tau in TAUS:
                    for call in (True, False):
                        gas, value = pricer.price_gas.call(F, k, sigma, tau, call)
                        assert value == b76.price(F, k, sigma, tau, call)
                        exact = exact_price(F, k, sigma, tau, call)
                        approx = float_price(F / WAD, k / WAD, s / 100, tau / b76.YEAR, call)
                        rows.append(
                            {
                                "strike_pct": pct,
                                "sigma_pct": s,
                                "tau_s": tau,
                                "call": call,
                                "gas": gas,
                                "value_wad": value,
                                "error_wei": float(abs(Decimal(value) - exact)),
                                "float_error_of_f": abs(value / WAD - approx) / (F / WAD),
                            }
                        )
    return rows


def main() -> None:
    logger.set_level("ERROR")
    rows = measure()
    gas = [r["gas"] for r in rows]
    summary = {
        "valuations": len(rows),
        "gas_min": min(gas),
        "gas_median": median(gas),
        "gas_max": max(gas),
        "max_error_wei": max(r["error_wei"] for r in rows),
        "max_error_of_f": max(r["error_wei"] for r in rows) / F,
        "max_float_difference_of_f": max(r["float_error_of_f"] for r in rows),
        "target_error_of_f": 1e-8,
    }
    table = Table(title=f"Black-76 on anvil, F = $3,000: gas of one valuation ({len(rows)})")
    for name in ("strike % of F", "vol %", "call gas (1h / 7d / 30d / 1y)", "put gas"):
        table.add_column(name, justify="right")
    for pct in STRIKES:
        for s in SIGMAS:
            cells = []
            for call in (True, False):
                g = [
                    r["gas"]
                    for r in rows
                    if (r["strike_pct"], r["sigma_pct"], r["call"]) == (pct, s, call)
                ]
                cells.append(" / ".join(f"{x:,}" for x in g))
            table.add_row(str(pct), str(s), *cells)
    console = Console(width=120)
    console.print(table)
    console.print(
        f"gas per valuation: min {summary['gas_min']:,}, median {summary['gas_median']:,.0f}, "
        f"max {summary['gas_max']:,}"
    )
    console.print(
        f"largest error against an 80-digit Black-76: {summary['max_error_wei']:.1f} wei "
        f"({summary['max_error_of_f']:.1e} of F; target 1e-8); against double precision: "
        f"{summary['max_float_difference_of_f']:.1e} of F (the float's own error)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
