# pragma version 0.4.3
"""
@title Test-only ERC-20 that turns hostile on demand
@notice The kinds of token that have broken real lending markets, one mode
        at a time (set by anyone: a test-only token):
        0 normal;
        1 paused: every transfer reverts (USDC's and USDT's pause);
        2 blocklisting: a transfer from or to a blocked address reverts
          (USDC's blacklist);
        3 false: transfers move nothing and return false;
        4 no return: transfers move the tokens and return no data (USDT);
        5 upgraded to burn every gas unit a transfer is given;
        6 upgraded with broken views: `balanceOf` reverts (transfers
          still move tokens);
        and, in any mode, `rebase` moves one holder's balance up or down
        (a rebasing token's supply change, as it lands on the engine).
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

NORMAL: constant(uint256) = 0
PAUSED: constant(uint256) = 1
BLOCKLIST: constant(uint256) = 2
RETURNS_FALSE: constant(uint256) = 3
NO_RETURN: constant(uint256) = 4
BURNS_GAS: constant(uint256) = 5
BROKEN_VIEWS: constant(uint256) = 6

mode: public(uint256)
blocked: public(HashMap[address, bool])


@deploy
def __init__(name: String[32], symbol: String[16], decimals: uint8):
    erc20_base.__init__(name, symbol, decimals)


@external
def set_mode(mode: uint256):
    assert mode <= BROKEN_VIEWS, "mode"
    self.mode = mode


@external
@view
def balanceOf(holder: address) -> uint256:
    assert self.mode != BROKEN_VIEWS, "views broken"
    return erc20_base.balanceOf[holder]


@external
def set_blocked(who: address, blocked: bool):
    self.blocked[who] = blocked


@external
def rebase(holder: address, bps: uint256, up: bool):
    """
    @notice Scales `holder`'s balance by `bps` basis points, up or down.
    """
    old: uint256 = erc20_base.balanceOf[holder]
    delta: uint256 = old * bps // 10_000
    if up:
        erc20_base.balanceOf[holder] = old + delta
        erc20_base.totalSupply += delta
    else:
        erc20_base.balanceOf[holder] = old - delta
        erc20_base.totalSupply -= delta


@internal
def _transfer(sender: address, receiver: address, amount: uint256) -> Bytes[32]:
    mode: uint256 = self.mode
    if mode == PAUSED:
        raise "token paused"
    if mode == BLOCKLIST:
        assert not self.blocked[sender] and not self.blocked[receiver], "blocklisted"
    if mode == RETURNS_FALSE:
        return abi_encode(False)
    if mode == BURNS_GAS:
        for i: uint256 in range(10**9):
            pass
    erc20_base._move(sender, receiver, amount, amount)
    if mode == NO_RETURN:
        return b""
    return abi_encode(True)


@external
@raw_return
def transfer(receiver: address, amount: uint256) -> Bytes[32]:
    return self._transfer(msg.sender, receiver, amount)


@external
@raw_return
def transferFrom(sender: address, receiver: address, amount: uint256) -> Bytes[32]:
    if self.mode != RETURNS_FALSE and self.mode != PAUSED:
        erc20_base._spend_allowance(sender, msg.sender, amount)
    return self._transfer(sender, receiver, amount)
