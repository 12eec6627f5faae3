"""Options in portfolio margin (issue 23, point 3): the scenario grid
becomes price x volatility, every option position is repriced by Black-76
in each scenario, extreme moves count at their weight, and short options
need at least the short-option minimum.

Expectations come from the Python mirror of Black-76
(`xmargin.maths.black76`, checked to the wei and against a float
reference) applied by hand here (the scenario's moved price and
volatility, the error bound), and from `xmargin.maths.portfolio` /
`xmargin.maths.options` where a test says so; never from the contracts.

The attacks: a trader who sells options in portfolio mode hoping the grid
only moves prices (a volatility rise is a scenario); one who sells far
out-of-the-money options that no scenario reaches (the short-option
minimum); one who relies on an extreme move being ignored (it counts at
its weight); hostile inputs to the risk set and the book (refused).
"""

from __future__ import annotations

from typing import Any

import ape
import pytest

from tests.conftest import VOL_ANSWER
from tests.portfolio_config import deploy_risk
from tests.unit.test_option_trading import SIGMA, SPOT, TO_NATIVE, USDC, WAD, World, bot_log, w
from xmargin.maths import black76, errors, options
from xmargin.maths import portfolio as pm

__all__ = ["bot_log", "w"]

PCT = WAD // 100
SCAN = 15 * PCT
VOL_SCAN = 25 * PCT
SHORT_MIN = 5 * PCT
# Group 0: the underlying (unset assets are in group 0); group 1: USDC.
SPAN = pm.span_scenarios(2, (0,), SCAN, VOL_SCAN)
CONFIG = pm.PortfolioConfig(
    pm.RiskGroups(("ETH", "USD"), {"USDC": 1}),
    SPAN,
    pm.PortfolioParams(0, 0, 3 * WAD // 2, SHORT_MIN),
)
ZERO = [0] * 8


def _row(a: int, b: int) -> pm.Scenario:
    return pm.Scenario(f"{a:+d}/{b:+d}", (a * SCAN, b * SCAN, 0))


# Three groups (the option underlying, WETH, USD), the two coins moving
# 15 % alone and together, a 30 % credit between them.
CREDIT_CONFIG = pm.PortfolioConfig(
    pm.RiskGroups(("ETHX", "ETH", "USD"), {"WETH": 1, "USDC": 2}),
    pm.ScenarioSet((_row(1, 0), _row(-1, 0), _row(0, 1), _row(0, -1), _row(1, 1), _row(-1, -1))),
    pm.PortfolioParams(0, 0, 3 * WAD // 2, credits=((0, 1, 30 * PCT),)),
)


def _ceil(x: int) -> int:
    return -((-x) // WAD)


def _err(moved: int, strike: int) -> int:
    """The book's error bound of both valuations, per contract (WAD USD)."""
    return (moved + SPOT + 2 * strike) * black76.NCDF_ERROR // WAD + 2 * black76.VALUE_ROUNDING


def _pnl(size: int, strike: int, is_call: bool, tau: int, move: int, vol_move: int) -> int:
    """One position's scenario P&L computed here from Black-76, rounded
    against the holder as docs/options.md states."""
    moved = SPOT * (WAD + move) // WAD
    after = black76.price(moved, strike, SIGMA * (WAD + vol_move) // WAD, tau, is_call)
    mark = black76.price(SPOT, strike, SIGMA, tau, is_call)
    return (size * (after - mark)) // WAD - _ceil(abs(size) * _err(moved, strike))


@pytest.fixture
def pw(w: World, owner, project) -> World:
    """`w` with the SPAN set in force (USDC in its own, unshocked group), a
    $3,000 put (series 2) and a $3,200 call (series 3)."""
    risk = deploy_risk(project, owner, CONFIG)
    w.ch.set_portfolio_risk(risk, sender=owner)
    w.ch.set_risk_group(w.usdc, 1, sender=owner)
    w.book.list_series(w.underlying, SPOT, w.expiry, False, sender=owner)
    w.book.list_series(w.underlying, 3_200 * WAD, w.expiry, True, sender=owner)
    return w


def _risk(
    project,
    owner,
    rows,
    vols=(),
    weights=(),
    short_min=0,
    factor=WAD,
    concentration=(),
    credits=(),
) -> Any:
    return owner.deploy(
        project.PortfolioRisk,
        rows,
        0,
        0,
        factor,
        list(vols),
        list(weights),
        short_min,
        [list(c) for c in concentration],
        [list(c) for c in credits],
    )


def _portfolio(w: World, who, sub: int = 0) -> None:
    w.ch.set_margin_mode(sub, True, sender=who)


# ---------------------------------------------------------------- the grid with options


def test_a_put_spread_needs_its_worst_scenario_not_its_legs(pw, trader, deposit_usdc):
    """Long the $3,000 put, short the $2,800 put. Linear margin charges the
    short leg on its own (the rule's IM); the grid sees the spread: its
    worst scenario is a rise with the volatility down, where it loses part
    of what it is worth, and the short leg's minimum is the floor."""
    w = pw
    deposit_usdc(trader, 2_000)
    _portfolio(w, trader)
    w.trade(trader, 2, WAD, 1_000 * WAD)
    w.trade(trader, w.put, -WAD, 0)
    w.chain.mine()
    tau = w.expiry - w.chain.blocks.head.timestamp
    pnls = []
    for s in SPAN.scenarios:
        pnl = _pnl(WAD, SPOT, False, tau, s.shocks[0], s.vol_shock) + _pnl(
            -WAD, 2_800 * WAD, False, tau, s.shocks[0], s.vol_shock
        )
        pnls.append(pnl if s.weight == WAD else pnl * s.weight // WAD)
    worst = -min(pnls)
    value = black76.price(SPOT, SPOT, SIGMA, tau, False) - _ceil(
        WAD * black76.price(SPOT, 2_800 * WAD, SIGMA, tau, False)
    )
    quote = w.ch.balance_of(trader, 0, w.usdc) * TO_NATIVE
    h = w.ch.account_health(trader, 0)
    # The spread can lose no more than it is worth, give or take the
    # module's error bound (a few cents here); its worst row ($61, a rise
    # with the volatility down) is under the short-option minimum of the
    # short leg, 5 % of $3,000, which is its MM.
    assert 0 < worst <= value + 10**17
    assert 60 * WAD < worst < 150 * WAD
    assert h.equity == quote + value
    assert h.mm == max(worst, 150 * WAD) == 150 * WAD
    assert h.im == _ceil(h.mm * 3 * WAD // 2)
    # Linear mode would want the short put's rule on top of the long's
    # premium: about $574 against the grid's $225.
    rule = options.MarginParams(*[int(v) for v in w.book.margin_params(w.underlying)])
    linear = [
        options.linear_risk(SPOT, k, False, SIGMA, tau, n, rule)
        for k, n in ((SPOT, WAD), (2_800 * WAD, -WAD))
    ]
    assert h.im < sum(r.im for r in linear) / 2


def test_a_volatility_rise_alone_is_a_scenario(pw, project, owner, trader, deposit_usdc):
    """A short at-the-money call against a set of one row: the price
    unchanged, every volatility up 25 %. Its whole requirement is the
    call's vega loss, repriced by hand."""
    w = pw
    deposit_usdc(trader, 3_000)
    _portfolio(w, trader)
    w.trade(trader, w.call, -WAD, 0)
    risk = _risk(project, owner, [[0, 0]], vols=[VOL_SCAN])
    flat = _risk(project, owner, [[0, 0]])
    w.chain.mine()
    tau = w.expiry - w.chain.blocks.head.timestamp
    value, mm, im = w.desk.portfolio_risk(trader, 0, risk, ZERO, ZERO, 0, 0)
    up = black76.price(SPOT, SPOT, SIGMA * 125 // 100, tau, True)
    mark = black76.price(SPOT, SPOT, SIGMA, tau, True)
    assert value == -mark
    assert mm == im == up - mark + _err(SPOT, SPOT)
    # About $70 for a 20-point rise of an 80 % volatility a month out:
    # vega (0.4 x 3,000 x 0.287 = $344 per 1.00) x 0.20.
    assert 65 * WAD < mm < 72 * WAD
    # The same row without the volatility move charges nothing but the
    # error bound: the grid's price rows alone miss a vega seller.
    assert w.desk.portfolio_risk(trader, 0, flat, ZERO, ZERO, 0, 0)[1] == _err(SPOT, SPOT)


def test_an_extreme_move_counts_at_its_weight(pw, project, owner, trader, deposit_usdc):
    """A short call and one row: the price up 45 %, weighted 35 %. The
    loss is the call repriced at $4,350 less its mark, at 35 % (the
    weighted P&L floored, against the account)."""
    w = pw
    deposit_usdc(trader, 3_000)
    _portfolio(w, trader)
    w.trade(trader, w.call, -WAD, 0)
    risk = _risk(project, owner, [[45 * PCT, 0]], weights=[35 * PCT])
    w.chain.mine()
    tau = w.expiry - w.chain.blocks.head.timestamp
    _, mm, _ = w.desk.portfolio_risk(trader, 0, risk, ZERO, ZERO, 0, 0)
    full = -_pnl(-WAD, SPOT, True, tau, 45 * PCT, 0)
    assert mm == -((-full * 35 * PCT) // WAD)
    # The call is worth at least its $1,350 intrinsic value at $4,350 and
    # was marked at about $274: a loss near $1,094, $383 at 35 %.
    assert (1_350 - 274) * WAD * 35 // 100 < mm < (1_450 - 274) * WAD * 35 // 100


def test_far_short_options_need_the_short_option_minimum(pw, trader, deposit_usdc):
    """Two short $3,200 calls and two short $2,800 puts: in the SPAN set
    their worst scenario is their extreme one. The minimum (5 % of the
    notional: 4 x $3,000 x 5 % = $600) is the floor; with a set of small
    moves the minimum is what the account needs."""
    w = pw
    deposit_usdc(trader, 5_000)
    _portfolio(w, trader)
    w.trade(trader, 3, -2 * WAD, 0)
    w.trade(trader, w.put, -2 * WAD, 0)
    w.chain.mine()
    h = w.ch.account_health(trader, 0)
    assert h.mm >= 600 * WAD


def test_the_short_option_minimum_binds_when_no_scenario_reaches(
    pw, project, owner, trader, deposit_usdc
):
    w = pw
    deposit_usdc(trader, 5_000)
    _portfolio(w, trader)
    w.trade(trader, 3, -2 * WAD, 0)
    w.trade(trader, w.put, -2 * WAD, 0)
    small = _risk(project, owner, [[PCT, 0], [-PCT, 0]], short_min=SHORT_MIN)
    _, mm, im = w.desk.portfolio_risk(trader, 0, small, ZERO, ZERO, 0, 0)
    assert mm == im == 4 * SPOT * SHORT_MIN // WAD == 600 * WAD


def test_chain_and_model_agree_on_a_strangle_in_portfolio_mode(pw, trader, deposit_usdc, bot_log):
    """A short strangle and a long call in portfolio mode: `read_account`
    recomputes the engine's health with the mirror (every position over
    the 16 rows, the weights, the minimum) to the wei, before and after
    the price and the volatility move."""
    from dataclasses import replace

    from xmargin.chain.engine import read_account

    w = pw
    bot, _ = bot_log
    engine = replace(bot.engine, portfolio_risk=w.project.PortfolioRisk.at(w.ch.portfolio_risk()))
    deposit_usdc(trader, 6_000)
    _portfolio(w, trader)
    w.trade(trader, 3, -WAD, 0)
    w.trade(trader, w.put, -WAD, 0)
    w.trade(trader, w.call, WAD // 2, 1_000 * WAD)
    for usd, vol in ((3_000, VOL_ANSWER), (3_150, VOL_ANSWER * 6 // 5), (2_700, VOL_ANSWER // 2)):
        w.publish(10, usd=usd, vol=vol)
        view = read_account(engine, trader.address, 0)
        assert view.portfolio is not None and view.model_agrees, (usd, vol)
        assert view.health.mm == view.portfolio.mm > 0


def test_the_lens_gives_no_liquidation_price_it_cannot_reprice(
    pw, trader, hedger, deposit_usdc, lens, market, eth_feed
):
    """The lens does not reprice options: a portfolio account holding them
    gets 0 for its perp's liquidation price (the CLI solves it from the
    model), rather than a price that leaves the options' grid out."""
    w = pw
    for who in (trader, hedger):
        deposit_usdc(who, 3_000)
        _portfolio(w, who)
    w.trade(trader, w.put, -WAD, 0)
    eth_feed.set_answer(3_000 * 10**8, sender=w.owner)
    for who in (trader, hedger):
        w.ch.trade(0, market, 2 * WAD, 3_001 * WAD, sender=who)
    (perp,) = lens.position_details(w.ch, trader, 0)
    assert perp.size == 2 * WAD and perp.liquidation_price == 0
    # the same perp without the option has one
    (perp,) = lens.position_details(w.ch, hedger, 0)
    assert 1_000 * WAD < perp.liquidation_price < 3_000 * WAD


def test_an_option_account_in_portfolio_mode_is_liquidated(pw, trader, deposit_usdc, keeper):
    """Below its portfolio MM after a rise, the short call is closed at
    the mark by `liquidate_options` (the engine's health is the grid's)."""
    w = pw
    deposit_usdc(trader, 700)
    _portfolio(w, trader)
    w.trade(trader, w.call, -WAD, 0)
    w.publish(10, usd=3_900)
    h = w.ch.account_health(trader, 0)
    assert h.equity < h.mm
    w.desk.liquidate_options(trader, 0, sender=keeper)
    assert w.desk.position(trader, 0, w.call) == 0
    assert not w.ch.holds_options(trader, 0)


def test_portfolio_mode_refuses_an_option_sale_past_its_im(pw, trader, deposit_usdc):
    """IM in portfolio mode is the grid's: a sale the grid cannot carry is
    refused at execution (the order removed, the account unchanged)."""
    w = pw
    deposit_usdc(trader, 300)
    _portfolio(w, trader)
    tx = w.trade(trader, w.call, -WAD, 0)
    assert not tx.events.filter(w.desk.OptionOrderExecuted)[0].filled
    assert w.desk.position(trader, 0, w.call) == 0
    assert w.ch.balance_of(trader, 0, w.usdc) == 300 * USDC


# ---------------------------------------------------------------- bad input


def test_the_risk_set_refuses_bad_volatility_moves_and_weights(project, owner):
    row = [[0]]
    with ape.reverts(errors.SHOCK_OUT_OF_RANGE):
        _risk(project, owner, row, vols=[-WAD - 1])
    with ape.reverts(errors.SHOCK_OUT_OF_RANGE):
        _risk(project, owner, row, vols=[9 * WAD + 1])
    with ape.reverts(errors.WEIGHT_RANGE):
        _risk(project, owner, row, weights=[WAD + 1])
    with ape.reverts(errors.WEIGHT_RANGE):
        _risk(project, owner, row, weights=[PCT - 1])
    with ape.reverts(errors.RAGGED_SHOCKS):
        _risk(project, owner, [[0], [0]], vols=[0])
    with ape.reverts(errors.RAGGED_SHOCKS):
        _risk(project, owner, [[0], [0]], weights=[WAD])
    with ape.reverts(errors.MIN_TOO_LARGE):
        _risk(project, owner, row, short_min=WAD + 1)
    # the edges are accepted, and read back
    r = _risk(project, owner, [[0], [0]], vols=[-WAD, 9 * WAD], weights=[PCT, WAD], short_min=WAD)
    assert list(r.vol_shocks()) == [-WAD, 9 * WAD] and list(r.weights()) == [PCT, WAD]
    assert list(r.column(0)) == [0, 0] and r.short_option_min() == WAD
    with ape.reverts(errors.RAGGED_SHOCKS):
        r.requirement_with_options(ZERO, ZERO, 0, 0, [0], 0)


def test_the_book_refuses_bad_scenario_moves(pw):
    w = pw
    with ape.reverts(errors.SCENARIO_LENGTHS):
        w.book.scenario_risk(w.call, WAD, [0, 0], [0])
    with ape.reverts(errors.SCENARIO_LENGTHS):
        w.book.scenario_risk(w.call, WAD, [-WAD - 1], [0])
    with ape.reverts(errors.SCENARIO_LENGTHS):
        w.book.scenario_risk(w.call, WAD, [0], [-WAD - 1])
    with ape.reverts(errors.ZERO_SIZE):
        w.book.scenario_risk(w.call, 0, [0], [0])
    with ape.reverts(errors.UNKNOWN_SERIES):
        w.book.scenario_risk(99, WAD, [0], [0])
    # a price to zero and a volatility to zero are in the domain
    value, pnls, short = w.book.scenario_risk(w.call, -WAD, [-WAD], [-WAD])
    mark = black76.price(SPOT, SPOT, SIGMA, w.expiry - w.chain.blocks.head.timestamp, True)
    assert short == 3_000 * WAD and value == -mark
    assert pnls[0] == mark - _err(0, SPOT)


def test_the_mirror_never_overstates_a_scenario(pw):
    """The book's scenario P&L equals the mirror's to the wei, and is at
    most the P&L valued by exact Black-76 (rounded against the holder)."""
    from xmargin.maths import black76_exact

    w = pw
    tau = w.expiry - w.chain.blocks.head.timestamp
    moves = [s.shocks[0] for s in SPAN.scenarios]
    vols = [s.vol_shock for s in SPAN.scenarios]
    for series, strike, is_call in ((w.call, SPOT, True), (w.put, 2_800 * WAD, False)):
        for size in (WAD, -3 * WAD):
            _, got, _ = w.book.scenario_risk(series, size, moves, vols)
            mirror = options.scenario_risk(SPOT, strike, is_call, SIGMA, tau, size, moves, vols)
            assert list(got) == list(mirror.pnls)
            for pnl, m, v in zip(got, moves, vols, strict=True):
                moved = SPOT * (WAD + m) // WAD
                exact = black76_exact.exact_price(
                    moved, strike, SIGMA * (WAD + v) // WAD, tau, is_call
                )
                mark = black76.price(SPOT, strike, SIGMA, tau, is_call)
                assert pnl <= size * (exact - mark) / WAD


def test_the_span_set_has_sixteen_rows():
    rows = SPAN.scenarios
    assert len(rows) == 16
    assert [s.shocks[0] for s in rows[:2]] == [0, 0]
    assert sorted({s.shocks[0] for s in rows}) == [
        -45 * PCT,
        -15 * PCT,
        -10 * PCT,
        -5 * PCT,
        0,
        5 * PCT,
        10 * PCT,
        15 * PCT,
        45 * PCT,
    ]
    assert [s.weight for s in rows].count(35 * PCT) == 2
    assert all(s.shocks[1] == 0 for s in rows)


def test_the_liquidation_choice_by_hand():
    """`options.liquidation_choice`, the desk's order (candidates: series,
    margin freed, margin added, penalty, in held order): the most freed per
    unit of penalty, a free close first; when none frees any, the least
    added; the first on ties."""
    # 300 / 30 = 10 beats 200 / 25 = 8
    assert options.liquidation_choice([(1, 200, 0, 25), (2, 300, 0, 30)]) == 2
    # a close with no penalty that frees something comes first
    assert options.liquidation_choice([(1, 900, 0, 30), (2, 1, 0, 0)]) == 2
    # nothing freed anywhere: the close that adds the least (a hedged book)
    assert options.liquidation_choice([(1, 0, 197, 30), (2, 0, 80, 30)]) == 2
    # anything freeing margin beats any that frees none
    assert options.liquidation_choice([(1, 0, 0, 0), (2, 1, 0, 10**30)]) == 2
    # ties: the first in held order
    assert options.liquidation_choice([(4, 100, 0, 10), (5, 100, 0, 10)]) == 4
    assert options.liquidation_choice([]) is None
    # the penalty: 1 % of the notional, at most half the position's MM
    assert options.liquidation_penalty(-2 * WAD, 3_000 * WAD, 500 * WAD, PCT) == 60 * WAD
    assert options.liquidation_penalty(WAD, 3_000 * WAD, 40 * WAD, PCT) == 20 * WAD


# ---------------------------------------------------------------- concentration


def test_a_concentration_add_on_grows_with_size_beyond_its_threshold(project, owner):
    """One group, one row (-10 %), MM adds 2 % of |V| beyond $100,000: a
    $300,000 long needs 30,000 + 2 % x 200,000 = 34,000; a $50,000 one
    5,000 and nothing more; a $300,000 short (the larger bound) the same
    34,000 (+10 % row). The chain, the model and the hand agree."""
    usd = WAD
    risk = _risk(
        project,
        owner,
        [[-10 * PCT], [10 * PCT]],
        factor=3 * WAD // 2,
        concentration=[(100_000 * usd, 2 * PCT)],
    )
    assert [list(c) for c in risk.concentrations()] == [[100_000 * usd, 2 * PCT]]
    params = pm.PortfolioParams(0, 0, 3 * WAD // 2, 0, ((100_000 * usd, 2 * PCT),))
    config = pm.PortfolioConfig(
        pm.RiskGroups(("ETH",), {}),
        pm.ScenarioSet((pm.Scenario("down", (-10 * PCT,)), pm.Scenario("up", (10 * PCT,)))),
        params,
    )
    for v, mm in ((300_000, 34_000), (50_000, 5_000), (-300_000, 34_000)):
        lo = [v * usd] + [0] * 7
        got = risk.requirement(lo, lo, 0, 0)
        assert got == (mm * usd, mm * usd * 3 // 2), v
        x = pm.GroupExposure(0, 0, tuple(lo), tuple(lo), 0, 0)
        m = pm.requirement(x, config)
        assert (m.mm, m.im) == (mm * usd, mm * usd * 3 // 2)
    # a rate of 0 is no add-on, whatever the threshold
    assert pm.PortfolioParams(0, 0, WAD, 0, ((5, 0),)).concentration == ()


def test_the_risk_set_refuses_bad_concentration(project, owner):
    with ape.reverts(errors.CONCENTRATION_RANGE):
        _risk(project, owner, [[0]], concentration=[(0, WAD + 1)])
    with ape.reverts(errors.CONCENTRATION_RANGE):
        _risk(project, owner, [[0]], concentration=[(2**160 + 1, PCT)])
    with ape.reverts(errors.RAGGED_SHOCKS):
        _risk(project, owner, [[0, 0]], concentration=[(0, PCT)])
    with pytest.raises(ValueError, match="one concentration add-on per risk group"):
        pm.PortfolioConfig(
            pm.RiskGroups(("A", "B"), {}),
            pm.ScenarioSet((pm.Scenario("s", (0, 0)),)),
            pm.PortfolioParams(0, 0, WAD, 0, ((0, PCT),)),
        )


# ---------------------------------------------------------------- what-if curves


def test_the_chart_reprices_options_as_the_chain_does(pw, trader, deposit_usdc, bot_log):
    """`xmargin chart`'s curves (`scenarios.account_curves` with the
    account's options) reprice each option on the moved underlying: the
    model's health at $3,450 and at $2,550 equals what the engine says
    once the feed publishes that price, in linear mode and in portfolio
    mode (the seconds the rounds take are given to the model too: the
    options' time left is the chain's at the reading)."""
    from dataclasses import replace

    from xmargin.chain.engine import account_of, read_account, token_symbols
    from xmargin.maths import scenarios

    w = pw
    bot, _ = bot_log
    engine = replace(bot.engine, portfolio_risk=w.project.PortfolioRisk.at(w.ch.portfolio_risk()))
    deposit_usdc(trader, 6_000, 0)
    deposit_usdc(trader, 6_000, 1)
    _portfolio(w, trader, 1)
    for sub in (0, 1):
        w.trade(trader, 3, -WAD, 0, sub=sub)
        w.trade(trader, w.put, -WAD, 0, sub=sub)
        w.trade(trader, 2, WAD // 2, 1_000 * WAD, sub=sub)
    w.chain.mine()
    symbols = token_symbols(engine)
    views = {sub: read_account(engine, trader.address, sub) for sub in (0, 1)}
    for sub, view in views.items():
        account = account_of(engine, view, engine.asset_params())
        (c,) = scenarios.account_curves(account, (view.options, symbols))
        assert c.asset == str(w.underlying.address) and c.price == SPOT
        assert len(c.points) == scenarios.DEFAULT_POINTS
        here = scenarios.health_at(account, c.asset, SPOT, (view.options, symbols))
        assert here == view.health, sub
    for usd in (3_450, 2_550):
        now = w.publish(10, usd=usd)
        for sub, view in views.items():
            account = account_of(engine, view, engine.asset_params())
            later = tuple(replace(o, tau=w.expiry - now) for o in view.options)
            want = scenarios.health_at(
                account, str(w.underlying.address), usd * WAD, (later, symbols)
            )
            h = w.ch.account_health(trader, sub)
            assert (h.equity, h.im, h.mm) == (want.equity, want.im, want.mm), (usd, sub)


def test_options_join_their_groups_own_scan_under_a_credit(
    w,
    project,
    owner,
    trader,
    deposit_usdc,
    lens,
    oracle,
    weth,
    wbtc_listed,
    eth_feed,
    market,
    keeper,
):
    """Issue 23, point 3: with explicit credits the desk hands the risk set
    its options' P&L per risk group, so each group's own scan includes the
    options on its underlyings. Long 2 calls on the underlying (group 0)
    against short 2 WETH perps (group 1), a 30 % credit between them: the
    perp alone loses 2 x 3,000 x 15 % = 900 when WETH rises, the calls
    lose R_0 when the underlying falls (a spread), so MM = R_0 + 900 -
    2 x floor(30 % x min): above the joint rows' worst (WETH up alone,
    900 and a few thousandths: the calls' error bound in that row). The
    engine's MM equals the mirror's to the wei."""
    from dataclasses import replace

    from tests.engines import engine_over
    from xmargin.chain.engine import read_account
    from xmargin.ops.keeper import Keeper, KeeperConfig

    config = CREDIT_CONFIG
    rows = config.scenarios.scenarios
    risk = deploy_risk(project, owner, config)
    w.ch.set_portfolio_risk(risk, sender=owner)
    w.ch.set_risk_group(weth, 1, sender=owner)
    w.ch.set_risk_group(w.usdc, 2, sender=owner)
    tokens = {"USDC": w.usdc, "WETH": weth, "WBTC": wbtc_listed.token}
    feeds = {"WETH": eth_feed, "WBTC": wbtc_listed.feed}
    engine = engine_over(w.ch, oracle, tokens, feeds, {"ETH-PERP": market}, lens=lens, desk=w.desk)
    engine = replace(engine, portfolio_risk=project.PortfolioRisk.at(risk.address))
    bot = Keeper(engine, keeper, KeeperConfig(gas_asset=None), from_block=0)
    deposit_usdc(trader, 10_000)
    _portfolio(w, trader)
    w.trade(trader, w.call, 2 * WAD, 1_000 * WAD)
    eth_feed.set_answer(3_000 * 10**8, sender=w.owner)
    w.ch.trade(0, market, -2 * WAD, 0, sender=trader)
    view = read_account(bot.engine, trader.address, 0)
    assert view.portfolio is not None and view.model_agrees
    m = view.portfolio
    # R_0 by the Black-76 mirror: the two calls alone over group 0's column.
    (call,) = view.options
    calls = options.scenario_risk(
        call.price, SPOT, True, call.sigma, call.tau, 2 * WAD, [r.shocks[0] for r in rows], [0] * 6
    )
    r0 = -min(calls.pnls)
    assert 0 < r0 < 900 * WAD and min(calls.pnls) == calls.pnls[1]  # the fall
    credit = min(r0, 900 * WAD) * 30 * PCT // WAD
    assert m.credited == r0 + 900 * WAD - 2 * credit
    # the joint worst: WETH up alone, 900 and the calls' error bound there
    assert 900 * WAD < m.worst_loss < 900 * WAD + WAD // 100 < m.credited
    assert view.health.mm == m.mm == m.credited
