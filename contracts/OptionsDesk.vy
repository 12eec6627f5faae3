# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin options desk
@notice Where engine accounts `(owner, sub_id)` hold and trade the
        OptionsBook's series, with the LiquidityPool's ledger as the
        counterparty of every trade (docs/options.md):
        - orders are delayed: `commit_option_order`, then anyone's
          `execute_option_order` on an underlying price and a volatility
          both published at least the delay after the commit, so whoever
          sees a round coming cannot trade ahead of it; the premium is the
          book's Black-76 quote with the volatility widened by the
          underlying's spread against the trader;
        - each account holds at most MAX_HELD series; the engine adds
          `account_risk` (the positions' marks and linear margin) to its
          health, and `pool_terms` (what the pool owes on traders' net
          positions, and the margin of what it is short) to the pool's
          value and the cash it keeps; every cash move goes through the
          engine's `option_pay`;
        - an expired series' positions settle into the quote balance at the
          settlement price (`settle_option`); an account below maintenance
          margin has its options closed at the mark one at a time, the one
          that frees the most maintenance margin per unit of penalty first
          (`liquidate_options`).
@custom:security The pool's exposure is bounded per series by `max_oi`
                 contracts of traders' net position (its loss for a price
                 move of x is at most max_oi * x * S per series, delta <= 1),
                 and the margin of what it is short, by the short-option
                 rule, may grow only while it stays within `reserve_factor`
                 of the pool's value; that margin is cash LPs cannot
                 withdraw. State is written before the engine is called;
                 the engine's reads (`account_risk`, `pool_terms`) are
                 `@reentrant` views for that call.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .interfaces import IClearinghouseOptions
from .interfaces import IOptionsBook
from .interfaces import IOracleRouter
from .interfaces import IPortfolioRisk
from .modules import constants
from .modules import errors
from .modules import fixed_point as fp


# `IPortfolioRisk.requirement_with_options` for a set with credits: the
# options' P&Ls per risk group and scenario (the same selector, a larger
# array than the per-scenario sum the common path sends).
interface IPortfolioRiskByGroup:
    def requirement_with_options(
        lo: int256[8],
        hi: int256[8],
        gross_notional: uint256,
        open_positions: uint256,
        option_pnls: DynArray[int256, 256],
        short_notional: uint256,
    ) -> (uint256, uint256): view


initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    # ownership (renounce is deliberately not exported)
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


# An underlying's trading terms: the volatility spread (WAD fraction of
# the implied volatility, each side), the smallest position an account
# may hold (contracts, WAD; 0 or at least this), the largest traders' net
# position per series (contracts, WAD), and the delayed orders' delay and
# window.
struct TradeRules:
    vol_spread: uint256
    min_size: uint256
    max_oi: uint256
    min_delay: uint256
    window: uint256


struct OptionOrder:
    series_id: uint256
    # Contracts, WAD, signed: > 0 buys, < 0 sells.
    size: int256
    # Premium per contract, WAD USD: the most a buy pays, the least a
    # sell takes.
    limit: uint256
    commit_time: uint256
    # The rules in force at the commit.
    min_delay: uint256
    window: uint256


# An account's option sensitivities, WAD: delta per 1 USD, gamma per 1 USD
# squared, vega per 1.00 of volatility, theta per year (sizes applied).
struct Greeks:
    delta: int256
    gamma: int256
    vega: int256
    theta: int256


event TradeRulesSet:
    asset: indexed(address)
    vol_spread: uint256
    min_size: uint256
    max_oi: uint256
    min_delay: uint256
    window: uint256


event PoolLimitsSet:
    reserve_factor: uint256
    liquidation_penalty: uint256


event OptionOrderCommitted:
    owner: indexed(address)
    sub_id: indexed(uint256)
    series_id: indexed(uint256)
    size: int256
    limit: uint256


event OptionOrderExecuted:
    owner: indexed(address)
    sub_id: indexed(uint256)
    series_id: indexed(uint256)
    size: int256
    # Per contract, WAD USD; 0 when refused.
    premium: uint256
    price: uint256
    executor: address
    filled: bool


event OptionOrderCancelled:
    owner: indexed(address)
    sub_id: indexed(uint256)
    caller: address


event OptionTraded:
    owner: indexed(address)
    sub_id: indexed(uint256)
    series_id: indexed(uint256)
    size: int256
    # WAD USD to the account (negative: paid by it).
    cash: int256
    position: int256
    # TRADE, CLOSE or LIQUIDATION (modules/option_cash.vy).
    kind: uint256


# Series an account may hold at once, and series with traders' net open
# interest at once (the pool's value prices each of them on every read):
# the book lists at most 16 unsettled series at once, so the rest are
# settled series whose positions anyone can settle out of the list.
MAX_HELD: constant(uint256) = 8
MAX_ACTIVE: constant(uint256) = 32
# Trading terms' bounds: a spread of at most half the volatility, a delay
# of 1 s to 1 h, a window of 1 to 10 minutes (the executor, often the
# committer, picks the round inside it), the pool's short margin at most
# its value, a penalty of at most 5 % of the notional.
MAX_VOL_SPREAD: constant(uint256) = constants.WAD // 2
MAX_DELAY: constant(uint256) = 3_600
MIN_WINDOW: constant(uint256) = 60
MAX_WINDOW: constant(uint256) = 600
MAX_PENALTY: constant(uint256) = constants.WAD // 20
# option_cash's kinds.
TRADE: constant(uint256) = 0
CLOSE: constant(uint256) = 1
LIQUIDATION: constant(uint256) = 2
# A fill left with at most 1/STARVED of the gas it was given ran out of gas.
STARVED: constant(uint256) = 8

BOOK: public(immutable(IOptionsBook))
ENGINE: public(immutable(IClearinghouseOptions))

trade_rules: public(HashMap[address, TradeRules])
# The pool's short-option margin may grow only within this fraction of its
# value (WAD; 0 refuses every trade that grows it).
reserve_factor: public(uint256)
# A liquidation's penalty: this fraction of the closed position's notional
# (contracts * price), at most its maintenance margin; to the keeper.
liquidation_penalty: public(uint256)
# (owner, sub_id) -> series id -> contracts (WAD, signed).
position: public(HashMap[address, HashMap[uint256, HashMap[uint256, int256]]])
# The series an account holds.
held: HashMap[address, HashMap[uint256, DynArray[uint256, MAX_HELD]]]
# Traders' net contracts per series (> 0: the pool is short them).
net_oi: public(HashMap[uint256, int256])
# The series whose net_oi is not 0.
active: DynArray[uint256, MAX_ACTIVE]
pending: HashMap[address, HashMap[uint256, OptionOrder]]


@deploy
def __init__(book: address, engine: address):
    """
    @notice The deployer becomes the owner.
    @param book The OptionsBook whose series trade here.
    @param engine The Clearinghouse whose accounts hold the positions (its
           owner names this desk with `set_options_book`).
    """
    ownable.__init__()
    ownable_2step.__init__()
    assert book.is_contract and engine.is_contract, errors.ENGINE_NOT_CONTRACT
    BOOK = IOptionsBook(book)
    ENGINE = IClearinghouseOptions(engine)


# ---------------------------------------------------------------- owner


@external
def set_trade_rules(
    asset: address,
    vol_spread: uint256,
    min_size: uint256,
    max_oi: uint256,
    min_delay: uint256,
    window: uint256,
):
    """
    @notice Sets how an underlying's series trade: the volatility spread
            (a fraction of the implied volatility, each side), the smallest
            position an account may be left with (a whole close is always
            allowed: dust positions in many series would fill the pool's
            list of active series), the largest net position traders may
            hold against the pool per series, and the delayed orders' delay
            and window (pending orders keep the delay and window they were
            committed under). A series trades only once its underlying has
            rules.
    @param asset The underlying.
    @param vol_spread WAD fraction of the volatility, at most 50 %.
    @param min_size Contracts (WAD), 0 < min_size <= max_oi.
    @param max_oi Contracts (WAD), at most the engine's largest size.
    @param min_delay Seconds, 1 .. 3,600.
    @param window Seconds, 60 .. 600.
    """
    ownable._check_owner()
    # Listed, so the engine's owner can put it in a risk group.
    assert (staticcall ENGINE.asset_config(asset)).listed, errors.UNDERLYING_NOT_LISTED
    assert (
        vol_spread <= MAX_VOL_SPREAD
        and min_size > 0
        and min_size <= max_oi
        and max_oi <= constants.MAX_SIZE
        and min_delay > 0
        and min_delay <= MAX_DELAY
        and window >= MIN_WINDOW
        and window <= MAX_WINDOW
    ), errors.TRADE_RULES_RANGE
    self.trade_rules[asset] = TradeRules(
        vol_spread=vol_spread,
        min_size=min_size,
        max_oi=max_oi,
        min_delay=min_delay,
        window=window,
    )
    log TradeRulesSet(
        asset=asset,
        vol_spread=vol_spread,
        min_size=min_size,
        max_oi=max_oi,
        min_delay=min_delay,
        window=window,
    )


@external
def set_pool_limits(reserve_factor: uint256, liquidation_penalty: uint256):
    """
    @notice Sets how much short-option margin the pool may carry (a
            fraction of its value) and a liquidation's penalty (a fraction
            of the closed position's notional, at most its maintenance
            margin).
    @param reserve_factor WAD, at most 100 %.
    @param liquidation_penalty WAD, at most 5 %.
    """
    ownable._check_owner()
    assert (
        reserve_factor <= constants.WAD and liquidation_penalty <= MAX_PENALTY
    ), errors.TRADE_RULES_RANGE
    self.reserve_factor = reserve_factor
    self.liquidation_penalty = liquidation_penalty
    log PoolLimitsSet(reserve_factor=reserve_factor, liquidation_penalty=liquidation_penalty)


# ---------------------------------------------------------------- traders


@external
def commit_option_order(sub_id: uint256, series_id: uint256, size: int256, limit: uint256):
    """
    @notice Commits an order to buy (`size` > 0) or sell option contracts
            against the pool, for the caller's sub-account. Anyone executes
            it (`execute_option_order`) once the underlying's price and the
            series' volatility have both been published at least the delay
            after now, within the window after that; at most one order per
            account is pending.
    @param sub_id The caller's sub-account.
    @param series_id A series before its expiry, on an underlying with
           trade rules.
    @param size Contracts, WAD, signed.
    @param limit Premium per contract, WAD USD: the most a buy pays, the
           least a sell takes.
    """
    assert size != 0, errors.ZERO_SIZE
    assert fp._abs(size) <= constants.MAX_SIZE, errors.SIZE_TOO_LARGE
    s: IOptionsBook.Series = staticcall BOOK.series_of(series_id)
    assert block.timestamp < s.expiry, errors.SERIES_EXPIRED
    r: TradeRules = self.trade_rules[s.asset]
    assert r.window != 0, errors.NO_TRADE_RULES
    left: int256 = self.position[msg.sender][sub_id][series_id] + size
    assert left == 0 or fp._abs(left) >= r.min_size, errors.OPTION_TOO_SMALL
    assert self.pending[msg.sender][sub_id].size == 0, errors.ORDER_PENDING
    self.pending[msg.sender][sub_id] = OptionOrder(
        series_id=series_id,
        size=size,
        limit=limit,
        commit_time=block.timestamp,
        min_delay=r.min_delay,
        window=r.window,
    )
    log OptionOrderCommitted(
        owner=msg.sender, sub_id=sub_id, series_id=series_id, size=size, limit=limit
    )


@external
def execute_option_order(owner: address, sub_id: uint256) -> uint256:
    """
    @notice Executes an account's pending option order at the book's quote
            (Black-76, the volatility widened by the spread), on a price and
            a volatility both published at or after the commit plus the
            delay, within the window. A premium beyond the order's limit,
            a series that has expired, or a trade the engine (margin,
            pause) or the caps refuse removes the order and trades nothing.
            Anyone may call.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return The premium per contract, WAD USD; 0 when refused.
    """
    o: OptionOrder = self.pending[owner][sub_id]
    assert o.size != 0, errors.NO_ORDER
    ready: uint256 = o.commit_time + o.min_delay
    assert block.timestamp >= ready, errors.ORDER_TOO_EARLY
    assert block.timestamp <= ready + o.window, errors.ORDER_EXPIRED
    s: IOptionsBook.Series = staticcall BOOK.series_of(o.series_id)
    self.pending[owner][sub_id] = empty(OptionOrder)
    price: uint256 = 0
    premium: uint256 = 0
    filled: bool = block.timestamp < s.expiry
    if filled:
        published: uint256 = 0
        premium, price, published = staticcall BOOK.quote(
            o.series_id, o.size, self.trade_rules[s.asset].vol_spread
        )
        assert published >= ready, errors.ORDER_PRICE_TOO_OLD
        filled = premium >= o.limit
        if o.size > 0:
            filled = premium <= o.limit
    if filled:
        # The fill runs in a call to this desk, so that a refusal removes
        # the order instead of leaving it pending for a later round.
        gas_before: uint256 = msg.gas
        filled = raw_call(
            self,
            abi_encode(
                owner,
                sub_id,
                o.series_id,
                o.size,
                premium,
                method_id=method_id("fill_option(address,uint256,uint256,int256,uint256)"),
            ),
            revert_on_failure=False,
        )
        # A call starved of gas by the executor is not a refusal.
        assert filled or msg.gas * STARVED > gas_before, errors.ORDER_OUT_OF_GAS
    if not filled:
        premium = 0
    log OptionOrderExecuted(
        owner=owner,
        sub_id=sub_id,
        series_id=o.series_id,
        size=o.size,
        premium=premium,
        price=price,
        executor=msg.sender,
        filled=filled,
    )
    return premium


@external
@reentrant
def fill_option(
    owner: address, sub_id: uint256, series_id: uint256, size: int256, premium: uint256
):
    """
    @notice An executed order's trade, for this desk only (it runs inside
            `execute_option_order`, which holds the lock): moves the
            position and the series' open interest, checks the caps, and
            has the engine move the premium (a buy pays it rounded up, a
            sell is paid it rounded down) and, for a trade that adds risk,
            check the account's initial margin.
    @param owner The account owner.
    @param sub_id The sub-account.
    @param series_id The series.
    @param size Contracts, WAD, signed.
    @param premium Per contract, WAD USD.
    """
    assert msg.sender == self, errors.ENGINE_ONLY
    # The premium as a debt of the buyer (rounded up) or a claim of the
    # seller (rounded down): the opposite position's value, rounded.
    cash: int256 = self._at(-size, premium)
    old: int256 = self.position[owner][sub_id][series_id]
    new: int256 = old + size
    old_net: int256 = self.net_oi[series_id]
    new_net: int256 = self._move(owner, sub_id, series_id, old, new)
    r: TradeRules = self.trade_rules[(staticcall BOOK.series_of(series_id)).asset]
    assert new == 0 or fp._abs(new) >= r.min_size, errors.OPTION_TOO_SMALL
    if fp._abs(new_net) > fp._abs(old_net):
        assert fp._abs(new_net) <= r.max_oi, errors.OPTION_OI_CAP
    # A trade that grows the position or flips it adds risk.
    kind: uint256 = CLOSE
    if fp._abs(new) > fp._abs(old) or (new != 0 and (new > 0) != (old > 0)):
        kind = TRADE
    extcall ENGINE.option_pay(
        owner, sub_id, cash, empty(address), 0, len(self.held[owner][sub_id]) != 0, kind
    )
    if new_net > old_net and new_net > 0:
        # The pool's short grew: its margin must stay within its reserve.
        margin: uint256 = self._pool_terms()[1]
        assert margin <= (staticcall ENGINE.pool_state()).value * self.reserve_factor // (
            constants.WAD
        ), errors.OPTION_RESERVE_CAP
    log OptionTraded(
        owner=owner,
        sub_id=sub_id,
        series_id=series_id,
        size=size,
        cash=cash,
        position=new,
        kind=kind,
    )


@external
def cancel_option_order(owner: address, sub_id: uint256):
    """
    @notice Removes an account's pending option order once its window has
            passed unexecuted. Anyone may call.
    @param owner The account owner.
    @param sub_id The sub-account.
    """
    o: OptionOrder = self.pending[owner][sub_id]
    assert o.size != 0, errors.NO_ORDER
    assert block.timestamp > o.commit_time + o.min_delay + o.window, errors.ORDER_NOT_EXPIRED
    self.pending[owner][sub_id] = empty(OptionOrder)
    log OptionOrderCancelled(owner=owner, sub_id=sub_id, caller=msg.sender)


# ---------------------------------------------------------------- anyone


@external
def settle_option(owner: address, sub_id: uint256, series_id: uint256) -> int256:
    """
    @notice Settles an account's position in an expired series whose
            settlement price is recorded (`OptionsBook.settle_expiry`) into
            its quote balance against the pool: a long is paid its payoff
            (rounded down), a short pays it (rounded up). Anyone may call.
    @param owner The account owner.
    @param sub_id The sub-account.
    @param series_id The series.
    @return WAD USD to the account (negative: paid by it).
    """
    s: IOptionsBook.Series = staticcall BOOK.series_of(series_id)
    assert block.timestamp >= s.expiry, errors.NOT_EXPIRED
    size: int256 = self.position[owner][sub_id][series_id]
    assert size != 0, errors.NO_OPTION_POSITION
    # After expiry the mark is the payoff at the settlement price (it
    # reverts `expired, not settled` before the price is recorded).
    cash: int256 = self._at(size, staticcall BOOK.mark(series_id))
    self._move(owner, sub_id, series_id, size, 0)
    extcall ENGINE.option_pay(
        owner, sub_id, cash, empty(address), 0, len(self.held[owner][sub_id]) != 0, CLOSE
    )
    log OptionTraded(
        owner=owner,
        sub_id=sub_id,
        series_id=series_id,
        size=-size,
        cash=cash,
        position=0,
        kind=CLOSE,
    )
    return cash


@external
def liquidate_options(owner: address, sub_id: uint256) -> uint256:
    """
    @notice Closes, at the mark against the pool, the option position of
            an account below maintenance margin that frees the most
            maintenance margin per unit of penalty (the first such one;
            in portfolio mode, the margin a position frees is the
            account's MM less its MM without it over the price x
            volatility grid, and when no close frees any, the one that
            raises it least);
            the caller (not the account or its operator) is paid the
            penalty: `liquidation_penalty` of the position's notional, at
            most half its maintenance margin. A position needing no margin
            (a worthless long) goes last, at no penalty. Positions in
            expired series wait for their settlement (`settle_option`). Call again while the
            account stays below maintenance margin.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return The series closed.
    """
    h: IClearinghouseOptions.Health = staticcall ENGINE.account_health(owner, sub_id)
    assert h.equity < convert(h.mm, int256), errors.NOT_LIQUIDATABLE
    best: uint256 = max_value(uint256)
    best_tier: uint256 = 0
    best_score: uint256 = 0
    best_value: int256 = 0
    best_penalty: uint256 = 0
    rate: uint256 = self.liquidation_penalty
    router: IOracleRouter = IOracleRouter(staticcall BOOK.oracle())
    # Portfolio mode: what closing a position frees is the account's MM
    # with it less the MM without it, over the same grid.
    portfolio: bool = staticcall ENGINE.portfolio_mode(owner, sub_id)
    without: DynArray[uint256, MAX_HELD] = []
    perps: uint256 = 0
    if portfolio:
        without, perps = self._mm_without_each(owner, sub_id)
    j: uint256 = 0
    for series_id: uint256 in self.held[owner][sub_id]:
        j += 1
        s: IOptionsBook.Series = staticcall BOOK.series_of(series_id)
        if block.timestamp >= s.expiry:
            continue
        size: int256 = self.position[owner][sub_id][series_id]
        r: IOptionsBook.OptionRisk = staticcall BOOK.position_risk(series_id, size)
        notional: uint256 = fp._abs(size) * staticcall router.price(s.asset) // constants.WAD
        # At most half its MM: a close always leaves the account better
        # off (a long's MM can be its whole value).
        penalty: uint256 = min(notional * rate // constants.WAD, r.mm // 2)
        # What the close frees: linear mode, the position's MM; portfolio
        # mode, how much lower the account's MM is without it.
        freed: uint256 = r.mm
        more: uint256 = 0
        if portfolio:
            freed = h.mm - min(h.mm, without[j - 1])
            more = without[j - 1] - min(h.mm, without[j - 1])
            # At most half what the close frees: equity - MM always rises.
            penalty = min(penalty, freed // 2)
        # Margin freed per unit of penalty first (a free close before
        # all); then, when no close frees any (a hedged book, a worthless
        # long), the close that raises the MM least: every position must
        # stay closable, or it would keep the account's collateral from
        # being sold and its debt from being written off.
        tier: uint256 = 0
        score: uint256 = max_value(uint256) - more
        if freed != 0:
            tier = 1
            score = max_value(uint256)
            if penalty != 0:
                score = freed * constants.WAD // penalty
        if (
            best == max_value(uint256)
            or tier > best_tier
            or (tier == best_tier and score > best_score)
        ):
            best = series_id
            best_tier = tier
            best_score = score
            best_value = r.value
            best_penalty = penalty
    assert best != max_value(uint256), errors.NO_OPTION_POSITION
    # A portfolio account whose every close raises its MM (its options
    # hedge its perps) has its perps liquidated first; only once it holds
    # none are its options closed anyway (its collateral and debt wait).
    assert best_tier == 1 or perps == 0, errors.OPTION_HEDGE
    size: int256 = self.position[owner][sub_id][best]
    self._move(owner, sub_id, best, size, 0)
    extcall ENGINE.option_pay(
        owner,
        sub_id,
        best_value,
        msg.sender,
        best_penalty,
        len(self.held[owner][sub_id]) != 0,
        LIQUIDATION,
    )
    log OptionTraded(
        owner=owner,
        sub_id=sub_id,
        series_id=best,
        size=-size,
        cash=best_value,
        position=0,
        kind=LIQUIDATION,
    )
    return best


# ---------------------------------------------------------------- views


@external
@view
@reentrant
def account_risk(owner: address, sub_id: uint256) -> IOptionsBook.OptionRisk:
    """
    @notice The value (negative when short) and linear initial and
            maintenance margin of every option position an account holds
            (the book's `position_risk` summed), WAD USD: what the engine
            adds to its health. Not locked: the engine asks it while this
            desk, which writes its state before calling the engine, holds
            the lock.
    @dev Reverts as the book does for a series it cannot price.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return (value, im, mm).
    """
    total: IOptionsBook.OptionRisk = empty(IOptionsBook.OptionRisk)
    for series_id: uint256 in self.held[owner][sub_id]:
        r: IOptionsBook.OptionRisk = staticcall BOOK.position_risk(
            series_id, self.position[owner][sub_id][series_id]
        )
        total.value += r.value
        total.im += r.im
        total.mm += r.mm
    return total


@external
@view
@reentrant
def portfolio_risk(
    owner: address,
    sub_id: uint256,
    risk: address,
    lo: int256[8],
    hi: int256[8],
    gross_notional: uint256,
    open_positions: uint256,
) -> (int256, uint256, uint256):
    """
    @notice A portfolio-mode account's requirement with its options in the
            grid: every position repriced by Black-76 in each scenario of
            `risk` (its underlying moved by the shock of the engine's risk
            group for it, its volatility by the scenario's volatility
            move; the book's `scenario_risk`), the P&Ls summed per scenario
            with the account's perps and collateral (`lo`, `hi`) and
            weighted by the risk set, MM at least its short-option minimum.
            Not locked (see `account_risk`).
    @dev Reverts as the book does for a series it cannot price.
    @param owner The account owner.
    @param sub_id The sub-account.
    @param risk The engine's PortfolioRisk.
    @param lo The account's exposure per risk group, rounded down (WAD USD).
    @param hi The same rounded up.
    @param gross_notional The perps' gross notional (WAD USD).
    @param open_positions The account's open perp positions.
    @return (the options' value, MM, IM before the collateral add-on), WAD USD.
    """
    value: int256 = 0
    shorts: DynArray[uint256, MAX_HELD] = []
    each: DynArray[DynArray[int256, 32], MAX_HELD] = []
    groups: DynArray[uint256, MAX_HELD] = []
    value, shorts, each, groups = self._scenarios(owner, sub_id, risk)
    short: uint256 = 0
    for n: uint256 in shorts:
        short += n
    mm: uint256 = 0
    im: uint256 = 0
    mm, im = self._requirement(
        risk, lo, hi, gross_notional, open_positions + len(each), each, groups, short, MAX_HELD
    )
    return value, mm, im


@external
@view
@reentrant
def pool_terms() -> (int256, uint256, uint256):
    """
    @notice What the pool owes on the options traders hold against it, WAD
            USD (the pool's own positions valued by the book's `pool_risk`,
            rounded against the pool, negated: negative when the pool is
            owed), the initial margin of what it is short, and the least
            pool value that keeps that margin within `reserve_factor`: the
            engine counts the first in the pool's value, keeps the second
            as cash and lets no LP withdrawal take the value below the
            third. Not locked (see `account_risk`).
    @dev Reverts if an underlying's price cannot be read.
    @return (owed, margin, least value).
    """
    owed: int256 = 0
    margin: uint256 = 0
    owed, margin = self._pool_terms()
    need: uint256 = 0
    if margin != 0:
        need = max_value(uint256)
        factor: uint256 = self.reserve_factor
        if factor != 0:
            need = fp._ceil_div_u(margin * constants.WAD, factor)
    return owed, margin, need


@external
@view
@reentrant
def prices_since() -> uint256:
    """
    @notice When the oldest price or volatility the pool's value reads for
            options was published (max uint256 when it reads none): the
            underlying's price of every series the pool holds (until its
            settlement is recorded), and its volatility before expiry. The engine's LP requests wait for
            them as for the perps' prices. Not locked (see `account_risk`).
    @dev Reverts with the router's reason when one cannot be read.
    @return Unix seconds.
    """
    oldest: uint256 = max_value(uint256)
    router: IOracleRouter = IOracleRouter(staticcall BOOK.oracle())
    for series_id: uint256 in self.active:
        s: IOptionsBook.Series = staticcall BOOK.series_of(series_id)
        if block.timestamp >= s.expiry and staticcall BOOK.settlement(s.asset, s.expiry) != 0:
            continue  # valued at its settlement price
        price: uint256 = 0
        published: uint256 = 0
        price, published = staticcall router.price_time(s.asset)
        oldest = min(oldest, published)
        if block.timestamp < s.expiry:
            price, published = staticcall router.vol_time(s.asset, s.expiry)
            oldest = min(oldest, published)
    return oldest


@external
@view
def account_greeks(owner: address, sub_id: uint256) -> Greeks:
    """
    @notice An account's delta, gamma, vega and theta over its option
            positions (the book's per-contract greeks times the sizes,
            rounded toward zero).
    @param owner The account owner.
    @param sub_id The sub-account.
    @return (delta, gamma, vega, theta), WAD.
    """
    g: Greeks = empty(Greeks)
    wad: int256 = convert(constants.WAD, int256)
    for series_id: uint256 in self.held[owner][sub_id]:
        size: int256 = self.position[owner][sub_id][series_id]
        delta: int256 = 0
        gamma: uint256 = 0
        vega: uint256 = 0
        theta: int256 = 0
        delta, gamma, vega, theta = staticcall BOOK.greeks(series_id)
        g.delta += size * delta // wad
        g.gamma += size * convert(gamma, int256) // wad
        g.vega += size * convert(vega, int256) // wad
        g.theta += size * theta // wad
    return g


@external
@view
def pending_option_order(owner: address, sub_id: uint256) -> OptionOrder:
    """
    @notice An account's pending option order (size 0: none).
    @param owner The account owner.
    @param sub_id The sub-account.
    @return The order.
    """
    return self.pending[owner][sub_id]


@external
@view
def account_series(owner: address, sub_id: uint256) -> DynArray[uint256, MAX_HELD]:
    """
    @notice The series an account holds a position in.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return Series ids.
    """
    return self.held[owner][sub_id]


@external
@view
def active_series() -> DynArray[uint256, MAX_ACTIVE]:
    """
    @notice The series in which traders hold a net position against the
            pool (what `pool_terms` prices).
    @return Series ids.
    """
    return self.active


# ---------------------------------------------------------------- internals


@internal
def _move(owner: address, sub_id: uint256, series_id: uint256, old: int256, new: int256) -> int256:
    """
    @dev Sets an account's position from `old` to `new` contracts, keeping
         its held list, the series' net open interest and the active list
         in step (a removal swaps in the last id); returns the new net open
         interest.
    """
    self.position[owner][sub_id][series_id] = new
    if old == 0:
        assert len(self.held[owner][sub_id]) < MAX_HELD, errors.TOO_MANY_HELD
        self.held[owner][sub_id].append(series_id)
    elif new == 0:
        held_ids: DynArray[uint256, MAX_HELD] = self.held[owner][sub_id]
        last: uint256 = held_ids.pop()
        for i: uint256 in range(MAX_HELD):
            if i == len(held_ids) or held_ids[i] == series_id:
                if i < len(held_ids):
                    held_ids[i] = last
                break
        self.held[owner][sub_id] = held_ids
    old_net: int256 = self.net_oi[series_id]
    net: int256 = old_net + new - old
    self.net_oi[series_id] = net
    if old_net == 0:
        assert len(self.active) < MAX_ACTIVE, errors.TOO_MANY_ACTIVE
        self.active.append(series_id)
    elif net == 0:
        active_ids: DynArray[uint256, MAX_ACTIVE] = self.active
        tail: uint256 = active_ids.pop()
        for j: uint256 in range(MAX_ACTIVE):
            if j == len(active_ids) or active_ids[j] == series_id:
                if j < len(active_ids):
                    active_ids[j] = tail
                break
        self.active = active_ids
    return net


@internal
@view
def _mm_without_each(owner: address, sub_id: uint256) -> (DynArray[uint256, MAX_HELD], uint256):
    """
    @dev A portfolio account's MM with each held position left out in
         turn (held order): the requirement over the same grid of its
         perps, collateral and the other options (their P&Ls per scenario,
         short notional and count less the position's); and how many perp
         positions it holds.
    """
    risk: address = staticcall ENGINE.portfolio_risk()
    x: IClearinghouseOptions.Exposure = staticcall ENGINE.portfolio_exposure(owner, sub_id)
    value: int256 = 0
    shorts: DynArray[uint256, MAX_HELD] = []
    each: DynArray[DynArray[int256, 32], MAX_HELD] = []
    groups: DynArray[uint256, MAX_HELD] = []
    value, shorts, each, groups = self._scenarios(owner, sub_id, risk)
    short: uint256 = 0
    for n: uint256 in shorts:
        short += n
    out: DynArray[uint256, MAX_HELD] = []
    for j: uint256 in range(MAX_HELD):
        if j == len(each):
            break
        mm: uint256 = 0
        im: uint256 = 0
        mm, im = self._requirement(
            risk,
            x.lo,
            x.hi,
            x.gross_notional,
            x.open_positions + len(each) - 1,
            each,
            groups,
            short - shorts[j],
            j,
        )
        out.append(mm)
    return out, x.open_positions


@internal
@view
def _scenarios(
    owner: address, sub_id: uint256, risk: address
) -> (
    int256,
    DynArray[uint256, MAX_HELD],
    DynArray[DynArray[int256, 32], MAX_HELD],
    DynArray[uint256, MAX_HELD],
):
    """
    @dev Every held position repriced in each scenario of `risk` (the
         book's `scenario_risk`, its underlying moved by the engine's risk
         group's column), in held order: (the positions' value, each one's
         short notional, each one's P&Ls, each one's risk group).
    """
    vols: DynArray[int256, 32] = staticcall IPortfolioRisk(risk).vol_shocks()
    each: DynArray[DynArray[int256, 32], MAX_HELD] = []
    at: DynArray[uint256, MAX_HELD] = []
    shorts: DynArray[uint256, MAX_HELD] = []
    value: int256 = 0
    for series_id: uint256 in self.held[owner][sub_id]:
        asset: address = (staticcall BOOK.series_of(series_id)).asset
        g: uint256 = staticcall ENGINE.risk_group(asset)
        moves: DynArray[int256, 32] = staticcall IPortfolioRisk(risk).column(g)
        v: int256 = 0
        pnls: DynArray[int256, 32] = []
        short: uint256 = 0
        v, pnls, short = staticcall BOOK.scenario_risk(
            series_id, self.position[owner][sub_id][series_id], moves, vols
        )
        value += v
        each.append(pnls)
        at.append(g)
        shorts.append(short)
    return value, shorts, each, at


@internal
@view
def _requirement(
    risk: address,
    lo: int256[8],
    hi: int256[8],
    gross_notional: uint256,
    open_positions: uint256,
    each: DynArray[DynArray[int256, 32], MAX_HELD],
    groups: DynArray[uint256, MAX_HELD],
    short: uint256,
    skip: uint256,
) -> (uint256, uint256):
    """
    @dev The risk set's requirement with the options' P&Ls (`each`, in
         held order, leaving out position `skip`: MAX_HELD for none),
         summed per scenario; per risk group and scenario for a set with
         credits (each group's own scan takes its options), in a frame of
         its own so the common path never touches its memory.
    """
    if staticcall IPortfolioRisk(risk).num_credits() != 0:
        return self._by_group(
            risk, lo, hi, gross_notional, open_positions, each, groups, short, skip
        )
    total: DynArray[int256, 32] = []
    for j: uint256 in range(MAX_HELD):
        if j == len(each):
            break
        if j == skip:
            continue
        if len(total) == 0:
            total = each[j]
            continue
        for i: uint256 in range(32):
            if i == len(total):
                break
            total[i] += each[j][i]
    if len(total) == 0:
        # Every position left out: zero P&Ls, one per scenario.
        for i: uint256 in range(32):
            if i == len(each[0]):
                break
            total.append(0)
    return staticcall IPortfolioRisk(risk).requirement_with_options(
        lo, hi, gross_notional, open_positions, total, short
    )


@internal
@view
def _by_group(
    risk: address,
    lo: int256[8],
    hi: int256[8],
    gross_notional: uint256,
    open_positions: uint256,
    each: DynArray[DynArray[int256, 32], MAX_HELD],
    groups: DynArray[uint256, MAX_HELD],
    short: uint256,
    skip: uint256,
) -> (uint256, uint256):
    """
    @dev `_requirement` for a set with credits: the P&Ls summed at
         g * scenarios + s.
    """
    n: uint256 = len(each[0])
    size: uint256 = n * staticcall IPortfolioRisk(risk).num_groups()
    total: DynArray[int256, 256] = []
    for i: uint256 in range(256):
        if i == size:
            break
        total.append(0)
    for j: uint256 in range(MAX_HELD):
        if j == len(each):
            break
        if j == skip:
            continue
        for i: uint256 in range(32):
            if i == n:
                break
            total[groups[j] * n + i] += each[j][i]
    return staticcall IPortfolioRiskByGroup(risk).requirement_with_options(
        lo, hi, gross_notional, open_positions, total, short
    )


@internal
@pure
def _at(size: int256, unit: uint256) -> int256:
    """
    @dev `size` contracts at `unit` WAD USD each, rounded against the
         holder: a long's value down, a short's debt up.
    """
    n: uint256 = fp._abs(size)
    if size > 0:
        return convert(n * unit // constants.WAD, int256)
    return -convert(fp._ceil_div_u(n * unit, constants.WAD), int256)


@internal
@view
def _pool_terms() -> (int256, uint256):
    """
    @dev `pool_terms`: the pool holds the opposite of traders' net position
         in every active series.
    """
    owed: int256 = 0
    margin: uint256 = 0
    for series_id: uint256 in self.active:
        pool_size: int256 = -self.net_oi[series_id]
        r: IOptionsBook.OptionRisk = staticcall BOOK.pool_risk(series_id, pool_size)
        owed -= r.value
        if pool_size < 0:
            margin += r.im
    return owed, margin
