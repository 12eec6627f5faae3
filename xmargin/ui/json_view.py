"""The CLI's `--json` documents: what the tables show, for machines.

Conventions (docs/cli.md#json), the same in every command:

* every amount is a **decimal string**, exact (never rounded, no thousands
  separator, no trailing zeros): `"31968.85"`, `"-0.5"`, `"0"`;
* its unit is in its name: `_usd` is US dollars (the engine's WAD USD),
  a fraction (haircut, factor, ratio) is a plain decimal (`"0.1"` is 10 %),
  a token amount is in whole tokens of the asset named beside it, a
  position `size` in whole units of its market's underlying (negative:
  short), a `_quote` amount in whole units of the document's `quote` token;
* counts, ids, block numbers, timestamps and seconds are JSON integers;
  addresses are checksummed strings; a value that does not exist is `null`;
* every document starts with `command`, `schema_version`, `network`,
  `chain_id` and `block`; field names only ever get added to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xmargin.maths.fixed_point import WAD, format_exact
from xmargin.maths.model import AssetParams, Health
from xmargin.ui.report import holdings

if TYPE_CHECKING:
    from xmargin.chain.assets import AssetState
    from xmargin.chain.engine import AccountView
    from xmargin.chain.network import NetworkInfo
    from xmargin.chain.oracle import PriceProblem
    from xmargin.chain.scan import AccountHealth
    from xmargin.chain.summary import EngineSummary
    from xmargin.maths.portfolio import PortfolioConfig, PortfolioMargin

SCHEMA_VERSION = 1

Doc = dict[str, Any]


def dec(value: int, decimals: int = 18) -> str:
    """An integer in units of 10**-decimals as an exact decimal string."""
    return format_exact(value, decimals)


def usd(value: int) -> str:
    """WAD USD as a decimal string of dollars."""
    return dec(value, 18)


def dumps(doc: Doc) -> str:
    return json.dumps(doc, indent=2)


def header(command: str, network: NetworkInfo, block: int) -> Doc:
    return {
        "command": command,
        "schema_version": SCHEMA_VERSION,
        "network": network.label,
        "chain_id": network.chain_id,
        "block": block,
    }


def health(h: Health) -> Doc:
    return {
        "equity_usd": usd(h.equity),
        "im_usd": usd(h.im),
        "mm_usd": usd(h.mm),
        "free_margin_usd": usd(h.free_margin),
        # equity / MM to 18 decimals, rounded down (a ratio, not an amount);
        # null without a maintenance requirement
        "health_ratio": dec(h.equity * WAD // h.mm) if h.mm else None,
        "status": h.status,
    }


def option_positions(view: AccountView) -> list[Doc]:
    """The account's option positions: terms, size, value, margins and
    greeks (sizes applied; null once expired)."""
    out = []
    for o in view.options:
        g = o.greeks
        out.append(
            {
                "series_id": o.series_id,
                "underlying": o.asset,
                "kind": "call" if o.is_call else "put",
                "strike_usd": usd(o.strike),
                "expiry": o.expiry,
                "size": dec(o.size),
                "value_usd": usd(o.risk.value),
                "im_usd": usd(o.risk.im),
                "mm_usd": usd(o.risk.mm),
                "greeks": None
                if g is None
                else {
                    "delta": dec(g.delta),
                    "gamma": dec(g.gamma),
                    "vega": dec(g.vega),
                    "theta": dec(g.theta),
                },
            }
        )
    return out


def collateral(view: AccountView, assets: Mapping[str, AssetParams], quote: str) -> list[Doc]:
    return [
        {
            "asset": h.symbol,
            "balance": dec(h.amount, h.decimals),
            "price_usd": usd(h.price),
            "value_usd": usd(h.value),
            "mm_haircut": dec(h.mm_haircut or 0),
            "counts_in_equity_usd": usd(h.counts),
        }
        for h in holdings(view, assets, quote)
    ]


def positions(
    view: AccountView, liquidation: Mapping[int, tuple[int, int | None]] | None = None
) -> list[Doc]:
    out = []
    linear = view.portfolio is None
    for p in view.positions:
        doc: Doc = {
            "market": p.market.symbol,
            "market_id": p.market.market_id,
            "size": dec(p.position.size),
            "entry_price_usd": usd(p.position.entry_price),
            "mark_price_usd": usd(p.market.price),
            "notional_usd": usd(p.risk.notional),
            "pnl_usd": usd(p.risk.pnl),
            "funding_owed_usd": usd(p.risk.funding),
            # a portfolio account's margins are the whole book's
            "im_usd": usd(p.risk.im) if linear else None,
            "mm_usd": usd(p.risk.mm) if linear else None,
        }
        if liquidation is not None:
            model_price, lens_price = liquidation[p.market.market_id]
            doc["liquidation_price_usd"] = usd(model_price) if model_price else None
            doc["lens_liquidation_price_usd"] = (
                None if lens_price is None or not lens_price else usd(lens_price)
            )
        out.append(doc)
    return out


def portfolio(margin: PortfolioMargin, config: PortfolioConfig) -> Doc:
    names = config.groups.names
    return {
        "scenarios": [
            {
                "name": sc.name,
                "moves": {n: dec(shock) for n, shock in zip(names, sc.shocks, strict=True)},
                "pnl_usd": usd(pnl),
            }
            for sc, pnl in zip(config.scenarios.scenarios, margin.pnls, strict=True)
        ],
        # the scenario MM came from (null: the floor set it)
        "worst_scenario": (
            config.scenarios.scenarios[margin.worst_scenario].name
            if margin.worst_scenario is not None
            else None
        ),
        "worst_loss_usd": usd(margin.worst_loss),
        # with inter-group credits: each group's own scan less the credits
        "credited_usd": usd(margin.credited) if config.params.credits else None,
        "floor_usd": usd(margin.floor),
        "gross_notional_usd": usd(margin.gross_notional),
        "haircut_gap_usd": usd(margin.addon),
        "mm_usd": usd(margin.mm),
        "im_usd": usd(margin.im),
    }


def accounts(rows: Sequence[AccountHealth]) -> list[Doc]:
    return [
        {"index": r.index, "owner": r.owner, "sub": r.sub_id}
        | health(r.health)
        | {"shortfall_usd": usd(r.shortfall)}
        for r in rows
    ]


def price_problem(p: PriceProblem) -> Doc:
    return {
        "asset": p.symbol,
        "token": p.token,
        "feed": p.feed,
        "reason": p.reason,
        "heartbeat_seconds": p.heartbeat,
        "answer": (
            dec(p.answer, p.decimals) if p.answer is not None and p.decimals is not None else None
        ),
        "updated_at": p.updated_at,
        "age_seconds": p.age,
        "message": p.describe(),
    }


def asset_state(a: AssetState, decimals: int, now: int) -> Doc:
    return {
        "asset": a.symbol,
        "held": dec(a.held, decimals) if a.held is not None else None,
        "ledgers": dec(a.ledgers, decimals),
        "shortfall": dec(a.shortfall, decimals),
        "frozen": a.frozen,
        "mm_haircut": dec(a.mm_haircut),
        "ramp_haircut": dec(a.due_haircut(now)) if a.frozen else None,
        "ramp_ends_at": a.frozen_since + a.ramp if a.frozen else None,
    }


def summary(s: EngineSummary) -> Doc:
    """`xmargin report`: ledgers, pool, caps and events; `_quote` amounts
    are in whole `quote` tokens."""
    q = s.quote_decimals
    pool = None
    if s.pool is not None:
        p = s.pool
        pool = {
            "cash_usd": usd(p.cash),
            "traders_pnl_usd": usd(p.traders_pnl),
            "traders_funding_usd": usd(p.traders_funding),
            "premium_owed_usd": usd(p.premium_owed),
            "value_usd": usd(p.value),
            "side_notional_usd": usd(p.side_notional),
            "net_notional_usd": usd(p.net_notional),
            "required_usd": usd(p.required),
            "min_value_usd": usd(p.min_value),
            "total_assets_quote": dec(s.pool_total_assets, q),
            # LP shares in whole shares (the pool's decimals are the quote's)
            "share_supply": dec(s.pool_supply, q),
        }
    return {
        "quote": s.quote,
        "totals": {
            "penalties_quote": dec(s.penalties, q),
            "keeper_rewards_quote": dec(s.keeper_rewards, q),
            "insurance_fund_quote": dec(s.insurance_fund, q),
            "bad_debt_total_quote": dec(s.bad_debt_total, q),
            "bad_debt_insurance_quote": dec(s.bad_debt_insurance, q),
            "bad_debt_pool_quote": dec(s.bad_debt_pool, q),
        },
        "pool": pool,
        # the oracle reason the pool could not be valued for, or null
        "pool_unpriced": s.pool_unpriced,
        "caps": [
            {
                "market": c.market,
                "reserve_factor": dec(c.reserve_factor),
                "max_pnl_factor": dec(c.max_pnl_factor),
                "adl_target_factor": dec(c.adl_target_factor),
                "side_notional_usd": usd(c.side_notional),
                "traders_profit_usd": usd(c.adl.profit),
                "profit_cap_usd": usd(c.adl.limit),
                "adl_target_usd": usd(c.adl.target),
                "adl_needed": c.adl.needed,
            }
            for c in s.caps
        ],
        "liquidations": [
            {
                "block": e.block,
                "owner": e.owner,
                "sub": e.sub_id,
                "market": e.market,
                "liquidator": e.liquidator,
                "closed": dec(e.closed),
                "new_size": dec(e.new_size),
                "price_usd": usd(e.price),
                "penalty_quote": dec(e.penalty, q),
                "keeper_reward_quote": dec(e.keeper_reward, q),
                "insurance_quote": dec(e.insurance_share, q),
            }
            for e in s.liquidations
        ],
        "collateral_liquidations": [
            {
                "block": c.block,
                "owner": c.owner,
                "sub": c.sub_id,
                "asset": c.asset,
                "liquidator": c.liquidator,
                "repaid_quote": dec(c.repaid, q),
                "collateral_out": dec(c.collateral_out, s.decimals[c.asset]),
                "price_usd": usd(c.price),
            }
            for c in s.collateral_liquidations
        ],
        "bad_debts": [
            {
                "block": b.block,
                "owner": b.owner,
                "sub": b.sub_id,
                "deficit_quote": dec(b.deficit, q),
                "from_insurance_quote": dec(b.from_insurance, q),
                "from_pool_quote": dec(b.from_pool, q),
            }
            for b in s.bad_debts
        ],
        "adls": [
            {
                "block": a.block,
                "owner": a.owner,
                "sub": a.sub_id,
                "market": a.market,
                "caller": a.caller,
                "closed": dec(a.closed),
                "new_size": dec(a.new_size),
                "price_usd": usd(a.price),
                "paid_quote": dec(a.quote_delta, q),
            }
            for a in s.adls
        ],
    }
