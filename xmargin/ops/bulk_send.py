"""Many transactions at once on a local anvil: the crowd's fast setup (the
keeper benchmark's, the gas benchmark's).

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

The node is a `web3.Web3` (`connect`); a chunk's transactions go in one
HTTP request with web3's `make_batch_request`. Its typed `batch_requests`
refuses `eth_sendTransaction`, and anvil's `evm_*`/`anvil_*` methods have
no typed API, so the calls here are raw: `rpc_call` and `rpc_batch` return
their results and raise web3's `Web3RPCError` on an error answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

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
# Seconds per HTTP request: a chunk's block takes anvil seconds to mine
# with step tracing on (web3's default is 30).
TIMEOUT = 300.0


class BulkError(RuntimeError):
    """A mined chunk left a transaction out, or one reverted."""


def connect(url: str, timeout: float = TIMEOUT) -> Web3:
    """A `Web3` on the node at `url` (HTTP), without web3's retries on
    connection errors: a retried `evm_mine` or `evm_revert` would do it twice."""
    return Web3(
        Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
    )


def _provider(w3: Web3) -> JSONBaseProvider:
    provider = w3.provider
    if not isinstance(provider, JSONBaseProvider):
        raise TypeError(f"raw JSON-RPC needs a JSON provider, not {type(provider).__name__}")
    return provider


def _result(method: str, response: RPCResponse) -> Any:
    if "error" in response:
        raise Web3RPCError(f"{method}: {response['error']}", rpc_response=response)
    return response["result"]


def rpc_call(w3: Web3, method: str, params: Sequence[Any] = ()) -> Any:
    """One raw JSON-RPC call's result (no middleware, no formatting)."""
    return _result(method, _provider(w3).make_request(RPCEndpoint(method), list(params)))


def rpc_batch(w3: Web3, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
    """Raw results in order, all in one HTTP request; raises on the first error."""
    if not calls:
        return []
    responses = _provider(w3).make_batch_request(
        [(RPCEndpoint(method), list(params)) for method, params in calls]
    )
    if not isinstance(responses, list):  # the node refused the batch as a whole
        raise Web3RPCError(f"batch of {len(calls)}: {responses.get('error')}", responses)
    if len(responses) != len(calls):
        raise Web3RPCError(f"batch of {len(calls)}: {len(responses)} answers")
    return [_result(m, r) for (m, _), r in zip(calls, responses, strict=True)]


def calldata(signature: str, *args: Any) -> str:
    """ABI-encoded call data of `name(type,...)` with `args`."""
    types = signature[signature.index("(") + 1 : -1]
    arg_types = [t for t in types.split(",") if t]
    selector = function_signature_to_4byte_selector(signature)
    return "0x" + (selector + encode(arg_types, list(args))).hex()


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

    w3: Web3
    chunk: int = CHUNK
    stats: BulkStats = field(default_factory=BulkStats)
    _nonces: dict[str, int] = field(default_factory=dict)

    def tx(self, sender: str, to: str, signature: str, *args: Any) -> dict[str, Any]:
        """One transaction (not sent yet), with the sender's next nonce."""
        if sender not in self._nonces:
            self._nonces[sender] = int(
                rpc_call(self.w3, "eth_getTransactionCount", [sender, "latest"]), 16
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
        w3 = self.w3
        pending = list(txs)
        rpc_call(w3, "evm_setAutomine", [False])
        try:
            for start in range(0, len(pending), self.chunk):
                part = pending[start : start + self.chunk]
                gas = sum(int(t["gas"], 16) for t in part)
                t0 = time.perf_counter()
                rpc_call(w3, "anvil_setBlockGasLimit", [hex(max(gas, 30_000_000))])
                hashes = rpc_batch(w3, [("eth_sendTransaction", [t]) for t in part])
                t1 = time.perf_counter()
                rpc_call(w3, "evm_mine")
                t2 = time.perf_counter()
                block = rpc_call(w3, "eth_getBlockByNumber", ["latest", False])
                receipts = rpc_call(w3, "eth_getBlockReceipts", [block["number"]])
                t3 = time.perf_counter()
                self._check(block, receipts, hashes)
                self.stats.transactions += len(part)
                self.stats.blocks += 1
                self.stats.gas_used += int(block["gasUsed"], 16)
                self.stats.send_seconds += t1 - t0
                self.stats.mine_seconds += t2 - t1
                self.stats.check_seconds += t3 - t2
        finally:
            rpc_call(w3, "evm_setAutomine", [True])
        return self.stats

    @staticmethod
    def _check(block: dict[str, Any], receipts: list[dict[str, Any]], hashes: list[str]) -> None:
        mined = [r["transactionHash"] for r in receipts]
        if sorted(mined) != sorted(hashes):
            missing = len(set(hashes) - set(mined))
            raise BulkError(f"block {int(block['number'], 16)} left {missing} transaction(s) out")
        failed = [r["transactionHash"] for r in receipts if int(r["status"], 16) != 1]
        if failed:
            raise BulkError(f"{len(failed)} transaction(s) reverted, e.g. {failed[0]}")
