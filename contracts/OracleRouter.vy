# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin OracleRouter
@notice Turns Chainlink-style AggregatorV3 feeds into USD prices per whole
        token in WAD (1e18). Every read is checked; a price that fails any
        check reverts with an `xm.oracle: ...` reason (modules/errors.vy), so a bad price can never
        silently become a number in a health check:
        - no feed configured for the asset;
        - answer <= 0;
        - normalised price at or beyond the configured bounds (the floor case
          of a feed that clamps at its `minAnswer` while the market crashes);
        - stale round: `updatedAt` older than the heartbeat, zero (round not
          complete), in the future, or `answeredInRound < roundId`;
        - a feed call that reverts, runs out of its gas cap or answers in
          another shape (`feed call failed`), or whose `decimals()` no
          longer match the ones configured (`feed decimals changed`: the
          owner must set the feed again);
        - a round from another Chainlink phase than the one confirmed
          (`roundId >> 64`: the proxy now points at a new aggregator, whose
          behaviour nobody has checked): `feed phase changed` until the
          owner confirms the feed (`confirm_feed`). Round ids are never
          assumed to grow (Chainlink's docs do not promise it within a
          phase, and they jump across phases): freshness and publication
          come from `updatedAt` alone, so a round that goes back is at most
          stale, never taken as new;
        - an optional second feed that is itself invalid, or deviates from the
          primary by more than the configured fraction.
        Implied volatility for options (issue 23) comes the same way: one
        AggregatorV3-shaped feed per underlying and expiry (`set_vol_feed`),
        its answer an annualised volatility (0.8 = 80 %), read by `vol`
        with every check above but the second feed, each with a `vol`
        reason, inside the owner's bounds.
@custom:security Owner-only configuration, two-step ownership (snekmate).
                 The router holds no tokens.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .interfaces import IAggregatorV3
from .interfaces import IOracleRouter
from .modules import constants
from .modules import errors

implements: IOracleRouter

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    # ownership (renounce is deliberately not exported)
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


struct Feed:
    aggregator: address
    # Seconds after `updatedAt` at which the answer is stale.
    heartbeat: uint256
    # 10**(18 - feed decimals): multiplies the answer up to WAD.
    scale: uint256
    # The feed's decimals when it was set: every read checks them again.
    decimals: uint256
    # The Chainlink phase (`roundId >> 64`) confirmed: rounds of another
    # phase are refused until the owner confirms the feed again.
    phase: uint256


struct PriceConfig:
    primary: Feed
    # `secondary.aggregator == empty(address)` means no cross-check.
    secondary: Feed
    # Exclusive bounds on the normalised price (WAD USD per token).
    min_price: uint256
    max_price: uint256
    # Largest |secondary - primary| / primary, WAD fraction.
    max_deviation: uint256


event FeedSet:
    asset: indexed(address)
    aggregator: indexed(address)
    heartbeat: uint256
    decimals: uint256
    min_price: uint256
    max_price: uint256


event SecondaryFeedSet:
    asset: indexed(address)
    aggregator: indexed(address)
    heartbeat: uint256
    decimals: uint256
    max_deviation: uint256


event FeedRemoved:
    asset: indexed(address)


event VolFeedSet:
    asset: indexed(address)
    expiry: indexed(uint256)
    aggregator: address
    heartbeat: uint256
    decimals: uint256
    phase: uint256
    min_vol: uint256
    max_vol: uint256


event FeedConfirmed:
    asset: indexed(address)
    # The phases (`roundId >> 64`) now accepted, primary and second feed.
    phase: uint256
    second_phase: uint256


# Vyper lays a struct out one field per slot; a price read would cost 9 cold
# slots (~19k gas). The configuration is packed by hand into three words,
# and a read without a second feed touches two of them:
#   feed word (primary, second): aggregator (bits 0-159), heartbeat (160-179,
#       <= 7 days < 2**20), feed decimals (180-184, <= 18);
#   primary word, bit 185: a second feed is set; bits 186-201 and 202-217:
#       the primary's and the second feed's confirmed Chainlink phase
#       (`roundId >> 64`, a uint16);
#   second word, bits 186-249: max_deviation (<= 1e18 < 2**64);
#   bounds word: min_price (bits 0-127), max_price (128-255), both <= 1e36.
primary_word: HashMap[address, uint256]
second_word: HashMap[address, uint256]
bounds_word: HashMap[address, uint256]
# Implied-volatility feeds, by underlying and expiry (unix seconds): a feed
# word as the primary's (with its confirmed phase in bits 186-201), and
# the bounds on the annualised volatility (WAD) as a bounds word.
vol_word: HashMap[address, HashMap[uint256, uint256]]
vol_bounds_word: HashMap[address, HashMap[uint256, uint256]]

# Largest volatility bound the owner may set: 1,000 % a year.
MAX_VOL: constant(uint256) = 10 * 10**18
# Which feed a read is of: its reasons differ.
PRIMARY: constant(uint256) = 0
SECOND: constant(uint256) = 1
VOL: constant(uint256) = 2

HEARTBEAT_SHIFT: constant(uint256) = 160
DECIMALS_SHIFT: constant(uint256) = 180
HAS_SECOND_BIT: constant(uint256) = 1 << 185
DEVIATION_SHIFT: constant(uint256) = 186
PHASE_SHIFT: constant(uint256) = 186
SECOND_PHASE_SHIFT: constant(uint256) = 202
PHASE_MASK: constant(uint256) = (1 << 16) - 1
# A round id's round within its phase (Chainlink: phase << 64 | round).
ROUND_MASK: constant(uint256) = (1 << 64) - 1
# Most invalid rounds after an expiry a settlement looks past.
SETTLE_WALK: constant(uint256) = 8
# Everything in the primary word but the phases.
PHASES: constant(uint256) = ((1 << 32) - 1) << PHASE_SHIFT
ADDRESS_MASK: constant(uint256) = (1 << 160) - 1
HEARTBEAT_MASK: constant(uint256) = (1 << 20) - 1
DECIMALS_MASK: constant(uint256) = (1 << 5) - 1
DEVIATION_MASK: constant(uint256) = (1 << 64) - 1
BOUND_MASK: constant(uint256) = (1 << 128) - 1
# Gas a feed's `latestRoundData` and `decimals` may use per read: a
# Chainlink proxy needs ~15k and ~8k cold; a composite adapter several
# times that. Beyond it, the price is invalid (the issue-19 gas burner).
FEED_GAS: constant(uint256) = 100_000
DECIMALS_GAS: constant(uint256) = 30_000


@deploy
def __init__():
    """
    @notice The deployer becomes the owner.
    """
    ownable.__init__()
    ownable_2step.__init__()


# ---------------------------------------------------------------- reading


@external
@view
def price(asset: address) -> uint256:
    """
    @notice The checked USD price of one whole `asset` token, in WAD.
    @dev Reverts with an `xm.oracle: ...` reason when any check fails.
    @param asset The token whose price is read.
    @return The price in 1e18 USD per whole token.
    """
    return self._price(asset)[0]


@external
@view
def price_time(asset: address) -> (uint256, uint256):
    """
    @notice The checked USD price of one whole `asset` token, in WAD, and
            when its feed published it.
    @dev Reverts as `price` does. Delayed orders settle only on a price
         published after their delay.
    @param asset The token whose price is read.
    @return The price (1e18 USD per whole token) and the primary feed's
            `updatedAt` (seconds).
    """
    return self._price(asset)


@external
@view
def vol(asset: address, expiry: uint256) -> uint256:
    """
    @notice The checked implied volatility of `asset` for options expiring
            at `expiry`, annualised, in WAD (0.8e18 is 80 %).
    @dev Reverts with an `xm.oracle: vol ...` reason (or `no vol feed`)
         when any check fails: stale, incomplete or future round, answer
         <= 0 or outside the owner's bounds, changed decimals or phase, a
         feed call that fails.
    @param asset The underlying token.
    @param expiry The options' expiry (unix seconds).
    @return The volatility, WAD per year.
    """
    return self._vol_time(asset, expiry)[0]


@external
@view
def vol_time(asset: address, expiry: uint256) -> (uint256, uint256):
    """
    @notice `vol`, and when its feed published it: delayed option orders
            execute only on a volatility published after their delay.
    @dev Reverts as `vol` does.
    @param asset The underlying token.
    @param expiry The options' expiry (unix seconds).
    @return The volatility (WAD per year) and the feed's `updatedAt`.
    """
    return self._vol_time(asset, expiry)


@external
@view
def settlement_price(asset: address, expiry: uint256, round_id: uint256) -> uint256:
    """
    @notice The price of `asset` at `expiry` for options that settle then:
            the answer of the primary feed's first valid round published
            at or after `expiry`. The caller names the round; this checks
            that it is that round.
    @dev Reverts with the price checks' reasons (no feed, a failed call,
         changed decimals, another phase than the one confirmed, an answer
         <= 0, an incomplete round, out of the owner's bounds; not its
         age), `expiry not reached`, `round before expiry` when the round
         was published before `expiry`, and `not first round after` when
         an earlier round of the same phase, published at or after
         `expiry`, was valid (or more than 8 invalid ones lie between).
         The first round of a phase has no earlier round to compare with:
         it is accepted (after a phase change the old phase's rounds are
         refused anyway). `no such round` for a round index of 0; `feed
         failed` when the feed cannot return an earlier round. The second
         feed is not consulted.
    @param asset The underlying token.
    @param expiry The options' expiry (unix seconds), in the past.
    @param round_id The Chainlink round id (phase << 64 | round).
    @return The settlement price, WAD USD per token.
    """
    word: uint256 = self.primary_word[asset]
    assert word != 0, errors.NO_FEED
    assert expiry <= block.timestamp, errors.NOT_EXPIRED
    # A round index of 0 names no round (and would make `_read` take the
    # latest one, skipping the walk below: the outside review).
    assert round_id & ROUND_MASK != 0, errors.NO_SUCH_ROUND
    bounds: uint256 = self.bounds_word[asset]
    feed: Feed = self._unpack_feed(word)
    phase: uint256 = (word >> PHASE_SHIFT) & PHASE_MASK
    p: uint256 = 0
    published: uint256 = 0
    p, published = self._read(feed, phase, bounds & BOUND_MASK, bounds >> 128, PRIMARY, round_id)
    assert published >= expiry, errors.ROUND_BEFORE_EXPIRY
    # The rounds before it, back to the last one published before
    # `expiry`, must be invalid (the first *valid* round settles): at most
    # SETTLE_WALK of them. The phase's first round ends the walk.
    back: uint256 = round_id
    for i: uint256 in range(SETTLE_WALK + 1):
        if back & ROUND_MASK <= 1:
            return p
        assert i < SETTLE_WALK, errors.NOT_FIRST_ROUND
        back -= 1
        ok: bool = False
        data: Bytes[160] = b""
        ok, data = raw_call(
            feed.aggregator,
            abi_encode(back, method_id=method_id("getRoundData(uint80)")),
            max_outsize=160,
            gas=FEED_GAS,
            is_static_call=True,
            revert_on_failure=False,
        )
        # The named round came back, so the feed keeps history: an earlier
        # round it cannot return is refused, not taken as before the expiry.
        if not ok or len(data) != 160:
            raise errors.FEED_CALL_FAILED
        rid: uint256 = 0
        answer: int256 = 0
        started_at: uint256 = 0
        updated_at: uint256 = 0
        answered: uint256 = 0
        rid, answer, started_at, updated_at, answered = abi_decode(
            data, (uint256, int256, uint256, uint256, uint256)
        )
        if updated_at != 0 and updated_at < expiry:
            return p
        # Published at or after expiry (or incomplete): it settles unless
        # it is invalid.
        valid: bool = answer > 0 and updated_at != 0 and answered >= back
        if valid:
            a: uint256 = convert(answer, uint256)
            valid = (
                a <= constants.MAX_PRICE
                and a * feed.scale > bounds & BOUND_MASK
                and a * feed.scale < bounds >> 128
            )
        assert not valid, errors.NOT_FIRST_ROUND
    return p


@external
@view
def vol_feed(asset: address, expiry: uint256) -> (Feed, uint256, uint256):
    """
    @notice The implied-volatility feed of `asset` at `expiry` (zeroes when none).
    @param asset The underlying token.
    @param expiry The options' expiry (unix seconds).
    @return The feed (with its confirmed phase) and the exclusive bounds
            on the volatility (WAD).
    """
    word: uint256 = self.vol_word[asset][expiry]
    feed: Feed = self._unpack_feed(word)
    feed.phase = (word >> PHASE_SHIFT) & PHASE_MASK
    bounds: uint256 = self.vol_bounds_word[asset][expiry]
    return feed, bounds & BOUND_MASK, bounds >> 128


@external
@view
def has_feed(asset: address) -> bool:
    """
    @notice Whether a primary feed is configured for `asset`.
    @param asset The token.
    @return True when `price(asset)` has a feed to read.
    """
    return self.primary_word[asset] != 0


@external
@view
def price_config(asset: address) -> PriceConfig:
    """
    @notice The full feed configuration of `asset` (zeroes when none).
    @param asset The token.
    @return The primary and secondary feed, bounds and deviation limit.
    """
    bounds: uint256 = self.bounds_word[asset]
    second: uint256 = self.second_word[asset]
    word: uint256 = self.primary_word[asset]
    primary: Feed = self._unpack_feed(word)
    primary.phase = (word >> PHASE_SHIFT) & PHASE_MASK
    secondary: Feed = self._unpack_feed(second)
    secondary.phase = (word >> SECOND_PHASE_SHIFT) & PHASE_MASK
    return PriceConfig(
        primary=primary,
        secondary=secondary,
        min_price=bounds & BOUND_MASK,
        max_price=bounds >> 128,
        max_deviation=(second >> DEVIATION_SHIFT) & DEVIATION_MASK,
    )


# ---------------------------------------------------------------- configuration


@external
def set_feed(
    asset: address,
    aggregator: address,
    heartbeat: uint256,
    min_price: uint256,
    max_price: uint256,
):
    """
    @notice Sets (or replaces) the primary feed of `asset` and its price bounds.
    @dev The feed's decimals are read now; the current answer must pass every
         check, so a dead or mis-scaled feed cannot be configured.
    @param asset The token priced by the feed.
    @param aggregator The AggregatorV3 feed (USD quote).
    @param heartbeat Seconds after which an answer is stale (1 .. 7 days).
    @param min_price Exclusive lower bound on the WAD price (> 0).
    @param max_price Exclusive upper bound on the WAD price (<= 1e36).
    """
    ownable._check_owner()
    assert asset != empty(address), errors.ZERO_ASSET
    assert min_price > 0, errors.MIN_PRICE_ZERO
    assert max_price > min_price, errors.MAX_PRICE_BELOW_MIN
    assert max_price <= constants.MAX_PRICE, errors.MAX_PRICE_TOO_LARGE
    # A primary equal to the second feed would cross-check a feed with itself.
    assert aggregator != self._aggregator_of(self.second_word[asset]), errors.PRIMARY_IS_SECOND
    word: uint256 = 0
    decimals: uint256 = 0
    word, decimals = self._feed_word(aggregator, heartbeat)
    # Keep the "second feed set" bit and the second feed's phase of the
    # word being replaced; this feed's phase is the one it answers now.
    old: uint256 = self.primary_word[asset]
    self.primary_word[asset] = (
        word
        | (old & (HAS_SECOND_BIT | (PHASE_MASK << SECOND_PHASE_SHIFT)))
        | (self._phase(aggregator) << PHASE_SHIFT)
    )
    self.bounds_word[asset] = min_price | (max_price << 128)
    log FeedSet(
        asset=asset,
        aggregator=aggregator,
        heartbeat=heartbeat,
        decimals=decimals,
        min_price=min_price,
        max_price=max_price,
    )
    # The configuration must produce a valid price right away.
    self._price(asset)


@external
def set_secondary_feed(
    asset: address, aggregator: address, heartbeat: uint256, max_deviation: uint256
):
    """
    @notice Adds (or replaces) a second feed that every read of `asset` is
            cross-checked against.
    @param asset The token; it must already have a primary feed.
    @param aggregator The second AggregatorV3 feed (USD quote).
    @param heartbeat Seconds after which its answer is stale (1 .. 7 days).
    @param max_deviation Largest |second - primary| / primary, WAD (0 < d <= 1).
    """
    ownable._check_owner()
    primary: uint256 = self.primary_word[asset]
    assert primary != 0, errors.NO_FEED
    assert max_deviation > 0, errors.ZERO_DEVIATION
    assert max_deviation <= constants.WAD, errors.DEVIATION_TOO_HIGH
    assert aggregator != self._aggregator_of(primary), errors.SECOND_IS_PRIMARY
    word: uint256 = 0
    decimals: uint256 = 0
    word, decimals = self._feed_word(aggregator, heartbeat)
    self.second_word[asset] = word | (max_deviation << DEVIATION_SHIFT)
    self.primary_word[asset] = (
        (primary & ~(PHASE_MASK << SECOND_PHASE_SHIFT))
        | HAS_SECOND_BIT
        | (self._phase(aggregator) << SECOND_PHASE_SHIFT)
    )
    log SecondaryFeedSet(
        asset=asset,
        aggregator=aggregator,
        heartbeat=heartbeat,
        decimals=decimals,
        max_deviation=max_deviation,
    )
    self._price(asset)


@external
def remove_secondary_feed(asset: address):
    """
    @notice Stops cross-checking `asset` against a second feed.
    @param asset The token.
    """
    ownable._check_owner()
    assert self.second_word[asset] != 0, errors.NO_SECOND_FEED
    self.second_word[asset] = 0
    self.primary_word[asset] &= ~(HAS_SECOND_BIT | (PHASE_MASK << SECOND_PHASE_SHIFT))
    log SecondaryFeedSet(
        asset=asset, aggregator=empty(address), heartbeat=0, decimals=0, max_deviation=0
    )


@external
def confirm_feed(asset: address):
    """
    @notice Accepts the Chainlink phase each of `asset`'s feeds answers in
            now, after checking what the new aggregator behind the proxy
            reports; reads refused with `feed phase changed` go through
            again. The current answer must pass every check.
    @param asset The token; it must have a feed.
    """
    ownable._check_owner()
    word: uint256 = self.primary_word[asset]
    assert word != 0, errors.NO_FEED
    phase: uint256 = self._phase(self._aggregator_of(word))
    second: uint256 = 0
    if word & HAS_SECOND_BIT != 0:
        second = self._phase(self._aggregator_of(self.second_word[asset]))
    self.primary_word[asset] = (
        (word & ~PHASES) | (phase << PHASE_SHIFT) | (second << SECOND_PHASE_SHIFT)
    )
    log FeedConfirmed(asset=asset, phase=phase, second_phase=second)
    self._price(asset)


@external
def set_vol_feed(
    asset: address,
    expiry: uint256,
    aggregator: address,
    heartbeat: uint256,
    min_vol: uint256,
    max_vol: uint256,
):
    """
    @notice Sets (or replaces, which also confirms the phase it answers in)
            the implied-volatility feed of `asset` for options expiring at
            `expiry`, and the bounds its answer must stay inside.
    @dev The asset must have a price feed. The feed's decimals and phase
         are read now, and its current answer must pass every check.
    @param asset The underlying token.
    @param expiry The options' expiry (unix seconds, in the future).
    @param aggregator The AggregatorV3-shaped feed of annualised volatility.
    @param heartbeat Seconds after which an answer is stale (1 .. 7 days).
    @param min_vol Exclusive lower bound on the volatility, WAD (> 0).
    @param max_vol Exclusive upper bound, WAD (above min_vol, at most 10e18).
    """
    ownable._check_owner()
    assert self.primary_word[asset] != 0, errors.NO_FEED
    assert expiry > block.timestamp, errors.EXPIRY_PAST
    assert min_vol > 0, errors.MIN_VOL_ZERO
    assert max_vol > min_vol and max_vol <= MAX_VOL, errors.MAX_VOL_RANGE
    word: uint256 = 0
    decimals: uint256 = 0
    word, decimals = self._feed_word(aggregator, heartbeat)
    phase: uint256 = self._phase(aggregator)
    self.vol_word[asset][expiry] = word | (phase << PHASE_SHIFT)
    self.vol_bounds_word[asset][expiry] = min_vol | (max_vol << 128)
    log VolFeedSet(
        asset=asset,
        expiry=expiry,
        aggregator=aggregator,
        heartbeat=heartbeat,
        decimals=decimals,
        phase=phase,
        min_vol=min_vol,
        max_vol=max_vol,
    )
    self._read(self._unpack_feed(word), phase, min_vol, max_vol, VOL)


@external
def remove_vol_feed(asset: address, expiry: uint256):
    """
    @notice Removes the implied-volatility feed of `asset` at `expiry`;
            `vol(asset, expiry)` reverts afterwards.
    @param asset The underlying token.
    @param expiry The options' expiry.
    """
    ownable._check_owner()
    assert self.vol_word[asset][expiry] != 0, errors.NO_VOL_FEED
    self.vol_word[asset][expiry] = 0
    self.vol_bounds_word[asset][expiry] = 0
    log VolFeedSet(
        asset=asset,
        expiry=expiry,
        aggregator=empty(address),
        heartbeat=0,
        decimals=0,
        phase=0,
        min_vol=0,
        max_vol=0,
    )


@external
def remove_feed(asset: address):
    """
    @notice Removes every feed of `asset`; `price(asset)` reverts afterwards.
    @param asset The token.
    """
    ownable._check_owner()
    assert self.primary_word[asset] != 0, errors.NO_FEED
    self.primary_word[asset] = 0
    self.second_word[asset] = 0
    self.bounds_word[asset] = 0
    log FeedRemoved(asset=asset)


# ---------------------------------------------------------------- internals


@internal
@view
def _feed_word(aggregator: address, heartbeat: uint256) -> (uint256, uint256):
    """
    @dev Checks a feed and returns its word (without flag or deviation bits)
         and its decimals, read from the feed now.
    """
    assert aggregator.is_contract, errors.FEED_NOT_CONTRACT
    assert heartbeat > 0, errors.ZERO_HEARTBEAT
    assert heartbeat <= constants.MAX_HEARTBEAT, errors.HEARTBEAT_TOO_LONG
    decimals: uint256 = convert(staticcall IAggregatorV3(aggregator).decimals(), uint256)
    assert decimals <= constants.MAX_DECIMALS, errors.FEED_DECIMALS
    word: uint256 = (
        convert(aggregator, uint256) | (heartbeat << HEARTBEAT_SHIFT) | (decimals << DECIMALS_SHIFT)
    )
    return word, decimals


@internal
@view
def _phase(aggregator: address) -> uint256:
    """
    @dev The Chainlink phase the feed's latest round is in (`roundId >> 64`,
         0 for a plain aggregator); a feed whose round is unreadable fails
         the price check that follows every configuration change.
    """
    ok: bool = False
    data: Bytes[160] = b""
    ok, data = raw_call(
        aggregator,
        method_id("latestRoundData()"),
        max_outsize=160,
        gas=FEED_GAS,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 160:
        return 0
    return (convert(slice(data, 0, 32), uint256) >> 64) & PHASE_MASK


@internal
@pure
def _aggregator_of(word: uint256) -> address:
    return convert(convert(word & ADDRESS_MASK, uint160), address)


@internal
@pure
def _unpack_feed(word: uint256) -> Feed:
    """
    @dev The Feed a word holds (all zero for 0).
    """
    if word == 0:
        return empty(Feed)
    decimals: uint256 = (word >> DECIMALS_SHIFT) & DECIMALS_MASK
    return Feed(
        aggregator=convert(convert(word & ADDRESS_MASK, uint160), address),  # inline: hot path
        heartbeat=(word >> HEARTBEAT_SHIFT) & HEARTBEAT_MASK,
        scale=10**(constants.MAX_DECIMALS - decimals),
        decimals=decimals,
        phase=0,
    )


@internal
@view
def _vol_time(asset: address, expiry: uint256) -> (uint256, uint256):
    word: uint256 = self.vol_word[asset][expiry]
    assert word != 0, errors.NO_VOL_FEED
    bounds: uint256 = self.vol_bounds_word[asset][expiry]
    return self._read(
        self._unpack_feed(word),
        (word >> PHASE_SHIFT) & PHASE_MASK,
        bounds & BOUND_MASK,
        bounds >> 128,
        VOL,
    )


@internal
@view
def _read(
    feed: Feed,
    phase: uint256,
    min_price: uint256,
    max_price: uint256,
    which: uint256,
    at_round: uint256 = 0,
) -> (uint256, uint256):
    """
    @dev Reads one feed and applies every per-feed check. `which` only
         picks the reasons (PRIMARY, SECOND or VOL). Returns the WAD answer
         and the round's `updatedAt`. With `at_round` (non-zero) it reads
         that round (`getRoundData`) instead of the latest, and does not
         check its age (a settlement price is a past round by design).
    """
    # Gas-capped calls that cannot revert this read with the feed's own
    # data: a feed that reverts, burns gas or answers in another shape is
    # an invalid price for its asset only, with this router's reason.
    call: Bytes[36] = method_id("latestRoundData()")
    if at_round != 0:
        call = abi_encode(at_round, method_id=method_id("getRoundData(uint80)"))
    ok: bool = False
    data: Bytes[160] = b""
    ok, data = raw_call(
        feed.aggregator,
        call,
        max_outsize=160,
        gas=FEED_GAS,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 160:
        self._fail(
            which, errors.FEED_CALL_FAILED, errors.SECOND_CALL_FAILED, errors.VOL_CALL_FAILED
        )
    # Round ids decoded as uint256: an out-of-range uint80 must not make
    # the decoder revert without a reason.
    round_id: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint256 = 0
    round_id, answer, started_at, updated_at, answered_in_round = abi_decode(
        data, (uint256, int256, uint256, uint256, uint256)
    )
    # The decimals the answer is scaled by must still be the feed's: a feed
    # (or a proxy's new phase) that moved from 8 to 6 would read 100x low.
    decimals: Bytes[32] = b""
    ok, decimals = raw_call(
        feed.aggregator,
        method_id("decimals()"),
        max_outsize=32,
        gas=DECIMALS_GAS,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(decimals) != 32 or convert(decimals, uint256) != feed.decimals:
        self._fail(
            which,
            errors.FEED_DECIMALS_CHANGED,
            errors.SECOND_DECIMALS_CHANGED,
            errors.VOL_DECIMALS_CHANGED,
        )
    # A round from another phase comes from an aggregator nobody confirmed.
    if round_id >> 64 != phase:
        self._fail(
            which, errors.FEED_PHASE_CHANGED, errors.SECOND_PHASE_CHANGED, errors.VOL_PHASE_CHANGED
        )
    if answer <= 0:
        self._fail(
            which, errors.PRICE_NOT_POSITIVE, errors.SECOND_NOT_POSITIVE, errors.VOL_NOT_POSITIVE
        )
    if updated_at == 0 or answered_in_round < round_id:
        self._fail(which, errors.PRICE_INCOMPLETE, errors.SECOND_INCOMPLETE, errors.VOL_INCOMPLETE)
    if updated_at > block.timestamp:
        self._fail(
            which, errors.PRICE_FROM_FUTURE, errors.SECOND_FROM_FUTURE, errors.VOL_FROM_FUTURE
        )
    if at_round == 0 and block.timestamp - updated_at > feed.heartbeat:
        self._fail(which, errors.PRICE_STALE, errors.SECOND_STALE, errors.VOL_STALE)
    a: uint256 = convert(answer, uint256)
    # Bounding the raw answer first keeps `a * scale` <= 1e36 * 1e18: no
    # overflow, so the product needs no further check.
    p: uint256 = 0
    if a <= constants.MAX_PRICE:
        p = unsafe_mul(a, feed.scale)
    if p <= min_price or p >= max_price:
        self._fail(
            which, errors.PRICE_OUT_OF_BOUNDS, errors.PRICE_OUT_OF_BOUNDS, errors.VOL_OUT_OF_BOUNDS
        )
    return p, updated_at


@internal
@pure
def _fail(
    which: uint256, primary_reason: String[32], second_reason: String[32], vol_reason: String[32]
):
    """
    @dev Reverts with the primary feed's, the second feed's or a vol feed's reason.
    """
    if which == SECOND:
        raise second_reason
    if which == VOL:
        raise vol_reason
    raise primary_reason


@internal
@view
def _price(asset: address) -> (uint256, uint256):
    # Two storage reads without a second feed, three with one.
    word: uint256 = self.primary_word[asset]
    assert word != 0, errors.NO_FEED
    bounds: uint256 = self.bounds_word[asset]
    min_price: uint256 = bounds & BOUND_MASK
    max_price: uint256 = bounds >> 128
    p: uint256 = 0
    published: uint256 = 0
    p, published = self._read(
        self._unpack_feed(word), (word >> PHASE_SHIFT) & PHASE_MASK, min_price, max_price, PRIMARY
    )
    if word & HAS_SECOND_BIT != 0:
        second: uint256 = self.second_word[asset]
        s: uint256 = self._read(
            self._unpack_feed(second),
            (word >> SECOND_PHASE_SHIFT) & PHASE_MASK,
            min_price,
            max_price,
            SECOND,
        )[0]
        diff: uint256 = max(p, s) - min(p, s)
        # |s - p| / p <= max_deviation, compared exactly without division.
        max_deviation: uint256 = (second >> DEVIATION_SHIFT) & DEVIATION_MASK
        assert diff * constants.WAD <= max_deviation * p, errors.FEEDS_DEVIATE
    return p, published
