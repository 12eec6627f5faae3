"""The stress simulator's pure part (xmargin.maths.stress, the path draws
of xmargin.ops.stress_paths): inputs refused with what to pass, paths
checked against hand-computed prices, the nearest-rank percentiles by
hand."""

from __future__ import annotations

import math
import random

import pytest

from xmargin.maths import portfolio as pm
from xmargin.maths.stress import (
    Distribution,
    StressInputError,
    answer_at,
    bridge_path,
    gbm_path,
    linear_path,
    parse_duration,
    parse_override,
    parse_shock,
    percentile,
    resolve_names,
)
from xmargin.ops.stress_paths import scenario_paths, vol_paths

E16 = 10**16
E18 = 10**18


def test_a_shock_is_name_and_percentage():
    assert parse_shock("ETH=-30%, BTC=+10%") == {"ETH": -30 * E16, "BTC": 10 * E16}
    assert parse_shock("LINK=-99.5%") == {"LINK": -995 * 10**15}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("ETH=-100%", "zero or negative"),
        ("ETH=-150%", "zero or negative"),
        ("ETH=-30", "NAME=MOVE%"),
        ("ETH", "NAME=MOVE%"),
        ("=5%", "NAME=MOVE%"),
        ("ETH=abc%", "not a percentage"),
        ("ETH=nan%", "not a percentage"),
        ("ETH=-1%,ETH=2%", "twice"),
        ("ETH=+20000%", "above"),
        (" , ", "no shock"),
    ],
)
def test_a_bad_shock_is_refused_with_what_to_pass(text, said):
    with pytest.raises(StressInputError, match=said):
        parse_shock(text)


def test_durations():
    assert [parse_duration(t) for t in ("1h", "30m", "90s", "2d", "45")] == [
        3600,
        1800,
        90,
        172800,
        45,
    ]
    for bad in ("1w", "-1h", "0s", "1.5h", "400d"):
        with pytest.raises(StressInputError):
            parse_duration(bad)


def test_overrides():
    o = parse_override("ETH-PERP.mmr=0.06")
    assert (o.target, o.field, o.value, o.label) == ("ETH-PERP", "mmr", "0.06", "ETH-PERP.mmr=0.06")
    assert parse_override("pool.buffer=0.2").target == "pool"
    for bad in ("ETH-PERP=0.06", "mmr=0.06", "ETH-PERP.mmr", "ETH-PERP.MMR=1"):
        with pytest.raises(StressInputError, match="TARGET.FIELD=VALUE"):
            parse_override(bad)


def test_a_linear_path_reaches_the_whole_shock_in_equal_price_steps():
    path = linear_path({"WETH": -30 * E16, "WBTC": 10 * E16}, 6, 3600)
    assert path.seconds == 600
    # -30 % over 6 steps: -5 % a step, of the fork's price; +10 %: +1.666..%
    assert [s["WETH"] for s in path.steps] == [
        95 * E16,
        90 * E16,
        85 * E16,
        80 * E16,
        75 * E16,
        70 * E16,
    ]
    assert path.steps[0]["WBTC"] == E18 + 10 * E16 // 6 == 1_016_666_666_666_666_666
    assert path.final == {"WETH": 70 * E16, "WBTC": 110 * E16}


def test_a_path_needs_a_second_a_step():
    with pytest.raises(StressInputError, match="a second at least"):
        linear_path({"WETH": -E16}, 10, 9)
    with pytest.raises(StressInputError, match="1 to 1000"):
        linear_path({"WETH": -E16}, 0, 3600)


def test_a_feed_answer_moves_and_never_reaches_zero():
    # $3,000 at 8 decimals, -30 %: $2,100
    assert answer_at(3_000 * 10**8, 70 * E16) == 2_100 * 10**8
    # rounds down: 7 units x 0.5 = 3.5 -> 3
    assert answer_at(7, 50 * E16) == 3
    assert answer_at(1, 1) == 1


def test_names_resolve_to_priced_assets():
    priced = ["WETH", "WBTC", "LINK"]
    markets = {"ETH-PERP": "WETH", "BTC-PERP": "WBTC"}
    got = resolve_names({"ETH": 1, "BTC-PERP": 2, "LINK": 3}, priced, markets)
    assert got == {"WETH": 1, "WBTC": 2, "LINK": 3}
    with pytest.raises(StressInputError, match="'DOGE' is not an asset") as err:
        resolve_names({"DOGE": 1}, priced, markets)
    assert "ETH-PERP" in str(err.value) and "WETH" in str(err.value)
    # the quote asset has no feed: not shockable
    with pytest.raises(StressInputError, match="'USDC'"):
        resolve_names({"USDC": 1}, priced, markets)
    with pytest.raises(StressInputError, match="already moves"):
        resolve_names({"ETH": 1, "WETH": 2}, priced, markets)


def test_nearest_rank_percentiles_by_hand():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    # 10 values: the 95th percentile is the ceil(9.5) = 10th smallest
    ten = [5, 0, 0, 7, 0, 100, 0, 0, 3, 0]
    assert percentile(ten, 95) == 100
    assert percentile(ten, 50) == 0
    d = Distribution.of(ten)
    assert (d.paths, d.mean, d.p95, d.p99, d.worst, d.worst_path) == (10, 11, 100, 100, 100, 5)
    with pytest.raises(ValueError):
        Distribution.of([])


def test_gbm_paths_are_seeded_and_carry_their_volatility():
    a = vol_paths(3, 7, {"WETH": 0.8}, 12, 86_400, 0.5)
    b = vol_paths(3, 7, {"WETH": 0.8}, 12, 86_400, 0.5)
    assert a == b
    assert a != vol_paths(3, 8, {"WETH": 0.8}, 12, 86_400, 0.5)
    # Over many one-step paths the log move's standard deviation is
    # vol * sqrt(dt): 0.8 * sqrt(1 / 365) = 0.04187 (within 3 % at 4,000).
    rng = random.Random(3)
    logs = [math.log(gbm_path(rng, {"X": 0.8}, 1, 86_400).final["X"] / E18) for _ in range(4_000)]
    mean = sum(logs) / len(logs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
    assert sd == pytest.approx(0.8 * math.sqrt(1 / 365), rel=0.03)
    # fully correlated assets move together
    p = gbm_path(random.Random(1), {"X": 0.5, "Y": 0.5}, 4, 3600, correlation=1.0)
    assert all(s["X"] == s["Y"] for s in p.steps)


def test_a_bridge_ends_exactly_on_its_target():
    target = {"WETH": 85 * E16, "WBTC": 105 * E16}
    p = bridge_path(random.Random(5), target, 8, 3600, wobble=0.05)
    assert p.final == target and len(p.steps) == 8
    # without wobble it is the straight line in log price
    q = bridge_path(random.Random(5), {"WETH": 81 * E16}, 2, 3600, wobble=0.0)
    assert q.steps[0]["WETH"] == pytest.approx(90 * E16, rel=1e-12)


def test_scenario_paths_end_on_rows_drawn_by_weight():
    groups = pm.RiskGroups(names=("ETH", "BTC"), members={"WETH": 0, "WBTC": 1})
    rows = pm.ScenarioSet(
        (
            pm.Scenario("up", (10 * E16, 10 * E16)),
            pm.Scenario("apart", (4 * E16, -4 * E16)),
            pm.Scenario("crash", (-40 * E16, -40 * E16), weight=35 * E16),
        )
    )
    config = pm.PortfolioConfig(
        groups=groups, scenarios=rows, params=pm.PortfolioParams(E16, 0, 15 * 10**17)
    )
    paths = scenario_paths(2_000, 1, config, ["WETH", "WBTC", "LINK"], 4, 3600, 0.03)
    ends = [(p.final["WETH"], p.final["WBTC"]) for p in paths]
    assert all("LINK" not in p.final for p in paths)  # in no group: not moved
    counts = {e: ends.count(e) for e in set(ends)}
    assert set(counts) == {(110 * E16, 110 * E16), (104 * E16, 96 * E16), (60 * E16, 60 * E16)}
    # weights 1 : 1 : 0.35 -> the crash row is drawn 0.35 / 2.35 of the time
    assert counts[(60 * E16, 60 * E16)] / 2_000 == pytest.approx(0.35 / 2.35, abs=0.03)
    with pytest.raises(StressInputError, match="risk group"):
        scenario_paths(1, 1, config, ["LINK"], 4, 3600, 0.03)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "give --shock"),
        (["--shock", "ETH=-30"], "NAME=MOVE%"),
        (["--shock", "ETH=-30%", "--paths", "3", "--vol", "ETH=0.8"], "without --shock"),
        (["--paths", "3"], "--vol ASSET=VOL or --scenarios"),
        (["--paths", "3", "--vol", "ETH=0.8", "--scenarios"], "(not both)"),
        (["--paths", "3", "--vol", "ETH=0.8", "--set", "ETH-PERP.mmr=0.1"], "--show K"),
        (["--paths", "3", "--vol", "ETH=0.8", "--show", "3"], "0 <= K < 3"),
        (["--shock", "ETH=-30%", "--show", "0"], "0 <= K < 0"),
        (["--paths", "3", "--vol", "ETH=-1"], "ASSET=VOL"),
        (["--shock", "ETH=-30%", "--over", "1w"], "a duration"),
        (["--shock", "ETH=-30%", "--set", "mmr=0.1"], "TARGET.FIELD=VALUE"),
        (["--shock", "ETH=-30%", "--out", "stress.jpg"], "PNG"),
    ],
)
def test_the_command_refuses_bad_options_before_any_chain(args, said):
    from click.testing import CliRunner

    from xmargin.ui.stress_cli import stress_command

    result = CliRunner().invoke(stress_command, args)
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
