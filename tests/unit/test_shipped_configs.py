"""The shipped configs, read field by field, and the config's JSON Schema.

The expected values are worked out by hand from the YAML (and were those
of the hand-written parser this one replaced): exact integers, WAD for
fractions and USD prices, native units for caps and fees.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
import yaml

from xmargin.chain.config import (
    CONFIG_DIR,
    SCHEMA_PATH,
    AssetConfig,
    DeployConfig,
    ExpiryConfig,
    FeedConfig,
    MarketConfig,
    OptionsConfig,
    PoolConfig,
    UnderlyingConfig,
    VolFeedConfig,
    config_schema,
    load_config,
)
from xmargin.maths import portfolio as pm
from xmargin.maths.liquidation import Capacity, LiquidationParams
from xmargin.maths.orders import OrderRules
from xmargin.maths.perps import MarketParams

E18 = 10**18
PCT = E18 // 100  # one per cent, WAD

# Both configs' liquidation sections: 2 %, 25 % .. 75 %, 20 %, 1.2, 0.5, $10, 5 %.
LIQUIDATION = LiquidationParams(
    penalty=2 * PCT,
    keeper_share_min=25 * PCT,
    keeper_share_max=75 * PCT,
    auction_depth=20 * PCT,
    target_health=12 * E18 // 10,
    full_close_health=E18 // 2,
    dust_notional=10 * E18,
    collateral_discount=5 * PCT,
)
CAPACITY = Capacity(window=30, factor=E18)
CAPS = (50 * PCT, 30 * PCT, 20 * PCT)


def _market(symbol, asset, imr, mmr, skew, taker, maker, max_oi, caps, orders):
    return MarketConfig(
        symbol=symbol,
        asset=asset,
        market=MarketParams(
            asset="",
            imr_base=imr,
            mmr_base=mmr,
            im_size_scalar=E18,
            mm_size_scalar=E18 // 2,
            skew_scale=skew,
            taker_fee=taker,
            maker_fee=maker,
            max_oi=max_oi,
            max_funding_velocity=3 * PCT,
            max_funding_rate=PCT,
        ),
        caps=caps,
        orders=orders,
    )


def _mock_feed(price, low, high):
    return FeedConfig(
        address=None, decimals=8, price=price, heartbeat=3600, min_price=low, max_price=high
    )


# Atomic trades at 0.05 % + 0.1 % fees over a 0.15 % deviation; a 1 USDC fee.
LOCAL_ORDERS = OrderRules(
    min_delay=2, window=600, settlement_fee=10**6, atomic=True, deviation=15 * E18 // 10_000
)

LOCAL = DeployConfig(
    name="local",
    quote=AssetConfig(
        symbol="USDC",
        name="USD Coin (mock)",
        address=None,
        decimals=6,
        im_haircut=0,
        mm_haircut=0,
        cap=100_000_000 * 10**6,
        feed=None,
    ),
    assets=(
        AssetConfig(
            symbol="WETH",
            name="Wrapped Ether (mock)",
            address=None,
            decimals=18,
            im_haircut=20 * PCT,
            mm_haircut=10 * PCT,
            cap=20_000 * E18,
            feed=_mock_feed(3_000 * E18, E18, 1_000_000 * E18),
        ),
        AssetConfig(
            symbol="WBTC",
            name="Wrapped Bitcoin (mock)",
            address=None,
            decimals=8,
            im_haircut=15 * PCT,
            mm_haircut=8 * PCT,
            cap=1_000 * 10**8,
            feed=_mock_feed(60_000 * E18, 100 * E18, 10_000_000 * E18),
        ),
        AssetConfig(
            symbol="LINK",
            name="Chainlink (mock)",
            address=None,
            decimals=18,
            im_haircut=35 * PCT,
            mm_haircut=25 * PCT,
            cap=2_000_000 * E18,
            feed=_mock_feed(15 * E18, PCT, 100_000 * E18),
        ),
    ),
    allow_mocks=False,
    guardian=None,
    markets=(
        _market(
            "ETH-PERP",
            "WETH",
            10 * PCT,
            5 * PCT,
            1_000_000 * E18,
            E18 // 1_000,
            E18 // 2_000,
            10_000 * E18,
            CAPS,
            LOCAL_ORDERS,
        ),
        _market(
            "BTC-PERP",
            "WBTC",
            8 * PCT,
            4 * PCT,
            50_000 * E18,
            E18 // 1_000,
            E18 // 2_000,
            500 * E18,
            CAPS,
            LOCAL_ORDERS,
        ),
    ),
    pool=PoolConfig(
        name="xmargin LP",
        symbol="xLP",
        buffer=10 * PCT,
        total_reserve_factor=80 * PCT,
        request_delay=60,
    ),
    liquidation=LIQUIDATION,
    liquidation_capacity=CAPACITY,
    portfolio=pm.PortfolioConfig(
        pm.RiskGroups(("ETH", "BTC", "USD", "ALT"), {"WETH": 0, "WBTC": 1, "USDC": 2, "LINK": 3}),
        pm.ScenarioSet(
            (
                pm.Scenario("crypto up", (10 * PCT, 10 * PCT, 0, 15 * PCT), -10 * PCT),
                pm.Scenario("crypto down", (-10 * PCT, -10 * PCT, 0, -15 * PCT), 25 * PCT),
                pm.Scenario("ETH up, BTC down", (4 * PCT, -4 * PCT, 0, 0)),
                pm.Scenario("ETH down, BTC up", (-4 * PCT, 4 * PCT, 0, 0)),
                pm.Scenario("alts crash", (0, 0, 0, -30 * PCT)),
                pm.Scenario("alts squeeze", (0, 0, 0, 30 * PCT)),
                pm.Scenario("USDC de-peg", (0, 0, -5 * PCT, 0)),
                pm.Scenario("volatility up", (0, 0, 0, 0), 30 * PCT),
                pm.Scenario("volatility down", (0, 0, 0, 0), -30 * PCT),
            )
        ),
        pm.PortfolioParams(
            floor_fraction=PCT // 2,
            min_per_position=50 * E18,
            im_factor=15 * E18 // 10,
            short_option_min=PCT,
        ),
    ),
    options=OptionsConfig(
        pool_limits=(50 * PCT, PCT),
        underlyings=(
            UnderlyingConfig(
                asset="WETH",
                margin=(15 * PCT, 10 * PCT, 75 * PCT // 10, 5 * PCT),
                trade=(5 * PCT, E18 // 10, 1_000 * E18, 5, 120),
                expiries=(
                    ExpiryConfig(
                        days=30,
                        at=None,
                        vol=VolFeedConfig(
                            address=None,
                            decimals=8,
                            answer=80 * PCT,
                            heartbeat=3_600,
                            min=PCT,
                            max=5 * E18,
                        ),
                        strikes=(2_800 * E18, 3_000 * E18, 3_200 * E18),
                    ),
                ),
            ),
        ),
    ),
)

# Delayed orders only: a block's delay, two heartbeats' window, a 1 USDC fee.
SEPOLIA_ORDERS = OrderRules(min_delay=12, window=14_400, settlement_fee=10**6)


def _real_feed(address, low, high):
    return FeedConfig(
        address=address, decimals=8, price=0, heartbeat=7_200, min_price=low, max_price=high
    )


SEPOLIA = DeployConfig(
    name="sepolia.example",
    quote=AssetConfig(
        symbol="USDC",
        name="USDC",
        address="0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238",
        decimals=6,
        im_haircut=0,
        mm_haircut=0,
        cap=1_000_000 * 10**6,
        feed=None,
    ),
    assets=(
        AssetConfig(
            symbol="WETH",
            name="WETH",
            address="0xfFf9976782d46CC05630D1f6eBAb18b2324d6B14",
            decimals=18,
            im_haircut=20 * PCT,
            mm_haircut=10 * PCT,
            cap=500 * E18,
            feed=_real_feed(
                "0x694AA1769357215DE4FAC081bf1f309aDC325306", 10 * E18, 1_000_000 * E18
            ),
        ),
        AssetConfig(
            symbol="LINK",
            name="LINK",
            address="0x779877A7B0D9E8603169DdbD7836e478b4624789",
            decimals=18,
            im_haircut=35 * PCT,
            mm_haircut=25 * PCT,
            cap=100_000 * E18,
            feed=_real_feed("0xc59E3633BAAC79493d908e63626716e204A45EdF", PCT, 100_000 * E18),
        ),
    ),
    allow_mocks=False,
    guardian=None,
    markets=(
        _market(
            "ETH-PERP",
            "WETH",
            10 * PCT,
            5 * PCT,
            100_000 * E18,
            E18 // 1_000,
            E18 // 2_000,
            200 * E18,
            CAPS,
            SEPOLIA_ORDERS,
        ),
        _market(
            "LINK-PERP",
            "LINK",
            15 * PCT,
            75 * E18 // 1_000,
            5_000_000 * E18,
            2 * E18 // 1_000,
            E18 // 1_000,
            20_000 * E18,
            (30 * PCT, 30 * PCT, 20 * PCT),
            SEPOLIA_ORDERS,
        ),
    ),
    pool=PoolConfig(
        name="xmargin LP (Sepolia)",
        symbol="xLP",
        buffer=10 * PCT,
        total_reserve_factor=80 * PCT,
        request_delay=600,
    ),
    liquidation=LIQUIDATION,
    liquidation_capacity=CAPACITY,
    portfolio=None,
)

SHIPPED = {"local": LOCAL, "sepolia.example": SEPOLIA}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_reads_to_exact_values(name):
    config = load_config(name)
    assert replace(config, sha256="") == SHIPPED[name]
    data = (CONFIG_DIR / f"{name}.yaml").read_bytes()
    assert config.sha256 == hashlib.sha256(data).hexdigest()


def test_schema_file_is_up_to_date():
    """`config/schema.json` is what the models say; after changing them,
    run `python -m xmargin.chain.config` and commit the file."""
    assert (
        json.loads(SCHEMA_PATH.read_text()) == config_schema()
    ), "config/schema.json is out of date: run `python -m xmargin.chain.config`"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_points_editors_at_the_schema(name):
    first = (CONFIG_DIR / f"{name}.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema.json"


def test_schema_lists_the_config_keys():
    schema = config_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["quote"]
    assert list(schema["properties"]) == [
        "quote",
        "assets",
        "allow_mocks",
        "guardian",
        "markets",
        "pool",
        "liquidation",
        "portfolio",
        "options",
    ]
    # Numbers are written as decimal strings (or YAML integers), not floats.
    cap = schema["$defs"]["QuoteIn"]["properties"]["cap"]
    assert [t["type"] for t in cap["anyOf"]] == ["string", "integer"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_validates_against_the_schema(name):
    import jsonschema  # a dev dependency (pyproject.toml)

    raw = yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text())
    jsonschema.validate(raw, config_schema())
    raw["assets"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, config_schema())
