"""The demo behind `make demo`: a local chain, a deployment, an LP, traders, a shock.

1. deploy from `config/local.yaml` (mock tokens and feeds, two perp markets,
   the LiquidityPool);
2. an LP deposits 1,000,000 USDC into the pool;
3. traders deposit collateral and trade: a hedger (ETH collateral, short
   ETH-PERP), a leveraged ETH bull, a BTC long, an isolated BTC short in
   a second sub-account, and the hedger's book again in a sub-account in
   portfolio margin mode (the config's scenario set), to compare the two
   modes' requirements on the same book;
4. print positions, every account's health (as the chain reports it and as
   `xmargin.maths.model` / `xmargin.maths.perps` recompute it from the same inputs) and
   the pool;
5. move prices (ETH -30 %, LINK -50 %, BTC +10 %) and print them again: who
   is now below IM or liquidatable;
6. show that bad requests revert with a reason and change nothing;
7. the keeper (xmargin.ops.keeper, test account 9) scans every account in
   batches and liquidates each one below maintenance margin; print its
   liquidations, the accounts after, and the insurance fund, bad debt and
   pool totals (xmargin.chain.summary, as `xmargin report` reads them);
8. write two charts with the CLI's functions (`reports/`, or
   $XMARGIN_REPORTS_DIR): `health.png`, the named account nearest its
   maintenance margin against price moves (`xmargin chart`), and
   `report.png` (`xmargin report`).

A crowd of CROWD accounts (xmargin.ops.crowd, sub-accounts 100+ of test accounts
6 and 7) trades alongside the named accounts so the keeper has work to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ape.exceptions import APINotImplementedError, ProviderError
from rich.console import Console

from xmargin.chain.config import load_config
from xmargin.chain.connect import NetworkInfo, network_info, node_chain_id
from xmargin.chain.deployments import REPO_ROOT, DeploymentError
from xmargin.chain.engine import (
    AccountView,
    Engine,
    load_engine,
    options_in_portfolio_mode,
    publish_after,
    read_account,
    read_markets,
    revert_reason,
    shock_prices,
    steady_clock,
)
from xmargin.chain.summary import EngineSummary, read_summary
from xmargin.maths.fixed_point import WAD, format_units, parse_units
from xmargin.maths.pool import PoolState, market_terms
from xmargin.ops.crowd import open_crowd
from xmargin.ops.deploy import deploy
from xmargin.ops.keeper import Keeper, KeeperConfig, PassStats
from xmargin.ops.lp import claim_deposit, request_deposit, vault_of
from xmargin.ui import charts
from xmargin.ui.figures import account_chart
from xmargin.ui.report import (
    adl_table,
    caps_table,
    health_table,
    liquidations_table,
    location,
    options_table,
    pool_table,
    positions_table,
    price_table,
    ratio,
    summary_rows,
    totals_table,
    usd,
)

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.managers.accounts import AccountManager
    from ape.managers.project import ProjectManager


@dataclass(frozen=True)
class DemoAccount:
    label: str
    # index into the node's test accounts (0 deploys and owns the engine)
    index: int
    sub_id: int
    # symbol -> amount in whole tokens
    deposits: dict[str, str]
    # margined in portfolio mode (set before it trades)
    portfolio: bool = False


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("hedger", 1, 0, {"USDC": "5000", "WETH": "10"}),
    DemoAccount("eth-bull", 2, 0, {"USDC": "10000", "LINK": "1000"}),
    DemoAccount("btc-long", 3, 0, {"USDC": "5000", "WBTC": "0.5"}),
    DemoAccount("diversified", 4, 0, {"WETH": "5", "WBTC": "0.25", "LINK": "1000"}),
    DemoAccount("isolated-short", 4, 1, {"USDC": "10000"}),
    DemoAccount("hedger-pm", 1, 1, {"USDC": "5000", "WETH": "10"}, portfolio=True),
)

# (account label, sub_id, market symbol, size in whole units; < 0 sells)
DEMO_TRADES: tuple[tuple[str, int, str, str], ...] = (
    ("hedger", 0, "ETH-PERP", "-10"),
    ("eth-bull", 0, "ETH-PERP", "17"),
    ("btc-long", 0, "BTC-PERP", "1"),
    ("isolated-short", 1, "BTC-PERP", "-1"),
    ("hedger-pm", 1, "ETH-PERP", "-10"),
)

# Option books on WETH (config/local.yaml's series, 30 days out), each on a
# sub-account of its own: (label, test account, sub_id, deposits, legs:
# (strike USD, call?, contracts; < 0 sells)). One order per account is
# pending at a time: the legs go in rounds.
OPTION_BOOKS: tuple[
    tuple[str, int, int, dict[str, str], tuple[tuple[int, bool, str], ...]], ...
] = (
    ("covered call", 3, 5, {"WETH": "1", "USDC": "1000"}, ((3_200, True, "-1"),)),
    ("put spread", 3, 6, {"USDC": "1000"}, ((3_000, False, "1"), (2_800, False, "-1"))),
    ("short strangle", 3, 7, {"USDC": "2000"}, ((3_200, True, "-1"), (2_800, False, "-1"))),
)

LP_DEPOSIT = "1000000"
CROWD = 40
KEEPER_INDEX = 9
# Quote tokens the keeper holds to buy collateral of accounts left in debt.
KEEPER_WALLET = "250000"

# Price moves of the shock, in basis points.
SHOCK_BPS: dict[str, int] = {"WETH": -3_000, "LINK": -5_000, "WBTC": 1_000}

# The squeeze after it: a whale takes what the pool's reserve leaves of the
# BTC longs, then BTC rises by the move that takes traders' BTC profit to
# SQUEEZE_OVER times its cap, and the keeper auto-deleverages.
WHALE_INDEX = 8
WHALE_MARGIN = "150000"
SQUEEZE_MARKET, SQUEEZE_ASSET = "BTC-PERP", "WBTC"
SQUEEZE_OVER = 1.5

# Where the demo writes its charts (health.png, report.png); the variable
# overrides it (tests).
REPORTS_DIR_ENV = "XMARGIN_REPORTS_DIR"
DEFAULT_REPORTS_DIR = REPO_ROOT / "reports"


def reports_dir() -> Path:
    return Path(os.environ.get(REPORTS_DIR_ENV) or DEFAULT_REPORTS_DIR)


@dataclass(frozen=True)
class DemoResult:
    before: list[AccountView]
    after: list[AccountView]

    @property
    def model_agrees(self) -> bool:
        return all(v.model_agrees for v in (*self.before, *self.after))


def run_demo(
    project: ProjectManager, provider: ProviderAPI, accounts: AccountManager, console: Console
) -> DemoResult:
    network = network_info(provider)
    if not network.is_local:
        raise DeploymentError("the demo mints mock tokens: run it on a local network")
    _check_signing_chain(provider)
    steady_clock(provider)  # the figures below do not depend on the machine's speed
    owner = accounts.test_accounts[0]
    config = load_config("local")

    console.rule(f"xmargin demo on {network.label} (chain {network.chain_id})")
    result = deploy(project, provider, owner, config, network, log=lambda m: None)
    console.print(
        f"deployed from config '{config.name}' in {result.transactions} transactions: "
        f"Clearinghouse {result.record.contracts['Clearinghouse']}, "
        f"OracleRouter {result.record.contracts['OracleRouter']}"
    )
    engine = load_engine(project, result.record)
    decimals = {s: a.decimals for s, a in result.record.assets.items()}

    lp = accounts.test_accounts[5]
    lp_amount = parse_units(LP_DEPOSIT, decimals[engine.quote_symbol])
    _lp_deposit(engine, accounts, console, lp, lp_amount)
    for acct in DEMO_ACCOUNTS:
        _deposit(engine, accounts.test_accounts[acct.index], acct, decimals)
    _orders(engine, accounts, console, owner)

    crowd = open_crowd(engine, [accounts.test_accounts[6], accounts.test_accounts[7]], CROWD)
    console.print(f"  a crowd of {len(crowd)} accounts opens positions at 1.5x to 8x leverage")

    labels = [a.label for a in DEMO_ACCOUNTS]
    prices = _prices(engine)
    console.print(price_table("Oracle prices", prices))
    before = _read_all(engine, accounts)
    _show(console, engine, "before the shock", before, labels, decimals)
    _compare_modes(console, before, labels)
    # After the perps' readings: the option rounds move the clock, and
    # funding with it, which the readings above are figures of.
    books = _option_books(engine, accounts, console, owner, decimals)

    shock_prices(engine, owner, SHOCK_BPS)
    console.print(price_table("Price shock", _prices(engine), before=prices))
    after = _read_all(engine, accounts)
    _show(console, engine, "after the shock", after, labels, decimals)
    for b, a, label in zip(before, after, labels, strict=True):
        change = a.health.equity - b.health.equity
        if change:
            verb = "up" if change > 0 else "down"
            console.print(
                f"  {label}/{a.sub_id}: equity {verb} ${usd(abs(change))}, now {a.status}"
            )

    _show_option_books(engine, console, books, "after the shock")
    _bad_requests(engine, accounts, console, decimals)
    final, summary = _keeper(engine, accounts, console, decimals, labels, network)
    _on_snapshot(
        engine, console, lambda: _squeeze_round(engine, accounts, console, decimals, network)
    )

    out = DemoResult(before=before, after=after)
    verdict = "agrees" if out.model_agrees else "[red]DISAGREES[/red]"
    console.print(
        f"xmargin.maths.model {verdict} with the chain on equity, IM and MM of all "
        f"{len(before) + len(after)} readings, to the wei."
    )
    _charts(engine, console, final, labels, network, summary)
    return out


def _check_signing_chain(provider: ProviderAPI) -> None:
    """Refuses to send from test accounts that sign for another chain id.

    Ape's node provider (`ethereum:local:node`) signs for the chain id in
    its config (`node.ethereum.local.chain_id`, 1337 by default), whatever
    the node it reaches says; a plain anvil is chain 31337 and refuses every
    transaction ("invalid chain id for signer").
    """
    node_chain = node_chain_id(provider)
    # `network.chain_id` is the node's own for a local network (records are
    # keyed by it); the signer uses the provider's configured one.
    signs_for = provider.chain_id
    if node_chain != signs_for:
        settings = json.dumps({"ethereum": {"local": {"chain_id": node_chain}}})
        raise DeploymentError(
            f"Ape's {provider.name} provider signs for chain {signs_for} but the node "
            f"is chain {node_chain}: start the node with `--chain-id {signs_for}`, or "
            f"give Ape the node's chain id: `--provider-settings '{settings}'` (or "
            f"`chain_id: {node_chain}` under `node: ethereum: local:` in ape-config.yaml)"
        )


def _charts(
    engine: Engine,
    console: Console,
    views: list[AccountView],
    labels: list[str],
    network: NetworkInfo,
    summary: EngineSummary,
) -> None:
    """Writes the health chart of the named account nearest its maintenance
    margin, and the report chart (of `summary`, read at the head block), with
    the CLI's functions."""
    directory = reports_dir()
    block = engine.clearinghouse.chain_manager.blocks.head.number
    where = location(network, block)
    # Lowest equity / MM among the accounts with positions.
    view, label = min(
        ((v, n) for v, n in zip(views, labels, strict=True) if v.health.mm > 0),
        key=lambda pair: pair[0].health.equity * 10**18 // pair[0].health.mm,
    )
    health = directory / "health.png"
    account_chart(engine, view, engine.asset_params(), health, where, label=label)
    report = directory / "report.png"
    charts.report_chart(summary, report)
    console.print(
        f"charts: {_shown(health)} ({label}/{view.sub_id}, equity/MM {ratio(view.health)}) "
        f"and {_shown(report)}"
    )


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _keeper(
    engine: Engine,
    accounts: AccountManager,
    console: Console,
    decimals: dict[str, int],
    labels: list[str],
    network: NetworkInfo,
) -> tuple[list[AccountView], EngineSummary]:
    """One keeper pass over every account, then its liquidations and the
    totals; returns the named accounts after it."""
    ch = engine.clearinghouse
    quote_decimals = decimals[engine.quote_symbol]
    keeper_account = accounts.test_accounts[KEEPER_INDEX]
    quote = engine.tokens[engine.quote_symbol]
    quote.mint(keeper_account, parse_units(KEEPER_WALLET, quote_decimals), sender=keeper_account)
    names = {
        (str(accounts.test_accounts[a.index].address), a.sub_id): a.label for a in DEMO_ACCOUNTS
    }
    entries: list[dict[str, Any]] = []
    keeper = Keeper(engine, keeper_account, KeeperConfig(), log=entries.append)
    stats = keeper.run_once()
    console.rule("Keeper")
    console.print(
        f"keeper valued {stats.accounts} accounts from {stats.events} events "
        f"at block {stats.block}: {stats.liquidatable} below maintenance margin; "
        f"{stats.liquidations} liquidations and {stats.collateral_liquidations} collateral "
        f"liquidations in {stats.seconds:.1f} s, {stats.lost_races} lost races, "
        f"{stats.reverted} reverts"
    )
    done = [e for e in entries if e["event"] in ("liquidated", "collateral_liquidated")]
    for e in done:
        e["label"] = names.get((e["owner"], e["sub_id"]), "crowd")
    console.print(liquidations_table("Liquidations", done, decimals, engine.quote_symbol))
    after = _read_all(engine, accounts)
    console.print(health_table("Named accounts after the keeper", after, labels, decimals))
    left = [r for r in keeper.scan(ch.chain_manager.blocks.head.number) if r.equity < r.mm]
    console.print(f"accounts still below maintenance margin: {len(left)}")
    summary = read_summary(engine, network.label)
    console.print(
        totals_table("Insurance fund, bad debt and pool", summary_rows(summary), quote_decimals)
    )
    held = quote.balanceOf(ch.address)
    ledgers = (
        ch.pool_balance()
        + ch.order_fees()
        + summary.insurance_fund
        + sum(
            ch.balance_of(owner, sub_id, quote.address)
            for owner, sub_id in _all_accounts(accounts, keeper)
        )
    )
    console.print(
        f"USDC held by the Clearinghouse {format_units(held, quote_decimals, 2)} == "
        f"accounts + pool + insurance + order fees {format_units(ledgers, quote_decimals, 2)}: "
        f"{'yes' if held == ledgers else '[red]NO[/red]'}"
    )
    if held != ledgers:
        raise AssertionError("tokens held differ from the ledgers")
    return after, summary


def _on_snapshot(engine: Engine, console: Console, run: Callable[[], None]) -> None:
    """`run()` on a snapshot of the chain (anvil's `evm_snapshot`), reverted
    after it: the squeeze round leaves the chain as the keeper left it after
    the shock, which the charts and the CLI examples (docs/cli.md) read."""
    provider = engine.clearinghouse.provider
    try:
        snapshot = provider.make_request("evm_snapshot", [])
    except (ProviderError, APINotImplementedError):
        console.print("(no squeeze round: the node cannot take a snapshot; anvil can)")
        return
    try:
        run()
    finally:
        provider.make_request("evm_revert", [snapshot])
    console.print(
        "(the squeeze ran on a snapshot of the chain, now reverted: "
        "the chain is as the keeper left it after the shock)"
    )


def _squeeze_round(
    engine: Engine,
    accounts: AccountManager,
    console: Console,
    decimals: dict[str, int],
    network: NetworkInfo,
) -> None:
    """Auto-deleveraging, shown: a whale goes long BTC with 90 % of what the
    reserve and the total reserve leave; BTC then squeezes up by the move
    that takes traders' BTC profit to SQUEEZE_OVER times its cap (no trade
    can prevent a price move); one keeper pass liquidates the shorts it
    hurt and auto-deleverages the winners, best ADL rank first, back to the
    market's target (nothing, if the BTC market is not capped or has no
    net long)."""
    ch = engine.clearinghouse
    market_id = engine.record.markets[SQUEEZE_MARKET]
    reserve, pnl, target = (int(f) for f in ch.market_caps(market_id))
    if reserve == 0:
        return
    console.rule("Squeeze: auto-deleveraging")
    quote = engine.tokens[engine.quote_symbol]
    whale = accounts.test_accounts[WHALE_INDEX]
    margin = parse_units(WHALE_MARGIN, decimals[engine.quote_symbol])
    quote.mint(whale, margin, sender=whale)
    quote.approve(ch.address, margin, sender=whale)
    ch.deposit(0, quote.address, margin, sender=whale)
    head = ch.chain_manager.blocks.head.number
    (m,) = (v for v in read_markets(engine, head) if v.market_id == market_id)
    pool = PoolState(*ch.pool_state())
    terms = market_terms(m.state, m.params, m.price, m.index)
    longs = m.state.long_oi * m.price // WAD
    room = min(
        reserve * pool.value // WAD - longs,
        ch.total_reserve_factor() * pool.value // WAD
        - pool.side_notional
        + terms.side_notional
        - longs,
    )
    size = room * 9 // 10 * WAD // m.price
    if size > 0:
        ch.trade(0, market_id, size, 2**255, sender=whale)
        console.print(
            f"  whale/0 deposits {WHALE_MARGIN} USDC and goes long "
            f"{format_units(size, 18, 4)} {SQUEEZE_MARKET} (90 % of what the reserve leaves)"
        )
    a = ch.adl_state(market_id)
    net = ch.market_state(market_id).skew * m.price // WAD
    if net <= 0:
        console.print(f"  {SQUEEZE_MARKET} has no net long: no squeeze")
        return
    # profit + net * move > over * pnl * (value - net * move), solved for move
    want = int(SQUEEZE_OVER * pnl) * a.value // WAD - a.profit
    bps = -(-want * 10_000 * WAD // (net * (WAD + int(SQUEEZE_OVER * pnl))))
    prices = _prices(engine)
    shock_prices(engine, accounts.test_accounts[0], {SQUEEZE_ASSET: bps})
    console.print(price_table("Squeeze", _prices(engine), before=prices))
    before = read_summary(engine, network.label)
    console.print(caps_table("Capital caps after the squeeze", before.caps))
    entries: list[dict[str, Any]] = []
    keeper = Keeper(
        engine, accounts.test_accounts[KEEPER_INDEX], KeeperConfig(), log=entries.append
    )
    stats = keeper.run_once()
    console.print(
        f"keeper pass: {stats.liquidations} liquidations, {stats.adl} auto-deleveraging "
        f"closes, {stats.lost_races} lost races, {stats.reverted} reverts"
    )
    after = read_summary(engine, network.label, from_block=before.block + 1)
    console.print(
        adl_table("Auto-deleveraging (best rank first)", after.adls, after.quote_decimals)
    )
    console.print(caps_table("Capital caps after the keeper", after.caps))


def _orders(engine: Engine, accounts: AccountManager, console: Console, owner: AccountAPI) -> None:
    """The named accounts commit their trades as delayed orders; the feeds
    publish after the markets' delay; a keeper pass settles them
    (docs/orders.md)."""
    ch = engine.clearinghouse
    by_label = {(a.label, a.sub_id): a for a in DEMO_ACCOUNTS}
    delay = 0
    for label, sub_id, market, size in DEMO_TRADES:
        who = accounts.test_accounts[by_label[(label, sub_id)].index]
        delta = parse_units(size, 18)
        limit = 0 if delta < 0 else 2**255
        market_id = engine.record.markets[market]
        ch.commit_order(who, sub_id, market_id, delta, limit, sender=who)
        delay = max(delay, int(ch.order_rules(market_id).min_delay))
        console.print(f"  {label}/{sub_id} commits an order for {size} {market}")
    publish_after(engine, owner, delay)
    entries: list[dict[str, Any]] = []
    keeper = Keeper(
        engine, accounts.test_accounts[KEEPER_INDEX], KeeperConfig(), log=entries.append
    )
    stats = PassStats()
    keeper.settle_orders(stats)
    fees = format_units(stats.rewards, engine.record.assets[engine.quote_symbol].decimals, 2)
    console.print(
        f"  {delay} s later the feeds publish; the keeper settles {stats.orders_filled} orders "
        f"({stats.orders_refused} refused, {stats.reverted} reverted) and earns {fees} "
        f"{engine.quote_symbol} of settlement fees"
    )
    if stats.orders_filled != len(DEMO_TRADES):
        raise AssertionError(f"the keeper settled {stats.orders_filled} of the demo's orders")


def _option_books(
    engine: Engine,
    accounts: AccountManager,
    console: Console,
    owner: AccountAPI,
    decimals: dict[str, int],
) -> list[tuple[str, AccountAPI, int]]:
    """The option books trade by delayed order against the pool, leg by
    leg; after each round the feeds and the volatility publish after the
    delay and a keeper pass executes the orders (docs/options.md)."""
    desk, book = engine.desk, engine.book
    if desk is None or book is None:
        return []
    weth = engine.tokens["WETH"].address
    expiry = engine.record.expiries["WETH+30d"]
    vol = engine.clearinghouse.chain_manager.contracts.instance_at(
        engine.record.contracts["VolFeed WETH+30d"],
        contract_type=engine.feeds["WETH"].contract_type,
    )
    keeper = Keeper(
        engine, accounts.test_accounts[KEEPER_INDEX], KeeperConfig(), log=lambda e: None
    )
    books = []
    for label, index, sub_id, deposits, _ in OPTION_BOOKS:
        who = accounts.test_accounts[index]
        _deposit(engine, who, DemoAccount(label, index, sub_id, deposits), decimals)
        books.append((label, who, sub_id))
    delay = int(desk.trade_rules(weth).min_delay)
    rounds = max(len(legs) for *_, legs in OPTION_BOOKS)
    stats = PassStats()
    for leg in range(rounds):
        for (_label, who, sub_id), (*_, legs) in zip(books, OPTION_BOOKS, strict=True):
            if leg >= len(legs):
                continue
            strike, is_call, size = legs[leg]
            series = book.find_series(weth, strike * WAD, expiry, is_call)
            contracts = parse_units(size, 18)
            limit = 2**256 - 1 if contracts > 0 else 0
            desk.commit_option_order(sub_id, series, contracts, limit, sender=who)
        publish_after(engine, owner, delay)
        vol.set_answer(vol.latestRoundData()[1], sender=owner)
        keeper.run_options(stats)
    console.print(
        f"  three option books trade WETH options 30 days out against the pool: the keeper "
        f"executes {stats.option_orders_filled} orders ({stats.option_orders_refused} refused)"
    )
    if stats.option_orders_filled != sum(len(legs) for *_, legs in OPTION_BOOKS):
        raise AssertionError(f"the keeper executed {stats.option_orders_filled} option orders")
    _show_option_books(engine, console, books, "before the shock")
    return books


def _show_option_books(
    engine: Engine, console: Console, books: list[tuple[str, AccountAPI, int]], when: str
) -> None:
    """Each option book's positions, margins and greeks, and its health in
    linear mode, then what portfolio mode would ask of it (the scenario
    set repricing the options at each scenario's price and volatility),
    each with the model's check."""
    for label, who, sub_id in books:
        block = engine.clearinghouse.chain_manager.blocks.head.number
        view = read_account(engine, who.address, sub_id, block_id=block)
        console.print(options_table(f"{label} ({who.address[:6]}…/{sub_id}) {when}", view))
        h = view.health
        agrees = "agrees" if view.model_agrees else "[red]DISAGREES[/red]"
        console.print(
            f"  linear: equity ${usd(h.equity)}, IM ${usd(h.im)}, MM ${usd(h.mm)}: "
            f"{view.status}; the model {agrees}"
        )
        both = options_in_portfolio_mode(engine, view, block)
        if both is not None:
            p, mirror = both
            agrees = "agrees" if p == mirror else "[red]DISAGREES[/red]"
            console.print(
                f"  portfolio mode would ask IM ${usd(p.im)}, MM ${usd(p.mm)} "
                f"(price x volatility grid); the model {agrees}"
            )


def _all_accounts(accounts: AccountManager, keeper: Keeper) -> set[tuple[str, int]]:
    """Every account that may hold quote: the keeper's replica (every account
    an event touched), the keeper, the named depositors."""
    out = set(keeper.replica.replica.accounts)
    out.add((str(keeper.sender.address), 0))
    out.update((str(accounts.test_accounts[a.index].address), a.sub_id) for a in DEMO_ACCOUNTS)
    return out


def _show(
    console: Console,
    engine: Engine,
    when: str,
    views: list[AccountView],
    labels: list[str],
    decimals: dict[str, int],
) -> None:
    console.print(positions_table(f"Positions {when}", views, labels))
    console.print(health_table(f"Account health {when}", views, labels, decimals))
    quote_decimals = decimals[engine.quote_symbol]
    console.print(
        pool_table(
            f"Liquidity pool {when}",
            PoolState(*engine.clearinghouse.pool_state()),
            vault_of(engine).totalAssets(),
            vault_of(engine).totalSupply(),
            quote_decimals,
        )
    )


def _compare_modes(console: Console, views: list[AccountView], labels: list[str]) -> None:
    """The same book margined both ways: the hedger (linear) and its twin in
    portfolio mode, and what portfolio margin frees."""
    linear = views[labels.index("hedger")].health
    portfolio = views[labels.index("hedger-pm")].health
    console.print(
        f"  the hedger's book (10 WETH, 5,000 USDC, short 10 ETH-PERP): linear margin "
        f"IM ${usd(linear.im)}, MM ${usd(linear.mm)}; portfolio margin IM ${usd(portfolio.im)}, "
        f"MM ${usd(portfolio.mm)}: ${usd(linear.im - portfolio.im)} of initial margin freed"
    )


def _lp_deposit(
    engine: Engine, accounts: AccountManager, console: Console, lp: AccountAPI, amount: int
) -> None:
    """The LP's deposit as an ERC-7540 request: the feeds publish after the
    vault's delay, a keeper pass settles it, the LP claims its shares."""
    vault = vault_of(engine)
    if not request_deposit(engine, lp, amount):
        console.print(f"LP deposits {LP_DEPOSIT} USDC into the LiquidityPool {vault.address}")
        return
    delay = int(vault.REQUEST_DELAY())
    console.print(
        f"LP requests a deposit of {LP_DEPOSIT} USDC into the LiquidityPool {vault.address}"
    )
    publish_after(engine, lp, delay)
    settler = accounts.test_accounts[KEEPER_INDEX]
    keeper = Keeper(engine, settler, KeeperConfig(), log=lambda e: None)
    stats = PassStats()
    keeper.settle_lp_requests(stats)
    if stats.lp_deposits != 1:
        raise AssertionError("the keeper did not settle the LP's deposit request")
    shares = claim_deposit(engine, lp)
    console.print(
        f"  {delay} s later the feeds publish; the keeper settles the request and the LP "
        f"claims {format_units(shares, int(vault.decimals()), 2)} xLP"
    )


def _deposit(engine: Engine, who: AccountAPI, acct: DemoAccount, decimals: dict[str, int]) -> None:
    ch = engine.clearinghouse
    for symbol, whole in acct.deposits.items():
        token = engine.tokens[symbol]
        amount = parse_units(whole, decimals[symbol])
        token.mint(who, amount, sender=who)
        token.approve(ch.address, amount, sender=who)
        ch.deposit(acct.sub_id, token.address, amount, sender=who)
    if acct.portfolio:
        ch.set_margin_mode(acct.sub_id, True, sender=who)


def _read_all(engine: Engine, accounts: AccountManager) -> list[AccountView]:
    params = engine.asset_params()
    block = engine.clearinghouse.chain_manager.blocks.head.number
    markets = read_markets(engine, block)
    return [
        read_account(
            engine, accounts.test_accounts[a.index].address, a.sub_id, params, block, markets
        )
        for a in DEMO_ACCOUNTS
    ]


def _prices(engine: Engine) -> dict[str, int]:
    return {s: engine.router.price(engine.tokens[s].address) for s in engine.feeds}


def _bad_requests(
    engine: Engine, accounts: AccountManager, console: Console, decimals: dict[str, int]
) -> None:
    """Each bad request reverts with its reason and changes nothing; de-risking
    is always allowed."""
    ch = engine.clearinghouse
    acct = DEMO_ACCOUNTS[1]  # the ETH bull, under water after the shock
    who = accounts.test_accounts[acct.index]
    usdc = engine.tokens[engine.quote_symbol].address
    eth = engine.record.markets["ETH-PERP"]
    balance = ch.balance_of(who, acct.sub_id, usdc)
    size = ch.position(who, acct.sub_id, eth).size
    attempts = [
        ("withdraw 1 USDC while below IM", ch.withdraw, (acct.sub_id, usdc, 10**6)),
        ("add 1 ETH-PERP while below IM", ch.trade, (acct.sub_id, eth, 10**18, 2**255)),
        ("buy with a limit price of $1", ch.trade, (acct.sub_id, eth, 10**18, 10**18)),
        ("trade a market that does not exist", ch.trade, (acct.sub_id, 99, 10**18, 2**255)),
        ("withdraw zero", ch.withdraw, (acct.sub_id, usdc, 0)),
        ("deposit an unlisted token", ch.deposit, (acct.sub_id, ch.address, 1)),
    ]
    console.print(f"Bad requests by {acct.label}/{acct.sub_id} (sent as transactions):")
    for what, method, args in attempts:
        reason = revert_reason(method, *args, sender=who)
        if reason is None:
            raise AssertionError(f"{what} did not revert")
        console.print(f"  {what}: reverted '{reason}'")
    assert ch.balance_of(who, acct.sub_id, usdc) == balance, "a reverted request moved a balance"
    assert ch.position(who, acct.sub_id, eth).size == size, "a reverted request moved a position"
    ch.trade(acct.sub_id, eth, -size // 2, 0, sender=who)
    console.print(
        f"  {acct.label} sells half of its {format_units(size, 18, 2)} ETH-PERP: allowed "
        "below IM, because it only reduces risk"
    )
