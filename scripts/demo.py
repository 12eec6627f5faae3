"""The README's demo: `make demo` (= `ape run demo --network ethereum:local:foundry`).

Starts anvil (ape-foundry), deploys, funds accounts, shocks prices and
prints health tables; anvil stops when the command ends. See xmargin.ui.demo.
"""

import click
from ape.cli import ConnectedProviderCommand

from xmargin.ui import ape_cli


@click.command(cls=ConnectedProviderCommand)
def cli(provider):
    """Deploy on a local chain, fund accounts, shock prices, show health."""
    ape_cli.demo(provider)
