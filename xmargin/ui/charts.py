"""PNG charts: an account's health against price moves, and the engine's report.

Pure functions: data in (`xmargin.maths.scenarios.Curve`,
`xmargin.chain.summary.EngineSummary`), a PNG file out. matplotlib draws on its
Agg canvas (no display, no pyplot global state), so this works on a server,
in CI and inside `ape run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from xmargin.maths.fixed_point import WAD, format_units
from xmargin.maths.scenarios import Curve
from xmargin.ui.report import short_address, usd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

    from xmargin.chain.summary import EngineSummary

EQUITY = "tab:blue"
MM = "tab:red"
IM = "tab:orange"
LIQUIDATION = "darkred"
KEEPER = "tab:green"
INSURANCE = "tab:purple"
POOL = "tab:gray"
DPI = 110


def dollars(value: float) -> str:
    """$12,345 (axis ticks; negative as -$12,345)."""
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def text(s: str) -> str:
    """`s` with its dollar signs escaped: matplotlib reads $...$ as maths."""
    return s.replace("$", r"\$")


def _usd(wad: int) -> float:
    """WAD USD as a float, for plotting only (never for maths)."""
    return wad / WAD


def _save(fig: Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, format="png", dpi=DPI)
    return out


# ---------------------------------------------------------------- account health


def health_chart(
    curves: Sequence[Curve], out: Path, title: str, decimals: Mapping[str, int]
) -> Path:
    """An account's equity, IM and MM against each underlying's price move.

    One panel per curve: the move in % along the bottom, the price in $
    along the top, $ up the side; the region where equity is below MM
    shaded; the current price and the liquidation price (where equity meets
    MM, see `xmargin.maths.scenarios.liquidation_price`) as vertical markers with
    their values. `decimals` maps asset symbols to their decimals (to label
    collateral amounts). Returns `out`.
    """
    if not curves:
        raise ValueError("no curve to draw: nothing in the account moves with a price")
    fig = Figure(figsize=(12, 4.8 * len(curves)), layout="constrained")
    fig.suptitle(text(title), fontsize=13, fontweight="bold")
    axes = fig.subplots(len(curves), 1, squeeze=False)[:, 0]
    for ax, c in zip(axes, curves, strict=True):
        _health_panel(ax, c, decimals)
    return _save(fig, out)


def _exposure_label(c: Curve, decimals: Mapping[str, int]) -> str:
    parts = []
    for e in c.markets:
        side = "long" if e.position.size > 0 else "short"
        parts.append(f"{side} {format_units(abs(e.position.size), 18, 4)} {e.market}")
    if c.collateral:
        amount = format_units(c.collateral, decimals[c.asset], min(decimals[c.asset], 4))
        parts.append(f"{amount} {c.asset} collateral, which moves with the price")
    return ", ".join(parts)


def _health_panel(ax: Axes, c: Curve, decimals: Mapping[str, int]) -> None:
    moves = [p.move_bps / 100 for p in c.points]
    equity = [_usd(p.health.equity) for p in c.points]
    mm = [_usd(p.health.mm) for p in c.points]
    im = [_usd(p.health.im) for p in c.points]
    ax.plot(moves, equity, color=EQUITY, linewidth=2.2, label="equity")
    ax.plot(moves, im, color=IM, linewidth=1.2, linestyle="--", label="initial margin (IM)")
    ax.plot(moves, mm, color=MM, linewidth=2.2, label="maintenance margin (MM)")
    ax.fill_between(
        moves,
        equity,
        mm,
        where=[e < m for e, m in zip(equity, mm, strict=True)],
        color=MM,
        alpha=0.12,
        interpolate=True,
        label="liquidatable (equity < MM)",
    )
    price_now = _usd(c.price)
    ax.axvline(0, color="black", linewidth=1, linestyle=":", label=text(f"now: ${usd(c.price)}"))
    _mark_liquidation(ax, c, moves)
    ax.set_title(f"{c.asset} price move ({_exposure_label(c, decimals)})", fontsize=11)
    ax.set_xlabel(f"{c.asset} price move (%), every other price held, funding frozen")
    ax.set_ylabel("USD")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: dollars(v)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f} %"))

    def to_price(pct: ArrayLike) -> ArrayLike:
        return price_now * (1 + np.asarray(pct) / 100)

    def to_move(price: ArrayLike) -> ArrayLike:
        return (np.asarray(price) / price_now - 1) * 100

    top = ax.secondary_xaxis("top", functions=(to_price, to_move))
    top.set_xlabel(f"{c.asset} price (USD)")
    top.xaxis.set_major_formatter(FuncFormatter(lambda v, _: dollars(v)))
    ax.set_xlim(moves[0], moves[-1])
    ax.grid(alpha=0.3)
    # Outside the plot: it never hides a curve or the liquidation marker.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)


def _mark_liquidation(ax: Axes, c: Curve, moves: list[float]) -> None:
    """The liquidation price as a vertical line with its value, or a note
    saying why there is none on the chart."""
    move = c.liquidation_move_bps
    if c.liquidation_price is None or move is None:
        note = f"no {c.asset} price liquidates this account (others held)"
    elif moves[0] <= move / 100 <= moves[-1]:
        x = move / 100
        label = f"liquidation ${usd(c.liquidation_price)}\n({x:+.1f} %)"
        ax.axvline(x, color=LIQUIDATION, linewidth=1.6, linestyle="--", label="liquidation price")
        # On the liquidatable side (left for a long, right for a short),
        # where the equity line runs low and the top of the plot is free,
        # unless the edge is too near.
        right = not c.points[0].health.liquidatable
        room = (moves[-1] - x) if right else (x - moves[0])
        if room < (moves[-1] - moves[0]) / 4:
            right = not right
        ax.annotate(
            text(label),
            xy=(x, 0.85),
            xycoords=("data", "axes fraction"),
            xytext=(8 if right else -8, 0),
            textcoords="offset points",
            ha="left" if right else "right",
            va="center",
            color=LIQUIDATION,
            fontsize=10,
            fontweight="bold",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": LIQUIDATION},
        )
        return
    else:
        note = f"liquidation at ${usd(c.liquidation_price)} ({move / 100:+.1f} %): " "off the chart"
    ax.text(
        0.02,
        0.04,
        text(note),
        transform=ax.transAxes,
        fontsize=9,
        color=LIQUIDATION,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "lightgray"},
    )


# ---------------------------------------------------------------- engine report


def report_chart(summary: EngineSummary, out: Path, title: str | None = None) -> Path:
    """The engine's report as two panels: where liquidation money went
    (penalties, their keeper and insurance shares, the insurance fund, bad
    debt split by who covered it), and each liquidation's penalty. Returns `out`."""
    q = 10**summary.quote_decimals
    if title is None:
        title = report_title(summary)
    fig = Figure(figsize=(13, 6.2), layout="constrained")
    fig.suptitle(text(title), fontsize=13, fontweight="bold")
    flows, each = fig.subplots(1, 2, width_ratios=[1, 1.4])
    _flows_panel(flows, summary, q)
    _penalties_panel(each, summary, q)
    return _save(fig, out)


def report_title(s: EngineSummary) -> str:
    """The report chart's default title: where, when, and the headline numbers."""
    q = s.quote_decimals
    pool = (
        f"pool value ${format_units(s.pool_total_assets, q, 2)}"
        if s.pool_unpriced is None
        else f"pool value unknown ({s.pool_unpriced})"
    )
    return (
        f"xmargin on {s.network} at block {s.block}\n{pool}, "
        f"{len(s.liquidations)} liquidations, bad debt ${format_units(s.bad_debt_total, q, 2)}"
    )


def _flows_panel(ax: Axes, s: EngineSummary, q: int) -> None:
    rows: list[tuple[str, list[tuple[int, str, str | None]]]] = [
        ("penalties charged", [(s.penalties, MM, None)]),
        ("  to keepers", [(s.keeper_rewards, KEEPER, None)]),
        ("  to the insurance fund", [(s.insurance_shares, INSURANCE, None)]),
        ("insurance fund now", [(s.insurance_fund, INSURANCE, None)]),
        (
            "bad debt",
            [
                (s.bad_debt_insurance, INSURANCE, "covered by the insurance fund"),
                (s.bad_debt_pool, POOL, "covered by the pool (LPs)"),
            ],
        ),
    ]
    labels = [name for name, _ in rows]
    ys = list(range(len(rows)))[::-1]
    widest = max([sum(v for v, _, _ in parts) / q for _, parts in rows] + [1.0])
    for y, (_, parts) in zip(ys, rows, strict=True):
        left = 0.0
        for value, color, label in parts:
            ax.barh(y, value / q, left=left, color=color, label=label, height=0.6)
            left += value / q
        total = format_units(sum(v for v, _, _ in parts), s.quote_decimals, 2)
        ax.text(left + widest * 0.01, y, text(f"${total}"), va="center", fontsize=9)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, widest * 1.3)
    ax.set_xlabel(f"{s.quote} (USD)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: dollars(v)))
    ax.set_title("Liquidation penalties, insurance fund, bad debt", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)


def _penalties_panel(ax: Axes, s: EngineSummary, q: int) -> None:
    events = s.liquidations
    ax.set_title(f"Penalty of each liquidation ({len(events)})", fontsize=11)
    ax.set_ylabel(f"{s.quote} (USD)")
    if not events:
        ax.text(0.5, 0.5, "no liquidation yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        return
    xs = list(range(len(events)))
    keeper = [e.keeper_reward / q for e in events]
    insurance = [e.insurance_share / q for e in events]
    ax.bar(xs, keeper, color=KEEPER, label="to the keeper")
    ax.bar(xs, insurance, bottom=keeper, color=INSURANCE, label="to the insurance fund")
    ax.set_ylim(0, max(k + i for k, i in zip(keeper, insurance, strict=True)) * 1.15 or 1)
    labels = [f"{short_address(e.owner)}/{e.sub_id}\n{e.market}" for e in events]
    rotated = len(events) > 6
    ax.set_xticks(
        xs, labels, rotation=60 if rotated else 0, ha="right" if rotated else "center", fontsize=8
    )
    ax.set_xlabel("liquidated account / market, in order")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: dollars(v)))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
