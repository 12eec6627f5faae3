# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin operators
@notice An owner may approve an operator (a trading bot, a vault strategy)
        for one sub-account. An operator may trade that sub-account and
        withdraw from it, but a withdrawal always pays the owner: an
        operator can never withdraw collateral to itself.
@custom:security Approval is per (owner, sub_id, operator); the owner can
                 revoke it at any time. Trading is trust: an operator can
                 still trade badly on purpose (through the skew against an
                 account of its own, or churning fees), as with any
                 trading-bot key. Approve only operators you trust.
"""

from . import accounts
from . import errors

uses: accounts


event OperatorSet:
    owner: indexed(address)
    sub_id: indexed(uint256)
    operator: indexed(address)
    approved: bool


# owner -> sub_id -> operator -> approved
is_operator: public(HashMap[address, HashMap[uint256, HashMap[address, bool]]])


@external
def set_operator(sub_id: uint256, operator: address, approved: bool):
    """
    @notice Approves or revokes `operator` for the caller's sub-account.
    @param sub_id The caller's sub-account.
    @param operator Who may trade it and withdraw from it to the caller.
    @param approved True to approve, False to revoke.
    """
    assert operator != msg.sender, errors.OWNER_NEEDS_NO_APPROVAL
    assert operator != empty(address), errors.ZERO_OPERATOR
    if self.is_operator[msg.sender][sub_id][operator] != approved:
        self.is_operator[msg.sender][sub_id][operator] = approved
        accounts._count_operator(msg.sender, sub_id, approved)
    log OperatorSet(owner=msg.sender, sub_id=sub_id, operator=operator, approved=approved)


@internal
@view
def _check_operator(owner: address, sub_id: uint256):
    assert msg.sender == owner or self.is_operator[owner][sub_id][msg.sender], errors.NOT_OPERATOR


@internal
@view
def _acts_for(who: address, owner: address, sub_id: uint256) -> bool:
    """
    @dev Whether `who` is the owner or one of the account's operators; the
         operator slot is read only when the account has any (its header's
         count, which the caller reads next anyway).
    """
    return who == owner or (
        accounts.header[owner][sub_id] & accounts.OPERATOR_BITS != 0
        and self.is_operator[owner][sub_id][who]
    )
