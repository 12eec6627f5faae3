# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin portfolio margin: risk groups, the risk set, account exposure
@notice A sub-account in portfolio mode is margined on its whole book over
        the scenarios of a PortfolioRisk contract instead of position by
        position (docs/portfolio-margin.md). Every asset (collateral or a
        market's oracle key) belongs to one risk group, 0 unless the owner
        says otherwise. For each group the engine sums the account's
        exposure at today's prices:
            V_g = sum over positions priced from a group-g asset of size * price
                + sum over group-g collateral of value * (1 - mm_haircut)
                + the quote balance at its peg, in the quote's group
        (each term both rounded down and up), and the risk set turns the
        sums into MM and IM. Equity is the linear engine's equity, unchanged.
        Nothing is stored per account but the mode: the exposure is rebuilt
        from the positions and balances the equity reads anyway, so a trade
        or a deposit costs a portfolio account no extra write, and the
        scenario grid runs over groups, never over positions.
@custom:security Invariant kept by every setter: each listed asset's and
                 each market's group is below the risk set's `num_groups`,
                 so no held asset can fall outside the scenarios.
"""

from snekmate.auth import ownable

from ..interfaces import IPortfolioRisk
from . import accounts
from . import collateral
from . import constants
from . import fixed_point as fp
from . import markets
from . import errors

uses: ownable
uses: accounts
uses: collateral
uses: markets

MAX_GROUPS: constant(uint256) = 8


# An account's book (WAD USD), from `health._book`'s one pass: what both
# margin modes read.
struct Exposure:
    # Linear equity (quote + weighted collateral + PnL - funding).
    equity: int256
    # Collateral haircut gap (weighted at MM - weighted at IM): IM add-on.
    addon: uint256
    # Per risk group, rounded down and up (portfolio pass only).
    lo: int256[MAX_GROUPS]
    hi: int256[MAX_GROUPS]
    gross_notional: uint256
    open_positions: uint256
    # Quote balance at face value, collateral market value and its value
    # after maintenance haircuts.
    quote: int256
    market: uint256
    weighted_mm: uint256
    # Sum of the positions' linear IM and MM (linear pass only).
    im: uint256
    mm: uint256


event PortfolioRiskSet:
    previous_risk: indexed(address)
    new_risk: indexed(address)


event RiskGroupSet:
    asset: indexed(address)
    group: uint256


event MarginModeSet:
    owner: indexed(address)
    sub_id: indexed(uint256)
    portfolio: bool


portfolio_risk: public(IPortfolioRisk)
# asset (collateral or market oracle key) -> risk group.
risk_group: public(reentrant(HashMap[address, uint256]))
# The mode is `accounts.PORTFOLIO_FLAG` of the account's header word, which
# every health check reads anyway.


# ---------------------------------------------------------------- configuration


@external
def set_portfolio_risk(risk: address):
    """
    @notice Points portfolio-mode accounts at a PortfolioRisk scenario set.
            Every listed asset's and market's risk group must exist in it.
            Takes effect for every portfolio account at once (like an
            oracle change): accounts it pushes under MM become liquidatable.
    @param risk The PortfolioRisk contract.
    """
    ownable._check_owner()
    assert risk.is_contract, errors.RISK_SET_NOT_CONTRACT
    groups: uint256 = staticcall IPortfolioRisk(risk).num_groups()
    assert groups > 0 and groups <= MAX_GROUPS, errors.RISK_SET_BAD_GROUPS
    for i: uint256 in range(constants.MAX_ASSETS):
        if i == collateral.num_assets:
            break
        assert self.risk_group[collateral.asset_list[i]] < groups, errors.ASSET_GROUP_NOT_IN_SET
    for m: uint256 in range(constants.MAX_MARKETS):
        if m == markets.num_markets:
            break
        assert self.risk_group[markets._asset(m)] < groups, errors.MARKET_GROUP_NOT_IN_SET
    log PortfolioRiskSet(previous_risk=self.portfolio_risk.address, new_risk=risk)
    self.portfolio_risk = IPortfolioRisk(risk)


@external
def set_risk_group(asset: address, group: uint256):
    """
    @notice Puts an asset (a listed collateral token or a listed market's
            oracle key) in a risk group. Unset assets are in group 0.
    @param asset The asset.
    @param group The group, below the risk set's `num_groups` (or below 8
           while no risk set is configured).
    """
    ownable._check_owner()
    # Only listed assets: every one of them is checked against a new risk
    # set, so none can sit in a group the set in force does not shock.
    listed: bool = collateral.asset_word[asset] != 0
    for m: uint256 in range(constants.MAX_MARKETS):
        if listed or m == markets.num_markets:
            break
        listed = markets._asset(m) == asset
    assert listed, errors.GROUP_ASSET_NOT_LISTED
    groups: uint256 = MAX_GROUPS
    if self.portfolio_risk.address != empty(address):
        groups = staticcall self.portfolio_risk.num_groups()
    assert group < groups, errors.NO_SUCH_GROUP
    self.risk_group[asset] = group
    log RiskGroupSet(asset=asset, group=group)


# ---------------------------------------------------------------- views


@external
@view
def portfolio_mode(owner: address, sub_id: uint256) -> bool:
    """
    @notice Whether the sub-account is margined in portfolio mode.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return True in portfolio mode, False in linear mode.
    """
    return accounts._is_portfolio(owner, sub_id)


# ---------------------------------------------------------------- internals


@internal
def _set_mode(owner: address, sub_id: uint256, portfolio_mode: bool):
    """
    @dev Flips the flag; the caller checks the margin afterwards.
    """
    assert accounts._is_portfolio(owner, sub_id) != portfolio_mode, errors.ALREADY_IN_MODE
    if portfolio_mode:
        assert self.portfolio_risk.address != empty(address), errors.PM_NOT_CONFIGURED
    accounts._flip(owner, sub_id, accounts.PORTFOLIO_FLAG)
    log MarginModeSet(owner=owner, sub_id=sub_id, portfolio=portfolio_mode)


@internal
@view
def _requirement(x: Exposure) -> (uint256, uint256):
    """
    @dev (MM, IM before the collateral add-on) of an exposure under the
         current risk set.
    """
    return staticcall self.portfolio_risk.requirement(
        x.lo, x.hi, x.gross_notional, x.open_positions
    )


@internal
@view
def _close_order(
    owner: address, sub_id: uint256, market_id: uint256, x: Exposure
) -> (int256, int256, uint256):
    """
    @dev Each open position's P&L in the account's worst scenario (found
         from `x`, the account's `health._book`), unscaled:
         shock[worst][group] * floor(size * (price - accrued) / WAD). Returns (that of
         `market_id`, the lowest, the first market with the lowest).
    """
    worst: uint256 = 0
    row: int256[MAX_GROUPS] = empty(int256[MAX_GROUPS])
    worst, row = staticcall self.portfolio_risk.worst_scenario(x.lo, x.hi)
    wad: int256 = convert(constants.WAD, int256)
    chosen: int256 = 0
    lowest: int256 = max_value(int256)
    first: uint256 = 0
    mask: uint256 = accounts._position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            size: int256 = markets._position(owner, sub_id, m).size
            price: uint256 = markets._price(m)
            rate: int256 = 0
            index: int256 = 0
            rate, index = markets._funding(m, price)
            # As in the grid: the funding accrued since the market's last
            # touch moves with the price (`health._book`).
            c: int256 = row[self.risk_group[markets._asset(m)]] * fp._floor_div(
                size * (convert(price, int256) - index + markets._stored_funding(m)[1]), wad
            )
            if c < lowest:
                lowest = c
                first = m
            if m == market_id:
                chosen = c
        mask >>= 1
    return chosen, lowest, first
