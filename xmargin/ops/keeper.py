"""The keeper: settle due orders, liquidate every liquidatable account, ADL.

One pass (`Keeper.run_once`):
0. reconcile every non-quote asset whose tokens held fell short of its
   ledgers (`reconcile` freezes it), and move every frozen asset's
   haircuts along their ramp (`ramp_frozen_haircut`) once they have
   risen by `ramp_step` or reached 100 %; settle every delayed order
   that is due (docs/orders.md): learned from the order events
   (`xmargin.chain.orders.OrderBook`), settled once its delay has
   passed and its market's feed has published a price after it,
   earning the order's settlement fee (an order whose fill passes its
   limit, or whose trade fails its checks, is removed by the engine:
   the keeper still earns the fee); expired orders are left to their
   owners; then every LP request that is due (the LiquidityPool's
   ERC-7540 deposits and redemptions,
   `xmargin.chain.lp_requests.RequestBook`): its delay has passed and
   every feed of the pool's value has published since; the pool's own
   refusals (no free cash, paused) are logged and retried on the next
   pass;
1. learn new accounts from `AccountRegistered` events (backfilled from
   `from_block` the first time, then only new blocks), falling back to the
   on-chain registry (`account_at`) for any index the logs did not give;
2. read every account's equity and maintenance margin in pages of 50 with
   the lens's `account_healths` view: one call per 50 accounts,
   all pinned to one block;
3. for each account with equity < MM: read its positions, let
   `xmargin.maths.liquidation` (the mirror of the contract) compute the size the
   engine will close and the reward, compare the reward with the gas the
   transaction costs (priced through the oracle), and send `liquidate` for
   the position with the largest maintenance margin, again until the
   account is healthy; an account left with only collateral and quote
   debt gets `liquidate_collateral` if the keeper holds quote tokens (the
   collateral is credited to the keeper's sub-account 0 in the engine; the
   keeper then withdraws it, and a token that refuses is logged and left
   there); an account whose debt nothing backs (no collateral, or only
   collateral at a 100 % haircut, whose price is then never read) gets
   `settle_bad_debt`;
   while the engine is paused, or within its grace period after an unpause,
   nothing is sent (one `liquidations_closed` line);
4. then, at the head the liquidations left (closing a loser raises
   traders' net profit), in every capped market whose traders' net profit
   is past its cap (a price move no trade could prevent, `adl_state`),
   auto-deleverage the
   winners on the skew's side in Hyperliquid's order (profit ratio times
   leverage, `xmargin.maths.pool.adl_rank`) until the market is back under
   its cap (the engine closes each down to the target) or its skew is gone;
5. a transaction that reverts because another keeper got there first (the
   account is healthy again, the position is gone) is logged as a lost race
   and the pass goes on; any other revert is logged with its reason and
   the pass goes on. An account whose health cannot be read (a price it
   needs is invalid: a page of the lens then reverts as a whole, and is
   read account by account instead) is logged as `account_unreadable`, one
   whose handling fails on a read mid-pass as `account_failed`, and the
   pass goes on with the others (issue 19).

Every action is one structured log line (a dict; `json_logger` prints it as
JSON). `follow` repeats passes as new blocks arrive; a pass that fails on
the node (connection, timeout) is logged and retried with a doubling
backoff.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from ape.exceptions import ContractLogicError, ProviderError

from xmargin.chain.assets import engine_balance, read_asset_states
from xmargin.chain.engine import (
    Engine,
    MarketView,
    read_adl_state,
    read_markets,
    stdout_silenced,
)
from xmargin.chain.lp_requests import RequestBook, read_request
from xmargin.chain.orders import OrderBook, PendingOrder, published_at, read_order
from xmargin.chain.scan import PAGE, HealthRow, Margins, health_pages
from xmargin.maths import errors, perps
from xmargin.maths import liquidation as liq
from xmargin.maths import lp_requests as lr
from xmargin.maths import orders as om
from xmargin.maths import pool as pool_model
from xmargin.maths.fixed_point import WAD, ceil_div, precision

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.transactions import ReceiptAPI
    from ape.contracts.base import ContractEvent, ContractTransactionHandler

# Races: the account was healed or liquidated by someone else since the read.
# What a pass may meet on the node rather than in the engine: a dropped
# connection or a timeout (requests' errors are OSErrors). `follow` backs
# off and retries them; anything else is a bug or a configuration error.
TRANSIENT = (ProviderError, OSError)

LOST_RACE = (
    errors.NOT_LIQUIDATABLE,
    errors.NO_POSITION,
    errors.NO_DEBT,
    errors.HOLDS_NONE,
    errors.ADL_NOT_NEEDED,
    errors.ADL_NOT_IN_PROFIT,
    errors.ADL_WRONG_SIDE,
    # another liquidation used the market's window first
    errors.LIQ_CAPACITY,
    # another settler got the order first
    errors.NO_ORDER,
    # another settler got the LP request first, or its controller cancelled
    errors.NO_REQUEST,
)
# Gas a liquidation needs, for the profit check before sending (measured on
# anvil: ~150-330k for 1-5 positions; the estimate is the upper end).
LIQUIDATE_GAS = 400_000
COLLATERAL_GAS = 250_000

Log = Callable[[dict[str, Any]], None]


def json_logger(stream: TextIO | None = None) -> Log:
    """A logger printing one JSON object per line (stdout by default)."""

    def log(entry: dict[str, Any]) -> None:
        out = stream or sys.stdout
        out.write(json.dumps(entry, default=str) + "\n")
        out.flush()

    return log


@dataclass
class KeeperConfig:
    # Oracle asset whose price converts gas (in the chain's native coin) to USD.
    gas_asset: str | None = "WETH"
    # Extra USD (WAD) a liquidation must earn beyond its gas.
    min_profit: int = 0
    # Most liquidations sent for one account in one pass.
    max_rounds: int = 16
    # Scan pages of this many accounts (<= 50, the contract's page).
    page: int = PAGE
    # Settle due delayed orders at the start of each pass.
    orders: bool = True
    # Settle due LP requests (deposits and redemptions) after the orders.
    lp_requests: bool = True
    # Move a frozen asset's haircuts once their schedule is this far (WAD)
    # above what the engine has, or at 100 %.
    ramp_step: int = 10**15


@dataclass
class PassStats:
    block: int = 0
    accounts: int = 0
    # batch view calls the scan made
    pages: int = 0
    liquidatable: int = 0
    liquidations: int = 0
    collateral_liquidations: int = 0
    bad_debts_settled: int = 0
    # frozen assets whose haircuts were moved along their ramp, and assets
    # frozen for a shortfall of tokens against their ledgers
    haircuts_ramped: int = 0
    shortfalls: int = 0
    # seized collateral the keeper could not withdraw (its token refused)
    withdrawals_failed: int = 0
    lost_races: int = 0
    reverted: int = 0
    skipped_unprofitable: int = 0
    # accounts left for the next window: their markets' capacity was used
    capacity_waits: int = 0
    # positions auto-deleveraged
    adl: int = 0
    # delayed orders settled (filled or refused at their acceptable price)
    orders_filled: int = 0
    orders_refused: int = 0
    # LP requests settled
    lp_deposits: int = 0
    lp_redemptions: int = 0
    # accounts whose health could not be read (a price they need is
    # invalid), and accounts whose handling failed on a read mid-pass
    unreadable: int = 0
    failed: int = 0
    rewards: int = 0  # native quote units earned
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """One liquidation the keeper intends: the model's size and reward."""

    market_id: int
    symbol: str
    # what the model says the engine will close, and the position's size:
    # the keeper sends the latter as max_size, so funding that moves the
    # engine's answer between the read and the transaction cannot turn the
    # plan into a refused piece
    size: int
    position_size: int
    reward: int


@dataclass
class Keeper:
    engine: Engine
    sender: AccountAPI
    config: KeeperConfig = field(default_factory=KeeperConfig)
    log: Log = field(default_factory=json_logger)
    from_block: int = 0
    # registry index -> (owner, sub_id)
    accounts: dict[int, tuple[str, int]] = field(default_factory=dict)
    _next_block: int | None = None
    _book: OrderBook | None = None
    _requests: RequestBook | None = None
    _request_delay: int | None = None
    # (owner, sub_id) -> the price time its order's trade last failed on
    _failed_on: dict[tuple[str, int], int] = field(default_factory=dict)

    # ------------------------------------------------------------ discovery

    def discover(self) -> int:
        """Learns accounts registered since the last call; returns how many are known."""
        ch = self.engine.clearinghouse
        head = ch.chain_manager.blocks.head.number
        start = self.from_block if self._next_block is None else self._next_block
        if start <= head:
            for entry in ch.AccountRegistered.range(start, head + 1):
                args = entry.event_arguments
                self.accounts[int(args["index"])] = (str(args["owner"]), int(args["sub_id"]))
        self._next_block = head + 1
        total = ch.num_accounts(block_id=head)
        missing = [i for i in range(total) if i not in self.accounts]
        for i in missing:
            a = ch.account_at(i, block_id=head)
            self.accounts[i] = (str(a.owner), int(a.sub_id))
        if missing:
            self.log({"event": "registry_fallback", "indexes": len(missing)})
        return total

    # ------------------------------------------------------------ reading

    def scan(self, block: int, stats: PassStats | None = None) -> list[HealthRow]:
        """Health rows of every known account at `block`, in pages. An
        account whose health cannot be read (a price it needs is invalid)
        is logged and left out; the others are read all the same."""

        def unreadable(index: int, owner: str, sub_id: int, reason: str, asset: str) -> None:
            if stats is not None:
                stats.unreadable += 1
            self.log(
                {
                    "event": "account_unreadable",
                    "index": index,
                    "owner": owner,
                    "sub_id": sub_id,
                    "reason": reason,
                    "asset": self._symbol_of(asset),
                }
            )

        pages = health_pages(
            self.engine, len(self.accounts), self.config.page, block, on_unreadable=unreadable
        )
        return [row for rows in pages for row in rows]

    # ------------------------------------------------------------ acting

    def run_once(self) -> PassStats:
        started = time.monotonic()
        stats = PassStats()
        self.watch_assets(stats)
        if self.config.orders:
            self.settle_orders(stats)
        if self.config.lp_requests:
            self.settle_lp_requests(stats)
        self.discover()
        ch = self.engine.clearinghouse
        block = ch.chain_manager.blocks.head.number
        stats.block = block
        rows = self.scan(block, stats)
        stats.accounts = len(rows)
        stats.pages = -(-len(rows) // self.config.page)
        unhealthy = [r for r in rows if r.equity < r.mm]
        stats.liquidatable = len(unhealthy)
        self.log(
            {
                "event": "scan",
                "block": block,
                "accounts": len(rows),
                "liquidatable": len(unhealthy),
                "pages": stats.pages,
            }
        )
        open_: bool | None = None
        if unhealthy:
            open_ = self._liquidations_open(block)
            if open_:
                lp = liq.LiquidationParams(*ch.liquidation_params())
                markets = read_markets(self.engine, block)
                for row in unhealthy:
                    owner, sub_id = str(row.owner), int(row.sub_id)
                    try:
                        self._heal(owner, sub_id, lp, markets, stats)
                    except ContractLogicError as err:
                        # A read for this account failed (a price turned
                        # invalid since the scan): the others go on.
                        stats.failed += 1
                        self.log(
                            {
                                "event": "account_failed",
                                "owner": owner,
                                "sub_id": sub_id,
                                "reason": err.message,
                            }
                        )
        # ADL after the liquidations, at the head they left: closing a
        # loser realises its loss, which raises traders' net profit and can
        # take a market past its cap.
        head = ch.chain_manager.blocks.head.number
        over_cap = self._over_profit_cap(head)
        if over_cap and (open_ if open_ is not None else self._liquidations_open(head)):
            markets = read_markets(self.engine, head)
            for market_id in over_cap:
                self._deleverage(market_id, rows, markets, head, stats)
        stats.seconds = time.monotonic() - started
        self.log({"event": "pass", **stats.__dict__})
        return stats

    def follow(
        self, poll_seconds: float = 1.0, max_blocks: int | None = None, max_backoff: float = 60.0
    ) -> None:
        """Runs a pass on every new block (at most `max_blocks` of them).
        A pass that fails on the node (a dropped connection, a timeout) is
        logged and retried after a backoff that doubles up to `max_backoff`
        seconds; a revert never reaches here (each is logged where it
        happens)."""
        ch = self.engine.clearinghouse
        seen = -1
        blocks = 0
        backoff = poll_seconds
        while max_blocks is None or blocks < max_blocks:
            try:
                head = ch.chain_manager.blocks.head.number
                if head == seen:
                    time.sleep(poll_seconds)
                    continue
                self.run_once()
            except TRANSIENT as err:
                self.log({"event": "node_error", "error": repr(err), "retry_in": backoff})
                time.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            seen = head
            blocks += 1
            backoff = poll_seconds

    # ------------------------------------------------------------ orders

    def settle_orders(self, stats: PassStats) -> None:
        """Settles every pending order that is due at the head."""
        ch = self.engine.clearinghouse
        if self._book is None:
            self._book = OrderBook(ch, self.from_block)
        head = ch.chain_manager.blocks.head
        pending = self._book.update(head.number)
        now = head.timestamp
        published: dict[int, int | None] = {}
        for key, order in list(pending.items()):
            if not order.settle_after <= now <= order.expires:
                continue
            if order.market_id not in published:
                asset = ch.market_params(order.market_id, block_id=head.number).asset
                published[order.market_id] = published_at(self.engine.router, asset, head.number)
            at = published[order.market_id]
            if at is None or at < order.settle_after or self._failed_on.get(key) == at:
                continue
            self._settle(order, at, head.number, now, stats)

    def _settle(self, order: PendingOrder, at: int, block: int, now: int, stats: PassStats) -> None:
        ch = self.engine.clearinghouse
        key = (order.owner, order.sub_id)
        on_chain = read_order(ch, order.owner, order.sub_id, block)
        why = om.settle_reason(on_chain, now, at)
        if why is not None:
            # Settled or replaced since the events were read: the next
            # pass sees it.
            self.log({"event": "order_not_due", "owner": order.owner, "reason": why})
            return
        reverted = stats.reverted
        sent = self._send_for(
            ch.OrderSettled, ch.settle_order, order.owner, order.sub_id, stats=stats
        )
        if sent is None:
            if stats.reverted > reverted:
                # Not settleable on this price (out of gas, a changed
                # price): retry on a newer one.
                self._failed_on[key] = at
            return
        outcome, ev = sent
        self._failed_on.pop(key, None)
        if ev.filled:
            stats.orders_filled += 1
        else:
            stats.orders_refused += 1
        stats.rewards += ev.fee
        self.log(
            {
                "event": "order_settled" if ev.filled else "order_refused",
                "trade_refused": ev.trade_refused,
                "owner": order.owner,
                "sub_id": order.sub_id,
                "market_id": order.market_id,
                "size_delta": order.size_delta,
                "oracle_price": ev.oracle_price,
                "fill_price": ev.fill_price,
                "fee": ev.fee,
                "gas": outcome.gas_used,
                "tx": outcome.txn_hash,
            }
        )

    # ------------------------------------------------------------ LP requests

    def settle_lp_requests(self, stats: PassStats) -> None:
        """Settles every LP request that is due at the head: its delay
        passed and every feed of the pool's value published since."""
        vault = self.engine.pool
        if vault is None:
            return
        if self._requests is None:
            self._requests = RequestBook(vault, self.from_block)
        head = vault.chain_manager.blocks.head
        pending = self._requests.update(head.number)
        if not pending:
            return
        if self._request_delay is None:
            self._request_delay = int(vault.REQUEST_DELAY())  # immutable
        delay = self._request_delay
        try:
            prices_since = int(self.engine.clearinghouse.pool_prices_since(block_id=head.number))
        except ContractLogicError as err:
            # A market with open interest has an invalid price: every
            # request waits (the pool cannot be valued).
            self.log({"event": "lp_requests_wait", "reason": err.message})
            return
        for controller, is_deposit in sorted(pending):
            r = read_request(vault, controller, is_deposit, head.number)
            if lr.settle_reason(r, delay, head.timestamp, prices_since) is not None:
                continue
            method = vault.settle_deposit if is_deposit else vault.settle_redeem
            outcome = self._send(method, controller, stats=stats)
            if outcome is None:
                continue
            kind = "deposit" if is_deposit else "redeem"
            settled = outcome.events.filter(
                vault.DepositSettled if is_deposit else vault.RedeemSettled
            )
            entry: dict[str, Any] = {"controller": controller, "gas": outcome.gas_used}
            if settled:
                (ev,) = settled
                if is_deposit:
                    stats.lp_deposits += 1
                else:
                    stats.lp_redemptions += 1
                entry |= {"event": f"lp_{kind}_settled", "assets": ev.assets, "shares": ev.shares}
            else:
                # A dust request that buys nothing is returned to its controller.
                entry |= {"event": f"lp_{kind}_returned"}
            self.log(entry | {"tx": outcome.txn_hash})

    # ------------------------------------------------------------ internals

    def _liquidations_open(self, block: int) -> bool:
        """False (and logged) while the engine is paused or in the grace
        period after an unpause: every liquidation would revert."""
        ch = self.engine.clearinghouse
        paused = bool(ch.paused(block_id=block))
        resume_at = int(ch.liquidations_resume_at(block_id=block))
        now = ch.chain_manager.blocks[block].timestamp
        if not paused and now >= resume_at:
            return True
        self.log({"event": "liquidations_closed", "paused": paused, "resume_at": resume_at})
        return False

    def _over_profit_cap(self, block: int) -> list[int]:
        """Capped markets whose traders' net profit is past `max_pnl_factor`
        of the pool's value at `block` (a market whose pool read reverts,
        an invalid price, is left for the next pass)."""
        ch = self.engine.clearinghouse
        out = []
        for market_id in self.engine.record.markets.values():
            if ch.market_caps(market_id, block_id=block)[2] == 0:
                continue  # uncapped: no ADL
            a = read_adl_state(self.engine, market_id, block)
            if a is not None and a.needed:
                self.log(
                    {
                        "event": "adl_needed",
                        "market_id": market_id,
                        "profit": a.profit,
                        "limit": a.limit,
                        "target": a.target,
                    }
                )
                out.append(market_id)
        return out

    def _deleverage(
        self,
        market_id: int,
        rows: list[HealthRow],
        markets: list[MarketView],
        block: int,
        stats: PassStats,
    ) -> None:
        """ADLs `market_id`'s winners on the skew's side, highest rank
        first, each by as much as the engine wants (the whole position as
        `max_size`), until the market is back under its cap, its skew is
        gone, or no winner is left."""
        ch = self.engine.clearinghouse
        view = next((m for m in markets if m.market_id == market_id), None)
        if view is None:
            return
        ranked = []
        for row in rows:
            owner, sub_id = str(row.owner), int(row.sub_id)
            pos = perps.Position(*ch.position(owner, sub_id, market_id, block_id=block))
            rank = pool_model.adl_rank(
                pos, view.price, view.index, int(row.equity), view.state.skew
            )
            if rank > 0:
                ranked.append((rank, owner, sub_id, abs(pos.size)))
        ranked.sort(key=lambda r: r[0], reverse=True)
        for rank, owner, sub_id, size in ranked:
            if not self._adl_one(market_id, view.symbol, owner, sub_id, rank, size, stats):
                continue
            head = ch.chain_manager.blocks.head.number
            a = read_adl_state(self.engine, market_id, head)
            if a is None or not a.needed or ch.market_state(market_id, block_id=head).skew == 0:
                return

    def _adl_one(
        self,
        market_id: int,
        symbol: str,
        owner: str,
        sub_id: int,
        rank: int,
        size: int,
        stats: PassStats,
    ) -> bool:
        """One ADL of (at most) `size`, logged; True if it went through."""
        ch = self.engine.clearinghouse
        sent = self._send_for(
            ch.AutoDeleverage, ch.adl, owner, sub_id, market_id, size, stats=stats
        )
        if sent is None:
            return False
        outcome, ev = sent
        stats.adl += 1
        self.log(
            {
                "event": "adl",
                "owner": owner,
                "sub_id": sub_id,
                "market": symbol,
                "rank": rank,
                "closed": abs(ev.size_delta),
                "max_size": size,
                "new_size": ev.new_size,
                "price": ev.price,
                "premium": ev.premium,
                "fee": ev.fee,
                "quote_delta": ev.quote_delta,
                "profit_before": ev.profit_before,
                "gas": outcome.gas_used,
                "tx": outcome.txn_hash,
            }
        )
        return True

    def _gas_cost_quote(self, gas: int) -> int:
        """Native quote units the gas of a transaction costs, rounded up."""
        asset = self.config.gas_asset
        if asset is None or asset not in self.engine.tokens:
            return 0
        ch = self.engine.clearinghouse
        gas_price = ch.provider.gas_price
        coin_usd = self.engine.router.price(self.engine.tokens[asset].address)
        usd_wad = ceil_div(gas * gas_price * coin_usd, WAD) + self.config.min_profit
        return ceil_div(usd_wad, self._quote_precision)

    def _precision(self, symbol: str) -> int:
        """10**(18 - decimals): native units of `symbol` to WAD (from the record, no call)."""
        return precision(self.engine.record.assets[symbol].decimals)

    @property
    def _quote_precision(self) -> int:
        return self._precision(self.engine.quote_symbol)

    def _heal(
        self,
        owner: str,
        sub_id: int,
        lp: liq.LiquidationParams,
        markets: list[MarketView],
        stats: PassStats,
    ) -> None:
        ch = self.engine.clearinghouse
        for _ in range(self.config.max_rounds):
            h = ch.account_health(owner, sub_id)
            if h.equity >= h.mm:
                return
            mask = ch.position_mask(owner, sub_id)
            if mask == 0:
                # One asset per call: go round again while it makes progress.
                if not self._liquidate_collateral(owner, sub_id, lp, h, stats):
                    return
                continue
            plan = self._plan(owner, sub_id, h, mask, lp, markets)
            if plan is None:
                stats.capacity_waits += 1
                self.log({"event": "capacity_wait", "owner": owner, "sub_id": sub_id})
                return
            cost = self._gas_cost_quote(LIQUIDATE_GAS)
            if plan.reward < cost:
                stats.skipped_unprofitable += 1
                self.log(
                    {
                        "event": "skip_unprofitable",
                        "owner": owner,
                        "sub_id": sub_id,
                        "market": plan.symbol,
                        "reward": plan.reward,
                        "gas_cost": cost,
                    }
                )
                return
            sent = self._send_for(
                ch.Liquidation,
                ch.liquidate,
                owner,
                sub_id,
                plan.market_id,
                plan.position_size,
                cost,
                stats=stats,
            )
            if sent is None:
                return
            outcome, ev = sent
            stats.liquidations += 1
            stats.rewards += ev.keeper_reward
            self.log(
                {
                    "event": "liquidated",
                    "owner": owner,
                    "sub_id": sub_id,
                    "market": plan.symbol,
                    "closed": abs(ev.size_delta),
                    "predicted": plan.size,
                    "max_size": plan.position_size,
                    "price": ev.price,
                    "penalty": ev.penalty,
                    "reward": ev.keeper_reward,
                    "predicted_reward": plan.reward,
                    "insurance": ev.insurance_share,
                    "gas": outcome.gas_used,
                    "tx": outcome.txn_hash,
                }
            )

    def _plan(
        self,
        owner: str,
        sub_id: int,
        h: Margins,
        mask: int,
        lp: liq.LiquidationParams,
        markets: list[MarketView],
    ) -> Plan | None:
        """The position to liquidate, and what liquidating it yields: for a
        linear account the position with the largest MM; for a portfolio
        account the one the engine takes first (the position losing most
        in the worst scenario), closed whole. Each close stops at what its
        market's liquidation window has left; None when every candidate's
        window is used up (the account waits for the next window)."""
        ch = self.engine.clearinghouse
        precision = self._quote_precision
        if ch.portfolio_mode(owner, sub_id):
            market_id = ch.portfolio_liquidation_market(owner, sub_id)
            (m,) = (m for m in markets if m.market_id == market_id)
            size_abs = abs(ch.position(owner, sub_id, market_id).size)
            size = min(size_abs, self._capacity_left(market_id))
            if size == 0:
                return None
            reward = liq.penalty(size, m.price, h.equity, h.mm, precision, lp, m.params).keeper
            return Plan(market_id, m.symbol, size, size_abs, reward)
        best: tuple[int, Plan] | None = None
        for m in markets:
            if not mask >> m.market_id & 1:
                continue
            pos = perps.Position(*ch.position(owner, sub_id, m.market_id))
            mm = perps.risk(pos, m.params, m.price, m.index).mm
            size_abs = abs(pos.size)
            size = liq.close_size(h.equity, h.mm, size_abs, m.price, m.params, lp, precision)
            size = min(size, self._capacity_left(m.market_id))
            if size == 0:
                continue
            reward = liq.penalty(size, m.price, h.equity, h.mm, precision, lp, m.params).keeper
            plan = Plan(m.market_id, m.symbol, size, size_abs, reward)
            if best is None or mm > best[0]:
                best = (mm, plan)
        return None if best is None else best[1]

    def _capacity_left(self, market_id: int) -> int:
        """Size liquidations may still close in the market's window now."""
        return int(self.engine.clearinghouse.liquidation_capacity(market_id)[2])

    def _liquidate_collateral(
        self, owner: str, sub_id: int, lp: liq.LiquidationParams, h: Margins, stats: PassStats
    ) -> bool:
        """Repays the quote debt from the keeper's wallet for the largest
        collateral (or writes off a deficit nothing backs); True if a
        transaction went through."""
        ch = self.engine.clearinghouse
        quote = self.engine.tokens[self.engine.quote_symbol]
        debt = -ch.balance_of(owner, sub_id, quote.address)
        wallet = quote.balanceOf(self.sender)

        def skip(why: str) -> bool:
            entry = {"event": "skip_collateral", "owner": owner, "sub_id": sub_id}
            self.log({**entry, "why": why, "wallet": wallet})
            return False

        if debt <= 0:
            return skip("no debt")
        # Each held asset, read once: what counts, and what can be sold.
        counts = False
        choices = []
        for symbol, token in self.engine.tokens.items():
            if symbol == self.engine.quote_symbol:
                continue
            held = ch.balance_of(owner, sub_id, token.address)
            if held == 0:
                continue
            mm_haircut = ch.asset_config(token.address).mm_haircut
            counts = counts or mm_haircut != WAD
            try:
                price = self.engine.router.price(token.address)
            except ContractLogicError:
                continue  # its feed is down: another asset, or the write-off
            # Short of its ledgers, a unit sells for what backs it.
            ledgers = ch.total_deposits(token.address)
            price = liq.covered_price(price, engine_balance(token, ch.address), ledgers)
            value = held * price * self._precision(symbol)
            choices.append((value, symbol, held, price, mm_haircut))
        if not counts and not choices:
            # Nothing anyone can sell (none, or only worthless collateral
            # the router cannot price): write the deficit off.
            return self._settle_bad_debt(owner, sub_id, stats)
        if wallet == 0:
            return skip("empty wallet")
        if not choices:
            return skip("no collateral")
        _, symbol, held, price, mm_haircut = max(choices)
        token = self.engine.tokens[symbol]
        repaid, out = liq.collateral_out(
            min(debt, wallet),
            debt,
            held,
            price,
            self._quote_precision,
            self._precision(symbol),
            mm_haircut,
            lp,
            h.equity,
            h.mm,
        )
        if out == 0:
            return skip("repayment worth less than one collateral unit")
        if quote.allowance(self.sender, ch.address) < repaid:
            quote.approve(ch.address, 2**256 - 1, sender=self.sender)
        sent = self._send_for(
            ch.CollateralLiquidation,
            ch.liquidate_collateral,
            owner,
            sub_id,
            token.address,
            repaid,
            out,
            stats=stats,
        )
        if sent is None:
            return False
        outcome, ev = sent
        stats.collateral_liquidations += 1
        self.log(
            {
                "event": "collateral_liquidated",
                "owner": owner,
                "sub_id": sub_id,
                "asset": symbol,
                "repaid": ev.repaid,
                "collateral_out": ev.collateral_out,
                "gas": outcome.gas_used,
                "tx": outcome.txn_hash,
            }
        )
        self._withdraw_seized(token.address, symbol, ev.collateral_out, stats)
        return True

    def _withdraw_seized(self, asset: str, symbol: str, amount: int, stats: PassStats) -> None:
        """Takes seized collateral out of the keeper's sub-account 0; a token
        that refuses (paused, blocklisting) leaves it there, logged."""
        ch = self.engine.clearinghouse
        try:
            with stdout_silenced():
                ch.withdraw(0, asset, amount, sender=self.sender)
        except ContractLogicError as err:
            stats.withdrawals_failed += 1
            self.log(
                {"event": "seized_kept", "asset": symbol, "amount": amount, "reason": err.message}
            )

    def _symbol_of(self, address: str) -> str:
        """The record's symbol of a token address (the address if unknown)."""
        for symbol, token in self.engine.tokens.items():
            if token.address == address:
                return symbol
        return address

    def _settle_bad_debt(self, owner: str, sub_id: int, stats: PassStats) -> bool:
        """`settle_bad_debt`: the worthless collateral goes to the insurance
        account, the deficit to the insurance fund, then the pool."""
        ch = self.engine.clearinghouse
        sent = self._send_for(ch.BadDebt, ch.settle_bad_debt, owner, sub_id, stats=stats)
        if sent is None:
            return False
        outcome, ev = sent
        stats.bad_debts_settled += 1
        self.log(
            {
                "event": "bad_debt_settled",
                "owner": owner,
                "sub_id": sub_id,
                "deficit": ev.deficit,
                "from_insurance": ev.from_insurance,
                "from_pool": ev.from_pool,
                "written_off": len(outcome.events.filter(ch.CollateralWrittenOff)),
                "tx": outcome.txn_hash,
            }
        )
        return True

    def watch_assets(self, stats: PassStats) -> None:
        """Freezes (by `reconcile`) an asset whose tokens held fell short
        of its ledgers, and moves each frozen asset's haircuts along its
        ramp once the schedule is `ramp_step` above the engine's, or at
        100 %: nobody else has a reason to, and holders of the asset would
        rather not."""
        ch = self.engine.clearinghouse
        now = ch.chain_manager.blocks.head.timestamp
        for a in read_asset_states(self.engine):
            if a.held is None:
                # A token whose views broke: no shortfall can be seen, its
                # deposits and withdrawals fail, its seizure goes on.
                self.log({"event": "asset_balance_unreadable", "asset": a.symbol})
            if a.shortfall and not a.frozen:
                sent = self._send_for(ch.AssetShortfall, ch.reconcile, a.address, stats=stats)
                if sent is not None:
                    stats.shortfalls += 1
                    self.log(
                        {
                            "event": "asset_shortfall",
                            "asset": a.symbol,
                            "held": a.held,
                            "ledgers": a.ledgers,
                        }
                    )
                # Frozen just now (or refused): no ramp to move yet.
                continue
            if not a.frozen or a.mm_haircut == WAD:
                continue
            due = a.due_haircut(now)
            if due - a.mm_haircut < self.config.ramp_step and due != WAD:
                continue
            sent = self._send_for(ch.AssetParamsSet, ch.ramp_frozen_haircut, a.address, stats=stats)
            if sent is not None:
                _, ev = sent
                stats.haircuts_ramped += 1
                self.log(
                    {
                        "event": "haircut_ramped",
                        "asset": a.symbol,
                        "mm_haircut": ev.mm_haircut,
                        "im_haircut": ev.im_haircut,
                    }
                )

    def _send_for(
        self,
        event: ContractEvent,
        method: ContractTransactionHandler,
        *args: Any,
        stats: PassStats,
    ) -> tuple[ReceiptAPI, Any] | None:
        """`_send`, and the one `event` the transaction emitted."""
        outcome = self._send(method, *args, stats=stats)
        if outcome is None:
            return None
        (ev,) = outcome.events.filter(event)
        return outcome, ev

    def _send(
        self, method: ContractTransactionHandler, *args: Any, stats: PassStats
    ) -> ReceiptAPI | None:
        """Sends; the receipt, or None after logging a lost race or a revert."""
        try:
            with stdout_silenced():
                return method(*args, sender=self.sender)
        except ContractLogicError as err:
            reason = err.message
            lost = reason in LOST_RACE
            if lost:
                stats.lost_races += 1
            else:
                stats.reverted += 1
            self.log(
                {
                    "event": "lost_race" if lost else "reverted",
                    "call": getattr(method, "__name__", str(method)),
                    "args": [str(a) for a in args],
                    "reason": reason,
                }
            )
            return None
