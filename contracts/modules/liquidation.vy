# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin liquidation, insurance fund and bad-debt waterfall
@notice An account whose equity is below its maintenance margin (E < MM)
        can be liquidated by anyone but itself:
        - `liquidate` closes part of one position at the oracle price (no
          skew premium, no fee). It closes the least size that brings the
          account back to `target_health` (E / MM after the penalty), the
          whole position when the rest would be dust, when the account is
          far under (E / MM < `full_close_health`, or E <= 0), or when a
          partial close could not raise E / MM (E / MM <= penalty / mmr).
          A whole-position close cannot be split into pieces (`max_size`
          below the position reverts), and a piece smaller than the engine
          would close must be worth at least `dust_notional` (and $1), so
          every partial liquidation raises E / MM.
          With the linear margin ratio `mmr(y) = b + c * y / K`, closing `x`
          of `S` frees `x * P * (b + c * (2S - x) / K)` of MM, so the size
          solves `E - pen * P * x = target * (MM - x * P * r)` for r at the
          previous estimate of x, up to five times from x = S (a repeated
          estimate is a fixed point: it stops there); every estimate is
          at least the exact answer (r only grows toward the true average),
          so the target is reached. With c = 0 the first is exact; with a
          size add-on 10 % of the base ratio the fifth is within 2e-7 of the
          least size (docs/liquidation.md).
        - The penalty, `penalty` of closed notional (at most the market's
          base maintenance ratio, so a liquidation never lowers E - MM),
          leaves the account's quote balance. The liquidator's share rises linearly from
          `keeper_share_min` just under MM to `keeper_share_max` at a
          shortfall (1 - E / MM) of `auction_depth` (a Dutch auction); the
          rest goes to the insurance fund, but only out of equity the
          account has left after the liquidator's share (a bankrupt account
          pays the liquidator's share alone: a clean-up bounty that the
          bad-debt waterfall funds). A partial liquidation raises E / MM, so
          splitting one liquidation into many only lowers the share of the
          later pieces: never more profitable than one. The liquidator is
          paid in its sub-account 0 quote balance.
        - `liquidate_collateral` lets a liquidator repay the quote debt of
          an account with no positions and E < MM (in linear margin MM is
          0 without positions; in portfolio margin it is the collateral's
          worst scenario loss), receiving a non-quote
          collateral at `collateral_discount` below the oracle price (at
          most the asset's maintenance haircut, so the account's equity
          never falls). The collateral is seized inside the engine, credited
          to the liquidator's sub-account 0 (as Compound v3's `absorb` and
          Aave's `receiveAToken`): no token is pushed, so a paused or
          blocklisting collateral token cannot block the liquidation.
        - Bad debt: once an account has no positions and no non-quote
          collateral, a negative quote balance is a deficit; the insurance
          fund pays it, then the pool ledger (LP share price falls). Both
          are counted (`BadDebt`, running totals) and the tokens held stay
          equal to the sum of all ledgers, to the wei. `settle_bad_debt`
          does the same for an account that closed its own positions
          under water.
        Liquidation stops while paused and for `liquidation_grace` seconds
        after the unpause (`governance`); it ignores closed markets; it
        needs valid prices for every asset and market the account holds.
        `settle_bad_debt` runs regardless: it takes nothing from anyone.
@custom:security Self-liquidation (the owner or one of its operators) is
                 refused. Through another address the owner earns exactly
                 the liquidator's share a third party would; a solvent
                 account also pays the insurance share, so it loses money.
"""

from snekmate.auth import ownable
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
from . import oracle
from . import portfolio
from . import token_transfer
from . import trading
from . import errors

uses: ownable
uses: accounts
uses: collateral
uses: governance
uses: liquidity
uses: markets
uses: operators
uses: oracle
uses: portfolio
uses: trading


# The Clearinghouse's own view of the realisation cap (ClearinghousePool).
interface IPayOut:
    def pool_pay_out(market_id: uint256, net: int256) -> int256: view


struct LiquidationParams:
    # WAD fraction of the closed notional charged to the account.
    penalty: uint256
    # WAD fractions of the penalty paid to the liquidator.
    keeper_share_min: uint256
    keeper_share_max: uint256
    # WAD shortfall (1 - E / MM) at which the share reaches its maximum.
    auction_depth: uint256
    # WAD E / MM a partial liquidation restores (>= 1).
    target_health: uint256
    # WAD: below this E / MM the whole position is closed (< 1).
    full_close_health: uint256
    # WAD USD: a position left smaller than this is closed whole.
    dust_notional: uint256
    # WAD discount at which liquidated collateral is sold.
    collateral_discount: uint256


# One item of `liquidate_many`: `liquidate`'s arguments.
struct LiquidationItem:
    owner: address
    sub_id: uint256
    market_id: uint256
    max_size: uint256
    min_reward: uint256


# Most items in one `liquidate_many` (100: ~5.4M gas of one-position
# accounts, a sixth of a 30M block; fewer, larger batches spread each
# batch's fixed cost, its price reads and first touch of each market, over
# more accounts).
MAX_BATCH: constant(uint256) = 100
# Revert data kept of a skipped item: a reason of up to 32 bytes, ABI-encoded.
MAX_REASON: constant(uint256) = 100
# An item whose call failed with at most gas_before / STARVED left was
# starved by the caller, not refused (as `trading.STARVED`).
STARVED: constant(uint256) = 8


# The caller of the `liquidate_many` running now (empty outside one): a
# batch inside a batch is refused.
batch_caller: transient(address)


event LiquidationSkipped:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    # The item's revert data (`Error(string)` for the engine's reasons).
    reason: Bytes[MAX_REASON]


event LiquidationParamsSet:
    params: LiquidationParams


event Liquidation:
    owner: indexed(address)
    sub_id: indexed(uint256)
    market_id: indexed(uint256)
    liquidator: address
    # Signed size closed (opposite sign of the position) and what is left.
    size_delta: int256
    new_size: int256
    price: uint256
    # Funding index the rest of the position is re-entered at.
    funding_index: int256
    equity_before: int256
    mm_before: uint256
    # Native quote units: the account's realised PnL - funding, the
    # penalty, and its split.
    quote_delta: int256
    penalty: uint256
    keeper_reward: uint256
    insurance_share: uint256


event CollateralLiquidation:
    owner: indexed(address)
    sub_id: indexed(uint256)
    asset: indexed(address)
    liquidator: address
    # Native units: quote repaid, collateral received.
    repaid: uint256
    collateral_out: uint256
    price: uint256


event BadDebt:
    owner: indexed(address)
    sub_id: indexed(uint256)
    # Native quote units: the deficit and who paid it.
    deficit: uint256
    from_insurance: uint256
    from_pool: uint256


event CollateralWrittenOff:
    owner: indexed(address)
    sub_id: indexed(uint256)
    asset: indexed(address)
    # Native units moved to the insurance account.
    amount: int256


event CollateralRecovered:
    asset: indexed(address)
    to: indexed(address)
    amount: uint256


event InsuranceFunded:
    sender: indexed(address)
    amount: uint256
    balance: uint256


event LiquidationCapacitySet:
    window: uint256
    factor: uint256


# Bounds an owner may set.
MAX_PENALTY: constant(uint256) = 10**17  # 10 % of closed notional
MAX_TARGET_HEALTH: constant(uint256) = 2 * 10**18
MAX_DISCOUNT: constant(uint256) = 2 * 10**17  # 20 %
MAX_DUST: constant(uint256) = 10**24  # 1,000,000 USD
# Least notional of a liquidation piece smaller than the engine would close.
MIN_PIECE: constant(uint256) = 10**18  # 1 USD
MAX_CAPACITY_WINDOW: constant(uint256) = 3_600
MAX_CAPACITY_FACTOR: constant(uint256) = 10 * 10**18

# LiquidationParams packed by hand into three words (one slot per field
# would cost a liquidation 8 cold reads instead of 2):
#   [0] penalty | keeper_share_min << 64 | keeper_share_max << 128 | auction_depth << 192
#   [1] target_health | full_close_health << 64 | dust_notional << 128
#   [2] collateral_discount
# Every field fits its lane by `set_liquidation_params`' bounds (<= 2e18 <
# 2**64; dust <= MAX_DUST = 1e24 < 2**128); raising a MAX_ above past its
# lane would corrupt a neighbour, which the round-trip test at the bounds in
# test_liquidation_params_are_bounded_and_owner_only catches.
liquidation_words: uint256[3]
LANE_64: constant(uint256) = (1 << 64) - 1
# Bad debt written off, running totals in native quote units, in one word
# (a write-off wrote three slots): paid by the insurance fund (uint128) |
# by the pool (uint128) << 128; `bad_debt_total` is their sum. A statistic
# only: each lane stops at 2**128 - 1 rather than revert (a full total
# must not block a write-off) or spill into the other.
bad_debt_word: uint256
LANE_128: constant(uint256) = (1 << 128) - 1
# Liquidation capacity: window (seconds) | factor << 64 (WAD; 0: no cap).
capacity_word: uint256
# market_id -> start of its current window | size closed in it << 64.
liquidated_in_window: HashMap[uint256, uint256]


# ---------------------------------------------------------------- configuration


@external
def set_liquidation_params(params: LiquidationParams):
    """
    @notice Sets the penalty, its split, the health target and thresholds.
    @param params See `LiquidationParams`; bounds are checked.
    """
    ownable._check_owner()
    assert params.penalty <= MAX_PENALTY, errors.PENALTY_TOO_HIGH
    assert params.keeper_share_min <= params.keeper_share_max, errors.SHARE_MIN_ABOVE_MAX
    assert params.keeper_share_max <= constants.WAD, errors.SHARE_TOO_HIGH
    assert (
        params.auction_depth > 0 and params.auction_depth <= constants.WAD
    ), errors.AUCTION_DEPTH_RANGE
    assert params.target_health > constants.WAD, errors.TARGET_TOO_LOW
    assert params.target_health <= MAX_TARGET_HEALTH, errors.TARGET_TOO_HIGH
    assert params.full_close_health < constants.WAD, errors.FULL_CLOSE_TOO_HIGH
    assert params.dust_notional <= MAX_DUST, errors.DUST_TOO_LARGE
    assert params.collateral_discount <= MAX_DISCOUNT, errors.DISCOUNT_TOO_HIGH
    self.liquidation_words = [
        params.penalty
        | (params.keeper_share_min << 64)
        | (params.keeper_share_max << 128)
        | (params.auction_depth << 192),
        params.target_health | (params.full_close_health << 64) | (params.dust_notional << 128),
        params.collateral_discount,
    ]
    log LiquidationParamsSet(params=params)


@external
@view
def liquidation_params() -> LiquidationParams:
    """
    @notice The penalty, its split, the health target and thresholds.
    @return See `LiquidationParams` (all zero until the owner sets them).
    """
    lp: LiquidationParams = self._liquidation_params()
    lp.collateral_discount = self.liquidation_words[2]
    return lp


@internal
@view
def _liquidation_params() -> LiquidationParams:
    """
    @dev Every field `_liquidate` reads (words 0 and 1; not the discount).
    """
    w: uint256 = self.liquidation_words[0]
    lp: LiquidationParams = empty(LiquidationParams)
    lp.penalty = w & LANE_64
    lp.keeper_share_min = (w >> 64) & LANE_64
    lp.keeper_share_max = (w >> 128) & LANE_64
    lp.auction_depth = w >> 192
    w = self.liquidation_words[1]
    lp.target_health = w & LANE_64
    lp.full_close_health = (w >> 64) & LANE_64
    lp.dust_notional = w >> 128
    return lp


@external
def set_liquidation_capacity(window: uint256, factor: uint256):
    """
    @notice Caps the size liquidations may close in each market per window
            at factor x 2 x maker_fee x skew_scale. A liquidation moves the
            skew without paying the premium, so selling into the skew,
            liquidating L and buying back earns price x L / skew_scale per
            unit; the round trip pays at least 2 x maker_fee per unit, so
            with factor <= 1 no one-window sandwich pays (docs/orders.md). A
            market with no maker fee is not capped.
    @param window Seconds, 1 <= w <= 3,600 (ignored when factor is 0).
    @param factor WAD, <= 10; 0 removes the cap.
    """
    ownable._check_owner()
    if factor != 0:
        assert window > 0 and window <= MAX_CAPACITY_WINDOW, errors.CAPACITY_WINDOW_RANGE
        assert factor <= MAX_CAPACITY_FACTOR, errors.CAPACITY_FACTOR_RANGE
    self.capacity_word = window | (factor << 64)
    log LiquidationCapacitySet(window=window, factor=factor)


@external
@view
def liquidation_capacity(market_id: uint256) -> (uint256, uint256, uint256):
    """
    @notice The liquidation window, its factor and the size liquidations
            may still close in a market now.
    @param market_id A listed market.
    @return window (seconds), factor (WAD; 0: no cap), size left (WAD base
            units; max_value(uint256) when uncapped).
    """
    markets._check_market(market_id)
    w: uint256 = self.capacity_word
    if w >> 64 == 0:
        return w & LANE_64, 0, max_value(uint256)
    return w & LANE_64, w >> 64, self._capacity(market_id, w, markets._skew_scale(market_id))[0]


@internal
@view
def _capacity(market_id: uint256, w: uint256, skew_scale: uint256) -> (uint256, uint256, uint256):
    """
    @dev (size left, window start, size used) of a capped market now: a
         window that has run out starts again at this block. A market with
         no maker fee is never capped (its cap would be 0).
    """
    cap: uint256 = math._mul_div(
        2 * markets._maker_fee(market_id) * (w >> 64) // constants.WAD,
        skew_scale,
        constants.WAD,
        False,
    )
    used_word: uint256 = self.liquidated_in_window[market_id]
    start: uint256 = used_word & LANE_64
    used: uint256 = used_word >> 64
    if block.timestamp >= start + (w & LANE_64):
        start = block.timestamp
        used = 0
    if cap == 0:
        # No maker fee, no bound the cap could keep: never block liveness.
        return max_value(uint256), start, 0
    left: uint256 = 0
    if cap > used:
        left = cap - used
    return left, start, used


@external
@view
def insurance_fund() -> uint256:
    """
    @notice Quote tokens held for bad debt, native quote units.
    @return The insurance fund.
    """
    return liquidity.cash_word >> 128


@external
@view
def bad_debt_total() -> uint256:
    """
    @notice Bad debt written off so far, native quote units.
    @return What the insurance fund and the pool paid, together.
    """
    w: uint256 = self.bad_debt_word
    return (w & LANE_128) + (w >> 128)


@external
@view
def bad_debt_insurance() -> uint256:
    """
    @notice Bad debt the insurance fund paid so far, native quote units.
    @return The running total.
    """
    return self.bad_debt_word & LANE_128


@external
@view
def bad_debt_pool() -> uint256:
    """
    @notice Bad debt the pool paid so far, native quote units.
    @return The running total.
    """
    return self.bad_debt_word >> 128


@external
def fund_insurance(amount: uint256):
    """
    @notice Adds quote tokens to the insurance fund (anyone may).
    @param amount Native quote units, > 0; the caller must have approved them.
    """
    assert amount > 0, errors.ZERO_AMOUNT
    assert amount <= constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    liquidity._add_insurance(amount)
    token_transfer._pull(collateral.quote_asset, msg.sender, amount)
    log InsuranceFunded(sender=msg.sender, amount=amount, balance=liquidity.cash_word >> 128)


# ---------------------------------------------------------------- liquidation


@external
def liquidate(
    owner: address, sub_id: uint256, market_id: uint256, max_size: uint256, min_reward: uint256
) -> uint256:
    """
    @notice Closes (part of) a position of an account below maintenance
            margin at the oracle price; the caller earns part of the penalty
            in its sub-account 0 quote balance.
    @param owner The account owner (not the caller).
    @param sub_id The sub-account.
    @param market_id The market whose position to close.
    @param max_size Most size to close (WAD base units, > 0); the engine
           closes less when less restores the target health.
    @param min_reward Least reward accepted (native quote units).
    @return The size closed (WAD base units).
    """
    # Inside `liquidate_many` this runs by `delegatecall`: `msg.sender` is
    # still the batch's caller.
    liquidator: address = msg.sender
    governance._check_liquidations_open()
    self._check_not_self(liquidator, owner, sub_id)
    markets._check_market(market_id)
    assert max_size > 0, errors.ZERO_SIZE
    lp: LiquidationParams = self._liquidation_params()
    assert lp.target_health != 0, errors.NOT_CONFIGURED
    old: markets.Position = markets._position(owner, sub_id, market_id)
    assert old.size != 0, errors.NO_POSITION
    # A portfolio account's exposure is kept: it also orders the close below.
    in_portfolio: bool = accounts._is_portfolio(owner, sub_id)
    x: portfolio.Exposure = empty(portfolio.Exposure)
    h: health.Health = empty(health.Health)
    if in_portfolio:
        # One pass over the book in the core for both: the exposure orders
        # the close, and carries the portfolio requirement.
        x = health._exposure(owner, sub_id)
        h = health.Health(equity=x.equity, im=x.im, mm=x.mm)
    else:
        h = health._health(owner, sub_id)
    assert h.equity < convert(h.mm, int256), errors.NOT_LIQUIDATABLE
    # Portfolio MM is not a sum over positions, so the partial-close sizing
    # (which solves for the MM a close frees) does not apply: portfolio
    # accounts lose whole positions, the one losing most in the account's
    # worst scenario first (greedy: the next liquidation takes the next).
    # Ordered before the accrual below: each position is valued as the
    # grid values it, less the funding accrued since its market's last
    # touch, which the accrual would zero for this market only.
    if in_portfolio:
        chosen: int256 = 0
        lowest: int256 = 0
        first: uint256 = 0
        chosen, lowest, first = portfolio._close_order(owner, sub_id, market_id, x)
        assert chosen == lowest, errors.WRONG_ORDER

    price: uint256 = markets._price(market_id)
    index: int256 = markets._accrue(market_id, price)
    p: markets.MarketParams = markets._risk_params(market_id)
    # The penalty rate never exceeds the market's base maintenance ratio: a
    # close then frees at least as much MM as it charges, so E - MM never
    # falls (a 10 % penalty on a 5 % market would push accounts under).
    lp.penalty = min(lp.penalty, p.mmr_base)
    size_abs: uint256 = fp._abs(old.size)
    quote: address = collateral.quote_asset
    precision: uint256 = collateral.asset_word[quote] >> collateral.PRECISION_SHIFT
    wanted: uint256 = size_abs
    if not in_portfolio:
        wanted = self._close_size(h.equity, h.mm, size_abs, price, p, lp, precision)
    # A whole-position close cannot be taken in pieces: a piece would lower
    # E / MM (or leave dust) and raise the next piece's keeper share.
    assert wanted < size_abs or max_size >= size_abs, errors.MUST_CLOSE_WHOLE
    closed: uint256 = min(wanted, max_size)
    w: uint256 = self.capacity_word
    if w >> 64 != 0:
        # The market's window caps the size every liquidation in it closes.
        left: uint256 = 0
        start: uint256 = 0
        used: uint256 = 0
        left, start, used = self._capacity(market_id, w, p.skew_scale)
        assert left != 0, errors.LIQ_CAPACITY
        if left != max_value(uint256):
            closed = min(closed, left)
            self.liquidated_in_window[market_id] = start | ((used + closed) << 64)
    if closed < wanted:
        # A piece pays a penalty rounded up to a native quote unit: one worth
        # almost nothing would free less MM than that unit and lower E / MM.
        assert math._mul_div(closed, price, constants.WAD, False) >= max(
            lp.dust_notional, MIN_PIECE
        ), errors.PIECE_BELOW_DUST

    delta: int256 = convert(closed, int256)
    if old.size > 0:
        delta = -delta
    risk: markets.PositionRisk = markets._risk(old, p, price, index)
    # A profit is paid only as far as the pool can pay it (the realisation
    # cap), which the pool extension computes: `self` is the Clearinghouse.
    paid: int256 = risk.pnl - risk.funding
    if paid > 0:
        paid = staticcall IPayOut(self).pool_pay_out(market_id, paid)
    quote_delta: int256 = trading._apply(
        owner, sub_id, market_id, old, old.size + delta, price, index, paid
    )

    # Penalty, native quote units, rounded up against the account; the
    # liquidator's share rounds down.
    penalty_wad: uint256 = math._mul_div(
        math._mul_div(closed, price, constants.WAD, True), lp.penalty, constants.WAD, True
    )
    penalty: uint256 = fp._ceil_div_u(penalty_wad, precision)
    reward: uint256 = math._mul_div(
        penalty, self._keeper_share(h.equity, h.mm, lp), constants.WAD, False
    )
    assert reward >= min_reward, errors.REWARD_BELOW_MIN
    # The insurance fund takes its share only out of equity the account still
    # has after the reward: charging a bankrupt account for the fund would
    # only be paid back by the fund (and the pool) as bad debt.
    left: int256 = max(h.equity // convert(precision, int256) - convert(reward, int256), 0)
    # A full fund (its lane's room) takes no more: it never blocks this.
    insurance: uint256 = min(
        min(penalty - reward, convert(left, uint256)), liquidity._insurance_room()
    )
    penalty = reward + insurance
    if penalty != 0:
        collateral._add(owner, sub_id, quote, -convert(penalty, int256))
        liquidity._add_insurance(insurance)
    if reward != 0:
        collateral._add(liquidator, 0, quote, convert(reward, int256))

    log Liquidation(
        owner=owner,
        sub_id=sub_id,
        market_id=market_id,
        liquidator=liquidator,
        size_delta=delta,
        new_size=old.size + delta,
        price=price,
        funding_index=index,
        equity_before=h.equity,
        mm_before=h.mm,
        quote_delta=quote_delta,
        penalty=penalty,
        keeper_reward=reward,
        insurance_share=insurance,
    )
    self._settle_bad_debt(owner, sub_id)
    return closed


@internal
def _liquidate_many(items: DynArray[LiquidationItem, MAX_BATCH], liquidator: address) -> uint256:
    """
    @dev The body of the Clearinghouse's `liquidate_many`: each item runs
         `liquidate` in the `liquidator` extension by `delegatecall`, on
         this storage and for the batch's caller (`msg.sender` is kept),
         so that its revert undoes only its own changes. Each item takes
         the engine's lock itself, and between items nothing but static
         calls (the router) leaves the engine. An item starved of gas by
         the caller is not skipped: the batch reverts (`STARVED`).
    """
    assert self.batch_caller == empty(address), errors.BATCH_NESTED
    self.batch_caller = msg.sender
    oracle._start_price_cache()
    # Items grouped by market (as the keeper sends them) look each up once.
    last: uint256 = max_value(uint256)
    for it: LiquidationItem in items:
        if it.market_id != last:
            oracle._cache_price(markets._asset(it.market_id))
            last = it.market_id
    for i: uint256 in range(1, constants.MAX_ASSETS):
        if i == collateral.num_assets:
            break
        asset: address = collateral.asset_list[i]
        if (collateral.asset_word[asset] & collateral.LANE_64) != constants.WAD:
            oracle._cache_price(asset)
    done: uint256 = 0
    for it: LiquidationItem in items:
        gas_before: uint256 = msg.gas
        ok: bool = False
        data: Bytes[MAX_REASON] = b""
        ok, data = raw_call(
            liquidator,
            abi_encode(
                it.owner,
                it.sub_id,
                it.market_id,
                it.max_size,
                it.min_reward,
                method_id=method_id("liquidate(address,uint256,uint256,uint256,uint256)"),
            ),
            max_outsize=MAX_REASON,
            is_delegate_call=True,
            revert_on_failure=False,
        )
        if ok:
            done += 1
        else:
            assert msg.gas * STARVED > gas_before, errors.BATCH_OUT_OF_GAS
            log LiquidationSkipped(
                owner=it.owner, sub_id=it.sub_id, market_id=it.market_id, reason=data
            )
    oracle._stop_price_cache()
    self.batch_caller = empty(address)
    assert done != 0, errors.BATCH_ALL_FAILED
    return done


@external
def liquidate_collateral(
    owner: address, sub_id: uint256, asset: address, repay_amount: uint256, min_out: uint256
) -> uint256:
    """
    @notice Repays quote debt of an account with no positions and equity
            below its maintenance margin, buying one of its collateral
            assets at a discount. The repayment is pulled from the caller's
            wallet; the collateral is credited to the caller's sub-account
            0 in the engine (no token leaves), to withdraw when it wants.
    @param owner The account owner (not the caller).
    @param sub_id The sub-account.
    @param asset A listed non-quote asset the account holds.
    @param repay_amount Most quote to repay (native units, > 0); capped at
           the debt and at what the account's `asset` balance is worth.
    @param min_out Least collateral credited (native units of `asset`).
    @return The collateral credited (native units).
    """
    governance._check_liquidations_open()
    self._check_not_self(msg.sender, owner, sub_id)
    collateral._check_listed(asset)
    quote: address = collateral.quote_asset
    assert asset != quote, errors.QUOTE_NOT_COLLATERAL
    assert repay_amount > 0, errors.ZERO_AMOUNT
    assert repay_amount <= constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    assert not accounts._has_positions(owner, sub_id), errors.HAS_POSITIONS
    debt: int256 = collateral.balances[owner][sub_id][quote]
    assert debt < 0, errors.NO_DEBT
    h: health.Health = health._health(owner, sub_id)
    assert h.equity < convert(h.mm, int256), errors.NOT_LIQUIDATABLE
    held: int256 = collateral.balances[owner][sub_id][asset]
    assert held > 0, errors.HOLDS_NONE

    # On a shortfall of the asset's tokens against its ledgers (`reconcile`)
    # a ledger unit is backed by `cover` of a token: it sells for that. A
    # token whose balance cannot be read is taken as covered: the seizure
    # goes on, and the liquidator, who chose to buy, bears it. One the
    # engine holds none of sells for 1 wei: the liquidator takes it for a
    # unit of dust, and the debt left is written off.
    price: uint256 = oracle._price(asset)
    # (price <= 1e36: the product cannot overflow; exact when covered.)
    price = max(
        price * collateral._backing(asset, token_transfer._held_or_max(asset)) // constants.WAD, 1
    )
    q_precision: uint256 = collateral.asset_word[quote] >> collateral.PRECISION_SHIFT
    a_precision: uint256 = collateral.asset_word[asset] >> collateral.PRECISION_SHIFT
    # Collateral sells at price * (1 - discount): `out` native units cost
    # out * a_precision * price * (1 - discount) / WAD^2 USD. The discount
    # never exceeds the asset's maintenance haircut, so buying collateral
    # never lowers the account's equity.
    discount: uint256 = min(
        self.liquidation_words[2], (collateral.asset_word[asset] & collateral.LANE_64)
    )
    if h.equity >= 0:
        # Solvent but below MM (portfolio margin): the discount scales with
        # the shortfall (MM - E) / MM, a Dutch auction like `liquidate`'s
        # keeper share, so an account just under MM loses next to nothing.
        discount = discount * (h.mm - convert(h.equity, uint256)) // h.mm
    cost_num: uint256 = a_precision * price * (constants.WAD - discount)
    repaid: uint256 = min(repay_amount, fp._abs(debt))
    out: uint256 = math._mul_div(
        repaid * q_precision, constants.WAD * constants.WAD, cost_num, False
    )
    if out > convert(held, uint256):
        # Everything the account holds, for what it costs (rounded up).
        out = convert(held, uint256)
        repaid = math._mul_div(out, cost_num, constants.WAD * constants.WAD * q_precision, True)
    assert out > 0, errors.REPAY_BELOW_ONE_UNIT
    assert out >= min_out, errors.OUT_BELOW_MIN

    collateral._add(owner, sub_id, quote, convert(repaid, int256))
    collateral._add(owner, sub_id, asset, -convert(out, int256))
    # Seized, not sent: the collateral moves to the liquidator's sub-account
    # 0 inside the engine (withdrawing it is the liquidator's own step), so
    # a token that is paused, blocklists or reverts cannot block this.
    collateral._add(msg.sender, 0, asset, convert(out, int256))
    log CollateralLiquidation(
        owner=owner,
        sub_id=sub_id,
        asset=asset,
        liquidator=msg.sender,
        repaid=repaid,
        collateral_out=out,
        price=price,
    )
    self._settle_bad_debt(owner, sub_id)
    token_transfer._pull(quote, msg.sender, repaid)
    return out


@external
def settle_bad_debt(owner: address, sub_id: uint256):
    """
    @notice Writes off the quote debt of an account with no positions and no
            collateral that counts (e.g. it closed its own positions under
            water, or holds only a frozen asset at the end of its ramp
            whose feed is dead): collateral at a 100 % maintenance haircut
            that the router cannot price moves to the insurance account
            (the Clearinghouse's own sub-account 0) for the owner to
            recover, and the insurance fund pays the debt, then the pool
            ledger. Collateral the router still prices is refused: sold
            by `liquidate_collateral`, it pays the debt and the account
            keeps the rest. Anyone may call.
    @param owner The account owner.
    @param sub_id The sub-account.
    """
    assert not accounts._has_positions(owner, sub_id), errors.HAS_POSITIONS
    assert collateral.balances[owner][sub_id][collateral.quote_asset] < 0, errors.NO_DEBT
    held: uint256 = accounts._held_mask(owner, sub_id) >> 1
    for i: uint256 in range(1, constants.MAX_ASSETS):
        if held == 0:
            break
        if held & 1 != 0:
            asset: address = collateral.asset_list[i]
            # Only collateral worth nothing in every margin view is taken,
            # and only while nobody can price it: priced, liquidators buy it
            # (`liquidate_collateral`) and the account keeps what is left.
            assert (
                (collateral.asset_word[asset] & collateral.LANE_64) == constants.WAD
            ), errors.HOLDS_COLLATERAL
            assert not self._priced(asset), errors.STILL_PRICED
            amount: int256 = collateral.balances[owner][sub_id][asset]
            collateral._add(owner, sub_id, asset, -amount)
            collateral._add(self, 0, asset, amount)
            log CollateralWrittenOff(owner=owner, sub_id=sub_id, asset=asset, amount=amount)
        held >>= 1
    self._settle_bad_debt(owner, sub_id)


@external
def recover_collateral(asset: address, amount: uint256, to: address):
    """
    @notice Moves collateral written off with bad debt from the insurance
            account (the Clearinghouse's own sub-account 0) to `to`'s
            sub-account 0, inside the engine: `to` withdraws it (e.g. to
            sell it and pay the proceeds back with `fund_insurance`) when
            the token works. Owner only.
    @param asset A listed asset.
    @param amount Native units, > 0, at most the insurance account holds.
    @param to The account credited (not the Clearinghouse).
    """
    ownable._check_owner()
    assert amount > 0, errors.ZERO_AMOUNT
    assert to != self, errors.RECOVER_TO_SELF
    assert convert(amount, int256) <= collateral.balances[self][0][asset], errors.RECOVER_ABOVE_HELD
    collateral._add(self, 0, asset, -convert(amount, int256))
    collateral._add(to, 0, asset, convert(amount, int256))
    log CollateralRecovered(asset=asset, to=to, amount=amount)


@external
@view
def portfolio_liquidation_market(owner: address, sub_id: uint256) -> uint256:
    """
    @notice The market a liquidation of this portfolio-mode account closes
            first: the position losing most in the account's worst
            scenario (the first such market on ties). `liquidate` accepts
            any market whose position loses as much.
    @dev Reverts for an account with no position or not in portfolio mode.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return The market id.
    """
    assert accounts._is_portfolio(owner, sub_id), errors.NOT_PORTFOLIO
    assert accounts._position_mask(owner, sub_id) != 0, errors.PM_NO_POSITION
    chosen: int256 = 0
    lowest: int256 = 0
    first: uint256 = 0
    chosen, lowest, first = portfolio._close_order(
        owner, sub_id, 0, health._exposure(owner, sub_id)
    )
    return first


# ---------------------------------------------------------------- internals


@internal
@view
def _priced(asset: address) -> bool:
    """
    @dev Whether the router prices `asset` now (its reverts caught).
    """
    return raw_call(
        oracle.oracle.address,
        abi_encode(asset, method_id=method_id("price(address)")),
        is_static_call=True,
        revert_on_failure=False,
    )


@internal
@view
def _check_not_self(liquidator: address, owner: address, sub_id: uint256):
    assert not operators._acts_for(liquidator, owner, sub_id), errors.SELF_LIQUIDATION


@internal
@pure
def _keeper_share(equity: int256, mm: uint256, lp: LiquidationParams) -> uint256:
    """
    @dev keeper_share_min + (max - min) * min(shortfall / auction_depth, 1),
         shortfall = 1 - E / MM (WAD, rounded down); the maximum when E <= 0.
    """
    if equity <= 0:
        return lp.keeper_share_max
    e: uint256 = convert(equity, uint256)
    # Callers pass E < MM, so 0 < e < mm.
    shortfall: uint256 = (mm - e) * constants.WAD // mm
    t: uint256 = min(shortfall * constants.WAD // lp.auction_depth, constants.WAD)
    return lp.keeper_share_min + (lp.keeper_share_max - lp.keeper_share_min) * t // constants.WAD


@internal
@pure
def _close_size(
    equity: int256,
    mm: uint256,
    size_abs: uint256,
    price: uint256,
    p: markets.MarketParams,
    lp: LiquidationParams,
    precision: uint256,
) -> uint256:
    """
    @dev The size to close (see the module notes); `size_abs` means all.
         The account's equity is taken two native quote units lower than
         it is: the realised PnL rounds down and the penalty up to a native
         unit, and the target must hold after both.
    """
    if equity <= 0:
        return size_abs
    e: uint256 = convert(equity, uint256)
    if e * constants.WAD < mm * lp.full_close_health:
        return size_abs
    # target * MM - (E - 2 units), in WAD^2 USD; > 0 because E < MM < target * MM.
    need: uint256 = lp.target_health * mm - e * constants.WAD + 2 * precision * constants.WAD
    x: uint256 = size_abs
    last: uint256 = 0
    for i: uint256 in range(5):
        # Average MM ratio freed per unit when closing x (rounded down,
        # which only makes x larger).
        r: uint256 = min(
            p.mmr_base + (2 * size_abs - x) * p.mm_size_scalar // p.skew_scale, constants.WAD
        )
        if i == 0 and e * r <= lp.penalty * mm:
            # E / MM <= penalty / r: a partial close would lower E / MM.
            return size_abs
        gain: uint256 = lp.target_health * r // constants.WAD
        if gain <= lp.penalty:
            return size_abs
        x = math._mul_div(need, constants.WAD, price * (gain - lp.penalty), True)
        if x >= size_abs:
            return size_abs
        if x == last:
            # A fixed point: every later estimate would be this one.
            break
        last = x
    if math._mul_div(size_abs - x, price, constants.WAD, False) < lp.dust_notional:
        return size_abs
    return x


@internal
def _record_bad_debt(from_insurance: uint256, from_pool: uint256):
    """
    @dev Adds a write-off to the running totals (the layout is at
         `bad_debt_word`), each lane stopping at 2**128 - 1.
    """
    w: uint256 = self.bad_debt_word
    self.bad_debt_word = min((w & LANE_128) + from_insurance, LANE_128) | (
        min((w >> 128) + from_pool, LANE_128) << 128
    )


@internal
def _settle_bad_debt(owner: address, sub_id: uint256):
    """
    @dev An account with no positions and nothing but (negative) quote left
         has a deficit nobody can liquidate: the insurance fund pays it,
         then the pool ledger.
    """
    if accounts._has_positions(owner, sub_id):
        return
    if accounts._holds_collateral(owner, sub_id):
        return
    quote: address = collateral.quote_asset
    balance: int256 = collateral.balances[owner][sub_id][quote]
    if balance >= 0:
        return
    deficit: uint256 = fp._abs(balance)
    fund: uint256 = liquidity.cash_word >> 128
    from_insurance: uint256 = min(deficit, fund)
    from_pool: uint256 = deficit - from_insurance
    liquidity._store_cash(
        liquidity._pool_cash() - convert(from_pool, int256), fund - from_insurance
    )
    collateral._add(owner, sub_id, quote, balance * -1)
    self._record_bad_debt(from_insurance, from_pool)
    log BadDebt(
        owner=owner,
        sub_id=sub_id,
        deficit=deficit,
        from_insurance=from_insurance,
        from_pool=from_pool,
    )
