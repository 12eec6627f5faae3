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
`open_crowd_fast` sends the same ones in JSON-RPC batches (`xmargin.chain.bulk`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xmargin.chain.bulk import Bulk, BulkStats, Rpc
from xmargin.chain.engine import Engine, read_markets
from xmargin.maths.fixed_point import WAD

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
        lp = owners[0]
        quote.mint(lp, lp_amount, sender=lp)
        quote.approve(engine.pool.address, lp_amount, sender=lp)
        engine.pool.deposit(lp_amount, lp, sender=lp)
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
    pool: str | None = None,
    lp_amount: int = 0,
) -> list[dict[str, Any]]:
    """The crowd's transactions: the first owner backs the pool with
    `lp_amount` (if any), each owner mints and approves its total margin,
    then each account deposits and trades (xmargin.ops.crowd.open_crowd's
    calls, in its order)."""
    txs = []
    if pool is not None and lp_amount:
        lp = plan[0].owner
        txs.append(bulk.tx(lp, quote, "mint(address,uint256)", lp, lp_amount))
        txs.append(bulk.tx(lp, quote, "approve(address,uint256)", pool, lp_amount))
        txs.append(bulk.tx(lp, pool, "deposit(uint256,address)", lp_amount, lp))
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


def open_crowd_fast(engine: Engine, owners: Sequence[str], count: int, url: str) -> BulkStats:
    """`xmargin.ops.crowd.open_crowd` through `Bulk`: the same accounts and calls,
    mined a chunk per block on the anvil at `url` (owners are its dev accounts)."""
    ch = engine.clearinghouse
    quote = engine.quote_symbol
    plan = plan_for(engine, list(owners), count)
    bulk = Bulk(Rpc(url))
    pool = engine.pool.address if engine.pool is not None else None
    txs = crowd_transactions(
        bulk,
        ch.address,
        engine.tokens[quote].address,
        dict(engine.record.markets),
        plan,
        pool,
        backing_needed(engine, plan),
    )
    return bulk.run(txs)
