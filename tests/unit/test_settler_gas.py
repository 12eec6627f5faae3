"""A settler who picks the gas of `settle_order` must not turn an order
that fills into a refusal (found by the outside review of issue 19).

The trade runs several frames below `settle_order` (the engine's
`__default__`, the orders extension by delegatecall, the health probe,
the router, a feed), and each keeps 1/64 of its gas. A failure a frame
catches (a starved feed call, a starved probe) returns cleanly with those
reserves, about d/64 of the gas d frames deep. The old check, "more than
1/32 left", took that for a refusal: at 29 gas limits between 260k and
400k the order below was removed, the settler kept the fee and the
position stayed open, a free option on every order. The check is now
"more than 1/8 left" (sound to 8 frames deep).

Setting (tests/unit/test_close_past_invalid_price.py): ETH market (flat
margins, taker 0.1 %, maker 0.05 %) switched to delayed orders (10 s
delay, 300 s window, 2 USDC fee). Hedger long 20, trader long 10 with
1,000 USDC, 0.1 WBTC and 100 of each of four $1 tokens (an account with a
few collaterals: its probe costs more than 100k gas); ETH falls to $2,900. The trader's whole close
(premium -0.725, maker fee 14.5, PnL -1,000) ends with -44.525 USDC of
debt beside its WBTC, so it takes the probe path.
"""

from __future__ import annotations

import ape
import pytest

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE
from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD

FEED = 10**8
BUY_ANY = 10**30
DELAY = 10
WINDOW = 300
FEE = 2 * USDC
STEP = 5_000  # gas step of the settler's search
TOP = 700_000  # above it, the order below fills at every step


@pytest.fixture
def position(
    clearinghouse, usdc, wbtc, trader, hedger, fund, owner, weth, oracle, make_token, make_feed
):
    ch = clearinghouse
    extra = []
    for i in range(4):
        token, feed = make_token(18, f"X{i}"), make_feed(1)
        oracle.set_feed(token, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
        ch.list_asset(token, WAD // 5, WAD // 10, 10**30, sender=owner)
        extra.append((token, feed))
    ch.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner)
    allow_atomic(ch, owner)
    fund(usdc, hedger, 100_000 * USDC, ch)
    ch.deposit(0, usdc, 100_000 * USDC, sender=hedger)
    ch.trade(0, 0, 20 * ETH, BUY_ANY, sender=hedger)
    fund(usdc, trader, 1_000 * USDC, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=trader)
    fund(wbtc, trader, 10**7, ch)
    ch.deposit(0, wbtc, 10**7, sender=trader)
    for token, _ in extra:
        fund(token, trader, 100 * E18, ch)
        ch.deposit(0, token, 100 * E18, sender=trader)
    ch.trade(0, 0, 10 * ETH, BUY_ANY, sender=trader)
    # From now on the market trades only through delayed orders.
    ch.set_order_rules(0, DELAY, WINDOW, FEE, False, 0, sender=owner)
    ch.extra_feeds = [feed for _, feed in extra]
    return ch


def commit_close(ch, trader, clock, eth_feed, owner):
    clock.at(0)
    ch.commit_order(trader, 0, 0, -10 * ETH, 0, sender=trader)
    clock.at(DELAY)
    eth_feed.set_answer(2_900 * FEED, sender=owner)
    clock.at(DELAY + 5)


def settle(ch, chain, trader, keeper, gas) -> str:
    """What settle_order does with `gas`: filled, refused (the order
    removed, the settler paid), at the limit, or the revert's reason; the
    chain is restored."""
    snap = chain.snapshot()
    try:
        tx = ch.settle_order(trader, 0, sender=keeper, gas=gas)
        (ev,) = tx.events.filter(ch.OrderSettled)
        return "filled" if ev.filled else ("refused" if ev.trade_refused else "limit")
    except ape.exceptions.ContractLogicError as err:
        return str(err.message)
    except ape.exceptions.ApeException:
        return "out of gas"
    finally:
        chain.restore(snap)


def assert_never_refused(ch, chain, trader, keeper) -> None:
    """With ample gas the order fills. Scanning the settler's gas from
    150k to TOP, no limit books it as refused: too little gas reverts
    (`settle out of gas` where the guard sees it), and the scan does reach
    the guard, so the test can fail."""
    assert settle(ch, chain, trader, keeper, 3_000_000) == "filled"
    seen = {g: settle(ch, chain, trader, keeper, g) for g in range(150_000, TOP, STEP)}
    refused = [g for g, kind in seen.items() if kind == "refused"]
    assert refused == [], f"starved settlements booked as refusals at gas {refused}"
    assert errors.ORDER_OUT_OF_GAS in seen.values()


def test_a_settler_cannot_starve_a_blind_close_into_a_refusal(
    position, trader, keeper, clock, eth_feed, owner, chain
):
    """The last-listed $1 token's feed breaks: the account is unreadable
    and its whole close is the one way out (issue 19, point 4). Before the
    fix, at some gas the settler picked, the order was refused instead:
    the 2 USDC fee went to the settler and the 10 ETH stayed open."""
    ch = position
    ch.extra_feeds[-1].set_decimals(6, sender=owner)
    with ape.reverts(errors.FEED_DECIMALS_CHANGED):
        ch.account_health(trader, 0)
    commit_close(ch, trader, clock, eth_feed, owner)
    assert_never_refused(ch, chain, trader, keeper)


def test_a_settler_cannot_starve_a_readable_close_into_a_refusal(
    position, trader, keeper, clock, eth_feed, owner, chain
):
    """Every price valid: the same close, which the reduction rule lets
    through (E = -44.525 + 0.1 WBTC * 60,000 * 92 % > 0), through the
    probe all the same."""
    ch = position
    commit_close(ch, trader, clock, eth_feed, owner)
    assert_never_refused(ch, chain, trader, keeper)


def test_a_settler_cannot_starve_an_open_into_a_refusal(
    position, trader, keeper, clock, eth_feed, owner, chain
):
    """Not only closes, and older than the probe: an order that adds 1 ETH
    reads every price for the IM check, and a router call starved inside
    `execute_order` returned with its frames' reserves."""
    ch = position
    clock.at(0)
    ch.commit_order(trader, 0, 0, ETH, BUY_ANY, sender=trader)
    clock.at(DELAY)
    eth_feed.set_answer(3_000 * FEED, sender=owner)
    clock.at(DELAY + 5)
    assert_never_refused(ch, chain, trader, keeper)
