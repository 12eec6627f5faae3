"""The fuzz machine's fast backend: the project's compiled contracts on
titanoboa's EVM, answering as Ape's in-process chain does.

The state machine (`tests/fuzz/machine.py`) and its model
(`tests/perps_world.py`) talk to a chain through a few shapes: contracts
whose functions are called with `sender=` (a transaction, mined in a
block of its own) or without (a view at the head block), receipts whose
`events` filter by event, and a chain with `blocks.head`,
`pending_timestamp`, `mine`, `snapshot` and `restore`. `BoaChain` gives
those shapes over one `boa.Env` directly: no JSON-RPC, no Ape manager and
no state trie in the path.

The bytecode is the one Ape compiled (`.build/__local__.json`), deployed
with the same arguments (`tests/fuzz/setup_world.py`), so both drivers run
the same contracts. Functions are encoded and decoded by
`xmargin.chain.light` (structs as named tuples, checksummed addresses, a
revert as Ape's `ContractLogicError` with the contract's reason), so the
readers of `xmargin.chain` and the keeper run over it unchanged; its logs
are kept per block and answer `eth_getLogs`-shaped questions.

Where it differs from Ape's in-process chain:
- a transaction that reverts mines nothing (Ape's chain mines a block for
  it): the head and the next block's pinned time stay, so after a refusal
  the machine's next action is a second earlier than on Ape's chain (its
  model follows either clock: `next_timestamp` pins each action's time);
- a view's answer is kept until the state moves (a block mined, a snapshot
  restored), so the invariants' reads after a refusal cost nothing;
- only the head block's state is held: a read at an earlier block is
  answered from the head and counted (`behind_reads`; the keeper reads
  its pass's block after its own transactions in that pass, when nothing
  else has moved: a node would answer those reads the same way unless the
  keeper's own transactions changed what they read);
- there is no mempool: the keeper's transactions (`BoaSender`) are mined
  as they are sent, with their gas limits, a failed one as failed;
- the accounts are its own (not Ape's test accounts), so addresses differ.
Gas is counted as a node counts it: intrinsic gas and calldata, refunds
capped at a fifth (`intrinsic_gas`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boa
from ape.exceptions import ContractLogicError, TransactionError
from boa.util.abi import Address
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from ethpm_types import ContractType

from xmargin.chain.abi import EXTENSIONS
from xmargin.chain.events import decoder
from xmargin.chain.light import Block, LightContract, LightMethod, LightNode, _abi_type, _Blocks
from xmargin.chain.revert_data import revert_reason

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".build" / "__local__.json"
# Ape's test provider starts near the wall clock; any fixed start will do.
GENESIS_TIME = 1_760_000_000
# Ape's in-process chain's block gas limit (a batch is cut to it).
BLOCK_GAS = 30_000_000
# Who asks a view (an eth_call without `from`): nobody in particular.
CALLER = Address("0x" + "00" * 20)


def intrinsic_gas(data: bytes) -> int:
    """What a call transaction pays before it runs: 21,000 and its calldata
    (4 per zero byte, 16 per other). Prague's calldata floor (EIP-7623, 10
    per token) binds only when execution costs less than 6 gas a token,
    never for the engine's calls: it is not applied."""
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


@cache
def _manifest() -> dict[str, Any]:
    if not MANIFEST.exists():
        raise FileNotFoundError(f"{MANIFEST} is missing: run `ape compile` (make setup) first")
    types: dict[str, Any] = json.loads(MANIFEST.read_text())["contractTypes"]
    return types


def abi_of(name: str) -> list[dict[str, Any]]:
    """A compiled contract's ABI; the Clearinghouse's with its extensions'
    functions and events (`xmargin.chain.abi.combined_type`, as JSON)."""
    types = _manifest()
    abi: list[dict[str, Any]] = list(types[name]["abi"])
    if name in ("Clearinghouse", "ClearinghouseHarness"):
        seen = {_key(item) for item in abi}
        for ext in EXTENSIONS:
            for item in types[ext]["abi"]:
                if item["type"] in ("function", "event", "error") and _key(item) not in seen:
                    seen.add(_key(item))
                    abi.append(item)
    return abi


def _key(item: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
    return (item["type"], item.get("name"), tuple(i["type"] for i in item.get("inputs", [])))


def bytecode_of(name: str) -> bytes:
    return bytes.fromhex(_manifest()[name]["deploymentBytecode"]["bytecode"][2:])


def _abi_value(item: dict[str, Any], value: Any) -> Any:
    """An argument as eth-abi takes it: contracts and accounts by address,
    structs given as dicts (Ape takes both) in their fields' order."""
    kind = str(item["type"])
    if kind.endswith("]"):
        inner = dict(item, type=kind[: kind.rindex("[")])
        return [_abi_value(inner, v) for v in value]
    if kind == "tuple":
        comps = item["components"]
        if isinstance(value, dict):
            value = [value[c["name"]] for c in comps]
        return tuple(_abi_value(c, v) for c, v in zip(comps, value, strict=True))
    if kind == "address":
        return to_checksum_address(str(getattr(value, "address", value)))
    return value


# ---------------------------------------------------------------- receipts


class Log:
    """One decoded log, read as Ape's ContractLog: fields by attribute."""

    def __init__(
        self, address: str, name: str, args: dict[str, Any], block: int, index: int
    ) -> None:
        self.contract_address = address
        self.event_name = name
        self.event_arguments = args
        self.block_number = block
        self.log_index = index

    def __getattr__(self, name: str) -> Any:
        args = self.__dict__.get("event_arguments", {})
        if name in args:
            return args[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"{self.event_name}({self.event_arguments})"


class Events(list):
    """A receipt's decoded logs; `filter(contract.Event)` as Ape's."""

    def filter(self, event: BoaEvent) -> list[Log]:
        return [
            e
            for e in self
            if e.event_name == event.name and e.contract_address == event.contract.address
        ]


@dataclass
class Receipt:
    txn_hash: str
    block_number: int
    timestamp: int
    gas_used: int
    events: Events
    sender: str
    return_value: Any = None
    failed: bool = False


@dataclass(frozen=True)
class RawLog:
    block: int
    index: int
    address: str
    topics: tuple[bytes, ...]
    data: bytes


# ---------------------------------------------------------------- contracts


class BoaMethod(LightMethod):
    """A view (no `sender`) or a transaction (`sender=`) of a BoaContract."""

    contract: BoaContract

    def __call__(  # type: ignore[override]
        self,
        *args: Any,
        sender: Any = None,
        value: int = 0,
        gas: int | None = None,
        block_id: int | str | None = None,
    ) -> Any:
        converted = self._converted(args)
        if sender is None:
            return super().__call__(*converted, block_id=block_id)
        data = self.encode_input(*converted)
        return self.contract.chain.send(sender, self.contract, data, value, gas=gas)

    def _converted(self, args: tuple[Any, ...]) -> list[Any]:
        """The arguments as eth-abi takes them (`_abi_value`)."""
        entry = self._entry(args)
        return [_abi_value(i, a) for i, a in zip(entry.get("inputs", []), args, strict=True)]

    def transact(self, *args: Any, sender: Any, gas: int, mine_failed: bool = True) -> Receipt:
        """A transaction already signed with its limit `gas`: mined even if
        it fails (`BoaChain.send`'s `mine_failed`)."""
        data = self.encode_input(*self._converted(args))
        return self.contract.chain.send(
            sender, self.contract, data, gas=gas, mine_failed=mine_failed
        )

    def encode_input(self, *args: Any) -> bytes:
        entry = self._entry(args)
        types = [_abi_type(i) for i in entry.get("inputs", [])]
        return _selector(entry["name"], tuple(types)) + encode(types, list(args))

    def estimate_gas_cost(self, *args: Any, sender: Any) -> int:
        """The gas a transaction would use (ContractLogicError if it would revert)."""
        data = self.encode_input(*self._converted(args))
        return self.contract.chain.simulate(sender, self.contract, data)

    @property
    def __name__(self) -> str:  # the keeper logs a method's name
        return str(self.entries[0]["name"])


@cache
def _selector(name: str, types: tuple[str, ...]) -> bytes:
    return keccak(text=f"{name}({','.join(types)})")[:4]


class BoaEvent:
    """`contract.Event`: a filter for receipts, and `range` for history."""

    def __init__(self, contract: BoaContract, entry: dict[str, Any]) -> None:
        self.contract, self.name = contract, str(entry["name"])

    def range(self, start: int, stop: int) -> list[Log]:
        return [
            log
            for log in self.contract.chain.logs(self.contract.address, start, stop - 1)
            if log.event_name == self.name
        ]


class BoaContract(LightContract):
    """A deployed contract on a BoaChain."""

    node: BoaChain

    def __init__(self, address: str, abi: list[dict[str, Any]], chain: BoaChain) -> None:
        super().__init__(address, abi, chain)
        self.contract_type = ContractType.model_validate({"abi": abi})
        self.abi = abi

    @property
    def chain(self) -> BoaChain:
        return self.node

    def __getattr__(self, name: str) -> Any:
        methods = self.__dict__.get("_methods", {})
        if name in methods:
            return BoaMethod(self, methods[name])
        events = self.__dict__.get("_events", {})
        if name in events:
            return BoaEvent(self, events[name])
        raise AttributeError(f"{name} is not a function or event of the contract at {self.address}")

    def __str__(self) -> str:
        return self.address

    def __eq__(self, other: object) -> bool:
        return str(getattr(other, "address", other)) == self.address

    def __hash__(self) -> int:
        return hash(self.address)


# ---------------------------------------------------------------- the chain


class _Eth:
    def __init__(self, chain: BoaChain) -> None:
        self.chain = chain

    def get_logs(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = {bytes.fromhex(str(t)[2:]) for t in flt["topics"][0]}
        return [
            {
                "blockNumber": log.block,
                "logIndex": log.index,
                "topics": list(log.topics),
                "data": log.data,
            }
            for log in self.chain.raw_logs(str(flt["address"]), flt["fromBlock"], flt["toBlock"])
            if log.topics and log.topics[0] in wanted
        ]

    def get_block(self, which: Any) -> dict[str, Any]:
        b = self.chain.block(which)
        return {"number": b.number, "timestamp": b.timestamp, "gasLimit": BLOCK_GAS}

    def call(self, tx: dict[str, Any], block: int | str = "latest") -> bytes:
        return self.chain.call(str(tx["to"]), tx["data"], block)


class _Web3:
    def __init__(self, chain: BoaChain) -> None:
        self.eth = _Eth(chain)

    def batch_requests(self) -> Any:
        raise NotImplementedError("no JSON-RPC batches in process: one call each")


@dataclass
class _State:
    """What a snapshot restores besides the EVM's accounts."""

    times: list[int]
    pin: int | None
    logs: int
    receipts: int


@dataclass
class BoaChain(LightNode):
    """One EVM (a fresh `boa.Env`), its blocks, logs and receipts."""

    env: Any = field(default_factory=boa.Env)
    # block number -> timestamp (block 0 is genesis)
    times: list[int] = field(default_factory=lambda: [GENESIS_TIME])
    # the next block's timestamp, when pinned (`pending_timestamp = t`)
    pin: int | None = None
    raw: list[RawLog] = field(default_factory=list)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    # address -> its ABI's events by topic 0: (name, decoder)
    decoders: dict[str, dict[bytes, Any]] = field(default_factory=dict)
    gas_price: int = 0
    max_gas: int = BLOCK_GAS
    # transactions mined (their hashes count them: unique across restores)
    sent: int = 0
    # reads at an earlier block, answered from the head (`call`)
    behind_reads: int = 0
    # (to, calldata) -> the answer at the current state (`call`)
    views: dict[tuple[str, bytes], bytes | ContractLogicError] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.blocks = _Blocks(self)
        self.web3 = _Web3(self)
        self.provider = self
        self.env.evm.patch.timestamp = self.times[0]
        self.env.evm.patch.block_number = 0
        self.env.evm.patch.gas_limit = BLOCK_GAS

    # Ape's chain manager and provider, as the readers and the machine ask
    @property
    def chain_manager(self) -> BoaChain:
        return self

    @property
    def pending_timestamp(self) -> int:
        return self.times[-1] + 1 if self.pin is None else self.pin

    @pending_timestamp.setter
    def pending_timestamp(self, value: int) -> None:
        """Pins the next block's time; like Ape's chain, never at or before
        the head's."""
        if int(value) <= self.times[-1]:
            raise ValueError(f"next block at {value}, not after the head's {self.times[-1]}")
        self.pin = int(value)

    def block(self, number: int | str) -> Block:
        n = len(self.times) - 1 if number in ("latest", None) else int(number)
        if not 0 <= n < len(self.times):
            raise ValueError(f"no block {number} (head {len(self.times) - 1})")
        return Block(n, self.times[n], "0x" + n.to_bytes(32, "big").hex())

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self._next_block()

    def _next_block(self) -> int:
        t = self.pending_timestamp
        self.pin = None
        self.times.append(t)
        self.views.clear()
        self.env.evm.patch.timestamp = t
        self.env.evm.patch.block_number = len(self.times) - 1
        return t

    def snapshot(self) -> tuple[Any, _State]:
        return self.env.evm.snapshot(), _State(
            list(self.times), self.pin, len(self.raw), len(self.receipts)
        )

    def restore(self, snap: tuple[Any, _State]) -> None:
        evm_snap, st = snap
        self.env.evm.revert(evm_snap)
        self.times, self.pin = list(st.times), st.pin
        self.views.clear()
        del self.raw[st.logs :]
        for h in list(self.receipts)[st.receipts :]:
            del self.receipts[h]
        self.env.evm.patch.timestamp = self.times[-1]
        self.env.evm.patch.block_number = len(self.times) - 1

    def get_receipt(self, tx_hash: str) -> Receipt:
        return self.receipts[tx_hash]

    # -------------------------------------------------------- accounts and code

    def account(self, i: int) -> str:
        """The i-th funded test account (a checksummed address)."""
        address = to_checksum_address(keccak(text=f"xmargin account {i}")[-20:])
        self.env.set_balance(Address(address), 10**24)
        return address

    def deploy(self, name: str, *args: Any, sender: str) -> BoaContract:
        """Deploys compiled contract `name` (constructor `args`) from `sender`."""
        abi = abi_of(name)
        ctor = next((i for i in abi if i["type"] == "constructor"), {"inputs": []})
        types = [_abi_type(i) for i in ctor["inputs"]]
        values = [_abi_value(i, a) for i, a in zip(ctor["inputs"], args, strict=True)]
        code = bytecode_of(name) + encode(types, values)
        self._next_block()
        address, computation = self.env.deploy(sender=Address(sender), bytecode=code)
        if computation.is_error:
            raise ContractLogicError(
                revert_reason(bytes(computation.output)) or "deploy failed",
                set_ape_traceback=False,
            )
        self.env.evm.vm.state.clear_transient_storage()
        return self.at(str(address), name)

    def at(self, address: str, name: str) -> BoaContract:
        abi = abi_of(name)
        c = BoaContract(address, abi, self)
        self.decoders.setdefault(c.address, _event_decoders(abi))
        return c

    # -------------------------------------------------------- transactions

    def send(
        self,
        sender: Any,
        contract: BoaContract,
        data: bytes,
        value: int = 0,
        gas: int | None = None,
        mine_failed: bool = False,
    ) -> Receipt:
        """Mines one block with this transaction; the receipt. `gas` is the
        transaction's limit (the block's by default): intrinsic gas (21,000
        and the calldata) first, the rest for execution. A transaction that
        reverts raises ContractLogicError with the contract's reason and
        mines nothing (as a node refuses one whose estimate reverts): the
        chain, its head and the next block's pinned time stay as they were;
        with `mine_failed` (a transaction already signed and sent with its
        limit: the keeper's) it is mined as failed and its receipt says so."""
        t, number = self.pending_timestamp, len(self.times)
        limit = self.max_gas if gas is None else int(gas)
        base = intrinsic_gas(data)
        patch = self.env.evm.patch
        patch.timestamp, patch.block_number = t, number
        if limit < base:
            comp = None
        else:
            comp = self.env.execute_code(
                to_address=Address(contract.address),
                sender=Address(str(sender)),
                value=value,
                data=data,
                gas=limit - base,
            )
            self.env.evm.vm.state.clear_transient_storage()
        failed = comp is None or comp.is_error
        if failed and not mine_failed:
            patch.timestamp, patch.block_number = self.times[-1], number - 1
            reason = "intrinsic gas too low" if comp is None else _reason(comp)
            raise ContractLogicError(reason, set_ape_traceback=False)
        self.times.append(t)
        self.pin = None
        self.views.clear()
        self.sent += 1
        tx_hash = "0x" + keccak(text=f"tx {self.sent}").hex()
        events = Events()
        if comp is not None and not failed:
            for index, (_, address, topics, data_) in enumerate(comp.get_raw_log_entries()):
                where = to_checksum_address(address)
                raw = RawLog(
                    number, index, where, tuple(t_.to_bytes(32, "big") for t_ in topics), data_
                )
                self.raw.append(raw)
                log = self._decode(raw)
                if log is not None:
                    events.append(log)
        if failed:
            used = limit  # a failed transaction spends its whole limit
        else:
            assert comp is not None
            spent = base + comp.get_gas_used()
            used = spent - min(comp.get_gas_refund(), spent // 5)
        receipt = Receipt(tx_hash, number, t, used, events, str(sender), failed=failed)
        self.receipts[tx_hash] = receipt
        return receipt

    def simulate(self, sender: Any, contract: BoaContract, data: bytes) -> int:
        """The gas the transaction would take in the next block, intrinsic
        gas included and refunds not taken off (a node's estimate); nothing
        kept. ContractLogicError when it would revert."""
        snap, views = self.snapshot(), dict(self.views)
        patch = self.env.evm.patch
        patch.timestamp, patch.block_number = self.pending_timestamp, len(self.times)
        try:
            comp = self.env.execute_code(
                to_address=Address(contract.address),
                sender=Address(str(sender)),
                data=data,
                gas=self.max_gas - intrinsic_gas(data),
            )
            if comp.is_error:
                raise ContractLogicError(_reason(comp), set_ape_traceback=False)
            return intrinsic_gas(data) + comp.get_gas_used()
        finally:
            self.restore(snap)
            self.views.update(views)  # the same state as before: the same answers

    def call(
        self, to: str, data: bytes | str, block: int | str | None = None, gas: Any = None
    ) -> bytes:
        """A view at the head block. The answers are kept until the state
        moves (a block is mined, a snapshot restored): the same question at
        the same state has the same answer, and the invariants ask most of
        theirs again after a step that changed nothing (a refusal)."""
        if isinstance(block, int) and block != len(self.times) - 1:
            # Only the head's state is held: a read at an earlier block is
            # answered from the head, and counted (the keeper reads its
            # pass's block after its own transactions in that pass, e.g.
            # the next order after settling one; nothing else moves then).
            if not 0 <= block < len(self.times):
                raise ValueError(f"no block {block} (head {len(self.times) - 1})")
            self.behind_reads += 1
        raw = data if isinstance(data, bytes) else bytes.fromhex(data[2:])
        key = (to, raw)
        answer = self.views.get(key)
        if answer is None:
            comp = self.env.execute_code(
                to_address=Address(to), data=raw, is_modifying=False, sender=CALLER
            )
            answer = (
                ContractLogicError(_reason(comp), set_ape_traceback=False)
                if comp.is_error
                else bytes(comp.output)
            )
            self.views[key] = answer
        if isinstance(answer, ContractLogicError):
            raise ContractLogicError(answer.message, set_ape_traceback=False)
        return answer

    def get_code(self, address: str, block_id: int | str | None = None) -> bytes:
        return bytes(self.env.get_code(Address(address)))

    # -------------------------------------------------------- logs

    def raw_logs(self, address: str, first: int, last: int) -> Iterator[RawLog]:
        where = to_checksum_address(address)
        for log in self.raw:
            if log.address == where and first <= log.block <= last:
                yield log

    def logs(self, address: str, first: int, last: int) -> list[Log]:
        out = []
        for raw in self.raw_logs(address, first, last):
            log = self._decode(raw)
            if log is not None:
                out.append(log)
        return out

    def get_logs(self, address: str, topic: str, first: int, last: int) -> list[dict[str, Any]]:
        want = bytes.fromhex(topic[2:])
        return [
            {
                "blockNumber": hex(log.block),
                "logIndex": hex(log.index),
                "topics": ["0x" + t.hex() for t in log.topics],
                "data": "0x" + log.data.hex(),
            }
            for log in self.raw_logs(address, first, last)
            if log.topics and log.topics[0] == want
        ]

    def _decode(self, raw: RawLog) -> Log | None:
        by_topic = self.decoders.get(raw.address, {})
        if not raw.topics or raw.topics[0] not in by_topic:
            return None
        name, d = by_topic[raw.topics[0]]
        return Log(raw.address, name, d.args(raw.topics, raw.data), raw.block, raw.index)


def _event_decoders(abi: Sequence[dict[str, Any]]) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for item in abi:
        if item["type"] == "event":
            fields = [
                (str(i["name"]), _abi_type(i), bool(i.get("indexed"))) for i in item["inputs"]
            ]
            topic, d = decoder(str(item["name"]), fields)
            out[topic] = (str(item["name"]), d)
    return out


def _reason(computation: Any) -> str:
    """The revert's reason, as Ape words it (no data: Ape's default)."""
    data = bytes(computation.output or b"")
    if data:
        return revert_reason(data)
    return TransactionError.DEFAULT_MESSAGE


# ---------------------------------------------------------------- deploying


class BoaDeployer:
    """`tests.fuzz.setup_world.Deployer` over a BoaChain."""

    def __init__(self, chain: BoaChain | None = None) -> None:
        self.chain = chain if chain is not None else BoaChain()

    def account(self, i: int) -> str:
        return self.chain.account(i)

    def deploy(self, name: str, *args: Any, sender: Any) -> BoaContract:
        return self.chain.deploy(name, *args, sender=str(sender))

    def clearinghouse(self, sender: Any, quote: Any, oracle: Any, cap: int) -> BoaContract:
        """The extensions, then the core (`xmargin.chain.abi.deploy_clearinghouse`'s
        order), as one contract with every function and event of its address."""
        from xmargin.chain.abi import ADMIN, LIQUIDATOR, ORDERS, POOL

        admin = self.deploy(ADMIN, sender=sender)
        liquidator = self.deploy(LIQUIDATOR, admin, sender=sender)
        pool = self.deploy(POOL, sender=sender)
        orders = self.deploy(ORDERS, sender=sender)
        return self.deploy(
            "Clearinghouse", quote, oracle, cap, liquidator, pool, orders, sender=sender
        )

    def engine(self, ch: Any, oracle: Any, tokens: dict, feeds: dict, pool: Any, lens: Any) -> Any:
        from tests.engines import engine_over

        return engine_over(
            ch,
            oracle,
            tokens,
            feeds,
            {"ETH": 0, "BTC": 1},
            pool,
            lens=lens,
            risk_at=lambda address: self.chain.at(address, "PortfolioRisk"),
        )


# ---------------------------------------------------------------- the keeper's sender


@dataclass
class _Txn:
    gas_limit: int
    max_fee: int = 0


@dataclass
class BoaSender:
    """`xmargin.ops.sender.Sender` for a BoaChain: no mempool, so a
    transaction is mined when submitted, with its gas limit, and `wait`
    returns its receipt (a revert on chain is a failed receipt, as a node
    reports it)."""

    account: str
    chain: BoaChain
    gas_margin: float = 1.15
    replaced: int = 0
    rebroadcast: int = 0
    _nonce: int = 0

    @property
    def web3(self) -> _Web3:
        return self.chain.web3

    def estimate(self, method: BoaMethod, *args: Any) -> int:
        return int(method.estimate_gas_cost(*args, sender=self.account))

    def gas_limit(self, estimate: int) -> int:
        return math.ceil(estimate * self.gas_margin)

    def submit(self, method: BoaMethod, *args: Any, estimate: int | None = None) -> Any:
        """Simulates (unless given the estimate just made: the state may
        have moved since), then mines the transaction with the keeper's
        limit, `Sender`'s: the estimate times the margin, at most the
        block's gas. One that fails on chain (out of gas, or a state that
        moved) is mined as failed, as a node would."""
        from xmargin.ops.sender import Pending

        gas = self.estimate(method, *args) if estimate is None else estimate
        limit = min(self.gas_limit(gas), self.chain.max_gas)
        self._nonce += 1
        block = self.chain.block("latest").number
        receipt = method.transact(*args, sender=self.account, gas=limit)
        return Pending(self._nonce, _Txn(limit), [receipt.txn_hash], block)  # type: ignore[arg-type]

    def wait(self, pending: list[Any], timeout: float = 120.0) -> list[Receipt]:
        return [self.chain.get_receipt(p.hashes[-1]) for p in pending]
