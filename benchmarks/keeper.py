"""Keeper throughput on anvil: its local pass over the replica against the
lens's batched reads and one call per account, and the time from a price
shock until every liquidatable account is liquidated, for 1,000 and 10,000
accounts.

    python benchmarks/keeper.py [--accounts 1000,10000] [--sample 1000]

For each size, on a fresh anvil:

1. deploy with the real pipeline (`xmargin.ops.deploy`, config/local.yaml);
   the owner (test account 0) raises both markets' open-interest caps to
   twice what the crowd opens (the local caps, 10,000 ETH and 500 BTC per
   side, hold a few thousand accounts), and test account 0 deposits 10 M USDC
   into the LiquidityPool;
2. open the crowd (`xmargin.ops.crowd.plan_crowd`: sub-accounts 100+ of test
   accounts 1-8, one ETH-PERP or BTC-PERP position each at 1.5x to 8x) with
   `xmargin.ops.bulk_send`: the same mint/approve/deposit/trade transactions Ape
   would send, in JSON-RPC batches to anvil with automine off, mined 2,000
   per block, every receipt checked; then verify the registry holds exactly
   the planned accounts and spot-check positions, balances and margins;
3. the keeper's replica backfilled from the deployment block (every
   account event), then scan rates at one pinned block: the keeper's pass
   (`Keeper.scan`: the replica valued locally, no call per account), the
   lens's `account_healths` pages (what `xmargin accounts` reads) and one
   `account_health` call per account (on a sample for large crowds,
   extrapolated), through Ape, and the last two again as bare JSON-RPC
   `eth_call`s (what the node costs without Ape's Python);
4. shock the feeds (ETH -15 %, BTC +14 %: ETH longs at 8x go under water
   and are closed whole, BTC shorts at 6x are partly closed; ~11 % of the
   crowd), record every liquidatable account (`is_liquidatable` of every
   account, read through bare JSON-RPC before the keeper starts), then time
   real keeper passes (`Keeper.run_once`: real transactions, automine on)
   until `accounts_to_liquidate` over the whole registry is empty; check
   that nobody is left liquidatable, that every Liquidation/BadDebt event
   is of an account that was liquidatable after the shock and every such
   account was liquidated, and that the Clearinghouse's USDC equals every
   ledger to the wei.

Anvil runs with the flags ape-foundry gives it except `--steps-tracing`
(`--steps-tracing` here puts it back): that flag records every opcode of
every transaction for Ape's traces and makes anvil ~100x slower at mining
(35 s instead of 0.3 s for 2,000 setup transactions), which no real node
does. Ape connects to it as `ethereum:local:foundry` with its host.

Prints tables and writes benchmarks/results/keeper.json. Timings on a
shared 2-core machine are noisy; the ratio is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests.adapters
from ape import accounts, networks, project
from ape.logging import logger
from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from nodes import anvil  # benchmarks/nodes.py (scripts run from benchmarks/)
from rich.console import Console
from rich.table import Table
from web3 import Web3

from xmargin.chain.config import load_config
from xmargin.chain.engine import Engine, load_engine, read_markets, shock_prices
from xmargin.chain.scan import PAGE, health_pages
from xmargin.maths.fixed_point import WAD, parse_units
from xmargin.ops.bulk_send import Bulk, calldata, connect, rpc_batch, rpc_call
from xmargin.ops.crowd import CrowdAccount, backing_needed, crowd_transactions, plan_crowd
from xmargin.ops.deploy import deploy_scratch
from xmargin.ops.keeper import Keeper, KeeperConfig, PassStats
from xmargin.ops.lp import provide

RESULTS = Path(__file__).resolve().parent / "results" / "keeper.json"
NETWORK = "ethereum:local:foundry"
SIZES = (1_000, 10_000)
OWNER_INDEXES = tuple(range(1, 9))  # test accounts owning the crowd's sub-accounts
LP_INDEX = 0
KEEPER_INDEX = 9
LP_DEPOSIT = "10000000"  # USDC
# ETH longs at 8x under water (closed whole, bad debt), BTC shorts at 6x
# between 0.5 and 1 MM (partly closed): ~11 % of plan_crowd's accounts.
SHOCK_BPS = {"WETH": -1_500, "WBTC": 1_400}
# OI cap = this many times the larger side the crowd opens (never lowered).
OI_HEADROOM = 2
PAGES = (25, 50)
LARGER_PAGES = (100, 200)
SPOT_CHECKS = 200
MAX_PASSES = 10
RPC_BATCH = 500  # eth_calls per HTTP request in the bare JSON-RPC reads
# Block gas limit once the setup is done (Ethereum's, as of 2025: 30-36M).
# Block gas limits the liquidation runs at: anvil's default (Ethereum's
# limit until 2025), and Ethereum mainnet's since 25 November 2025.
BLOCK_GAS = (30_000_000, 60_000_000)

HEALTH_ROW = "(address,uint256,int256,uint256,uint256,string,address)[]"
ACCOUNT = "(address,uint256)"


# ---------------------------------------------------------------- anvil


# ---------------------------------------------------------------- bare reads


class Views:
    """The Clearinghouse's and its lens's views as bare JSON-RPC
    `eth_call`s, decoded with eth_abi: an independent path from Ape's (and
    the keeper's)."""

    def __init__(self, w3: Web3, clearinghouse: str, lens: str) -> None:
        self.w3 = w3
        self.to = clearinghouse
        self.lens = lens

    def _calls(self, datas: list[str], block: int, to: str | None = None) -> list[bytes]:
        out: list[bytes] = []
        tag = hex(block)
        for start in range(0, len(datas), RPC_BATCH):
            part = datas[start : start + RPC_BATCH]
            results = rpc_batch(
                self.w3, [("eth_call", [{"to": to or self.to, "data": d}, tag]) for d in part]
            )
            out.extend(bytes.fromhex(r[2:]) for r in results)
        return out

    def num_accounts(self, block: int) -> int:
        (raw,) = self._calls([calldata("num_accounts()")], block)
        return decode(["uint256"], raw)[0]

    def accounts(self, block: int) -> list[tuple[str, int]]:
        """Every registered account, by index."""
        n = self.num_accounts(block)
        raws = self._calls([calldata("account_at(uint256)", i) for i in range(n)], block)
        return [
            (to_checksum_address(o), s)
            for o, s in (decode(["address", "uint256"], r) for r in raws)
        ]

    def is_liquidatable(self, accts: list[tuple[str, int]], block: int) -> list[bool]:
        datas = [
            calldata("is_liquidatable(address,address,uint256)", self.to, o, s) for o, s in accts
        ]
        return [decode(["bool"], r)[0] for r in self._calls(datas, block, self.lens)]

    def to_liquidate(self, n: int, block: int) -> set[tuple[str, int]]:
        datas = [
            calldata("accounts_to_liquidate(address,uint256,uint256)", self.to, i, PAGE)
            for i in range(0, n, PAGE)
        ]
        out = set()
        for raw in self._calls(datas, block, self.lens):
            out.update((to_checksum_address(o), s) for o, s in decode([f"{ACCOUNT}[]"], raw)[0])
        return out

    def healths_page(self, start: int, limit: int, block: int) -> list[tuple]:
        (raw,) = self._calls(
            [calldata("account_healths(address,uint256,uint256)", self.to, start, limit)],
            block,
            self.lens,
        )
        return list(decode([HEALTH_ROW], raw)[0])

    def per_account(self, owner: str, sub_id: int, block: int) -> tuple:
        (raw,) = self._calls([calldata("account_health(address,uint256)", owner, sub_id)], block)
        return decode(["int256", "uint256", "uint256"], raw)

    def reads(self, signature: str, args: list[tuple], block: int, types: list[str]) -> list[Any]:
        raws = self._calls([calldata(signature, *a) for a in args], block)
        return [decode(types, r) for r in raws]


def _event_logs(w3: Web3, ch: Any, event: str, from_block: int, to_block: int) -> list[dict]:
    """`event`'s logs, decoded: indexed fields from the topics, the rest from data."""
    if from_block > to_block:  # no block since (nothing was liquidated)
        return []
    abi = getattr(ch, event).abi
    topic = "0x" + keccak(text=abi.selector).hex()
    logs = rpc_call(
        w3,
        "eth_getLogs",
        [
            {
                "address": ch.address,
                "topics": [topic],
                "fromBlock": hex(from_block),
                "toBlock": hex(to_block),
            }
        ],
    )
    indexed = [i for i in abi.inputs if i.indexed]
    plain = [i for i in abi.inputs if not i.indexed]
    out = []
    for log in logs:
        entry = {"block": int(log["blockNumber"], 16)}
        for field, t in zip(indexed, log["topics"][1:], strict=True):
            entry[field.name] = decode([field.type], bytes.fromhex(t[2:]))[0]
        values = decode([i.type for i in plain], bytes.fromhex(log["data"][2:]))
        entry.update({i.name: v for i, v in zip(plain, values, strict=True)})
        out.append(entry)
    return out


def _account_of(entry: dict) -> tuple[str, int]:
    return to_checksum_address(entry["owner"]), int(entry["sub_id"])


# ---------------------------------------------------------------- timing


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else 0.0


class Meter:
    """While on: seconds spent in HTTP requests (every JSON-RPC call, Ape's
    and web3's included) and in `time.sleep` (web3's receipt polling), by
    wrapping both; the rest of a keeper pass is Python."""

    def __init__(self) -> None:
        self.http_seconds = 0.0
        self.http_requests = 0
        self.sleep_seconds = 0.0
        self.sleeps = 0

    @contextmanager
    def on(self) -> Iterator[Meter]:
        send = requests.adapters.HTTPAdapter.send
        sleep = time.sleep
        meter = self

        def timed_send(adapter: Any, request: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return send(adapter, request, **kwargs)
            finally:
                meter.http_seconds += time.perf_counter() - start
                meter.http_requests += 1

        def counted_sleep(seconds: float) -> None:
            meter.sleep_seconds += seconds
            meter.sleeps += 1
            sleep(seconds)

        requests.adapters.HTTPAdapter.send = timed_send  # type: ignore[method-assign]
        time.sleep = counted_sleep  # type: ignore[assignment]
        try:
            yield self
        finally:
            requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
            time.sleep = sleep  # type: ignore[assignment]


def _timed(fn: Callable, into: dict[str, float], key: str) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[key] = into.get(key, 0.0) + time.perf_counter() - start

    return wrapper


# ---------------------------------------------------------------- setup


def _raise_oi_caps(engine: Engine, owner: Any, plan: list[CrowdAccount]) -> dict[str, dict]:
    ch = engine.clearinghouse
    out = {}
    for symbol, market_id in engine.record.markets.items():
        longs = sum(a.size for a in plan if a.market == symbol and a.size > 0)
        shorts = -sum(a.size for a in plan if a.market == symbol and a.size < 0)
        params = list(ch.market_params(market_id))
        old = params[8]  # max_oi
        need = -(-OI_HEADROOM * max(longs, shorts) // WAD) * WAD
        new = min(max(old, need), params[5])  # never above skew_scale (the engine refuses)
        if new != old:
            params[8] = new
            ch.set_market_params(market_id, tuple(params), sender=owner)
        out[symbol] = {
            "long_oi": longs / WAD,
            "short_oi": shorts / WAD,
            "max_oi_config": old / WAD,
            "max_oi_set": new / WAD,
        }
    return out


def _verify_setup(
    views: Views, engine: Engine, plan: list[CrowdAccount], prices: dict[str, int], block: int
) -> dict[str, Any]:
    """The registry holds exactly the planned accounts; a spread sample has
    the planned position, its deposit in quote give or take the trade's fee
    and premium, and equity at or above IM (every trade was IM-checked)."""
    start = time.perf_counter()
    registered = views.accounts(block)
    planned = {(a.owner, a.sub_id) for a in plan}
    assert len(registered) == len(plan), f"{len(registered)} registered, {len(plan)} planned"
    assert set(registered) == planned, "the registry differs from the plan"
    step = max(1, len(plan) // SPOT_CHECKS)
    sample = plan[::step]
    markets = engine.record.markets
    quote = engine.tokens[engine.quote_symbol].address
    decimals = engine.record.assets[engine.quote_symbol].decimals
    sizes = views.reads(
        "position(address,uint256,uint256)",
        [(a.owner, a.sub_id, markets[a.market]) for a in sample],
        block,
        ["int256", "uint256", "int256"],
    )
    balances = views.reads(
        "balance_of(address,uint256,address)",
        [(a.owner, a.sub_id, quote) for a in sample],
        block,
        ["int256"],
    )
    healths = views.reads(
        "account_health(address,uint256)",
        [(a.owner, a.sub_id) for a in sample],
        block,
        ["int256", "uint256", "uint256"],
    )
    for a, pos, (bal,), (equity, im, _) in zip(sample, sizes, balances, healths, strict=True):
        assert pos[0] == a.size, f"{a.owner}/{a.sub_id}: size {pos[0]} != planned {a.size}"
        # the deposit, less the fee, less (or plus, reducing skew) the premium
        notional = abs(a.size) * prices[a.market] // WAD // 10 ** (18 - decimals)
        assert abs(bal - a.margin) <= notional // 20, f"{a.owner}/{a.sub_id}: quote balance {bal}"
        assert equity >= im, f"{a.owner}/{a.sub_id}: below IM after its trade"
    return {
        "registered": len(registered),
        "registry_equals_plan": True,
        "spot_checked": len(sample),
        "seconds": round(time.perf_counter() - start, 2),
    }


def _block_ms(w3: Web3, blocks: int = 5) -> float:
    """Median milliseconds anvil takes to mine an empty block (`evm_mine`):
    its per-block cost, which grows with the state (it recomputes the state
    root), and which every keeper transaction waits for."""
    runs = []
    for _ in range(blocks):
        start = time.perf_counter()
        rpc_call(w3, "evm_mine")
        runs.append(time.perf_counter() - start)
    return round(1_000 * statistics.median_high(runs), 1)


# ---------------------------------------------------------------- scan rates


def _scan_rates(
    keeper: Keeper, views: Views, engine: Engine, block: int, sample: int, repeat: int
) -> dict[str, Any]:
    ch = engine.clearinghouse
    accts = views.accounts(block)
    n = len(accts)
    out: dict[str, Any] = {"block": block, "accounts": n, "max_page": PAGE}

    # The keeper's pass: its replica (backfilled above) valued at the block:
    # the marks (a few calls per asset and market), the screen, the exact
    # model on the candidates. The first pass also builds the screen's arrays.
    runs = []
    stats = PassStats()
    for _ in range(repeat + 1):
        stats = PassStats()
        start = time.perf_counter()
        rows = keeper.scan(block, stats)
        runs.append(time.perf_counter() - start)
        assert stats.accounts == n, (stats.accounts, n)
        assert not [r for r in rows if r.equity < r.mm]  # before the shock
    seconds = statistics.median_high(runs[1:])
    out["replica"] = {
        "first_pass_seconds": round(runs[0], 3),
        "seconds": round(seconds, 3),
        "runs": [round(r, 3) for r in runs[1:]],
        "candidates": stats.valued,
        "accounts_per_s": _rate(n, seconds),
    }

    # The lens's pages (what `xmargin accounts` reads), through Ape.
    batched = {}
    for page in PAGES:
        runs = []
        for _ in range(repeat if page == PAGE and n <= 2_000 else 1):
            start = time.perf_counter()
            got = sum(len(rows) for rows in health_pages(engine, n, page, block))
            runs.append(time.perf_counter() - start)
            assert got == n
        seconds = statistics.median_high(runs)
        batched[str(page)] = {
            "calls": -(-n // page),
            "seconds": round(seconds, 3),
            "runs": [round(r, 3) for r in runs],
            "accounts_per_s": _rate(n, seconds),
        }
    out["batched_ape"] = batched
    # The view's page is a constant (MAX_PAGE): asking for more returns 50 rows.
    lens = engine.require_lens()
    out["larger_pages"] = {
        str(p): "capped: the view returns "
        f"{len(lens.account_healths(ch, 0, p, block_id=block))} rows"
        for p in LARGER_PAGES
    }

    k = min(sample, n)
    step = n / k
    picks = [accts[int(i * step)] for i in range(k)]
    start = time.perf_counter()
    for owner, sub_id in picks:
        ch.account_health(owner, sub_id, block_id=block)
    seconds = time.perf_counter() - start
    per = {
        "calls": k,
        "seconds": round(seconds, 3),
        "accounts_per_s": _rate(k, seconds),
        "sampled": k < n,
    }
    if k < n:
        per["extrapolated_seconds_all"] = round(seconds * n / k, 1)
    out["per_account_ape"] = per
    out["ratio_ape"] = round(batched[str(PAGE)]["accounts_per_s"] / per["accounts_per_s"], 1)

    # The same two ways as bare eth_calls, one HTTP request each.
    start = time.perf_counter()
    rows = 0
    for s in range(0, n, PAGE):
        rows += len(views.healths_page(s, PAGE, block))
    seconds = time.perf_counter() - start
    assert rows == n
    raw_batched = {
        "calls": -(-n // PAGE),
        "seconds": round(seconds, 3),
        "accounts_per_s": _rate(n, seconds),
    }
    start = time.perf_counter()
    for owner, sub_id in picks:
        views.per_account(owner, sub_id, block)
    seconds = time.perf_counter() - start
    raw_per = {
        "calls": k,
        "seconds": round(seconds, 3),
        "accounts_per_s": _rate(k, seconds),
        "sampled": k < n,
    }
    # Every page in one JSON-RPC batch request (a node's ceiling, no Python per call).
    start = time.perf_counter()
    datas = [
        calldata("account_healths(address,uint256,uint256)", views.to, s, PAGE)
        for s in range(0, n, PAGE)
    ]
    rows = sum(len(decode([HEALTH_ROW], r)[0]) for r in views._calls(datas, block, views.lens))
    seconds = time.perf_counter() - start
    raw_one_request = {
        "calls": len(datas),
        "http_requests": -(-len(datas) // RPC_BATCH),
        "seconds": round(seconds, 3),
        "accounts_per_s": _rate(n, seconds),
    }
    out["raw_jsonrpc"] = {
        "batched": raw_batched,
        "per_account": raw_per,
        "batched_in_one_jsonrpc_batch": raw_one_request,
        "ratio": round(raw_batched["accounts_per_s"] / raw_per["accounts_per_s"], 1),
    }
    return out


# ---------------------------------------------------------------- one size


def run_size(
    n: int,
    sample: int,
    repeat: int,
    steps_tracing: bool,
    console: Console,
    interval: int = 12,
    capacity: str = "off",
    block_gas: tuple[int, ...] = BLOCK_GAS,
) -> dict:
    started = time.perf_counter()
    result: dict[str, Any] = {"accounts": n}
    with anvil(steps_tracing) as (url, cmd):
        result["anvil_command"] = cmd[1:]
        with networks.parse_network_choice(NETWORK, provider_settings={"host": url}) as provider:
            setup: dict[str, Any] = {"anvil_start_seconds": round(time.perf_counter() - started, 2)}
            owner = accounts.test_accounts[0]
            t = time.perf_counter()
            deployed = deploy_scratch(project, provider, owner, load_config("local"))
            engine = load_engine(project, deployed.record)
            ch = engine.clearinghouse
            setup["deploy_seconds"] = round(time.perf_counter() - t, 2)
            setup["deploy_transactions"] = deployed.transactions

            head = provider.chain_manager.blocks.head.number
            prices = {m.symbol: m.price for m in read_markets(engine, head)}
            owners = [str(accounts.test_accounts[i].address) for i in OWNER_INDEXES]
            quote_decimals = engine.record.assets[engine.quote_symbol].decimals
            plan = plan_crowd(owners, n, prices, quote_decimals)

            t = time.perf_counter()
            setup["oi_caps"] = _raise_oi_caps(engine, owner, plan)
            # At least LP_DEPOSIT, and what the crowd needs under the pool's caps.
            lp_amount = max(parse_units(LP_DEPOSIT, quote_decimals), backing_needed(engine, plan))
            provide(engine, accounts.test_accounts[LP_INDEX], lp_amount)
            setup["caps_and_lp_seconds"] = round(time.perf_counter() - t, 2)

            w3 = connect(url)
            bulk = Bulk(w3)
            t = time.perf_counter()
            txs = crowd_transactions(
                bulk,
                ch.address,
                engine.tokens[engine.quote_symbol].address,
                dict(engine.record.markets),
                plan,
            )
            build = time.perf_counter() - t
            stats = bulk.run(txs)
            setup["bulk"] = {
                "transactions": stats.transactions,
                "blocks": stats.blocks,
                "gas_used": stats.gas_used,
                "build_seconds": round(build, 2),
                "send_seconds": round(stats.send_seconds, 2),
                "mine_seconds": round(stats.mine_seconds, 2),
                "receipts_check_seconds": round(stats.check_seconds, 2),
                "seconds": round(build + stats.seconds, 2),
                "tx_per_s": _rate(stats.transactions, build + stats.seconds),
            }
            views = Views(w3, ch.address, engine.require_lens().address)
            block = provider.chain_manager.blocks.head.number
            setup["verify"] = _verify_setup(views, engine, plan, prices, block)
            result["anvil_empty_block_ms"] = _block_ms(w3)
            block = provider.chain_manager.blocks.head.number
            setup["seconds"] = round(time.perf_counter() - started, 2)
            result["setup"] = setup
            console.print(
                f"{n:,} accounts: set up in {setup['seconds']:.1f} s "
                f"({stats.transactions:,} bulk transactions in {setup['bulk']['seconds']:.1f} s)"
            )

            # The replica's backfill from the deployment block, cold (what a
            # keeper started now does once): every account event, one
            # eth_getLogs per 10,000 blocks.
            entries: list[dict] = []
            keeper = Keeper(
                engine, accounts.test_accounts[KEEPER_INDEX], KeeperConfig(), log=entries.append
            )
            t = time.perf_counter()
            events = keeper.replica.update(block)
            result["discovery"] = {
                "accounts": len(keeper.replica.replica.accounts),
                "events": events,
                "from_block": keeper.start_block,
                "seconds": round(time.perf_counter() - t, 2),
            }
            result["scan"] = _scan_rates(keeper, views, engine, block, sample, repeat)
            console.print(f"{n:,} accounts: scan rates measured")

            # The same shock on the same state at each block gas limit: a
            # snapshot before the first, reverted to before each next one,
            # with a keeper started afresh (its replica backfilled again).
            result["liquidations"] = []
            snapshot = ""
            for k, limit in enumerate(block_gas):
                if k:
                    rpc_call(w3, "evm_revert", [snapshot])
                    entries = []
                    keeper = Keeper(
                        engine,
                        accounts.test_accounts[KEEPER_INDEX],
                        KeeperConfig(),
                        log=entries.append,
                    )
                    keeper.replica.update(block)
                snapshot = rpc_call(w3, "evm_snapshot")
                result["liquidations"].append(
                    _shock_and_liquidate(
                        keeper, entries, views, engine, owner, w3, interval, capacity, limit
                    )
                )
                console.print(f"{n:,} accounts: liquidated at a {limit:,} gas block limit")
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _shock_and_liquidate(
    keeper: Keeper,
    entries: list[dict],
    views: Views,
    engine: Engine,
    owner: Any,
    w3: Web3,
    interval: int,
    capacity: str,
    block_gas: int,
) -> dict[str, Any]:
    ch = engine.clearinghouse
    chain = ch.chain_manager
    accts = views.accounts(chain.blocks.head.number)
    n = len(accts)

    # The setup raised the block gas limit for its bulk blocks: back to a
    # real chain's before the keeper runs.
    rpc_call(w3, "anvil_setBlockGasLimit", [hex(block_gas)])
    if capacity == "off":
        # The owner lifts the per-window liquidation cap (factor 0): with it,
        # a crowd this size waits several windows whatever the keeper does.
        ch.set_liquidation_capacity(30, 0, sender=owner)
    shock_prices(engine, owner, SHOCK_BPS)
    shock_block = chain.blocks.head.number
    if interval:
        # From here a block every `interval` s, as on a live chain: the
        # keeper's transactions wait in the pool for the next one.
        rpc_call(w3, "evm_setIntervalMining", [interval])
    # Who is liquidatable now, read before the keeper runs (bare eth_calls).
    flags = views.is_liquidatable(accts, shock_block)
    doomed = {a for a, f in zip(accts, flags, strict=True) if f}
    assert views.to_liquidate(n, shock_block) == doomed, "accounts_to_liquidate != is_liquidatable"

    entries.clear()
    keeper_address = str(keeper.sender.address)
    nonce_before = int(rpc_call(w3, "eth_getTransactionCount", [keeper_address, "latest"]), 16)
    timings: dict[str, float] = {}
    keeper.scan = _timed(keeper.scan, timings, "scan")  # type: ignore[method-assign]
    passes = []
    keeper_seconds = 0.0
    cleared_after: int | None = None
    cleared_seconds = 0.0
    windows_waited = 0
    meter = Meter()
    for _ in range(MAX_PASSES):
        with meter.on():
            stats = keeper.run_once()
        keeper_seconds += stats.seconds
        passes.append(stats.__dict__.copy())
        # The clock stops here: an independent check over the whole registry.
        left = views.to_liquidate(n, chain.blocks.head.number)
        if not left and cleared_after is None:
            cleared_after = len(passes)
            cleared_seconds = keeper_seconds
        if stats.liquidatable == 0:
            break
        if stats.capacity_waits:
            # The markets' liquidation windows are used up (the capacity,
            # docs/orders.md): as a live keeper would, wait for the next
            # window (not counted in the keeper's seconds).
            window = int(engine.clearinghouse.liquidation_capacity(0)[0])
            rpc_call(w3, "evm_increaseTime", [window])
            rpc_call(w3, "evm_mine")
            windows_waited += 1
    del keeper.scan
    if interval:
        rpc_call(w3, "evm_setIntervalMining", [0])
        rpc_call(w3, "evm_setAutomine", [True])
    assert cleared_after is not None, f"still liquidatable after {MAX_PASSES} passes: {passes}"

    head = chain.blocks.head.number
    left = [a for a, f in zip(accts, views.is_liquidatable(accts, head), strict=True) if f]
    liquidations = _event_logs(w3, ch, "Liquidation", shock_block + 1, head)
    bad_debts = _event_logs(w3, ch, "BadDebt", shock_block + 1, head)
    collateral = _event_logs(w3, ch, "CollateralLiquidation", shock_block + 1, head)
    touched = {_account_of(e) for e in liquidations}
    last_block = max((e["block"] for e in liquidations), default=shock_block)
    full = sum(e["new_size"] == 0 for e in liquidations)

    # Tokens in the Clearinghouse == every quote ledger, to the wei.
    quote = engine.tokens[engine.quote_symbol]
    every = [*accts, (keeper_address, 0)]
    balances = views.reads(
        "balance_of(address,uint256,address)",
        [(o, s, quote.address) for o, s in every],
        head,
        ["int256"],
    )
    ledgers = (
        sum(b for (b,) in balances)
        + ch.pool_balance(block_id=head)
        + ch.insurance_fund(block_id=head)
    )
    held = quote.balanceOf(ch.address, block_id=head)

    checks = {
        "left_liquidatable": len(left),
        "liquidated_accounts": len(touched),
        "liquidated_subset_of_liquidatable_after_shock": touched <= doomed,
        "every_liquidatable_account_liquidated": doomed <= touched,
        "bad_debt_accounts_subset": {_account_of(e) for e in bad_debts} <= doomed,
        "all_by_the_keeper": all(
            to_checksum_address(e["liquidator"]) == keeper_address for e in liquidations
        ),
        "events_match_keeper_stats": len(liquidations) == sum(p["liquidations"] for p in passes),
        "usdc_held_equals_ledgers": held == ledgers,
    }
    assert not left, f"{len(left)} account(s) still liquidatable"
    assert touched <= doomed, f"healthy accounts liquidated: {sorted(touched - doomed)[:3]}"
    assert all(v for k, v in checks.items() if isinstance(v, bool)), checks

    # How the blocks after the shock filled: the keeper's transactions in
    # each, the gas limits they asked for and the gas they used (blocks
    # are filled by limit, not use).
    fill = []
    for number in range(shock_block + 1, last_block + 1):
        block = rpc_call(w3, "eth_getBlockByNumber", [hex(number), True])
        mine = [t for t in block["transactions"] if t["from"].lower() == keeper_address.lower()]
        used = 0
        for t in mine:
            used += int(rpc_call(w3, "eth_getTransactionReceipt", [t["hash"]])["gasUsed"], 16)
        fill.append(
            {
                "block": number,
                "keeper_txs": len(mine),
                "gas_limits": sum(int(t["gas"], 16) for t in mine),
                "gas_used": used,
                "block_gas_used": int(block["gasUsed"], 16),
            }
        )
    # Transactions the keeper sent (mined): its nonce moved by that much.
    txs = (
        int(rpc_call(w3, "eth_getTransactionCount", [keeper_address, "latest"]), 16) - nonce_before
    )
    read_seconds = timings.get("scan", 0.0)
    act_seconds = keeper_seconds - read_seconds
    return {
        "shock_bps": SHOCK_BPS,
        "shock_block": shock_block,
        "liquidatable_after_shock": len(doomed),
        "liquidatable_fraction": round(len(doomed) / n, 4),
        "passes": passes,
        "passes_to_clear": cleared_after,
        # blocks from the shock's to the one holding the last liquidation
        "blocks_to_clear": last_block - shock_block,
        "block_interval_s": interval,
        "block_gas_limit": block_gas,
        "capacity": capacity,
        "batches": sum(p["batches"] for p in passes),
        "replaced": sum(p["replaced"] for p in passes),
        # liquidation windows the keeper waited out (the capacity)
        "windows_waited": windows_waited,
        "seconds_to_clear": round(cleared_seconds, 2),
        "keeper_seconds_all_passes": round(keeper_seconds, 2),
        "liquidations": len(liquidations),
        "full_closes": full,
        "partial_closes": len(liquidations) - full,
        "bad_debts": len(bad_debts),
        "collateral_liquidations": len(collateral),
        "keeper_transactions": txs,
        # gas of the keeper's liquidations (each item's share of its batch)
        "liquidation_gas": sum(e.get("gas", 0) for e in entries if e["event"] == "liquidated"),
        "where_time_goes": {
            "scan_seconds": round(timings.get("scan", 0.0), 2),
            "liquidating_seconds": round(act_seconds, 2),
            "seconds_per_liquidation_tx": round(act_seconds / txs, 4) if txs else None,
            "http_requests": meter.http_requests,
            "http_seconds": round(meter.http_seconds, 2),
            "receipt_poll_sleeps": meter.sleeps,
            "receipt_poll_sleep_seconds": round(meter.sleep_seconds, 2),
            "python_seconds": round(keeper_seconds - meter.http_seconds - meter.sleep_seconds, 2),
        },
        "checks": checks,
        "block_fill": fill,
        # each batch as sent (nonce, the head then, gas limit) and any
        # sent again with higher fees (the block it was mined in)
        "batch_sends": [e for e in entries if e["event"] in ("batch_sent", "batch_replaced")],
    }


# ---------------------------------------------------------------- report


def print_report(results: dict, console: Console) -> None:
    scan = Table(title="Keeper scan rate on anvil (one pinned block)")
    for col in ("accounts", "how", "calls", "seconds", "accounts/s", "x per-account"):
        scan.add_column(col, justify="left" if col == "how" else "right")
    for size in results["sizes"].values():
        s = size["scan"]
        n = f"{s['accounts']:,}"
        per = s["per_account_ape"]["accounts_per_s"]
        r = s["replica"]
        scan.add_row(
            n,
            f"keeper's replica, valued locally ({r['candidates']:,} by the exact model)",
            "marks only",
            f"{r['seconds']:.2f}",
            f"{r['accounts_per_s']:,.0f}",
            f"{r['accounts_per_s'] / per:.1f}",
        )
        for page, r in s["batched_ape"].items():
            scan.add_row(
                n,
                f"lens pages of {page} (xmargin accounts, Ape)",
                f"{r['calls']:,}",
                f"{r['seconds']:.2f}",
                f"{r['accounts_per_s']:,.0f}",
                f"{r['accounts_per_s'] / per:.1f}",
            )
        for page, what in s["larger_pages"].items():
            scan.add_row(n, f"lens pages of {page}", "-", "-", "-", what)
        p = s["per_account_ape"]
        note = f" (sample, all ~{p['extrapolated_seconds_all']:.0f} s)" if p["sampled"] else ""
        scan.add_row(
            n,
            "one account_health per account (Ape)" + note,
            f"{p['calls']:,}",
            f"{p['seconds']:.2f}",
            f"{per:,.0f}",
            "1.0",
        )
        raw = s["raw_jsonrpc"]
        raw_per = raw["per_account"]["accounts_per_s"]
        for label, key in (
            ("batched, pages of 50 (bare eth_call)", "batched"),
            ("all pages in one JSON-RPC batch request", "batched_in_one_jsonrpc_batch"),
            ("one account_health per account (bare eth_call)", "per_account"),
        ):
            r = raw[key]
            scan.add_row(
                n,
                label,
                f"{r['calls']:,}",
                f"{r['seconds']:.2f}",
                f"{r['accounts_per_s']:,.0f}",
                f"{r['accounts_per_s'] / raw_per:.1f} (bare)",
            )
        scan.add_section()
    console.print(scan)

    liq = Table(
        title="From the price shock to every liquidatable account liquidated (keeper passes)",
        caption=(
            "passes: keeper passes until accounts_to_liquidate finds none, + the keeper's own "
            "confirming pass; s to clear: keeper time over those passes (the replica's "
            "backfill already done, as a running keeper's is); s per liq: (pass time - scans) "
            "/ transactions; "
            "block wait: web3's 0.1 s receipt polls while anvil mines each transaction's block "
            "(empty block ms: what anvil takes per block at this state size); HTTP: every "
            "JSON-RPC request; Python: the rest (Ape and the keeper)"
        ),
    )
    for col in (
        "accounts",
        "liquidatable",
        "block gas",
        "passes",
        "liqs (full/part)",
        "bad debts",
        "blocks",
        "txs",
        "s to clear",
        "liq/s",
        "s per liq",
        "scan s",
        "block wait s",
        "HTTP s",
        "Python s",
        "empty block ms",
    ):
        liq.add_column(col, justify="right")
    for size, r in _liquidations(results):
        w = r["where_time_goes"]
        per_tx = w["seconds_per_liquidation_tx"]  # None when nothing was liquidated
        liq.add_row(
            f"{size['accounts']:,}",
            f"{r['liquidatable_after_shock']:,} ({100 * r['liquidatable_fraction']:.1f} %)",
            f"{r['block_gas_limit'] / 1e6:.0f}M",
            f"{r['passes_to_clear']}+{len(r['passes']) - r['passes_to_clear']}",
            f"{r['liquidations']:,} ({r['full_closes']:,}/{r['partial_closes']:,})",
            f"{r['bad_debts']:,}",
            f"{r['blocks_to_clear']} of {r['block_interval_s']} s"
            if r["block_interval_s"]
            else f"{r['blocks_to_clear']} (a block per tx)",
            f"{r['keeper_transactions']:,} ({r['batches']} batches)",
            f"{r['seconds_to_clear']:.1f}",
            f"{r['liquidations'] / r['seconds_to_clear']:.1f}" if r["seconds_to_clear"] else "-",
            "-" if per_tx is None else f"{per_tx:.3f}",
            f"{w['scan_seconds']:.1f}",
            f"{w['receipt_poll_sleep_seconds']:.1f}",
            f"{w['http_seconds']:.1f}",
            f"{w['python_seconds']:.1f}",
            f"{size['anvil_empty_block_ms']:.0f}",
        )
    console.print(liq)

    setup = Table(title="Setup (fresh anvil per size)")
    for col in (
        "accounts",
        "deploy s",
        "bulk tx",
        "blocks",
        "bulk s",
        "tx/s",
        "verify s",
        "backfill s",
        "total s",
    ):
        setup.add_column(col, justify="right")
    for size in results["sizes"].values():
        s, b = size["setup"], size["setup"]["bulk"]
        setup.add_row(
            f"{size['accounts']:,}",
            f"{s['deploy_seconds']:.1f}",
            f"{b['transactions']:,}",
            str(b["blocks"]),
            f"{b['seconds']:.1f}",
            f"{b['tx_per_s']:,.0f}",
            f"{s['verify']['seconds']:.1f}",
            f"{size['discovery']['seconds']:.1f}",
            f"{s['seconds']:.1f}",
        )
    console.print(setup)
    for size, r in _liquidations(results):
        checks = r["checks"]
        ok = all(v for v in checks.values() if isinstance(v, bool))
        verdict = "all checks passed" if ok else "[red]CHECK FAILED[/red]"
        console.print(
            f"{size['accounts']:,} accounts, {r['block_gas_limit'] / 1e6:.0f}M gas blocks: "
            f"{verdict}: "
            f"0 left liquidatable, {checks['liquidated_accounts']:,} liquidated == the "
            f"{r['liquidatable_after_shock']:,} liquidatable after the shock, "
            f"USDC held == ledgers; max OI per side "
            + ", ".join(_cap(k, v) for k, v in size["setup"]["oi_caps"].items())
        )


def _liquidations(results: dict) -> Iterator[tuple[dict, dict]]:
    """Each size with each of its liquidation runs (one per block gas limit)."""
    for size in results["sizes"].values():
        for r in size["liquidations"]:
            yield size, r


def _cap(symbol: str, cap: dict) -> str:
    if cap["max_oi_set"] == cap["max_oi_config"]:
        return f"{symbol} {cap['max_oi_config']:,.0f} (config)"
    return f"{symbol} raised {cap['max_oi_config']:,.0f} -> {cap['max_oi_set']:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts", default=",".join(str(s) for s in SIZES), help="e.g. 1000,10000"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=1_000,
        help="accounts timed one call each (extrapolated beyond)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the page-50 scan (median)")
    parser.add_argument(
        "--steps-tracing", action="store_true", help="keep ape-foundry's --steps-tracing (slow)"
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=12,
        help="seconds per block after the shock (anvil interval mining; 0: a block per tx)",
    )
    parser.add_argument(
        "--capacity",
        choices=("off", "config"),
        default="off",
        help="the per-window liquidation cap: lifted by the owner, or as configured",
    )
    parser.add_argument(
        "--block-gas",
        default=",".join(str(g) for g in BLOCK_GAS),
        help="block gas limits after the setup, each a liquidation run from the same state",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.accounts.split(",") if s.strip()]
    block_gas = tuple(int(g) for g in args.block_gas.split(",") if g.strip())

    logger.set_level("ERROR")
    console = Console(width=160)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "network": NETWORK,
        "host": {"cores": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2)},
        "settings": {
            "crowd": "xmargin.ops.crowd.plan_crowd, sub-accounts 100+ of test accounts 1-8",
            "keeper": f"test account {KEEPER_INDEX}, KeeperConfig() defaults",
            "lp_deposit_usdc": LP_DEPOSIT,
            "oi_cap_headroom": OI_HEADROOM,
            "shock_bps": SHOCK_BPS,
            "block_interval_s_after_shock": args.interval,
            "block_gas_limits_after_setup": list(block_gas),
            "liquidation_capacity": args.capacity,
            "per_account_sample": args.sample,
            "page_50_scan_runs": args.repeat,
            "steps_tracing": args.steps_tracing,
            "anvil": "ape-foundry's command line"
            + ("" if args.steps_tracing else " without --steps-tracing"),
            "scan_pages": list(PAGES),
        },
        "sizes": {},
    }
    for n in sizes:
        results["sizes"][str(n)] = run_size(
            n,
            args.sample,
            args.repeat,
            args.steps_tracing,
            console,
            args.interval,
            args.capacity,
            block_gas,
        )
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    # The JSON first: a report that fails to print must not lose the run.
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results, console)
    console.print(f"whole benchmark: {results['wall_seconds']:.0f} s")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
