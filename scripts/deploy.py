"""Deploy or update xmargin from a config: `ape run deploy --network <choice>`.

    ape run deploy --network ethereum:local:foundry            # config/local.yaml, mocks
    ape run deploy --network ethereum:sepolia:node --config sepolia --account deployer

A second run with the same config sends no transaction (see xmargin.ops.deploy).
"""

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.exceptions import ContractLogicError

from xmargin.chain.config import ConfigError, load_config
from xmargin.chain.connect import network_info
from xmargin.chain.deployments import DeploymentError
from xmargin.ops.deploy import deploy
from xmargin.ui.ape_cli import account_alias_option, sending_account


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--config",
    "config_name",
    default=None,
    help="Config name in config/ or a YAML path (default: `local` on local networks).",
)
@account_alias_option
def cli(provider, config_name, alias):
    """Deploy OracleRouter + Clearinghouse and converge them to the config."""
    network = network_info(provider)
    if config_name is None:
        if not network.is_local:
            raise click.UsageError("pass --config <name|path> for a non-local network")
        config_name = "local"
    try:
        config = load_config(config_name)
        sender = sending_account(accounts, network, alias)
        deploy(project, provider, sender, config, network, log=click.echo)
    except (ConfigError, DeploymentError) as err:
        raise click.ClickException(str(err)) from err
    except ContractLogicError as err:
        raise click.ClickException(
            f"a transaction reverted: {err.message}. What was deployed before it is recorded "
            "and will be reused: fix the config and run again"
        ) from err
