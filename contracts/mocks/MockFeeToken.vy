# pragma version 0.4.3
"""
@title Test-only fee-on-transfer ERC-20: every transfer burns `fee_bps`
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

fee_bps: public(uint256)


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8, fee_bps: uint256):
    erc20_base.__init__(name, symbol, decimals)
    self.fee_bps = fee_bps


@external
def set_fee_bps(fee_bps: uint256):
    self.fee_bps = fee_bps


@internal
def _net(amount: uint256) -> uint256:
    return amount - amount * self.fee_bps // 10_000


@external
def transfer(receiver: address, amount: uint256) -> bool:
    erc20_base._move(msg.sender, receiver, amount, self._net(amount))
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    erc20_base._spend_allowance(sender, msg.sender, amount)
    erc20_base._move(sender, receiver, amount, self._net(amount))
    return True
