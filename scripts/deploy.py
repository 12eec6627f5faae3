"""Deploy or update xmargin from a config: `ape run deploy --network <choice>`.

    ape run deploy --network ethereum:local:foundry            # config/local.yaml, mocks
    ape run deploy --network ethereum:sepolia:node --config sepolia --account deployer

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
def cli(provider, config_name, alias):
    """Deploy OracleRouter + Clearinghouse and converge them to the config."""
    ape_cli.deploy(provider, config_name, alias)
