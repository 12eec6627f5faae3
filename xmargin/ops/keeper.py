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
1. bring the replica of every account up to the head
   (`xmargin.chain.replica`): the engine's account events since the last
   pass (from the deployment block the first time), one `eth_getLogs` for
   all of them, applied in chain order;
2. value every account that has quote debt or a position locally, from
   the prices, funding and parameters read once at the head (a few calls
   per asset and market, none per account): a vectorised screen
   (`xmargin.ops.screen`) clears the accounts provably above MM, the
   exact model (`xmargin.maths.replica`) values the rest; an account below
   MM is a candidate, and its health is read on chain at the same block
   before anything is sent (a difference is logged as `replica_mismatch`
   and the account re-read from the chain); each pass also audits the
   replica: accounts the registry holds that it lacks are read
   (`replica_gap`), and `audit` more accounts in turn are compared with
   the chain, so a log the node never returned hides nobody for good;
3. for each account with equity < MM and a position: let
   `xmargin.maths.liquidation` (the mirror of the contract) compute, from
   the replica's positions, the size the engine will close and the
   reward, compare the reward with the gas an item costs, and send the
   items up to 100 to a `liquidate_many` (`batch`), every batch of the
   pass in flight at once on the keeper's own nonces (`pipeline`,
   `xmargin.ops.sender`), each block's last one cut to the room left
   in it (`xmargin.ops.block_room`); then, for an account still below MM (and one
   without positions), one `liquidate` at a time for the position with
   the largest maintenance margin, again until the account is healthy;
   an account left with only collateral and quote debt gets
   `liquidate_collateral` if the keeper holds quote tokens (the collateral
   is credited to the keeper's sub-account 0 in the engine; the keeper
   then withdraws it, and a token that refuses is logged and left there);
   an account whose debt nothing backs (no collateral, or only collateral
   at a 100 % haircut, whose price is then never read) gets
   `settle_bad_debt`; an account holding options (the engine's
   `OptionCash` events tell the replica, which then leaves its valuation
   to the chain: the keeper does not price options) has them closed
   first, one `OptionsDesk.liquidate_options` at a time (the desk picks
   the position freeing the most MM per unit of penalty), before its
   perps and collateral;
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
   the pass goes on. An account whose health cannot be valued (a price it
   needs is invalid) is logged as `account_unreadable`, one
   whose handling fails on a read mid-pass as `account_failed`, and the
   pass goes on with the others (issue 19).

The chain is read per account only for the candidates: the accounts the
keeper will act on. The lens's paged `account_healths` (one call per 50
accounts) stays for readers that want every row (`xmargin accounts`).

Every action is one structured log line (a dict; `json_logger` prints it as
JSON). `follow` repeats passes as new blocks arrive; a pass that fails on
the node (connection, timeout) is logged and retried with a doubling
backoff.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from ape.exceptions import ContractLogicError, ProviderError
from eth_utils import keccak

from xmargin.chain.assets import engine_balance, read_asset_states
from xmargin.chain.engine import (
    Engine,
    MarketView,
    read_adl_state,
    read_markets,
    stdout_silenced,
)
from xmargin.chain.lp_requests import RequestBook, read_request
from xmargin.chain.options import DeskBook, published, read_option_order, settlement_round
from xmargin.chain.orders import OrderBook, PendingOrder, published_at, read_order
from xmargin.chain.pinned import UnansweredError, is_pinned, pinned, rebind
from xmargin.chain.prefetch import Forecast
from xmargin.chain.replica import AccountRow, ChainReplica
from xmargin.chain.revert_data import revert_reason
from xmargin.chain.scan import HealthRow, Margins, account_healths_at
from xmargin.maths import errors, perps
from xmargin.maths import liquidation as liq
from xmargin.maths import lp_requests as lr
from xmargin.maths import orders as om
from xmargin.maths import pool as pool_model
from xmargin.maths.fixed_point import WAD, ceil_div, precision
from xmargin.maths.model import Health
from xmargin.maths.replica import OPTIONS, UNKNOWN, AccountKey, Marks, Unpriced
from xmargin.ops.block_room import cut_to_blocks
from xmargin.ops.screen import Screen
from xmargin.ops.sender import Pending, Sender

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.transactions import ReceiptAPI
    from ape.contracts.base import ContractEvent, ContractTransactionHandler

# Races: the account was healed or liquidated by someone else since the read.
# What a pass may meet on the node rather than in the engine: a dropped
# connection or a timeout (requests' errors are OSErrors). `follow` backs
# off and retries them; anything else is a bug or a configuration error.
TRANSIENT = (ProviderError, OSError)
# Seconds a pass waits for the node's answer to its opening and prefetch.
PASS_READ_TIMEOUT = 30.0

# Option positions settled a pass at most (each is a transaction): a crowd
# of holders at one expiry cannot hold the keeper up for many blocks.
MAX_SETTLEMENTS = 50

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
    # every item of a batch was taken by someone else first (the batch's
    # simulation fails: nothing is sent)
    errors.BATCH_ALL_FAILED,
    # another settler got the order first
    errors.NO_ORDER,
    # another settler got the LP request first, or its controller cancelled
    errors.NO_REQUEST,
)
# Gas a liquidation needs, for the profit check before sending (measured on
# anvil: ~150-330k for 1-5 positions; the estimate is the upper end).
LIQUIDATE_GAS = 400_000
COLLATERAL_GAS = 250_000
# Gas of one item of a `liquidate_many` (its share of the batch's gas: the
# per-account state it touches, the prices read once for the batch).
BATCH_ITEM_GAS = 150_000

Log = Callable[[dict[str, Any]], None]


@functools.cache
def shard_of(owner: str, sub_id: int, count: int) -> int:
    """The shard (of `count`) an account belongs to: keccak of its owner's
    20 bytes and its sub-account id as a 32-byte word, modulo `count`;
    stable across processes and machines (Python's `hash` is not).
    Cached: a sharded keeper asks it for every account on every pass (the
    audit), and an account's shard never changes."""
    if count == 1:
        return 0
    digest = keccak(bytes.fromhex(owner[2:]) + sub_id.to_bytes(32, "big"))
    return int.from_bytes(digest, "big") % count


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
    # Liquidations per `liquidate_many` transaction (<= 100, the engine's
    # limit; a block's last one is cut to the room left, `block_room`); 1
    # sends one `liquidate` per transaction.
    batch: int = 100
    # Send every batch of a pass before waiting for any receipt (with the
    # keeper's own nonces, `xmargin.ops.sender`), instead of one by one.
    pipeline: bool = True
    # Seconds to wait for a pass's transactions in flight.
    tx_timeout: float = 120.0
    # Accounts whose health on chain is compared with the replica's on
    # each pass, in turn (0: none).
    audit: int = 50
    # Pin each pass's reads to its head and ask the views every pass needs
    # in one request (`Keeper._pass_reads`; an http(s) node only). Off:
    # every view is its own request, as Ape asks it (the benchmarks' before).
    pass_reads: bool = True
    # Settle due delayed orders at the start of each pass.
    orders: bool = True
    # Settle due LP requests (deposits and redemptions) after the orders.
    lp_requests: bool = True
    # Move a frozen asset's haircuts once their schedule is this far (WAD)
    # above what the engine has, or at 100 %.
    ramp_step: int = 10**15
    # (index, count): this keeper liquidates only the accounts whose
    # `shard_of` is `index` among `count` keepers, each its own process
    # and sending account; the keeper of shard 0 also settles orders and
    # LP requests, watches the assets and runs ADL. (0, 1): everything.
    shard: tuple[int, int] = (0, 1)

    def __post_init__(self) -> None:
        index, count = self.shard
        if not 0 <= index < count:
            raise ValueError(f"shard {index}/{count}: the index must be in [0, {count})")

    @property
    def leads(self) -> bool:
        """Whether this keeper also does the work that is not per account."""
        return self.shard[0] == 0


@dataclass
class PassStats:
    block: int = 0
    # accounts screened (those with quote debt or a position), those the
    # screen could not clear and the model valued, and the engine's
    # account events the replica applied this pass
    accounts: int = 0
    valued: int = 0
    events: int = 0
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
    # `liquidate_many` transactions mined, and transactions sent again
    # with higher fees after being stuck
    batches: int = 0
    replaced: int = 0
    # transactions broadcast again, unchanged, after the node dropped them
    rebroadcast: int = 0
    # positions auto-deleveraged
    adl: int = 0
    # option positions closed by `liquidate_options`
    option_liquidations: int = 0
    # option orders executed (filled or refused), expiries whose settlement
    # price the keeper recorded, option positions it settled
    option_orders_filled: int = 0
    option_orders_refused: int = 0
    expiries_settled: int = 0
    options_settled: int = 0
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
    # candidates whose health on chain differed from the replica's (then
    # re-read from the chain)
    mismatches: int = 0
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


def _by_market(chunk: list[tuple[AccountKey, Plan]]) -> list[tuple[AccountKey, Plan]]:
    """A batch grouped by market, stable (a market's window capacity is
    spent in the planned order): `liquidate_many` then caches each
    market's price once."""
    return sorted(chunk, key=lambda item: item[1].market_id)


@dataclass
class Keeper:
    engine: Engine
    sender: AccountAPI
    config: KeeperConfig = field(default_factory=KeeperConfig)
    log: Log = field(default_factory=json_logger)
    # The first block whose events are read: the deployment's (the record
    # stores it) unless given.
    from_block: int | None = None
    _replica: ChainReplica | None = None
    _screen: Screen | None = None
    _pipeline: Sender | None = None
    # where the next audit slice starts (`_audit`)
    _audit_at: int = 0
    _book: OrderBook | None = None
    _desk_book: DeskBook | None = None
    # (asset, expiry) -> the settlement round this pass found (None: none yet)
    _rounds: dict[tuple[str, int], int | None] = field(default_factory=dict)
    # series id -> (asset, strike, expiry, is_call), read once
    _series: dict[int, Any] = field(default_factory=dict)
    _requests: RequestBook | None = None
    _request_delay: int | None = None
    # (owner, sub_id) -> the price time its order's trade last failed on
    _failed_on: dict[tuple[str, int], int] = field(default_factory=dict)

    # ------------------------------------------------------------ reading

    @property
    def start_block(self) -> int:
        return self.engine.record.block if self.from_block is None else self.from_block

    @property
    def replica(self) -> ChainReplica:
        """The replica of every account (created on first use)."""
        if self._replica is None:
            self._replica = ChainReplica(self.engine, self.start_block)
        return self._replica

    @property
    def pipeline(self) -> Sender:
        """The keeper's own nonces and fees for transactions in flight."""
        if self._pipeline is None:
            self._pipeline = Sender(self.sender, self.engine.clearinghouse.provider)
        return self._pipeline

    @property
    def screen(self) -> Screen:
        """The screen over the replica's accounts (created on first use)."""
        if self._screen is None:
            self._screen = Screen(self.replica.replica)
        return self._screen

    def scan(self, block: int, stats: PassStats | None = None) -> list[HealthRow]:
        """The accounts that may be below MM at `block`, each valued
        exactly, after the replica applied the events up to it: every
        account with quote debt or a position goes through the screen
        (`xmargin.ops.screen`), which clears those provably above MM, and
        the model values the rest. An account that cannot be valued (a
        price it needs is invalid: the engine reverts for it too) is
        logged and left out; one holding an asset or market the record
        does not list is read on chain."""
        applied = self.replica.update(block)
        marks = self.replica.marks(block)
        if stats is not None and self.config.audit:
            self._audit(marks, block, stats)
        keys, screened = self.screen.candidates(marks)
        keys = [k for k in keys if self._mine(k)]
        if stats is not None:
            stats.events += applied
            stats.accounts = screened
            stats.valued = len(keys)
        rows: list[HealthRow] = []
        for owner, sub_id in keys:
            h = self.replica.replica.health((owner, sub_id), marks)
            if isinstance(h, Unpriced) and h.reason in (UNKNOWN, OPTIONS):
                h = self._chain_health(owner, sub_id, block)
            if isinstance(h, Unpriced):
                if stats is not None:
                    stats.unreadable += 1
                self.log(
                    {
                        "event": "account_unreadable",
                        "owner": owner,
                        "sub_id": sub_id,
                        "reason": h.reason,
                        "asset": h.asset,
                    }
                )
                continue
            rows.append(AccountRow(owner, sub_id, h.equity, h.im, h.mm))
        return rows

    def _mine(self, key: AccountKey) -> bool:
        """Whether the account is in this keeper's shard."""
        index, count = self.config.shard
        return count == 1 or shard_of(key[0], key[1], count) == index

    def _chain_health(self, owner: str, sub_id: int, block: int) -> Health | Unpriced:
        """`account_health` on chain at `block`, or why it reverted."""
        (h,) = account_healths_at(self.engine, [(owner, sub_id)], block)
        return Unpriced("", h) if isinstance(h, str) else h

    def _confirm(self, rows: list[HealthRow], block: int, stats: PassStats) -> list[HealthRow]:
        """The candidates liquidatable on chain at the scan's block, their
        health read in one batch. A difference from the replica is logged
        and the account re-read from the chain (the replica is exact, so a
        difference means an event it does not know); a read that reverts
        (a price turned invalid) is logged as `account_failed`."""
        keys = [(str(r.owner), int(r.sub_id)) for r in rows]
        out = []
        for row, key, h in zip(
            rows, keys, account_healths_at(self.engine, keys, block), strict=True
        ):
            if isinstance(h, str):
                self._failed(*key, h, stats)
                continue
            if (h.equity, h.im, h.mm) != (row.equity, row.im, row.mm):
                # Re-read; nothing is sent for it before the next pass.
                self._mismatch(key, h, Health(row.equity, row.im, row.mm), block, stats)
                continue
            if h.liquidatable:
                out.append(row)
        return out

    def _mismatch(
        self, key: AccountKey, chain: Health | str, replica: Health | Unpriced, block: int,
        stats: PassStats,
    ) -> None:  # fmt: skip
        """Logs a difference between the chain and the replica, and re-reads
        the account from the chain."""
        stats.mismatches += 1
        self.log(
            {
                "event": "replica_mismatch",
                "owner": key[0],
                "sub_id": key[1],
                "chain": chain if isinstance(chain, str) else [chain.equity, chain.im, chain.mm],
                "replica": (
                    replica.reason
                    if isinstance(replica, Unpriced)
                    else [replica.equity, replica.im, replica.mm]
                ),
            }
        )
        self.replica.resync(key, block)

    def _audit(self, marks: Marks, block: int, stats: PassStats) -> None:
        """Checks part of the replica against the chain on every pass, so
        that a log the node never returned (a backend behind the head) hides
        no account for good: every account the engine's registry holds that
        the replica lacks is read and added (`replica_gap`), then the next
        `config.audit` accounts in turn have their health on chain compared
        with the replica's (one batched read; a difference is logged and
        the account re-read). Every account is checked once every
        accounts / audit passes."""
        ch = self.engine.clearinghouse
        r = self.replica.replica
        total = int(ch.num_accounts(block_id=block))
        if len(r.registered) < total:
            for i in range(total):
                if i in r.registered:
                    continue
                a = ch.account_at(i, block_id=block)
                key = (str(a.owner), int(a.sub_id))
                self.log({"event": "replica_gap", "index": i, "owner": key[0], "sub_id": key[1]})
                self.replica.resync(key, block)
                r.registered.add(i)
        keys = sorted(k for k in r.accounts if self._mine(k))
        size = min(self.config.audit, len(keys))
        if size == 0:
            return
        start = self._audit_at % len(keys)
        chunk = (keys[start:] + keys[:start])[:size]
        self._audit_at = start + size
        for key, chain in zip(chunk, account_healths_at(self.engine, chunk, block), strict=True):
            local = r.health(key, marks)
            if isinstance(local, Unpriced):
                if local.reason in (UNKNOWN, OPTIONS) or isinstance(chain, str):
                    continue  # not valued locally, or unreadable alike
            elif not isinstance(chain, str) and chain == local:
                continue
            self._mismatch(key, chain, local, block, stats)

    # ------------------------------------------------------------ acting

    def run_once(self) -> PassStats:
        """One pass: assets, due orders and LP requests, the scan, the
        liquidations, ADL. Its reads are pinned to the head it starts at
        and the views every pass needs asked together (`_pass_reads`)."""
        with self._pass_reads():
            return self._run_once()

    @contextlib.contextmanager
    def _pass_reads(self) -> Iterator[None]:
        """Over an http(s) node, routes the pass's requests through a
        `xmargin.chain.pinned.PinnedReads`: the head block, chain id and
        code asked once, "latest" fixed at the pass's head until the
        keeper sends (then the node's latest again), and the views of
        `Forecast.keeper_pass` asked in one request up front. Kept for
        this pass only. Elsewhere (an in-process chain, a websocket, a
        process that pinned the node already) nothing changes."""
        provider = self.engine.clearinghouse.provider
        uri = str(getattr(provider, "uri", "") or "")
        if (
            not self.config.pass_reads
            or not uri.startswith(("http://", "https://"))
            or is_pinned(uri)
        ):
            yield
            return
        web3_provider = getattr(getattr(provider, "web3", None), "provider", None)
        with contextlib.ExitStack() as stack:
            reads = stack.enter_context(pinned(uri, timeout=PASS_READ_TIMEOUT))
            # Connected before the route existed: look it up now, and again after.
            rebind(web3_provider)
            stack.callback(rebind, web3_provider)
            with contextlib.suppress(UnansweredError):
                # Unanswered: nothing pinned, the pass asks as it would unrouted.
                reads.start(probe_timeout=PASS_READ_TIMEOUT)
            if reads.block is not None:
                reads.prefetch(Forecast.of_engine(self.engine, reads.block).keeper_pass().calls)
            yield

    def _run_once(self) -> PassStats:
        started = time.monotonic()
        stats = PassStats()
        leads = self.config.leads
        if leads:
            self.watch_assets(stats)
        if self.config.orders and leads:
            self.settle_orders(stats)
        if self.config.lp_requests and leads:
            self.settle_lp_requests(stats)
        ch = self.engine.clearinghouse
        block = ch.chain_manager.blocks.head.number
        stats.block = block
        rows = self.scan(block, stats)
        unhealthy = [r for r in rows if r.equity < r.mm]
        self.log(
            {
                "event": "scan",
                "block": block,
                "accounts": stats.accounts,
                "valued": stats.valued,
                "liquidatable": len(unhealthy),
                "events": stats.events,
            }
        )
        unhealthy = self._confirm(unhealthy, block, stats)
        stats.liquidatable = len(unhealthy)
        open_: bool | None = None
        if unhealthy:
            open_ = self._liquidations_open(block)
            if open_:
                lp = liq.LiquidationParams(*ch.liquidation_params())
                markets = read_markets(self.engine, block)
                if self.config.batch > 1:
                    unhealthy = self._liquidate_batched(unhealthy, lp, markets, stats)
                for row in unhealthy:
                    owner, sub_id = str(row.owner), int(row.sub_id)
                    try:
                        self._heal(owner, sub_id, lp, markets, stats)
                    except ContractLogicError as err:
                        self._failed(owner, sub_id, err.message, stats)
        # The options' chores after the liquidations (nobody can make the
        # keeper spend its pass on them first).
        if leads and self.engine.desk is not None:
            self.run_options(stats, orders=self.config.orders)
        # ADL after the liquidations, at the head they left: closing a
        # loser realises its loss, which raises traders' net profit and can
        # take a market past its cap.
        head = ch.chain_manager.blocks.head.number
        over_cap = self._over_profit_cap(head) if leads else []
        if over_cap and (open_ if open_ is not None else self._liquidations_open(head)):
            # The positions the liquidations left.
            stats.events += self.replica.update(head)
            marks = self.replica.marks(head)
            markets = read_markets(self.engine, head)
            for market_id in over_cap:
                self._deleverage(market_id, marks, markets, head, stats)
        stats.seconds = time.monotonic() - started
        index, count = self.config.shard
        self.log({"event": "pass", "shard": f"{index}/{count}", **stats.__dict__})
        return stats

    def _failed(self, owner: str, sub_id: int, reason: str, stats: PassStats) -> None:
        """A read for this account failed (a price turned invalid since the
        scan): logged, and the others go on."""
        stats.failed += 1
        self.log({"event": "account_failed", "owner": owner, "sub_id": sub_id, "reason": reason})

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
            self._book = OrderBook(ch, self.start_block)
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

    # ------------------------------------------------------------ options

    def run_options(self, stats: PassStats, orders: bool = True) -> None:
        """The OptionsDesk's chores at the head: execute (with `orders`)
        every option order whose price and volatility were both published
        after its delay and that would fill (a simulation first: a refusal
        costs the keeper gas and earns nothing), record the settlement
        price of every expiry that passed with positions open, and settle
        at most MAX_SETTLEMENTS of those positions a pass into their
        accounts' quote balances (docs/options.md).
        Executors earn nothing yet."""
        desk = self.engine.desk
        assert desk is not None
        if self._desk_book is None:
            self._desk_book = DeskBook(desk, self.start_block)
        head = desk.chain_manager.blocks.head
        book = self._desk_book
        book.update(head.number)
        self._rounds.clear()
        if orders:
            for owner, sub_id in sorted(book.pending):
                self._execute_option(owner, sub_id, head.number, head.timestamp, stats)
        budget = MAX_SETTLEMENTS
        for series_id, holders in sorted(book.holders.items()):
            if holders and budget > 0:
                budget -= self._settle_series(
                    series_id, sorted(holders), head.number, head.timestamp, budget, stats
                )

    def _series_of(self, series_id: int, block: int) -> Any:
        """A series' terms (listed once, never changed): cached."""
        s = self._series.get(series_id)
        if s is None:
            s = self._series[series_id] = self._options_book().series_of(series_id, block_id=block)
        return s

    def _options_book(self) -> Any:
        book = self.engine.book
        assert book is not None
        return book

    def _execute_option(
        self, owner: str, sub_id: int, block: int, now: int, stats: PassStats
    ) -> None:
        desk = self.engine.desk
        assert desk is not None
        order = read_option_order(desk, owner, sub_id, block)
        if order.size == 0 or now > order.expires:
            # Executed, cancelled or lapsed: not read again (a new commit
            # brings the account back).
            assert self._desk_book is not None
            self._desk_book.pending.discard((owner, sub_id))
            return
        if now < order.ready:
            return
        s = self._series_of(order.series_id, block)
        at = published(self.engine.router, str(s.asset), int(s.expiry), block)
        if at is None or at < order.ready:
            return
        try:
            if int(desk.execute_option_order.call(owner, sub_id, block_id=block)) == 0:
                return  # it would be refused: left to lapse
        except ContractLogicError:
            return
        sent = self._send_for(
            desk.OptionOrderExecuted, desk.execute_option_order, owner, sub_id, stats=stats
        )
        if sent is None:
            return
        outcome, ev = sent
        if ev.filled:
            stats.option_orders_filled += 1
        else:
            stats.option_orders_refused += 1
        self._log_sent(
            "option_order_executed" if ev.filled else "option_order_refused",
            outcome,
            owner=owner,
            sub_id=sub_id,
            series=order.series_id,
            size=order.size,
            premium=ev.premium,
            price=ev.price,
        )

    def _settle_series(
        self,
        series_id: int,
        holders: list[tuple[str, int]],
        block: int,
        now: int,
        budget: int,
        stats: PassStats,
    ) -> int:
        """After its expiry: records the settlement price if nobody has
        (the feed's first valid round at or after the expiry; one search per
        expiry and pass), then settles at most `budget` holders' positions.
        Returns how many it sent."""
        s = self._series_of(series_id, block)
        asset, expiry = str(s.asset), int(s.expiry)
        if now < expiry:
            return 0
        options_book = self._options_book()
        if int(options_book.settlement(asset, expiry, block_id=block)) == 0:
            key = (asset, expiry)
            if key not in self._rounds:
                self._rounds[key] = settlement_round(
                    self.engine.router, self._aggregator_at, asset, expiry, block
                )
                if self._rounds[key] is None:
                    self.log(
                        {"event": "settlement_round_not_found", "asset": asset, "expiry": expiry}
                    )
            round_id = self._rounds[key]
            if round_id is None:
                return 0
            sent = self._send_for(
                options_book.ExpirySettled,
                options_book.settle_expiry,
                asset,
                expiry,
                round_id,
                stats=stats,
            )
            if sent is None:
                return 0
            outcome, ev = sent
            stats.expiries_settled += 1
            self._log_sent(
                "expiry_settled",
                outcome,
                asset=asset,
                expiry=expiry,
                price=ev.price,
                round_id=round_id,
            )
        desk = self.engine.desk
        assert desk is not None
        count = 0
        for owner, sub_id in holders[:budget]:
            count += 1
            sent = self._send_for(
                desk.OptionTraded, desk.settle_option, owner, sub_id, series_id, stats=stats
            )
            if sent is None:
                continue
            outcome, ev = sent
            stats.options_settled += 1
            self._log_sent(
                "option_settled",
                outcome,
                owner=owner,
                sub_id=sub_id,
                series=series_id,
                cash=ev.cash,
            )
        return count

    def _log_sent(self, event: str, outcome: ReceiptAPI, **fields: Any) -> None:
        """One log line for a transaction the keeper sent: its fields, gas and hash."""
        self.log({"event": event, **fields, "gas": outcome.gas_used, "tx": outcome.txn_hash})

    def _aggregator_at(self, address: str) -> Any:
        return self.engine.clearinghouse.chain_manager.contracts.instance_at(
            address, contract_type=self._feed_type()
        )

    def _feed_type(self) -> Any:
        feed = next(iter(self.engine.feeds.values()), None)
        return None if feed is None else feed.contract_type

    # ------------------------------------------------------------ LP requests

    def settle_lp_requests(self, stats: PassStats) -> None:
        """Settles every LP request that is due at the head: its delay
        passed and every feed of the pool's value published since."""
        vault = self.engine.pool
        if vault is None:
            return
        if self._requests is None:
            self._requests = RequestBook(vault, self.start_block)
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
        marks: Marks,
        markets: list[MarketView],
        block: int,
        stats: PassStats,
    ) -> None:
        """ADLs `market_id`'s winners on the skew's side, highest rank
        first, each by as much as the engine wants (the whole position as
        `max_size`), until the market is back under its cap, its skew is
        gone, or no winner is left. Winners are every account of the
        replica with a position in the market, ranked by their equity at
        `marks` (an account that cannot be valued waits)."""
        ch = self.engine.clearinghouse
        view = next((m for m in markets if m.market_id == market_id), None)
        if view is None:
            return
        ranked = []
        replica = self.replica.replica
        for key, state in replica.accounts.items():
            pos = state.positions.get(market_id)
            if pos is None:
                continue
            h = replica.health(key, marks)
            if isinstance(h, Unpriced):
                continue  # its leverage cannot be known: it waits
            rank = pool_model.adl_rank(pos, view.price, view.index, h.equity, view.state.skew)
            if rank > 0:
                ranked.append((rank, key[0], key[1], abs(pos.size)))
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
        options = self.engine.desk is not None
        for _ in range(self.config.max_rounds):
            h = ch.account_health(owner, sub_id)
            if h.equity >= h.mm:
                return
            if options and ch.holds_options(owner, sub_id):
                # Options first, one position a call (the desk picks the one
                # freeing the most MM per unit of penalty), then perps; once
                # none can be closed (only expired, unsettled series left),
                # the perps and collateral.
                if self._liquidate_options(owner, sub_id, stats):
                    continue
                options = False
            mask = ch.position_mask(owner, sub_id)
            if mask == 0:
                # One asset per call: go round again while it makes progress.
                if not self._liquidate_collateral(owner, sub_id, lp, h, stats):
                    return
                continue
            positions = {
                m.market_id: perps.Position(*ch.position(owner, sub_id, m.market_id))
                for m in markets
                if mask >> m.market_id & 1
            }
            portfolio = bool(ch.portfolio_mode(owner, sub_id))
            plan = self._plan(
                owner, sub_id, h, positions, portfolio, lp, markets, self._capacity_left
            )
            if plan is None:
                self._capacity_wait(owner, sub_id, stats)
                return
            cost = self._gas_cost_quote(LIQUIDATE_GAS)
            if plan.reward < cost:
                self._unprofitable(owner, sub_id, plan, cost, stats)
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
            self._liquidated(owner, sub_id, plan, ev, outcome.gas_used, outcome.txn_hash, stats)

    def _liquidate_options(self, owner: str, sub_id: int, stats: PassStats) -> bool:
        """One `liquidate_options` (docs/options.md), logged; True if it went
        through."""
        desk = self.engine.desk
        assert desk is not None
        sent = self._send_for(desk.OptionTraded, desk.liquidate_options, owner, sub_id, stats=stats)
        if sent is None:
            return False
        outcome, ev = sent
        stats.option_liquidations += 1
        self._log_sent(
            "option_liquidated",
            outcome,
            owner=owner,
            sub_id=sub_id,
            series=ev.series_id,
            closed=ev.size,
            cash=ev.cash,
        )
        return True

    def _capacity_wait(self, owner: str, sub_id: int, stats: PassStats) -> None:
        stats.capacity_waits += 1
        self.log({"event": "capacity_wait", "owner": owner, "sub_id": sub_id})

    def _unprofitable(
        self, owner: str, sub_id: int, plan: Plan, cost: int, stats: PassStats
    ) -> None:
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

    def _liquidated(
        self, owner: str, sub_id: int, plan: Plan, ev: Any, gas: int, tx: str, stats: PassStats
    ) -> None:
        """Counts and logs one liquidation (its `Liquidation` event `ev`)."""
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
                "gas": gas,
                "tx": tx,
            }
        )

    # ------------------------------------------------------------ batches

    def _liquidate_batched(
        self,
        rows: list[HealthRow],
        lp: liq.LiquidationParams,
        markets: list[MarketView],
        stats: PassStats,
    ) -> list[HealthRow]:
        """One liquidation for every candidate with a position, planned from
        the replica (its positions and margin mode, confirmed on chain at
        the scan's block) and sent `config.batch` at a time in
        `liquidate_many`, each market's window capacity spent item by item
        as the engine will. Returns the rows left for the one-by-one path:
        accounts with no position (collateral to sell, debt to write off)
        and those the batches left below MM at the head (a portfolio
        account with another position, a close the window capped)."""
        ch = self.engine.clearinghouse
        accounts = self.replica.replica.accounts
        budget: dict[int, int] = {}

        def capacity(market_id: int) -> int:
            if market_id not in budget:
                budget[market_id] = self._capacity_left(market_id)
            return budget[market_id]

        cost = self._gas_cost_quote(BATCH_ITEM_GAS)
        planned: list[tuple[AccountKey, Plan]] = []
        rest: list[HealthRow] = []
        for row in rows:
            key = (str(row.owner), int(row.sub_id))
            state = accounts.get(key)
            if state is None or not state.positions:
                rest.append(row)
                continue
            plan = self._plan(*key, row, state.positions, state.portfolio, lp, markets, capacity)
            if plan is None:
                self._capacity_wait(*key, stats)
                continue
            if plan.reward < cost:
                self._unprofitable(*key, plan, cost, stats)
                continue
            budget[plan.market_id] = capacity(plan.market_id) - plan.size
            planned.append((key, plan))
        if self.config.pipeline:
            self._send_batches_pipelined(planned, cost, stats)
        else:
            size = self.config.batch
            for start in range(0, len(planned), size):
                chunk = _by_market(planned[start : start + size])
                outcome = self._send(ch.liquidate_many, self._items(chunk, cost), stats=stats)
                if outcome is not None:
                    self._batch_outcome(chunk, outcome, stats)
        if planned:
            # What the batches left, valued at the head.
            head = self.engine.clearinghouse.chain_manager.blocks.head.number
            stats.events += self.replica.update(head)
            marks = self.replica.marks(head)
            for key, _ in planned:
                h = self.replica.replica.health(key, marks)
                if not isinstance(h, Unpriced) and h.liquidatable:
                    rest.append(AccountRow(*key, h.equity, h.im, h.mm))
        return rest

    @staticmethod
    def _items(chunk: list[tuple[AccountKey, Plan]], cost: int) -> list[tuple]:
        """`liquidate_many`'s items: each plan, closing up to the whole
        position, for at least `cost` of reward."""
        return [(o, s, p.market_id, p.position_size, cost) for (o, s), p in chunk]

    def _send_batches_pipelined(
        self, planned: list[tuple[AccountKey, Plan]], cost: int, stats: PassStats
    ) -> None:
        """Every batch in flight at once (`xmargin.ops.sender`): each is
        simulated and sent with the keeper's next nonce without waiting,
        each block's last one cut to the room left in it
        (`xmargin.ops.block_room`), then all receipts are awaited together,
        so they land in as few blocks as their gas allows. A batch whose
        simulation fails (every item taken first) is logged, never sent."""
        ch = self.engine.clearinghouse
        sent: list[tuple[list[tuple[AccountKey, Plan]], Pending]] = []

        def estimate(start: int, n: int) -> int | None:
            items = self._items(_by_market(planned[start : start + n]), cost)
            try:
                with stdout_silenced():
                    return self.pipeline.estimate(ch.liquidate_many, items)
            except ContractLogicError as err:
                # Every item taken first (or refused): logged, never sent.
                self._reverted(ch.liquidate_many, [items], err.message, stats)
                return None

        block_gas = int(self.pipeline.web3.eth.get_block("latest")["gasLimit"])
        for start, n, gas in cut_to_blocks(
            len(planned), self.config.batch, block_gas, estimate, self.pipeline.gas_limit
        ):
            if gas is None:
                continue
            chunk = _by_market(planned[start : start + n])
            items = self._items(chunk, cost)
            try:
                with stdout_silenced():
                    pending = self.pipeline.submit(ch.liquidate_many, items, estimate=gas)
            except ContractLogicError as err:
                self._reverted(ch.liquidate_many, [items], err.message, stats)
                continue
            sent.append((chunk, pending))
            self.log(
                {
                    "event": "batch_sent",
                    "nonce": pending.nonce,
                    "items": len(items),
                    "gas_limit": int(pending.txn.gas_limit or 0),
                    "max_fee": int(pending.txn.max_fee or 0),
                    "block": pending.sent_block,
                    "tx": pending.hashes[-1],
                }
            )
        if not sent:
            return
        receipts = self.pipeline.wait([p for _, p in sent], timeout=self.config.tx_timeout)
        for (chunk, pending), receipt in zip(sent, receipts, strict=True):
            if len(pending.hashes) > 1:
                self.log(
                    {
                        "event": "batch_replaced",
                        "nonce": pending.nonce,
                        "sends": len(pending.hashes),
                        "mined_in": receipt.block_number,
                        "tx": receipt.txn_hash,
                    }
                )
            if receipt.failed:
                stats.reverted += 1
                self.log({"event": "batch_failed", "tx": receipt.txn_hash})
                continue
            self._batch_outcome(chunk, receipt, stats)
        stats.replaced += self.pipeline.replaced
        stats.rebroadcast += self.pipeline.rebroadcast
        self.pipeline.replaced = self.pipeline.rebroadcast = 0

    def _batch_outcome(
        self, chunk: list[tuple[AccountKey, Plan]], outcome: ReceiptAPI, stats: PassStats
    ) -> None:
        """Logs each item of a mined `liquidate_many` from its events (a
        skipped item's reason is its revert data)."""
        ch = self.engine.clearinghouse
        stats.batches += 1
        gas = outcome.gas_used // len(chunk)
        done = {
            (str(ev.owner), int(ev.sub_id), int(ev.market_id)): ev
            for ev in outcome.events.filter(ch.Liquidation)
        }
        skipped = {
            (str(ev.owner), int(ev.sub_id), int(ev.market_id)): ev
            for ev in outcome.events.filter(ch.LiquidationSkipped)
        }
        for (owner, sub_id), plan in chunk:
            where = (owner, sub_id, plan.market_id)
            if where in done:
                self._liquidated(owner, sub_id, plan, done[where], gas, outcome.txn_hash, stats)
                continue
            reason = revert_reason(bytes(skipped[where].reason))
            lost = self._count_revert(reason, stats)
            self.log(
                {
                    "event": "batch_item_skipped",
                    "lost_race": lost,
                    "owner": owner,
                    "sub_id": sub_id,
                    "market": plan.symbol,
                    "reason": reason,
                    "tx": outcome.txn_hash,
                }
            )

    def _plan(
        self,
        owner: str,
        sub_id: int,
        h: Margins,
        positions: Mapping[int, perps.Position],
        portfolio: bool,
        lp: liq.LiquidationParams,
        markets: list[MarketView],
        capacity: Callable[[int], int],
    ) -> Plan | None:
        """The position to liquidate, and what liquidating it yields: for a
        linear account the position with the largest MM; for a portfolio
        account the one the engine takes first (the position losing most
        in the worst scenario), closed whole. Each close stops at what its
        market's liquidation window has left (`capacity`); None when every
        candidate's window is used up (the account waits for the next
        window), or its market has no valid price."""
        precision = self._quote_precision
        by_id = {m.market_id: m for m in markets}
        if portfolio:
            market_id = int(self.engine.clearinghouse.portfolio_liquidation_market(owner, sub_id))
            m = by_id.get(market_id)
            if m is None or market_id not in positions:
                return None
            size_abs = abs(positions[market_id].size)
            size = min(size_abs, capacity(market_id))
            if size == 0:
                return None
            reward = liq.penalty(size, m.price, h.equity, h.mm, precision, lp, m.params).keeper
            return Plan(market_id, m.symbol, size, size_abs, reward)
        best: tuple[int, Plan] | None = None
        for market_id, pos in sorted(positions.items()):
            m = by_id.get(market_id)
            if m is None:
                continue
            mm = perps.risk(pos, m.params, m.price, m.index).mm
            size_abs = abs(pos.size)
            size = liq.close_size(h.equity, h.mm, size_abs, m.price, m.params, lp, precision)
            size = min(size, capacity(market_id))
            if size == 0:
                continue
            reward = liq.penalty(size, m.price, h.equity, h.mm, precision, lp, m.params).keeper
            plan = Plan(market_id, m.symbol, size, size_abs, reward)
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
            self._reverted(method, list(args), err.message, stats)
            return None

    @staticmethod
    def _count_revert(reason: str, stats: PassStats) -> bool:
        """Counts a revert; True when it is a lost race (another keeper or
        the account's owner got there first)."""
        lost = reason in LOST_RACE
        if lost:
            stats.lost_races += 1
        else:
            stats.reverted += 1
        return lost

    def _reverted(
        self, method: ContractTransactionHandler, args: list[Any], reason: str, stats: PassStats
    ) -> None:
        """Counts and logs a transaction that reverted (in simulation or
        on chain): a lost race when another keeper got there first."""
        lost = self._count_revert(reason, stats)
        self.log(
            {
                "event": "lost_race" if lost else "reverted",
                "call": getattr(method, "__name__", str(method)),
                "args": [str(a) for a in args],
                "reason": reason,
            }
        )
