"""Gas of the option positions (issue 23) on anvil: an order's life, the
health of an account holding options, the pool's value with options, a
perp trade that reads that value, a liquidation and an expiry.

    make bench-options
    python benchmarks/options.py

Deploys config/local.yaml with the real deploy pipeline on an anvil it
starts (benchmarks/nodes.py): its OptionsBook and OptionsDesk on WETH (a
mock implied-volatility feed at 80 %, Deribit's margin figures), of
whose series it trades the at-the-money call and the $2,800 put about
30 days out, against a pool of 5 M USDC. Figures are whole transactions (`gas_used`; views:
`eth_estimateGas`). Prints a table and writes
benchmarks/results/options.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ape import accounts, chain, project
from ape.logging import logger
from nodes import NETWORK, local_deployment  # benchmarks/nodes.py (scripts run from benchmarks/)
from rich.console import Console
from rich.table import Table

from xmargin.chain.engine import Engine, publish_after, shock_prices
from xmargin.maths import portfolio as pm

RESULTS = Path(__file__).resolve().parent / "results" / "options.json"
WAD = 10**18
USDC = 10**6
DELAY = 5  # config/local.yaml's min_delay


@dataclass(frozen=True)
class Row:
    operation: str
    gas: int


def _options(engine: Engine) -> tuple[Any, Any, Any, int, int, int]:
    """The book and desk config/local.yaml deploys on WETH (named by the
    engine), its 30-day expiry's volatility feed and expiry, and the ids
    of its at-the-money call and $2,800 put."""
    book, desk = engine.book, engine.desk
    assert book is not None and desk is not None, "config/local.yaml lists options"
    weth = engine.tokens["WETH"]
    expiry = engine.record.expiries["WETH+30d"]
    vol = project.MockAggregator.at(engine.record.contracts["VolFeed WETH+30d"])
    call = int(book.find_series(weth, 3_000 * WAD, expiry, True))
    put = int(book.find_series(weth, 2_800 * WAD, expiry, False))
    return book, desk, vol, expiry, call, put


def _fund_pool(engine: Engine, owner: Any, lp: Any) -> None:
    pool, usdc = engine.pool, engine.tokens["USDC"]
    amount = 5_000_000 * USDC
    usdc.mint(lp, amount, sender=lp)
    usdc.approve(pool, amount, sender=lp)
    pool.requestDeposit(amount, lp, lp, sender=lp)
    publish_after(engine, owner, int(pool.REQUEST_DELAY()))
    chain.mine(deltatime=12)
    pool.settle_deposit(lp, sender=owner)
    pool.deposit(pool.maxDeposit(lp), lp, sender=lp)


def _execute(engine: Engine, owner: Any, vol: Any, desk: Any, who: Any, sub: int) -> Any:
    """The rounds after the delay (every feed and the volatility), then the execution."""
    publish_after(engine, owner, DELAY)
    vol.set_answer(80_000_000, sender=owner)
    return desk.execute_option_order(who, sub, sender=owner)


def _portfolio_rows(engine: Engine, owner: Any, vol: Any, expiry: int) -> list[Row]:
    """Issue 23's point 9: the health of a portfolio account holding 2 perps
    and 5 option series over a 16-row price x volatility grid (SPAN's: the
    crypto groups together at 0, 1/3, 2/3 and 3/3 of a 15 % scan range with
    the volatility 25 % up and down, and 3x the range at 35 %), against
    the same book in linear mode."""
    ch, usdc, book, desk = engine.clearinghouse, engine.tokens["USDC"], engine.book, engine.desk
    assert book is not None and desk is not None
    config = engine.portfolio_config()
    moving = tuple(g for g, name in enumerate(config.groups.names) if name != "USD")
    span = pm.span_scenarios(len(config.groups.names), moving, 15 * WAD // 100, WAD // 4)
    risk = owner.deploy(
        project.PortfolioRisk,
        *pm.risk_set_args(pm.PortfolioConfig(config.groups, span, config.params)),
    )
    ch.set_portfolio_risk(risk, sender=owner)
    who = accounts.test_accounts[4]
    usdc.mint(who, 200_000 * USDC, sender=who)
    usdc.approve(ch, 200_000 * USDC, sender=who)
    ch.deposit(0, usdc, 200_000 * USDC, sender=who)
    ch.set_margin_mode(0, True, sender=who)
    ch.trade(0, engine.record.markets["ETH-PERP"], WAD, 2**255, sender=who)
    ch.trade(0, engine.record.markets["BTC-PERP"], -WAD // 10, 0, sender=who)
    weth = engine.tokens["WETH"]
    legs = [
        (3_000, True, -WAD),
        (3_200, True, -WAD),
        (2_800, False, WAD),
        (3_000, False, -WAD),
        (2_800, True, WAD // 2),
    ]
    for strike, is_call, size in legs:
        series = int(book.find_series(weth, strike * WAD, expiry, is_call))
        desk.commit_option_order(0, series, size, 10_000 * WAD if size > 0 else 0, sender=who)
        _execute(engine, owner, vol, desk, who, 0)
        assert desk.position(who, 0, series) == size, (strike, is_call)
    portfolio = ch.account_health.estimate_gas_cost(who, 0)
    ch.set_margin_mode(0, False, sender=who)
    linear = ch.account_health.estimate_gas_cost(who, 0)
    return [
        Row("account_health: portfolio, 2 perps + 5 series x 16 scenarios", portfolio),
        Row("account_health: the same book in linear mode", linear),
    ]


def measure() -> list[Row]:
    with local_deployment() as (_, engine):
        owner, trader, lp, keeper = accounts.test_accounts[:4]
        ch, usdc = engine.clearinghouse, engine.tokens["USDC"]
        _fund_pool(engine, owner, lp)
        eth = engine.record.markets["ETH-PERP"]
        # A perp trade in a capped market reads the pool's value: before options.
        usdc.mint(keeper, 100_000 * USDC, sender=keeper)
        usdc.approve(ch, 100_000 * USDC, sender=keeper)
        ch.deposit(0, usdc, 100_000 * USDC, sender=keeper)
        # (opened first: both measured trades increase the position)
        ch.trade(0, eth, 10**16, 2**255, sender=keeper)
        chain.mine(deltatime=12)
        perp_before = ch.trade(0, eth, 10**16, 2**255, sender=keeper).gas_used
        book, desk, vol, expiry, call, put = _options(engine)
        usdc.mint(trader, 1_500 * USDC, sender=trader)
        usdc.approve(ch, 1_500 * USDC, sender=trader)
        ch.deposit(0, usdc, 1_500 * USDC, sender=trader)
        rows = []
        commit = desk.commit_option_order(0, put, -WAD, 0, sender=trader)
        rows.append(Row("option order: commit", commit.gas_used))
        first = _execute(engine, owner, vol, desk, trader, 0)
        rows.append(Row("option order: execute, sell a put (first series)", first.gas_used))
        desk.commit_option_order(0, call, -WAD, 0, sender=trader)
        second = _execute(engine, owner, vol, desk, trader, 0)
        rows.append(
            Row("option order: execute, sell a call (second series, IM over both)", second.gas_used)
        )
        rows.append(
            Row(
                "account_health: 2 short options",
                ch.account_health.estimate_gas_cost(trader, 0),
            )
        )
        rows.append(Row("pool_value: 2 series in the pool", ch.pool_value.estimate_gas_cost()))
        chain.mine(deltatime=12)
        perp_after = ch.trade(0, eth, 10**16, 2**255, sender=keeper).gas_used
        rows.append(Row("perp trade (increase) in a capped market, no options", perp_before))
        rows.append(
            Row("perp trade (increase) in a capped market, 2 series in the pool", perp_after)
        )
        rows += _portfolio_rows(engine, owner, vol, expiry)
        # A jump: the short call deep in the money.
        shock_prices(engine, owner, {"WETH": 5_000})
        vol.set_answer(80_000_000, sender=owner)
        liquidation = desk.liquidate_options(trader, 0, sender=keeper)
        rows.append(Row("liquidate_options: one of two closed", liquidation.gas_used))
        # The expiry: the first round after it, the settlement, the position.
        chain.pending_timestamp = expiry + 60
        shock_prices(engine, owner, {"WETH": 0})
        feed = engine.feeds["WETH"]
        settle_expiry = book.settle_expiry(
            engine.tokens["WETH"], expiry, feed.round_id(), sender=keeper
        )
        rows.append(Row("settle_expiry", settle_expiry.gas_used))
        settle = desk.settle_option(trader, 0, put, sender=keeper)
        rows.append(Row("settle_option", settle.gas_used))
        return rows


def main() -> None:
    logger.set_level("ERROR")
    rows = measure()
    table = Table(title=f"xmargin options gas on anvil ({NETWORK}), whole transaction")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    for r in rows:
        table.add_row(r.operation, f"{r.gas:,}")
    Console(width=120).print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "network": NETWORK,
        "basis": "whole transaction (receipt gas_used; views: eth_estimateGas)",
        "rows": [asdict(r) for r in rows],
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
