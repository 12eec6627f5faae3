"""Pending LP requests, rebuilt from the LiquidityPool's events.

`DepositRequest` / `RedeemRequest` mark a controller's request of that kind
pending; `DepositSettled` / `RedeemSettled` and the cancellations clear it
(docs/orders.md). The vault's own `deposit_requests` / `redeem_requests`
stay the authority: readers that act re-read them (`read_request`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xmargin.maths import lp_requests as lr

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance

    # Events are the keeper's (web3 and Ape's decoding); a reader of one
    # order or request needs neither.
    from xmargin.chain.events import EventCursor

OPENS = {"DepositRequest": True, "RedeemRequest": False}
CLOSES = {
    "DepositSettled": True,
    "DepositRequestCancelled": True,
    "RedeemSettled": False,
    "RedeemRequestCancelled": False,
}


@dataclass
class RequestBook:
    vault: ContractInstance
    from_block: int = 0
    # (controller, is_deposit) of every request pending as of the events read
    pending: set[tuple[str, bool]] = field(default_factory=set)
    _cursor: EventCursor | None = None

    def update(self, head: int) -> set[tuple[str, bool]]:
        """Applies the request events of blocks up to `head` not read yet."""
        if self._cursor is None:
            from xmargin.chain.events import EventCursor

            self._cursor = EventCursor(self.vault, (*OPENS, *CLOSES), self.from_block)
        for name, args in self._cursor.advance(head):
            controller = str(args["controller"])
            if name in OPENS:
                self.pending.add((controller, OPENS[name]))
            else:
                self.pending.discard((controller, CLOSES[name]))
        return self.pending


def read_request(
    vault: ContractInstance, controller: str, is_deposit: bool, block_id: int
) -> lr.Request:
    """The controller's request of that kind on chain at `block_id`."""
    getter = vault.deposit_requests if is_deposit else vault.redeem_requests
    return lr.Request(*(int(v) for v in getter(controller, block_id=block_id)))
