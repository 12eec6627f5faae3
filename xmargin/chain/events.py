"""Reading a contract's events in chain order, incrementally.

The keeper's books (`orders.OrderBook`, `lp_requests.RequestBook`) learn
state from events: `EventCursor.advance` returns the named events of the
blocks it has not read yet, sorted by (block, log index), so a book that
applies them in order ends where the chain is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ape.contracts.base import ContractInstance


@dataclass
class EventCursor:
    contract: ContractInstance
    names: Sequence[str]
    # The first block to read (the deployment's).
    from_block: int = 0
    _next_block: int | None = None

    def advance(self, head: int) -> list[tuple[str, Any]]:
        """(event name, arguments) of the blocks up to `head` not read yet."""
        start = self.from_block if self._next_block is None else self._next_block
        logs: list[tuple[int, int, str, Any]] = []
        for name in self.names if start <= head else ():
            for log in getattr(self.contract, name).range(start, head + 1):
                logs.append((log.block_number, log.log_index, name, log.event_arguments))
        self._next_block = max(start, head + 1)
        return [(name, args) for _, _, name, args in sorted(logs, key=lambda x: (x[0], x[1]))]
