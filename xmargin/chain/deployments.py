"""The deployment record: `deployments/<network>.json`.

`xmargin.ops.deploy` writes it; the demo, keeper and CLI read it to find the
contracts. It is plain JSON so any tool can read it:

    {
      "network": "ethereum:sepolia", "chain_id": 11155111, "config": "sepolia",
      "deployer": "0x...", "genesis": "0x...",
      "contracts": {"OracleRouter": "0x...", "ClearinghouseAdmin": "0x...",
                    "Clearinghouse": "0x..."},
      "assets": {"WETH": {"token": "0x...", "decimals": 18, "feed": "0x...",
                          "second_feed": null, "mock_token": false, "mock_feed": false}}
    }
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The repository xmargin is installed from (editable): its contracts,
# configs, records and reports.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO_ROOT / "deployments"
# Tests and CI point this elsewhere so they never touch a developer's records.
DIR_ENV = "XMARGIN_DEPLOYMENTS_DIR"


class DeploymentError(RuntimeError):
    """No usable deployment for this network."""


@dataclass
class AssetRecord:
    token: str
    decimals: int
    feed: str | None = None
    second_feed: str | None = None
    mock_token: bool = False
    mock_feed: bool = False
    mock_second_feed: bool = False


@dataclass
class DeploymentRecord:
    network: str
    chain_id: int
    config: str
    deployer: str
    # Hash of block 0: tells a restarted local node from the one recorded.
    genesis: str = ""
    contracts: dict[str, str] = field(default_factory=dict)
    assets: dict[str, AssetRecord] = field(default_factory=dict)
    # market symbol -> market id
    markets: dict[str, int] = field(default_factory=dict)
    # The block the Clearinghouse was deployed in: where readers of its
    # events (the keeper's replica, the report) start.
    block: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DeploymentRecord:
        raw = json.loads(text)
        assets = {k: AssetRecord(**v) for k, v in raw.pop("assets", {}).items()}
        return cls(**raw, assets=assets)


def deployments_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


def record_path(network_name: str, directory: Path | None = None) -> Path:
    """`deployments/<network>.json`, e.g. `local.json`, `sepolia.json`."""
    return (directory or deployments_dir()) / f"{network_name}.json"


def abi_dir(record: Path) -> Path:
    """Where a deployment's ABIs are written: `deployments/<network>.abi/`."""
    return record.with_suffix(".abi")


def read_record(path: Path) -> DeploymentRecord | None:
    if not path.is_file():
        return None
    try:
        return DeploymentRecord.from_json(path.read_text())
    except (ValueError, TypeError, KeyError) as err:
        raise DeploymentError(f"{path} is not a deployment record ({err}); move it away") from err


def write_record(path: Path, record: DeploymentRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)


def require_record(network_name: str, chain_id: int, directory: Path | None = None):
    """The record for a network, or a DeploymentError that says what to do."""
    path = record_path(network_name, directory)
    record = read_record(path)
    if record is None:
        raise DeploymentError(
            f"no deployment for network '{network_name}' ({path} is missing): "
            f"run `ape run deploy --network <ecosystem>:{network_name}:<provider>` first"
        )
    if record.chain_id != chain_id:
        raise DeploymentError(
            f"{path} is for chain {record.chain_id}, but the node is chain {chain_id}"
        )
    return record
