# ruff: noqa: F811  (pytest fixtures imported from other test modules)
"""The outside review of 2026-12-07 (the seventeenth session): attacks on
the capped-funding integral, the accrued funding in the portfolio grid,
the lens's portfolio liquidation price and the inter-group spread credits.

Three findings, each fixed and kept here as its test (the lens and the
mirror disagreeing on a liquidation price once funding accrued; the lens
running out of gas on a large portfolio book; a portfolio account below MM
that nobody could liquidate after its market's funding accrued), and the
properties the review checked and found sound (its two property tests run
in the fuzz lane: tests/fuzz/test_funding_credit_properties.py).
"""

from __future__ import annotations

from dataclasses import replace

import ape

from tests.markets import FUNDING_ON, allow_atomic, params
from tests.portfolio_config import CONFIG, E18, PARAMS, USDC
from tests.unit.test_option_trading import w  # noqa: F401  (fixture)
from tests.unit.test_portfolio_margin import (  # noqa: F401  (fixtures)
    ETH_ID,
    _funded_model,
    deposit,
    pm_engine,
    tokens,
    trade,
)
from xmargin.maths import account as acct
from xmargin.maths import errors, scenarios
from xmargin.maths import portfolio as pm

DAY = 86_400
FUNDED = FUNDING_ON


def _funded_market(ch, owner, token) -> int:
    ch.list_market(params(token, **FUNDED), sender=owner)
    allow_atomic(ch, owner)
    return ch.num_markets() - 1


# ---------------------------------------------------------------- finding 1


def test_lens_and_model_agree_on_a_portfolio_liquidation_price_with_accrued_funding(
    pm_engine,
    lens,
    owner,
    trader,
    deposit,
    tokens,
    eth_feed,
    chain,
):
    """Finding 1 (low; fixed: the mirror moves the accrued funding with
    the price). A portfolio account long 100 ETH on a
    funded market left idle 10 days at the cap (accrued ~ 9.5 % of the
    price per ETH). The lens's bisection moves the accrued funding with the
    trial price (equity and group exposure both scale by (P - accrued) / P),
    as the engine does when the oracle moves; the mirror's
    `scenarios.liquidation_price` freezes `Exposure.index` and
    `Exposure.accrued` while moving the price, so its equity slope is
    `size` and its grid exposure `size * (p - accrued)`. The two figures
    differ by far more than `lens_agrees`'s price / 1e9, so `xmargin status`
    shows the mirror's (wrong) price and flags the lens's correct one red."""
    ch = pm_engine
    m = _funded_market(ch, owner, tokens["WETH"])
    deposit(trader, "USDC", 100_000 * USDC)
    trade(ch, trader, m, 100 * E18)
    ch.set_margin_mode(0, True, sender=trader)
    chain.pending_timestamp = ch.market_state(m).last_funding_time + 10 * DAY
    eth_feed.set_answer(3_000 * 10**8, sender=owner)
    (row,) = lens.position_details(ch, trader, 0)
    account = replace(_funded_model(ch, trader, tokens, [m], eth_feed), margin=CONFIG)
    # The model values the account as read exactly (chain == mirror today).
    want = acct.portfolio_health(account, CONFIG)
    assert tuple(ch.account_health(trader, 0)) == (want.equity, want.im, want.mm)
    exact = scenarios.liquidation_price(account, "WETH")
    assert row.liquidation_price > 0 and exact is not None
    # On chain the lens's figure is the right one: healthy a dollar above
    # it, below MM a dollar under it (each block adds a second of funding,
    # ~3 cents here, so the exact boundary is not probed).
    answer = row.liquidation_price // 10**10
    eth_feed.set_answer(answer + 10**8, sender=owner)
    h = ch.account_health(trader, 0)
    assert h.equity >= h.mm
    eth_feed.set_answer(answer - 10**8, sender=owner)
    h = ch.account_health(trader, 0)
    assert h.equity < h.mm
    # ...and the mirror agrees (before the fix it froze the accrued funding
    # at the price read: $2,673.89 against the lens's $2,639.66).
    assert scenarios.lens_agrees(exact, row.liquidation_price), (exact, row.liquidation_price)


# ---------------------------------------------------------------- finding 2


def _wide_config(credits=((0, 1, E18 // 2), (1, 3, E18 // 2), (0, 4, E18 // 3))):
    """8 groups x 32 scenarios (the set's maxima) with three credit pairs."""
    names = tuple(f"G{g}" for g in range(8))
    groups = pm.RiskGroups(names, {"WETH": 0, "WBTC": 1, "USDC": 2})
    rows = []
    for s in range(32):
        shocks = tuple(((s * 7 + g * 3) % 21 - 10) * E18 // 100 for g in range(8))
        rows.append(pm.Scenario(f"s{s}", shocks))
    return pm.PortfolioConfig(groups, pm.ScenarioSet(tuple(rows)), replace(PARAMS, credits=credits))


def test_position_details_solves_once_per_asset(
    project,
    pm_engine,
    lens,
    owner,
    trader,
    deposit,
    tokens,
):
    """Finding 2 (low-medium; fixed: one solve per asset over the book read
    once). `position_details` bisected once per open position (~42
    `requirement` calls over the whole grid, and a `portfolio_exposure` of
    the whole book, each time): ~1.2 M gas a position on an 8 x 32 set
    with credits (12 positions 14.6 M, 20 positions 27.8 M; 24 ran out of
    the 30 M an eth_call gets, and `xmargin status` failed for the
    account). Twelve positions on two assets now cost two solves."""
    ch = pm_engine
    config = _wide_config()
    risk = owner.deploy(project.PortfolioRisk, *pm.risk_set_args(config))
    ch.set_portfolio_risk(risk, sender=owner)
    deposit(trader, "USDC", 10_000_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    n = 12
    asset_of = {0: "WETH", 1: "WBTC"}
    while len(asset_of) < n:
        symbol = "WETH" if len(asset_of) % 2 else "WBTC"
        ch.list_market(params(tokens[symbol], im_size_scalar=0, mm_size_scalar=0), sender=owner)
        allow_atomic(ch, owner)
        asset_of[ch.num_markets() - 1] = symbol
    for i, (m, symbol) in enumerate(asset_of.items()):
        trade(ch, trader, m, (E18 if i % 3 else -E18) // (1 if symbol == "WETH" else 20))
    rows = lens.position_details(ch, trader, 0)
    assert len(rows) == n
    # positions on one asset share its price
    by_asset: dict = {}
    for r in rows:
        by_asset.setdefault(asset_of[r.market_id], set()).add(r.liquidation_price)
    assert sorted(by_asset) == ["WBTC", "WETH"]
    assert all(len(v) == 1 for v in by_asset.values())
    assert lens.position_details.estimate_gas_cost(ch, trader, 0) < 5_000_000


# ---------------------------------------------------------------- finding 3


def test_the_market_the_engine_names_can_be_liquidated_when_its_funding_is_accrued(
    pm_engine,
    owner,
    trader,
    keeper,
    deposit,
    tokens,
    eth_feed,
    chain,
):
    """Finding 3 (medium; fixed: the order is taken before the accrual).
    `liquidation.liquidate` calls
    `markets._accrue(market_id)` BEFORE `portfolio._close_order`, whose
    comment still says the accrual "moves no exposure". Since change 2 it
    does: after the accrual the market's stored index equals its index, so
    `_close_order` values the market being liquidated at size * price
    (accrued 0) while every other market keeps size * (price - accrued),
    and `portfolio_liquidation_market` (a view, no accrual) values them all
    with their accrued funding.

    Book (all ETH, group 0): short 100 on a funded market A idle 10 days at
    the cap (the short pays: accrued ~ -$313/ETH at $3,300) and short 101 on
    the unfunded market 0. Worst row "together up": A's contribution is
    -0.1 x 100 x 3,613 = -36,135 (lowest, named by the view and the
    mirror) vs -33,330 for market 0. `liquidate(A)` recomputes A without its
    accrued part (-33,000 > -33,330): WRONG_ORDER; `liquidate(0)` sees A
    lowest: WRONG_ORDER. The account is below MM and nobody can liquidate
    it until someone touches market A."""
    ch = pm_engine
    a = _funded_market(ch, owner, tokens["WETH"])
    deposit(trader, "USDC", 130_000 * USDC)
    ch.set_margin_mode(0, True, sender=trader)
    trade(ch, trader, a, -100 * E18)
    trade(ch, trader, ETH_ID, -101 * E18)
    chain.pending_timestamp = ch.market_state(a).last_funding_time + 10 * DAY
    eth_feed.set_answer(3_300 * 10**8, sender=owner)
    h = ch.account_health(trader, 0)
    assert h.equity < h.mm
    assert ch.portfolio_liquidation_market(trader, 0) == a
    # The mirror's order agrees with the view.
    account = replace(_funded_model(ch, trader, tokens, [a, ETH_ID], eth_feed), margin=CONFIG)
    assert acct.liquidation_order(account, CONFIG)[0] == f"M{a}"
    # Market 0 is rightly refused (A loses more)...
    with ape.reverts(errors.WRONG_ORDER):
        ch.liquidate(trader, 0, ETH_ID, 101 * E18, 0, sender=keeper)
    # ...and A, the one the engine names, is liquidated (before the fix
    # the accrual zeroed A's accrued funding first: WRONG_ORDER here too).
    tx = ch.liquidate(trader, 0, a, 100 * E18, 0, sender=keeper)
    assert ch.position(trader, 0, a).size == 0 and tx.events.filter(ch.Liquidation)


# ---------------------------------------------------------------- sound: change 4


def test_options_in_two_groups_under_a_credit_chain_equals_mirror_and_liquidate(
    w,
    project,
    owner,
    trader,
    keeper,
    deposit_usdc,
    lens,
    oracle,
    weth,
    wbtc_listed,
    eth_feed,
    vol_feed,
):
    """SOUND. Options on two underlyings in two credited groups (long 2
    ETHX calls, group 0, lose on a fall; short 1 WETH call, group 1, loses
    on a rise: a spread): the engine's MM equals the mirror's to the wei,
    is at least the MM without credits, and `liquidate_options` (skip over
    the per-group P&Ls) closes the series the mirror's `mm_without_each`
    and the desk's ranking name."""
    from tests.conftest import HEARTBEAT, OPTION_RULE, VOL_ANSWER, VOL_BOUNDS
    from tests.engines import engine_over
    from tests.unit.test_option_portfolio import CREDIT_CONFIG
    from tests.unit.test_option_trading import DELAY, MAX_OI, MIN_SIZE, SPREAD, WINDOW
    from xmargin.chain.engine import read_account
    from xmargin.maths import option_book
    from xmargin.maths import options as om

    config = CREDIT_CONFIG
    risk = owner.deploy(project.PortfolioRisk, *pm.risk_set_args(config))
    w.ch.set_portfolio_risk(risk, sender=owner)
    w.ch.set_risk_group(weth, 1, sender=owner)
    w.ch.set_risk_group(w.usdc, 2, sender=owner)
    # WETH as a second underlying, its own vol feed.
    vol2 = owner.deploy(project.MockAggregator, 8, "WETH IV", VOL_ANSWER)
    oracle.set_vol_feed(weth, w.expiry, vol2, HEARTBEAT, *VOL_BOUNDS, sender=owner)
    w.book.set_margin_params(weth, *OPTION_RULE, sender=owner)
    w.desk.set_trade_rules(weth, SPREAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=owner)
    w.book.list_series(weth, 3_000 * E18, w.expiry, True, sender=owner)
    weth_call = 2

    def publish(after: int, ethx: int = 3_000, eth: int = 3_000) -> None:
        w.chain.mine(timestamp=w.chain.blocks.head.timestamp + after)
        w.feed.set_answer(ethx * 10**8, sender=owner)
        w.vol_feed.set_answer(VOL_ANSWER, sender=owner)
        eth_feed.set_answer(eth * 10**8, sender=owner)
        vol2.set_answer(VOL_ANSWER, sender=owner)

    def option_trade(series: int, size: int, limit: int) -> None:
        w.desk.commit_option_order(0, series, size, limit, sender=trader)
        publish(DELAY)
        tx = w.desk.execute_option_order(trader, 0, sender=owner)
        assert tx.events.filter(w.desk.OptionOrderExecuted)[0].filled

    held = {"USDC": w.usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(w.ch, oracle, held, feeds, {}, lens=lens, desk=w.desk)
    engine = replace(engine, portfolio_risk=project.PortfolioRisk.at(risk.address))
    deposit_usdc(trader, 1_500)
    w.ch.set_margin_mode(0, True, sender=trader)
    option_trade(w.call, 2 * E18, 1_000 * E18)
    option_trade(weth_call, -E18, 0)
    view = read_account(engine, trader.address, 0)
    assert view.portfolio is not None and view.model_agrees
    m = view.portfolio
    assert m.credited > m.worst_loss and view.health.mm == m.mm == m.credited
    x = acct.group_exposure(view_account(engine, view), config.groups)
    no_credit = replace(config, params=replace(config.params, credits=()))
    symbols = {str(t.address): s for s, t in held.items()}
    h0, _ = option_book.portfolio_with_options(x, no_credit, view.options, symbols)
    assert view.health.mm >= h0.mm
    # WETH +60 %: the short call sinks the account.
    publish(10, eth=4_800)
    view = read_account(engine, trader.address, 0)
    assert view.model_agrees and view.health.equity < view.health.mm
    x = acct.group_exposure(view_account(engine, view), config.groups)
    without = option_book.mm_without_each(x, config, view.options, symbols)
    rate = w.desk.liquidation_penalty()
    candidates = []
    for o, mm_wo in zip(view.options, without, strict=True):
        price = eth_feed.answer() * 10**10 if o.asset == weth.address else w.feed.answer() * 10**10
        freed = view.health.mm - min(view.health.mm, mm_wo)
        added = mm_wo - min(view.health.mm, mm_wo)
        penalty = min(om.liquidation_penalty(o.size, price, o.risk.mm, rate), freed // 2)
        candidates.append((o.series_id, freed, added, penalty))
    expected = om.liquidation_choice(candidates)
    tx = w.desk.liquidate_options(trader, 0, sender=keeper)
    (ev,) = tx.events.filter(w.desk.OptionTraded)
    assert ev.series_id == expected, (candidates, ev.series_id)
    assert w.desk.position(trader, 0, expected) == 0
    view = read_account(engine, trader.address, 0)
    assert view.model_agrees


def view_account(engine, view):
    from xmargin.chain.engine import account_of

    return account_of(engine, view, engine.asset_params())
