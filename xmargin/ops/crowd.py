"""A crowd of traders for local chains: many accounts with varied leverage.

Used by the demo, the keeper's integration test and the keeper benchmark.
Each account is a sub-account of one of a few owners (an account is
`(owner, sub_id)`), so hundreds of accounts need no new keys or ether.
Account `i` is deterministic: it deposits some USDC and opens one position
in ETH-PERP or BTC-PERP, long or short, at 1.5x to 8x leverage.
The pool is the crowd's counterparty and caps its net exposure
(docs/pool.md): before trading, the first owner deposits into the
LiquidityPool what the crowd's largest net notional along the way needs
under the caps, plus a tenth (`backing`).
`open_crowd` sends its transactions through Ape, one at a time;
`open_crowd_fast` sends the same ones in JSON-RPC batches (`xmargin.ops.bulk_send`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xmargin.chain.engine import Engine, read_markets
from xmargin.maths.fixed_point import WAD
from xmargin.ops.bulk_send import Bulk, BulkStats, connect
from xmargin.ops.lp import provide

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI

# Leverage in tenths, cycled through: mostly moderate, a few aggressive.
LEVERAGE_TENTHS = (15, 20, 25, 30, 35, 40, 50, 60, 80)
FIRST_SUB = 100  # sub-account ids the crowd uses: 100, 101, ...


@dataclass(frozen=True)
class CrowdAccount:
    owner: str
    sub_id: int
    market: str
    # WAD base units, signed
    size: int
    # native quote units
    margin: int
    leverage_tenths: int


def plan_crowd(
    owners: list[str], count: int, prices: dict[str, int], quote_decimals: int
) -> list[CrowdAccount]:
    """The crowd's accounts, round-robin over `owners` (markets -> WAD price)."""
    out = []
    symbols = sorted(prices)
    for i in range(count):
        market = symbols[0] if i % 3 != 2 or len(symbols) == 1 else symbols[1]
        leverage = LEVERAGE_TENTHS[i * 7 % len(LEVERAGE_TENTHS)]
        margin_usd = 1_000 + i * 389 % 9_000
        notional = margin_usd * leverage * WAD // 10
        size = notional * WAD // prices[market]
        size -= size % 10**14  # 4 decimals
        if i % 4 == 3:
            size = -size
        out.append(
            CrowdAccount(
                owner=owners[i % len(owners)],
                sub_id=FIRST_SUB + i // len(owners),
                market=market,
                size=size,
                margin=margin_usd * 10**quote_decimals,
                leverage_tenths=leverage,
            )
        )
    return out


def backing(
    plan: Sequence[CrowdAccount],
    prices: dict[str, int],
    reserve: dict[str, int],
    total_reserve: int,
    quote_decimals: int,
) -> int:
    """Native quote units of pool value the plan's trades need, in their
    order, under the reserve caps (`reserve`: market -> WAD factor, 0 for an
    uncapped market; `total_reserve` 0 for none), plus a tenth: the
    largest max(long, short) * price each market reaches over its factor,
    and the largest sum over the total factor (docs/pool.md). Every crowd
    account opens one position, so each trade adds to its side. Fees only
    add to the value."""
    sides = {m: [0, 0] for m in prices}
    need = 0
    for a in plan:
        sides[a.market][a.size < 0] += abs(a.size)
        held = {m: max(ls) * prices[m] // WAD for m, ls in sides.items()}
        if reserve.get(a.market):
            need = max(need, held[a.market] * WAD // reserve[a.market])
        if total_reserve:
            need = max(need, sum(held.values()) * WAD // total_reserve)
    return -(-need * 11 // 10 // 10 ** (18 - quote_decimals))


def backing_needed(engine: Engine, plan: Sequence[CrowdAccount]) -> int:
    """What `backing` asks beyond the pool's value now (native quote units)."""
    ch = engine.clearinghouse
    if engine.pool is None:
        return 0
    head = ch.chain_manager.blocks.head.number
    prices = {m.symbol: m.price for m in read_markets(engine, head)}
    reserve = {s: int(ch.market_caps(i)[0]) for s, i in engine.record.markets.items()}
    decimals = engine.record.assets[engine.quote_symbol].decimals
    need = backing(plan, prices, reserve, int(ch.total_reserve_factor()), decimals)
    return max(need - int(ch.pool_value()), 0)


def plan_for(engine: Engine, owners: list[str], count: int) -> list[CrowdAccount]:
    """`plan_crowd` at the engine's current market prices and quote decimals."""
    head = engine.clearinghouse.chain_manager.blocks.head.number
    prices = {m.symbol: m.price for m in read_markets(engine, head)}
    decimals = engine.record.assets[engine.quote_symbol].decimals
    return plan_crowd(owners, count, prices, decimals)


def open_crowd(engine: Engine, owners: list[AccountAPI], count: int) -> list[CrowdAccount]:
    """Funds, deposits and trades the crowd on a local chain (mock quote token)."""
    ch = engine.clearinghouse
    quote = engine.tokens[engine.quote_symbol]
    by_address = {str(o.address): o for o in owners}
    plan = plan_for(engine, list(by_address), count)
    lp_amount = backing_needed(engine, plan)
    if lp_amount and engine.pool is not None:
        provide(engine, owners[0], lp_amount)
    for address, owner in by_address.items():
        total = sum(a.margin for a in plan if a.owner == address)
        quote.mint(owner, total, sender=owner)
        quote.approve(ch.address, total, sender=owner)
    for a in plan:
        owner = by_address[a.owner]
        ch.deposit(a.sub_id, quote.address, a.margin, sender=owner)
        limit = 2**255 if a.size > 0 else 0
        ch.trade(a.sub_id, engine.record.markets[a.market], a.size, limit, sender=owner)
    return plan


def crowd_transactions(
    bulk: Bulk,
    clearinghouse: str,
    quote: str,
    markets: dict[str, int],
    plan: list[CrowdAccount],
) -> list[dict[str, Any]]:
    """The crowd's transactions: each owner mints and approves its total
    margin, then each account deposits and trades (xmargin.ops.crowd.open_crowd's
    calls, in its order). The pool is backed beforehand (`provide`: an LP
    request waits for its delay, which a batch cannot)."""
    txs = []
    owners: dict[str, int] = {}
    for a in plan:
        owners[a.owner] = owners.get(a.owner, 0) + a.margin
    for owner, total in owners.items():
        txs.append(bulk.tx(owner, quote, "mint(address,uint256)", owner, total))
        txs.append(bulk.tx(owner, quote, "approve(address,uint256)", clearinghouse, total))
    for a in plan:
        txs.append(
            bulk.tx(
                a.owner,
                clearinghouse,
                "deposit(uint256,address,uint256)",
                a.sub_id,
                quote,
                a.margin,
            )
        )
        limit = 2**255 if a.size > 0 else 0
        txs.append(
            bulk.tx(
                a.owner,
                clearinghouse,
                "trade(uint256,uint256,int256,uint256)",
                a.sub_id,
                markets[a.market],
                a.size,
                limit,
            )
        )
    return txs


def open_crowd_fast(
    engine: Engine, owners: Sequence[AccountAPI], count: int, url: str
) -> BulkStats:
    """`xmargin.ops.crowd.open_crowd` through `Bulk`: the same accounts and calls,
    mined a chunk per block on the anvil at `url` (owners are its dev
    accounts); the first owner backs the pool first (`provide`)."""
    ch = engine.clearinghouse
    quote = engine.quote_symbol
    plan = plan_for(engine, [str(o.address) for o in owners], count)
    lp_amount = backing_needed(engine, plan)
    if lp_amount and engine.pool is not None:
        provide(engine, owners[0], lp_amount)
    bulk = Bulk(connect(url))
    txs = crowd_transactions(
        bulk, ch.address, engine.tokens[quote].address, dict(engine.record.markets), plan
    )
    return bulk.run(txs)
