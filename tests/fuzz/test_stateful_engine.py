"""Stateful fuzzing of the engine through Ape (first slice of the fuzz issue).

A hypothesis state machine deposits and withdraws USDC and WETH, moves
collateral between sub-accounts, trades two markets, moves prices and lets
time pass, and moves LP money in and out of the pool. Every rule also sends
invalid versions of itself (zero, more than the balance, below IM, over the
OI cap) and asserts the exact revert reason and that nothing changed.

Invariants after every step, all exact (0 wei) unless stated:
  1. tokens held by the Clearinghouse == tracked account balances + pool cash;
  2. every account's (equity, IM, MM), balances and positions == the model;
  3. market states == the model; pool value == cash - traders' PnL + funding
     owed, with the aggregate within 1 wei per position of the per-position sum;
  4. no rule left an account that took risk below IM (the model predicts
     every `below initial margin` revert, and the chain must agree).
Liquidation rules arrive with the liquidation issue.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import ape
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.perps_world import World
from tests.unit.test_trading_properties import MARKETS

E18 = 10**18
USDC = 10**6
WALLET_USDC = 50_000 * USDC
WALLET_WETH = 20 * E18
LP_SEED = 200_000 * USDC

sizes = st.one_of(
    st.integers(min_value=-5 * E18, max_value=5 * E18),
    st.integers(min_value=-5_000, max_value=5_000).map(lambda n: n * E18 // 1_000 + 3),
).filter(bool)


@pytest.fixture(scope="module")
def engine(project, clearinghouse, owner, trader, hedger, lp, usdc, fund, weth_listed, wbtc_listed):
    """Two markets (ETH on the WETH feed, BTC), a funded pool, two traders with
    wallets of USDC and WETH; nothing deposited by the traders yet."""
    params = []
    for p, listed in zip(MARKETS, (weth_listed, wbtc_listed), strict=True):
        p = replace(p, asset=listed.token.address)
        clearinghouse.list_market(p.as_tuple(), sender=owner)
        params.append(p)
    pool = owner.deploy(project.LiquidityPool, clearinghouse.address, "xmargin LP", "xLP")
    clearinghouse.set_pool(pool, sender=owner)
    fund(usdc, lp, 2 * LP_SEED, pool)
    pool.deposit(LP_SEED, lp, sender=lp)
    for who in (trader, hedger):
        fund(usdc, who, WALLET_USDC, clearinghouse)
        fund(weth_listed.token, who, WALLET_WETH, clearinghouse)
        # Unlimited allowances: a deposit fails only on the wallet balance.
        usdc.approve(clearinghouse, 2**256 - 1, sender=who)
        weth_listed.token.approve(clearinghouse, 2**256 - 1, sender=who)
    return params, pool


class EngineMachine(RuleBasedStateMachine):
    # Set by the test function below (Ape fixtures cannot reach the class).
    ctx: ClassVar[dict] = {}

    @initialize()
    def start(self):
        c = self.ctx
        self.chain, self.owner = c["chain"], c["owner"]
        self.snapshot = self.chain.snapshot()
        self.usdc, self.weth, self.pool, self.lp = c["usdc"], c["weth"], c["pool"], c["lp"]
        self.actors = [(c["trader"], 0), (c["trader"], 1), (c["hedger"], 0), (c["hedger"], 1)]
        self.w = World.read(
            c["ch"],
            c["params"],
            c["feeds"],
            self.actors,
            self.usdc.address,
            c["assets"],
            [self.weth.address, None],
            {self.usdc.address: self.usdc, self.weth.address: self.weth},
        )
        self.w.prices = [3_000 * E18, 60_000 * E18]
        self.w.refresh_prices(self.owner)

    def teardown(self):
        if hasattr(self, "snapshot"):
            self.chain.restore(self.snapshot)

    # ------------------------------------------------------------ helpers

    def _asset(self, i: int):
        return (self.usdc, self.weth)[i]

    def _unchanged(self, fn, reason: str) -> None:
        """`fn()` must revert with `reason`; the model is untouched and the
        invariants (run after this rule) confirm the chain is too."""
        with ape.reverts(reason):
            fn()

    # ------------------------------------------------------------ rules

    @rule(actor=st.integers(0, 3), asset=st.integers(0, 1), frac=st.integers(0, 1_200))
    def deposit(self, actor, asset, frac):
        who, sub = self.actors[actor]
        token = self._asset(asset)
        wallet = token.balanceOf(who)
        amount = wallet * frac // 1_000
        ch = self.w.ch
        if amount == 0:
            self._unchanged(lambda: ch.deposit(sub, token, 0, sender=who), "xmargin: zero amount")
        elif amount > wallet:
            self._unchanged(
                lambda: ch.deposit(sub, token, amount, sender=who), "mock: balance too low"
            )
        else:
            ch.deposit(sub, token, amount, sender=who)
            self.w.balances[(str(who), sub)][token.address] += amount

    @rule(actor=st.integers(0, 3), asset=st.integers(0, 1), frac=st.integers(0, 1_200))
    def withdraw(self, actor, asset, frac):
        who, sub = self.actors[actor]
        token = self._asset(asset)
        key = (str(who), sub)
        balance = self.w.balances[key][token.address]
        amount = max(balance, 0) * frac // 1_000
        ch = self.w.ch

        def take(w: World) -> None:
            w.balances[key][token.address] -= amount

        now = self.chain.blocks.head.timestamp + 1
        self.chain.pending_timestamp = now
        if amount == 0:
            self._unchanged(lambda: ch.withdraw(sub, token, 0, sender=who), "xmargin: zero amount")
        elif amount > balance:
            self._unchanged(
                lambda: ch.withdraw(sub, token, amount, sender=who), "xmargin: insufficient balance"
            )
        elif self.w.below_im_after(who, sub, now, take):
            self._unchanged(
                lambda: ch.withdraw(sub, token, amount, sender=who), "xmargin: below initial margin"
            )
        else:
            ch.withdraw(sub, token, amount, sender=who)
            take(self.w)

    @rule(actor=st.integers(0, 3), asset=st.integers(0, 1), frac=st.integers(1, 1_200))
    def transfer_between(self, actor, asset, frac):
        who, sub = self.actors[actor]
        other = 1 - sub
        token = self._asset(asset)
        src, dst = (str(who), sub), (str(who), other)
        balance = self.w.balances[src][token.address]
        amount = max(balance, 0) * frac // 1_000
        ch = self.w.ch

        def move(w: World) -> None:
            w.balances[src][token.address] -= amount
            w.balances[dst][token.address] += amount

        now = self.chain.blocks.head.timestamp + 1
        self.chain.pending_timestamp = now
        if amount == 0:
            self._unchanged(
                lambda: ch.transfer_between(sub, other, token, 0, sender=who),
                "xmargin: zero amount",
            )
        elif amount > balance:
            self._unchanged(
                lambda: ch.transfer_between(sub, other, token, amount, sender=who),
                "xmargin: insufficient balance",
            )
        elif self.w.below_im_after(who, sub, now, move):
            self._unchanged(
                lambda: ch.transfer_between(sub, other, token, amount, sender=who),
                "xmargin: below initial margin",
            )
        else:
            ch.transfer_between(sub, other, token, amount, sender=who)
            move(self.w)

    @rule(actor=st.integers(0, 3), market=st.integers(0, 1), delta=sizes)
    def trade(self, actor, market, delta):
        who, sub = self.actors[actor]
        self.w.trade(self.chain, who, sub, market, delta)

    @rule(market=st.integers(0, 1), bps=st.integers(-3_000, 3_000))
    def move_price(self, market, bps):
        self.w.set_price(market, bps, self.owner)

    @rule(seconds=st.integers(1, 2 * 86_400))
    def wait(self, seconds):
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + seconds
        self.w.refresh_prices(self.owner)

    @rule(frac=st.integers(1, 1_000))
    def lp_round_trip(self, frac):
        """The LP deposits, then redeems what `maxRedeem` allows: the pool's
        cash moves by exactly what the vault reports."""
        amount = LP_SEED * frac // 10_000
        before = self.w.ch.pool_balance()
        self.pool.deposit(amount, self.lp, sender=self.lp)
        self.w.pool += amount
        assert self.w.ch.pool_balance() == before + amount
        shares = min(self.pool.maxRedeem(self.lp), self.pool.balanceOf(self.lp) // 10)
        if shares and self.pool.previewRedeem(shares):
            paid = self.pool.previewRedeem(shares)
            self.pool.redeem(shares, self.lp, self.lp, sender=self.lp)
            self.w.pool -= paid

    # ------------------------------------------------------------ invariants

    @invariant()
    def matches_the_model(self):
        if hasattr(self, "w"):
            self.w.check(self.chain)


def test_engine_state_machine(
    engine, chain, clearinghouse, owner, trader, hedger, lp, usdc, weth_listed, wbtc_listed, assets
):
    params, pool = engine
    EngineMachine.ctx = {
        "chain": chain,
        "owner": owner,
        "ch": clearinghouse,
        "params": params,
        "feeds": [weth_listed.feed, wbtc_listed.feed],
        "usdc": usdc,
        "weth": weth_listed.token,
        "pool": pool,
        "lp": lp,
        "trader": trader,
        "hedger": hedger,
        "assets": {
            usdc.address: assets[usdc.address],
            weth_listed.token.address: assets[weth_listed.token.address],
        },
    }
    run = EngineMachine.TestCase
    run.settings = settings(run.settings, stateful_step_count=12)
    run().runTest()
