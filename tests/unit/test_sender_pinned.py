"""xmargin.ops.sender inside a keeper pass's pinned reads (xmargin.chain.pinned):
what it asks to prepare a send must not be the pass's pinned block."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from web3 import HTTPProvider, Web3

from tests.stub_node import chain_answer, stub_node
from xmargin.chain.pinned import pinned
from xmargin.ops.sender import Sender

HEAD = 16


class Chain:
    def __init__(self) -> None:
        self.head = HEAD

    def answer(self, request: dict) -> dict:
        reply = chain_answer(request, self.head)
        if reply is not None:
            return reply
        reply = {"jsonrpc": "2.0", "id": request["id"]}
        if request["method"] == "eth_getTransactionCount":
            reply["result"] = "0x0"
        elif request["method"] == "eth_sendRawTransaction":
            reply["result"] = "0x" + "ab" * 32
        else:
            reply["error"] = {"code": -32601, "message": "no such method"}
        return reply


class Provider:
    """The part of Ape's provider the Sender uses, over web3 to `uri`."""

    max_gas = 30_000_000
    priority_fee = 1
    base_fee = 1

    def __init__(self, uri: str) -> None:
        self.web3 = Web3(HTTPProvider(uri))

    def get_block(self, tag: Any) -> SimpleNamespace:
        return SimpleNamespace(number=self.web3.eth.get_block(tag)["number"])


class Signed:
    def serialize_transaction(self) -> bytes:
        return b"\x02"


class Account:
    address = "0x" + "11" * 20

    def sign_transaction(self, txn: Any) -> Signed:
        return Signed()


class Method:
    def as_transaction(self, *args: Any, **kwargs: Any) -> object:
        return object()


def test_a_send_in_a_pinned_pass_counts_its_blocks_from_the_nodes_head():
    """A pass pinned at HEAD reads while the chain moves on; the blocks a
    transaction waits are counted from when it is sent, not from the
    pass's pinned head (else it is replaced, fees bumped, at once)."""
    chain = Chain()
    with stub_node(chain.answer) as node, pinned(node.url) as reads:
        reads.start()
        chain.head = HEAD + 5  # mined while the pass read
        sender = Sender(account=Account(), provider=Provider(node.url))  # type: ignore[arg-type]
        pending = sender.submit(Method(), estimate=100_000)  # type: ignore[arg-type]
        assert pending.sent_block == HEAD + 5
