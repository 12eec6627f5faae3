# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin governance: guardian and pause
@notice Two roles guard the engine. The owner (two-step, snekmate) changes
        parameters and may pause or unpause. The guardian, a fast hot key or
        monitoring bot, may only pause. Pausing stops deposits and every
        risk-increasing action; it never stops a healthy account from
        withdrawing.
@custom:security Owner checks come from snekmate `ownable`.
"""

from snekmate.auth import ownable
from . import errors

uses: ownable


event GuardianSet:
    previous_guardian: indexed(address)
    new_guardian: indexed(address)


event Paused:
    account: indexed(address)


event Unpaused:
    account: indexed(address)


guardian: public(address)
paused: public(bool)


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
    @notice Stops deposits and risk-increasing actions. Owner or guardian.
    """
    assert msg.sender == ownable.owner or msg.sender == self.guardian, errors.NOT_OWNER_OR_GUARDIAN
    assert not self.paused, errors.ALREADY_PAUSED
    self.paused = True
    log Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Resumes normal operation. Owner only.
    """
    ownable._check_owner()
    assert self.paused, errors.NOT_PAUSED
    self.paused = False
    log Unpaused(account=msg.sender)


@internal
@view
def _check_not_paused():
    assert not self.paused, errors.PAUSED
