"""Option positions' linear margin (issue 23, point 3): a long needs its
premium, and for maintenance what a move against it would take; a short
the underlying's rule (Deribit/Lyra style: a rate of the price less the
out-of-the-money amount, with a floor, on top of the mark; a short put at
most K - mark), or the Black-76 repriced loss of the rate's move when
that is more (the outside review: the OTM credit understated long-dated
and high-vol calls). Each rule figure is computed here by hand and
checked against `OptionsBook.position_risk` and the Python mirror
(`xmargin.maths.options`); the rule's bounds are refused with their
reason."""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _tau(expiry, chain):
    """Time left at the head block (what a call reads)."""
    return expiry - chain.blocks.head.timestamp


def _mark(strike_usd, expiry, chain, is_call, sigma=SIGMA):
    """The mark at the head block, from the mirror."""
    return black76.price(SPOT, strike_usd * WAD, sigma, _tau(expiry, chain), is_call)


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
    tau = _tau(expiry, chain)
    want = options.linear_risk(SPOT, strike_usd * WAD, is_call, SIGMA, tau, size, PARAMS)
    assert (risk.value, risk.im, risk.mm) == (want.value, want.im, want.mm)
    # at 80 % and 30 days the rule, not the repriced move, is what binds
    for rate in (PARAMS.im_rate, PARAMS.mm_rate):
        loss = options.repriced_loss(SPOT, strike_usd * WAD, is_call, SIGMA, tau, mark, rate, True)
        assert loss < (im_per if rate == PARAMS.im_rate else mm_per) * WAD


def test_a_long_needs_its_premium_and_keeps_what_a_move_leaves(
    book, owner, underlying, expiry, chain
):
    """IM is the long's value (its premium); MM what a 7.5 % fall would take
    from it (the review: a long's value backed MM in full, though a
    30-day call loses a third of it on such a fall)."""
    sid = _series(book, owner, underlying, 3_200, expiry, True)
    size = 3 * WAD + 1  # a wei over 3 contracts: the value rounds down, IM up
    risk = book.position_risk(sid, size)
    mark = _mark(3_200, expiry, chain, True)
    assert risk.value == size * mark // WAD
    assert risk.im == _ceil(size * mark)
    assert risk.im == risk.value + 1
    fell = black76.price(SPOT - SPOT * 75 // 1_000, 3_200 * WAD, SIGMA, _tau(expiry, chain), True)
    err = (SPOT + SPOT * 925 // 1_000 + 2 * 3_200 * WAD) * 64 // WAD + 8
    assert risk.mm == _ceil(size * (mark - fell + err))
    assert 0 < risk.mm < risk.im


def test_a_high_vol_short_call_needs_its_repriced_move(
    book, owner, underlying, vol_feed, expiry, chain
):
    """The review's case: at 400 % vol the $3,200 call's value moves more on
    a 15 % rise than the rule's $300 (15 % less $200 OTM, floored at 10 %)
    allows: IM is the repriced loss, $323.43."""
    vol_feed.set_answer(400_000_000, sender=owner)  # 400 %
    sid = _series(book, owner, underlying, 3_200, expiry, True)
    risk = book.position_risk(sid, -WAD)
    tau, sigma = _tau(expiry, chain), 4 * WAD
    mark = _mark(3_200, expiry, chain, True, sigma)
    rose = black76.price(SPOT + SPOT * 15 // 100, 3_200 * WAD, sigma, tau, True)
    err = (SPOT + SPOT * 115 // 100 + 2 * 3_200 * WAD) * 64 // WAD + 8
    assert risk.im == rose - mark + err
    assert 323 * WAD < risk.im < 324 * WAD
    want = options.linear_risk(SPOT, 3_200 * WAD, True, sigma, tau, -WAD, PARAMS)
    assert (risk.value, risk.im, risk.mm) == (want.value, want.im, want.mm)


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
    """Settled: the payoff, no margin. Before the settlement is recorded
    the position is valued provisionally, so its account stays
    liquidatable (the review: it reverted), at its payoff at today's
    price (the second review: a long at nothing let the pool's value jump
    by the payoff at the settlement, an LP's free entry): a long worth it,
    needing it as IM and as MM what a 7.5 % move could take (at most
    $234.375 a contract here); a short owing it with the rule's floors."""
    sid = _series(book, owner, underlying, 3_000, expiry, True)
    chain.mine(timestamp=expiry + 60)
    underlying_feed.set_answer(3_125 * 10**8, sender=owner)
    with ape.reverts(errors.NOT_SETTLED):
        book.mark(sid)
    long, short = book.position_risk(sid, 2 * WAD), book.position_risk(sid, -2 * WAD)
    # worth 2 x $125; MM min($125, 7.5 % of $3,125) x 2 = $250
    assert (long.value, long.im, long.mm) == (250 * WAD, 250 * WAD, 250 * WAD)
    want = options.unsettled_risk(3_125 * WAD, 3_000 * WAD, True, 2 * WAD, PARAMS)
    assert (long.value, long.im, long.mm) == (want.value, want.im, want.mm)
    # owes 2 x $125; floors 10 % and 5 % of $3,125 for 2: $625 and $312.50
    assert (short.value, short.im, short.mm) == (-250 * WAD, 625 * WAD, 3125 * WAD // 10)
    want = options.unsettled_risk(3_125 * WAD, 3_000 * WAD, True, -2 * WAD, PARAMS)
    assert (short.value, short.im, short.mm) == (want.value, want.im, want.mm)
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


# ---------------------------------------------------------------- the mirror

STRIKES = (300, 1_500, 2_900, 3_000, 3_100, 6_000, 30_000)


@st.composite
def _rules(draw):
    im_rate = draw(st.integers(1, WAD // 2))
    mm_rate = draw(st.integers(1, im_rate))
    mm_floor = draw(st.integers(1, mm_rate))
    im_floor = draw(st.integers(mm_floor, im_rate))
    return options.MarginParams(im_rate, im_floor, mm_rate, mm_floor)


_SIZES = st.one_of(
    st.integers(-(2**96), 2**96),
    st.integers(-1_000, 1_000),
    st.sampled_from([1, -1, 2**96, -(2**96)]),
).filter(lambda x: x != 0)


@pytest.fixture
def listed(book, owner, underlying, expiry):
    out = []
    for k in STRIKES:
        for is_call in (True, False):
            out.append((_series(book, owner, underlying, k, expiry, is_call), k * WAD, is_call))
    return out


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    price_cents=st.integers(1, 99_999_999),  # $0.01 .. under the $1M bound
    vol_bp=st.integers(101, 49_999),  # inside the 1 % .. 500 % bounds
    rule=_rules(),
    size=_SIZES,
)
def test_the_mirror_is_the_contract_to_the_wei(
    book,
    listed,
    owner,
    underlying,
    underlying_feed,
    vol_feed,
    expiry,
    chain,
    data,
    price_cents,
    vol_bp,
    rule,
    size,
):
    """From the outside review: any series, price, volatility, rule and
    size; IM never below MM; a long's IM is its value or a wei more."""
    sid, strike, is_call = data.draw(st.sampled_from(listed))
    underlying_feed.set_answer(price_cents * 10**6, sender=owner)  # 8 decimals
    vol_feed.set_answer(vol_bp * 10**4, sender=owner)
    book.set_margin_params(underlying, *vars(rule).values(), sender=owner)
    price, sigma = price_cents * 10**16, vol_bp * 10**14
    got = book.position_risk(sid, size)
    want = options.linear_risk(price, strike, is_call, sigma, _tau(expiry, chain), size, rule)
    assert (got.value, got.im, got.mm) == (want.value, want.im, want.mm)
    assert got.im >= got.mm
    if size > 0:
        assert got.im - got.value in (0, 1)
    else:
        assert got.im >= 1
