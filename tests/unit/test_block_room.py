"""The keeper's batches cut to the room left in each block
(`xmargin.ops.block_room`), checked against a node's own rule: a block
takes the next transaction while its gas limit fits the block's gas limit
less the gas used by the transactions already in it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmargin.ops.block_room import USED_PER_ESTIMATE, BlockRoom, cut_to_blocks, fitting


def node_blocks(txs: list[tuple[int, int]], block_gas: int) -> list[list[int]]:
    """How a node packs (limit, used) transactions in nonce order: the
    index of each transaction in each block."""
    blocks: list[list[int]] = [[]]
    used = 0
    for i, (limit, gas_used) in enumerate(txs):
        if blocks[-1] and used + limit > block_gas:
            blocks.append([])
            used = 0
        blocks[-1].append(i)
        used += gas_used
    return blocks


def run(total: int, batch: int, block_gas: int, fixed: int, per_item: int, margin: float):
    """The plan for a batch whose estimate is `fixed + per_item * n`, used
    at the refund floor, and how a node packs it."""

    def estimate(start: int, n: int) -> int:
        return fixed + per_item * n

    def gas_limit(gas: int) -> int:
        return math.ceil(gas * margin)

    plan = list(cut_to_blocks(total, batch, block_gas, estimate, gas_limit))
    txs = [(gas_limit(g), math.ceil(g * USED_PER_ESTIMATE)) for _, _, g in plan if g]
    return plan, node_blocks(txs, block_gas)


def test_the_last_batch_of_a_block_is_cut_to_its_room():
    """Estimate 100 gas an item, used 80, limit 115 (a 15 % margin); blocks
    of 10,000 gas, batches of 10 (limit 1,150, used 800). Whole batches:
    twelve fit a block (11 x 800 + 1,150 = 9,950), the 13th would need
    9,600 + 1,150 = 10,750, so a block holds 120 items and 248 items
    need 3 blocks. Cut: after 12 batches 400 gas is left, 3 items fit
    (limit 345, used 240); then 160 is left and 1 item fits (115, 80);
    then 80 is left and not one more (115): 124 items a block, 2 blocks."""
    plan, blocks = run(248, 10, 10_000, 0, 100, 1.15)
    assert [n for _, n, _ in plan] == [10] * 12 + [3, 1] + [10] * 12 + [3, 1]
    assert [sum(plan[i][1] for i in b) for b in blocks] == [124, 124]
    assert [s for s, _, _ in plan] == [sum(n for _, n, _ in plan[:i]) for i in range(len(plan))]
    # Whole batches only, as the keeper sent them before.
    whole = node_blocks([(1_150, 800)] * 25, 10_000)
    assert [len(b) * 10 for b in whole][:2] == [120, 120] and len(whole) == 3


def test_a_batch_whose_simulation_fails_takes_no_room():
    calls: list[tuple[int, int]] = []

    def estimate(start: int, n: int) -> int | None:
        calls.append((start, n))
        return None if start == 10 else 100 * n

    plan = list(cut_to_blocks(30, 10, 10_000, estimate, lambda g: g))
    assert plan == [(0, 10, 1_000), (10, 10, None), (20, 10, 1_000)]
    assert calls == [(0, 10), (10, 10), (20, 10)]


def test_block_room_and_fitting():
    room = BlockRoom(1_000)
    assert room.empty and room.fits(1_000) and not room.fits(1_001)
    room.take(500)  # used at the refund floor: 400
    assert (room.used, room.left(), room.empty) == (400, 600, False)
    room.take(1_000)
    assert room.left() == 0 and not room.fits(1)
    room.next_block()
    assert room.empty and room.left() == 1_000
    assert fitting(50, 4_000, 4_000) == 50
    assert fitting(50, 4_000, 1_000) == 12  # 50 x 1,000 // 4,000 = 12.5
    assert fitting(50, 4_000, 79) == 0


@given(
    total=st.integers(1, 400),
    batch=st.integers(1, 60),
    fixed=st.integers(0, 400_000),
    per_item=st.integers(20_000, 150_000),
    margin=st.floats(1.0, 1.5),
)
def test_every_cut_batch_lands_in_the_block_it_was_cut_for(total, batch, fixed, per_item, margin):
    """For any affine batch cost: every item is sent once, in order; the
    node packs the batches into exactly the blocks the plan filled (no
    batch spills into the next); and a block is closed only when not even
    a one-item batch would have fitted what it had left."""
    block_gas = 30_000_000
    plan, blocks = run(total, batch, block_gas, fixed, per_item, margin)
    assert sum(n for _, n, _ in plan) == total
    assert all(1 <= n <= batch for _, n, _ in plan)
    room = BlockRoom(block_gas)
    expected: list[list[int]] = [[]]
    for i, (_, _n, gas) in enumerate(plan):
        assert gas is not None
        limit = math.ceil(gas * margin)
        if not room.empty and not room.fits(limit):
            # A new block: one item alone would not have fitted the old one.
            one = math.ceil((fixed + per_item) * margin)
            assert one > room.left() - 1
            room.next_block()
            expected.append([])
        room.take(gas)
        expected[-1].append(i)
    assert blocks == expected


def test_a_batch_over_a_whole_block_is_cut_to_the_block():
    """Found by the outside review: 100 heavy accounts (330k gas each, the
    upper end of the keeper's own figure) need ~33M, more than a 30M block;
    sent whole with a limit capped at the block's, the batch could only run
    out of gas, on every pass. It is cut: 30,000 + 330,000 n, limit x1.15
    <= 30M gives n <= 78.96, and the proportional cut 100 x 30M / 37.98M
    = 78 fits at once."""

    def estimate(start: int, n: int) -> int:
        return 30_000 + 330_000 * n

    def gas_limit(gas: int) -> int:
        return math.ceil(gas * 1.15)

    plan = list(cut_to_blocks(100, 100, 30_000_000, estimate, gas_limit))
    assert plan[0][1] == 78
    assert all(gas_limit(g) <= 30_000_000 for _, _, g in plan if g)
    assert sum(n for _, n, _ in plan) == 100
    # One item alone over a whole block: sent alone (it fails in its
    # simulation or on chain, and the one-by-one path takes the account).
    alone = list(cut_to_blocks(2, 10, 1_000, lambda s, n: 2_000 * n, lambda g: g))
    assert alone == [(0, 1, 2_000), (1, 1, 2_000)]


def test_a_batch_of_zero_is_refused():
    """A batch of 0 would never move on (found by the outside review)."""
    with pytest.raises(ValueError, match="at least 1"):
        list(cut_to_blocks(5, 0, 30_000_000, lambda s, n: n, lambda g: g))
