"""Runtime bytecode size of each deployable against EIP-170: `make size`."""

import click
from ape import project

from xmargin.chain.sizes import EIP170_LIMIT, contract_sizes


@click.command()
def cli():
    """Print each contract's runtime size and its headroom under 24,576 bytes."""
    for name, size in contract_sizes(project).items():
        flag = "OVER THE LIMIT" if size > EIP170_LIMIT else f"{EIP170_LIMIT - size:,} bytes free"
        click.echo(f"{name:23} {size:7,} bytes  ({flag})")
