"""OracleRouter's implied-volatility feeds (issue 23, point 1): one
AggregatorV3-shaped feed per underlying and expiry, read with the price
feeds' checks and reasons of its own, inside the owner's bounds; and the
bad input the issue lists (a stale, negative or out-of-bound vol feed),
each refused with its reason, leaving the configuration and the
underlying's price as they were."""

from __future__ import annotations

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.conftest import HEARTBEAT, VOL_ANSWER, VOL_BOUNDS
from xmargin.maths import errors, model
from xmargin.maths.fixed_point import WAD

MIN_VOL, MAX_VOL = VOL_BOUNDS
ANSWER = VOL_ANSWER


@pytest.fixture
def asset(underlying):
    return underlying


@pytest.fixture
def with_vol(oracle, owner, asset, vol_feed, expiry):
    oracle.set_vol_feed(asset, expiry, vol_feed, HEARTBEAT, MIN_VOL, MAX_VOL, sender=owner)
    return asset


def _model_vol(feed, chain) -> int:
    """The model's reading of the feed's latest round (`normalise_answer`),
    or its PriceError."""
    rnd = model.Round(*feed.latestRoundData(), feed.decimals())
    params = model.FeedParams(8, HEARTBEAT)
    bounds = model.PriceBounds(MIN_VOL, MAX_VOL)
    return model.normalise_answer(rnd, params, bounds, chain.blocks.head.timestamp, model.VOL)


def test_a_vol_feed_reads_as_a_wad_fraction_a_year(oracle, with_vol, vol_feed, expiry, chain):
    # 80,000,000 with 8 decimals: 0.8, i.e. 80 % a year
    assert oracle.vol(with_vol, expiry) == 8 * WAD // 10
    assert _model_vol(vol_feed, chain) == 8 * WAD // 10
    feed, lo, hi = oracle.vol_feed(with_vol, expiry)
    assert (feed.aggregator, feed.heartbeat, feed.decimals, lo, hi) == (
        vol_feed.address,
        HEARTBEAT,
        8,
        MIN_VOL,
        MAX_VOL,
    )


def test_setting_logs_the_feed_and_removing_ends_it(oracle, owner, asset, vol_feed, expiry):
    tx = oracle.set_vol_feed(asset, expiry, vol_feed, HEARTBEAT, MIN_VOL, MAX_VOL, sender=owner)
    [ev] = tx.decode_logs(oracle.VolFeedSet)
    assert (ev.asset, ev.expiry, ev.aggregator, ev.decimals, ev.min_vol, ev.max_vol) == (
        asset.address,
        expiry,
        vol_feed.address,
        8,
        MIN_VOL,
        MAX_VOL,
    )
    tx = oracle.remove_vol_feed(asset, expiry, sender=owner)
    [ev] = tx.decode_logs(oracle.VolFeedSet)
    assert ev.aggregator == ZERO_ADDRESS
    with ape.reverts(errors.NO_VOL_FEED):
        oracle.vol(asset, expiry)
    with ape.reverts(errors.NO_VOL_FEED):
        oracle.remove_vol_feed(asset, expiry, sender=owner)


def test_each_expiry_has_its_own_feed(oracle, with_vol, expiry):
    with ape.reverts(errors.NO_VOL_FEED):
        oracle.vol(with_vol, expiry + 1)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (-1, errors.VOL_NOT_POSITIVE),
        (0, errors.VOL_NOT_POSITIVE),
        (1_000_000, errors.VOL_OUT_OF_BOUNDS),  # 1 %: at the exclusive lower bound
        (500_000_000, errors.VOL_OUT_OF_BOUNDS),  # 500 %: at the upper one
        (2**200, errors.VOL_OUT_OF_BOUNDS),  # past any bound, no overflow
    ],
)
def test_a_lying_vol_feed_is_refused_with_its_reason(
    oracle, owner, with_vol, vol_feed, expiry, chain, answer, reason
):
    vol_feed.set_answer(answer, sender=owner)
    with ape.reverts(reason):
        oracle.vol(with_vol, expiry)
    with pytest.raises(model.PriceError, match=reason):
        _model_vol(vol_feed, chain)
    # the underlying's price is not the vol feed's business
    assert oracle.price(with_vol) == 3_000 * WAD


def test_a_stale_vol_feed_is_refused(oracle, owner, with_vol, vol_feed, expiry, chain):
    chain.pending_timestamp = chain.blocks.head.timestamp + HEARTBEAT + 1
    chain.mine()
    with ape.reverts(errors.VOL_STALE):
        oracle.vol(with_vol, expiry)
    with pytest.raises(model.PriceError, match=errors.VOL_STALE):
        _model_vol(vol_feed, chain)
    vol_feed.set_answer(ANSWER, sender=owner)  # a fresh round
    assert oracle.vol(with_vol, expiry) == 8 * WAD // 10


def test_incomplete_future_and_changed_vol_rounds(
    oracle, owner, with_vol, vol_feed, expiry, chain, project
):
    t = chain.blocks.head.timestamp
    vol_feed.set_round(2, ANSWER, t, t, 1, sender=owner)  # answered in an older round
    with ape.reverts(errors.VOL_INCOMPLETE):
        oracle.vol(with_vol, expiry)
    vol_feed.set_round(2, ANSWER, t, t + 3_600, 2, sender=owner)
    with ape.reverts(errors.VOL_FROM_FUTURE):
        oracle.vol(with_vol, expiry)
    vol_feed.set_round(1 << 64 | 1, ANSWER, t, t, 1 << 64 | 1, sender=owner)
    with ape.reverts(errors.VOL_PHASE_CHANGED):
        oracle.vol(with_vol, expiry)
    vol_feed.set_round(3, ANSWER, t, t, 3, sender=owner)
    vol_feed.set_decimals(6, sender=owner)
    with ape.reverts(errors.VOL_DECIMALS_CHANGED):
        oracle.vol(with_vol, expiry)
    hostile = owner.deploy(project.MockRevertingFeed, ANSWER)
    oracle.set_vol_feed(with_vol, expiry, hostile, HEARTBEAT, MIN_VOL, MAX_VOL, sender=owner)
    hostile.set_mode(3, sender=owner)  # burns its gas
    with ape.reverts(errors.VOL_CALL_FAILED):
        oracle.vol(with_vol, expiry)
    assert oracle.price(with_vol) == 3_000 * WAD


def test_bad_configuration_is_refused_and_nothing_is_stored(
    oracle, owner, asset, vol_feed, expiry, chain, make_token, trader
):
    def refused(reason, *args, sender=owner):
        with ape.reverts(reason):
            oracle.set_vol_feed(*args, sender=sender)
        with ape.reverts(errors.NO_VOL_FEED):
            oracle.vol(args[0], args[1])

    unpriced = make_token(18, "NOPRICE")
    past = chain.blocks.head.timestamp
    refused(errors.NO_FEED, unpriced, expiry, vol_feed, HEARTBEAT, MIN_VOL, MAX_VOL)
    refused(errors.EXPIRY_PAST, asset, past, vol_feed, HEARTBEAT, MIN_VOL, MAX_VOL)
    refused(errors.MIN_VOL_ZERO, asset, expiry, vol_feed, HEARTBEAT, 0, MAX_VOL)
    refused(errors.MAX_VOL_RANGE, asset, expiry, vol_feed, HEARTBEAT, MIN_VOL, MIN_VOL)
    refused(errors.MAX_VOL_RANGE, asset, expiry, vol_feed, HEARTBEAT, MIN_VOL, 10 * WAD + 1)
    refused(errors.ZERO_HEARTBEAT, asset, expiry, vol_feed, 0, MIN_VOL, MAX_VOL)
    refused(errors.FEED_NOT_CONTRACT, asset, expiry, trader, HEARTBEAT, MIN_VOL, MAX_VOL)
    refused(
        "ownable: caller is not the owner",
        asset,
        expiry,
        vol_feed,
        HEARTBEAT,
        MIN_VOL,
        MAX_VOL,
        sender=trader,
    )
    # A feed whose answer is outside the bounds cannot be set at all.
    refused(errors.VOL_OUT_OF_BOUNDS, asset, expiry, vol_feed, HEARTBEAT, WAD, MAX_VOL)
