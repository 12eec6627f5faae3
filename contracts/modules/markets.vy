# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin perpetual markets: registry, positions, funding, margin maths
@notice A market is an oracle-priced underlying traded as a perpetual future
        against the liquidity pool (the counterparty of every trade). Each
        market has:
        - margin ratios that grow with position size:
              imr(size) = min(imr_base + |size| * im_size_scalar / skew_scale, 1)
              mmr(size) = min(mmr_base + |size| * mm_size_scalar / skew_scale, 1)
          (the size add-on is Synthetix's size/skewScale term);
        - a skew premium: a trade of `delta` when the market's net skew is
          `skew` fills at `price * (1 + (2 * skew + delta) / (2 * skew_scale))`,
          against whoever increases skew and in favour of whoever reduces it;
        - maker/taker fees: the part of a trade that reduces |skew| pays the
          maker fee, the rest the taker fee;
        - funding: a rate (per day) that drifts at
          `clamp(skew / skew_scale, -1, 1) * max_funding_velocity` per day,
          capped at +-max_funding_rate, integrated exactly per second into a
          cumulative index of USD per unit of size. Longs pay a positive rate.
        Positions are marked to the oracle: every trade realises the old
        position's PnL and funding into the quote balance and re-enters the
        whole position at the oracle price, so `entry_price` is the price at
        the last touch.
@custom:security Every division states its rounding: PnL down, funding owed,
                 premium, fees, notional and margin up, against the account.
"""

from snekmate.auth import ownable
from snekmate.utils import math

from . import collateral
from . import constants
from . import fixed_point as fp
from . import errors
from . import oracle

uses: ownable
uses: collateral
uses: oracle


struct MarketParams:
    # Oracle key of the underlying (any asset the OracleRouter prices).
    asset: address
    # WAD ratios of notional at zero size; mmr_base < imr_base.
    imr_base: uint256
    mmr_base: uint256
    # WAD: add-on per `skew_scale` of |size|; mm <= im.
    im_size_scalar: uint256
    mm_size_scalar: uint256
    # Size (WAD base units) at which the premium is 100 %.
    skew_scale: uint256
    # WAD fractions of notional.
    taker_fee: uint256
    maker_fee: uint256
    # Largest open interest per side (WAD base units).
    max_oi: uint256
    # WAD per day, per day at full skew; and the cap on |rate| (WAD per day).
    max_funding_velocity: uint256
    max_funding_rate: uint256


struct MarketState:
    # What `market_state` returns; stored as `oi_word`, `pool_sums` and
    # `funding_word`.
    # Net size of all positions (longs - shorts).
    skew: int256
    long_oi: uint256
    short_oi: uint256
    # sum(size_i * entry_price_i) and sum(size_i * funding_index_i), unscaled
    # (WAD * WAD): the pool's view of traders' PnL without a loop.
    entry_sum: int256
    funding_sum: int256
    # Funding rate at `last_funding_time` (WAD per day) and the index.
    funding_rate: int256
    funding_index: int256
    last_funding_time: uint256


# A market's totals as the engine works on them (`_totals`, `_store_totals`).
# `skew` is derived (long_oi - short_oi) and read-only: `_store_totals`
# ignores it, so a change to the skew is a change to a side.
struct MarketTotals:
    skew: int256
    long_oi: uint256
    short_oi: uint256
    entry_sum: int256
    funding_sum: int256


struct Position:
    # WAD base units; > 0 long, < 0 short.
    size: int256
    # Oracle price at the last touch (WAD USD).
    entry_price: uint256
    # Market funding index at the last touch.
    funding_index: int256


# One position's contribution to an account's health (WAD USD).
struct PositionRisk:
    pnl: int256
    funding: int256
    notional: uint256
    im: uint256
    mm: uint256


event MarketListed:
    market_id: indexed(uint256)
    asset: indexed(address)
    params: MarketParams


event MarketParamsSet:
    market_id: indexed(uint256)
    params: MarketParams


event MarketClosedSet:
    market_id: indexed(uint256)
    closed: bool


num_markets: public(uint256)
# MarketParams packed by hand into four words (Vyper gives every struct
# field a slot of its own, and a health check pays ~2.1k gas per cold slot):
#   [0] imr_base | mmr_base << 64 | im_size_scalar << 128 | mm_size_scalar << 192
#   [1] asset | max_funding_rate << 160
#   [2] skew_scale | max_funding_velocity << 128
#   [3] taker_fee | maker_fee << 64 | max_oi << 128
# Every field fits its lane by `_check_params`: ratios and fees <= 1e18,
# size scalars and funding limits <= 1e19 (< 2**64); skew_scale, max_oi
# <= 2**96 (< 2**128). Raising a bound in constants.vy past its lane would
# corrupt the neighbouring field: the round-trip test at the bounds
# (test_market_params_at_their_bounds_read_back_unchanged) must then fail.
# A position's health reads words 0-2 (3 slots, not 8).
params_words: HashMap[uint256, uint256[4]]
LANE_64: constant(uint256) = (1 << 64) - 1
LANE_128: constant(uint256) = (1 << 128) - 1
LANE_160: constant(uint256) = (1 << 160) - 1
# A market's open interest in one word (its totals were five slots, read
# and rewritten on every trade and liquidation):
#   long_oi (uint128) | short_oi (uint128) << 128
# The skew is not stored: it is long_oi - short_oi (every trade,
# liquidation and ADL close moves a side and the skew by the same size).
# Each side is at most `max_oi` <= MAX_SIZE = 2**96 after any trade that
# adds to it (reductions only lower it), so it fits its lane; the
# conversions to uint128 revert rather than spill.
oi_word: HashMap[uint256, uint256]
# sum(size_i * entry_price_i) and sum(size_i * funding_index_i) (see
# MarketState): the pool's view of traders' PnL, read only to value the
# pool and written with the open interest.
pool_sums: HashMap[uint256, int256[2]]
# A market's funding in one word (a health check reads it for every
# position; three fields cost three cold slots):
#   index (int144) | rate (int72) << 144 | last funding time (uint40) << 216
# two's complement in each signed lane. Bounds: a stored rate is within
# the cap in force when it was stored (a lowered cap clamps it from the
# next read), <= MAX_FUNDING_RATE = 1e19 < 2**71; the index moves at most
# MAX_FUNDING_RATE * MAX_PRICE (1e37 WAD) a day, so int144 (+-1.1e43)
# lasts >= 3,000 years at the bounds (MAX_PRICE is the OracleRouter's
# bound on every price: the engine assumes its router); timestamps fit 40
# bits until year 36812. `_store_funding` reverts rather than spill a
# lane (test_funding_word_round_trips_at_its_bounds).
funding_word: HashMap[uint256, uint256]
LANE_72: constant(uint256) = (1 << 72) - 1
LANE_144: constant(uint256) = (1 << 144) - 1
# A closed market accepts only trades that reduce positions.
market_closed: public(HashMap[uint256, bool])

# A position in two words (Vyper gives each struct field a slot of its own,
# and a health check reads every open position cold):
#   [0] size (int128, two's complement) | entry_price (uint128) << 128
#   [1] funding_index (int256)
# |size| <= MAX_SIZE = 2**96 (the trade's own check; a lowered OI cap
# leaves larger positions open, never above MAX_SIZE) and entry_price (the
# oracle's price) <= MAX_PRICE (1e36 < 2**120), the router's bound:
# `_store_position` converts each to its lane's type, so a value past its
# lane reverts instead of spilling (test_position_words_round_trip_at_their_bounds).
position_words: HashMap[address, HashMap[uint256, HashMap[uint256, uint256[2]]]]


# ---------------------------------------------------------------- views


@external
@view
def position(owner: address, sub_id: uint256, market_id: uint256) -> Position:
    """
    @notice An account's position in a market.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @param market_id The market.
    @return (size, entry_price, funding_index); size 0 when flat.
    """
    return self._position(owner, sub_id, market_id)


@external
@view
def market_state(market_id: uint256) -> MarketState:
    """
    @notice A market's totals and its funding as last stored (all zero for
            an unlisted id; `funding_now` gives the funding as of now).
    @param market_id The market.
    @return (skew, long_oi, short_oi, entry_sum, funding_sum, funding_rate,
            funding_index, last_funding_time).
    """
    w: uint256 = self.oi_word[market_id]
    sums: int256[2] = self.pool_sums[market_id]
    rate: int256 = 0
    index: int256 = 0
    last: uint256 = 0
    rate, index, last = self._stored_funding(market_id)
    return MarketState(
        skew=self._skew(market_id),
        long_oi=w & LANE_128,
        short_oi=w >> 128,
        entry_sum=sums[0],
        funding_sum=sums[1],
        funding_rate=rate,
        funding_index=index,
        last_funding_time=last,
    )


@external
@view
def market_params(market_id: uint256) -> MarketParams:
    """
    @notice A market's parameters (all zero for an unlisted id).
    @param market_id The market.
    @return Margin ratios, size scalars, skew scale, fees, OI cap, funding limits.
    """
    return self._params(market_id)


@external
@view
def funding_now(market_id: uint256) -> (int256, int256):
    """
    @notice The market's funding rate and index as of this block.
    @param market_id A listed market.
    @return (rate in WAD per day, index in WAD USD per unit of size).
    """
    self._check_market(market_id)
    price: uint256 = self._price(market_id)
    return self._funding(market_id, price)


# ---------------------------------------------------------------- configuration


@external
def list_market(params: MarketParams):
    """
    @notice Lists a perpetual market as id `num_markets` (see MarketListed).
            The oracle must already price its asset.
    @param params Margin ratios, size scalars, skew scale, fees, OI cap, funding limits.
    """
    ownable._check_owner()
    market_id: uint256 = self.num_markets
    assert market_id < constants.MAX_MARKETS, errors.TOO_MANY_MARKETS
    self._check_params(params)
    assert oracle._price(params.asset) > 0, errors.ASSET_NO_PRICE
    self._store_params(market_id, params)
    # rate and index 0 (the funding word's layout is at its declaration)
    self.funding_word[market_id] = block.timestamp << 216
    self.num_markets = market_id + 1
    log MarketListed(market_id=market_id, asset=params.asset, params=params)


@external
def set_market_params(market_id: uint256, params: MarketParams):
    """
    @notice Changes a market's parameters. Funding accrues to now under the
            old parameters first. The oracle asset cannot change.
    @param market_id A listed market.
    @param params The new parameters.
    """
    ownable._check_owner()
    self._check_market(market_id)
    assert params.asset == self._asset(market_id), errors.MARKET_ASSET_FIXED
    self._check_params(params)
    self._accrue(market_id, self._price(market_id))
    self._store_params(market_id, params)
    log MarketParamsSet(market_id=market_id, params=params)


@external
def set_oracle(new_oracle: address):
    """
    @notice Points the engine at another OracleRouter, which must already
            price every listed collateral asset and every market's asset
            (else health checks, trades and the pool would freeze).
    @param new_oracle The router.
    """
    ownable._check_owner()
    # Switched first, then every listed price read through it: one that
    # fails reverts the whole switch.
    oracle._set(new_oracle)
    for i: uint256 in range(1, constants.MAX_ASSETS):
        if i >= collateral.num_assets:
            break
        assert oracle._price(collateral.asset_list[i]) > 0, errors.ASSET_NO_PRICE
    for m: uint256 in range(constants.MAX_MARKETS):
        if m == self.num_markets:
            break
        assert self._price(m) > 0, errors.MARKET_NO_PRICE


@external
def set_market_closed(market_id: uint256, closed: bool):
    """
    @notice Closes a market to new risk (only reducing trades) or reopens it.
    @param market_id A listed market.
    @param closed True to close.
    """
    ownable._check_owner()
    self._check_market(market_id)
    self.market_closed[market_id] = closed
    log MarketClosedSet(market_id=market_id, closed=closed)


# ---------------------------------------------------------------- internals: checks


@internal
@view
def _check_market(market_id: uint256):
    assert market_id < self.num_markets, errors.UNKNOWN_MARKET


@internal
@pure
def _check_params(p: MarketParams):
    assert p.asset != empty(address), errors.ZERO_MARKET_ASSET
    assert p.mmr_base > 0, errors.ZERO_MM_RATIO
    assert p.mmr_base < p.imr_base, errors.MM_RATIO_ABOVE_IM
    assert p.imr_base <= constants.WAD, errors.IM_RATIO_TOO_HIGH
    assert p.mm_size_scalar <= p.im_size_scalar, errors.MM_SCALAR_ABOVE_IM
    assert p.im_size_scalar <= constants.MAX_SIZE_SCALAR, errors.SIZE_SCALAR_TOO_LARGE
    # >= one whole unit keeps the premium maths inside int256.
    assert p.skew_scale >= constants.WAD, errors.SKEW_SCALE_TOO_SMALL
    assert p.skew_scale <= constants.MAX_SIZE, errors.SKEW_SCALE_TOO_LARGE
    assert p.maker_fee <= p.taker_fee, errors.MAKER_FEE_ABOVE_TAKER
    assert p.taker_fee <= constants.MAX_FEE, errors.FEE_TOO_HIGH
    assert p.max_oi <= constants.MAX_SIZE, errors.OI_CAP_TOO_LARGE
    # |skew| <= max_oi <= skew_scale keeps every fill price positive.
    assert p.max_oi <= p.skew_scale, errors.OI_CAP_ABOVE_SKEW_SCALE
    assert p.max_funding_rate <= constants.MAX_FUNDING_RATE, errors.RATE_CAP_TOO_LARGE
    assert p.max_funding_velocity <= constants.MAX_FUNDING_VELOCITY, errors.VELOCITY_TOO_LARGE


# ---------------------------------------------------------------- internals: maths


@internal
@view
def _price(market_id: uint256) -> uint256:
    return oracle._price(self._asset(market_id))


@internal
@view
def _funding(market_id: uint256, price: uint256) -> (int256, int256):
    """
    @dev Rate and index as of now: the exact integral of a rate that moves
         linearly at the current velocity and stops at +-max_funding_rate.
         Shared by both sides of every position, so its divisions (toward
         zero) favour no one.
    """
    # Only the words and state fields needed: a health check pays ~2.1k gas
    # for every cold slot it touches.
    # `_stored_funding`, inline: this runs for every position valued.
    w: uint256 = self.funding_word[market_id]
    r0: int256 = convert(convert(w << 40, bytes32), int256) >> 184
    index: int256 = convert(convert(w << 112, bytes32), int256) >> 112
    dt: int256 = convert(block.timestamp - (w >> 216), int256)
    cap: int256 = convert(self.params_words[market_id][1] >> 160, int256)
    # A rate left beyond a lowered cap is clamped from here on.
    r0 = min(max(r0, -cap), cap)
    if dt == 0:
        return r0, index
    day: int256 = convert(constants.SECONDS_PER_DAY, int256)
    wad: int256 = convert(constants.WAD, int256)
    skew_word: uint256 = self.params_words[market_id][2]
    # Proportional skew, clamped to [-1, 1].
    k: int256 = min(
        max(
            self._skew(market_id) * wad // convert(skew_word & LANE_128, int256), -wad,
        ),
        wad,
    )
    velocity: int256 = k * convert(skew_word >> 128, int256) // wad
    r1: int256 = r0 + velocity * dt // day
    # area = integral of the rate over dt, in (WAD per day) * seconds.
    area: int256 = 0
    if r1 > cap or r1 < -cap:
        bound: int256 = cap
        if velocity < 0:
            bound = -cap
        # The rate ramps to the cap over t* = (bound - r0) * day / velocity
        # seconds (0 <= t* < dt), then holds: area = bound * dt - (bound -
        # r0) * t* / 2, in one division so t* is not cut to a whole second.
        # |bound - r0| <= 2e19, so the square times a day fits easily.
        area = bound * dt - (bound - r0) * (bound - r0) * day // (2 * velocity)
        r1 = bound
    else:
        area = (r0 + r1) * dt // 2
    return r1, index + area * convert(price, int256) // (day * wad)


@internal
def _accrue(market_id: uint256, price: uint256) -> int256:
    """
    @dev Stores funding as of now; returns the index.
    """
    rate: int256 = 0
    index: int256 = 0
    rate, index = self._funding(market_id, price)
    self._store_funding(market_id, rate, index)
    return index


@internal
def _store_funding(market_id: uint256, rate: int256, index: int256):
    """
    @dev Stores the market's funding as of now in its word (the layout is
         at `funding_word`). The conversions to int144 and int72 revert
         rather than spill a lane (unreachable within the bounds: the
         index lasts >= 3,000 years at the extremes, and a stored rate is
         within the cap in force when it was stored, <= MAX_FUNDING_RATE
         = 1e19 < 2**71).
    """
    self.funding_word[market_id] = (
        (convert(convert(convert(index, int144), bytes32), uint256) & LANE_144)
        | ((convert(convert(convert(rate, int72), bytes32), uint256) & LANE_72) << 144)
        | (block.timestamp << 216)
    )


@internal
@view
def _position(owner: address, sub_id: uint256, market_id: uint256) -> Position:
    """
    @dev The account's position in the market (the layout is at
         `position_words`); the size lane is moved to the top of the word
         and shifted back arithmetically, which restores its sign.
    """
    w: uint256[2] = self.position_words[owner][sub_id][market_id]
    return Position(
        size=convert(convert(w[0] << 128, bytes32), int256) >> 128,
        entry_price=w[0] >> 128,
        funding_index=convert(convert(w[1], bytes32), int256),
    )


@internal
def _store_position(
    owner: address,
    sub_id: uint256,
    market_id: uint256,
    size: int256,
    entry_price: uint256,
    funding_index: int256,
):
    """
    @dev Stores a position (0 size: flat, both words cleared). The
         conversions to int128 and uint128 revert rather than spill a lane.
    """
    if size == 0:
        self.position_words[owner][sub_id][market_id] = empty(uint256[2])
        return
    self.position_words[owner][sub_id][market_id] = [
        (convert(convert(convert(size, int128), bytes32), uint256) & LANE_128)
        | (convert(convert(entry_price, uint128), uint256) << 128),
        convert(convert(funding_index, bytes32), uint256),
    ]


@internal
@view
def _stored_funding(market_id: uint256) -> (int256, int256, uint256):
    """
    @dev The market's stored funding: (rate, index, last funding time).
         Each signed lane is moved to the top of the word and shifted back
         arithmetically, which restores its sign.
    """
    w: uint256 = self.funding_word[market_id]
    return (
        convert(convert(w << 40, bytes32), int256) >> 184,
        convert(convert(w << 112, bytes32), int256) >> 112,
        w >> 216,
    )


@internal
@view
def _risk_params(market_id: uint256) -> MarketParams:
    """
    @dev Only the fields `_risk` reads (2 words).
    """
    ratios: uint256 = self.params_words[market_id][0]
    p: MarketParams = empty(MarketParams)
    p.imr_base = ratios & LANE_64
    p.mmr_base = (ratios >> 64) & LANE_64
    p.im_size_scalar = (ratios >> 128) & LANE_64
    p.mm_size_scalar = ratios >> 192
    p.skew_scale = self.params_words[market_id][2] & LANE_128  # inline: hot path
    return p


@internal
@view
def _params(market_id: uint256) -> MarketParams:
    """
    @dev Every field (4 words).
    """
    p: MarketParams = self._risk_params(market_id)
    w: uint256 = self.params_words[market_id][1]
    p.asset = convert(convert(w & LANE_160, uint160), address)
    p.max_funding_rate = w >> 160
    p.max_funding_velocity = self.params_words[market_id][2] >> 128
    w = self.params_words[market_id][3]
    p.taker_fee = w & LANE_64
    p.maker_fee = (w >> 64) & LANE_64
    p.max_oi = w >> 128
    return p


@internal
@view
def _maker_fee(market_id: uint256) -> uint256:
    """
    @dev The maker fee alone (1 word).
    """
    return (self.params_words[market_id][3] >> 64) & LANE_64


@internal
@view
def _skew(market_id: uint256) -> int256:
    """
    @dev long_oi - short_oi (layout at `oi_word`).
    """
    w: uint256 = self.oi_word[market_id]
    # Both lanes < 2**128: each reads as itself and the difference fits.
    return unsafe_sub(
        convert(convert(w & LANE_128, bytes32), int256), convert(convert(w >> 128, bytes32), int256)
    )


@internal
@view
def _totals(market_id: uint256) -> MarketTotals:
    """
    @dev The market's open interest, skew and pool sums (2 words).
    """
    w: uint256 = self.oi_word[market_id]
    sums: int256[2] = self.pool_sums[market_id]
    return MarketTotals(
        skew=self._skew(market_id),
        long_oi=w & LANE_128,
        short_oi=w >> 128,
        entry_sum=sums[0],
        funding_sum=sums[1],
    )


@internal
def _store_totals(market_id: uint256, t: MarketTotals):
    """
    @dev Stores `t`'s open interest and sums; its skew is long - short.
    """
    self.oi_word[market_id] = convert(convert(t.long_oi, uint128), uint256) | (
        convert(convert(t.short_oi, uint128), uint256) << 128
    )
    self.pool_sums[market_id] = [t.entry_sum, t.funding_sum]


@internal
@view
def _asset(market_id: uint256) -> address:
    """
    @dev The market's oracle key (1 word).
    """
    return convert(convert(self.params_words[market_id][1] & LANE_160, uint160), address)


@internal
@view
def _skew_scale(market_id: uint256) -> uint256:
    return self.params_words[market_id][2] & LANE_128


@internal
def _store_params(market_id: uint256, p: MarketParams):
    """
    @dev `p` passed `_check_params`, so every field fits its lane.
    """
    self.params_words[market_id] = [
        p.imr_base | (p.mmr_base << 64) | (p.im_size_scalar << 128) | (p.mm_size_scalar << 192),
        convert(p.asset, uint256) | (p.max_funding_rate << 160),
        p.skew_scale | (p.max_funding_velocity << 128),
        p.taker_fee | (p.maker_fee << 64) | (p.max_oi << 128),
    ]


@internal
@pure
def _margin_ratio(
    size_abs: uint256, base: uint256, scalar: uint256, skew_scale: uint256
) -> uint256:
    """
    @dev min(base + ceil(|size| * scalar / skew_scale), WAD).
    """
    return min(base + fp._ceil_div_u(size_abs * scalar, skew_scale), constants.WAD)


@internal
@pure
def _risk(pos: Position, p: MarketParams, price: uint256, index: int256) -> PositionRisk:
    """
    @dev One position at `price` and funding `index`, rounded against it.
    """
    size_abs: uint256 = fp._abs(pos.size)
    notional: uint256 = math._mul_div(size_abs, price, constants.WAD, True)
    imr: uint256 = self._margin_ratio(size_abs, p.imr_base, p.im_size_scalar, p.skew_scale)
    mmr: uint256 = self._margin_ratio(size_abs, p.mmr_base, p.mm_size_scalar, p.skew_scale)
    pnl: int256 = 0
    funding: int256 = 0
    pnl, funding = self._pnl_funding(pos, price, index)
    return PositionRisk(
        pnl=pnl,
        funding=funding,
        notional=notional,
        im=math._mul_div(notional, imr, constants.WAD, True),
        mm=math._mul_div(notional, mmr, constants.WAD, True),
    )


@internal
@pure
def _pnl_funding(pos: Position, price: uint256, index: int256) -> (int256, int256):
    """
    @dev (unrealised PnL rounded down, funding owed rounded up), WAD USD.
    """
    wad: int256 = convert(constants.WAD, int256)
    return (
        fp._floor_div(pos.size * (convert(price, int256) - convert(pos.entry_price, int256)), wad),
        fp._ceil_div(pos.size * (index - pos.funding_index), wad),
    )


@internal
@pure
def _fill_adjustment(skew: int256, delta: int256, price: uint256, skew_scale: uint256) -> int256:
    """
    @dev fill price - oracle price for `delta` at `skew`:
         price * (2 * skew + delta) / (2 * skew_scale), rounded up for a buy
         and down for a sell (against the trader). Never clamped: the
         premium `delta * adjustment` must stay exactly the integral of the
         skew premium, or a round trip through |skew| > skew_scale would pay.
         With skew_scale >= 1e18 and |skew|, |delta| <=
         MAX_SIZE, every product below stays inside int256.
    """
    num: int256 = convert(price, int256) * (2 * skew + delta)
    den: int256 = 2 * convert(skew_scale, int256)
    if delta > 0:
        return fp._ceil_div(num, den)
    return fp._floor_div(num, den)


@internal
@pure
def _premium(delta: int256, adjustment: int256) -> int256:
    """
    @dev What the trader pays (> 0) or receives (< 0) over the oracle price:
         delta * adjustment / WAD, rounded up (against the trader).
    """
    return fp._ceil_div(delta * adjustment, convert(constants.WAD, int256))


@internal
@pure
def _fee(skew: int256, delta: int256, price: uint256, p: MarketParams) -> uint256:
    """
    @dev Maker fee on the part of |delta| that reduces |skew|, taker fee on
         the rest, of the oracle notional; rounded up.
    """
    delta_abs: uint256 = fp._abs(delta)
    maker: uint256 = 0
    if (skew > 0 and delta < 0) or (skew < 0 and delta > 0):
        maker = min(delta_abs, fp._abs(skew))
    taker: uint256 = delta_abs - maker
    return math._mul_div(
        maker * p.maker_fee + taker * p.taker_fee, price, constants.WAD * constants.WAD, True
    )
