"""`xmargin stress`: fork a deployment, run a path with the real keeper,
and (with overrides) the same path again under changed parameters.

`check_source` refuses, before anything starts, a record written on
another chain, a fork block before the deployment or past the head;
`stress` then forks the source with anvil (`xmargin.ops.fork`), connects
Ape to the fork, takes over the feeds (`xmargin.ops.stress`), snapshots,
runs the path, and for a what-if reverts to the snapshot, applies the
overrides as the owner would (impersonated on the fork: the deploy's own
convergence, `xmargin.ops.deploy`, so only the changed setters are sent)
and runs the same path again. The fork is stopped at the end, on an error
too; the source node is only read.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

import yaml

from xmargin.chain.config import CONFIG_DIR, ConfigError, DeployConfig, parse_config
from xmargin.chain.deployments import DeploymentRecord, record_path, write_record
from xmargin.chain.engine import check_engine, load_engine, stdout_silenced, steady_clock
from xmargin.maths.stress import Override, Path, StressInputError
from xmargin.ops.fork import ForkError, forked_anvil, rpc
from xmargin.ops.keeper import Keeper, KeeperConfig
from xmargin.ops.stress import (
    PathResult,
    StepReport,
    check_shared,
    deal,
    run_path,
    take_over_feeds,
)

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.managers.project import ProjectManager

    from xmargin.chain.engine import Engine

# Who publishes the scripted rounds and who keeps, on the fork: accounts of
# the test mnemonic far past anvil's ten dev accounts (a deployment's own
# traders are often those ten, and the engine refuses self-liquidation),
# funded on the fork.
SCRIPT_ACCOUNT = 7_770
KEEPER_ACCOUNT = 7_771
FORK_GAS_ETH = 10**21
# Whole quote tokens the keeper holds on the fork.
KEEPER_QUOTE = 10_000_000
# ETH given to an impersonated owner for the what-if's transactions.
OWNER_GAS_ETH = 10**20


@dataclass(frozen=True)
class Source:
    uri: str
    record: DeploymentRecord
    block: int  # the fork block
    head: int
    # the fork block's hash as the source gave it: the fork must have it
    block_hash: str = ""


def check_source(uri: str, record: DeploymentRecord, block: int | None) -> Source:
    """The node at `uri` serves the record's chain, and `block` (default:
    the head) lies between the deployment and the head. ForkError or
    StressInputError saying what to pass otherwise."""
    try:
        chain_id = int(rpc(uri, "eth_chainId"), 16)
        head = int(rpc(uri, "eth_blockNumber"), 16)
        genesis = rpc(uri, "eth_getBlockByNumber", ["0x0", False])["hash"]
    except OSError as err:
        raise ForkError(f"no node at {uri} to fork: {err}") from err
    if chain_id != record.chain_id or (record.genesis and genesis != record.genesis):
        raise StressInputError(
            f"the deployment record is for chain {record.chain_id} (genesis "
            f"{record.genesis or '?'}), but {uri} serves chain {chain_id} (genesis {genesis}): "
            "pass the record of this chain's deployment, or --rpc the node it was deployed on"
        )
    at = head if block is None else block
    if at < record.block:
        raise StressInputError(
            f"--block {at} is before the deployment (block {record.block}): fork at or after it"
        )
    if at > head:
        raise StressInputError(f"--block {at} is past the node's head ({head})")
    block_hash = str(rpc(uri, "eth_getBlockByNumber", [hex(at), False])["hash"])
    return Source(uri=uri, record=record, block=at, head=head, block_hash=block_hash)


@dataclass
class StressOutcome:
    source: Source
    base: PathResult
    what_if: PathResult | None = None
    # what the owner sent on the fork for the what-if
    sent: list[str] = field(default_factory=list)


def stress(
    project: ProjectManager,
    source: Source,
    path: Path,
    overrides: Sequence[Override] = (),
    progress: Callable[[str, StepReport], None] | None = None,
    keeper_config: KeeperConfig | None = None,
) -> StressOutcome:
    """Forks, runs `path` (and its what-if), stops the fork; see the module."""
    config = _overridden_config(source.record, overrides) if overrides else None
    with forked_anvil(source.uri, source.block) as fork, _connected(fork.uri) as provider:
        _check_fork(fork.uri, source)
        engine = load_engine(project, source.record)
        check_engine(engine)
        steady_clock(provider)
        script, keeper_account = (_fork_account(i) for i in (SCRIPT_ACCOUNT, KEEPER_ACCOUNT))
        for who in (script, keeper_account):
            provider.make_request("anvil_setBalance", [str(who.address), hex(FORK_GAS_ETH)])
        # A keeper repays an account's quote debt from its wallet to take
        # its collateral (`liquidate_collateral`): give it the quote a
        # real one would hold.
        quote = engine.tokens[engine.quote_symbol]
        units = KEEPER_QUOTE * 10 ** source.record.assets[engine.quote_symbol].decimals
        deal(provider, quote, str(keeper_account.address), units)
        with stdout_silenced():
            feeds = take_over_feeds(project, provider, engine, script)
        check_shared(feeds, path)
        if config is not None:
            _check_no_drift(project, provider, engine)
        snapshot = provider.snapshot()

        def run(label: str) -> PathResult:
            keeper = Keeper(engine, keeper_account, keeper_config or KeeperConfig(), log=_drop)
            return run_path(
                engine,
                keeper,
                feeds,
                path,
                script,
                progress=(lambda r: progress(label, r)) if progress else None,
            )

        outcome = StressOutcome(
            source=source,
            base=run("base"),
        )
        if config is not None:
            provider.restore(snapshot)
            outcome.sent = _apply(project, provider, engine, config)
            outcome.what_if = run("what-if")
        return outcome


def _check_fork(uri: str, source: Source) -> None:
    """The fork holds the block the source was checked at (a worker on
    another machine reaching another node by the same URL would not)."""
    got = rpc(uri, "eth_getBlockByNumber", [hex(source.block), False])
    if source.block_hash and (got is None or got.get("hash") != source.block_hash):
        raise ForkError(
            f"the fork of {source.uri} at block {source.block} is not the chain that was "
            f"checked (block hash {got and got.get('hash')}, expected {source.block_hash}): "
            "is the URL another node from where this runs?"
        )


def _check_no_drift(project: ProjectManager, provider: ProviderAPI, engine: Engine) -> None:
    """A what-if compares one change: refused when the chain already
    differs from the deployment's config (the convergence would send that
    difference too). Checked on the fork, before the base run: if it
    sends nothing, nothing changed."""
    drift = [
        line
        for line in _apply(project, provider, engine, deployed_config(engine.record, "--set"))
        # a mock feed published again near its staleness: upkeep, not config
        if not line.startswith("publish ")
    ]
    if drift:
        raise StressInputError(
            "the chain already differs from the deployment's config, so a what-if would also "
            f"apply: {'; '.join(drift)}. Converge it first (`ape run deploy`), or compare "
            "without --set"
        )


def _fork_account(index: int) -> AccountAPI:
    """The test mnemonic's account at `index`, a signer Ape can send from."""
    from ape import accounts
    from ape.utils.testing import generate_dev_accounts

    test = accounts.test_accounts
    dev = generate_dev_accounts(test.mnemonic, 1, start_index=index)[0]
    return test.init_test_account(index, dev.address, dev.private_key)


def _drop(entry: dict[str, Any]) -> None:
    """The keeper's log before `run_path` takes it over."""


@contextlib.contextmanager
def _connected(uri: str) -> Iterator[ProviderAPI]:
    """Ape's foundry provider on the fork (never starting a node itself)."""
    from ape.api.networks import ProviderContextManager

    from xmargin.chain.connect import provider_for

    provider = provider_for("ethereum:local:foundry", uri)
    if hasattr(provider, "allow_start"):
        provider.allow_start = False
    context = ProviderContextManager(provider=provider)
    connected = context.__enter__()
    try:
        yield connected
    finally:
        context.__exit__(None)


def config_path(record: DeploymentRecord) -> FilePath:
    return CONFIG_DIR / f"{record.config}.yaml"


def _config_bytes(record: DeploymentRecord, need: str) -> bytes:
    """The bytes of the config the deployment converged to; refused when
    the file is missing or changed since (its SHA-256 is not the record's)."""
    path = config_path(record)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StressInputError(
            f"{need} needs the deployment's config, {path}: {err.strerror or err}"
        ) from err
    if record.config_sha256 and hashlib.sha256(data).hexdigest() != record.config_sha256:
        raise StressInputError(
            f"{path} changed since the deployment converged to it (its SHA-256 is not the "
            f"record's): {need} would read another config; check out the one it was deployed with"
        )
    return data


def deployed_config(record: DeploymentRecord, need: str = "--scenarios") -> DeployConfig:
    """The deployment's own config, checked."""
    try:
        return parse_config(yaml.safe_load(_config_bytes(record, need)), name=record.config)
    except ConfigError as err:
        raise StressInputError(f"{need}: {err}") from err


def market_assets(record: DeploymentRecord) -> dict[str, str]:
    """market symbol -> the asset it trades: from the deployment's config
    when it is there, else by name (ETH-PERP trades the one asset whose
    symbol ends in ETH, e.g. WETH)."""
    with contextlib.suppress(StressInputError, yaml.YAMLError):
        config = deployed_config(record)
        return {m.symbol: m.asset for m in config.markets}
    out = {}
    for market in record.markets:
        base = market.removesuffix("-PERP")
        found = [a for a in record.assets if a == base or a.endswith(base)]
        if len(found) == 1:
            out[market] = found[0]
    return out


def _overridden_config(record: DeploymentRecord, overrides: Sequence[Override]) -> DeployConfig:
    """The deployment's config with `overrides` applied, checked as a
    deploy would check it (its messages). Refused when the config file is
    not the one the deployment converged to: the what-if would also apply
    whatever else changed in it."""
    raw = yaml.safe_load(_config_bytes(record, "--set"))
    for o in overrides:
        _set(raw, o)
    try:
        return parse_config(raw, name=record.config)
    except ConfigError as err:
        raise StressInputError(f"--set: {err}") from err


def _set(raw: dict[str, Any], o: Override) -> None:
    """One override on the config as read from YAML (values stay strings,
    as a config writes them; the config's checks parse them)."""
    for section in ("markets", "assets"):
        for entry in raw.get(section) or []:
            if entry.get("symbol") == o.target:
                if o.field not in entry and not _known_field(section, o.field):
                    raise StressInputError(f"--set {o.label}: {o.target} has no field '{o.field}'")
                entry[o.field] = o.value
                return
    quote = raw.get("quote") or {}
    if quote.get("symbol") == o.target:
        quote[o.field] = o.value
        return
    if isinstance(raw.get(o.target), dict):
        raw[o.target][o.field] = o.value
        return
    known = [e.get("symbol") for s in ("markets", "assets") for e in raw.get(s) or []]
    known += [k for k, v in raw.items() if isinstance(v, dict) and k != "quote"]
    raise StressInputError(
        f"--set {o.label}: '{o.target}' is not a market, asset or section of the config "
        f"({', '.join(str(k) for k in known)})"
    )


def _known_field(section: str, name: str) -> bool:
    from xmargin.chain.config_models import AssetIn, MarketIn

    model = MarketIn if section == "markets" else AssetIn
    return name in model.model_fields


def _apply(
    project: ProjectManager, provider: ProviderAPI, engine: Engine, config: DeployConfig
) -> list[str]:
    """Sends, as the engine's owner (impersonated on the fork), what the
    deploy's convergence sends to bring the fork to `config`; returns what
    each transaction it sent did (the record's new entries: a line the
    deploy only logs, a skipped expiry or a note, sent nothing)."""
    from ape import accounts

    from xmargin.chain.connect import network_info
    from xmargin.ops.deploy import deploy

    record = engine.record
    owner = str(engine.clearinghouse.owner())
    provider.make_request("anvil_setBalance", [owner, hex(OWNER_GAS_ETH)])
    sender = accounts[owner]
    network = network_info(provider)
    with tempfile.TemporaryDirectory(prefix="xmargin-whatif-") as tmp:
        directory = FilePath(tmp)
        write_record(record_path(network.ecosystem, network.chain_id, directory), record)
        with stdout_silenced():
            result = deploy(
                project, provider, sender, config, network, directory=directory, log=_drop_line
            )
    return [t.what for t in result.record.transactions[len(record.transactions) :]]


def _drop_line(line: str) -> None:
    """The deploy's own narration (the what-if reports what it sent)."""
