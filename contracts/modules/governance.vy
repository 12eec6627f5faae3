# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin governance: guardian and pause
@notice Two roles guard the engine. The owner (two-step, snekmate) changes
        parameters and may pause or unpause. The guardian, a fast hot key or
        monitoring bot, may only pause. Pausing stops every risk-increasing
        action (new exposure, a switch to a lower-margin mode, LP deposits)
        and liquidations (as Aave v3 pauses them); it never stops a margin
        top-up, a reduction or a healthy account's withdrawal. Liquidations
        resume `liquidation_grace` seconds after the unpause (Aave v3.1's
        grace period), so owners whose accounts fell below maintenance
        margin during the pause get time to top up first.
@custom:security Owner checks come from snekmate `ownable`.
"""

from snekmate.auth import ownable
from . import constants
from . import errors

uses: ownable


event GuardianSet:
    previous_guardian: indexed(address)
    new_guardian: indexed(address)


event Paused:
    account: indexed(address)


event Unpaused:
    account: indexed(address)
    liquidations_resume_at: uint256


event LiquidationGraceSet:
    grace: uint256


guardian: public(address)
paused: public(bool)
# Seconds between an unpause and the first liquidation it allows.
liquidation_grace: public(uint256)
# Timestamp before which no liquidation runs (set by `unpause`).
liquidations_resume_at: public(uint256)


@external
def set_guardian(new_guardian: address):
    """
    @notice Names the guardian (the zero address removes it).
    @param new_guardian The address allowed to pause.
    """
    ownable._check_owner()
    log GuardianSet(previous_guardian=self.guardian, new_guardian=new_guardian)
    self.guardian = new_guardian


@external
def pause():
    """
    @notice Stops risk-increasing actions and liquidations. Owner or guardian.
    """
    self._check_owner_or_guardian()
    assert not self.paused, errors.ALREADY_PAUSED
    self.paused = True
    log Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Resumes normal operation; liquidations resume after the grace
            period. Owner only.
    """
    ownable._check_owner()
    assert self.paused, errors.NOT_PAUSED
    self.paused = False
    resume: uint256 = block.timestamp + self.liquidation_grace
    self.liquidations_resume_at = resume
    log Unpaused(account=msg.sender, liquidations_resume_at=resume)


@external
def set_liquidation_grace(grace: uint256):
    """
    @notice Sets the seconds between the next unpause and the first
            liquidation it allows (0: none).
    @param grace Seconds, at most MAX_GRACE (4 hours).
    """
    ownable._check_owner()
    assert grace <= constants.MAX_GRACE, errors.GRACE_TOO_LONG
    self.liquidation_grace = grace
    log LiquidationGraceSet(grace=grace)


@internal
@view
def _check_owner_or_guardian():
    assert msg.sender == ownable.owner or msg.sender == self.guardian, errors.NOT_OWNER_OR_GUARDIAN


@internal
@view
def _check_not_paused():
    assert not self.paused, errors.PAUSED


@internal
@view
def _check_liquidations_open():
    """
    @dev Liquidations stop while paused and during the grace period after.
    """
    assert not self.paused, errors.PAUSED
    assert block.timestamp >= self.liquidations_resume_at, errors.IN_GRACE
