"""Outside review of options in portfolio mode (the price x volatility
grid): each test here demonstrates one finding and FAILS on the code under
review; it passes once the finding is fixed.

Fixtures: `pw` (tests/unit/test_option_portfolio.py): the World `w` with
the 16-row SPAN set in force (group 0 moves, USDC in group 1), a $3,000
put (series 2) and a $3,200 call (series 3).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import ape
from ape.exceptions import ContractLogicError

from tests.unit.test_option_portfolio import CONFIG, PCT, SPAN, ZERO, _portfolio, pw
from tests.unit.test_option_trading import SIGMA, SPOT, WAD, bot_log, bot_perps, w
from xmargin.maths import errors
from xmargin.maths import options as om
from xmargin.maths import portfolio as pm

__all__ = ["bot_log", "bot_perps", "pw", "w"]


# ---------------------------------------------------------------- 1. expired, unsettled longs


def test_expired_unsettled_long_payoff_is_free_equity_in_portfolio_mode(
    pw, trader, weth, eth_feed, fund, stranger
):
    """An expired series is valued, until `settle_expiry`, at its payoff at
    TODAY's price, and the grid only moves that price: nothing charges the
    gap to the payoff at the settlement round, which is already published
    (the first round at or after expiry). Linear mode guards this (a long's
    IM is its provisional payoff); portfolio mode credits it as equity for
    new risk. Here the first round after expiry is $2,900 (the call expires
    worthless), the price then runs to $4,500: the call's 'value' ($1,500)
    lets the trader withdraw all its WETH while its quote is in debt for
    the premium; the settlement then leaves the account with negative
    equity (bad debt for the pool/insurance)."""
    w = pw
    fund(weth, trader, WAD, w.ch)
    w.ch.deposit(0, weth, WAD, sender=trader)
    _portfolio(w, trader)
    w.trade(trader, w.call, WAD, 1_000 * WAD)  # the premium is a quote debt
    assert w.ch.balance_of(trader, 0, w.usdc) < 0
    w.chain.mine(timestamp=w.expiry + 10)
    w.feed.set_answer(2_900 * 10**8, sender=w.owner)  # the settlement round: OTM
    settlement_round = w.feed.round_id()
    w.chain.mine(timestamp=w.expiry + 70)
    w.feed.set_answer(4_500 * 10**8, sender=w.owner)
    eth_feed.set_answer(3_000 * 10**8, sender=w.owner)
    try:
        w.ch.withdraw(0, weth, WAD, sender=trader)
    except ContractLogicError:
        return  # fixed: the provisional payoff no longer funds the withdrawal
    w.book.settle_expiry(w.underlying, w.expiry, settlement_round, sender=stranger)
    h = w.ch.account_health(trader, 0)
    assert h.equity >= 0, f"bad debt after settlement: equity {h.equity / WAD:.2f} USD"


# ---------------------------------------------------------------- 2. liquidation strips hedges


def test_liquidate_options_can_strip_a_portfolio_hedge(
    pw, project, owner, trader, keeper, deposit_usdc, market, bot_perps
):
    """`liquidate_options` orders closes by each position's LINEAR MM and
    charges up to half of it as a penalty, on the linear-mode argument that
    a close always frees more MM than it charges. In portfolio mode the
    long put below hedges a long perp in the same risk group: closing it
    raises the portfolio MM and charges the penalty, so the liquidation
    leaves the account further under water (equity - MM falls)."""
    from tests.unit.test_liquidation import LP

    w = pw
    w.ch.set_liquidation_params(LP.as_tuple(), sender=w.owner)
    deposit_usdc(trader, 450)
    _portfolio(w, trader)
    w.trade(trader, 2, WAD, 1_000 * WAD)  # long the $3,000 put ...
    w.ch.trade(0, market, WAD, 3_100 * WAD, sender=trader)  # ... hedging a long ETH perp (group 0)
    # The owner moves to a set with a 15 % gross-notional floor (within its
    # bounds): the account is now under MM, hedged.
    tighter = replace(CONFIG, params=replace(CONFIG.params, floor_fraction=15 * PCT))
    risk = owner.deploy(project.PortfolioRisk, *pm.risk_set_args(tighter))
    w.ch.set_portfolio_risk(risk, sender=owner)
    before = w.ch.account_health(trader, 0)
    assert before.equity < before.mm
    # Fixed: in portfolio mode a close is ranked by the MM it frees (the
    # account's MM less its MM without the position); closing the put
    # frees none, so while the account holds perps the desk refuses and
    # the perp goes first (the keeper falls through to it).
    quote = w.ch.balance_of(trader, 0, w.usdc)
    with ape.reverts(errors.OPTION_HEDGE):
        w.desk.liquidate_options(trader, 0, sender=keeper)
    assert w.desk.position(trader, 0, 2) == WAD
    assert w.ch.balance_of(trader, 0, w.usdc) == quote
    # The keeper tries the options, is refused, and goes on to the perp.
    bot, log = bot_perps
    stats = bot.run_once()
    assert stats.option_liquidations == 0
    assert any(e["event"] == "liquidated" for e in log), [e["event"] for e in log]
    assert w.ch.position(trader, 0, market).size < WAD
    assert w.desk.position(trader, 0, 2) == WAD


# ---------------------------------------------------------------- 3. underlyings without a group


def test_an_option_underlying_the_engine_does_not_list_is_shocked_as_group_0(
    pw, project, owner, trader, deposit_usdc
):
    """The desk shocks an option by `risk_group(underlying)`; the engine
    only lets the owner group LISTED assets (collateral or a market's key),
    and the risk-set invariant only covers those. An option on a price key
    the engine does not list (the book lists on any router key) sits in
    group 0 whatever group 0 is. With USD as group 0 (unshocked) and the
    underlying's true group 1 moving +-30 %, a short at-the-money call is
    charged only the error bound."""
    w = pw
    deposit_usdc(trader, 3_000)
    _portfolio(w, trader)
    w.trade(trader, w.call, -WAD, 0)
    risk = owner.deploy(
        project.PortfolioRisk, [[0, 30 * PCT], [0, -30 * PCT]], 0, 0, WAD, [], [], 0, [], []
    )
    # GROUP_ASSET_NOT_LISTED today: the owner cannot place it.
    with contextlib.suppress(ContractLogicError):
        w.ch.set_risk_group(w.underlying, 1, sender=owner)
    _, mm, _ = w.desk.portfolio_risk(trader, 0, risk, ZERO, ZERO, 0, 0)
    # A 30 % rise costs a one-month ATM call far more than its intrinsic
    # $900 less its ~$274 mark.
    assert mm >= 600 * WAD, f"MM {mm / WAD:.6f} USD for a short call facing a 30 % move"


# ---------------------------------------------------------------- 4. mirror: a -100 % move


def test_the_mirror_reprices_a_fall_to_zero_like_the_book(pw):
    """PortfolioRisk accepts a -100 % move (and span_scenarios clamps its
    extreme rows to it for scans >= 1/3), the book reprices it (the moved
    price is 0), but the mirror's Black-76 raises on a zero price: the
    CLI's `read_account` / `options_in_portfolio_mode` crash for every
    portfolio account holding options under such a set."""
    w = pw
    tau = w.expiry - w.chain.blocks.head.timestamp
    for series, strike, is_call in ((w.call, SPOT, True), (w.put, 2_800 * WAD, False)):
        value, pnls, short = w.book.scenario_risk(series, -WAD, [-WAD, 0], [0, 0])
        mirror = om.scenario_risk(SPOT, strike, is_call, SIGMA, tau, -WAD, [-WAD, 0], [0, 0])
        assert (value, list(pnls), short) == (
            mirror.value,
            list(mirror.pnls),
            mirror.short_notional,
        )


def test_span_scenarios_with_a_wide_scan_are_mirrored():
    """The SPAN helper itself produces -100 % rows for a 40 % scan."""
    wide = pm.span_scenarios(2, (0,), 40 * PCT, 25 * PCT)
    assert any(s.shocks[0] == -WAD for s in wide.scenarios)
    moves = [s.shocks[0] for s in wide.scenarios]
    vols = [s.vol_shock for s in wide.scenarios]
    om.scenario_risk(SPOT, SPOT, True, SIGMA, 86_400, -WAD, moves, vols)


# ---------------------------------------------------------------- 5. mirror: config names


def test_the_config_names_never_replace_the_chains_weights_or_vol_moves(monkeypatch):
    """`Engine.portfolio_config` returns the deployment config's set instead
    of the chain's when groups, shocks and params match, ignoring each
    scenario's `vol` and `weight`: after an edit of those in the config (or
    before a redeploy), every mirror read (read_account, the CLI, the demo)
    margins with weights and vol moves the chain does not use."""
    import xmargin.chain.config as config_module
    from xmargin.chain.engine import _named_like_the_config

    on_chain = CONFIG
    edited = replace(
        CONFIG,
        scenarios=pm.ScenarioSet(
            tuple(replace(s, weight=WAD, vol_shock=0) for s in SPAN.scenarios)
        ),
    )

    class Loaded:
        portfolio = edited

    monkeypatch.setattr(config_module, "load_config", lambda _path: Loaded())
    got = _named_like_the_config(on_chain, "config/local.yaml")
    assert [(s.vol_shock, s.weight) for s in got.scenarios.scenarios] == [
        (s.vol_shock, s.weight) for s in on_chain.scenarios.scenarios
    ]
