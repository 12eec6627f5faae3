# pragma version 0.4.3
"""
@title Test-only Chainlink AggregatorV3 that can revert with a long reason
@notice A hostile or migrating feed: fresh rounds at the block time until
        `set_reverting(True)`, then every read reverts with a reason longer
        than any of xmargin's own (71 bytes), so tests can check that
        readers bubble the whole revert data.
"""

answer: public(int256)
reverting: public(bool)


@deploy
def __init__(answer: int256):
    self.answer = answer


@external
def set_reverting(reverting: bool):
    """
    @notice Makes every read revert (True) or answer again (False).
    """
    self.reverting = reverting


@external
@view
def decimals() -> uint8:
    return 8


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    assert (
        not self.reverting
    ), "feed paused: the aggregator proxy is being migrated, please retry later"
    return (1, self.answer, block.timestamp, block.timestamp, 1)
