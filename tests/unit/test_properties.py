"""Property tests (hypothesis, `ci` profile bounded in tests/conftest.py).

- deposit-then-withdraw returns exactly what went in, for 6/8/18 decimals;
- account_health and collateral_value equal xmargin.maths.model to the wei, for
  random balances (a settlement debt included), prices and haircuts.

Each example runs inside `isolated(chain)` (snapshot/restore, re-raising)
so examples cannot see each other.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import HEARTBEAT, MAX_PRICE, MIN_PRICE, isolated
from xmargin.maths import model
from xmargin.maths.fixed_point import WAD
from xmargin.maths.model import AssetParams


@pytest.fixture(scope="module")
def decimals_assets(clearinghouse, harness, oracle, owner, make_token, make_feed):
    """One extra listed asset per decimals value, on both engines."""
    out = {}
    for decimals in (6, 8, 18):
        token = make_token(decimals, f"D{decimals}")
        oracle.set_feed(
            token, make_feed(7, decimals=8), HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner
        )
        for ch in (clearinghouse, harness):
            ch.list_asset(token, WAD // 4, WAD // 8, 2**128, sender=owner)
        out[decimals] = token
    return out


@pytest.mark.parametrize("decimals", [6, 8, 18])
@given(
    deposits=st.lists(st.integers(1, 2**100), min_size=1, max_size=3),
    cuts=st.lists(st.integers(1, 2**100), min_size=0, max_size=3),
    sub_id=st.integers(0, 2**256 - 1),
)
def test_deposit_then_withdraw_is_exact(
    chain, clearinghouse, trader, fund, decimals_assets, decimals, deposits, cuts, sub_id
):
    token = decimals_assets[decimals]
    total = sum(deposits)
    with isolated(chain):
        fund(token, trader, total, clearinghouse)
        for amount in deposits:
            clearinghouse.deposit(sub_id, token, amount, sender=trader)
        assert clearinghouse.balance_of(trader, sub_id, token) == total
        # Withdraw in arbitrary pieces, then the rest with "max".
        left = total
        for cut in cuts:
            piece = cut % left + 1 if left > 1 else 0
            if piece == 0 or piece >= left:
                break
            clearinghouse.withdraw(sub_id, token, piece, sender=trader)
            left -= piece
        clearinghouse.withdraw(sub_id, token, 2**256 - 1, sender=trader)
        assert token.balanceOf(trader) == total
        assert token.balanceOf(clearinghouse) == 0
        assert clearinghouse.balance_of(trader, sub_id, token) == 0
        assert clearinghouse.total_deposits(token) == 0
        assert clearinghouse.held_mask(trader, sub_id) == 0


def _answer(feed_decimals: int):
    """A feed answer strictly inside the router's (MIN_PRICE, MAX_PRICE) bounds."""
    scale = 10 ** (18 - feed_decimals)
    return st.integers(MIN_PRICE // scale + 1, MAX_PRICE // scale - 1)


haircuts = st.tuples(st.integers(0, WAD), st.integers(0, WAD)).map(
    lambda t: (max(t), min(t))  # (im, mm) with im >= mm
)


@given(
    quote=st.integers(-(10**15), 10**15),  # native USDC units; negative = settled loss
    amounts=st.fixed_dictionaries(
        {
            "weth": st.integers(0, 10**24),
            "wbtc": st.integers(0, 10**12),
            6: st.integers(0, 10**18),
            8: st.integers(0, 10**18),
            18: st.integers(0, 10**30),
        }
    ),
    answers=st.fixed_dictionaries(
        {"weth": _answer(8), "wbtc": _answer(8), 6: _answer(8), 8: _answer(8), 18: _answer(8)}
    ),
    cuts=st.fixed_dictionaries({k: haircuts for k in ("weth", "wbtc", 6, 8, 18)}),
)
def test_health_matches_model(
    chain, project, oracle, harness, owner, trader, usdc, weth_listed, wbtc_listed,
    decimals_assets, fund, quote, amounts, answers, cuts,
):  # fmt: skip
    tokens = {"weth": weth_listed.token, "wbtc": wbtc_listed.token, **decimals_assets}
    feeds = {
        key: project.MockAggregator.at(oracle.price_config(token).primary.aggregator)
        for key, token in tokens.items()
    }
    with isolated(chain):
        balances: dict[str, int] = {usdc.address: quote}
        params: dict[str, AssetParams] = {usdc.address: AssetParams(6)}
        prices: dict[str, int] = {}
        for key, token in tokens.items():
            im, mm = cuts[key]
            harness.set_asset_params(token, im, mm, 2**128, sender=owner)
            feeds[key].set_answer(answers[key], sender=owner)
            # Independent expectation: the answer scaled by the feed's decimals.
            prices[token.address] = answers[key] * 10 ** (18 - 8)
            params[token.address] = AssetParams(token.decimals(), im_haircut=im, mm_haircut=mm)
            if amounts[key]:
                fund(token, trader, amounts[key], harness)
                harness.deposit(0, token, amounts[key], sender=trader)
            balances[token.address] = amounts[key]
        if quote:
            harness.harness_settle(trader, 0, quote, sender=owner)

        expected = model.account_health(balances, params, prices, usdc.address)
        assert tuple(harness.account_health(trader, 0)) == (
            expected.equity,
            expected.im,
            expected.mm,
        )
        ev = model.collateral_value(balances, params, prices, usdc.address)
        assert tuple(harness.collateral_value(trader, 0)) == (
            ev.quote,
            ev.market,
            ev.weighted_mm,
            ev.weighted_im,
        )
