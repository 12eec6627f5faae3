"""Runtime bytecode size of each deployable against EIP-170: `make size`."""

import click
from ape import project

EIP170_LIMIT = 24_576
DEPLOYABLES = (
    "Clearinghouse",
    "ClearinghouseAdmin",
    "ClearinghouseLens",
    "LiquidityPool",
    "OracleRouter",
)


@click.command()
def cli():
    """Print each contract's runtime size and its headroom under 24,576 bytes."""
    for name in DEPLOYABLES:
        code = getattr(project, name).contract_type.runtime_bytecode.bytecode
        size = (len(code) - 2) // 2 if code.startswith("0x") else len(code) // 2
        flag = "OVER THE LIMIT" if size > EIP170_LIMIT else f"{EIP170_LIMIT - size:,} bytes free"
        click.echo(f"{name:15} {size:7,} bytes  ({flag})")
