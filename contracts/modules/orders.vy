# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin delayed orders: rules and the book of pending orders
@notice A trade is committed first and settled later, by anyone, at a price
        the feed published at least `min_delay` after the commit
        (`trading.commit_order` / `settle_order`): whoever sees a Chainlink
        round coming cannot trade on the old price and unwind on the new
        one. Each market has its rules here: the delay, the window after it
        in which the order may settle, the settlement fee the committer
        escrows for the settler, and the owner's switch that allows atomic
        `trade` in that market only while its fees cover the feed's
        deviation threshold (`maker_fee + taker_fee >= deviation`: a round
        trip ahead of a round then gains nothing). A market without rules
        trades neither way.
        An account has at most one pending order; while it has one it may
        not withdraw, move collateral out, switch margin mode or trade
        atomically. An order whose trade fails its checks at settlement is
        removed (the settler keeps the fee) rather than left pending, so
        a committer cannot keep an order unsettleable and choose the round
        it settles on.
@custom:security This module owns `order_rules`, the order book and
                 `order_fees` (the escrowed fees, in native quote units, a
                 ledger the token balance must cover).
"""

from snekmate.auth import ownable

from . import constants
from . import errors
from . import markets

uses: ownable
uses: markets


struct OrderRules:
    # Seconds after the commit before the settlement price may be published.
    min_delay: uint256
    # Seconds after the delay in which the order may settle.
    window: uint256
    # Native quote units the committer escrows; the settler receives them.
    settlement_fee: uint256
    # Atomic `trade` allowed (while maker_fee + taker_fee >= deviation).
    atomic: bool
    # The feed's deviation threshold the owner declares (WAD fraction).
    deviation: uint256


struct Order:
    market_id: uint256
    size_delta: int256
    acceptable_price: uint256
    commit_time: uint256
    fee: uint256
    # The market's delay and window when the order was committed: later
    # rule changes do not move a pending order's settlement or expiry.
    min_delay: uint256
    window: uint256


event OrderRulesSet:
    market_id: indexed(uint256)
    min_delay: uint256
    window: uint256
    settlement_fee: uint256
    atomic: bool
    deviation: uint256


# market_id -> min_delay | window << 32 | (deviation + 1 if atomic) << 64
#              | settlement_fee << 128 (0: no rules)
rules_word: HashMap[uint256, uint256]
# owner -> sub_id -> [size_delta + 2**127 | commit_time << 128 | market_id << 168
#                     | min_delay << 176 | window << 188,
#                     acceptable_price | fee << 128]
book: HashMap[address, HashMap[uint256, uint256[2]]]
# Native quote units escrowed by pending orders.
order_fees: public(uint256)

LANE_32: constant(uint256) = (1 << 32) - 1
LANE_8: constant(uint256) = (1 << 8) - 1
LANE_12: constant(uint256) = (1 << 12) - 1
LANE_40: constant(uint256) = (1 << 40) - 1
LANE_64: constant(uint256) = (1 << 64) - 1
LANE_128: constant(uint256) = (1 << 128) - 1
SIZE_OFFSET: constant(int256) = 2**127
MAX_DELAY: constant(uint256) = 3_600
MAX_WINDOW: constant(uint256) = 7 * 86_400


@external
def set_order_rules(
    market_id: uint256,
    min_delay: uint256,
    window: uint256,
    settlement_fee: uint256,
    atomic: bool,
    deviation: uint256,
):
    """
    @notice Sets how a market trades: by delayed order (always) and, if
            `atomic`, also at once through `trade`.
    @param market_id A listed market.
    @param min_delay Seconds, 1 <= d <= 3,600: the settlement price must be
           published at least this long after the commit. Make it longer
           than a round is visible before it lands.
    @param window Seconds, 1 <= w <= 7 days, after the delay in which the
           order may settle; then only its owner may cancel it (refund).
           Make it longer than the feed's heartbeat.
    @param settlement_fee Native quote units a committer escrows and the
           settler earns, < 2**128.
    @param atomic Whether `trade` is allowed at once in this market.
    @param deviation The feed's deviation threshold (WAD fraction, <= 1):
           atomic trades need maker_fee + taker_fee >= deviation, now and
           at every trade.
    """
    ownable._check_owner()
    markets._check_market(market_id)
    assert min_delay > 0 and min_delay <= MAX_DELAY, errors.ORDER_DELAY_RANGE
    assert window > 0 and window <= MAX_WINDOW, errors.ORDER_WINDOW_RANGE
    assert settlement_fee < constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    assert deviation <= constants.WAD, errors.ORDER_DEVIATION_RANGE
    word: uint256 = min_delay | window << 32 | settlement_fee << 128
    if atomic:
        self._check_covers(market_id, deviation)
        word |= (deviation + 1) << 64
    self.rules_word[market_id] = word
    log OrderRulesSet(
        market_id=market_id,
        min_delay=min_delay,
        window=window,
        settlement_fee=settlement_fee,
        atomic=atomic,
        deviation=deviation,
    )


@external
@view
def order_rules(market_id: uint256) -> OrderRules:
    """
    @notice A market's order rules (all zero: none set, it cannot trade).
    @param market_id The market.
    @return min_delay, window, settlement_fee, atomic, deviation.
    """
    return self._rules(market_id)


@external
@view
def pending_order(owner: address, sub_id: uint256) -> Order:
    """
    @notice The account's pending order (all zero: none).
    @param owner The account owner.
    @param sub_id The sub-account.
    @return market_id, size_delta, acceptable_price, commit_time, fee,
            and the market's min_delay and window at the commit.
    """
    return self._order(owner, sub_id)


@internal
@view
def _rules(market_id: uint256) -> OrderRules:
    w: uint256 = self.rules_word[market_id]
    d: uint256 = (w >> 64) & LANE_64
    return OrderRules(
        min_delay=w & LANE_32,
        window=(w >> 32) & LANE_32,
        settlement_fee=w >> 128,
        atomic=d != 0,
        deviation=max(d, 1) - 1,
    )


@internal
@view
def _check_covers(market_id: uint256, deviation: uint256):
    """
    @dev A round trip pays the maker and the taker fee: together they must
         cover the feed's deviation threshold for atomic trades to be safe.
    """
    p: markets.MarketParams = markets._params(market_id)
    assert p.maker_fee + p.taker_fee >= deviation, errors.FEES_BELOW_DEVIATION


@internal
@view
def _check_atomic(market_id: uint256):
    """
    @dev Atomic trades need the switch and fees that still cover the
         deviation (the owner may have lowered them since).
    """
    d: uint256 = (self.rules_word[market_id] >> 64) & LANE_64
    assert d != 0, errors.TRADE_BY_ORDER
    self._check_covers(market_id, d - 1)


@internal
@view
def _check_no_order(owner: address, sub_id: uint256):
    assert self.book[owner][sub_id][0] == 0, errors.ORDER_PENDING


@internal
@view
def _order(owner: address, sub_id: uint256) -> Order:
    w: uint256[2] = self.book[owner][sub_id]
    if w[0] == 0:
        return empty(Order)
    return Order(
        market_id=(w[0] >> 168) & LANE_8,
        size_delta=convert(w[0] & LANE_128, int256) - SIZE_OFFSET,
        acceptable_price=w[1] & LANE_128,
        commit_time=(w[0] >> 128) & LANE_40,
        fee=w[1] >> 128,
        min_delay=(w[0] >> 176) & LANE_12,
        window=w[0] >> 188,
    )


@internal
def _store(owner: address, sub_id: uint256, o: Order):
    """
    @dev Books a new order (the caller checked there is none) and counts
         its fee as escrowed. The acceptable price is kept up to 2**128 - 1,
         above any fill.
    """
    self.book[owner][sub_id] = [
        convert(o.size_delta + SIZE_OFFSET, uint256)
        | o.commit_time << 128
        | o.market_id << 168
        | o.min_delay << 176
        | o.window << 188,
        min(o.acceptable_price, LANE_128) | o.fee << 128,
    ]
    self.order_fees += o.fee


@internal
def _clear(owner: address, sub_id: uint256):
    """
    @dev Removes the account's order and its fee from the escrow total.
    """
    self.order_fees -= self.book[owner][sub_id][1] >> 128
    self.book[owner][sub_id] = empty(uint256[2])
