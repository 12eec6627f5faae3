"""From a deployed engine to its charts: the glue the CLI and the demo share.

Reads nothing per chart point: an account read once
(`xmargin.chain.engine.read_account`) becomes an `xmargin.maths.account.Account`
(`xmargin.chain.engine.account_of`), whose curves `xmargin.ui.charts` draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from xmargin.chain.engine import AccountView, Engine, account_of, token_symbols
from xmargin.maths import scenarios
from xmargin.maths.model import AssetParams
from xmargin.ui import charts
from xmargin.ui.report import ratio, short_address, usd


def account_chart(
    engine: Engine,
    view: AccountView,
    assets: Mapping[str, AssetParams],
    out: Path,
    where: str,
    label: str | None = None,
) -> list[scenarios.Curve]:
    """Writes the account's health chart to `out` (PNG); returns its curves.

    `where` says which chain and block ("ethereum:local at block 156"),
    `label` names the account (default: its short address).
    """
    book = (view.options, token_symbols(engine)) if view.options else None
    curves = scenarios.account_curves(account_of(engine, view, assets), book)
    name = label or short_address(view.owner)
    h = view.health
    mode = " (portfolio margin)" if view.portfolio is not None else ""
    title = (
        f"Account {name}/{view.sub_id}{mode} on {where}\n"
        f"equity ${usd(h.equity)}, IM ${usd(h.im)}, MM ${usd(h.mm)}, equity/MM {ratio(h)}"
    )
    decimals = {s: a.decimals for s, a in engine.record.assets.items()}
    charts.health_chart(curves, out, title, decimals)
    return curves
