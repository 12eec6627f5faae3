"""Deployment configs: exact parsing, every rejection, the mocks rule."""

from __future__ import annotations

import copy

import pytest

from xmargin.chain.config import ConfigError, load_config, parse_config
from xmargin.chain.deployments import DeploymentError
from xmargin.chain.network import NetworkInfo
from xmargin.ops.deploy import check_mocks_allowed

E18 = 10**18

VALID = {
    "quote": {"symbol": "USDC", "decimals": 6, "cap": "1000000.5"},
    "assets": [
        {
            "symbol": "WBTC",
            "decimals": 8,
            "im_haircut": "0.15",
            "mm_haircut": "0.08",
            "cap": "12.34567891",
            "feed": {
                "decimals": 8,
                "price": "60000.12345678",
                "heartbeat": 3600,
                "min_price": "100",
                "max_price": "10000000",
            },
        }
    ],
}

LOCAL = NetworkInfo(ecosystem="ethereum", name="local", chain_id=31337, is_local=True)
SEPOLIA = NetworkInfo(ecosystem="ethereum", name="sepolia", chain_id=11155111, is_local=False)
REAL = "0x" + "11" * 20


def _with(path: tuple, value):
    raw = copy.deepcopy(VALID)
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


_DELETE = object()


def test_numbers_are_exact_integers():
    c = parse_config(VALID)
    assert c.quote.cap == 1_000_000_500_000  # 1,000,000.5 USDC at 6 decimals
    (wbtc,) = c.assets
    assert wbtc.cap == 1_234_567_891
    assert (wbtc.im_haircut, wbtc.mm_haircut) == (15 * E18 // 100, 8 * E18 // 100)
    assert wbtc.feed.price == 60_000_123_456_780_000_000_000
    assert wbtc.feed.mock_answer() == 6_000_012_345_678
    assert (wbtc.feed.min_price, wbtc.feed.max_price) == (100 * E18, 10_000_000 * E18)
    assert c.mocks == ["USDC token", "WBTC token", "WBTC feed"]


def test_shipped_local_config_loads():
    c = load_config("local")
    assert [a.symbol for a in c.all_assets] == ["USDC", "WETH", "WBTC", "LINK"]
    assert c.allow_mocks is False
    assert c.assets[0].cap == 20_000 * E18


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("quote", "cap"), "0.0000001", "more than 6 decimals"),
        (("quote", "cap"), 1.5, "not floats"),
        (("quote", "cap"), "-1", "must not be negative"),
        (("quote", "cap"), _DELETE, "cap is missing"),
        (("quote", "decimals"), 19, "must lie in [0, 18]"),
        (("quote", "im_haircut"), "0.1", "unknown key(s) im_haircut"),
        (("assets", 0, "im_haircut"), "1.01", "im_haircut out of range"),
        (("assets", 0, "mm_haircut"), "0.2", "mm_haircut must not exceed im_haircut"),
        (("assets", 0, "cap"), str(2**128 + 1), "cap above 2**128"),
        (("assets", 0, "feed"), _DELETE, "needs a `feed`"),
        (("assets", 0, "feed", "price"), "60000.123456789", "more digits than a 8-decimal feed"),
        (("assets", 0, "feed", "price"), "50", "strictly between the bounds"),
        (("assets", 0, "feed", "price"), _DELETE, "a mock feed needs a `price`"),
        (("assets", 0, "feed", "min_price"), "10000000", "min_price must be below max_price"),
        (("assets", 0, "feed", "heartbeat"), 0, "heartbeat must lie in"),
        (("assets", 0, "feed", "heartbeat"), 8 * 86_400, "heartbeat must lie in"),
        (("assets", 0, "address"), 0x1234, "quote addresses in YAML"),
        (("assets", 0, "symbol"), "USDC", "duplicate asset symbol: USDC"),
        (("assets", 0, "colour"), "red", "unknown key(s) colour"),
        (("allow_mocks",), "yes", "allow_mocks must be true or false"),
    ],
)
def test_bad_config_is_refused_with_a_reason(path, value, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_with(path, value))
    assert message in str(err.value)


def test_real_addresses_are_checksummed():
    raw = _with(("assets", 0, "address"), REAL.lower())
    assert parse_config(raw).assets[0].address == "0x1111111111111111111111111111111111111111"


def test_mocks_allowed_on_local_chains():
    check_mocks_allowed(parse_config(VALID), LOCAL)


def test_mocks_refused_on_other_chains_unless_named():
    with pytest.raises(DeploymentError) as err:
        check_mocks_allowed(parse_config(VALID), SEPOLIA)
    assert "USDC token, WBTC token, WBTC feed" in str(err.value)
    check_mocks_allowed(parse_config({**VALID, "allow_mocks": True}), SEPOLIA)


def test_a_config_without_mocks_needs_no_permission():
    raw = _with(("quote", "address"), REAL)
    raw["assets"][0]["address"] = "0x" + "22" * 20
    raw["assets"][0]["feed"]["address"] = "0x" + "33" * 20
    del raw["assets"][0]["feed"]["price"]
    config = parse_config(raw)
    assert config.mocks == []
    check_mocks_allowed(config, SEPOLIA)


MARKET = {
    "symbol": "BTC-PERP",
    "asset": "WBTC",
    "imr": "0.08",
    "mmr": "0.04",
    "im_size_scalar": "1",
    "mm_size_scalar": "0.5",
    "skew_scale": "50000",
    "taker_fee": "0.001",
    "maker_fee": "0.0005",
    "max_oi": "500",
    "max_funding_velocity": "0.03",
    "max_funding_rate": "0.01",
}


def test_markets_parse_to_the_onchain_struct():
    c = parse_config({**VALID, "pool": {"buffer": "0.1"}, "markets": [MARKET]})
    (m,) = c.markets
    assert m.params("0xA") == (
        "0xA",
        8 * E18 // 100,
        4 * E18 // 100,
        E18,
        E18 // 2,
        50_000 * E18,
        E18 // 1_000,
        E18 // 2_000,
        500 * E18,
        3 * E18 // 100,
        E18 // 100,
    )
    assert c.pool.buffer == E18 // 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"asset": "DOGE"}, "asset must be one of the configured assets"),
        ({"mmr": "0.08"}, "need 0 < mmr < imr <= 1"),
        ({"mm_size_scalar": "2"}, "need mm <= im size scalar <= 10"),
        ({"skew_scale": "0.5"}, "skew_scale must lie in"),
        ({"maker_fee": "0.002"}, "need maker <= taker fee <= 10%"),
        ({"max_funding_rate": "11"}, "max_funding_rate above 10 per day"),
        ({"max_oi": "60000"}, "max_oi must not exceed skew_scale"),
        ({"leverage": "100"}, "unknown key(s) leverage"),
    ],
)
def test_bad_markets_are_refused(change, message):
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "pool": {}, "markets": [{**MARKET, **change}]})
    assert message in str(err.value)


def test_markets_need_a_pool():
    with pytest.raises(ConfigError, match="markets need a `pool`"):
        parse_config({**VALID, "markets": [MARKET]})


def test_liquidation_section_parses_with_defaults():
    c = parse_config(
        {
            **VALID,
            "pool": {},
            "markets": [MARKET],
            "liquidation": {"penalty": "0.03", "target_health": "1.5"},
        }
    )
    lp = c.liquidation
    assert (lp.penalty, lp.target_health) == (3 * E18 // 100, 3 * E18 // 2)
    # Unnamed fields keep the defaults: 25 % / 75 %, depth 20 %, dust $10.
    assert (lp.keeper_share_min, lp.keeper_share_max, lp.auction_depth) == (
        E18 // 4,
        3 * E18 // 4,
        E18 // 5,
    )
    assert lp.dust_notional == 10 * E18
    # Markets without a liquidation section get the defaults; no markets, none.
    assert parse_config({**VALID, "pool": {}, "markets": [MARKET]}).liquidation is not None
    assert parse_config(VALID).liquidation is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"penalty": "0.11"}, "liquidation.penalty out of range"),
        ({"target_health": "1"}, "liquidation.target_health out of range"),
        ({"target_health": "2.01"}, "liquidation.target_health out of range"),
        ({"full_close_health": "1"}, "liquidation.full_close_health out of range"),
        ({"auction_depth": "0"}, "liquidation.auction_depth out of range"),
        ({"collateral_discount": "0.25"}, "liquidation.collateral_discount out of range"),
        ({"keeper_share_min": "0.8"}, "keeper_share_min above keeper_share_max"),
        ({"bonus": "0.1"}, "unknown key(s) bonus"),
    ],
)
def test_bad_liquidation_params_are_refused(change, message):
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "pool": {}, "markets": [MARKET], "liquidation": change})
    assert message in str(err.value)


def test_portfolio_section_parses_and_names_every_asset():
    raw = {
        **VALID,
        "portfolio": {
            "groups": {"BTC": ["WBTC"], "USD": ["USDC"]},
            "scenarios": [{"name": "crash", "moves": {"BTC": "-0.3"}}],
        },
    }
    c = parse_config(raw).portfolio
    assert c.groups.members == {"WBTC": 0, "USDC": 1}
    assert c.scenarios.scenarios[0].shocks == (-3 * E18 // 10, 0)
    # Defaults: no floor, no per-position minimum, IM factor 1.
    assert (c.params.floor_fraction, c.params.min_per_position, c.params.im_factor) == (0, 0, E18)
    # The shipped config has one.
    assert load_config("local").portfolio.groups.names == ("ETH", "BTC", "USD", "ALT")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # (group A: an unknown group in the scenarios would be reported
        # first, the rules across sections waiting for the section to be valid)
        ({"groups": {"A": ["WBTC"]}}, "portfolio.groups: no group for USDC"),
        ({"groups": {"A": ["WBTC", "USDC"], "B": ["WBTC"]}}, "WBTC is in two groups"),
        ({"groups": {"A": ["WBTC", "USDC", "DOGE"]}}, "unknown asset 'DOGE'"),
        ({"scenarios": []}, "scenarios must be a list"),
        ({"scenarios": [{"name": "x", "moves": {"ETH": "0.1"}}]}, "unknown group(s) ETH"),
        ({"scenarios": [{"name": "x", "moves": {"A": "-1.5"}}]}, "outside [-1, +9] WAD"),
        ({"im_factor": "0.9"}, "portfolio.im_factor out of range"),
        ({"floor_fraction": "1.1"}, "portfolio.floor_fraction out of range"),
        ({"limit": "1"}, "unknown key(s) limit"),
    ],
)
def test_bad_portfolio_sections_are_refused(change, message):
    section = {
        "groups": {"A": ["WBTC", "USDC"]},
        "scenarios": [{"name": "x", "moves": {"A": "0.1"}}],
    }
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "portfolio": {**section, **change}})
    assert message in str(err.value)


def test_market_order_rules_default_to_delayed_and_parse():
    c = parse_config({**VALID, "pool": {}, "markets": [MARKET]})
    (m,) = c.markets
    # No `orders` section: delayed only, 12 s delay, an hour's window.
    assert m.orders.as_tuple() == (12, 3_600, 0, False, 0)
    rules = {"min_delay": 2, "window": 600, "settlement_fee": "1.5", "atomic": True}
    c = parse_config(
        {**VALID, "pool": {}, "markets": [{**MARKET, "orders": {**rules, "deviation": "0.0015"}}]}
    )
    # 1.5 USDC (6 decimals); 0.05 % + 0.1 % fees cover a 0.15 % deviation.
    assert c.markets[0].orders.as_tuple() == (2, 600, 1_500_000, True, 15 * E18 // 10_000)


@pytest.mark.parametrize(
    ("orders", "message"),
    [
        ({"atomic": True, "deviation": "0.005"}, "maker_fee + taker_fee >= deviation"),
        ({"min_delay": 0}, "min_delay must lie in [1, 3600]"),
        ({"window": 7 * 86_400 + 1}, "window must lie in"),
        ({"deviation": "1.5"}, "deviation out of range"),
        ({"atomic": "yes"}, "atomic must be true or false"),
        ({"delay": 5}, "unknown key(s) delay"),
    ],
)
def test_bad_order_rules_are_refused(orders, message):
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "pool": {}, "markets": [{**MARKET, "orders": orders}]})
    assert message in str(err.value)


def test_liquidation_capacity_defaults_on_and_parses():
    c = parse_config({**VALID, "pool": {}, "markets": [MARKET]})
    assert c.liquidation_capacity.as_tuple() == (30, E18)
    raw = {"capacity_window": 60, "capacity_factor": "0.5"}
    c = parse_config({**VALID, "pool": {}, "markets": [MARKET], "liquidation": raw})
    assert c.liquidation_capacity.as_tuple() == (60, E18 // 2)
    for bad, message in [
        ({"capacity_window": 0}, "capacity window range"),
        ({"capacity_factor": "11"}, "capacity_factor out of range"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_config({**VALID, "pool": {}, "markets": [MARKET], "liquidation": bad})
    free = {**MARKET, "maker_fee": "0"}
    with pytest.raises(ConfigError, match="needs a maker fee"):
        parse_config({**VALID, "pool": {}, "markets": [free]})
    off = {"capacity_factor": "0"}
    c = parse_config({**VALID, "pool": {}, "markets": [free], "liquidation": off})
    assert c.liquidation_capacity.factor == 0


def test_lp_request_delay_defaults_to_a_minute_and_is_bounded():
    """docs/orders.md: LP requests settle `request_delay` seconds later; 0
    is an instant vault; more than a week is refused (the contract's
    bound, xmargin.maths.lp_requests.MAX_REQUEST_DELAY)."""
    assert parse_config({**VALID, "pool": {}}).pool.request_delay == 60
    assert parse_config({**VALID, "pool": {"request_delay": 0}}).pool.request_delay == 0
    week = 7 * 86_400
    assert parse_config({**VALID, "pool": {"request_delay": week}}).pool.request_delay == week
    for bad in (week + 1, -1):
        with pytest.raises(ConfigError, match="request_delay"):
            parse_config({**VALID, "pool": {"request_delay": bad}})


def test_every_problem_is_reported_at_once():
    """Issue 21: one ConfigError names every mistake, each at its place."""
    raw = _with(("quote", "address"), "0x1234")
    raw["assets"][0]["colour"] = "red"
    raw["assets"][0]["im_haircut"] = "1.2"
    raw["assets"][0]["feed"]["heartbeat"] = 0
    del raw["assets"][0]["feed"]["min_price"]
    with pytest.raises(ConfigError) as err:
        parse_config(raw, name="mine")
    lines = str(err.value).splitlines()
    assert lines[0] == "mine: 5 problems:"
    assert sorted(lines[1:]) == sorted(
        [
            "  - quote.address: not an address: '0x1234' (quote addresses in YAML)",
            "  - assets[0].im_haircut out of range: must lie in [0, 1]",
            "  - assets[0].feed.heartbeat must lie in [1, 604800]",
            "  - assets[0].feed.min_price is missing",
            "  - assets[0]: unknown key(s) colour",
        ]
    )


def test_missing_keys_of_one_mapping_share_a_line():
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "pool": {}, "markets": [{"symbol": "X-PERP", "asset": "WBTC"}]})
    assert str(err.value) == (
        "config: markets[0]: missing keys imr, mmr, im_size_scalar, mm_size_scalar, "
        "skew_scale, taker_fee, maker_fee, max_oi, max_funding_velocity, max_funding_rate"
    )


def test_rules_across_sections_are_reported_together():
    raw = copy.deepcopy(VALID)
    raw["assets"].append({**raw["assets"][0], "address": "0x" + "11" * 20})
    raw["quote"]["address"] = "0x" + "11" * 20
    raw["markets"] = [{**MARKET, "asset": "USDC"}, MARKET]
    raw["portfolio"] = {
        "groups": {"A": ["WBTC", "DOGE"]},
        "scenarios": [{"name": "x", "moves": {"A": "0.1"}}],
    }
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert str(err.value).splitlines()[1:] == [
        "  - assets[1].symbol: duplicate asset symbol: WBTC (as assets[0].symbol)",
        "  - assets[1].address: duplicate asset address: "
        "0x1111111111111111111111111111111111111111 (as quote.address)",
        "  - markets[1].symbol: duplicate market symbol: BTC-PERP (as markets[0].symbol)",
        # The quote asset has no feed: it cannot price a market.
        "  - markets[0].asset must be one of the configured assets, not 'USDC'",
        "  - markets need a `pool` (the LiquidityPool is their counterparty)",
        "  - portfolio.groups.A: unknown asset 'DOGE'",
        "  - portfolio.groups: no group for USDC",
    ]


def test_a_sections_rules_wait_for_its_fields():
    """Field errors come first: a section's cross-field rules (and the
    rules across sections) run once its fields are valid, so a second run
    may find more."""
    raw = {**VALID, "pool": {}, "markets": [MARKET]}
    both = {"penalty": "0.5", "keeper_share_min": "0.9"}
    with pytest.raises(ConfigError) as err:
        parse_config({**raw, "liquidation": both})
    assert str(err.value) == "config: liquidation.penalty out of range: must lie in [0, 0.1]"
    with pytest.raises(ConfigError) as err:
        parse_config({**raw, "liquidation": {**both, "penalty": "0.05"}})
    assert str(err.value) == "config: liquidation.keeper_share_min above keeper_share_max"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("quote",), _DELETE, "config: the config needs a `quote` asset"),
        (("quote", "symbol"), "  ", "quote.symbol must not be empty"),
        (("quote", "symbol"), True, "quote.symbol must be text (quote it in YAML)"),
        (("assets",), {}, "assets must be a list"),
        (("assets", 0, "feed"), "feed", "assets[0].feed must be a mapping"),
        (("assets", 0, "feed", "price"), "0", "assets[0].feed.price out of range: must be above 0"),
        (("assets", 0, "feed", "price"), "1e5", "price: not a decimal number: '1e5'"),
        (("assets", 0, "feed", "max_price"), "1" + "0" * 19, "lie in (0, 1000000000000000000]"),
        (("assets", 0, "cap"), None, "assets[0].cap is missing"),
        (("guardian",), "0x" + "zz" * 20, "guardian: not an address: '0xzzzz"),
    ],
)
def test_more_refusals_name_the_place(path, value, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_with(path, value))
    assert message in str(err.value)


def test_secondary_feed_rules():
    secondary = {"heartbeat": 60, "max_deviation": "0.01"}
    raw = _with(("assets", 0, "feed", "secondary"), secondary)
    # No price of its own: a mock second feed starts at the primary's.
    (wbtc,) = parse_config(raw).assets
    assert wbtc.feed.secondary.price == wbtc.feed.price
    assert parse_config(raw).mocks == ["USDC token", "WBTC token", "WBTC feed", "WBTC second feed"]
    for change, message in [
        ({"price": "70000"}, "secondary.price: mock second price deviates beyond max_deviation"),
        ({"price": "1"}, "secondary.price must lie strictly between the bounds"),
        ({"max_deviation": "0"}, "secondary.max_deviation out of range: must lie in (0, 1]"),
        ({"heartbeat": 0}, "secondary.heartbeat must lie in [1, 604800]"),
    ]:
        with pytest.raises(ConfigError) as err:
            parse_config(_with(("assets", 0, "feed", "secondary"), {**secondary, **change}))
        assert message in str(err.value)
    same = {**secondary, "address": REAL}
    raw = _with(("assets", 0, "feed", "address"), REAL)
    raw["assets"][0]["feed"]["secondary"] = same
    with pytest.raises(ConfigError, match="the second feed is the primary feed"):
        parse_config(raw)


def test_market_caps_are_all_three_or_none():
    capped = {**MARKET, "reserve_factor": "0.5", "max_pnl_factor": "0.3"}
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "pool": {}, "markets": [capped]})
    assert "markets[0].adl_target_factor is missing: set all three market caps or none" in str(
        err.value
    )
    capped["adl_target_factor"] = "0.4"
    with pytest.raises(ConfigError, match="adl_target_factor out of range"):
        parse_config({**VALID, "pool": {}, "markets": [capped]})
    capped["adl_target_factor"] = "0.2"
    (m,) = parse_config({**VALID, "pool": {}, "markets": [capped]}).markets
    assert m.caps == (E18 // 2, 3 * E18 // 10, E18 // 5)


def test_settlement_fee_has_the_quote_tokens_decimals():
    orders = {"settlement_fee": "0.0000001"}
    with pytest.raises(ConfigError) as err:
        parse_config({**VALID, "pool": {}, "markets": [{**MARKET, "orders": orders}]})
    assert "markets[0].orders.settlement_fee: '0.0000001' has more than 6 decimals" in str(
        err.value
    )


def test_load_config_refuses_what_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match="no deployment config at"):
        load_config(tmp_path / "absent.yaml")
    listed = tmp_path / "listed.yaml"
    listed.write_text("- quote\n- assets\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(listed)


def test_the_portfolio_section_takes_concentration_add_ons_per_group():
    """`concentration:` names groups; a group not named has none; an unknown
    group is refused with its name."""
    from xmargin.chain.config_models import PortfolioIn

    section = {
        "groups": {"ETH": ["WETH"], "USD": ["USDC"]},
        "scenarios": [{"moves": {"ETH": "-0.1"}}],
        "concentration": {"ETH": {"threshold": "1000000", "rate": "0.02"}},
    }
    c = PortfolioIn.model_validate(section).config()
    assert c.params.concentration == ((10**24, 2 * 10**16), (0, 0))
    section["concentration"] = {"SOL": {"threshold": "1", "rate": "0.02"}}
    with pytest.raises(ValueError, match="unknown group"):
        PortfolioIn.model_validate(section)


def test_the_portfolio_section_takes_credits_in_order():
    """`credits:` names two groups (either order) and a rate; pairs keep
    their listed order; an unknown group, a pair of one group, a rate above
    1 or a pair listed twice is refused."""
    from xmargin.chain.config_models import PortfolioIn

    section: dict = {
        "groups": {"ETH": ["WETH"], "BTC": ["WBTC"], "USD": ["USDC"]},
        "scenarios": [{"moves": {"ETH": "-0.1"}}],
        "credits": [
            {"groups": ["BTC", "ETH"], "rate": "0.7"},
            {"groups": ["USD", "ETH"], "rate": "0.1"},
        ],
    }
    c = PortfolioIn.model_validate(section).config()
    assert c.params.credits == ((0, 1, 7 * 10**17), (0, 2, 10**17))
    for bad, match in (
        ([{"groups": ["SOL", "ETH"], "rate": "0.5"}], "unknown group"),
        ([{"groups": ["ETH", "ETH"], "rate": "0.5"}], "two different groups"),
        ([{"groups": ["ETH", "BTC"], "rate": "1.5"}], "must lie in"),
        (
            [{"groups": ["ETH", "BTC"], "rate": "0.5"}, {"groups": ["BTC", "ETH"], "rate": "0.1"}],
            "twice",
        ),
    ):
        section["credits"] = bad
        with pytest.raises(ValueError, match=match):
            PortfolioIn.model_validate(section)
