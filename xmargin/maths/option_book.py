"""An account's option positions inside the model (issue 23): their part
of its health in linear mode (each position's own margin, the book's
`position_risk`) and in portfolio mode (every position repriced over the
price x volatility grid, the desk's `portfolio_risk`), what a portfolio
liquidation frees by closing each, and the same at another price of an
underlying (what-if curves and charts). Pure: the positions come read
(`xmargin.chain.options.read_option_positions`), each with the Black-76
inputs it was valued with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from xmargin.maths import black76 as b76
from xmargin.maths import options as om
from xmargin.maths import portfolio as pm
from xmargin.maths.account import Account, group_exposure
from xmargin.maths.model import Health


@dataclass(frozen=True)
class OptionView:
    """One option position of an account, valued as the engine values it
    (`xmargin.maths.options`, to the wei), with its greeks (sizes
    applied; None once expired)."""

    series_id: int
    asset: str
    strike: int
    expiry: int
    is_call: bool
    size: int
    risk: om.OptionRisk
    greeks: b76.Greeks | None
    # the Black-76 inputs read with it: the underlying's price (0 once
    # settled), volatility and seconds left (0 from expiry on), and the
    # settlement price (0 until recorded)
    price: int = 0
    sigma: int = 0
    tau: int = 0
    settled: int = 0
    # the underlying's short-option rule (to reprice it at another price)
    params: om.MarginParams | None = None


def with_options(h: Health, held: tuple[OptionView, ...]) -> Health:
    """An account's health with its option positions added, as the engine
    adds the desk's `account_risk` (in either margin mode)."""
    return Health(
        h.equity + sum(o.risk.value for o in held),
        h.im + sum(o.risk.im for o in held),
        h.mm + sum(o.risk.mm for o in held),
    )


def _grid(
    config: pm.PortfolioConfig, held: tuple[OptionView, ...], symbols: Mapping[str, str]
) -> tuple[list[tuple[int, om.ScenarioRisk]], list[list[int]]]:
    """Every position repriced in each scenario, in held order, with its
    underlying's risk group, and the P&Ls summed per group and scenario."""
    scenarios = config.scenarios.scenarios
    vol_moves = [s.vol_shock for s in scenarios]
    total = [[0] * len(scenarios) for _ in range(config.scenarios.groups)]
    each = []
    for o in held:
        # An asset the owner put in no group is in group 0 (the engine's
        # `risk_group` default), listed or not.
        group = config.groups.members.get(symbols.get(o.asset, o.asset), 0)
        r = om.scenario_risk(
            o.price,
            o.strike,
            o.is_call,
            o.sigma,
            o.tau,
            o.size,
            [s.shocks[group] for s in scenarios],
            vol_moves,
            o.settled,
        )
        total[group] = [a + b for a, b in zip(total[group], r.pnls, strict=True)]
        each.append((group, r))
    return each, total


def mm_without_each(
    x: pm.GroupExposure,
    config: pm.PortfolioConfig,
    held: tuple[OptionView, ...],
    symbols: Mapping[str, str],
) -> list[int]:
    """A portfolio account's MM with each held position left out in turn
    (held order), over the same grid: the account's MM less it is what
    `liquidate_options` frees by closing that position in portfolio mode."""
    each, total = _grid(config, held, symbols)
    short = sum(r.short_notional for _, r in each)
    return [
        pm.requirement(
            x,
            config,
            [
                [a - b for a, b in zip(row, r.pnls, strict=True)] if g == group else row
                for g, row in enumerate(total)
            ],
            short - r.short_notional,
            len(held) - 1,
        ).mm
        for group, r in each
    ]


def portfolio_with_options(
    x: pm.GroupExposure,
    config: pm.PortfolioConfig,
    held: tuple[OptionView, ...],
    symbols: Mapping[str, str],
) -> tuple[Health, pm.PortfolioMargin]:
    """A portfolio-mode account's health with its options in the grid, as
    the desk's `portfolio_risk` computes it: each position repriced in
    every scenario (its underlying moved by its risk group's shock, its
    volatility by the scenario's volatility move), the P&Ls added to the
    perps' and collateral's per scenario; `x` is the account's
    `group_exposure`, `symbols` token address -> asset symbol (the
    underlying's risk group is its symbol's)."""
    each, total = _grid(config, held, symbols)
    short = sum(r.short_notional for _, r in each)
    margin = pm.requirement(x, config, total, short, len(held))
    return Health(x.equity + sum(r.value for _, r in each), margin.im, margin.mm), margin


def _at(o: OptionView, symbols: Mapping[str, str], prices: Mapping[str, int]) -> OptionView:
    """`o` with its underlying at `prices` (by symbol), when it moves and
    the series is not settled: its Black-76 price input and linear risk
    recomputed (same volatility, same time left)."""
    new = prices.get(symbols.get(o.asset, o.asset))
    if new is None or o.settled:
        return o
    if o.params is None:
        raise ValueError(f"series {o.series_id} was read without its margin rule")
    if o.tau:
        risk = om.linear_risk(new, o.strike, o.is_call, o.sigma, o.tau, o.size, o.params)
    else:
        risk = om.unsettled_risk(new, o.strike, o.is_call, o.size, o.params)
    return replace(o, price=new, risk=risk, greeks=None)


def account_health(
    account: Account,
    held: tuple[OptionView, ...],
    symbols: Mapping[str, str],
    prices: Mapping[str, int] | None = None,
) -> Health:
    """The engine's `account_health` of an account holding `held`, at
    `prices` (symbol -> WAD USD; default: as read), in its margin mode:
    linear, the account's own health plus each option's risk; portfolio,
    the whole book over the grid. `symbols`: token address -> symbol."""
    moved = dict(prices or {})
    views = tuple(_at(o, symbols, moved) for o in held)
    if account.margin is None:
        return with_options(account.health(moved), views)
    at = replace(account, prices={**account.prices, **moved})
    h, _ = portfolio_with_options(
        group_exposure(at, account.margin.groups), account.margin, views, symbols
    )
    return h
