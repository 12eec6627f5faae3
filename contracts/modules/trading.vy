# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin trading: perpetual trades against the liquidity pool
@notice `trade` opens, grows, reduces, closes or flips a position at the
        oracle price plus the skew premium and the fee (see `markets`). The
        pool is the counterparty: every quote amount a trader gains the pool
        loses and vice versa, so trader and pool ledgers always sum to zero.
        Before the trade the old position is settled: its PnL and funding go
        to the quote balance, which may go negative (a debt backed by the
        rest of the account).
        A trade that only shrinks a position (same side, smaller, or to zero)
        is allowed while paused, in a closed market, above the OI cap and
        the pool's capital caps and below initial margin, so a user can
        always de-risk, with one limit:
        when it pays a premium and fee (and the account still owes), the
        account must end at or above MM, or have paid no more than the
        maintenance margin the reduction freed and stay solvent (E >= 0);
        and for an account in portfolio margin mode, whose MM is the whole
        book's, it must end at or above IM or leave MM no higher than it
        was (closing one leg of a hedge is a risk increase).
        A linear account's whole close that pays no premium needs only its
        own market's price: when the account's health cannot be read (a
        price it needs is invalid), it goes through without that check.
        Otherwise a reduction into a skew the same owner built could pay a
        premium larger than the account's equity, leave bad debt for the
        pool, and refund the premium to the owner's other account. Any
        other trade needs the market open, the engine unpaused, room under
        the OI cap, `equity >= IM` afterwards and, if it grows the
        market's larger side or its |skew|, room under the pool's capital
        caps (`liquidity`).
        In a capped market, the old position's profit is paid only as far
        as the pool can pay it (`liquidity._realisable`: the realisation
        cap), which values the pool: every market with open interest then
        needs a valid price.
@custom:security No token moves: settlement is internal to the ledger. The
                 quote amount is rounded down for the trader once, after
                 PnL, funding, premium and fee are summed in WAD.
"""

from . import accounts
from . import collateral
from . import constants
from . import fixed_point as fp
from . import governance
from . import health
from . import liquidity
from . import markets
from . import operators
from . import oracle
from . import orders
from . import registry
from . import errors

uses: accounts
uses: collateral
uses: governance
uses: health
uses: liquidity
uses: markets
uses: operators
uses: oracle
uses: orders
uses: registry


# A call that failed after `gas_before` was measured ran out of gas
# rather than failed on its own when at most gas_before / STARVED is left:
# each frame a starved call ran through kept 1/64 of its gas, and a failure
# that a frame caught (a feed call, the health probe) returns cleanly with
# those reserves, 1 - (63/64)^d of the gas d frames deep. The trade runs at
# most 6 deep (the engine, the orders extension, the probe, the router, a
# feed); 1/8 is sound to 8 deep (found by review: 1/32 was not).
STARVED: constant(uint256) = 8


event Trade:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    size_delta: int256
    new_size: int256
    oracle_price: uint256
    fill_price: uint256
    # WAD USD: realised PnL and funding of the old position, premium, fee.
    pnl: int256
    funding: int256
    premium: int256
    fee: uint256
    # Native quote units credited (> 0) or debited (< 0) to the account.
    quote_delta: int256
    funding_index: int256


event OrderCommitted:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    size_delta: int256
    acceptable_price: uint256
    # Native quote units escrowed for the settler.
    fee: uint256
    # The settlement price must be published at or after this time; the
    # order may settle until `expires` (inclusive), then only be cancelled.
    settle_after: uint256
    expires: uint256


event OrderSettled:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    settler: address
    size_delta: int256
    # False: the fill was beyond the acceptable price; nothing traded.
    filled: bool
    oracle_price: uint256
    # 0 when not filled.
    fill_price: uint256
    # Native quote units paid to the settler's sub-account 0.
    fee: uint256
    # True: the trade's own checks (margin, caps, pause) refused it; the
    # order is removed all the same.
    trade_refused: bool


event OrderCancelled:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    size_delta: int256
    # Native quote units refunded to the account.
    fee: uint256


@external
def trade(
    sub_id: uint256, market_id: uint256, size_delta: int256, acceptable_price: uint256
) -> uint256:
    """
    @notice Trades `size_delta` (WAD base units, > 0 buys, < 0 sells) in a
            market for the caller's sub-account, at once. Only in a market
            whose rules allow atomic trades (`orders`), and not while the
            account has a pending order; otherwise commit an order.
    @param sub_id The caller's sub-account.
    @param market_id A listed market.
    @param size_delta Signed size, 0 < |size_delta| <= 2**96.
    @param acceptable_price Worst fill price accepted: the most a buy pays,
           the least a sell receives (WAD USD).
    @return The fill price (WAD USD).
    """
    return self._trade_now(msg.sender, sub_id, market_id, size_delta, acceptable_price)


@external
def trade_for(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size_delta: int256,
    acceptable_price: uint256,
) -> uint256:
    """
    @notice An approved operator trades `owner`'s sub-account at once (see
            `trade`).
    @param owner The account owner.
    @param sub_id The sub-account the caller operates.
    @param market_id A listed market.
    @param size_delta Signed size, 0 < |size_delta| <= 2**96.
    @param acceptable_price Worst fill price accepted (WAD USD).
    @return The fill price (WAD USD).
    """
    operators._check_operator(owner, sub_id)
    return self._trade_now(owner, sub_id, market_id, size_delta, acceptable_price)


@external
def commit_order(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size_delta: int256,
    acceptable_price: uint256,
) -> uint256:
    """
    @notice Commits a trade of `size_delta` in a market for an account, to
            be settled by anyone at a price published at least the
            market's `min_delay` later (`settle_order`). The market's
            settlement fee is escrowed from the account's quote balance.
            An expired order of the account is cancelled (refunded) first.
            Closing and reducing orders may be committed while paused or
            in a closed market; the trade's checks run at settlement.
    @param owner The account owner (the caller or an operator of it).
    @param sub_id The sub-account.
    @param market_id A listed market with order rules.
    @param size_delta Signed size, 0 < |size_delta| <= 2**96.
    @param acceptable_price Worst fill price accepted (WAD USD); beyond it
           at settlement the order is refused and the settler keeps the fee.
    @return The earliest publication time of the settlement price.
    """
    operators._check_operator(owner, sub_id)
    markets._check_market(market_id)
    assert size_delta != 0, errors.ZERO_SIZE
    assert fp._abs(size_delta) <= constants.MAX_SIZE, errors.SIZE_TOO_LARGE
    r: orders.OrderRules = orders._rules(market_id)
    assert r.window != 0, errors.NO_ORDER_RULES
    old: orders.Order = orders._order(owner, sub_id)
    if old.size_delta != 0:
        assert block.timestamp > self._expiry(old), errors.ORDER_PENDING
        self._refund(owner, sub_id, old)
    if r.settlement_fee != 0:
        assert (
            collateral._add(
                owner, sub_id, collateral.quote_asset, -convert(r.settlement_fee, int256)
            )
            >= 0
        ), errors.INSUFFICIENT_BALANCE
    orders._store(
        owner,
        sub_id,
        orders.Order(
            market_id=market_id,
            size_delta=size_delta,
            acceptable_price=acceptable_price,
            commit_time=block.timestamp,
            fee=r.settlement_fee,
            min_delay=r.min_delay,
            window=r.window,
        ),
    )
    ready: uint256 = block.timestamp + r.min_delay
    log OrderCommitted(
        owner=owner,
        sub_id=sub_id,
        market_id=market_id,
        size_delta=size_delta,
        acceptable_price=acceptable_price,
        fee=r.settlement_fee,
        settle_after=ready,
        expires=ready + r.window,
    )
    return ready


@external
def settle_order(owner: address, sub_id: uint256) -> uint256:
    """
    @notice Settles an account's pending order at the market's current
            price, which its feed must have published at or after the
            commit time plus the `min_delay` in force at the commit, inside
            the window after it. The trade runs every check of `trade`
            (margin, caps, pause) at that price. A fill beyond the order's
            acceptable price, or a trade those checks refuse, is refused:
            the order is removed and nothing trades. Either way the settler
            (the caller's sub-account 0) earns the fee.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return The fill price (WAD USD), 0 when refused.
    """
    o: orders.Order = orders._order(owner, sub_id)
    assert o.size_delta != 0, errors.NO_ORDER
    ready: uint256 = o.commit_time + o.min_delay
    assert block.timestamp >= ready, errors.ORDER_TOO_EARLY
    assert block.timestamp <= ready + o.window, errors.ORDER_EXPIRED
    price: uint256 = 0
    published: uint256 = 0
    price, published = oracle._price_time(markets._asset(o.market_id))
    assert published >= ready, errors.ORDER_PRICE_TOO_OLD
    orders._clear(owner, sub_id)
    if o.fee != 0:
        collateral._add(msg.sender, 0, collateral.quote_asset, convert(o.fee, int256))
    fill: uint256 = self._fill(o.market_id, o.size_delta, price)
    filled: bool = fill >= o.acceptable_price
    if o.size_delta > 0:
        filled = fill <= o.acceptable_price
    refused: bool = False
    if filled:
        # The trade runs in a call to this engine, so that a refusal
        # removes the order instead of leaving it pending for a later round.
        gas_before: uint256 = msg.gas
        filled = raw_call(
            self,
            abi_encode(
                owner,
                sub_id,
                o.market_id,
                o.size_delta,
                o.acceptable_price,
                price,
                method_id=method_id(
                    "execute_order(address,uint256,uint256,int256,uint256,uint256)"
                ),
            ),
            revert_on_failure=False,
        )
        # A call starved of gas by the settler is not a refusal (`STARVED`).
        assert filled or msg.gas * STARVED > gas_before, errors.ORDER_OUT_OF_GAS
        refused = not filled
    if not filled:
        fill = 0
    log OrderSettled(
        owner=owner,
        sub_id=sub_id,
        market_id=o.market_id,
        settler=msg.sender,
        size_delta=o.size_delta,
        filled=filled,
        oracle_price=price,
        fill_price=fill,
        fee=o.fee,
        trade_refused=refused,
    )
    return fill


@external
@reentrant
def execute_order(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size_delta: int256,
    acceptable_price: uint256,
    price: uint256,
) -> uint256:
    """
    @notice The trade of an order being settled; only the engine itself
            may call it (from `settle_order`, which holds the lock).
    @param owner The account owner.
    @param sub_id The sub-account.
    @param market_id The order's market.
    @param size_delta The order's size.
    @param acceptable_price The order's limit.
    @param price The settlement's oracle price.
    @return The fill price (WAD USD).
    """
    assert msg.sender == self, errors.ENGINE_ONLY
    return self._trade(owner, sub_id, market_id, size_delta, acceptable_price, price)


@external
def cancel_order(owner: address, sub_id: uint256):
    """
    @notice Cancels an account's order once its window has passed without
            a settlement, refunding the escrowed fee to the account.
    @param owner The account owner (the caller or an operator of it).
    @param sub_id The sub-account.
    """
    operators._check_operator(owner, sub_id)
    o: orders.Order = orders._order(owner, sub_id)
    assert o.size_delta != 0, errors.NO_ORDER
    assert block.timestamp > self._expiry(o), errors.ORDER_NOT_EXPIRED
    self._refund(owner, sub_id, o)


@internal
@view
def _expiry(o: orders.Order) -> uint256:
    """
    @dev The last second an order may settle (its rules at the commit).
    """
    return o.commit_time + o.min_delay + o.window


@internal
def _refund(owner: address, sub_id: uint256, o: orders.Order):
    orders._clear(owner, sub_id)
    if o.fee != 0:
        collateral._add(owner, sub_id, collateral.quote_asset, convert(o.fee, int256))
    log OrderCancelled(
        owner=owner, sub_id=sub_id, market_id=o.market_id, size_delta=o.size_delta, fee=o.fee
    )


@internal
def _trade_now(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size_delta: int256,
    acceptable_price: uint256,
) -> uint256:
    """
    @dev An atomic trade: the market must allow it and the account must
         have no pending order (which it could otherwise make fail).
    """
    markets._check_market(market_id)
    orders._check_atomic(market_id)
    orders._check_no_order(owner, sub_id)
    return self._trade(
        owner, sub_id, market_id, size_delta, acceptable_price, markets._price(market_id)
    )


@internal
@view
def _fill(market_id: uint256, size_delta: int256, price: uint256) -> uint256:
    """
    @dev The fill price of `size_delta` at oracle `price` under the
         market's skew now. Only a skew beyond skew_scale (after the owner
         lowered it) can push a fill below zero; the premium stays exact,
         the reported fill stops at 0.
    """
    adjustment: int256 = markets._fill_adjustment(
        markets._skew(market_id),
        size_delta,
        price,
        markets._params(market_id).skew_scale,
    )
    return convert(max(convert(price, int256) + adjustment, 0), uint256)


@internal
def _trade(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size_delta: int256,
    acceptable_price: uint256,
    price: uint256,
) -> uint256:
    """
    @dev Trades at oracle `price` (the caller read it; `market_id` is
         listed).
    """
    assert size_delta != 0, errors.ZERO_SIZE
    assert fp._abs(size_delta) <= constants.MAX_SIZE, errors.SIZE_TOO_LARGE
    p: markets.MarketParams = markets._params(market_id)
    # Funding accrues under the skew that held until now.
    index: int256 = markets._accrue(market_id, price)
    skew: int256 = markets._skew(market_id)
    # The larger side before the trade: the pool's reserve counts it.
    w: uint256 = markets.oi_word[market_id]
    side: uint256 = max(w & markets.LANE_128, w >> 128)
    old: markets.Position = markets._position(owner, sub_id, market_id)
    new_size: int256 = old.size + size_delta
    assert fp._abs(new_size) <= constants.MAX_SIZE, errors.POSITION_TOO_LARGE

    reducing: bool = old.size != 0 and (
        new_size == 0
        or ((new_size > 0) == (old.size > 0) and fp._abs(new_size) < fp._abs(old.size))
    )
    if not reducing:
        governance._check_not_paused()
        assert not markets.market_closed[market_id], errors.MARKET_CLOSED

    adjustment: int256 = markets._fill_adjustment(skew, size_delta, price, p.skew_scale)
    # Only a skew beyond skew_scale (after the owner lowered it) can push a
    # fill below zero; the premium stays exact, the reported fill stops at 0.
    fill: uint256 = convert(max(convert(price, int256) + adjustment, 0), uint256)
    if size_delta > 0:
        assert fill <= acceptable_price, errors.FILL_ABOVE_LIMIT
    else:
        assert fill >= acceptable_price, errors.FILL_BELOW_LIMIT
    # A portfolio account's MM is its whole book's: closing one leg of a
    # hedge can raise it, so its reductions are checked against the MM
    # they started from (below).
    portfolio_reduction: bool = reducing and accounts._is_portfolio(owner, sub_id)
    mm_before: uint256 = 0
    if portfolio_reduction:
        mm_before = health._health(owner, sub_id).mm
    # Settle the old position at the oracle price, then charge the trade.
    risk: markets.PositionRisk = markets._risk(old, p, price, index)
    premium: int256 = markets._premium(size_delta, adjustment)
    fee: uint256 = markets._fee(skew, size_delta, price, p)
    quote_delta: int256 = self._apply(
        owner,
        sub_id,
        market_id,
        old,
        new_size,
        price,
        index,
        liquidity._realisable(market_id, risk.pnl - risk.funding) - premium - convert(fee, int256),
    )
    if not reducing:
        w = markets.oi_word[market_id]
        oi: uint256 = w >> 128
        if new_size > 0:
            oi = w & markets.LANE_128
        assert oi <= p.max_oi, errors.OI_CAP
        # Only a trade that adds to what the pool may hold meets its caps:
        # the larger side (reserve) or the net skew (profit).
        side_grew: bool = oi > side
        skew_grew: bool = fp._abs(skew + size_delta) > fp._abs(skew)
        if side_grew or skew_grew:
            liquidity._check_caps(market_id, side_grew, skew_grew)
        health._check_im(owner, sub_id)
    else:
        cost: int256 = premium + convert(fee, int256)
        if (cost > 0 or portfolio_reduction) and health._has_liabilities(owner, sub_id):
            h: health.Health = empty(health.Health)
            read: bool = True
            if new_size == 0 and premium <= 0 and not portfolio_reduction:
                # A linear whole close that pays no premium goes through even
                # when a price of the account's other holdings is invalid
                # (docs/margin.md, "Closing past an invalid price").
                h, read = self._probe(owner, sub_id)
            else:
                h = health._health(owner, sub_id)
            if read and cost > 0:
                # What the reduction charges must not make the account worse
                # than liquidation would: it ends at or above MM, or it paid no
                # more than the MM it freed (E - MM did not fall) and stays
                # solvent.
                freed: uint256 = risk.mm
                if new_size != 0:
                    freed -= markets._risk(
                        markets.Position(size=new_size, entry_price=price, funding_index=index),
                        p,
                        price,
                        index,
                    ).mm
                assert h.equity >= convert(h.mm, int256) or (
                    cost <= convert(freed, int256) and h.equity >= 0
                ), errors.REDUCTION_TOO_COSTLY
            if read and portfolio_reduction:
                assert (
                    h.equity >= convert(h.im, int256) or h.mm <= mm_before
                ), errors.REDUCTION_NEEDS_IM
    log Trade(
        owner=owner,
        sub_id=sub_id,
        market_id=market_id,
        size_delta=size_delta,
        new_size=new_size,
        oracle_price=price,
        fill_price=fill,
        pnl=risk.pnl,
        funding=risk.funding,
        premium=premium,
        fee=fee,
        quote_delta=quote_delta,
        funding_index=index,
    )
    return fill


@internal
@view
def _probe(owner: address, sub_id: uint256) -> (health.Health, bool):
    """
    @dev The account's health, and False instead of a revert when it cannot
         be read (a price it needs is invalid): the engine asks its own
         `health_probe`, since this call holds the lock. A probe starved of
         gas by the caller is not an invalid price (`STARVED`).
    """
    gas_before: uint256 = msg.gas
    ok: bool = False
    out: Bytes[96] = b""
    ok, out = raw_call(
        self,
        abi_encode(owner, sub_id, method_id=method_id("health_probe(address,uint256)")),
        max_outsize=96,
        is_static_call=True,
        revert_on_failure=False,
    )
    if ok:
        return abi_decode(out, health.Health), True
    assert msg.gas * STARVED > gas_before, errors.HEALTH_OUT_OF_GAS
    return empty(health.Health), False


@internal
def _apply(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    old: markets.Position,
    new_size: int256,
    price: uint256,
    index: int256,
    owed: int256,
) -> int256:
    """
    @dev Books a position change against the pool: credits `owed` (WAD USD,
         > 0 to the account) to the quote balance, rounded down for the
         account, debits the pool ledger by the same native amount, replaces
         the old position's terms in the market aggregates by the new one's
         (re-entered at `price` and `index`) and keeps the position bitmap
         and the account registry in step. Shared by trades and
         liquidations. Returns the native quote amount credited.
    """
    precision: int256 = convert(
        (collateral.asset_word[collateral.quote_asset] >> collateral.PRECISION_SHIFT), int256
    )
    quote_delta: int256 = fp._floor_div(owed, precision)
    if quote_delta != 0:
        collateral._add(owner, sub_id, collateral.quote_asset, quote_delta)
        liquidity._move_cash(-quote_delta)
    # The open interest's word and the pool's sums (layout at `markets.oi_word`).
    w: uint256 = markets.oi_word[market_id]
    long_oi: uint256 = w & markets.LANE_128
    short_oi: uint256 = w >> 128
    if old.size > 0:
        long_oi -= convert(old.size, uint256)
    elif old.size < 0:
        short_oi -= fp._abs(old.size)
    if new_size > 0:
        long_oi += convert(new_size, uint256)
    elif new_size < 0:
        short_oi += fp._abs(new_size)
    # Each side fits its lane (see `markets.oi_word`); never spills.
    assert (long_oi | short_oi) >> 128 == 0
    markets.oi_word[market_id] = long_oi | (short_oi << 128)
    sums: int256[2] = markets.pool_sums[market_id]
    markets.pool_sums[market_id] = [
        sums[0] + new_size * convert(price, int256) - old.size * convert(old.entry_price, int256),
        sums[1] + new_size * index - old.size * old.funding_index,
    ]

    markets._store_position(owner, sub_id, market_id, new_size, price, index)
    if (old.size == 0) != (new_size == 0):
        if accounts._position_mask(owner, sub_id) == 0:
            registry._register(owner, sub_id)
        accounts._flip(owner, sub_id, 1 << (accounts.POSITION_SHIFT + market_id))
    return quote_delta
