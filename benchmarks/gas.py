"""Gas of xmargin's operations on anvil, from transaction receipts.

    make bench        (= python benchmarks/gas.py)

Deploys with the real deploy pipeline (config/local.yaml) on an anvil that
ape-foundry starts, runs each operation and reads `gas_used` from its
receipt: the whole transaction, 21,000 intrinsic gas and calldata included,
the basis on which Aave and Compound figures are usually quoted. Views are
measured with `eth_estimateGas` of the same call, also whole-transaction.

The "withdraw with health check" rows use ClearinghouseHarness (the same
modules plus a hook that books a quote debt), because an account can only
owe quote once positions exist; without a debt, a withdrawal skips pricing.

Prints a table and writes benchmarks/results/gas.json.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ape import accounts, networks, project
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from xmargin.abi import deploy_clearinghouse
from xmargin.config import load_config
from xmargin.deploy import deploy, network_info
from xmargin.engine import Engine, load_engine, shock_prices
from xmargin.model import parse_units

RESULTS = Path(__file__).resolve().parent / "results" / "gas.json"
NETWORK = "ethereum:local:foundry"
# Whole tokens each asset is deposited in.
AMOUNTS = {"USDC": "10000", "WETH": "10", "WBTC": "1", "LINK": "1000"}


def _fund(engine: Engine, who: Any, spender: str, symbol: str, times: int = 4) -> int:
    token = engine.tokens[symbol]
    amount = parse_units(AMOUNTS[symbol], engine.record.assets[symbol].decimals)
    token.mint(who, amount * times, sender=who)
    token.approve(spender, amount * times, sender=who)
    return amount


def _collateral_rows(engine: Engine, trader: Any) -> dict[str, int]:
    ch = engine.clearinghouse
    weth = engine.tokens["WETH"].address
    amount = _fund(engine, trader, ch.address, "WETH")
    rows = {
        "deposit (first, new balance)": ch.deposit(0, weth, amount, sender=trader).gas_used,
        "deposit (top-up)": ch.deposit(0, weth, amount, sender=trader).gas_used,
        "withdraw (partial, no debt)": ch.withdraw(0, weth, amount, sender=trader).gas_used,
        "withdraw (whole balance, no debt)": ch.withdraw(
            0, weth, 2**256 - 1, sender=trader
        ).gas_used,
    }
    for symbol in ("USDC", "WETH", "WBTC"):
        amt = _fund(engine, trader, ch.address, symbol)
        ch.deposit(1, engine.tokens[symbol].address, amt, sender=trader)
    rows["account_health view, 3 assets (estimateGas)"] = ch.account_health.estimate_gas_cost(
        trader, 1, sender=trader
    )
    return rows


def _health_check_rows(engine: Engine, owner: Any, trader: Any) -> dict[str, int]:
    harness = deploy_clearinghouse(
        project,
        owner,
        engine.tokens["USDC"].address,
        engine.router.address,
        2**128,
        core="ClearinghouseHarness",
    )
    for symbol in ("WETH", "WBTC", "LINK"):
        cfg = engine.clearinghouse.asset_config(engine.tokens[symbol].address)
        harness.list_asset(
            engine.tokens[symbol].address, cfg.im_haircut, cfg.mm_haircut, cfg.cap, sender=owner
        )
    rows = {}
    for sub_id, held in ((0, ("WETH",)), (1, ("WETH", "WBTC", "LINK"))):
        for symbol in held:
            amt = _fund(engine, trader, harness.address, symbol)
            harness.deposit(sub_id, engine.tokens[symbol].address, amt, sender=trader)
        # A 1,000 USDC debt: the withdrawal must now price every held asset.
        harness.harness_settle(trader, sub_id, -1_000 * 10**6, sender=owner)
        weth = engine.tokens["WETH"].address
        receipt = harness.withdraw(sub_id, weth, 10**18, sender=trader)
        rows[f"withdraw with health check, {len(held)} asset(s) held"] = receipt.gas_used
    return rows


def _perp_rows(engine: Engine, owner: Any, trader: Any, lp: Any) -> dict[str, int]:
    """Trades and health checks against the pool, with 1, 5 and 10 positions."""
    ch = engine.clearinghouse
    usdc = engine.tokens["USDC"]
    big = 10**7 * 10**6  # 10 M USDC (the local quote cap is 100 M)
    usdc.mint(lp, big, sender=lp)
    usdc.approve(engine.pool.address, big, sender=lp)
    rows = {"LP deposit (ERC-4626)": engine.pool.deposit(big // 2, lp, sender=lp).gas_used}
    usdc.mint(trader, big, sender=trader)
    usdc.approve(ch.address, big, sender=trader)
    ch.deposit(2, usdc.address, big // 4, sender=trader)
    # Up to 10 markets: copies of ETH-PERP's parameters on the three assets.
    template = list(ch.market_params(0))
    assets = [engine.tokens[s].address for s in ("WETH", "WBTC", "LINK")]
    while ch.num_markets() < 10:
        template[0] = assets[ch.num_markets() % 3]
        ch.list_market(tuple(template), sender=owner)
    one, limit = 10**16, 2**255
    rows["trade: open (first position)"] = ch.trade(2, 0, one, limit, sender=trader).gas_used
    rows["trade: increase"] = ch.trade(2, 0, one, limit, sender=trader).gas_used
    rows["trade: close"] = ch.trade(2, 0, -2 * one, 0, sender=trader).gas_used
    for n in (1, 5, 10):
        sub = 10 + n
        ch.transfer_between(2, sub, usdc.address, big // 100, sender=trader)
        for m in range(n):
            receipt = ch.trade(sub, m, one, limit, sender=trader)
        rows[f"trade: open the {n}th position (health over {n})"] = receipt.gas_used
        rows[f"account_health view, {n} position(s) (estimateGas)"] = (
            ch.account_health.estimate_gas_cost(trader, sub, sender=trader)
        )
    rows["LP redeem (ERC-4626)"] = engine.pool.redeem(10**6, lp, lp, sender=lp).gas_used
    return rows


def _liquidation_rows(engine: Engine, owner: Any, trader: Any, keeper: Any) -> dict[str, int]:
    """Liquidations of a 1-position and a 5-position account, and a collateral
    liquidation; run last (they move prices). Longs of ~$10,000 notional per
    position on margin just above IM, then every price -8 %."""
    ch = engine.clearinghouse
    usdc, weth = engine.tokens["USDC"], engine.tokens["WETH"]
    price = {m: engine.router.price(ch.market_params(m).asset) for m in range(ch.num_markets())}
    limit = 2**255

    def open_longs(sub: int, markets: int) -> None:
        margin = 1_050 * markets * 10**6  # IM ~ 10 % of $10,000 each, plus fees
        ch.deposit(sub, usdc.address, margin, sender=trader)
        for m in range(markets):
            ch.trade(sub, m, 10_000 * 10**36 // price[m], limit, sender=trader)

    open_longs(31, 1)
    open_longs(35, 5)
    # 1 WETH (90 % counts at MM) backing a 7 ETH long.
    weth.mint(trader, 10**18, sender=trader)
    weth.approve(ch.address, 10**18, sender=trader)
    ch.deposit(40, weth.address, 10**18, sender=trader)
    ch.trade(40, 0, 7 * 10**18, limit, sender=trader)
    shock_prices(engine, owner, {"WETH": -800, "WBTC": -800, "LINK": -800})
    rows = {}
    for sub, n in ((31, 1), (35, 5)):
        assert ch.is_liquidatable(trader, sub)
        rows[f"liquidate: {n}-position account (partial)"] = ch.liquidate(
            trader, sub, 0, 2**96, 0, sender=keeper
        ).gas_used
    # ETH -30 % in all: the 7 ETH long is closed whole, 1 WETH is left against a debt.
    shock_prices(engine, owner, {"WETH": -2_400})
    ch.liquidate(trader, 40, 0, 2**96, 0, sender=keeper)
    assert ch.balance_of(trader, 40, usdc.address) < 0 and ch.is_liquidatable(trader, 40)
    usdc.mint(keeper, 10**9, sender=keeper)
    usdc.approve(ch.address, 10**9, sender=keeper)
    rows["liquidate_collateral (partial repay, WETH)"] = ch.liquidate_collateral(
        trader, 40, weth.address, 1_000 * 10**6, 0, sender=keeper
    ).gas_used
    rows["accounts_to_liquidate view, 50 accounts (estimateGas)"] = (
        ch.accounts_to_liquidate.estimate_gas_cost(0, 50, sender=keeper)
    )
    rows["account_healths view, 50 accounts (estimateGas)"] = ch.account_healths.estimate_gas_cost(
        0, 50, sender=keeper
    )
    return rows


def measure() -> dict[str, int]:
    with networks.parse_network_choice(NETWORK) as provider:
        owner, trader = accounts.test_accounts[0], accounts.test_accounts[1]
        with tempfile.TemporaryDirectory() as tmp:
            result = deploy(
                project,
                provider,
                owner,
                load_config("local"),
                network_info(provider),
                directory=Path(tmp),
                log=lambda _: None,
            )
        engine = load_engine(project, result.record)
        rows = _collateral_rows(engine, trader)
        rows.update(_health_check_rows(engine, owner, trader))
        rows.update(_perp_rows(engine, owner, trader, accounts.test_accounts[2]))
        rows.update(_liquidation_rows(engine, owner, trader, accounts.test_accounts[3]))
        return rows


def main() -> None:
    logger.set_level("ERROR")
    rows = measure()
    table = Table(title=f"xmargin gas on anvil ({NETWORK}), whole transaction")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    for name, gas in rows.items():
        table.add_row(name, f"{gas:,}")
    Console(width=110).print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"network": NETWORK, "gas": rows}, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
