"""Tables of account health for the terminal (rich).

Money arrives as exact integers (native units, WAD USD) and is only turned
into text here, truncated toward zero for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from xmargin.engine import AccountView
from xmargin.model import format_units

STATUS_STYLE = {
    "healthy": "[green]healthy[/green]",
    "below IM": "[yellow]below IM[/yellow]",
    "liquidatable": "[bold red]LIQUIDATABLE[/bold red]",
}


def usd(value: int) -> str:
    return format_units(value, 18, 2)


def health_ratio(view: AccountView) -> str:
    """equity / MM, or '-' when the account has no maintenance requirement."""
    if view.health.mm == 0:
        return "-"
    return f"{view.health.equity * 100 // view.health.mm / 100:.2f}"


def health_table(
    title: str,
    views: Sequence[AccountView],
    labels: Sequence[str],
    decimals: dict[str, int],
) -> Table:
    """One row per account: balances, collateral value, equity, IM, MM.

    `decimals` maps each asset symbol (in column order) to its decimals.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("account")
    table.add_column("sub", justify="right")
    for symbol in decimals:
        table.add_column(symbol, justify="right")
    for name in ("market value $", "equity $", "IM $", "MM $", "free margin $", "equity/MM"):
        table.add_column(name, justify="right")
    table.add_column("status")
    table.add_column("model", justify="center")
    for label, v in zip(labels, views, strict=True):
        table.add_row(
            label,
            str(v.sub_id),
            *(format_units(v.balances.get(s, 0), d, min(d, 4)) for s, d in decimals.items()),
            usd(v.collateral.market + v.collateral.quote),
            usd(v.health.equity),
            usd(v.health.im),
            usd(v.health.mm),
            usd(v.health.free_margin),
            health_ratio(v),
            STATUS_STYLE[v.status],
            "=" if v.model_agrees else "[red]DIFFERS[/red]",
        )
    return table


def price_table(title: str, prices: dict[str, int], before: dict[str, int] | None = None) -> Table:
    """Oracle prices (WAD USD), with the change since `before` if given."""
    table = Table(title=title, title_justify="left")
    table.add_column("asset")
    table.add_column("price $", justify="right")
    if before is not None:
        table.add_column("change", justify="right")
    for symbol, price in prices.items():
        row = [symbol, usd(price)]
        if before is not None:
            old = before[symbol]
            bps = (price - old) * 10_000 // old if old else 0
            row.append(f"{bps / 100:+.2f} %")
        table.add_row(*row)
    return table


def positions_table(title: str, views: Sequence[AccountView], labels: Sequence[str]) -> Table:
    """One row per open position: size, entry and mark price, PnL, funding, margins."""
    table = Table(title=title, title_justify="left")
    for name in ("account", "sub", "market", "size"):
        table.add_column(name, justify="right" if name in ("sub", "size") else "left")
    for name in ("entry $", "mark $", "notional $", "PnL $", "funding owed $", "IM $", "MM $"):
        table.add_column(name, justify="right")
    for label, v in zip(labels, views, strict=True):
        for p in v.positions:
            table.add_row(
                label,
                str(v.sub_id),
                p.market.symbol,
                format_units(p.position.size, 18, 4),
                usd(p.position.entry_price),
                usd(p.market.price),
                usd(p.risk.notional),
                usd(p.risk.pnl),
                usd(p.risk.funding),
                usd(p.risk.im),
                usd(p.risk.mm),
            )
    return table


def pool_table(title: str, state: Any, total_assets: int, supply: int, decimals: int) -> Table:
    """The LiquidityPool: cash, its claim on traders, what it must keep, share price."""
    table = Table(title=title, title_justify="left")
    table.add_column("item")
    table.add_column("$", justify="right")
    rows = [
        ("cash in the pool ledger", state.cash),
        ("traders' unrealised PnL (owed by the pool)", state.traders_pnl),
        ("funding traders owe the pool", state.traders_funding),
        ("skew premium refundable to traders", state.premium_owed),
        ("pool value = LP totalAssets", state.value),
        ("open interest notional", state.oi_notional),
        ("cash the pool must keep", state.required),
    ]
    for name, value in rows:
        table.add_row(name, usd(value))
    price = total_assets * 10**decimals // supply if supply else 10**decimals
    table.add_row("share price (quote per share)", format_units(price, decimals, 6))
    return table


def liquidations_table(
    title: str, entries: Sequence[dict[str, Any]], decimals: dict[str, int], quote: str
) -> Table:
    """The keeper's liquidations (its `liquidated` / `collateral_liquidated` log lines)."""
    q = decimals[quote]
    table = Table(title=title, title_justify="left")
    for name in (
        "account",
        "what",
        "size / amount",
        "price $",
        "penalty $",
        "keeper $",
        "insurance $",
    ):
        table.add_column(name, justify="left" if name in ("account", "what") else "right")
    for e in entries:
        account = f"{e.get('label', e['owner'][:10])}/{e['sub_id']}"
        if e["event"] == "liquidated":
            table.add_row(
                account,
                f"close {e['market']}",
                format_units(e["closed"], 18, 4),
                usd(e["price"]),
                format_units(e["penalty"], q, 2),
                format_units(e["reward"], q, 2),
                format_units(e["insurance"], q, 2),
            )
        else:
            table.add_row(
                account,
                f"buy {e['asset']} for {format_units(e['repaid'], q, 2)} {quote}",
                format_units(e["collateral_out"], decimals[e["asset"]], 4),
                "",
                "",
                "",
                "",
            )
    return table


def totals_table(title: str, rows: Sequence[tuple[str, int]], decimals: int) -> Table:
    """Insurance fund, bad debt and pool totals (native quote units)."""
    table = Table(title=title, title_justify="left")
    table.add_column("item")
    table.add_column("USDC", justify="right")
    for name, value in rows:
        table.add_row(name, format_units(value, decimals, 2))
    return table
