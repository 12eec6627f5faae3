"""Open a crowd of traders on a local chain: `ape run crowd --count 60 --network ...`.

Test and benchmark scaffolding for the keeper (see xmargin.ops.crowd): needs a
local deployment with mock tokens (`ape run deploy` first).
"""

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger

from xmargin.chain.connect import network_info
from xmargin.chain.deployments import read_record, record_path
from xmargin.chain.engine import load_engine
from xmargin.ops.crowd import open_crowd


@click.command(cls=ConnectedProviderCommand)
@click.option("--count", type=int, default=60, show_default=True, help="Accounts to open.")
@click.option(
    "--owners", default="6,7,8", show_default=True, help="Test account indexes owning the crowd."
)
def cli(provider, count, owners):
    """Deposit and trade `count` accounts (sub-accounts of a few test accounts)."""
    logger.set_level("ERROR")
    network = network_info(provider)
    if not network.is_local:
        raise click.UsageError("the crowd mints mock tokens: local networks only")
    record = read_record(record_path(network.name))
    if record is None:
        raise click.ClickException("no local deployment record: run `ape run deploy` first")
    engine = load_engine(project, record)
    owner_accounts = [accounts.test_accounts[int(i)] for i in owners.split(",")]
    plan = open_crowd(engine, owner_accounts, count)
    click.echo(f"opened {len(plan)} accounts")
