"""Deployment configs (`config/*.yaml`) parsed into exact integers.

Every number in a config is a decimal string in human units ("3000",
"0.20"); it is read into the integers the contracts take (WAD fractions,
WAD prices, native token units) exactly, refusing anything that would have
to be rounded. A config is checked before any transaction is sent, against
the same limits the contracts enforce, and every problem in it is reported
at once. The YAML's schema and its checks are the pydantic models of
`xmargin.chain.config_models`; this module reads a file with them and
hands the deploy the frozen dataclasses below.

An asset or feed without an `address` is a mock: `xmargin.ops.deploy` deploys a
MockERC20 / MockAggregator for it on a local chain, and refuses to on any
other chain unless the config sets `allow_mocks: true` explicitly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from xmargin.chain.config_fields import problems
from xmargin.chain.config_models import (
    DEFAULT_ORDER_RULES,
    DEFAULT_POOL_NAME,
    DEFAULT_POOL_SYMBOL,
    DEFAULT_REQUEST_DELAY,
    AssetIn,
    ConfigIn,
    FeedIn,
    MarketIn,
    OptionsIn,
    QuoteIn,
)
from xmargin.chain.deployments import REPO_ROOT
from xmargin.maths import orders as om
from xmargin.maths import portfolio as pm
from xmargin.maths.fixed_point import WAD
from xmargin.maths.liquidation import Capacity, LiquidationParams
from xmargin.maths.perps import MarketParams

CONFIG_DIR = REPO_ROOT / "config"
# The JSON Schema of a config, for editors (`config_schema`).
SCHEMA_PATH = CONFIG_DIR / "schema.json"


class ConfigError(ValueError):
    """A deployment config that cannot be deployed as written."""


@dataclass(frozen=True)
class SecondaryFeedConfig:
    address: str | None
    decimals: int
    # Mock initial answer, WAD USD per token.
    price: int
    heartbeat: int
    # Largest |secondary - primary| / primary, WAD.
    max_deviation: int


@dataclass(frozen=True)
class FeedConfig:
    """A Chainlink AggregatorV3 feed and the router's checks on it."""

    address: str | None
    decimals: int
    # Mock initial answer, WAD USD per token (ignored for a real feed).
    price: int
    heartbeat: int
    # Exclusive bounds on the normalised price, WAD USD per token.
    min_price: int
    max_price: int
    secondary: SecondaryFeedConfig | None = None

    @property
    def is_mock(self) -> bool:
        return self.address is None

    def mock_answer(self) -> int:
        """The mock's raw answer for `price` at this feed's decimals."""
        return self.price * 10**self.decimals // WAD


@dataclass(frozen=True)
class AssetConfig:
    symbol: str
    name: str
    address: str | None
    decimals: int
    # WAD fractions of market value ignored for initial / maintenance margin.
    im_haircut: int
    mm_haircut: int
    # Largest total deposit, native units.
    cap: int
    # None for the quote asset, which is valued at face value.
    feed: FeedConfig | None

    @property
    def is_mock(self) -> bool:
        return self.address is None


@dataclass(frozen=True)
class MarketConfig:
    """A perpetual market: the on-chain parameters (WAD ratios and sizes) with
    the oracle asset named by its config symbol until deployment."""

    symbol: str
    # Symbol of a configured asset whose feed prices the market.
    asset: str
    # Every field but `asset` (left empty): what `list_market` takes.
    market: MarketParams
    # (reserve_factor, max_pnl_factor, adl_target_factor), WAD fractions of
    # pool value; None: uncapped (docs/pool.md)
    caps: tuple[int, int, int] | None = None
    # How it trades (docs/orders.md): delayed orders by default.
    orders: om.OrderRules = DEFAULT_ORDER_RULES

    def params(self, asset_address: str) -> tuple[str | int, ...]:
        """The on-chain `MarketParams` struct, in field order."""
        return replace(self.market, asset=asset_address).as_tuple()


@dataclass(frozen=True)
class PoolConfig:
    name: str = DEFAULT_POOL_NAME
    symbol: str = DEFAULT_POOL_SYMBOL
    # WAD fraction of net notional (|skew| * price) kept in cash.
    buffer: int = 0
    # WAD: every market's net notional together per unit of pool value
    # (0: no total cap).
    total_reserve_factor: int = 0
    # Seconds from an LP request to its settlement (ERC-7540); 0 makes
    # deposits and redemptions instant, open to anyone who sees a price
    # round coming (docs/orders.md). Fixed at deployment.
    request_delay: int = DEFAULT_REQUEST_DELAY


@dataclass(frozen=True)
class VolFeedConfig:
    """An implied-volatility feed (None address: a mock answering `answer`)."""

    address: str | None
    decimals: int
    # WAD fractions a year
    answer: int
    heartbeat: int
    min: int
    max: int

    @property
    def mock_answer(self) -> int:
        """The mock's raw answer, in its decimals."""
        return self.answer * 10**self.decimals // WAD


@dataclass(frozen=True)
class ExpiryConfig:
    # days after the first deployment (local), or unix seconds
    days: int | None
    at: int | None
    vol: VolFeedConfig
    # WAD USD; a call and a put at each
    strikes: tuple[int, ...]


@dataclass(frozen=True)
class UnderlyingConfig:
    asset: str
    # (im_rate, im_floor, mm_rate, mm_floor), WAD fractions
    margin: tuple[int, int, int, int]
    # (vol_spread, min_size, max_oi, min_delay, window): `set_trade_rules`
    trade: tuple[int, int, int, int, int]
    expiries: tuple[ExpiryConfig, ...]


@dataclass(frozen=True)
class OptionsConfig:
    # (reserve_factor, liquidation_penalty): `set_pool_limits`
    pool_limits: tuple[int, int]
    underlyings: tuple[UnderlyingConfig, ...]


@dataclass(frozen=True)
class DeployConfig:
    name: str
    quote: AssetConfig
    assets: tuple[AssetConfig, ...]
    allow_mocks: bool = False
    guardian: str | None = None
    markets: tuple[MarketConfig, ...] = ()
    pool: PoolConfig | None = None
    # Penalty, keeper share, health target, thresholds; set when markets exist.
    liquidation: LiquidationParams | None = None
    # Size liquidations may close per market per window; set with markets.
    liquidation_capacity: Capacity | None = None
    # Portfolio margin: risk groups (keyed by asset symbol) and the scenario set.
    portfolio: pm.PortfolioConfig | None = None
    # Option series and their trading (docs/options.md).
    options: OptionsConfig | None = None
    # SHA-256 of the file it was read from (recorded with the deployment).
    sha256: str = ""

    @property
    def all_assets(self) -> tuple[AssetConfig, ...]:
        """The quote asset first, then the collateral assets, in listing order."""
        return (self.quote, *self.assets)

    @property
    def mocks(self) -> list[str]:
        """Names of everything this config would deploy as a mock."""
        out = []
        for a in self.all_assets:
            if a.is_mock:
                out.append(f"{a.symbol} token")
            if a.feed is not None and a.feed.is_mock:
                out.append(f"{a.symbol} feed")
            if a.feed is not None and a.feed.secondary and a.feed.secondary.address is None:
                out.append(f"{a.symbol} second feed")
        for u in self.options.underlyings if self.options else ():
            for i, e in enumerate(u.expiries):
                if e.vol.address is None:
                    out.append(f"{u.asset} expiry {i} volatility feed")
        return out


def load_config(path: str | Path) -> DeployConfig:
    """Reads and checks a YAML deployment config.

    Args:
        path: a YAML file, or a bare name (`local`, `sepolia.example`) for
            `config/<name>.yaml` in this repository.

    Returns:
        The checked config, named after the file, with the SHA-256 of the
        file's bytes (recorded with the deployment).

    Raises:
        ConfigError: no such file, not a mapping at the top level, or every
            problem `parse_config` finds in it.
    """
    p = Path(path)
    if not p.exists() and len(p.parts) == 1 and p.suffix not in (".yaml", ".yml"):
        p = CONFIG_DIR / f"{p.name}.yaml"  # `sepolia.example` too
    if not p.is_file():
        raise ConfigError(f"no deployment config at {p}")
    data = p.read_bytes()
    raw = yaml.safe_load(data)
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return replace(parse_config(raw, name=p.stem), sha256=hashlib.sha256(data).hexdigest())


def parse_config(raw: Mapping[str, object], name: str = "config") -> DeployConfig:
    """Checks a config read from YAML and turns it into exact integers.

    Args:
        raw: the YAML's top-level mapping (`yaml.safe_load`), keys as in
            docs/deploy.md ("Config keys").
        name: what to call the config (the file's stem), also in messages.

    Returns:
        The config as the deploy reads it.

    Raises:
        ConfigError: listing every problem found, one per line, each at its
            place in the file (`assets[1].feed.heartbeat must lie in ...`).
            A section's cross-field rules are checked once its fields are
            valid, and the rules across sections once every section is.
    """
    try:
        checked = ConfigIn.model_validate(raw)
    except ValidationError as err:
        found = problems(err)
        if len(found) == 1:
            raise ConfigError(f"{name}: {found[0]}") from None
        listed = "\n".join(f"  - {line}" for line in found)
        raise ConfigError(f"{name}: {len(found)} problems:\n{listed}") from None
    return _deploy_config(checked, name)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a deployment config as written in YAML (numbers
    as decimal strings), committed as `config/schema.json` for editors.

    Returns:
        Pydantic's JSON Schema of `ConfigIn`, the input model.
    """
    return ConfigIn.model_json_schema()


def write_schema(path: Path = SCHEMA_PATH) -> None:
    """Writes `config_schema()` to `path` (`python -m xmargin.chain.config`).

    Args:
        path: where (default `config/schema.json`).
    """
    path.write_text(json.dumps(config_schema(), indent=2) + "\n")


# ---------------------------------------------------------------- the checked input, as dataclasses


def _deploy_config(c: ConfigIn, name: str) -> DeployConfig:
    liquidation = c.liquidation_section
    return DeployConfig(
        name=name,
        quote=_asset(c.quote),
        assets=tuple(_asset(a) for a in c.assets or ()),
        allow_mocks=c.allow_mocks,
        guardian=c.guardian,
        markets=tuple(_market(m, c.quote.decimals) for m in c.markets or ()),
        pool=None
        if c.pool is None
        else PoolConfig(
            name=c.pool.name,
            symbol=c.pool.symbol,
            buffer=c.pool.buffer,
            total_reserve_factor=c.pool.total_reserve_factor or 0,
            request_delay=c.pool.request_delay,
        ),
        liquidation=None if liquidation is None else liquidation.params,
        # The capacity is per market: none without markets.
        liquidation_capacity=liquidation.capacity if liquidation and c.markets else None,
        portfolio=None if c.portfolio is None else c.portfolio.config(),
        options=None if c.options is None else _options(c.options),
    )


def _options(o: OptionsIn) -> OptionsConfig:
    return OptionsConfig(
        pool_limits=(o.reserve_factor, o.liquidation_penalty),
        underlyings=tuple(
            UnderlyingConfig(
                asset=u.asset,
                margin=(u.im_rate, u.im_floor, u.mm_rate, u.mm_floor),
                trade=(u.vol_spread, u.min_size, u.max_oi, u.min_delay, u.window),
                expiries=tuple(
                    ExpiryConfig(
                        days=e.days,
                        at=e.at,
                        vol=VolFeedConfig(
                            address=e.vol.address,
                            decimals=e.vol.decimals,
                            answer=e.vol.answer or 0,
                            heartbeat=e.vol.heartbeat,
                            min=e.vol.min,
                            max=e.vol.max,
                        ),
                        strikes=tuple(e.strikes),
                    )
                    for e in u.expiries
                ),
            )
            for u in o.underlyings
        ),
    )


def _asset(a: QuoteIn) -> AssetConfig:
    collateral = a if isinstance(a, AssetIn) else None
    return AssetConfig(
        symbol=a.symbol,
        name=a.name or a.symbol,
        address=a.address,
        decimals=a.decimals,
        im_haircut=collateral.im_haircut if collateral else 0,
        mm_haircut=collateral.mm_haircut if collateral else 0,
        cap=a.cap,
        feed=_feed(collateral.feed) if collateral else None,
    )


def _feed(f: FeedIn) -> FeedConfig:
    s = f.secondary
    return FeedConfig(
        address=f.address,
        decimals=f.decimals,
        price=f.mock_price,
        heartbeat=f.heartbeat,
        min_price=f.min_price,
        max_price=f.max_price,
        secondary=None
        if s is None
        else SecondaryFeedConfig(
            address=s.address,
            decimals=s.decimals,
            price=f.secondary_price,
            heartbeat=s.heartbeat,
            max_deviation=s.max_deviation,
        ),
    )


def _market(m: MarketIn, quote_decimals: int) -> MarketConfig:
    return MarketConfig(
        symbol=m.symbol,
        asset=m.asset,
        market=m.params,
        caps=m.caps,
        orders=DEFAULT_ORDER_RULES if m.orders is None else m.orders.rules(quote_decimals),
    )


if __name__ == "__main__":
    write_schema()
    print(f"wrote {SCHEMA_PATH}")
