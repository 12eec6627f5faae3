"""The `ape run` scripts' bodies: scripts/<name>.py parses its options and
makes one call here (`deploy`, `keeper`, `crowd`, `demo`, `size`).

Every expected failure becomes a click error that says what to do.
No private key is ever read from a file of ours: on a local network the
sender is one of the node's test accounts, elsewhere an Ape account alias
(`ape accounts import <alias>`), unlocked from the environment variable
`APE_ACCOUNTS_<alias>_PASSPHRASE` when it is set (CI, scripted testnet
deploys) or by prompting.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click
from ape import accounts, project
from ape.exceptions import ContractLogicError
from ape.logging import logger
from rich.console import Console

from xmargin.chain.config import ConfigError, load_config
from xmargin.chain.connect import (
    ConnectError,
    NetworkInfo,
    check_genesis,
    genesis_hash,
    network_info,
)
from xmargin.chain.deployments import (
    DeploymentError,
    DeploymentRecord,
    missing_record,
    read_record,
    record_path,
)
from xmargin.chain.engine import Engine, check_engine, load_engine
from xmargin.chain.sizes import EIP170_LIMIT, HEADROOM_LIMIT, contract_sizes
from xmargin.maths.fixed_point import parse_wad
from xmargin.ops.crowd import open_crowd
from xmargin.ops.deploy import deploy as deploy_config
from xmargin.ops.keeper import Keeper, KeeperConfig, json_logger

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.managers.accounts import AccountManager

# The demo's tables are ~180 columns wide: in a terminal, use its width (rich
# squeezes columns if it is narrower); in a log or a pipe, never squeeze.
DEMO_PIPE_WIDTH = 220

account_alias_option = click.option(
    "--account",
    "alias",
    default=None,
    help="Ape account alias that sends transactions (default on local networks: test account 0).",
)


def sending_account(
    accounts: AccountManager, network: NetworkInfo, alias: str | None
) -> AccountAPI:
    """The account to send from; raises click.UsageError with what to do."""
    if alias is None:
        if not network.is_local:
            raise click.UsageError(
                f"{network.label} is not a local network: pass --account <alias> "
                "(an account imported with `ape accounts import <alias>`)"
            )
        return accounts.test_accounts[0]
    try:
        account = accounts.load(alias)
    except (KeyError, ValueError) as err:
        raise click.UsageError(
            f"no Ape account '{alias}' (import one with `ape accounts import {alias}`)"
        ) from err
    passphrase = os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE")
    if passphrase is not None and hasattr(account, "set_autosign"):
        # Non-interactive: sign without a per-transaction prompt.
        account.set_autosign(True, passphrase=passphrase)
    return account


def deploy(
    provider: ProviderAPI,
    config_name: str | None,
    alias: str | None,
    dry_run: bool = False,
    verify: bool = False,
) -> None:
    """`ape run deploy`: converge the chain to a config (default `local` on a
    local network) and write the deployment record; with `dry_run`, print
    what a real run would send and its gas, sending nothing
    (`xmargin.ops.dry_run`); with `verify`, publish every deployed
    contract's source to the network's explorer."""
    network = network_info(provider)
    if config_name is None:
        if not network.is_local:
            raise click.UsageError("pass --config <name|path> for a non-local network")
        config_name = "local"
    if verify:
        check_verifiable(provider, network)
    try:
        config = load_config(config_name)
        sender = sending_account(accounts, network, alias)
        if dry_run:
            from xmargin.ops.dry_run import plan

            logger.set_level("WARNING")  # the plan, not Ape's line per transaction on the copy
            the_plan = plan(project, provider, sender, config, network)
            for line in the_plan.lines():
                click.echo(line)
            deployed = sum(t.what.startswith("deployed ") for t in the_plan.sends)
            if verify and deployed:
                click.echo(
                    f"with --verify, a real run also publishes the source of the {deployed} "
                    "contract(s) it deploys"
                )
            return
        deploy_config(project, provider, sender, config, network, log=click.echo, verify=verify)
    except (ConfigError, DeploymentError) as err:
        raise click.ClickException(str(err)) from err
    except ContractLogicError as err:
        if dry_run:
            raise click.ClickException(
                f"the plan stopped at a revert on the copy of the chain ({err.message}); "
                "nothing was sent and nothing recorded: fix the config and plan again"
            ) from err
        raise click.ClickException(
            f"a transaction reverted ({err.message}); what was deployed before it is recorded "
            "and will be reused: fix the config and run again"
        ) from err


def check_verifiable(provider: ProviderAPI, network: NetworkInfo) -> None:
    """`--verify` needs a public network and an explorer plugin: said
    before anything is sent."""
    if network.is_local:
        raise click.UsageError(
            "--verify publishes source to a block explorer: there is none on a local chain"
        )
    if provider.network.explorer is None:
        raise click.UsageError(
            f"--verify needs a block explorer plugin for {network.label}: "
            "`pip install ape-etherscan==0.8.7` and `export ETHERSCAN_API_KEY=<your key>` "
            "(docs/deploy.md), or deploy without --verify"
        )


def keeper(
    provider: ProviderAPI,
    alias: str | None,
    once: bool,
    blocks: int | None,
    poll: float,
    from_block: int | None,
    min_profit: str,
    test_account: int | None,
) -> None:
    """`ape run keeper`: one pass (`once`) or a pass per new block."""
    logger.set_level("ERROR")  # our own JSON lines only
    network = network_info(provider)
    # The deployment first: no passphrase is asked for a keeper that
    # cannot start.
    engine = check_deployment(provider)
    if test_account is not None:
        if not network.is_local:
            raise click.UsageError("--test-account works on local networks only")
        sender = accounts.test_accounts[test_account]
    else:
        sender = sending_account(accounts, network, alias)
    bot = Keeper(
        engine,
        sender,
        KeeperConfig(min_profit=parse_wad(min_profit)),
        log=json_logger(),
        from_block=from_block,
    )
    if once:
        bot.run_once()
    else:
        bot.follow(poll_seconds=poll, max_blocks=blocks)


def check_deployment(provider: ProviderAPI) -> Engine:
    """This network's deployment, checked (`ape run keeper` and the
    silverback bot, `xmargin.ui.bot`): refuses, with a click error that
    says what to do, a network with no record, a record written on
    another chain and a record whose contracts are not this deployment's."""
    network = network_info(provider)
    record = _record(network, "run `ape run deploy --network ...` first")
    try:
        check_genesis(record, genesis_hash(provider), network.name)
        engine = load_engine(project, record)
        check_engine(engine)
    except (ConnectError, DeploymentError) as err:
        raise click.ClickException(str(err)) from err
    return engine


def crowd(provider: ProviderAPI, count: int, owners: str) -> None:
    """`ape run crowd`: deposit and trade `count` accounts, sub-accounts of
    the test accounts listed in `owners` ("6,7,8")."""
    logger.set_level("ERROR")
    network = network_info(provider)
    if not network.is_local:
        raise click.UsageError("the crowd mints mock tokens: local networks only")
    record = _record(network, "run `ape run deploy` first")
    engine = load_engine(project, record)
    owner_accounts = [accounts.test_accounts[int(i)] for i in owners.split(",")]
    plan = open_crowd(engine, owner_accounts, count)
    click.echo(f"opened {len(plan)} accounts")


def demo(provider: ProviderAPI) -> None:
    """`make demo`: deploy, fund accounts, shock prices, show health; exits 1
    if the model disagrees with the chain anywhere."""
    logger.set_level("WARNING")  # keep the tables readable: no per-tx lines
    # The demo draws charts (matplotlib): imported only when it runs.
    from xmargin.ui.demo import run_demo

    width = None if sys.stdout.isatty() else DEMO_PIPE_WIDTH
    console = Console(width=width, soft_wrap=False)
    try:
        result = run_demo(project, provider, accounts, console)
    except DeploymentError as err:
        raise click.ClickException(str(err)) from err
    if not result.model_agrees:
        sys.exit(1)


def size() -> None:
    """`make size`: each deployable's runtime size, against the project's
    20,000-byte limit (4.5 KB of EIP-170 headroom) and EIP-170's own."""
    click.echo(f"{'contract':23} {'bytes':>7}  {'under 20,000':>12}  {'under EIP-170':>13}")
    for name, code in contract_sizes(project).items():
        flag = "  OVER THE PROJECT LIMIT" if code > HEADROOM_LIMIT else ""
        click.echo(
            f"{name:23} {code:7,}  {HEADROOM_LIMIT - code:12,}  {EIP170_LIMIT - code:13,}{flag}"
        )


def _record(network: NetworkInfo, hint: str) -> DeploymentRecord:
    """This chain's deployment record, or a click error: none, and `hint`."""
    path = record_path(network.ecosystem, network.chain_id)
    record = read_record(path)
    if record is None:
        raise click.ClickException(missing_record(network.name, path, hint))
    return record
