"""Scenario-grid portfolio margin (issue 7): the maths, in pure integers.

The contracts (contracts/modules/portfolio.vy, contracts/PortfolioRisk.vy)
compute exactly this, to the wei; `requirement` mirrors the risk set's
`requirement`, and `xmargin.maths.account.group_exposure` the engine's
`portfolio_exposure` view (docs/portfolio-margin.md).

The model in one paragraph. Every asset belongs to one risk group (ETH-like,
BTC-like, stablecoins, ...). The owner configures up to 32 scenarios, each a
vector of relative price shocks, one per group (a WAD fraction, -0.30e18 =
-30 %). The account's P&L in a scenario is the change of its equity when
every asset of group g moves by shock[g]:

    pnl_s = sum_g shock[g, s] * V_g
    V_g   = sum over positions on group-g assets of size * price
          + sum over group-g collateral of its value after the MM haircut

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

What is computed where: the engine rebuilds V_g from the positions and
balances its equity reads anyway (one pass, each price read once), and the
risk set runs the grid over groups: O(positions + assets + scenarios *
groups), never positions * scenarios. Nothing but the mode is stored per
account: a USD P&L per scenario stored at trade time would go stale at the
next price move, and stored per-asset sizes would save nothing while the
equity still reads every position (docs/portfolio-margin.md, "Design").

Rounding is against the account, explicitly: each term of V_g is computed
both rounded down and rounded up; a scenario with a positive shock on a
group uses the lower bound, a negative shock the upper one, and each
scenario's sum is floored once, so every scenario P&L is at most the exact one (every loss
at least the exact loss; `xmargin.maths.account.exact_scenario_pnls` is the
rational reference). Gross notional and IM round up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xmargin.maths.fixed_point import WAD, floor_div, mul_div_up

MAX_SCENARIOS = 32
MAX_GROUPS = 8
# Shocks are stored on chain as int64 WAD fractions, four to a word: a
# price may fall to zero (-1e18) and rise at most ninefold (+9e18 < 2**63).
MIN_SHOCK = -WAD
MAX_SHOCK = 9 * WAD
MAX_IM_FACTOR = 10 * WAD
# A scenario counts at least 1 % of its P&L (PortfolioRisk.MIN_WEIGHT).
MIN_WEIGHT = 10**16
# WAD USD per open position (PortfolioRisk.MAX_MIN_PER_POSITION: $1M)
MAX_MIN_PER_POSITION = 10**24
# |exposure| of a group the risk set accepts (PortfolioRisk.MAX_EXPOSURE)
MAX_EXPOSURE = 2**160
# inter-group credit pairs a risk set holds (PortfolioRisk.MAX_CREDITS)
MAX_CREDITS = 16


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
    # the WAD relative move of every implied volatility (options only)
    vol_shock: int = 0
    # the WAD fraction of the scenario's P&L that counts (SPAN's extreme
    # moves: a move beyond the scan range counted at, say, 35 %)
    weight: int = WAD


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
            for shock in (*s.shocks, s.vol_shock):
                if not MIN_SHOCK <= shock <= MAX_SHOCK:
                    raise ValueError(f"shock {shock} of {s.name!r} outside [-1, +9] WAD")
            if not MIN_WEIGHT <= s.weight <= WAD:
                raise ValueError(f"weight {s.weight} of {s.name!r} outside [0.01, 1] WAD")

    @property
    def groups(self) -> int:
        return len(self.scenarios[0].shocks)


@dataclass(frozen=True)
class PortfolioParams:
    """The floor and the IM factor (all WAD).

    floor_fraction: MM is at least this fraction of gross perp notional.
    min_per_position: and at least this many USD per open position.
    im_factor: IM = ceil(MM * im_factor) + collateral haircut gap; >= 1.
    short_option_min: and at least this fraction of the short options'
        notional (contracts x the underlying's price; SPAN's short-option
        minimum).
    """

    floor_fraction: int
    min_per_position: int
    im_factor: int
    short_option_min: int = 0
    # per risk group (threshold WAD USD, WAD rate), or none: MM adds
    # ceil(rate * (|V_g| - threshold)) for a group beyond its threshold
    concentration: tuple[tuple[int, int], ...] = ()
    # inter-group spread credits, in the order they apply: (group a, group
    # b, WAD rate) with a < b; none: the joint rows alone (`credited_scan`)
    credits: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.floor_fraction <= WAD:
            raise ValueError("floor_fraction outside [0, 1] WAD")
        if self.min_per_position < 0:
            raise ValueError("min_per_position is negative")
        if not WAD <= self.im_factor <= MAX_IM_FACTOR:
            raise ValueError("im_factor outside [1, 10] WAD")
        if not 0 <= self.short_option_min <= WAD:
            raise ValueError("short_option_min outside [0, 1] WAD")
        for threshold, rate in self.concentration:
            if not (0 <= threshold <= MAX_EXPOSURE and 0 <= rate <= WAD):
                raise ValueError("a concentration threshold or rate out of range")
        if not any(rate for _, rate in self.concentration):
            # no add-on: one form, whatever the thresholds (as the chain reads it)
            object.__setattr__(self, "concentration", ())
        if len(self.credits) > MAX_CREDITS:
            raise ValueError(f"at most {MAX_CREDITS} credit pairs")
        pairs = [(a, b) for a, b, _ in self.credits]
        for a, b, rate in self.credits:
            if not (0 <= a < b and 0 <= rate <= WAD):
                raise ValueError(f"credit ({a}, {b}, {rate}): groups a < b, rate in [0, 1] WAD")
        if len(set(pairs)) != len(pairs):
            raise ValueError("a credit pair appears twice")


@dataclass(frozen=True)
class PortfolioConfig:
    """Everything the owner configures for portfolio mode."""

    groups: RiskGroups
    scenarios: ScenarioSet
    params: PortfolioParams

    def __post_init__(self) -> None:
        if self.params.concentration and len(self.params.concentration) != len(self.groups.names):
            raise ValueError("one concentration add-on per risk group, or none")
        if any(b >= len(self.groups.names) for _, b, _ in self.params.credits):
            raise ValueError("a credit names a risk group the set does not have")
        if self.scenarios.groups != len(self.groups.names):
            raise ValueError(
                f"scenarios shock {self.scenarios.groups} groups, "
                f"there are {len(self.groups.names)}"
            )


def span_scenarios(
    groups: int,
    moving: Sequence[int],
    scan: int,
    vol_scan: int,
    extreme: int = 3,
    extreme_weight: int = 35 * WAD // 100,
) -> ScenarioSet:
    """CME SPAN's sixteen scenarios as a scenario set over `groups` risk
    groups, the `moving` groups' prices moving together (the others stay):
    the price unchanged, up and down a third, two thirds and all of the
    scan range (`scan`, a WAD fraction), each with every volatility up and
    down by `vol_scan` (relative), then up and down `extreme` times the
    range with the volatility unchanged, counted at `extreme_weight`."""
    out = []
    for third in (0, 1, 2, 3):
        for sign in (1,) if third == 0 else (1, -1):
            move = sign * scan * third // 3
            for vol in (vol_scan, -vol_scan):
                row = tuple(move if g in moving else 0 for g in range(groups))
                out.append(
                    Scenario(f"{move * 100 / WAD:+.1f}% vol {vol * 100 / WAD:+.0f}%", row, vol)
                )
    for sign in (1, -1):
        move = max(sign * scan * extreme, -WAD)
        row = tuple(move if g in moving else 0 for g in range(groups))
        out.append(Scenario(f"extreme {move * 100 / WAD:+.0f}%", row, 0, extreme_weight))
    return ScenarioSet(tuple(out))


def concentration_addon(x: GroupExposure, params: PortfolioParams) -> int:
    """The concentration add-on to MM: per group, `rate` of its |exposure|
    (the larger of its two bounds) beyond `threshold`, rounded up."""
    out = 0
    for g, (threshold, rate) in enumerate(params.concentration):
        size = max(abs(x.lo[g]), abs(x.hi[g]))
        if rate and size > threshold:
            out += mul_div_up(size - threshold, rate, WAD)
    return out


def risk_set_args(config: PortfolioConfig) -> tuple[object, ...]:
    """A PortfolioRisk's constructor arguments for `config`: the shocks, the
    floor, the minimum, the IM factor, the volatility moves and weights
    (empty when none moves and every scenario counts whole), the
    short-option minimum, the concentration add-ons (empty when none), the
    inter-group credits."""
    rows = config.scenarios.scenarios
    vols = [s.vol_shock for s in rows]
    weights = [s.weight for s in rows]
    p = config.params
    return (
        [list(s.shocks) for s in rows],
        p.floor_fraction,
        p.min_per_position,
        p.im_factor,
        vols if any(vols) else [],
        weights if any(w != WAD for w in weights) else [],
        p.short_option_min,
        [list(c) for c in p.concentration] if any(r for _, r in p.concentration) else [],
        [list(c) for c in p.credits],
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
    # with inter-group credits: the groups' own scan risks less the credits
    # (MM is at least this); 0 without credits
    credited: int = 0


# ---------------------------------------------------------------- the engine's exposure


@dataclass(frozen=True)
class GroupExposure:
    """An account's book as the risk set sees it (the engine's
    `portfolio_exposure` view, field for field; WAD USD)."""

    # the linear engine's equity
    equity: int
    # collateral haircut gap (weighted at MM - weighted at IM): the IM add-on
    addon: int
    # per risk group (MAX_GROUPS entries), rounded down and up
    lo: tuple[int, ...]
    hi: tuple[int, ...]
    gross_notional: int
    open_positions: int


# ---------------------------------------------------------------- the risk set


def grid_pnls(
    lo: Sequence[int],
    hi: Sequence[int],
    scenarios: ScenarioSet,
    extra: Sequence[int] = (),
) -> list[int]:
    """Each scenario's P&L from per-group exposure bounds, rounded against the
    account: a rise uses the lower bound, a fall the upper, and the sum is
    floored once; `extra` (the options' P&L per scenario, when the account
    holds any) is added, and the scenario's weight applied, floored
    (PortfolioRisk.scenario_pnls / requirement_with_options)."""
    for g in range(scenarios.groups):
        if lo[g] > hi[g]:
            raise ValueError("exposure bounds out of order")
        if lo[g] < -MAX_EXPOSURE or hi[g] > MAX_EXPOSURE:
            raise ValueError("exposure too large")
    if extra and len(extra) != len(scenarios.scenarios):
        raise ValueError("one option P&L per scenario")
    out = []
    for i, s in enumerate(scenarios.scenarios):
        acc = sum(shock * (lo[g] if shock > 0 else hi[g]) for g, shock in enumerate(s.shocks))
        pnl = floor_div(acc, WAD) + (extra[i] if extra else 0)
        if s.weight != WAD:
            pnl = floor_div(pnl * s.weight, WAD)
        out.append(pnl)
    return out


def credited_scan(
    x: GroupExposure, config: PortfolioConfig, option_pnls: Sequence[Sequence[int]] = ()
) -> int:
    """The scan risk with explicit inter-group credits (PortfolioRisk's
    `_credited`): each group's worst weighted loss over its own column
    (its exposure and its options' P&Ls), its direction the sign of its
    move in that row (the first worst); then, pair by pair in order, two
    groups whose worst rows move opposite ways (a spread) each give up
    floor(rate x the smaller remaining risk); the sum of what is left."""
    scenarios = config.scenarios.scenarios
    risk, side = [], []
    for g in range(config.scenarios.groups):
        loss, direction = 0, 0
        for s, row in enumerate(scenarios):
            shock = row.shocks[g]
            pnl = floor_div(shock * (x.lo[g] if shock > 0 else x.hi[g]), WAD)
            if option_pnls:
                pnl += option_pnls[g][s]
            if row.weight != WAD:
                pnl = floor_div(pnl * row.weight, WAD)
            if pnl < loss:
                loss, direction = pnl, shock
        risk.append(-loss)
        side.append(direction)
    for a, b, rate in config.params.credits:
        if side[a] * side[b] < 0:
            credit = min(risk[a], risk[b]) * rate // WAD
            risk[a] -= credit
            risk[b] -= credit
    return sum(risk)


def requirement(
    x: GroupExposure,
    config: PortfolioConfig,
    option_pnls: Sequence[Sequence[int]] = (),
    short_notional: int = 0,
    option_positions: int = 0,
) -> PortfolioMargin:
    """MM and IM of an exposure (PortfolioRisk.requirement, plus the add-on
    the engine adds to IM); for an account holding options, the options'
    P&L per risk group and scenario (`option_pnls[g][s]`, the group of each
    underlying), the short options' notional and the number of series held
    (PortfolioRisk.requirement_with_options, as the desk's `portfolio_risk`
    calls it)."""
    if option_pnls and len(option_pnls) != config.scenarios.groups:
        raise ValueError("one row of option P&Ls per risk group")
    joint = [sum(col) for col in zip(*option_pnls, strict=True)] if option_pnls else []
    pnls = grid_pnls(x.lo, x.hi, config.scenarios, joint)
    params = config.params
    worst_loss, worst = 0, None
    for i, pnl in enumerate(pnls):
        if -pnl > worst_loss:
            worst_loss, worst = -pnl, i
    credited = credited_scan(x, config, option_pnls) if params.credits else 0
    floor = max(
        mul_div_up(x.gross_notional, params.floor_fraction, WAD),
        (x.open_positions + option_positions) * params.min_per_position,
        mul_div_up(short_notional, params.short_option_min, WAD),
    )
    mm = max(worst_loss, credited, floor) + concentration_addon(x, params)
    return PortfolioMargin(
        pnls=tuple(pnls),
        worst_loss=worst_loss,
        worst_scenario=worst,
        gross_notional=x.gross_notional,
        positions=x.open_positions + option_positions,
        floor=floor,
        addon=x.addon,
        mm=mm,
        im=mul_div_up(mm, params.im_factor, WAD) + x.addon,
        credited=credited,
    )


# ---------------------------------------------------------------- liquidation order


def worst_scenario(x: GroupExposure, scenarios: ScenarioSet) -> int:
    """Index of the scenario with the lowest P&L, the first on ties
    (PortfolioRisk.worst_scenario)."""
    pnls = grid_pnls(x.lo, x.hi, scenarios)
    return pnls.index(min(pnls))
