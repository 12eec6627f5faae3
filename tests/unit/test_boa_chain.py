"""The fuzz machine's titanoboa driver (`tests/fuzz/boa_chain.py`) answers
as a chain must: a revert with the contract's reason and nothing mined, a
view's answer kept only while the state stands, receipts and history with
their events, the bytecode Ape compiled."""

from __future__ import annotations

import json

import pytest
from ape.exceptions import ContractLogicError

from tests.fuzz.boa_chain import MANIFEST, BoaDeployer
from tests.fuzz.setup_world import START_USDC, build
from xmargin.chain.events import EventCursor
from xmargin.maths import errors

E18 = 10**18


@pytest.fixture(scope="module")
def world():
    d = BoaDeployer()
    return d.chain, build(d)


@pytest.fixture
def boa(world):
    chain, ctx = world
    snap = chain.snapshot()
    yield chain, ctx
    chain.restore(snap)


def test_a_revert_says_its_reason_and_mines_nothing(boa):
    chain, ctx = boa
    ch, usdc, trader = ctx["ch"], ctx["usdc"], ctx["trader"]
    head = chain.blocks.head
    chain.pending_timestamp = head.timestamp + 10
    with pytest.raises(ContractLogicError) as info:
        ch.withdraw(0, usdc, START_USDC + 1, sender=trader)
    assert info.value.revert_message == errors.INSUFFICIENT_BALANCE
    assert chain.blocks.head == head
    assert chain.pending_timestamp == head.timestamp + 10
    receipt = ch.withdraw(0, usdc, 1, sender=trader)
    assert (receipt.block_number, receipt.timestamp) == (head.number + 1, head.timestamp + 10)
    assert chain.blocks.head.number == head.number + 1
    assert chain.pending_timestamp == head.timestamp + 11


def test_a_view_is_answered_again_once_the_state_moves(boa):
    chain, ctx = boa
    ch, usdc, trader = ctx["ch"], ctx["usdc"], ctx["trader"]
    assert ch.balance_of(trader, 1, usdc) == START_USDC
    snap = chain.snapshot()
    ch.withdraw(1, usdc, 7, sender=trader)
    assert ch.balance_of(trader, 1, usdc) == START_USDC - 7
    chain.restore(snap)
    assert ch.balance_of(trader, 1, usdc) == START_USDC
    # A refused view is refused again, with its reason, each time it is asked.
    router, unlisted = ctx["engine"].router, ctx["unlisted"]
    for _ in range(2):
        with pytest.raises(ContractLogicError) as info:
            router.price(unlisted)
        assert info.value.revert_message == errors.NO_FEED


def test_receipts_and_history_carry_the_events(boa):
    chain, ctx = boa
    ch, trader = ctx["ch"], ctx["trader"]
    receipt = ch.trade(1, 0, E18 // 10, 10**30, sender=trader)
    (trade,) = receipt.events.filter(ch.Trade)
    assert (trade.owner, trade.sub_id, trade.market_id) == (trader, 1, 0)
    assert trade.size_delta == trade.new_size == E18 // 10
    # ETH at $3,000 (setup_world): the fill is the oracle price plus the premium.
    assert trade.oracle_price == 3_000 * E18 and trade.fill_price > trade.oracle_price
    head = chain.blocks.head.number
    assert [e.size_delta for e in ch.Trade.range(head, head + 1)] == [E18 // 10]
    cursor = EventCursor(ch, ["Trade"], head)
    ((name, args),) = cursor.advance(head)
    assert (name, args["new_size"]) == ("Trade", E18 // 10)
    assert chain.get_receipt(receipt.txn_hash) is receipt


def test_a_simulation_leaves_no_trace(boa):
    chain, ctx = boa
    ch, usdc, trader = ctx["ch"], ctx["usdc"], ctx["trader"]
    head = chain.blocks.head
    assert ch.withdraw.estimate_gas_cost(1, usdc, 5, sender=trader) > 0
    assert chain.blocks.head == head
    assert ch.balance_of(trader, 1, usdc) == START_USDC


def test_it_runs_the_bytecode_ape_compiled(boa):
    chain, ctx = boa
    compiled = json.loads(MANIFEST.read_text())["contractTypes"]["StateReader"]
    runtime = bytes.fromhex(compiled["runtimeBytecode"]["bytecode"][2:])
    assert chain.get_code(ctx["reader"].address) == runtime
