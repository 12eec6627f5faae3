"""The README's demo: `make demo` (= `ape run demo --network ethereum:local:foundry`).

Starts anvil (ape-foundry), deploys, funds accounts, shocks prices and
prints health tables; anvil stops when the command ends. See xmargin.ui.demo.
"""

import sys

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console

from xmargin.chain.deployments import DeploymentError
from xmargin.ui.demo import run_demo


@click.command(cls=ConnectedProviderCommand)
def cli(provider):
    """Deploy on a local chain, fund accounts, shock prices, show health."""
    logger.set_level("WARNING")  # keep the tables readable: no per-tx lines
    # The tables are ~180 columns wide: in a terminal, use its width (rich
    # squeezes columns if it is narrower); in a log or a pipe, never squeeze.
    width = None if sys.stdout.isatty() else 220
    console = Console(width=width, soft_wrap=False)
    try:
        result = run_demo(project, provider, accounts, console)
    except DeploymentError as err:
        raise click.ClickException(str(err)) from err
    if not result.model_agrees:
        sys.exit(1)
