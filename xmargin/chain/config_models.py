"""The deployment config's input schema: pydantic models of `config/*.yaml`.

Each model is one YAML section as written: numbers are decimal strings in
human units, turned into exact integers (WAD or native units) as they are
read, refusing anything that would have to be rounded. Checks come in three
layers: each field (type, range, digits), then the rules that tie one
section's fields together, then the rules that tie sections together (on
the whole config). Pydantic collects every failure of a layer at once; a
section's rules run only once its fields are valid, and the config's only
once every section is. The field types, and the wording of every failure
(`problems`), are `xmargin.chain.config_fields`.

`xmargin.chain.config` turns a valid `ConfigIn` into the `DeployConfig` the
deploy reads, and exports `ConfigIn`'s JSON Schema (`config/schema.json`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from xmargin.chain.config_fields import (
    Address,
    Amount,
    Found,
    Loc,
    Wad,
    Whole,
    human,
    is_,
    number_schema,
    path,
    says,
    units,
    wad_default,
)
from xmargin.maths import lp_requests as lr
from xmargin.maths import orders as om
from xmargin.maths import portfolio as pm
from xmargin.maths.fixed_point import MAX_DECIMALS, WAD, parse_units
from xmargin.maths.liquidation import (
    MAX_CAPACITY_FACTOR,
    MAX_CAPACITY_WINDOW,
    Capacity,
    LiquidationParams,
    capacity_reason,
)
from xmargin.maths.model import MAX_AMOUNT, MAX_ASSETS, MAX_HEARTBEAT, MAX_PRICE
from xmargin.maths.perps import MAX_MARKETS, MAX_SIZE, MarketParams

# A market without an `orders` section trades by delayed order only: a
# 12 s delay (a block on mainnet, longer than a round is visible before it
# lands), an hour's window (a typical heartbeat) and no settlement fee.
DEFAULT_ORDER_RULES = om.OrderRules(min_delay=12, window=3_600)

# Liquidations close at most 2 x maker_fee x skew_scale per market per 30 s
# unless the config says otherwise (docs/liquidation.md).
DEFAULT_CAPACITY = Capacity(window=30, factor=WAD)

# A minute: longer than a visible oracle round stays pending on any chain
# xmargin targets, short enough for an LP's patience.
DEFAULT_REQUEST_DELAY = 60

DEFAULT_POOL_NAME = "xmargin LP"
DEFAULT_POOL_SYMBOL = "xLP"

Symbol = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Decimals = Annotated[int, Whole(0, MAX_DECIMALS)]
Heartbeat = Annotated[int, Whole(1, MAX_HEARTBEAT)]
Fraction = Annotated[int, Wad(0, WAD)]
NonNegative = Annotated[int, Wad()]
OptionalAddress = Annotated[str | None, Address()]


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        # YAML reads `symbol: 1000` as a number; it is still a name.
        coerce_numbers_to_str=True,
        # A field's docstring is its description in the JSON Schema.
        use_attribute_docstrings=True,
    )


# ---------------------------------------------------------------- assets and feeds


class _FeedIn(_Section):
    address: OptionalAddress = None
    """The AggregatorV3 feed; omit for a mock."""
    decimals: Decimals = 8
    """The feed's decimals (checked against decimals() on chain)."""
    price: Annotated[int, Wad(1)] | None = None
    """A mock's initial answer, USD per whole token."""
    heartbeat: Heartbeat
    """Seconds until a round is stale (1 .. 7 days)."""

    @field_validator("price")
    @classmethod
    def _fits_the_feed(cls, price: int | None, info: ValidationInfo) -> int | None:
        decimals = info.data.get("decimals")
        if price is not None and decimals is not None and price * 10**decimals % WAD:
            raise is_(f"has more digits than a {decimals}-decimal feed")
        return price


class SecondaryFeedIn(_FeedIn):
    """A second feed the router cross-checks the primary against."""

    max_deviation: Annotated[int, Wad(1, WAD)]
    """Largest |secondary - primary| / primary, a fraction."""


class FeedIn(_FeedIn):
    """A Chainlink AggregatorV3 feed and the router's checks on it."""

    # The router's own limits: bounds positive, at most 1e18 USD per token.
    min_price: Annotated[int, Wad(1, MAX_PRICE)]
    """Exclusive lower bound on the USD price."""
    max_price: Annotated[int, Wad(1, MAX_PRICE)]
    """Exclusive upper bound on the USD price."""
    secondary: SecondaryFeedIn | None = None
    """Optional cross-check feed."""

    @property
    def mock_price(self) -> int:
        """The price a mock starts at, WAD (0: none given, a real feed)."""
        return self.price or 0

    @property
    def secondary_price(self) -> int:
        """The second feed's price: its own, else the primary's."""
        s = self.secondary
        return s.price if s is not None and s.price is not None else self.mock_price

    @model_validator(mode="after")
    def _consistent(self) -> FeedIn:
        found = Found()
        low, high = self.min_price, self.max_price
        bounds = f"(min_price {human(low)}, max_price {human(high)})"
        between = f"must lie strictly between the bounds {bounds}"
        if low >= high:
            found.add(("min_price",), "must be below max_price", predicate=True)
        if self.address is None and self.price is None:
            found.add(("price",), "is missing: a mock feed needs a `price`", predicate=True)
        elif self.address is None and not low < self.mock_price < high:
            found.add(("price",), between, predicate=True)
        s = self.secondary
        if s is not None:
            at: Loc = ("secondary",)
            price, primary = self.secondary_price, self.mock_price
            if s.address is not None and s.address == self.address:
                found.add((*at, "address"), "the second feed is the primary feed")
            if s.address is None and not price:
                found.add((*at, "price"), "is missing: a mock feed needs a `price`", predicate=True)
            elif s.address is None and self.address is None and primary:
                # Both mocks: the second one's price is checked as the router would.
                if not low < price < high:
                    found.add((*at, "price"), between, predicate=True)
                elif abs(price - primary) * WAD > s.max_deviation * primary:
                    found.add((*at, "price"), "mock second price deviates beyond max_deviation")
        found.raise_any("FeedIn")
        return self


class QuoteIn(_Section):
    """The quote asset: the USD settlement stablecoin, valued at face value."""

    symbol: Symbol
    """The token's symbol, as the config names it elsewhere."""
    name: str | None = None
    """Display name (default: the symbol)."""
    address: OptionalAddress = None
    """The ERC-20; omit for a mock."""
    decimals: Decimals
    """The token's decimals (checked against decimals() on chain)."""
    cap: Annotated[int, WithJsonSchema(number_schema())]
    """Largest total deposit, whole tokens."""

    @field_validator("name", mode="before")
    @classmethod
    def _or_the_symbol(cls, name: object) -> object:
        return name or None  # empty (or 0, false): the symbol

    @field_validator("cap", mode="before")
    @classmethod
    def _native_units(cls, cap: object, info: ValidationInfo) -> int:
        out = units(cap, info.data.get("decimals", MAX_DECIMALS))
        if out > MAX_AMOUNT:
            raise is_("above 2**128 native units")
        return out


class AssetIn(QuoteIn):
    """A collateral asset, priced by its feed and counted after a haircut."""

    im_haircut: Fraction
    """Fraction of market value not counted for initial margin."""
    mm_haircut: Fraction
    """... for maintenance margin (at most im_haircut)."""
    feed: FeedIn
    """The Chainlink feed that prices it."""

    @model_validator(mode="after")
    def _haircuts(self) -> AssetIn:
        if self.mm_haircut > self.im_haircut:
            found = Found()
            found.add(("mm_haircut",), "must not exceed im_haircut", predicate=True)
            found.raise_any("AssetIn")
        return self


# ---------------------------------------------------------------- markets


class OrdersIn(_Section):
    """How a market trades (docs/orders.md): delayed orders, and atomic
    trades while fees cover the feed's deviation threshold."""

    min_delay: Annotated[int, Whole(1, om.MAX_DELAY)] = DEFAULT_ORDER_RULES.min_delay
    """Seconds from a commit to the first price that may settle it."""
    window: Annotated[int, Whole(1, om.MAX_WINDOW)] = DEFAULT_ORDER_RULES.window
    """Seconds after the delay an order may settle; then it is cancellable."""
    settlement_fee: Annotated[str, Amount()] = "0"
    """Quote tokens escrowed at commit, paid to the settler."""
    atomic: StrictBool = False
    """Also allow `trade` at once (while fees cover `deviation`)."""
    deviation: Fraction = wad_default(DEFAULT_ORDER_RULES.deviation)
    """The feed's deviation threshold, a fraction."""

    def rules(self, quote_decimals: int) -> om.OrderRules:
        """The on-chain rules; ValueError if the fee has more decimals than
        the quote token."""
        return om.OrderRules(
            min_delay=self.min_delay,
            window=self.window,
            settlement_fee=parse_units(self.settlement_fee, quote_decimals),
            atomic=self.atomic,
            deviation=self.deviation,
        )


_CAP_KEYS = ("reserve_factor", "max_pnl_factor", "adl_target_factor")


class MarketIn(_Section):
    """A perpetual market, priced by the feed of a configured asset."""

    symbol: Symbol
    """The market's name (BTC-PERP)."""
    asset: str
    """Symbol of a configured (non-quote) asset whose feed prices it."""
    imr: NonNegative
    """Initial margin ratio at small size."""
    mmr: NonNegative
    """Maintenance margin ratio at small size (0 < mmr < imr <= 1)."""
    im_size_scalar: NonNegative
    """Size add-on to IM: |size| / skew_scale times this."""
    mm_size_scalar: NonNegative
    """Size add-on to MM (at most im_size_scalar)."""
    skew_scale: NonNegative
    """Skew, in whole units, for a 100 % premium."""
    taker_fee: NonNegative
    """Fee on the part of a trade that does not reduce |skew|, a fraction (<= 10 %)."""
    maker_fee: NonNegative
    """Fee on the part of a trade that reduces |skew| (at most taker_fee)."""
    max_oi: NonNegative
    """Open interest per side, whole units (at most skew_scale)."""
    max_funding_velocity: NonNegative
    """Funding rate change per day, per day, at full skew."""
    max_funding_rate: NonNegative
    """Largest funding rate, per day."""
    # The contract's bounds (liquidity.set_market_caps): 0 < f <= 2,
    # 0 < p <= 1, 0 < adl target <= p; all three or none.
    reserve_factor: Annotated[int, Wad(1, 2 * WAD)] | None = None
    """Larger side x price at most this fraction of pool value (docs/pool.md)."""
    max_pnl_factor: Annotated[int, Wad(1, WAD)] | None = None
    """Traders' net profit at most this fraction of pool value."""
    adl_target_factor: Annotated[int, Wad(1, WAD)] | None = None
    """Where auto-deleveraging brings that profit back to (<= max_pnl_factor)."""
    orders: OrdersIn | None = None
    """How it trades; without it: delayed orders only."""

    @property
    def params(self) -> MarketParams:
        """The on-chain parameters, the asset left empty until deployment."""
        return MarketParams(
            asset="",
            imr_base=self.imr,
            mmr_base=self.mmr,
            im_size_scalar=self.im_size_scalar,
            mm_size_scalar=self.mm_size_scalar,
            skew_scale=self.skew_scale,
            taker_fee=self.taker_fee,
            maker_fee=self.maker_fee,
            max_oi=self.max_oi,
            max_funding_velocity=self.max_funding_velocity,
            max_funding_rate=self.max_funding_rate,
        )

    @property
    def caps(self) -> tuple[int, int, int] | None:
        """(reserve, max pnl, ADL target) factors; None: uncapped."""
        r, p, a = self.reserve_factor, self.max_pnl_factor, self.adl_target_factor
        return None if r is None or p is None or a is None else (r, p, a)

    @model_validator(mode="after")
    def _contract_bounds(self) -> MarketIn:
        # The contract's own bounds (markets._check_params), checked before sending.
        found = Found()
        p = self.params
        if not 0 < p.mmr_base < p.imr_base <= WAD:
            found.add(("mmr",), "need 0 < mmr < imr <= 1")
        if not p.mm_size_scalar <= p.im_size_scalar <= 10 * WAD:
            found.add(("mm_size_scalar",), "need mm <= im size scalar <= 10")
        if not WAD <= p.skew_scale <= MAX_SIZE:
            found.add(("skew_scale",), "must lie in [1, 2**96 / 1e18]", predicate=True)
        if not p.maker_fee <= p.taker_fee <= WAD // 10:
            found.add(("maker_fee",), "need maker <= taker fee <= 10%")
        if p.max_oi > MAX_SIZE:
            found.add(("max_oi",), "too large", predicate=True)
        elif p.max_oi > p.skew_scale:
            found.add(("max_oi",), "must not exceed skew_scale", predicate=True)
        for key in ("max_funding_velocity", "max_funding_rate"):
            if getattr(p, key) > 10 * WAD:
                found.add((key,), "above 10 per day", predicate=True)
        given = [k for k in _CAP_KEYS if getattr(self, k) is not None]
        for key in _CAP_KEYS if given else ():
            if getattr(self, key) is None:
                found.add((key,), "is missing: set all three market caps or none", predicate=True)
        pnl, adl = self.max_pnl_factor, self.adl_target_factor
        if pnl is not None and adl is not None and adl > pnl:
            why = "out of range: must not exceed max_pnl_factor"
            found.add(("adl_target_factor",), why, predicate=True)
        orders = self.orders
        if orders is not None and orders.atomic:
            rules = om.OrderRules(atomic=True, deviation=orders.deviation)
            reason = om.atomic_reason(rules, p.maker_fee, p.taker_fee)
            if reason is not None:
                why = f"atomic trades need maker_fee + taker_fee >= deviation ({reason})"
                found.add(("orders",), why)
        found.raise_any("MarketIn")
        return self


# ---------------------------------------------------------------- pool, liquidation, portfolio


class PoolIn(_Section):
    """The LiquidityPool (ERC-4626 over the quote asset), every trade's
    counterparty."""

    name: Annotated[str, StringConstraints(max_length=25)] = DEFAULT_POOL_NAME
    """The LP token's name (at most 25 characters)."""
    symbol: Annotated[str, StringConstraints(max_length=5)] = DEFAULT_POOL_SYMBOL
    """The LP token's symbol (at most 5 characters)."""
    buffer: Fraction = wad_default(0)
    """Cash kept beyond traders' gains, a fraction of net notional."""
    total_reserve_factor: Annotated[int, Wad(1, 2 * WAD)] | None = None
    """Every market's |skew| x price together, at most this fraction of pool
    value (omit: no total cap)."""
    request_delay: Annotated[int, Whole(0, lr.MAX_REQUEST_DELAY)] = DEFAULT_REQUEST_DELAY
    """Seconds from an LP request to its settlement (0: instant)."""


_LP = LiquidationParams()


class LiquidationIn(_Section):
    """Liquidation parameters (docs/liquidation.md); the bounds are those
    `set_liquidation_params` enforces."""

    penalty: Annotated[int, Wad(0, WAD // 10)] = wad_default(_LP.penalty)
    """Fraction of the closed notional charged to the account."""
    keeper_share_min: Fraction = wad_default(_LP.keeper_share_min)
    """Liquidator's share of the penalty just under MM ..."""
    keeper_share_max: Fraction = wad_default(_LP.keeper_share_max)
    """... rising to this at a shortfall of auction_depth."""
    auction_depth: Annotated[int, Wad(1, WAD)] = wad_default(_LP.auction_depth)
    """Shortfall 1 - equity / MM where the share peaks."""
    target_health: Annotated[int, Wad(WAD + 1, 2 * WAD)] = wad_default(_LP.target_health)
    """Equity / MM a partial liquidation restores."""
    full_close_health: Annotated[int, Wad(0, WAD - 1)] = wad_default(_LP.full_close_health)
    """Below this equity / MM the whole position closes."""
    dust_notional: Annotated[int, Wad(0, 10**6 * WAD)] = wad_default(_LP.dust_notional)
    """A position left below this many USD is closed whole."""
    collateral_discount: Annotated[int, Wad(0, WAD // 5)] = wad_default(_LP.collateral_discount)
    """Collateral is sold this fraction under the oracle price."""
    capacity_window: Annotated[int, Whole(0, MAX_CAPACITY_WINDOW)] = DEFAULT_CAPACITY.window
    """Seconds per liquidation capacity window."""
    capacity_factor: Annotated[int, Wad(0, MAX_CAPACITY_FACTOR)] = wad_default(
        DEFAULT_CAPACITY.factor
    )
    """Per window, liquidations close at most this x 2 x maker_fee x
    skew_scale per market (0: no cap)."""

    @property
    def params(self) -> LiquidationParams:
        return LiquidationParams(
            penalty=self.penalty,
            keeper_share_min=self.keeper_share_min,
            keeper_share_max=self.keeper_share_max,
            auction_depth=self.auction_depth,
            target_health=self.target_health,
            full_close_health=self.full_close_health,
            dust_notional=self.dust_notional,
            collateral_discount=self.collateral_discount,
        )

    @property
    def capacity(self) -> Capacity:
        return Capacity(window=self.capacity_window, factor=self.capacity_factor)

    @model_validator(mode="after")
    def _consistent(self) -> LiquidationIn:
        found = Found()
        reason = capacity_reason(self.capacity)
        if reason is not None:
            why = f"must lie in [1, {MAX_CAPACITY_WINDOW}] unless capacity_factor is 0 ({reason})"
            found.add(("capacity_window",), why, predicate=True)
        if self.keeper_share_min > self.keeper_share_max:
            found.add(("keeper_share_min",), "above keeper_share_max", predicate=True)
        found.raise_any("LiquidationIn")
        return self


Move = Annotated[
    int,
    Wad(
        -WAD,
        pm.MAX_SHOCK,
        signed=True,
        why="outside [-1, +9] WAD: a move is a signed fraction of the price, "
        "from -1 (to zero) to +9 (ten times)",
    ),
]


class ScenarioIn(_Section):
    """A scenario: some groups' prices move together (the others stay)."""

    name: str | None = None
    """Shown by the CLI (default s0, s1, ...)."""
    moves: dict[str, Move]
    """Group name -> its signed price move, a fraction ("-0.10")."""
    vol: Move = wad_default(0)
    """Every implied volatility's relative move ("0.25": up a quarter), for options."""
    weight: Annotated[int, Wad(pm.MIN_WEIGHT, WAD)] = wad_default(WAD)
    """The fraction of the scenario's P&L that counts (SPAN: an extreme move at "0.35")."""


class ConcentrationIn(_Section):
    """A risk group's concentration add-on: MM adds `rate` of the group's
    |exposure| beyond `threshold`."""

    threshold: NonNegative
    """USD of exposure (either way) the add-on starts at."""
    rate: Fraction
    """The fraction of the exposure beyond it added to MM."""


class CreditIn(_Section):
    """An inter-group spread credit (SPAN's inter-commodity credit): when
    the two groups lose in opposite directions, each group's own scan risk
    falls by `rate` of the smaller of the two."""

    groups: list[str]
    """The two group names."""
    rate: Fraction
    """The fraction credited ("0.70")."""

    @field_validator("groups")
    @classmethod
    def _a_pair(cls, groups: list[str]) -> list[str]:
        if len(groups) != 2 or groups[0] == groups[1]:
            raise is_("must name two different groups")
        return groups


class PortfolioIn(_Section):
    """Portfolio margin (docs/portfolio-margin.md): risk groups and the
    scenarios a sub-account's whole book is margined over."""

    groups: dict[str, list[str]]
    """Group name -> its assets' symbols; every asset in exactly one group."""
    scenarios: list[ScenarioIn]
    """1 .. 32 scenarios."""
    floor_fraction: Fraction = wad_default(0)
    """MM is at least this fraction of gross perp notional."""
    min_per_position: Annotated[int, Wad(0, pm.MAX_MIN_PER_POSITION)] = wad_default(0)
    """... and at least this many USD per open position."""
    im_factor: Annotated[int, Wad(WAD, pm.MAX_IM_FACTOR)] = wad_default(WAD)
    """IM = MM x this (+ the collateral haircut gap), 1 .. 10."""
    short_option_min: Fraction = wad_default(0)
    """... and at least this fraction of the short options' notional (contracts x price)."""
    concentration: dict[str, ConcentrationIn] = {}
    """Group name -> its concentration add-on (none for a group not named)."""
    credits: list[CreditIn] = []
    """Inter-group spread credits, in the order they apply (none: the joint rows alone)."""

    @field_validator("groups")
    @classmethod
    def _some_groups(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        if not groups:
            raise is_("must map each group's name to its assets")
        if len(groups) > pm.MAX_GROUPS:
            raise says(f"at most {pm.MAX_GROUPS} risk groups")
        return groups

    @field_validator("scenarios")
    @classmethod
    def _some_scenarios(cls, scenarios: list[ScenarioIn]) -> list[ScenarioIn]:
        if not 1 <= len(scenarios) <= pm.MAX_SCENARIOS:
            raise is_(f"must be a list of 1 to {pm.MAX_SCENARIOS}")
        return scenarios

    @property
    def members(self) -> dict[str, int]:
        """Asset symbol -> the index of its (first) group."""
        out: dict[str, int] = {}
        for g, symbols in enumerate(self.groups.values()):
            for symbol in symbols:
                out.setdefault(symbol, g)
        return out

    def config(self) -> pm.PortfolioConfig:
        """The risk groups, scenarios and parameters, as deployed; ValueError
        if the maths layer refuses them."""
        names = tuple(self.groups)
        scenarios = tuple(
            pm.Scenario(
                s.name if s.name is not None else f"s{i}",
                tuple(s.moves.get(n, 0) for n in names),
                s.vol,
                s.weight,
            )
            for i, s in enumerate(self.scenarios)
        )
        return pm.PortfolioConfig(
            pm.RiskGroups(names, self.members),
            pm.ScenarioSet(scenarios),
            pm.PortfolioParams(
                self.floor_fraction,
                self.min_per_position,
                self.im_factor,
                self.short_option_min,
                tuple(
                    (c.threshold, c.rate) if (c := self.concentration.get(n)) else (0, 0)
                    for n in names
                ),
                tuple(self._credit(names, c) for c in self.credits),
            ),
        )

    @staticmethod
    def _credit(names: tuple[str, ...], c: CreditIn) -> tuple[int, int, int]:
        a, b = sorted(names.index(g) for g in c.groups)
        return a, b, c.rate

    @model_validator(mode="after")
    def _consistent(self) -> PortfolioIn:
        found = Found()
        seen: set[str] = set()
        for symbols in self.groups.values():
            for symbol in symbols:
                if symbol in seen:
                    found.add(("groups",), f"{symbol} is in two groups")
                seen.add(symbol)
        for i, s in enumerate(self.scenarios):
            unknown = [g for g in s.moves if g not in self.groups]
            if unknown:
                found.add(("scenarios", i, "moves"), f"unknown group(s) {', '.join(unknown)}")
        unknown = [g for g in self.concentration if g not in self.groups]
        if unknown:
            found.add(("concentration",), f"unknown group(s) {', '.join(unknown)}")
        for i, c in enumerate(self.credits):
            unknown = [g for g in c.groups if g not in self.groups]
            if unknown:
                found.add(("credits", i, "groups"), f"unknown group(s) {', '.join(unknown)}")
        if not found.errors:
            try:
                self.config()
            except ValueError as err:
                found.add((), str(err))
        found.raise_any("PortfolioIn")
        return self


# ---------------------------------------------------------------- the whole config


# ---------------------------------------------------------------- options

# The OptionsBook's and OptionsDesk's bounds (contracts/OptionsBook.vy,
# OptionsDesk.vy).
MAX_LIVE_SERIES = 16
MAX_OPTION_DELAY = 3_600
MIN_OPTION_WINDOW, MAX_OPTION_WINDOW = 60, 600
MAX_EXPIRY_DAYS = 730


class VolFeedIn(_Section):
    """An implied-volatility feed (AggregatorV3-shaped, annualised, 0.80 is
    80 %) and the router's checks on it."""

    address: OptionalAddress = None
    """The feed; omit for a mock."""
    decimals: Decimals = 8
    """The feed's decimals."""
    answer: Annotated[int, Wad(1, 10 * WAD)] | None = None
    """A mock's initial volatility, a fraction a year ("0.80")."""
    heartbeat: Heartbeat
    """Seconds until a round is stale."""
    min: Annotated[int, Wad(1, 10 * WAD)]
    """Exclusive lower bound on the volatility."""
    max: Annotated[int, Wad(1, 10 * WAD)]
    """Exclusive upper bound on the volatility."""

    @model_validator(mode="after")
    def _consistent(self) -> VolFeedIn:
        found = Found()
        if self.min >= self.max:
            found.add(("min",), "must be below max", predicate=True)
        if self.address is None and self.answer is None:
            found.add(("answer",), "is missing: a mock feed needs an `answer`", predicate=True)
        elif self.answer is not None and not self.min < self.answer < self.max:
            found.add(("answer",), "must lie strictly between min and max", predicate=True)
        elif self.answer is not None and self.answer * 10**self.decimals % WAD:
            found.add(("answer",), f"has more digits than a {self.decimals}-decimal feed")
        found.raise_any("VolFeedIn")
        return self


class ExpiryIn(_Section):
    """One expiry of an underlying: when, its volatility feed, its strikes
    (a call and a put listed at each)."""

    days: Annotated[int, Whole(1, MAX_EXPIRY_DAYS)] | None = None
    """Days after the first deployment (08:00 UTC that day), for local
    chains; recorded with the deployment so a rerun keeps it."""
    at: Annotated[int, Whole(1, 2**40)] | None = None
    """Unix seconds (real networks)."""
    vol: VolFeedIn
    """The implied-volatility feed of this expiry."""
    strikes: list[Annotated[int, Wad(1, MAX_PRICE)]]
    """USD strikes; each within 10x of the price when listed."""

    @model_validator(mode="after")
    def _when(self) -> ExpiryIn:
        found = Found()
        if (self.days is None) == (self.at is None):
            found.add((), "give exactly one of `days` and `at`")
        if not self.strikes:
            found.add(("strikes",), "needs at least one strike")
        if len(set(self.strikes)) != len(self.strikes):
            found.add(("strikes",), "lists a strike twice")
        found.raise_any("ExpiryIn")
        return self


class UnderlyingIn(_Section):
    """An underlying's option series: its short-option margin rule, how
    they trade, and its expiries."""

    asset: Symbol
    """A configured collateral asset whose feed prices the series."""
    im_rate: Annotated[int, Wad(1, WAD // 2)]
    """Short IM: this fraction of the price less the out-of-the-money amount ..."""
    im_floor: Annotated[int, Wad(1, WAD // 2)]
    """... at least this fraction of the price."""
    mm_rate: Annotated[int, Wad(1, WAD // 2)]
    """Short MM: the same with this rate ..."""
    mm_floor: Annotated[int, Wad(1, WAD // 2)]
    """... and this floor."""
    vol_spread: Annotated[int, Wad(0, WAD // 2)]
    """The pool quotes the volatility this fraction wider each side."""
    min_size: Annotated[int, Wad(1, MAX_SIZE)]
    """Smallest position, contracts (one contract is one unit)."""
    max_oi: Annotated[int, Wad(1, MAX_SIZE)]
    """Largest traders' net position against the pool per series, contracts."""
    min_delay: Annotated[int, Whole(1, MAX_OPTION_DELAY)]
    """Seconds from an order's commit to the rounds it executes on."""
    window: Annotated[int, Whole(MIN_OPTION_WINDOW, MAX_OPTION_WINDOW)]
    """Seconds after the delay in which it executes."""
    expiries: list[ExpiryIn]
    """The expiries listed."""

    @model_validator(mode="after")
    def _consistent(self) -> UnderlyingIn:
        found = Found()
        from xmargin.maths.options import MarginParams

        if not MarginParams(self.im_rate, self.im_floor, self.mm_rate, self.mm_floor).valid():
            found.add(
                ("im_rate",),
                "needs mm_floor <= mm_rate <= im_rate and mm_floor <= im_floor <= im_rate",
            )
        if self.min_size > self.max_oi:
            found.add(("min_size",), "above max_oi", predicate=True)
        when = [(e.at, e.days) for e in self.expiries]
        if len(set(when)) != len(when):
            found.add(("expiries",), "lists an expiry twice (the same `at` or `days`)")
        found.raise_any("UnderlyingIn")
        return self


class OptionsIn(_Section):
    """Options (docs/options.md): an OptionsBook of series and an
    OptionsDesk where accounts trade them against the pool."""

    reserve_factor: Fraction
    """The pool's short-option IM, at most this fraction of its value."""
    liquidation_penalty: Annotated[int, Wad(0, WAD // 20)]
    """A liquidation's penalty, a fraction of the closed notional."""
    underlyings: list[UnderlyingIn]
    """Each underlying's series."""


class ConfigIn(_Section):
    """An xmargin deployment config (docs/deploy.md, "Config keys").

    Numbers are decimal strings in human units, parsed exactly: a value
    with more decimals than its token or feed has is refused, never
    rounded. Addresses are quoted strings."""

    model_config = ConfigDict(title="xmargin deployment config")

    quote: QuoteIn
    """The USD settlement stablecoin, valued at face value."""
    assets: list[AssetIn] | None = None
    """Collateral assets, listed in this order."""
    allow_mocks: StrictBool = False
    """Deploy mocks (assets and feeds without an address) on a non-local chain."""
    guardian: OptionalAddress = None
    """Who may pause; omitted: left as it is on chain; the zero address removes it."""
    markets: list[MarketIn] | None = None
    """Perpetual markets, listed in this order (ids 0, 1, ...)."""
    pool: PoolIn | None = None
    """The LiquidityPool; required with markets."""
    liquidation: LiquidationIn | None = None
    """Liquidation parameters; with markets and without it: the defaults."""
    portfolio: PortfolioIn | None = None
    """Portfolio margin: risk groups and scenarios (optional)."""
    options: OptionsIn | None = None
    """Option series and their trading (optional; needs a pool)."""

    def all_assets(self) -> Iterator[tuple[Loc, QuoteIn]]:
        """The quote asset, then the collateral assets, each with its place."""
        yield ("quote",), self.quote
        for i, a in enumerate(self.assets or ()):
            yield ("assets", i), a

    @property
    def liquidation_section(self) -> LiquidationIn | None:
        """The liquidation section; the defaults when markets have none."""
        if self.liquidation is None and self.markets:
            return LiquidationIn()
        return self.liquidation

    @model_validator(mode="after")
    def _across_sections(self) -> ConfigIn:
        found = Found()
        self._check_assets(found)
        self._check_markets(found)
        if self.portfolio is not None:
            self._check_portfolio(self.portfolio, found)
        if self.options is not None:
            self._check_options(self.options, found)
        found.raise_any("ConfigIn")
        return self

    def _check_assets(self, found: Found) -> None:
        assets = list(self.all_assets())
        if len(assets) > MAX_ASSETS:
            found.add(("assets",), f"at most {MAX_ASSETS} assets including the quote asset")
        for key in ("symbol", "address"):
            _duplicates(found, [(loc, getattr(a, key)) for loc, a in assets], key, "asset")

    def _check_markets(self, found: Found) -> None:
        markets = self.markets or []
        if len(markets) > MAX_MARKETS:
            found.add(("markets",), f"at most {MAX_MARKETS} markets")
        symbols = [(("markets", i), m.symbol) for i, m in enumerate(markets)]
        _duplicates(found, symbols, "symbol", "market")
        priced = {a.symbol for a in self.assets or ()}
        capacity = self.liquidation_section
        for i, m in enumerate(markets):
            if m.asset not in priced:
                why = f"must be one of the configured assets, not {m.asset!r}"
                found.add(("markets", i, "asset"), why, predicate=True)
            if capacity is not None and capacity.capacity_factor and m.maker_fee == 0:
                found.add(
                    ("markets", i, "maker_fee"),
                    "a liquidation capacity needs a maker fee "
                    "(2 x maker_fee x skew_scale per window); set one, or capacity_factor 0",
                )
            if m.orders is not None:
                try:
                    reason = om.rules_reason(m.orders.rules(self.quote.decimals))
                except ValueError as err:
                    found.add(("markets", i, "orders", "settlement_fee"), str(err))
                    continue
                if reason is not None:
                    found.add(("markets", i, "orders"), reason)
        if markets and self.pool is None:
            found.add((), "markets need a `pool` (the LiquidityPool is their counterparty)")

    def _check_options(self, options: OptionsIn, found: Found) -> None:
        _check_options_in(self, options, found)

    def _check_portfolio(self, portfolio: PortfolioIn, found: Found) -> None:
        symbols = [a.symbol for _, a in self.all_assets()]
        for name, members in portfolio.groups.items():
            for symbol in members:
                if symbol not in symbols:
                    found.add(("portfolio", "groups", name), f"unknown asset {symbol!r}")
        missing = [s for s in symbols if s not in portfolio.members]
        if missing:
            found.add(("portfolio", "groups"), f"no group for {', '.join(missing)}")


def _check_options_in(config: ConfigIn, options: OptionsIn, found: Found) -> None:
    """Options price from a configured asset's feed, trade against the
    pool, and list at most 16 series at once."""
    priced = {a.symbol for a in config.assets or ()}
    if config.pool is None:
        found.add(("options",), "options need a `pool` (the LiquidityPool is their counterparty)")
    series = 0
    for i, u in enumerate(options.underlyings):
        if u.asset not in priced:
            why = f"must be one of the configured assets, not {u.asset!r}"
            found.add(("options", "underlyings", i, "asset"), why, predicate=True)
        series += sum(2 * len(e.strikes) for e in u.expiries)
    if series > MAX_LIVE_SERIES:
        found.add(
            ("options", "underlyings"),
            f"{series} series (a call and a put per strike): at most {MAX_LIVE_SERIES} at once",
        )
    _duplicates(
        found,
        [(("options", "underlyings", i), u.asset) for i, u in enumerate(options.underlyings)],
        "asset",
        "underlying",
    )


def _duplicates(found: Found, values: Sequence[tuple[Loc, object]], key: str, what: str) -> None:
    """Every value of `key` met before, at its second (third, ...) place."""
    first: dict[object, Loc] = {}
    for loc, value in values:
        if value is None:
            continue
        if value in first:
            found.add((*loc, key), f"duplicate {what} {key}: {value} (as {path(first[value])})")
        else:
            first[value] = (*loc, key)
