# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin liquidity-pool ledger
@notice The counterparty side of every trade, inside the Clearinghouse: the
        pool's quote cash (`pool_balance`, written only here) plus its claim on traders'
        open positions. The LiquidityPool vault (ERC-4626) is the only
        address that may move cash in and out; its share price is
        `pool_value`, which includes traders' unrealised PnL and funding,
        so entering or leaving the pool around a price move is not a free
        option:
            value = cash - sum(traders' unrealised PnL) + sum(funding traders owe)
                     - sum(skew premium the pool must refund as skew unwinds)
        The pool's price risk now is each market's net skew, but a
        reduction is never refused, so either side of a hedged pair can
        close at any time and leave the pool holding the other: what the
        pool may come to hold is the larger side's open interest. So:
        - reserve: a trade that grows a market's larger side must leave
          max(long, short) * price <= reserve_factor * value, and every
          market's together <= total_reserve_factor * value (GMX v2
          reserves open interest per side the same way);
        - profit: a trade that grows |skew| must leave traders' net profit
          in that market (PnL less the funding they owe) <=
          max_pnl_factor * value;
        - a withdrawal must leave cash for traders' net gains, the
          refundable premium and `pool_buffer` of net notional (the price
          risk now), and leave the value every cap needs (`min_value`),
          so LPs cannot leave the pool over its caps; and none runs while
          liquidations are stopped (paused, then the grace period): the
          pool's value counts under-water accounts' losses as its gain
          until they are liquidated, so the first LP out would leave the
          bad debt to the others.
        - realisation: a trade, a liquidation or an ADL in a capped market
          pays a profit in full while the pool's cash (less the premium it
          owes back) covers traders' net gains; past that, the share
          cash / gains of it, and never more than that cash (`_pay_out`).
        A market with no caps set is uncapped (the deploy script sets them
        for every market it lists). Reductions are never capped.
@custom:security Pool value rounds against the pool (traders' PnL up, the
                 funding they owe down); the cash requirement and the
                 value the caps need round up, what they allow down.
                 The aggregates are exact sums kept by `markets`, so the
                 value can differ from a per-position sum by a few wei.
"""

from snekmate.auth import ownable
from snekmate.utils import math

from . import collateral
from . import constants
from . import fixed_point as fp
from . import governance
from . import markets
from . import options
from . import oracle
from . import token_transfer
from . import errors

uses: ownable
uses: collateral
uses: governance
uses: markets
uses: options
uses: oracle


struct PoolState:
    # Pool cash (quote balance scaled to WAD).
    cash: int256
    # Traders' aggregate unrealised PnL (owed by the pool when > 0), rounded up.
    traders_pnl: int256
    # Funding traders owe the pool (paid to them when < 0), rounded down.
    traders_funding: int256
    # Skew premium traders paid in that the pool refunds as skew unwinds:
    # price * skew^2 / (2 * skew_scale) per market, rounded up.
    premium_owed: uint256
    # sum over markets of max(long, short) * price, rounded up: what the
    # pool may come to hold, which the reserve caps count.
    side_notional: uint256
    # max(cash - traders_pnl + traders_funding - premium_owed, 0).
    value: uint256
    # Cash the pool must keep: max(traders_pnl - traders_funding, 0)
    # + premium_owed + buffer * net_notional.
    required: uint256
    # sum over markets of |skew| * price, rounded up: the price risk now,
    # which the cash buffer counts.
    net_notional: uint256
    # The least value that keeps every cap, rounded up (0 in the state a
    # trade checks: see `_with_min_value`).
    min_value: uint256


# One market's terms in the pool's claim (WAD USD).
struct MarketTerms:
    # traders' unrealised PnL, rounded up; the funding they owe, rounded down
    pnl: int256
    funding: int256
    # |skew| * price and max(long, short) * price, rounded up
    net_notional: uint256
    side_notional: uint256
    # price * skew^2 / (2 * skew_scale), rounded up
    premium_owed: uint256


event PoolSet:
    pool: indexed(address)


event PoolBufferSet:
    buffer: uint256


event PoolDeposit:
    pool: indexed(address)
    amount: uint256
    balance: int256


event PoolWithdraw:
    receiver: indexed(address)
    amount: uint256
    balance: int256


event MarketCapsSet:
    market_id: indexed(uint256)
    reserve_factor: uint256
    max_pnl_factor: uint256
    adl_target_factor: uint256


event TotalReserveFactorSet:
    factor: uint256


# The pool's quote cash and the insurance fund (native quote units) in one
# word, as a liquidation that pays the fund and settles with the pool, or
# writes off bad debt, moves both:
#   pool cash (int128, two's complement) | insurance fund (uint128) << 128
# The pool's cash is the counterparty side of every settlement, negative
# only if traders' realised gains exceed what LPs put in (covered by the
# bad-debt waterfall); the fund holds quote tokens for bad debt (written
# by the liquidation module through `_add_insurance` and `_store_cash`).
# A value past its lane reverts instead of spilling (`LEDGER_FULL` when
# stored whole or added to the fund; a bare revert when a settlement moves
# the cash: test_cash_word_round_trips_at_its_bounds). The fund is quote
# tokens the engine holds, below 2**128 for any real token, and a
# liquidation's share is cut to the room left, so a full fund never blocks
# a liquidation (test_a_full_insurance_fund_never_blocks_a_liquidation).
# The cash moves by deposits (tokens: LiquidityPool's `maxDeposit` says
# 2**128, more than the lane, but no real token has 2**127 units) and by
# settled PnL: a single loss past 2**127 native units needs a position
# worth that much (1.7e20 USD with an 18-decimal quote token: a market
# priced above ~2e9 USD a unit at the largest size, 2**96; with a
# 6-decimal quote, 1.7e32 USD, past any price the router accepts).
cash_word: uint256
pool: public(address)
# WAD fraction of net notional the pool keeps in cash.
pool_buffer: public(uint256)
# market -> reserve_factor | max_pnl_factor << 128 (WAD each; 0: uncapped)
caps_of: HashMap[uint256, uint256]
# WAD: most of every market's larger side together per unit of value (0: none)
total_reserve_factor: public(uint256)
# market -> WAD fraction of value that auto-deleveraging brings traders'
# net profit back to once it passes max_pnl_factor (modules/deleverage.vy)
adl_target_of: HashMap[uint256, uint256]

LANE: constant(uint256) = 2**128 - 1


@external
@view
def pool_balance() -> int256:
    """
    @notice The pool's quote cash, native quote units.
    @return The cash (negative only after the pool paid bad debt beyond it).
    """
    return self._pool_cash()


@external
@view
def pool_state() -> PoolState:
    """
    @notice The pool's cash, its claim on open positions and what it must keep.
    @return (cash, traders_pnl, traders_funding, premium_owed, side_notional,
            value, required, net_notional, min_value), WAD USD.
    """
    return self._with_min_value(self._pool_state())


@external
@view
def pool_value() -> uint256:
    """
    @notice What the pool is worth, in native quote units, rounded down:
            the LiquidityPool's `totalAssets`.
    @return Native quote units.
    """
    return self._pool_state().value // self._precision()


@external
@view
def pool_withdrawable() -> uint256:
    """
    @notice The most cash the pool may release now, native quote units:
            what leaves the cash requirement and the value every cap needs.
    @return Native quote units (0 when either is not met, or while
            liquidations are stopped).
    """
    if governance.paused or block.timestamp < governance.liquidations_resume_at:
        return 0
    s: PoolState = self._with_min_value(self._pool_state())
    free: int256 = s.cash - convert(s.required, int256)
    if free <= 0 or s.value <= s.min_value:
        return 0
    return min(convert(free, uint256), s.value - s.min_value) // self._precision()


@external
@view
def pool_prices_since() -> uint256:
    """
    @notice When the oldest price an LP request settles on was published:
            the earliest feed time over every listed market (max uint256
            when none counts). An LP request settles only on prices
            published after its delay (docs/orders.md). Every market
            counts, not only those with open interest, so nobody can open
            or shut the gate by trading; a market without open interest
            whose price is invalid is skipped (the pool's value does not
            need it), one with open interest reverts with the router's
            reason. The options the pool holds count too (the
            OptionsDesk's `prices_since`: each one's price and volatility).
    @return Unix seconds.
    """
    oldest: uint256 = max_value(uint256)
    for m: uint256 in range(constants.MAX_MARKETS):
        if m == markets.num_markets:
            break
        asset: address = markets._asset(m)
        published: uint256 = 0
        if markets.oi_word[m] == 0:
            ok: bool = False
            data: Bytes[64] = b""
            ok, data = raw_call(
                oracle.oracle.address,
                abi_encode(asset, method_id=method_id("price_time(address)")),
                max_outsize=64,
                is_static_call=True,
                revert_on_failure=False,
            )
            if not ok or len(data) != 64:
                continue
            published = convert(slice(data, 32, 32), uint256)
        else:
            price: uint256 = 0
            price, published = oracle._price_time(asset)
        oldest = min(oldest, published)
    # and the options' prices and volatilities (OptionsDesk)
    return min(oldest, options._prices_since())


@external
def pool_deposit(amount: uint256):
    """
    @notice Moves `amount` quote from the LiquidityPool into the pool ledger.
    @dev Only the LiquidityPool, which must have approved this contract.
    @param amount Native quote units, > 0.
    """
    assert msg.sender == self.pool and msg.sender != empty(address), errors.NOT_POOL
    assert amount > 0, errors.ZERO_AMOUNT
    assert amount <= constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    self._move_cash(convert(amount, int256))
    token_transfer._pull(collateral.quote_asset, msg.sender, amount)
    log PoolDeposit(pool=msg.sender, amount=amount, balance=self._pool_cash())


@external
def pool_withdraw(amount: uint256, receiver: address):
    """
    @notice Pays `amount` of pool cash to `receiver` for the LiquidityPool.
    @dev Reverts if the cash left would not cover traders' unrealised gains
         plus the buffer, or the value left would break a cap, or while
         liquidations are stopped (paused, or in the grace period).
    @param amount Native quote units, > 0.
    @param receiver Who gets the tokens.
    """
    assert msg.sender == self.pool and msg.sender != empty(address), errors.NOT_POOL
    assert amount > 0, errors.ZERO_AMOUNT
    assert amount <= constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    governance._check_liquidations_open()
    self._move_cash(-convert(amount, int256))
    s: PoolState = self._with_min_value(self._pool_state())
    assert s.cash >= convert(s.required, int256), errors.POOL_CANNOT_COVER
    assert s.value >= s.min_value, errors.CAPS_NEED_VALUE
    token_transfer._push(collateral.quote_asset, receiver, amount)
    log PoolWithdraw(receiver=receiver, amount=amount, balance=self._pool_cash())


@external
def set_pool(new_pool: address):
    """
    @notice Names the LiquidityPool, once.
    @param new_pool The ERC-4626 vault that owns the pool ledger.
    """
    ownable._check_owner()
    assert self.pool == empty(address), errors.POOL_ALREADY_SET
    assert new_pool.is_contract, errors.POOL_NOT_CONTRACT
    self.pool = new_pool
    log PoolSet(pool=new_pool)


@external
def set_pool_buffer(buffer: uint256):
    """
    @notice Sets the cash the pool keeps beyond traders' gains, as a WAD
            fraction of net notional (|skew| * price, every market).
    @param buffer WAD fraction, <= 1.
    """
    ownable._check_owner()
    assert buffer <= constants.WAD, errors.BUFFER_TOO_HIGH
    self.pool_buffer = buffer
    log PoolBufferSet(buffer=buffer)


@external
@view
def market_caps(market_id: uint256) -> (uint256, uint256, uint256):
    """
    @notice A market's capital caps (all 0: uncapped).
    @param market_id The market.
    @return (reserve_factor, max_pnl_factor, adl_target_factor), WAD
            fractions of pool value.
    """
    caps: uint256 = self.caps_of[market_id]
    return caps & LANE, caps >> 128, self.adl_target_of[market_id]


@external
def set_market_caps(
    market_id: uint256,
    reserve_factor: uint256,
    max_pnl_factor: uint256,
    adl_target_factor: uint256,
):
    """
    @notice Caps a market against the pool's value: a trade that grows its
            larger side must leave max(long, short) * price <=
            reserve_factor * value; one that grows its |skew| must leave
            traders' net profit in it <= max_pnl_factor * value; once a
            price move takes that profit past max_pnl_factor * value,
            anyone may auto-deleverage winners back to
            adl_target_factor * value (`adl`).
    @param market_id A listed market.
    @param reserve_factor WAD, 0 < f <= MAX_RESERVE_FACTOR (2).
    @param max_pnl_factor WAD, 0 < f <= MAX_PNL_FACTOR (1).
    @param adl_target_factor WAD, 0 < f <= max_pnl_factor.
    """
    ownable._check_owner()
    markets._check_market(market_id)
    assert (
        reserve_factor > 0 and reserve_factor <= constants.MAX_RESERVE_FACTOR
    ), errors.RESERVE_FACTOR_RANGE
    assert (
        max_pnl_factor > 0 and max_pnl_factor <= constants.MAX_PNL_FACTOR
    ), errors.PNL_FACTOR_RANGE
    assert (adl_target_factor > 0 and adl_target_factor <= max_pnl_factor), errors.ADL_TARGET_RANGE
    self.caps_of[market_id] = reserve_factor | max_pnl_factor << 128
    self.adl_target_of[market_id] = adl_target_factor
    log MarketCapsSet(
        market_id=market_id,
        reserve_factor=reserve_factor,
        max_pnl_factor=max_pnl_factor,
        adl_target_factor=adl_target_factor,
    )


@external
def set_total_reserve_factor(factor: uint256):
    """
    @notice Caps every market's larger side together: the sum of
            max(long, short) * price <= `factor` * value.
    @param factor WAD, 0 < factor <= MAX_RESERVE_FACTOR (2).
    """
    ownable._check_owner()
    assert factor > 0 and factor <= constants.MAX_RESERVE_FACTOR, errors.RESERVE_FACTOR_RANGE
    self.total_reserve_factor = factor
    log TotalReserveFactorSet(factor=factor)


@internal
@view
def _check_caps(market_id: uint256, side_grew: bool, skew_grew: bool):
    """
    @dev After a trade that grew `market_id`'s larger side (`side_grew`) or
         its |skew| (`skew_grew`), at the pool value after the trade: the
         larger side against the market's reserve and, with the others,
         the total reserve; traders' net profit against the profit cap.
         Reverts with the cap that is broken.
    """
    caps: uint256 = self.caps_of[market_id]
    total: uint256 = self.total_reserve_factor
    if caps == 0 and total == 0:
        return
    # The traded market has open interest (the trade just grew it), so
    # the pass over the pool gives its terms at the same price.
    s: PoolState = empty(PoolState)
    t: MarketTerms = empty(MarketTerms)
    s, t = self._pool_and_market(market_id)
    if caps != 0:
        if side_grew:
            assert t.side_notional <= math._mul_div(
                s.value, caps & LANE, constants.WAD, False
            ), errors.RESERVE_CAP
        if skew_grew:
            assert t.pnl - t.funding <= convert(
                math._mul_div(s.value, caps >> 128, constants.WAD, False), int256
            ), errors.PNL_CAP
    if total != 0 and side_grew:
        assert s.side_notional <= math._mul_div(
            s.value, total, constants.WAD, False
        ), errors.TOTAL_RESERVE_CAP


@external
@view
@reentrant
def pool_pay_out(market_id: uint256, net: int256) -> int256:
    """
    @notice What the pool pays now of a profit realised in `market_id`:
            the realisation cap (docs/pool.md). Not locked, unlike every
            other entry point: a liquidation, which holds the lock, asks it
            (the liquidator extension has no room for the pool's valuation).
    @param market_id The market the position closes in.
    @param net The closed position's PnL less the funding it owes (WAD USD);
           a loss is returned as it is.
    @return WAD USD.
    """
    return self._realisable(market_id, net)


@internal
@view
def _realisable(market_id: uint256, net: int256) -> int256:
    """
    @dev What a close in `market_id` may realise of `net`: all of it in an
         uncapped market or for a loss, else what `_pay_out` allows
         against the pool now (every market with open interest priced).
    """
    if net <= 0 or self.caps_of[market_id] == 0:
        return net
    return self._pay_out(self._pool_state(), net)


@internal
@pure
def _pay_out(s: PoolState, net: int256) -> int256:
    """
    @dev The realisation cap, against the pool `s` before the close: all
         of a loss; of a profit, all while the pool's cash less the premium
         it owes back covers traders' net gains (PnL less the funding they
         owe), else the share cash / gains of it, rounded down; and never
         more than that cash, so a payout never takes the pool's ledger
         below what it owes back (traders' gains are netted against other
         traders' unrealised losses, which the pool may not collect).
         The rest stays with the pool.
    """
    if net <= 0:
        return net
    assets: int256 = s.cash - convert(s.premium_owed, int256)
    if assets <= 0:
        return 0
    owed: int256 = s.traders_pnl - s.traders_funding
    paid: int256 = net
    if owed > assets:
        paid = net * assets // owed
    return min(paid, assets)


@internal
def _move_cash(delta: int256):
    """
    @dev Moves the pool's cash by `delta` native quote units: what a trade
         or a liquidation settles against it, or bad debt it absorbs.
    """
    # `_store_cash(_pool_cash() + delta, fund)`, inline and with a bare
    # revert past the lane (the conversion to int128): every trade runs
    # it, and the orders extension has no room for the reason's bytes.
    w: uint256 = self.cash_word
    c: int256 = convert(
        convert((convert(convert(w << 128, bytes32), int256) >> 128) + delta, int128),
        int256,
    )
    self.cash_word = (w >> 128 << 128) | (convert(convert(c << 128, bytes32), uint256) >> 128)


@internal
def _add_insurance(amount: uint256):
    """
    @dev Adds `amount` native quote units to the insurance fund (at most
         the room its lane has left, `_insurance_room`).
    """
    w: uint256 = self.cash_word
    self._store_cash(convert(convert(w << 128, bytes32), int256) >> 128, (w >> 128) + amount)


@internal
@view
def _insurance_room() -> uint256:
    """
    @dev What the insurance fund's lane can still take (native units).
    """
    return LANE - (self.cash_word >> 128)


@internal
def _store_cash(cash: int256, fund: uint256):
    """
    @dev Stores the pool's cash and the insurance fund (the layout is at
         `cash_word`); a value past its lane reverts rather than spill.
    """
    # Each lane's check by shifts: `cash` fits an int128 when shifting it
    # out and back (arithmetically) gives it back; `fund` has no bit above 127.
    assert (cash << 128) >> 128 == cash and fund >> 128 == 0, errors.LEDGER_FULL
    self.cash_word = (convert(convert(cash << 128, bytes32), uint256) >> 128) | (fund << 128)


@internal
@view
def _pool_cash() -> int256:
    """
    @dev The pool's cash: the low lane moved to the top of the word and
         shifted back arithmetically, which restores its sign.
    """
    return convert(convert(self.cash_word << 128, bytes32), int256) >> 128


@internal
@view
def _precision() -> uint256:
    return (collateral.asset_word[collateral.quote_asset] >> collateral.PRECISION_SHIFT)


@internal
@view
def _market_terms(m: uint256, price: uint256) -> MarketTerms:
    """
    @dev One market's part of the pool's claim at `price`, from its exact
         aggregates (funding accrued to now).
    """
    # The open interest's word and the sums (layout at `markets.oi_word`).
    w: uint256 = markets.oi_word[m]
    sums: int256[2] = markets.pool_sums[m]
    skew: int256 = markets._skew(m)
    rate: int256 = 0
    index: int256 = 0
    rate, index = markets._funding(m, price)
    wad: int256 = convert(constants.WAD, int256)
    t: MarketTerms = empty(MarketTerms)
    t.pnl = fp._ceil_div(convert(price, int256) * skew - sums[0], wad)
    t.funding = fp._floor_div(index * skew - sums[1], wad)
    skew_abs: uint256 = fp._abs(skew)
    t.net_notional = math._mul_div(skew_abs, price, constants.WAD, True)
    t.side_notional = math._mul_div(max(w & markets.LANE_128, w >> 128), price, constants.WAD, True)
    # Growing |skew| from 0 to k paid price * k^2 / (2 * skew_scale) into
    # the pool; unwinding pays it back. It is not the pool's money until
    # then, or an LP could leave with a share of it.
    t.premium_owed = math._mul_div(t.net_notional, skew_abs, 2 * markets._skew_scale(m), True)
    return t


@internal
@view
def _pool_state() -> PoolState:
    s: PoolState = empty(PoolState)
    t: MarketTerms = empty(MarketTerms)
    s, t = self._pool_and_market(constants.MAX_MARKETS)
    return s


@internal
@view
def _pool_and_market(focus: uint256) -> (PoolState, MarketTerms):
    """
    @dev The pool's state, and the terms of market `focus` as the pass
         computed them (empty if it has no open interest, or for
         MAX_MARKETS), so a caller that needs both reads no price twice.
    """
    s: PoolState = empty(PoolState)
    focused: MarketTerms = empty(MarketTerms)
    # `_pool_cash()`, inline.
    s.cash = (convert(convert(self.cash_word << 128, bytes32), int256) >> 128) * convert(
        self._precision(), int256
    )
    for m: uint256 in range(constants.MAX_MARKETS):
        if m == markets.num_markets:
            break
        # An empty market costs one storage read (its open interest).
        if markets.oi_word[m] == 0:
            continue
        t: MarketTerms = self._market_terms(m, markets._price(m))
        if m == focus:
            focused = t
        s.traders_pnl += t.pnl
        s.traders_funding += t.funding
        s.side_notional += t.side_notional
        s.net_notional += t.net_notional
        s.premium_owed += t.premium_owed
    # Options traders hold against the pool (OptionsDesk): their net mark
    # is owed like traders' PnL; the margin of what the pool is short is
    # cash it keeps.
    option_owed: int256 = 0
    option_margin: uint256 = 0
    option_owed, option_margin = options._pool_terms()
    s.traders_pnl += option_owed
    owed: int256 = convert(s.premium_owed, int256)
    s.value = convert(max(s.cash - s.traders_pnl + s.traders_funding - owed, 0), uint256)
    s.required = (
        convert(max(s.traders_pnl - s.traders_funding, 0), uint256)
        + s.premium_owed
        + math._mul_div(s.net_notional, self.pool_buffer, constants.WAD, True)
        + option_margin
    )
    return s, focused


@internal
@view
def _with_min_value(s: PoolState) -> PoolState:
    """
    @dev `s` with `min_value`: the least pool value that keeps every
         capped market's larger side and traders' net profit, and all
         markets' larger sides together, under their caps. Only what a
         withdrawal checks needs it, so the trade path does not pay for it.
    """
    need: uint256 = 0
    for m: uint256 in range(constants.MAX_MARKETS):
        if m == markets.num_markets:
            break
        caps: uint256 = self.caps_of[m]
        if caps == 0:
            continue
        if markets.oi_word[m] == 0:
            continue
        t: MarketTerms = self._market_terms(m, markets._price(m))
        need = max(need, math._mul_div(t.side_notional, constants.WAD, caps & LANE, True))
        profit: int256 = t.pnl - t.funding
        if profit > 0:
            need = max(
                need, math._mul_div(convert(profit, uint256), constants.WAD, caps >> 128, True)
            )
    total: uint256 = self.total_reserve_factor
    if total != 0:
        need = max(need, math._mul_div(s.side_notional, constants.WAD, total, True))
    # the options' reserve: their margin within the desk's factor of the value
    need = max(need, options._pool_options()[2])
    r: PoolState = s
    r.min_value = need
    return r
