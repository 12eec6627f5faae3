"""JSON-RPC requests and wall time of the read-only CLI over a slow link.

    python benchmarks/rpc_latency.py [--accounts 1000] [--delay-ms 100] [--repeat 1]
                                     [--networks local,sepolia] [--no-callers] [--sequence]

Starts an anvil (benchmarks/nodes.py), deploys config/local.yaml with the
real pipeline (`xmargin.ops.deploy`) and opens a crowd of `--accounts`
one-position accounts (`xmargin.ops.crowd.open_crowd_fast`: sub-accounts
100+ of test accounts 1-8). Then runs every chain-reading command of the
`xmargin` CLI as a fresh process, the way an operator runs it (`--network
<choice> --rpc <proxy>`, the record in a temporary
XMARGIN_DEPLOYMENTS_DIR), through `benchmarks/rpc_proxy.py`'s proxy,
which sleeps `--delay-ms` before forwarding each HTTP request (one round
trip of a slow link) and counts HTTP requests and the JSON-RPC calls in
them, by method:

    status OWNER --sub 100        a crowd account (one position)
    accounts / accounts --unhealthy
    chart OWNER --sub 100 --out <tmp>/health.png
    report --out <tmp>/report.png

each at `--delay-ms` and at 0 (the difference is what the link costs).
The floors read no chain: `xmargin --version` (Python and click), `xmargin
abi` (Ape imported and the project's contracts loaded) and `import web3,
eth_abi` (what a reader on web3 alone would import).

Ape reads a local network differently from a public one, so every command
runs against two shapes of the same chain (`--networks`):

* `local`: `ethereum:local:node`, the CLI's default (`make node`). Ape
  treats it as a development network: it never caches contract code (an
  `eth_getCode` before every contract call) and fills each call's gas limit
  with the latest block's (`gas_limit: max`, an `eth_getBlockByNumber`).
* `sepolia`: the same anvil answering chain id 11155111
  (`anvil_setChainId`) and the same record written for chain 11155111, read
  as `ethereum:sepolia:node`: how Ape reads any public network (code
  cached per contract, no gas-limit lookup for a call), i.e. what an
  operator meets over a real slow link.

Ape keeps a public network's contract types and proxy checks in its data
folder, so each command first runs once in an empty one ("cold", at
`--delay-ms`), then `--repeat` times with it kept; every CLI process gets
a temporary APE_DATA_FOLDER (a run never writes into ~/.ape). Unless
`--no-callers`, each command runs once more (no delay) with
`rpc_proxy.trace_callers` installed in it: where in xmargin (and in which
library call) each HTTP request was sent from.

The keeper is measured too, in this process through the same proxy on
the deployment's network: a fresh keeper's first pass (its replica's
backfill) and a pass with nothing to do, with its reads pinned to the
pass's head and batched (`KeeperConfig.pass_reads`, the default) and
without (each view its own request, as Ape asks it).

Prints a table per network with the issue's targets (`status`: at most 5
requests and under 1 s at 100 ms a round trip; `accounts` over 1,000+
accounts: at most 25 requests) and writes benchmarks/results/rpc_latency.json
(with every command's request sequence, its calls named by contract and
function, and its call sites). docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ape import accounts, networks, project
from ape.logging import logger
from eth_utils import keccak
from nodes import anvil  # benchmarks/nodes.py (scripts run from benchmarks/)
from rich.console import Console
from rich.table import Table
from rpc_proxy import Labels, RpcProxy, Traffic

from xmargin.chain.config import load_config
from xmargin.chain.connect import network_info
from xmargin.chain.deployments import (
    DIR_ENV,
    DeploymentRecord,
    abi_dir,
    record_path,
    write_record,
)
from xmargin.chain.engine import load_engine
from xmargin.ops.bulk_send import connect, rpc_call
from xmargin.ops.crowd import FIRST_SUB, open_crowd_fast
from xmargin.ops.deploy import deploy
from xmargin.ops.keeper import Keeper, KeeperConfig

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results" / "rpc_latency.json"
NETWORK = "ethereum:local:foundry"  # where the benchmark deploys
# The shapes the CLI reads the chain as: network choice and the chain id
# anvil answers with for it.
NETWORKS = {
    "local": ("ethereum:local:node", 31337),
    "sepolia": ("ethereum:sepolia:node", 11155111),
}
OWNER_INDEXES = tuple(range(1, 9))  # test accounts owning the crowd's sub-accounts
# The CLI's entry point, run from this checkout's code whatever the venv's
# `xmargin` script was installed from.
CLI = "from xmargin.ui.cli import main; main()"
TRACED_CLI = (
    "import sys; sys.path.insert(0, {bench!r}); import rpc_proxy; "
    "rpc_proxy.trace_callers({out!r}, [{root!r}], {libs!r}); " + CLI
)
TOP = 3  # methods shown per command in the table
KEEPER_INDEX = 9  # the test account the keeper sends from (none in a quiet pass)
QUIET_PASSES = 3  # passes with nothing to do, after the first


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...]
    chain: bool = True
    code: str = CLI  # what `python -c` runs


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: `metric` of `command` over the slow link,
    judged on crowds of at least `min_accounts`."""

    command: str
    metric: str  # "http_requests" or "wall_seconds"
    limit: float
    text: str
    min_accounts: int = 0

    def verdict(self, value: float, accounts: int) -> str:
        if accounts < self.min_accounts:
            return f"n/a under {self.min_accounts:,} accounts"
        if value <= self.limit if self.metric == "http_requests" else value < self.limit:
            return "met"
        if self.metric == "wall_seconds":
            return f"MISSED by {value - self.limit:.2f} s"
        return f"MISSED by {value - self.limit:,.0f}"


TARGETS = (
    Target("status", "http_requests", 5, "<= 5 requests"),
    Target("status", "wall_seconds", 1.0, "< 1 s"),
    Target("accounts", "http_requests", 25, "<= 25 requests", min_accounts=1_000),
)
FLOORS = (
    Command("--version", ("--version",), chain=False),  # Python, click, the package
    Command("abi", ("abi",), chain=False),  # Ape imported, the project's contracts loaded
    # What a reader built on web3 alone would import (no xmargin command).
    Command("(import web3, eth_abi)", (), chain=False, code="import web3, eth_abi"),
)


def commands(owner: str, sub_id: int, out: Path) -> tuple[Command, ...]:
    """Every chain-reading command of the CLI (`abi` reads none)."""
    sub = ("--sub", str(sub_id))
    return (
        Command("status", ("status", owner, *sub)),
        Command("accounts", ("accounts",)),
        Command("accounts --unhealthy", ("accounts", "--unhealthy")),
        Command("chart", ("chart", owner, *sub, "--out", str(out / "health.png"))),
        Command("report", ("report", "--out", str(out / "report.png"))),
    )


@dataclass(frozen=True)
class Run:
    wall: float
    traffic: Traffic

    def figures(self) -> dict[str, Any]:
        """Wall seconds, split at the first request and the last answer:
        start-up (imports, resolving the network), reads (first request
        to last answer: the round trips and Ape's Python between them) and
        the rest (tables, PNG); and the seconds the proxy spent answering."""
        t = self.traffic
        first, last = t.first_at, t.last_done
        return {
            "wall_seconds": round(self.wall, 3),
            "startup_seconds": round(self.wall if first is None else first, 3),
            "reads_seconds": round(last - first, 3) if first is not None and last else 0.0,
            "after_seconds": round(self.wall - last, 3) if last else 0.0,
            "proxy_seconds": round(sum(r.seconds for r in t.requests), 3),
        }


# ---------------------------------------------------------------- setup


def set_up(url: str, n: int, records: Path) -> tuple[DeploymentRecord, dict[str, Any]]:
    """Deploys config/local.yaml (its record in `records`) and opens the crowd."""
    out: dict[str, Any] = {}
    with networks.parse_network_choice(NETWORK, provider_settings={"host": url}) as provider:
        t = time.perf_counter()
        deployed = deploy(
            project,
            provider,
            accounts.test_accounts[0],
            load_config("local"),
            network_info(provider),
            directory=records,
            log=lambda _: None,
        )
        out["deploy_seconds"] = round(time.perf_counter() - t, 2)
        engine = load_engine(project, deployed.record)
        t = time.perf_counter()
        owners = [accounts.test_accounts[i] for i in OWNER_INDEXES]
        stats = open_crowd_fast(engine, owners, n, url)
        out["crowd_seconds"] = round(time.perf_counter() - t, 2)
        out["crowd_transactions"] = stats.transactions
        out["registered_accounts"] = int(engine.clearinghouse.num_accounts())
        out["head_block"] = provider.chain_manager.blocks.head.number
    return deployed.record, out


def serve_as(url: str, record: DeploymentRecord, name: str, records: Path, abis: Path) -> str:
    """Makes anvil answer with network `name`'s chain id and writes the
    deployment's record for it, with the ABI files the deploy wrote beside
    it (`abis`: the CLI's fast path reads them); returns the network choice
    to read it as."""
    choice, chain_id = NETWORKS[name]
    rpc_call(connect(url), "anvil_setChainId", [chain_id])
    ecosystem = choice.split(":")[0]
    as_network = replace(record, network=f"{ecosystem}:{name}", chain_id=chain_id)
    path = record_path(ecosystem, chain_id, records)
    write_record(path, as_network)
    shutil.copytree(abis, abi_dir(path), dirs_exist_ok=True)
    return choice


def labels(record: DeploymentRecord) -> Labels:
    """Contract names by address (the record's) and function names by
    selector (every compiled contract's ABI)."""
    addresses = {a: n for n, a in record.contracts.items()}
    for symbol, a in record.assets.items():
        addresses[a.token] = symbol
        if a.feed:
            addresses[a.feed] = f"{symbol}feed"
        if a.second_feed:
            addresses[a.second_feed] = f"{symbol}feed2"
    selectors: dict[str, str] = {}
    for contract_type in project.contracts.values():
        for abi in contract_type.methods:
            selectors.setdefault("0x" + keccak(text=abi.selector)[:4].hex(), abi.name)
    return Labels(addresses, selectors)


# ---------------------------------------------------------------- runs


def _origin(library: list[str]) -> str | None:
    """The innermost Ape frame of a request's library frames: why Ape sent it."""
    return next((f for f in reversed(library) if f.startswith("ape")), None)


@dataclass
class Runner:
    """Runs CLI commands as fresh processes through the proxy."""

    proxy: RpcProxy
    env: dict[str, str]
    tmp: Path
    names: Labels
    repeat: int
    trace: bool
    console: Console

    def argv(self, cmd: Command, choice: str | None, code: str | None = None) -> list[str]:
        extra = ["--network", choice, "--rpc", self.proxy.url] if cmd.chain and choice else []
        return [sys.executable, "-c", code or cmd.code, *cmd.args, *extra]

    def once(self, cmd: Command, choice: str | None, data: Path, code: str | None = None) -> Run:
        """One fresh process with Ape's data folder at `data`; its wall time
        and what went through the proxy."""
        self.proxy.reset()
        start = time.perf_counter()
        proc = subprocess.run(
            self.argv(cmd, choice, code),
            env={**self.env, "APE_DATA_FOLDER": str(data)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - start
        traffic = self.proxy.reset()
        if proc.returncode != 0:
            raise SystemExit(f"xmargin {cmd.name} failed ({proc.returncode}):\n{proc.stderr}")
        return Run(wall, traffic)

    def callers(self, cmd: Command, choice: str, data: Path) -> dict[str, int]:
        """HTTP requests by `methods <- innermost xmargin frame (library
        call; innermost Ape frame)`, from one run (no delay) with
        `rpc_proxy.trace_callers` installed in the CLI's process."""
        out = self.tmp / "callers.json"
        libs = [sysconfig.get_paths()["purelib"]]  # site-packages
        code = TRACED_CLI.format(
            bench=str(BENCHMARKS), out=str(out), root=str(ROOT / "xmargin"), libs=libs
        )
        self.proxy.delay_ms = 0.0
        self.once(cmd, choice, data, code)
        counts: Counter[str] = Counter()
        for r in json.loads(out.read_text()):
            methods = ",".join(sorted(set(r["methods"])))
            label = f"[{methods}] x{len(r['methods'])}" if r["batch"] else methods
            # No xmargin frame: sent from another thread (Ape's log pages).
            site = r["sites"][-1] if r["sites"] else "(another thread)"
            how = "; ".join(dict.fromkeys(h for h in (r["via"], _origin(r["library"])) if h))
            counts[f"{label} <- {site}" + (f" ({how})" if how else "")] += 1
        return dict(counts.most_common())

    def measure(self, cmd: Command, choice: str | None, delays: tuple[float, ...]) -> dict:
        """The command's first run in an empty Ape data folder at the first
        delay ("cold": Ape caches a public network's contract types and
        proxy checks there), then `repeat` runs at each delay with that
        folder kept (the median's figures)."""
        entry: dict[str, Any] = {"args": list(cmd.args), "delays": {}}
        data = Path(tempfile.mkdtemp(prefix="ape-data-", dir=self.tmp))
        self.proxy.delay_ms = delays[0]
        cold = self.once(cmd, choice, data)
        entry["cold"] = {"delay_ms": delays[0], **cold.traffic.summary(), **cold.figures()}
        for delay in delays:
            self.proxy.delay_ms = delay
            runs = [self.once(cmd, choice, data) for _ in range(self.repeat)]
            walls = [r.wall for r in runs]
            mid = runs[walls.index(statistics.median_low(walls))]
            entry["delays"][f"{delay:g}"] = {
                **mid.traffic.summary(self.names),
                **mid.figures(),
                "wall_seconds_runs": [round(w, 3) for w in walls],
                "http_requests_runs": sorted({r.traffic.http_requests for r in runs}),
            }
            if delay == delays[0] and cmd.chain:
                entry["sequence"] = mid.traffic.sequence(self.names)
            self.console.print(
                f"  {cmd.name:<22} {delay:>5g} ms: {mid.traffic.http_requests:>4} requests, "
                f"{mid.traffic.calls:>4} calls, {mid.wall:6.2f} s (cold: "
                f"{cold.traffic.http_requests} requests, {cold.wall:.2f} s)"
            )
        if cmd.chain and self.trace and choice is not None:
            entry["callers"] = self.callers(cmd, choice, data)
        return entry


# ---------------------------------------------------------------- report


def keeper_passes(proxy: RpcProxy, record: DeploymentRecord, delay_ms: float) -> dict[str, Any]:
    """The keeper's requests and seconds per pass over the link, its views
    pinned and batched per pass (`KeeperConfig.pass_reads`) and not (each
    view one request, as Ape asks it): a fresh keeper's first pass (the
    replica's backfill from the engine's events) and a pass with nothing to
    do (median of QUIET_PASSES), in process through the proxy."""
    out: dict[str, Any] = {}
    proxy.delay_ms = delay_ms
    with networks.parse_network_choice(NETWORK, provider_settings={"host": proxy.url}):
        engine = load_engine(project, record)
        for label, batched in (("pinned_and_batched", True), ("one_view_per_request", False)):
            bot = Keeper(
                engine,
                accounts.test_accounts[KEEPER_INDEX],
                KeeperConfig(pass_reads=batched),
                log=lambda _: None,
            )
            runs = []
            for _ in range(1 + QUIET_PASSES):
                proxy.reset()
                t = time.perf_counter()
                stats = bot.run_once()
                seconds = time.perf_counter() - t
                traffic = proxy.reset()
                runs.append(
                    {
                        "seconds": round(seconds, 3),
                        "http_requests": traffic.http_requests,
                        "jsonrpc_calls": traffic.calls,
                        "methods": dict(traffic.methods.most_common()),
                        "accounts_screened": stats.accounts,
                        "liquidations": stats.liquidations,
                    }
                )
            quiet = sorted(runs[1:], key=lambda r: r["seconds"])[len(runs[1:]) // 2]
            out[label] = {"first_pass": runs[0], "quiet_pass": quiet}
    return out


def _top(methods: dict[str, int], k: int = TOP) -> str:
    items = list(methods.items())
    text = ", ".join(f"{m.removeprefix('eth_')} {c}" for m, c in items[:k])
    return text + (f", {sum(c for _, c in items[k:])} other" if items[k:] else "")


def verdicts(results: dict[str, Any], delay: float, accounts: int) -> list[dict[str, Any]]:
    out = []
    for t in TARGETS:
        at = results[t.command]["delays"][f"{delay:g}"]
        value = at[t.metric]
        out.append(
            {
                "command": t.command,
                "metric": t.metric,
                "target": t.text,
                "value": value,
                "verdict": t.verdict(value, accounts),
                # context for the seconds: the process's start-up before its
                # first request, and the rest
                "startup_seconds": at["startup_seconds"],
                "after_startup_seconds": round(at["wall_seconds"] - at["startup_seconds"], 3),
            }
        )
    return out


def table(
    title: str, results: dict[str, Any], floors: dict[str, Any], delay: float, accounts: int
) -> Table:
    slow = f"{delay:g}"
    t = Table(title=title)
    columns = (
        "command",
        "HTTP req",
        "calls",
        "top methods (calls)",
        f"s @{slow} ms",
        "s @0",
        "link s",
        "start-up s",
        "reads s",
        "after s",
        "cold: req, s",
        "targets (issue)",
    )
    for name in columns:
        left = name in ("command", "top methods (calls)", "targets (issue)")
        t.add_column(name, justify="left" if left else "right")
    for name, entry in floors.items():
        w = f"{entry['delays']['0']['wall_seconds']:.2f}"
        t.add_row(name, "0", "0", "(no chain read: a floor)", "", w, "", w, "", "", "", "")
    goals = {(g.command, g.metric): g for g in TARGETS}
    for name, entry in results.items():
        s, f, cold = entry["delays"][slow], entry["delays"]["0"], entry["cold"]
        goal = [goals.get((name, m)) for m in ("http_requests", "wall_seconds")]
        t.add_row(
            name,
            f"{s['http_requests']:,}",
            f"{s['jsonrpc_calls']:,}",
            _top(s["methods"]),
            f"{s['wall_seconds']:.2f}",
            f"{f['wall_seconds']:.2f}",
            f"{s['wall_seconds'] - f['wall_seconds']:.2f}",
            f"{f['startup_seconds']:.2f}",
            f"{f['reads_seconds']:.2f}",
            f"{f['after_seconds']:.2f}",
            f"{cold['http_requests']:,}, {cold['wall_seconds']:.2f}",
            "\n".join(f"{g.text}: {g.verdict(s[g.metric], accounts)}" for g in goal if g),
        )
    return t


def keeper_table(keeper: dict[str, Any], delay: float, accounts: int) -> Table:
    t = Table(title=f"keeper (`Keeper.run_once`) over a {delay:g} ms link, {accounts:,} accounts")
    for name in ("reads", "pass", "HTTP req", "calls", "top methods (calls)", "seconds"):
        t.add_column(
            name, justify="left" if name in ("reads", "pass", "top methods (calls)") else "right"
        )
    for label, entry in keeper.items():
        for which, r in entry.items():
            t.add_row(
                label.replace("_", " "),
                which.replace("_", " "),
                f"{r['http_requests']:,}",
                f"{r['jsonrpc_calls']:,}",
                _top(r["methods"]),
                f"{r['seconds']:.2f}",
            )
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000, help="crowd size")
    parser.add_argument(
        "--delay-ms", type=float, default=100.0, help="delay per HTTP request (round trip)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per command and delay (median)")
    parser.add_argument(
        "--networks", default=",".join(NETWORKS), help=f"of {', '.join(NETWORKS)}, in order"
    )
    parser.add_argument(
        "--no-callers", action="store_true", help="skip the run that traces call sites"
    )
    parser.add_argument(
        "--sequence", action="store_true", help="print each request sequence and its callers"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    shapes = [n.strip() for n in args.networks.split(",") if n.strip()]
    if unknown := set(shapes) - set(NETWORKS):
        parser.error(f"unknown network(s) {', '.join(sorted(unknown))}: of {', '.join(NETWORKS)}")
    logger.set_level("ERROR")
    console = Console(width=240)
    started = time.perf_counter()
    delays = (args.delay_ms, 0.0)
    result: dict[str, Any] = {
        "accounts": args.accounts,
        "delay_ms": args.delay_ms,
        "repeat": args.repeat,
        "python": sys.version.split()[0],
        "networks": {},
    }
    with tempfile.TemporaryDirectory(prefix="rpc_latency_") as name, anvil(False) as (url, cmd):
        tmp = Path(name)
        records = tmp / "deployments"
        result["anvil_command"] = cmd[1:]
        record, setup = set_up(url, args.accounts, tmp / "deployed")
        result["setup"] = setup
        console.print(
            f"{setup['registered_accounts']:,} accounts on {url} (deploy "
            f"{setup['deploy_seconds']} s, crowd {setup['crowd_seconds']} s)"
        )
        owner = str(accounts.test_accounts[OWNER_INDEXES[0]].address)
        with RpcProxy(url, delay_ms=args.delay_ms) as proxy:
            env = dict(os.environ)
            env[DIR_ENV] = str(records)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
            names = labels(record)
            run = Runner(proxy, env, tmp, names, args.repeat, not args.no_callers, console)
            console.print("floors (no chain read)")
            result["floors"] = {c.name: run.measure(c, None, (0.0,)) for c in FLOORS}
            console.print(f"keeper passes at {args.delay_ms:g} ms")
            result["keeper"] = keeper_passes(proxy, record, args.delay_ms)
            proxy.delay_ms = args.delay_ms
            for shape in shapes:
                deployed = record_path("ethereum", record.chain_id, tmp / "deployed")
                choice = serve_as(url, record, shape, records, abi_dir(deployed))
                console.print(f"{shape}: read as {choice}")
                out: dict[str, Any] = {"choice": choice, "chain_id": NETWORKS[shape][1]}
                out["commands"] = {}
                for c in commands(owner, FIRST_SUB, tmp):
                    out["commands"][c.name] = run.measure(c, choice, delays)
                out["targets"] = verdicts(out["commands"], args.delay_ms, args.accounts)
                result["networks"][shape] = out
    result["wall_seconds"] = round(time.perf_counter() - started, 1)

    delay_ms = args.delay_ms
    for shape, out in result["networks"].items():
        title = (
            f"xmargin CLI read as {out['choice']} over a {args.delay_ms:g} ms link, "
            f"{args.accounts:,} accounts (one process per command; reads and after at 0 ms)"
        )
        console.print(table(title, out["commands"], result["floors"], delay_ms, args.accounts))
        for v in out["targets"]:
            line = f"{shape}: {v['command']} {v['target']}: {v['value']:,} -> {v['verdict']}"
            if v["metric"] == "wall_seconds":
                line += (
                    f" ({v['startup_seconds']:.2f} s of start-up before the first request, "
                    f"{v['after_startup_seconds']:.2f} s after it)"
                )
            console.print(line)
        if args.sequence:
            for name, entry in out["commands"].items():
                console.print(f"\n[bold]{shape} {name}[/bold]: requests in order")
                for line in entry["sequence"]:
                    console.print(f"  {line}", markup=False, highlight=False)
                console.print(f"[bold]{shape} {name}[/bold]: requests by call site")
                for line, count in entry.get("callers", {}).items():
                    console.print(f"  {count:>4}  {line}", markup=False, highlight=False)
    console.print(keeper_table(result["keeper"], delay_ms, args.accounts))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written to {args.out} ({result['wall_seconds']} s)")


if __name__ == "__main__":
    main()
