# pragma version 0.4.3
"""
@title xmargin portfolio risk set (scenario grid)
@notice One immutable scenario set for portfolio-margin accounts: up to 32
        scenarios, each a relative price move per risk group (up to 8
        groups), a relative move of every implied volatility and a weight
        (SPAN's extreme moves count at a fraction of their loss), plus the
        floor, the IM factor and the short-option minimum. The
        Clearinghouse prices an account, sums its exposure per group and
        asks this contract for the requirement; an account holding options
        comes through the OptionsDesk, which adds each scenario's option
        P&L (`opt_s`, the options repriced by Black-76 at the scenario's
        price and volatility) and the short options' notional:
            pnl_s = floor(weight_s * (floor(sum_g shock[s][g] * V_g / 1e18)
                                      + opt_s) / 1e18)
            worst = max(0, max_s(-pnl_s))
            floor = max(ceil(floor_fraction * gross_notional / 1e18),
                        open_positions * min_per_position,
                        ceil(short_option_min * short_notional / 1e18))
            MM    = max(worst, credited, floor)
                    + sum_g ceil(rate_g * max(0, |V_g| - threshold_g) / 1e18)
                    (the concentration add-on; |V_g| the larger bound)
        With inter-group credits set (SPAN's inter-commodity spread
        credits), the rows also price each group alone: R_g = the worst
        weighted loss of group g's exposure and options over its own
        column, its direction the sign of the move in that row; then, pair
        by pair in the set's order, two groups losing in opposite
        directions (a spread) each give up rate x the smaller of their
        remaining R: credited = sum_g R_g after the credits. The joint rows
        still bind (`worst`), so a book the rows price as correlated pays
        no less; the credits only cap the diversification that rows moving
        the groups together would imply.
            IM    = ceil(MM * im_factor / 1e18)   (the engine adds the
                    collateral haircut gap, as in linear mode)
        Each group's exposure comes as a lower and an upper bound (the
        engine's two roundings of the same value); a rising shock is applied
        to the lower bound and a falling one to the upper, so every scenario
        P&L is at most the exact one (against the account).
        The set never changes: the owner of the engine deploys a new one and
        points the engine at it (`set_portfolio_risk`), so every set in use
        is one reviewed artifact, and the switch is one event.
@custom:security Shocks are bounded to [-100 %, +900 %]; with the engine's
                 bounded exposures every product stays inside int256.
"""

from .modules import fixed_point as fp
from .modules import errors

MAX_GROUPS: constant(uint256) = 8
MAX_SCENARIOS: constant(uint256) = 32
GRID: constant(uint256) = MAX_GROUPS * MAX_SCENARIOS
WAD: constant(uint256) = 10**18
MIN_SHOCK: constant(int256) = -10**18
MAX_SHOCK: constant(int256) = 9 * 10**18
MAX_IM_FACTOR: constant(uint256) = 10 * 10**18
# A scenario counts at least 1 % and at most all of its P&L.
MIN_WEIGHT: constant(uint256) = 10**16
# Short-option minimum: at most the whole underlying's price per contract.
MAX_SHORT_OPTION_MIN: constant(uint256) = WAD
# $1M per open position.
MAX_MIN_PER_POSITION: constant(uint256) = 10**24
# Inter-group credit pairs.
MAX_CREDITS: constant(uint256) = 16
# Largest |exposure| of a group the grid accepts: 2**160 WAD USD (~1.5e30
# USD). With |shock| <= 9e18 < 2**64, a product is below 2**224 and a sum
# of 8 below 2**227, so the grid's inner loop can skip overflow checks.
MAX_EXPOSURE: constant(int256) = 2**160

# Risk groups and scenarios in use.
num_groups: public(immutable(uint256))
num_scenarios: public(immutable(uint256))
# WAD: MM is at least this fraction of gross notional (<= 1).
floor_fraction: public(immutable(uint256))
# WAD USD per open position.
min_per_position: public(immutable(uint256))
# WAD, in [1, 10]: IM = ceil(MM * im_factor).
im_factor: public(immutable(uint256))
# WAD fraction of the short options' notional (contracts x price) MM never
# goes below.
short_option_min: public(immutable(uint256))
# shock[s][g] at index s * MAX_GROUPS + g (WAD relative move).
SHOCKS: immutable(int256[GRID])
# Per scenario: the relative move of every implied volatility, and the
# WAD weight of its P&L.
VOLS: immutable(int256[MAX_SCENARIOS])
WEIGHTS: immutable(uint256[MAX_SCENARIOS])
# Per group, the concentration add-on: MM adds RATES[g] x (|V_g| beyond
# THRESHOLDS[g]) (WAD USD, WAD).
THRESHOLDS: immutable(uint256[MAX_GROUPS])
RATES: immutable(uint256[MAX_GROUPS])
# Inter-group credits in the order they apply: group a | group b << 8 |
# WAD rate << 16.
CREDITS: immutable(uint256[MAX_CREDITS])
num_credits: public(immutable(uint256))


@deploy
def __init__(
    shocks: DynArray[DynArray[int256, MAX_GROUPS], MAX_SCENARIOS],
    floor_fraction_: uint256,
    min_per_position_: uint256,
    im_factor_: uint256,
    vol_shocks: DynArray[int256, MAX_SCENARIOS],
    weights: DynArray[uint256, MAX_SCENARIOS],
    short_option_min_: uint256,
    concentration: DynArray[uint256[2], MAX_GROUPS],
    credits: DynArray[uint256[3], MAX_CREDITS],
):
    """
    @notice Fixes the scenario set.
    @param shocks One row per scenario (1 to 32), each with one WAD relative
           price move per risk group (1 to 8 groups, the same in every row),
           each in [-1e18, +9e18].
    @param floor_fraction_ WAD fraction of gross notional MM never goes below (<= 1e18).
    @param min_per_position_ WAD USD per open position MM never goes below (<= 1e24).
    @param im_factor_ WAD multiplier from MM to IM, in [1e18, 10e18].
    @param vol_shocks Per scenario, the WAD relative move of every implied
           volatility, each in [-1e18, +9e18]; empty: none moves.
    @param weights Per scenario, the WAD fraction of its P&L that counts,
           each in [1e16, 1e18]; empty: all of it.
    @param short_option_min_ WAD fraction of the short options' notional
           MM never goes below (<= 1e18).
    @param concentration Per group, (threshold WAD USD, WAD rate <= 1e18):
           MM adds rate x the group's |exposure| beyond the threshold;
           empty: no add-on.
    @param credits Inter-group spread credits, in the order they apply:
           (group a, group b, WAD rate <= 1e18) with a < b < groups, each
           pair once; empty: the joint rows alone.
    """
    assert len(shocks) > 0, errors.NO_SCENARIOS
    groups: uint256 = len(shocks[0])
    assert groups > 0, errors.NO_GROUPS
    grid: int256[GRID] = empty(int256[GRID])
    for s: uint256 in range(MAX_SCENARIOS):
        if s == len(shocks):
            break
        assert len(shocks[s]) == groups, errors.RAGGED_SHOCKS
        for g: uint256 in range(MAX_GROUPS):
            if g == groups:
                break
            shock: int256 = shocks[s][g]
            assert shock >= MIN_SHOCK and shock <= MAX_SHOCK, errors.SHOCK_OUT_OF_RANGE
            grid[s * MAX_GROUPS + g] = shock
    assert floor_fraction_ <= WAD, errors.FLOOR_TOO_HIGH
    assert min_per_position_ <= MAX_MIN_PER_POSITION, errors.MIN_TOO_LARGE
    assert im_factor_ >= WAD and im_factor_ <= MAX_IM_FACTOR, errors.IM_FACTOR_RANGE
    assert len(vol_shocks) == 0 or len(vol_shocks) == len(shocks), errors.RAGGED_SHOCKS
    assert len(weights) == 0 or len(weights) == len(shocks), errors.RAGGED_SHOCKS
    assert short_option_min_ <= MAX_SHORT_OPTION_MIN, errors.MIN_TOO_LARGE
    assert len(concentration) == 0 or len(concentration) == groups, errors.RAGGED_SHOCKS
    thresholds: uint256[MAX_GROUPS] = empty(uint256[MAX_GROUPS])
    rates: uint256[MAX_GROUPS] = empty(uint256[MAX_GROUPS])
    for g: uint256 in range(MAX_GROUPS):
        if g == len(concentration):
            break
        assert (
            concentration[g][0] <= convert(MAX_EXPOSURE, uint256) and concentration[g][1] <= WAD
        ), errors.CONCENTRATION_RANGE
        thresholds[g] = concentration[g][0]
        rates[g] = concentration[g][1]
    packed: uint256[MAX_CREDITS] = empty(uint256[MAX_CREDITS])
    for i: uint256 in range(MAX_CREDITS):
        if i == len(credits):
            break
        c: uint256[3] = credits[i]
        assert c[0] < c[1] and c[1] < groups and c[2] <= WAD, errors.CREDIT_RANGE
        for j: uint256 in range(MAX_CREDITS):
            if j == i:
                break
            assert packed[j] & 65535 != c[0] | (c[1] << 8), errors.CREDIT_RANGE
        packed[i] = c[0] | (c[1] << 8) | (c[2] << 16)
    vols: int256[MAX_SCENARIOS] = empty(int256[MAX_SCENARIOS])
    weighted: uint256[MAX_SCENARIOS] = empty(uint256[MAX_SCENARIOS])
    for s: uint256 in range(MAX_SCENARIOS):
        if s == len(shocks):
            break
        weighted[s] = WAD
        if len(vol_shocks) != 0:
            vol: int256 = vol_shocks[s]
            assert vol >= MIN_SHOCK and vol <= MAX_SHOCK, errors.SHOCK_OUT_OF_RANGE
            vols[s] = vol
        if len(weights) != 0:
            assert weights[s] >= MIN_WEIGHT and weights[s] <= WAD, errors.WEIGHT_RANGE
            weighted[s] = weights[s]
    num_groups = groups
    num_scenarios = len(shocks)
    floor_fraction = floor_fraction_
    min_per_position = min_per_position_
    im_factor = im_factor_
    short_option_min = short_option_min_
    SHOCKS = grid
    VOLS = vols
    WEIGHTS = weighted
    THRESHOLDS = thresholds
    RATES = rates
    CREDITS = packed
    num_credits = len(credits)


@external
@view
def shock(scenario: uint256, group: uint256) -> int256:
    """
    @notice One scenario's move of one risk group.
    @param scenario Scenario index (< num_scenarios).
    @param group Risk group (< num_groups).
    @return The WAD relative price move.
    """
    assert scenario < num_scenarios and group < num_groups, errors.NO_SUCH_SCENARIO
    return SHOCKS[scenario * MAX_GROUPS + group]


@external
@view
def column(group: uint256) -> DynArray[int256, MAX_SCENARIOS]:
    """
    @notice One risk group's move in every scenario, in scenario order.
    @param group Risk group (< num_groups).
    @return The WAD relative price moves.
    """
    assert group < num_groups, errors.NO_SUCH_SCENARIO
    shocks: int256[GRID] = SHOCKS
    out: DynArray[int256, MAX_SCENARIOS] = []
    for s: uint256 in range(MAX_SCENARIOS):
        if s == num_scenarios:
            break
        out.append(shocks[s * MAX_GROUPS + group])
    return out


@external
@view
def concentrations() -> DynArray[uint256[2], MAX_GROUPS]:
    """
    @notice Every risk group's concentration add-on, in group order (one
            call: readers batch it before they know the group count).
    @return Per group (threshold WAD USD, WAD rate): MM adds rate x the
            group's |exposure| beyond the threshold.
    """
    thresholds: uint256[MAX_GROUPS] = THRESHOLDS
    rates: uint256[MAX_GROUPS] = RATES
    out: DynArray[uint256[2], MAX_GROUPS] = []
    for g: uint256 in range(MAX_GROUPS):
        if g == num_groups:
            break
        out.append([thresholds[g], rates[g]])
    return out


@external
@view
def credits() -> DynArray[uint256[3], MAX_CREDITS]:
    """
    @notice The inter-group spread credits, in the order they apply.
    @return (group a, group b, WAD rate) per pair.
    """
    packed: uint256[MAX_CREDITS] = CREDITS
    out: DynArray[uint256[3], MAX_CREDITS] = []
    for i: uint256 in range(MAX_CREDITS):
        if i == num_credits:
            break
        out.append([packed[i] & 255, (packed[i] >> 8) & 255, packed[i] >> 16])
    return out


@external
@view
def vol_shocks() -> DynArray[int256, MAX_SCENARIOS]:
    """
    @notice Every scenario's relative move of implied volatility (WAD).
    @return One move per scenario.
    """
    vols: int256[MAX_SCENARIOS] = VOLS
    out: DynArray[int256, MAX_SCENARIOS] = []
    for s: uint256 in range(MAX_SCENARIOS):
        if s == num_scenarios:
            break
        out.append(vols[s])
    return out


@external
@view
def weights() -> DynArray[uint256, MAX_SCENARIOS]:
    """
    @notice Every scenario's weight: the WAD fraction of its P&L that counts.
    @return One weight per scenario.
    """
    w: uint256[MAX_SCENARIOS] = WEIGHTS
    out: DynArray[uint256, MAX_SCENARIOS] = []
    for s: uint256 in range(MAX_SCENARIOS):
        if s == num_scenarios:
            break
        out.append(w[s])
    return out


@external
@view
def scenario_pnls(
    lo: int256[MAX_GROUPS], hi: int256[MAX_GROUPS]
) -> DynArray[int256, MAX_SCENARIOS]:
    """
    @notice Every scenario's P&L for per-group exposures (what the engine's
            `portfolio_exposure` returns), rounded against the account.
    @param lo Each group's exposure rounded down (WAD USD, signed).
    @param hi The same rounded up.
    @return One P&L per scenario (WAD USD; a loss is negative).
    """
    return self._pnls(lo, hi, [])


@external
@view
def requirement(
    lo: int256[MAX_GROUPS], hi: int256[MAX_GROUPS], gross_notional: uint256, open_positions: uint256
) -> (uint256, uint256):
    """
    @notice MM and IM (before the collateral haircut gap) for an account's
            per-group exposures.
    @param lo Each group's exposure rounded down (WAD USD, signed).
    @param hi The same rounded up.
    @param gross_notional Sum of |size| * price over the open positions (WAD USD).
    @param open_positions Number of open positions.
    @return (MM, ceil(MM * im_factor)) in WAD USD.
    """
    return self._requirement(lo, hi, gross_notional, open_positions, [], 0)


@external
@view
def requirement_with_options(
    lo: int256[MAX_GROUPS],
    hi: int256[MAX_GROUPS],
    gross_notional: uint256,
    open_positions: uint256,
    option_pnls: DynArray[int256, GRID],
    short_notional: uint256,
) -> (uint256, uint256):
    """
    @notice `requirement` for an account that also holds options: each
            scenario's P&L adds the options' (`option_pnls`, the desk's
            Black-76 revaluation at the scenario's price and volatility,
            rounded against the account) before the scenario's weight, and
            MM is at least `short_option_min` of the short options' notional.
    @param lo Each group's exposure rounded down (WAD USD, signed).
    @param hi The same rounded up.
    @param gross_notional Sum of |size| * price over the open perp positions (WAD USD).
    @param open_positions Number of open positions, option series included.
    @param option_pnls The options' P&L per scenario (WAD USD); for a set
           with credits, per risk group and scenario at g * num_scenarios
           + s (the group of each option's underlying: each group's own
           scan takes its options), num_groups x num_scenarios entries.
    @param short_notional Sum of contracts x price over short options (WAD USD).
    @return (MM, ceil(MM * im_factor)) in WAD USD.
    """
    rows: uint256 = 1
    if num_credits != 0:
        rows = num_groups
    assert len(option_pnls) == rows * num_scenarios, errors.RAGGED_SHOCKS
    return self._requirement(lo, hi, gross_notional, open_positions, option_pnls, short_notional)


@external
@view
def worst_scenario(lo: int256[MAX_GROUPS], hi: int256[MAX_GROUPS]) -> (uint256, int256[MAX_GROUPS]):
    """
    @notice The scenario with the lowest P&L (the first on ties) and its
            shocks: what a portfolio liquidation is ordered by.
    @param lo Each group's exposure rounded down (WAD USD, signed).
    @param hi The same rounded up.
    @return (scenario index, its shock per group; 0 beyond num_groups).
    """
    pnls: DynArray[int256, MAX_SCENARIOS] = self._pnls(lo, hi, [])
    worst: uint256 = 0
    for s: uint256 in range(1, MAX_SCENARIOS):
        if s == len(pnls):
            break
        if pnls[s] < pnls[worst]:
            worst = s
    row: int256[MAX_GROUPS] = empty(int256[MAX_GROUPS])
    shocks: int256[GRID] = SHOCKS
    for g: uint256 in range(MAX_GROUPS):
        if g == num_groups:
            break
        row[g] = shocks[worst * MAX_GROUPS + g]
    return worst, row


@internal
@view
def _requirement(
    lo: int256[MAX_GROUPS],
    hi: int256[MAX_GROUPS],
    gross_notional: uint256,
    open_positions: uint256,
    extra: DynArray[int256, GRID],
    short_notional: uint256,
) -> (uint256, uint256):
    worst: int256 = 0
    pnls: DynArray[int256, MAX_SCENARIOS] = self._pnls(lo, hi, extra)
    for pnl: int256 in pnls:
        worst = min(worst, pnl)
    scan: uint256 = convert(-worst, uint256)
    if num_credits != 0:
        scan = max(scan, self._credited(lo, hi, extra))
    mm: uint256 = max(
        max(scan, fp._ceil_div_u(short_notional * short_option_min, WAD)),
        max(
            fp._ceil_div_u(gross_notional * floor_fraction, WAD),
            open_positions * min_per_position,
        ),
    )
    # The concentration add-on: a group's exposure beyond its threshold
    # costs more to close out than the scenarios' moves say.
    thresholds: uint256[MAX_GROUPS] = THRESHOLDS
    rates: uint256[MAX_GROUPS] = RATES
    for g: uint256 in range(MAX_GROUPS):
        if g == num_groups:
            break
        if rates[g] != 0:
            # |lo|, |hi| <= MAX_EXPOSURE (checked by `_pnls`)
            size: uint256 = convert(max(abs(lo[g]), abs(hi[g])), uint256)
            if size > thresholds[g]:
                mm += fp._ceil_div_u((size - thresholds[g]) * rates[g], WAD)
    return mm, fp._ceil_div_u(mm * im_factor, WAD)


@internal
@view
def _credited(
    lo: int256[MAX_GROUPS], hi: int256[MAX_GROUPS], extra: DynArray[int256, GRID]
) -> uint256:
    """
    @dev The scan risk with explicit credits: each group's worst weighted
         loss over its own column (exposure and options; bounds already
         checked by `_pnls`), less the credits of the pairs that form
         spreads, in order (the contract's notice).
    """
    wad: int256 = convert(WAD, int256)
    shocks: int256[GRID] = SHOCKS
    weighted: uint256[MAX_SCENARIOS] = WEIGHTS
    risk: uint256[MAX_GROUPS] = empty(uint256[MAX_GROUPS])
    side: int256[MAX_GROUPS] = empty(int256[MAX_GROUPS])
    for g: uint256 in range(MAX_GROUPS):
        if g == num_groups:
            break
        loss: int256 = 0
        for s: uint256 in range(MAX_SCENARIOS):
            if s == num_scenarios:
                break
            shock: int256 = shocks[s * MAX_GROUPS + g]
            bound: int256 = hi[g]
            if shock > 0:
                bound = lo[g]
            pnl: int256 = fp._floor_div(shock * bound, wad)
            if len(extra) != 0:
                pnl += extra[g * num_scenarios + s]
            if weighted[s] != WAD:
                pnl = fp._floor_div(pnl * convert(weighted[s], int256), wad)
            if pnl < loss:
                loss = pnl
                side[g] = shock
        risk[g] = convert(-loss, uint256)
    packed: uint256[MAX_CREDITS] = CREDITS
    for i: uint256 in range(MAX_CREDITS):
        if i == num_credits:
            break
        a: uint256 = packed[i] & 255
        b: uint256 = (packed[i] >> 8) & 255
        # A spread: the two groups' worst rows move them opposite ways.
        if (side[a] > 0 and side[b] < 0) or (side[a] < 0 and side[b] > 0):
            credit: uint256 = min(risk[a], risk[b]) * (packed[i] >> 16) // WAD
            risk[a] -= credit
            risk[b] -= credit
    total: uint256 = 0
    for g: uint256 in range(MAX_GROUPS):
        if g == num_groups:
            break
        total += risk[g]
    return total


@internal
@view
def _pnls(
    lo: int256[MAX_GROUPS], hi: int256[MAX_GROUPS], extra: DynArray[int256, GRID]
) -> DynArray[int256, MAX_SCENARIOS]:
    """
    @dev pnl_s = floor(weight * (floor(sum_g shock * bound / WAD) + extra_s)
         / WAD), the bound chosen against the account (lower for a rise,
         upper for a fall). Only the groups the account is exposed to enter
         the grid; `extra` is empty, the options' P&L per scenario, or
         (a set with credits) per group and scenario at g * num_scenarios
         + s, summed over the groups here.
    """
    active: DynArray[uint256, MAX_GROUPS] = []
    for g: uint256 in range(MAX_GROUPS):
        if g == num_groups:
            break
        if lo[g] != 0 or hi[g] != 0:
            assert lo[g] <= hi[g], errors.EXPOSURE_BOUNDS
            assert lo[g] >= -MAX_EXPOSURE and hi[g] <= MAX_EXPOSURE, errors.EXPOSURE_TOO_LARGE
            active.append(g)
    wad: int256 = convert(WAD, int256)
    # One copy of the whole grid to memory: indexing the immutable directly
    # copies it again on every read.
    shocks: int256[GRID] = SHOCKS
    weighted: uint256[MAX_SCENARIOS] = WEIGHTS
    out: DynArray[int256, MAX_SCENARIOS] = []
    for s: uint256 in range(MAX_SCENARIOS):
        if s == num_scenarios:
            break
        acc: int256 = 0
        base: uint256 = s * MAX_GROUPS
        for g: uint256 in active:
            shock: int256 = shocks[base + g]
            # In range by the bounds above.
            if shock > 0:
                acc = unsafe_add(acc, unsafe_mul(shock, lo[g]))
            else:
                acc = unsafe_add(acc, unsafe_mul(shock, hi[g]))
        pnl: int256 = fp._floor_div(acc, wad)
        if len(extra) == num_scenarios:
            pnl += extra[s]
        elif len(extra) != 0:
            for g: uint256 in range(MAX_GROUPS):
                if g == num_groups:
                    break
                pnl += extra[g * num_scenarios + s]
        w: uint256 = weighted[s]
        if w != WAD:
            pnl = fp._floor_div(pnl * convert(w, int256), wad)
        out.append(pnl)
    return out
