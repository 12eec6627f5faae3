"""The fuzz machine's engine, deployed the same way through either driver.

`build(d)` deploys and configures everything the state machine starts from
(tokens, feeds, router, the Clearinghouse and its extensions, two markets,
the pool and its vault, portfolio margin, funded actors) through a
`Deployer`: `ApeDeployer` on Ape's in-process chain (the CI suite), or
`tests.fuzz.boa_chain.BoaDeployer` on titanoboa's EVM (the long runs).
Both deploy the same compiled bytecode with the same arguments in the same
order. The addresses differ (Ape's test accounts, the titanoboa driver's
own), and so does the clock after a refusal (Ape's chain mines a block for
a reverted transaction, titanoboa's does not): a sequence one driver found
runs through the same rules and checks on the other, but its times after
a refusal are a second apart (docs/testing.md).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from tests.conftest import (
    BTC_USD,
    ETH_USD,
    FEED_DECIMALS,
    HEARTBEAT,
    MAX_PRICE,
    MIN_PRICE,
    QUOTE_CAP,
    WBTC_CAP,
    WBTC_PARAMS,
    WETH_CAP,
    WETH_PARAMS,
)
from tests.markets import allow_atomic
from tests.portfolio_config import CONFIG as PM_CONFIG
from tests.unit.test_trading_properties import MARKETS
from xmargin.chain.engine import Engine
from xmargin.maths import liquidation as liq
from xmargin.maths import portfolio as pm
from xmargin.maths.model import AssetParams

E18 = 10**18
USDC = 10**6
WALLET_USDC = 50_000 * USDC
WALLET_WETH = 20 * E18
WALLET_WBTC = 2 * 10**8
LP_SEED = 200_000 * USDC
LP_DELAY = 5
LIQUIDATOR_USDC = 1_000_000 * USDC
INSURANCE_SEED = 1_000 * USDC
START_USDC = 10_000 * USDC
START_WETH = 2 * E18
ROLES = ("owner", "guardian", "trader", "hedger", "keeper", "stranger", "lp")


class Deployer(Protocol):
    """What `build` needs of a backend."""

    chain: Any

    def account(self, i: int) -> Any: ...

    def deploy(self, name: str, *args: Any, sender: Any) -> Any: ...

    def clearinghouse(self, sender: Any, quote: Any, oracle: Any, cap: int) -> Any: ...

    def engine(
        self, ch: Any, oracle: Any, tokens: dict, feeds: dict, pool: Any, lens: Any
    ) -> Engine:
        """An `xmargin.chain.engine.Engine` over these contracts (the keeper's)."""
        ...


class ApeDeployer:
    """`Deployer` over Ape's project, accounts and chain."""

    def __init__(self, project: Any, accounts: Any, chain: Any) -> None:
        self.project, self.accounts, self.chain = project, accounts, chain

    def account(self, i: int) -> Any:
        return self.accounts[i]

    def deploy(self, name: str, *args: Any, sender: Any) -> Any:
        return sender.deploy(getattr(self.project, name), *args)

    def clearinghouse(self, sender: Any, quote: Any, oracle: Any, cap: int) -> Any:
        from xmargin.chain.abi import deploy_clearinghouse

        return deploy_clearinghouse(self.project, sender, quote.address, oracle.address, cap)

    def engine(
        self, ch: Any, oracle: Any, tokens: dict, feeds: dict, pool: Any, lens: Any
    ) -> Engine:
        from tests.engines import engine_over

        return engine_over(
            ch, oracle, tokens, feeds, {"ETH": 0, "BTC": 1}, pool, deployer="", lens=lens
        )


def build(d: Deployer) -> dict[str, Any]:
    """Two markets (ETH on the WETH feed, BTC on the WBTC feed), default
    liquidation parameters, capital caps, a funded pool and insurance fund,
    traders with wallets of all three tokens and 10,000 USDC in each
    sub-account (2 WETH in sub-account 0), liquidators with USDC; hedger
    operates trader's sub-account 1; an unlisted token and the batch
    reader. Returns the machine's context."""
    owner, guardian, trader, hedger, keeper, stranger, lp = (d.account(i) for i in range(7))

    def token(decimals: int, symbol: str) -> Any:
        return d.deploy("MockERC20", f"Mock {symbol}", symbol, decimals, sender=owner)

    def feed(usd: int, description: str) -> Any:
        return d.deploy(
            "MockAggregator", FEED_DECIMALS, description, usd * 10**FEED_DECIMALS, sender=owner
        )

    def fund(tok: Any, who: Any, amount: int, spender: Any) -> None:
        tok.mint(who, amount, sender=who)
        tok.approve(spender, amount, sender=who)

    lens = d.deploy("ClearinghouseLens", sender=owner)
    oracle = d.deploy("OracleRouter", sender=owner)
    usdc = token(6, "USDC")
    weth = token(18, "WETH")
    eth_feed = feed(ETH_USD, "ETH / USD")
    # Hostile-capable (contracts/mocks/MockHostileToken.vy): an ordinary
    # ERC-20 until the machine switches its mode.
    wbtc = d.deploy("MockHostileToken", "Mock WBTC", "WBTC", 8, sender=owner)
    btc_feed = feed(BTC_USD, "BTC / USD")
    ch = d.clearinghouse(owner, usdc, oracle, QUOTE_CAP)
    for tok, f, p, cap in (
        (weth, eth_feed, WETH_PARAMS, WETH_CAP),
        (wbtc, btc_feed, WBTC_PARAMS, WBTC_CAP),
    ):
        oracle.set_feed(tok, f, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
        ch.list_asset(tok, p.im_haircut, p.mm_haircut, cap, sender=owner)
    ch.set_guardian(guardian, sender=owner)
    params = []
    for p, tok in zip(MARKETS, (weth, wbtc), strict=True):
        p = replace(p, asset=str(tok.address))
        ch.list_market(p.as_tuple(), sender=owner)
        allow_atomic(ch, owner)
        params.append(p)
    # Delayed orders on both markets (atomic trades stay allowed): a 1 s
    # delay on ETH with a 0.5 USDC settlement fee, 3 s on BTC (so a
    # settlement can come too early: one block is a second), a 60 s window.
    ch.set_order_rules(0, 1, 60, USDC // 2, True, 0, sender=owner)
    ch.set_order_rules(1, 3, 60, 0, True, 0, sender=owner)
    # Liquidations nobody can sandwich: 2 x maker fee x skew scale per 30 s,
    # 10 ETH and 0.5 of the second market's unit, so the cap binds.
    ch.set_liquidation_capacity(30, E18, sender=owner)
    ch.set_liquidation_params(liq.LiquidationParams().as_tuple(), sender=owner)
    # The pool's capital caps (docs/pool.md), tight enough to bind when two
    # accounts lever up the same way or a gap makes traders win: on the
    # 200,000 seed, 160,000 of net notional per market (one account levered
    # to its IM limit stays under), 200,000 together, traders' profit 12,000
    # per market (6 %: a gap on a levered account passes it, and opens
    # auto-deleveraging back to 4 %); a 5 % cash buffer of net notional.
    for m in range(len(params)):
        ch.set_market_caps(m, 8 * E18 // 10, 6 * E18 // 100, 4 * E18 // 100, sender=owner)
    ch.set_total_reserve_factor(E18, sender=owner)
    ch.set_pool_buffer(5 * E18 // 100, sender=owner)
    # LP money by ERC-7540 request, settled LP_DELAY s later (docs/orders.md).
    pool = d.deploy("LiquidityPool", ch.address, "xmargin LP", "xLP", LP_DELAY, sender=owner)
    ch.set_pool(pool, sender=owner)
    # Enough wallet and allowance for every request a long run can draw
    # (each deposits at most 10 % of the seed; found: 2x ran out at step ~50);
    # the stranger funds its round trips around price rounds (attack 2).
    for who in (lp, stranger):
        fund(usdc, who, 10 * LP_SEED, pool)
        usdc.approve(pool, 2**256 - 1, sender=who)
    pool.requestDeposit(LP_SEED, lp, lp, sender=lp)
    chain = d.chain
    chain.pending_timestamp = chain.blocks.head.timestamp + LP_DELAY
    for f in (eth_feed, btc_feed):  # every listed market's feed gates
        f.set_answer(f.answer(), sender=owner)
    pool.settle_deposit(lp, sender=lp)
    pool.deposit(LP_SEED, lp, sender=lp)
    fund(usdc, owner, INSURANCE_SEED, ch)
    ch.fund_insurance(INSURANCE_SEED, sender=owner)
    # Portfolio margin: the hand-computed examples' scenario set and groups.
    groups = pm.RiskGroups(
        PM_CONFIG.groups.names,
        {
            str(weth.address): PM_CONFIG.groups.of("WETH"),
            str(wbtc.address): PM_CONFIG.groups.of("WBTC"),
            str(usdc.address): PM_CONFIG.groups.of("USDC"),
        },
    )
    for asset, group in groups.members.items():
        ch.set_risk_group(asset, group, sender=owner)
    risk = d.deploy("PortfolioRisk", *pm.risk_set_args(PM_CONFIG), sender=owner)
    ch.set_portfolio_risk(risk, sender=owner)
    tokens = (usdc, weth, wbtc)
    for who, wallet in ((trader, True), (hedger, True), (keeper, False), (stranger, False)):
        fund(usdc, who, WALLET_USDC if wallet else LIQUIDATOR_USDC, ch)
        if wallet:
            fund(weth, who, WALLET_WETH, ch)
            fund(wbtc, who, WALLET_WBTC, ch)
        # Unlimited allowances: a deposit fails only on the wallet balance.
        for t in tokens:
            t.approve(ch, 2**256 - 1, sender=who)
    ch.set_operator(1, hedger, True, sender=trader)
    # Margin already in place, so trades and liquidations come within a few steps.
    for who in (trader, hedger):
        for sub in (0, 1):
            ch.deposit(sub, usdc, START_USDC, sender=who)
        ch.deposit(0, weth, START_WETH, sender=who)
    # The sandwicher trades from stranger/0 (the rest of its wallet repays
    # collateral liquidations).
    ch.deposit(0, usdc, 10 * START_USDC, sender=stranger)
    engine = d.engine(
        ch,
        oracle,
        {"USDC": usdc, "WETH": weth, "WBTC": wbtc},
        {"WETH": eth_feed, "WBTC": btc_feed},
        pool,
        lens,
    )
    return {
        "chain": chain,
        "owner": owner,
        "guardian": guardian,
        "ch": ch,
        "params": params,
        "feeds": [eth_feed, btc_feed],
        "usdc": usdc,
        "tokens": tokens,
        "unlisted": token(18, "NOPE"),
        # One view call for all the invariants' reads (contracts/mocks/StateReader.vy).
        "reader": d.deploy("StateReader", sender=owner),
        "pool": pool,
        "engine": engine,
        "lp": lp,
        "trader": trader,
        "hedger": hedger,
        "keeper": keeper,
        "stranger": stranger,
        "assets": {
            str(usdc.address): AssetParams(6),
            str(weth.address): WETH_PARAMS,
            str(wbtc.address): WBTC_PARAMS,
        },
        "pm_config": replace(PM_CONFIG, groups=groups),
    }
