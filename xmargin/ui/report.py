"""Tables of account health for the terminal (rich).

Money arrives as exact integers (native units, WAD USD) and is only turned
into text here, truncated toward zero for display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table

from xmargin.chain.engine import AccountView
from xmargin.maths.fixed_point import WAD, format_units
from xmargin.maths.model import AssetParams, Health, token_value, weighted
from xmargin.maths.scenarios import lens_agrees

if TYPE_CHECKING:
    from xmargin.chain.assets import AssetState
    from xmargin.chain.network import NetworkInfo
    from xmargin.chain.scan import AccountHealth
    from xmargin.chain.summary import AdlEvent, EngineSummary, MarketCaps
    from xmargin.maths.pool import PoolState
    from xmargin.maths.portfolio import PortfolioConfig, PortfolioMargin

STATUS_STYLE = {
    "healthy": "[green]healthy[/green]",
    "below IM": "[yellow]below IM[/yellow]",
    "liquidatable": "[bold red]LIQUIDATABLE[/bold red]",
}


def usd(value: int) -> str:
    return format_units(value, 18, 2)


def location(network: NetworkInfo, block: int) -> str:
    """'ethereum:local (chain 31337) at block 156': where a reading was taken."""
    return f"{network.label} (chain {network.chain_id}) at block {block}"


def short_address(address: str) -> str:
    """0x1234…abcd: enough to tell accounts apart in a chart or a narrow table."""
    return f"{address[:6]}…{address[-4:]}"


def ratio(health: Health) -> str:
    """equity / MM, or '-' when the account has no maintenance requirement."""
    if health.mm == 0:
        return "-"
    return f"{health.equity * 100 // health.mm / 100:.2f}"


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
            ratio(v.health),
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


def positions_table(
    title: str,
    views: Sequence[AccountView],
    labels: Sequence[str],
    liquidation: Sequence[Mapping[int, tuple[int, int | None]]] | None = None,
) -> Table:
    """One row per open position: size, entry and mark price, PnL, funding, margins.

    With `liquidation` (per view: market id -> (the model's liquidation
    price, the ClearinghouseLens's or None when there is no lens)), two more
    columns: the liquidation price and whether the lens reports the same.
    """
    table = Table(title=title, title_justify="left")
    for name in ("account", "sub", "market", "size"):
        table.add_column(name, justify="right" if name in ("sub", "size") else "left")
    for name in ("entry $", "mark $", "notional $", "PnL $", "funding owed $", "IM $", "MM $"):
        table.add_column(name, justify="right")
    if liquidation is not None:
        table.add_column("liquidation $", justify="right")
        table.add_column("lens", justify="center")
    for i, (label, v) in enumerate(zip(labels, views, strict=True)):
        for p in v.positions:
            row = [
                label,
                str(v.sub_id),
                p.market.symbol,
                format_units(p.position.size, 18, 4),
                usd(p.position.entry_price),
                usd(p.market.price),
                usd(p.risk.notional),
                usd(p.risk.pnl),
                usd(p.risk.funding),
                # a portfolio account's margins are the whole book's, not per position
                usd(p.risk.im) if v.portfolio is None else "-",
                usd(p.risk.mm) if v.portfolio is None else "-",
            ]
            if liquidation is not None:
                row.extend(_liquidation_cells(*liquidation[i][p.market.market_id]))
            table.add_row(*row)
    return table


def _liquidation_cells(model_price: int, lens_price: int | None) -> tuple[str, str]:
    """(the liquidation price, whether the lens agrees): 0 means no positive price."""
    shown = usd(model_price) if model_price else "none"
    if lens_price is None:
        return shown, "n/a"
    if lens_agrees(model_price, lens_price):
        return shown, "="
    return shown, f"[red]{usd(lens_price) if lens_price else 'none'}[/red]"


@dataclass(frozen=True)
class Holding:
    """One asset an account holds, valued as the engine values it."""

    symbol: str
    amount: int  # native units
    decimals: int
    price: int  # WAD USD per whole token (the quote at face value)
    value: int  # WAD USD
    mm_haircut: int | None  # WAD; None for the quote asset (no haircut)
    counts: int  # what it counts for in equity, WAD USD


def holdings(view: AccountView, assets: Mapping[str, AssetParams], quote: str) -> list[Holding]:
    """Every asset `view` holds, with its price, value and what counts in
    equity: `collateral_table`'s rows and `--json`'s `collateral`."""
    out = []
    for symbol, amount in view.balances.items():
        if amount == 0:
            continue
        params = assets[symbol]
        if symbol == quote:
            value = amount * params.precision
            out.append(Holding(symbol, amount, params.decimals, WAD, value, None, value))
        else:
            price = view.prices[symbol]
            value = token_value(amount, params, price)
            counts = weighted(value, params.mm_haircut)
            out.append(
                Holding(symbol, amount, params.decimals, price, value, params.mm_haircut, counts)
            )
    return out


def collateral_table(
    title: str, view: AccountView, assets: Mapping[str, AssetParams], quote: str
) -> Table:
    """One row per asset the account holds: balance, price, market value and
    what it counts for in equity (after the maintenance haircut)."""
    table = Table(title=title, title_justify="left")
    table.add_column("asset")
    for name in ("balance", "price $", "value $", "MM haircut", "counts in equity $"):
        table.add_column(name, justify="right")
    for h in holdings(view, assets, quote):
        table.add_row(
            h.symbol,
            format_units(h.amount, h.decimals, min(h.decimals, 4)),
            usd(h.price),
            usd(h.value),
            "-" if h.mm_haircut is None else _percent(h.mm_haircut),
            usd(h.counts),
        )
    return table


def _percent(wad: int) -> str:
    return f"{wad * 10_000 // 10**18 / 100:.2f} %"


def asset_lines(states: Sequence[AssetState], decimals: Mapping[str, int], now: int) -> list[str]:
    """One line per collateral asset that is not in good standing: a token
    whose balance cannot be read, tokens held short of its ledgers, or
    frozen (docs/liquidation.md)."""
    out = []
    for a in states:
        d = decimals[a.symbol]
        if a.held is None:
            out.append(
                f"[red]{a.symbol}: its token's balanceOf cannot be read; deposits and "
                f"withdrawals of it fail, collateral liquidation goes on[/red]"
            )
        elif a.shortfall:
            covered = a.held * WAD // a.ledgers
            out.append(
                f"[red]{a.symbol}: the engine holds {format_units(a.held, d, 4)} against "
                f"{format_units(a.ledgers, d, 4)} booked; withdrawals pay "
                f"{_percent(covered)} of what they debit[/red]"
            )
        if a.frozen:
            ends = a.frozen_since + a.ramp
            out.append(
                f"[yellow]{a.symbol} frozen: no deposits; maintenance haircut "
                f"{_percent(a.mm_haircut)} (its ramp is at {_percent(a.due_haircut(now))}, "
                f"100 % in {max(ends - now, 0)} s)[/yellow]"
            )
    return out


def account_table(title: str, view: AccountView) -> Table:
    """The account's health as one column: equity, IM, MM, free margin,
    equity/MM and status, with the model's check."""
    h = view.health
    table = Table(title=title, title_justify="left")
    table.add_column("item")
    table.add_column("value", justify="right")
    rows = [
        ("margin mode", "portfolio (scenario grid)" if view.portfolio else "linear"),
        ("equity $", usd(h.equity)),
        ("initial margin (IM) $", usd(h.im)),
        ("maintenance margin (MM) $", usd(h.mm)),
        ("free margin (equity - IM) $", usd(h.free_margin)),
        ("health ratio (equity / MM)", ratio(h)),
        ("status", STATUS_STYLE[h.status]),
        ("xmargin.maths.model", "agrees" if view.model_agrees else "[red]DIFFERS[/red]"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def options_table(title: str, view: AccountView) -> Table:
    """The account's option positions: series, size, value, margins and
    greeks (sizes applied: delta per $1 of the underlying, gamma per $1
    squared, vega per 1.00 of volatility, theta per year), then the totals."""
    table = Table(title=title, title_justify="left")
    for name in ("series", "size", "value $", "IM $", "MM $", "delta", "gamma", "vega", "theta"):
        table.add_column(name, justify="left" if name == "series" else "right")
    total = [0, 0, 0, 0]
    for o in view.options:
        kind = "call" if o.is_call else "put"
        g = o.greeks
        cells = ["expired"] * 4
        if g is not None:
            cells = [format_units(v, 18, 4) for v in (g.delta, g.gamma, g.vega, g.theta)]
            total = [t + v for t, v in zip(total, (g.delta, g.gamma, g.vega, g.theta), strict=True)]
        table.add_row(
            f"#{o.series_id} {usd(o.strike)} {kind} @{o.expiry}",
            format_units(o.size, 18, 4),
            usd(o.risk.value),
            usd(o.risk.im),
            usd(o.risk.mm),
            *cells,
        )
    value = sum(o.risk.value for o in view.options)
    im = sum(o.risk.im for o in view.options)
    mm = sum(o.risk.mm for o in view.options)
    table.add_row(
        "total", "", usd(value), usd(im), usd(mm), *(format_units(v, 18, 4) for v in total)
    )
    return table


def portfolio_table(title: str, margin: PortfolioMargin, config: PortfolioConfig) -> Table:
    """A portfolio-mode account's requirement: each scenario's P&L (the
    worst marked), the floor, and how MM and IM follow from them."""
    p = config.params
    caption = (
        f"floor = max({_percent(p.floor_fraction)} of gross notional "
        f"${usd(margin.gross_notional)}, "
        f"${usd(p.min_per_position)} x {margin.positions} position(s)); IM factor "
        f"{p.im_factor / WAD:g}, collateral haircut gap ${usd(margin.addon)}"
    )
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    table.add_column("scenario")
    names = config.groups.names
    for name in names:
        table.add_column(f"{name} move", justify="right")
    table.add_column("P&L $", justify="right")
    for i, (scenario, pnl) in enumerate(zip(config.scenarios.scenarios, margin.pnls, strict=True)):
        mark = " [bold red]<- worst[/bold red]" if i == margin.worst_scenario else ""
        table.add_row(
            f"{scenario.name}{mark}", *(_percent(shock) for shock in scenario.shocks), usd(pnl)
        )
    blank = [""] * len(names)
    rows: list[tuple[str, int]] = [("worst loss", margin.worst_loss)]
    if p.credits:
        rows.append(("each group alone, less credits", margin.credited))
    rows += [
        ("floor", margin.floor),
        (
            "MM = max(worst loss, credited, floor)" if p.credits else "MM = max(worst loss, floor)",
            margin.mm,
        ),
        ("IM = MM x factor + haircut gap", margin.im),
    ]
    for item, value in rows:
        table.add_row(item, *blank, usd(value))
    return table


def accounts_table(title: str, rows: Sequence[AccountHealth], shortfall: bool = False) -> Table:
    """One row per registry account: equity, IM, MM, equity/MM and status;
    with `shortfall`, also MM - equity (what a liquidation must restore)."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("owner")
    table.add_column("sub", justify="right")
    for name in ("equity $", "IM $", "MM $", "equity/MM"):
        table.add_column(name, justify="right")
    table.add_column("status")
    if shortfall:
        table.add_column("shortfall $", justify="right")
    for r in rows:
        h = r.health
        cells = [str(r.index), r.owner, str(r.sub_id), usd(h.equity), usd(h.im), usd(h.mm)]
        cells += [ratio(h), STATUS_STYLE[h.status]]
        if shortfall:
            cells.append(usd(r.shortfall))
        table.add_row(*cells)
    return table


def pool_table(
    title: str, state: PoolState, total_assets: int, supply: int, decimals: int
) -> Table:
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
        ("larger side's open interest (the reserve's measure)", state.side_notional),
        ("net notional (the pool's exposure)", state.net_notional),
        ("cash the pool must keep", state.required),
        ("value the capital caps need", state.min_value),
    ]
    for name, value in rows:
        table.add_row(name, usd(value))
    price = total_assets * 10**decimals // supply if supply else 10**decimals
    table.add_row("share price (quote per share)", format_units(price, decimals, 6))
    return table


def _columns(title: str, names: Sequence[str], left: Sequence[str]) -> Table:
    """A table titled `title` with columns `names`, right-justified but `left`."""
    table = Table(title=title, title_justify="left")
    for name in names:
        table.add_column(name, justify="left" if name in left else "right")
    return table


def caps_table(title: str, caps: Sequence[MarketCaps]) -> Table:
    """Each capped market against the pool's value: the reserve's use, the
    traders' profit against its cap and the ADL target, and whether ADL runs."""
    names = ("market", "reserve", "larger side $", "profit cap", "traders' profit $", "cap $")
    table = _columns(title, (*names, "ADL target $", "ADL"), ("market", "ADL"))
    for c in caps:
        table.add_row(
            c.market,
            _percent(c.reserve_factor),
            usd(c.side_notional),
            f"{_percent(c.max_pnl_factor)} / {_percent(c.adl_target_factor)}",
            usd(c.adl.profit),
            usd(c.adl.limit),
            usd(c.adl.target),
            "[red]needed[/red]" if c.adl.needed else "no",
        )
    return table


def adl_table(title: str, events: Sequence[AdlEvent], quote_decimals: int) -> Table:
    """Auto-deleveraging closes (`AutoDeleverage` logs)."""
    names = ("block", "account", "market", "closed", "left", "price $", "paid $")
    table = _columns(title, names, ("account", "market"))
    for e in events:
        table.add_row(
            str(e.block),
            f"{short_address(e.owner)}/{e.sub_id}",
            e.market,
            format_units(e.closed, 18, 4),
            format_units(e.new_size, 18, 4),
            usd(e.price),
            format_units(e.quote_delta, quote_decimals, 2),
        )
    return table


def liquidations_table(
    title: str, entries: Sequence[dict[str, Any]], decimals: dict[str, int], quote: str
) -> Table:
    """The keeper's liquidations (its `liquidated` / `collateral_liquidated` log lines)."""
    q = decimals[quote]
    names = ("account", "what", "size / amount", "price $", "penalty $", "keeper $")
    table = _columns(title, (*names, "insurance $"), ("account", "what"))
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


def summary_rows(summary: EngineSummary) -> list[tuple[str, int]]:
    """Insurance fund, bad debt and pool totals (native quote units), as
    `totals_table` rows: the demo's end report and `xmargin report`."""
    rows = [
        ("liquidation penalties charged", summary.penalties),
        ("paid to the keeper", summary.keeper_rewards),
        ("insurance fund now", summary.insurance_fund),
        ("bad debt, total", summary.bad_debt_total),
        ("  covered by the insurance fund", summary.bad_debt_insurance),
        ("  covered by the pool (LPs)", summary.bad_debt_pool),
    ]
    if summary.pool_unpriced is None:
        rows.append(("pool value (LP totalAssets)", summary.pool_total_assets))
    return rows


def liquidation_entries(
    summary: EngineSummary, labels: Mapping[tuple[str, int], str] | None = None
) -> list[dict[str, Any]]:
    """The summary's liquidation events as `liquidations_table` entries (the
    keeper's log-line shape); accounts named by `labels` or by address."""
    labels = labels or {}
    out: list[dict[str, Any]] = []
    for e in summary.liquidations:
        out.append(
            {
                "event": "liquidated",
                "label": labels.get((e.owner, e.sub_id), short_address(e.owner)),
                "owner": e.owner,
                "sub_id": e.sub_id,
                "market": e.market,
                "closed": e.closed,
                "price": e.price,
                "penalty": e.penalty,
                "reward": e.keeper_reward,
                "insurance": e.insurance_share,
            }
        )
    for c in summary.collateral_liquidations:
        out.append(
            {
                "event": "collateral_liquidated",
                "label": labels.get((c.owner, c.sub_id), short_address(c.owner)),
                "owner": c.owner,
                "sub_id": c.sub_id,
                "asset": c.asset,
                "repaid": c.repaid,
                "collateral_out": c.collateral_out,
            }
        )
    return out


def bad_debt_table(title: str, summary: EngineSummary) -> Table:
    """One row per deficit written off: who paid it (native quote units)."""
    q = summary.quote_decimals
    table = Table(title=title, title_justify="left")
    table.add_column("account")
    for name in ("block", "deficit $", "from insurance $", "from pool $"):
        table.add_column(name, justify="right")
    for e in summary.bad_debts:
        table.add_row(
            f"{short_address(e.owner)}/{e.sub_id}",
            str(e.block),
            format_units(e.deficit, q, 2),
            format_units(e.from_insurance, q, 2),
            format_units(e.from_pool, q, 2),
        )
    return table
