"""Deploys xmargin from a config and converges it to that config.

`deploy()` reads what is already on chain (the addresses recorded in
`deployments/<network>.json` that still have code) and sends only the
transactions needed to make the chain match the config: a first run deploys
and configures everything, a second run with the same config sends nothing,
and a changed haircut or cap sends exactly one `set_asset_params`.

On a local network, tokens and feeds without an address in the config are
deployed as mocks. On any other network that is refused unless the config
sets `allow_mocks: true`, so a testnet config cannot deploy a fake USDC by
accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmargin.config import AssetConfig, DeployConfig, FeedConfig, SecondaryFeedConfig
from xmargin.deployments import (
    AssetRecord,
    DeploymentError,
    DeploymentRecord,
    read_record,
    record_path,
    write_record,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
Log = Callable[[str], None]


@dataclass(frozen=True)
class NetworkInfo:
    """Where a deployment goes, independent of Ape's objects."""

    ecosystem: str
    name: str
    chain_id: int
    is_local: bool

    @property
    def label(self) -> str:
        return f"{self.ecosystem}:{self.name}"


@dataclass(frozen=True)
class DeployResult:
    record: DeploymentRecord
    path: Path
    transactions: int


def network_info(provider: Any) -> NetworkInfo:
    """The NetworkInfo of a connected Ape provider."""
    network = provider.network
    return NetworkInfo(
        ecosystem=network.ecosystem.name,
        name=network.name,
        chain_id=provider.chain_id,
        is_local=network.is_local,
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
    project: Any,
    provider: Any,
    sender: Any,
    config: DeployConfig,
    network: NetworkInfo,
    directory: Path | None = None,
    log: Log = print,
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
    """
    check_mocks_allowed(config, network)
    path = record_path(network.name, directory)
    run = _Run(project, provider, sender, config, network, path, log)
    record = run.converge()
    write_record(path, record)
    if run.transactions == 0:
        log(f"{network.label}: already up to date with config '{config.name}', no transaction sent")
    else:
        log(f"{network.label}: {run.transactions} transaction(s) sent; record in {path}")
    return DeployResult(record=record, path=path, transactions=run.transactions)


class _Run:
    """One convergence pass. Every transaction goes through `_send`."""

    def __init__(
        self,
        project: Any,
        provider: Any,
        sender: Any,
        config: DeployConfig,
        network: NetworkInfo,
        path: Path,
        log: Log,
    ) -> None:
        self.project = project
        self.provider = provider
        self.sender = sender
        self.config = config
        self.network = network
        self.log = log
        self.transactions = 0
        self.previous = self._usable_previous(read_record(path))

    # ------------------------------------------------------------ plan

    def converge(self) -> DeploymentRecord:
        assets = {a.symbol: self._asset(a) for a in self.config.all_assets}
        router = self._contract("OracleRouter", ())
        self._check_owner(router, "OracleRouter")
        for a in self.config.assets:
            self._converge_feed(router, a, assets[a.symbol])
        quote = self.config.quote
        clearinghouse = self._contract(
            "Clearinghouse", (assets[quote.symbol].token, router.address, quote.cap)
        )
        self._check_owner(clearinghouse, "Clearinghouse")
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
        return DeploymentRecord(
            network=self.network.label,
            chain_id=self.network.chain_id,
            config=self.config.name,
            deployer=str(self.sender.address),
            contracts={"OracleRouter": router.address, "Clearinghouse": clearinghouse.address},
            assets=assets,
        )

    # ------------------------------------------------------------ pieces

    def _asset(self, a: AssetConfig) -> AssetRecord:
        before = self.previous.assets.get(a.symbol) if self.previous else None
        if a.is_mock:
            token = self._reuse(before.token if before and before.mock_token else None)
            if token is not None and self.project.MockERC20.at(token).decimals() != a.decimals:
                token = None
            if token is None:
                token = self._deploy(
                    f"mock token {a.symbol}", self.project.MockERC20, a.name, a.symbol, a.decimals
                ).address
        else:
            token = a.address
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
        mock = self._reuse(previous_mock)
        if mock is not None and self.project.MockAggregator.at(mock).decimals() != feed.decimals:
            mock = None
        if mock is None:
            answer = feed.price * 10**feed.decimals // 10**18
            mock = self._deploy(
                f"mock feed {label}/USD",
                self.project.MockAggregator,
                feed.decimals,
                f"{label} / USD (mock)",
                answer,
            ).address
        return str(mock), True

    def _converge_feed(self, router: Any, a: AssetConfig, record: AssetRecord) -> None:
        feed = a.feed
        assert feed is not None
        current = router.price_config(record.token)
        primary = current.primary
        if (
            primary.aggregator != record.feed
            or primary.heartbeat != feed.heartbeat
            or current.min_price != feed.min_price
            or current.max_price != feed.max_price
        ):
            self._send(
                f"set {a.symbol} feed {record.feed}",
                router.set_feed,
                record.token,
                record.feed,
                feed.heartbeat,
                feed.min_price,
                feed.max_price,
            )
        second = feed.secondary
        on_chain = current.secondary.aggregator
        if second is None:
            if on_chain != ZERO_ADDRESS:
                self._send(
                    f"remove {a.symbol} second feed", router.remove_secondary_feed, record.token
                )
        elif (
            on_chain != record.second_feed
            or current.secondary.heartbeat != second.heartbeat
            or current.max_deviation != second.max_deviation
        ):
            self._send(
                f"set {a.symbol} second feed {record.second_feed}",
                router.set_secondary_feed,
                record.token,
                record.second_feed,
                second.heartbeat,
                second.max_deviation,
            )

    def _converge_listing(self, clearinghouse: Any, a: AssetConfig, token: str) -> None:
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

    def _converge_guardian(self, clearinghouse: Any) -> None:
        wanted = self.config.guardian
        if wanted is not None and clearinghouse.guardian().lower() != wanted.lower():
            self._send(f"set guardian {wanted}", clearinghouse.set_guardian, wanted)

    def _warn_unlisted(self, clearinghouse: Any, tokens: set[str]) -> None:
        for token in clearinghouse.listed_assets():
            if token not in tokens:
                self.log(
                    f"note: {token} is listed on chain but not in the config "
                    "(assets cannot be delisted; set its cap to 0 to stop deposits)"
                )

    # ------------------------------------------------------------ helpers

    def _contract(self, name: str, args: tuple) -> Any:
        container = getattr(self.project, name)
        previous = self.previous.contracts.get(name) if self.previous else None
        address = self._reuse(previous)
        if address is not None:
            return container.at(address)
        return self._deploy(name, container, *args)

    def _deploy(self, label: str, container: Any, *args: Any) -> Any:
        self.transactions += 1
        contract = self.sender.deploy(container, *args)
        self.log(f"deployed {label} at {contract.address}")
        return contract

    def _send(self, label: str, method: Any, *args: Any) -> None:
        self.transactions += 1
        method(*args, sender=self.sender)
        self.log(label)

    def _reuse(self, address: str | None) -> str | None:
        """A recorded address, if the chain still has code there."""
        if address and len(self.provider.get_code(address)) > 0:
            return address
        return None

    def _require_code(self, address: str, what: str) -> None:
        if len(self.provider.get_code(address)) == 0:
            raise DeploymentError(f"{what} at {address} has no code on {self.network.label}")

    def _check_owner(self, contract: Any, name: str) -> None:
        owner = contract.owner()
        if owner != self.sender.address:
            raise DeploymentError(
                f"{name} at {contract.address} is owned by {owner}, not by the deploying "
                f"account {self.sender.address}: deploy with the owner's account"
            )

    def _usable_previous(self, previous: DeploymentRecord | None) -> DeploymentRecord | None:
        if previous is None:
            return None
        if previous.chain_id != self.network.chain_id:
            if not self.network.is_local:
                raise DeploymentError(
                    f"the record for {self.network.name} is for chain {previous.chain_id}, "
                    f"but the node is chain {self.network.chain_id}"
                )
            return None
        return previous
