"""Many transactions at once on a local anvil: the keeper benchmark's setup.

Ape sends one transaction at a time and waits for its receipt (~30 tx/s on
anvil), so opening 10,000 accounts (a deposit and a trade each) through it
takes over ten minutes. Here the same transactions are sent in JSON-RPC
batches to an anvil with automine off, then mined a few thousand per block:

* `eth_sendTransaction` from anvil's own unlocked dev accounts (the test
  mnemonic's, the same keys as Ape's test accounts): anvil signs them. The
  pure-Python `eth_keys` backend takes ~6 ms per signature, which would cost
  two minutes of signing for 20,000 transactions; anvil does it natively.
  Every transaction carries its nonce and gas limit, so nothing is
  estimated against a state the pool has not mined yet;
* `evm_setAutomine false`, `anvil_setBlockGasLimit` high enough for a chunk,
  then `evm_mine`: one block per chunk;
* `eth_getBlockReceipts` of every mined block: each transaction must have
  succeeded (a revert, say an IM check, fails the setup loudly).

Nothing is faked: these are ordinary transactions through the engine's
external functions, with their checks, events and registry entries.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_abi import encode
from eth_utils import keccak

# Gas limits per call: well above what these calls use (a first deposit
# ~140k, a first trade ~300k; see benchmarks/gas.py), so none runs out;
# each block's gas limit is the sum of its transactions' limits.
GAS = {
    "mint": 100_000,
    "approve": 80_000,
    "deposit": 200_000,
    "trade": 600_000,
    # the LiquidityPool's ERC-4626 deposit (vault -> Clearinghouse -> pool extension)
    "deposit(uint256,address)": 400_000,
}
# Transactions per JSON-RPC batch and per mined block: ape-foundry's anvil
# traces every step, and a block of 2,000 capped trades took it past 24 GB.
CHUNK = 500


class RpcError(RuntimeError):
    pass


@dataclass
class Rpc:
    """A minimal JSON-RPC client with batches (one HTTP request each)."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)
    timeout: float = 300.0
    _id: int = 0

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        return self.batch([(method, params or [])])[0]

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Results in order; raises on the first error."""
        if not calls:
            return []
        body = []
        for method, params in calls:
            self._id += 1
            body.append({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        response = self.session.post(self.url, json=body, timeout=self.timeout)
        response.raise_for_status()
        answers = {a["id"]: a for a in response.json()}
        out = []
        for request in body:
            answer = answers[request["id"]]
            if "error" in answer:
                raise RpcError(f"{request['method']}: {answer['error']}")
            out.append(answer["result"])
        return out


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def calldata(signature: str, *args: Any) -> str:
    """ABI-encoded call data of `name(type,...)` with `args`."""
    types = signature[signature.index("(") + 1 : -1]
    arg_types = [t for t in types.split(",") if t]
    return "0x" + (selector(signature) + encode(arg_types, list(args))).hex()


@dataclass
class BulkStats:
    transactions: int = 0
    blocks: int = 0
    gas_used: int = 0
    send_seconds: float = 0.0
    mine_seconds: float = 0.0
    check_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.send_seconds + self.mine_seconds + self.check_seconds


@dataclass
class Bulk:
    """Sends transactions from anvil dev accounts with explicit nonces."""

    rpc: Rpc
    chunk: int = CHUNK
    stats: BulkStats = field(default_factory=BulkStats)
    _nonces: dict[str, int] = field(default_factory=dict)

    def tx(self, sender: str, to: str, signature: str, *args: Any) -> dict[str, Any]:
        """One transaction (not sent yet), with the sender's next nonce."""
        if sender not in self._nonces:
            self._nonces[sender] = int(
                self.rpc.call("eth_getTransactionCount", [sender, "latest"]), 16
            )
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        name = signature[: signature.index("(")]
        return {
            "from": sender,
            "to": to,
            "data": calldata(signature, *args),
            "gas": hex(GAS.get(signature, GAS[name])),
            "gasPrice": "0x0",
            "nonce": hex(nonce),
        }

    def run(self, txs: Iterable[dict[str, Any]]) -> BulkStats:
        """Sends and mines every transaction, a chunk per block; checks every receipt."""
        rpc = self.rpc
        pending = list(txs)
        rpc.call("evm_setAutomine", [False])
        try:
            for start in range(0, len(pending), self.chunk):
                part = pending[start : start + self.chunk]
                gas = sum(int(t["gas"], 16) for t in part)
                t0 = time.perf_counter()
                rpc.call("anvil_setBlockGasLimit", [hex(max(gas, 30_000_000))])
                hashes = rpc.batch([("eth_sendTransaction", [t]) for t in part])
                t1 = time.perf_counter()
                rpc.call("evm_mine", [])
                t2 = time.perf_counter()
                block = rpc.call("eth_getBlockByNumber", ["latest", False])
                receipts = rpc.call("eth_getBlockReceipts", [block["number"]])
                t3 = time.perf_counter()
                self._check(block, receipts, hashes)
                self.stats.transactions += len(part)
                self.stats.blocks += 1
                self.stats.gas_used += int(block["gasUsed"], 16)
                self.stats.send_seconds += t1 - t0
                self.stats.mine_seconds += t2 - t1
                self.stats.check_seconds += t3 - t2
        finally:
            rpc.call("evm_setAutomine", [True])
        return self.stats

    @staticmethod
    def _check(block: dict[str, Any], receipts: list[dict[str, Any]], hashes: list[str]) -> None:
        mined = [r["transactionHash"] for r in receipts]
        if sorted(mined) != sorted(hashes):
            missing = len(set(hashes) - set(mined))
            raise RpcError(f"block {int(block['number'], 16)} left {missing} transaction(s) out")
        failed = [r["transactionHash"] for r in receipts if int(r["status"], 16) != 1]
        if failed:
            raise RpcError(f"{len(failed)} transaction(s) reverted, e.g. {failed[0]}")
