"""Reading a deployment without Ape: the CLI's fast path.

Over a link with 100 ms round trips, `xmargin status` read the chain in 2
requests but took 4.4 s, 2 s of it before its first request: importing
Ape, its plugins and py-evm, and loading the project's compiled contracts.
A reader needs none of that: the deploy writes every ABI beside the record
(`deployments/<ecosystem>-<chain id>.abi/`), eth-abi encodes and decodes,
and `xmargin.chain.pinned.PinnedReads` over plain HTTP (`UrllibTransport`)
asks the node.

`LightContract` answers the calls the readers make (`xmargin.chain.engine`,
`.orders`, `.lp_requests`, `.assets`, `.oracle`, `.risk_set`) the way an Ape
contract instance does: `contract.view(*args, block_id=n)` returns ints,
bools, checksummed addresses, tuples, lists, and structs with their fields
by name and in order; a revert raises Ape's `ContractLogicError` with the
contract's reason. `light_connect` resolves a network choice as the CLI's
Ape path does (`xmargin.chain.connect`), with the same checks and messages,
or raises `UnsupportedError` for a choice it cannot resolve alone (another
ecosystem, an unknown public network, a provider other than `node` or
`foundry`, a deployment whose ABI files are missing): the caller then takes
the Ape path, which reads the same numbers.
"""

from __future__ import annotations

import json
import os
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ape.exceptions import ContractLogicError
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from xmargin.chain.deployments import REPO_ROOT, DeploymentRecord, abi_dir, require_record
from xmargin.chain.network import (
    PROBE_TIMEOUT,
    ConnectError,
    NetworkInfo,
    check_genesis,
    find_record,
    no_uri,
    node_settings,
    other_chain,
    unreachable,
    uri_variable,
)
from xmargin.chain.pinned import PinnedReads, UnansweredError, UrllibTransport, get_logs
from xmargin.chain.revert_data import revert_reason

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance

    from xmargin.chain.engine import Engine

# The public networks of Ape's ethereum ecosystem and their chain ids
# (`ape_ethereum.ecosystem.NETWORKS`); any other choice takes the Ape path.
PUBLIC_CHAIN_IDS = {"mainnet": 1, "sepolia": 11_155_111, "holesky": 17_000}
PROVIDERS = ("node", "foundry")
# Ape's node provider's URL for a local network when ape-config.yaml gives none.
LOCAL_URI = "http://127.0.0.1:8545"
# The ERC-20 and AggregatorV3 views a reader asks of tokens and feeds.
ERC20_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": inputs,
        "outputs": [{"name": "", "type": out}],
    }
    for name, inputs, out in (
        ("balanceOf", [{"name": "owner", "type": "address"}], "uint256"),
        ("decimals", [], "uint8"),
        ("symbol", [], "string"),
        ("totalSupply", [], "uint256"),
    )
]
AGGREGATOR_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "latestRoundData",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": n, "type": t}
            for n, t in (
                ("roundId", "uint80"),
                ("answer", "int256"),
                ("startedAt", "uint256"),
                ("updatedAt", "uint256"),
                ("answeredInRound", "uint80"),
            )
        ],
    },
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
]
# A configured URL that is one variable not set: said by `light_connect`
# after the record is looked for (the Ape path's order).
NO_URI = "<unset>"


class UnsupportedError(Exception):
    """The fast path cannot serve this choice alone: use Ape's."""


# ---------------------------------------------------------------- the network


@dataclass(frozen=True)
class Target:
    """A network choice resolved without Ape."""

    ecosystem: str
    name: str
    uri: str
    # None on a local network: the node's own
    chain_id: int | None

    @property
    def is_local(self) -> bool:
        return self.chain_id is None


def _configured_uri(ecosystem: str, name: str, config: Path) -> str | None:
    """`node.<ecosystem>.<name>.uri` of ape-config.yaml, variables expanded
    as Ape expands them (anywhere in it); NO_URI when it is one variable
    that is not set (`light_connect` then says what to set). UnsupportedError when the URL is given
    otherwise (`url`, `http_uri`, ... which Ape reads too) or names another
    variable that is not set."""
    settings = node_settings(ecosystem, name, config)
    uri = settings.get("uri")
    if uri is None:
        if any(k in settings for k in ("url", "http_uri", "ws_uri", "ipc_path")):
            raise UnsupportedError(f"node.{ecosystem}.{name} has no uri")
        return None
    text = str(uri).strip()
    variable = uri_variable(ecosystem, name, config)
    if variable is not None and not os.environ.get(variable, "").strip():
        # Said after the record is looked for, as the Ape path does.
        return NO_URI
    expanded = os.path.expandvars(text).strip()
    if "$" in expanded:
        raise UnsupportedError(f"node.{ecosystem}.{name}.uri names a variable that is not set")
    return expanded


def resolve(choice: str, rpc: str | None, config: Path | None = None) -> Target:
    """`ecosystem:network:provider` as the CLI's Ape path would read it, or
    UnsupportedError. A choice that leaves a part out is Ape's to complete
    (its defaults come from ape-config.yaml: `ethereum:local` is the
    in-process `test` provider here)."""
    parts = [p.strip() for p in choice.split(":")]
    if len(parts) != 3 or not all(parts):
        raise UnsupportedError(choice)
    ecosystem, name, provider = parts
    if ecosystem != "ethereum" or provider not in PROVIDERS:
        raise UnsupportedError(choice)
    if name != "local" and name not in PUBLIC_CHAIN_IDS:
        raise UnsupportedError(choice)
    if provider == "foundry" and (name != "local" or rpc is None):
        # A fork, or ape-foundry's own node URL (`foundry.host`, which may
        # be `auto`, or APE_FOUNDRY_HOST): ape-foundry's own business.
        raise UnsupportedError(choice)
    uri = rpc
    if uri is None and provider == "node":
        uri = _configured_uri(ecosystem, name, config or REPO_ROOT / "ape-config.yaml")
    if uri is None and name == "local":
        uri = LOCAL_URI
    if uri is None or (uri != NO_URI and not uri.startswith(("http://", "https://"))):
        # No URL: Ape may know a public one (or says what is missing).
        raise UnsupportedError(choice)
    return Target(ecosystem, name, uri, None if name == "local" else PUBLIC_CHAIN_IDS[name])


# ---------------------------------------------------------------- contracts


@cache
def _struct(names: tuple[str, ...]) -> type:
    """A tuple with its fields by name (Ape's struct outputs read the same)."""
    return namedtuple("Struct", names, rename=True)


def _abi_type(item: dict[str, Any]) -> str:
    """The canonical type of one ABI input or output (tuples spelled out)."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _convert(item: dict[str, Any], value: Any) -> Any:
    """eth-abi's value as Ape gives it: checksummed addresses, structs."""
    kind = str(item["type"])
    if kind.endswith("]"):
        inner = dict(item, type=kind[: kind.rindex("[")])
        return [_convert(inner, v) for v in value]
    if kind == "tuple":
        components = item["components"]
        fields = tuple(str(c.get("name") or f"_{i}") for i, c in enumerate(components))
        values = (_convert(c, v) for c, v in zip(components, value, strict=True))
        return _struct(fields)(*values)
    if kind == "address":
        return to_checksum_address(value)
    return value


def revert_message(data: str | None) -> str:
    """The reason in a node's revert data (hex), or that data as given."""
    try:
        raw = bytes.fromhex((data or "0x")[2:])
    except ValueError:
        return data or "reverted"
    return revert_reason(raw) if raw else "reverted"


class LightMethod:
    """One view of a LightContract (overloads chosen by argument count)."""

    def __init__(self, contract: LightContract, entries: Sequence[dict[str, Any]]) -> None:
        self.contract, self.entries = contract, entries

    def _entry(self, args: Sequence[Any]) -> dict[str, Any]:
        for entry in self.entries:
            if len(entry.get("inputs", [])) == len(args):
                return entry
        raise TypeError(f"{self.entries[0]['name']} takes no {len(args)} arguments")

    def encode_input(self, *args: Any) -> bytes:
        entry = self._entry(args)
        types = [_abi_type(i) for i in entry.get("inputs", [])]
        selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
        return selector + encode(types, list(args))

    def __call__(self, *args: Any, block_id: int | str | None = None) -> Any:
        entry = self._entry(args)
        address = str(self.contract.address)
        raw = self.contract.node.call(address, self.encode_input(*args), block_id)
        outputs = entry.get("outputs", [])
        try:
            values = decode([_abi_type(o) for o in outputs], raw)
        except DecodingError as err:
            # No code there, or an answer of another shape (through Ape: a ValueError).
            shown = raw.hex() or "nothing"
            raise ValueError(f"{address} answered {entry['name']} with {shown}") from err
        converted = tuple(_convert(o, v) for o, v in zip(outputs, values, strict=True))
        return converted[0] if len(converted) == 1 else converted


@dataclass(frozen=True)
class LightLog:
    """One decoded log, as Ape's ContractLog gives what the readers use."""

    block_number: int
    log_index: int
    event_arguments: dict[str, Any]


@dataclass(frozen=True)
class EventAbi:
    # "Name(type,...)", as Ape's event ABI's `selector`
    selector: str


class LightEvent:
    """One event of a LightContract: `range(start, stop)` (stop exclusive,
    as Ape's) reads its logs with one `eth_getLogs` through the node."""

    def __init__(self, contract: LightContract, entry: dict[str, Any]) -> None:
        from xmargin.chain.events import decoder

        self.contract = contract
        fields = [(str(i["name"]), _abi_type(i), bool(i.get("indexed"))) for i in entry["inputs"]]
        self.topic, self._decoder = decoder(str(entry["name"]), fields)
        self.abi = EventAbi(f"{entry['name']}({','.join(t for _, t, _ in fields)})")

    def range(self, start: int, stop: int) -> list[LightLog]:
        address = str(self.contract.address)
        out = []
        for log in self.contract.node.get_logs(address, "0x" + self.topic.hex(), start, stop - 1):
            topics = [bytes.fromhex(str(t)[2:]) for t in log["topics"]]
            args = self._decoder.args(topics, bytes.fromhex(str(log["data"])[2:]))
            out.append(LightLog(int(log["blockNumber"], 16), int(log["logIndex"], 16), args))
        out.sort(key=lambda g: (g.block_number, g.log_index))
        return out


class LightContract:
    """A contract at an address, read through a LightNode."""

    def __init__(self, address: str, abi: list[dict[str, Any]], node: LightNode) -> None:
        self.address = to_checksum_address(address)
        self.contract_type = abi
        self.node = node
        self._methods: dict[str, list[dict[str, Any]]] = {}
        self._events: dict[str, dict[str, Any]] = {}
        for item in abi:
            if item.get("type") == "function":
                self._methods.setdefault(str(item["name"]), []).append(item)
            elif item.get("type") == "event":
                self._events[str(item["name"])] = item

    def __getattr__(self, name: str) -> Any:
        methods = self.__dict__.get("_methods", {})
        if name in methods:
            return LightMethod(self, methods[name])
        events = self.__dict__.get("_events", {})
        if name in events:
            return LightEvent(self, events[name])
        raise AttributeError(f"{name} is not a view or event of the contract at {self.address}")

    @property
    def provider(self) -> LightNode:
        return self.node

    @property
    def chain_manager(self) -> LightNode:
        return self.node


# ---------------------------------------------------------------- the node


@dataclass(frozen=True)
class Block:
    number: int
    timestamp: int
    hash: str


class _Blocks:
    def __init__(self, node: LightNode) -> None:
        self.node = node

    def __getitem__(self, number: int) -> Block:
        return self.node.block(number)

    @property
    def head(self) -> Block:
        return self.node.block("latest")


class _Contracts:
    def __init__(self, node: LightNode) -> None:
        self.node = node

    def instance_at(self, address: str, contract_type: list[dict[str, Any]]) -> LightContract:
        return LightContract(address, contract_type, self.node)


class _Eth:
    def __init__(self, node: LightNode) -> None:
        self.node = node

    def call(self, tx: dict[str, Any], block: int | str = "latest") -> bytes:
        gas = tx.get("gas")
        return self.node.call(str(tx["to"]), tx["data"], block, gas=gas)


class _Web3:
    def __init__(self, node: LightNode) -> None:
        self.eth = _Eth(node)


class LightNode:
    """Questions to one node through a PinnedReads: the pinned block's
    answers kept, a revert raised as Ape's ContractLogicError, any other
    error as ConnectError. It also answers the few chain questions the
    readers ask of Ape's provider and chain manager: code, blocks, an
    instance at an address, and a bare `web3.eth.call`."""

    def __init__(self, reads: PinnedReads) -> None:
        self.reads = reads
        self.blocks = _Blocks(self)
        self.contracts = _Contracts(self)
        self.web3 = _Web3(self)

    def _ask(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.reads.ask(method, params)
        except Exception as err:  # the transport: a dropped connection, a timeout
            raise ConnectError(f"lost the node at {self.reads.uri}: {err}") from err
        if not isinstance(response, dict):
            raise ConnectError(
                f"the node at {self.reads.uri} answered {method} with {response!r:.200}"
            )
        error = response.get("error")
        if error is None:
            return response.get("result")
        if isinstance(error, dict) and (
            error.get("code") == 3 or "revert" in str(error.get("message", "")).lower()
        ):
            data = error.get("data")
            raise ContractLogicError(
                revert_message(data if isinstance(data, str) else None), set_ape_traceback=False
            )
        raise ConnectError(f"the node at {self.reads.uri} refused {method}: {error}")

    def call(
        self, to: str, data: bytes | str, block: int | str | None = None, gas: Any = None
    ) -> bytes:
        hexdata = data if isinstance(data, str) else "0x" + data.hex()
        tx: dict[str, Any] = {"to": to, "data": hexdata}
        if gas is not None:
            tx["gas"] = gas if isinstance(gas, str) else hex(gas)
        result = self._ask("eth_call", [tx, _tag(block)])
        return bytes.fromhex(str(result)[2:])

    def get_logs(self, address: str, topic: str, first: int, last: int) -> list[dict[str, Any]]:
        """`address`'s logs of one event (topic 0) in blocks [first, last]."""
        result = self._ask(*get_logs(address, topic, first, last))
        if not isinstance(result, list):
            # null (a backend behind the range): not "no events"
            raise ConnectError(f"the node at {self.reads.uri} answered eth_getLogs with {result!r}")
        return result

    def block(self, number: int | str) -> Block:
        answer = self._ask("eth_getBlockByNumber", [_tag(number), False])
        return Block(int(answer["number"], 16), int(answer["timestamp"], 16), answer["hash"])

    def get_code(self, address: str, block_id: int | str | None = None) -> bytes:
        return bytes.fromhex(str(self._ask("eth_getCode", [address, _tag(block_id)]))[2:])


def _tag(block: int | str | None) -> str:
    if block is None:
        return "latest"
    return hex(block) if isinstance(block, int) else block


# ---------------------------------------------------------------- the engine


def load_light_engine(
    record: DeploymentRecord, abis: Path, node: LightNode, risk: str | None
) -> Engine:
    """The record's engine, its contracts LightContracts from the ABI files
    the deploy wrote, `risk` the PortfolioRisk in force (or None);
    UnsupportedError when a file is missing. The instances are typed as
    Ape's: the readers use only what LightContract answers."""
    from xmargin.chain.engine import Engine

    def abi(name: str) -> list[dict[str, Any]]:
        try:
            loaded: list[dict[str, Any]] = json.loads((abis / f"{name}.json").read_text())
        except (OSError, ValueError) as err:
            raise UnsupportedError(f"no ABI file {abis / name}.json") from err
        return loaded

    def at(name: str) -> ContractInstance | None:
        address = record.contracts.get(name)
        if address is None:
            return None
        return cast("ContractInstance", LightContract(address, abi(name), node))

    ch = at("Clearinghouse")
    router = at("OracleRouter")
    assert ch is not None and router is not None, "a record names both"
    tokens = {
        s: cast("ContractInstance", LightContract(a.token, ERC20_ABI, node))
        for s, a in record.assets.items()
    }
    feeds = {
        s: cast("ContractInstance", LightContract(a.feed, AGGREGATOR_ABI, node))
        for s, a in record.assets.items()
        if a.feed is not None
    }
    return Engine(
        record=record,
        router=router,
        clearinghouse=ch,
        tokens=tokens,
        feeds=feeds,
        pool=at("LiquidityPool"),
        portfolio_risk=(
            cast("ContractInstance", LightContract(risk, abi("PortfolioRisk"), node))
            if risk
            else None
        ),
        lens=at("ClearinghouseLens"),
    )


@dataclass(frozen=True)
class LightConnection:
    """What `light_connect` yields: as `xmargin.chain.connect.Connection`,
    with the node in place of Ape's provider."""

    node: LightNode
    network: NetworkInfo
    record: DeploymentRecord
    record_path: Path
    reads: PinnedReads


@contextmanager
def light_connect(choice: str, rpc: str | None = None) -> Iterator[LightConnection]:
    """Connects to `choice`'s node (at `rpc` if given) without Ape, with
    the checks of `xmargin.chain.connect.connect` in the same order and
    words; UnsupportedError (before any request) when it cannot resolve the
    choice alone or the record has no ABI files beside it."""
    target = resolve(choice, rpc)
    path = None
    if target.chain_id is not None:
        path = find_record(target.ecosystem, target.name, target.chain_id)
        if not abi_dir(path).is_dir():
            raise UnsupportedError(f"no ABI files beside {path}")
    if target.uri == NO_URI:
        raise no_uri(target.ecosystem, target.name)
    reads = PinnedReads(target.uri, timeout=60.0, transport=UrllibTransport)
    try:
        answered = reads.start(probe_timeout=PROBE_TIMEOUT)
    except UnansweredError as err:
        raise unreachable(target.uri) from err
    if target.chain_id is not None and answered != target.chain_id:
        raise other_chain(target.uri, answered, target.name, target.chain_id)
    chain_id = target.chain_id if target.chain_id is not None else answered
    if path is None:
        path = find_record(target.ecosystem, target.name, chain_id)
        if not abi_dir(path).is_dir():
            raise UnsupportedError(f"no ABI files beside {path}")
    record = require_record(target.ecosystem, target.name, chain_id)
    node = LightNode(reads)
    # Kept from the opening, or asked again (its answer there refused).
    check_genesis(record, node.block(0).hash, target.name)
    network = NetworkInfo(target.ecosystem, target.name, chain_id, target.is_local)
    yield LightConnection(node, network, record, path, reads)
