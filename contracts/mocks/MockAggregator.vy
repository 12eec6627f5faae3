# pragma version 0.4.3
"""
@title Test-only Chainlink AggregatorV3 with settable rounds
"""

decimals: public(uint8)
description: public(String[64])

round_id: public(uint80)
answer: public(int256)
started_at: public(uint256)
updated_at: public(uint256)
answered_in_round: public(uint80)


struct Round:
    answer: int256
    started_at: uint256
    updated_at: uint256
    answered_in_round: uint80


# Every round set, by id, for `getRoundData` (settlement prices).
rounds: HashMap[uint80, Round]
known: HashMap[uint80, bool]


@deploy
def __init__(decimals: uint8, description: String[64], initial_answer: int256):
    self.decimals = decimals
    self.description = description
    self._set(
        self.round_id + 1, initial_answer, block.timestamp, block.timestamp, self.round_id + 1
    )


@internal
def _set(
    round_id: uint80,
    answer: int256,
    started_at: uint256,
    updated_at: uint256,
    answered_in_round: uint80,
):
    self.round_id = round_id
    self.answer = answer
    self.started_at = started_at
    self.updated_at = updated_at
    self.answered_in_round = answered_in_round
    self.rounds[round_id] = Round(
        answer=answer,
        started_at=started_at,
        updated_at=updated_at,
        answered_in_round=answered_in_round,
    )
    self.known[round_id] = True


@external
def set_decimals(decimals: uint8):
    """
    @notice Changes the decimals the feed reports (a proxy's new phase that
            answers with another scale).
    """
    self.decimals = decimals


@external
def set_answer(answer: int256):
    """
    @notice Publishes a new, complete round at the current block time.
    """
    self._set(self.round_id + 1, answer, block.timestamp, block.timestamp, self.round_id + 1)


@external
def set_round(
    round_id: uint80,
    answer: int256,
    started_at: uint256,
    updated_at: uint256,
    answered_in_round: uint80,
):
    """
    @notice Sets every field of the latest round, for stale, incomplete and
            future-dated cases.
    """
    self._set(round_id, answer, started_at, updated_at, answered_in_round)


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    return (self.round_id, self.answer, self.started_at, self.updated_at, self.answered_in_round)


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice A round set earlier (an incomplete one with its zeros);
            reverts for one never set, as Chainlink's aggregators do.
    """
    assert self.known[round_id], "No data present"
    r: Round = self.rounds[round_id]
    return (round_id, r.answer, r.started_at, r.updated_at, r.answered_in_round)
