"""The fuzz machine's titanoboa driver (`tests/fuzz/boa_chain.py`) answers
as a chain must: a revert with the contract's reason and nothing mined, a
view's answer kept only while the state stands, receipts and history with
their events, the bytecode Ape compiled."""

from __future__ import annotations

import json

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from tests.fuzz.boa_chain import MANIFEST, BoaDeployer, BoaSender
from tests.fuzz.setup_world import START_USDC, build
from xmargin.chain.events import EventCursor
from xmargin.maths import errors

E18 = 10**18
USDC = 10**6


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


# An outside review's findings (each failed before its fix).


def test_a_gas_estimate_is_what_a_node_answers(boa, project, accounts):
    """The estimate counts the 21,000 intrinsic gas and the calldata, as
    eth_estimateGas does: within 10 % of Ape's chain for the same call."""
    chain, ctx = boa
    ape_token = accounts[0].deploy(project.MockERC20, "Mock T", "T", 6)
    ape_gas = ape_token.approve.estimate_gas_cost(accounts[1], 5, sender=accounts[2])
    usdc, trader, hedger = ctx["usdc"], ctx["trader"], ctx["hedger"]
    boa_gas = usdc.approve.estimate_gas_cost(hedger, 5, sender=trader)
    assert abs(boa_gas - ape_gas) <= ape_gas // 10, (ape_gas, boa_gas)


def test_time_never_runs_backwards(boa):
    chain, _ = boa
    head = chain.blocks.head
    for t in (head.timestamp - 100, head.timestamp):
        with pytest.raises(ValueError):
            chain.pending_timestamp = t
    assert chain.pending_timestamp == head.timestamp + 1


def test_a_view_is_asked_by_nobody_in_particular(boa):
    """An engine-only view (`health_probe`: msg.sender must be the engine)
    asked from outside reverts, as an eth_call does on a node."""
    _, ctx = boa
    with pytest.raises(ContractLogicError) as info:
        ctx["ch"].health_probe(ctx["trader"], 0)
    assert info.value.revert_message == errors.ENGINE_ONLY


def test_the_keepers_transaction_keeps_its_gas_limit(boa):
    """`BoaSender` sends with the keeper's limit (estimate x margin): one
    too low is mined as failed, its whole limit spent, nothing changed."""
    chain, ctx = boa
    ch, usdc, keeper = ctx["ch"], ctx["usdc"], ctx["keeper"]
    sender = BoaSender(str(keeper), chain)
    head = chain.blocks.head.number
    pending = sender.submit(ch.deposit, 0, usdc, 5 * USDC, estimate=30_000)
    (receipt,) = sender.wait([pending])
    assert receipt.failed and receipt.gas_used == pending.txn.gas_limit == 34_500
    assert receipt.block_number == head + 1 and list(receipt.events) == []
    assert ch.balance_of(keeper, 0, usdc) == 0
    # With its estimate it goes through, and spends less than its limit.
    pending = sender.submit(ch.deposit, 0, usdc, 5 * USDC)
    (receipt,) = sender.wait([pending])
    assert not receipt.failed and receipt.gas_used <= pending.txn.gas_limit
    assert ch.balance_of(keeper, 0, usdc) == 5 * USDC


def test_a_seeded_long_run_draws_the_same_steps(monkeypatch):
    """`run_boa --seed` reproduces a run's draws (hypothesis's forced seed,
    one per run); unseeded runs draw afresh."""
    from tests.fuzz import run_boa
    from tests.fuzz.machine import COVERAGE

    draws: list[int] = []

    class Toy(RuleBasedStateMachine):
        @rule(x=st.integers(0, 10**9))
        def step(self, x):
            draws.append(x)
            COVERAGE["steps checked"] += 1

    monkeypatch.setattr(run_boa, "machine_on_boa", lambda: Toy)
    runs = []
    for seed in (7, 7, None):
        draws.clear()
        run_boa.run_steps(20, 5, seed=seed)
        runs.append(list(draws))
    assert runs[0] == runs[1] != runs[2]


def test_a_read_behind_the_head_is_answered_from_it_and_counted(boa):
    chain, ctx = boa
    ch, usdc, trader = ctx["ch"], ctx["usdc"], ctx["trader"]
    ch.withdraw(1, usdc, 3, sender=trader)
    head, before = chain.blocks.head.number, chain.behind_reads
    assert ch.balance_of(trader, 1, usdc, block_id=head - 1) == START_USDC - 3
    assert chain.behind_reads == before + 1
    assert ch.balance_of(trader, 1, usdc, block_id=head) == START_USDC - 3
    assert chain.behind_reads == before + 1
    with pytest.raises(ValueError):
        ch.balance_of(trader, 1, usdc, block_id=head + 1)
