"""Gas of xmargin's operations on anvil, beside the anchors' published figures.

    make bench        (runs this, then benchmarks/keeper.py)
    python benchmarks/gas.py

Deploys with the real deploy pipeline (config/local.yaml) on an anvil it
starts with ape-foundry's command line less step tracing (benchmarks/nodes.py),
runs each operation and reads `gas_used` from its
receipt: the whole transaction, 21,000 intrinsic gas and calldata included,
the basis on which Aave and Compound figures are usually quoted. Views are
measured with `eth_estimateGas` of the same call, also whole-transaction.

Every price a measured operation reads is a cold read of its own feed: the
benchmark lists 20 extra markets and 2 extra collateral assets, each on a
token and mock Chainlink feed of its own, so no figure is flattered by an
oracle slot another position or asset already warmed.

The "withdraw with health check" rows use ClearinghouseHarness (the same
modules plus a hook that books a quote debt), because an account can only
owe quote once positions exist; without a debt, a withdrawal skips pricing.

Prints a table (with each anchor and target) and the contract sizes, and
writes benchmarks/results/gas.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ape import accounts, chain, project
from ape.logging import logger
from nodes import local_deployment  # benchmarks/nodes.py (scripts run from benchmarks/)
from rich.console import Console
from rich.table import Table

from xmargin.chain.abi import deploy_clearinghouse
from xmargin.chain.engine import Engine, publish_after, shock_prices
from xmargin.chain.lens import lens_at
from xmargin.chain.revert_data import revert_reason
from xmargin.chain.scan import PAGE
from xmargin.chain.sizes import EIP170_LIMIT, HEADROOM_LIMIT, contract_sizes
from xmargin.maths.fixed_point import WAD
from xmargin.ops.crowd import open_crowd_fast

RESULTS = Path(__file__).resolve().parent / "results" / "gas.json"
NETWORK = "ethereum:local:foundry"
POSITIONS = (1, 5, 10, 20)
ASSETS = (1, 3, 5)
SYNTHETIC_PRICE = 100  # USD, every extra feed
BATCH = 50  # accounts in the measured liquidate_many
MAX_UINT = 2**256 - 1

# The anchors' published figures (whole transaction), quoted by our issue.
AAVE_LIQUIDATION = "Aave v3 liquidationCall 312k-350k"
AAVE_HEALTH = "Aave v3 health check ~30k per position; 115k for 2 supplies + 1 borrow"
COMPOUND_CHECK = "Compound v3 collateral check 145k-199k for 1-3 assets"
LYRA_PORTFOLIO = "Lyra v2 portfolio margin ~1.7M for its perps-only test portfolio"
# The portfolio-mode scenario set: 32 scenarios over 4 risk groups (WETH and
# the quote in group 0, the 20 synthetic markets spread over groups 1-3).
PORTFOLIO_GROUPS = 4
PORTFOLIO_SCENARIOS = 32


@dataclass(frozen=True)
class Row:
    operation: str
    gas: int
    anchor: str = ""
    # The target for this figure, and whether it is met.
    target: int | None = None

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        if self.gas <= self.target:
            return "met"
        return f"MISSED by {self.gas - self.target:,}"


@dataclass
class World:
    """The deployed engine plus the benchmark's extra assets and markets."""

    engine: Engine
    owner: Any
    # 20 market ids, each on its own synthetic asset and feed
    markets: list[int]
    # collateral token symbols in the order they are added to an account
    collateral: list[str]
    # symbol -> (token, feed) of every synthetic asset
    synthetic: dict[str, tuple[Any, Any]]

    def token(self, symbol: str) -> Any:
        if symbol in self.synthetic:
            return self.synthetic[symbol][0]
        return self.engine.tokens[symbol]

    def shock(self, bps: int) -> None:
        """Moves every feed, real and synthetic (`engine.feeds` holds both),
        by `bps` basis points."""
        shock_prices(self.engine, self.owner, {s: bps for s in self.engine.feeds})


def _block_later() -> None:
    """Mines a block 12 s later. Called before every measured operation that
    touches a market: funding then accrues over a real interval, as on a live
    chain (two transactions in the same second skip the funding maths and
    its writes, which made figures depend on the wall clock)."""
    chain.mine(deltatime=12)


def _synthetic_asset(engine: Engine, owner: Any, symbol: str) -> tuple[Any, Any]:
    token = owner.deploy(project.MockERC20, symbol, symbol, 18)
    feed = owner.deploy(project.MockAggregator, 8, f"{symbol} / USD", SYNTHETIC_PRICE * 10**8)
    engine.router.set_feed(token, feed, 3_600, WAD // 100, 10**6 * WAD, sender=owner)
    # Every listed market's feed gates LP requests: `publish_after` posts them all.
    engine.feeds[symbol] = feed
    return token, feed


def build_world(engine: Engine, owner: Any) -> World:
    """Lists 20 markets and 2 collateral assets, each on a feed of its own."""
    ch = engine.clearinghouse
    synthetic = {}
    template = list(ch.market_params(engine.record.markets["ETH-PERP"]))
    markets = []
    for i in range(max(POSITIONS)):
        symbol = f"M{i}"
        synthetic[symbol] = _synthetic_asset(engine, owner, symbol)
        template[0] = synthetic[symbol][0].address
        ch.list_market(tuple(template), sender=owner)
        # Atomic trades: the benchmark measures the trade itself.
        ch.set_order_rules(ch.num_markets() - 1, 1, 60, 0, True, 0, sender=owner)
        markets.append(ch.num_markets() - 1)
    extra = [f"C{i}" for i in range(max(ASSETS) - 3)]
    for symbol in extra:
        synthetic[symbol] = _synthetic_asset(engine, owner, symbol)
        ch.list_asset(synthetic[symbol][0], WAD // 5, WAD // 10, 10**30, sender=owner)
    return World(engine, owner, markets, ["WETH", "WBTC", "LINK", *extra], synthetic)


# Native units of each collateral an account deposits: ~$3,000 each.
AMOUNTS = {"WETH": 10**18, "WBTC": 5 * 10**6, "LINK": 200 * 10**18}
SYNTHETIC_AMOUNT = 30 * 10**18


def _amount(symbol: str) -> int:
    return AMOUNTS.get(symbol, SYNTHETIC_AMOUNT)


def _deposit(world: World, who: Any, spender: Any, sub: int, symbol: str) -> int:
    token = world.token(symbol)
    amount = _amount(symbol)
    # Twice the amount: the wallet keeps a balance, so a later withdrawal's
    # transfer is not charged the token's zero -> non-zero storage write.
    token.mint(who, 2 * amount, sender=who)
    token.approve(spender, amount, sender=who)
    return spender.deposit(sub, token, amount, sender=who).gas_used


def _fund_quote(world: World, who: Any, amount: int) -> None:
    usdc = world.engine.tokens["USDC"]
    usdc.mint(who, amount, sender=who)
    usdc.approve(world.engine.clearinghouse, amount, sender=who)


def collateral_rows(world: World, trader: Any) -> list[Row]:
    ch = world.engine.clearinghouse
    weth = world.token("WETH")
    first = _deposit(world, trader, ch, 0, "WETH")
    top_up = _deposit(world, trader, ch, 0, "WETH")
    half = _amount("WETH") // 2
    return [
        Row("deposit WETH (first, new balance)", first),
        Row("deposit WETH (top-up)", top_up),
        Row(
            "withdraw (partial, no debt: no pricing)",
            ch.withdraw(0, weth, half, sender=trader).gas_used,
        ),
        Row(
            "withdraw (whole balance, no debt)",
            ch.withdraw(0, weth, MAX_UINT, sender=trader).gas_used,
        ),
    ]


def health_check_rows(world: World, trader: Any) -> list[Row]:
    """Withdrawals that must price the account: 1, 3 and 5 assets held."""
    engine, owner = world.engine, world.owner
    harness = deploy_clearinghouse(
        project,
        owner,
        engine.tokens["USDC"].address,
        engine.router.address,
        2**128,
        core="ClearinghouseHarness",
    )
    for symbol in world.collateral:
        cfg = engine.clearinghouse.asset_config(world.token(symbol))
        harness.list_asset(
            world.token(symbol), cfg.im_haircut, cfg.mm_haircut, cfg.cap, sender=owner
        )
    rows = []
    for k in ASSETS:
        sub = k
        for symbol in world.collateral[:k]:
            _deposit(world, trader, harness, sub, symbol)
        # A 100 USDC debt: the withdrawal must now price every held asset.
        harness.harness_settle(trader, sub, -100 * 10**6, sender=owner)
        receipt = harness.withdraw(sub, world.token("WETH"), 10**16, sender=trader)
        rows.append(
            Row(f"withdraw with health check, {k} asset(s) held", receipt.gas_used, COMPOUND_CHECK)
        )
    return rows


def trade_rows(world: World, trader: Any, lp: Any) -> list[Row]:
    """Trades against the pool; the Nth position's open pays a health check over N."""
    engine = world.engine
    ch, usdc, pool = engine.clearinghouse, engine.tokens["USDC"], engine.pool
    big = 10**7 * 10**6  # 10 M USDC (the local quote cap is 100 M)
    usdc.mint(lp, big, sender=lp)
    usdc.approve(pool, big, sender=lp)
    _block_later()
    rows = lp_rows(world, lp, big // 2, deposit=True)
    _fund_quote(world, trader, big // 2)
    ch.deposit(200, usdc, 100_000 * 10**6, sender=trader)
    eth, one, limit = engine.record.markets["ETH-PERP"], 10**16, 2**255
    for name, size, price_limit in (
        ("trade: open (first position)", one, limit),
        ("trade: increase", one, limit),
        ("trade: close (whole)", -2 * one, 0),
    ):
        _block_later()
        rows.append(Row(name, ch.trade(200, eth, size, price_limit, sender=trader).gas_used))
    # A close in profit in a capped market values the pool (the realisation
    # cap): ETH +5 % between the open and the close, then back.
    ch.trade(200, eth, 2 * one, limit, sender=trader)
    shock_prices(engine, world.owner, {"WETH": 500})
    _block_later()
    close = ch.trade(200, eth, -2 * one, 0, sender=trader)
    rows.append(Row("trade: close (whole) in profit: the realisation cap", close.gas_used))
    shock_prices(engine, world.owner, {"WETH": -476})
    rows += order_rows(world, trader, lp)
    ch.deposit(201, usdc, 100_000 * 10**6, sender=trader)
    for n, market in enumerate(world.markets, start=1):
        _block_later()
        receipt = ch.trade(201, market, WAD, limit, sender=trader)
        if n in POSITIONS:
            rows.append(
                Row(f"trade: open the position no. {n} (IM check over {n})", receipt.gas_used)
            )
    # A whole close that keeps other positions reads the account's health:
    # through the engine's own `health_probe` when it pays no premium (the
    # close past an invalid price, docs/margin.md).
    _block_later()
    n = len(world.markets)
    receipt = ch.trade(201, world.markets[-1], -WAD, 0, sender=trader)
    rows.append(
        Row(f"trade: close (whole) beside {n - 1} positions (the health probe)", receipt.gas_used)
    )
    _block_later()
    rows += lp_rows(world, lp, 10**6, deposit=False)
    return rows


def lp_rows(world: World, lp: Any, amount: int, deposit: bool) -> list[Row]:
    """An LP request's life (ERC-7540, docs/orders.md): request, settle once
    the feeds publish after the delay (the pool's value over every market
    with open interest), claim."""
    pool = world.engine.pool
    kind = "deposit" if deposit else "redemption"
    if deposit:
        request = pool.requestDeposit(amount, lp, lp, sender=lp)
    else:
        request = pool.requestRedeem(amount, lp, lp, sender=lp)
    publish_after(world.engine, world.owner, int(pool.REQUEST_DELAY()))
    _block_later()
    settle = (pool.settle_deposit if deposit else pool.settle_redeem)(lp, sender=world.owner)
    _block_later()
    if deposit:
        claim = pool.deposit(pool.maxDeposit(lp), lp, sender=lp)
    else:
        claim = pool.redeem(pool.maxRedeem(lp), lp, lp, sender=lp)
    return [
        Row(f"LP {kind}: request", request.gas_used),
        Row(f"LP {kind}: settle (keeper)", settle.gas_used),
        Row(f"LP {kind}: claim", claim.gas_used),
    ]


def order_rows(world: World, trader: Any, settler: Any) -> list[Row]:
    """A delayed order's life (docs/orders.md): commit (the fee escrowed),
    settle on the round published after the delay, and a cancel after an
    order's window ran out (the fee refunded)."""
    engine = world.engine
    ch = engine.clearinghouse
    eth, one = engine.record.markets["ETH-PERP"], 10**16
    rules = ch.order_rules(eth)
    _block_later()
    commit = ch.commit_order(trader, 200, eth, one, 2**255, sender=trader)
    chain.mine(deltatime=rules.min_delay)
    shock_prices(engine, world.owner, {"WETH": 0})  # the round after the delay
    settle = ch.settle_order(trader, 200, sender=settler)
    _block_later()
    ch.commit_order(trader, 200, eth, -one, 0, sender=trader)
    chain.mine(deltatime=rules.min_delay + rules.window + 1)
    cancel = ch.cancel_order(trader, 200, sender=trader)
    ch.trade(200, eth, -one, 0, sender=trader)
    return [
        Row("order: commit (fee escrowed)", commit.gas_used),
        Row("order: settle (opens a position)", settle.gas_used),
        Row("order: cancel after its window (fee refunded)", cancel.gas_used),
    ]


def health_view_rows(world: World, trader: Any) -> tuple[list[Row], dict[tuple[int, int], int]]:
    """`account_health` over a grid of positions x collateral assets, and the
    marginal cost of one more of each (slopes of that grid)."""
    ch = world.engine.clearinghouse
    grid: dict[tuple[int, int], int] = {}
    rows = []
    for k in ASSETS:
        for n in POSITIONS:
            sub = 1_000 + 100 * k + n
            for symbol in world.collateral[:k]:
                _deposit(world, trader, ch, sub, symbol)
            for market in world.markets[:n]:
                ch.trade(sub, market, WAD // 10, 2**255, sender=trader)
            _block_later()
            gas = ch.account_health.estimate_gas_cost(trader, sub, sender=trader)
            grid[(n, k)] = gas
    for (n, k), gas in sorted(grid.items()):
        target = 150_000 if (n, k) == (10, 5) else None
        rows.append(
            Row(
                f"account_health view, {n} position(s), {k} asset(s)",
                gas,
                AAVE_HEALTH if k == 1 and n == 1 else "",
                target,
            )
        )
    lo, hi = min(POSITIONS), max(POSITIONS)
    per_position = (grid[(hi, 1)] - grid[(lo, 1)]) // (hi - lo)
    a_lo, a_hi = min(ASSETS), max(ASSETS)
    per_asset = (grid[(1, a_hi)] - grid[(1, a_lo)]) // (a_hi - a_lo)
    rows += [
        Row(
            "  marginal: one more position (1 -> 20, 1 asset)",
            per_position,
            "Aave ~30k per position",
            # Issue 20: each on a cold feed of its own (the profile's
            # shared-feed figure has the 8,000 target).
            20_000,
        ),
        Row(
            "  marginal: one more collateral asset (1 -> 5, 1 position)",
            per_asset,
            "Aave ~30k per position",
            20_000,
        ),
    ]
    return rows, grid


def portfolio_rows(world: World, trader: Any, linear: dict[tuple[int, int], int]) -> list[Row]:
    """`account_health` of portfolio-mode accounts with 1, 5, 10 and 20
    positions (1 collateral asset), beside the linear grid's same accounts,
    and the scenario grid alone (PortfolioRisk.requirement)."""
    ch, owner = world.engine.clearinghouse, world.owner
    shocks = [
        [((s * 7 + g * 13) % 61 - 30) * WAD // 100 for g in range(PORTFOLIO_GROUPS)]
        for s in range(PORTFOLIO_SCENARIOS)
    ]
    risk = owner.deploy(
        project.PortfolioRisk, shocks, WAD // 200, 5 * WAD, 3 * WAD // 2, [], [], 0, [], []
    )
    for i in range(len(world.markets)):
        group = 1 + i % (PORTFOLIO_GROUPS - 1)
        ch.set_risk_group(world.token(f"M{i}"), group, sender=owner)
    ch.set_portfolio_risk(risk, sender=owner)
    rows, gas = [], {}
    for n in POSITIONS:
        sub = 3_000 + n
        _deposit(world, trader, ch, sub, "WETH")
        receipt = ch.set_margin_mode(sub, True, sender=trader)
        if n == min(POSITIONS):
            rows.append(Row("set_margin_mode (to portfolio, no positions yet)", receipt.gas_used))
        for market in world.markets[:n]:
            ch.trade(sub, market, WAD // 10, 2**255, sender=trader)
        _block_later()
        gas[n] = ch.account_health.estimate_gas_cost(trader, sub, sender=trader)
        rows.append(
            Row(
                f"account_health view, portfolio mode, {n} position(s), 1 asset",
                gas[n],
                f"linear mode: {linear[(n, 1)]:,}; {LYRA_PORTFOLIO}"
                if n == 1
                else f"linear mode: {linear[(n, 1)]:,}",
            )
        )
    lo, hi = min(POSITIONS), max(POSITIONS)
    rows.append(
        Row("  marginal: one more position, portfolio mode", (gas[hi] - gas[lo]) // (hi - lo))
    )
    bounds = [10**21 * (g + 1) for g in range(8)]
    grid = risk.requirement.estimate_gas_cost(bounds, bounds, 10**21, max(POSITIONS))
    rows.append(
        Row(
            f"  the scenario grid alone ({PORTFOLIO_SCENARIOS} scenarios x "
            f"{PORTFOLIO_GROUPS} groups, PortfolioRisk.requirement as a transaction)",
            grid,
        )
    )
    return rows


def liquidation_rows(world: World, trader: Any, keeper: Any) -> list[Row]:
    """Partial liquidations of 1-position and 5-position accounts, and a
    collateral liquidation; run after everything else (they move every
    price). Longs of ~$10,000 notional per position on margin just above IM,
    then -8 %.

    The first liquidation a keeper ever makes also creates its quote balance
    and its held-asset bit (zero -> non-zero writes, ~57k gas; the insurance
    fund shares a word with the pool's cash, already set); the steady-state
    rows come after one such liquidation and 12 s of funding, as on a live
    chain."""
    engine = world.engine
    ch, usdc, weth = engine.clearinghouse, engine.tokens["USDC"], engine.tokens["WETH"]
    limit = 2**255
    ten_k = 10_000 * WAD // SYNTHETIC_PRICE

    def open_longs(sub: int, markets: list[int], parts: int = 1) -> None:
        # IM 10 % + fees
        ch.deposit(sub, usdc, 1_050 * len(markets) * 10**6 // parts, sender=trader)
        for m in markets:
            ch.trade(sub, m, ten_k // parts, limit, sender=trader)

    for sub in (31, 32):
        open_longs(sub, world.markets[:1])
    open_longs(35, world.markets[1:6])
    # The batch: 50 one-position accounts of $2,500, half on each of two
    # markets (within one liquidation window's capacity).
    batch = [(trader.address, 100 + i, world.markets[i % 2], 2**96, 0) for i in range(BATCH)]
    for _, sub, market, _, _ in batch:
        open_longs(sub, [market], parts=4)
    # 1 WETH (90 % counts at MM) backing a 7 ETH long.
    _deposit(world, trader, ch, 40, "WETH")
    ch.trade(40, engine.record.markets["ETH-PERP"], 7 * WAD, limit, sender=trader)
    world.shock(-800)
    rows = []
    cases = (
        (31, 1, "keeper's first ever"),
        (32, 1, "steady state"),
        (35, 5, "steady state"),
    )
    lens = lens_at(project, engine)
    for sub, n, when in cases:
        assert lens.is_liquidatable(ch, trader, sub)
        _block_later()
        market = world.markets[0 if n == 1 else 1]
        receipt = ch.liquidate(trader, sub, market, 2**96, 0, sender=keeper)
        target = 150_000 if (n, when) == (1, "steady state") else None
        rows.append(
            Row(
                f"liquidate: {n}-position account ({when})",
                receipt.gas_used,
                AAVE_LIQUIDATION,
                target,
            )
        )
    # A fresh liquidation window, then the 50 in one `liquidate_many`.
    chain.mine(deltatime=31)
    assert all(lens.is_liquidatable(ch, trader, sub) for _, sub, _, _, _ in batch)
    receipt = ch.liquidate_many(batch, sender=keeper)
    done = receipt.events.filter(ch.Liquidation)
    skipped = [revert_reason(e.reason) for e in receipt.events.filter(ch.LiquidationSkipped)]
    assert len(done) == BATCH, f"{len(skipped)} items skipped: {skipped}"
    rows.append(
        Row(f"liquidate_many: {BATCH} one-position accounts on two markets", receipt.gas_used)
    )
    rows.append(
        Row(
            f"liquidate_many: the same, per account ({BATCH} a batch)",
            receipt.gas_used // BATCH,
            AAVE_LIQUIDATION,
            60_000,
        )
    )
    # ETH -30 % in all: the 7 ETH long is closed whole, 1 WETH is left against a debt.
    shock_prices(engine, world.owner, {"WETH": -2_400})
    ch.liquidate(trader, 40, engine.record.markets["ETH-PERP"], 2**96, 0, sender=keeper)
    assert ch.balance_of(trader, 40, usdc) < 0 and lens.is_liquidatable(ch, trader, 40)
    _fund_quote(world, keeper, 10**9)
    _block_later()
    receipt = ch.liquidate_collateral(trader, 40, weth, 1_000 * 10**6, 0, sender=keeper)
    rows.append(
        Row("liquidate_collateral (partial repay, WETH)", receipt.gas_used, AAVE_LIQUIDATION)
    )
    return rows


def keeper_read_rows(world: World, owners: list[Any], url: str) -> list[Row]:
    """Gas of the keeper's batch reads: `account_healths` pages of 50 over a
    crowd of 1,000 one-position accounts (the registry holds a few more)."""
    ch = world.engine.clearinghouse
    lens = lens_at(project, world.engine)
    first = ch.num_accounts()  # the crowd's accounts follow the benchmark's own
    open_crowd_fast(world.engine, owners, 1_000, url)
    _block_later()
    pages = [
        lens.account_healths.estimate_gas_cost(ch, start, PAGE)
        for start in range(first, first + 1_000, PAGE)
    ]
    rows = [Row(f"account_healths view, one page of {PAGE} accounts", pages[0])]
    for n in (100, 1_000):
        count = n // PAGE
        rows.append(
            Row(f"account_healths views over {n:,} accounts ({count} calls)", sum(pages[:count]))
        )
    rows.append(
        Row(
            f"accounts_to_liquidate view, one page of {PAGE}",
            lens.accounts_to_liquidate.estimate_gas_cost(ch, first, PAGE),
        )
    )
    return rows


def measure() -> tuple[list[Row], dict[tuple[int, int], int]]:
    # Its own anvil, without step traces (benchmarks/nodes.py says why).
    with local_deployment() as (provider, engine):
        owner, trader, lp, keeper = accounts.test_accounts[:4]
        world = build_world(engine, owner)
        # The crowd of the keeper's pages first: once 20 markets hold open
        # interest, each of its 1,000 capped trades values all of them (the
        # pool's caps need its value), and anvil's step traces (ape-foundry
        # always turns them on) outgrew this machine's 24 GB.
        keeper_rows = keeper_read_rows(world, list(accounts.test_accounts[4:8]), provider.uri)
        rows = collateral_rows(world, trader)
        rows += health_check_rows(world, trader)
        rows += trade_rows(world, trader, lp)
        view_rows, grid = health_view_rows(world, trader)
        rows += view_rows
        rows += portfolio_rows(world, trader, grid)
        rows += keeper_rows
        rows += liquidation_rows(world, trader, keeper)
        return rows, grid


def main() -> None:
    logger.set_level("ERROR")
    rows, grid = measure()
    console = Console(width=150)
    table = Table(title=f"xmargin gas on anvil ({NETWORK}), whole transaction")
    for name, justify in (
        ("operation", "left"),
        ("gas", "right"),
        ("target", "right"),
        ("", "left"),
        ("anchor", "left"),
    ):
        table.add_column(name, justify=justify)
    for r in rows:
        table.add_row(
            r.operation, f"{r.gas:,}", f"<= {r.target:,}" if r.target else "", r.verdict, r.anchor
        )
    console.print(table)
    sizes = contract_sizes(project)
    size_table = Table(
        title=f"runtime size (bytes) against {HEADROOM_LIMIT:,} and EIP-170's {EIP170_LIMIT:,}"
    )
    for name in ("contract", "bytes", "under 20,000", "under EIP-170"):
        size_table.add_column(name, justify="left" if name == "contract" else "right")
    for name, size in sizes.items():
        size_table.add_row(
            name, f"{size:,}", f"{HEADROOM_LIMIT - size:,}", f"{EIP170_LIMIT - size:,}"
        )
    console.print(size_table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "network": NETWORK,
        "basis": "whole transaction (receipt gas_used; views: eth_estimateGas)",
        "rows": [asdict(r) | {"verdict": r.verdict} for r in rows],
        "gas": {r.operation.strip(): r.gas for r in rows},
        "health_view_grid": {f"{n} positions, {k} assets": g for (n, k), g in grid.items()},
        "sizes": sizes,
        "eip170_limit": EIP170_LIMIT,
        "headroom_limit": HEADROOM_LIMIT,
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
