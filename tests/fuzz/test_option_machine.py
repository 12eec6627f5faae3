"""The options fuzz machine (issue 23, "Fuzz"): accounts trade a book of
calls and puts against the pool by delayed order, the price and the
implied volatility move, accounts switch between linear and portfolio
margin, keepers liquidate option accounts, and the expiry is settled;
after every step the chain must equal the machine's own account of it.

The machine predicts each action from its own state and the Python mirror
(`xmargin.maths.black76`, `.options`, `.portfolio`, `xmargin.chain.options.
portfolio_with_options`), never from the contracts: whether an order
fills (the premium against the limit, initial margin in the account's
mode after the trade, the minimum size, the open-interest cap), the
premium and the cash each side moves to the native unit, whether a mode
switch is accepted, whether an account can be liquidated, which position
the liquidation closes and its penalty, and each expiry payoff. Its
invariants: every account's health (equity, IM, MM) equals the mirror's in
its mode, every position and the series' net open interest equal the
machine's, every quote balance, the pool's cash and the keeper's
penalties equal the machine's ledger, and the pool's value owes exactly
the traders' options at the mark rounded against the pool.

Attacks it stands for: a trader whose order would break margin in
portfolio mode (a volatility row, the short-option minimum), a switch to
the cheaper mode while under water, a liquidation of an account above
maintenance margin, a keeper picking a position other than the one that
frees the most margin per unit of penalty, rounding in anyone's favour
but the pool's and the account's counterparties'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE, OPTION_RULE, QUOTE_CAP, VOL_BOUNDS
from xmargin.chain.abi import deploy_clearinghouse
from xmargin.chain.options import OptionView, mm_without_each, portfolio_with_options
from xmargin.maths import black76, errors
from xmargin.maths import options as om
from xmargin.maths import portfolio as pm
from xmargin.maths.account import Account, group_exposure
from xmargin.maths.fixed_point import ceil_div
from xmargin.maths.model import AssetParams, Health

WAD = 10**18
USDC = 10**6
TO_NATIVE = 10**12
PCT = WAD // 100
# Four series on one expiry 30 days out: (strike USD, call?).
SERIES = ((3_000, True), (2_800, False), (3_000, False), (3_200, True))
SPREAD = 5 * PCT
MIN_SIZE = WAD // 10
MAX_OI = 12 * WAD
DELAY = 5
WINDOW = 120
# A pool of $1M against at most 4 x 12 short contracts: its short-option IM
# (at most 15 % of ~$4,500 a contract) stays far under half its value, so
# the reserve cap never binds here (tests/unit/test_option_trading.py
# covers it).
POOL = 1_000_000 * USDC
RESERVE = WAD // 2
PENALTY = WAD // 100
START = 4_000 * USDC
RULE = om.MarginParams(*OPTION_RULE)
# SPAN's sixteen rows on the underlying, a USDC de-peg row, and a 30 %
# credit between the two groups: the desk hands the options' P&Ls over per
# group and the risk set prices each group alone (a short call book loses
# on a rise, the cash on a de-peg: a spread; at 30 % the credited sum,
# the larger scan + 40 % of the smaller, is above the joint rows' worst).
CONFIG = pm.PortfolioConfig(
    pm.RiskGroups(("ETH", "USD"), {"USDC": 1}),
    pm.ScenarioSet(
        (
            *pm.span_scenarios(2, (0,), 15 * PCT, 25 * PCT).scenarios,
            pm.Scenario("USDC de-peg", (0, -5 * PCT)),
        )
    ),
    pm.PortfolioParams(0, 10 * WAD, 3 * WAD // 2, 2 * PCT, credits=((0, 1, 30 * PCT),)),
)
ASSETS = {"USDC": AssetParams(6)}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# Steps and examples: the `ci` profile keeps `make test` bounded, `fuzz`
# runs longer; XMARGIN_FUZZ_STEPS / XMARGIN_OPTION_EXAMPLES override.
STEPS = int(os.environ.get("XMARGIN_FUZZ_STEPS", "60" if PROFILE == "fuzz" else "14"))
EXAMPLES = int(os.environ.get("XMARGIN_OPTION_EXAMPLES", "200" if PROFILE == "fuzz" else "6"))
# The volatility feed's answers the machine keeps to (inside VOL_BOUNDS'
# exclusive 1 % .. 500 %).
VOL_MIN, VOL_MAX = 2_000_000, 400_000_000

COVERAGE: dict[str, int] = {}


def _seen(what: str) -> None:
    COVERAGE[what] = COVERAGE.get(what, 0) + 1


@dataclass
class Book:
    """The machine's ledger: quote balances (native), positions, the pool's
    cash, the keeper's penalties, the margin modes, the market."""

    quote: dict[tuple[str, int], int]
    pool: int
    keeper: int = 0
    pos: dict[tuple[str, int, int], int] = field(default_factory=dict)
    portfolio: set[tuple[str, int]] = field(default_factory=set)
    price: int = 3_000 * WAD
    vol_answer: int = 80_000_000
    settled: int = 0

    @property
    def sigma(self) -> int:
        return self.vol_answer * 10**10

    def held(self, key: tuple[str, int]) -> dict[int, int]:
        return {s: n for (o, sub, s), n in self.pos.items() if (o, sub) == key and n}


def _view(series: int, size: int, price: int, sigma: int, tau: int) -> OptionView:
    strike, is_call = SERIES[series]
    risk = om.linear_risk(price, strike * WAD, is_call, sigma, tau, size, RULE)
    return OptionView(
        series, "ETHX", strike * WAD, 0, is_call, size, risk, None, price, sigma, tau, 0
    )


def mirror_health(
    quote: int, held: dict[int, int], portfolio: bool, price: int, sigma: int, tau: int
) -> Health:
    """An account of quote (native) and options, as the engine values it."""
    q = quote * TO_NATIVE
    views = tuple(_view(s, n, price, sigma, tau) for s, n in held.items())
    if portfolio:
        account = Account({"USDC": quote}, ASSETS, "USDC", {}, (), CONFIG)
        if not views:
            return account.health()
        h, margin = portfolio_with_options(
            group_exposure(account, CONFIG.groups), CONFIG, views, {}
        )
        if margin.credited > margin.worst_loss:
            _seen("the credited scan binds")
        return h
    return Health(
        q + sum(v.risk.value for v in views),
        sum(v.risk.im for v in views),
        sum(v.risk.mm for v in views),
    )


class OptionMachine(RuleBasedStateMachine):
    ctx: ClassVar[dict] = {}

    @initialize()
    def start(self):
        c = self.ctx
        self.chain, self.owner, self.keeper = c["chain"], c["owner"], c["keeper"]
        self.ch, self.desk, self.book = c["ch"], c["desk"], c["book"]
        self.feed, self.vol_feed, self.expiry = c["feed"], c["vol_feed"], c["expiry"]
        self.usdc, self.underlying = c["usdc"], c["underlying"]
        self.snapshot = self.chain.snapshot()
        self.actors = [(t, sub) for t in c["traders"] for sub in (0, 1)]
        self.b = Book(
            quote={(str(t), s): START for t, s in self.actors},
            pool=int(self.ch.pool_balance()),
        )
        self.expired = False
        self.steps = 0
        _seen("examples")

    def teardown(self):
        if hasattr(self, "snapshot"):
            self.chain.restore(self.snapshot)

    # ------------------------------------------------------------ helpers

    def _key(self, actor: int) -> tuple[Any, int, tuple[str, int]]:
        who, sub = self.actors[actor]
        return who, sub, (str(who), sub)

    def _send(self, fn: Any, *args: Any, sender: Any) -> tuple[Any, int, str | None]:
        """Sends; returns (receipt or None, the time it ran at, the refusal's
        reason). A refusal is found by the gas estimate, which mines nothing:
        it ran at the next block's time, one second on."""
        try:
            tx = fn(*args, sender=sender)
        except ContractLogicError as err:
            return None, int(self.chain.blocks.head.timestamp) + 1, str(err)
        return tx, int(tx.timestamp), None

    def _publish(self, after: int) -> int:
        """Mines `after` seconds on; the price and the volatility publish."""
        self.chain.mine(timestamp=self.chain.blocks.head.timestamp + after)
        self.feed.set_answer(self.b.price // 10**10, sender=self.owner)
        self.vol_feed.set_answer(self.b.vol_answer, sender=self.owner)
        return int(self.chain.blocks.head.timestamp)

    def _health(self, key: tuple[str, int], held: dict[int, int], quote: int, now: int) -> Health:
        return mirror_health(
            quote, held, key in self.b.portfolio, self.b.price, self.b.sigma, self.expiry - now
        )

    # ------------------------------------------------------------ rules

    # Three rules share `trade` (hypothesis switches rules off at random
    # per example: with three, an example without trades is rare).
    @precondition(lambda self: not self.expired)
    @rule(
        actor=st.integers(0, 3), series=st.integers(0, len(SERIES) - 1), tenths=st.integers(1, 40)
    )
    def buy(self, actor, series, tenths):
        self.trade(actor, series, tenths, True, False)

    @precondition(lambda self: not self.expired)
    @rule(
        actor=st.integers(0, 3), series=st.integers(0, len(SERIES) - 1), tenths=st.integers(1, 40)
    )
    def sell(self, actor, series, tenths):
        self.trade(actor, series, tenths, False, False)

    @precondition(lambda self: not self.expired and any(self.b.pos.values()))
    @rule(actor=st.integers(0, 3), series=st.integers(0, len(SERIES) - 1))
    def close(self, actor, series):
        self.trade(actor, series, 1, False, True)

    def trade(self, actor, series, tenths, buy, close):
        who, sub, key = self._key(actor)
        old = self.b.pos.get((*key, series), 0)
        size = tenths * MIN_SIZE * (1 if buy else -1)
        if close and old:
            size = -old
        left = old + size
        if left != 0 and abs(left) < MIN_SIZE:
            return
        limit = 2**255 if size > 0 else 0
        self.desk.commit_option_order(sub, series, size, limit, sender=who)
        self._publish(DELAY)
        tx = self.desk.execute_option_order(who, sub, sender=self.keeper)
        (ev,) = tx.events.filter(self.desk.OptionOrderExecuted)
        now = int(tx.timestamp)
        tau = self.expiry - now
        strike, is_call = SERIES[series]
        sigma = self.b.sigma
        spread = sigma * SPREAD // WAD
        quoted = sigma + spread if size > 0 else sigma - spread
        premium = black76.price(self.b.price, strike * WAD, quoted, tau, is_call)
        n = abs(size)
        cash = -ceil_div(n * premium, WAD) if size > 0 else n * premium // WAD
        amount = cash // TO_NATIVE
        net_before = sum(v for (_, _, s), v in self.b.pos.items() if s == series)
        net_after = net_before + size
        held = self.b.held(key)
        held[series] = left
        held = {s: v for s, v in held.items() if v}
        quote = self.b.quote[key] + amount
        adds_risk = abs(left) > abs(old) or (left != 0 and (left > 0) != (old > 0))
        fills = abs(net_after) <= MAX_OI or abs(net_after) <= abs(net_before)
        if fills and adds_risk:
            h = self._health(key, held, quote, now)
            fills = h.equity >= h.im
            _seen("trade refused below IM" if not fills else "trade adding risk")
        assert bool(ev.filled) == fills, (key, series, size, old)
        if fills:
            assert ev.premium == premium
            self.b.pos[(*key, series)] = left
            self.b.quote[key] = quote
            self.b.pool -= amount
            _seen("trade filled" + (" in portfolio mode" if key in self.b.portfolio else ""))
        else:
            _seen("trade refused")

    @precondition(lambda self: not self.expired)
    @rule(
        bps=st.integers(-1_500, 1_500), vol_pct=st.integers(-40, 60), seconds=st.integers(1, 3_000)
    )
    def move(self, bps, vol_pct, seconds):
        self.b.price = self.b.price * (10_000 + bps) // 10_000 // 10**10 * 10**10
        moved = self.b.vol_answer * (100 + vol_pct) // 100
        self.b.vol_answer = min(max(moved, VOL_MIN), VOL_MAX)
        self._publish(seconds)
        _seen("price and volatility moved")

    @precondition(lambda self: not self.expired)
    @rule(actor=st.integers(0, 3))
    def switch_mode(self, actor):
        who, sub, key = self._key(actor)
        to_portfolio = key not in self.b.portfolio
        held = self.b.held(key)
        tx, now, reason = self._send(self.ch.set_margin_mode, sub, to_portfolio, sender=who)
        modes = self.b.portfolio ^ {key}
        h = mirror_health(
            self.b.quote[key], held, key in modes, self.b.price, self.b.sigma, self.expiry - now
        )
        ok = (not held and self.b.quote[key] >= 0) or h.equity >= h.im
        assert (reason is None) == ok, (key, reason, h)
        if ok:
            self.b.portfolio = modes
            _seen("mode switched with options" if held else "mode switched")
        else:
            assert reason is not None and errors.BELOW_IM in reason
            _seen("mode switch refused below IM")

    @precondition(lambda self: not self.expired and any(self.b.pos.values()))
    @rule(actor=st.integers(0, 3))
    def liquidate(self, actor):
        who, sub, key = self._key(actor)
        held = self.b.held(key)
        order = [int(s) for s in self.desk.account_series(who, sub)]
        tx, now, reason = self._send(self.desk.liquidate_options, who, sub, sender=self.keeper)
        tau = self.expiry - now
        h = self._health(key, held, self.b.quote[key], now)
        if not held or h.equity >= h.mm:
            want = errors.NOT_LIQUIDATABLE if h.equity >= h.mm else errors.NO_OPTION_POSITION
            assert reason is not None and want in reason, (key, reason, h)
            _seen("liquidation refused")
            return
        assert tx is not None, (key, reason, h)
        # The desk's choice, in its held order: the most margin freed per
        # unit of penalty; freed is the linear MM, or in portfolio mode the
        # account's MM less its MM without the position.
        views = tuple(_view(s, held[s], self.b.price, self.b.sigma, tau) for s in order)
        freed = [v.risk.mm for v in views]
        added = [0] * len(views)
        portfolio = key in self.b.portfolio
        if portfolio:
            account = Account({"USDC": self.b.quote[key]}, ASSETS, "USDC", {}, (), CONFIG)
            x = group_exposure(account, CONFIG.groups)
            without = mm_without_each(x, CONFIG, views, {})
            freed = [h.mm - min(h.mm, mm) for mm in without]
            added = [mm - min(h.mm, mm) for mm in without]
            _seen("portfolio liquidation ordered by the margin each close frees")
            if not any(freed):
                # no perps here: the options are closed anyway
                _seen("portfolio liquidation where no close frees margin")
        penalties = [
            om.liquidation_penalty(
                v.size, self.b.price, v.risk.mm, PENALTY, f if portfolio else None
            )
            for v, f in zip(views, freed, strict=True)
        ]
        best = om.liquidation_choice(list(zip(order, freed, added, penalties, strict=True)))
        assert best is not None
        best_risk = views[order.index(best)].risk
        best_penalty = penalties[order.index(best)]
        (ev,) = tx.events.filter(self.desk.OptionTraded)
        assert (ev.series_id, ev.cash) == (best, best_risk.value)
        amount = best_risk.value // TO_NATIVE
        fee = best_penalty // TO_NATIVE
        self.b.quote[key] += amount - fee
        self.b.pool -= amount
        self.b.keeper += fee
        self.b.pos[(*key, best)] = 0
        _seen("option liquidated" + (" in portfolio mode" if key in self.b.portfolio else ""))

    # The expiry ends the trading (every later step is a refused commit):
    # not before ten steps of it.
    @precondition(lambda self: not self.expired and self.steps >= 10)
    @rule(minutes=st.integers(1, 90), bps=st.integers(-2_000, 2_000))
    def expire_and_settle(self, minutes, bps):
        """Past the expiry, the first round records the settlement price and
        every position settles at its payoff (a long paid it rounded down,
        a short paying it rounded up)."""
        self.b.price = self.b.price * (10_000 + bps) // 10_000 // 10**10 * 10**10
        self.chain.mine(timestamp=self.expiry + minutes * 60)
        self.feed.set_answer(self.b.price // 10**10, sender=self.owner)
        self.book.settle_expiry(
            self.underlying, self.expiry, self.feed.latestRoundData()[0], sender=self.keeper
        )
        assert self.book.settlement(self.underlying, self.expiry) == self.b.price
        for (owner, sub, s), size in sorted(self.b.pos.items()):
            if not size:
                continue
            strike, is_call = SERIES[s]
            payoff = black76.price(self.b.price, strike * WAD, 0, 0, is_call)
            cash = abs(size) * payoff // WAD if size > 0 else -ceil_div(abs(size) * payoff, WAD)
            self.desk.settle_option(owner, sub, s, sender=self.keeper)
            amount = cash // TO_NATIVE
            self.b.quote[(owner, sub)] += amount
            self.b.pool -= amount
            self.b.pos[(owner, sub, s)] = 0
            _seen("position settled at expiry")
        self.expired = True

    @precondition(lambda self: self.expired)
    @rule(actor=st.integers(0, 3), series=st.integers(0, len(SERIES) - 1), buy=st.booleans())
    def trade_an_expired_series(self, actor, series, buy):
        """Nothing trades an expired series: the commit is refused and
        nothing moves (the ledger invariants check the rest)."""
        who, sub, _ = self._key(actor)
        size = MIN_SIZE if buy else -MIN_SIZE
        _, _, reason = self._send(self.desk.commit_option_order, sub, series, size, 0, sender=who)
        assert reason is not None and errors.SERIES_EXPIRED in reason
        assert self.desk.pending_option_order(who, sub).size == 0
        _seen("expired series refused")

    # ------------------------------------------------------------ invariants

    @invariant()
    def ledgers_match(self):
        if not hasattr(self, "b"):
            return
        self.steps += 1
        for who, sub in self.actors:
            key = (str(who), sub)
            assert self.ch.balance_of(who, sub, self.usdc) == self.b.quote[key], key
            held = self.b.held(key)
            assert {int(s) for s in self.desk.account_series(who, sub)} == set(held), key
            for s, n in held.items():
                assert self.desk.position(who, sub, s) == n
            assert bool(self.ch.holds_options(who, sub)) == bool(held)
        assert self.ch.pool_balance() == self.b.pool
        assert self.ch.balance_of(self.keeper, 0, self.usdc) == self.b.keeper
        for s in range(len(SERIES)):
            net = sum(v for (_, _, x), v in self.b.pos.items() if x == s)
            assert self.desk.net_oi(s) == net

    @invariant()
    def health_matches_the_mirror(self):
        if not hasattr(self, "b") or self.expired:
            return
        now = int(self.chain.blocks.head.timestamp)
        for who, sub in self.actors:
            key = (str(who), sub)
            h = self.ch.account_health(who, sub)
            want = self._health(key, self.b.held(key), self.b.quote[key], now)
            assert (h.equity, h.im, h.mm) == (want.equity, want.im, want.mm), key

    @invariant()
    def the_pool_owes_the_traders_options(self):
        """The pool's value counts what it owes on the traders' net
        positions: each series' pool position at the mark rounded against
        the pool."""
        if not hasattr(self, "b") or self.expired:
            return
        now = int(self.chain.blocks.head.timestamp)
        owed = 0
        for s, (strike, is_call) in enumerate(SERIES):
            net = sum(v for (_, _, x), v in self.b.pos.items() if x == s)
            if not net:
                continue
            mark = black76.price(
                self.b.price, strike * WAD, self.b.sigma, self.expiry - now, is_call
            )
            # the pool holds -net: owed rounded up when traders are long
            owed += ceil_div(net * mark, WAD) if net > 0 else -(abs(net) * mark // WAD)
        assert self.ch.pool_state().traders_pnl == owed


@pytest.fixture(scope="module")
def option_world(project, accounts, chain) -> dict:
    owner, keeper, lp = accounts[0], accounts[3], accounts[4]
    traders = [accounts[1], accounts[2]]
    usdc = owner.deploy(project.MockERC20, "Mock USDC", "USDC", 6)
    underlying = owner.deploy(project.MockERC20, "Mock ETHX", "ETHX", 18)
    oracle = owner.deploy(project.OracleRouter)
    feed = owner.deploy(project.MockAggregator, 8, "ETH / USD", 3_000 * 10**8)
    oracle.set_feed(underlying, feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    ch = deploy_clearinghouse(project, owner, usdc.address, oracle.address, QUOTE_CAP)
    expiry = chain.blocks.head.timestamp + 30 * 86_400
    vol_feed = owner.deploy(project.MockAggregator, 8, "ETH 30d IV", 80_000_000)
    oracle.set_vol_feed(underlying, expiry, vol_feed, HEARTBEAT, *VOL_BOUNDS, sender=owner)
    book = owner.deploy(project.OptionsBook, oracle)
    book.set_margin_params(underlying, *OPTION_RULE, sender=owner)
    vault = owner.deploy(project.LiquidityPool, ch.address, "xmargin LP", "xLP", 0)
    ch.set_pool(vault, sender=owner)
    usdc.mint(lp, POOL, sender=lp)
    usdc.approve(vault, POOL, sender=lp)
    vault.deposit(POOL, lp, sender=lp)
    desk = owner.deploy(project.OptionsDesk, book, ch)
    ch.set_options_desk(desk, sender=owner)
    ch.list_asset(underlying, WAD // 5, WAD // 10, 10**6 * WAD, sender=owner)
    desk.set_trade_rules(underlying, SPREAD, MIN_SIZE, MAX_OI, DELAY, WINDOW, sender=owner)
    desk.set_pool_limits(RESERVE, PENALTY, sender=owner)
    for strike, is_call in SERIES:
        book.list_series(underlying, strike * WAD, expiry, is_call, sender=owner)
    risk = owner.deploy(project.PortfolioRisk, *pm.risk_set_args(CONFIG))
    ch.set_portfolio_risk(risk, sender=owner)
    ch.set_risk_group(usdc, 1, sender=owner)
    for t in traders:
        usdc.mint(t, 2 * START, sender=t)
        usdc.approve(ch, 2 * START, sender=t)
        for sub in (0, 1):
            ch.deposit(sub, usdc, START, sender=t)
    return {
        "chain": chain,
        "owner": owner,
        "keeper": keeper,
        "traders": traders,
        "ch": ch,
        "desk": desk,
        "book": book,
        "feed": feed,
        "vol_feed": vol_feed,
        "expiry": expiry,
        "usdc": usdc,
        "underlying": underlying,
    }


def test_option_state_machine(option_world):
    OptionMachine.ctx = option_world
    run = OptionMachine.TestCase
    run.settings = settings(run.settings, stateful_step_count=STEPS, max_examples=EXAMPLES)
    COVERAGE.clear()
    run().runTest()
    print("\n".join(f"  {k}: {v}" for k, v in sorted(COVERAGE.items())))
    assert COVERAGE.get("trade filled", 0) + COVERAGE.get("trade filled in portfolio mode", 0) > 0


def replay(world: dict, *steps: tuple[str, dict]) -> dict[str, int]:
    """A fixed sequence of rules with the invariants after each, as the
    machine runs them; returns what it reached."""
    OptionMachine.ctx = world
    COVERAGE.clear()
    m = OptionMachine()
    m.start()
    try:
        for name, kwargs in steps:
            getattr(m, name)(**kwargs)
            m.ledgers_match()
            m.health_matches_the_mirror()
            m.the_pool_owes_the_traders_options()
    finally:
        m.teardown()
    return dict(COVERAGE)


def test_a_portfolio_short_call_book_is_liquidated_and_the_rest_settles(option_world):
    """Pins the paths a short `ci` run may not draw: four short calls in
    portfolio mode, the price up 15 % twice with the volatility up, the
    account liquidated in portfolio mode; a linear put spread and a long
    call beside it, a refused switch, and the expiry settling them all."""
    seen = replay(
        option_world,
        ("switch_mode", {"actor": 0}),
        ("trade", {"actor": 0, "series": 0, "tenths": 40, "buy": False, "close": False}),
        ("trade", {"actor": 2, "series": 2, "tenths": 10, "buy": True, "close": False}),
        ("trade", {"actor": 2, "series": 1, "tenths": 10, "buy": False, "close": False}),
        ("trade", {"actor": 3, "series": 3, "tenths": 20, "buy": True, "close": False}),
        ("move", {"bps": 1_500, "vol_pct": 60, "seconds": 60}),
        ("liquidate", {"actor": 2}),
        ("move", {"bps": 1_500, "vol_pct": 0, "seconds": 60}),
        ("switch_mode", {"actor": 0}),
        ("liquidate", {"actor": 0}),
        ("switch_mode", {"actor": 2}),
        ("trade", {"actor": 2, "series": 1, "tenths": 10, "buy": True, "close": True}),
        ("expire_and_settle", {"minutes": 5, "bps": -500}),
    )
    assert seen.get("option liquidated in portfolio mode") == 1, seen
    assert seen.get("mode switch refused below IM") == 1, seen
    assert seen.get("trade filled in portfolio mode", 0) >= 2, seen
    assert seen.get("position settled at expiry", 0) >= 2, seen
