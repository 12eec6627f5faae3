# pragma version 0.4.3
"""
@title Test-only ERC-20 whose `balanceOf` breaks in shapes a uint256 view
       cannot: mode 1 burns every gas unit it is given, mode 2 answers no
       data (found by review; `MockHostileToken`'s mode 6 reverts); mode
       3 answers after burning `cost` gas (a costly but honest view). Its
       ABI's `balanceOf` returns bytes: tests read balances from the
       engine's ledgers or with mode 0's decoding.
"""

from . import erc20_base

initializes: erc20_base

exports: (
    erc20_base.name,
    erc20_base.symbol,
    erc20_base.decimals,
    erc20_base.totalSupply,
    erc20_base.allowance,
    erc20_base.approve,
    erc20_base.mint,
)

mode: public(uint256)
cost: public(uint256)


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    erc20_base.__init__(name, symbol, decimals)


@external
def set_mode(mode: uint256):
    self.mode = mode


@external
def set_cost(cost: uint256):
    self.cost = cost


@external
@view
@raw_return
def balanceOf(holder: address) -> Bytes[32]:
    if self.mode == 1:
        for i: uint256 in range(10**9):
            pass
    if self.mode == 2:
        return b""
    if self.mode == 3:
        start: uint256 = msg.gas
        for i: uint256 in range(10**9):
            if start - msg.gas >= self.cost:
                break
    return abi_encode(erc20_base.balanceOf[holder])


@external
def transfer(receiver: address, amount: uint256) -> bool:
    erc20_base._move(msg.sender, receiver, amount, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    erc20_base._spend_allowance(sender, msg.sender, amount)
    erc20_base._move(sender, receiver, amount, amount)
    return True
