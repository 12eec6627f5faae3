"""The portfolio-margin configuration of the hand-computed examples
(docs/portfolio-margin.md), shared by the model tests and the contract tests.

USDC (quote, 6 decimals), WETH (18 decimals, haircuts IM 20 %, MM 10 %),
WBTC (8 decimals, IM 15 %, MM 8 %); ETH $3,000, BTC $60,000. Perps: the
standard test market with its size add-on off (MM 5 %, IM 10 % of notional).
Risk groups 0 ETH, 1 BTC, 2 USD; five scenarios (ETH, BTC, USD shocks):
together up/down +-10 %, apart +-4 %, USDC de-peg -5 %. Floor 0.5 % of gross
notional and $50 per open position; IM factor 1.5.
"""

from __future__ import annotations

from dataclasses import replace

from tests.markets import ETH_MARKET
from xmargin.maths import portfolio as pm
from xmargin.maths.model import AssetParams

E18 = 10**18
USD = E18  # one WAD US dollar
USDC = 10**6
PCT = E18 // 100

ASSETS = {
    "USDC": AssetParams(6),
    "WETH": AssetParams(18, im_haircut=20 * PCT, mm_haircut=10 * PCT),
    "WBTC": AssetParams(8, im_haircut=15 * PCT, mm_haircut=8 * PCT),
}
PRICES = {"WETH": 3_000 * E18, "WBTC": 60_000 * E18}
ETH_PERP = replace(ETH_MARKET, asset="WETH", im_size_scalar=0, mm_size_scalar=0)
BTC_PERP = replace(ETH_PERP, asset="WBTC")
GROUPS = pm.RiskGroups(("ETH", "BTC", "USD"), {"WETH": 0, "WBTC": 1, "USDC": 2})
TOGETHER = (
    pm.Scenario("together up", (10 * PCT, 10 * PCT, 0)),
    pm.Scenario("together down", (-10 * PCT, -10 * PCT, 0)),
)
APART = (
    pm.Scenario("ETH up, BTC down", (4 * PCT, -4 * PCT, 0)),
    pm.Scenario("ETH down, BTC up", (-4 * PCT, 4 * PCT, 0)),
)
DEPEG = (pm.Scenario("USDC de-peg", (0, 0, -5 * PCT)),)
PARAMS = pm.PortfolioParams(
    floor_fraction=E18 // 200, min_per_position=50 * USD, im_factor=3 * E18 // 2
)
CONFIG = pm.PortfolioConfig(GROUPS, pm.ScenarioSet(TOGETHER + APART + DEPEG), PARAMS)


def deploy_risk(project, owner, config: pm.PortfolioConfig = CONFIG):
    """A PortfolioRisk holding `config`'s scenarios and params."""
    return owner.deploy(project.PortfolioRisk, *pm.risk_set_args(config))
