# pragma version 0.4.3
"""
@title Test-only ERC-20 with any decimals; anyone may mint
"""

from . import erc20_base

initializes: erc20_base

exports: (
    erc20_base.name,
    erc20_base.symbol,
    erc20_base.decimals,
    erc20_base.totalSupply,
    erc20_base.balanceOf,
    erc20_base.allowance,
    erc20_base.approve,
    erc20_base.mint,
)


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    erc20_base.__init__(name, symbol, decimals)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    erc20_base._move(msg.sender, receiver, amount, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    erc20_base._spend_allowance(sender, msg.sender, amount)
    erc20_base._move(sender, receiver, amount, amount)
    return True
