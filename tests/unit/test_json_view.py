"""`--json`'s conventions (xmargin.ui.json_view) and the oracle message
(xmargin.chain.oracle), against hand-written values; no chain."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from xmargin.chain.oracle import ORACLE_REASONS, PriceProblem
from xmargin.maths import errors
from xmargin.maths.fixed_point import format_exact
from xmargin.maths.model import Health
from xmargin.ui import json_view as jv

E18 = 10**18


def test_amounts_are_exact_decimal_strings():
    assert format_exact(0, 18) == "0"
    assert format_exact(31_968_850_000_000_000_000_000, 18) == "31968.85"
    assert format_exact(-5 * 10**17, 18) == "-0.5"
    assert format_exact(1, 18) == "0.000000000000000001"
    assert format_exact(-1, 6) == "-0.000001"
    assert format_exact(2_100 * 10**8, 8) == "2100"
    assert format_exact(42, 0) == "42"


@given(st.integers(min_value=-(2**255), max_value=2**256), st.integers(0, 30))
def test_an_amount_reads_back_to_the_same_integer(value, decimals):
    """Exact: a reader parsing the string with a decimal type gets the
    chain's integer back, whatever its size (no float, no rounding)."""
    text = format_exact(value, decimals)
    with localcontext() as ctx:
        ctx.prec = 100  # the default 28 digits would round a uint256 in scaleb
        assert Decimal(text).scaleb(decimals) == value
    assert "," not in text and "e" not in text.lower()
    assert not ("." in text and text.endswith("0"))


def test_health_names_its_units_and_the_ratio():
    doc = jv.health(Health(equity=1_500 * E18, im=1_200 * E18, mm=1_000 * E18))
    assert doc == {
        "equity_usd": "1500",
        "im_usd": "1200",
        "mm_usd": "1000",
        "free_margin_usd": "300",
        "health_ratio": "1.5",
        "status": "healthy",
    }
    doc = jv.health(Health(equity=3 * E18, im=0, mm=0))
    assert doc["health_ratio"] is None and doc["status"] == "healthy"
    assert jv.health(Health(equity=9 * E18, im=20 * E18, mm=10 * E18))["status"] == "liquidatable"
    assert json.loads(jv.dumps(doc)) == doc


def _problem(**over) -> PriceProblem:
    fields = {
        "symbol": "WETH",
        "token": "0x" + "11" * 20,
        "feed": "0x" + "22" * 20,
        "reason": errors.PRICE_STALE,
        "heartbeat": 3_600,
        "answer": 2_100 * 10**8,
        "decimals": 8,
        "updated_at": 1_000,
        "age": 4_016,
    }
    return PriceProblem(**(fields | over))


def test_a_stale_price_names_the_asset_the_feed_and_its_age():
    said = _problem().describe()
    assert said.startswith(
        f"WETH's price is stale: its feed {'0x' + '22' * 20} last answered $2100 4,016 s ago, "
        "past its 3,600 s heartbeat"
    )
    out_of_bounds = _problem(reason=errors.PRICE_OUT_OF_BOUNDS, answer=10**8, age=5)
    assert "(xm.oracle: price out of bounds)" in out_of_bounds.describe()
    assert "answers $1, 5 s ago" in out_of_bounds.describe()
    second = _problem(reason=errors.SECOND_STALE).describe()
    assert "its second feed" in second and "(set_secondary_feed)" in second
    assert "two feeds disagree" in _problem(reason=errors.FEEDS_DEVIATE).describe()
    whole = jv.price_problem(_problem(answer=7, decimals=0))
    assert whole["answer"] == "7"  # a feed with 0 decimals still has an answer
    dead = _problem(reason=errors.FEED_CALL_FAILED, answer=None, decimals=None, age=None)
    assert "does not answer latestRoundData" in dead.describe()
    doc = jv.price_problem(_problem())
    assert (doc["answer"], doc["age_seconds"], doc["heartbeat_seconds"]) == ("2100", 4_016, 3_600)


def test_every_oracle_reason_is_known():
    """`oracle_reason` maps Ape's prefix-less message back through this list:
    every reason of the catalogue's oracle area is in it, and no other."""
    oracle = {
        errors.PRICE_STALE,
        errors.PRICE_OUT_OF_BOUNDS,
        errors.FEED_CALL_FAILED,
        errors.FEEDS_DEVIATE,
        errors.NO_FEED,
    }
    assert oracle <= set(ORACLE_REASONS)
    assert errors.ZERO_AMOUNT not in ORACLE_REASONS
    # the oracle area of errors.py (and errors.vy) holds 49 reasons (33 for
    # prices, 12 for implied-volatility feeds, 4 for settlement rounds)
    assert len(ORACLE_REASONS) == len(set(ORACLE_REASONS)) == 49
