"""A counting, delaying JSON-RPC proxy for benchmarks (stdlib only).

    with RpcProxy("http://127.0.0.1:8545", delay_ms=100) as proxy:
        ...  # point a client at proxy.url
        traffic = proxy.reset()  # what it saw since the last reset, and start again

`RpcProxy` listens on 127.0.0.1 (a free port unless given), forwards the
body of every POST to the upstream node and returns the node's answer
unchanged. Before forwarding it sleeps `delay_ms`: one round trip of a slow
link per HTTP request, so a JSON-RPC batch (one HTTP request holding
several calls) pays it once, as it would over a real link. Each client
connection gets its own thread (`ThreadingHTTPServer`) and its own
keep-alive connection upstream, so concurrent requests wait in parallel.

It counts HTTP requests and the JSON-RPC calls in them, by method, and
keeps a log of every request (when it arrived, its calls with their
params, bytes each way). `Traffic` summarises one stretch of it;
`Labels` names `eth_call`s by contract and function (from addresses and
ABI selectors the caller supplies).

`trace_callers(path)`, run first thing in a client process (a Python
program that talks to the node through `requests`, as web3 and Ape do),
records for every HTTP request the JSON-RPC methods it carried and where
in the program it was sent from, and writes them to `path` as JSON at exit:
what a benchmark needs to tell which code issues which calls.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Call:
    """One JSON-RPC call: its method and params."""

    method: str
    params: Any


@dataclass(frozen=True)
class Request:
    """One HTTP request through the proxy."""

    # Seconds since the proxy's last reset when it arrived, and how long it
    # took to answer (the delay included).
    at: float
    seconds: float
    calls: tuple[Call, ...]
    batch: bool
    bytes_in: int
    bytes_out: int
    status: int


@dataclass(frozen=True)
class Traffic:
    """What the proxy saw between two resets."""

    requests: tuple[Request, ...]
    # Seconds from the reset to the snapshot.
    seconds: float

    @property
    def http_requests(self) -> int:
        return len(self.requests)

    @property
    def calls(self) -> int:
        return sum(len(r.calls) for r in self.requests)

    @property
    def batches(self) -> int:
        """HTTP requests that held a JSON-RPC batch (a list)."""
        return sum(r.batch for r in self.requests)

    @property
    def methods(self) -> Counter[str]:
        """JSON-RPC calls by method."""
        return Counter(c.method for r in self.requests for c in r.calls)

    @property
    def bytes_in(self) -> int:
        return sum(r.bytes_in for r in self.requests)

    @property
    def bytes_out(self) -> int:
        return sum(r.bytes_out for r in self.requests)

    @property
    def first_at(self) -> float | None:
        return self.requests[0].at if self.requests else None

    @property
    def last_done(self) -> float | None:
        return max(r.at + r.seconds for r in self.requests) if self.requests else None

    def labelled(self, labels: Labels | None = None) -> Counter[str]:
        """JSON-RPC calls by label (`Labels.of`: `eth_call` by contract and
        function, `eth_getCode` by contract)."""
        labels = labels or Labels()
        return Counter(labels.of(c) for r in self.requests for c in r.calls)

    def sequence(self, labels: Labels | None = None) -> list[str]:
        """One line per HTTP request, in order: its calls' labels (a batch's
        in brackets), consecutive equal lines folded into `... x N`."""
        labels = labels or Labels()
        lines = []
        for r in self.requests:
            text = ", ".join(labels.of(c) for c in r.calls)
            lines.append(f"[{text}]" if r.batch else text)
        return fold(lines)

    def summary(self, labels: Labels | None = None, top: int = 0) -> dict[str, Any]:
        """Plain data for JSON."""
        methods = self.methods.most_common(top or None)
        by_label = self.labelled(labels).most_common(top or None)
        return {
            "http_requests": self.http_requests,
            "jsonrpc_calls": self.calls,
            "batch_requests": self.batches,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "methods": dict(methods),
            "calls_by_label": dict(by_label),
            "first_request_at": _round(self.first_at),
            "last_answer_at": _round(self.last_done),
        }


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def fold(lines: Iterable[str]) -> list[str]:
    """Consecutive equal lines as one `line x N`."""
    out: list[tuple[str, int]] = []
    for line in lines:
        if out and out[-1][0] == line:
            out[-1] = (line, out[-1][1] + 1)
        else:
            out.append((line, 1))
    return [line if n == 1 else f"{line} x {n}" for line, n in out]


@dataclass
class Labels:
    """Names for calls: `eth_call` and `eth_estimateGas` as
    `eth_call Contract.function`, `eth_getCode` as `eth_getCode Contract`,
    `eth_getLogs` by contract; addresses and 4-byte selectors (0x + 8 hex
    digits, any case) the caller supplies. Unknown ones stay hex."""

    addresses: Mapping[str, str] = field(default_factory=dict)
    selectors: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.addresses = {a.lower(): n for a, n in self.addresses.items()}
        self.selectors = {s.lower(): n for s, n in self.selectors.items()}

    def address(self, value: Any) -> str:
        if not isinstance(value, str):
            return "?"
        return self.addresses.get(value.lower(), value[:10])

    def of(self, call: Call) -> str:
        p = call.params if isinstance(call.params, list) else []
        first = p[0] if p else None
        if call.method in ("eth_call", "eth_estimateGas") and isinstance(first, dict):
            data = str(first.get("data") or first.get("input") or "")
            selector = data[:10].lower()
            name = self.selectors.get(selector, selector or "()")
            return f"{call.method} {self.address(first.get('to'))}.{name}"
        if call.method == "eth_getCode" and p:
            return f"eth_getCode {self.address(first)}"
        if call.method == "eth_getLogs" and isinstance(first, dict):
            where = first.get("address")
            names = (
                "+".join(self.address(a) for a in where)
                if isinstance(where, list)
                else self.address(where)
            )
            return f"eth_getLogs {names}"
        if call.method == "eth_getBlockByNumber" and p:
            return f"eth_getBlockByNumber {first}"
        return call.method


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as web3's requests session expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        proxy = self.server.proxy
        arrived = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        calls, batch = parse_calls(body)
        delay = proxy.delay_ms
        if delay > 0:
            time.sleep(delay / 1_000)
        try:
            status, content_type, answer = self._forward(body)
        except OSError as err:
            status, content_type = 502, "text/plain"
            answer = f"rpc_proxy: upstream {proxy.upstream} failed: {err}".encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        proxy._record(arrived, calls, batch, len(body), len(answer), status)

    def _forward(self, body: bytes) -> tuple[int, str, bytes]:
        """POSTs `body` upstream on this client's keep-alive connection (a
        new one if the node closed it)."""
        proxy = self.server.proxy
        for attempt in (1, 2):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(
                    proxy._host, proxy._port, timeout=proxy.timeout
                )
            try:
                self.upstream.request(
                    "POST", proxy._path, body, {"Content-Type": "application/json"}
                )
                reply = self.upstream.getresponse()
                data = reply.read()
                return reply.status, reply.getheader("Content-Type", "application/json"), data
            except (http.client.HTTPException, OSError):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: RpcProxy


def parse_calls(body: bytes) -> tuple[tuple[Call, ...], bool]:
    """The JSON-RPC calls of a request body, and whether it is a batch. A
    body that is not JSON-RPC counts as one call named `(unparsed)`."""
    try:
        raw = json.loads(body)
    except ValueError:
        return (Call("(unparsed)", None),), False
    items = raw if isinstance(raw, list) else [raw]
    calls = tuple(
        Call(str(i.get("method")), i.get("params")) if isinstance(i, dict) else Call("?", None)
        for i in items
    )
    return calls, isinstance(raw, list)


class RpcProxy:
    """A delaying, counting HTTP proxy to one JSON-RPC node (module docs)."""

    def __init__(
        self,
        upstream: str,
        delay_ms: float = 100.0,
        port: int = 0,
        timeout: float = 300.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"{upstream}: the upstream must be an http:// URL")
        self.upstream = upstream
        self.delay_ms = delay_ms
        self.timeout = timeout
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = parts.path or "/"
        self._listen_port = port
        self._lock = threading.Lock()
        self._log: list[Request] = []
        self._since = time.perf_counter()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RpcProxy:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self._listen_port), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="rpc-proxy", daemon=True)
        self._thread.start()
        self.reset()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> RpcProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(
        self, arrived: float, calls: tuple[Call, ...], batch: bool, n_in: int, n_out: int, st: int
    ) -> None:
        done = time.perf_counter()
        with self._lock:
            self._log.append(
                Request(
                    at=arrived - self._since,
                    seconds=done - arrived,
                    calls=calls,
                    batch=batch,
                    bytes_in=n_in,
                    bytes_out=n_out,
                    status=st,
                )
            )

    def snapshot(self) -> Traffic:
        """What was seen since the last reset (the counters keep running)."""
        with self._lock:
            return Traffic(tuple(self._log), time.perf_counter() - self._since)

    def reset(self) -> Traffic:
        """What was seen since the last reset; the counters and the clock start again."""
        with self._lock:
            traffic = Traffic(tuple(self._log), time.perf_counter() - self._since)
            self._log = []
            self._since = time.perf_counter()
        return traffic

    @property
    def http_requests(self) -> int:
        with self._lock:
            return len(self._log)

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(len(r.calls) for r in self._log)

    @property
    def methods(self) -> Counter[str]:
        with self._lock:
            return Counter(c.method for r in self._log for c in r.calls)


# ---------------------------------------------------------------- client side


def _site(frame: traceback.FrameSummary, roots: Sequence[str], named: bool) -> str | None:
    """`path:line function` of a frame under one of the `roots` (directories),
    the path relative to the root (`named`: to its parent, so it starts
    with the root's own name)."""
    for root in roots:
        base = root.rstrip("/") + "/"
        if frame.filename.startswith(base):
            path = frame.filename[len(base) :]
            if named:
                path = f"{base.rstrip('/').rsplit('/', 1)[-1]}/{path}"
            return f"{path}:{frame.lineno} {frame.name}"
    return None


def trace_callers(path: str, roots: Sequence[str], library: Sequence[str] = ()) -> None:
    """Records, for every HTTP request the process sends through `requests`
    from now on, its JSON-RPC methods and its call sites, and writes the
    list to `path` (JSON) when the process exits: `sites` are the frames
    under `roots` (directories of the program's own code, outermost first,
    e.g. `xmargin/ui/cli.py:240 status`), `via` the first frame under
    `library` (e.g. site-packages) below the innermost of them: the library
    call that sent it (e.g. `ape/contracts/base.py:...`)."""
    import atexit

    import requests.adapters

    records: list[dict[str, Any]] = []
    send = requests.adapters.HTTPAdapter.send

    def traced(adapter: Any, request: Any, **kwargs: Any) -> Any:
        stack = traceback.extract_stack()[:-1]
        own = [(i, s) for i, s in enumerate(_site(f, roots, True) for f in stack) if s]
        below = stack[own[-1][0] + 1 :] if own else stack
        via = next((s for s in (_site(f, library, False) for f in below) if s), None)
        body = request.body or b""
        calls, batch = parse_calls(body if isinstance(body, bytes) else str(body).encode())
        records.append(
            {
                "methods": [c.method for c in calls],
                "batch": batch,
                "sites": [s for _, s in own],
                "via": via,
                # every library frame below them, innermost last
                "library": [s for s in (_site(f, library, False) for f in below) if s],
            }
        )
        return send(adapter, request, **kwargs)

    requests.adapters.HTTPAdapter.send = traced  # type: ignore[method-assign,assignment]

    def write() -> None:
        with open(path, "w") as out:
            json.dump(records, out, indent=1)

    atexit.register(write)
