"""xmargin.maths.portfolio (issue 7) against hand-computed numbers, and its
rounded grid against the exact, term-by-term rational reference. The
contracts are checked against this module in test_portfolio_margin.py.

The examples are the table of docs/portfolio-margin.md. Common ground:

* USDC (quote, 6 decimals), WETH (18 decimals, haircuts IM 20 %, MM 10 %),
  WBTC (8 decimals, IM 15 %, MM 8 %); ETH $3,000, BTC $60,000.
* Perp markets: the standard test market (tests/markets.py) with its size
  add-on off, so linear MM = 5 % and IM = 10 % of notional exactly.
* Risk groups: 0 ETH (WETH), 1 BTC (WBTC), 2 USD (USDC).
* Scenarios (ETH, BTC, USD shocks):
    s0 together up    +10 % +10 %   0
    s1 together down  -10 % -10 %   0
    s2 ETH up/BTC dn   +4 %  -4 %   0
    s3 ETH dn/BTC up   -4 %  +4 %   0
    s4 USDC de-peg       0     0   -5 %
* Floor: 0.5 % of gross notional, at least $50 per open position; IM factor 1.5.

A group's exposure V_g is the net perp size times the price plus the
collateral at its price after the MM haircut; a scenario's P&L is
sum_g shock_g * V_g.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.portfolio_config import (
    ASSETS,
    BTC_PERP,
    CONFIG,
    DEPEG,
    E18,
    ETH_PERP,
    GROUPS,
    PARAMS,
    PCT,
    PRICES,
    TOGETHER,
    USD,
    USDC,
)
from tests.unit.test_charts import brute_force_liquidation_price
from xmargin.maths import account as acct
from xmargin.maths import fixed_point, perps
from xmargin.maths import portfolio as pm
from xmargin.maths.model import AssetParams


def pm_position(asset: str, size: int, market: perps.MarketParams = ETH_PERP) -> acct.Exposure:
    price = PRICES[asset]
    return acct.Exposure(f"{asset}-PERP", asset, perps.Position(size, price, 0), market, 0)


def pm_account(balances: dict[str, int], *positions: acct.Exposure) -> acct.Account:
    return acct.Account(balances, ASSETS, "USDC", PRICES, tuple(positions))


def both(account: acct.Account, config: pm.PortfolioConfig = CONFIG):
    """(portfolio margin, linear health), checking the grid against the exact
    reference (the examples are exact: no rounding to absorb)."""
    m = acct.portfolio_margin(account, config)
    assert list(m.pnls) == acct.exact_scenario_pnls(account, config.groups, config.scenarios)
    return m, account.health()


# ---------------------------------------------------------------- hand-computed examples


def test_hedged_eth_collateral_with_short_perp():
    # 10 WETH collateral (value 30,000, after the 10 % MM haircut 27,000),
    # short 10 ETH-PERP (-30,000): V_ETH = 27,000 - 30,000 = -3,000.
    # s0 -300, s1 +300, s2 -120, s3 +120, s4 0: worst loss 300 (s0, ETH up).
    # floor = max(0.5 % * 30,000 = 150, 1 * 50) = 150 -> MM = 300.
    # IM = 1.5 * 300 + haircut gap (27,000 - 24,000 = 3,000) = 3,450.
    # Linear: MM = 5 % * 30,000 = 1,500; IM = 10 % * 30,000 + 3,000 = 6,000.
    m, linear = both(pm_account({"WETH": 10 * E18}, pm_position("WETH", -10 * E18)))
    assert m.pnls == (-300 * USD, 300 * USD, -120 * USD, 120 * USD, 0)
    assert (m.worst_loss, m.worst_scenario, m.floor) == (300 * USD, 0, 150 * USD)
    assert (m.mm, m.im, m.addon) == (300 * USD, 3_450 * USD, 3_000 * USD)
    assert (linear.mm, linear.im) == (1_500 * USD, 6_000 * USD)
    # equity is the linear engine's: 27,000 (WETH at its MM haircut)
    h = acct.portfolio_health(
        pm_account({"WETH": 10 * E18}, pm_position("WETH", -10 * E18)), CONFIG
    )
    assert (h.equity, h.im, h.mm) == (27_000 * USD, 3_450 * USD, 300 * USD)


def test_naked_short_gets_no_hedge_credit():
    # 10,000 USDC, short 10 ETH-PERP: V_ETH = -30,000, V_USD = +10,000.
    # s0 -3,000, s1 +3,000, s2 -1,200, s3 +1,200, s4 -500 (de-peg of the USDC).
    # worst 3,000 (s0) -> MM = 3,000, IM = 4,500 (no collateral haircut gap).
    # Linear: MM 1,500, IM 3,000: a 10 % scenario move costs more than a 5 % MMR.
    m, linear = both(pm_account({"USDC": 10_000 * USDC}, pm_position("WETH", -10 * E18)))
    assert m.pnls == (-3_000 * USD, 3_000 * USD, -1_200 * USD, 1_200 * USD, -500 * USD)
    assert (m.worst_scenario, m.mm, m.im) == (0, 3_000 * USD, 4_500 * USD)
    assert (linear.mm, linear.im) == (1_500 * USD, 3_000 * USD)


def test_btc_eth_spread_together_and_apart():
    # 10,000 USDC, long 0.5 BTC-PERP (+30,000), short 10 ETH-PERP (-30,000).
    # V_ETH = -30,000, V_BTC = +30,000, V_USD = +10,000.
    # s0, s1 (together): 0. s2: -1,200 - 1,200 = -2,400. s3: +2,400. s4: -500.
    # worst 2,400 (s2); floor = max(0.5 % * 60,000 = 300, 2 * 50) = 300.
    # MM = 2,400, IM = 3,600. Linear: MM 1,500 + 1,500 = 3,000, IM 6,000.
    account = pm_account(
        {"USDC": 10_000 * USDC},
        pm_position("WBTC", E18 // 2, BTC_PERP),
        pm_position("WETH", -10 * E18),
    )
    m, linear = both(account)
    assert m.pnls == (0, 0, -2_400 * USD, 2_400 * USD, -500 * USD)
    assert (m.worst_scenario, m.floor, m.mm, m.im) == (2, 300 * USD, 2_400 * USD, 3_600 * USD)
    assert (linear.mm, linear.im) == (3_000 * USD, 6_000 * USD)

    # With scenarios where ETH and BTC only move together, the spread is
    # hedged: the worst is the de-peg, 500; MM = max(500, 300) = 500, IM 750.
    together = pm.PortfolioConfig(GROUPS, pm.ScenarioSet(TOGETHER + DEPEG), PARAMS)
    m, _ = both(account, together)
    assert m.pnls == (0, 0, -500 * USD)
    assert (m.worst_scenario, m.mm, m.im) == (2, 500 * USD, 750 * USD)


def test_stablecoin_depeg_is_the_worst_scenario():
    # 20,000 USDC, long 2 ETH-PERP (+6,000): V_ETH = 6,000, V_USD = 20,000.
    # s0 +600, s1 -600, s2 +240, s3 -240, s4 -1,000 (5 % of 20,000 USDC).
    # floor = max(0.5 % * 6,000 = 30, 50) = 50. MM = 1,000, IM = 1,500.
    # Linear: MM 300, IM 600; it does not see the de-peg.
    m, linear = both(pm_account({"USDC": 20_000 * USDC}, pm_position("WETH", 2 * E18)))
    assert m.pnls == (600 * USD, -600 * USD, 240 * USD, -240 * USD, -1_000 * USD)
    assert (m.worst_scenario, m.floor, m.mm, m.im) == (4, 50 * USD, 1_000 * USD, 1_500 * USD)
    assert (linear.mm, linear.im) == (300 * USD, 600 * USD)


def test_floor_binds_on_a_haircut_neutral_hedge():
    # 10 WETH (27,000 after haircut), short 9 ETH-PERP (-27,000): V_ETH = 0,
    # every scenario P&L 0. floor = max(0.5 % * 27,000 = 135, 50) = 135.
    # MM = 135, IM = 202.5 + 3,000 = 3,202.5. Linear: MM 1,350, IM 5,700.
    m, linear = both(pm_account({"WETH": 10 * E18}, pm_position("WETH", -9 * E18)))
    assert m.pnls == (0,) * 5
    assert (m.worst_loss, m.worst_scenario) == (0, None)
    assert (m.floor, m.mm, m.im) == (135 * USD, 135 * USD, 3_202_500 * USD // 1_000)
    assert (linear.mm, linear.im) == (1_350 * USD, 5_700 * USD)


def test_per_position_minimum_binds_on_a_small_hedge():
    # 1 WETH, short 0.9 ETH-PERP: V_ETH = 2,700 - 2,700 = 0; 0.5 % * 2,700 =
    # 13.5 < 50: MM = 50, IM = 75 + 300 = 375. Linear MM = 135, IM = 270 + 300.
    m, linear = both(pm_account({"WETH": E18}, pm_position("WETH", -9 * E18 // 10)))
    assert (m.floor, m.mm, m.im) == (50 * USD, 50 * USD, 375 * USD)
    assert (linear.mm, linear.im) == (135 * USD, 570 * USD)


def test_rounding_is_against_the_account():
    # A 1-wei long ETH-PERP at $3,000.000000000000000001 is worth
    # 3,000.000000000000000001 wei of USD: 3,000 rounded down, 3,001 up.
    # A +10 % shock uses the lower bound, floored (300); a -10 % one the
    # upper bound, floored (-300.1 -> -301): both against the account.
    prices = {**PRICES, "WETH": 3_000 * E18 + 1}
    account = acct.Account({}, ASSETS, "USDC", prices, (pm_position("WETH", 1),))
    config = pm.PortfolioConfig(GROUPS, pm.ScenarioSet(TOGETHER), PARAMS)
    m = acct.portfolio_margin(account, config)
    assert m.pnls == (300, -301)
    # gross notional rounds up too: ceil(3,000.000000000000000001e-18 USD) = 3,001 wei
    assert m.gross_notional == 3_001


def test_config_is_validated():
    with pytest.raises(ValueError, match="between 1 and 32 scenarios"):
        pm.ScenarioSet(tuple(pm.Scenario(str(i), (0,)) for i in range(33)))
    with pytest.raises(ValueError, match="one shock per risk group"):
        pm.ScenarioSet((pm.Scenario("a", (0,)), pm.Scenario("b", (0, 0))))
    with pytest.raises(ValueError, match="outside"):
        pm.ScenarioSet((pm.Scenario("a", (-E18 - 1,)),))
    with pytest.raises(ValueError, match="im_factor"):
        pm.PortfolioParams(0, 0, E18 - 1)
    with pytest.raises(ValueError, match="shock 1 groups"):
        pm.PortfolioConfig(GROUPS, pm.ScenarioSet((pm.Scenario("a", (0,)),)), PARAMS)
    with pytest.raises(ValueError, match="no risk group"):
        acct.group_exposure(
            acct.Account({"LINK": 1}, {**ASSETS, "LINK": AssetParams(18)}, "USDC", {"LINK": E18}),
            GROUPS,
        )


# ---------------------------------------------------------------- properties

MARKETS = (("ETH-PERP", "WETH"), ("ETH-QUARTERLY", "WETH"), ("BTC-PERP", "WBTC"))
# awkward haircuts and decimals so every rounding path is exercised
ODD_ASSETS = {
    "USDC": AssetParams(6),
    "WETH": AssetParams(18, im_haircut=173 * E18 // 1_000, mm_haircut=73 * E18 // 1_000),
    "WBTC": AssetParams(8, im_haircut=E18 // 7, mm_haircut=E18 // 13),
}
pm_shock = st.integers(-E18, 2 * E18)
pm_scenarios = st.lists(st.tuples(pm_shock, pm_shock, pm_shock), min_size=1, max_size=6).map(
    lambda rows: pm.ScenarioSet(tuple(pm.Scenario(f"s{i}", r) for i, r in enumerate(rows)))
)
pm_params = st.builds(
    pm.PortfolioParams,
    floor_fraction=st.integers(0, E18 // 10),
    min_per_position=st.integers(0, 100 * USD),
    im_factor=st.integers(E18, 3 * E18),
)
pm_actions = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.integers(0, 2), st.integers(-50 * E18, 50 * E18)),
        st.tuples(
            st.just("collateral"),
            st.sampled_from(("USDC", "WETH", "WBTC")),
            st.integers(-(10**24), 10**24),
        ),
        st.tuples(st.just("price"), st.sampled_from(("WETH", "WBTC")), st.integers(10**12, 10**24)),
    ),  # fmt: skip
    max_size=25,
)


@given(actions=pm_actions, scenarios=pm_scenarios, params=pm_params)
def test_grid_is_the_exact_pnl_rounded_against_the_account(actions, scenarios, params):
    """After any sequence of trades (two markets on WETH), deposits and
    withdrawals (the quote may go negative) and price moves: every scenario
    P&L of the grid is at most the exact one, and short of it by less than
    the rounding of one wei per term and group; MM never falls below the
    floor, nor IM below MM."""
    config = pm.PortfolioConfig(GROUPS, scenarios, params)
    sizes = {m: 0 for m, _ in MARKETS}
    balances: dict[str, int] = {}
    prices = dict(PRICES)
    for kind, key, value in actions:
        if kind == "trade":
            sizes[MARKETS[key][0]] += value
        elif kind == "collateral":
            native = value // ODD_ASSETS[key].precision
            if key != "USDC":
                native = max(native, -balances.get(key, 0))  # no negative collateral
            balances[key] = balances.get(key, 0) + native
        else:
            prices[key] = value
        positions = tuple(
            acct.Exposure(m, a, perps.Position(sizes[m], prices[a], 0), ETH_PERP, 0)
            for m, a in MARKETS
            if sizes[m]
        )
        account = acct.Account(balances, ODD_ASSETS, "USDC", prices, positions)
        got = acct.portfolio_margin(account, config)
        exact = acct.exact_scenario_pnls(account, GROUPS, scenarios)
        terms = len(positions) + sum(1 for v in balances.values() if v)
        for pnl, ref, s in zip(got.pnls, exact, scenarios.scenarios, strict=True):
            assert pnl <= ref
            # per term: one wei of V bound, times |shock| <= 2; one more per group floor
            slack = sum(2 * terms * abs(x) // E18 + 2 for x in s.shocks)
            assert ref - pnl <= slack
        assert got.gross_notional == sum(
            fixed_point.mul_div_up(abs(e.position.size), prices[e.asset], E18) for e in positions
        )
        assert got.mm >= got.floor >= len(positions) * params.min_per_position
        assert got.mm >= got.worst_loss >= 0
        assert got.im >= got.mm


@given(
    weth=st.integers(E18, 1_000 * E18),
    price=st.integers(100 * E18, 10_000 * E18),
    mm_haircut=st.integers(0, 30 * PCT),
    scenarios=st.lists(st.tuples(st.integers(-E18, E18)), min_size=1, max_size=6),
    floor_fraction=st.integers(0, 5 * PCT - 1),
    im_factor=st.integers(E18, 2 * E18),
)
def test_hedged_portfolio_needs_no_more_than_linear(
    weth, price, mm_haircut, scenarios, floor_fraction, im_factor
):
    """WETH collateral with a short ETH perp of its haircut value (delta
    neutral as equity counts it): portfolio MM <= linear MM and IM <= linear IM.

    Preconditions, each a real limit: the floor fraction below the market's
    5 % MMR, the per-position minimum ($1) below the linear MM of the
    position (notional >= $70 here), and the IM factor at most IMR / MMR = 2."""
    assets = {"USDC": AssetParams(6), "WETH": AssetParams(18, mm_haircut, mm_haircut)}
    groups = pm.RiskGroups(("ETH",), {"WETH": 0, "USDC": 0})
    config = pm.PortfolioConfig(
        groups,
        pm.ScenarioSet(tuple(pm.Scenario(str(i), s) for i, s in enumerate(scenarios))),
        pm.PortfolioParams(floor_fraction, USD, im_factor),
    )
    short = -(weth * (E18 - mm_haircut) // E18)
    account = acct.Account(
        {"WETH": weth},
        assets,
        "USDC",
        {"WETH": price},
        (acct.Exposure("ETH-PERP", "WETH", perps.Position(short, price, 0), ETH_PERP, 0),),
    )
    m = acct.portfolio_margin(account, config)
    linear = account.health()
    assert m.floor <= m.mm <= linear.mm
    assert m.im <= linear.im
    # the residual exposure is rounding only: at most a few thousand wei of loss
    assert m.worst_loss <= 2 * price // E18 + 2


@given(
    weth=st.integers(0, 100 * E18),
    wbtc=st.integers(0, 10 * 10**8),
    usdc=st.integers(-(10**11), 10**11),
    eth_size=st.integers(-50 * E18, 50 * E18),
    btc_size=st.integers(-5 * E18, 5 * E18),
    eth_shock=st.integers(-E18, E18),
    btc_shock=st.integers(-E18, E18),
)
def test_scenario_loss_bounds_the_equity_change(
    weth, wbtc, usdc, eth_size, btc_size, eth_shock, btc_shock
):
    """Why collateral counts after its MM haircut: a scenario's P&L is the
    change of the engine's own equity (model.account_health) when the prices
    move by its shocks, to a few wei of the model's rounding at the moved price."""
    positions = tuple(
        pm_position(a, s, ETH_PERP if a == "WETH" else BTC_PERP)
        for a, s in (("WETH", eth_size), ("WBTC", btc_size))
        if s
    )
    account = pm_account({"USDC": usdc, "WETH": weth, "WBTC": wbtc}, *positions)
    scenario = pm.ScenarioSet((pm.Scenario("s", (eth_shock, btc_shock, 0)),))
    config = pm.PortfolioConfig(GROUPS, scenario, PARAMS)
    (pnl,) = acct.portfolio_margin(account, config).pnls
    moved = {
        "WETH": PRICES["WETH"] * (E18 + eth_shock) // E18,
        "WBTC": PRICES["WBTC"] * (E18 + btc_shock) // E18,
    }
    change = account.health(moved).equity - account.health().equity
    # here the moved prices are exact; the model floors each value once more
    assert pnl <= change + 4
    assert change <= pnl + 4


def test_charts_and_liquidation_prices_follow_portfolio_margin():
    """An Account carrying the scenario set answers health, and so the
    charts' curves and liquidation prices, with portfolio margin.

    10 WETH against short 10 ETH entered at $3,000, no USDC: at price P,
    equity = 9 P - 10 (P - 3,000) = 30,000 - P and V_ETH = -P, so "together
    up" loses 0.1 P, more than the floor (0.05 P): liquidatable once
    30,000 - P < 0.1 P, above P = 30,000 / 1.1 = 27,272.72... Linear MM
    (5 % of 10 P) puts it above 30,000 / 1.5 = 20,000."""
    from xmargin.maths import scenarios

    book = pm_account({"WETH": 10 * E18}, pm_position("WETH", -10 * E18))
    linear = scenarios.liquidation_price(book, "WETH")
    assert linear == 20_000 * E18
    margin = replace(book, margin=CONFIG)
    assert margin.health() == acct.portfolio_health(book, CONFIG)
    price = scenarios.liquidation_price(margin, "WETH")
    assert price == 30_000 * E18 * 10 // 11
    assert not margin.health({"WETH": price}).liquidatable
    assert margin.health({"WETH": price + 1}).liquidatable
    # Issue 23, point 7: a walk up the price (no bisection) finds the same
    # boundary. The lens's closed form is linear: its mirror gives none for a
    # portfolio account; the lens bisects those to the price / 1e9 instead
    # (tests/unit/test_portfolio_margin.py), which readers accept as agreeing.
    assert brute_force_liquidation_price(margin, "WETH", up=True) == price
    assert scenarios.lens_liquidation_price(margin, "WETH") == 0
    step = price // 10**9
    assert scenarios.lens_agrees(price, price - step - 1)
    assert not scenarios.lens_agrees(price, price + 2 * step)
    assert scenarios.lens_agrees(0, 0) and not scenarios.lens_agrees(0, price)
    assert scenarios.lens_liquidation_price(book, "WETH") == linear
