"""Tables of account health for the terminal (rich).

Money arrives as exact integers (native units, WAD USD) and is only turned
into text here, truncated toward zero for display.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from xmargin.engine import AccountView
from xmargin.model import format_units


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
