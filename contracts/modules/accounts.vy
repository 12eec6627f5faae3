# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin account header
@notice One storage word per account `(owner, sub_id)` that every health
        check reads first, so telling what the account holds costs one
        cold slot:
            bits 0-15   asset i is held (non-zero balance of asset_list[i])
            bits 16-47  market m has an open position (bit 16 + m)
            bits 64-127 how many operators the owner has approved for it
            bit 254     the account holds option positions (OptionsDesk)
            bit 255     the account is in portfolio margin mode
        Only this module writes the word; `collateral`, `trading`,
        `portfolio` and `option_cash` flip their bits through `_flip`,
        `operators` counts through `_count_operator`. The count lets a
        liquidation skip the operator lookup (a cold slot) for an account
        with no operator.
@custom:security Flipping is XOR: callers flip a bit only when its state
                 changes (a balance becomes zero or non-zero, a position
                 opens or closes, the mode switches).
"""

from . import constants

ASSET_BITS: constant(uint256) = (1 << constants.MAX_ASSETS) - 1
POSITION_SHIFT: constant(uint256) = constants.MAX_ASSETS
POSITION_BITS: constant(uint256) = (1 << constants.MAX_MARKETS) - 1
PORTFOLIO_FLAG: constant(uint256) = 1 << 255
OPTIONS_FLAG: constant(uint256) = 1 << 254
# Above the position bits (MAX_ASSETS + MAX_MARKETS = 48 <= 64: raising
# either past that would run the masks into the count).
OPERATOR_SHIFT: constant(uint256) = 64
OPERATOR_BITS: constant(uint256) = ((1 << 64) - 1) << OPERATOR_SHIFT

header: HashMap[address, HashMap[uint256, uint256]]


@external
@view
def held_mask(owner: address, sub_id: uint256) -> uint256:
    """
    @notice Bit i set while the account holds asset_list[i].
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return The held-asset bitmap.
    """
    return self._held_mask(owner, sub_id)


@external
@view
def position_mask(owner: address, sub_id: uint256) -> uint256:
    """
    @notice Bit m set while the account has a position in market m.
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return The open-position bitmap.
    """
    return self._position_mask(owner, sub_id)


@external
@view
def holds_options(owner: address, sub_id: uint256) -> bool:
    """
    @notice Whether the account holds option positions (OptionsDesk).
    @param owner The account owner.
    @param sub_id The sub-account number.
    @return True while it holds any.
    """
    return self._has_options(owner, sub_id)


@internal
@view
def _held_mask(owner: address, sub_id: uint256) -> uint256:
    return self.header[owner][sub_id] & ASSET_BITS


@internal
@view
def _position_mask(owner: address, sub_id: uint256) -> uint256:
    return (self.header[owner][sub_id] >> POSITION_SHIFT) & POSITION_BITS


@internal
@view
def _is_portfolio(owner: address, sub_id: uint256) -> bool:
    return self.header[owner][sub_id] & PORTFOLIO_FLAG != 0


@internal
@view
def _has_options(owner: address, sub_id: uint256) -> bool:
    return self.header[owner][sub_id] & OPTIONS_FLAG != 0


@internal
@view
def _has_positions(owner: address, sub_id: uint256) -> bool:
    """
    @dev True while the account has a perpetual or an option position.
    """
    return self.header[owner][sub_id] & (OPTIONS_FLAG | (POSITION_BITS << POSITION_SHIFT)) != 0


@internal
@view
def _holds_collateral(owner: address, sub_id: uint256) -> bool:
    """
    @dev True while the account holds any non-quote asset (bit 0 is the quote).
    """
    return self._held_mask(owner, sub_id) >> 1 != 0


@internal
def _flip(owner: address, sub_id: uint256, bits: uint256):
    """
    @dev Toggles `bits` of the account's header.
    """
    self.header[owner][sub_id] ^= bits


@internal
def _count_operator(owner: address, sub_id: uint256, approved: bool):
    """
    @dev One more (or one fewer) operator approved for the account. The
         caller counts only changes of approval, so the count never
         underflows; 2**64 approvals cannot be paid for.
    """
    h: uint256 = self.header[owner][sub_id]
    if approved:
        h += 1 << OPERATOR_SHIFT
    else:
        # Never borrows from the flags above (unreachable).
        assert h & OPERATOR_BITS != 0
        h -= 1 << OPERATOR_SHIFT
    self.header[owner][sub_id] = h
