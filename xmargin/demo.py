"""The demo behind `make demo`: a local chain, a deployment, accounts, a shock.

1. deploy from `config/local.yaml` (mock tokens and feeds);
2. a few accounts deposit three assets each (one also uses an isolated
   second sub-account);
3. print prices and every account's health, as the chain reports it and as
   `xmargin.model` recomputes it from the same inputs;
4. move prices (a crash in WETH and LINK) and print the health again;
5. show that bad requests revert with a reason and change nothing.

Later issues extend it with trades, a keeper and liquidations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from xmargin.config import load_config
from xmargin.deploy import deploy, network_info
from xmargin.deployments import DeploymentError
from xmargin.engine import AccountView, Engine, load_engine, read_account, revert_reason
from xmargin.model import format_units, parse_units
from xmargin.report import health_table, price_table, usd


@dataclass(frozen=True)
class DemoAccount:
    label: str
    # index into the node's test accounts (0 deploys and owns the engine)
    index: int
    sub_id: int
    # symbol -> amount in whole tokens
    deposits: dict[str, str]


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("hedger", 1, 0, {"USDC": "50000", "WETH": "10", "WBTC": "0.5"}),
    DemoAccount("eth-bull", 2, 0, {"USDC": "2000", "WETH": "40", "LINK": "2000"}),
    DemoAccount("btc-holder", 3, 0, {"USDC": "1000", "WBTC": "2", "LINK": "500"}),
    DemoAccount("diversified", 4, 0, {"WETH": "5", "WBTC": "0.25", "LINK": "1000"}),
    DemoAccount("diversified", 4, 1, {"USDC": "10000"}),
)

# Price moves of the shock, in basis points.
SHOCK_BPS: dict[str, int] = {"WETH": -3_000, "LINK": -5_000, "WBTC": -500}


@dataclass(frozen=True)
class DemoResult:
    before: list[AccountView]
    after: list[AccountView]

    @property
    def model_agrees(self) -> bool:
        return all(v.model_agrees for v in (*self.before, *self.after))


def run_demo(project: Any, provider: Any, accounts: Any, console: Console) -> DemoResult:
    network = network_info(provider)
    if not network.is_local:
        raise DeploymentError("the demo mints mock tokens: run it on a local network")
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

    for acct in DEMO_ACCOUNTS:
        _deposit(engine, accounts.test_accounts[acct.index], acct, decimals)
    console.print(f"{len(DEMO_ACCOUNTS)} sub-accounts funded with three assets each (or USDC only)")

    labels = [a.label for a in DEMO_ACCOUNTS]
    prices = _prices(engine)
    console.print(price_table("Oracle prices", prices))
    before = _read_all(engine, accounts)
    console.print(health_table("Account health after deposits", before, labels, decimals))

    _shock(engine, owner, SHOCK_BPS)
    console.print(price_table("Price shock", _prices(engine), before=prices))
    after = _read_all(engine, accounts)
    console.print(health_table("Account health after the shock", after, labels, decimals))
    for b, a, label in zip(before, after, labels, strict=True):
        loss = b.health.equity - a.health.equity
        if loss:
            console.print(f"  {label}/{a.sub_id}: equity down ${usd(loss)}")

    _bad_requests(engine, accounts, console, decimals)

    out = DemoResult(before=before, after=after)
    verdict = "agrees" if out.model_agrees else "[red]DISAGREES[/red]"
    console.print(
        f"xmargin.model {verdict} with the chain on equity, IM and MM of all "
        f"{len(before) + len(after)} readings, to the wei."
    )
    return out


def _deposit(engine: Engine, who: Any, acct: DemoAccount, decimals: dict[str, int]) -> None:
    ch = engine.clearinghouse
    for symbol, whole in acct.deposits.items():
        token = engine.tokens[symbol]
        amount = parse_units(whole, decimals[symbol])
        token.mint(who, amount, sender=who)
        token.approve(ch.address, amount, sender=who)
        ch.deposit(acct.sub_id, token.address, amount, sender=who)


def _read_all(engine: Engine, accounts: Any) -> list[AccountView]:
    params = engine.asset_params()
    return [
        read_account(engine, accounts.test_accounts[a.index].address, a.sub_id, params)
        for a in DEMO_ACCOUNTS
    ]


def _prices(engine: Engine) -> dict[str, int]:
    return {s: engine.router.price(engine.tokens[s].address) for s in engine.feeds}


def _shock(engine: Engine, owner: Any, moves_bps: dict[str, int]) -> None:
    for symbol, bps in moves_bps.items():
        feed = engine.feeds[symbol]
        feed.set_answer(feed.answer() * (10_000 + bps) // 10_000, sender=owner)


def _bad_requests(
    engine: Engine, accounts: Any, console: Console, decimals: dict[str, int]
) -> None:
    """Each bad request reverts with its reason; the ledger is unchanged."""
    ch = engine.clearinghouse
    acct = DEMO_ACCOUNTS[1]
    who = accounts.test_accounts[acct.index]
    weth = engine.tokens["WETH"].address
    balance = ch.balance_of(who, acct.sub_id, weth)
    attempts = [
        ("withdraw more WETH than deposited", ch.withdraw, (acct.sub_id, weth, balance + 1)),
        ("withdraw zero", ch.withdraw, (acct.sub_id, weth, 0)),
        ("deposit an unlisted token", ch.deposit, (acct.sub_id, ch.address, 1)),
    ]
    console.print("Bad requests (sent as transactions):")
    for what, method, args in attempts:
        reason = revert_reason(method, *args, sender=who)
        if reason is None:
            raise AssertionError(f"{what} did not revert")
        console.print(f"  {what}: reverted '{reason}'")
    assert ch.balance_of(who, acct.sub_id, weth) == balance, "a reverted request moved a balance"
    amount = balance // 4
    ch.withdraw(acct.sub_id, weth, amount, sender=who)
    console.print(
        f"  {acct.label} withdraws {format_units(amount, decimals['WETH'])} WETH of "
        f"{format_units(balance, decimals['WETH'])}: allowed (no debt, so no margin is at risk)"
    )
