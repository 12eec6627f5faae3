"""Option series (issue 23, points 1 and 5): the owner lists cash-settled
European calls and puts on an underlying, strike and expiry inside bounds;
each is marked by Black-76 from the router's price and implied volatility
until expiry, then from a settlement price anyone records once, from the
first valid oracle round at or after the expiry. And the bad input the
issue lists: unknown or expired series, strikes and expiries out of
bounds, a stale, negative or out-of-bound vol feed, settlement before
expiry, with the wrong round, or twice. Marks are checked against the
Python mirror (`xmargin.maths.black76`, to the wei) and the 80-digit
reference (`black76_exact`, within the stated bound)."""

from __future__ import annotations

import ape
import pytest

from tests.conftest import HEARTBEAT, UNDERLYING_USD, VOL_ANSWER
from xmargin.maths import black76, black76_exact, errors
from xmargin.maths.fixed_point import WAD

DAY = 86_400
SPOT = UNDERLYING_USD


@pytest.fixture
def feed(underlying_feed):
    return underlying_feed


@pytest.fixture
def asset(underlying):
    return underlying


@pytest.fixture
def book(options_book):
    return options_book


def _list(book, owner, asset, strike_usd, expiry, is_call=True):
    return book.list_series(asset, strike_usd * WAD, expiry, is_call, sender=owner)


def _unchanged(book, before: int) -> None:
    assert book.num_series() == before


# ---------------------------------------------------------------- listing


def test_the_owner_lists_a_series_and_finds_it_again(book, owner, asset, expiry):
    tx = _list(book, owner, asset, 3_200, expiry)
    [ev] = tx.decode_logs(book.SeriesListed)
    assert (ev.series_id, ev.asset, ev.strike, ev.expiry, ev.is_call) == (
        0,
        asset.address,
        3_200 * WAD,
        expiry,
        True,
    )
    _list(book, owner, asset, 3_200, expiry, is_call=False)
    assert book.num_series() == 2
    s = book.series(1)
    assert (s.asset, s.strike, s.expiry, s.is_call) == (asset.address, 3_200 * WAD, expiry, False)
    assert book.find_series(asset, 3_200 * WAD, expiry, False) == 1
    assert book.expiry_count(asset, expiry) == 2


def test_listing_refuses_what_it_cannot_price_or_bound(book, owner, stranger, asset, expiry, chain):
    _list(book, owner, asset, 3_000, expiry)
    now = chain.pending_timestamp
    cases = [
        # a second listing of the same series
        ((asset, 3_000 * WAD, expiry, True), errors.SERIES_EXISTS),
        # strikes beyond 10x of the $3,000 price either way, and zero
        ((asset, 299 * WAD, expiry, True), errors.STRIKE_OUT_OF_RANGE),
        ((asset, 30_001 * WAD, expiry, True), errors.STRIKE_OUT_OF_RANGE),
        ((asset, 0, expiry, True), errors.STRIKE_OUT_OF_RANGE),
        # expiries under an hour or over two years away
        ((asset, 3_000 * WAD, now + 3_599, True), errors.EXPIRY_TOO_SOON),
        ((asset, 3_000 * WAD, now + 731 * DAY, True), errors.EXPIRY_TOO_FAR),
        # no vol feed for this expiry
        ((asset, 3_000 * WAD, expiry + DAY, True), errors.NO_VOL_FEED),
    ]
    for args, reason in cases:
        with ape.reverts(reason):
            book.list_series(*args, sender=owner)
    with ape.reverts("ownable: caller is not the owner"):
        book.list_series(asset, 3_100 * WAD, expiry, True, sender=stranger)
    _unchanged(book, 1)
    # the edges themselves list: exactly 10x either way
    _list(book, owner, asset, 300, expiry)
    _list(book, owner, asset, 30_000, expiry)
    assert book.num_series() == 3


def test_a_stale_negative_or_out_of_bound_vol_feed_refuses_listing_and_marks(
    book, owner, asset, feed, vol_feed, expiry, chain
):
    _list(book, owner, asset, 3_000, expiry)
    for answer, reason in [
        (-1, errors.VOL_NOT_POSITIVE),
        (0, errors.VOL_NOT_POSITIVE),
        (600_000_000, errors.VOL_OUT_OF_BOUNDS),  # 600 % > the 500 % bound
        (1_000_000, errors.VOL_OUT_OF_BOUNDS),  # exactly the 1 % floor (exclusive)
    ]:
        vol_feed.set_answer(answer, sender=owner)
        with ape.reverts(reason):
            book.mark(0)
        with ape.reverts(reason):
            book.list_series(asset, 3_100 * WAD, expiry, True, sender=owner)
    vol_feed.set_answer(VOL_ANSWER, sender=owner)
    chain.mine(timestamp=chain.pending_timestamp + HEARTBEAT + 1)
    feed.set_answer(SPOT * 10**8, sender=owner)  # the price is fresh, the vol is not
    with ape.reverts(errors.VOL_STALE):
        book.mark(0)
    _unchanged(book, 1)


def test_unknown_series_are_refused(book, owner, asset, expiry):
    _list(book, owner, asset, 3_000, expiry)
    for call in (book.mark, book.greeks):
        with ape.reverts(errors.UNKNOWN_SERIES):
            call(1)
    with ape.reverts(errors.UNKNOWN_SERIES):
        book.position_risk(1, WAD)
    with ape.reverts(errors.UNKNOWN_SERIES):
        book.find_series(asset, 3_000 * WAD, expiry, False)


def test_only_the_owner_repoints_the_oracle(book, owner, stranger, oracle, asset):
    with ape.reverts("ownable: caller is not the owner"):
        book.set_oracle(oracle, sender=stranger)
    with ape.reverts(errors.ORACLE_NOT_CONTRACT):
        book.set_oracle(stranger, sender=owner)
    tx = book.set_oracle(oracle, sender=owner)
    [ev] = tx.decode_logs(book.OracleSet)
    assert ev.new_oracle == oracle.address


# ---------------------------------------------------------------- marks


@pytest.mark.parametrize("strike_usd", [1_500, 2_700, 3_000, 3_600, 9_000])
def test_marks_are_black76_to_the_wei(
    book, owner, asset, feed, vol_feed, expiry, chain, strike_usd
):
    for is_call in (True, False):
        _list(book, owner, asset, strike_usd, expiry, is_call)
    chain.mine(timestamp=chain.pending_timestamp + 7 * DAY)
    feed.set_answer(SPOT * 10**8, sender=owner)
    vol_feed.set_answer(VOL_ANSWER, sender=owner)
    now = chain.blocks.head.timestamp
    f, k, sigma, tau = SPOT * WAD, strike_usd * WAD, 8 * WAD // 10, expiry - now
    for series_id, is_call in ((0, True), (1, False)):
        got = book.mark(series_id)
        assert got == black76.price(f, k, sigma, tau, is_call)
        exact = black76_exact.exact_price(f, k, sigma, tau, is_call)
        assert abs(got - exact) <= black76.price_error_bound(f, k)
        want = black76.greeks(f, k, sigma, tau, is_call)
        assert tuple(book.greeks(series_id)) == (want.delta, want.gamma, want.vega, want.theta)
    # put-call parity at the same strike: C - P = F - K, to the bound
    call, put = book.mark(0), book.mark(1)
    assert abs((call - put) - (f - k)) <= 2 * black76.price_error_bound(f, k)


# ---------------------------------------------------------------- expiry


def _rounds_around_expiry(feed, owner, chain, expiry, answers_after):
    """One round before the expiry ($2,950), then each of `answers_after`
    (USD, 8 decimals) a minute apart from a minute after it; returns the
    round ids, the one before first."""
    chain.mine(timestamp=expiry - 60)
    feed.set_answer(2_950 * 10**8, sender=owner)
    ids = [feed.round_id()]
    for i, answer in enumerate(answers_after):
        chain.mine(timestamp=expiry + 60 * (i + 1))
        feed.set_answer(answer, sender=owner)
        ids.append(feed.round_id())
    return ids


def test_settlement_records_the_first_round_after_expiry_once(
    book, owner, stranger, asset, feed, expiry, chain
):
    _list(book, owner, asset, 3_000, expiry, True)
    _list(book, owner, asset, 3_000, expiry, False)
    with ape.reverts(errors.NOT_EXPIRED):
        book.settle_expiry(asset, expiry, feed.round_id(), sender=stranger)
    before, first, later = _rounds_around_expiry(
        feed, owner, chain, expiry, [3_210 * 10**8, 3_400 * 10**8]
    )
    # a mark after expiry waits for the settlement
    with ape.reverts(errors.NOT_SETTLED):
        book.mark(0)
    with ape.reverts(errors.ROUND_BEFORE_EXPIRY):
        book.settle_expiry(asset, expiry, before, sender=stranger)
    with ape.reverts(errors.NOT_FIRST_ROUND):
        book.settle_expiry(asset, expiry, later, sender=stranger)
    with ape.reverts(errors.NOTHING_TO_SETTLE):
        book.settle_expiry(asset, expiry + 1, first, sender=stranger)
    assert book.settlement(asset, expiry) == 0
    tx = book.settle_expiry(asset, expiry, first, sender=stranger)
    [ev] = tx.decode_logs(book.ExpirySettled)
    assert (ev.asset, ev.expiry, ev.price, ev.round_id, ev.caller) == (
        asset.address,
        expiry,
        3_210 * WAD,
        first,
        stranger.address,
    )
    assert book.settlement(asset, expiry) == 3_210 * WAD
    with ape.reverts(errors.ALREADY_SETTLED):
        book.settle_expiry(asset, expiry, first, sender=stranger)
    # the payoffs at $3,210 on a $3,000 strike, whatever the feed says now
    feed.set_answer(1_000 * 10**8, sender=owner)
    assert book.mark(0) == 210 * WAD
    assert book.mark(1) == 0
    delta, gamma, vega, theta = book.greeks(0)
    assert (delta, gamma, vega, theta) == (WAD, 0, 0, 0)


def test_invalid_rounds_after_expiry_are_passed_over(book, owner, asset, feed, expiry, chain):
    """The first *valid* round settles: a negative answer and one above the
    owner's bound come first; naming either is refused with its reason,
    naming the valid one after them settles."""
    _list(book, owner, asset, 3_000, expiry, False)
    too_high = 2 * 10**6 * 10**8  # $2,000,000 > the $1,000,000 bound
    _, negative, high, valid, later = _rounds_around_expiry(
        feed, owner, chain, expiry, [-5, too_high, 2_800 * 10**8, 2_700 * 10**8]
    )
    with ape.reverts(errors.PRICE_NOT_POSITIVE):
        book.settle_expiry(asset, expiry, negative, sender=owner)
    with ape.reverts(errors.PRICE_OUT_OF_BOUNDS):
        book.settle_expiry(asset, expiry, high, sender=owner)
    with ape.reverts(errors.NOT_FIRST_ROUND):
        book.settle_expiry(asset, expiry, later, sender=owner)
    book.settle_expiry(asset, expiry, valid, sender=owner)
    # a put struck at $3,000 settles at $2,800: $200
    assert book.mark(0) == 200 * WAD


def test_a_round_from_the_future_or_an_unconfirmed_phase_is_refused(
    book, owner, asset, feed, expiry, chain
):
    _list(book, owner, asset, 3_000, expiry)
    chain.mine(timestamp=expiry + 60)
    # a round dated after the block that reads it
    feed.set_round(7, 3_100 * 10**8, expiry + 10_000, expiry + 10_000, 7, sender=owner)
    with ape.reverts(errors.PRICE_FROM_FUTURE):
        book.settle_expiry(asset, expiry, 7, sender=owner)
    # a round of phase 2, which the owner never confirmed
    phase2 = (2 << 64) | 1
    feed.set_round(phase2, 3_100 * 10**8, expiry + 30, expiry + 30, phase2, sender=owner)
    with ape.reverts(errors.FEED_PHASE_CHANGED):
        book.settle_expiry(asset, expiry, phase2, sender=owner)
    assert book.settlement(asset, expiry) == 0


def test_round_zero_names_no_round(book, owner, stranger, asset, feed, expiry, chain):
    """Found by the outside review: round index 0 made the router read the
    latest round and skip the walk, so a holder could settle at any later
    price that suited it ($4,500 a day on, against the first round's
    $3,010). Round 0 of any phase now names no round."""
    _list(book, owner, asset, 3_000, expiry)
    _, first = _rounds_around_expiry(feed, owner, chain, expiry, [3_010 * 10**8])
    chain.mine(timestamp=expiry + DAY)
    feed.set_answer(4_500 * 10**8, sender=owner)
    for round_zero in (0, 1 << 64):
        with ape.reverts(errors.NO_SUCH_ROUND):
            book.settle_expiry(asset, expiry, round_zero, sender=stranger)
    book.settle_expiry(asset, expiry, first, sender=stranger)
    assert book.mark(0) == 10 * WAD


def test_an_incomplete_round_after_expiry_is_passed_over(book, owner, asset, feed, expiry, chain):
    """A round with no `updatedAt` is incomplete: invalid, so the walk
    passes over it rather than taking it for a round before the expiry."""
    _list(book, owner, asset, 3_000, expiry, False)
    _, first = _rounds_around_expiry(feed, owner, chain, expiry, [2_900 * 10**8])
    feed.set_round(first + 1, 2_000 * 10**8, 0, 0, first + 1, sender=owner)
    chain.mine(timestamp=expiry + 600)
    feed.set_answer(2_600 * 10**8, sender=owner)
    with ape.reverts(errors.NOT_FIRST_ROUND):
        book.settle_expiry(asset, expiry, first + 2, sender=owner)
    book.settle_expiry(asset, expiry, first, sender=owner)
    assert book.mark(0) == 100 * WAD
