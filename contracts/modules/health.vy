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
        An account holding options (OptionsDesk) adds the desk's value of
        its option positions to equity and their margin to IM and MM, in
        either mode (docs/options.md; portfolio mode gives options no
        scenario credit yet).
        Risk-increasing actions need `equity >= IM` afterwards; an account with
        `equity < MM` is liquidatable.
@custom:security Collateral and PnL round down, funding owed and margins
                 round up: equity is never overstated, requirements never
                 understated.
"""

from snekmate.utils import math

from . import accounts
from . import collateral
from . import constants
from . import errors
from . import fixed_point as fp
from . import governance
from . import markets
from . import options
from . import oracle
from . import orders
from . import portfolio

uses: accounts
uses: collateral
uses: governance
uses: markets
uses: options
uses: oracle
uses: orders
uses: portfolio


struct Health:
    equity: int256
    im: uint256
    mm: uint256


# The core's own probes, which the extensions ask (`_health`, `_exposure`)
# instead of carrying a copy of `_book`.
interface Engine:
    def health_probe(owner: address, sub_id: uint256) -> Health: view
    def exposure_probe(owner: address, sub_id: uint256) -> portfolio.Exposure: view


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
@reentrant
def health_probe(owner: address, sub_id: uint256) -> Health:
    """
    @notice `account_health` for the engine's own trade path, which holds
            the lock: a whole close asks it so that a price it cannot read
            fails this call only (`trading`). Only the engine may call it,
            so no outside reader sees state mid-transaction.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return (equity, im, mm) in WAD USD.
    """
    assert msg.sender == self, errors.ENGINE_ONLY
    return self._account_health(owner, sub_id)


@external
@view
@reentrant
def exposure_probe(owner: address, sub_id: uint256) -> portfolio.Exposure:
    """
    @notice `portfolio_exposure` for the engine's extensions, which hold
            the lock, with the risk set's MM and IM filled in: a portfolio
            liquidation orders its close by the exposure and checks the
            requirement, from one pass over the book. Only the engine may
            call it, so no outside reader sees state mid-transaction.
    @dev For an account in portfolio mode (the risk set must be set).
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return The account's book as the risk set sees it, its im and mm
            the portfolio requirement.
    """
    assert msg.sender == self, errors.ENGINE_ONLY
    x: portfolio.Exposure = self._book(owner, sub_id, True, True)
    h: Health = self._portfolio_health(owner, sub_id, x)
    x.equity = h.equity
    x.mm = h.mm
    x.im = h.im
    return x


@external
@view
def collateral_value(owner: address, sub_id: uint256) -> collateral.CollateralValue:
    """
    @notice The account's collateral before and after haircuts.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return (quote, market, weighted_mm, weighted_im) in WAD USD.
    """
    x: portfolio.Exposure = self._book(owner, sub_id, False, False)
    return collateral.CollateralValue(
        quote=x.quote,
        market=x.market,
        weighted_mm=x.weighted_mm,
        weighted_im=x.weighted_mm - x.addon,
    )


@external
@view
def portfolio_exposure(owner: address, sub_id: uint256) -> portfolio.Exposure:
    """
    @notice The account's book as the risk set sees it, in either mode
            (what portfolio mode would charge; reverts on a bad price).
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return (equity, addon, lo, hi, gross_notional, open_positions, quote,
            market, weighted_mm, im, mm), WAD USD; im and mm are 0.
    """
    return self._book(owner, sub_id, True, True)


@external
def set_margin_mode(sub_id: uint256, portfolio_mode: bool):
    """
    @notice Switches one of the caller's sub-accounts between linear margin
            (position by position) and portfolio margin (the whole book over
            the risk set's scenarios). An account with debt or positions
            must meet the new mode's initial margin. While paused, a switch
            that lowers either margin (a risk increase) is refused; with a
            pending order (`commit_order`), every switch is.
    @param sub_id The caller's sub-account.
    @param portfolio_mode True for portfolio margin, False for linear.
    """
    orders._check_no_order(msg.sender, sub_id)
    before: Health = empty(Health)
    paused: bool = governance.paused
    if paused:
        before = self._account_health(msg.sender, sub_id)
    portfolio._set_mode(msg.sender, sub_id, portfolio_mode)
    self._check_initial_margin(msg.sender, sub_id)
    if paused:
        after: Health = self._account_health(msg.sender, sub_id)
        assert after.im >= before.im and after.mm >= before.mm, errors.PAUSED


@internal
@view
def _account_health(owner: address, sub_id: uint256) -> Health:
    if accounts._is_portfolio(owner, sub_id):
        return self._portfolio_health(owner, sub_id, self._book(owner, sub_id, True, True))
    x: portfolio.Exposure = self._book(owner, sub_id, False, True)
    # im_haircut >= mm_haircut for every asset, so the add-on is >= 0.
    h: Health = Health(equity=x.equity, im=x.addon + x.im, mm=x.mm)
    if not accounts._has_options(owner, sub_id):
        return h
    # Linear mode: the options' value, and their margin position by position.
    r: options.OptionRisk = options._account_risk(owner, sub_id)
    return Health(equity=h.equity + r.value, im=h.im + r.im, mm=h.mm + r.mm)


@internal
@view
def _health(owner: address, sub_id: uint256) -> Health:
    """
    @dev `_account_health` as the core computes it, for the extensions
         (trades, liquidation, ADL): a `staticcall` to the core's
         `health_probe` (~3k gas) instead of a copy of `_book` in each
         extension (~2.4-2.9 KB each; docs/architecture.md). Same
         transaction, same storage, same price cache.
    """
    return staticcall Engine(self).health_probe(owner, sub_id)


@internal
@view
def _exposure(owner: address, sub_id: uint256) -> portfolio.Exposure:
    """
    @dev `_book(owner, sub_id, True, True)` with the portfolio
         requirement in its im and mm, through the core's
         `exposure_probe`, for the extensions.
    """
    return staticcall Engine(self).exposure_probe(owner, sub_id)


@internal
@view
def _check_im(owner: address, sub_id: uint256):
    """
    @dev `_check_initial_margin` through the core.
    """
    if not self._has_liabilities(owner, sub_id):
        return
    h: Health = self._health(owner, sub_id)
    assert h.equity >= convert(h.im, int256), errors.BELOW_IM


@internal
@view
def _portfolio_health(owner: address, sub_id: uint256, x: portfolio.Exposure) -> Health:
    """
    @dev A portfolio account's health from its `_book(.., True, True)`: the
         linear equity, the risk set's MM and IM; with options, their value
         and the requirement of the whole book over the risk set's price x
         volatility grid, from the desk.
    """
    value: int256 = 0
    mm: uint256 = 0
    im: uint256 = 0
    if accounts._has_options(owner, sub_id):
        value, mm, im = options._portfolio_risk(
            owner,
            sub_id,
            portfolio.portfolio_risk.address,
            x.lo,
            x.hi,
            x.gross_notional,
            x.open_positions,
        )
    else:
        mm, im = portfolio._requirement(x)
    return Health(equity=x.equity + value, im=im + x.addon, mm=mm)


@internal
@view
def _has_liabilities(owner: address, sub_id: uint256) -> bool:
    """
    @dev An account with no debt and no positions is always above IM, so
         risk checks can skip pricing it: a withdrawal then works even while
         an oracle is down.
    """
    return collateral.balances[owner][sub_id][
        collateral.quote_asset
    ] < 0 or accounts._has_positions(owner, sub_id)


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


@internal
@view
def _book(owner: address, sub_id: uint256, groups: bool, positions: bool) -> portfolio.Exposure:
    """
    @dev One pass over the account's held collateral and open positions,
         rounded against the account (collateral and PnL down, funding owed
         and margins up), giving the linear equity and what each margin
         mode needs: with `groups` (portfolio mode) each asset's and
         position's exposure is added to its risk group, rounded both ways,
         and the positions are counted; without it each position's linear
         IM and MM are summed. Without `positions` only the collateral is
         priced (no market's price is read). Reverts if a price it needs is
         invalid.
    """
    x: portfolio.Exposure = empty(portfolio.Exposure)
    quote: address = collateral.quote_asset
    x.quote = collateral.balances[owner][sub_id][quote] * convert(
        collateral.asset_word[quote] >> collateral.PRECISION_SHIFT, int256
    )
    if groups and x.quote != 0:
        g: uint256 = portfolio.risk_group[quote]
        x.lo[g] = x.quote
        x.hi[g] = x.quote
    # Bit 0 is the quote asset, valued above.
    mask: uint256 = accounts._held_mask(owner, sub_id) >> 1
    for i: uint256 in range(1, constants.MAX_ASSETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            asset: address = collateral.asset_list[i]
            # An asset at a 100 % maintenance haircut (a frozen asset at the
            # end of its ramp) counts for nothing in any view: its price is
            # not read, so its dead feed blocks nobody.
            # The asset's word, read once (layout at `collateral.asset_word`).
            w: uint256 = collateral.asset_word[asset]
            mm_haircut: uint256 = w & collateral.LANE_64
            if mm_haircut != constants.WAD:
                # Non-quote balances are never negative.
                amount: uint256 = convert(collateral.balances[owner][sub_id][asset], uint256) * (
                    w >> collateral.PRECISION_SHIFT
                )
                price: uint256 = oracle._price(asset)
                value: uint256 = math._mul_div(amount, price, constants.WAD, False)
                keep: uint256 = constants.WAD - mm_haircut
                weighted_mm: uint256 = math._mul_div(value, keep, constants.WAD, False)
                x.market += value
                x.weighted_mm += weighted_mm
                x.addon += weighted_mm - math._mul_div(
                    value,
                    constants.WAD - ((w >> 64) & collateral.LANE_64),
                    constants.WAD,
                    False,
                )
                if groups:
                    g: uint256 = portfolio.risk_group[asset]
                    x.lo[g] += convert(weighted_mm, int256)
                    x.hi[g] += convert(
                        math._mul_div(
                            math._mul_div(amount, price, constants.WAD, True),
                            keep,
                            constants.WAD,
                            True,
                        ),
                        int256,
                    )
        mask >>= 1
    # weighted_mm <= market <= 2**128 * 1e18 * 1e36 / 1e18 < 2**255: the
    # conversion cannot fail.
    x.equity = x.quote + convert(x.weighted_mm, int256)

    if not positions:
        return x
    wad: int256 = convert(constants.WAD, int256)
    mask = accounts._position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            price: uint256 = markets._price(m)
            rate: int256 = 0
            index: int256 = 0
            rate, index = markets._funding(m, price)
            pos: markets.Position = markets._position(owner, sub_id, m)
            if groups:
                pnl: int256 = 0
                funding: int256 = 0
                pnl, funding = markets._pnl_funding(pos, price, index)
                x.equity += pnl - funding
                x.gross_notional += math._mul_div(fp._abs(pos.size), price, constants.WAD, True)
                x.open_positions += 1
                g: uint256 = portfolio.risk_group[markets._asset(m)]
                # Funding accrued since the market's last touch is booked at
                # the next touch's price: a scenario's move moves it too, so
                # the exposure is size * (price - accrued per unit). The
                # stored index (`markets._stored_funding`, inline as in
                # `markets._funding`: 55 bytes less on the hot path).
                stored: int256 = (
                    convert(convert(markets.funding_word[m] << 112, bytes32), int256) >> 112
                )
                e: int256 = pos.size * (convert(price, int256) - index + stored)
                x.lo[g] += fp._floor_div(e, wad)
                x.hi[g] += fp._ceil_div(e, wad)
            else:
                r: markets.PositionRisk = markets._risk(pos, markets._risk_params(m), price, index)
                x.equity += r.pnl - r.funding
                x.gross_notional += r.notional
                x.im += r.im
                x.mm += r.mm
        mask >>= 1
    return x
