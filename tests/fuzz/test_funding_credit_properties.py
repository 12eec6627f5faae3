"""Properties from the outside review of 2026-12-07 (the unit half is
tests/unit/test_review_funding_credits.py): the funding integral, the
capped ramp included, equals the mirror to the wei over random skews,
waits, caps, velocities, skew scales and prices; and a risk set with
inter-group credits equals the mirror to the wei and never asks less than
the same set without them. Here, in the fuzz lane, beside the machines.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import ape
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import feed_price_wad
from tests.markets import FUNDING_ON, allow_atomic, params
from tests.portfolio_config import E18, USDC
from xmargin.maths import perps
from xmargin.maths import portfolio as pm

DAY = 86_400
FUNDED = FUNDING_ON


_funding_steps = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.integers(-400, 400)),
        st.tuples(st.just("wait"), st.integers(1, 400 * DAY)),
        st.tuples(st.just("cap"), st.integers(0, 10 * E18)),
        st.tuples(st.just("velocity"), st.integers(0, 10 * E18)),
        st.tuples(st.just("price"), st.integers(1, 2_000_000)),
        st.tuples(st.just("scale"), st.integers(1, 300)),
    ),
    min_size=1,
    max_size=8,
)


@given(steps=_funding_steps)
def test_funding_now_equals_the_mirror_to_the_wei(
    clearinghouse, owner, trader, hedger, usdc, fund, weth_listed, chain, steps
):
    """SOUND. Random skews (both signs; a skew scale lowered below the
    skew clamps k), waits of up
    to 400 days, caps lowered below the stored rate or raised, velocities
    and prices: after every step `funding_now` equals `perps.funding` to
    the wei, and the rate stays within the cap in force."""
    from tests.conftest import isolated

    with isolated(ape.chain):
        ch = clearinghouse
        feed = weth_listed.feed
        base = dict(FUNDED, max_oi=300 * E18, skew_scale=300 * E18)
        ch.list_market(params(weth_listed.token, **base), sender=owner)
        allow_atomic(ch, owner)
        m = ch.num_markets() - 1
        for who in (trader, hedger):
            fund(usdc, who, 4 * 10**8 * USDC, ch)
            ch.deposit(0, usdc, 4 * 10**8 * USDC, sender=who)
        current = dict(base)
        for kind, value in steps:
            if kind == "trade" and value:
                who = trader if value > 0 else hedger
                with contextlib.suppress(ape.exceptions.ContractLogicError):
                    ch.trade(0, m, value * E18, 2**200 if value > 0 else 0, sender=who)
            elif kind == "wait":
                chain.pending_timestamp = chain.blocks.head.timestamp + value
                feed.set_answer(feed.answer(), sender=owner)
            elif kind == "price":
                feed.set_answer(value * 10**6, sender=owner)  # $0.01 .. $20,000
            elif kind in ("cap", "velocity"):
                key = "max_funding_rate" if kind == "cap" else "max_funding_velocity"
                current[key] = value
                ch.set_market_params(m, params(weth_listed.token, **current), sender=owner)
            elif kind == "scale":
                # a skew scale lowered below the skew: k is clamped to +-1
                current.update(skew_scale=value * E18, max_oi=value * E18)
                ch.set_market_params(m, params(weth_listed.token, **current), sender=owner)
            state = perps.MarketState(*ch.market_state(m))
            mp = perps.MarketParams(*ch.market_params(m))
            now = chain.blocks.head.timestamp
            want = perps.funding(state, mp, feed_price_wad(feed), now)
            got = tuple(ch.funding_now(m))
            assert got == want
            assert abs(got[0]) <= mp.max_funding_rate


@st.composite
def _credit_books(draw):
    groups = draw(st.integers(2, 4))
    n = draw(st.integers(1, 6))
    shock = st.integers(-100, 900).map(lambda p: p * E18 // 100)
    rows = tuple(
        pm.Scenario(
            f"s{s}",
            tuple(draw(shock) for _ in range(groups)),
            weight=draw(st.sampled_from([E18, E18 // 100, 35 * E18 // 100, E18 - 1])),
        )
        for s in range(n)
    )
    pairs = [(a, b) for a in range(groups) for b in range(a + 1, groups)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    credits = tuple((a, b, draw(st.integers(0, E18))) for a, b in chosen)
    config = pm.PortfolioConfig(
        pm.RiskGroups(tuple(f"G{g}" for g in range(groups)), {}),
        pm.ScenarioSet(rows),
        pm.PortfolioParams(E18 // 200, 0, 3 * E18 // 2, credits=credits),
    )
    value = st.integers(-(10**30), 10**30)
    lo = [draw(value) for _ in range(groups)] + [0] * (8 - groups)
    hi = [v + draw(st.integers(0, 1)) if v else 0 for v in lo]
    options = draw(
        st.one_of(
            st.just(()),
            st.lists(
                st.lists(st.integers(-(10**25), 10**25), min_size=n, max_size=n),
                min_size=groups,
                max_size=groups,
            ),
        )
    )
    return config, lo, hi, options, draw(st.integers(0, 10**30))


@given(book=_credit_books())
def test_credited_requirement_chain_equals_mirror_and_never_below_joint(project, owner, book):
    """SOUND. Random sets (2-4 groups, weights, credit pairs in random
    order and rates), exposures and per-group option P&Ls: the risk set's
    requirement / requirement_with_options equal `pm.requirement` to the
    wei, and MM with credits is never below the same set without them."""
    config, lo, hi, options, gross = book
    risk = owner.deploy(project.PortfolioRisk, *pm.risk_set_args(config))
    x = pm.GroupExposure(0, 0, tuple(lo), tuple(hi), gross, 1)
    want = pm.requirement(x, config, options, 0, 0)
    if options:
        flat = [v for row in options for v in row]
        got = risk.requirement_with_options(lo, hi, gross, 1, flat, 0)
    else:
        got = risk.requirement(lo, hi, gross, 1)
    assert tuple(got) == (want.mm, want.im)
    plain = replace(config, params=replace(config.params, credits=()))
    assert want.mm >= pm.requirement(x, plain, options, 0, 0).mm
