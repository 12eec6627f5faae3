# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin collateral ledger
@notice The asset registry and every account's internal collateral balances.
        An account is `(owner, sub_id)`; each sub-account is margined on its
        own. Balances are kept in each token's native decimals and change only
        through deposits, withdrawals and settlement, never through
        tokens sent straight to the contract, so a donation moves no account
        and no cap.
        The quote asset (a USD stablecoin, index 0) is the settlement asset:
        valued at face value with no haircut, and the only balance that may
        go negative (settled losses). Every other asset is valued at its checked oracle
        price less a haircut: `mm_haircut` for the maintenance view,
        `im_haircut >= mm_haircut` for the initial view.
        An asset can be frozen (owner or guardian) when its token or feed
        turns bad: no more deposits, and its haircuts rise linearly to 100 %
        over a ramp of 1 to 30 days, so holders have time to replace it and
        liquidators to buy it before it counts for nothing. Anyone moves the
        haircuts along the schedule (`ramp_frozen_haircut`; the keeper does
        it every pass). Collateral at a 100 % maintenance haircut can be
        written off with its account's debt (`settle_bad_debt`).
@custom:security Values are rounded down (against the account) at each step:
                 `value = floor(amount * precision * price / WAD)`, then
                 `weighted = floor(value * (WAD - haircut) / WAD)`.
"""

from snekmate.auth import ownable

from ..interfaces import IERC20Decimals
from . import accounts
from . import constants
from . import errors
from . import governance
from . import oracle

uses: ownable
uses: accounts
uses: governance
uses: oracle


struct Asset:
    listed: bool
    # Position in `asset_list` and bit in an account's `held_mask`.
    index: uint256
    decimals: uint256
    # 10**(18 - decimals): native amount -> 18-decimal amount.
    precision: uint256
    # WAD fractions taken off the market value, initial >= maintenance.
    im_haircut: uint256
    mm_haircut: uint256
    # Largest total deposit, native units.
    cap: uint256


# What an account's collateral is worth, all in WAD USD.
struct CollateralValue:
    # Quote balance at face value (may be negative).
    quote: int256
    # Market value of the non-quote assets, before haircuts.
    market: uint256
    # Non-quote assets after the maintenance / initial haircut.
    weighted_mm: uint256
    weighted_im: uint256


event AssetListed:
    asset: indexed(address)
    index: uint256
    decimals: uint256
    im_haircut: uint256
    mm_haircut: uint256
    cap: uint256


event AssetParamsSet:
    asset: indexed(address)
    im_haircut: uint256
    mm_haircut: uint256
    cap: uint256


event AssetFrozen:
    asset: indexed(address)
    by: indexed(address)
    ramp: uint256
    # The haircuts the ramp starts from (WAD).
    im_haircut: uint256
    mm_haircut: uint256


event AssetShortfall:
    asset: indexed(address)
    # Tokens the engine holds and what its ledgers book, native units.
    held: uint256
    ledgers: uint256


event AssetUnfrozen:
    asset: indexed(address)
    # The haircuts restored (WAD): those at the freeze.
    im_haircut: uint256
    mm_haircut: uint256


QUOTE_INDEX: constant(uint256) = 0
# Bounds of a freeze's ramp to a 100 % haircut: the owner's gives holders
# at least a day, the guardian's (a hot key) a week; none lasts longer
# than a month.
MIN_FREEZE_RAMP: constant(uint256) = 86_400
MIN_GUARDIAN_RAMP: constant(uint256) = 7 * 86_400
MAX_FREEZE_RAMP: constant(uint256) = 30 * 86_400
# The ramp of a freeze the engine sets itself on a shortfall.
SHORTFALL_RAMP: constant(uint256) = 7 * 86_400
LANE_64: constant(uint256) = (1 << 64) - 1

quote_asset: public(address)
num_assets: public(uint256)
asset_list: public(address[constants.MAX_ASSETS])
# An asset's configuration in one word (a health check reads it for every
# asset an account holds; the seven fields of `Asset` took seven slots):
#   mm_haircut | im_haircut << 64 | index << 128 | decimals << 136
#   | precision << 192
# Bounds: haircuts <= WAD (`_check_params`) < 2**64; index < MAX_ASSETS =
# 16 and decimals <= MAX_DECIMALS = 18, both < 2**8; precision <= 10**18
# < 2**64, in the top lane (read with a shift alone). A listed asset's
# precision is >= 1, so the word is 0 exactly when the asset is not
# listed. Each value is checked before it is stored, so none spills into
# its neighbour (test_asset_limit, at every bound). The deposit
# cap, read only by deposits, has a slot of its own (`asset_cap`).
asset_word: HashMap[address, uint256]
asset_cap: HashMap[address, uint256]
INDEX_SHIFT: constant(uint256) = 128
DECIMALS_SHIFT: constant(uint256) = 136
PRECISION_SHIFT: constant(uint256) = 192
LANE_8: constant(uint256) = 255
total_deposits: public(HashMap[address, uint256])

# owner -> sub_id -> asset -> native amount
balances: HashMap[address, HashMap[uint256, HashMap[address, int256]]]

# asset -> 0, or its freeze: start time | ramp seconds << 64 | im haircut
# at the start << 128 | mm haircut at the start << 192 (haircuts <= 1e18).
freeze_word: HashMap[address, uint256]


@internal
def _initialize(quote: address, quote_cap: uint256):
    """
    @dev Called once from the deploying contract's constructor. Not a module
         `__init__`, so that the admin extension (same storage layout, never
         holding state of its own) need not call it.
    """
    self._list(quote, 0, 0, quote_cap)
    self.quote_asset = quote


# ---------------------------------------------------------------- views


@external
@view
def balance_of(owner: address, sub_id: uint256, asset: address) -> int256:
    """
    @notice An account's internal balance of `asset`, native decimals.
    @dev Only the quote asset can be negative: a settlement debt.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @param asset The token.
    @return The balance.
    """
    return self.balances[owner][sub_id][asset]


@external
@view
def asset_config(asset: address) -> Asset:
    """
    @notice A listed asset's configuration (all zero for an unknown one).
    @param asset The token.
    @return Whether it is listed, its index, decimals and precision, its
            initial and maintenance haircuts (WAD) and its deposit cap.
    """
    w: uint256 = self.asset_word[asset]
    return Asset(
        listed=w != 0,
        index=(w >> INDEX_SHIFT) & LANE_8,
        decimals=(w >> DECIMALS_SHIFT) & LANE_8,
        precision=w >> PRECISION_SHIFT,
        im_haircut=(w >> 64) & LANE_64,
        mm_haircut=w & LANE_64,
        cap=self.asset_cap[asset],
    )


@external
@view
def listed_assets() -> DynArray[address, constants.MAX_ASSETS]:
    """
    @notice Every listed asset, the quote asset first.
    @return The assets in listing order.
    """
    out: DynArray[address, constants.MAX_ASSETS] = []
    for i: uint256 in range(constants.MAX_ASSETS):
        if i == self.num_assets:
            break
        out.append(self.asset_list[i])
    return out


@external
@view
def asset_freeze(asset: address) -> (uint256, uint256, uint256, uint256):
    """
    @notice An asset's freeze, all zero when it is not frozen.
    @param asset The token.
    @return The freeze's start time, its ramp (seconds), and the initial
            and maintenance haircuts the ramp starts from (WAD).
    """
    w: uint256 = self.freeze_word[asset]
    return w & LANE_64, (w >> 64) & LANE_64, (w >> 128) & LANE_64, w >> 192


@external
def ramp_frozen_haircut(asset: address):
    """
    @notice Raises a frozen asset's haircuts to where its schedule is now:
            `h + (100 % - h) * elapsed / ramp` from the haircuts `h` at the
            freeze, rounded up. Anyone may call; the keeper does every pass.
    @param asset A frozen asset.
    """
    w: uint256 = self.freeze_word[asset]
    assert w != 0, errors.ASSET_NOT_FROZEN
    ramp: uint256 = (w >> 64) & LANE_64
    t: uint256 = min(block.timestamp - (w & LANE_64), ramp)
    im: uint256 = self._ramped((w >> 128) & LANE_64, t, ramp)
    mm: uint256 = self._ramped(w >> 192, t, ramp)
    self._set_haircuts(asset, im, mm)
    log AssetParamsSet(asset=asset, im_haircut=im, mm_haircut=mm, cap=self.asset_cap[asset])


# ---------------------------------------------------------------- configuration


@external
def freeze_asset(asset: address, ramp: uint256):
    """
    @notice Freezes a collateral asset whose token or feed turned bad: no
            more deposits, and its haircuts rise linearly to 100 % over
            `ramp` seconds (`ramp_frozen_haircut`). Owner or guardian.
    @param asset A listed non-quote asset, not frozen.
    @param ramp Seconds to a 100 % haircut: 1 (the guardian: 7) to 30 days.
    """
    governance._check_owner_or_guardian()
    self._check_listed(asset)
    assert asset != self.quote_asset, errors.QUOTE_HAIRCUT
    assert self.freeze_word[asset] == 0, errors.ASSET_FROZEN
    least: uint256 = MIN_FREEZE_RAMP
    if msg.sender != ownable.owner:
        least = MIN_GUARDIAN_RAMP
    assert ramp >= least and ramp <= MAX_FREEZE_RAMP, errors.FREEZE_RAMP_RANGE
    self._freeze(asset, ramp, msg.sender)


@external
def unfreeze_asset(asset: address):
    """
    @notice Ends a freeze: deposits reopen and the haircuts go back to
            those at the freeze. Owner only.
    @param asset A frozen asset.
    """
    ownable._check_owner()
    w: uint256 = self.freeze_word[asset]
    assert w != 0, errors.ASSET_NOT_FROZEN
    self.freeze_word[asset] = 0
    im: uint256 = (w >> 128) & LANE_64
    mm: uint256 = w >> 192
    self._set_haircuts(asset, im, mm)
    log AssetUnfrozen(asset=asset, im_haircut=im, mm_haircut=mm)


@external
def list_asset(asset: address, im_haircut: uint256, mm_haircut: uint256, cap: uint256):
    """
    @notice Lists a collateral asset. Its decimals are read now (at most 18)
            and the oracle must already price it.
    @param asset The ERC-20 token.
    @param im_haircut Fraction of market value ignored for initial margin (WAD).
    @param mm_haircut Fraction ignored for maintenance margin (WAD, <= im_haircut).
    @param cap Largest total deposit, native units (<= 2**128).
    """
    ownable._check_owner()
    # The oracle must price the asset before any account can hold it.
    assert oracle._price(asset) > 0, errors.ASSET_NO_PRICE
    self._list(asset, im_haircut, mm_haircut, cap)


@external
def set_asset_params(asset: address, im_haircut: uint256, mm_haircut: uint256, cap: uint256):
    """
    @notice Changes an asset's haircuts and deposit cap. Lowering the cap
            below current deposits only stops new deposits. Refused while
            the asset is frozen (its haircuts follow the ramp).
    @param asset A listed token.
    @param im_haircut Initial haircut (WAD).
    @param mm_haircut Maintenance haircut (WAD, <= im_haircut).
    @param cap Largest total deposit, native units.
    """
    ownable._check_owner()
    self._check_listed(asset)
    # A frozen asset's haircuts follow its ramp; unfreeze it first.
    assert self.freeze_word[asset] == 0, errors.ASSET_FROZEN
    self._check_params(asset, im_haircut, mm_haircut, cap)
    self._set_haircuts(asset, im_haircut, mm_haircut)
    self.asset_cap[asset] = cap
    log AssetParamsSet(asset=asset, im_haircut=im_haircut, mm_haircut=mm_haircut, cap=cap)


# ---------------------------------------------------------------- internals


@internal
def _list(asset: address, im_haircut: uint256, mm_haircut: uint256, cap: uint256):
    assert asset.is_contract, errors.ASSET_NOT_CONTRACT
    assert self.asset_word[asset] == 0, errors.ASSET_ALREADY_LISTED
    index: uint256 = self.num_assets
    assert index < constants.MAX_ASSETS, errors.TOO_MANY_ASSETS
    self._check_params(asset, im_haircut, mm_haircut, cap)
    decimals: uint256 = convert(staticcall IERC20Decimals(asset).decimals(), uint256)
    assert decimals <= constants.MAX_DECIMALS, errors.TOKEN_DECIMALS
    # Each field is within its lane (see `asset_word`).
    self.asset_word[asset] = (
        mm_haircut
        | (im_haircut << 64)
        | (index << INDEX_SHIFT)
        | (decimals << DECIMALS_SHIFT)
        | (10**(constants.MAX_DECIMALS - decimals) << PRECISION_SHIFT)
    )
    self.asset_cap[asset] = cap
    self.asset_list[index] = asset
    self.num_assets = index + 1
    log AssetListed(
        asset=asset,
        index=index,
        decimals=decimals,
        im_haircut=im_haircut,
        mm_haircut=mm_haircut,
        cap=cap,
    )


@internal
@view
def _check_params(asset: address, im_haircut: uint256, mm_haircut: uint256, cap: uint256):
    assert im_haircut <= constants.WAD, errors.HAIRCUT_TOO_HIGH
    assert mm_haircut <= im_haircut, errors.MM_HAIRCUT_ABOVE_IM
    assert cap <= constants.MAX_AMOUNT, errors.CAP_TOO_LARGE
    # The quote asset is the unit of account: always at face value.
    if asset == self.quote_asset and self.quote_asset != empty(address):
        assert im_haircut == 0, errors.QUOTE_HAIRCUT


@internal
@view
def _check_listed(asset: address):
    assert self.asset_word[asset] != 0, errors.ASSET_NOT_LISTED


@internal
def _set_haircuts(asset: address, im: uint256, mm: uint256):
    """
    @dev `im`, `mm` <= WAD (checked or ramped there): each fits its lane.
    """
    w: uint256 = self.asset_word[asset]
    self.asset_word[asset] = (w >> 128 << 128) | mm | (im << 64)


@internal
def _freeze(asset: address, ramp: uint256, by: address):
    w: uint256 = self.asset_word[asset]
    im: uint256 = (w >> 64) & LANE_64
    mm: uint256 = w & LANE_64
    self.freeze_word[asset] = block.timestamp | (ramp << 64) | (im << 128) | (mm << 192)
    log AssetFrozen(asset=asset, by=by, ramp=ramp, im_haircut=im, mm_haircut=mm)


@internal
def _reconcile(asset: address, held: uint256) -> uint256:
    """
    @dev `held`: the tokens of a non-quote `asset` the engine holds. Its
         ledgers total exactly its deposit total (a non-quote balance moves
         only by deposits, withdrawals and moves between accounts). On a
         shortfall (a token that rebased down, or lost tokens) each ledger
         unit is backed by r = held / ledgers of a token: both haircuts
         rise at once to at least 1 - r * (1 - h) (so the engine never
         values a unit above what it pays out), the asset is frozen (a
         7-day ramp from there, unless already frozen) and it is logged.
         Returns r (WAD, at most 1). A surplus (a donation, a rebase up)
         stays where it is.
    """
    r: uint256 = self._backing(asset, held)
    if r == constants.WAD:
        return r
    log AssetShortfall(asset=asset, held=held, ledgers=self.total_deposits[asset])
    w: uint256 = self.asset_word[asset]
    im: uint256 = self._cover((w >> 64) & LANE_64, r)
    mm: uint256 = self._cover(w & LANE_64, r)
    self._set_haircuts(asset, im, mm)
    if self.freeze_word[asset] == 0:
        self._freeze(asset, SHORTFALL_RAMP, self)
    return r


@internal
@view
def _backing(asset: address, held: uint256) -> uint256:
    """
    @dev The tokens behind one ledger unit of a non-quote `asset` whose
         engine holds `held`: held / ledgers (WAD, rounded down), at most 1.
    """
    ledgers: uint256 = self.total_deposits[asset]
    if held >= ledgers:
        return constants.WAD
    return held * constants.WAD // ledgers


@internal
@pure
def _ramped(h: uint256, t: uint256, ramp: uint256) -> uint256:
    """
    @dev Haircut `h` moved `t` of `ramp` seconds toward 100 %, rounded up.
    """
    return h + (constants.WAD - h) * t // ramp + min((constants.WAD - h) * t % ramp, 1)


@internal
@pure
def _cover(h: uint256, r: uint256) -> uint256:
    """
    @dev The haircut that values a unit backed by r (WAD) of a token at
         most what haircut h values a whole one: 1 - r * (1 - h), rounded
         up, and never below h.
    """
    keep: uint256 = r * (constants.WAD - h) // constants.WAD
    return max(h, constants.WAD - keep)


@internal
def _add(owner: address, sub_id: uint256, asset: address, delta: int256) -> int256:
    """
    @dev Adds `delta` (native units) to a balance and keeps the held bitmap
         in step. Returns the new balance.
    """
    old: int256 = self.balances[owner][sub_id][asset]
    new: int256 = old + delta
    self.balances[owner][sub_id][asset] = new
    if (old == 0) != (new == 0):
        # Set when the balance became non-zero, cleared when it became zero.
        accounts._flip(owner, sub_id, 1 << ((self.asset_word[asset] >> INDEX_SHIFT) & LANE_8))
    return new


@internal
def _untrack_deposit(asset: address, amount: uint256):
    """
    @dev `amount` of `asset` left the engine: lowers its deposit total,
         never below 0 (withdrawn PnL and rewards were never deposits).
    """
    total: uint256 = self.total_deposits[asset]
    self.total_deposits[asset] = total - min(amount, total)
