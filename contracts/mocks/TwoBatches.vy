# pragma version 0.4.3
"""
@title Test-only: two `liquidate_many` in one transaction, with a feed
       update between them (a stand-in for any price change inside one
       transaction: a pull-oracle update, an owner's set_feed or set_oracle
       in the same multicall).
"""


struct LiquidationItem:
    owner: address
    sub_id: uint256
    market_id: uint256
    max_size: uint256
    min_reward: uint256


interface IEngine:
    def liquidate_many(items: DynArray[LiquidationItem, 50]) -> uint256: nonpayable


interface IFeed:
    def set_answer(answer: int256): nonpayable


@external
def run(
    engine: address,
    first: DynArray[LiquidationItem, 50],
    feed: address,
    answer: int256,
    second: DynArray[LiquidationItem, 50],
):
    """
    @notice `liquidate_many(first)`, then the feed's answer set, then
            `liquidate_many(second)`, all in one transaction.
    """
    extcall IEngine(engine).liquidate_many(first)
    extcall IFeed(feed).set_answer(answer)
    extcall IEngine(engine).liquidate_many(second)
