"""Runtime bytecode size of each deployable against EIP-170: `make size`."""

import click

from xmargin.ui import ape_cli


@click.command()
def cli():
    """Print each contract's runtime size and its headroom under 20,000 and 24,576 bytes."""
    ape_cli.size()
