"""One account as the engine sees it at one block, and its health.

`Account` holds everything an account's health depends on, as model
inputs: balances (the quote's may be negative), the listed assets, prices,
open positions and, for an account in portfolio margin mode, the scenario
set. `Account.health()` is the one place that chooses between linear margin
(`xmargin.maths.model.account_health`) and portfolio margin (the risk set's
`requirement` over the account's `group_exposure`), exactly as the engine's
`health._account_health` does. The chain layer builds one from what it
reads (`xmargin.chain.engine.read_account`), the test world from what it
predicts; what-if curves (`xmargin.maths.scenarios`) reprice one.

The functions below read an account for portfolio margin: the exposure the
engine sums (contracts/modules/portfolio.vy `portfolio_exposure`), the
requirement and health it leads to, the order the engine liquidates
positions in, and an exact rational reference (docs/portfolio-margin.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

from xmargin.maths.fixed_point import WAD, ceil_div, div_trunc, floor_div, mul_div_up
from xmargin.maths.model import (
    AssetParams,
    Health,
    account_health,
    token_value,
    weighted,
    worthless,
)
from xmargin.maths.perps import MarketParams, Position, PositionRisk, risk
from xmargin.maths.portfolio import (
    MAX_GROUPS,
    GroupExposure,
    PortfolioConfig,
    PortfolioMargin,
    RiskGroups,
    ScenarioSet,
    requirement,
    worst_scenario,
)


@dataclass(frozen=True)
class Exposure:
    """One open position and the asset its market is priced from."""

    market: str
    asset: str
    position: Position
    params: MarketParams
    # funding index as of now
    index: int
    # the part of `index` accrued since the market's last touch, at the
    # price `accrued_at` (0: it does not move): the next touch books it at
    # that touch's price, so the grid and the what-if prices move it with
    # the price (`accrued_when`)
    accrued: int = 0
    accrued_at: int = 0

    def __post_init__(self) -> None:
        if not self.accrued:
            # nothing to move: one form, whatever price it was read at
            object.__setattr__(self, "accrued_at", 0)

    def accrued_when(self, price: int) -> int:
        """The funding per unit accrued since the market's last touch with
        the asset at `price` (the engine's index at that price, to a wei)."""
        if not self.accrued_at or price == self.accrued_at:
            return self.accrued
        return div_trunc(self.accrued * price, self.accrued_at)

    def index_when(self, price: int) -> int:
        """The funding index with the asset at `price`."""
        return self.index - self.accrued + self.accrued_when(price)


@dataclass(frozen=True)
class Account:
    """Everything an account's health depends on, as model inputs.

    `prices` holds the WAD USD price of every asset the account holds
    (besides the quote) or trades a market on.
    """

    balances: Mapping[str, int]
    assets: Mapping[str, AssetParams]
    quote: str
    prices: Mapping[str, int]
    exposures: tuple[Exposure, ...] = ()
    # set for an account in portfolio margin mode: its IM and MM come from
    # the scenario set (xmargin.maths.portfolio), its equity stays the linear one
    margin: PortfolioConfig | None = None

    def health(self, prices: Mapping[str, int] | None = None) -> Health:
        """(equity, IM, MM) at `prices` (default: the prices read), in the
        account's margin mode: the engine's `account_health`."""
        if self.margin is not None:
            moved = replace(self, prices={**self.prices, **(prices or {})})
            return portfolio_health(moved, self.margin)
        return self.linear_health(prices)

    def linear_health(self, prices: Mapping[str, int] | None = None) -> Health:
        """(equity, IM, MM) in linear margin, whatever the account's mode (a
        portfolio account's equity is this one's)."""
        at = {**self.prices, **prices} if prices else self.prices
        pnl = funding = notional = im = mm = 0
        for e in self.exposures:
            r = risk(e.position, e.params, at[e.asset], e.index_when(at[e.asset]))
            pnl += r.pnl
            funding += r.funding
            notional += r.notional
            im += r.im
            mm += r.mm
        total = PositionRisk(pnl, funding, notional, im, mm)
        return account_health(self.balances, self.assets, at, self.quote, positions=total)

    def underlyings(self) -> tuple[str, ...]:
        """Assets whose price moves this account's health: traded ones first,
        then collateral, each once."""
        traded = [e.asset for e in self.exposures]
        held = [s for s, amount in self.balances.items() if amount and s != self.quote]
        return tuple(dict.fromkeys([*traded, *held]))

    def holds(self, asset: str) -> bool:
        return self.balances.get(asset, 0) > 0

    def markets_on(self, asset: str) -> tuple[Exposure, ...]:
        return tuple(e for e in self.exposures if e.asset == asset)


# ---------------------------------------------------------------- the engine's exposure


def group_exposure(account: Account, groups: RiskGroups) -> GroupExposure:
    """V_g bounds, gross notional and the position count, as the engine sums
    them: the quote at its peg, each collateral after its MM haircut (down:
    the equity's own figure; up: both steps rounded up), each position's
    size * (price - funding accrued since its market's last touch) floored
    and ceiled."""
    lo = [0] * MAX_GROUPS
    hi = [0] * MAX_GROUPS
    addon = 0
    for asset, balance in account.balances.items():
        if not balance:
            continue
        params = account.assets[asset]
        g = groups.of(asset)
        if asset == account.quote:
            lo[g] += balance * params.precision
            hi[g] += balance * params.precision
            continue
        if balance < 0:
            raise ValueError(f"non-quote balance of {asset} is negative")
        if worthless(params):
            continue
        price = account.prices[asset]
        value = token_value(balance, params, price)
        weighted_mm = weighted(value, params.mm_haircut)
        addon += weighted_mm - weighted(value, params.im_haircut)
        lo[g] += weighted_mm
        hi[g] += mul_div_up(
            mul_div_up(balance * params.precision, price, WAD), WAD - params.mm_haircut, WAD
        )
    gross = 0
    count = 0
    for e in account.exposures:
        if not e.position.size:
            continue
        price = account.prices[e.asset]
        g = groups.of(e.asset)
        # the funding accrued since the market's last touch moves with the price
        accrued = e.accrued_when(price)
        lo[g] += floor_div(e.position.size * (price - accrued), WAD)
        hi[g] += ceil_div(e.position.size * (price - accrued), WAD)
        gross += mul_div_up(abs(e.position.size), price, WAD)
        count += 1
    return GroupExposure(
        equity=account.linear_health().equity,
        addon=addon,
        lo=tuple(lo),
        hi=tuple(hi),
        gross_notional=gross,
        open_positions=count,
    )


def portfolio_margin(account: Account, config: PortfolioConfig) -> PortfolioMargin:
    """(MM, IM) of an account in portfolio mode, as the engine computes them."""
    return requirement(group_exposure(account, config.groups), config)


def portfolio_health(account: Account, config: PortfolioConfig) -> Health:
    """(equity, IM, MM) in portfolio mode: the engine's `account_health` for a
    portfolio-mode account."""
    x = group_exposure(account, config.groups)
    m = requirement(x, config)
    return Health(equity=x.equity, im=m.im, mm=m.mm)


# ---------------------------------------------------------------- liquidation order


def close_contributions(account: Account, config: PortfolioConfig) -> dict[str, int]:
    """Each open position's P&L in the worst scenario, unscaled (shock * the
    floored position value less its accrued funding, WAD^2 USD), by market
    name."""
    x = group_exposure(account, config.groups)
    row = config.scenarios.scenarios[worst_scenario(x, config.scenarios)].shocks
    return {
        e.market: row[config.groups.of(e.asset)]
        * floor_div(
            e.position.size * (account.prices[e.asset] - e.accrued_when(account.prices[e.asset])),
            WAD,
        )
        for e in account.exposures
        if e.position.size
    }


def liquidation_order(account: Account, config: PortfolioConfig) -> list[str]:
    """The markets a portfolio account may be liquidated in, in the engine's
    order: greedy on the worst scenario, the positions losing most in it
    first. The engine accepts any market whose contribution equals the
    lowest (`liquidate` refuses the others); this lists them all, lowest
    contribution first, ties in market order."""
    c = close_contributions(account, config)
    return sorted(c, key=lambda m: c[m])


# ---------------------------------------------------------------- exact reference


def exact_scenario_pnls(
    account: Account, groups: RiskGroups, scenarios: ScenarioSet
) -> list[Fraction]:
    """Every scenario's P&L recomputed from scratch, term by term, in exact
    rationals (no rounding at all): what `grid_pnls` approximates from below.
    Each position and each collateral balance is repriced in each scenario."""
    out = []
    for s in scenarios.scenarios:
        pnl = Fraction(0)
        for asset, balance in account.balances.items():
            if not balance:
                continue
            shock = Fraction(s.shocks[groups.of(asset)], WAD)
            params = account.assets[asset]
            if asset == account.quote:
                pnl += shock * balance * params.precision
                continue
            if worthless(params):
                continue
            value = Fraction(balance * params.precision * account.prices[asset], WAD)
            pnl += shock * value * Fraction(WAD - params.mm_haircut, WAD)
        for e in account.exposures:
            shock = Fraction(s.shocks[groups.of(e.asset)], WAD)
            pnl += shock * Fraction(e.position.size * account.prices[e.asset], WAD)
        out.append(pnl)
    return out
