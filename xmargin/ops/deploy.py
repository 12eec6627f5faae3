"""Deploys xmargin from a config and converges it to that config.

`deploy()` reads what is already on chain (the addresses recorded in
`deployments/<ecosystem>-<chain id>.json` that still have code) and sends only the
transactions needed to make the chain match the config: a first run deploys
and configures everything, a second run with the same config sends nothing,
and a changed haircut or cap sends exactly one `set_asset_params`.

On a local network, tokens and feeds without an address in the config are
deployed as mocks. On any other network that is refused unless the config
sets `allow_mocks: true`, so a testnet config cannot deploy a fake USDC by
accident.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes

from xmargin.chain.abi import clearinghouse_at, write_abis
from xmargin.chain.config import (
    AssetConfig,
    DeployConfig,
    ExpiryConfig,
    FeedConfig,
    MarketConfig,
    OptionsConfig,
    PoolConfig,
    SecondaryFeedConfig,
)
from xmargin.chain.connect import NetworkInfo, genesis_hash, network_info
from xmargin.chain.deployments import (
    AssetRecord,
    DeploymentError,
    DeploymentRecord,
    TransactionRecord,
    abi_dir,
    check_no_legacy_record,
    read_record,
    record_path,
    write_record,
)
from xmargin.chain.risk_set import read_groups, read_set, risk_set_address
from xmargin.maths import portfolio as pm

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.api.transactions import ReceiptAPI
    from ape.contracts.base import ContractContainer, ContractInstance, ContractTransactionHandler
    from ape.managers.project import ProjectManager

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DAY = 86_400
Log = Callable[[str], None]


@dataclass(frozen=True)
class DeployResult:
    record: DeploymentRecord
    path: Path
    transactions: int


def _merged(previous: DeploymentRecord | None, partial: DeploymentRecord) -> DeploymentRecord:
    """A failed run's record: the previous one's contracts, assets and
    markets, with what this run established over them; the config hash of
    the last run that converged."""
    if previous is None:
        return partial
    return replace(
        partial,
        config=previous.config,
        config_sha256=previous.config_sha256,
        contracts={**previous.contracts, **partial.contracts},
        assets={**previous.assets, **partial.assets},
        markets={**previous.markets, **partial.markets},
        block=partial.block or previous.block,
    )


def check_mocks_allowed(config: DeployConfig, network: NetworkInfo) -> None:
    """Refuses mocks on a non-local chain unless the config allows them."""
    mocks = config.mocks
    if mocks and not network.is_local and not config.allow_mocks:
        raise DeploymentError(
            f"config '{config.name}' would deploy mocks ({', '.join(mocks)}) on "
            f"non-local network {network.label}; give every token and feed an `address`, "
            "or set `allow_mocks: true` if mock tokens are really what you want there"
        )


def deploy(
    project: ProjectManager,
    provider: ProviderAPI,
    sender: AccountAPI,
    config: DeployConfig,
    network: NetworkInfo,
    directory: Path | None = None,
    log: Log = print,
    verify: bool = False,
) -> DeployResult:
    """Converges the chain to `config` and writes the deployment record.

    Args:
        project: the Ape project (its contract containers).
        provider: the connected Ape provider (to read code at addresses).
        sender: the Ape account that deploys and owns everything.
        config: a checked DeployConfig.
        network: where it goes (see `network_info`).
        directory: where records live (default `deployments/`).
        log: where to say what is done.
        verify: publish each deployed contract's source to the network's
            block explorer (Ape's `publish`; needs an explorer plugin such
            as ape-etherscan, checked by the caller).
    """
    check_mocks_allowed(config, network)
    path = record_path(network.ecosystem, network.chain_id, directory)
    check_no_legacy_record(network.name, path)
    before = read_record(path)
    run = _Run(project, provider, sender, config, network, before, log, verify)
    try:
        run.converge()
    except BaseException:
        # Also after a failure, if anything was sent: what was deployed is
        # reused by the next run, and what the record held before and this
        # run did not reach is kept (merged, and still under the config it
        # last converged to). A run that sent nothing (no passphrase, no
        # terminal to ask one on, a refused config) leaves no record behind.
        run.count_unseen()
        if run.transactions:
            write_record(path, _merged(run.previous, run.record))
            # Its addresses may be new: the ABIs beside it must be this
            # code's (the CLI's fast path decodes with them).
            with contextlib.suppress(OSError):
                write_abis(project, abi_dir(path))
        raise
    if run.transactions or run.record != before:
        write_record(path, run.record)
    # Beside it, after every run that converged (sent or not), the ABIs a
    # front-end or `cast` needs at these addresses (the Clearinghouse's
    # merged with its extensions'). A directory that cannot be written is
    # said, not raised: the deployment itself is done and recorded.
    try:
        write_abis(project, abi_dir(path))
    except OSError as err:
        log(f"{network.label}: the ABI files were not written to {abi_dir(path)}: {err}")
    if run.transactions == 0:
        log(f"{network.label}: already up to date with config '{config.name}', no transaction sent")
    else:
        log(f"{network.label}: {run.transactions} transaction(s) sent; record in {path}")
    return DeployResult(record=run.record, path=path, transactions=run.transactions)


def deploy_scratch(
    project: ProjectManager, provider: ProviderAPI, sender: AccountAPI, config: DeployConfig
) -> DeployResult:
    """Deploys `config` on a throwaway chain (benchmarks): the record goes to a
    temporary directory, never to `deployments/`, and nothing is logged.
    The result's `path` is gone when this returns; use its `record`."""
    with tempfile.TemporaryDirectory() as tmp:
        result = deploy(
            project,
            provider,
            sender,
            config,
            network_info(provider),
            directory=Path(tmp),
            log=lambda _: None,
        )
    return result


class _Run:
    """One convergence pass. Every transaction goes through `_send`."""

    def __init__(
        self,
        project: ProjectManager,
        provider: ProviderAPI,
        sender: AccountAPI,
        config: DeployConfig,
        network: NetworkInfo,
        recorded: DeploymentRecord | None,
        log: Log,
        verify: bool = False,
    ) -> None:
        self.project = project
        self.verify = verify
        self.provider = provider
        self.sender = sender
        self.config = config
        self.network = network
        self.log = log
        self.transactions = 0
        # The sender's next nonce: a transaction whose receipt never came
        # back (an interrupt, a timeout) still moved it (`count_unseen`).
        self.nonce = int(provider.get_nonce(sender.address))
        self.genesis = genesis_hash(provider)
        self.previous = self._usable_previous(recorded)
        # Addresses taken in this run: one recorded address never serves twice.
        self.used: set[str] = set()
        self.record = DeploymentRecord(
            network=network.label,
            chain_id=network.chain_id,
            config=config.name,
            deployer=str(sender.address),
            genesis=self.genesis,
            config_sha256=config.sha256,
            # The history goes on where the chain's record left it.
            transactions=list(self.previous.transactions) if self.previous else [],
        )

    # ------------------------------------------------------------ plan

    def converge(self) -> None:
        """Brings the chain to the config, keeping `self.record` up to date as it goes."""
        assets = self.record.assets
        for a in self.config.all_assets:
            assets[a.symbol] = self._asset(a)
        router = self._contract("OracleRouter", ())
        self._check_owner(router, "OracleRouter")
        for a in self.config.assets:
            self._converge_feed(router, a, assets[a.symbol])
        admin = self._contract("ClearinghouseAdmin", ())
        liquidator = self._contract("ClearinghouseLiquidator", (admin.address,))
        pool_extension = self._contract("ClearinghousePool", ())
        orders_extension = self._contract("ClearinghouseOrders", ())
        quote = self.config.quote
        core = self._contract(
            "Clearinghouse",
            (
                assets[quote.symbol].token,
                router.address,
                quote.cap,
                liquidator.address,
                pool_extension.address,
                orders_extension.address,
            ),
        )
        clearinghouse = ch = clearinghouse_at(self.project, core.address)
        self._check_owner(clearinghouse, "Clearinghouse")
        recorded = [str(a) for a in (ch.ORDERS(), ch.POOL(), ch.LIQUIDATOR(), ch.ADMIN())]
        deployed = [str(c.address) for c in (orders_extension, pool_extension, liquidator, admin)]
        if recorded != deployed:
            raise DeploymentError(
                "the recorded Clearinghouse uses extensions "
                f"{' / '.join(recorded)}, not {' / '.join(deployed)} (orders / pool / "
                "liquidator / admin): move the deployment record away to deploy afresh"
            )
        if clearinghouse.quote_asset() != assets[quote.symbol].token:
            raise DeploymentError(
                f"the recorded Clearinghouse settles in {clearinghouse.quote_asset()}, not the "
                f"configured {quote.symbol}; a quote asset cannot change: deploy afresh "
                "(move the deployment record away)"
            )
        if clearinghouse.oracle() != router.address:
            self._send(
                f"point Clearinghouse at OracleRouter {router.address}",
                clearinghouse.set_oracle,
                router.address,
            )
        for a in self.config.all_assets:
            self._converge_listing(clearinghouse, a, assets[a.symbol].token)
        self._converge_guardian(clearinghouse)
        self._warn_unlisted(clearinghouse, {r.token for r in assets.values()})
        if self.config.pool is not None:
            self._converge_pool(clearinghouse, self.config.pool)
        for market_id, market in enumerate(self.config.markets):
            self._converge_market(clearinghouse, market_id, market, assets[market.asset].token)
        if self.config.liquidation is not None:
            wanted = self.config.liquidation.as_tuple()
            if tuple(clearinghouse.liquidation_params()) != wanted:
                self._send(
                    "set liquidation parameters", clearinghouse.set_liquidation_params, wanted
                )
        capacity = self.config.liquidation_capacity
        if capacity is not None and (
            tuple(clearinghouse.liquidation_capacity(0))[:2] != capacity.as_tuple()
        ):
            self._send(
                "set liquidation capacity",
                clearinghouse.set_liquidation_capacity,
                *capacity.as_tuple(),
            )
        if self.config.portfolio is not None:
            self._converge_portfolio(clearinghouse, self.config.portfolio)
        if self.config.options is not None:
            self._converge_options(clearinghouse, router, self.config.options)
        # Stateless read-only breakdowns (position details, liquidation prices).
        self._contract("ClearinghouseLens", ())

    # ------------------------------------------------------------ pieces

    def _asset(self, a: AssetConfig) -> AssetRecord:
        before = self.previous.assets.get(a.symbol) if self.previous else None
        if a.is_mock:
            mock = self.project.MockERC20
            token = self._reuse(before.token if before and before.mock_token else None, mock)
            if token is not None and (
                mock.at(token).decimals() != a.decimals or mock.at(token).symbol() != a.symbol
            ):
                self.used.discard(token)
                token = None
            if token is None:
                token = self._deploy(
                    f"mock token {a.symbol}", self.project.MockERC20, a.name, a.symbol, a.decimals
                ).address
        else:
            token = a.address
            assert token is not None  # not a mock: the config gives its address
            self._require_code(token, f"{a.symbol} token")
            on_chain = self.project.MockERC20.at(token).decimals()
            if on_chain != a.decimals:
                raise DeploymentError(
                    f"{a.symbol} at {token} has {on_chain} decimals, the config says {a.decimals}"
                )
        record = AssetRecord(token=str(token), decimals=a.decimals, mock_token=a.is_mock)
        if a.feed is not None:
            record.feed, record.mock_feed = self._feed_address(
                a.symbol, a.feed, before.feed if before and before.mock_feed else None
            )
            if a.feed.secondary is not None:
                prev = before.second_feed if before and before.mock_second_feed else None
                record.second_feed, record.mock_second_feed = self._feed_address(
                    f"{a.symbol} second", a.feed.secondary, prev
                )
        return record

    def _feed_address(
        self, label: str, feed: FeedConfig | SecondaryFeedConfig, previous_mock: str | None
    ) -> tuple[str, bool]:
        if feed.address is not None:
            self._require_code(feed.address, f"{label} feed")
            return feed.address, False
        container = self.project.MockAggregator
        description = f"{label} / USD (mock)"
        mock = self._reuse(previous_mock, container)
        if mock is not None and (
            container.at(mock).decimals() != feed.decimals
            or container.at(mock).description() != description
        ):
            self.used.discard(mock)
            mock = None
        if mock is None:
            answer = feed.price * 10**feed.decimals // 10**18
            mock = self._deploy(
                f"mock feed {label}/USD",
                container,
                feed.decimals,
                description,
                answer,
            ).address
        return str(mock), True

    def _converge_feed(self, router: ContractInstance, a: AssetConfig, record: AssetRecord) -> None:
        feed = a.feed
        assert feed is not None
        current = router.price_config(record.token)
        primary = current.primary
        primary_differs = (
            primary.aggregator != record.feed
            or primary.heartbeat != feed.heartbeat
            or current.min_price != feed.min_price
            or current.max_price != feed.max_price
        )
        second = feed.secondary
        on_chain = current.secondary.aggregator
        second_differs = (second is None) != (on_chain == ZERO_ADDRESS) or (
            second is not None
            and (
                on_chain != record.second_feed
                or current.secondary.heartbeat != second.heartbeat
                or current.max_deviation != second.max_deviation
            )
        )
        # set_feed checks the new primary against the current second feed,
        # so the old second feed goes first whenever either one changes.
        if on_chain != ZERO_ADDRESS and (second_differs or primary_differs):
            self._send(f"remove {a.symbol} second feed", router.remove_secondary_feed, record.token)
        if primary_differs:
            self._send(
                f"set {a.symbol} feed {record.feed}",
                router.set_feed,
                record.token,
                record.feed,
                feed.heartbeat,
                feed.min_price,
                feed.max_price,
            )
        if second is not None and (second_differs or primary_differs):
            self._send(
                f"set {a.symbol} second feed {record.second_feed}",
                router.set_secondary_feed,
                record.token,
                record.second_feed,
                second.heartbeat,
                second.max_deviation,
            )

    def _converge_listing(
        self, clearinghouse: ContractInstance, a: AssetConfig, token: str
    ) -> None:
        listed = clearinghouse.asset_config(token)
        if not listed.listed:
            self._send(
                f"list {a.symbol}",
                clearinghouse.list_asset,
                token,
                a.im_haircut,
                a.mm_haircut,
                a.cap,
            )
        elif (listed.im_haircut, listed.mm_haircut, listed.cap) != (
            a.im_haircut,
            a.mm_haircut,
            a.cap,
        ):
            self._send(
                f"set {a.symbol} haircuts and cap",
                clearinghouse.set_asset_params,
                token,
                a.im_haircut,
                a.mm_haircut,
                a.cap,
            )

    def _converge_pool(self, clearinghouse: ContractInstance, cfg: PoolConfig) -> None:
        address = clearinghouse.pool()
        if address == ZERO_ADDRESS:
            pool = self._deploy(
                "LiquidityPool",
                self.project.LiquidityPool,
                clearinghouse.address,
                cfg.name,
                cfg.symbol,
                cfg.request_delay,
            )
            self._send("name the LiquidityPool", clearinghouse.set_pool, pool.address)
            address = pool.address
        self.record.contracts["LiquidityPool"] = address
        delay = self.project.LiquidityPool.at(address).REQUEST_DELAY()
        if delay != cfg.request_delay:
            raise DeploymentError(
                f"the LiquidityPool at {address} settles requests after {delay} s, the config "
                f"says {cfg.request_delay} s: the delay is fixed at deployment"
            )
        if clearinghouse.pool_buffer() != cfg.buffer:
            self._send(f"set pool buffer {cfg.buffer}", clearinghouse.set_pool_buffer, cfg.buffer)
        total = cfg.total_reserve_factor
        if total and clearinghouse.total_reserve_factor() != total:
            self._send(
                f"set total reserve factor {total}", clearinghouse.set_total_reserve_factor, total
            )

    def _converge_market(
        self, clearinghouse: ContractInstance, market_id: int, m: MarketConfig, token: str
    ) -> None:
        wanted = m.params(token)
        if market_id >= clearinghouse.num_markets():
            self._send(f"list market {m.symbol}", clearinghouse.list_market, wanted)
        else:
            current = tuple(clearinghouse.market_params(market_id))
            if current[0] != token:
                raise DeploymentError(
                    f"market {market_id} on chain trades {current[0]}, but the config puts "
                    f"{m.symbol} ({m.asset}) there: markets are listed in config order and "
                    "cannot be reordered or removed"
                )
            if current != wanted:
                self._send(
                    f"set market {m.symbol} params",
                    clearinghouse.set_market_params,
                    market_id,
                    wanted,
                )
        if m.caps is not None and tuple(clearinghouse.market_caps(market_id)) != m.caps:
            self._send(
                f"set market {m.symbol} caps", clearinghouse.set_market_caps, market_id, *m.caps
            )
        if tuple(clearinghouse.order_rules(market_id)) != m.orders.as_tuple():
            self._send(
                f"set market {m.symbol} order rules",
                clearinghouse.set_order_rules,
                market_id,
                *m.orders.as_tuple(),
            )
        self.record.markets[m.symbol] = market_id

    def _converge_portfolio(self, clearinghouse: ContractInstance, cfg: pm.PortfolioConfig) -> None:
        """The scenario set (a PortfolioRisk: immutable, so a different set is
        a new contract) and every asset's risk group, in the order the
        engine's checks accept: a set with fewer groups than the one in
        force is pointed at after the groups moved into its range."""
        tokens = {s: r.token for s, r in self.record.assets.items()}
        p = cfg.params
        args = pm.risk_set_args(cfg)
        risk = self._contract("PortfolioRisk", args)
        scenarios, params = read_set(risk)
        wanted = [(sc.shocks, sc.vol_shock, sc.weight) for sc in cfg.scenarios.scenarios]
        got = [(sc.shocks, sc.vol_shock, sc.weight) for sc in scenarios.scenarios]
        if got != wanted or params != p:
            self.used.discard(risk.address)
            risk = self._deploy("PortfolioRisk", self.project.PortfolioRisk, *args)
            self.record.contracts["PortfolioRisk"] = risk.address
        current = risk_set_address(clearinghouse)
        groups_first = current is not None and (
            self.project.PortfolioRisk.at(current).num_groups() > cfg.scenarios.groups
        )
        if not groups_first and current != risk.address:
            self._send(f"use PortfolioRisk {risk.address}", clearinghouse.set_portfolio_risk, risk)
        groups = read_groups(clearinghouse, {s: tokens[s] for s in cfg.groups.members})
        for symbol, group in cfg.groups.members.items():
            if groups[symbol] != group:
                self._send(
                    f"put {symbol} in risk group {cfg.groups.names[group]}",
                    clearinghouse.set_risk_group,
                    tokens[symbol],
                    group,
                )
        if groups_first:
            self._send(f"use PortfolioRisk {risk.address}", clearinghouse.set_portfolio_risk, risk)

    def _converge_options(
        self, clearinghouse: ContractInstance, router: ContractInstance, cfg: OptionsConfig
    ) -> None:
        """The OptionsBook on the router, the OptionsDesk on it and the
        engine (named once), the pool's limits, and per underlying its
        margin rule, trade rules, a volatility feed per expiry and a call
        and a put at each strike (docs/options.md)."""
        book = self._contract("OptionsBook", (router.address,))
        self._check_owner(book, "OptionsBook")
        if book.oracle() != router.address:
            self._send(f"point OptionsBook at {router.address}", book.set_oracle, router.address)
        desk = self._contract("OptionsDesk", (book.address, clearinghouse.address))
        self._check_owner(desk, "OptionsDesk")
        if (str(desk.BOOK()), str(desk.ENGINE())) != (book.address, clearinghouse.address):
            raise DeploymentError(
                f"the recorded OptionsDesk at {desk.address} trades OptionsBook {desk.BOOK()} "
                f"for engine {desk.ENGINE()}: move the deployment record away to deploy afresh"
            )
        named = str(clearinghouse.options_desk())
        if named == ZERO_ADDRESS:
            self._send("name the OptionsDesk", clearinghouse.set_options_desk, desk.address)
        elif named != desk.address:
            raise DeploymentError(
                f"the Clearinghouse names OptionsDesk {named}, not {desk.address}: a desk is "
                "named once"
            )
        if (desk.reserve_factor(), desk.liquidation_penalty()) != cfg.pool_limits:
            self._send("set the options' pool limits", desk.set_pool_limits, *cfg.pool_limits)
        now = int(self.provider.get_block("latest").timestamp)
        for u in cfg.underlyings:
            token = self.record.assets[u.asset].token
            if tuple(book.margin_params(token)) != u.margin:
                self._send(f"set {u.asset} option margin", book.set_margin_params, token, *u.margin)
            if tuple(desk.trade_rules(token)) != u.trade:
                self._send(f"set {u.asset} option trading", desk.set_trade_rules, token, *u.trade)
            for e in u.expiries:
                key = f"{u.asset}@{e.at}" if e.at is not None else f"{u.asset}+{e.days}d"
                self._converge_expiry(router, book, u.asset, token, key, e, now)

    def _converge_expiry(
        self,
        router: ContractInstance,
        book: ContractInstance,
        symbol: str,
        token: str,
        key: str,
        e: ExpiryConfig,
        now: int,
    ) -> None:
        """One expiry (`key`: the asset and its `at` or `days`, so a list
        reordered keeps each date): fixed at the first deployment when
        given in days (08:00 UTC), its volatility feed, its series; an
        expiry less than an hour away is left alone (the router refuses a
        past one, the book one under an hour)."""
        previous = self.previous.expiries.get(key) if self.previous else None
        if e.at is not None:
            expiry = e.at
        elif previous is not None:
            expiry = previous
        else:
            expiry = (now + (e.days or 0) * DAY) // DAY * DAY + 8 * 3_600
        self.record.expiries[key] = expiry
        if expiry <= now + 3_600:
            self.log(f"skipped expiry {key} ({expiry}): less than an hour away")
            return
        feed = e.vol.address
        if feed is None:
            name = f"VolFeed {key}"
            recorded = self.previous.contracts.get(name) if self.previous else None
            feed = self._reuse(recorded, self.project.MockAggregator)
            if feed is None:
                feed = self._deploy(
                    name,
                    self.project.MockAggregator,
                    e.vol.decimals,
                    f"{symbol} IV {key}",
                    e.vol.mock_answer,
                ).address
            self.record.contracts[name] = feed
        current, low, high = router.vol_feed(token, expiry)
        if (str(current.aggregator), int(current.heartbeat), low, high) != (
            feed,
            e.vol.heartbeat,
            e.vol.min,
            e.vol.max,
        ):
            self._send(
                f"set {key} volatility feed",
                router.set_vol_feed,
                token,
                expiry,
                feed,
                e.vol.heartbeat,
                e.vol.min,
                e.vol.max,
            )
        listed = self._listed_series(book)
        missing = [
            (strike, is_call)
            for strike in e.strikes
            for is_call in (True, False)
            if (token, strike, expiry, is_call) not in listed
        ]
        if missing and e.vol.address is None:
            # A mock's rounds may be older than its heartbeat on a rerun:
            # listing reads the price and the volatility.
            self._refresh_mocks(symbol, feed, e.vol.heartbeat, now)
        for strike, is_call in missing:
            kind = "call" if is_call else "put"
            self._send(
                f"list {key} {kind} {strike}", book.list_series, token, strike, expiry, is_call
            )

    def _refresh_mocks(self, symbol: str, vol_feed: str, heartbeat: int, now: int) -> None:
        """A new round, at the current answer, of the expiry's mock volatility
        feed and of the asset's price feed if it is a mock, each when its
        last round is within a minute of going stale."""
        record = self.record.assets[symbol]
        config = next(a for a in self.config.all_assets if a.symbol == symbol)
        feeds = [(vol_feed, heartbeat)]
        if record.mock_feed and record.feed and config.feed is not None:
            feeds.append((record.feed, config.feed.heartbeat))
        for address, beat in feeds:
            mock = self.project.MockAggregator.at(address)
            answer, updated = mock.latestRoundData()[1], int(mock.latestRoundData()[3])
            if now + 60 >= updated + beat:
                self._send(f"publish {mock.description()} again", mock.set_answer, answer)

    def _listed_series(self, book: ContractInstance) -> set[tuple[str, int, int, bool]]:
        """Every series the book lists, (asset, strike, expiry, is_call): read
        one by one (`find_series` would revert for a missing one, which a
        dry run reports as an error)."""
        out = set()
        for i in range(int(book.num_series())):
            s = book.series(i)
            out.add((str(s.asset), int(s.strike), int(s.expiry), bool(s.is_call)))
        return out

    def _converge_guardian(self, clearinghouse: ContractInstance) -> None:
        wanted = self.config.guardian
        if wanted is not None and clearinghouse.guardian().lower() != wanted.lower():
            self._send(f"set guardian {wanted}", clearinghouse.set_guardian, wanted)

    def _warn_unlisted(self, clearinghouse: ContractInstance, tokens: set[str]) -> None:
        for token in clearinghouse.listed_assets():
            if token not in tokens:
                self.log(
                    f"note: {token} is listed on chain but not in the config "
                    "(assets cannot be delisted; set its cap to 0 to stop deposits)"
                )

    # ------------------------------------------------------------ helpers

    def _contract(self, name: str, args: tuple[Any, ...]) -> ContractInstance:
        container = getattr(self.project, name)
        previous = self.previous.contracts.get(name) if self.previous else None
        address = self._reuse(previous, container)
        contract = container.at(address) if address else self._deploy(name, container, *args)
        self.record.contracts[name] = contract.address
        if name == "Clearinghouse":
            # Where the engine's events start (the keeper backfills from it).
            if address and self.previous is not None:
                self.record.block = self.previous.block
            else:
                self.record.block = int(self.provider.get_block("latest").number or 0)
        return contract

    def _deploy(self, label: str, container: ContractContainer, *args: Any) -> ContractInstance:
        contract = self.sender.deploy(container, *args, publish=self.verify)
        self.used.add(contract.address)
        what = f"deployed {label} at {contract.address}"
        self._sent(what, self.provider.get_receipt(str(contract.txn_hash)))
        self.log(what)
        return contract

    def _send(self, label: str, method: ContractTransactionHandler, *args: Any) -> None:
        self._sent(label, method(*args, sender=self.sender))
        self.log(label)

    def _sent(self, what: str, receipt: ReceiptAPI) -> None:
        self.transactions += 1
        self.nonce += 1
        self.record.transactions.append(
            TransactionRecord(
                what=what,
                hash=HexBytes(receipt.txn_hash).to_0x_hex(),
                block=int(receipt.block_number),
                gas_used=int(receipt.gas_used),
            )
        )

    def count_unseen(self) -> None:
        """After a failure: transactions the node took but whose receipt
        this run never saw (the sender's nonce moved past what it counted)
        are counted, and listed without a hash, so the record is written."""
        unseen = int(self.provider.get_nonce(self.sender.address)) - self.nonce
        for k in range(max(unseen, 0)):
            self.transactions += 1
            self.record.transactions.append(
                TransactionRecord(
                    what=f"sent with nonce {self.nonce + k}, its receipt not seen: "
                    "check the deployer's transactions",
                    hash="",
                    block=0,
                    gas_used=0,
                )
            )

    def _reuse(self, address: str | None, container: ContractContainer) -> str | None:
        """A recorded address, if it still holds `container`'s code and is not
        already taken in this run; else None (deploy afresh)."""
        if not address or address in self.used:
            return None
        code = self._code(address)
        runtime = container.contract_type.runtime_bytecode
        expected = HexBytes(runtime.bytecode or "") if runtime is not None else b""
        # Vyper appends immutable values after the runtime code.
        if not expected or not code.startswith(expected):
            return None
        self.used.add(address)
        return address

    def _code(self, address: str) -> bytes:
        """The code at `address` on this chain."""
        return HexBytes(self.provider.get_code(to_checksum_address(address)))

    def _require_code(self, address: str, what: str) -> None:
        if len(self._code(address)) == 0:
            raise DeploymentError(f"{what} at {address} has no code on {self.network.label}")

    def _check_owner(self, contract: ContractInstance, name: str) -> None:
        owner = contract.owner()
        if owner != self.sender.address:
            raise DeploymentError(
                f"{name} at {contract.address} is owned by {owner}, not by the deploying "
                f"account {self.sender.address}: deploy with the owner's account"
            )

    def _usable_previous(self, previous: DeploymentRecord | None) -> DeploymentRecord | None:
        if previous is None:
            return None
        same_chain = previous.chain_id == self.network.chain_id and previous.genesis in (
            "",
            self.genesis,
        )
        if same_chain:
            return previous
        if self.network.is_local:
            # A restarted local node: nothing recorded exists any more.
            return None
        raise DeploymentError(
            f"the record for {self.network.name} is for chain {previous.chain_id} "
            f"(genesis {previous.genesis or '?'}), but the node is chain "
            f"{self.network.chain_id} (genesis {self.genesis}): move the record away"
        )
