"""The liquidation keeper: `ape run keeper --network <choice> [--once]`.

    ape run keeper --network ethereum:local:foundry --once     # one pass, then exit
    ape run keeper --network ethereum:sepolia:node --account keeper

Keeps every account from the engine's events, values them locally each
block, liquidates those below maintenance margin when the reward beats
the gas, logs one JSON line per action (see xmargin.ops.keeper). Exits
non-zero only on a real failure (no deployment, node unreachable), never
because a liquidation lost a race.
"""

import click
from ape.cli import ConnectedProviderCommand

from xmargin.ui import ape_cli


@click.command(cls=ConnectedProviderCommand)
@ape_cli.account_alias_option
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@click.option("--blocks", type=int, default=None, help="Stop after this many new blocks.")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between polls.")
@click.option(
    "--from-block",
    type=int,
    default=None,
    help="Read the engine's events from here (default: its deployment block, from the record).",
)
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
    ape_cli.keeper(provider, alias, once, blocks, poll, from_block, min_profit, test_account)
