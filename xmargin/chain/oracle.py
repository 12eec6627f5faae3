"""Why a price is refused: the asset, its feed, the feed's age and limits.

The OracleRouter reverts with a short reason (`xm.oracle: price stale`);
an operator needs to know which asset, which feed, how old its last round
is against the heartbeat, and what to do. `price_problems` asks the router
for every recorded asset's price at a block and, for each one it refuses,
reads the feed's own latest round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ape.exceptions import ApeException, ContractLogicError

from xmargin.maths import errors
from xmargin.maths.fixed_point import format_exact

if TYPE_CHECKING:
    from xmargin.chain.engine import Engine


@dataclass(frozen=True)
class PriceProblem:
    symbol: str
    token: str
    # the primary feed the router reads (the record's when the router has none)
    feed: str
    # the router's revert reason, e.g. errors.PRICE_STALE
    reason: str
    heartbeat: int
    # the feed's latest round: its answer (feed units) and updatedAt; None
    # when the feed itself cannot be read
    answer: int | None
    decimals: int | None
    updated_at: int | None
    # seconds from `updated_at` to the block's timestamp
    age: int | None

    def describe(self) -> str:
        """One sentence: what is wrong and what to do."""
        if self.answer is None:
            return (
                f"{self.symbol}'s price is refused ({self.reason}): its feed {self.feed} does "
                "not answer latestRoundData; the OracleRouter's owner must point "
                f"{self.symbol} at a working feed (set_feed)"
            )
        assert self.decimals is not None
        answer = f"${format_exact(self.answer, self.decimals)}"
        if self.reason == errors.FEEDS_DEVIATE:
            return (
                f"{self.symbol}'s price is refused: its two feeds disagree past the allowed "
                f"deviation; its second feed {self.feed} answers {answer}: check both feeds, or "
                "the OracleRouter's owner removes or replaces the second feed"
            )
        if self.reason in (errors.PRICE_STALE, errors.SECOND_STALE) and self.age is not None:
            which, setter = ("feed", "set_feed")
            if self.reason == errors.SECOND_STALE:
                which, setter = ("second feed", "set_secondary_feed")
            return (
                f"{self.symbol}'s price is stale: its {which} {self.feed} last answered "
                f"{answer} {self.age:,} s ago, past its {self.heartbeat:,} s heartbeat: wait "
                f"for the feed's next round, or the OracleRouter's owner points {self.symbol} "
                f"at a live feed ({setter})"
            )
        age = f", {self.age:,} s ago" if self.age is not None else ""
        return (
            f"{self.symbol}'s price is refused ({self.reason}): its feed {self.feed} answers "
            f"{answer}{age} (heartbeat {self.heartbeat:,} s); see docs/margin.md's oracle "
            "checks for what the router requires"
        )


def price_problems(engine: Engine, block: int) -> list[PriceProblem]:
    """Every recorded asset with a feed whose price the router refuses at `block`."""
    router = engine.router
    now = int(router.chain_manager.blocks[block].timestamp)
    out = []
    for symbol, asset in engine.record.assets.items():
        if asset.feed is None:
            continue
        try:
            router.price(asset.token, block_id=block)
            continue
        except ContractLogicError as err:
            reason = oracle_reason(err) or str(err.message)
        config = router.price_config(asset.token, block_id=block)
        # The feed the reason is about: the second one for its own reasons.
        which = config.secondary if reason in SECOND_REASONS else config.primary
        feed = str(which.aggregator)
        if int(feed, 16) == 0:
            feed = asset.feed
        answer = decimals = updated = age = None
        try:
            # AggregatorV3's ABI (the mock's), at the feed the router reads.
            aggregator = router.chain_manager.contracts.instance_at(
                feed, contract_type=engine.feeds[symbol].contract_type
            )
            round_ = aggregator.latestRoundData(block_id=block)
            answer, updated = int(round_[1]), int(round_[3])
            decimals = int(aggregator.decimals(block_id=block))
            age = now - updated
        except (ApeException, KeyError, ValueError, TypeError):
            # No code there, a revert, an answer of another shape.
            answer = decimals = updated = age = None
        out.append(
            PriceProblem(
                symbol=symbol,
                token=asset.token,
                feed=feed,
                reason=reason,
                heartbeat=int(which.heartbeat),
                answer=answer,
                decimals=decimals,
                updated_at=updated,
                age=age,
            )
        )
    return out


# Reasons about an asset's second (cross-check) feed: described with it.
SECOND_REASONS = (
    errors.SECOND_NOT_POSITIVE,
    errors.SECOND_INCOMPLETE,
    errors.SECOND_FROM_FUTURE,
    errors.SECOND_STALE,
    errors.SECOND_CALL_FAILED,
    errors.SECOND_DECIMALS_CHANGED,
    errors.SECOND_PHASE_CHANGED,
    errors.FEEDS_DEVIATE,
)
# Every reason the OracleRouter reverts with, from the one catalogue.
ORACLE_REASONS = errors.in_area("oracle")


def oracle_reason(err: ContractLogicError) -> str | None:
    """The OracleRouter's full reason (`xm.oracle: price stale`) if `err` is
    one of them, else None (`errors.from_message`)."""
    return errors.from_message(str(err.message or ""), ORACLE_REASONS)
