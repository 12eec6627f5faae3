"""The engine's end-of-day numbers, read from chain: pool, insurance, bad debt, liquidations.

`read_summary` reads the views (pool state, each capped market's
`adl_state`, insurance fund, bad-debt totals) at one block and the
Clearinghouse's `Liquidation`, `CollateralLiquidation`, `BadDebt` and
`AutoDeleverage` logs up to that block, into plain
data (`EngineSummary`) that `xmargin.ui.report` prints as tables and
`xmargin.ui.charts` draws. Money stays in exact integers: native quote units
for what the events and ledgers book, WAD USD for the pool state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ape.exceptions import ContractLogicError

from xmargin.chain.engine import Engine, read_adl_state, read_markets
from xmargin.chain.oracle import oracle_reason
from xmargin.maths.pool import AdlState, PoolState, market_terms

if TYPE_CHECKING:
    from ape.contracts.base import ContractEvent
    from ape.types.events import ContractLog

# Blocks per log query: the progress callback advances once per chunk.
LOG_CHUNK = 5_000
# The Clearinghouse's events the summary reads (the report forecasts them).
EVENTS = ("Liquidation", "CollateralLiquidation", "BadDebt", "AutoDeleverage")

# (blocks done, blocks in total) after each chunk of the log scan.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LiquidationEvent:
    """A `Liquidation` log: one position (partly) closed by a liquidator."""

    block: int
    owner: str
    sub_id: int
    market: str
    liquidator: str
    # WAD base units closed (absolute) and what is left (signed)
    closed: int
    new_size: int
    # WAD USD
    price: int
    # native quote units
    penalty: int
    keeper_reward: int
    insurance_share: int


@dataclass(frozen=True)
class CollateralLiquidationEvent:
    """A `CollateralLiquidation` log: a liquidator repaid debt for collateral."""

    block: int
    owner: str
    sub_id: int
    asset: str
    liquidator: str
    # native quote units repaid, native collateral units received
    repaid: int
    collateral_out: int
    price: int


@dataclass(frozen=True)
class BadDebtEvent:
    """A `BadDebt` log: a deficit written off (native quote units)."""

    block: int
    owner: str
    sub_id: int
    deficit: int
    from_insurance: int
    from_pool: int


@dataclass(frozen=True)
class AdlEvent:
    """An `AutoDeleverage` log: part of a winner closed to bring its
    market's profit back to the ADL target."""

    block: int
    owner: str
    sub_id: int
    market: str
    caller: str
    # WAD base units closed (absolute) and what is left (signed)
    closed: int
    new_size: int
    # WAD USD
    price: int
    # native quote units paid to the account
    quote_delta: int


@dataclass(frozen=True)
class MarketCaps:
    """One capped market against the pool's value (WAD USD; factors WAD)."""

    market: str
    reserve_factor: int
    max_pnl_factor: int
    adl_target_factor: int
    # max(long, short) * price: what the reserve counts
    side_notional: int
    # traders' net profit against max_pnl_factor / adl_target_factor * value
    adl: AdlState


@dataclass(frozen=True)
class EngineSummary:
    """Pool, insurance fund, bad debt and liquidations at one block."""

    network: str
    block: int
    quote: str
    quote_decimals: int
    # asset symbol -> decimals
    decimals: dict[str, int]
    pool: PoolState | None
    # native quote units (the LiquidityPool's ERC-4626 figures)
    pool_total_assets: int
    pool_supply: int
    insurance_fund: int
    bad_debt_total: int
    bad_debt_insurance: int
    bad_debt_pool: int
    liquidations: tuple[LiquidationEvent, ...] = ()
    collateral_liquidations: tuple[CollateralLiquidationEvent, ...] = ()
    bad_debts: tuple[BadDebtEvent, ...] = ()
    # capped markets (empty without a pool), and ADL closes since from_block
    caps: tuple[MarketCaps, ...] = ()
    adls: tuple[AdlEvent, ...] = ()
    # Why the pool could not be valued (an oracle reason: its value needs
    # every market's price), or None. The ledgers above need no price.
    pool_unpriced: str | None = None

    @property
    def penalties(self) -> int:
        """Liquidation penalties charged, native quote units."""
        return sum(e.penalty for e in self.liquidations)

    @property
    def keeper_rewards(self) -> int:
        """The liquidators' share of the penalties."""
        return sum(e.keeper_reward for e in self.liquidations)

    @property
    def insurance_shares(self) -> int:
        """The insurance fund's share of the penalties."""
        return sum(e.insurance_share for e in self.liquidations)


def read_summary(
    engine: Engine,
    network: str,
    block: int | None = None,
    from_block: int = 0,
    progress: Progress | None = None,
) -> EngineSummary:
    """The engine's summary at `block` (default: the head), with every event
    in [from_block, block]."""
    ch = engine.clearinghouse
    if block is None:
        block = ch.chain_manager.blocks.head.number
    at = {"block_id": block}
    decimals = {s: a.decimals for s, a in engine.record.assets.items()}
    pool = engine.pool
    liquidations, collateral, bad_debts, adls = _events(engine, from_block, block, progress)
    for e in collateral:
        if e.asset not in decimals:
            # Listed on chain but not in the deployment record: named by its
            # address, with the decimals the Clearinghouse listed it with.
            decimals[e.asset] = ch.asset_config(e.asset, **at).decimals
    pool_state, total_assets, unpriced = None, 0, None
    if pool is not None:
        try:
            pool_state = PoolState(*ch.pool_state(**at))
            total_assets = pool.totalAssets(**at)
        except ContractLogicError as err:
            unpriced = oracle_reason(err)
            if unpriced is None:
                raise
    return EngineSummary(
        network=network,
        block=block,
        quote=engine.quote_symbol,
        quote_decimals=decimals[engine.quote_symbol],
        decimals=decimals,
        pool=pool_state,
        pool_total_assets=total_assets,
        pool_supply=pool.totalSupply(**at) if pool is not None else 0,
        pool_unpriced=unpriced,
        insurance_fund=ch.insurance_fund(**at),
        bad_debt_total=ch.bad_debt_total(**at),
        bad_debt_insurance=ch.bad_debt_insurance(**at),
        bad_debt_pool=ch.bad_debt_pool(**at),
        liquidations=tuple(liquidations),
        collateral_liquidations=tuple(collateral),
        bad_debts=tuple(bad_debts),
        caps=_caps(engine, block) if pool is not None else (),
        adls=tuple(adls),
    )


def _caps(engine: Engine, block: int) -> tuple[MarketCaps, ...]:
    """Every capped market with a valid price at `block`: its factors, the
    larger side's notional (from its aggregates) and `adl_state`."""
    ch = engine.clearinghouse
    out = []
    for m in read_markets(engine, block):
        reserve, pnl, target = (int(f) for f in ch.market_caps(m.market_id, block_id=block))
        if reserve == 0:
            continue
        a = read_adl_state(engine, m.market_id, block)
        if a is None:
            continue  # another market's price is invalid: the pool has no value now
        terms = market_terms(m.state, m.params, m.price, m.index)
        out.append(
            MarketCaps(
                market=m.symbol,
                reserve_factor=reserve,
                max_pnl_factor=pnl,
                adl_target_factor=target,
                side_notional=terms.side_notional,
                adl=a,
            )
        )
    return tuple(out)


def _events(
    engine: Engine, start: int, stop: int, progress: Progress | None
) -> tuple[
    list[LiquidationEvent], list[CollateralLiquidationEvent], list[BadDebtEvent], list[AdlEvent]
]:
    """Every liquidation-related log of the Clearinghouse in [start, stop], in chunks."""
    ch = engine.clearinghouse
    markets = {i: s for s, i in engine.record.markets.items()}
    assets = {a.token: s for s, a in engine.record.assets.items()}

    def account(log: ContractLog) -> dict[str, Any]:
        a = log.event_arguments
        return {"block": log.block_number, "owner": str(a["owner"]), "sub_id": int(a["sub_id"])}

    def liquidation(log: ContractLog) -> LiquidationEvent:
        a = log.event_arguments
        return LiquidationEvent(
            **account(log),
            market=markets.get(int(a["market_id"]), f"market {a['market_id']}"),
            liquidator=str(a["liquidator"]),
            closed=abs(int(a["size_delta"])),
            new_size=int(a["new_size"]),
            price=int(a["price"]),
            penalty=int(a["penalty"]),
            keeper_reward=int(a["keeper_reward"]),
            insurance_share=int(a["insurance_share"]),
        )

    def collateral_sale(log: ContractLog) -> CollateralLiquidationEvent:
        a = log.event_arguments
        return CollateralLiquidationEvent(
            **account(log),
            asset=assets.get(str(a["asset"]), str(a["asset"])),
            liquidator=str(a["liquidator"]),
            repaid=int(a["repaid"]),
            collateral_out=int(a["collateral_out"]),
            price=int(a["price"]),
        )

    def bad_debt(log: ContractLog) -> BadDebtEvent:
        a = log.event_arguments
        return BadDebtEvent(
            **account(log),
            deficit=int(a["deficit"]),
            from_insurance=int(a["from_insurance"]),
            from_pool=int(a["from_pool"]),
        )

    def adl(log: ContractLog) -> AdlEvent:
        a = log.event_arguments
        return AdlEvent(
            **account(log),
            market=markets.get(int(a["market_id"]), f"market {a['market_id']}"),
            caller=str(a["caller"]),
            closed=abs(int(a["size_delta"])),
            new_size=int(a["new_size"]),
            price=int(a["price"]),
            quote_delta=int(a["quote_delta"]),
        )

    liquidations: list[LiquidationEvent] = []
    collateral: list[CollateralLiquidationEvent] = []
    bad_debts: list[BadDebtEvent] = []
    adls: list[AdlEvent] = []
    kinds: tuple[tuple[ContractEvent, list[Any], Callable[[ContractLog], object]], ...] = (
        (ch.Liquidation, liquidations, liquidation),
        (ch.CollateralLiquidation, collateral, collateral_sale),
        (ch.BadDebt, bad_debts, bad_debt),
        (ch.AutoDeleverage, adls, adl),
    )
    total = stop - start + 1
    for lo in range(start, stop + 1, LOG_CHUNK):
        hi = min(lo + LOG_CHUNK, stop + 1)  # exclusive, > 0: `range` reads 0 as the head
        for event, out, make in kinds:
            out.extend(make(log) for log in event.range(lo, hi))
        if progress is not None:
            progress(hi - start, total)
    return liquidations, collateral, bad_debts, adls
