"""Where xmargin's gas goes: opcode-level attribution from anvil traces.

    python benchmarks/gas_profile.py            (Ape's compiled contracts, as gas.py)
    python benchmarks/gas_profile.py --fresh    (a private fresh compile of contracts/)

Deploys with the real deploy pipeline (config/local.yaml plus seven more
mock assets, so that ten markets each have their own feed, as on a real
deployment, and four more markets that share the WETH feed, as
benchmarks/gas.py's markets do), builds accounts with 1, 5 and 10 positions
and 0, 1, 3 and 5 collateral assets, and liquidates 1- and 5-position
accounts. Each view is traced with `debug_traceCall` (in the block it was
set up in), each transaction with `debug_traceTransaction` (struct logs,
stack on, memory and storage off), and every opcode's gas is attributed to

- a category: cold / warm SLOAD, SSTORE by kind (0 -> non-zero, non-zero ->
  other, dirty or no-op), call overhead (the cold-account surcharge
  separately), LOG, KECCAK256, transient storage (the reentrancy lock),
  memory, and the rest (stack, arithmetic, jumps); refunds are shown per
  transaction;
- the contract whose code runs it (Clearinghouse, ClearinghouseLiquidator
  by delegatecall, OracleRouter, each feed, each token), and the source
  function (the compiler's pc map), when the deployed code is what the
  sources compile to;
- for SLOAD / SSTORE, the storage variable and struct field, from the
  compiler's storage layout (`vyper -f layout`) and the keys in play.

Marginal costs are differences of traces: per position (10 vs 1 position,
own feeds; 5 vs 1 on one shared feed) and per collateral asset (3 vs 1,
5 vs 1). Whole-transaction gas (21,000 + calldata + execution - refund) is
reconciled against the node's own figure for every trace.

What-if projections replay each trace's storage accesses under other
layouts (packed structs, merged slots, immutables), a per-transaction price
cache, a stored price snapshot and no delegatecall hop (see CHANGES).
Replaying with no change reproduces the measured gas exactly (checked).

Prints tables and writes benchmarks/results/gas_profile.json.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from ape import accounts, chain, networks, project
from ape.logging import logger
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from xmargin.chain.config import CONFIG_DIR, parse_config
from xmargin.chain.engine import Engine, load_engine, shock_prices
from xmargin.ops.deploy import deploy_scratch
from xmargin.ops.lp import provide

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "gas_profile.json"
NETWORK = "ethereum:local:foundry"
LIMIT = 2**255  # acceptable price of a buy: any
# The core and the extensions that run on its storage (one layout).
ENGINE_CONTRACTS = (
    "Clearinghouse",
    "ClearinghouseLiquidator",
    "ClearinghousePool",
    "ClearinghouseAdmin",
)

# Seven more mock assets, so ten markets can each have their own feed.
EXTRA_ASSETS = {
    "UNI": "10",
    "AAVE": "100",
    "SOL": "150",
    "ARB": "1",
    "OP": "2",
    "MKR": "2000",
    "CRV": "1",
}
# Markets 0..9 on their own feeds; 10..13 copies of ETH-PERP on the WETH feed.
OWN_FEED_MARKETS = ["WETH", "WBTC", "LINK", "UNI", "AAVE", "SOL", "ARB", "OP", "MKR", "CRV"]
SHARED_FEED_MARKETS = 4
BATCHES = (10, 30)  # accounts in the two liquidate_many probes
COLLATERAL_ORDER = ["WETH", "WBTC", "LINK", "UNI", "AAVE"]
# Whole tokens of each collateral deposited.
COLLATERAL_AMOUNT = {"WETH": 10, "WBTC": 1, "LINK": 1000, "UNI": 1000, "AAVE": 100}

CALL_OPS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
ACCESS_OPS = {"BALANCE", "EXTCODESIZE", "EXTCODEHASH", "EXTCODECOPY"}
MEMORY_OPS = {
    "MLOAD",
    "MSTORE",
    "MSTORE8",
    "MCOPY",
    "CALLDATACOPY",
    "RETURNDATACOPY",
    "CODECOPY",
    "RETURN",
    "REVERT",
}

# Category names, in display order.
CATEGORIES = [
    "SLOAD cold",
    "SLOAD warm",
    "SSTORE 0->nonzero",
    "SSTORE nonzero->other",
    "SSTORE dirty/no-op",
    "call: cold account (2600)",
    "call: warm access + memory",
    "account access (EXTCODESIZE...)",
    "LOG",
    "KECCAK256",
    "transient (lock)",
    "memory",
    "compute (stack/arith/jump)",
]


# ---------------------------------------------------------------- the world


def world_config() -> Any:
    """config/local.yaml plus seven mock assets and twelve more markets."""
    raw = yaml.safe_load((CONFIG_DIR / "local.yaml").read_text())
    for symbol, price in EXTRA_ASSETS.items():
        raw["assets"].append(
            {
                "symbol": symbol,
                "name": f"{symbol} (mock)",
                "decimals": 18,
                "im_haircut": "0.30",
                "mm_haircut": "0.20",
                "cap": "100000000",
                "feed": {
                    "decimals": 8,
                    "price": price,
                    "heartbeat": 3600,
                    "min_price": "0.01",
                    "max_price": "1000000",
                },
            }
        )
    template = dict(raw["markets"][0])
    markets = raw["markets"][:2]
    for symbol in OWN_FEED_MARKETS[2:]:
        markets.append({**template, "symbol": f"{symbol}-PERP", "asset": symbol})
    for k in range(SHARED_FEED_MARKETS):
        markets.append({**template, "symbol": f"ETH-PERP-{k + 2}", "asset": "WETH"})
    raw["markets"] = markets
    # Every asset needs a risk group (portfolio margin): the extra ones
    # join the altcoins'.
    raw["portfolio"]["groups"]["ALT"] += list(EXTRA_ASSETS)
    return parse_config(raw, name="gas-profile")


@dataclass
class Probe:
    """One thing to trace: a view (`call`) or a mined transaction (`tx_hash`)."""

    name: str
    call: dict[str, Any] | None = None
    block: int | None = None  # a view is traced in the block it was set up in
    tx_hash: str | None = None
    # Gas the node reports: eth_estimateGas for a view, the receipt for a tx.
    reported: int = 0


@dataclass
class World:
    provider: Any
    root: Path  # where the contracts it deployed were compiled from
    engine: Engine
    names: dict[str, str]  # lower-case address -> contract label
    eoas: list[str]
    probes: dict[str, Probe] = field(default_factory=dict)


def _mine(provider: Any, seconds: int) -> None:
    """Moves the chain's clock on, so funding has accrued since the last touch
    (a health view in a later block, as a keeper would read it)."""
    provider.make_request("evm_increaseTime", [seconds])
    provider.make_request("evm_mine", [])


def _view_probe(name: str, method: Any, *args: Any, sender: Any) -> Probe:
    tx = method.as_transaction(*args, sender=sender)
    call = {"from": sender.address, "to": tx.receiver, "data": "0x" + bytes(tx.data).hex()}
    block = chain.blocks.head.number
    return Probe(
        name, call=call, block=block, reported=method.estimate_gas_cost(*args, sender=sender)
    )


def _tx_probe(name: str, receipt: Any) -> Probe:
    return Probe(name, tx_hash=receipt.txn_hash, reported=receipt.gas_used)


def build_world(provider: Any, project: Any, root: Path) -> World:
    owner, trader, lp, keeper = (accounts.test_accounts[i] for i in range(4))
    engine = load_engine(project, deploy_scratch(project, provider, owner, world_config()).record)
    ch, usdc, tokens = engine.clearinghouse, engine.tokens["USDC"], engine.tokens
    record = engine.record
    names = {
        ch.address.lower(): "Clearinghouse",
        record.contracts["ClearinghouseLiquidator"].lower(): "ClearinghouseLiquidator",
        record.contracts["ClearinghouseAdmin"].lower(): "ClearinghouseAdmin",
        record.contracts["ClearinghousePool"].lower(): "ClearinghousePool",
        engine.router.address.lower(): "OracleRouter",
        engine.pool.address.lower(): "LiquidityPool",
    }
    for symbol, token in tokens.items():
        names[token.address.lower()] = f"token {symbol}"
    for symbol, feed in engine.feeds.items():
        names[feed.address.lower()] = f"feed {symbol}"
    eoas = [a.address for a in (owner, trader, lp, keeper)]
    world = World(provider, root, engine, names, eoas)

    big = 10**8 * 10**6
    usdc.mint(trader, big, sender=trader)
    usdc.approve(ch.address, big, sender=trader)
    provide(engine, lp, big // 10)
    for symbol, whole in COLLATERAL_AMOUNT.items():
        amount = whole * 10 ** record.assets[symbol].decimals
        tokens[symbol].mint(trader, amount * 4, sender=trader)
        tokens[symbol].approve(ch.address, amount * 4, sender=trader)

    def hold(sub: int, symbols: list[str], quote: int = 0) -> None:
        if quote:
            ch.deposit(sub, usdc.address, quote, sender=trader)
        for s in symbols:
            amount = COLLATERAL_AMOUNT[s] * 10 ** record.assets[s].decimals
            ch.deposit(sub, tokens[s].address, amount, sender=trader)

    def open_positions(sub: int, markets: list[int], size: int = 10**16) -> None:
        for m in markets:
            ch.trade(sub, m, size, LIMIT, sender=trader)

    # Collateral only: the quote asset alone, then 1, 3 and 5 other assets.
    hold(1, [], quote=10_000 * 10**6)
    for sub, n in ((2, 1), (3, 3), (5, 5)):
        hold(sub, COLLATERAL_ORDER[:n])
    # Positions on a quote margin: own feeds (1, 5, 10), one shared feed (1 + 4).
    own = list(range(len(OWN_FEED_MARKETS)))
    shared = [0, *range(len(OWN_FEED_MARKETS), len(OWN_FEED_MARKETS) + SHARED_FEED_MARKETS)]
    for sub, markets in ((11, own[:1]), (15, own[:5]), (20, own), (21, shared)):
        hold(sub, [], quote=100_000 * 10**6)
        open_positions(sub, markets)
    # The target account: 10 positions and 5 collateral assets (+ quote).
    hold(30, COLLATERAL_ORDER, quote=100_000 * 10**6)
    open_positions(30, own)
    # To liquidate: ~$10,000 longs on margin just above IM, as gas.py builds them.
    prices = {m: ch.market_params(m).asset for m in own[:9]}
    prices = {m: engine.router.price(a) for m, a in prices.items()}
    for sub, n in ((41, 1), (42, 1), (45, 5)):
        hold(sub, [], quote=1_050 * n * 10**6)
        for m in range(n):
            ch.trade(sub, m, 10_000 * 10**36 // prices[m], LIMIT, sender=trader)

    # Two batches of one-position accounts, half on each of markets 0 and 1
    # (as gas.py's): their difference is the per-account cost in a batch.
    batches = {
        n: [(trader.address, 200 + n + i, i % 2, 2**96, 0) for i in range(n)] for n in BATCHES
    }
    # Two more on markets 5 and 8 (SOL and MKR: sizes too small for a
    # size add-on), which a deeper shock later takes below
    # zero equity: each closed whole and its deficit written off (the
    # keeper crowd's commonest item).
    under = {
        n: [(trader.address, 300 + n + i, 5 + 3 * (i % 2), 2**96, 0) for i in range(n)]
        for n in BATCHES
    }
    for items in (*batches.values(), *under.values()):
        for _, sub, m, _, _ in items:
            hold(sub, [], quote=1_050 * 10**6 // 4)
            ch.trade(sub, m, 10_000 * 10**36 // prices[m] // 4, LIMIT, sender=trader)
    _mine(provider, 60)
    probe = world.probes
    for sub, label in ((1, "quote only"), (2, "1 asset"), (3, "3 assets"), (5, "5 assets")):
        name = f"account_health: collateral, {label}"
        probe[name] = _view_probe(name, ch.account_health, trader, sub, sender=trader)
    for sub, label in ((11, "1"), (15, "5"), (20, "10"), (21, "5 shared-feed")):
        name = f"account_health: {label} position(s)"
        probe[name] = _view_probe(name, ch.account_health, trader, sub, sender=trader)
    name = "account_health: 10 positions + 5 assets (target)"
    probe[name] = _view_probe(name, ch.account_health, trader, 30, sender=trader)

    # Every market 0..4 feed -8 %, then a minute later the liquidations.
    shock_prices(engine, owner, {s: -800 for s in OWN_FEED_MARKETS[:5]})
    _mine(provider, 60)
    # The first liquidation ever (as gas.py's 1-position row) creates the
    # keeper's sub-account 0 quote balance and its held bit (0 -> non-zero
    # writes; the insurance fund shares a word with the pool's cash, which
    # is set). The next ones find both set.
    for sub, name in (
        (41, "liquidate: 1 position (first ever)"),
        (42, "liquidate: 1 position (steady state)"),
        (45, "liquidate: 5 positions (steady state)"),
    ):
        assert engine.require_lens().is_liquidatable(ch, trader, sub), sub
        _mine(provider, 12)  # a later block: funding accrues (dt > 0), as on a live chain
        receipt = ch.liquidate(trader, sub, 0, 2**96, 0, sender=keeper)
        probe[name] = _tx_probe(name, receipt)
    for n, items in batches.items():
        chain.mine(deltatime=31)  # a fresh liquidation window
        receipt = ch.liquidate_many(items, sender=keeper)
        assert len(receipt.events.filter(ch.Liquidation)) == n, n
        name = f"liquidate_many: {n} accounts, 2 markets"
        probe[name] = _tx_probe(name, receipt)
    # Markets 5 and 8 fall 20 %: equity below zero, bad debt.
    shock_prices(engine, owner, {s: -2_000 for s in (OWN_FEED_MARKETS[5], OWN_FEED_MARKETS[8])})
    _mine(provider, 60)
    for n, items in under.items():
        chain.mine(deltatime=31)
        receipt = ch.liquidate_many(items, sender=keeper)
        assert len(receipt.events.filter(ch.BadDebt)) == n, n
        name = f"liquidate_many: {n} accounts in bad debt"
        probe[name] = _tx_probe(name, receipt)
    return world


# ---------------------------------------------------------------- storage labels


def _vyper(contract: str, formats: str, root: Path = ROOT) -> list[Any]:
    """`vyper -f formats contract` in `root`, one JSON (or hex) value per format."""
    site = sysconfig.get_paths()["purelib"]
    out = subprocess.run(
        [sys.executable, "-m", "vyper", "-f", formats, "-p", site, "-p", str(root), contract],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        line if line.startswith("0x") else json.loads(line)
        for line in out.stdout.splitlines()
        if line
    ]


def _function_at(fmap: dict[int, str], pc: int) -> str:
    """The function of the nearest mapped pc at or before `pc` (the compiler maps
    only some instructions; a function's code is contiguous)."""
    pcs = fmap["pcs"]  # type: ignore[index]
    i = bisect.bisect_right(pcs, pc) - 1
    return fmap[pcs[i]] if i >= 0 else "(dispatch)"


def _function_map(source_map: dict[str, Any], ast: dict[str, Any]) -> dict[Any, Any]:
    """Runtime pc -> `module.function` whose source line the compiler maps it to."""
    ranges: dict[int, tuple[str, list[tuple[int, int, str]]]] = {}
    for module in [ast["ast"], *ast["imports"]]:
        defs = [
            (n["lineno"], n["end_lineno"], n["name"])
            for n in module.get("body", [])
            if n.get("ast_type") == "FunctionDef"
        ]
        ranges[module["source_id"]] = (Path(module["path"]).stem, defs)
    out = {}
    for pc, (source_id, _) in source_map["pc_ast_map"].items():
        pos = source_map["pc_pos_map"].get(pc)
        module, defs = ranges.get(source_id, ("?", []))
        if pos is None:
            continue
        line = pos[0]
        name = next((f for lo, hi, f in defs if lo <= line <= hi), "(top level)")
        out[int(pc)] = f"{module}.{name}"
    out["pcs"] = sorted(k for k in out if isinstance(k, int))
    return out


def _struct_defs(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Every `struct` in contracts/, as (field, type) lists."""
    structs: dict[str, list[tuple[str, str]]] = {}
    for path in (root / "contracts").rglob("*.vy*"):
        current = None
        for line in path.read_text().splitlines():
            head = re.match(r"^struct (\w+):", line)
            if head:
                current = structs.setdefault(head.group(1), [])
                current.clear()
                continue
            member = re.match(r"^\s+(\w+):\s*(.+?)\s*(#.*)?$", line)
            if current is not None and member:
                current.append((member.group(1), member.group(2)))
            elif current is not None and line.strip() and not line.startswith((" ", "\t")):
                current = None
    return structs


def _split_args(s: str) -> list[str]:
    depth, parts, start = 0, [], 0
    for i, c in enumerate(s):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(s[start:i].strip())
            start = i + 1
    parts.append(s[start:].strip())
    return parts


class SlotLabels:
    """storage slot -> (variable label with keys, label with keys as [.])."""

    def __init__(self, structs: dict[str, list[tuple[str, str]]], keys: dict[str, list]):
        self.structs = structs
        self.keys = keys  # "address" / "uint256" -> candidate keys
        self.labels: dict[int, tuple[str, str]] = {}

    def size(self, t: str) -> int:
        t = re.sub(r"^\w+\.(\w+)$", r"\1", t.strip())  # module.Struct -> Struct
        if t in self.structs:
            return sum(self.size(ft) for _, ft in self.structs[t])
        m = re.match(r"^(String|Bytes)\[(\d+)\]$", t)
        if m:
            return 1 + (int(m.group(2)) + 31) // 32
        m = re.match(r"^DynArray\[(.+),\s*(\d+)\]$", t)
        if m:
            return 1 + int(m.group(2)) * self.size(m.group(1))
        m = re.match(r"^(.+)\[(\d+)\]$", t)
        if m and not t.startswith("HashMap"):
            return int(m.group(2)) * self.size(m.group(1))
        return 1

    def add(self, slot: int, t: str, name: str, group: str) -> None:
        t = t.strip()
        if t.startswith("HashMap["):
            key_t, val_t = _split_args(t[len("HashMap[") : -1])
            kind = "address" if key_t == "address" else "uint256"
            for key in self.keys[kind]:
                raw = key if isinstance(key, int) else int(key, 16)
                h = keccak(slot.to_bytes(32, "big") + raw.to_bytes(32, "big"))
                label = f"0x{raw:040x}" if kind == "address" and raw > 2**64 else str(raw)
                self.add(int.from_bytes(h, "big"), val_t, f"{name}[{label}]", f"{group}[.]")
            return
        struct_t = re.sub(r"^\w+\.(\w+)$", r"\1", t)
        if struct_t in self.structs:
            offset = 0
            for fname, ft in self.structs[struct_t]:
                self.add(slot + offset, ft, f"{name}.{fname}", f"{group}.{fname}")
                offset += self.size(ft)
            return
        m = re.match(r"^(.+)\[(\d+)\]$", t)
        if m and not t.startswith(("String", "Bytes", "DynArray")):
            step = self.size(m.group(1))
            for i in range(int(m.group(2))):
                self.add(slot + i * step, m.group(1), f"{name}[{i}]", f"{group}[.]")
            return
        for i in range(self.size(t)):
            suffix = f"+{i}" if i else ""
            self.labels[slot + i] = (name + suffix, group)

    def add_layout(self, layout: dict[str, Any], prefix: str = "") -> None:
        for name, v in layout.items():
            if isinstance(v, dict) and "slot" in v and "type" in v:
                label = f"{prefix}{name}"
                self.add(int(v["slot"]), v["type"], label, label)
            elif isinstance(v, dict):
                self.add_layout(v, f"{prefix}{name}.")


def compiler_maps(world: World) -> tuple[dict[str, SlotLabels], dict[str, dict[int, str]]]:
    """Storage labellers (Clearinghouse, router, feeds, tokens) and, for the
    contracts whose deployed code matches the compiler's, pc -> function maps."""
    structs = _struct_defs(world.root)
    engine = world.engine
    addresses = [*world.eoas, *world.names]
    keys = {"address": [a.lower() for a in addresses], "uint256": list(range(48))}
    record = world.engine.record.contracts
    labels, functions = {}, {}
    for kind, contract, address in (
        ("Clearinghouse", "contracts/Clearinghouse.vy", engine.clearinghouse.address),
        ("ClearinghouseLiquidator", "contracts/ClearinghouseLiquidator.vy", None),
        ("ClearinghousePool", "contracts/ClearinghousePool.vy", None),
        ("OracleRouter", "contracts/OracleRouter.vy", engine.router.address),
        ("feed", "contracts/mocks/MockAggregator.vy", None),
        ("token", "contracts/mocks/MockERC20.vy", None),
    ):
        if kind in ("feed", "token"):
            (layout,) = _vyper(contract, "layout", world.root)
        else:
            layout, runtime, source_map, ast = _vyper(
                contract, "layout,bytecode_runtime,source_map_runtime,annotated_ast", world.root
            )
            deployed = bytes(world.provider.get_code(address or record[kind])).hex()
            # Immutables follow the runtime code: compare the code itself.
            if deployed.startswith(runtime.removeprefix("0x")):
                functions[kind] = _function_map(source_map, ast)
            else:
                print(
                    f"note: the deployed {kind} is not what the current sources compile to "
                    "(Ape's .build cache predates an edit to an imported module? Ape does not "
                    "recompile for those). Gas is of the deployed code; no per-function "
                    "breakdown. Run with --fresh to compile and measure the current sources."
                )
        if kind in ENGINE_CONTRACTS[1:]:
            continue  # same storage layout as the Clearinghouse (a unit test checks it)
        labeller = SlotLabels(structs, keys)
        # Every engine field lives under `state` (contracts/modules/state.vy);
        # the router, feeds and tokens have layouts of their own.
        storage = layout["storage_layout"]
        labeller.add_layout(storage["state"] if kind == "Clearinghouse" else storage)
        labels[kind] = labeller
    # The hashing convention (keccak(slot . key) per level) against the chain.
    ch, trader = engine.clearinghouse, world.eoas[1]
    full = f"accounts.header[0x{trader.lower()[2:]}][20]"
    slot = next(s for s, (f, _) in labels["Clearinghouse"].labels.items() if f == full)
    stored = int.from_bytes(bytes(world.provider.get_storage(ch.address, slot)), "big")
    # The header's open-position bits start at bit 16 (modules/accounts.vy).
    positions = (stored >> 16) & (2**32 - 1)
    assert positions == ch.position_mask(trader, 20) != 0, "storage labels do not match the chain"
    return labels, functions


# ---------------------------------------------------------------- trace analysis


def _intrinsic(data_hex: str) -> int:
    data = bytes.fromhex(data_hex.removeprefix("0x"))
    return 21_000 + sum(4 if b == 0 else 16 for b in data)


@dataclass
class Access:
    op: str  # SLOAD / SSTORE
    store: str  # label of the contract whose storage it is
    full: str  # variable with its keys, e.g. markets.positions[0xf39f..][11][0].size
    group: str  # the same with keys as [.]
    cost: int
    router_call: int | None  # index into Profile.router_calls if inside one


# The router's first read of a price, OracleRouter._price's `primary_word[asset]`
# (a price without a second feed reads primary_word and bounds_word only): its
# key is the asset a router call prices, which a per-transaction cache keys on.
ROUTER_PRICE_KEY = "primary_word["


@dataclass
class RouterCall:
    inclusive: int  # call overhead + everything the router and its feeds spend
    asset: str | None = None  # the primary_word[...] key it read first (the priced asset)


@dataclass
class Profile:
    name: str
    total: int = 0  # whole transaction, after refund
    reported: int = 0  # the node's figure (receipt or estimateGas)
    trace_gas: int = 0  # debug_trace's own "gas"
    intrinsic: int = 0
    execution: int = 0
    refund_counter: int = 0
    refund_applied: int = 0
    steps: int = 0
    category: Counter = field(default_factory=Counter)
    # contract label -> category -> gas (code being executed)
    by_contract: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    # (contract, function) -> gas spent on lines of that function (self, not callees)
    by_function: Counter = field(default_factory=Counter)
    # (caller, op, target) -> [count, cold, overhead, inclusive]
    calls: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    # storage group label -> [cold, warm, gas]
    sloads: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    # storage group label -> kind -> [count, gas]
    sstores: dict[str, dict[str, list[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: [0, 0]))
    )
    sstore_cold_surcharge: int = 0
    unlabelled_sloads: int = 0
    # Every SLOAD / SSTORE in order, for re-costing under other layouts.
    accesses: list[Access] = field(default_factory=list)
    # Calls into the OracleRouter from the Clearinghouse's code, in order.
    router_calls: list[RouterCall] = field(default_factory=list)
    # Gas of the Clearinghouse's own frame around a delegatecall hop.
    hop: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "cold SLOADs": sum(v[0] for v in self.sloads.values()),
            "warm SLOADs": sum(v[1] for v in self.sloads.values()),
            "external calls": sum(v[0] for v in self.calls.values()),
            "cold account touches": sum(v[1] for v in self.calls.values()),
        }


def _sstore_kind(cost: int) -> tuple[str, int]:
    """Category and cold surcharge of an SSTORE from its charged cost."""
    cold = 2_100 if cost in (22_100, 5_000, 2_200) else 0
    base = cost - cold
    if base == 20_000:
        return "SSTORE 0->nonzero", cold
    if base == 2_900:
        return "SSTORE nonzero->other", cold
    return "SSTORE dirty/no-op", cold


def analyse(
    name: str,
    trace: dict[str, Any],
    sender: str,
    to: str,
    data: str,
    names: dict[str, str],
    labels: dict[str, SlotLabels],
    functions: dict[str, dict[int, str]],
) -> Profile:
    logs = trace["structLogs"]
    p = Profile(name=name, trace_gas=int(trace["gas"]), steps=len(logs))
    p.intrinsic = _intrinsic(data)
    warm = {sender.lower(), to.lower(), *(f"0x{i:040x}" for i in range(1, 0x12))}

    def label_of(addr: str) -> str:
        return names.get(addr, addr[:10])

    def labeller_for(addr: str) -> SlotLabels | None:
        who = names.get(addr, "")
        if who in ENGINE_CONTRACTS:
            return labels["Clearinghouse"]
        if who == "OracleRouter":
            return labels["OracleRouter"]
        return labels.get(who.split(" ")[0]) if who else None

    # (code, storage, label, router call index) per depth; frame 0 is the
    # transaction's target.
    top = to.lower()
    hop = False
    frames: list[tuple[str, str, str, int | None]] = [(top, top, label_of(top), None)]
    for i, step in enumerate(logs):
        depth, op = step["depth"], step["op"]
        del frames[depth:]
        code, storage, who, rc = frames[depth - 1]
        fmap = functions.get(who.removesuffix(" (delegatecall)"))
        fn = (who, _function_at(fmap, step["pc"])) if fmap else (who, "(no map)")
        nxt = logs[i + 1] if i + 1 < len(logs) else None
        stack = step.get("stack") or []
        if op in CALL_OPS:
            target = f"0x{int(stack[-2], 16):040x}"
            cold = target not in warm
            warm.add(target)
            if nxt is not None and nxt["depth"] == depth + 1:
                j = i + 1
                while logs[j]["depth"] > depth:
                    j += 1
                last = logs[j - 1]
                child = nxt["gas"] - (last["gas"] - last["gasCost"])
                inclusive = step["gas"] - logs[j]["gas"]
                overhead = inclusive - child
                kind = " (delegatecall)" if op == "DELEGATECALL" else ""
                callee = label_of(target) + kind
                child_rc = rc
                if rc is None and label_of(target) == "OracleRouter":
                    child_rc = len(p.router_calls)
                    p.router_calls.append(RouterCall(inclusive))
                if op == "DELEGATECALL" and depth == 1:
                    hop = True
                frames.append(
                    (target, storage if op == "DELEGATECALL" else target, callee, child_rc)
                )
            else:
                inclusive = overhead = step["gas"] - nxt["gas"] if nxt else step["gasCost"]
            row = p.calls.setdefault((who, op, label_of(target)), [0, 0, 0, 0])
            row[0] += 1
            row[1] += int(cold)
            row[2] += overhead
            row[3] += inclusive
            surcharge = 2_500 if cold else 0
            p.category["call: cold account (2600)"] += surcharge + (100 if cold else 0)
            p.by_contract[who]["call: cold account (2600)"] += surcharge + (100 if cold else 0)
            rest = overhead - surcharge - (100 if cold else 0)
            p.category["call: warm access + memory"] += rest
            p.by_contract[who]["call: warm access + memory"] += rest
            p.by_function[fn] += overhead
            continue
        cost = step["gasCost"]
        if op == "SLOAD":
            cat = "SLOAD cold" if cost >= 2_100 else "SLOAD warm"
            key = int(stack[-1], 16)
            labeller = labeller_for(storage)
            group = labeller.labels.get(key, (None, None))[1] if labeller else None
            full = labeller.labels.get(key, (None, None))[0] if labeller else None
            if group is None:
                p.unlabelled_sloads += 1
                group, full = f"slot {hex(key)[:10]}", f"slot {hex(key)}"
            p.accesses.append(Access(op, label_of(storage), full, group, cost, rc))
            if (
                rc is not None
                and p.router_calls[rc].asset is None
                and label_of(storage) == "OracleRouter"
                and full.startswith(ROUTER_PRICE_KEY)
            ):
                p.router_calls[rc].asset = full[len(ROUTER_PRICE_KEY) :].split("]")[0]
            row = p.sloads[f"{label_of(storage)}: {group}"]
            row[0 if cat == "SLOAD cold" else 1] += 1
            row[2] += cost
        elif op == "SSTORE":
            cat, cold = _sstore_kind(cost)
            p.sstore_cold_surcharge += cold
            key = int(stack[-1], 16)
            labeller = labeller_for(storage)
            full, group = labeller.labels.get(key, (None, None)) if labeller else (None, None)
            if group is None:
                group, full = f"slot {hex(key)[:10]}", f"slot {hex(key)}"
            p.accesses.append(Access(op, label_of(storage), full, group, cost, rc))
            row = p.sstores[f"{label_of(storage)}: {group}"][cat]
            row[0] += 1
            row[1] += cost
        elif op.startswith("LOG"):
            cat = "LOG"
        elif op == "KECCAK256" or op == "SHA3":
            cat = "KECCAK256"
        elif op in ("TLOAD", "TSTORE"):
            cat = "transient (lock)"
        elif op in ACCESS_OPS:
            target = f"0x{int(stack[-1], 16):040x}"
            warm.add(target)
            cat = "account access (EXTCODESIZE...)"
        elif op in MEMORY_OPS:
            cat = "memory"
        else:
            cat = "compute (stack/arith/jump)"
        p.category[cat] += cost
        p.by_contract[who][cat] += cost
        p.by_function[fn] += cost

    missing = [i for i, r in enumerate(p.router_calls) if r.asset is None]
    assert not missing, (
        f"{name}: router calls {missing} read no {ROUTER_PRICE_KEY}...] slot: "
        "the per-transaction price cache could not key them by asset"
    )
    if hop:
        # The core's own frame around the delegatecall: dispatch, the hop's
        # cold access and return buffer, copying the result back.
        p.hop = sum(p.by_contract[label_of(top)].values())
    first, last = logs[0], logs[-1]
    p.execution = first["gas"] - (last["gas"] - last["gasCost"])
    p.refund_counter = int(last.get("refund", 0))
    p.refund_applied = min(p.refund_counter, (p.intrinsic + p.execution) // 5)
    p.total = p.intrinsic + p.execution - p.refund_applied
    assert sum(p.category.values()) == p.execution, (name, sum(p.category.values()), p.execution)
    return p


TRACE_OPTIONS = {"disableStorage": True, "enableMemory": False, "disableStack": False}


def profile(
    world: World,
    labels: dict[str, SlotLabels],
    functions: dict[str, dict[int, str]],
    probe: Probe,
) -> Profile:
    request = world.provider.make_request
    if probe.call is not None:
        tx = probe.call
        trace = request("debug_traceCall", [tx, hex(probe.block), TRACE_OPTIONS])
        sender, to, data = tx["from"], tx["to"], tx["data"]
    else:
        trace = request("debug_traceTransaction", [probe.tx_hash, TRACE_OPTIONS])
        tx = world.provider.web3.eth.get_transaction(probe.tx_hash)
        sender, to, data = tx["from"], tx["to"], "0x" + bytes(tx["input"]).hex()
    if "result" in trace:  # raw JSON-RPC envelope
        trace = trace["result"]
    p = analyse(probe.name, trace, sender, to, data, world.names, labels, functions)
    p.reported = probe.reported
    return p


# ---------------------------------------------------------------- derived figures


def _norm(label: str) -> str:
    """Every feed (and token) as one kind: a marginal adds a different one each time."""
    return re.sub(r"\b(feed|token) [A-Z]+\b", r"\1 *", label)


def _summed(rows: dict[Any, Any], width: int, key: Any = _norm) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = defaultdict(lambda: [0] * width)
    for k, v in rows.items():
        row = out[key(k)]
        for i in range(width):
            row[i] += v[i] if isinstance(v, list) else sum(v.values())
    return out


def _diff(a: Profile, b: Profile, n: int) -> dict[str, Any]:
    """(a - b) / n, per category, per contract, per storage field, per call,
    with every feed counted as one kind of contract ("feed *")."""
    cats = {c: (a.category[c] - b.category[c]) / n for c in CATEGORIES}
    ca = _summed({k: [sum(v.values())] for k, v in a.by_contract.items()}, 1)
    cb = _summed({k: [sum(v.values())] for k, v in b.by_contract.items()}, 1)
    contracts = {k: (ca.get(k, [0])[0] - cb.get(k, [0])[0]) / n for k in sorted(set(ca) | set(cb))}
    sa, sb = _summed(a.sloads, 3), _summed(b.sloads, 3)
    sloads = {}
    for k in sorted(set(sa) | set(sb)):
        d = [(x - y) / n for x, y in zip(sa.get(k, [0] * 3), sb.get(k, [0] * 3), strict=True)]
        if any(d):
            sloads[k] = {"cold": d[0], "warm": d[1], "gas": d[2]}

    def call_key(k: tuple[str, str, str]) -> str:
        return _norm(f"{k[0]} -> {k[1]} {k[2]}")

    la, lb = _summed(a.calls, 4, call_key), _summed(b.calls, 4, call_key)
    calls = {}
    for k in sorted(set(la) | set(lb)):
        d = [(x - y) / n for x, y in zip(la.get(k, [0] * 4), lb.get(k, [0] * 4), strict=True)]
        if any(d):
            calls[k] = dict(zip(("count", "cold", "overhead", "inclusive"), d, strict=True))
    fa = _summed({f"{k[0]}: {k[1]}": [v] for k, v in a.by_function.items()}, 1)
    fb = _summed({f"{k[0]}: {k[1]}": [v] for k, v in b.by_function.items()}, 1)
    functions = {k: (fa.get(k, [0])[0] - fb.get(k, [0])[0]) / n for k in set(fa) | set(fb)}
    return {
        "whole_tx": (a.total - b.total) / n,
        "categories": cats,
        "by_contract": contracts,
        "functions": {k: v for k, v in sorted(functions.items(), key=lambda kv: -kv[1]) if v},
        "sloads": sloads,
        "calls": calls,
    }


# ---------------------------------------------------------------- what-if re-costing
#
# Each trace's SLOADs and SSTOREs are replayed in order against another
# storage layout: fields packed into one slot share its cold/warm state and
# its first-write cost (EIP-2929 / EIP-2200 rules applied per packed slot).
# Replaying with no change reproduces the measured gas exactly (checked).
# A packed field costs 40 more gas per read (shift, mask) and 150 more per
# write (re-read the slot warm, merge). Every width below fits the
# contracts' own bounds (constants.vy, the _check_params functions).
#
# Already packed in the contracts, so measured as they are and not projected:
# the router's per-asset price config (primary_word / second_word /
# bounds_word[asset]; a price without a second feed reads only the first and
# the last), MarketParams (markets.params_words[m][0..3]; health reads words
# 0, 1 and 2), LiquidationParams (liquidation.liquidation_words[0..2]), a
# market's funding (markets.funding_word[m]), a position (two words) and an
# asset's configuration (collateral.asset_word[asset], the cap apart).

# name -> (storage, struct prefix as in the layout labels, fields per packed slot)
PACKINGS: dict[str, tuple[str, str, list[tuple[str, ...]]]] = {}
IMMUTABLE = ("collateral.quote_asset",)
NUM_MARKETS = "markets.num_markets"


@dataclass(frozen=True)
class Change:
    pack: tuple[str, ...] = ()
    immutables: bool = False  # IMMUTABLE become immutables (no storage read)
    no_num_markets: bool = False  # _check_market tests the market's asset slot instead
    price: str | None = None  # "transient": per-tx cache; "stored": engine-held snapshot
    no_hop: bool = False  # liquidate in the core: no delegatecall


CHANGES: dict[str, Change] = {
    "today (replayed)": Change(),
    # 1 (MarketState: its funding in one word), 2 (Position in two words),
    # 3 (Asset in one word and the cap) and 6 (the pool's cash and the
    # insurance fund in one word) are done (issue 20).
    "5 quote_asset immutable": Change(immutables=True),
    "7 _check_market without num_markets": Change(no_num_markets=True),
    "8 per-tx price cache (transient storage)": Change(price="transient"),
    "9 liquidate in the core (no delegatecall hop)": Change(no_hop=True),
    "10 stored price snapshot (no router call)": Change(price="stored"),
}
STORAGE_ALL = Change(pack=tuple(PACKINGS), immutables=True, no_num_markets=True)
CHANGES["A = storage 1-7"] = STORAGE_ALL
CHANGES["B = A + 8 + 9"] = replace(STORAGE_ALL, price="transient", no_hop=True)
CHANGES["C = A + 9 + 10"] = replace(STORAGE_ALL, price="stored", no_hop=True)


def check_changes(P: dict[str, Profile], labels: dict[str, SlotLabels]) -> None:
    """Fails unless every storage variable a change re-lays out is read or
    written in the traces under that name (a renamed or already packed
    variable would make the change a silent no-op), each packing names every
    field of its struct exactly once, and every router call was keyed by asset."""
    accesses = [a for p in P.values() for a in p.accesses]

    def matching(store: str, test: Any) -> list[Access]:
        return [a for a in accesses if a.store == store and test(a)]

    for name, (store, prefix, slots) in PACKINGS.items():
        hits = matching(store, lambda a, pre=prefix + ".": a.group.startswith(pre))
        assert hits, f"PACKINGS[{name!r}]: no {store} access to {prefix}.* in the traces"
        packed = [f for fields in slots for f in fields]
        assert len(packed) == len(set(packed)), f"PACKINGS[{name!r}]: a field twice"
        layout = {
            g[len(prefix) + 1 :]
            for _, g in labels[store].labels.values()
            if g.startswith(prefix + ".")
        }
        assert (
            set(packed) == layout
        ), f"PACKINGS[{name!r}] fields {sorted(packed)} are not the layout's {sorted(layout)}"
    for what, groups in (
        ("IMMUTABLE", IMMUTABLE),
        ("NUM_MARKETS", (NUM_MARKETS,)),
    ):
        for g in groups:
            assert matching(
                "Clearinghouse", lambda a, g=g: a.group == g
            ), f"{what}: no Clearinghouse access to {g} in the traces"
    assert any(p.router_calls for p in P.values()), "no router call in the traces"
    assert all(r.asset for p in P.values() for r in p.router_calls), "a router call without asset"
    assert any(p.hop for p in P.values()), "no delegatecall hop in the traces"


def _virtual(a: Access, change: Change) -> tuple[str | None, bool]:
    """The slot an access would touch under `change` (None: no storage access),
    and whether the field shares it."""
    for name in change.pack:
        store, prefix, slots = PACKINGS[name]
        if a.store == store and a.group.startswith(prefix + "."):
            fld = a.group[len(prefix) + 1 :]
            instance = a.full[: len(a.full) - len(fld) - 1]
            index = next((i for i, fields in enumerate(slots) if fld in fields), None)
            assert index is not None, f"PACKINGS[{name!r}] has no field {fld!r}"
            return f"{store}:{instance}#{index}", len(slots[index]) > 1
    if a.store == "Clearinghouse":
        if change.immutables and a.group in IMMUTABLE:
            return None, False
        if change.no_num_markets and a.group == NUM_MARKETS:
            return None, False
    return f"{a.store}:{a.full}", False


def recost(p: Profile, change: Change) -> int:
    """Whole-transaction gas of the same execution under `change`."""
    removed: set[int] = set()
    added = 0
    if change.price is not None:
        # Keyed by the asset each call prices: only a repeated asset hits.
        assert all(rc.asset for rc in p.router_calls), (p.name, "router call without asset")
    if change.price == "transient":
        seen: set[str | None] = set()
        for i, rc in enumerate(p.router_calls):
            if rc.asset in seen:
                removed.add(i)
                added += 100  # TLOAD hit
            else:
                seen.add(rc.asset)
                added += 200  # TLOAD miss + TSTORE
    elif change.price == "stored":
        # One packed (price, timestamp) slot per asset in the engine, kept by
        # a keeper's push; read instead of calling the router and the feed.
        seen = set()
        for i, rc in enumerate(p.router_calls):
            removed.add(i)
            added += (100 if rc.asset in seen else 2_100) + 60  # + staleness check
            seen.add(rc.asset)
    removed_gas = sum(p.router_calls[i].inclusive for i in removed)
    touched: set[str] = set()
    paid: dict[str, int] = {}
    old = new = 0
    for a in p.accesses:
        if a.router_call in removed:
            continue
        old += a.cost
        slot, packed = _virtual(a, change)
        if slot is None:
            new += 10 if a.op == "SLOAD" else 0  # e.g. PUSH of an immutable
            continue
        cold = 0 if slot in touched else 2_100
        touched.add(slot)
        if a.op == "SLOAD":
            new += (100 if cold == 0 else 2_100) + (40 if packed else 0)
        else:
            base = a.cost - _sstore_kind(a.cost)[1]
            prev = paid.get(slot, 0)
            paid[slot] = max(prev, base)
            new += (base if base > prev else 100) + cold + (150 if packed else 0)
    hop = p.hop if change.no_hop else 0
    execution = p.execution - old + new - removed_gas + added - hop
    return p.intrinsic + execution - p.refund_applied


def _groups(sloads: dict[str, Any]) -> dict[str, list[float]]:
    """Storage reads per variable (fields summed): [cold, warm, gas]."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for k, v in sloads.items():
        who, _, var = k.partition(": ")
        head = re.sub(r"(\[\.\])+(\..*)?$", "[.]", var) if "[.]" in var else var
        row = out[f"{who}: {head}"]
        for i, f in enumerate(("cold", "warm", "gas")):
            row[i] += v[f] if isinstance(v, dict) else v[i]
    return dict(out)


# ---------------------------------------------------------------- output


def _fmt(x: float) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.1f}"
    return f"{int(x):,}"


def print_overview(console: Console, profiles: dict[str, Profile]) -> None:
    table = Table(title="Whole-transaction gas, reconciled (views: node estimateGas as 'node')")
    for col in ("probe", "node", "trace", "21k+calldata", "execution", "refund", "steps"):
        table.add_column(col, justify="left" if col == "probe" else "right")
    for p in profiles.values():
        table.add_row(
            p.name,
            _fmt(p.reported),
            _fmt(p.total),
            _fmt(p.intrinsic),
            _fmt(p.execution),
            _fmt(-p.refund_applied),
            _fmt(p.steps),
        )
    console.print(table)


def print_categories(console: Console, title: str, columns: dict[str, dict[str, float]]) -> None:
    table = Table(title=title)
    table.add_column("category")
    for name in columns:
        table.add_column(name, justify="right")
    for c in [*CATEGORIES, "TOTAL"]:
        values = [col.get(c, 0) for col in columns.values()]
        if c != "TOTAL" and not any(values):
            continue
        table.add_row(c, *(_fmt(v) for v in values), style="bold" if c == "TOTAL" else None)
    console.print(table)


def _with_total(p: Profile) -> dict[str, float]:
    d = {c: float(p.category[c]) for c in CATEGORIES}
    d["TOTAL"] = float(p.execution)
    return d


def print_contracts(console: Console, p: Profile) -> None:
    short = {
        "SLOAD cold": "SLOAD cold",
        "SLOAD warm": "SLOAD warm",
        "SSTORE": "SSTORE",
        "call": "calls",
        "LOG": "LOG",
        "other": "compute+mem",
    }
    table = Table(title=f"{p.name}: gas by contract whose code runs (execution only)")
    table.add_column("contract")
    for s in short.values():
        table.add_column(s, justify="right")
    table.add_column("total", justify="right")
    for who, cats in sorted(p.by_contract.items(), key=lambda kv: -sum(kv[1].values())):
        row = Counter()
        for c, g in cats.items():
            if c.startswith("SSTORE"):
                row["SSTORE"] += g
            elif c.startswith("call"):
                row["call"] += g
            elif c in short:
                row[c] += g
            else:
                row["other"] += g
        table.add_row(who, *(_fmt(row[k]) for k in short), _fmt(sum(cats.values())))
    console.print(table)


def print_calls(console: Console, p: Profile) -> None:
    table = Table(
        title=f"{p.name}: external calls (overhead = access + memory; inclusive = + callee)"
    )
    for col in ("caller", "op", "target", "n", "cold", "overhead", "inclusive"):
        table.add_column(
            col, justify="right" if col in ("n", "cold", "overhead", "inclusive") else "left"
        )
    for (who, op, target), (n, cold, overhead, inclusive) in p.calls.items():
        table.add_row(who, op, target, str(n), str(cold), _fmt(overhead), _fmt(inclusive))
    console.print(table)


def print_storage(console: Console, title: str, sloads: dict[str, Any], n_rows: int = 40) -> None:
    table = Table(title=title)
    for col in ("storage variable / field", "cold", "warm", "gas"):
        table.add_column(col, justify="left" if col.startswith("storage") else "right")
    rows = []
    for k, v in sloads.items():
        v = [v["cold"], v["warm"], v["gas"]] if isinstance(v, dict) else v
        rows.append((k, *v))
    rows.sort(key=lambda r: -r[3])
    for k, cold, warm, gas in rows[:n_rows]:
        table.add_row(k, _fmt(cold), _fmt(warm), _fmt(gas))
    if len(rows) > n_rows:
        rest = rows[n_rows:]
        table.add_row(
            f"... {len(rest)} more",
            _fmt(sum(r[1] for r in rest)),
            _fmt(sum(r[2] for r in rest)),
            _fmt(sum(r[3] for r in rest)),
        )
    console.print(table)


def print_functions(console: Console, title: str, rows: dict[str, float], n_rows: int = 25) -> None:
    """Gas by the source function whose lines ran (self gas: storage, calls, compute)."""
    table = Table(title=title)
    table.add_column("contract: module.function (self gas; callees separate)")
    table.add_column("gas", justify="right")
    ordered = sorted(rows.items(), key=lambda kv: -kv[1])
    for k, g in ordered[:n_rows]:
        table.add_row(k, _fmt(g))
    if len(ordered) > n_rows:
        rest = sum(g for _, g in ordered[n_rows:])
        table.add_row(f"... {len(ordered) - n_rows} more", _fmt(rest))
    console.print(table)


def _functions(p: Profile) -> dict[str, float]:
    return {f"{who}: {fn}": float(g) for (who, fn), g in p.by_function.items()}


def print_sstores(console: Console, p: Profile) -> None:
    table = Table(title=f"{p.name}: storage writes (refund counter {p.refund_counter:,})")
    for col in ("storage variable / field", "kind", "n", "gas"):
        table.add_column(col, justify="right" if col in ("n", "gas") else "left")
    for k, kinds in sorted(p.sstores.items()):
        for kind, (n, gas) in kinds.items():
            table.add_row(k, kind.removeprefix("SSTORE "), str(n), _fmt(gas))
    console.print(table)


def print_marginal(console: Console, title: str, d: dict[str, Any], fields: bool) -> None:
    table = Table(title=f"Marginal: {title} (whole tx {_fmt(d['whole_tx'])})")
    table.add_column("what")
    table.add_column("gas", justify="right")
    for c, g in d["categories"].items():
        if g:
            table.add_row(c, _fmt(g))
    table.add_row("= execution", _fmt(sum(d["categories"].values())), style="bold")
    for who, g in d["by_contract"].items():
        if g:
            table.add_row(f"  of which in {who} code", _fmt(g))
    for k, v in d["calls"].items():
        callee = v["inclusive"] - v["overhead"]
        table.add_row(
            f"  call {k}: {v['count']:.3g}x, {v['cold']:.3g}x cold",
            f"{_fmt(v['overhead'])} + callee {_fmt(callee)}",
        )
    console.print(table)
    rows = d["sloads"] if fields else _groups(d["sloads"])
    print_storage(console, f"{title}: storage reads per unit", rows)
    if fields:
        print_functions(console, f"{title}: gas per unit by source function", d["functions"], 15)


# Issue 20's: a position or an asset on a cold feed of its own <= 20,000,
# one whose feed the transaction already read <= 8,000 (the shared-feed
# column; assets share no feed here), a 1-position liquidation <= 150,000;
# the view's is an earlier issue's.
TARGETS = {
    "1-position liquidation": 150_000,
    "per position": 20_000,
    "per position, shared feed": 8_000,
    "per collateral asset": 20_000,
    "10 positions + 5 assets view": 150_000,
}


def projections(P: dict[str, Profile]) -> dict[str, dict[str, float]]:
    """Projected whole-tx gas of the key probes and marginals under each change."""
    out = {}
    for name, change in CHANGES.items():
        g = {k: recost(p, change) for k, p in P.items()}
        out[name] = {
            "1-position liquidation": g["liquidate: 1 position (steady state)"],
            "1-position liquidation, first ever": g["liquidate: 1 position (first ever)"],
            "5-position liquidation": g["liquidate: 5 positions (steady state)"],
            "per position": (
                g["account_health: 10 position(s)"] - g["account_health: 1 position(s)"]
            )
            / 9,
            "per position, shared feed": (
                g["account_health: 5 shared-feed position(s)"] - g["account_health: 1 position(s)"]
            )
            / 4,
            "per collateral asset": (
                g["account_health: collateral, 3 assets"] - g["account_health: collateral, 1 asset"]
            )
            / 2,
            "10 positions + 5 assets view": g["account_health: 10 positions + 5 assets (target)"],
            "1-position view": g["account_health: 1 position(s)"],
        }
    return out


def print_projections(console: Console, proj: dict[str, dict[str, float]]) -> None:
    cols = list(next(iter(proj.values())))
    table = Table(title="What-if: whole-tx gas re-costed from the traces (marginals per unit)")
    table.add_column("change", no_wrap=True)
    for c in cols:
        table.add_column(
            c.replace("1-position", "1-pos").replace("liquidation", "liq."), justify="right"
        )
    base = proj["today (replayed)"]
    for name, row in proj.items():
        cells = []
        for c in cols:
            if name[:2] in ("to", "A ", "B ", "C "):
                cells.append(_fmt(round(row[c])))
            else:
                saved = round(base[c] - row[c])
                cells.append(
                    f"-{_fmt(saved)}" if saved > 0 else f"+{_fmt(-saved)}" if saved else "0"
                )
        table.add_row(name, *cells, style="bold" if name.startswith(("today", "B", "C")) else None)
    table.add_row(
        "target", *(_fmt(TARGETS[c]) if c in TARGETS else "" for c in cols), style="italic"
    )
    table.add_row(
        "today: missed by",
        *(
            _fmt(round(base[c] - TARGETS[c])) if c in TARGETS and base[c] > TARGETS[c] else ""
            for c in cols
        ),
        style="italic",
    )
    console.print(table)
    console.print("  numbered rows: gas saved by that change alone; A, B, C: projected totals")


def profile_json(p: Profile) -> dict[str, Any]:
    return {
        "whole_tx": p.total,
        "node_reported": p.reported,
        "trace_gas": p.trace_gas,
        "intrinsic": p.intrinsic,
        "execution": p.execution,
        "refund_counter": p.refund_counter,
        "refund_applied": p.refund_applied,
        "delegatecall_hop": p.hop,
        "categories": {c: p.category[c] for c in CATEGORIES},
        "counts": p.counts(),
        "by_contract": {k: dict(v) for k, v in p.by_contract.items()},
        "by_function": _functions(p),
        "calls": [
            dict(zip(("caller", "op", "target"), k, strict=True))
            | dict(zip(("count", "cold", "overhead", "inclusive"), v, strict=True))
            for k, v in p.calls.items()
        ],
        "router_calls": [{"asset": r.asset, "inclusive": r.inclusive} for r in p.router_calls],
        "sloads": {k: dict(cold=v[0], warm=v[1], gas=v[2]) for k, v in p.sloads.items()},
        "sstores": {
            k: {kind: dict(count=n, gas=g) for kind, (n, g) in v.items()}
            for k, v in p.sstores.items()
        },
        "sstore_cold_surcharge": p.sstore_cold_surcharge,
        "unlabelled_sloads": p.unlabelled_sloads,
    }


def fresh_project() -> tuple[Any, Path]:
    """A private copy of contracts/ and ape-config.yaml, compiled afresh into its
    own .build (the shared cache is left alone)."""
    from ape import Project

    tmp = Path(tempfile.mkdtemp(prefix="xmargin-gas-profile-"))
    shutil.copytree(ROOT / "contracts", tmp / "contracts")
    shutil.copy(ROOT / "ape-config.yaml", tmp / "ape-config.yaml")
    return Project(tmp), tmp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="compile a private copy of the sources instead of using Ape's .build cache",
    )
    args = parser.parse_args()
    logger.set_level("ERROR")
    console = Console(width=160)
    source, root = fresh_project() if args.fresh else (project, ROOT)
    try:
        with networks.parse_network_choice(NETWORK) as provider:
            world = build_world(provider, source, root)
            labels, functions = compiler_maps(world)
            P = {n: profile(world, labels, functions, probe) for n, probe in world.probes.items()}
    finally:
        if root != ROOT:
            shutil.rmtree(root, ignore_errors=True)

    for p in P.values():
        assert p.total == p.trace_gas, (p.name, p.total, p.trace_gas)
        assert recost(p, Change()) == p.total, (p.name, recost(p, Change()), p.total)
    check_changes(P, labels)
    health = {k.removeprefix("account_health: "): v for k, v in P.items() if k.startswith("acc")}
    liq = {k.removeprefix("liquidate: "): v for k, v in P.items() if k.startswith("liq")}
    one = P["account_health: 1 position(s)"]
    a1 = P["account_health: collateral, 1 asset"]
    paid1 = P["liquidate: 1 position (steady state)"]
    marginals = {
        "per position, own feeds (10 vs 1 position)": (
            _diff(P["account_health: 10 position(s)"], one, 9),
            True,
        ),
        "per position, own feeds (5 vs 1)": (
            _diff(P["account_health: 5 position(s)"], one, 4),
            False,
        ),
        "per position, one shared WETH feed (5 vs 1)": (
            _diff(P["account_health: 5 shared-feed position(s)"], one, 4),
            True,
        ),
        "per collateral asset (3 vs 1 asset)": (
            _diff(P["account_health: collateral, 3 assets"], a1, 2),
            True,
        ),
        "per collateral asset (5 vs 1)": (
            _diff(P["account_health: collateral, 5 assets"], a1, 4),
            False,
        ),
        "first collateral asset (1 asset vs quote only)": (
            _diff(a1, P["account_health: collateral, quote only"], 1),
            False,
        ),
        "liquidation, per extra position (5 vs 1)": (
            _diff(P["liquidate: 5 positions (steady state)"], paid1, 4),
            False,
        ),
        f"liquidate_many, per account ({BATCHES[1]} vs {BATCHES[0]} accounts)": (
            _diff(
                P[f"liquidate_many: {BATCHES[1]} accounts, 2 markets"],
                P[f"liquidate_many: {BATCHES[0]} accounts, 2 markets"],
                BATCHES[1] - BATCHES[0],
            ),
            True,
        ),
        f"liquidate_many in bad debt, per account ({BATCHES[1]} vs {BATCHES[0]})": (
            _diff(
                P[f"liquidate_many: {BATCHES[1]} accounts in bad debt"],
                P[f"liquidate_many: {BATCHES[0]} accounts in bad debt"],
                BATCHES[1] - BATCHES[0],
            ),
            True,
        ),
        "liquidation, first ever (new keeper balance and held bit) vs steady state": (
            _diff(P["liquidate: 1 position (first ever)"], paid1, 1),
            True,
        ),
    }
    proj = projections(P)

    print_overview(console, P)
    columns = {k: _with_total(v) for k, v in health.items()}
    print_categories(console, "account_health views: execution gas by category", columns)
    columns = {k: _with_total(v) for k, v in liq.items()}
    print_categories(console, "liquidations: execution gas by category", columns)
    for p in (one, P["account_health: 10 positions + 5 assets (target)"]):
        print_contracts(console, p)
        print_calls(console, p)
    print_functions(console, f"{one.name}: gas by source function", _functions(one))
    print_storage(console, f"{one.name}: storage reads by variable/field", one.sloads)
    print_storage(console, f"{a1.name}: storage reads by variable/field", a1.sloads)
    for p in (paid1, P["liquidate: 1 position (first ever)"]):
        print_contracts(console, p)
        print_calls(console, p)
        print_storage(console, f"{p.name}: storage reads by variable/field", p.sloads, 70)
        print_sstores(console, p)
        print_functions(console, f"{p.name}: gas by source function", _functions(p), 30)
    for title, (d, fields) in marginals.items():
        print_marginal(console, title, d, fields)
    print_projections(console, proj)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "network": NETWORK,
        "note": (
            "whole_tx = intrinsic + execution - refund_applied; categories sum to execution. "
            "Marginals are differences of traces divided by the units added; projections "
            "replay each trace's storage accesses under the packed layouts in PACKINGS."
        ),
        "targets": TARGETS,
        "profiles": {k: profile_json(v) for k, v in P.items()},
        "marginals": {
            k: d
            | {
                "sload_by_variable": {
                    g: dict(zip(("cold", "warm", "gas"), v, strict=True))
                    for g, v in _groups(d["sloads"]).items()
                }
            }
            for k, (d, _) in marginals.items()
        },
        "projections": proj,
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
