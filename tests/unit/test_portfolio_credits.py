"""Explicit inter-group credits (issue 23, point 3: SPAN's inter-commodity
spread credits).

Without credits the risk set prices a book only by its joint rows, so the
rows' choice of how groups move together is an implied correlation nobody
set (SPAN's sixteen rows applied to two coins at once credit a BTC/ETH
spread 89 %). With credits set, each group is also priced alone over its own
column (R_g, the worst weighted loss, its direction the sign of that row's
move), and each listed pair whose groups lose in opposite directions gives
up `rate` of the smaller risk on both sides, in the listed order; MM is at
least the sum left, and still at least the joint worst.

Every expected figure is worked out by hand below and also checked against
`xmargin.maths.portfolio.requirement` (the mirror), never the contract.
"""

from __future__ import annotations

import ape
import pytest

from tests.portfolio_config import CONFIG, E18, GROUPS, PARAMS, PCT, USD
from xmargin.maths import errors
from xmargin.maths import portfolio as pm


def _deploy(project, owner, config: pm.PortfolioConfig):
    return owner.deploy(project.PortfolioRisk, *pm.risk_set_args(config))


def _with_credits(config: pm.PortfolioConfig, *credits) -> pm.PortfolioConfig:
    params = pm.PortfolioParams(
        config.params.floor_fraction,
        config.params.min_per_position,
        config.params.im_factor,
        credits=tuple(credits),
    )
    return pm.PortfolioConfig(config.groups, config.scenarios, params)


def _exposure(v: list[int]) -> pm.GroupExposure:
    padded = tuple(v + [0] * (8 - len(v)))
    return pm.GroupExposure(0, 0, padded, padded, 0, 0)


# The example set (tests/portfolio_config.py): together +-10 %, apart +-4 %,
# USDC de-peg -5 %; no floor here (no gross notional, no positions counted).
SPREAD = [300_000 * USD, -300_000 * USD, 0]  # long ETH, short BTC, $300k each
LONG_LONG = [300_000 * USD, 300_000 * USD, 0]


@pytest.mark.parametrize(
    ("credits", "v", "mm"),
    [
        # No credits: the joint rows alone. The spread's worst is "ETH down,
        # BTC up" 4 %: 12,000 + 12,000 (the rows' implied 80 % credit).
        ((), SPREAD, 24_000),
        # 50 %: R_ETH = R_BTC = 30,000 (each 10 % alone, ETH losing down,
        # BTC up: a spread); each gives up 15,000: 30,000 > the joint 24,000.
        (((0, 1, 50 * PCT),), SPREAD, 30_000),
        # 70 %: 9,000 + 9,000 = 18,000 < 24,000: the joint rows bind.
        (((0, 1, 70 * PCT),), SPREAD, 24_000),
        # A pair listed at 0 %: no diversification at all, 60,000.
        (((0, 1, 0),), SPREAD, 60_000),
        # Long ETH and long BTC lose the same way: no spread, no credit;
        # 60,000 both ways ("together down").
        (((0, 1, 50 * PCT),), LONG_LONG, 60_000),
    ],
    ids=["joint rows", "50 % binds", "70 % joint binds", "0 %", "not a spread"],
)
def test_a_spread_credit_by_hand(project, owner, credits, v, mm):
    config = _with_credits(CONFIG, *credits)
    risk = _deploy(project, owner, config)
    x = _exposure(v)
    got_mm, got_im = risk.requirement(list(x.lo), list(x.hi), 0, 0)
    assert got_mm == mm * USD and got_im == mm * USD * 3 // 2
    assert pm.requirement(x, config).mm == mm * USD
    assert [tuple(c) for c in risk.credits()] == list(credits)
    assert risk.num_credits() == len(credits)


def test_credits_apply_pair_by_pair_to_what_is_left(project, owner):
    """Three groups, rows moving one group 10 % at a time (no joint moves:
    the joint worst is the largest single loss). V = (+300k, -100k,
    -200k): R = (30k down, 10k up, 20k up). Pairs in order (0, 1) at
    100 % then (0, 2) at 50 %: A and B give up min(30k, 10k) = 10k (A 20k,
    B 0), then A and C give up 50 % of min(20k, 20k) = 10k (A 10k, C 10k):
    MM 20k. Listed the other way round: A and C give up 50 % of min(30k,
    20k) = 10k (A 20k, C 10k), then A and B min(20k, 10k) = 10k (A 10k,
    B 0): 20k again, the joint 30k binding both times; at 100 % and 100 %
    nothing is left of the credited sum (A 0) and the joint rows stand."""
    groups = pm.RiskGroups(("A", "B", "C"), {})
    rows = tuple(
        pm.Scenario(f"{n} {sign:+d}", tuple(sign * 10 * PCT if g == i else 0 for g in range(3)))
        for i, n in enumerate("ABC")
        for sign in (1, -1)
    )
    base = pm.PortfolioConfig(groups, pm.ScenarioSet(rows), PARAMS)
    x = _exposure([300_000 * USD, -100_000 * USD, -200_000 * USD])
    for credits, credited, mm in (
        (((0, 1, 100 * PCT), (0, 2, 50 * PCT)), 20_000, 30_000),
        (((0, 2, 50 * PCT), (0, 1, 100 * PCT)), 20_000, 30_000),
        (((0, 1, 0), (0, 2, 0)), 60_000, 60_000),
    ):
        config = _with_credits(base, *credits)
        risk = _deploy(project, owner, config)
        assert risk.requirement(list(x.lo), list(x.hi), 0, 0)[0] == mm * USD
        m = pm.requirement(x, config)
        assert (m.credited, m.mm) == (credited * USD, mm * USD)


def test_the_risk_set_refuses_bad_credits(project, owner):
    def deploy(*credits):
        args = list(pm.risk_set_args(CONFIG))
        args[-1] = [list(c) for c in credits]
        return owner.deploy(project.PortfolioRisk, *args)

    for bad in (
        [(1, 0, PCT)],  # a > b
        [(1, 1, PCT)],  # a pair of one group
        [(0, 3, PCT)],  # CONFIG has 3 groups
        [(0, 1, E18 + 1)],  # more than all of it
        [(0, 1, PCT), (0, 2, PCT), (0, 1, 2 * PCT)],  # a pair twice
    ):
        with ape.reverts(errors.CREDIT_RANGE):
            deploy(*bad)
    ok = deploy((0, 1, E18), (1, 2, 0))
    assert [tuple(c) for c in ok.credits()] == [(0, 1, E18), (1, 2, 0)]
    # the mirror refuses the same
    for bad in ([(1, 0, PCT)], [(0, 1, E18 + 1)], [(0, 1, PCT), (0, 1, PCT)]):
        with pytest.raises(ValueError):
            pm.PortfolioParams(0, 0, E18, credits=tuple(bad))
    with pytest.raises(ValueError):
        pm.PortfolioConfig(
            GROUPS, CONFIG.scenarios, pm.PortfolioParams(0, 0, E18, credits=((0, 3, PCT),))
        )


def test_status_shows_the_credited_scan():
    """`xmargin status` prints each group's own scan less the credits
    beside the joint worst (the 50 % spread above: 30,000 against 24,000),
    and the JSON carries it; a set without credits shows neither."""
    from rich.console import Console

    from xmargin.ui import json_view as jv
    from xmargin.ui import report

    config = _with_credits(CONFIG, (0, 1, 50 * PCT))
    m = pm.requirement(_exposure(SPREAD), config)
    console = Console(width=200, record=True)
    console.print(report.portfolio_table("Portfolio", m, config))
    text = console.export_text()
    assert "each group alone, less credits" in text and "30,000.00" in text
    assert "24,000.00" in text and "MM = max(worst loss, credited, floor)" in text
    assert jv.portfolio(m, config)["credited_usd"] == "30000"
    plain = pm.requirement(_exposure(SPREAD), CONFIG)
    console = Console(width=200, record=True)
    console.print(report.portfolio_table("Portfolio", plain, CONFIG))
    assert "credits" not in console.export_text()
    assert jv.portfolio(plain, CONFIG)["credited_usd"] is None
