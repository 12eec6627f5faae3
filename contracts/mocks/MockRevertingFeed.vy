# pragma version 0.4.3
"""
@title Test-only hostile Chainlink AggregatorV3
@notice A hostile or migrating feed: fresh rounds at the block time in mode
        0; then, by `set_mode`, every read (`latestRoundData` and
        `decimals`) reverts with a reason longer than any of xmargin's own
        (1), reverts with no data (2), or burns all the gas it is given
        (3). `set_reverting(True)` is mode 1.
"""

answer: public(int256)
mode: public(uint256)
sink: public(uint256)


@deploy
def __init__(answer: int256):
    self.answer = answer


@external
def set_mode(mode: uint256):
    """
    @notice 0: answer; 1: revert with a long reason; 2: revert with no
            data; 3: burn all gas.
    """
    self.mode = mode


@external
def set_reverting(reverting: bool):
    """
    @notice Makes every read revert with a long reason (True) or answer
            again (False).
    """
    self.mode = 1 if reverting else 0


@internal
@view
def _hostile():
    if self.mode == 1:
        raise "feed paused: the aggregator proxy is being migrated, please retry later"
    if self.mode == 2:
        raw_revert(b"")
    if self.mode == 3:
        x: uint256 = 0
        for i: uint256 in range(10**9):
            x = convert(keccak256(convert(x + i, bytes32)), uint256)
        assert x == self.sink


@external
@view
def decimals() -> uint8:
    self._hostile()
    return 8


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    self._hostile()
    return (1, self.answer, block.timestamp, block.timestamp, 1)
