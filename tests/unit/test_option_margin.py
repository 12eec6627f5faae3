"""Option positions' linear margin (issue 23, point 3): a long needs its
premium, a short the underlying's rule (Deribit/Lyra style: a rate of the
price less the out-of-the-money amount, with a floor, on top of the mark;
a short put at most K - mark). Each figure is computed here by hand and
checked against `OptionsBook.position_risk` and the Python mirror
(`xmargin.maths.options`); the rule's bounds are refused with their
reason."""

from __future__ import annotations

import ape
import pytest

from tests.conftest import HEARTBEAT, VOL_BOUNDS
from tests.conftest import OPTION_RULE as RULE
from xmargin.maths import black76, errors, options
from xmargin.maths.fixed_point import WAD

SPOT = 3_000 * WAD
SIGMA = 8 * WAD // 10
PARAMS = options.MarginParams(*RULE)


@pytest.fixture
def book(options_book):
    return options_book


def _series(book, owner, asset, strike_usd, expiry, is_call):
    book.list_series(asset, strike_usd * WAD, expiry, is_call, sender=owner)
    return book.num_series() - 1


def _mark(strike_usd, expiry, chain, is_call):
    """The mark at the head block (what a call reads), from the mirror."""
    tau = expiry - chain.blocks.head.timestamp
    return black76.price(SPOT, strike_usd * WAD, SIGMA, tau, is_call)


def _ceil(x: int) -> int:
    return -((-x) // WAD)


@pytest.mark.parametrize(
    ("strike_usd", "is_call", "im_per", "mm_per"),
    [
        # OTM call $200 out: IM max(450 - 200, 300) = 300, MM max(225 - 200, 150) = 150
        (3_200, True, 300, 150),
        # ITM call: no credit: IM 15 % = 450, MM 7.5 % = 225
        (2_800, True, 450, 225),
        # OTM call $100 out: IM max(350, 300) = 350, MM max(125, 150) = 150
        (3_100, True, 350, 150),
        # OTM put $500 out: the floors, 300 and 150
        (2_500, False, 300, 150),
        # ITM put: 450 and 225 (K - mark is far above)
        (3_600, False, 450, 225),
    ],
)
def test_a_short_needs_the_rule_by_hand(
    book, owner, underlying, expiry, chain, strike_usd, is_call, im_per, mm_per
):
    sid = _series(book, owner, underlying, strike_usd, expiry, is_call)
    size = -2 * WAD
    risk = book.position_risk(sid, size)
    mark = _mark(strike_usd, expiry, chain, is_call)
    assert (risk.value, risk.im, risk.mm) == (-2 * mark, 2 * im_per * WAD, 2 * mm_per * WAD)
    want = options.linear_risk(SPOT, strike_usd * WAD, is_call, mark, size, PARAMS)
    assert (risk.value, risk.im, risk.mm) == (want.value, want.im, want.mm)


def test_a_long_needs_its_premium_and_no_maintenance(book, owner, underlying, expiry, chain):
    sid = _series(book, owner, underlying, 3_200, expiry, True)
    size = 3 * WAD + 1  # a wei over 3 contracts: the value rounds down, IM up
    risk = book.position_risk(sid, size)
    mark = _mark(3_200, expiry, chain, True)
    assert risk.value == size * mark // WAD
    assert risk.im == _ceil(size * mark)
    assert risk.im == risk.value + 1
    assert risk.mm == 0


def test_a_short_put_needs_at_most_its_strike_less_the_mark(book, owner, underlying, expiry, chain):
    """A $400 put, $2,600 out of the money, under a rule whose floor (20 %
    of $3,000 = $600) exceeds the most the short can lose ($400 less the
    mark it owes): IM is K - mark; MM's floor ($150) is below the cap."""
    book.set_margin_params(
        underlying, 40 * WAD // 100, 20 * WAD // 100, WAD // 10, WAD // 20, sender=owner
    )
    sid = _series(book, owner, underlying, 400, expiry, False)
    risk = book.position_risk(sid, -WAD)
    mark = _mark(400, expiry, chain, False)
    assert 0 < mark < WAD  # a few cents
    assert risk.im == 400 * WAD - mark
    assert risk.mm == 150 * WAD
    assert risk.value == -mark


def test_an_expired_position_is_worth_its_payoff_and_needs_nothing(
    book, owner, underlying, underlying_feed, expiry, chain
):
    sid = _series(book, owner, underlying, 3_000, expiry, True)
    chain.mine(timestamp=expiry + 60)
    underlying_feed.set_answer(3_125 * 10**8, sender=owner)
    with ape.reverts(errors.NOT_SETTLED):
        book.position_risk(sid, WAD)
    book.settle_expiry(underlying, expiry, underlying_feed.round_id(), sender=owner)
    long, short = book.position_risk(sid, 2 * WAD), book.position_risk(sid, -2 * WAD)
    assert (long.value, long.im, long.mm) == (250 * WAD, 0, 0)
    assert (short.value, short.im, short.mm) == (-250 * WAD, 0, 0)


def test_sizes_out_of_bounds_are_refused(book, owner, underlying, expiry):
    sid = _series(book, owner, underlying, 3_000, expiry, True)
    with ape.reverts(errors.ZERO_SIZE):
        book.position_risk(sid, 0)
    with ape.reverts(errors.SIZE_TOO_LARGE):
        book.position_risk(sid, -(2**96) - 1)
    assert book.position_risk(sid, -(2**96)).im > 0


def test_the_rule_keeps_im_above_mm_and_within_half_the_price(book, owner, stranger, underlying):
    pct = WAD // 100
    bad = [
        (15 * pct, 10 * pct, 7 * pct, 0),  # no MM floor
        (15 * pct, 10 * pct, 5 * pct, 6 * pct),  # MM floor above MM rate
        (15 * pct, 4 * pct, 8 * pct, 5 * pct),  # IM floor below MM floor
        (15 * pct, 16 * pct, 8 * pct, 5 * pct),  # IM floor above IM rate
        (7 * pct, 6 * pct, 8 * pct, 5 * pct),  # MM rate above IM rate
        (51 * pct, 10 * pct, 8 * pct, 5 * pct),  # IM rate above 50 %
    ]
    for args in bad:
        assert not options.MarginParams(*args).valid()
        with ape.reverts(errors.OPTION_MARGIN_RANGE):
            book.set_margin_params(underlying, *args, sender=owner)
    with ape.reverts("ownable: caller is not the owner"):
        book.set_margin_params(underlying, *RULE, sender=stranger)
    assert tuple(book.margin_params(underlying)) == RULE
    edge = (50 * pct, 5 * pct, 5 * pct, 5 * pct)
    assert options.MarginParams(*edge).valid()
    tx = book.set_margin_params(underlying, *edge, sender=owner)
    [ev] = tx.decode_logs(book.MarginParamsSet)
    assert (ev.im_rate, ev.im_floor, ev.mm_rate, ev.mm_floor) == edge


def test_listing_needs_the_underlyings_rule(project, owner, oracle, underlying, vol_feed, expiry):
    oracle.set_vol_feed(underlying, expiry, vol_feed, HEARTBEAT, *VOL_BOUNDS, sender=owner)
    bare = owner.deploy(project.OptionsBook, oracle)
    with ape.reverts(errors.NO_OPTION_MARGIN):
        bare.list_series(underlying, 3_000 * WAD, expiry, True, sender=owner)
    assert bare.num_series() == 0
