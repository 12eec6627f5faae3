# pragma version 0.4.3
"""
@title xmargin portfolio risk set (scenario grid)
@notice One immutable scenario set for portfolio-margin accounts: up to 32
        scenarios, each a relative price move per risk group (up to 8
        groups), plus the floor and the IM factor. The Clearinghouse prices
        an account, sums its exposure per group and asks this contract for
        the requirement:
            pnl_s = floor(sum_g shock[s][g] * V_g / 1e18)
            worst = max(0, max_s(-pnl_s))
            floor = max(ceil(floor_fraction * gross_notional / 1e18),
                        open_positions * min_per_position)
            MM    = max(worst, floor)
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
# $1M per open position.
MAX_MIN_PER_POSITION: constant(uint256) = 10**24
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
# shock[s][g] at index s * MAX_GROUPS + g (WAD relative move).
SHOCKS: immutable(int256[GRID])


@deploy
def __init__(
    shocks: DynArray[DynArray[int256, MAX_GROUPS], MAX_SCENARIOS],
    floor_fraction_: uint256,
    min_per_position_: uint256,
    im_factor_: uint256,
):
    """
    @notice Fixes the scenario set.
    @param shocks One row per scenario (1 to 32), each with one WAD relative
           price move per risk group (1 to 8 groups, the same in every row),
           each in [-1e18, +9e18].
    @param floor_fraction_ WAD fraction of gross notional MM never goes below (<= 1e18).
    @param min_per_position_ WAD USD per open position MM never goes below (<= 1e24).
    @param im_factor_ WAD multiplier from MM to IM, in [1e18, 10e18].
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
    num_groups = groups
    num_scenarios = len(shocks)
    floor_fraction = floor_fraction_
    min_per_position = min_per_position_
    im_factor = im_factor_
    SHOCKS = grid


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
    return self._pnls(lo, hi)


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
    worst: int256 = 0
    pnls: DynArray[int256, MAX_SCENARIOS] = self._pnls(lo, hi)
    for pnl: int256 in pnls:
        worst = min(worst, pnl)
    mm: uint256 = max(
        convert(-worst, uint256),
        max(
            fp._ceil_div_u(gross_notional * floor_fraction, WAD),
            open_positions * min_per_position,
        ),
    )
    return mm, fp._ceil_div_u(mm * im_factor, WAD)


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
    pnls: DynArray[int256, MAX_SCENARIOS] = self._pnls(lo, hi)
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
def _pnls(lo: int256[MAX_GROUPS], hi: int256[MAX_GROUPS]) -> DynArray[int256, MAX_SCENARIOS]:
    """
    @dev pnl_s = floor(sum_g shock * bound / WAD), the bound chosen against
         the account (lower for a rise, upper for a fall), one division per
         scenario. Only the groups the account is exposed to enter the grid.
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
        out.append(fp._floor_div(acc, wad))
    return out
