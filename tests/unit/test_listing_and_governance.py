"""Asset registry, owner/guardian roles and two-step ownership of the Clearinghouse."""

import ape
import pytest

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE, QUOTE_CAP, WBTC_CAP, WETH_CAP
from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD


@pytest.fixture
def priced_token(make_token, make_feed, oracle, owner):
    def make(decimals: int, usd: int = 2, symbol: str = "NEW"):
        token = make_token(decimals, symbol)
        oracle.set_feed(token, make_feed(usd), HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
        return token

    return make


def test_initial_listing(clearinghouse, usdc, weth_listed, wbtc_listed, oracle, owner, guardian):
    assert clearinghouse.owner() == owner.address
    assert clearinghouse.guardian() == guardian.address
    assert clearinghouse.oracle() == oracle.address
    assert clearinghouse.quote_asset() == usdc.address
    assert clearinghouse.listed_assets() == [
        usdc.address,
        weth_listed.token.address,
        wbtc_listed.token.address,
    ]
    q = clearinghouse.asset_config(usdc)
    assert (q.listed, q.index, q.decimals, q.precision) == (True, 0, 6, 10**12)
    assert (q.im_haircut, q.mm_haircut, q.cap) == (0, 0, QUOTE_CAP)
    w = clearinghouse.asset_config(weth_listed.token)
    assert (w.index, w.decimals, w.precision, w.cap) == (1, 18, 1, WETH_CAP)
    assert (w.im_haircut, w.mm_haircut) == (WAD // 5, WAD // 10)
    b = clearinghouse.asset_config(wbtc_listed.token)
    assert (b.index, b.decimals, b.precision, b.cap) == (2, 8, 10**10, WBTC_CAP)


@pytest.mark.parametrize("decimals", [0, 6, 8, 18])
def test_list_reads_decimals(clearinghouse, owner, priced_token, decimals):
    token = priced_token(decimals)
    tx = clearinghouse.list_asset(token, WAD // 4, WAD // 8, 10**30, sender=owner)
    cfg = clearinghouse.asset_config(token)
    assert cfg.decimals == decimals
    assert cfg.precision == 10 ** (18 - decimals)
    [ev] = tx.decode_logs(clearinghouse.AssetListed)
    assert (ev.asset, ev.index, ev.decimals) == (token.address, 3, decimals)
    assert (ev.im_haircut, ev.mm_haircut, ev.cap) == (WAD // 4, WAD // 8, 10**30)


def test_list_rejects(clearinghouse, owner, stranger, priced_token, make_token, weth_listed):
    token = priced_token(18)
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.list_asset(token, 0, 0, 1, sender=stranger)
    with ape.reverts(errors.HAIRCUT_TOO_HIGH):
        clearinghouse.list_asset(token, WAD + 1, 0, 1, sender=owner)
    with ape.reverts(errors.MM_HAIRCUT_ABOVE_IM):
        clearinghouse.list_asset(token, WAD // 10, WAD // 5, 1, sender=owner)
    with ape.reverts(errors.CAP_TOO_LARGE):
        clearinghouse.list_asset(token, 0, 0, 2**128 + 1, sender=owner)
    with ape.reverts(errors.ASSET_ALREADY_LISTED):
        clearinghouse.list_asset(weth_listed.token, 0, 0, 1, sender=owner)
    # No feed: the router's reason surfaces.
    with ape.reverts(errors.NO_FEED):
        clearinghouse.list_asset(make_token(18), 0, 0, 1, sender=owner)
    assert clearinghouse.num_assets() == 3


def test_list_rejects_wide_decimals(clearinghouse, owner, priced_token):
    with ape.reverts(errors.TOKEN_DECIMALS):
        clearinghouse.list_asset(priced_token(24), 0, 0, 1, sender=owner)


def test_asset_limit(clearinghouse, owner, stranger, priced_token):
    """3 listed; 13 more fill the 16 slots, the 17th is refused. Issue 20
    point 5: an asset's configuration is one storage word (haircuts,
    index, decimals, precision; the cap apart): the last asset takes every
    lane at its bound (index 15, 0 decimals so precision 1e18, haircuts
    100 %, the largest cap) and reads back unchanged, as does its
    neighbour; new haircuts leave the other lanes as they were."""
    for i in range(12):
        clearinghouse.list_asset(priced_token(18, symbol=f"T{i}"), 0, 0, 1, sender=owner)
    last = priced_token(0, symbol="T12")
    clearinghouse.list_asset(last, WAD, WAD, 2**128, sender=owner)
    assert clearinghouse.num_assets() == 16
    before = clearinghouse.asset_config(clearinghouse.asset_list(14))
    assert tuple(before) == (True, 14, 18, 1, 0, 0, 1)
    assert tuple(clearinghouse.asset_config(last)) == (True, 15, 0, 10**18, WAD, WAD, 2**128)
    clearinghouse.set_asset_params(last, WAD - 1, 1, 0, sender=owner)
    assert tuple(clearinghouse.asset_config(last)) == (True, 15, 0, 10**18, WAD - 1, 1, 0)
    assert clearinghouse.asset_config(clearinghouse.asset_list(14)) == before
    assert tuple(clearinghouse.asset_config(stranger)) == (False, 0, 0, 0, 0, 0, 0)
    with ape.reverts(errors.TOO_MANY_ASSETS):
        clearinghouse.list_asset(priced_token(18), 0, 0, 1, sender=owner)


def test_set_asset_params(clearinghouse, owner, stranger, weth_listed, usdc, priced_token):
    tx = clearinghouse.set_asset_params(weth_listed.token, WAD // 2, WAD // 3, 7, sender=owner)
    cfg = clearinghouse.asset_config(weth_listed.token)
    assert (cfg.im_haircut, cfg.mm_haircut, cfg.cap) == (WAD // 2, WAD // 3, 7)
    [ev] = tx.decode_logs(clearinghouse.AssetParamsSet)
    assert (ev.im_haircut, ev.mm_haircut, ev.cap) == (WAD // 2, WAD // 3, 7)
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.set_asset_params(weth_listed.token, 0, 0, 7, sender=stranger)
    with ape.reverts(errors.QUOTE_HAIRCUT):
        clearinghouse.set_asset_params(usdc, WAD // 100, 0, 7, sender=owner)
    with ape.reverts(errors.ASSET_NOT_LISTED):
        clearinghouse.set_asset_params(priced_token(18), 0, 0, 7, sender=owner)
    with ape.reverts(errors.MM_HAIRCUT_ABOVE_IM):
        clearinghouse.set_asset_params(weth_listed.token, 1, 2, 7, sender=owner)


def test_set_oracle_requires_prices(
    clearinghouse, owner, stranger, project, weth_listed, wbtc_listed
):
    new = owner.deploy(project.OracleRouter)
    with ape.reverts(errors.NO_FEED):
        clearinghouse.set_oracle(new, sender=owner)
    for listed in (weth_listed, wbtc_listed):
        new.set_feed(listed.token, listed.feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.set_oracle(new, sender=stranger)
    with ape.reverts(errors.ORACLE_NOT_CONTRACT):
        clearinghouse.set_oracle(stranger, sender=owner)
    old = clearinghouse.oracle()
    tx = clearinghouse.set_oracle(new, sender=owner)
    [ev] = tx.decode_logs(clearinghouse.OracleSet)
    assert (ev.previous_oracle, ev.new_oracle) == (old, new.address)
    assert clearinghouse.oracle() == new.address


# ---------------------------------------------------------------- roles


def test_guardian_pauses_owner_unpauses(clearinghouse, owner, guardian, stranger):
    with ape.reverts(errors.NOT_OWNER_OR_GUARDIAN):
        clearinghouse.pause(sender=stranger)
    tx = clearinghouse.pause(sender=guardian)
    assert clearinghouse.paused()
    assert tx.decode_logs(clearinghouse.Paused)[0].account == guardian.address
    with ape.reverts(errors.ALREADY_PAUSED):
        clearinghouse.pause(sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.unpause(sender=guardian)
    tx = clearinghouse.unpause(sender=owner)
    assert not clearinghouse.paused()
    assert tx.decode_logs(clearinghouse.Unpaused)[0].account == owner.address
    with ape.reverts(errors.NOT_PAUSED):
        clearinghouse.unpause(sender=owner)


def test_owner_can_pause(clearinghouse, owner):
    clearinghouse.pause(sender=owner)
    assert clearinghouse.paused()


def test_set_guardian(clearinghouse, owner, guardian, stranger):
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.set_guardian(stranger, sender=guardian)
    tx = clearinghouse.set_guardian(stranger, sender=owner)
    [ev] = tx.decode_logs(clearinghouse.GuardianSet)
    assert (ev.previous_guardian, ev.new_guardian) == (guardian.address, stranger.address)
    with ape.reverts(errors.NOT_OWNER_OR_GUARDIAN):
        clearinghouse.pause(sender=guardian)
    clearinghouse.pause(sender=stranger)


def test_two_step_ownership(clearinghouse, owner, stranger, weth_listed):
    clearinghouse.transfer_ownership(stranger, sender=owner)
    assert clearinghouse.owner() == owner.address
    assert clearinghouse.pending_owner() == stranger.address
    clearinghouse.accept_ownership(sender=stranger)
    assert clearinghouse.owner() == stranger.address
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.set_asset_params(weth_listed.token, 0, 0, 1, sender=owner)
    assert not hasattr(clearinghouse, "renounce_ownership")
