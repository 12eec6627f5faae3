"""Open a crowd of traders on a local chain: `ape run crowd --count 60 --network ...`.

Test and benchmark scaffolding for the keeper (see xmargin.ops.crowd): needs a
local deployment with mock tokens (`ape run deploy` first).
"""

import click
from ape.cli import ConnectedProviderCommand

from xmargin.ui import ape_cli


@click.command(cls=ConnectedProviderCommand)
@click.option("--count", type=int, default=60, show_default=True, help="Accounts to open.")
@click.option(
    "--owners", default="6,7,8", show_default=True, help="Test account indexes owning the crowd."
)
def cli(provider, count, owners):
    """Deposit and trade `count` accounts (sub-accounts of a few test accounts)."""
    ape_cli.crowd(provider, count, owners)
