"""`xmargin`: the operator's view of a deployed engine.

    xmargin status OWNER [--sub N]       collateral, positions, options, health, liquidation prices
    xmargin accounts [--unhealthy]       every account's health, or those a keeper would liquidate
    xmargin chart OWNER [--sub N] --out health.png   equity and MM against each price move
    xmargin report [--out report.png]    pool, insurance fund, bad debt, liquidations
    xmargin stress --shock ETH=-30%      a price path on a fork, the keeper's cascade (stress_cli)

Every command reads `deployments/<ecosystem>-<chain id>.json`
(XMARGIN_DEPLOYMENTS_DIR overrides the directory) and reads the chain through an already running
node: `--network` is an Ape network choice (default `ethereum:local:node`,
http://127.0.0.1:8545), `--rpc URL` points it at another node. Nothing is
ever sent. Errors are click errors that say what to do (exit 1; 2 for a bad
argument), never a traceback.

This module is thin: connecting is `xmargin.chain.connect`, reading
`xmargin.chain.engine` / `xmargin.chain.scan` / `xmargin.chain.summary`, the tables
`xmargin.ui.report`, the charts `xmargin.ui.figures` / `xmargin.ui.charts`. Those
(and Ape) are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from xmargin.chain.deployments import REPO_ROOT
from xmargin.chain.sizes import DEPLOYABLES

if TYPE_CHECKING:
    from ape.managers.project import ProjectManager
    from rich.console import Console

    from xmargin.chain.connect import Connection
    from xmargin.chain.engine import AccountView, Engine
    from xmargin.chain.light import LightConnection
    from xmargin.chain.prefetch import Forecast

DEFAULT_NETWORK = "ethereum:local:node"
# The repository: its contracts give the ABIs, wherever the command runs.
PROJECT_ROOT = REPO_ROOT
# Prefetch rounds at most (xmargin.chain.prefetch): the engine and the
# account, then what depends on them (a portfolio account's scenario grid).
FORECAST_ROUNDS = 3
# Set (not 0): read through Ape even where the fast path could (`_fast_session`).
THROUGH_APE = "XMARGIN_READ_THROUGH_APE"
# Rich squeezes tables to the terminal; in a pipe or a log, never squeeze.
PIPE_WIDTH = 200


@dataclass(frozen=True)
class Session:
    """A connected engine, every read pinned to `block`: through Ape, or
    (`_light_session`) without it, `project` then None."""

    connection: Connection | LightConnection
    engine: Engine
    project: ProjectManager | None
    block: int

    @property
    def where(self) -> str:
        from xmargin.ui.report import location

        return location(self.connection.network, self.block)


def _address(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A checksummed address, or a usage error naming the bad value. A
    mixed-case address must carry a valid EIP-55 checksum (a typo in it
    would otherwise name another account); all lower or upper case has none."""
    from eth_utils import is_address, to_checksum_address

    digits = value[2:] if value[:2].lower() == "0x" else value
    if not is_address(value) and not (
        len(digits) == 40 and all(c in "0123456789abcdefABCDEF" for c in digits)
    ):
        raise click.BadParameter(f"'{value}' is not an address (0x followed by 40 hex digits)")
    checksummed = to_checksum_address("0x" + digits)
    if digits not in (digits.lower(), digits.upper()) and "0x" + digits != checksummed:
        raise click.BadParameter(
            f"'{value}' fails its EIP-55 checksum (a mistyped letter or digit?); "
            f"the checksummed form of these digits is {checksummed}"
        )
    return checksummed


def _rpc_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`host:port` becomes `http://host:port`; a URL of another scheme than
    http(s) or ws(s) is refused with what to pass instead."""
    if value is None:
        return None
    if "://" not in value:
        return f"http://{value}"
    scheme = value.split("://", 1)[0].lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise click.BadParameter(
            f"'{value}': the node's URL starts with http://, https://, ws:// or wss:// "
            "(e.g. http://127.0.0.1:8545)"
        )
    return value


def _png(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """The charts are PNG: another extension is refused, not written as PNG bytes."""
    if value.suffix.lower() != ".png":
        raise click.BadParameter(f"'{value}': the chart is a PNG; name the file *.png")
    return value


network_option = click.option(
    "--network",
    default=DEFAULT_NETWORK,
    show_default=True,
    help="Ape network choice of a running node (never started by this command).",
)
rpc_option = click.option(
    "--rpc",
    default=None,
    metavar="URL",
    callback=_rpc_url,
    help="The node's URL, if not the network's default (local: http://127.0.0.1:8545).",
)
owner_argument = click.argument("owner", callback=_address)
sub_option = click.option(
    "--sub", "sub_id", type=click.IntRange(min=0), default=0, show_default=True, help="Sub-account."
)
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (decimal strings, units in the names: docs/cli.md) "
    "instead of tables.",
)


def _console() -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH, soft_wrap=False)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turns every expected failure into a click error with its message."""
    from ape.exceptions import ApeException, ContractLogicError

    from xmargin.chain.deployments import DeploymentError
    from xmargin.chain.network import ConnectError

    # requests' errors (Ape's transport) where it is loaded; the fast path
    # imports neither (its transport's errors are ConnectErrors).
    requests = sys.modules.get("requests")
    lost: tuple[type[BaseException], ...] = (ConnectionError,)
    if requests is not None:
        lost += (requests.RequestException,)

    try:
        yield
    except click.ClickException:
        raise
    except (ConnectError, DeploymentError) as err:
        raise click.ClickException(str(err)) from err
    except ContractLogicError as err:
        raise click.ClickException(
            f"the chain refused a read: {err.message} (an oracle price the account needs may be "
            "invalid or stale)"
        ) from err
    except lost as err:
        raise click.ClickException(f"lost the node: {err}") from err
    except ApeException as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    except OSError as err:
        raise click.ClickException(f"{err.strerror or err}: {err.filename or ''}") from err


@contextlib.contextmanager
def _session(
    network: str, rpc: str | None, forecast: Callable[[Forecast], Forecast] | None = None
) -> Iterator[Session]:
    """Connects and loads the engine; yields a Session pinned to the head
    block. Every request goes through the connection's PinnedReads (one
    block, each question once); `forecast` lists the reads the command is
    about to make, asked together first (xmargin.chain.prefetch)."""
    from ape import Project
    from ape.logging import logger

    from xmargin.chain.connect import connect
    from xmargin.chain.engine import load_engine
    from xmargin.chain.prefetch import Forecast

    logger.set_level("ERROR")
    with _errors(), connect(network, rpc) as connection:
        project = Project(PROJECT_ROOT)
        reads = connection.reads
        if reads is not None and reads.block is not None and forecast is not None:
            # A round per layer of reads that depend on earlier answers.
            for _ in range(FORECAST_ROUNDS):
                plan = forecast(Forecast.of_project(project, connection.record, reads.block, reads))
                if not reads.prefetch(plan.calls):
                    break
        engine = load_engine(project, connection.record)
        block = connection.provider.get_block("latest").number
        assert block is not None, "a mined block has a number"
        with _refused_prices(engine, block):
            yield Session(connection, engine, project, block)


@contextlib.contextmanager
def _fast_session(
    network: str, rpc: str | None, forecast: Callable[[Forecast], Forecast] | None = None
) -> Iterator[Session]:
    """`_light_session` where it can serve the choice (no Ape imported:
    `xmargin.chain.light`), else `_session`: the same reads, the same
    checks and messages. XMARGIN_READ_THROUGH_APE=1 takes `_session`."""
    from xmargin.chain.light import UnsupportedError

    with contextlib.ExitStack() as stack:
        try:
            if os.environ.get(THROUGH_APE, "").strip() not in ("", "0"):
                raise UnsupportedError(f"{THROUGH_APE} is set")
            session = stack.enter_context(_light_session(network, rpc, forecast))
        except UnsupportedError:
            session = stack.enter_context(_session(network, rpc, forecast))
        yield session


@contextlib.contextmanager
def _light_session(
    network: str, rpc: str | None, forecast: Callable[[Forecast], Forecast] | None = None
) -> Iterator[Session]:
    """As `_session`, without Ape: raises `xmargin.chain.light.UnsupportedError`
    before any request when the choice or the record needs Ape."""
    from xmargin.chain.deployments import abi_dir
    from xmargin.chain.light import light_connect, load_light_engine
    from xmargin.chain.prefetch import Forecast
    from xmargin.chain.risk_set import risk_set_address

    with _errors(), light_connect(network, rpc) as connection:
        reads, record = connection.reads, connection.record
        abis = abi_dir(connection.record_path)
        recorded = load_light_engine(
            record, abis, connection.node, record.contracts.get("PortfolioRisk")
        )
        block = reads.block
        assert block is not None, "the opening pinned the head"
        if forecast is not None:
            for _ in range(FORECAST_ROUNDS):
                plan = forecast(Forecast.of_engine(recorded, block, reads))
                if not reads.prefetch(plan.calls):
                    break
        engine = load_light_engine(
            record, abis, connection.node, risk_set_address(recorded.clearinghouse)
        )
        with _refused_prices(engine, block):
            yield Session(connection, engine, None, block)


@contextlib.contextmanager
def _refused_prices(engine: Engine, block: int) -> Iterator[None]:
    """A read the router refused becomes a click error naming the asset,
    the feed and its age (`xmargin.chain.oracle`), not the bare reason."""
    from ape.exceptions import ContractLogicError

    from xmargin.chain.oracle import oracle_reason, price_problems

    try:
        yield
    except ContractLogicError as err:
        reason = oracle_reason(err)
        if reason is None:
            raise
        with _quiet():
            problems = price_problems(engine, block)
        said = "; ".join(p.describe() for p in problems) or reason
        raise click.ClickException(f"a price this command needs is refused: {said}") from err


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Around chain reads: Ape prints a call trace to stdout for every
    reverted call; the command reports the revert itself, once."""
    from xmargin.chain.engine import stdout_silenced

    with stdout_silenced():
        yield


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields `advance(done, total)`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    console = Console(stderr=True)
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _read_owner(session: Session, owner: str, sub_id: int) -> AccountView:
    """The account at the session's block; a click error if it holds nothing."""
    from xmargin.chain.engine import read_account

    view = read_account(session.engine, owner, sub_id, block_id=session.block)
    if not view.positions and not any(view.balances.values()):
        raise click.ClickException(
            f"account {owner}/{sub_id} holds nothing on this deployment (no balance, no "
            f"position at block {session.block}): check the address and --sub; "
            "`xmargin accounts` lists every account that ever traded"
        )
    return view


@click.group()
@click.version_option(package_name="xmargin", message="xmargin %(version)s")
def main() -> None:
    """Read a deployed xmargin engine: account health, keeper targets, charts, report."""
    # Raised inside Ape's own config models at import; not the user's concern.
    warnings.filterwarnings("ignore", message="Field 'import_remapping'")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@main.command()
@owner_argument
@sub_option
@network_option
@rpc_option
@json_option
def status(owner: str, sub_id: int, network: str, rpc: str | None, as_json: bool) -> None:
    """Collateral, positions, equity, IM, MM and liquidation prices of one account."""
    from xmargin.chain.lens import liquidation_prices
    from xmargin.ui import json_view as jv
    from xmargin.ui import report

    def reads(f: Forecast) -> Forecast:
        f = f.engine().portfolio(owner, sub_id).account(owner, sub_id)
        return f.pool_and_ledgers().asset_states()

    with _fast_session(network, rpc, reads) as s:
        with _quiet():
            view = _read_owner(s, owner, sub_id)
            assets = s.engine.asset_params()
            liquidation = liquidation_prices(view, s.engine.lens, s.engine, s.block, assets)
            order = _order(s, owner, sub_id)
            requests = _lp_requests(s, owner)
            adl = _adl(s, view)
            standing = _asset_standing(s)
        if as_json:
            doc = jv.header("status", s.connection.network, s.block) | {
                "owner": owner,
                "sub": sub_id,
                "quote": s.engine.quote_symbol,
                "margin_mode": "portfolio" if view.portfolio is not None else "linear",
                "collateral": jv.collateral(view, assets, s.engine.quote_symbol),
                "positions": jv.positions(view, liquidation),
                "options": jv.option_positions(view),
                "health": jv.health(view.health) | {"model_agrees": view.model_agrees},
                "portfolio": (
                    jv.portfolio(view.portfolio, view.margin_config)
                    if view.portfolio is not None and view.margin_config is not None
                    else None
                ),
                "order": order[0] if order else None,
                "lp_requests": [d for d, _ in requests],
                "adl": [d for d, _ in adl],
                "assets": [d for d, _ in standing],
            }
            click.echo(jv.dumps(doc))
            return
        out = _console()
        out.print(f"account {owner}/{sub_id} on {s.where}")
        out.print(report.collateral_table("Collateral", view, assets, s.engine.quote_symbol))
        if view.positions:
            label = report.short_address(owner)
            out.print(report.positions_table("Positions", [view], [label], [liquidation]))
            if view.portfolio is not None:
                out.print(
                    "note: portfolio margin: IM and MM are the whole book's (table below); a "
                    "liquidation price moves every holding of the asset under the scenario set "
                    "(the lens bisects it to the price / 1e9)"
                )
            for _, line in adl:
                out.print(line)
        else:
            out.print("no open position")
        if view.options:
            out.print(report.options_table("Options", view))
        for _, line in [*([order] if order else []), *requests, *standing]:
            out.print(line)
        out.print(report.account_table("Health", view))
        if view.portfolio is not None and view.margin_config is not None:
            out.print(
                report.portfolio_table("Portfolio margin", view.portfolio, view.margin_config)
            )


# A fact for `--json` and the line that says it to a person.
Fact = tuple[dict[str, Any], str]


def _asset_standing(s: Session) -> list[Fact]:
    """Collateral assets not in good standing: a token whose balance cannot
    be read, short of its ledgers, or frozen (issue 19)."""
    from xmargin.chain.assets import read_asset_states
    from xmargin.ui import json_view as jv
    from xmargin.ui import report

    now = s.engine.clearinghouse.chain_manager.blocks[s.block].timestamp
    decimals = {k: v.decimals for k, v in s.engine.record.assets.items()}
    out = []
    for a in read_asset_states(s.engine, s.block):
        lines = report.asset_lines([a], decimals, now)
        if lines:
            out.append((jv.asset_state(a, decimals[a.symbol], now), "\n".join(lines)))
    return out


def _order(s: Session, owner: str, sub_id: int) -> Fact | None:
    """The account's pending delayed order, if any, and where it stands
    (docs/orders.md)."""
    from xmargin.chain.orders import published_at, read_order
    from xmargin.maths import errors
    from xmargin.maths import orders as om
    from xmargin.maths.fixed_point import format_units
    from xmargin.ui import json_view as jv

    ch = s.engine.clearinghouse
    order = read_order(ch, owner, sub_id, s.block)
    if not order.exists:
        return None
    symbol = next(
        (k for k, v in s.engine.record.markets.items() if v == order.market_id),
        f"market {order.market_id}",
    )
    now = ch.chain_manager.blocks[s.block].timestamp
    asset = ch.market_params(order.market_id, block_id=s.block).asset
    at = published_at(s.engine.router, asset, s.block)
    why = om.settle_reason(order, now, at if at is not None else 0)
    state, said = {
        None: ("due", "[green]due: any keeper may settle it now[/green]"),
        errors.ORDER_TOO_EARLY: ("too_early", f"settles in {order.settle_after - now} s"),
        errors.ORDER_EXPIRED: (
            "expired",
            "[red]expired: the owner may cancel it (fee refunded)[/red]",
        ),
        errors.ORDER_PRICE_TOO_OLD: (
            "price_too_old",
            "waiting for a price published after its delay",
        ),
    }.get(why, (str(why), str(why)))
    decimals = s.engine.record.assets[s.engine.quote_symbol].decimals
    any_price = order.acceptable_price >= om.MAX_ACCEPTABLE or (
        order.size_delta < 0 and order.acceptable_price == 0
    )
    limit = "any price" if any_price else f"${format_units(order.acceptable_price, 18, 2)}"
    doc = {
        "market": symbol,
        "market_id": order.market_id,
        "size_delta": jv.dec(order.size_delta),
        "acceptable_price_usd": None if any_price else jv.usd(order.acceptable_price),
        "fee_quote": jv.dec(order.fee, decimals),
        "settle_after": order.settle_after,
        "state": state,
    }
    line = (
        f"pending order: {format_units(order.size_delta, 18, 4)} {symbol} at {limit}, "
        f"fee {format_units(order.fee, decimals, 2)} {s.engine.quote_symbol} escrowed; "
        f"{said}"
    )
    return doc, line


def _lp_requests(s: Session, owner: str) -> list[Fact]:
    """The owner's LP requests in the LiquidityPool (as controller), if
    any: what is pending and when it settles, what is claimable."""
    from xmargin.chain.lp_requests import read_request
    from xmargin.maths import errors
    from xmargin.maths import lp_requests as lr
    from xmargin.maths.fixed_point import format_units
    from xmargin.ui import json_view as jv

    vault = s.engine.pool
    if vault is None:
        return []
    delay = int(vault.REQUEST_DELAY(block_id=s.block))
    now = vault.chain_manager.blocks[s.block].timestamp
    prices_since = int(s.engine.clearinghouse.pool_prices_since(block_id=s.block))
    decimals = s.engine.record.assets[s.engine.quote_symbol].decimals
    quote = s.engine.quote_symbol
    out: list[Fact] = []
    for is_deposit in (True, False):
        r = read_request(vault, owner, is_deposit, s.block)
        shares_in = not is_deposit
        unit_in, unit_out = ("xLP", quote) if shares_in else (quote, "xLP")
        kind = "deposit" if is_deposit else "redemption"
        if r.pending:
            why = lr.settle_reason(r, delay, now, prices_since)
            state, said = {
                None: ("due", "[green]due: any keeper may settle it now[/green]"),
                errors.REQUEST_TOO_EARLY: (
                    "too_early",
                    f"settles in {r.settles_from(delay) - now} s",
                ),
                errors.REQUEST_PRICE_TOO_OLD: (
                    "price_too_old",
                    "waiting for prices published after its delay",
                ),
            }.get(why, (str(why), str(why)))
            doc = {
                "kind": kind,
                "pending": jv.dec(r.pending, decimals),
                "unit": unit_in,
                "settles_from": r.settles_from(delay),
                "state": state,
            }
            line = f"pending LP {kind}: {format_units(r.pending, decimals, 2)} {unit_in}; {said}"
            out.append((doc, line))
        if r.claimable_in:
            doc = {
                "kind": kind,
                "claimable": jv.dec(r.claimable_out, decimals),
                "claimable_unit": unit_out,
                "for": jv.dec(r.claimable_in, decimals),
                "unit": unit_in,
                "state": "claimable",
            }
            line = (
                f"claimable LP {kind}: {format_units(r.claimable_out, decimals, 2)} {unit_out} "
                f"for {format_units(r.claimable_in, decimals, 2)} {unit_in}"
            )
            out.append((doc, line))
    return out


def _adl(s: Session, view: AccountView) -> list[Fact]:
    """Each winning position's ADL rank (profit ratio times leverage, the
    keeper's order: docs/pool.md) and how close its market is to ADL."""
    from xmargin.chain.engine import read_adl_state
    from xmargin.maths.pool import adl_rank
    from xmargin.ui import json_view as jv

    ch = s.engine.clearinghouse
    out: list[Fact] = []
    for p in view.positions:
        m = p.market
        rank = adl_rank(p.position, m.price, m.index, view.health.equity, m.state.skew)
        if rank == 0 or ch.market_caps(m.market_id, block_id=s.block)[2] == 0:
            continue
        a = read_adl_state(s.engine, m.market_id, s.block)
        if a is None:
            continue
        used = f"{a.profit * 100 / a.limit:.1f} %" if a.limit else "n/a"
        state = "[red]ADL running[/red]" if a.needed else "no ADL"
        first = rank >= 2**255
        score = "first (no equity)" if first else f"{rank / 10**18:.4f}"
        doc = {
            "market": m.symbol,
            # profit ratio x leverage; null: ranked first (no equity)
            "rank_score": None if first else jv.dec(rank),
            "traders_profit_usd": jv.usd(a.profit),
            "profit_cap_usd": jv.usd(a.limit),
            "adl_needed": a.needed,
        }
        line = (
            f"ADL: {m.symbol} rank score {score}; its traders' profit is {used} of the cap: {state}"
        )
        out.append((doc, line))
    return out


@main.command()
@click.option("--unhealthy", is_flag=True, help="Only accounts below maintenance margin.")
@network_option
@rpc_option
@json_option
def accounts(unhealthy: bool, network: str, rpc: str | None, as_json: bool) -> None:
    """Every account's health; with --unhealthy, those a keeper would liquidate,
    with their shortfall (MM - equity), largest first."""
    from xmargin.chain.oracle import price_problems
    from xmargin.chain.scan import read_healths
    from xmargin.ui import json_view as jv
    from xmargin.ui import report

    with _fast_session(network, rpc, lambda f: f.engine()) as s:
        reads = s.connection.reads
        if reads is not None:
            from xmargin.chain.prefetch import Forecast

            total = int(s.engine.clearinghouse.num_accounts(block_id=s.block))
            pages = Forecast.of_engine(s.engine, s.block).health_pages(total)
            reads.prefetch(pages.calls)
        unreadable: list[tuple[int, str, int, str, str]] = []
        with _quiet(), _progress("reading account health") as advance:
            rows = read_healths(
                s.engine,
                s.block,
                progress=advance,
                on_unreadable=lambda *row: unreadable.append(row),
            )
        with _quiet():
            problems = price_problems(s.engine, s.block) if unreadable else []
        below = sorted(
            (r for r in rows if r.health.liquidatable), key=lambda r: (-r.shortfall, r.index)
        )
        symbols = {str(t.address): symbol for symbol, t in s.engine.tokens.items()}
        if as_json:
            doc = jv.header("accounts", s.connection.network, s.block) | {
                "total": len(rows) + len(unreadable),
                "below_mm": len(below),
                "total_shortfall_usd": jv.usd(sum(r.shortfall for r in below)),
                "accounts": jv.accounts(below if unhealthy else rows),
                "unreadable": [
                    {
                        "index": index,
                        "owner": owner,
                        "sub": sub_id,
                        "reason": reason,
                        "asset": symbols.get(asset, asset),
                    }
                    for index, owner, sub_id, reason, asset in unreadable
                ],
                "prices": [jv.price_problem(p) for p in problems],
            }
            click.echo(jv.dumps(doc))
            return
        out = _console()
        out.print(
            f"{len(rows) + len(unreadable)} accounts on {s.where}, "
            f"{len(below)} below maintenance margin"
        )
        if not unhealthy:
            out.print(report.accounts_table("Accounts, in registry order", rows))
        elif below:
            title = "Below maintenance margin (a keeper would liquidate), largest shortfall first"
            out.print(report.accounts_table(title, below, shortfall=True))
            total = sum(r.shortfall for r in below)
            out.print(f"total shortfall ${report.usd(total)} across {len(below)} account(s)")
        else:
            out.print("no account below maintenance margin: nothing for a keeper to liquidate")
        for index, owner, sub_id, reason, asset in unreadable:
            blame = symbols.get(asset, asset)
            out.print(
                f"[red]account #{index} {owner}/{sub_id} cannot be read: {reason} ({blame})[/red]"
            )
        for problem in problems:
            out.print(f"[red]{problem.describe()}[/red]")


@main.command()
@owner_argument
@sub_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("health.png"),
    show_default=True,
    callback=_png,
    help="PNG file to write.",
)
@network_option
@rpc_option
@json_option
def chart(owner: str, sub_id: int, out: Path, network: str, rpc: str | None, as_json: bool) -> None:
    """Chart the account's equity and MM against a price move of each underlying."""
    from xmargin.chain.engine import account_of
    from xmargin.ui import json_view as jv
    from xmargin.ui import report
    from xmargin.ui.figures import account_chart

    with _fast_session(
        network, rpc, lambda f: f.engine().portfolio(owner, sub_id).account(owner, sub_id)
    ) as s:
        with _quiet():
            view = _read_owner(s, owner, sub_id)
            assets = s.engine.asset_params()
        if not account_of(s.engine, view, assets).underlyings():
            raise click.ClickException(
                f"account {owner}/{sub_id} holds only {s.engine.quote_symbol} and no position: "
                "no price moves its health, there is nothing to chart"
            )
        curves = account_chart(s.engine, view, assets, out, s.where)
        if as_json:
            doc = jv.header("chart", s.connection.network, s.block) | {
                "owner": owner,
                "sub": sub_id,
                "file": str(out),
                "underlyings": [
                    {
                        "asset": c.asset,
                        "price_usd": jv.usd(c.price),
                        "liquidation_price_usd": (
                            jv.usd(c.liquidation_price) if c.liquidation_price is not None else None
                        ),
                        # the move to it, basis points (integer)
                        "liquidation_move_bps": c.liquidation_move_bps,
                    }
                    for c in curves
                ],
            }
            click.echo(jv.dumps(doc))
            return
        console = _console()
        console.print(f"wrote {out}: account {owner}/{sub_id} on {s.where}")
        for c in curves:
            move_bps = c.liquidation_move_bps
            if c.liquidation_price is None or move_bps is None:
                where = "no liquidation price"
            else:
                move = f"{move_bps / 100:+.2f} %"
                where = f"liquidation ${report.usd(c.liquidation_price)} ({move})"
            console.print(f"  {c.asset}: now ${report.usd(c.price)}, {where}")


@main.command(name="abi")
@click.option(
    "--contract",
    type=click.Choice(DEPLOYABLES),
    default="Clearinghouse",
    show_default=True,
    help="Whose ABI to print.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write every contract's ABI into this directory (<name>.json) instead.",
)
def abi_command(contract: str, out_dir: Path | None) -> None:
    """Contract ABIs as JSON, from the compiled contracts (no chain needed).
    The Clearinghouse's is every function and event of its address, its
    extensions' included: what a front-end or `cast` uses there."""
    import json

    from ape import Project
    from ape.logging import logger

    from xmargin.chain.abi import abi_json, write_abis

    logger.set_level("ERROR")
    with _errors(), _quiet():
        project = Project(PROJECT_ROOT)
        if out_dir is not None:
            paths = write_abis(project, out_dir)
        else:
            text = json.dumps(abi_json(project, contract), indent=2)
    if out_dir is not None:
        for path in paths:
            click.echo(str(path))
    else:
        click.echo(text)


@main.command(name="report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.png"),
    show_default=True,
    callback=_png,
    help="PNG file to write.",
)
@click.option(
    "--from-block",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="First block of the event scan.",
)
@network_option
@rpc_option
@json_option
def report_command(
    out: Path, from_block: int, network: str, rpc: str | None, as_json: bool
) -> None:
    """The engine's report: pool, insurance fund, bad debt and liquidations, as
    tables and as a PNG chart. The ledgers need no price: with a price
    refused, they are shown and the pool's value is said to be unknown."""
    from xmargin.chain.oracle import price_problems
    from xmargin.chain.summary import EVENTS, LOG_CHUNK, read_summary
    from xmargin.ui import charts, report
    from xmargin.ui import json_view as jv

    def reads(f: Forecast) -> Forecast:
        f = f.engine().pool_and_ledgers().asset_states()
        return f.events(EVENTS, from_block, LOG_CHUNK)

    with _fast_session(network, rpc, reads) as s:
        with _quiet(), _progress("reading liquidation events") as advance:
            summary = read_summary(
                s.engine, s.connection.network.label, s.block, from_block, progress=advance
            )
        with _quiet():
            problems = price_problems(s.engine, s.block)
            standing = _asset_standing(s)
        charts.report_chart(summary, out)
        if as_json:
            doc = jv.header("report", s.connection.network, s.block) | {
                "from_block": from_block,
                "file": str(out),
                "prices": [jv.price_problem(p) for p in problems],
                "assets": [d for d, _ in standing],
            }
            click.echo(jv.dumps(doc | jv.summary(summary)))
            return
        console = _console()
        console.print(f"xmargin report on {s.where}")
        for problem in problems:
            console.print(f"[red]{problem.describe()}[/red]")
        for _, line in standing:
            console.print(line)
        if summary.pool_unpriced is not None:
            console.print(
                f"[red]the pool's value needs every market's price ({summary.pool_unpriced}): "
                "not shown; the ledgers below need none[/red]"
            )
        if summary.pool is not None:
            console.print(
                report.pool_table(
                    "Liquidity pool",
                    summary.pool,
                    summary.pool_total_assets,
                    summary.pool_supply,
                    summary.quote_decimals,
                )
            )
        if summary.caps:
            console.print(report.caps_table("Capital caps (docs/pool.md)", summary.caps))
        if summary.adls:
            console.print(
                report.adl_table(
                    f"Auto-deleveraging since block {from_block}: {len(summary.adls)}",
                    summary.adls,
                    summary.quote_decimals,
                )
            )
        rows = report.summary_rows(summary)
        console.print(
            report.totals_table("Insurance fund, bad debt and pool", rows, summary.quote_decimals)
        )
        entries = report.liquidation_entries(summary)
        console.print(
            report.liquidations_table(
                f"Liquidations since block {from_block}: {len(entries)}",
                entries,
                summary.decimals,
                summary.quote,
            )
        )
        if summary.bad_debts:
            console.print(report.bad_debt_table("Bad debt written off", summary))
        console.print(f"wrote {out}")


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    """`GROUP=NUMBER` options into a mapping: each group once, each number
    finite."""
    import math

    out: dict[str, float] = {}
    for v in values:
        name, sep, number = v.partition("=")
        name = name.strip()
        try:
            if not sep or not name:
                raise ValueError
            x = float(number)
        except ValueError:
            raise click.BadParameter(f"{v!r} is not GROUP=NUMBER") from None
        if not math.isfinite(x):
            raise click.BadParameter(f"{v!r}: the number must be finite")
        if name in out:
            raise click.BadParameter(f"{name} is given twice")
        out[name] = x
    return out


@main.command(name="calibrate")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=REPO_ROOT / "config" / "local.yaml",
    show_default=True,
    help="Deploy config whose portfolio groups and parameters to keep.",
)
@click.option(
    "--prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Price history CSV: a header `time,<group>,...`, one row per observation, oldest first.",
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --prices: the margin horizon, in rows.",
)
@click.option(
    "--vol-window",
    type=click.IntRange(min=2),
    default=None,
    help="With --prices: rows of the rolling realised volatility the vol shock is taken from.",
)
@click.option(
    "--vol",
    "vols",
    multiple=True,
    callback=_pairs,
    help="GROUP=SIGMA, an annual volatility (0.8 for 80 %), instead of --prices. Repeatable.",
)
@click.option(
    "--vol-of-vol",
    "vol_of_vols",
    multiple=True,
    callback=_pairs,
    help="GROUP=NU, an annual volatility of the group's volatility, for its vol shock.",
)
@click.option(
    "--horizon-days",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="With --vol: the margin horizon, in days.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(min=0.5, max=1, min_open=True, max_open=True),
    default=0.99,
    show_default=True,
    help="One-sided confidence of each move.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the `portfolio:` section to this YAML file (else print it).",
)
@json_option
def calibrate_command(
    config: Path,
    prices: Path | None,
    horizon: int,
    vol_window: int | None,
    vols: dict[str, float],
    vol_of_vols: dict[str, float],
    horizon_days: float,
    confidence: float,
    out: Path | None,
    as_json: bool,
) -> None:
    """Scan ranges and vol shocks per risk group, from a price history or
    volatility inputs, and the `portfolio:` scenario rows they give
    (docs/portfolio-margin.md, "Calibration"). No chain needed."""
    import json

    from xmargin.ops import calibrate as cal_ops

    if (prices is None) == (not vols):
        raise click.UsageError("give either --prices or --vol (not both)")
    try:
        if prices is not None:
            c = cal_ops.from_history(config, prices, horizon, confidence, vol_window)
        else:
            c = cal_ops.from_vols(config, vols, vol_of_vols, horizon_days, confidence)
    except cal_ops.CalibrationError as err:
        raise click.ClickException(str(err)) from err
    text = cal_ops.to_yaml(c.section)
    if out is not None:
        out.write_text(text)
    if as_json:
        click.echo(json.dumps(cal_ops.as_json(c), indent=2))
        return
    from rich.table import Table

    table = Table(title=f"calibrated from {c.source} at {confidence:.2%}")
    for col in ("group", "up", "down", "vol shock"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for g, s in c.scans.items():
        shock = "-" if s.vol_shock is None else f"{s.vol_shock:.1%}"
        table.add_row(g, f"{s.up:+.1%}", f"{s.down:+.1%}", shock)
    console = _console()
    console.print(table)
    console.print(f"{len(c.section['scenarios'])} scenario rows")
    if out is not None:
        console.print(f"written to {out}")
    else:
        click.echo(text)


def _register_stress() -> None:
    """`xmargin stress` lives in its own module (xmargin.ui.stress_cli)."""
    from xmargin.ui.stress_cli import stress_command

    main.add_command(stress_command)


_register_stress()
