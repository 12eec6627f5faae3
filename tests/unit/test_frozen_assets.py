"""Issue 19, points 1 and 2: a collateral token that turns hostile (paused,
blocklisting) or whose feed dies cannot block a liquidation or keep a bad
debt on the books.

Setting: test_liquidation's flat ETH market and liquidation parameters, and
HOST, a hostile-capable 18-decimal collateral at $2,600 (haircuts: initial
20 %, maintenance 10 %). The trader deposits 1,000 USDC and 1 HOST and buys
10 ETH at $3,000 (quote 969.85). At $2,600 its equity is
969.85 - 4,000 + 90 % * 2,600 = -690.15: the keeper closes it whole and
takes 75 % of the 2 % penalty on $26,000 (390). Left: 1 HOST against a
quote debt of 969.85 - 4,000 - 390 = -3,420.15 USDC, equity
-3,420.15 + 2,340 = -1,080.15 < MM = 0.
"""

from __future__ import annotations

import ape
import pytest

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE
from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.maths import errors
from xmargin.maths.liquidation import LiquidationParams
from xmargin.maths.model import frozen_haircut

FEED = 10**8
WAD = 10**18
DAY = 86_400
PAUSED, BLOCKLIST, BROKEN_VIEWS = 1, 2, 6
DEBT = 3_420_150_000  # native USDC


def set_price(feed, owner, usd: int) -> None:
    feed.set_answer(usd * FEED, sender=owner)


def list_at_2600(ch, oracle, owner, make_feed, token, symbol: str):
    """Lists `token` as collateral at $2,600 (haircuts 20 % / 10 %)."""
    feed = make_feed(2_600, description=f"{symbol} / USD")
    oracle.set_feed(token, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    ch.list_asset(token, WAD // 5, WAD // 10, 1_000 * ETH, sender=owner)
    return token


def leave_debt(ch, token, owner, weth, usdc, trader, keeper, fund, eth_feed) -> None:
    """1 `token` against a 3,420.15 USDC debt, no position (module notes)."""
    ch.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner)
    allow_atomic(ch, owner)
    ch.set_liquidation_params(LiquidationParams().as_tuple(), sender=owner)
    fund(usdc, trader, 1_000 * USDC, ch)
    fund(token, trader, ETH, ch)
    ch.deposit(0, usdc, 1_000 * USDC, sender=trader)
    ch.deposit(0, token, ETH, sender=trader)
    ch.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader)
    set_price(eth_feed, owner, 2_600)
    ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper)
    assert ch.balance_of(trader, 0, usdc) == -DEBT
    assert ch.balance_of(trader, 0, token) == ETH


@pytest.fixture
def host(project, owner, oracle, clearinghouse, make_feed):
    token = owner.deploy(project.MockHostileToken, "Hostile", "HOST", 18)
    return list_at_2600(clearinghouse, oracle, owner, make_feed, token, "HOST")


@pytest.fixture
def host_backed(clearinghouse, owner, weth, usdc, host, trader, keeper, fund, eth_feed):
    """1 HOST against a 3,420.15 USDC debt, no position (module notes)."""
    ch = clearinghouse
    leave_debt(ch, host, owner, weth, usdc, trader, keeper, fund, eth_feed)
    assert ch.account_health(trader, 0).equity == -1_080_150_000 * 10**12
    return ch


def host_engine(ch, oracle, lens, usdc, weth, host, eth_feed, symbol: str = "HOST"):
    """The keeper's view of this engine: USDC, WETH and HOST (or another
    collateral under `symbol`), the ETH market."""
    from tests.engines import engine_over

    host_feed = ch.chain_manager.contracts.instance_at(oracle.price_config(host).primary.aggregator)
    tokens = {"USDC": usdc, "WETH": weth, symbol: host}
    feeds = {"WETH": eth_feed, symbol: host_feed}
    return engine_over(ch, oracle, tokens, feeds, {"ETH": 0}, lens=lens)


def ledgers(ch, token, people) -> int:
    """Every ledger of a non-quote token: the people's sub-account 0 and the
    insurance account (the Clearinghouse's own sub-account 0)."""
    return sum(ch.balance_of(p, 0, token) for p in people) + ch.balance_of(ch, 0, token)


# ---------------------------------------------------------------- seizure without transfers


@pytest.mark.parametrize("mode", [PAUSED, BLOCKLIST], ids=["paused", "blocklists the engine"])
def test_a_hostile_collateral_token_cannot_block_its_liquidation(
    host_backed, host, trader, stranger, usdc, fund, mode, snapshot_balances
):
    """Before issue 19 the engine pushed the seized HOST out, so a paused
    token (or one blocklisting the engine) made the debt permanent. Now the
    1,000 USDC repayment buys 1,000 / (2,600 * 95 %) HOST, credited to the
    liquidator's sub-account 0: the token is never called. Withdrawing it is
    the liquidator's own step, which the token refuses until it recovers,
    moving nothing."""
    ch = host_backed
    host.set_mode(mode, sender=stranger)
    host.set_blocked(ch, True, sender=stranger)
    fund(usdc, stranger, 1_000 * USDC, ch)
    expected = 1_000 * USDC * 10**12 * E18 // (2_470 * E18)
    assert expected == 404_858_299_595_141_700
    tx = ch.liquidate_collateral(trader, 0, host, 1_000 * USDC, expected, sender=stranger)
    (ev,) = tx.events.filter(ch.CollateralLiquidation)
    assert (ev.repaid, ev.collateral_out) == (1_000 * USDC, expected)
    assert ch.balance_of(stranger, 0, host) == expected
    assert ch.balance_of(trader, 0, host) == ETH - expected
    assert ch.balance_of(trader, 0, usdc) == -DEBT + 1_000 * USDC
    assert host.balanceOf(ch) == ETH == ledgers(ch, host, [trader, stranger])
    before = snapshot_balances(ch, [host, usdc], [trader, stranger])
    with ape.reverts():
        ch.withdraw(0, host, expected, sender=stranger)
    assert snapshot_balances(ch, [host, usdc], [trader, stranger]) == before
    host.set_mode(0, sender=stranger)
    ch.withdraw(0, host, expected, sender=stranger)
    assert host.balanceOf(stranger) == expected
    assert host.balanceOf(ch) == ETH - expected == ledgers(ch, host, [trader, stranger])


def test_the_keeper_keeps_seized_collateral_its_token_will_not_send(
    lens, host_backed, host, trader, keeper, usdc, weth, oracle, eth_feed, owner, fund
):
    """The keeper repays the whole debt it can (5,000 USDC in its wallet):
    the account's 1 HOST costs 2,470, and the rest, 950.15, is bad debt.
    Its withdrawal of the HOST fails on the paused token: logged, the HOST
    stays in its sub-account 0, and the pass ends normally."""
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = host_backed
    host.set_mode(PAUSED, sender=keeper)
    fund(usdc, keeper, 5_000 * USDC, ch)
    engine = host_engine(ch, oracle, lens, usdc, weth, host, eth_feed)
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    (done,) = [e for e in log if e["event"] == "collateral_liquidated"]
    assert (done["repaid"], done["collateral_out"]) == (2_470 * USDC, ETH)
    (kept,) = [e for e in log if e["event"] == "seized_kept"]
    assert (kept["asset"], kept["amount"]) == ("HOST", ETH)
    assert (stats.collateral_liquidations, stats.withdrawals_failed) == (1, 1)
    assert ch.balance_of(keeper, 0, host) == ETH == host.balanceOf(ch)
    assert ch.balance_of(trader, 0, usdc) == 0 and ch.held_mask(trader, 0) == 0
    assert ch.bad_debt_total() == DEBT - 2_470 * USDC


def test_a_token_whose_views_break_blocks_neither_its_seizure_nor_the_keeper(
    lens, host_backed, host, trader, keeper, stranger, usdc, weth, oracle, eth_feed, fund
):
    """HOST is upgraded so that `balanceOf` reverts. Before, a collateral
    liquidation read the engine's balance (the shortfall check) and
    reverted, and the keeper's asset pass raised before it scanned anyone.
    Now the seizure reads it with a gas cap and, unable to, takes the token
    as covered: the keeper repays 2,470 (1 HOST at 2,600 x 95 %), the rest
    (950.15) is bad debt, its withdrawal of the HOST is refused (the token
    cannot show the engine's balance), and the pass logs the asset and
    ends. Deposits and `reconcile` fail with the token's reason."""
    from xmargin.chain.assets import read_asset_states
    from xmargin.ops.keeper import Keeper, KeeperConfig
    from xmargin.ui.report import asset_lines

    ch = host_backed
    host.set_mode(BROKEN_VIEWS, sender=stranger)
    with ape.reverts("views broken"):
        ch.reconcile(host, sender=stranger)
    fund(host, stranger, ETH, ch)
    with ape.reverts("views broken"):
        ch.deposit(0, host, ETH, sender=stranger)
    fund(usdc, keeper, 5_000 * USDC, ch)
    engine = host_engine(ch, oracle, lens, usdc, weth, host, eth_feed)
    (state,) = [a for a in read_asset_states(engine) if a.symbol == "HOST"]
    assert (state.held, state.shortfall) == (None, 0)
    (line,) = asset_lines([state], {"HOST": 18}, 0)
    assert "balanceOf cannot be read" in line
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    assert {"event": "asset_balance_unreadable", "asset": "HOST"} in log
    (done,) = [e for e in log if e["event"] == "collateral_liquidated"]
    assert (done["repaid"], done["collateral_out"]) == (2_470 * USDC, ETH)
    (kept,) = [e for e in log if e["event"] == "seized_kept"]
    assert (kept["amount"], kept["reason"]) == (ETH, "views broken")
    assert (stats.collateral_liquidations, stats.withdrawals_failed) == (1, 1)
    assert ch.balance_of(trader, 0, usdc) == 0 and ch.held_mask(trader, 0) == 0
    assert ch.bad_debt_total() == DEBT - 2_470 * USDC
    host.set_mode(0, sender=stranger)
    assert host.balanceOf(ch) == ETH == ch.balance_of(keeper, 0, host)


@pytest.fixture
def odd_backed(
    project, clearinghouse, owner, oracle, make_feed, weth, usdc, trader, keeper, fund, eth_feed
):
    """`host_backed` with ODD (contracts/mocks/MockOddViewToken.vy, found
    by review), whose `balanceOf` can burn its gas (mode 1) or answer no
    data (mode 2): 1 ODD at $2,600 against the same 3,420.15 USDC debt."""
    ch = clearinghouse
    odd = owner.deploy(project.MockOddViewToken, "Odd", "ODD", 18)
    list_at_2600(ch, oracle, owner, make_feed, odd, "ODD")
    leave_debt(ch, odd, owner, weth, usdc, trader, keeper, fund, eth_feed)
    return odd


def test_a_balance_of_that_burns_gas_or_answers_nothing_blocks_no_seizure(
    odd_backed, clearinghouse, lens, oracle, usdc, weth, eth_feed, trader, keeper, stranger, fund
):
    """The shapes a uint256 view cannot have (review). The engine reads the
    balance with 100k gas and wants one word, so in both modes it takes ODD
    as covered: 1,000 USDC buys 1,000 / (2,600 x 95 %) ODD, as for HOST.
    The keeper reads it the same way: unreadable, not 0 (read as 0, it
    priced ODD at nothing and raised out of the pass), and repays 2,470
    for the whole 1 ODD; its withdrawal of the ODD fails (the engine's
    uncapped transfer check cannot decode the balance) and is kept."""
    from xmargin.chain.assets import read_asset_states
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch, odd = clearinghouse, odd_backed
    part = 1_000 * USDC * 10**12 * E18 // (2_470 * E18)
    engine = host_engine(ch, oracle, lens, usdc, weth, odd, eth_feed, symbol="ODD")
    for mode in (1, 2):
        odd.set_mode(mode, sender=stranger)
        (state,) = [a for a in read_asset_states(engine) if a.symbol == "ODD"]
        assert (state.held, state.shortfall) == (None, 0)
        snap = ch.chain_manager.snapshot()
        fund(usdc, stranger, 1_000 * USDC, ch)
        tx = ch.liquidate_collateral(
            trader, 0, odd, 1_000 * USDC, part, sender=stranger, gas=2_000_000
        )
        (ev,) = tx.events.filter(ch.CollateralLiquidation)
        assert (ev.repaid, ev.collateral_out) == (1_000 * USDC, part)
        ch.chain_manager.restore(snap)
    # Mode 2 (no data); the keeper's own pass.
    fund(usdc, keeper, 5_000 * USDC, ch)
    log: list[dict] = []
    Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    assert {"event": "asset_balance_unreadable", "asset": "ODD"} in log
    (done,) = [e for e in log if e["event"] == "collateral_liquidated"]
    assert (done["repaid"], done["collateral_out"]) == (2_470 * USDC, ETH)
    assert [e["amount"] for e in log if e["event"] == "seized_kept"] == [ETH]
    assert ch.bad_debt_total() == DEBT - 2_470 * USDC


def test_the_keeper_gives_a_balance_read_the_gas_the_engine_gives_it(
    project, owner, clearinghouse, stranger
):
    """Found by the second review: the keeper's `eth_call` had 100k gas in
    all, of which the call's own 21,000 and its calldata come first, while
    the engine gives the token's frame 100k (VIEW_GAS). A `balanceOf`
    costing 85k (a proxy, an accruing wrapper) was then readable by the
    engine and not by the keeper, which never saw its shortfall. Now the
    keeper's frame gets VIEW_GAS too: views burning 85k and 90k (about 6k
    more with the mock's cold reads) answer, one burning 101k does not,
    as in the engine."""
    from xmargin.chain.assets import engine_balance

    odd = owner.deploy(project.MockOddViewToken, "Odd", "ODD", 18)
    odd.mint(clearinghouse, ETH, sender=owner)
    odd.set_mode(3, sender=owner)
    for cost, expected in ((85_000, ETH), (90_000, ETH), (101_000, None)):
        odd.set_cost(cost, sender=stranger)
        assert engine_balance(odd, clearinghouse.address) == expected, cost


def test_a_token_the_engine_holds_none_of_sells_for_dust_and_the_debt_is_written_off(
    host_backed, host, trader, stranger, usdc, fund
):
    """HOST rebases the engine's balance to zero (a drained token): a unit
    is backed by nothing, so it sells for 1 wei. Before, the price was 0
    and the seizure reverted with a division by zero (no reason), and the
    write-off refused while the router still priced HOST: the debt was
    stuck. Now the liquidator takes the 1 HOST for one native unit of USDC
    (1 HOST x 1 wei x 95 %, rounded up), and the debt left, 3,420.149999,
    is written off in the same call."""
    ch = host_backed
    host.rebase(ch, 10_000, False, sender=stranger)
    assert host.balanceOf(ch) == 0
    fund(usdc, stranger, 1_000 * USDC, ch)
    tx = ch.liquidate_collateral(trader, 0, host, 1_000 * USDC, 1, sender=stranger)
    (ev,) = tx.events.filter(ch.CollateralLiquidation)
    assert (ev.repaid, ev.collateral_out, ev.price) == (1, ETH, 1)
    assert ch.balance_of(trader, 0, host) == 0 and ch.balance_of(trader, 0, usdc) == 0
    assert ch.bad_debt_total() == DEBT - 1
    assert ch.balance_of(stranger, 0, host) == ETH


# ---------------------------------------------------------------- freezing


def test_freeze_roles_bounds_and_deposits(
    host_backed, host, owner, guardian, stranger, trader, usdc, fund, snapshot_balances
):
    ch = host_backed
    with ape.reverts(errors.NOT_OWNER_OR_GUARDIAN):
        ch.freeze_asset(host, DAY, sender=stranger)
    for ramp in (DAY - 1, 30 * DAY + 1):
        with ape.reverts(errors.FREEZE_RAMP_RANGE):
            ch.freeze_asset(host, ramp, sender=guardian)
    with ape.reverts(errors.QUOTE_HAIRCUT):
        ch.freeze_asset(usdc, DAY, sender=guardian)
    with ape.reverts(errors.ASSET_NOT_LISTED):
        ch.freeze_asset(stranger, DAY, sender=guardian)
    with ape.reverts(errors.ASSET_NOT_FROZEN):
        ch.ramp_frozen_haircut(host, sender=stranger)
    with ape.reverts(errors.ASSET_NOT_FROZEN):
        ch.unfreeze_asset(host, sender=owner)
    # The guardian (a hot key) must give holders a week; the owner a day.
    with ape.reverts(errors.FREEZE_RAMP_RANGE):
        ch.freeze_asset(host, 7 * DAY - 1, sender=guardian)
    tx = ch.freeze_asset(host, 7 * DAY, sender=guardian)
    (ev,) = tx.events.filter(ch.AssetFrozen)
    assert (ev.asset, ev.by, ev.ramp) == (host.address, guardian.address, 7 * DAY)
    assert (ev.im_haircut, ev.mm_haircut) == (WAD // 5, WAD // 10)
    since = ch.chain_manager.blocks[tx.block_number].timestamp
    assert tuple(ch.asset_freeze(host)) == (since, 7 * DAY, WAD // 5, WAD // 10)
    with ape.reverts(errors.ASSET_FROZEN):
        ch.freeze_asset(host, DAY, sender=owner)
    with ape.reverts(errors.ASSET_FROZEN):
        ch.set_asset_params(host, 0, 0, 10**30, sender=owner)
    fund(host, stranger, ETH, ch)
    before = snapshot_balances(ch, [host], [stranger, trader])
    with ape.reverts(errors.ASSET_FROZEN):
        ch.deposit(0, host, ETH, sender=stranger)
    assert snapshot_balances(ch, [host], [stranger, trader]) == before
    # Withdrawing and moving between sub-accounts stay open.
    with ape.reverts(errors.NOT_OWNER):
        ch.unfreeze_asset(host, sender=guardian)
    tx = ch.unfreeze_asset(host, sender=owner)
    (ev,) = tx.events.filter(ch.AssetUnfrozen)
    assert (ev.im_haircut, ev.mm_haircut) == (WAD // 5, WAD // 10)
    assert tuple(ch.asset_freeze(host)) == (0, 0, 0, 0)
    ch.deposit(0, host, ETH, sender=stranger)
    assert ch.balance_of(stranger, 0, host) == ETH


def test_haircuts_ramp_on_schedule_and_unfreeze_restores_them(
    host_backed, host, owner, guardian, stranger, clock
):
    """Frozen with a one-day ramp: after 6 hours (a quarter) the maintenance
    haircut is 10 % + 90 % / 4 = 32.5 % and the initial one
    20 % + 80 % / 4 = 40 %; after the day, both are 100 %, and stay there."""
    ch = host_backed
    clock.at(0)
    ch.freeze_asset(host, DAY, sender=owner)
    clock.at(6 * 3_600)
    tx = ch.ramp_frozen_haircut(host, sender=stranger)
    (ev,) = tx.events.filter(ch.AssetParamsSet)
    assert (ev.im_haircut, ev.mm_haircut) == (4 * WAD // 10, 325 * WAD // 1_000)
    cfg = ch.asset_config(host)
    assert (cfg.im_haircut, cfg.mm_haircut) == (4 * WAD // 10, 325 * WAD // 1_000)
    # One second in, a haircut moves by 0.9 / 86,400, rounded up.
    # 0.9e18 / 86,400 = 10,416,666,666,666.67, up to ...667.
    assert frozen_haircut(WAD // 10, 0, DAY, 1) == WAD // 10 + 10_416_666_666_667
    clock.at(DAY + 3_600)
    ch.ramp_frozen_haircut(host, sender=stranger)
    cfg = ch.asset_config(host)
    assert (cfg.im_haircut, cfg.mm_haircut) == (WAD, WAD)
    ch.unfreeze_asset(host, sender=owner)
    cfg = ch.asset_config(host)
    assert (cfg.im_haircut, cfg.mm_haircut) == (WAD // 5, WAD // 10)


# ---------------------------------------------------------------- write-off


def test_debt_backed_by_a_dead_asset_is_written_off_and_its_collateral_recovered(
    host_backed, host, owner, guardian, stranger, trader, keeper, usdc, fund, clock
):
    """The HOST token is paused and its feed dies. While its ramp runs the
    debt cannot be written off (HOST still counts) nor the HOST bought (no
    price). At the end of the ramp HOST counts for nothing and its price is
    not read: the account's equity is its debt, -3,420.15, and anyone writes
    it off. The 1 HOST moves to the insurance account; the insurance fund
    (1,000 USDC) pays first, then the pool 2,420.15. Tokens held equal the
    ledgers throughout; the owner recovers the HOST into its own account
    and withdraws it once the token works again."""
    ch = host_backed
    fund(usdc, stranger, 1_000 * USDC, ch)
    ch.fund_insurance(1_000 * USDC, sender=stranger)
    host.set_mode(PAUSED, sender=stranger)
    clock.at(0)
    ch.freeze_asset(host, DAY, sender=owner)
    clock.at(12 * 3_600)  # the feed is 12 h old: stale (heartbeat 1 h)
    ch.ramp_frozen_haircut(host, sender=stranger)
    with ape.reverts(errors.HOLDS_COLLATERAL):
        ch.settle_bad_debt(trader, 0, sender=stranger)
    with ape.reverts(errors.PRICE_STALE):
        ch.liquidate_collateral(trader, 0, host, USDC, 0, sender=stranger)
    clock.at(DAY)
    ch.ramp_frozen_haircut(host, sender=stranger)
    assert tuple(ch.account_health(trader, 0)) == (-DEBT * 10**12, 0, 0)
    pool_before = ch.pool_balance()
    tx = ch.settle_bad_debt(trader, 0, sender=stranger)
    (off,) = tx.events.filter(ch.CollateralWrittenOff)
    assert (off.owner, off.sub_id, off.asset, off.amount) == (trader.address, 0, host.address, ETH)
    (bad,) = tx.events.filter(ch.BadDebt)
    assert (bad.deficit, bad.from_insurance, bad.from_pool) == (
        DEBT,
        1_000 * USDC,
        DEBT - 1_000 * USDC,
    )
    assert pool_before - ch.pool_balance() == DEBT - 1_000 * USDC
    assert ch.insurance_fund() == 0
    assert ch.held_mask(trader, 0) == 0
    assert ch.balance_of(ch, 0, host) == ETH == host.balanceOf(ch)
    assert host.balanceOf(ch) == ledgers(ch, host, [trader, stranger, keeper, owner])
    # Recovery: the owner's, within what the insurance account holds.
    with ape.reverts(errors.NOT_OWNER):
        ch.recover_collateral(host, ETH, stranger, sender=stranger)
    with ape.reverts(errors.ZERO_AMOUNT):
        ch.recover_collateral(host, 0, owner, sender=owner)
    with ape.reverts(errors.RECOVER_ABOVE_HELD):
        ch.recover_collateral(host, ETH + 1, owner, sender=owner)
    with ape.reverts(errors.RECOVER_TO_SELF):
        ch.recover_collateral(host, ETH, ch, sender=owner)
    tx = ch.recover_collateral(host, ETH, owner, sender=owner)
    (ev,) = tx.events.filter(ch.CollateralRecovered)
    assert (ev.asset, ev.to, ev.amount) == (host.address, owner.address, ETH)
    assert ch.balance_of(owner, 0, host) == ETH and ch.balance_of(ch, 0, host) == 0
    host.set_mode(0, sender=stranger)
    ch.withdraw(0, host, ETH, sender=owner)
    assert host.balanceOf(owner) == ETH and host.balanceOf(ch) == 0


def test_a_dead_feed_stops_blocking_its_holders_once_the_asset_is_worthless(
    host_backed, host, owner, guardian, stranger, hedger, usdc, fund, eth_feed, clock
):
    """A bystander holding HOST beside USDC and an ETH position cannot take
    USDC out while HOST's feed is dead (its initial margin needs the price).
    At the end of the freeze's ramp HOST counts for nothing and is not
    priced: the withdrawal goes through (1 ETH at $2,600 needs $260 of IM,
    and 9,000 USDC is left)."""
    ch = host_backed
    fund(usdc, hedger, 10_000 * USDC, ch)
    fund(host, hedger, ETH, ch)
    ch.deposit(0, usdc, 10_000 * USDC, sender=hedger)
    ch.deposit(0, host, ETH, sender=hedger)
    ch.trade(0, 0, ETH, 2**200, sender=hedger)
    clock.at(0)
    ch.freeze_asset(host, DAY, sender=owner)
    clock.at(2 * 3_600)
    set_price(eth_feed, owner, 2_600)  # ETH's feed is fresh, HOST's is not
    with ape.reverts(errors.PRICE_STALE):
        ch.withdraw(0, usdc, 1_000 * USDC, sender=hedger)
    clock.at(DAY)
    ch.ramp_frozen_haircut(host, sender=stranger)
    set_price(eth_feed, owner, 2_600)
    ch.withdraw(0, usdc, 1_000 * USDC, sender=hedger)
    assert usdc.balanceOf(hedger) == 1_000 * USDC
    assert ch.position(hedger, 0, 0).size == ETH


def test_the_keeper_ramps_a_frozen_asset_and_writes_off_what_it_leaves(
    lens, host_backed, host, trader, keeper, owner, usdc, weth, oracle, eth_feed, clock
):
    """A day after the freeze the keeper moves HOST's haircuts to 100 %, then
    finds the account at E = -3,420.15 < MM = 0 with nothing that counts,
    and writes it off: the HOST to the insurance account, the debt to the
    pool (the insurance fund is empty)."""
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = host_backed
    clock.at(0)
    ch.freeze_asset(host, DAY, sender=owner)
    engine = host_engine(ch, oracle, lens, usdc, weth, host, eth_feed)
    clock.at(DAY)
    ch.chain_manager.mine()
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    (ramped,) = [e for e in log if e["event"] == "haircut_ramped"]
    assert (ramped["asset"], ramped["mm_haircut"], ramped["im_haircut"]) == ("HOST", WAD, WAD)
    (settled,) = [e for e in log if e["event"] == "bad_debt_settled"]
    assert (settled["deficit"], settled["from_pool"], settled["written_off"]) == (DEBT, DEBT, 1)
    assert (stats.haircuts_ramped, stats.bad_debts_settled) == (1, 1)
    assert ch.balance_of(ch, 0, host) == ETH and ch.held_mask(trader, 0) == 0
    # The next pass has nothing to do.
    log.clear()
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    assert (stats.haircuts_ramped, stats.liquidatable) == (0, 0)


# ---------------------------------------------------------------- reconciliation


@pytest.fixture
def host_held(clearinghouse, host, stranger, hedger, fund):
    """10 HOST in the stranger's account, 30 in the hedger's: 40 held."""
    ch = clearinghouse
    for who, amount in ((stranger, 10 * ETH), (hedger, 30 * ETH)):
        fund(host, who, amount, ch)
        ch.deposit(0, host, amount, sender=who)
    assert host.balanceOf(ch) == ch.total_deposits(host) == 40 * ETH
    return ch


def test_a_token_that_rebases_down_is_frozen_and_paid_pro_rata(
    host_held, host, stranger, hedger, keeper
):
    """The token takes 10 % of the engine's 40 HOST: 36 held against 40
    booked. Before issue 19 the first to withdraw got all of theirs and the
    last found the tokens gone. Now anyone's `reconcile` (or the next
    withdrawal) freezes HOST (a 7-day ramp, by the engine itself), and
    every withdrawal is paid 36 / 40 = 90 % of what it debits: 9 for the
    stranger's 10, 27 for the hedger's 30, and nothing is left over. The
    event books the ledger's debit."""
    ch = host_held
    host.rebase(ch, 1_000, False, sender=keeper)
    tx = ch.reconcile(host, sender=keeper)
    (short,) = tx.events.filter(ch.AssetShortfall)
    assert (short.asset, short.held, short.ledgers) == (host.address, 36 * ETH, 40 * ETH)
    (frozen,) = tx.events.filter(ch.AssetFrozen)
    assert (frozen.by, frozen.ramp) == (ch.address, 7 * DAY)
    # A ledger unit is backed by 0.9 HOST: the haircuts rise at once so the
    # engine values it at no more: 1 - 0.9 * (1 - 10 %) = 19 %, and
    # 1 - 0.9 * (1 - 20 %) = 28 %; the ramp starts from there.
    cfg = ch.asset_config(host)
    assert (cfg.mm_haircut, cfg.im_haircut) == (19 * WAD // 100, 28 * WAD // 100)
    assert (frozen.mm_haircut, frozen.im_haircut) == (19 * WAD // 100, 28 * WAD // 100)
    tx = ch.withdraw(0, host, 10 * ETH, sender=stranger)
    (w,) = tx.events.filter(ch.Withdraw)
    assert (w.amount, w.balance) == (10 * ETH, 0)
    assert not list(tx.events.filter(ch.AssetFrozen))  # frozen once
    assert host.balanceOf(stranger) == 9 * ETH
    assert (host.balanceOf(ch), ch.total_deposits(host)) == (27 * ETH, 30 * ETH)
    ch.withdraw(0, host, 30 * ETH, sender=hedger)
    assert host.balanceOf(hedger) == 27 * ETH
    assert host.balanceOf(ch) == ch.total_deposits(host) == 0


def test_the_first_withdrawal_after_a_rebase_down_freezes_by_itself(
    host_held, host, stranger, keeper
):
    ch = host_held
    host.rebase(ch, 2_500, False, sender=keeper)  # 30 held against 40
    tx = ch.withdraw(0, host, 4 * ETH, sender=stranger)
    (short,) = tx.events.filter(ch.AssetShortfall)
    assert (short.held, short.ledgers) == (30 * ETH, 40 * ETH)
    assert host.balanceOf(stranger) == 3 * ETH
    assert tuple(ch.asset_freeze(host))[1] == 7 * DAY
    with ape.reverts(errors.ASSET_FROZEN):
        ch.deposit(0, host, 1, sender=stranger)


def test_a_surplus_is_left_alone(host_held, host, stranger, keeper):
    """A rebase up (or a donation) leaves more tokens than ledgers: nothing
    is frozen, withdrawals pay what they debit, and the surplus stays in
    the engine (it raises no deposit total: a donation cannot fill a cap)."""
    ch = host_held
    host.rebase(ch, 1_000, True, sender=keeper)  # 44 held against 40
    tx = ch.reconcile(host, sender=keeper)
    assert not list(tx.events.filter(ch.AssetShortfall))
    ch.withdraw(0, host, 10 * ETH, sender=stranger)
    assert host.balanceOf(stranger) == 10 * ETH
    assert (host.balanceOf(ch), ch.total_deposits(host)) == (34 * ETH, 30 * ETH)
    assert tuple(ch.asset_freeze(host)) == (0, 0, 0, 0)


def test_reconcile_refuses_the_quote_and_unlisted_assets(clearinghouse, usdc, stranger):
    with ape.reverts(errors.QUOTE_HAIRCUT):
        clearinghouse.reconcile(usdc, sender=stranger)
    with ape.reverts(errors.ASSET_NOT_LISTED):
        clearinghouse.reconcile(stranger, sender=stranger)


def test_the_keeper_freezes_an_asset_that_fell_short(
    lens, host_held, host, keeper, usdc, weth, oracle, eth_feed
):
    from xmargin.ops.keeper import Keeper, KeeperConfig

    ch = host_held
    host.rebase(ch, 1_000, False, sender=keeper)
    engine = host_engine(ch, oracle, lens, usdc, weth, host, eth_feed)
    log: list[dict] = []
    stats = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    (short,) = [e for e in log if e["event"] == "asset_shortfall"]
    assert (short["asset"], short["held"], short["ledgers"]) == ("HOST", 36 * ETH, 40 * ETH)
    assert stats.shortfalls == 1
    assert tuple(ch.asset_freeze(host))[1] == 7 * DAY
    # Frozen once: the next pass sends nothing for it.
    log.clear()
    again = Keeper(engine, keeper, KeeperConfig(gas_asset=None), log=log.append).run_once()
    assert again.shortfalls == 0


def test_status_and_report_lines_name_a_shortfall_and_a_freeze():
    """The lines `xmargin status` and `report` print, from hand-made states:
    36 held against 40 booked pays 90 %; a freeze from 10 % over a day, a
    quarter in, shows the stored 10 % and the ramp's 32.5 %."""
    from xmargin.chain.assets import AssetState
    from xmargin.ui.report import asset_lines

    short = AssetState("HOST", "0x1", 36 * ETH, 40 * ETH, 0, 0, 0, WAD // 10)
    frozen = AssetState("WBTC", "0x2", 5 * 10**8, 5 * 10**8, 1_000, DAY, WAD // 10, WAD // 10)
    fine = AssetState("WETH", "0x3", ETH, ETH, 0, 0, 0, WAD // 10)
    lines = asset_lines(
        [short, frozen, fine], {"HOST": 18, "WBTC": 8, "WETH": 18}, 1_000 + DAY // 4
    )
    assert lines == [
        "[red]HOST: the engine holds 36.0000 against 40.0000 booked; withdrawals pay "
        "90.00 % of what they debit[/red]",
        "[yellow]WBTC frozen: no deposits; maintenance haircut 10.00 % (its ramp is at "
        "32.50 %, 100 % in 64800 s)[/yellow]",
    ]


def test_a_deposit_cannot_pay_for_a_shortfall_nobody_reconciled(
    host_held, host, stranger, keeper, fund, snapshot_balances
):
    """Found by review: 36 HOST held against 40 booked, not yet reconciled.
    A newcomer's 40 would have been paid back 38; the deposit is refused
    until the shortfall is reconciled (which freezes the asset)."""
    ch = host_held
    host.rebase(ch, 1_000, False, sender=keeper)
    fund(host, keeper, 40 * ETH, ch)
    before = snapshot_balances(ch, [host], [keeper, stranger])
    with ape.reverts(errors.ASSET_SHORT):
        ch.deposit(0, host, 40 * ETH, sender=keeper)
    assert snapshot_balances(ch, [host], [keeper, stranger]) == before


def test_a_short_asset_sells_for_what_backs_it(host_backed, host, trader, stranger, usdc, fund):
    """Found by review: with 1 HOST held against 2 booked, a liquidator paid
    the full oracle price for ledger units worth half. The stranger's 1
    HOST makes 2 booked; the token takes half the engine's. Reconciled,
    HOST's maintenance haircut is 1 - 0.5 * 90 % = 55 %, and a unit sells
    at 2,600 * 0.5 * 95 % = 1,235: 1,000 USDC buys 0.809716599190283400,
    which withdraws as 0.404858299595141700 HOST (worth $1,052.63 for the
    1,000 paid, the 5 % discount)."""
    ch = host_backed
    fund(host, stranger, ETH, ch)
    ch.deposit(0, host, ETH, sender=stranger)
    host.rebase(ch, 5_000, False, sender=stranger)
    ch.reconcile(host, sender=stranger)
    assert ch.asset_config(host).mm_haircut == 55 * WAD // 100
    fund(usdc, stranger, 1_000 * USDC, ch)
    out = 1_000 * USDC * 10**12 * E18 // (1_235 * E18)
    assert out == 809_716_599_190_283_400
    tx = ch.liquidate_collateral(trader, 0, host, 1_000 * USDC, out, sender=stranger)
    (ev,) = tx.events.filter(ch.CollateralLiquidation)
    assert (ev.repaid, ev.collateral_out, ev.price) == (1_000 * USDC, out, 1_300 * E18)
    tx = ch.withdraw(0, host, out, sender=stranger)
    assert host.balanceOf(stranger) == out // 2 == 404_858_299_595_141_700


def test_a_worthless_asset_that_is_still_priced_is_sold_not_written_off(
    host_backed, host, owner, trader, stranger, usdc, fund, clock
):
    """Found by review: at the end of a freeze's ramp an account with a tiny
    debt would have lost all its HOST to the write-off while HOST still
    had a price. Priced, it must be sold: `settle_bad_debt` refuses, and a
    liquidator repays the debt for HOST at 5 % off, the rest staying the
    account's (here the debt exceeds the HOST's worth: all of it goes)."""
    ch = host_backed
    host_feed = ch.chain_manager.contracts.instance_at(
        ch.chain_manager.contracts.instance_at(ch.oracle()).price_config(host).primary.aggregator
    )
    clock.at(0)
    ch.freeze_asset(host, DAY, sender=owner)
    clock.at(DAY)
    ch.ramp_frozen_haircut(host, sender=stranger)
    set_price(host_feed, owner, 2_600)  # HOST's feed is alive
    with ape.reverts(errors.STILL_PRICED):
        ch.settle_bad_debt(trader, 0, sender=stranger)
    fund(usdc, stranger, 5_000 * USDC, ch)
    tx = ch.liquidate_collateral(trader, 0, host, 5_000 * USDC, 0, sender=stranger)
    (ev,) = tx.events.filter(ch.CollateralLiquidation)
    assert (ev.repaid, ev.collateral_out) == (2_470 * USDC, ETH)
