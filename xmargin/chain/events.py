"""Reading a contract's events in chain order, incrementally.

The keeper's books (`orders.OrderBook`, `lp_requests.RequestBook`, the
account replica `xmargin.chain.replica`) learn state from events:
`EventCursor.advance` returns the named events of the blocks it has not
read yet, sorted by (block, log index), so a book that applies them in
order ends where the chain is.

The logs are fetched with one `eth_getLogs` per range of blocks for every
name at once (its topic filter lists them all) and decoded with eth-abi
from the contract's ABI: Ape's per-event `range` makes one request per
name and builds a model object per log, which costs seconds at the tens of
thousands of logs a backfill of 10,000 accounts reads. A node that refuses
a range as too large (a result cap) gets it again in halves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ape.exceptions import ProviderError
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance

# Blocks per eth_getLogs request (halved for a node that refuses it).
LOG_RANGE = 10_000


@dataclass(frozen=True)
class _Decoder:
    """One event's topic 0 and how to decode its indexed and data fields."""

    name: str
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]

    def args(self, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, type_), topic in zip(self.indexed, topics[1:], strict=True):
            (out[name],) = decode([type_], bytes(topic))
        values = decode([t for _, t in self.data], bytes(data))
        out.update(zip((n for n, _ in self.data), values, strict=True))
        for name, type_ in (*self.indexed, *self.data):
            if type_ == "address":
                out[name] = to_checksum_address(out[name])
        return out


def decoder(name: str, fields: Sequence[tuple[str, str, bool]]) -> tuple[bytes, _Decoder]:
    """An event's topic 0 and decoder from its fields: (name, canonical
    type, indexed) in ABI order."""
    topic = keccak(text=f"{name}({','.join(t for _, t, _ in fields)})")
    indexed = tuple((n, t) for n, t, ix in fields if ix)
    return topic, _Decoder(name, indexed, tuple((n, t) for n, t, ix in fields if not ix))


def _decoders(contract: ContractInstance, names: Sequence[str]) -> dict[bytes, _Decoder]:
    """topic 0 -> decoder, for each named event of the contract's ABI."""
    out: dict[bytes, _Decoder] = {}
    by_name = {abi.name: abi for abi in contract.contract_type.events}
    for name in names:
        fields = [
            (str(i.name), str(i.canonical_type), bool(i.indexed)) for i in by_name[name].inputs
        ]
        topic, d = decoder(name, fields)
        out[topic] = d
    return out


def _fetch(
    contract: ContractInstance, decoders: Mapping[bytes, _Decoder], start: int, end: int
) -> list[tuple[int, int, str, dict[str, Any]]]:
    from web3.exceptions import Web3Exception  # the keeper's (Ape's web3)

    web3 = contract.provider.web3
    topics = ["0x" + t.hex() for t in decoders]
    out: list[tuple[int, int, str, dict[str, Any]]] = []
    step = LOG_RANGE
    lo = start
    while lo <= end:
        hi = min(lo + step - 1, end)
        try:
            logs = web3.eth.get_logs(
                {
                    "address": str(contract.address),
                    "fromBlock": lo,
                    "toBlock": hi,
                    "topics": [topics],
                }
            )
        except (ProviderError, Web3Exception, ValueError):
            if hi == lo:
                raise
            step = max((hi - lo + 1) // 2, 1)
            continue
        for log in logs:
            d = decoders[bytes(log["topics"][0])]
            args = d.args(log["topics"], log["data"])
            out.append((int(log["blockNumber"]), int(log["logIndex"]), d.name, args))
        lo = hi + 1
    out.sort(key=lambda x: (x[0], x[1]))
    return out


@dataclass
class EventCursor:
    contract: ContractInstance
    names: Sequence[str]
    # The first block to read (the deployment's).
    from_block: int = 0
    _next_block: int | None = None
    _decoders: dict[bytes, _Decoder] = field(default_factory=dict)

    def advance(self, head: int) -> list[tuple[str, Any]]:
        """(event name, arguments) of the blocks up to `head` not read yet."""
        return [(name, args) for _, _, name, args in self.advance_logs(head)]

    def advance_logs(self, head: int) -> list[tuple[int, int, str, dict[str, Any]]]:
        """(block, log index, name, arguments) of the blocks up to `head`
        not read yet, in chain order."""
        start = self.from_block if self._next_block is None else self._next_block
        if not self._decoders:
            self._decoders = _decoders(self.contract, self.names)
        logs = _fetch(self.contract, self._decoders, start, head) if start <= head else []
        self._next_block = max(start, head + 1)
        return logs
