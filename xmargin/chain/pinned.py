"""Reads pinned to one block: each question asked once, the expected ones together.

A CLI command reads the chain at one block, its head when it starts. Through
Ape, one `xmargin status` asked the node 144 questions, each its own HTTP
round trip: Ape asks for the contract's code and the head block before
every `eth_call`, asks the client's version on every connect step, and the
command reads each market, asset and ledger one view at a time. Over a link
with 100 ms round trips that is 14 s.

`pinned(uri)` routes every JSON-RPC request to `uri` made during a command
(Ape's, web3's, ours) through a `PinnedReads`:

* `start()` asks what every connection asks first (chain id, client
  version, the head block, block 0) in one HTTP request, and fixes the
  head block: from then on "latest" means that block, for a block, a call
  or code, so every read of the command agrees with every other;
* what a fixed block says never changes: each question is sent once, and
  its answer (a revert included, as the node gave it) is kept;
* `prefetch(calls)` sends the reads a command is about to make together
  (web3's `make_batch_request`, at most BATCH_LIMIT to an HTTP request):
  the command's own code then finds them answered, and anything it asks
  that was not foreseen, or that a node refused to batch, is simply sent.

It changes no answer, only when and how questions travel: a command that
prefetches nothing is as correct, only slower.

A process that also sends (the keeper, one `pinned` block per pass) reads
at the pass's head until its first transaction: sending unpins ("latest"
is then the node's latest again, asked afresh each time), and what was
kept for the pinned block stays true of that block.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from web3 import HTTPProvider
    from web3.types import RPCEndpoint

# One JSON-RPC response: {"jsonrpc", "id", "result" | "error"}.
RPCResponse = dict[str, Any]

# Questions whose answer cannot change for a fixed block (or at all).
_FIXED = ("eth_chainId", "web3_clientVersion", "net_version")
# Transactions: once one is sent, "latest" is no longer the pinned block.
_SENDS = ("eth_sendRawTransaction", "eth_sendTransaction")
# What every connection asks before anything else (`start`).
_OPENING: tuple[tuple[str, list[Any]], ...] = (
    ("eth_chainId", []),
    ("web3_clientVersion", []),
    ("eth_getBlockByNumber", ["latest", False]),
    # block 0 ("earliest" is the same question)
    ("eth_getBlockByNumber", ["0x0", False]),
)

Call = tuple[str, list[Any]]
# Calls per HTTP request: public providers cap a JSON-RPC batch (100 to
# 1,000 calls); a longer forecast goes in several requests.
BATCH_LIMIT = 100


class UnansweredError(RuntimeError):
    """The node did not answer the opening batch (unreachable, or not JSON-RPC)."""


class Transport(Protocol):
    """How questions travel to the node: one, or a batch in one HTTP request."""

    def request(self, method: str, params: list[Any]) -> RPCResponse: ...

    def batch(self, calls: Sequence[Call]) -> Any: ...


class Web3Transport:
    """Through web3's HTTPProvider (never through the route: its own method)."""

    def __init__(self, uri: str, timeout: float) -> None:
        from web3 import HTTPProvider

        self.provider = HTTPProvider(uri, request_kwargs={"timeout": timeout})

    def request(self, method: str, params: list[Any]) -> RPCResponse:
        from web3.types import RPCEndpoint

        response: RPCResponse = _original()(self.provider, RPCEndpoint(method), params)
        return response

    def batch(self, calls: Sequence[Call]) -> Any:
        from web3.types import RPCEndpoint

        return self.provider.make_batch_request([(RPCEndpoint(m), p) for m, p in calls])


class UrllibTransport:
    """Plain HTTP POSTs with the standard library: for a reader that
    imports no web3 (`xmargin.chain.light`). Ids number a batch from 0."""

    def __init__(self, uri: str, timeout: float) -> None:
        self.uri, self.timeout = uri, timeout

    def _post(self, body: Any) -> Any:
        import base64
        import urllib.parse
        import urllib.request

        headers = {"Content-Type": "application/json", "User-Agent": "xmargin"}
        # A URL's user:password is basic auth (as web3's requests sends it),
        # not part of the host urllib would look up.
        url = urllib.parse.urlsplit(self.uri)
        uri = self.uri
        if url.username is not None:
            user = urllib.parse.unquote(url.username)
            password = urllib.parse.unquote(url.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
            uri = urllib.parse.urlunsplit(url._replace(netloc=url.netloc.rpartition("@")[2]))
        request = urllib.request.Request(uri, data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            return json.loads(answer.read())

    def request(self, method: str, params: list[Any]) -> RPCResponse:
        response: RPCResponse = self._post(
            {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
        )
        return response

    def batch(self, calls: Sequence[Call]) -> Any:
        return self._post(
            [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                for i, (m, p) in enumerate(calls)
            ]
        )


TransportFactory = Callable[[str, float], Transport]


@dataclass
class PinnedReads:
    uri: str
    timeout: float = 10.0
    # How questions travel (web3's HTTPProvider unless given).
    transport: TransportFactory = Web3Transport
    # the head block when the command started, once `start` ran
    block: int | None = None
    _answers: dict[tuple[Any, ...], RPCResponse] = field(default_factory=dict)

    # ------------------------------------------------------------ keys

    def _block_of(self, tag: Any) -> int | None:
        """A block parameter as a number; "latest" (or none) is the pinned
        block. "pending", "safe" and "finalized" are not pinned: None."""
        if tag is None or tag == "latest":
            return self.block
        if tag == "earliest":
            return 0
        if isinstance(tag, int):
            return tag
        if isinstance(tag, str) and tag.startswith("0x"):
            return int(tag, 16)
        return None

    def key(self, method: str, params: Sequence[Any] | None) -> tuple[Any, ...] | None:
        """What identifies a question's answer, or None if it may change."""
        p = list(params or [])
        if method in _FIXED:
            return (method,)
        if method == "eth_getBlockByNumber" and p:
            number = self._block_of(p[0])
            return None if number is None else (method, number, bool(p[1:] and p[1]))
        if method in ("eth_getCode", "eth_getBalance") and p:
            number = self._block_of(p[1] if len(p) > 1 else None)
            return None if number is None else (method, str(p[0]).lower(), number)
        if method == "eth_getLogs" and len(p) == 1 and isinstance(p[0], dict):
            # A fixed range of blocks: its logs never change.
            f = p[0]
            lo, hi = self._block_of(f.get("fromBlock")), self._block_of(f.get("toBlock"))
            if lo is None or hi is None or "blockHash" in f:
                return None
            address = f.get("address") or []
            addresses = [address] if isinstance(address, str) else list(address)
            topics = json.dumps(f.get("topics") or [], sort_keys=True).lower()
            return (method, tuple(sorted(a.lower() for a in addresses)), lo, hi, topics)
        if method == "eth_call" and p and isinstance(p[0], dict) and len(p) <= 2:
            number = self._block_of(p[1] if len(p) > 1 else None)
            tx = p[0]
            sender = str(tx.get("from") or "").lower()
            data = str(tx.get("data") or tx.get("input") or "").lower()
            # A gas limit can change the answer (a call bounded in gas).
            gas = tx.get("gas")
            limit = int(gas, 16) if isinstance(gas, str) else gas
            if number is None:
                return None
            return (method, str(tx.get("to") or "").lower(), data, sender, limit, number)
        return None

    # ------------------------------------------------------------ asking

    def answer(self, method: str, params: Any, send: Any) -> RPCResponse:
        """The kept answer to a question, or `send(params)`'s (kept if it can
        be). A question at "latest" is sent for the pinned block, so its
        answer is that block's whatever the head is by then. A transaction
        unpins first: the caller's later reads at "latest" mean the head."""
        if method in _SENDS:
            self.unpin()
        key = self.key(method, params)
        if key is not None and key in self._answers:
            return self._answers[key]
        response: RPCResponse = send(self.pin(method, params) if key is not None else params)
        if key is not None and _is_answer(response):
            self._answers[key] = response
        return response

    def unpin(self) -> None:
        """From now on "latest" is the node's latest, asked each time; what
        was kept under the pinned block's number stays (it is that block's)."""
        self.block = None

    def pin(self, method: str, params: Any) -> Any:
        """`params` with "latest" (or a missing block) replaced by the pinned block."""
        if self.block is None:
            return params
        at = hex(self.block)
        p = list(params or [])
        if method == "eth_getBlockByNumber" and p and p[0] == "latest":
            p[0] = at
        elif method in ("eth_getCode", "eth_getBalance", "eth_call") and p:
            if len(p) == 1:
                p.append(at)
            elif p[1] is None or p[1] == "latest":
                p[1] = at
        elif method == "eth_getLogs" and p and isinstance(p[0], dict):
            f = dict(p[0])
            for edge in ("fromBlock", "toBlock"):
                if f.get(edge) in (None, "latest"):
                    f[edge] = at
            p[0] = f
        return p

    def batch(self, calls: Sequence[Call]) -> list[RPCResponse]:
        """Every call not answered yet, BATCH_LIMIT to an HTTP request; the
        answers kept. Returns the responses to what was sent and answered."""
        todo = []
        seen = set()
        for method, params in calls:
            key = self.key(method, params)
            if key is not None and (key in self._answers or key in seen):
                continue
            if key is not None:
                seen.add(key)
            todo.append((method, params))
        out: list[RPCResponse] = []
        for start in range(0, len(todo), BATCH_LIMIT):
            out += self._send_batch(todo[start : start + BATCH_LIMIT])
        return out

    def _send_batch(self, todo: Sequence[Call]) -> list[RPCResponse]:
        """One HTTP request; its answers kept under their questions. A batch
        the node refuses (whole or in part, an HTTP error, a timeout) keeps
        nothing: each read is then asked on its own."""
        try:
            transport = self.transport(self.uri, self.timeout)
            responses = transport.batch([(m, self.pin(m, p)) for m, p in todo])
        except Exception:  # a refusal by status code, a timeout: nothing prefetched
            return []
        if not isinstance(responses, list) or len(responses) != len(todo):
            return []
        # Answers may come back in any order: matched by id (a batch's
        # requests are numbered in the order sent, one apart).
        by_id: dict[int, RPCResponse] = {}
        for r in responses:
            rid = r.get("id") if isinstance(r, dict) else None
            if not isinstance(rid, int) or rid in by_id:
                return []
            by_id[rid] = r
        first = min(by_id)
        if sorted(by_id) != list(range(first, first + len(todo))):
            return []
        ordered = [by_id[first + k] for k in range(len(todo))]
        for (method, params), response in zip(todo, ordered, strict=True):
            key = self.key(method, params)
            if key is not None and _is_answer(response):
                self._answers[key] = response
        return ordered

    def start(self, probe_timeout: float = 3.0) -> int:
        """The opening questions in one request (one by one if the node
        takes no batches); pins the head block and returns the node's chain
        id. Raises UnansweredError if nothing answers like a node."""
        timeout, self.timeout = self.timeout, probe_timeout
        try:
            batched: list[RPCResponse | None] = list(self.batch(list(_OPENING)))
            if len(batched) != len(_OPENING):
                batched = [None] * len(_OPENING)  # no batches: each on its own
            # An item the batch refused (a rate limit) is asked on its own too.
            opening = [
                r if r is not None and _is_answer(r) else self._single(m, p)
                for (m, p), r in zip(_OPENING, batched, strict=True)
            ]
        except Exception as err:  # any transport failure means no node
            raise UnansweredError(str(err)) from err
        finally:
            self.timeout = timeout
        try:
            chain_id = int(opening[0]["result"], 16)
            self.block = int(opening[2]["result"]["number"], 16)
        except (IndexError, KeyError, TypeError, ValueError) as err:
            raise UnansweredError(f"not a node's answer: {opening!r:.200}") from err
        # "latest" now means the pinned block: keep its answer under that name.
        self._answers[("eth_getBlockByNumber", self.block, False)] = opening[2]
        return chain_id

    def _single(self, method: str, params: list[Any]) -> RPCResponse:
        response = self.transport(self.uri, self.timeout).request(method, params)
        key = self.key(method, params)
        if key is not None and _is_answer(response):
            self._answers[key] = response
        return response

    def ask(self, method: str, params: list[Any]) -> RPCResponse:
        """One question through the transport (for a reader with no web3
        provider to route): the kept answer, or the node's (kept if it can be)."""
        transport = self.transport(self.uri, self.timeout)
        return self.answer(method, params, lambda sent: transport.request(method, sent))

    def prefetch(self, calls: Sequence[Call]) -> int:
        """Sends the `calls` (eth_call / eth_getCode ...) not answered yet,
        together, for later reads; returns how many were sent."""
        return len(self.batch(calls))

    def result(self, call: Call) -> Any:
        """The kept result of `call` (None if not answered, or an error)."""
        key = self.key(*call)
        response = self._answers.get(key) if key is not None else None
        return None if response is None else response.get("result")


def _is_answer(response: Any) -> bool:
    """A node's answer to keep: a result (not null), or a revert (the
    call's own outcome at that block). Any other error (a rate limit, a pruned or not
    yet seen block, a timeout upstream) is not kept: the next ask retries."""
    if not isinstance(response, dict):
        return False
    if "result" in response:
        # null: a block or receipt a lagging backend has not seen yet; asked again.
        return response["result"] is not None
    error = response.get("error")
    if not isinstance(error, dict):
        return False
    return error.get("code") == 3 or "revert" in str(error.get("message", "")).lower()


def eth_call(to: str, data: bytes | str, block: int, gas: int | None = None) -> Call:
    """An `eth_call` question at `block` (with a gas limit if given)."""
    hexdata = data if isinstance(data, str) else "0x" + bytes(data).hex()
    tx: dict[str, Any] = {"to": to, "data": hexdata}
    if gas is not None:
        tx["gas"] = hex(gas)
    return ("eth_call", [tx, hex(block)])


def get_logs(address: str, topic: str, first: int, last: int) -> Call:
    """An `eth_getLogs` question: `address`'s logs of one event in [first, last]."""
    return (
        "eth_getLogs",
        [{"address": [address], "fromBlock": hex(first), "toBlock": hex(last), "topics": [topic]}],
    )


def get_code(address: str, block: int) -> Call:
    return ("eth_getCode", [address, hex(block)])


# web3's own HTTPProvider.make_request (taken when first routed: web3 is
# imported only by a process that uses it), and the routes installed over
# it: uri -> reads.
_ORIGINAL: list[Callable[..., Any]] = []
_ROUTES: dict[str, PinnedReads] = {}
_LOCK = threading.Lock()


def _original() -> Callable[..., Any]:
    if not _ORIGINAL:
        from web3 import HTTPProvider

        _ORIGINAL.append(HTTPProvider.make_request)
    return _ORIGINAL[0]


def _routed(self: HTTPProvider, method: RPCEndpoint, params: Any) -> RPCResponse:
    original = _original()
    reads = _ROUTES.get(str(self.endpoint_uri).rstrip("/"))
    if reads is None:
        response: RPCResponse = original(self, method, params)
        return response
    return reads.answer(method, params, lambda sent: original(self, method, sent))


def rebind(provider: Any) -> None:
    """Makes a web3 provider that already sent requests look its
    `make_request` up again. web3 7 builds a provider's middleware chain
    around the bound `make_request` on its first request and keeps it
    (`BaseProvider._request_func_cache`); a connection opened before
    `pinned` (the keeper's) would bypass the route without this, and keep
    calling it after without the second call."""
    from web3 import HTTPProvider

    if isinstance(provider, HTTPProvider):
        provider._request_func_cache = (None, None)  # type: ignore[assignment]


def is_pinned(uri: str) -> bool:
    """Whether requests to `uri` are routed through a PinnedReads now."""
    return uri.rstrip("/") in _ROUTES


@contextmanager
def pinned(uri: str, timeout: float = 60.0) -> Iterator[PinnedReads]:
    """Routes every request to `uri` made in this process through a
    PinnedReads while inside (web3's HTTPProvider.make_request is routed
    while any `pinned` block is open, restored when the last one closes).
    Meant for one read-only command: every thread of the process that asks
    `uri` meanwhile gets the pinned block's answers."""
    from web3 import HTTPProvider

    reads = PinnedReads(uri, timeout=timeout)
    route = uri.rstrip("/")
    with _LOCK:
        if route in _ROUTES:
            raise RuntimeError(f"{uri} is already pinned in this process")
        _original()
        _ROUTES[route] = reads
        HTTPProvider.make_request = _routed  # type: ignore[method-assign, assignment]
    try:
        yield reads
    finally:
        with _LOCK:
            del _ROUTES[route]
            if not _ROUTES:
                HTTPProvider.make_request = _original()  # type: ignore[method-assign]
