"""Handles on a deployed xmargin and reads of account state.

`load_engine` turns a deployment record into Ape contract instances;
`read_account` reads one account's balances, prices and health from the
chain, and recomputes the health with `xmargin.maths.model` from those same
inputs, so every reader (demo, keeper, CLI) can show both and flag any
difference.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ape.exceptions import ContractLogicError

from xmargin.chain.deployments import DeploymentError, DeploymentRecord
from xmargin.chain.options import (
    OptionView,
    portfolio_with_options,
    read_option_positions,
    with_options,
)
from xmargin.chain.risk_set import read_config, risk_set_address
from xmargin.maths import model, perps
from xmargin.maths import pool as pool_model
from xmargin.maths import portfolio as pm
from xmargin.maths.account import Account, Exposure, group_exposure, portfolio_margin

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.contracts.base import ContractInstance
    from ape.managers.project import ProjectManager


@dataclass(frozen=True)
class Engine:
    record: DeploymentRecord
    router: ContractInstance
    clearinghouse: ContractInstance
    # symbol -> token contract, the quote asset first
    tokens: dict[str, ContractInstance]
    # symbol -> primary feed contract (non-quote assets)
    feeds: dict[str, ContractInstance]
    # The ERC-4626 LiquidityPool, if deployed
    pool: ContractInstance | None = None
    # The PortfolioRisk scenario set in force when loaded, if any
    portfolio_risk: ContractInstance | None = None
    # The stateless ClearinghouseLens (keeper pages, position breakdowns), if deployed
    lens: ContractInstance | None = None
    # The OptionsDesk the engine names (`options_desk`), if any
    desk: ContractInstance | None = None
    # Its OptionsBook (the series), with the desk
    book: ContractInstance | None = None

    def require_lens(self) -> ContractInstance:
        """The lens, or DeploymentError: keeper pages are read through it."""
        if self.lens is None:
            raise DeploymentError(
                "this deployment has no ClearinghouseLens: the keeper's pages "
                "(account_healths, accounts_to_liquidate) are read through it"
            )
        return self.lens

    def portfolio_config(self, block_id: int | None = None) -> pm.PortfolioConfig:
        """The portfolio-margin configuration (scenario set and groups)."""
        if self.portfolio_risk is None:
            raise ValueError("this engine has no portfolio risk set loaded")
        tokens = {s: t.address for s, t in self.tokens.items()}
        on_chain = read_config(self.clearinghouse, self.portfolio_risk, tokens, block_id)
        return _named_like_the_config(on_chain, self.record.config)

    @property
    def quote_symbol(self) -> str:
        return self.record.quote_symbol

    def asset_params(self, block_id: int | None = None) -> dict[str, model.AssetParams]:
        """What the Clearinghouse has listed for each asset, as model inputs."""
        out = {}
        for symbol, token in self.tokens.items():
            a = self.clearinghouse.asset_config(token.address, block_id=block_id)
            out[symbol] = model.AssetParams(
                decimals=a.decimals, im_haircut=a.im_haircut, mm_haircut=a.mm_haircut
            )
        return out


@dataclass(frozen=True)
class MarketView:
    """One market at one block, as model inputs."""

    symbol: str
    market_id: int
    params: perps.MarketParams
    state: perps.MarketState
    price: int
    # funding index as of the block
    index: int


@dataclass(frozen=True)
class PositionView:
    market: MarketView
    position: perps.Position
    risk: perps.PositionRisk


def read_adl_state(engine: Engine, market_id: int, block_id: int) -> pool_model.AdlState | None:
    """`adl_state(market_id)` at `block_id` as the model's `AdlState`; None
    when the pool cannot be valued (a market with open interest priced
    invalid)."""
    try:
        a = engine.clearinghouse.adl_state(market_id, block_id=block_id)
    except ContractLogicError:
        return None
    return pool_model.AdlState(int(a.profit), int(a.value), int(a.limit), int(a.target))


def read_markets(engine: Engine, block_id: int) -> list[MarketView]:
    """Every market in the record with a valid price, with its price and
    funding index at `block_id` (a market whose price the router refuses is
    left out)."""
    ch = engine.clearinghouse
    now = ch.chain_manager.blocks[block_id].timestamp
    out = []
    for symbol, market_id in engine.record.markets.items():
        params = perps.MarketParams(*ch.market_params(market_id, block_id=block_id))
        state = perps.MarketState(*ch.market_state(market_id, block_id=block_id))
        try:
            price = engine.router.price(params.asset, block_id=block_id)
        except ContractLogicError:
            # An invalid price: no position in this market can be valued or
            # liquidated now, but the others can.
            continue
        _, index = perps.funding(state, params, price, now)
        out.append(MarketView(symbol, market_id, params, state, price, index))
    return out


@dataclass(frozen=True)
class AccountView:
    owner: str
    sub_id: int
    # symbol -> native balance
    balances: dict[str, int]
    # symbol -> WAD USD price, for held non-quote assets
    prices: dict[str, int]
    collateral: model.CollateralValue
    health: model.Health
    model_health: model.Health
    positions: tuple[PositionView, ...] = ()
    # portfolio margin mode: the requirement as the model explains it, and
    # the scenario set it was computed with (read once, with the account)
    portfolio: pm.PortfolioMargin | None = None
    margin_config: pm.PortfolioConfig | None = None
    # option positions (OptionsDesk), valued as the engine values them
    options: tuple[OptionView, ...] = ()

    @property
    def status(self) -> str:
        """healthy / below IM (no new risk) / liquidatable (equity < MM)."""
        return self.health.status

    @property
    def model_agrees(self) -> bool:
        return self.health == self.model_health


def _named_like_the_config(on_chain: pm.PortfolioConfig, config: str) -> pm.PortfolioConfig:
    """The chain keeps no names: take the deployment config's group and
    scenario names when its set is the one on chain, else keep s0, group 0..."""
    from xmargin.chain.config import ConfigError, load_config

    try:
        named = load_config(config).portfolio
    except (ConfigError, OSError):
        return on_chain
    if named is None:
        return on_chain
    same = (
        named.groups.members == on_chain.groups.members
        and [(s.shocks, s.vol_shock, s.weight) for s in named.scenarios.scenarios]
        == [(s.shocks, s.vol_shock, s.weight) for s in on_chain.scenarios.scenarios]
        and named.params == on_chain.params
    )
    return named if same else on_chain


def check_engine(engine: Engine) -> None:
    """Refuses a record that does not describe the engine at its address
    (another deployment's record on the same chain, or an address with no
    engine): the Clearinghouse must have code and answer with the
    record's router and quote asset."""
    ch = engine.clearinghouse
    where = f"{engine.record.network} record's Clearinghouse {ch.address}"
    if not ch.provider.get_code(ch.address):
        raise DeploymentError(f"the {where} has no code on this chain: deploy first")
    try:
        router, quote = str(ch.oracle()), str(ch.quote_asset())
    except (ContractLogicError, ValueError) as err:
        raise DeploymentError(f"the {where} is not an xmargin engine ({err})") from err
    want_router = str(engine.router.address)
    want_quote = str(engine.tokens[engine.quote_symbol].address)
    if (router, quote) != (want_router, want_quote):
        raise DeploymentError(
            f"the {where} belongs to another deployment: it prices with {router} and "
            f"settles in {quote}, the record says {want_router} and {want_quote}"
        )


def load_engine(project: ProjectManager, record: DeploymentRecord) -> Engine:
    from xmargin.chain.abi import clearinghouse_at

    tokens = {s: project.MockERC20.at(a.token) for s, a in record.assets.items()}
    feeds = {
        s: project.MockAggregator.at(a.feed) for s, a in record.assets.items() if a.feed is not None
    }
    pool = record.contracts.get("LiquidityPool")
    lens = record.contracts.get("ClearinghouseLens")
    ch = clearinghouse_at(project, record.contracts["Clearinghouse"])
    risk = risk_set_address(ch)
    desk_address = str(ch.options_desk())
    desk = project.OptionsDesk.at(desk_address) if int(desk_address, 16) else None
    return Engine(
        record=record,
        router=project.OracleRouter.at(record.contracts["OracleRouter"]),
        clearinghouse=ch,
        tokens=tokens,
        feeds=feeds,
        pool=project.LiquidityPool.at(pool) if pool else None,
        portfolio_risk=project.PortfolioRisk.at(risk) if risk else None,
        lens=project.ClearinghouseLens.at(lens) if lens else None,
        desk=desk,
        book=project.OptionsBook.at(desk.BOOK()) if desk is not None else None,
    )


def read_account(
    engine: Engine,
    owner: str,
    sub_id: int,
    params: dict[str, model.AssetParams] | None = None,
    block_id: int | None = None,
    markets: list[MarketView] | None = None,
) -> AccountView:
    """One account, read from chain and recomputed by the model.

    Every read is pinned to one block (the latest unless `block_id` is
    given), so on a live chain balances, prices and health are consistent.
    Pass `params` (from `engine.asset_params()`) and `markets` (from
    `read_markets`, same block) when reading many accounts, to read the
    registries once.
    """
    params = params or engine.asset_params()
    if block_id is None:
        block_id = engine.clearinghouse.chain_manager.blocks.head.number
    if markets is None:
        markets = read_markets(engine, block_id)
    at = {"block_id": block_id}
    ch = engine.clearinghouse
    balances = {s: ch.balance_of(owner, sub_id, t.address, **at) for s, t in engine.tokens.items()}
    prices = {
        s: engine.router.price(engine.tokens[s].address, **at)
        for s, amount in balances.items()
        if amount != 0 and s != engine.quote_symbol
    }
    on_chain = ch.account_health(owner, sub_id, **at)
    c = ch.collateral_value(owner, sub_id, **at)
    positions = []
    for m in markets:
        pos = perps.Position(*ch.position(owner, sub_id, m.market_id, **at))
        if pos.size:
            positions.append(PositionView(m, pos, perps.risk(pos, m.params, m.price, m.index)))
    margin = engine.portfolio_config(block_id) if ch.portfolio_mode(owner, sub_id, **at) else None
    quote = engine.quote_symbol
    account = model_account(
        balances, prices, positions, params, quote, token_symbols(engine), margin
    )
    held: tuple[OptionView, ...] = ()
    if (
        engine.desk is not None
        and engine.book is not None
        and ch.holds_options(owner, sub_id, **at)
    ):
        now = int(ch.chain_manager.blocks[block_id].timestamp)
        held = read_option_positions(
            engine.desk, engine.book, engine.router, owner, sub_id, block_id, now
        )
    model_health = with_options(account.health(), held)
    explained = None if margin is None else portfolio_margin(account, margin)
    if margin is not None and held:
        model_health, explained = portfolio_with_options(
            group_exposure(account, margin.groups), margin, held, token_symbols(engine)
        )
    return AccountView(
        owner=str(owner),
        sub_id=sub_id,
        balances=balances,
        prices=prices,
        collateral=model.CollateralValue(c.quote, c.market, c.weighted_mm, c.weighted_im),
        health=model.Health(on_chain.equity, on_chain.im, on_chain.mm),
        model_health=model_health,
        positions=tuple(positions),
        portfolio=explained,
        margin_config=margin,
        options=held,
    )


def model_account(
    balances: Mapping[str, int],
    prices: Mapping[str, int],
    positions: Sequence[PositionView],
    assets: Mapping[str, model.AssetParams],
    quote: str,
    symbols: Mapping[str, str],
    margin: pm.PortfolioConfig | None = None,
) -> Account:
    """The model's Account of what was read: each position's market priced
    from its asset, named by symbol (`symbols`: token address -> symbol; an
    address not in it names itself); `margin` for an account in portfolio mode."""
    exposures = tuple(
        Exposure(
            market=p.market.symbol,
            asset=symbols.get(p.market.params.asset, p.market.params.asset),
            position=p.position,
            params=p.market.params,
            index=p.market.index,
            accrued=p.market.index - p.market.state.funding_index,
            accrued_at=p.market.price,
        )
        for p in positions
    )
    at = dict(prices)
    for e, p in zip(exposures, positions, strict=True):
        at[e.asset] = p.market.price
    return Account(balances, assets, quote, at, exposures, margin)


def account_of(
    engine: Engine, view: AccountView, assets: Mapping[str, model.AssetParams]
) -> Account:
    """The model's Account of an account read from chain (`read_account`),
    margined as it was read: a portfolio-mode account carries the engine's
    scenario set, so its curves and liquidation prices are portfolio
    margin's. `assets` from `engine.asset_params()`."""
    return model_account(
        view.balances,
        view.prices,
        view.positions,
        assets,
        engine.quote_symbol,
        token_symbols(engine),
        view.margin_config,
    )


def options_in_portfolio_mode(
    engine: Engine, view: AccountView, block_id: int | None = None
) -> tuple[model.Health, model.Health] | None:
    """What a linear account holding options would need in portfolio mode
    (the engine's, then the model's health), None when there is no risk
    set or the account holds none or is in portfolio mode already: the
    desk's `portfolio_risk` over the account's `portfolio_exposure`, the
    view the engine calls for a portfolio account, and the mirror
    (`portfolio_with_options`), read at `block_id` (the view's block)."""
    if engine.portfolio_risk is None or engine.desk is None or not view.options:
        return None
    if view.margin_config is not None:
        return None
    at = {"block_id": block_id}
    x = engine.clearinghouse.portfolio_exposure(view.owner, view.sub_id, **at)
    value, mm, im = engine.desk.portfolio_risk(
        view.owner,
        view.sub_id,
        engine.portfolio_risk.address,
        list(x.lo),
        list(x.hi),
        x.gross_notional,
        x.open_positions,
        **at,
    )
    chain = model.Health(x.equity + value, im + x.addon, mm)
    config = engine.portfolio_config(block_id)
    account = model_account(
        view.balances,
        view.prices,
        view.positions,
        engine.asset_params(),
        engine.quote_symbol,
        token_symbols(engine),
        config,
    )
    mirror, _ = portfolio_with_options(
        group_exposure(account, config.groups), config, view.options, token_symbols(engine)
    )
    return chain, mirror


def token_symbols(engine: Engine) -> dict[str, str]:
    """token address -> asset symbol (markets name their asset by address)."""
    return {t.address: s for s, t in engine.tokens.items()}


def shock_prices(engine: Engine, sender: AccountAPI, moves_bps: dict[str, int]) -> None:
    """Moves each named mock feed by its basis points (local chains: demo, benchmarks)."""
    for symbol, bps in moves_bps.items():
        move_feed(engine.feeds[symbol], sender, bps)


def publish_after(engine: Engine, sender: AccountAPI, seconds: int) -> None:
    """Lets `seconds` pass, then every mock feed publishes its answer again:
    the round a delayed order waits for (local chains: demo, benchmarks)."""
    chain = engine.clearinghouse.chain_manager
    chain.pending_timestamp = chain.blocks.head.timestamp + seconds
    for feed in engine.feeds.values():
        move_feed(feed, sender, 0)


def steady_clock(provider: ProviderAPI) -> bool:
    """Makes an anvil stamp each new block one second after the last (not
    the wall clock), so funding and option time values come out the same
    however fast the machine runs; `publish_after` still jumps the clock.
    True if the node is an anvil and took it (other nodes keep their clock)."""
    if "anvil" not in str(provider.make_request("web3_clientVersion", [])).lower():
        return False
    provider.make_request("anvil_setBlockTimestampInterval", [1])
    return True


def move_feed(feed: ContractInstance, sender: AccountAPI, bps: int) -> None:
    """Moves one mock feed's answer by `bps` basis points."""
    feed.set_answer(feed.answer() * (10_000 + bps) // 10_000, sender=sender)


def revert_reason(method: Callable[..., object], *args: Any, **kwargs: Any) -> str | None:
    """Sends `method(*args, **kwargs)`; its revert reason, or None if it succeeded.

    ape-foundry prints a call trace for every revert; a caller that expects
    the revert (the demo, a keeper that lost a race) does not want it.
    """
    try:
        with stdout_silenced():
            method(*args, **kwargs)
    except ContractLogicError as err:
        return err.message
    return None


@contextlib.contextmanager
def stdout_silenced() -> Iterator[None]:
    # At the file-descriptor level: ape binds `sys.stdout` as a default
    # argument at import, so `contextlib.redirect_stdout` does not reach it.
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
