# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin auto-deleveraging (ADL)
@notice The profit cap (`liquidity`) stops trades that would grow traders'
        net profit in a market past `max_pnl_factor` of the pool's value,
        but a price move can take it there with no trade at all. Then
        anyone may `adl` a winning position on the side the market's skew
        is on (the side whose profit is the pool's loss): the engine closes
        the least part of it that brings the market's net profit back to
        `adl_target_factor` of the pool's value (the value before the
        close), or the whole position, or at most |skew| (an ADL never
        grows the pool's exposure). The close is a reducing trade at the
        oracle price: it pays the skew premium and the fee a trade of that
        size would (so an ADL earns no one a fee-free exit or an unfunded
        premium refund), but the closed part's profit and funding are
        realised in proportion (the rest keeps its entry price and funding
        index), so the market's net profit falls by exactly the closed
        part's.
        Which winner goes first is the caller's choice: the engine cannot
        rank every account without a loop over users. The keeper ranks
        them as Hyperliquid does, by profit ratio times leverage
        (`xmargin.maths.pool.adl_rank`), and docs/pool.md states the rule.
        An ADL needs the market's caps set, liquidations open (not paused,
        not in the grace period), valid prices for every market with open
        interest (the pool's value), a position in profit on the skew's
        side, and a caller other than the account and its operators (who
        close their own positions with `trade`). For a portfolio-margin
        account, whose MM is its whole book's, the close must not raise MM
        unless the account stays at or above it: closing one leg of a hedge
        must not make it liquidatable.
@custom:security No token moves. The account's quote credit rounds down and
                 the pool's ledger moves by the same native amount, so the
                 ledgers still sum to the tokens held.
"""

from snekmate.utils import math

from . import accounts
from . import collateral
from . import constants
from . import fixed_point as fp
from . import governance
from . import health
from . import liquidity
from . import markets
from . import operators
from . import errors

uses: accounts
uses: collateral
uses: governance
uses: liquidity
uses: markets
uses: operators


# A market's auto-deleveraging figures, WAD USD.
struct AdlState:
    # traders' net profit in the market (PnL less the funding they owe)
    profit: int256
    # the pool's value
    value: uint256
    # max_pnl_factor * value: ADL runs while profit is above it
    limit: uint256
    # adl_target_factor * value: what one ADL brings profit back to
    target: uint256


event AutoDeleverage:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    caller: address
    size_delta: int256
    new_size: int256
    price: uint256
    funding_index: int256
    # WAD USD: the closed part's realised PnL and funding owed, the skew
    # premium paid (< 0: received) and the fee
    pnl: int256
    funding: int256
    premium: int256
    fee: uint256
    # native quote units credited to the account (debited to the pool)
    quote_delta: int256
    # the market's net profit and the pool's value before the close, WAD
    profit_before: int256
    value: uint256


@external
@view
def adl_state(market_id: uint256) -> AdlState:
    """
    @notice Whether a market needs auto-deleveraging: traders' net profit
            in it against `max_pnl_factor` and `adl_target_factor` of the
            pool's value (`adl` runs while profit > limit).
    @param market_id A listed market (limit and target are 0 if uncapped).
    @return (profit, value, limit, target), WAD USD.
    """
    markets._check_market(market_id)
    s: liquidity.PoolState = empty(liquidity.PoolState)
    t: liquidity.MarketTerms = empty(liquidity.MarketTerms)
    s, t = liquidity._pool_and_market(market_id)
    return self._adl_state(market_id, s.value, t)


@external
def adl(owner: address, sub_id: uint256, market_id: uint256, max_size: uint256) -> uint256:
    """
    @notice Auto-deleverages a winning position on the skew's side of a
            market whose traders' net profit is above `max_pnl_factor` of
            the pool's value: closes, as a reducing trade (skew premium and
            fee included), the least size that brings that profit back to
            `adl_target_factor` of the value, at most the position, |skew|
            and `max_size`.
    @param owner The account owner (not the caller or its operator).
    @param sub_id The sub-account.
    @param market_id A capped market.
    @param max_size Most size to close (WAD base units, > 0).
    @return The size closed (WAD base units).
    """
    governance._check_liquidations_open()
    assert not operators._acts_for(msg.sender, owner, sub_id), errors.ADL_SELF
    markets._check_market(market_id)
    assert max_size > 0, errors.ZERO_SIZE
    assert liquidity.adl_target_of[market_id] != 0, errors.ADL_NOT_SET
    old: markets.Position = markets._position(owner, sub_id, market_id)
    assert old.size != 0, errors.NO_POSITION
    mm_before: uint256 = 0
    in_portfolio: bool = accounts._is_portfolio(owner, sub_id)
    if in_portfolio:
        mm_before = health._health(owner, sub_id).mm

    price: uint256 = markets._price(market_id)
    index: int256 = markets._accrue(market_id, price)
    s: liquidity.PoolState = empty(liquidity.PoolState)
    t: liquidity.MarketTerms = empty(liquidity.MarketTerms)
    s, t = liquidity._pool_and_market(market_id)
    a: AdlState = self._adl_state(market_id, s.value, t)
    assert a.profit > convert(a.limit, int256), errors.ADL_NOT_NEEDED
    pnl: int256 = 0
    funding: int256 = 0
    pnl, funding = markets._pnl_funding(old, price, index)
    net: int256 = pnl - funding
    assert net > 0, errors.ADL_NOT_IN_PROFIT
    # The skew's side only: closing a position against it would grow the
    # pool's exposure (and its close refunds no premium it was paid).
    skew: int256 = markets._skew(market_id)
    assert skew != 0 and (old.size > 0) == (skew > 0), errors.ADL_WRONG_SIDE

    # The least size whose share of the position's net profit covers the
    # excess over the target (rounded up: the target is reached).
    size_abs: uint256 = fp._abs(old.size)
    excess: uint256 = convert(a.profit - convert(a.target, int256), uint256)
    closed: uint256 = min(
        min(
            min(math._mul_div(excess, size_abs, convert(net, uint256), True), size_abs),
            fp._abs(skew),
        ),
        max_size,
    )
    delta: int256 = convert(closed, int256)
    if old.size > 0:
        delta = -delta
    p: markets.MarketParams = markets._params(market_id)
    premium: int256 = markets._premium(
        delta, markets._fill_adjustment(skew, delta, price, p.skew_scale)
    )
    fee: uint256 = markets._fee(skew, delta, price, p)
    # The closed part keeps the position's entry price and funding index:
    # its profit is realised in proportion, the rest stays unrealised.
    part: markets.Position = markets.Position(
        size=-delta, entry_price=old.entry_price, funding_index=old.funding_index
    )
    part_pnl: int256 = 0
    part_funding: int256 = 0
    part_pnl, part_funding = markets._pnl_funding(part, price, index)
    # What the pool can pay of the part's profit (the realisation cap).
    quote_delta: int256 = fp._floor_div(
        liquidity._pay_out(s, part_pnl - part_funding) - premium - convert(fee, int256),
        convert(liquidity._precision(), int256),
    )
    if quote_delta != 0:
        collateral._add(owner, sub_id, collateral.quote_asset, quote_delta)
        liquidity._move_cash(-quote_delta)

    st: markets.MarketTotals = markets._totals(market_id)
    if old.size > 0:
        st.long_oi -= closed
    else:
        st.short_oi -= closed
    st.entry_sum += delta * convert(old.entry_price, int256)
    st.funding_sum += delta * old.funding_index
    markets._store_totals(market_id, st)
    new_size: int256 = old.size + delta
    markets._store_position(owner, sub_id, market_id, new_size, old.entry_price, old.funding_index)
    if new_size == 0:
        accounts._flip(owner, sub_id, 1 << (accounts.POSITION_SHIFT + market_id))

    if in_portfolio:
        h: health.Health = health._health(owner, sub_id)
        assert h.equity >= convert(h.mm, int256) or h.mm <= mm_before, errors.ADL_RAISES_MM
    log AutoDeleverage(
        owner=owner,
        sub_id=sub_id,
        market_id=market_id,
        caller=msg.sender,
        size_delta=delta,
        new_size=new_size,
        price=price,
        funding_index=index,
        pnl=part_pnl,
        funding=part_funding,
        premium=premium,
        fee=fee,
        quote_delta=quote_delta,
        profit_before=a.profit,
        value=s.value,
    )
    return closed


@internal
@view
def _adl_state(market_id: uint256, pool_value: uint256, t: liquidity.MarketTerms) -> AdlState:
    return AdlState(
        profit=t.pnl - t.funding,
        value=pool_value,
        limit=math._mul_div(pool_value, liquidity.caps_of[market_id] >> 128, constants.WAD, False),
        target=math._mul_div(pool_value, liquidity.adl_target_of[market_id], constants.WAD, False),
    )
