"""Every registered account's health at one block, read in pages.

The same batch read the keeper makes (`ClearinghouseLens.account_healths`,
up to 50 accounts per call, every call pinned to one block), for readers
that want the rows rather than liquidations: the CLI's `xmargin accounts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from xmargin.chain.engine import Engine
from xmargin.maths.model import Health

if TYPE_CHECKING:
    pass

# Rows per `account_healths` call: the contract's page.
PAGE = 50


class Margins(Protocol):
    """What `account_health` returns (WAD USD)."""

    equity: int
    im: int
    mm: int


class HealthRow(Margins, Protocol):
    """One `account_healths` row: an account and its margins."""

    owner: str
    sub_id: int


# (accounts read, accounts in total) after each page.
Progress = Callable[[int, int], None]


def health_pages(engine: Engine, total: int, page: int, block: int) -> Iterator[list[HealthRow]]:
    """The lens's `account_healths` rows of registry accounts [0, total),
    one view call per page of `page`, every call pinned to `block`."""
    lens, ch = engine.require_lens(), engine.clearinghouse.address
    for start in range(0, total, page):
        yield list(lens.account_healths(ch, start, page, block_id=block))


@dataclass(frozen=True)
class AccountHealth:
    """One registry row: the account and its (equity, IM, MM), WAD USD."""

    index: int
    owner: str
    sub_id: int
    health: Health

    @property
    def shortfall(self) -> int:
        """MM - equity when the account is liquidatable, else 0 (WAD USD)."""
        return max(self.health.mm - self.health.equity, 0)


def read_healths(
    engine: Engine, block: int, page: int = PAGE, progress: Progress | None = None
) -> list[AccountHealth]:
    """Every account in the registry at `block`, in registry order."""
    ch = engine.clearinghouse
    total = ch.num_accounts(block_id=block)
    out: list[AccountHealth] = []
    for rows in health_pages(engine, total, page, block):
        for row in rows:
            out.append(
                AccountHealth(
                    index=len(out),
                    owner=str(row.owner),
                    sub_id=int(row.sub_id),
                    health=Health(int(row.equity), int(row.im), int(row.mm)),
                )
            )
        if progress is not None:
            progress(len(out), total)
    return out
