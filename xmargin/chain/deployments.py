"""The deployment record: `deployments/<ecosystem>-<chain id>.json`.

`xmargin.ops.deploy` writes it; the demo, keeper and CLI read it to find the
contracts. It is keyed by ecosystem and chain id (`ethereum-11155111.json`,
`arbitrum-421614.json`), like Foundry's `broadcast/<chain id>/`: two
ecosystems' "sepolia" never collide. It is plain JSON so any tool can read it:

    {
      "network": "ethereum:sepolia", "chain_id": 11155111, "config": "sepolia",
      "config_sha256": "...", "deployer": "0x...", "genesis": "0x...",
      "contracts": {"OracleRouter": "0x...", "ClearinghouseAdmin": "0x...",
                    "Clearinghouse": "0x..."},
      "assets": {"WETH": {"token": "0x...", "decimals": 18, "feed": "0x...",
                          "second_feed": null, "mock_token": false, "mock_feed": false}},
      "markets": {"ETH-PERP": 0}, "block": 1234,
      "transactions": [{"what": "deployed OracleRouter", "hash": "0x...",
                        "block": 1234, "gas_used": 812345}]
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
class TransactionRecord:
    """One transaction a deploy sent: what it did, its hash, where it landed."""

    what: str
    hash: str
    block: int
    gas_used: int


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
    # SHA-256 of the config file the last run converged to (`sha256sum`).
    config_sha256: str = ""
    # Option expiries fixed at the first deployment ("WETH/0": the first
    # configured expiry of WETH's series), unix seconds.
    expiries: dict[str, int] = field(default_factory=dict)
    # Every transaction the deploy runs sent to this deployment, oldest first.
    transactions: list[TransactionRecord] = field(default_factory=list)

    @property
    def quote_symbol(self) -> str:
        """The quote asset: the deploy records it first (the config's
        `quote`, then its assets)."""
        return next(iter(self.assets))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DeploymentRecord:
        raw = json.loads(text)
        assets = {k: AssetRecord(**v) for k, v in raw.pop("assets", {}).items()}
        sent = [TransactionRecord(**t) for t in raw.pop("transactions", [])]
        return cls(**raw, assets=assets, transactions=sent)


def deployments_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


def record_path(ecosystem: str, chain_id: int, directory: Path | None = None) -> Path:
    """`deployments/<ecosystem>-<chain id>.json`, e.g. `ethereum-11155111.json`
    (Sepolia), `ethereum-31337.json` (an anvil)."""
    return (directory or deployments_dir()) / f"{ecosystem}-{chain_id}.json"


def legacy_record_path(network_name: str, directory: Path | None = None) -> Path:
    """Where records were kept before they were keyed by chain id
    (`deployments/<network name>.json`): named in the "missing" message."""
    return (directory or deployments_dir()) / f"{network_name}.json"


def legacy_move(network_name: str, path: Path) -> str | None:
    """If a record of the older layout stands where `path` is missing, the
    sentence that names it and the `mv` that adopts it; else None."""
    legacy = legacy_record_path(network_name, path.parent)
    if path.exists() or not legacy.is_file():
        return None
    return (
        f"{legacy} is a record of the older layout (keyed by network name): if it is this "
        f"chain's deployment, `mv {legacy} {path}` (and {legacy.with_suffix('.abi')} to "
        f"{abi_dir(path)})"
    )


def missing_record(network_name: str, path: Path, deploy_hint: str) -> str:
    """What to say when `path` holds no record: deploy, or rename an old one."""
    missing = f"no deployment for network '{network_name}' ({path} is missing)"
    move = legacy_move(network_name, path)
    return f"{missing}; {move}" if move else f"{missing}: {deploy_hint}"


def check_no_legacy_record(network_name: str, path: Path) -> None:
    """Refuses to deploy afresh beside a record of the older layout: that
    deployment would be left behind and a second one made. Says the `mv`."""
    move = legacy_move(network_name, path)
    if move:
        raise DeploymentError(f"{move}; to deploy afresh, move it out of the directory")


def abi_dir(record: Path) -> Path:
    """Where a deployment's ABIs are written: `deployments/<ecosystem>-<chain id>.abi/`."""
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


def require_record(
    ecosystem: str, network_name: str, chain_id: int, directory: Path | None = None
) -> DeploymentRecord:
    """The record for a chain, or a DeploymentError that says what to do."""
    path = record_path(ecosystem, chain_id, directory)
    record = read_record(path)
    if record is None:
        raise DeploymentError(
            missing_record(
                network_name,
                path,
                f"run `ape run deploy --network {ecosystem}:{network_name}:<provider>` first",
            )
        )
    if record.chain_id != chain_id:
        raise DeploymentError(
            f"{path} is for chain {record.chain_id}, but the node is chain {chain_id}"
        )
    return record
