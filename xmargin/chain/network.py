"""Where a reader or deployer points, and what it says when that is wrong.

Nothing here imports Ape: `xmargin.chain.connect` (through Ape) and
`xmargin.chain.light` (without it) share these names and messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from xmargin.chain.deployments import (
    REPO_ROOT,
    DeploymentRecord,
    missing_record,
    read_record,
    record_path,
)

# Seconds to wait for a node to answer before saying there is none.
PROBE_TIMEOUT = 3.0


class ConnectError(RuntimeError):
    """No usable node or deployment; the message says what to do."""


@dataclass(frozen=True)
class NetworkInfo:
    """Where a deployment goes, independent of Ape's objects."""

    ecosystem: str
    name: str
    chain_id: int
    is_local: bool

    @property
    def label(self) -> str:
        return f"{self.ecosystem}:{self.name}"


def check_genesis(record: DeploymentRecord, genesis: str, network: str) -> None:
    """Refuses a record written on another chain (a restarted local node)."""
    if record.genesis and record.genesis != genesis:
        raise ConnectError(
            f"the {network} deployment record belongs to another chain (genesis "
            f"{record.genesis}, this node's is {genesis}): deploy on this one first "
            f"(`ape run deploy --network <ecosystem>:{network}:<provider>`), or point "
            "--rpc at the node it was deployed on"
        )


def node_settings(ecosystem: str, network: str, config: Path | None = None) -> dict[str, Any]:
    """`node.<ecosystem>.<network>` of the project's `ape-config.yaml` ({} if none)."""
    try:
        raw = yaml.safe_load((config or REPO_ROOT / "ape-config.yaml").read_text()) or {}
        settings = raw["node"][ecosystem][network]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return {}
    return settings if isinstance(settings, dict) else {}


def uri_variable(ecosystem: str, network: str, config: Path | None = None) -> str | None:
    """The environment variable the project's `ape-config.yaml` reads the
    network's node URL from (`uri: ${NAME}`), if any."""
    uri = node_settings(ecosystem, network, config).get("uri")
    found = re.fullmatch(r"\$\{(\w+)\}", str(uri).strip()) if uri is not None else None
    return found.group(1) if found else None


def no_uri(ecosystem: str, network: str, config: Path | None = None) -> ConnectError:
    variable = uri_variable(ecosystem, network, config)
    if variable:
        return ConnectError(
            f"network '{network}' has no node URL: `ape-config.yaml` reads it from "
            f"{variable}, which is not set: `export {variable}=<your {network} node's URL>`, "
            "or pass --rpc <url>"
        )
    return ConnectError(
        f"network '{network}' has no node URL: set `node.{ecosystem}.{network}.uri` in "
        "ape-config.yaml, or pass --rpc <url>"
    )


def other_chain(uri: str, answered: int, network: str, expected: int) -> ConnectError:
    return ConnectError(
        f"the node at {uri} serves chain {answered}, not {network}'s ({expected}): pass the "
        f"--network this node serves, or --rpc a {network} node"
    )


def unreachable(uri: str) -> ConnectError:
    return ConnectError(
        f"no node at {uri}: start one (`make node`, i.e. `anvil --host 127.0.0.1 --port 8545`), "
        "or pass --rpc <url> / --network <ecosystem>:<network>:<provider>"
    )


def find_record(ecosystem: str, name: str, chain_id: int) -> Path:
    """The path of the chain's record, or ConnectError if there is none."""
    path = record_path(ecosystem, chain_id)
    if read_record(path) is None:
        raise ConnectError(
            missing_record(
                name,
                path,
                f"deploy first (`ape run deploy --network {ecosystem}:{name}:<provider>`), "
                "pass the --network it was deployed on, or point XMARGIN_DEPLOYMENTS_DIR at "
                "its records",
            )
        )
    return path
