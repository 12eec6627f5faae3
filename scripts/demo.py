"""The README's demo: `make demo` (= `ape run demo --network ethereum:local:foundry`).

Starts anvil (ape-foundry), deploys, funds accounts, shocks prices and
prints health tables; anvil stops when the command ends. See xmargin.demo.
"""

import shutil
import sys

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console

from xmargin.demo import run_demo
from xmargin.deployments import DeploymentError


@click.command(cls=ConnectedProviderCommand)
def cli(provider):
    """Deploy on a local chain, fund accounts, shock prices, show health."""
    logger.set_level("WARNING")  # keep the tables readable: no per-tx lines
    width = max(shutil.get_terminal_size((170, 40)).columns, 150)
    console = Console(width=width, soft_wrap=False)
    try:
        result = run_demo(project, provider, accounts, console)
    except DeploymentError as err:
        raise click.ClickException(str(err)) from err
    if not result.model_agrees:
        sys.exit(1)
