# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin account registry
@notice Every account `(owner, sub_id)` that ever opened a position gets an
        index, once, so keepers can page through all accounts that could be
        liquidatable (`accounts_to_liquidate(start, limit)`) without an
        unbounded loop and without trusting an off-chain index. An account
        can only owe (a negative quote balance or a position) after a trade,
        so registering on the first position is enough.
@custom:security Append-only; no loop ever walks the whole list.
"""


struct Account:
    owner: address
    sub_id: uint256


event AccountRegistered:
    owner: indexed(address)
    sub_id: indexed(uint256)
    index: uint256


num_accounts: public(uint256)
account_at: public(HashMap[uint256, Account])
# index + 1, 0 while unregistered.
account_slot: HashMap[address, HashMap[uint256, uint256]]


@internal
def _register(owner: address, sub_id: uint256):
    """
    @dev Gives the account the next index unless it has one.
    """
    if self.account_slot[owner][sub_id] != 0:
        return
    index: uint256 = self.num_accounts
    self.account_at[index] = Account(owner=owner, sub_id=sub_id)
    self.account_slot[owner][sub_id] = index + 1
    self.num_accounts = index + 1
    log AccountRegistered(owner=owner, sub_id=sub_id, index=index)
