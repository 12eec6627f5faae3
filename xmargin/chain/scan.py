"""Every registered account's health at one block, read in pages.

The same batch read the keeper makes (`ClearinghouseLens.account_healths`,
up to 50 accounts per call, every call pinned to one block), for readers
that want the rows rather than liquidations: the CLI's `xmargin accounts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ape.exceptions import ContractLogicError

from xmargin.chain.engine import Engine
from xmargin.maths.model import Health

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


@dataclass
class ReadRow:
    """A row read account by account (a page's fallback): as the lens's."""

    owner: str
    sub_id: int
    equity: int
    im: int
    mm: int


# (registry index, owner, sub_id, the engine's revert reason) of an account
# whose health cannot be read at the block (a price it needs is invalid).
Unreadable = Callable[[int, str, int, str], None]


def health_pages(
    engine: Engine,
    total: int,
    page: int,
    block: int,
    on_unreadable: Unreadable | None = None,
) -> Iterator[list[HealthRow]]:
    """The lens's `account_healths` rows of registry accounts [0, total),
    one view call per page of `page`, every call pinned to `block`.

    A page the lens cannot read (one of its accounts needs a price the
    router refuses: the whole view reverts) is read account by account
    instead; each account that still fails is left out and reported to
    `on_unreadable` (issue 19: one broken feed must not hide the others)."""
    lens, ch = engine.require_lens(), engine.clearinghouse
    for start in range(0, total, page):
        try:
            yield list(lens.account_healths(ch.address, start, page, block_id=block))
            continue
        except ContractLogicError:
            pass
        rows: list[HealthRow] = []
        for i in range(start, min(start + page, total)):
            a = ch.account_at(i, block_id=block)
            owner, sub_id = str(a.owner), int(a.sub_id)
            try:
                h = ch.account_health(owner, sub_id, block_id=block)
            except ContractLogicError as err:
                if on_unreadable is not None:
                    on_unreadable(i, owner, sub_id, str(err.message))
                continue
            rows.append(ReadRow(owner, sub_id, int(h.equity), int(h.im), int(h.mm)))
        yield rows


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
    engine: Engine,
    block: int,
    page: int = PAGE,
    progress: Progress | None = None,
    on_unreadable: Unreadable | None = None,
) -> list[AccountHealth]:
    """Every account in the registry at `block` whose health can be read,
    in registry order; the others go to `on_unreadable` (`health_pages`)."""
    ch = engine.clearinghouse
    total = ch.num_accounts(block_id=block)
    out: list[AccountHealth] = []
    skipped: set[int] = set()

    def unreadable(index: int, owner: str, sub_id: int, reason: str) -> None:
        skipped.add(index)
        if on_unreadable is not None:
            on_unreadable(index, owner, sub_id, reason)

    index = 0
    for rows in health_pages(engine, total, page, block, on_unreadable=unreadable):
        for row in rows:
            while index in skipped:
                index += 1
            out.append(
                AccountHealth(
                    index=index,
                    owner=str(row.owner),
                    sub_id=int(row.sub_id),
                    health=Health(int(row.equity), int(row.im), int(row.mm)),
                )
            )
            index += 1
        if progress is not None:
            progress(len(out) + len(skipped), total)
    return out
