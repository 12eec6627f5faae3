# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin option series
@notice Cash-settled European calls and puts on the engine's underlyings:
        each series is an underlying (the OracleRouter's key), a strike
        (WAD USD), an expiry (unix seconds) and a side. The owner lists
        series; a series is marked by Black-76 (`modules/black76.vy`) from
        the router's checked price and implied volatility for its expiry,
        until expiry; then from the settlement price, which anyone records
        once, from the first valid oracle round at or after the expiry
        (`settle_expiry`), for every series of that underlying and expiry.
        One contract is one unit of the underlying. Positions, orders and
        liquidations live in the OptionsDesk, which asks this contract for
        quotes, marks and each position's risk (docs/options.md).
@custom:security Listing bounds keep every Black-76 input inside the
                 module's domain (strike within 10x of the price at
                 listing, expiry at most two years out, the router's
                 bounds on price and volatility); a settlement price is
                 written once and never changes.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from .interfaces import IOracleRouter
from .modules import black76
from .modules import constants
from .modules import errors
from .modules import fixed_point as fp

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    # ownership (renounce is deliberately not exported)
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


struct Series:
    asset: address
    # WAD USD per unit of the underlying.
    strike: uint256
    # Unix seconds.
    expiry: uint256
    is_call: bool


event SeriesListed:
    series_id: indexed(uint256)
    asset: indexed(address)
    strike: uint256
    expiry: uint256
    is_call: bool


event ExpirySettled:
    asset: indexed(address)
    expiry: indexed(uint256)
    price: uint256
    round_id: uint256
    caller: address


# The linear margin rule for short options on an underlying (WAD fractions
# of its price), after Deribit's and Lyra's: per contract
#   IM = max(im_rate * S - OTM, im_floor * S), MM = max(mm_rate * S - OTM, mm_floor * S)
# with OTM = max(K - S, 0) for a call, max(S - K, 0) for a put; a short
# put's requirement is at most K - mark (its whole loss is K). On top of
# the mark, which equity already owes.
struct MarginParams:
    im_rate: uint256
    im_floor: uint256
    mm_rate: uint256
    mm_floor: uint256


# An option position's part of its account's health (WAD USD): its mark
# value (negative when short) and the margin it needs.
struct OptionRisk:
    value: int256
    im: uint256
    mm: uint256


event MarginParamsSet:
    asset: indexed(address)
    im_rate: uint256
    im_floor: uint256
    mm_rate: uint256
    mm_floor: uint256


event OracleSet:
    previous_oracle: indexed(address)
    new_oracle: indexed(address)


# Most series ever listed: ids are 0..MAX_SERIES-1 (accounts hold a
# bounded number of them; the registry itself is never looped over).
MAX_SERIES: constant(uint256) = 4096
# Most series listed and not yet settled at once: every read of the pool's
# value prices each series the pool holds, and the OptionsDesk's list of
# such series (32) must not fill with live ones (after its settlement,
# anyone settles a series' positions out of that list).
MAX_LIVE: constant(uint256) = 16
# A strike within [price / 10, price * 10] of the underlying at listing.
MONEYNESS: constant(uint256) = 10
# Expiry at least an hour and at most two years after listing (Black-76's
# module is bounded for up to ten years).
MIN_TIME: constant(uint256) = 3_600
MAX_TIME: constant(uint256) = 730 * 86_400
# Largest margin rate or floor the owner may set: half the price.
MAX_MARGIN_RATE: constant(uint256) = constants.WAD // 2
# Most scenarios a revaluation takes (PortfolioRisk's MAX_SCENARIOS), and
# the highest volatility a shocked one is taken at (Black-76's domain).
MAX_SCENARIOS: constant(uint256) = 32
MAX_SHOCKED_VOL: constant(uint256) = 100 * constants.WAD

oracle: public(IOracleRouter)
num_series: public(uint256)
# Series listed whose expiry is not settled yet.
live_series: public(uint256)
series: public(HashMap[uint256, Series])
# keccak(asset, strike, expiry, is_call) -> series id + 1 (0: not listed).
series_key: HashMap[bytes32, uint256]
# How many series an (underlying, expiry) has: settlement needs one.
expiry_count: public(HashMap[address, HashMap[uint256, uint256]])
# Settlement price of an (underlying, expiry), WAD USD; 0 until recorded.
settlement: public(HashMap[address, HashMap[uint256, uint256]])
margin_params: public(HashMap[address, MarginParams])


@deploy
def __init__(oracle: address):
    """
    @notice The deployer becomes the owner.
    @param oracle The OracleRouter the engine prices with.
    """
    ownable.__init__()
    ownable_2step.__init__()
    self._set_oracle(oracle)


# ---------------------------------------------------------------- owner


@external
def set_oracle(oracle: address):
    """
    @notice Points the book at another OracleRouter (the engine's, when
            the engine's changes).
    @param oracle The new router.
    """
    ownable._check_owner()
    self._set_oracle(oracle)


@external
def set_margin_params(
    asset: address, im_rate: uint256, im_floor: uint256, mm_rate: uint256, mm_floor: uint256
):
    """
    @notice Sets the short-option margin rule of an underlying (WAD
            fractions of its price): IM = max(im_rate * S - OTM,
            im_floor * S), MM likewise with the MM pair, per contract, on
            top of the mark. Takes effect for every position at once.
    @dev Needs 0 < mm_floor <= mm_rate, mm_floor <= im_floor <= im_rate,
         mm_rate <= im_rate <= 50 %: IM is never below MM.
    @param asset The underlying.
    @param im_rate Initial margin rate before the out-of-the-money credit.
    @param im_floor Initial margin floor.
    @param mm_rate Maintenance margin rate before the credit.
    @param mm_floor Maintenance margin floor.
    """
    ownable._check_owner()
    assert (
        mm_floor > 0
        and mm_floor <= mm_rate
        and mm_floor <= im_floor
        and im_floor <= im_rate
        and mm_rate <= im_rate
        and im_rate <= MAX_MARGIN_RATE
    ), errors.OPTION_MARGIN_RANGE
    self.margin_params[asset] = MarginParams(
        im_rate=im_rate, im_floor=im_floor, mm_rate=mm_rate, mm_floor=mm_floor
    )
    log MarginParamsSet(
        asset=asset, im_rate=im_rate, im_floor=im_floor, mm_rate=mm_rate, mm_floor=mm_floor
    )


@external
def list_series(asset: address, strike: uint256, expiry: uint256, is_call: bool) -> uint256:
    """
    @notice Lists a cash-settled European option series. The underlying
            must have its margin rule (`set_margin_params`), a valid price
            and a valid implied volatility for `expiry` now; the strike must lie within 10x of the price
            either way; the expiry between an hour and two years away.
    @param asset The underlying (the router's price key).
    @param strike The strike, WAD USD per unit.
    @param expiry The expiry, unix seconds.
    @param is_call True for a call, False for a put.
    @return The new series id.
    """
    ownable._check_owner()
    assert self.margin_params[asset].mm_floor != 0, errors.NO_OPTION_MARGIN
    assert expiry >= block.timestamp + MIN_TIME, errors.EXPIRY_TOO_SOON
    assert expiry <= block.timestamp + MAX_TIME, errors.EXPIRY_TOO_FAR
    # Both reads revert with the router's reason when invalid.
    price: uint256 = staticcall self.oracle.price(asset)
    vol: uint256 = staticcall self.oracle.vol(asset, expiry)
    assert (
        strike > 0
        and strike <= constants.MAX_PRICE
        and strike * MONEYNESS >= price
        and strike <= price * MONEYNESS
    ), errors.STRIKE_OUT_OF_RANGE
    key: bytes32 = keccak256(abi_encode(asset, strike, expiry, is_call))
    assert self.series_key[key] == 0, errors.SERIES_EXISTS
    series_id: uint256 = self.num_series
    assert series_id < MAX_SERIES and self.live_series < MAX_LIVE, errors.TOO_MANY_SERIES
    self.num_series = series_id + 1
    self.live_series += 1
    self.series_key[key] = series_id + 1
    self.series[series_id] = Series(asset=asset, strike=strike, expiry=expiry, is_call=is_call)
    self.expiry_count[asset][expiry] += 1
    log SeriesListed(
        series_id=series_id, asset=asset, strike=strike, expiry=expiry, is_call=is_call
    )
    return series_id


# ---------------------------------------------------------------- anyone


@external
def settle_expiry(asset: address, expiry: uint256, round_id: uint256) -> uint256:
    """
    @notice Records the settlement price of every series of `asset` at
            `expiry`: the answer of the primary feed's first round
            published at or after `expiry`, which the caller names
            (`round_id`) and the router checks. Anyone may call it, once.
    @param asset The underlying.
    @param expiry The expiry, unix seconds, passed.
    @param round_id The feed's round (Chainlink: phase << 64 | round).
    @return The settlement price, WAD USD.
    """
    assert self.expiry_count[asset][expiry] != 0, errors.NOTHING_TO_SETTLE
    assert self.settlement[asset][expiry] == 0, errors.ALREADY_SETTLED
    # Reverts before expiry, and for any round but the first at or after it.
    price: uint256 = staticcall self.oracle.settlement_price(asset, expiry, round_id)
    self.settlement[asset][expiry] = price
    self.live_series -= self.expiry_count[asset][expiry]
    log ExpirySettled(asset=asset, expiry=expiry, price=price, round_id=round_id, caller=msg.sender)
    return price


# ---------------------------------------------------------------- views


@external
@view
def find_series(asset: address, strike: uint256, expiry: uint256, is_call: bool) -> uint256:
    """
    @notice The id of a listed series.
    @dev Reverts `unknown series` when it is not listed.
    @param asset The underlying.
    @param strike The strike, WAD USD.
    @param expiry The expiry, unix seconds.
    @param is_call True for a call.
    @return The series id.
    """
    id_plus_one: uint256 = self.series_key[keccak256(abi_encode(asset, strike, expiry, is_call))]
    assert id_plus_one != 0, errors.UNKNOWN_SERIES
    return id_plus_one - 1


@external
@view
def mark(series_id: uint256) -> uint256:
    """
    @notice The value of one contract of a series, WAD USD: Black-76 from
            the router's price and implied volatility before expiry; the
            payoff at the settlement price after it.
    @dev Reverts `unknown series`, `expired, not settled` (after expiry,
         before `settle_expiry`), or with the router's reason.
    @param series_id The series.
    @return The mark, WAD USD per unit of the underlying, rounded down.
    """
    return self._mark(self._series(series_id))


@external
@view
def greeks(series_id: uint256) -> (int256, uint256, uint256, int256):
    """
    @notice Delta, gamma, vega and theta of one contract before expiry
            (the payoff's slope and zeros after it), WAD: delta per 1 USD
            of the underlying, gamma per 1 USD squared, vega per 1.00 of
            volatility, theta per year.
    @dev Reverts as `mark` does.
    @param series_id The series.
    @return (delta, gamma, vega, theta).
    """
    s: Series = self._series(series_id)
    if block.timestamp >= s.expiry:
        return black76._greeks(self._settlement(s), s.strike, 0, 0, s.is_call)
    price: uint256 = 0
    vol: uint256 = 0
    tau: uint256 = 0
    price, vol, tau = self._live(s)
    return black76._greeks(price, s.strike, vol, tau, s.is_call)


@external
@view
def position_risk(series_id: uint256, size: int256) -> OptionRisk:
    """
    @notice What a position of `size` contracts (negative: short) adds to
            its account's health in linear margin, WAD USD: its value at
            the mark (owed when short) and its initial and maintenance
            margin. A long needs its premium as IM, and as MM what a move
            of the MM rate against it would take from its value; a short
            needs per contract the underlying's rule (`set_margin_params`)
            or the Black-76 repriced loss of a move of the rate against
            it, whichever is more (a short put at most K - mark). From
            expiry on, the value at the settlement price and no margin;
            before the settlement is recorded, a long at nothing and a
            short owing its payoff at today's price with the rule's
            floors. Rounded against the account.
    @dev Reverts as the router does, `unknown series`, `zero size`,
         `size too large`.
    @param series_id The series.
    @param size Contracts, WAD, signed.
    @return (value, im, mm).
    """
    assert size != 0, errors.ZERO_SIZE
    assert fp._abs(size) <= constants.MAX_SIZE, errors.SIZE_TOO_LARGE
    return self._position_risk(self._series(series_id), size)


@external
@view
def series_of(series_id: uint256) -> Series:
    """
    @notice A listed series.
    @dev Reverts `unknown series`.
    @param series_id The series.
    @return (asset, strike, expiry, is_call).
    """
    return self._series(series_id)


@external
@view
def quote(series_id: uint256, size: int256, vol_spread: uint256) -> (uint256, uint256, uint256):
    """
    @notice The premium per contract at which the pool sells (`size` > 0)
            or buys a series now: Black-76 with the implied volatility
            widened by `vol_spread` (a WAD fraction of it) against the
            trader, WAD USD; and when the price and the volatility it used
            were published (the older of the two).
    @dev Reverts `unknown series`, `series expired`, or with the router's
         reason.
    @param series_id The series.
    @param size Contracts, WAD, signed (only its sign matters).
    @param vol_spread WAD fraction of the volatility, at most 100 %.
    @return (premium, underlying price, published).
    """
    s: Series = self._series(series_id)
    assert block.timestamp < s.expiry, errors.SERIES_EXPIRED
    price: uint256 = 0
    published: uint256 = 0
    vol: uint256 = 0
    vol_published: uint256 = 0
    price, published = staticcall self.oracle.price_time(s.asset)
    vol, vol_published = staticcall self.oracle.vol_time(s.asset, s.expiry)
    spread: uint256 = vol * min(vol_spread, constants.WAD) // constants.WAD
    if size > 0:
        vol += spread
    else:
        vol -= spread
    return (
        black76._price(price, s.strike, vol, s.expiry - block.timestamp, s.is_call),
        price,
        min(published, vol_published),
    )


@external
@view
def pool_risk(series_id: uint256, size: int256) -> OptionRisk:
    """
    @notice The pool's own position in a series as the pool's value and
            reserve count it, WAD USD, with one Black-76 valuation (every
            read of the pool's value prices each series the pool holds):
            its value at the mark, rounded against the pool, and, when
            short, the rule's initial margin (`set_margin_params`; a short
            put at most K - mark) as the reserve it keeps (im = mm). A series
            whose volatility cannot be read is valued at its bound against
            the pool (short: a call at the price, a put at the strike, the
            rule without the out-of-the-money credit; long: the payoff), so
            one dead volatility feed does not stop every read of the pool's
            value. From expiry on, as `position_risk`.
    @dev Reverts if the underlying's price cannot be read.
    @param series_id The series.
    @param size The pool's contracts, WAD, signed, not 0.
    @return (value, im, mm).
    """
    s: Series = self._series(series_id)
    if block.timestamp >= s.expiry:
        return self._position_risk(s, size)
    price: uint256 = staticcall self.oracle.price(s.asset)
    ok: bool = False
    vol: uint256 = 0
    ok, vol = self._try_vol(s)
    n: uint256 = fp._abs(size)
    # The payoff, then the mark when the volatility reads.
    unit: uint256 = black76._price(price, s.strike, 0, 0, s.is_call)
    if ok:
        unit = black76._price(price, s.strike, vol, s.expiry - block.timestamp, s.is_call)
    if size > 0:
        return OptionRisk(value=convert(n * unit // constants.WAD, int256), im=0, mm=0)
    otm: uint256 = 0
    if not ok:
        unit = s.strike
        if s.is_call:
            unit = price
    elif s.is_call:
        otm = s.strike - min(s.strike, price)
    else:
        otm = price - min(price, s.strike)
    p: MarginParams = self.margin_params[s.asset]
    per: uint256 = self._per_contract(price, otm, p.im_rate, p.im_floor)
    if not s.is_call:
        per = min(per, s.strike - min(s.strike, unit))
    im: uint256 = fp._ceil_div_u(n * per, constants.WAD)
    return OptionRisk(value=-convert(fp._ceil_div_u(n * unit, constants.WAD), int256), im=im, mm=im)


@external
@view
def scenario_risk(
    series_id: uint256,
    size: int256,
    moves: DynArray[int256, MAX_SCENARIOS],
    vol_moves: DynArray[int256, MAX_SCENARIOS],
) -> (int256, DynArray[int256, MAX_SCENARIOS], uint256):
    """
    @notice A position of `size` contracts repriced in each scenario of a
            portfolio-margin grid (SPAN's revaluation): the underlying at
            S * (1 + move), the implied volatility at sigma * (1 + vol
            move) (at most 100.00), the same time to expiry, by Black-76.
            From expiry until the settlement is recorded, a short at its
            payoff at the moved price, a long losing its whole provisional
            payoff in every scenario; after it, no move. Rounded against
            the account: each P&L floored, less the Black-76 error bound of
            both valuations.
    @dev Reverts as `position_risk` does, `moves and vols differ` when the
         lists' lengths differ; every move at least -1e18.
    @param series_id The series.
    @param size Contracts, WAD, signed.
    @param moves Per scenario, the underlying's WAD relative move.
    @param vol_moves Per scenario, the volatility's WAD relative move.
    @return (value at the mark as `position_risk`, P&L per scenario,
            contracts x price when short and not settled, else 0).
    """
    assert size != 0, errors.ZERO_SIZE
    assert fp._abs(size) <= constants.MAX_SIZE, errors.SIZE_TOO_LARGE
    assert len(moves) == len(vol_moves), errors.SCENARIO_LENGTHS
    s: Series = self._series(series_id)
    wad: uint256 = constants.WAD
    n: uint256 = fp._abs(size)
    pnls: DynArray[int256, MAX_SCENARIOS] = []
    price: uint256 = 0
    vol: uint256 = 0
    tau: uint256 = 0
    if block.timestamp >= s.expiry:
        settled: uint256 = self.settlement[s.asset][s.expiry]
        if settled != 0:
            payoff: uint256 = black76._price(settled, s.strike, 0, 0, s.is_call)
            for m: int256 in moves:
                pnls.append(0)
            return self._value(n * payoff, size), pnls, 0
        price = staticcall self.oracle.price(s.asset)
    else:
        price, vol, tau = self._live(s)
    mark: uint256 = black76._price(price, s.strike, vol, tau, s.is_call)
    if tau == 0 and size > 0:
        # Expired, its settlement not recorded: the payoff at today's
        # price is provisional (the settlement round may already be
        # published at another price), so a long backs nothing: it may
        # lose all of it in every scenario (linear mode's IM = its value).
        lost: int256 = -convert(n * mark // wad, int256)
        for m: int256 in moves:
            pnls.append(lost)
        return self._value(n * mark, size), pnls, 0
    for i: uint256 in range(MAX_SCENARIOS):
        if i == len(moves):
            break
        assert moves[i] >= -convert(wad, int256) and vol_moves[i] >= -convert(
            wad, int256
        ), errors.SCENARIO_LENGTHS
        moved: uint256 = price * convert(convert(wad, int256) + moves[i], uint256) // wad
        shocked: uint256 = min(
            vol * convert(convert(wad, int256) + vol_moves[i], uint256) // wad, MAX_SHOCKED_VOL
        )
        after: uint256 = black76._price(moved, s.strike, shocked, tau, s.is_call)
        # The moved price rounds down: a few wei per contract cover it
        # where the value is exact (the payoff).
        err: uint256 = 2 * black76.VALUE_ROUNDING
        if tau != 0:
            err += (moved + price + 2 * s.strike) * black76.NCDF_ERROR // wad
        pnls.append(
            fp._floor_div(
                size * (convert(after, int256) - convert(mark, int256)), convert(wad, int256)
            )
            - convert(fp._ceil_div_u(n * err, wad), int256)
        )
    short: uint256 = 0
    if size < 0:
        short = fp._ceil_div_u(n * price, wad)
    return self._value(n * mark, size), pnls, short


# ---------------------------------------------------------------- internals


@internal
@view
def _try_vol(s: Series) -> (bool, uint256):
    """
    @dev The router's volatility for the series, and whether it gave one.
    """
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        self.oracle.address,
        abi_encode(s.asset, s.expiry, method_id=method_id("vol(address,uint256)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(out) != 32:
        return False, 0
    return True, abi_decode(out, uint256)


@internal
@view
def _position_risk(s: Series, size: int256) -> OptionRisk:
    """
    @dev One position's value and linear margin (see `position_risk`):
         values round against the account (a long's down, a short's owed
         up), margins up; a repriced loss adds the Black-76 module's error
         bound of both valuations.
    """
    n: uint256 = fp._abs(size)
    wad: uint256 = constants.WAD
    p: MarginParams = self.margin_params[s.asset]
    if block.timestamp >= s.expiry:
        settled: uint256 = self.settlement[s.asset][s.expiry]
        if settled != 0:
            payoff: uint256 = black76._price(settled, s.strike, 0, 0, s.is_call)
            if size > 0:
                return OptionRisk(value=convert(n * payoff // wad, int256), im=0, mm=0)
            return OptionRisk(value=-convert(fp._ceil_div_u(n * payoff, wad), int256), im=0, mm=0)
        # Expired, not yet settled: valued provisionally at the payoff at
        # today's price (the pool's value moves with it as with any price,
        # not in one jump at the settlement), a long needing it as IM and,
        # as MM, what a move of the MM rate could take from it (at most
        # rate * S a contract); a short owing it with the rule's floors.
        spot: uint256 = staticcall self.oracle.price(s.asset)
        owed: uint256 = black76._price(spot, s.strike, 0, 0, s.is_call)
        if size > 0:
            return OptionRisk(
                value=convert(n * owed // wad, int256),
                im=fp._ceil_div_u(n * owed, wad),
                mm=fp._ceil_div_u(n * min(owed, fp._ceil_div_u(p.mm_rate * spot, wad)), wad),
            )
        return OptionRisk(
            value=-convert(fp._ceil_div_u(n * owed, wad), int256),
            im=fp._ceil_div_u(n * fp._ceil_div_u(p.im_floor * spot, wad), wad),
            mm=fp._ceil_div_u(n * fp._ceil_div_u(p.mm_floor * spot, wad), wad),
        )
    price: uint256 = 0
    vol: uint256 = 0
    tau: uint256 = 0
    price, vol, tau = self._live(s)
    mark: uint256 = black76._price(price, s.strike, vol, tau, s.is_call)
    if size > 0:
        # A long's value is equity, but not for opening more risk: its IM
        # is its value (the premium); its MM what a move of mm_rate against
        # it would take from that value (a call's fall, a put's rise).
        lost: uint256 = self._repriced_loss(s, price, vol, tau, mark, p.mm_rate, False)
        return OptionRisk(
            value=convert(n * mark // wad, int256),
            im=fp._ceil_div_u(n * mark, wad),
            mm=fp._ceil_div_u(n * min(lost, mark), wad),
        )
    otm: uint256 = 0
    if s.is_call:
        otm = s.strike - min(s.strike, price)
    else:
        otm = price - min(price, s.strike)
    # The rule, or what a move of the rate against the short would cost
    # repriced by Black-76 (long-dated and high-vol options, whose value
    # moves more than the rule's OTM credit allows), whichever is more.
    im: uint256 = max(
        self._per_contract(price, otm, p.im_rate, p.im_floor),
        self._repriced_loss(s, price, vol, tau, mark, p.im_rate, True),
    )
    mm: uint256 = max(
        self._per_contract(price, otm, p.mm_rate, p.mm_floor),
        self._repriced_loss(s, price, vol, tau, mark, p.mm_rate, True),
    )
    if not s.is_call:
        # A short put loses at most the strike: with the mark owed, no
        # more than K - mark is needed (mark <= K for a put).
        cap: uint256 = s.strike - min(s.strike, mark)
        im = min(im, cap)
        mm = min(mm, cap)
    return OptionRisk(
        value=-convert(fp._ceil_div_u(n * mark, wad), int256),
        im=fp._ceil_div_u(n * im, wad),
        mm=fp._ceil_div_u(n * mm, wad),
    )


@internal
@pure
def _repriced_loss(
    s: Series, price: uint256, vol: uint256, tau: uint256, mark: uint256, rate: uint256, short: bool
) -> uint256:
    """
    @dev What one contract loses, WAD USD, when the price moves by `rate`
         against its holder (a short call and a long put lose as it rises,
         the others as it falls), repriced at the same volatility and time,
         plus the Black-76 error bound of both valuations (rounded against
         the account: the moved price away from today's).
    """
    wad: uint256 = constants.WAD
    rises: bool = s.is_call == short
    moved: uint256 = 0
    if rises:
        moved = price + fp._ceil_div_u(price * rate, wad)
    else:
        moved = price - price * rate // wad
    after: uint256 = black76._price(moved, s.strike, vol, tau, s.is_call)
    err: uint256 = (
        moved + price + 2 * s.strike
    ) * black76.NCDF_ERROR // wad + 2 * black76.VALUE_ROUNDING
    if short:
        return after - min(after, mark) + err
    return mark - min(mark, after) + err


@internal
@pure
def _per_contract(price: uint256, otm: uint256, rate: uint256, least: uint256) -> uint256:
    """
    @dev max(rate * S - OTM, least * S) per contract (`least`: the floor),
         WAD USD, rounded up.
    """
    base: uint256 = fp._ceil_div_u(rate * price, constants.WAD)
    return max(base - min(base, otm), fp._ceil_div_u(least * price, constants.WAD))


@internal
@pure
def _value(scaled: uint256, size: int256) -> int256:
    """
    @dev A position's value from `n * unit` (WAD^2): a long's rounded down,
         a short's owed rounded up.
    """
    if size > 0:
        return convert(scaled // constants.WAD, int256)
    return -convert(fp._ceil_div_u(scaled, constants.WAD), int256)


@internal
def _set_oracle(oracle: address):
    assert oracle.is_contract, errors.ORACLE_NOT_CONTRACT
    log OracleSet(previous_oracle=self.oracle.address, new_oracle=oracle)
    self.oracle = IOracleRouter(oracle)


@internal
@view
def _series(series_id: uint256) -> Series:
    assert series_id < self.num_series, errors.UNKNOWN_SERIES
    return self.series[series_id]


@internal
@view
def _settlement(s: Series) -> uint256:
    price: uint256 = self.settlement[s.asset][s.expiry]
    assert price != 0, errors.NOT_SETTLED
    return price


@internal
@view
def _mark(s: Series) -> uint256:
    """
    @dev One contract's value: Black-76 before expiry (tau > 0), the payoff
         at the settlement price from expiry on.
    """
    if block.timestamp >= s.expiry:
        return black76._price(self._settlement(s), s.strike, 0, 0, s.is_call)
    price: uint256 = 0
    vol: uint256 = 0
    tau: uint256 = 0
    price, vol, tau = self._live(s)
    return black76._price(price, s.strike, vol, tau, s.is_call)


@internal
@view
def _live(s: Series) -> (uint256, uint256, uint256):
    """
    @dev A series' Black-76 inputs before its expiry: the router's price
         and implied volatility (each reverting with the router's reason)
         and the seconds left.
    """
    return (
        staticcall self.oracle.price(s.asset),
        staticcall self.oracle.vol(s.asset, s.expiry),
        s.expiry - block.timestamp,
    )
