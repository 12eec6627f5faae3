# pragma version 0.4.3
"""
@title Test-only ERC-20 that calls back into a target during transfers
@notice After moving the tokens, `transfer` and `transferFrom` send the
        stored calldata to the stored target (when armed) and bubble up any
        revert, so a missing reentrancy lock would show as a successful
        nested call.
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

target: public(address)
payload: public(Bytes[512])
armed: public(bool)
reentered: public(uint256)


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    erc20_base.__init__(name, symbol, decimals)


@external
def arm(target: address, payload: Bytes[512]):
    self.target = target
    self.payload = payload
    self.armed = True


@external
def disarm():
    self.armed = False


@internal
def _hook():
    if self.armed:
        # Disarm first so the nested call cannot recurse through us.
        self.armed = False
        raw_call(self.target, self.payload)
        self.reentered += 1


@external
def transfer(receiver: address, amount: uint256) -> bool:
    erc20_base._move(msg.sender, receiver, amount, amount)
    self._hook()
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    erc20_base._spend_allowance(sender, msg.sender, amount)
    erc20_base._move(sender, receiver, amount, amount)
    self._hook()
    return True
