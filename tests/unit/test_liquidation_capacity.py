"""Liquidations cannot be sandwiched: the per-market, per-window capacity.

A liquidation closes at the oracle price without the skew premium, so the
skew moves for free. Selling into a long skew, liquidating a long and
buying back in one transaction earns price x x x L / skew_scale at one
oracle price (issue 18, attack 3). The engine caps the size liquidations
close per market per window at factor x 2 x maker_fee x skew_scale; the
round trip costs at least 2 x maker_fee per unit, so with factor 1 the
sandwich earns no more than the plain liquidation.

The market is BTC-like: BTC at $60,000, skew scale 50,000 BTC, maker
0.05 %, taker 0.1 %, IMR 10 % + |size|/K, MMR 5 % + |size|/(2K): one
window allows 2 x 0.0005 x 50,000 = 50 BTC.
"""

from __future__ import annotations

import ape
import pytest

from tests.conftest import isolated
from tests.markets import E18, allow_atomic, params
from xmargin.maths import errors
from xmargin.maths import liquidation as liq

BTC = E18
K = 50_000 * BTC
FEED = 10**8
WINDOW = 30


@pytest.fixture
def btc_market(clearinghouse, owner, wbtc):
    ch = clearinghouse
    ch.list_market(params(wbtc.address, skew_scale=K, max_oi=1_000 * BTC), sender=owner)
    allow_atomic(ch, owner)
    ch.set_liquidation_params(liq.LiquidationParams().as_tuple(), sender=owner)
    return 0


@pytest.fixture
def victim_under_mm(clearinghouse, btc_market, trader, deposit_usdc, wbtc_listed, owner):
    """A 400 BTC long on $2.8M; BTC falls to $55,000: equity about $0.68M
    against an MM of about $1.19M (5.4 % of $22M)."""
    ch = clearinghouse
    deposit_usdc(trader, 2_800_000)
    ch.trade(0, btc_market, 400 * BTC, 10**30, sender=trader)
    wbtc_listed.feed.set_answer(55_000 * FEED, sender=owner)
    h = ch.account_health(trader, 0)
    assert h.equity < h.mm
    return trader


def _plain(ch, attacker, victim, usdc) -> tuple[int, int, int]:
    """(attacker's gain, pool's change, size closed) of a plain liquidation."""
    before = (ch.balance_of(attacker, 0, usdc), ch.pool_balance())
    tx = ch.liquidate(victim, 0, 0, 400 * BTC, 0, sender=attacker)
    (ev,) = tx.events.filter(ch.Liquidation)
    return (
        ch.balance_of(attacker, 0, usdc) - before[0],
        ch.pool_balance() - before[1],
        abs(ev.size_delta),
    )


def _sandwich(ch, attacker, victim, usdc, x: int) -> tuple[int, int, int]:
    """The same, with `x` BTC sold into the skew before and bought back after."""
    before = (ch.balance_of(attacker, 0, usdc), ch.pool_balance())
    ch.trade(0, 0, -x, 0, sender=attacker)
    tx = ch.liquidate(victim, 0, 0, 400 * BTC, 0, sender=attacker)
    ch.trade(0, 0, x, 10**30, sender=attacker)
    assert ch.position(attacker, 0, 0).size == 0
    (ev,) = tx.events.filter(ch.Liquidation)
    return (
        ch.balance_of(attacker, 0, usdc) - before[0],
        ch.pool_balance() - before[1],
        abs(ev.size_delta),
    )


def test_the_sandwich_pays_without_a_capacity_and_not_with_one(
    clearinghouse, victim_under_mm, keeper, deposit_usdc, usdc, owner, chain
):
    ch = clearinghouse
    deposit_usdc(keeper, 5_000_000)
    # Without a cap: the sandwich earns more than the plain liquidation and
    # the pool pays for it (the attack as measured on main).
    with isolated(chain):
        plain = _plain(ch, keeper, victim_under_mm, usdc)
    with isolated(chain):
        sandwich = _sandwich(ch, keeper, victim_under_mm, usdc, 400 * BTC)
    closed = plain[2]
    assert sandwich[2] == closed > 50 * BTC
    # The attacker's extra is what the pool loses: the premium the skew
    # paid for free, 400 * 55,000 * L / 50,000 = 440 L, less its fees:
    # selling 400 into the +400 skew is maker (11,000), buying back moves
    # the skew from -L to 400 - L: L maker (27.5 L) and 400 - L taker
    # (55 (400 - L)). Extra = 467.5 L - 33,000 USD (about 104.6k for the
    # 294.26 BTC the engine closes here), to a few native units of rounding.
    extra = (4_675 * closed // 10 - 33_000 * E18) // 10**12
    assert abs((sandwich[0] - plain[0]) - extra) <= 4
    assert abs((plain[1] - sandwich[1]) - extra) <= 4
    assert extra > 100_000 * 10**6

    ch.set_liquidation_capacity(WINDOW, E18, sender=owner)
    assert tuple(ch.liquidation_capacity(0)) == (WINDOW, E18, 50 * BTC)
    with isolated(chain):
        plain = _plain(ch, keeper, victim_under_mm, usdc)
    with isolated(chain):
        sandwich = _sandwich(ch, keeper, victim_under_mm, usdc, 400 * BTC)
    # One window closes 50 BTC; the sandwich now earns less than the plain
    # liquidation, and the pool keeps more.
    assert plain[2] == sandwich[2] == 50 * BTC
    # Extra: 440 * 50 = 22,000 of premium, less 11,000 (sell, maker) + 50
    # maker (1,375) + 350 taker (19,250) = -9,625 USD: the sandwich loses,
    # and the pool keeps the difference.
    assert sandwich[0] - plain[0] == -9_625 * 10**6
    assert sandwich[1] - plain[1] == 9_625 * 10**6


def test_capacity_per_window_and_its_reset(clearinghouse, victim_under_mm, keeper, owner, chain):
    ch = clearinghouse
    ch.set_liquidation_capacity(WINDOW, E18 // 2, sender=owner)  # 25 BTC a window
    chain.pending_timestamp = chain.blocks.head.timestamp + 1
    start = chain.pending_timestamp
    tx = ch.liquidate(victim_under_mm, 0, 0, 400 * BTC, 0, sender=keeper)
    (ev,) = tx.events.filter(ch.Liquidation)
    assert abs(ev.size_delta) == 25 * BTC
    assert ch.liquidation_capacity(0)[2] == 0
    before = (tuple(ch.position(victim_under_mm, 0, 0)), tuple(ch.market_state(0)))
    with ape.reverts(errors.LIQ_CAPACITY):
        ch.liquidate(victim_under_mm, 0, 0, 400 * BTC, 0, sender=keeper)
    assert (tuple(ch.position(victim_under_mm, 0, 0)), tuple(ch.market_state(0))) == before
    # The window that opened at `start` closes at start + 30: then 25 again.
    chain.pending_timestamp = start + WINDOW
    tx = ch.liquidate(victim_under_mm, 0, 0, 400 * BTC, 0, sender=keeper)
    (ev,) = tx.events.filter(ch.Liquidation)
    assert abs(ev.size_delta) == 25 * BTC
    assert ch.position(victim_under_mm, 0, 0).size == 350 * BTC


def test_capacity_is_owners_and_bounded(clearinghouse, btc_market, owner, stranger):
    ch = clearinghouse
    with ape.reverts(errors.NOT_OWNER):
        ch.set_liquidation_capacity(WINDOW, E18, sender=stranger)
    for args, reason in [
        ((0, E18), errors.CAPACITY_WINDOW_RANGE),
        ((3_601, E18), errors.CAPACITY_WINDOW_RANGE),
        ((WINDOW, 10 * E18 + 1), errors.CAPACITY_FACTOR_RANGE),
    ]:
        assert liq.capacity_reason(liq.Capacity(*args)) == reason
        with ape.reverts(reason):
            ch.set_liquidation_capacity(*args, sender=owner)
    tx = ch.set_liquidation_capacity(3_600, 10 * E18, sender=owner)
    assert [e.event_name for e in tx.events] == ["LiquidationCapacitySet"]
    # 10 x 50 BTC.
    assert tuple(ch.liquidation_capacity(0)) == (3_600, 10 * E18, 500 * BTC)
    ch.set_liquidation_capacity(0, 0, sender=owner)
    assert tuple(ch.liquidation_capacity(0)) == (0, 0, 2**256 - 1)
