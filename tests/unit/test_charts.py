"""xmargin.maths.scenarios against hand-computed numbers, and xmargin.ui.charts' PNGs (no chain).

The account: 5,000 USDC and a 10 ETH long entered at $2,000 on a market with
a flat 10 % initial and 5 % maintenance ratio (no size scaling, no funding).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xmargin.chain.engine import AccountView, MarketView, PositionView, model_account
from xmargin.chain.summary import EngineSummary, LiquidationEvent
from xmargin.maths import account as acct
from xmargin.maths import model, perps, scenarios
from xmargin.maths.pool import PoolState
from xmargin.ui import charts

E18 = 10**18
WETH = "0x00000000000000000000000000000000000000E7"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ASSETS = {
    "USDC": model.AssetParams(decimals=6),
    "WETH": model.AssetParams(decimals=18, im_haircut=20 * E18 // 100, mm_haircut=10 * E18 // 100),
}
ETH_PERP = perps.MarketParams(
    asset=WETH,
    imr_base=10 * E18 // 100,
    mmr_base=5 * E18 // 100,
    im_size_scalar=0,
    mm_size_scalar=0,
    skew_scale=1_000_000 * E18,
    taker_fee=0,
    maker_fee=0,
    max_oi=10**9 * E18,
    max_funding_velocity=0,
    max_funding_rate=0,
)
LONG = perps.Position(size=10 * E18, entry_price=2_000 * E18, funding_index=0)


def _portfolio(weth: int = 0) -> acct.Account:
    balances = {"USDC": 5_000 * 10**6, "WETH": weth}
    exposure = acct.Exposure("ETH-PERP", "WETH", LONG, ETH_PERP, index=0)
    return acct.Account(balances, ASSETS, "USDC", {"WETH": 2_000 * E18}, (exposure,))


def test_equity_and_mm_after_a_ten_percent_fall_by_hand():
    (at_minus_10,) = scenarios.curve(_portfolio(), "WETH", [-1_000]).points
    assert at_minus_10.price == 1_800 * E18
    # PnL 10 * (1,800 - 2,000) = -2,000 on 5,000 USDC; notional 18,000.
    assert at_minus_10.health == model.Health(equity=3_000 * E18, im=1_800 * E18, mm=900 * E18)


def test_collateral_in_the_moved_asset_moves_with_it():
    (at_minus_10,) = scenarios.curve(_portfolio(weth=E18), "WETH", [-1_000]).points
    # ... plus 1 WETH at 1,800 less its 10 % maintenance haircut: 1,620; the
    # 10-point gap to its initial haircut (180) is added to IM.
    assert at_minus_10.health == model.Health(equity=4_620 * E18, im=1_980 * E18, mm=900 * E18)


def test_no_move_is_the_account_as_read():
    p = _portfolio()
    assert scenarios.curve(p, "WETH", [0]).points[0].health == p.health()
    assert p.health() == model.Health(equity=5_000 * E18, im=2_000 * E18, mm=1_000 * E18)


def test_liquidation_price_by_hand_and_as_the_lens_computes_it():
    # 5,000 + 10 (p - 2,000) = 0.05 * 10 p  =>  p = 15,000 / 9.5 = 1,578.947...
    expected = -(-30_000 * E18 // 19)  # the lowest healthy price: rounded up
    p = _portfolio()
    assert scenarios.liquidation_price(p, "WETH") == expected
    assert not scenarios.health_at(p, "WETH", expected).liquidatable
    assert scenarios.health_at(p, "WETH", expected - 1).liquidatable
    # ClearinghouseLens._liquidation_price (its Python mirror) says the same.
    assert scenarios.lens_liquidation_price(p, "WETH") == expected


def test_liquidation_price_with_collateral_in_the_same_asset_by_hand():
    # 5,000 + 10 (p - 2,000) + 0.9 p = 0.5 p  =>  p = 15,000 / 10.4 = 1,442.307...
    # (equity counts the WETH at 90 %, and it falls with the price.)
    expected = -(-150_000 * E18 // 104)
    p = _portfolio(weth=E18)
    assert scenarios.liquidation_price(p, "WETH") == expected
    assert scenarios.lens_liquidation_price(p, "WETH") == expected


def brute_force_liquidation_price(account: acct.Account, asset: str, up: bool = False) -> int:
    """The healthy price nearest the liquidation boundary, found by walking
    from the current price (down for a long book, `up` for a short one) a
    dollar at a time, then a tenth of that, and so on down to a wei (at
    most 9 steps each): no formula, no bisection, only the model's health."""
    price = account.prices[asset]
    sign = 1 if up else -1

    def under(x: int) -> bool:
        return account.health({asset: x}).liquidatable

    assert not under(price)
    for step in (10**k for k in range(18, -1, -1)):
        while price + sign * step > 0 and not under(price + sign * step):
            price += sign * step
    return price


@pytest.mark.parametrize("weth", [0, E18, 5 * E18])
def test_lens_and_search_agree_with_a_brute_force_walk(weth):
    """Issue 23, point 7: the closed form the lens uses (collateral in the
    same asset moving with its price) and the model's bisection, against a
    walk down the price; the lens rounds toward the current price, so it
    is at most a wei above the walk's price."""
    p = _portfolio(weth=weth)
    walked = brute_force_liquidation_price(p, "WETH")
    assert scenarios.liquidation_price(p, "WETH") == walked
    assert 0 <= scenarios.lens_liquidation_price(p, "WETH") - walked <= 1


def test_no_liquidation_price_without_a_position_or_debt():
    cash = acct.Account({"USDC": 10**6, "WETH": E18}, ASSETS, "USDC", {"WETH": 2_000 * E18})
    assert scenarios.liquidation_price(cash, "WETH") is None
    assert cash.underlyings() == ("WETH",)


def test_a_liquidatable_account_gets_the_price_where_it_recovers():
    p = _portfolio()
    below = acct.Account(p.balances, ASSETS, "USDC", {"WETH": 1_500 * E18}, p.exposures)
    assert below.health().liquidatable
    assert scenarios.liquidation_price(below, "WETH") == -(-30_000 * E18 // 19)


def test_chart_moves_stretch_to_show_the_liquidation_price():
    assert scenarios.chart_moves(None, points=5) == [-5_000, -2_500, 0, 2_500, 5_000]
    assert scenarios.chart_moves(-7_000, points=3) == [-8_000, -1_500, 5_000]
    assert scenarios.chart_moves(-9_999, points=2) == [-5_000, 5_000]  # beyond -99 %: no stretch


def _long_view() -> AccountView:
    """An account read from chain: 5,000 USDC, long 10 ETH-PERP at $2,000."""
    market = MarketView("ETH-PERP", 0, ETH_PERP, perps.MarketState(), 2_000 * E18, 0)
    position = PositionView(market, LONG, perps.risk(LONG, ETH_PERP, 2_000 * E18, 0))
    health = model.Health(5_000 * E18, 2_000 * E18, 1_000 * E18)
    return AccountView(
        owner="0x" + "11" * 20,
        sub_id=0,
        balances={"USDC": 5_000 * 10**6, "WETH": 0},
        prices={},
        collateral=model.CollateralValue(5_000 * E18, 0, 0, 0),
        health=health,
        model_health=health,
        positions=(position,),
    )


def test_model_account_and_position_liquidation_price():
    view = _long_view()
    p = model_account(view.balances, view.prices, view.positions, ASSETS, "USDC", {WETH: "WETH"})
    assert p == _portfolio()
    assert scenarios.lens_liquidation_price(p, "WETH") == -(-30_000 * E18 // 19)


def _png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1_000
    return data


def test_health_chart_writes_a_png(tmp_path):
    curves = scenarios.account_curves(_portfolio(weth=E18))
    out = charts.health_chart(
        curves, tmp_path / "sub" / "health.png", "test $1 and $2", {"WETH": 18}
    )
    _png(out)


def test_health_chart_of_nothing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no curve"):
        charts.health_chart([], tmp_path / "x.png", "empty", {})


@pytest.mark.parametrize("liquidations", [0, 3])
def test_report_chart_writes_a_png(tmp_path, liquidations):
    events = tuple(
        LiquidationEvent(
            block=10 + i,
            owner="0x" + f"{i + 1:02x}" * 20,
            sub_id=i,
            market="ETH-PERP",
            liquidator="0x" + "99" * 20,
            closed=E18,
            new_size=0,
            price=2_000 * E18,
            penalty=(i + 1) * 10**8,
            keeper_reward=(i + 1) * 9 * 10**7,
            insurance_share=(i + 1) * 10**7,
        )
        for i in range(liquidations)
    )
    summary = EngineSummary(
        network="ethereum:local",
        block=42,
        quote="USDC",
        quote_decimals=6,
        decimals={"USDC": 6},
        pool=PoolState(0, 0, 0, 0, 0, 0, 0, 0, 0),
        pool_total_assets=10**12,
        pool_supply=10**12,
        insurance_fund=5 * 10**6,
        bad_debt_total=3 * 10**6,
        bad_debt_insurance=10**6,
        bad_debt_pool=2 * 10**6,
        liquidations=events,
    )
    assert summary.penalties == sum(e.penalty for e in events)
    _png(charts.report_chart(summary, tmp_path / "report.png"))


def test_status_falls_back_to_the_model_when_the_lens_call_fails():
    """`liquidation_prices` (behind `xmargin status`): the lens's figure
    beside the model's when the lens answers; when its call fails (a book
    too large for one eth_call), the model's alone, the lens column empty,
    rather than no status at all."""
    from types import SimpleNamespace

    from ape.exceptions import ContractLogicError

    from xmargin.chain.lens import liquidation_prices

    view = _long_view()
    engine = SimpleNamespace(
        quote_symbol="USDC",
        tokens={"WETH": SimpleNamespace(address=WETH)},
        clearinghouse=SimpleNamespace(address="0x" + "22" * 20),
    )
    want = -(-30_000 * E18 // 19)  # test_model_account_and_position_liquidation_price

    def answers(*args, **kw):
        return [SimpleNamespace(market_id=0, liquidation_price=want)]

    def fails(*args, **kw):
        raise ContractLogicError("out of gas")

    got = liquidation_prices(view, SimpleNamespace(position_details=answers), engine, 1, ASSETS)
    assert got == {0: (want, want)}
    got = liquidation_prices(view, SimpleNamespace(position_details=fails), engine, 1, ASSETS)
    assert got == {0: (want, None)}
