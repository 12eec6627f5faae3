"""`xmargin stress` output: the step table, the bad-debt accounts, the
what-if side by side, the Monte Carlo distribution, the JSON document and
the cascade chart (docs/stress.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

from rich.table import Table

from xmargin.maths.fixed_point import WAD, format_units
from xmargin.maths.stress import Distribution, Path
from xmargin.ops.stress_paths import worst
from xmargin.ui import json_view as jv

if TYPE_CHECKING:
    from xmargin.ops.stress import PathResult, StepReport
    from xmargin.ops.stress_paths import PathOutcome
    from xmargin.ops.stress_session import StressOutcome


def _q(value: int, decimals: int) -> str:
    return format_units(value, decimals, 2)


def _duration(seconds: int) -> str:
    if seconds == 0:
        return "fork"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def steps_table(title: str, result: PathResult, moved: Sequence[str]) -> Table:
    d = result.quote_decimals
    table = Table(title=title)
    for name in ("step", "time", *(f"{a} $" for a in moved)):
        table.add_column(name, justify="right")
    for name in (
        "liquidations",
        "new accts",
        "bad debt",
        "insurance",
        "pool",
        "LP share",
        "ADL",
        "skew",
        "checks",
    ):
        table.add_column(name, justify="right")
    for s in result.steps:
        prices = [
            "refused" if s.prices.get(a) is None else format_units(s.prices[a] or 0, 18, 2)
            for a in moved
        ]
        skew = ", ".join(f"{m.market} {format_units(m.skew, 18, 2)}" for m in s.markets)
        table.add_row(
            str(s.step),
            _duration(s.seconds),
            *prices,
            str(s.liquidations),
            str(s.accounts_liquidated),
            _q(s.bad_debt, d),
            _q(s.insurance_used, d),
            _q(s.pool_loss, d),
            "unpriced" if s.pool_unpriced else _q(s.share_price, d) if s.share_price else "-",
            str(s.adl),
            skew,
            _checks(s),
        )
    return table


def _checks(s: StepReport) -> str:
    if s.checks_pass:
        return "ok"
    parts = []
    if s.shortfalls:
        parts.append("short " + ",".join(x.asset for x in s.shortfalls))
    if s.unexplained:
        parts.append(f"{len(s.unexplained)} left")
    if s.unread_priced:
        parts.append(f"{len(s.unread_priced)} unreadable")
    return "FAIL " + "; ".join(parts)


def totals_rows(result: PathResult) -> list[tuple[str, str]]:
    d = result.quote_decimals
    last = result.steps[-1] if result.steps else None
    return [
        ("positions liquidated", str(result.liquidations)),
        ("accounts liquidated", str(result.accounts_liquidated)),
        ("accounts in bad debt", str(len(result.path_bad_debt_accounts))),
        ("bad debt", _q(result.bad_debt, d)),
        ("  from the insurance fund", _q(result.insurance_used, d)),
        ("  from the pool", _q(result.pool_loss, d)),
        ("insurance fund at the end", _q(last.insurance_fund, d) if last else "-"),
        ("pool value at the end", _q(last.pool_value, d) if last else "-"),
        ("LP share at the end", _q(last.share_price, d) if last and last.share_price else "-"),
        ("ADL closes", str(result.adl)),
        ("checks", "every step passed" if result.checks_pass else "FAILED (see the steps)"),
    ]


def totals_table(title: str, base: PathResult, what_if: PathResult | None, label: str) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("as deployed", justify="right")
    if what_if is not None:
        table.add_column(label, justify="right")
    rows = totals_rows(base)
    other = totals_rows(what_if) if what_if is not None else None
    for i, (name, value) in enumerate(rows):
        table.add_row(name, value, *([other[i][1]] if other else []))
    return table


def bad_debt_table(title: str, result: PathResult) -> Table:
    table = Table(title=title)
    for name in ("step", "owner", "sub", "deficit", "why"):
        table.add_column(name, justify="left" if name in ("owner", "why") else "right")
    for b in result.bad_debt_accounts:
        table.add_row(
            str(b.step), b.owner, str(b.sub_id), _q(b.deficit, result.quote_decimals), b.reason
        )
    return table


def distribution_table(
    title: str, outcomes: Sequence[PathOutcome], decimals: int, quote: str
) -> Table:
    ok = [o for o in outcomes if o.error is None]
    table = Table(title=title)
    table.add_column("")
    table.add_column(f"bad debt {quote}", justify="right")
    table.add_column(f"insurance {quote}", justify="right")
    table.add_column(f"pool {quote}", justify="right")
    if not ok:
        return table
    debt = Distribution.of([o.bad_debt for o in ok])
    ins = Distribution.of([o.insurance_used for o in ok])
    pool = Distribution.of([o.pool_loss for o in ok])
    for label, f in (
        ("mean", "mean"),
        ("95th percentile", "p95"),
        ("99th percentile", "p99"),
        ("worst", "worst"),
    ):
        table.add_row(
            label,
            _q(getattr(debt, f), decimals),
            _q(getattr(ins, f), decimals),
            _q(getattr(pool, f), decimals),
        )
    return table


# ---------------------------------------------------------------- JSON


def _step_doc(s: StepReport, decimals: int) -> dict[str, Any]:
    return {
        "step": s.step,
        "seconds": s.seconds,
        "block": s.block,
        "prices_usd": {a: None if p is None else jv.usd(p) for a, p in s.prices.items()},
        "liquidations": s.liquidations,
        "accounts_liquidated": s.accounts_liquidated,
        "newly_liquidated": [{"owner": o, "sub_id": i} for o, i in s.newly_liquidated],
        "collateral_liquidations": s.collateral_liquidations,
        "bad_debts": s.bad_debts,
        "bad_debt_quote": jv.dec(s.bad_debt, decimals),
        "insurance_used_quote": jv.dec(s.insurance_used, decimals),
        "pool_loss_quote": jv.dec(s.pool_loss, decimals),
        "insurance_fund_quote": jv.dec(s.insurance_fund, decimals),
        "pool_value_quote": jv.dec(s.pool_value, decimals),
        "lp_share_price_quote": jv.dec(s.share_price, decimals),
        "adl": s.adl,
        "markets": [
            {
                "market": m.market,
                "long_oi": jv.dec(m.long_oi),
                "short_oi": jv.dec(m.short_oi),
                "skew": jv.dec(m.skew),
            }
            for m in s.markets
        ],
        "keeper_passes": s.keeper_passes,
        "ledgers": [
            {
                "asset": x.asset,
                "held": x.held,
                "ledgers": x.ledgers,
                "covered": x not in s.shortfalls,
            }
            for x in s.ledgers
        ],
        "left_below_mm": [
            {
                "owner": a.owner,
                "sub_id": a.sub_id,
                "equity_usd": jv.usd(a.equity),
                "mm_usd": jv.usd(a.mm),
                "reason": a.reason or None,
            }
            for a in s.left
        ],
        "unreadable": s.unreadable,
        "unreadable_with_valid_prices": [
            {"owner": o, "sub_id": i, "reason": r} for o, i, r in s.unread_priced
        ],
        "pool_unpriced": s.pool_unpriced,
        "checks_pass": s.checks_pass,
    }


def result_doc(result: PathResult) -> dict[str, Any]:
    d = result.quote_decimals
    return {
        "steps": [_step_doc(s, d) for s in result.steps],
        "totals": {
            "liquidations": result.liquidations,
            "accounts_liquidated": result.accounts_liquidated,
            "bad_debt_quote": jv.dec(result.bad_debt, d),
            "insurance_used_quote": jv.dec(result.insurance_used, d),
            "pool_loss_quote": jv.dec(result.pool_loss, d),
            "adl": result.adl,
            "checks_pass": result.checks_pass,
        },
        "bad_debt_accounts": [
            {
                "owner": b.owner,
                "sub_id": b.sub_id,
                "step": b.step,
                "deficit_quote": jv.dec(b.deficit, d),
                "reason": b.reason,
            }
            for b in result.bad_debt_accounts
        ],
    }


def path_doc(path: Path) -> dict[str, Any]:
    return {
        "steps": len(path.steps),
        "seconds_per_step": path.seconds,
        "final_multiple": {a: jv.dec(m) for a, m in path.final.items()},
    }


def outcome_doc(
    outcome: StressOutcome, path: Path, quote: str, overrides: Sequence[str]
) -> dict[str, Any]:
    src = outcome.source
    return {
        "command": "stress",
        "schema_version": jv.SCHEMA_VERSION,
        "network": src.record.network,
        "chain_id": src.record.chain_id,
        "block": src.block,
        "quote": quote,
        "path": path_doc(path),
        "base": result_doc(outcome.base),
        "what_if": None
        if outcome.what_if is None
        else {"set": list(overrides), "sent": outcome.sent, **result_doc(outcome.what_if)},
    }


def paths_doc(
    outcomes: Sequence[PathOutcome], decimals: int, network: str, chain_id: int, block: int
) -> dict[str, Any]:
    ok = [o for o in outcomes if o.error is None]
    doc: dict[str, Any] = {
        "command": "stress",
        "schema_version": jv.SCHEMA_VERSION,
        "network": network,
        "chain_id": chain_id,
        "block": block,
        "paths": [
            {
                "index": o.index,
                "bad_debt_quote": jv.dec(o.bad_debt, decimals),
                "insurance_used_quote": jv.dec(o.insurance_used, decimals),
                "pool_loss_quote": jv.dec(o.pool_loss, decimals),
                "liquidations": o.liquidations,
                "accounts_liquidated": o.accounts_liquidated,
                "bad_debt_accounts": o.bad_debt_accounts,
                "adl": o.adl,
                "checks_pass": o.checks_pass,
                "final_multiple": {a: jv.dec(m) for a, m in (o.final or {}).items()},
                "seconds": round(o.seconds, 3),
                "error": o.error,
            }
            for o in outcomes
        ],
    }
    if ok:
        dist = Distribution.of([o.bad_debt for o in ok])
        doc["bad_debt_quote"] = {
            "mean": jv.dec(dist.mean, decimals),
            "p95": jv.dec(dist.p95, decimals),
            "p99": jv.dec(dist.p99, decimals),
            "worst": jv.dec(dist.worst, decimals),
            "worst_path": worst_path.index if (worst_path := worst(outcomes)) else None,
        }
    return doc


# ---------------------------------------------------------------- chart


def cascade_chart(
    outcome: StressOutcome, moved: Sequence[str], out: FilePath, label: str = "what-if"
) -> None:
    """Prices (% of the fork's), cumulative bad debt and liquidations, and
    the LP share price per step; the what-if dashed beside the base."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    counts = axes[1].twinx()
    runs = [("as deployed", outcome.base, "-")]
    if outcome.what_if is not None:
        runs.append((label, outcome.what_if, "--"))
    for name, result, style in runs:
        d = result.quote_decimals
        x = [s.seconds / 60 for s in result.steps]
        if name == "as deployed":
            for a in moved:
                first = _first_price(outcome, a)
                # a refused price is a gap in the line, not a fall to zero
                ys = [
                    math.nan if s.prices.get(a) is None else 100.0 * (s.prices[a] or 0) / first
                    for s in result.steps
                ]
                axes[0].plot(x, ys, style, marker="o", markersize=3, label=a)
        cum: list[float] = []
        liq: list[int] = []
        total, count = 0, 0
        for s in result.steps:
            total += s.bad_debt
            count += s.liquidations
            cum.append(total / 10**d)
            liq.append(count)
        axes[1].plot(x, cum, style, color="tab:red", label=f"bad debt ({name})")
        counts.plot(x, liq, style, color="tab:blue", alpha=0.5, label=f"liquidations ({name})")
        shares = [s.share_price / 10**d for s in result.steps]
        if any(shares):
            axes[2].plot(x, shares, style, color="tab:green", label=f"LP share ({name})")
    counts.set_ylabel("positions liquidated")
    counts.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("price, % of the fork's")
    axes[1].set_ylabel(f"bad debt, {outcome.source.record.quote_symbol}")
    axes[2].set_ylabel("LP share price")
    axes[2].set_xlabel("minutes after the fork")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"stress of {outcome.source.record.network} forked at block {outcome.source.block}"
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _first_price(outcome: StressOutcome, asset: str) -> int:
    """The asset's price at the fork (WAD; 1 where the router refused it)."""
    return outcome.base.start_prices.get(asset) or WAD
