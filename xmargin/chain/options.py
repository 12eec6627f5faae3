"""The OptionsDesk's pending orders and holders, and an expiry's settlement round.

`DeskBook` learns from the desk's events which accounts have a pending
option order (`OptionOrderCommitted` adds one, `OptionOrderExecuted` and
`OptionOrderCancelled` remove it) and who holds each series
(`OptionTraded` carries the new position); the chain's
`pending_option_order` and `position` stay the authority, read before
acting (docs/options.md).

`settlement_round` finds the round `OptionsBook.settle_expiry` needs: the
primary feed's first round published at or after the expiry, walking back
from the latest round. The router checks it (`settlement_price`); this
only names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ape.exceptions import ContractLogicError

from xmargin.chain.orders import published_at
from xmargin.maths import black76 as b76
from xmargin.maths import options as om
from xmargin.maths.fixed_point import WAD
from xmargin.maths.option_book import (  # noqa: F401  (re-exported: the chain layer's names)
    OptionView,
    mm_without_each,
    portfolio_with_options,
    with_options,
)

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance

    from xmargin.chain.events import EventCursor

# Invalid rounds in a row the router walks past after an expiry (its own
# bound, contracts/OracleRouter.vy `settlement_price`).
MAX_INVALID = 8


@dataclass(frozen=True)
class OptionOrder:
    """An account's pending option order as the desk holds it."""

    series_id: int
    size: int
    limit: int
    commit_time: int
    min_delay: int
    window: int

    @property
    def ready(self) -> int:
        """The earliest time it executes, and the earliest its rounds may be published."""
        return self.commit_time + self.min_delay

    @property
    def expires(self) -> int:
        return self.ready + self.window


@dataclass
class DeskBook:
    desk: ContractInstance
    # The first block to read (the deployment's).
    from_block: int = 0
    pending: set[tuple[str, int]] = field(default_factory=set)
    # series id -> the accounts holding a position in it
    holders: dict[int, set[tuple[str, int]]] = field(default_factory=dict)
    _cursor: EventCursor | None = None

    def update(self, head: int) -> None:
        """Applies the desk's events of blocks up to `head` not read yet."""
        if self._cursor is None:
            from xmargin.chain.events import EventCursor

            names = (
                "OptionOrderCommitted",
                "OptionOrderExecuted",
                "OptionOrderCancelled",
                "OptionTraded",
            )
            self._cursor = EventCursor(self.desk, names, self.from_block)
        for name, args in self._cursor.advance(head):
            key = (str(args["owner"]), int(args["sub_id"]))
            if name == "OptionOrderCommitted":
                self.pending.add(key)
            elif name == "OptionTraded":
                held = self.holders.setdefault(int(args["series_id"]), set())
                if int(args["position"]):
                    held.add(key)
                else:
                    held.discard(key)
            else:
                self.pending.discard(key)


def read_option_order(
    desk: ContractInstance, owner: str, sub_id: int, block_id: int
) -> OptionOrder:
    """The account's pending option order at `block_id` (size 0: none)."""
    return OptionOrder(
        *(int(v) for v in desk.pending_option_order(owner, sub_id, block_id=block_id))
    )


def published(router: ContractInstance, asset: str, expiry: int, block_id: int) -> int | None:
    """When the older of the underlying's price (`orders.published_at`) and
    the series' volatility in force at `block_id` was published; None when
    the router refuses either (no order on the series can execute)."""
    price_at = published_at(router, asset, block_id)
    if price_at is None:
        return None
    try:
        vol_at = int(router.vol_time(asset, expiry, block_id=block_id)[1])
    except ContractLogicError:
        return None
    return min(price_at, vol_at)


def settlement_round(
    router: ContractInstance, aggregator_at: Any, asset: str, expiry: int, block_id: int
) -> int | None:
    """The round to settle `expiry` on: the primary feed's first complete
    round published at or after it, found by a binary search over the
    latest phase's round ids (incomplete rounds, `updatedAt` 0, are
    skipped, as the router skips invalid ones), then the first of it and
    the next MAX_INVALID that the router accepts; None when no round since
    the expiry is valid yet (or the feed changed phase since the expiry
    and the router has not confirmed the new one: a person must).
    `aggregator_at`: the aggregator contract at an address."""
    feed = aggregator_at(router.price_config(asset, block_id=block_id).primary.aggregator)
    last = int(feed.latestRoundData(block_id=block_id)[0])
    first_id = (last >> 64 << 64) + 1

    def complete_at(round_id: int) -> int:
        """When the last complete round at or before `round_id` was
        published (0: none in this phase within MAX_INVALID rounds)."""
        for r in range(round_id, max(first_id, round_id - MAX_INVALID) - 1, -1):
            try:
                updated = int(feed.getRoundData(r, block_id=block_id)[3])
            except ContractLogicError:
                return 0
            if updated:
                return updated
        return 0

    if complete_at(last) < expiry:
        return None
    lo, hi = first_id, last
    while lo < hi:
        mid = (lo + hi) // 2
        if complete_at(mid) >= expiry:
            hi = mid
        else:
            lo = mid + 1
    for round_id in range(lo, min(lo + MAX_INVALID, last) + 1):
        try:
            router.settlement_price(asset, expiry, round_id, block_id=block_id)
        except ContractLogicError:
            continue
        return round_id
    return None


def read_option_positions(
    desk: ContractInstance,
    book: ContractInstance,
    router: ContractInstance,
    owner: str,
    sub_id: int,
    block_id: int,
    now: int,
) -> tuple[OptionView, ...]:
    """The account's option positions at `block_id` (block time `now`),
    each with its value and linear margin as the desk's `account_risk`
    sums them; a price or volatility the router refuses raises
    ContractLogicError (the engine reverts for the account alike)."""
    at = {"block_id": block_id}
    out = []
    for series_id in desk.account_series(owner, sub_id, **at):
        s = book.series_of(series_id, **at)
        asset, strike, expiry, is_call = str(s.asset), int(s.strike), int(s.expiry), bool(s.is_call)
        size = int(desk.position(owner, sub_id, series_id, **at))
        params = om.MarginParams(*(int(v) for v in book.margin_params(asset, **at)))
        greeks: b76.Greeks | None = None
        price = sigma = tau = settled = 0
        if now >= expiry:
            settled = int(book.settlement(asset, expiry, **at))
            if settled:
                risk = om.expired_risk(b76.price(settled, strike, 0, 0, is_call), size)
            else:
                price = int(router.price(asset, **at))
                risk = om.unsettled_risk(price, strike, is_call, size, params)
        else:
            price = int(router.price(asset, **at))
            sigma = int(router.vol(asset, expiry, **at))
            tau = expiry - now
            risk = om.linear_risk(price, strike, is_call, sigma, tau, size, params)
            g = b76.greeks(price, strike, sigma, tau, is_call)
            greeks = b76.Greeks(
                *(_toward_zero(size * v) for v in (g.delta, g.gamma, g.vega, g.theta))
            )
        out.append(
            OptionView(
                int(series_id),
                asset,
                strike,
                expiry,
                is_call,
                size,
                risk,
                greeks,
                price,
                sigma,
                tau,
                settled,
                params,
            )
        )
    return tuple(out)


def _toward_zero(x: int) -> int:
    """x / WAD rounded toward zero, as Vyper divides signed integers (the
    desk's `account_greeks`)."""
    q = abs(x) // WAD
    return q if x >= 0 else -q
