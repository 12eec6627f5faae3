"""Property: any sequence of trades, price moves and waits keeps the chain
equal to xmargin.perps / xmargin.model to the wei.

After every step, for every account: quote balance, position and
(equity, IM, MM) equal the model's; each market's state equals the model's;
and trader gains plus the pool's ledger sum to zero exactly (every fee,
premium, PnL and funding payment is a transfer between a trader and the
pool). A trade the model says must fail (below IM, over the OI cap) must
revert on chain with that reason and change nothing.
"""

from __future__ import annotations

from dataclasses import replace

import ape
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import isolated
from tests.unit.test_trading import ETH_MARKET
from xmargin import model, perps

E18 = 10**18
USDC = 10**6
DEPOSIT = 20_000 * USDC

# Funding caps low enough that hours of skew reach them, in both directions.
MARKETS = (
    replace(
        ETH_MARKET,
        skew_scale=10_000 * E18,
        max_oi=40 * E18,
        max_funding_velocity=E18 // 10,
        max_funding_rate=E18 // 100_000,
    ),
    replace(
        ETH_MARKET,
        imr_base=E18 // 5,
        mmr_base=E18 // 10,
        skew_scale=500 * E18,
        max_oi=2 * E18,
        max_funding_velocity=E18,
        max_funding_rate=E18 // 10_000,
    ),
)

# Wei-level sizes (not round numbers, so every rounding is exercised), of
# every magnitude from dust to several units.
sizes = st.one_of(
    st.integers(min_value=-6 * E18, max_value=6 * E18),
    st.integers(min_value=-6_000, max_value=6_000).map(lambda n: n * E18 // 1_000 + 7),
).filter(bool)
trade = st.tuples(st.just("trade"), st.integers(0, 3), st.integers(0, 1), sizes)
steps = st.lists(
    st.one_of(
        trade,
        trade,
        trade,
        st.tuples(st.just("price"), st.integers(0, 1), st.integers(-2_500, 2_500)),
        st.tuples(st.just("wait"), st.integers(1, 3 * 86_400)),
    ),
    min_size=3,
    max_size=10,
)


@pytest.fixture(scope="module")
def world(clearinghouse, owner, trader, hedger, usdc, fund, weth_listed, wbtc_listed, chain):
    feeds = (weth_listed.feed, wbtc_listed.feed)
    params = []
    for p, listed in zip(MARKETS, (weth_listed, wbtc_listed), strict=True):
        p = replace(p, asset=listed.token.address)
        clearinghouse.list_market(p.as_tuple(), sender=owner)
        params.append(p)
    accounts = [(trader, 0), (trader, 1), (hedger, 0), (hedger, 1)]
    for who, sub in accounts:
        fund(usdc, who, DEPOSIT, clearinghouse)
        clearinghouse.deposit(sub, usdc, DEPOSIT, sender=who)
    return params, feeds, accounts


class Model:
    def __init__(self, ch, params, feeds, accounts, quote_asset, assets):
        self.ch, self.params, self.feeds, self.accounts = ch, params, feeds, accounts
        self.quote, self.assets = quote_asset, assets
        self.states = [perps.MarketState(*ch.market_state(m)) for m in range(2)]
        self.prices = [f.answer() * 10**10 for f in feeds]
        self.positions = {(str(w), s, m): perps.Position() for w, s in accounts for m in range(2)}
        self.balances = {(str(w), s): DEPOSIT for w, s in accounts}
        self.pool = 0

    def risk(self, who, sub, now) -> perps.PositionRisk:
        total = perps.PositionRisk()
        for m in range(2):
            pos = self.positions[(str(who), sub, m)]
            if pos.size:
                _, index = perps.funding(self.states[m], self.params[m], self.prices[m], now)
                total += perps.risk(pos, self.params[m], self.prices[m], index)
        return total

    def health(self, who, sub, now) -> model.Health:
        return model.account_health(
            {self.quote: self.balances[(str(who), sub)]},
            self.assets,
            {},
            self.quote,
            positions=self.risk(who, sub, now),
        )


def _now(chain) -> int:
    return chain.blocks.head.timestamp


def _refresh(model_, owner):
    for feed, price in zip(model_.feeds, model_.prices, strict=True):
        feed.set_answer(price // 10**10, sender=owner)


def _check(model_, ch, chain):
    now = _now(chain)
    for who, sub in model_.accounts:
        assert ch.balance_of(who, sub, model_.quote) == model_.balances[(str(who), sub)]
        for m in range(2):
            assert tuple(ch.position(who, sub, m)) == tuple(
                vars(model_.positions[(str(who), sub, m)]).values()
            )
        expected = model_.health(who, sub, now)
        assert tuple(ch.account_health(who, sub)) == (expected.equity, expected.im, expected.mm)
    for m in range(2):
        assert tuple(ch.market_state(m)) == tuple(vars(model_.states[m]).values())
    gains = sum(b - DEPOSIT for b in model_.balances.values())
    assert gains + ch.pool_balance() == 0
    assert ch.pool_balance() == model_.pool
    # The pool's claim on traders, from exact aggregates, against the sum of
    # per-position figures: each position rounds once, so they may differ
    # by at most one wei per open position (and only against the pool).
    risks = [
        perps.risk(
            pos,
            model_.params[m],
            model_.prices[m],
            perps.funding(model_.states[m], model_.params[m], model_.prices[m], now)[1],
        )
        for (_, _, m), pos in model_.positions.items()
        if pos.size
    ]
    s = ch.pool_state()
    assert 0 <= s.traders_pnl - sum(r.pnl for r in risks) <= len(risks)
    assert 0 <= sum(r.funding for r in risks) - s.traders_funding <= len(risks)
    assert s.value == max(s.cash - s.traders_pnl + s.traders_funding, 0)


@given(steps=steps)
def test_trades_match_the_model(world, steps, clearinghouse, owner, usdc, chain, assets):
    params, feeds, accounts = world
    with isolated(chain):
        ch = clearinghouse
        m_ = Model(ch, params, feeds, accounts, usdc.address, assets)
        m_.prices = [3_000 * E18, 60_000 * E18]
        _refresh(m_, owner)
        for step in steps:
            if step[0] == "price":
                _, m, bps = step
                m_.prices[m] = m_.prices[m] * (10_000 + bps) // 10_000 // 10**10 * 10**10
                feeds[m].set_answer(m_.prices[m] // 10**10, sender=owner)
            elif step[0] == "wait":
                chain.pending_timestamp = _now(chain) + step[1]
                _refresh(m_, owner)
            else:
                _, who_i, m, delta = step
                who, sub = accounts[who_i]
                _trade(m_, ch, chain, who, sub, m, delta)
            _check(m_, ch, chain)


def _trade(m_, ch, chain, who, sub, m, delta):
    key = (str(who), sub, m)
    old = m_.positions[key]
    now = _now(chain) + 1  # the trade's block
    chain.pending_timestamp = now
    r = perps.trade(m_.states[m], m_.params[m], old, delta, m_.prices[m], now, 10**12)
    reason = None
    if not r.reducing:
        new_oi = r.state.long_oi if old.size + delta > 0 else r.state.short_oi
        if new_oi > m_.params[m].max_oi:
            reason = "xmargin: open interest cap reached"
        else:
            saved = (m_.states[m], old, m_.balances[(str(who), sub)])
            m_.states[m], m_.positions[key] = r.state, r.position
            m_.balances[(str(who), sub)] += r.quote_delta
            h = m_.health(who, sub, now)
            m_.states[m], m_.positions[key], m_.balances[(str(who), sub)] = saved
            if h.equity < h.im:
                reason = "xmargin: below initial margin"
    if reason is not None:
        with ape.reverts(reason):
            ch.trade(sub, m, delta, 0 if delta < 0 else 2**200, sender=who)
        return
    tx = ch.trade(sub, m, delta, 0 if delta < 0 else 2**200, sender=who)
    (event,) = tx.events.filter(ch.Trade)
    # WAD-level amounts, before the quote balance's 6-decimal rounding.
    assert (event.fill_price, event.pnl, event.funding, event.premium, event.fee) == (
        r.fill_price,
        r.pnl,
        r.funding,
        r.premium,
        r.fee,
    )
    assert event.quote_delta == r.quote_delta
    m_.states[m], m_.positions[key] = r.state, r.position
    m_.balances[(str(who), sub)] += r.quote_delta
    m_.pool -= r.quote_delta
