"""Deploy or update xmargin from a config: `ape run deploy --network <choice>`.

    ape run deploy --network ethereum:local:foundry            # config/local.yaml, mocks
    ape run deploy --network ethereum:sepolia:node --config my-sepolia --account deployer --dry-run
    ape run deploy --network ethereum:sepolia:node --config my-sepolia --account deployer

A second run with the same config sends no transaction (see xmargin.ops.deploy).
"""

import click
from ape.cli import ConnectedProviderCommand

from xmargin.ui import ape_cli


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--config",
    "config_name",
    default=None,
    help="Config name in config/ or a YAML path (default: `local` on local networks).",
)
@ape_cli.account_alias_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what would be sent and its gas (run on a fork or a snapshot); send nothing.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Publish each deployed contract's source to the explorer (needs ape-etherscan).",
)
def cli(provider, config_name, alias, dry_run, verify):
    """Deploy OracleRouter + Clearinghouse and converge them to the config."""
    ape_cli.deploy(provider, config_name, alias, dry_run=dry_run, verify=verify)
