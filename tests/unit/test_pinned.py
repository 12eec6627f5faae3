"""xmargin.chain.pinned against a stub JSON-RPC node that counts HTTP
requests, answers batches in reverse order, reverts one call and
rate-limits another once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import HTTPProvider, Web3

from tests.stub_node import StubNode, chain_answer, stub_node
from xmargin.chain.pinned import BATCH_LIMIT, PinnedReads, eth_call, pinned, rebind

HEAD = 16
REVERTS = "0xdead"
BUSY_ONCE = "0xb0b0"


class Stub:
    """Answers like a node; reverts one call, rate-limits another once."""

    def __init__(self) -> None:
        self.busy_left = 1
        self.head = HEAD

    def answer(self, request: dict) -> dict:
        method, params = request["method"], request.get("params") or []
        reply = chain_answer(request, self.head)
        if reply is not None:
            return reply
        reply = {"jsonrpc": "2.0", "id": request["id"]}
        if method == "eth_call":
            data = params[0]["data"]
            if data == REVERTS:
                reply["error"] = {"code": 3, "message": "execution reverted", "data": "0x"}
            elif data == BUSY_ONCE and self.busy_left:
                self.busy_left -= 1
                reply["error"] = {"code": -32005, "message": "rate limited"}
            else:
                # Echoes the data, the gas limit and the block it was asked at.
                gas = params[0].get("gas", "0x0")
                reply["result"] = f"{data}|{gas}|{params[1]}"
        elif method == "eth_sendRawTransaction":
            self.head += 1  # mined at once
            reply["result"] = "0x" + "ab" * 32
        else:
            reply["error"] = {"code": -32601, "message": "no such method"}
        return reply


@pytest.fixture
def node() -> Iterator[tuple[str, StubNode]]:
    with stub_node(Stub().answer) as stub:
        yield stub.url, stub


def _ask(uri: str, method: str, params: list) -> dict:
    return HTTPProvider(uri).make_request(method, params)  # type: ignore[arg-type]


def test_the_opening_batch_pins_latest_and_each_question_goes_once(node):
    uri, stub = node
    with pinned(uri) as reads:
        assert reads.start() == 31337 and reads.block == HEAD
        assert stub.requests == 1
        for _ in range(3):  # what Ape asks while connecting: all answered
            assert _ask(uri, "web3_clientVersion", [])["result"] == "stub/1"
            assert (
                _ask(uri, "eth_getBlockByNumber", ["latest", False])["result"]["number"] == "0x10"
            )
            assert (
                _ask(uri, "eth_getBlockByNumber", ["earliest", False])["result"]["number"] == "0x0"
            )
        assert stub.requests == 1
        # "latest" is the pinned block, and is sent as its number: one
        # question, asked once, answered for that block.
        call = {"to": "0x" + "11" * 20, "data": "0x1234"}
        assert _ask(uri, "eth_call", [call, "latest"])["result"] == "0x1234|0x0|0x10"
        assert _ask(uri, "eth_call", [call, hex(HEAD)])["result"] == "0x1234|0x0|0x10"
        assert _ask(uri, "eth_call", [call])["result"] == "0x1234|0x0|0x10"
        assert stub.requests == 2
        # "pending" is not the pinned block: asked each time, as given.
        assert _ask(uri, "eth_call", [call, "pending"])["result"] == "0x1234|0x0|pending"
        assert _ask(uri, "eth_call", [call, "pending"])["result"] == "0x1234|0x0|pending"
        assert stub.requests == 4
        # Another block is another question.
        assert _ask(uri, "eth_call", [call, "0x5"])["result"] == "0x1234|0x0|0x5"
        assert stub.requests == 5


def test_a_long_forecast_goes_in_batches_matched_by_id(node):
    """250 calls: 3 HTTP requests of at most BATCH_LIMIT, each answered in
    reverse order by the stub and still kept under the right question."""
    uri, stub = node
    calls = [eth_call("0x" + "22" * 20, f"0x{i:04x}", HEAD) for i in range(250)]
    with pinned(uri) as reads:
        reads.start()
        before = stub.requests
        assert reads.prefetch(calls) == 250
        assert stub.requests - before == -(-250 // BATCH_LIMIT) == 3
        for i in (0, 99, 100, 249):
            tx = {"to": "0x" + "22" * 20, "data": f"0x{i:04x}"}
            assert _ask(uri, "eth_call", [tx, "latest"])["result"] == f"0x{i:04x}|0x0|{hex(HEAD)}"
        assert reads.prefetch(calls) == 0  # nothing left to ask
        assert stub.requests - before == 3


def test_a_revert_is_kept_but_a_node_error_is_asked_again(node):
    uri, stub = node
    to = "0x" + "33" * 20
    with pinned(uri) as reads:
        reads.start()
        n = stub.requests
        for _ in range(2):
            assert (
                _ask(uri, "eth_call", [{"to": to, "data": REVERTS}, "latest"])["error"]["code"] == 3
            )
        assert stub.requests == n + 1
        busy = _ask(uri, "eth_call", [{"to": to, "data": BUSY_ONCE}, "latest"])
        assert busy["error"]["message"] == "rate limited"
        again = _ask(uri, "eth_call", [{"to": to, "data": BUSY_ONCE}, "latest"])
        assert again["result"].startswith(BUSY_ONCE)
        assert stub.requests == n + 3


def test_a_gas_limit_is_part_of_the_question(node):
    """The engine's balance read is bounded in gas: its answer is not the
    unbounded call's."""
    uri, stub = node
    to = "0x" + "44" * 20
    with pinned(uri) as reads:
        reads.start()
        reads.prefetch([eth_call(to, "0x70a0", HEAD, gas=100_000)])
        n = stub.requests
        bounded = _ask(
            uri, "eth_call", [{"to": to, "data": "0x70a0", "gas": hex(100_000)}, "latest"]
        )
        assert bounded["result"] == f"0x70a0|{hex(100_000)}|{hex(HEAD)}"
        assert stub.requests == n
        assert _ask(uri, "eth_call", [{"to": to, "data": "0x70a0"}, "latest"])["result"].startswith(
            "0x70a0|0x0|"
        )
        assert stub.requests == n + 1


def test_the_patch_is_undone_even_after_an_error(node):
    uri, stub = node
    original = HTTPProvider.make_request
    with pytest.raises(RuntimeError), pinned(uri):
        raise RuntimeError("a command failed")
    assert HTTPProvider.make_request is original
    reads = PinnedReads(uri)
    assert reads.key("eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest"}]) is None
    assert reads.key("eth_sendRawTransaction", ["0x00"]) is None


def _refusing(answer, mode: str):
    """A node that takes single questions but refuses batches: with one
    error object ("whole"), one error in a list ("geth"), or drops an
    answer ("partial")."""

    def reply(request):
        return answer(request)

    def batch(requests: list) -> object:
        if mode == "whole":
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "no batch"}}
        if mode == "geth":
            return [
                {
                    "jsonrpc": "2.0",
                    "id": requests[0]["id"],
                    "error": {"code": -32600, "message": "batch too large"},
                }
            ]
        return [answer(r) for r in requests[1:]]

    return reply, batch


@pytest.mark.parametrize("mode", ["whole", "geth", "partial"])
def test_a_refused_batch_keeps_nothing_and_reads_still_work(mode):
    """A node that caps or refuses batches: the opening questions are asked
    one by one, the forecast keeps nothing (no answer under the wrong
    question, no refusal kept as an answer), and each read is asked alone."""
    stub = Stub()
    single, batch = _refusing(stub.answer, mode)
    with stub_node(single, batch=batch) as node, pinned(node.url) as reads:
        assert reads.start() == 31337 and reads.block == HEAD
        calls = [eth_call("0x" + "55" * 20, f"0x{i:04x}", HEAD) for i in range(3)]
        assert reads.prefetch(calls) == 0
        for i in range(3):
            tx = {"to": "0x" + "55" * 20, "data": f"0x{i:04x}"}
            assert _ask(node.url, "eth_call", [tx, "latest"])["result"] == f"0x{i:04x}|0x0|0x10"


def test_one_uri_is_pinned_once_at_a_time(node):
    uri, _ = node
    with pinned(uri), pytest.raises(RuntimeError, match="already pinned"), pinned(uri):
        pass


def test_a_transaction_unpins_latest_and_keeps_the_pinned_blocks_answers(node):
    """The keeper reads a pass at its head, then sends: its next reads at
    "latest" must see the block its transaction made, not the pinned one."""
    uri, stub = node
    call = {"to": "0x" + "55" * 20, "data": "0x5555"}
    with pinned(uri) as reads:
        reads.start()
        assert _ask(uri, "eth_call", [call, "latest"])["result"] == f"0x5555|0x0|{hex(HEAD)}"
        n = stub.requests
        assert _ask(uri, "eth_sendRawTransaction", ["0x02"])["result"] == "0x" + "ab" * 32
        assert reads.block is None
        # "latest" is the node's again, asked each time and sent as "latest".
        for _ in range(2):
            head = _ask(uri, "eth_getBlockByNumber", ["latest", False])["result"]
            assert int(head["number"], 16) == HEAD + 1
            assert _ask(uri, "eth_call", [call, "latest"])["result"] == "0x5555|0x0|latest"
        assert stub.requests == n + 5
        # The pinned block's answers are still that block's, and kept.
        assert _ask(uri, "eth_call", [call, hex(HEAD)])["result"] == f"0x5555|0x0|{hex(HEAD)}"
        assert stub.requests == n + 5


def test_a_connection_opened_before_the_route_is_rebound(node):
    """web3 keeps a provider's request function from its first request: a
    connection opened before `pinned` (the keeper's) bypasses the route
    until `rebind`, and after the route closes it asks the node again."""
    uri, stub = node
    provider = HTTPProvider(uri)
    w3 = Web3(provider)
    assert w3.eth.get_block("latest")["number"] == HEAD  # the function is built
    with pinned(uri) as reads:
        reads.start()
        n = stub.requests
        w3.eth.get_block("latest")
        assert stub.requests == n + 1  # not routed: asked again
        rebind(provider)
        w3.eth.get_block("latest")
        w3.eth.get_block("latest")
        assert stub.requests == n + 1  # routed: the pinned block's answer
        rebind(provider)
    w3.eth.get_block("latest")
    assert stub.requests == n + 2  # the route is gone: asked


def test_an_opening_batch_with_an_item_refused_asks_that_item_again():
    """A node that rate-limits one item of the opening batch is a node: the
    refused item is asked again on its own, not the node called absent."""
    stub = Stub()

    def batch(requests: list) -> list:
        out = [stub.answer(r) for r in requests]
        for r in out:
            if r["id"] == requests[0]["id"]:
                r.pop("result")
                r["error"] = {"code": -32005, "message": "rate limited"}
        return out

    with stub_node(stub.answer, batch) as node:
        reads = PinnedReads(node.url)
        assert reads.start() == 31337
        assert reads.block == HEAD


def test_a_null_result_is_asked_again():
    """A lagging backend answers null for a block it has not seen yet: that
    is not the block's answer, and must not stand for the rest of a pass."""
    seen = {"n": 0}

    def answer(request: dict) -> dict:
        if request["method"] == "eth_getBlockByNumber" and request["params"][0] == "0x63":
            seen["n"] += 1
            if seen["n"] == 1:
                return {"jsonrpc": "2.0", "id": request["id"], "result": None}
        reply = chain_answer(request, HEAD)
        assert reply is not None
        return reply

    with stub_node(answer) as stub, pinned(stub.url) as reads:
        reads.start()
        assert _ask(stub.url, "eth_getBlockByNumber", ["0x63", False])["result"] is None
        assert _ask(stub.url, "eth_getBlockByNumber", ["0x63", False])["result"]["number"] == "0x63"
        assert _ask(stub.url, "eth_getBlockByNumber", ["0x63", False])["result"]["number"] == "0x63"
        assert seen["n"] == 2  # the real answer, once there, is kept
