"""Runtime bytecode size of each deployable contract against EIP-170's limit.

Shared by `ape run size` and `make bench` (benchmarks/gas.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ape.managers.project import ProjectManager

EIP170_LIMIT = 24_576
# The project's own limit: every deployable keeps >= 4.5 KB of EIP-170
# headroom for the next feature (tests/unit/test_sizes.py).
HEADROOM_LIMIT = 20_000
# Every contract the deploy pipeline puts on chain (mocks excluded), and
# the ABI files a deployment publishes (`xmargin.chain.abi.write_abis`).
DEPLOYABLES = (
    "Clearinghouse",
    "ClearinghouseOrders",
    "ClearinghousePool",
    "ClearinghouseLiquidator",
    "ClearinghouseAdmin",
    "ClearinghouseLens",
    "LiquidityPool",
    "OracleRouter",
    "PortfolioRisk",
    "OptionsBook",
    "OptionsDesk",
)


def runtime_size(project: ProjectManager, name: str) -> int:
    """Bytes of `name`'s runtime bytecode, as compiled by the project."""
    code = getattr(project, name).contract_type.runtime_bytecode.bytecode
    return (len(code) - 2) // 2 if code.startswith("0x") else len(code) // 2


def contract_sizes(project: ProjectManager) -> dict[str, int]:
    """name -> runtime size in bytes, for every deployable."""
    return {name: runtime_size(project, name) for name in DEPLOYABLES}
