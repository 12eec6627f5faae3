"""Pending delayed orders, rebuilt from the engine's order events.

`OrderCommitted` adds an account's order, `OrderSettled` and
`OrderCancelled` remove it (docs/orders.md). `OrderBook.update` reads the
events of the blocks it has not seen, in chain order, so the keeper learns
new orders incrementally and `xmargin status` reads the whole book once.
The chain's own `pending_order` stays the authority: readers that act
re-read it (`read_order`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ape.exceptions import ContractLogicError

from xmargin.maths import orders as om

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance

    # Events are the keeper's (web3 and Ape's decoding); a reader of one
    # order or request needs neither.
    from xmargin.chain.events import EventCursor


@dataclass(frozen=True)
class PendingOrder:
    """An order as its commit event described it."""

    owner: str
    sub_id: int
    market_id: int
    size_delta: int
    acceptable_price: int
    fee: int
    settle_after: int
    expires: int


@dataclass
class OrderBook:
    clearinghouse: ContractInstance
    # The first block to read (the deployment's).
    from_block: int = 0
    pending: dict[tuple[str, int], PendingOrder] = field(default_factory=dict)
    _cursor: EventCursor | None = None

    def update(self, head: int) -> dict[tuple[str, int], PendingOrder]:
        """Applies the order events of blocks up to `head` not read yet."""
        if self._cursor is None:
            names = ("OrderCommitted", "OrderSettled", "OrderCancelled")
            from xmargin.chain.events import EventCursor

            self._cursor = EventCursor(self.clearinghouse, names, self.from_block)
        for name, args in self._cursor.advance(head):
            key = (str(args["owner"]), int(args["sub_id"]))
            if name == "OrderCommitted":
                self.pending[key] = PendingOrder(
                    owner=key[0],
                    sub_id=key[1],
                    market_id=int(args["market_id"]),
                    size_delta=int(args["size_delta"]),
                    acceptable_price=int(args["acceptable_price"]),
                    fee=int(args["fee"]),
                    settle_after=int(args["settle_after"]),
                    expires=int(args["expires"]),
                )
            else:
                self.pending.pop(key, None)
        return self.pending


def read_order(ch: ContractInstance, owner: str, sub_id: int, block_id: int) -> om.Order:
    """The account's pending order on chain at `block_id` (size 0: none)."""
    return om.Order(*(int(v) for v in ch.pending_order(owner, sub_id, block_id=block_id)))


def published_at(router: ContractInstance, asset: str, block_id: int) -> int | None:
    """When the asset's price in force at `block_id` was published; None
    when the router refuses the price (no order on it can settle)."""
    try:
        return int(router.price_time(asset, block_id=block_id)[1])
    except ContractLogicError:
        return None
