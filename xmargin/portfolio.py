"""Scenario-grid portfolio margin (issue 7, slice 1): the maths, in pure integers.

No contract implements this yet; this module is the specification the
contracts will mirror to the wei, the way `xmargin.model` mirrors the linear
engine (docs/portfolio-margin.md).

The model in one paragraph. Every asset belongs to one risk group (ETH-like,
BTC-like, stablecoins, ...). The owner configures up to 32 scenarios, each a
vector of relative price shocks, one per group (a WAD fraction, -0.30e18 =
-30 %). The account's P&L in a scenario is the change of its equity when
every asset of group g moves by shock[g]:

    pnl_s = sum_g shock[g, s] * V_g
    V_g   = sum_{a in g} ( net perp size on a * price_a              )
                         ( + collateral a at price_a after MM haircut )

so a perp and collateral in the same group offset (10 WETH collateral
against a short ETH perp), groups move together or apart as each scenario
says, and a stablecoin de-peg shocks stablecoin balances (the quote
included, at its $1 peg). Then

    MM = max(worst scenario loss, floor_fraction * gross notional,
             open positions * min_per_position)
    IM = ceil(MM * im_factor) + (collateral haircut gap, as in linear mode)

Equity is the linear engine's equity, unchanged.

Why collateral counts after its maintenance haircut: equity counts it that
way, so the scenario P&L is exactly the equity change under the shock (to
rounding); a scenario loss never double counts what the haircut already
holds back, nor credits value a liquidator would not get.

The incremental form (`Sensitivities`): a perp's scenario P&L is
size * price * shock, linear in the *current* price, so a USD P&L stored at
trade time goes stale as soon as the price moves. What stays exact is the
base exposure: per account and asset, the net perp size (and the gross size
and the number of open positions, for the floor), next to the collateral
balances the engine already keeps. A trade changes one asset's entry, a
deposit or withdrawal one balance; the health check prices each asset once
(V_g at today's prices) and then runs the scenario grid over groups:
O(assets + scenarios * groups), independent of the number of positions on an
asset, and never positions * scenarios.

Rounding is against the account, explicitly: each asset's exposure value is
computed both rounded down and rounded up; a scenario with a positive shock
on a group uses the lower bound, a negative shock the upper one, and each
group term is floored, so every scenario P&L is at most the exact one (every
loss at least the exact loss). Gross notional and IM round up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from xmargin import model, perps
from xmargin.model import WAD
from xmargin.scenarios import Exposure, Portfolio

MAX_SCENARIOS = 32
MAX_GROUPS = 8
# Shocks are stored on chain as int64 WAD fractions, four to a word: a
# price may fall to zero (-1e18) and rise at most ninefold (+9e18 < 2**63).
MIN_SHOCK = -WAD
MAX_SHOCK = 9 * WAD
MAX_IM_FACTOR = 10 * WAD


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RiskGroups:
    """Group names (index -> name) and each asset's group (symbol -> index).

    Every asset an account holds or trades must belong to a group; the quote
    asset too when it can de-peg (it usually sits with the stablecoins)."""

    names: tuple[str, ...]
    members: Mapping[str, int]

    def __post_init__(self) -> None:
        if not 1 <= len(self.names) <= MAX_GROUPS:
            raise ValueError(f"between 1 and {MAX_GROUPS} risk groups, got {len(self.names)}")
        for asset, g in self.members.items():
            if not 0 <= g < len(self.names):
                raise ValueError(f"asset {asset} in unknown risk group {g}")

    def of(self, asset: str) -> int:
        try:
            return self.members[asset]
        except KeyError:
            raise ValueError(f"asset {asset} has no risk group") from None


@dataclass(frozen=True)
class Scenario:
    name: str
    # one WAD relative price move per risk group, in group order
    shocks: tuple[int, ...]


@dataclass(frozen=True)
class ScenarioSet:
    scenarios: tuple[Scenario, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.scenarios) <= MAX_SCENARIOS:
            raise ValueError(f"between 1 and {MAX_SCENARIOS} scenarios, got {len(self.scenarios)}")
        widths = {len(s.shocks) for s in self.scenarios}
        if len(widths) != 1:
            raise ValueError("every scenario needs one shock per risk group")
        for s in self.scenarios:
            for shock in s.shocks:
                if not MIN_SHOCK <= shock <= MAX_SHOCK:
                    raise ValueError(f"shock {shock} of {s.name!r} outside [-1, +9] WAD")

    @property
    def groups(self) -> int:
        return len(self.scenarios[0].shocks)


@dataclass(frozen=True)
class PortfolioParams:
    """The floor and the IM factor (all WAD).

    floor_fraction: MM is at least this fraction of gross perp notional.
    min_per_position: and at least this many USD per open position.
    im_factor: IM = ceil(MM * im_factor) + collateral haircut gap; >= 1.
    """

    floor_fraction: int
    min_per_position: int
    im_factor: int

    def __post_init__(self) -> None:
        if not 0 <= self.floor_fraction <= WAD:
            raise ValueError("floor_fraction outside [0, 1] WAD")
        if self.min_per_position < 0:
            raise ValueError("min_per_position is negative")
        if not WAD <= self.im_factor <= MAX_IM_FACTOR:
            raise ValueError("im_factor outside [1, 10] WAD")


@dataclass(frozen=True)
class PortfolioConfig:
    """Everything the owner configures for portfolio mode."""

    groups: RiskGroups
    scenarios: ScenarioSet
    params: PortfolioParams

    def __post_init__(self) -> None:
        if self.scenarios.groups != len(self.groups.names):
            raise ValueError(
                f"scenarios shock {self.scenarios.groups} groups, "
                f"there are {len(self.groups.names)}"
            )


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class PortfolioMargin:
    """An account's portfolio requirement and how it was reached (WAD USD)."""

    # P&L of the whole account in each scenario, in scenario order
    pnls: tuple[int, ...]
    # largest loss over the scenarios, 0 when none loses
    worst_loss: int
    # index of the (first) scenario with that loss; None when none loses
    worst_scenario: int | None
    gross_notional: int
    positions: int
    floor: int
    # IM add-on: the collateral's weighted-MM minus weighted-IM value
    addon: int
    mm: int
    im: int


# ---------------------------------------------------------------- shared pricing


def _exposure_value(
    net_size: int,
    balance: int,
    asset: str,
    prices: Mapping[str, int],
    assets: Mapping[str, model.AssetParams],
    quote: str,
) -> tuple[int, int]:
    """(down, up): the WAD USD value of an account's exposure to one asset's
    price, rounded down and up.

    net_size * price (signed perp exposure) plus the collateral balance at
    price after its MM haircut, the value equity counts. The quote counts
    at its peg, exactly (balance * precision, which may be negative)."""
    params = assets[asset]
    if asset == quote:
        if net_size:
            raise ValueError("no perp market is priced from the quote asset")
        v = balance * params.precision
        return v, v
    if balance < 0:
        raise ValueError(f"non-quote balance of {asset} is negative")
    if not net_size and not balance:
        return 0, 0
    price = prices[asset]
    down = perps.floor_div(net_size * price, WAD)
    up = perps.ceil_div(net_size * price, WAD)
    if balance:
        # down: exactly model.weighted(model.token_value(...)), the equity's figure
        down += model.weighted(model.token_value(balance, params, price), params.mm_haircut)
        up += perps.mul_div_up(
            perps.mul_div_up(balance * params.precision, price, WAD), WAD - params.mm_haircut, WAD
        )
    return down, up


def _pnls(down: Sequence[int], up: Sequence[int], scenarios: ScenarioSet) -> list[int]:
    """Each scenario's P&L from per-group exposure bounds, rounded against the
    account: a rise uses the lower bound, a fall the upper, each term floored."""
    out = []
    for s in scenarios.scenarios:
        pnl = 0
        for g, shock in enumerate(s.shocks):
            v = down[g] if shock > 0 else up[g]
            pnl += perps.floor_div(v * shock, WAD)
        out.append(pnl)
    return out


def _margin(
    pnls: Sequence[int],
    gross_notional: int,
    positions: int,
    addon: int,
    params: PortfolioParams,
) -> PortfolioMargin:
    worst_loss, worst = 0, None
    for i, pnl in enumerate(pnls):
        if -pnl > worst_loss:
            worst_loss, worst = -pnl, i
    floor = max(
        perps.mul_div_up(gross_notional, params.floor_fraction, WAD),
        positions * params.min_per_position,
    )
    mm = max(worst_loss, floor)
    return PortfolioMargin(
        pnls=tuple(pnls),
        worst_loss=worst_loss,
        worst_scenario=worst,
        gross_notional=gross_notional,
        positions=positions,
        floor=floor,
        addon=addon,
        mm=mm,
        im=perps.mul_div_up(mm, params.im_factor, WAD) + addon,
    )


def _addon(
    balances: Mapping[str, int],
    assets: Mapping[str, model.AssetParams],
    prices: Mapping[str, int],
    quote: str,
) -> int:
    """The collateral part of linear IM (weighted MM - weighted IM), reused."""
    c = model.collateral_value(balances, assets, prices, quote)
    return c.weighted_mm - c.weighted_im


# ---------------------------------------------------------------- from scratch (reference)


def scenario_pnls(
    positions: Iterable[Exposure],
    collateral: Mapping[str, int],
    prices: Mapping[str, int],
    groups: RiskGroups,
    scenarios: ScenarioSet,
    *,
    assets: Mapping[str, model.AssetParams],
    quote: str,
) -> list[int]:
    """The account's P&L in every scenario, recomputed from its positions and
    balances (the reference the incremental form is tested against)."""
    positions = list(positions)
    result = []
    for s in scenarios.scenarios:
        down = [0] * scenarios.groups
        up = [0] * scenarios.groups
        # every asset the account touches, each priced once per scenario
        touched = dict.fromkeys([*(e.asset for e in positions), *collateral])
        for asset in touched:
            net = sum(e.position.size for e in positions if e.asset == asset)
            lo, hi = _exposure_value(net, collateral.get(asset, 0), asset, prices, assets, quote)
            if lo or hi:
                g = groups.of(asset)
                down[g] += lo
                up[g] += hi
        result.extend(_pnls(down, up, ScenarioSet((s,))))
    return result


def portfolio_margin(account: Portfolio, config: PortfolioConfig) -> PortfolioMargin:
    """(MM, IM) of an account in portfolio mode, from scratch."""
    pnls = scenario_pnls(
        account.exposures,
        account.balances,
        account.prices,
        config.groups,
        config.scenarios,
        assets=account.assets,
        quote=account.quote,
    )
    open_positions = [e for e in account.exposures if e.position.size]
    gross = sum(
        perps.mul_div_up(
            sum(abs(e.position.size) for e in open_positions if e.asset == asset),
            account.prices[asset],
            WAD,
        )
        for asset in dict.fromkeys(e.asset for e in open_positions)
    )
    addon = _addon(account.balances, account.assets, account.prices, account.quote)
    return _margin(pnls, gross, len(open_positions), addon, config.params)


def portfolio_health(account: Portfolio, config: PortfolioConfig) -> model.Health:
    """(equity, IM, MM) in portfolio mode: the linear equity, portfolio IM/MM."""
    m = portfolio_margin(account, config)
    return model.Health(equity=account.health().equity, im=m.im, mm=m.mm)


def linear_health(account: Portfolio) -> model.Health:
    """Today's (linear) requirement of the same account: `model.account_health`
    over `perps.risk` of each position (`scenarios.Portfolio.health`)."""
    return account.health()


# ---------------------------------------------------------------- incremental


@dataclass(frozen=True)
class Sensitivities:
    """What the contract stores per account for portfolio mode.

    Per asset: the net perp size over every market priced from it (signed
    WAD base units) and the gross size (sum of |size|, for the floor); the
    number of open positions; and the collateral balances (the engine's
    existing ledger, mirrored here). Base exposure, not USD: it does not go
    stale when prices move. Zero entries are dropped (the held mask)."""

    net_size: Mapping[str, int] = field(default_factory=dict)
    gross_size: Mapping[str, int] = field(default_factory=dict)
    positions: int = 0
    balances: Mapping[str, int] = field(default_factory=dict)

    def apply_trade(self, asset: str, old_size: int, new_size: int) -> Sensitivities:
        """After a trade (or liquidation) moved one position on a market priced
        from `asset` from `old_size` to `new_size`: three additions."""
        net = dict(self.net_size)
        gross = dict(self.gross_size)
        net[asset] = net.get(asset, 0) + new_size - old_size
        gross[asset] = gross.get(asset, 0) + abs(new_size) - abs(old_size)
        if gross[asset] < 0:
            raise ValueError(f"gross size of {asset} below zero: old_size was not the position")
        return Sensitivities(
            net_size=_drop_zeros(net),
            gross_size=_drop_zeros(gross),
            positions=self.positions + (new_size != 0) - (old_size != 0),
            balances=self.balances,
        )

    def apply_collateral(self, asset: str, delta: int) -> Sensitivities:
        """After a deposit (+), withdrawal or settlement (-) of `delta` native units."""
        balances = dict(self.balances)
        balances[asset] = balances.get(asset, 0) + delta
        return Sensitivities(self.net_size, self.gross_size, self.positions, _drop_zeros(balances))

    @classmethod
    def of(cls, positions: Iterable[Exposure], balances: Mapping[str, int]) -> Sensitivities:
        """The same state, built from scratch (for tests and migration)."""
        s = cls(balances=_drop_zeros(dict(balances)))
        for e in positions:
            s = s.apply_trade(e.asset, 0, e.position.size)
        return s


def _drop_zeros(d: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in d.items() if v}


def scenario_pnls_from(
    sens: Sensitivities,
    prices: Mapping[str, int],
    groups: RiskGroups,
    scenarios: ScenarioSet,
    *,
    assets: Mapping[str, model.AssetParams],
    quote: str,
) -> list[int]:
    """Every scenario's P&L from the stored sensitivities: each asset priced
    once, then the grid over groups. Equal to `scenario_pnls` exactly."""
    down = [0] * scenarios.groups
    up = [0] * scenarios.groups
    for asset in dict.fromkeys([*sens.net_size, *sens.balances]):
        lo, hi = _exposure_value(
            sens.net_size.get(asset, 0), sens.balances.get(asset, 0), asset, prices, assets, quote
        )
        if lo or hi:
            g = groups.of(asset)
            down[g] += lo
            up[g] += hi
    return _pnls(down, up, scenarios)


def portfolio_margin_from(
    sens: Sensitivities,
    prices: Mapping[str, int],
    config: PortfolioConfig,
    *,
    assets: Mapping[str, model.AssetParams],
    quote: str,
) -> PortfolioMargin:
    """`portfolio_margin` from the stored sensitivities (what the contract does)."""
    pnls = scenario_pnls_from(
        sens, prices, config.groups, config.scenarios, assets=assets, quote=quote
    )
    gross = sum(perps.mul_div_up(g, prices[a], WAD) for a, g in sens.gross_size.items())
    addon = _addon(sens.balances, assets, prices, quote)
    return _margin(pnls, gross, sens.positions, addon, config.params)
