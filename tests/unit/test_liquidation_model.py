"""xmargin.maths.liquidation (what the keeper plans with) == the contract, to the wei.

Hypothesis draws a market (size add-on from none to large), a deposit, a
leverage, a price move and liquidation parameters; whenever the account is
liquidatable, the model's close size and penalty split must equal what the
engine did, and a partial liquidation must have reached the target health.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import isolated
from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.maths import liquidation as liq
from xmargin.maths.perps import MarketParams

LP = liq.LiquidationParams()


@given(
    mm_scalar=st.sampled_from([0, E18 // 2, 5 * E18]),
    skew_scale=st.sampled_from([1_000 * ETH, 1_000_000 * ETH]),
    deposit=st.integers(1_000, 50_000),
    leverage_pct=st.integers(150, 950),
    drop_bps=st.integers(100, 4_000),
    short=st.booleans(),
    penalty_bps=st.integers(0, 1_000),
    target_pct=st.integers(101, 200),
)
def test_model_predicts_every_liquidation(
    clearinghouse,
    owner,
    weth,
    eth_feed,
    trader,
    keeper,
    usdc,
    fund,
    chain,
    mm_scalar,
    skew_scale,
    deposit,
    leverage_pct,
    drop_bps,
    short,
    penalty_bps,
    target_pct,
):
    ch = clearinghouse
    with isolated(chain):
        on_chain = params(
            weth,
            skew_scale=skew_scale,
            max_oi=skew_scale,
            im_size_scalar=2 * mm_scalar,
            mm_size_scalar=mm_scalar,
        )
        ch.list_market(on_chain, sender=owner)
        allow_atomic(ch, owner)
        market = MarketParams(*on_chain)
        lp = replace(LP, penalty=penalty_bps * 10**14, target_health=target_pct * 10**16)
        ch.set_liquidation_params(lp.as_tuple(), sender=owner)
        fund(usdc, trader, deposit * USDC, ch)
        ch.deposit(0, usdc, deposit * USDC, sender=trader)
        size = deposit * leverage_pct * E18 // 100 * ETH // (3_000 * E18)

        # Keep the open inside IM: with the size add-on IM can exceed 10 %
        # (IM = notional * (10 % + 2 c |size| / K)), and the open pays a
        # 0.1 % fee plus the skew premium (notional * |size| / 2K from a
        # flat market), which can reach 7 % at K = 1,000 ETH.
        def im_usd(s: int) -> int:
            ratio = E18 // 10 + 2 * mm_scalar * s // skew_scale + E18 // 1_000
            return s * 3_000 * (ratio + E18 * s // (2 * skew_scale)) // E18

        while im_usd(size) > deposit * E18 * 98 // 100:
            size //= 2
        ch.trade(0, 0, -size if short else size, 0 if short else 2**255, sender=trader)
        move = -drop_bps if not short else drop_bps
        eth_feed.set_answer(3_000 * 10**8 * (10_000 + move) // 10_000, sender=owner)
        equity, _, mm = ch.account_health(trader, 0)
        if equity >= mm:
            return
        price = 3_000 * E18 * (10_000 + move) // 10_000
        expect = liq.close_size(equity, mm, size, price, market, lp, 10**12)
        pen = liq.penalty(expect, price, equity, mm, 10**12, lp, market)
        tx = ch.liquidate(trader, 0, 0, 2**96, 0, sender=keeper)
        (ev,) = tx.events.filter(ch.Liquidation)
        assert abs(ev.size_delta) == expect
        assert (ev.penalty, ev.keeper_reward, ev.insurance_share) == (
            pen.total,
            pen.keeper,
            pen.insurance,
        )
        if expect < size:
            e2, _, mm2 = ch.account_health(trader, 0)
            assert e2 * 100 >= mm2 * target_pct
