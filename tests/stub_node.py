"""A stub JSON-RPC node for unit tests: a free port on 127.0.0.1, answers
from a function of each request (a batch answered in reverse order, as a
node may), and a count of the HTTP requests it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chain_answer(request: dict, head: int) -> dict | None:
    """The answer every stub gives to what a connection asks first (chain
    id 31337, client version, a block: `head` for "latest", its timestamp
    1,000 + its number), or None for anything else."""
    method, params = request["method"], request.get("params") or []
    reply: dict = {"jsonrpc": "2.0", "id": request["id"]}
    if method == "eth_chainId":
        reply["result"] = hex(31337)
    elif method == "web3_clientVersion":
        reply["result"] = "stub/1"
    elif method == "eth_getBlockByNumber":
        number = head if params[0] == "latest" else int(params[0], 16)
        reply["result"] = {
            "number": hex(number),
            "timestamp": hex(1_000 + number),
            "hash": "0x" + f"{number:064x}",
        }
    else:
        return None
    return reply


@dataclass
class StubNode:
    url: str
    requests: int = 0
    # the last request's Authorization header, if any
    authorization: str | None = None


@contextmanager
def stub_node(
    answer: Callable[[dict], dict], batch: Callable[[list], object] | None = None
) -> Iterator[StubNode]:
    """Serves `answer(request) -> response` until the block ends; a batch
    is answered by `batch(requests)` if given, else item by item."""
    node = StubNode(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            node.requests += 1
            node.authorization = self.headers.get("Authorization")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not isinstance(body, list):
                reply: object = answer(body)
            elif batch is not None:
                reply = batch(body)
            else:
                reply = [answer(r) for r in reversed(body)]
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    node.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield node
    finally:
        server.shutdown()
