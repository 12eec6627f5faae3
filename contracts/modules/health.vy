# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin account health
@notice One view of an account's margin, in WAD USD:
            equity = quote + sum(value_a * (1 - mm_haircut_a))
                     + sum(unrealised PnL_m - funding owed_m)
            MM     = sum(notional_m * mmr_m(size_m))
            IM     = sum(notional_m * imr_m(size_m))
                     + sum(value_a * (1 - mm_haircut_a)) - sum(value_a * (1 - im_haircut_a))
        Equity is what the account is worth to a liquidator (maintenance
        haircuts). The tighter initial haircut enters IM as the difference of
        the two weighted values, so `equity >= IM` is exactly
        "collateral at initial haircuts covers position IM", with no double
        rounding. With no positions, MM is 0 and IM is that difference (0 when
        the two haircuts are equal).
        That is linear margin. A sub-account in portfolio mode
        (`set_margin_mode`, modules/portfolio.vy) keeps the same equity but
        takes MM and IM from the scenario set over its whole book.
        Risk-increasing actions need `equity >= IM` afterwards; an account with
        `equity < MM` is liquidatable.
@custom:security Collateral and PnL round down, funding owed and margins
                 round up: equity is never overstated, requirements never
                 understated.
"""

from . import collateral
from . import markets
from . import portfolio
from . import errors

uses: (collateral, markets, portfolio)


struct Health:
    equity: int256
    im: uint256
    mm: uint256


@external
@view
def account_health(owner: address, sub_id: uint256) -> Health:
    """
    @notice Equity, initial margin and maintenance margin of an account.
    @dev Reverts if a held asset has no valid price.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return (equity, im, mm) in WAD USD.
    """
    return self._account_health(owner, sub_id)


@external
@view
def collateral_value(owner: address, sub_id: uint256) -> collateral.CollateralValue:
    """
    @notice The account's collateral before and after haircuts.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return (quote, market, weighted_mm, weighted_im) in WAD USD.
    """
    return collateral._collateral_value(owner, sub_id)


@external
def set_margin_mode(sub_id: uint256, portfolio_mode: bool):
    """
    @notice Switches one of the caller's sub-accounts between linear margin
            (position by position) and portfolio margin (the whole book over
            the risk set's scenarios). An account with debt or positions
            must meet the new mode's initial margin.
    @param sub_id The caller's sub-account.
    @param portfolio_mode True for portfolio margin, False for linear.
    """
    portfolio._set_mode(msg.sender, sub_id, portfolio_mode)
    self._check_initial_margin(msg.sender, sub_id)


@internal
@view
def _account_health(owner: address, sub_id: uint256) -> Health:
    if portfolio._is_portfolio(owner, sub_id):
        return self._portfolio_health(portfolio._exposure(owner, sub_id))
    c: collateral.CollateralValue = collateral._collateral_value(owner, sub_id)
    r: markets.PositionRisk = markets._positions_risk(owner, sub_id)
    # weighted_mm, weighted_im <= market <= 2**128 * 1e36 / 1e18 < 2**255:
    # the conversions cannot fail.
    return Health(
        equity=c.quote + convert(c.weighted_mm, int256) + r.pnl - r.funding,
        # im_haircut >= mm_haircut for every asset, so weighted_im <= weighted_mm.
        im=c.weighted_mm - c.weighted_im + r.im,
        mm=r.mm,
    )


@internal
@view
def _portfolio_health(x: portfolio.Exposure) -> Health:
    """
    @dev A portfolio account's health from its `portfolio._exposure`: the
         linear equity, the risk set's MM and IM.
    """
    mm: uint256 = 0
    im: uint256 = 0
    mm, im = portfolio._requirement(x)
    return Health(equity=x.equity, im=im, mm=mm)


@internal
@view
def _has_liabilities(owner: address, sub_id: uint256) -> bool:
    """
    @dev An account with no debt and no positions is always above IM, so
         risk checks can skip pricing it: a withdrawal then works even while
         an oracle is down.
    """
    return (
        collateral.balances[owner][sub_id][collateral.quote_asset] < 0
        or markets.position_mask[owner][sub_id] != 0
    )


@internal
@view
def _check_initial_margin(owner: address, sub_id: uint256):
    """
    @dev The post-condition of every risk-increasing action.
    """
    if not self._has_liabilities(owner, sub_id):
        return
    h: Health = self._account_health(owner, sub_id)
    assert h.equity >= convert(h.im, int256), errors.BELOW_IM
