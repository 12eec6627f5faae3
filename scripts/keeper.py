"""The liquidation keeper: `ape run keeper --network <choice> [--once]`.

    ape run keeper --network ethereum:local:foundry --once     # one pass, then exit
    ape run keeper --network ethereum:sepolia:node --account keeper

Scans every account in batches, liquidates those below maintenance margin
when the reward beats the gas, logs one JSON line per action (see
xmargin.ops.keeper). Exits non-zero only on a real failure (no deployment, node
unreachable), never because a liquidation lost a race.
"""

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger

from xmargin.chain.connect import ConnectError, check_genesis, genesis_hash, network_info
from xmargin.chain.deployments import DeploymentError, read_record, record_path
from xmargin.chain.engine import load_engine
from xmargin.maths.fixed_point import parse_wad
from xmargin.ops.keeper import Keeper, KeeperConfig, json_logger
from xmargin.ui.ape_cli import account_alias_option, sending_account


@click.command(cls=ConnectedProviderCommand)
@account_alias_option
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@click.option("--blocks", type=int, default=None, help="Stop after this many new blocks.")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--from-block", type=int, default=0, show_default=True, help="Backfill from here.")
@click.option(
    "--min-profit", default="0", show_default=True, help="USD beyond gas per liquidation."
)
@click.option(
    "--test-account",
    type=int,
    default=None,
    help="On a local chain: send from this test account index instead of --account.",
)
def cli(provider, alias, once, blocks, poll, from_block, min_profit, test_account):
    """Liquidate every account below maintenance margin."""
    logger.set_level("ERROR")  # our own JSON lines only
    network = network_info(provider)
    record = read_record(record_path(network.name))
    if record is None:
        raise click.ClickException(
            f"no deployment record for {network.name}: run `ape run deploy --network ...` first"
        )
    try:
        check_genesis(record, genesis_hash(provider), network.name)
    except ConnectError as err:
        raise click.ClickException(str(err)) from err
    if test_account is not None:
        if not network.is_local:
            raise click.UsageError("--test-account works on local networks only")
        sender = accounts.test_accounts[test_account]
    else:
        sender = sending_account(accounts, network, alias)
    try:
        engine = load_engine(project, record)
    except DeploymentError as err:
        raise click.ClickException(str(err)) from err
    keeper = Keeper(
        engine,
        sender,
        KeeperConfig(min_profit=parse_wad(min_profit)),
        log=json_logger(),
        from_block=from_block,
    )
    if once:
        keeper.run_once()
    else:
        keeper.follow(poll_seconds=poll, max_blocks=blocks)
