# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Checked ERC-20 transfers
@notice The one path by which xmargin contracts move tokens. Calls tolerate
        tokens that return nothing (`default_return_value=True`) and compare
        the contract's balance before and after, so a token that takes a fee,
        rebases mid-transfer or lies about the amount is rejected instead of
        leaving the books short.
@custom:security Callers must hold the non-reentrancy lock (every xmargin
                 entry point does, via `# pragma nonreentrancy on`) and must
                 have finished their own checks and effects first.
"""

from ethereum.ercs import IERC20
from . import constants
from . import errors


@internal
@view
def _held(token: address) -> uint256:
    return staticcall IERC20(token).balanceOf(self)


@internal
@view
def _held_or_max(token: address) -> uint256:
    """
    @dev What `_held` reads, or max_value(uint256) when the token's
         `balanceOf` reverts, burns more than VIEW_GAS or answers in another
         shape (a token whose views broke): a caller that only guards
         against a shortfall then sees none, and is not blocked.
    """
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        token,
        abi_encode(self, method_id=method_id("balanceOf(address)")),
        max_outsize=32,
        gas=constants.VIEW_GAS,
        is_static_call=True,
        revert_on_failure=False,
    )
    if ok and len(out) == 32:
        return extract32(out, 0, output_type=uint256)
    return max_value(uint256)


@internal
def _pull(token: address, sender: address, amount: uint256):
    """
    @dev Moves exactly `amount` of `token` from `sender` to this contract.
    """
    before: uint256 = self._held(token)
    ok: bool = extcall IERC20(token).transferFrom(sender, self, amount, default_return_value=True)
    assert ok, errors.TRANSFER_FROM_FAILED
    after: uint256 = self._held(token)
    # A fee-on-transfer token credits less than `amount`.
    assert after >= before and after - before == amount, errors.FEE_ON_TRANSFER


@internal
def _push(token: address, receiver: address, amount: uint256):
    """
    @dev Moves exactly `amount` of `token` from this contract to `receiver`.
    """
    before: uint256 = self._held(token)
    ok: bool = extcall IERC20(token).transfer(receiver, amount, default_return_value=True)
    assert ok, errors.TRANSFER_FAILED
    after: uint256 = self._held(token)
    assert before >= after and before - after == amount, errors.WRONG_AMOUNT_MOVED
