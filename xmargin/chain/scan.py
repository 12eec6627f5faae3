"""Every registered account's health at one block, read in pages.

The lens's batch read (`ClearinghouseLens.account_healths`, up to 50
accounts per call, every call pinned to one block), for readers that want
every registered account's row from the chain itself: the CLI's `xmargin
accounts`. (The keeper values accounts from its own replica instead,
`xmargin.chain.replica`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ape.exceptions import ContractLogicError
from eth_abi import decode, encode
from eth_utils import keccak

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


class LensRow(HealthRow, Protocol):
    """What the lens returns: a row, or why it could not be read (the
    engine's reason, and the first asset whose price the router refuses;
    margins zero)."""

    error: str
    asset: str


# (accounts read, accounts in total) after each page.
Progress = Callable[[int, int], None]


# (registry index, owner, sub_id, the engine's revert reason, the asset
# whose price the router refuses) of an account whose health cannot be read
# at the block.
Unreadable = Callable[[int, str, int, str, str], None]


def health_pages(
    engine: Engine,
    total: int,
    page: int,
    block: int,
    on_unreadable: Unreadable | None = None,
) -> Iterator[list[HealthRow]]:
    """The lens's `account_healths` rows of registry accounts [0, total),
    one view call per page of `page`, every call pinned to `block`.

    The lens never reverts a page for one account's invalid price: that
    account's row names the reason and the asset, and is reported to
    `on_unreadable` and left out (issue 19: one broken feed must not hide
    the others)."""
    lens, ch = engine.require_lens(), engine.clearinghouse
    for start in range(0, total, page):
        rows: list[HealthRow] = []
        got: list[LensRow] = list(lens.account_healths(ch.address, start, page, block_id=block))
        for i, row in enumerate(got, start):
            if row.error:
                if on_unreadable is not None:
                    owner, sub_id = str(row.owner), int(row.sub_id)
                    on_unreadable(i, owner, sub_id, str(row.error), str(row.asset))
                continue
            rows.append(row)
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

    def unreadable(index: int, owner: str, sub_id: int, reason: str, asset: str) -> None:
        skipped.add(index)
        if on_unreadable is not None:
            on_unreadable(index, owner, sub_id, reason, asset)

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


# One `account_health(address,uint256)` call's selector.
_ACCOUNT_HEALTH = keccak(text="account_health(address,uint256)")[:4]


def _batched(engine: Engine, calls: list[dict[str, str]], block: int) -> list[bytes] | None:
    """The raw answers of `calls` at `block` in one JSON-RPC batch (web3's
    `batch_requests`), or None where the provider takes no batches or the
    batch fails as a whole (a reverted call in it): the caller then asks
    one call at a time."""
    if len(calls) <= 1:
        return None
    from web3.exceptions import Web3Exception  # the keeper's (Ape's web3): not a reader's

    web3 = engine.clearinghouse.provider.web3
    try:
        with web3.batch_requests() as batch:
            for call in calls:
                batch.add(web3.eth.call(call, block))
            return [bytes(r) for r in batch.execute()]
    except (Web3Exception, NotImplementedError, ValueError, TypeError):
        return None


def account_healths_at(
    engine: Engine, keys: Sequence[tuple[str, int]], block: int
) -> list[Health | str]:
    """`account_health` of each account at `block`, in order: its (equity,
    IM, MM), or the engine's revert reason. One JSON-RPC batch of
    `eth_call`s where the node takes batches; one call per account
    otherwise (Ape's in-process chain), or when the batch fails as a whole."""
    ch = engine.clearinghouse
    calls = [
        {
            "to": str(ch.address),
            "data": "0x" + (_ACCOUNT_HEALTH + encode(["address", "uint256"], [o, s])).hex(),
        }
        for o, s in keys
    ]
    raws = _batched(engine, calls, block)
    if raws is not None:
        return [Health(*decode(["int256", "uint256", "uint256"], r)) for r in raws]
    out: list[Health | str] = []
    for o, s in keys:
        try:
            h = ch.account_health(o, s, block_id=block)
        except ContractLogicError as err:
            out.append(str(err.message))
            continue
        out.append(Health(int(h.equity), int(h.im), int(h.mm)))
    return out


# One `balance_of(address,uint256,address)` call's selector.
_BALANCE_OF = keccak(text="balance_of(address,uint256,address)")[:4]


def balances_at(
    engine: Engine, keys: Sequence[tuple[str, int]], token: str, block: int
) -> list[int]:
    """Each account's ledger balance of `token` at `block` (native units,
    signed: the quote may be a debt), batched as `account_healths_at`."""
    ch = engine.clearinghouse
    calls = [
        {
            "to": str(ch.address),
            "data": "0x"
            + (_BALANCE_OF + encode(["address", "uint256", "address"], [o, s, token])).hex(),
        }
        for o, s in keys
    ]
    raws = _batched(engine, calls, block)
    if raws is not None:
        return [decode(["int256"], r)[0] for r in raws]
    return [int(ch.balance_of(o, s, token, block_id=block)) for o, s in keys]
