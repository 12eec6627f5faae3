"""Deployment configs (`config/*.yaml`) parsed into exact integers.

Every number in a config is a decimal string in human units ("3000",
"0.20"); this module turns them into the integers the contracts take
(WAD fractions, WAD prices, native token units) exactly, refusing anything
that would have to be rounded. A config is checked here, before any
transaction is sent, against the same limits the contracts enforce.

An asset or feed without an `address` is a mock: `xmargin.ops.deploy` deploys a
MockERC20 / MockAggregator for it on a local chain, and refuses to on any
other chain unless the config sets `allow_mocks: true` explicitly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from eth_utils import to_checksum_address

from xmargin.chain.deployments import REPO_ROOT
from xmargin.maths import lp_requests as lr
from xmargin.maths import orders as om
from xmargin.maths import portfolio as pm
from xmargin.maths.fixed_point import MAX_DECIMALS, WAD, parse_units
from xmargin.maths.liquidation import Capacity, LiquidationParams, capacity_reason
from xmargin.maths.model import MAX_AMOUNT, MAX_ASSETS, MAX_HEARTBEAT, MAX_PRICE
from xmargin.maths.perps import MAX_MARKETS, MAX_SIZE, MarketParams

CONFIG_DIR = REPO_ROOT / "config"


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


# A market without an `orders` section trades by delayed order only: a
# 12 s delay (a block on mainnet, longer than a round is visible before it
# lands), an hour's window (a typical heartbeat) and no settlement fee.
DEFAULT_ORDER_RULES = om.OrderRules(min_delay=12, window=3_600)


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


# A minute: longer than a visible oracle round stays pending on any chain
# xmargin targets, short enough for an LP's patience.
DEFAULT_REQUEST_DELAY = 60


@dataclass(frozen=True)
class PoolConfig:
    name: str = "xmargin LP"
    symbol: str = "xLP"
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
        return out


def load_config(path: str | Path) -> DeployConfig:
    """Reads and checks a YAML deployment config.

    A bare name (`local`) means `config/<name>.yaml` in this repository.
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


def parse_config(raw: dict[str, object], name: str = "config") -> DeployConfig:
    _only(
        raw,
        {
            "quote",
            "assets",
            "allow_mocks",
            "guardian",
            "markets",
            "pool",
            "liquidation",
            "portfolio",
        },
        "top level",
    )
    if "quote" not in raw:
        raise ConfigError("the config needs a `quote` asset (the USD settlement stablecoin)")
    quote = _asset(raw["quote"], is_quote=True)
    assets = tuple(_asset(a, is_quote=False) for a in _list(raw.get("assets"), "assets"))
    everything = (quote, *assets)
    if len(everything) > MAX_ASSETS:
        raise ConfigError(f"at most {MAX_ASSETS} assets including the quote asset")
    for key in ("symbol", "address"):
        seen = [getattr(a, key) for a in everything if getattr(a, key) is not None]
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        if dupes:
            raise ConfigError(f"duplicate asset {key}: {', '.join(map(str, dupes))}")
    symbols = {a.symbol for a in assets}
    markets = tuple(
        _market(m, symbols, quote.decimals) for m in _list(raw.get("markets"), "markets")
    )
    if len(markets) > MAX_MARKETS:
        raise ConfigError(f"at most {MAX_MARKETS} markets")
    names = [m.symbol for m in markets]
    if len(set(names)) != len(names):
        raise ConfigError("duplicate market symbol")
    pool = _pool(raw["pool"]) if raw.get("pool") is not None else None
    if markets and pool is None:
        raise ConfigError("markets need a `pool` (the LiquidityPool is their counterparty)")
    liquidation = None
    capacity = None
    if raw.get("liquidation") is not None:
        liquidation, capacity = _liquidation(raw["liquidation"])
    elif markets:
        liquidation, capacity = LiquidationParams(), DEFAULT_CAPACITY
    for m in markets if capacity is not None and capacity.factor else ():
        if m.market.maker_fee == 0:
            raise ConfigError(
                f"market {m.symbol}: a liquidation capacity needs a maker fee "
                "(2 x maker_fee x skew_scale per window); set one, or capacity_factor 0"
            )
    portfolio = None
    if raw.get("portfolio") is not None:
        portfolio = _portfolio(raw["portfolio"], [a.symbol for a in everything])
    return DeployConfig(
        name=name,
        quote=quote,
        assets=assets,
        allow_mocks=_bool(raw.get("allow_mocks", False), "allow_mocks"),
        guardian=_address(raw.get("guardian"), "guardian"),
        markets=markets,
        pool=pool,
        liquidation=liquidation,
        liquidation_capacity=capacity if markets else None,
        portfolio=portfolio,
    )


# Bounds `set_liquidation_params` enforces, checked here first.
_LIQUIDATION_BOUNDS = {
    "penalty": (0, WAD // 10),
    "keeper_share_min": (0, WAD),
    "keeper_share_max": (0, WAD),
    "auction_depth": (1, WAD),
    "target_health": (WAD + 1, 2 * WAD),
    "full_close_health": (0, WAD - 1),
    "dust_notional": (0, 10**6 * WAD),
    "collateral_discount": (0, WAD // 5),
}


# Liquidations close at most 2 x maker_fee x skew_scale per market per 30 s
# unless the config says otherwise (docs/liquidation.md).
DEFAULT_CAPACITY = Capacity(window=30, factor=WAD)


def _liquidation(raw: object) -> tuple[LiquidationParams, Capacity]:
    if not isinstance(raw, dict):
        raise ConfigError("liquidation must be a mapping")
    _only(raw, {*_LIQUIDATION_BOUNDS, "capacity_window", "capacity_factor"}, "liquidation")
    d = DEFAULT_CAPACITY
    capacity = Capacity(
        window=_int(raw.get("capacity_window", d.window), "liquidation: capacity_window", 0, 3_600),
        factor=_wad(raw.get("capacity_factor", "1"), "liquidation: capacity_factor", 0, 10 * WAD),
    )
    reason = capacity_reason(capacity)
    if reason is not None:
        raise ConfigError(f"liquidation: {reason}")
    defaults = LiquidationParams()
    values = {
        key: _wad(raw[key], f"liquidation: {key}", low, high)
        if key in raw
        else getattr(defaults, key)
        for key, (low, high) in _LIQUIDATION_BOUNDS.items()
    }
    if values["keeper_share_min"] > values["keeper_share_max"]:
        raise ConfigError("liquidation: keeper_share_min above keeper_share_max")
    return LiquidationParams(**values), capacity


def _portfolio(raw: object, symbols: list[str]) -> pm.PortfolioConfig:
    """`groups` (group name -> its assets' symbols; every asset in exactly
    one), `scenarios` (each a `name` and the `moves` of some groups, signed
    fractions; groups left out do not move), `floor_fraction`,
    `min_per_position` (USD) and `im_factor`."""
    where = "portfolio"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping")
    _only(raw, {"groups", "scenarios", "floor_fraction", "min_per_position", "im_factor"}, where)
    groups = raw.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise ConfigError(f"{where}: groups must map each group's name to its assets")
    if len(groups) > pm.MAX_GROUPS:
        raise ConfigError(f"{where}: at most {pm.MAX_GROUPS} risk groups")
    members: dict[str, int] = {}
    for g, (name, assets) in enumerate(groups.items()):
        if not isinstance(assets, list):
            raise ConfigError(f"{where}: groups: {name} must list asset symbols")
        for symbol in assets:
            if symbol not in symbols:
                raise ConfigError(f"{where}: groups: {name}: unknown asset {symbol!r}")
            if symbol in members:
                raise ConfigError(f"{where}: groups: {symbol} is in two groups")
            members[symbol] = g
    missing = [s for s in symbols if s not in members]
    if missing:
        raise ConfigError(f"{where}: groups: no group for {', '.join(missing)}")
    names = tuple(str(n) for n in groups)
    rows = raw.get("scenarios")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{where}: scenarios must be a list of 1 to {pm.MAX_SCENARIOS}")
    scenarios = []
    for i, row in enumerate(rows):
        at = f"{where}: scenarios[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("moves"), dict):
            raise ConfigError(f"{at} needs a name and a mapping of moves")
        _only(row, {"name", "moves"}, at)
        unknown = [g for g in row["moves"] if g not in names]
        if unknown:
            raise ConfigError(f"{at}: unknown group(s) {', '.join(map(str, unknown))}")
        shocks = tuple(
            _signed_wad(row["moves"][n], f"{at}: {n}") if n in row["moves"] else 0 for n in names
        )
        scenarios.append(pm.Scenario(str(row.get("name", f"s{i}")), shocks))
    try:
        return pm.PortfolioConfig(
            pm.RiskGroups(names, members),
            pm.ScenarioSet(tuple(scenarios)),
            pm.PortfolioParams(
                floor_fraction=_wad(
                    raw.get("floor_fraction", "0"), f"{where}: floor_fraction", 0, WAD
                ),
                min_per_position=_wad(
                    raw.get("min_per_position", "0"),
                    f"{where}: min_per_position",
                    0,
                    pm.MAX_MIN_PER_POSITION,
                ),
                im_factor=_wad(
                    raw.get("im_factor", "1"), f"{where}: im_factor", WAD, pm.MAX_IM_FACTOR
                ),
            ),
        )
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err


def _signed_wad(value: object, where: str) -> int:
    text = str(value).strip()
    negative = text.startswith("-")
    out = _wad(text.lstrip("-"), where, 0, None)
    return -out if negative else out


def _market(raw: object, asset_symbols: set[str], quote_decimals: int) -> MarketConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"a market must be a mapping, got {raw!r}")
    symbol = str(raw.get("symbol", "")).strip()
    if not symbol:
        raise ConfigError("every market needs a `symbol`")
    where = f"market {symbol}"
    fields = {
        "imr": "imr_base",
        "mmr": "mmr_base",
        "im_size_scalar": "im_size_scalar",
        "mm_size_scalar": "mm_size_scalar",
        "skew_scale": "skew_scale",
        "taker_fee": "taker_fee",
        "maker_fee": "maker_fee",
        "max_oi": "max_oi",
        "max_funding_velocity": "max_funding_velocity",
        "max_funding_rate": "max_funding_rate",
    }
    cap_keys = ("reserve_factor", "max_pnl_factor", "adl_target_factor")
    _only(raw, {"symbol", "asset", "orders", *cap_keys, *fields}, where)
    asset = str(raw.get("asset", ""))
    if asset not in asset_symbols:
        raise ConfigError(f"{where}: asset must be one of the configured assets, not {asset!r}")
    v = {dst: _wad(raw.get(src), f"{where}: {src}", 0, None) for src, dst in fields.items()}
    # The contract's own bounds (markets._check_params), checked before sending.
    checks = [
        (0 < v["mmr_base"] < v["imr_base"] <= WAD, "need 0 < mmr < imr <= 1"),
        (v["mm_size_scalar"] <= v["im_size_scalar"] <= 10 * WAD, "need mm <= im size scalar <= 10"),
        (WAD <= v["skew_scale"] <= MAX_SIZE, "skew_scale must lie in [1, 2**96 / 1e18]"),
        (v["maker_fee"] <= v["taker_fee"] <= WAD // 10, "need maker <= taker fee <= 10%"),
        (v["max_oi"] <= MAX_SIZE, "max_oi too large"),
        (v["max_oi"] <= v["skew_scale"], "max_oi must not exceed skew_scale"),
        (v["max_funding_velocity"] <= 10 * WAD, "max_funding_velocity above 10 per day"),
        (v["max_funding_rate"] <= 10 * WAD, "max_funding_rate above 10 per day"),
    ]
    for ok, why in checks:
        if not ok:
            raise ConfigError(f"{where}: {why}")
    caps = None
    if any(k in raw for k in cap_keys):
        # The contract's bounds (liquidity.set_market_caps): 0 < f <= 2,
        # 0 < p <= 1, 0 < adl target <= p; all three or none.
        pnl = _wad(raw.get("max_pnl_factor"), f"{where}: max_pnl_factor", 1, WAD)
        caps = (
            _wad(raw.get("reserve_factor"), f"{where}: reserve_factor", 1, 2 * WAD),
            pnl,
            _wad(raw.get("adl_target_factor"), f"{where}: adl_target_factor", 1, pnl),
        )
    rules = DEFAULT_ORDER_RULES
    if "orders" in raw:
        rules = _order_rules(raw["orders"], f"{where}: orders", quote_decimals)
        reason = om.atomic_reason(rules, v["maker_fee"], v["taker_fee"])
        if rules.atomic and reason is not None:
            raise ConfigError(
                f"{where}: atomic trades need maker_fee + taker_fee >= deviation ({reason})"
            )
    return MarketConfig(
        symbol=symbol, asset=asset, market=MarketParams(asset="", **v), caps=caps, orders=rules
    )


def _order_rules(raw: object, where: str, quote_decimals: int) -> om.OrderRules:
    """A market's `orders` section: delay and window in seconds, the
    settlement fee in quote units, the atomic switch and the feed's
    deviation threshold (a fraction)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping")
    _only(raw, {"min_delay", "window", "settlement_fee", "atomic", "deviation"}, where)
    d = DEFAULT_ORDER_RULES
    rules = om.OrderRules(
        min_delay=_int(raw.get("min_delay", d.min_delay), f"{where}: min_delay", 1, om.MAX_DELAY),
        window=_int(raw.get("window", d.window), f"{where}: window", 1, om.MAX_WINDOW),
        settlement_fee=_units(raw.get("settlement_fee", "0"), quote_decimals, f"{where}: fee"),
        atomic=_bool(raw.get("atomic", False), f"{where}: atomic"),
        deviation=_wad(raw.get("deviation", "0"), f"{where}: deviation", 0, WAD),
    )
    reason = om.rules_reason(rules)
    if reason is not None:
        raise ConfigError(f"{where}: {reason}")
    return rules


def _pool(raw: object) -> PoolConfig:
    if not isinstance(raw, dict):
        raise ConfigError("pool must be a mapping")
    _only(raw, {"name", "symbol", "buffer", "total_reserve_factor", "request_delay"}, "pool")
    name, symbol = str(raw.get("name", "xmargin LP")), str(raw.get("symbol", "xLP"))
    if len(name) > 25 or len(symbol) > 5:
        raise ConfigError("pool: name at most 25 characters, symbol at most 5")
    total = 0
    if "total_reserve_factor" in raw:
        total = _wad(raw["total_reserve_factor"], "pool: total_reserve_factor", 1, 2 * WAD)
    return PoolConfig(
        name=name,
        symbol=symbol,
        buffer=_wad(raw.get("buffer", "0"), "pool: buffer", 0, WAD),
        total_reserve_factor=total,
        request_delay=_int(
            raw.get("request_delay", DEFAULT_REQUEST_DELAY),
            "pool: request_delay",
            0,
            lr.MAX_REQUEST_DELAY,
        ),
    )


# ---------------------------------------------------------------- parsing helpers


def _asset(raw: object, is_quote: bool) -> AssetConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"an asset must be a mapping, got {raw!r}")
    symbol = str(raw.get("symbol", "")).strip()
    if not symbol:
        raise ConfigError("every asset needs a `symbol`")
    where = f"asset {symbol}"
    allowed = {"symbol", "name", "address", "decimals", "cap"}
    if not is_quote:
        allowed |= {"im_haircut", "mm_haircut", "feed"}
    _only(raw, allowed, where)
    decimals = _int(raw.get("decimals"), f"{where}: decimals", 0, MAX_DECIMALS)
    im = 0 if is_quote else _wad(raw.get("im_haircut"), f"{where}: im_haircut", 0, WAD)
    mm = 0 if is_quote else _wad(raw.get("mm_haircut"), f"{where}: mm_haircut", 0, WAD)
    if mm > im:
        raise ConfigError(f"{where}: mm_haircut must not exceed im_haircut")
    cap = _units(raw.get("cap"), decimals, f"{where}: cap")
    if cap > MAX_AMOUNT:
        raise ConfigError(f"{where}: cap above 2**128 native units")
    feed = None
    if not is_quote:
        if "feed" not in raw:
            raise ConfigError(f"{where}: needs a `feed`")
        feed = _feed(raw["feed"], where)
    return AssetConfig(
        symbol=symbol,
        name=str(raw.get("name") or symbol),
        address=_address(raw.get("address"), f"{where}: address"),
        decimals=decimals,
        im_haircut=im,
        mm_haircut=mm,
        cap=cap,
        feed=feed,
    )


def _feed(raw: object, where: str) -> FeedConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: feed must be a mapping")
    _only(
        raw,
        {"address", "decimals", "price", "heartbeat", "min_price", "max_price", "secondary"},
        f"{where} feed",
    )
    address = _address(raw.get("address"), f"{where}: feed address")
    decimals = _int(raw.get("decimals", 8), f"{where}: feed decimals", 0, MAX_DECIMALS)
    # The router's own limits: bounds positive, at most 1e18 USD per token.
    min_price = _wad(raw.get("min_price"), f"{where}: min_price", 1, MAX_PRICE)
    max_price = _wad(raw.get("max_price"), f"{where}: max_price", 1, MAX_PRICE)
    if min_price >= max_price:
        raise ConfigError(f"{where}: min_price must be below max_price")
    price = _mock_price(raw, address, decimals, where)
    if address is None and not min_price < price < max_price:
        raise ConfigError(f"{where}: mock price must lie strictly between the bounds")
    secondary = None
    if raw.get("secondary") is not None:
        s = raw["secondary"]
        if not isinstance(s, dict):
            raise ConfigError(f"{where}: secondary feed must be a mapping")
        _only(s, {"address", "decimals", "price", "heartbeat", "max_deviation"}, f"{where} second")
        s_address = _address(s.get("address"), f"{where}: second feed address")
        s_decimals = _int(s.get("decimals", 8), f"{where}: second feed decimals", 0, MAX_DECIMALS)
        secondary = SecondaryFeedConfig(
            address=s_address,
            decimals=s_decimals,
            price=_mock_price(s, s_address, s_decimals, f"{where} second feed", default=price),
            heartbeat=_int(s.get("heartbeat"), f"{where}: second heartbeat", 1, MAX_HEARTBEAT),
            max_deviation=_wad(s.get("max_deviation"), f"{where}: max_deviation", 1, WAD),
        )
        if s_address is not None and s_address == address:
            raise ConfigError(f"{where}: the second feed is the primary feed")
        if s_address is None and address is None:
            if not min_price < secondary.price < max_price:
                raise ConfigError(
                    f"{where}: mock second price must lie strictly between the bounds"
                )
            if abs(secondary.price - price) * WAD > secondary.max_deviation * price:
                raise ConfigError(f"{where}: mock second price deviates beyond max_deviation")
    return FeedConfig(
        address=address,
        decimals=decimals,
        price=price,
        heartbeat=_int(raw.get("heartbeat"), f"{where}: heartbeat", 1, MAX_HEARTBEAT),
        min_price=min_price,
        max_price=max_price,
        secondary=secondary,
    )


def _mock_price(
    raw: dict[str, object], address: str | None, decimals: int, where: str, default: int = 0
) -> int:
    if raw.get("price") is None:
        if address is None and not default:
            raise ConfigError(f"{where}: a mock feed needs a `price`")
        return default
    price = _wad(raw["price"], f"{where}: price", 1, None)
    if price * 10**decimals % WAD:
        raise ConfigError(f"{where}: price has more digits than a {decimals}-decimal feed")
    return price


def _list(value: object, where: str) -> list[object]:
    """A YAML list; absent or empty: no entries."""
    if not value:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    return value


def _only(raw: dict[str, object], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _units(value: object, decimals: int, where: str) -> int:
    if value is None:
        raise ConfigError(f"{where} is missing")
    if isinstance(value, float):
        raise ConfigError(f"{where}: write numbers as strings or integers, not floats ({value})")
    try:
        out = parse_units(str(value), decimals)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err
    if out < 0:
        raise ConfigError(f"{where} must not be negative")
    return out


def _wad(value: object, where: str, low: int, high: int | None) -> int:
    out = _units(value, 18, where)
    if out < low or (high is not None and out > high):
        raise ConfigError(f"{where} out of range")
    return out


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer")
    if not low <= value <= high:
        raise ConfigError(f"{where} must lie in [{low}, {high}]")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


def _address(value: object, where: str) -> str | None:
    if value is None:
        return None
    s = str(value)
    if not (s.startswith("0x") and len(s) == 42):
        # YAML reads an unquoted 0x... as a number: say so.
        raise ConfigError(f"{where}: not an address: {s!r} (quote addresses in YAML)")
    try:
        return to_checksum_address(s)
    except ValueError as err:
        raise ConfigError(f"{where}: not an address: {s!r}") from err
