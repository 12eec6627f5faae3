# pragma version 0.4.3
"""
@title Test-only ERC-20 ledger shared by the mock tokens
@notice Anyone may mint. Not for production.
"""


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256


event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


name: public(String[32])
symbol: public(String[16])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    self.name = name
    self.symbol = symbol
    self.decimals = decimals


@internal
def _move(sender: address, receiver: address, sent: uint256, received: uint256):
    """
    @dev Debits `sent` from `sender`, credits `received` to `receiver` and
         burns the difference (a fee, for the fee-on-transfer mock).
    """
    assert self.balanceOf[sender] >= sent, "mock: balance too low"
    self.balanceOf[sender] -= sent
    self.balanceOf[receiver] += received
    self.totalSupply -= sent - received
    log Transfer(sender=sender, receiver=receiver, value=received)


@internal
def _spend_allowance(owner: address, spender: address, amount: uint256):
    allowed: uint256 = self.allowance[owner][spender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "mock: allowance too low"
        self.allowance[owner][spender] = allowed - amount


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def mint(receiver: address, amount: uint256):
    self.balanceOf[receiver] += amount
    self.totalSupply += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)
