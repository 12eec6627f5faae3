"""The Clearinghouse as one contract: core ABI plus the admin extension's.

The owner's and guardian's functions live in `ClearinghouseAdmin.vy` and run
by delegatecall from the Clearinghouse's fallback, on its storage, at its
address (see that contract's notes). Callers should not have to know: this
module gives an Ape contract instance at the Clearinghouse's address whose
ABI is the union of both, and writes that ABI for other tools.
"""

from __future__ import annotations

from typing import Any

from ape import chain
from ape.contracts import ContractInstance
from ethpm_types import ContractType

ADMIN = "ClearinghouseAdmin"


def _key(item: Any) -> tuple:
    inputs = tuple(i.type for i in getattr(item, "inputs", []) or [])
    return (item.type, getattr(item, "name", None), inputs)


def combined_type(project: Any, core: str = "Clearinghouse") -> ContractType:
    """The core's contract type with the admin extension's functions and events added."""
    core_type = getattr(project, core).contract_type
    admin_type = getattr(project, ADMIN).contract_type
    seen = {_key(item) for item in core_type.abi}
    extra = [
        item
        for item in admin_type.abi
        if item.type in ("function", "event", "error") and _key(item) not in seen
    ]
    return core_type.model_copy(update={"abi": [*core_type.abi, *extra]})


def clearinghouse_at(project: Any, address: str, core: str = "Clearinghouse") -> ContractInstance:
    """An instance at `address` that can call both core and admin functions.

    The combined type is also cached for the address, so Ape decodes the
    admin functions' events in receipts too.
    """
    contract_type = combined_type(project, core)
    chain.contracts.cache_contract_type(address, contract_type)
    return ContractInstance(address, contract_type)


def deploy_clearinghouse(
    project: Any,
    sender: Any,
    quote: str,
    oracle: str,
    quote_cap: int,
    core: str = "Clearinghouse",
    admin: str | None = None,
) -> ContractInstance:
    """Deploys the admin extension (unless given) and the core; returns the combined instance."""
    if admin is None:
        admin = sender.deploy(getattr(project, ADMIN)).address
    ch = sender.deploy(getattr(project, core), quote, oracle, quote_cap, admin)
    return clearinghouse_at(project, ch.address, core)
