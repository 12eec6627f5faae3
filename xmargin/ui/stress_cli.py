"""`xmargin stress`: shock a fork of a deployment and replay the keeper's
cascade (docs/stress.md). Registered on the `xmargin` group by
`xmargin.ui.cli`; everything heavy is imported inside the command.

    xmargin stress --shock ETH=-30%,BTC=+10% --over 1h --steps 12
    xmargin stress --shock ETH=-30% --set ETH-PERP.mmr=0.08          # a what-if
    xmargin stress --paths 40 --vol WETH=0.9 --vol WBTC=0.7 --over 1d  # Monte Carlo
    xmargin stress --paths 40 --scenarios --dask local                 # on Dask
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from xmargin.chain.deployments import REPO_ROOT

if TYPE_CHECKING:
    from xmargin.chain.deployments import DeploymentRecord
    from xmargin.maths.stress import Override
    from xmargin.maths.stress import Path as StressPath
    from xmargin.ops.stress_session import Source

DEFAULT_NETWORK = "ethereum:local:node"


def _shock(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, int] | None:
    from xmargin.maths.stress import StressInputError, parse_shock

    if value is None:
        return None
    try:
        return parse_shock(value)
    except StressInputError as err:
        raise click.BadParameter(str(err)) from None


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> int:
    from xmargin.maths.stress import StressInputError, parse_duration

    try:
        return parse_duration(value)
    except StressInputError as err:
        raise click.BadParameter(str(err)) from None


def _overrides(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Any]:
    from xmargin.maths.stress import StressInputError, parse_override

    try:
        return [parse_override(v) for v in values]
    except StressInputError as err:
        raise click.BadParameter(str(err)) from None


def _vols(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values:
        name, sep, number = v.partition("=")
        try:
            x = float(number.strip().rstrip("%")) / (100 if number.strip().endswith("%") else 1)
        except ValueError:
            x = math.nan
        if not sep or not name.strip() or not math.isfinite(x) or not 0 < x <= 20:
            raise click.BadParameter(f"'{v}': ASSET=VOL, an annual volatility (0.8 or 80%)")
        out[name.strip()] = x
    return out


@click.command(name="stress")
@click.option(
    "--network",
    default=DEFAULT_NETWORK,
    show_default=True,
    help="Ape network choice of the node to fork (only read, never sent to).",
)
@click.option("--rpc", default=None, metavar="URL", help="The node's URL, if not the network's.")
@click.option(
    "--record",
    "record_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The deployment record (default: the network's in deployments/).",
)
@click.option(
    "--block", type=click.IntRange(min=0), default=None, help="Fork block (default: the head)."
)
@click.option(
    "--shock",
    callback=_shock,
    default=None,
    metavar="NAME=MOVE%,...",
    help="The moves reached at the last step: assets (WETH), markets (ETH-PERP) or their "
    "base (ETH), e.g. ETH=-30%,BTC=+10%.",
)
@click.option(
    "--over",
    "seconds",
    callback=_duration,
    default="1h",
    show_default=True,
    help="How long the path takes (s, m, h, d).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1, max=1000),
    default=12,
    show_default=True,
    help="Price steps (one keeper cascade after each).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    callback=_overrides,
    metavar="TARGET.FIELD=VALUE",
    help="Run the path again with this config change applied by the owner on the fork "
    "(e.g. ETH-PERP.mmr=0.08); repeatable.",
)
@click.option(
    "--paths",
    type=click.IntRange(min=1, max=100_000),
    default=None,
    help="Monte Carlo: this many random paths (from --vol or --scenarios).",
)
@click.option(
    "--vol",
    "vols",
    multiple=True,
    callback=_vols,
    metavar="ASSET=VOL",
    help="With --paths: an asset's annual volatility (GBM paths); repeatable.",
)
@click.option(
    "--correlation",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="With --vol: the common factor's share of each asset's variance.",
)
@click.option(
    "--scenarios",
    is_flag=True,
    help="With --paths: end each path on a row of the deployment's portfolio scenario set.",
)
@click.option(
    "--wobble",
    type=click.FloatRange(0, 2),
    default=0.03,
    show_default=True,
    help="With --scenarios: the log-price wander of each path around its line.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the paths.")
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=2,
    show_default=True,
    help="With --paths: worker processes (one fork each).",
)
@click.option(
    "--dask",
    default=None,
    metavar="local|ADDRESS",
    help="With --paths: run on Dask distributed, a LocalCluster of --workers or a scheduler.",
)
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=None,
    metavar="K",
    help="With --paths: replay drawn path K alone, in detail (tables, chart; --set allowed).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/stress.png"),
    show_default=True,
    help="The cascade chart (PNG).",
)
@click.option(
    "--keeper-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the keeper's JSON log lines of the path (and its what-if) to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def stress_command(
    network: str,
    rpc: str | None,
    record_file: Path | None,
    block: int | None,
    shock: dict[str, int] | None,
    seconds: int,
    steps: int,
    overrides: list[Override],
    paths: int | None,
    vols: dict[str, float],
    correlation: float,
    scenarios: bool,
    wobble: float,
    seed: int,
    workers: int,
    dask: str | None,
    show: int | None,
    out: Path,
    keeper_log: Path | None,
    as_json: bool,
) -> None:
    """Shock a fork of a deployment and replay the liquidation cascade with
    the real keeper: per step liquidations, bad debt, insurance, pool loss,
    LP share price, ADL, skew, each step checked against the ledgers.
    Nothing is sent to the network; the fork is stopped at the end."""
    if out.suffix.lower() != ".png":
        raise click.BadParameter(f"'{out}': the chart is a PNG; name the file *.png")
    if paths is None and shock is None:
        raise click.UsageError("give --shock (one path), or --paths N with --vol or --scenarios")
    if paths is not None and shock is not None:
        raise click.UsageError("--paths draws its own paths: without --shock")
    if paths is not None and overrides and show is None:
        raise click.UsageError("--set compares one path: with --shock, or --paths N --show K")
    if paths is not None and bool(vols) == scenarios:
        raise click.UsageError("--paths needs either --vol ASSET=VOL or --scenarios (not both)")
    if show is not None and (paths is None or show >= paths):
        raise click.UsageError(f"--show K picks one of the --paths drawn: 0 <= K < {paths or 0}")
    from ape.logging import logger

    from xmargin.maths.stress import StressInputError, linear_path, resolve_names
    from xmargin.ops.fork import ForkError, is_loopback

    logger.set_level("ERROR")
    try:
        source = _source(network, rpc, record_file, block)
        record = source.record
        priced = [s for s, a in record.assets.items() if a.feed is not None]
        markets = _market_assets(record)
        if shock is not None:
            path = linear_path(resolve_names(shock, priced, markets), steps, seconds)
            _one(
                source,
                path,
                f"{_moves(path.final)} over {seconds} s in {steps} steps",
                overrides,
                out,
                keeper_log,
                as_json,
            )
            return
        assert paths is not None
        drawn = _draw(
            record,
            priced,
            markets,
            paths,
            vols,
            correlation,
            scenarios,
            wobble,
            seed,
            seconds,
            steps,
        )
        if show is not None:
            title = f"path {show} of {paths} drawn (seed {seed}): ends {_moves(drawn[show].final)}"
            _one(source, drawn[show], title, overrides, out, keeper_log, as_json)
            return
        if dask not in (None, "local") and is_loopback(source.uri):
            raise StressInputError(
                f"the Dask scheduler's workers would each fork {source.uri}, a node on their "
                "own machine: pass an --rpc they reach (or --dask local)"
            )
        _many(source, drawn, seconds, steps, workers, dask, as_json)
    except (StressInputError, ForkError) as err:
        raise click.ClickException(str(err)) from err


def _moves(final: dict[str, int]) -> str:
    """{"WETH": 0.7e18} -> "WETH -30.0%"."""
    return ", ".join(f"{a} {(m - 10**18) / 1e16:+.1f}%" for a, m in final.items())


def _draw(
    record: DeploymentRecord,
    priced: list[str],
    markets: dict[str, str],
    paths: int,
    vols: dict[str, float],
    correlation: float,
    scenarios: bool,
    wobble: float,
    seed: int,
    seconds: int,
    steps: int,
) -> list[StressPath]:
    """The Monte Carlo paths: from the scenario set, or from volatilities."""
    from xmargin.maths.stress import StressInputError, resolve_names
    from xmargin.ops import stress_paths as sp

    if scenarios:
        from xmargin.ops.stress_session import deployed_config

        portfolio = deployed_config(record).portfolio
        if portfolio is None:
            raise StressInputError(
                f"the config '{record.config}' has no portfolio scenario set: use --vol"
            )
        return sp.scenario_paths(paths, seed, portfolio, priced, steps, seconds, wobble)
    named = resolve_names({k: 0 for k in vols}, priced, markets)
    asset_vols = {a: vols[n] for n, a in zip(vols, named, strict=True)}
    return sp.vol_paths(paths, seed, asset_vols, steps, seconds, correlation)


def _source(network: str, rpc: str | None, record_file: Path | None, block: int | None) -> Source:
    from xmargin.chain.connect import provider_for
    from xmargin.chain.deployments import DeploymentError, read_record, require_record
    from xmargin.chain.network import ConnectError
    from xmargin.ops.fork import ForkError
    from xmargin.ops.fork import rpc as call
    from xmargin.ops.stress_session import check_source

    try:
        provider = provider_for(network, rpc)
        uri = rpc or str(getattr(provider, "uri", "") or "")
        if not uri.startswith(("http://", "https://")):
            raise ForkError(f"anvil forks an http(s) node: pass --rpc (got '{uri or network}')")
        record: DeploymentRecord | None
        if record_file is not None:
            record = read_record(record_file)
            assert record is not None
        else:
            try:
                chain_id = int(call(uri, "eth_chainId"), 16)
            except OSError as err:
                raise ForkError(f"no node at {uri} to fork: {err}") from err
            net = provider.network
            record = require_record(net.ecosystem.name, net.name, chain_id)
        return check_source(uri, record, block)
    except (ConnectError, DeploymentError) as err:
        raise click.ClickException(str(err)) from err


def _console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200, soft_wrap=False)


def _one(
    source: Source,
    path: StressPath,
    title: str,
    overrides: list[Override],
    out: Path,
    keeper_log: Path | None,
    as_json: bool,
) -> None:
    import json

    from ape import Project

    from xmargin.maths.fixed_point import format_units
    from xmargin.ops.stress_session import stress
    from xmargin.ui import stress_view as view

    record = source.record
    steps = len(path.steps)
    console = _console()
    err = _console_err()

    def progress(label: str, step: Any) -> None:
        debt = format_units(step.bad_debt, record.assets[record.quote_symbol].decimals, 2)
        err.print(
            f"{label} step {step.step}/{steps}: {step.liquidations} liquidations, bad debt {debt}"
        )

    outcome = stress(Project(REPO_ROOT), source, path, overrides, progress=progress)
    if keeper_log is not None:
        with keeper_log.open("w") as f:
            for name, run in (("base", outcome.base), ("what-if", outcome.what_if)):
                for line in run.keeper_log if run is not None else []:
                    f.write(json.dumps({"run": name, **line}, default=str) + "\n")
    moved = list(path.final)
    label = ", ".join(o.label for o in overrides) or "what-if"
    view.cascade_chart(outcome, moved, out, label)
    quote = record.quote_symbol
    if as_json:
        doc = view.outcome_doc(outcome, path, quote, [o.label for o in overrides])
        click.echo(view.jv.dumps(doc | {"file": str(out)}))
    else:
        console.print(
            f"xmargin stress of {record.network} (chain {record.chain_id}) forked at block "
            f"{source.block}: {title}"
        )
        console.print(view.steps_table("as deployed", outcome.base, moved))
        if outcome.what_if is not None:
            console.print(view.steps_table(label, outcome.what_if, moved))
            console.print("the owner sent on the fork: " + "; ".join(outcome.sent))
        console.print(view.totals_table(f"totals ({quote})", outcome.base, outcome.what_if, label))
        for name, result in (("as deployed", outcome.base), (label, outcome.what_if)):
            if result is not None and result.bad_debt_accounts:
                console.print(view.bad_debt_table(f"accounts in bad debt, {name}", result))
        console.print(f"chart: {out}")
    if not outcome.base.checks_pass or (outcome.what_if and not outcome.what_if.checks_pass):
        sys.exit(3)


def _many(
    source: Source,
    drawn: list[StressPath],
    seconds: int,
    steps: int,
    workers: int,
    dask: str | None,
    as_json: bool,
) -> None:
    import time

    from xmargin.maths.fixed_point import format_units
    from xmargin.ops import stress_paths as sp
    from xmargin.ui import stress_view as view

    record = source.record
    paths = len(drawn)
    jobs = [
        sp.PathJob(i, source.uri, record.to_json(), source.block, p, source.block_hash)
        for i, p in enumerate(drawn)
    ]
    err = _console_err()
    decimals = record.assets[record.quote_symbol].decimals

    def done(o: sp.PathOutcome) -> None:
        debt = format_units(o.bad_debt, decimals, 2)
        said = o.error or f"bad debt {debt}, {o.liquidations} liquidations"
        err.print(f"path {o.index}: {said} ({o.seconds:.1f} s)")

    started = time.monotonic()
    if dask is None:
        outcomes = sp.run_local(jobs, workers, done)
    else:
        outcomes = sp.run_dask(jobs, None if dask == "local" else dask, workers, done)
    wall = time.monotonic() - started
    failed = [o for o in outcomes if o.error is not None]
    quote = record.quote_symbol
    if as_json:
        doc = view.paths_doc(outcomes, decimals, record.network, record.chain_id, source.block)
        click.echo(view.jv.dumps(doc | {"seconds": round(wall, 1), "workers": workers}))
    else:
        console = _console()
        console.print(
            f"xmargin stress of {record.network} forked at block {source.block}: {paths} paths "
            f"over {seconds} s in {steps} steps, {workers} workers"
            + (" on Dask" if dask else "")
            + f": {wall:.0f} s, {60 * paths / wall:.1f} paths a minute"
        )
        console.print(
            view.distribution_table(f"over {paths - len(failed)} paths", outcomes, decimals, quote)
        )
        worst = sp.worst(outcomes)
        if worst is not None:
            final = _moves(dict(worst.final or {}))
            console.print(
                f"worst path: #{worst.index} ({final}), {worst.liquidations} "
                f"liquidations, {worst.bad_debt_accounts} accounts in bad debt; replay it with "
                f"--show {worst.index}"
            )
        for o in failed:
            console.print(f"[red]path {o.index} failed: {o.error}[/red]")
    if failed or any(not o.checks_pass for o in outcomes if o.error is None):
        sys.exit(3)


def _console_err() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _market_assets(record: DeploymentRecord) -> dict[str, str]:
    """market symbol -> its asset, by the config's naming (ETH-PERP trades
    the asset whose symbol ends in its base: WETH)."""
    from xmargin.ops.stress_session import market_assets

    return market_assets(record)
