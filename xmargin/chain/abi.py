"""The Clearinghouse as one contract: core ABI plus its four extensions'.

Trades and delayed orders live in `ClearinghouseOrders.vy`; the
liquidity pool's entry points in `ClearinghousePool.vy`;
liquidation, the insurance fund and the keepers' views in
`ClearinghouseLiquidator.vy`; the owner's and guardian's functions in
`ClearinghouseAdmin.vy`. All run by delegatecall from the Clearinghouse's
fallback (core -> orders or pool by selector; core -> liquidator -> admin
otherwise), on its storage, at its address (see those contracts' notes).
Callers should not have to know: this module gives an Ape contract
instance at the Clearinghouse's address whose ABI is the union of all five.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ape import chain
from ape.contracts.base import ContractInstance
from eth_utils import to_checksum_address
from ethpm_types import ContractType
from ethpm_types.abi import ABI
from ethpm_types.contract_type import ABIList

from xmargin.chain.sizes import DEPLOYABLES

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.managers.project import ProjectManager

ADMIN = "ClearinghouseAdmin"
LIQUIDATOR = "ClearinghouseLiquidator"
POOL = "ClearinghousePool"
ORDERS = "ClearinghouseOrders"
EXTENSIONS = (ORDERS, POOL, LIQUIDATOR, ADMIN)


def _key(item: ABI) -> tuple[str, str | None, tuple[str, ...]]:
    inputs = tuple(i.type for i in getattr(item, "inputs", []) or [])
    return (item.type, getattr(item, "name", None), inputs)


def combined_type(project: ProjectManager, core: str = "Clearinghouse") -> ContractType:
    """The core's contract type with the extensions' functions and events added."""
    core_type = getattr(project, core).contract_type
    seen = {_key(item) for item in core_type.abi}
    extra = []
    for name in EXTENSIONS:
        for item in getattr(project, name).contract_type.abi:
            # ADMIN() through the core answers the liquidator's forward target.
            if item.type in ("function", "event", "error") and _key(item) not in seen:
                seen.add(_key(item))
                extra.append(item)
    # The field's own type (`ABIList`): a plain list made pydantic warn on
    # every serialization (a record's, Ape's cache's).
    return core_type.model_copy(update={"abi": ABIList([*core_type.abi, *extra])})


def abi_json(project: ProjectManager, name: str) -> list[dict[str, Any]]:
    """A contract's ABI as plain JSON (web3, ethers, `cast`); the
    Clearinghouse's is the merged one, every function and event of its
    address."""
    if name == "Clearinghouse":
        contract_type = combined_type(project)
    else:
        contract_type = getattr(project, name).contract_type
    return [json.loads(item.model_dump_json(by_alias=True)) for item in contract_type.abi]


def write_abis(project: ProjectManager, directory: Path) -> list[Path]:
    """Writes `<name>.json`, the ABI of every deployable contract, into
    `directory` (each file replaced whole); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DEPLOYABLES:
        path = directory / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(abi_json(project, name), indent=2) + "\n")
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        paths.append(path)
    return paths


def clearinghouse_at(
    project: ProjectManager, address: str, core: str = "Clearinghouse"
) -> ContractInstance:
    """An instance at `address` that can call core and extension functions.

    The combined type is also cached for the address, so Ape decodes the
    extensions' events in receipts too.
    """
    contract_type = combined_type(project, core)
    chain.contracts.cache_contract_type(address, contract_type)
    return ContractInstance(to_checksum_address(address), contract_type)


def deploy_clearinghouse(
    project: ProjectManager,
    sender: AccountAPI,
    quote: str,
    oracle: str,
    quote_cap: int,
    core: str = "Clearinghouse",
    liquidator: str | None = None,
    pool: str | None = None,
    orders: str | None = None,
) -> ContractInstance:
    """Deploys the extensions (unless given) and the core; returns the combined instance."""
    if liquidator is None:
        admin = sender.deploy(getattr(project, ADMIN)).address
        liquidator = sender.deploy(getattr(project, LIQUIDATOR), admin).address
    if pool is None:
        pool = sender.deploy(getattr(project, POOL)).address
    if orders is None:
        orders = sender.deploy(getattr(project, ORDERS)).address
    ch = sender.deploy(getattr(project, core), quote, oracle, quote_cap, liquidator, pool, orders)
    return clearinghouse_at(project, ch.address, core)
