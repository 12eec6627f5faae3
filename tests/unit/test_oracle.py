"""OracleRouter: normalisation to WAD and every way a price is refused."""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE
from xmargin.maths import errors, model
from xmargin.maths.fixed_point import WAD

ASSET_USD = 2_500


@pytest.fixture
def asset(make_token):
    return make_token(18, "ASSET")


@pytest.fixture
def feed(make_feed):
    return make_feed(ASSET_USD)


@pytest.fixture
def priced(oracle, owner, asset, feed):
    oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    return asset


def now(chain) -> int:
    return chain.blocks.head.timestamp


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("decimals", "answer", "expected"),
    [
        (8, 2_500 * 10**8, 2_500 * WAD),  # the usual Chainlink USD feed
        (18, 2_500 * 10**18, 2_500 * WAD),
        (6, 1_234_567, 1_234_567 * 10**12),  # $1.234567
        (0, 7, 7 * WAD),
        (8, 99_999_999, 999_999_990_000_000_000),  # $0.99999999
    ],
)
def test_price_normalised_to_wad(oracle, owner, asset, project, decimals, answer, expected):
    feed = owner.deploy(project.MockAggregator, decimals, "X / USD", answer)
    oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    assert oracle.price(asset) == expected


def test_set_feed_records_config_and_event(oracle, owner, asset, feed):
    tx = oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    cfg = oracle.price_config(asset)
    assert cfg.primary.aggregator == feed.address
    assert cfg.primary.heartbeat == HEARTBEAT
    assert cfg.primary.scale == 10**10 and cfg.primary.decimals == 8
    assert (cfg.min_price, cfg.max_price) == (MIN_PRICE, MAX_PRICE)
    [ev] = tx.decode_logs(oracle.FeedSet)
    assert ev.asset == asset.address and ev.aggregator == feed.address
    assert ev.decimals == 8 and ev.heartbeat == HEARTBEAT
    assert oracle.has_feed(asset)


# ---------------------------------------------------------------- refusals


def test_no_feed(oracle, asset):
    assert not oracle.has_feed(asset)
    with ape.reverts(errors.NO_FEED):
        oracle.price(asset)


@pytest.mark.parametrize("answer", [0, -1, -(2**255)])
def test_non_positive_answer(oracle, priced, feed, owner, answer):
    feed.set_answer(answer, sender=owner)
    with ape.reverts(errors.PRICE_NOT_POSITIVE):
        oracle.price(priced)


def test_stale_round(oracle, priced, feed, owner, chain):
    t = now(chain)
    # One second inside the heartbeat (calls run against a block at or after
    # `t`, so allow for the next block's timestamp too).
    feed.set_round(5, 3_000 * 10**8, t, t - HEARTBEAT + 30, 5, sender=owner)
    assert oracle.price(priced) == 3_000 * WAD
    feed.set_round(6, 3_000 * 10**8, t, t - HEARTBEAT - 30, 6, sender=owner)
    with ape.reverts(errors.PRICE_STALE):
        oracle.price(priced)


def test_stale_after_time_passes(oracle, priced, chain):
    assert oracle.price(priced) == ASSET_USD * WAD
    chain.mine(timestamp=now(chain) + HEARTBEAT + 60)
    with ape.reverts(errors.PRICE_STALE):
        oracle.price(priced)


def test_incomplete_round_updated_at_zero(oracle, priced, feed, owner, chain):
    feed.set_round(7, 3_000 * 10**8, now(chain), 0, 7, sender=owner)
    with ape.reverts(errors.PRICE_INCOMPLETE):
        oracle.price(priced)


def test_answered_in_earlier_round(oracle, priced, feed, owner, chain):
    t = now(chain)
    feed.set_round(9, 3_000 * 10**8, t, t, 8, sender=owner)
    with ape.reverts(errors.PRICE_INCOMPLETE):
        oracle.price(priced)


def test_round_from_the_future(oracle, priced, feed, owner, chain):
    t = now(chain)
    feed.set_round(9, 3_000 * 10**8, t, t + 10_000, 9, sender=owner)
    with ape.reverts(errors.PRICE_FROM_FUTURE):
        oracle.price(priced)


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        (MIN_PRICE // 10**10, False),  # exactly the floor: a clamped feed
        (MIN_PRICE // 10**10 + 1, True),
        (MAX_PRICE // 10**10 - 1, True),
        (MAX_PRICE // 10**10, False),  # exactly the cap
        (MAX_PRICE // 10**10 + 1, False),
        (2**255 - 1, False),  # overflow-sized answer: refused, not wrapped
    ],
)
def test_bounds_are_exclusive(oracle, priced, feed, owner, answer, ok):
    feed.set_answer(answer, sender=owner)
    if ok:
        assert oracle.price(priced) == answer * 10**10
    else:
        with ape.reverts(errors.PRICE_OUT_OF_BOUNDS):
            oracle.price(priced)


# ---------------------------------------------------------------- second feed


@pytest.fixture
def cross_checked(oracle, priced, make_feed, owner):
    second = make_feed(ASSET_USD, decimals=18)
    oracle.set_secondary_feed(priced, second, HEARTBEAT, WAD // 50, sender=owner)  # 2 %
    return second


def test_second_feed_within_deviation(oracle, priced, cross_checked, owner):
    # 2 % of 2,500 is 50: 2,550 is at the limit (allowed), primary returned.
    cross_checked.set_answer(2_550 * 10**18, sender=owner)
    assert oracle.price(priced) == ASSET_USD * WAD
    cross_checked.set_answer(2_450 * 10**18, sender=owner)
    assert oracle.price(priced) == ASSET_USD * WAD


def test_second_feed_beyond_deviation(oracle, priced, cross_checked, owner):
    cross_checked.set_answer(2_550 * 10**18 + 1, sender=owner)
    with ape.reverts(errors.FEEDS_DEVIATE):
        oracle.price(priced)


def test_second_feed_stale(oracle, priced, cross_checked, owner, chain):
    t = now(chain)
    cross_checked.set_round(3, ASSET_USD * 10**18, t, t - HEARTBEAT - 30, 3, sender=owner)
    with ape.reverts(errors.SECOND_STALE):
        oracle.price(priced)


def test_second_feed_negative(oracle, priced, cross_checked, owner):
    cross_checked.set_answer(-5, sender=owner)
    with ape.reverts(errors.SECOND_NOT_POSITIVE):
        oracle.price(priced)


def test_remove_second_feed(oracle, priced, cross_checked, owner):
    cross_checked.set_answer(1 * 10**18, sender=owner)
    with ape.reverts(errors.FEEDS_DEVIATE):
        oracle.price(priced)
    oracle.remove_secondary_feed(priced, sender=owner)
    assert oracle.price(priced) == ASSET_USD * WAD


def test_replacing_the_primary_keeps_the_second_feed_check(
    oracle, priced, cross_checked, owner, make_feed
):
    """The config is packed into words: a new primary must not drop the
    "second feed set" bit (the cross-check would silently stop)."""
    new_primary = make_feed(ASSET_USD, decimals=6)
    oracle.set_feed(priced, new_primary, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    cross_checked.set_answer(2_550 * 10**18 + 1, sender=owner)
    with ape.reverts(errors.FEEDS_DEVIATE):
        oracle.price(priced)
    cfg = oracle.price_config(priced)
    assert (cfg.primary.aggregator, cfg.primary.scale) == (new_primary.address, 10**12)
    assert (cfg.secondary.aggregator, cfg.max_deviation) == (cross_checked.address, WAD // 50)
    oracle.remove_secondary_feed(priced, sender=owner)
    assert oracle.price(priced) == ASSET_USD * WAD
    cfg = oracle.price_config(priced)
    assert (cfg.secondary.aggregator, cfg.secondary.heartbeat, cfg.max_deviation) == (
        ZERO_ADDRESS,
        0,
        0,
    )


def test_config_extremes_round_trip(oracle, owner, asset, make_feed, chain):
    """Every packed field at its largest allowed value reads back unchanged
    (a Chainlink phase is a uint16)."""
    primary = make_feed(1, decimals=0)
    second = make_feed(1, decimals=18)
    t, top_phase = now(chain), (1 << 16) - 1
    for f, answer in ((primary, 1), (second, WAD)):
        f.set_round(top_phase << 64 | 1, answer, t, t, top_phase << 64 | 1, sender=owner)
    week = 7 * 86_400
    top = 10**36  # constants.MAX_PRICE
    oracle.set_feed(asset, primary, week, WAD - 1, top, sender=owner)
    oracle.set_secondary_feed(asset, second, week, WAD, sender=owner)
    cfg = oracle.price_config(asset)
    assert tuple(cfg.primary) == (primary.address, week, 10**18, 0, top_phase)
    assert tuple(cfg.secondary) == (second.address, week, 1, 18, top_phase)
    assert (cfg.min_price, cfg.max_price, cfg.max_deviation) == (WAD - 1, top, WAD)
    assert oracle.price(asset) == WAD


def test_remove_feed(oracle, priced, owner):
    tx = oracle.remove_feed(priced, sender=owner)
    assert len(tx.decode_logs(oracle.FeedRemoved)) == 1
    with ape.reverts(errors.NO_FEED):
        oracle.price(priced)


# ---------------------------------------------------------------- configuration


def test_only_owner_configures(oracle, asset, feed, stranger, priced):
    with ape.reverts(errors.NOT_OWNER):
        oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=stranger)
    with ape.reverts(errors.NOT_OWNER):
        oracle.set_secondary_feed(asset, feed, HEARTBEAT, WAD // 50, sender=stranger)
    with ape.reverts(errors.NOT_OWNER):
        oracle.remove_feed(asset, sender=stranger)


@pytest.mark.parametrize(
    ("heartbeat", "lo", "hi", "reason"),
    [
        (0, MIN_PRICE, MAX_PRICE, errors.ZERO_HEARTBEAT),
        (7 * 86_400 + 1, MIN_PRICE, MAX_PRICE, errors.HEARTBEAT_TOO_LONG),
        (HEARTBEAT, 0, MAX_PRICE, errors.MIN_PRICE_ZERO),
        (HEARTBEAT, MAX_PRICE, MAX_PRICE, errors.MAX_PRICE_BELOW_MIN),
        (HEARTBEAT, MIN_PRICE, 10**36 + 1, errors.MAX_PRICE_TOO_LARGE),
        # The feed's current answer ($2,500) must lie inside the bounds.
        (HEARTBEAT, 3_000 * WAD, 4_000 * WAD, errors.PRICE_OUT_OF_BOUNDS),
    ],
)
def test_set_feed_rejects_bad_config(oracle, owner, asset, feed, heartbeat, lo, hi, reason):
    with ape.reverts(reason):
        oracle.set_feed(asset, feed, heartbeat, lo, hi, sender=owner)
    assert not oracle.has_feed(asset)


def test_set_feed_rejects_non_contract_and_wide_decimals(oracle, owner, asset, project, stranger):
    with ape.reverts(errors.FEED_NOT_CONTRACT):
        oracle.set_feed(asset, stranger, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    wide = owner.deploy(project.MockAggregator, 19, "X / USD", 10**19)
    with ape.reverts(errors.FEED_DECIMALS):
        oracle.set_feed(asset, wide, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)


def test_primary_cannot_become_the_second_feed(oracle, priced, cross_checked, owner):
    """Regression (review): set_feed(primary := second feed) compared the
    feed with itself, so a crash on that feed passed unchecked."""
    with ape.reverts(errors.PRIMARY_IS_SECOND):
        oracle.set_feed(priced, cross_checked, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    cross_checked.set_answer(1 * 10**18, sender=owner)
    with ape.reverts(errors.FEEDS_DEVIATE):
        oracle.price(priced)


def test_second_feed_config_is_owner_only(oracle, priced, cross_checked, stranger, make_feed):
    with ape.reverts(errors.NOT_OWNER):
        oracle.remove_secondary_feed(priced, sender=stranger)
    with ape.reverts(errors.NOT_OWNER):
        oracle.set_secondary_feed(priced, make_feed(ASSET_USD), HEARTBEAT, WAD, sender=stranger)
    with ape.reverts(errors.NOT_OWNER):
        oracle.remove_feed(priced, sender=stranger)


def test_set_secondary_rejects_bad_config(oracle, owner, asset, priced, feed, make_feed):
    other = make_feed(ASSET_USD)
    with ape.reverts(errors.ZERO_DEVIATION):
        oracle.set_secondary_feed(priced, other, HEARTBEAT, 0, sender=owner)
    with ape.reverts(errors.DEVIATION_TOO_HIGH):
        oracle.set_secondary_feed(priced, other, HEARTBEAT, WAD + 1, sender=owner)
    with ape.reverts(errors.SECOND_IS_PRIMARY):
        oracle.set_secondary_feed(priced, feed, HEARTBEAT, WAD // 50, sender=owner)
    far = make_feed(ASSET_USD * 2)
    with ape.reverts(errors.FEEDS_DEVIATE):
        oracle.set_secondary_feed(priced, far, HEARTBEAT, WAD // 50, sender=owner)


def test_two_step_ownership(oracle, owner, stranger, asset, feed):
    oracle.transfer_ownership(stranger, sender=owner)
    assert oracle.owner() == owner.address  # not yet
    assert oracle.pending_owner() == stranger.address
    with ape.reverts(errors.NOT_NEW_OWNER):
        oracle.accept_ownership(sender=owner)
    oracle.accept_ownership(sender=stranger)
    assert oracle.owner() == stranger.address
    with ape.reverts(errors.NOT_OWNER):
        oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    assert not hasattr(oracle, "renounce_ownership")


def test_price_time_reports_the_primary_rounds_publication(
    oracle, priced, feed, cross_checked, owner, chain
):
    """Delayed orders settle only on a price published after their delay:
    `price_time` gives the price and the primary feed's updatedAt (the
    second feed only cross-checks it), and fails as `price` does."""
    t = now(chain)
    feed.set_round(7, 2_510 * 10**8, t - 40, t - 30, 7, sender=owner)
    cross_checked.set_round(3, 2_500 * 10**18, t - 5, t - 5, 3, sender=owner)
    assert tuple(oracle.price_time(priced)) == (2_510 * WAD, t - 30)
    feed.set_round(8, 2_510 * 10**8, t, t - HEARTBEAT - 30, 8, sender=owner)
    with ape.reverts(errors.PRICE_STALE):
        oracle.price_time(priced)


# ---------------------------------------------------------------- hostile feeds (issue 19)


def _call_failure(method, *args, gas: int) -> str:
    """The failure of an `eth_call` of `method` given only `gas` (Ape's own
    view calls do not pass a gas limit): it must fail, and within the gas."""
    from ape import chain

    data = method.as_transaction(*args).data
    try:
        chain.provider.web3.eth.call({"to": method.contract.address, "data": data, "gas": gas})
    except Exception as err:  # the provider's own error type
        assert "out of gas" not in str(err).lower(), err
        return str(err)
    raise AssertionError("the call succeeded")


@pytest.mark.parametrize("mode", [1, 2, 3], ids=["long reason", "no data", "gas burner"])
def test_a_hostile_feed_is_an_invalid_price_with_the_routers_reason(
    oracle, owner, asset, project, mode
):
    """A feed that reverts (with a reason of its own or none) or burns all
    the gas it gets is an invalid price for its asset, with this router's
    reason: readers never see empty revert data or the feed's text, and a
    gas burner costs at most its cap (the read fits in 300,000 gas: the
    latestRoundData cap is 100,000, decimals is not reached)."""
    feed = owner.deploy(project.MockRevertingFeed, ASSET_USD * 10**8)
    oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    assert oracle.price(asset) == ASSET_USD * WAD
    feed.set_mode(mode, sender=owner)
    with ape.reverts(errors.FEED_CALL_FAILED):
        oracle.price(asset)
    assert errors.FEED_CALL_FAILED in _call_failure(oracle.price, asset, gas=300_000)
    feed.set_mode(0, sender=owner)
    assert oracle.price(asset) == ASSET_USD * WAD


def test_a_hostile_second_feed_has_its_own_reason(oracle, owner, priced, project):
    second = owner.deploy(project.MockRevertingFeed, ASSET_USD * 10**8)
    oracle.set_secondary_feed(priced, second, HEARTBEAT, WAD // 50, sender=owner)
    second.set_mode(3, sender=owner)
    with ape.reverts(errors.SECOND_CALL_FAILED):
        oracle.price(priced)
    assert errors.SECOND_CALL_FAILED in _call_failure(oracle.price, priced, gas=400_000)


def test_a_feed_whose_decimals_change_is_refused_until_set_again(
    oracle, owner, priced, feed, chain
):
    """Found by an attack: the router read decimals once, so a feed (or a
    proxy's new phase) moving from 8 to 6 decimals was read 100x low:
    $25.00 for $2,500, inside the bounds. Every read now checks them; the
    owner's `set_feed` takes the new scale."""
    feed.set_decimals(6, sender=owner)
    feed.set_answer(ASSET_USD * 10**6, sender=owner)
    with ape.reverts(errors.FEED_DECIMALS_CHANGED):
        oracle.price(priced)
    # The model refuses it the same way, before any other check.
    rnd = model.Round(*feed.latestRoundData(), decimals=feed.decimals())
    bounds = model.PriceBounds(MIN_PRICE, MAX_PRICE)
    with pytest.raises(model.PriceError, match=errors.FEED_DECIMALS_CHANGED):
        model.normalise_price(rnd, model.FeedParams(8, HEARTBEAT), bounds, now(chain))
    oracle.set_feed(priced, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    assert oracle.price(priced) == ASSET_USD * WAD


def test_a_second_feed_whose_decimals_change_is_refused(oracle, owner, priced, cross_checked):
    cross_checked.set_decimals(8, sender=owner)
    with ape.reverts(errors.SECOND_DECIMALS_CHANGED):
        oracle.price(priced)


# ---------------------------------------------------------------- Chainlink phases and rounds

PHASE = 1 << 64  # roundId = phaseId << 64 | aggregatorRoundId


def test_a_phase_change_is_refused_until_the_owner_confirms(
    oracle, owner, stranger, priced, feed, chain
):
    """A Chainlink proxy moved to a new aggregator (phase 1): its rounds come
    from code nobody checked, so the router refuses them with its own
    reason until the owner confirms the feed; the confirmed phase then
    reads as before. The model refuses the same round the same way."""
    t = now(chain)
    feed.set_round(PHASE | 1, 2_600 * 10**8, t, t, PHASE | 1, sender=owner)
    with ape.reverts(errors.FEED_PHASE_CHANGED):
        oracle.price(priced)
    rnd = model.Round(*feed.latestRoundData())
    bounds = model.PriceBounds(MIN_PRICE, MAX_PRICE)
    with pytest.raises(model.PriceError, match=errors.FEED_PHASE_CHANGED):
        model.normalise_price(rnd, model.FeedParams(8, HEARTBEAT), bounds, t)
    assert model.normalise_price(rnd, model.FeedParams(8, HEARTBEAT, 1), bounds, t) == 2_600 * WAD
    with ape.reverts(errors.NOT_OWNER):
        oracle.confirm_feed(priced, sender=stranger)
    tx = oracle.confirm_feed(priced, sender=owner)
    [ev] = tx.decode_logs(oracle.FeedConfirmed)
    assert (ev.asset, ev.phase, ev.second_phase) == (priced.address, 1, 0)
    assert oracle.price(priced) == 2_600 * WAD
    assert oracle.price_config(priced).primary.phase == 1
    with ape.reverts(errors.NO_FEED):
        oracle.confirm_feed(ZERO_ADDRESS, sender=owner)


def test_a_second_feeds_phase_change_has_its_own_reason(
    oracle, owner, priced, cross_checked, chain
):
    t = now(chain)
    cross_checked.set_round(3 * PHASE | 7, ASSET_USD * 10**18, t, t, 3 * PHASE | 7, sender=owner)
    with ape.reverts(errors.SECOND_PHASE_CHANGED):
        oracle.price(priced)
    oracle.confirm_feed(priced, sender=owner)
    cfg = oracle.price_config(priced)
    assert (cfg.primary.phase, cfg.secondary.phase) == (0, 3)
    assert oracle.price(priced) == ASSET_USD * WAD
    # Replacing the primary keeps the second feed's phase; removing the
    # second feed clears it.
    primary = oracle.price_config(priced).primary.aggregator
    oracle.set_feed(priced, primary, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    assert oracle.price_config(priced).secondary.phase == 3
    oracle.remove_secondary_feed(priced, sender=owner)
    assert oracle.price_config(priced).secondary.phase == 0


def test_a_feed_set_in_a_later_phase_is_read_in_it(oracle, owner, asset, feed, chain):
    t = now(chain)
    feed.set_round(5 * PHASE | 2, 2_400 * 10**8, t, t, 5 * PHASE | 2, sender=owner)
    oracle.set_feed(asset, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    assert oracle.price_config(asset).primary.phase == 5
    assert oracle.price(asset) == 2_400 * WAD


def test_rounds_that_go_back_are_priced_by_their_own_time(oracle, owner, priced, feed, chain):
    """Round ids are not promised to grow. A feed that answers round 9, then
    round 4 published earlier, is read by `updatedAt` alone: round 4's
    price with its own (older) publication time, so a delayed order never
    takes it for a price published after its delay; older than the
    heartbeat, it is stale."""
    t = now(chain)
    feed.set_round(9, 2_510 * 10**8, t - 5, t - 5, 9, sender=owner)
    assert tuple(oracle.price_time(priced)) == (2_510 * WAD, t - 5)
    feed.set_round(4, 2_490 * 10**8, t - 50, t - 50, 4, sender=owner)
    assert tuple(oracle.price_time(priced)) == (2_490 * WAD, t - 50)
    feed.set_round(3, 2_490 * 10**8, t, t - HEARTBEAT - 1, 3, sender=owner)
    with ape.reverts(errors.PRICE_STALE):
        oracle.price(priced)
