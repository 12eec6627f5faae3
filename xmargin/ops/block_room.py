"""Batches cut to the room left in a block.

A node fills a block in nonce order while the next transaction's gas
*limit* fits what the block has left (its gas limit less the gas *used* by
the transactions already in it). A keeper that sends equal batches wastes
the end of every block: at 30M gas, ten liquidation batches of 50 use
about 27M and the eleventh, whose limit is about 3.9M, waits for the next
block. `BlockRoom` follows what the keeper's own batches will use of the
block they should land in, and `fitting` cuts the next batch to the room
left; once not even one item fits, the next batch starts a new block.
`cut_to_blocks` runs the whole plan.

It assumes the keeper has the block to itself: on a busy chain other
transactions take part of it and a batch that no longer fits lands in the
next block (nothing is lost; the packing is only less tight).

Gas used is predicted as `USED_PER_ESTIMATE` of the estimate: a
transaction uses at least 4/5 of the gas it needs when its refunds reach
EIP-3529's cap (a fifth of the gas used), as a liquidation batch's do (each
closed position and cleared balance refunds), and the estimate is at least
what it needs. With smaller refunds a batch uses more than predicted and
the last one of a block may move to the next.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

USED_PER_ESTIMATE = 0.8


@dataclass
class BlockRoom:
    """The keeper's predicted share of the block its next batch lands in."""

    gas_limit: int
    used: int = 0

    @property
    def empty(self) -> bool:
        return self.used == 0

    def left(self) -> int:
        return max(self.gas_limit - self.used, 0)

    def fits(self, limit: int) -> bool:
        """Whether a transaction sent with gas limit `limit` joins this block."""
        return limit <= self.left()

    def take(self, estimate: int) -> None:
        """A transaction of this estimate was sent into the block."""
        self.used += math.ceil(estimate * USED_PER_ESTIMATE)

    def next_block(self) -> None:
        self.used = 0


def fitting(items: int, limit: int, room: int) -> int:
    """How many of a batch of `items` whose gas limit is `limit` to send in
    `room`: proportionally fewer, rounded down (0: not even one). A
    batch's limit is a fixed part plus one per item, so the cut batch may
    still be a little over; the caller estimates it again and cuts again."""
    if limit <= room:
        return items
    return items * room // limit


def cut_to_blocks(
    total: int,
    batch: int,
    block_gas: int,
    estimate: Callable[[int, int], int | None],
    gas_limit: Callable[[int], int],
) -> Iterator[tuple[int, int, int | None]]:
    """(start, count, estimate) of each batch of `total` items, in order:
    `batch` at a time, except that a batch that would not fit the room
    its block has left is cut to it (estimated again until it fits), and
    one not even an item of which fits starts the next block.
    `estimate(start, count)` is the batch's gas (None: its simulation
    failed; it is yielded with None, skipped, and takes no room);
    `gas_limit(estimate)` the limit it would be sent with, uncapped: a
    batch over a whole block's gas is cut too (sent with its limit capped
    at the block's, it could only run out of gas). A single item over a
    whole block is yielded alone; it fails in its simulation or on chain,
    and the keeper's one-by-one path takes the account."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    room = BlockRoom(block_gas)
    start = 0
    while start < total:
        n = min(batch, total - start)
        estimates: dict[int, int | None] = {}  # by count, for this start
        while True:
            if n not in estimates:
                estimates[n] = estimate(start, n)
            gas = estimates[n]
            if gas is None or room.fits(gas_limit(gas)):
                break
            fewer = fitting(n, gas_limit(gas), room.left())
            if fewer == 0:
                if room.empty:
                    # Not one item fits even a whole block.
                    n = 1
                    gas = estimates[1] if 1 in estimates else estimate(start, 1)
                    break
                room.next_block()
                n = min(batch, total - start)
            else:
                n = fewer
        if gas is not None:
            room.take(gas)
        yield start, n, gas
        start += n
