# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse lens
@notice Read-only breakdowns for UIs, the CLI and keepers, kept out of the
        Clearinghouse so they cost it no bytecode. Everything is computed
        from the Clearinghouse's own views with the same maths
        (`markets._risk`), so a row here sums to what `account_health`
        reports.
        The liquidation price of a position is the price of its market at
        which the account's equity would equal its maintenance margin, all
        other prices held where they are (collateral included, even when it
        is the same asset) and funding frozen:
            E + s * (p - P) = M - mm + |s| * p * mmr(s)
        so  p = ((M - mm - E) + s * P) / (s - |s| * mmr(s)),
        rounded toward the current price (a long is liquidated a little
        earlier, a short a little earlier too). 0 means no positive price
        liquidates the account through this position alone.
@custom:security View-only; holds nothing; trusts only the Clearinghouse it
                 is asked about.
"""

from .interfaces import IClearinghouseView
from .interfaces import IOracleRouter
from .modules import constants
from .modules import fixed_point as fp
from .modules import markets


struct PositionDetail:
    market_id: uint256
    size: int256
    entry_price: uint256
    price: uint256
    notional: uint256
    pnl: int256
    funding: int256
    im: uint256
    mm: uint256
    liquidation_price: uint256


@external
@view
def position_details(
    clearinghouse: IClearinghouseView, owner: address, sub_id: uint256
) -> DynArray[PositionDetail, constants.MAX_MARKETS]:
    """
    @notice Every open position of an account with its PnL, funding owed,
            margins and liquidation price.
    @param clearinghouse The engine.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return One row per open position, in market order (WAD USD, WAD sizes).
    """
    out: DynArray[PositionDetail, constants.MAX_MARKETS] = []
    h: IClearinghouseView.Health = staticcall clearinghouse.account_health(owner, sub_id)
    oracle: IOracleRouter = IOracleRouter(staticcall clearinghouse.oracle())
    mask: uint256 = staticcall clearinghouse.position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            out.append(self._detail(clearinghouse, oracle, owner, sub_id, m, h))
        mask >>= 1
    return out


@internal
@view
def _detail(
    ch: IClearinghouseView,
    oracle: IOracleRouter,
    owner: address,
    sub_id: uint256,
    m: uint256,
    h: IClearinghouseView.Health,
) -> PositionDetail:
    q: IClearinghouseView.Position = staticcall ch.position(owner, sub_id, m)
    pos: markets.Position = markets.Position(
        size=q.size, entry_price=q.entry_price, funding_index=q.funding_index
    )
    c: IClearinghouseView.MarketParams = staticcall ch.market_params(m)
    p: markets.MarketParams = markets.MarketParams(
        asset=c.asset,
        imr_base=c.imr_base,
        mmr_base=c.mmr_base,
        im_size_scalar=c.im_size_scalar,
        mm_size_scalar=c.mm_size_scalar,
        skew_scale=c.skew_scale,
        taker_fee=c.taker_fee,
        maker_fee=c.maker_fee,
        max_oi=c.max_oi,
        max_funding_velocity=c.max_funding_velocity,
        max_funding_rate=c.max_funding_rate,
    )
    price: uint256 = staticcall oracle.price(p.asset)
    rate: int256 = 0
    index: int256 = 0
    rate, index = staticcall ch.funding_now(m)
    r: markets.PositionRisk = markets._risk(pos, p, price, index)
    mmr: uint256 = markets._margin_ratio(fp._abs(pos.size), p.mmr_base, p.mm_size_scalar, p.skew_scale)
    return PositionDetail(
        market_id=m,
        size=pos.size,
        entry_price=pos.entry_price,
        price=price,
        notional=r.notional,
        pnl=r.pnl,
        funding=r.funding,
        im=r.im,
        mm=r.mm,
        liquidation_price=self._liquidation_price(pos.size, price, mmr, h.equity, h.mm, r.mm),
    )


@internal
@pure
def _liquidation_price(
    size: int256, price: uint256, mmr: uint256, equity: int256, account_mm: uint256, position_mm: uint256
) -> uint256:
    wad: int256 = convert(constants.WAD, int256)
    # num in WAD^2 units, den in WAD units: p = num / den is WAD USD.
    num: int256 = (convert(account_mm, int256) - convert(position_mm, int256) - equity) * wad + size * convert(price, int256)
    den: int256 = fp._floor_div(size * wad - convert(fp._abs(size) * mmr, int256), wad)
    if den == 0:
        return 0
    p: int256 = 0
    if den > 0:
        p = fp._ceil_div(num, den)
    else:
        p = fp._floor_div(-num, -den)
    return convert(max(p, 0), uint256)
