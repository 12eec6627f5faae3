"""`xmargin calibrate` (issue 23, point 6): scan ranges and vol shocks per
risk group, from volatility inputs (checked against figures computed by
hand) or from a price-history CSV (checked on a generated series whose
volatility is known), and the `portfolio:` section they give, loaded by
the deploy pipeline's own model; and the bad input, each refused with a
message that says where."""

from __future__ import annotations

import csv
import json
import math
import random
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from xmargin.chain.config_models import PortfolioIn
from xmargin.maths import calibration as cal
from xmargin.ui.cli import main

D = Decimal
CONFIG = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
GROUPS = ("ETH", "BTC", "USD", "ALT")  # config/local.yaml's portfolio groups


def test_a_scan_from_a_volatility_by_hand():
    """80 % a year over one day at 99 %: z = 2.326348, sqrt(1/365) =
    0.0523424, so r = 2.326348 * 0.8 * 0.0523424 = 0.097413; up e^r - 1 =
    0.10232 -> 0.103, down e^-r - 1 = -0.09282 -> -0.093 (away from zero);
    a vol of vol of 150 %: 2.326348 * 1.5 * 0.0523424 = 0.18265 -> 0.183."""
    s = cal.scan_from_vol(0.8, 1, 0.99, vol_of_vol=1.5)
    assert (s.up, s.down, s.vol_shock) == (D("0.103"), D("-0.093"), D("0.183"))
    assert s.range == D("0.103")
    # ten days: sqrt(10) times the log move: r = 0.30805, e^r - 1 = 0.36077
    assert cal.scan_from_vol(0.8, 10, 0.99).up == D("0.361")


def test_rows_cover_every_sign_combination_then_the_thirds():
    eth = cal.scan_from_vol(0.8, 1, 0.99)  # +0.103 / -0.093
    btc = cal.scan_from_vol(0.6, 1, 0.99)
    rows = cal.rows({"ETH": eth, "BTC": btc})
    # 2**2 joint rows, then each group alone at 2/3 and 1/3 each way
    assert len(rows) == 4 + 8
    joint = {tuple(sorted(r.moves.items())) for r in rows[:4]}
    assert joint == {
        (("BTC", b), ("ETH", e)) for e in (eth.up, eth.down) for b in (btc.up, btc.down)
    }
    alone = {r.name: r.moves for r in rows[4:]}
    # 0.103 * 2/3 = 0.06867 -> 0.069; 0.103 / 3 = 0.03433 -> 0.035;
    # -0.093 * 2/3 = -0.062 exactly; -0.093 / 3 = -0.031 exactly
    assert alone["ETH up 2/3"] == {"ETH": D("0.069")}
    assert alone["ETH up 1/3"] == {"ETH": D("0.035")}
    assert alone["ETH down 2/3"] == {"ETH": D("-0.062")}
    assert alone["ETH down 1/3"] == {"ETH": D("-0.031")}


def test_a_vol_shock_moves_the_full_range_rows_both_ways_while_they_fit():
    eth = cal.scan_from_vol(0.8, 1, 0.99, vol_of_vol=1.5)  # vol shock 0.183
    btc = cal.scan_from_vol(0.6, 1, 0.99, vol_of_vol=1.0)  # a smaller one
    assert cal.vol_move({"ETH": eth, "BTC": btc}) == D("0.183")
    rows = cal.rows({"ETH": eth, "BTC": btc})
    # 4 joint rows with the volatility up, the two volatility-only rows,
    # the 4 joint rows again with it down, then the 8 thirds (no vol move)
    assert len(rows) == 4 + 2 + 4 + 8
    assert [r.vol for r in rows[:10]] == [D("0.183")] * 5 + [D("-0.183")] * 5
    assert (rows[4].moves, rows[5].moves) == ({}, {})
    assert [r.moves for r in rows[6:10]] == [r.moves for r in rows[:4]]
    assert all(r.vol == 0 for r in rows[10:])
    # five shocked groups need 32 joint rows: no room for the volatility's
    s = cal.scan_from_vol(0.5, 1, 0.99, vol_of_vol=1.0)
    with pytest.raises(ValueError, match="34 rows"):
        cal.rows({f"g{i}": s for i in range(5)})


def test_five_groups_fill_the_32_rows_and_six_are_refused():
    s = cal.scan_from_vol(0.5, 1, 0.99)
    assert len(cal.rows({f"g{i}": s for i in range(5)})) == 32
    assert len(cal.rows({f"g{i}": s for i in range(4)})) == 16 + 16
    with pytest.raises(ValueError, match="64 rows"):
        cal.rows({f"g{i}": s for i in range(6)})


def test_quantile_is_the_interpolated_order_statistic():
    assert cal.quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.9) == pytest.approx(4.6)
    assert cal.quantile([1.0, 2.0], 0.5) == pytest.approx(1.5)


def _gbm(sigma: float, rows: int, seed: int, start: float = 3_000.0) -> list[float]:
    """Daily prices of a driftless geometric Brownian motion."""
    rng = random.Random(seed)
    day = sigma / math.sqrt(365)
    out = [start]
    for _ in range(rows - 1):
        out.append(out[-1] * math.exp(rng.gauss(-0.5 * day * day, day)))
    return out


def test_a_history_of_known_volatility_gives_its_scan():
    """20,000 days at 80 % a year: the empirical 99 % daily moves land
    within 8 % of the normal model's (0.103 up, 0.093 down); at a constant
    volatility the realised vol barely moves, so its shock is small."""
    prices = _gbm(0.8, 20_000, seed=7)
    s = cal.scan_from_history(prices, 1, 0.99, vol_window=30)
    assert abs(s.up / D("0.103") - 1) < D("0.08")
    assert abs(s.down / D("-0.093") - 1) < D("0.08")
    assert s.vol_shock is not None and D(0) < s.vol_shock < D("0.2")
    # a ten-row horizon moves about sqrt(10) times as far
    ten = cal.scan_from_history(prices, 10, 0.99)
    assert abs(ten.up / D("0.361") - 1) < D("0.12")


def _csv(path: Path, columns: dict[str, list[float]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", *columns])
        rows = len(next(iter(columns.values())))
        for i in range(rows):
            w.writerow([i * 86_400, *(f"{columns[c][i]:.6f}" for c in columns)])
    return path


def test_the_cli_writes_a_section_the_deploy_pipeline_loads(tmp_path):
    sigmas = {"ETH": 0.8, "BTC": 0.6, "USD": 0.02, "ALT": 1.2}
    history = _csv(
        tmp_path / "prices.csv",
        {g: _gbm(s, 3_000, seed=i, start=100.0) for i, (g, s) in enumerate(sigmas.items())},
    )
    out = tmp_path / "portfolio.yaml"
    result = CliRunner().invoke(
        main,
        ["calibrate", "--config", str(CONFIG), "--prices", str(history), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "32 scenario rows" in result.output
    section = yaml.safe_load(out.read_text())["portfolio"]
    loaded = PortfolioIn.model_validate(section).config()
    assert len(loaded.scenarios.scenarios) == 32
    base = yaml.safe_load(CONFIG.read_text())["portfolio"]
    assert section["groups"] == base["groups"]
    assert section["im_factor"] == base["im_factor"]
    # the first row moves all four groups up by their scans
    first = section["scenarios"][0]
    assert set(first["moves"]) == set(GROUPS)
    assert all(D(m) > 0 for m in first["moves"].values())


def test_the_cli_from_volatilities_prints_json(tmp_path):
    args = ["calibrate", "--config", str(CONFIG), "--json", "--vol-of-vol", "ETH=1.5"]
    for g, s in (("ETH", "0.8"), ("BTC", "0.6"), ("USD", "0.02"), ("ALT", "1.2")):
        args += ["--vol", f"{g}={s}"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["scans"]["ETH"] == {"up": "0.103", "down": "-0.093", "vol_shock": "0.183"}
    assert doc["scans"]["BTC"]["vol_shock"] is None
    # ETH's vol shock moves every volatility: 16 full-range rows with it
    # up, the two volatility-only rows, then the thirds of three groups
    # (16 + 2 + 12; the down copies of the 16 would pass 32).
    rows = doc["portfolio"]["scenarios"]
    assert len(rows) == 30
    assert [r.get("vol") for r in rows[:18]] == ["0.183"] * 17 + ["-0.183"]
    assert rows[16] == {"name": "vol up", "moves": {}, "vol": "0.183"}
    assert all("vol" not in r for r in rows[18:])
    loaded = PortfolioIn.model_validate(doc["portfolio"]).config()
    assert loaded.scenarios.scenarios[17].vol_shock == -183 * 10**15


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--vol", "ETH=0.8"], "groups without a scan: BTC, USD, ALT"),
        (["--vol", "SOL=0.8"], "names groups the config does not have: SOL"),
        (["--vol", "ETH"], "is not GROUP=NUMBER"),
        (["--vol", "ETH=-0.5", "--vol", "BTC=1", "--vol", "USD=1", "--vol", "ALT=1"], "positive"),
        ([], "either --prices or --vol"),
        (["--vol", "ETH=0.8", "--confidence", "1.2"], "--confidence"),
    ],
)
def test_bad_volatility_input_is_refused(args, says):
    result = CliRunner().invoke(main, ["calibrate", "--config", str(CONFIG), *args])
    assert result.exit_code != 0
    assert says in result.output


def test_a_bad_history_is_refused_with_its_line(tmp_path):
    good = {g: [100.0, 101.0, 99.0, 100.5] for g in GROUPS}
    cases = [
        (
            {**good, "ETH": [100.0, 0.0, 99.0, 100.5]},
            "prices.csv:3: ETH price must be a positive finite",
        ),
        ({**good, "SOL": [1.0, 1.0, 1.0, 1.0]}, "names groups the config does not have: SOL"),
        ({g: good[g] for g in ("ETH", "BTC", "USD")}, "groups without a scan: ALT"),
    ]
    for columns, says in cases:
        path = _csv(tmp_path / "prices.csv", columns)
        result = CliRunner().invoke(
            main, ["calibrate", "--config", str(CONFIG), "--prices", str(path)]
        )
        assert result.exit_code != 0
        assert says in result.output, result.output
    # both inputs at once, and a history too short for its vol window
    path = _csv(tmp_path / "prices.csv", good)
    both = ["--prices", str(path), "--vol", "ETH=1"]
    result = CliRunner().invoke(main, ["calibrate", "--config", str(CONFIG), *both])
    assert "not both" in result.output
    result = CliRunner().invoke(main, ["calibrate", "--config", str(CONFIG), "--prices", str(path)])
    assert result.exit_code != 0
    assert "3 returns over 1 row(s): a 99.00% quantile needs at least 100" in result.output


def test_no_side_is_ever_a_zero_move():
    """Found by the outside review: a history that only rose gave a 0 %
    down move, a flat one 0 % both ways, and the deploy model took them:
    that group would carry no risk one way. A side with the wrong sign
    now takes the other side's size; a flat history is refused."""
    rising = [100.0 * 1.01**i for i in range(200)]  # +1 % a row, every row
    s = cal.scan_from_history(rising, 1, 0.99)
    # ln(1.01) = 0.00995 both ways: up e^r - 1 = 0.0100 -> 0.010 (exactly
    # 1 % in floating point may round up a step), down 1/1.01 - 1 = -0.0099 -> -0.010
    assert s.up in (D("0.010"), D("0.011")) and s.down == D("-0.010")
    with pytest.raises(ValueError, match="do not move"):
        cal.scan_from_history([100.0] * 200, 1, 0.99)
    with pytest.raises(ValueError, match="does not move over some 30-row window"):
        cal.scan_from_history([100.0] * 100 + rising, 1, 0.99, vol_window=30)


def test_hostile_csv_and_option_values_are_refused_with_a_message(tmp_path):
    """The review's crashes and silent merges: each is now a message."""
    good = {g: _gbm(0.5, 150, seed=i, start=100.0) for i, g in enumerate(GROUPS)}
    path = _csv(tmp_path / "prices.csv", good)
    text = path.read_text().splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([text[0] + ",ETH", *(line + ",1.0" for line in text[1:])]) + "\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(path.read_bytes().replace(b"time", b"t\xe9me"))
    inf = tmp_path / "inf.csv"
    inf.write_text(
        "\n".join([*text[:5], text[5].replace(text[5].split(",")[1], "inf", 1), *text[6:]])
    )
    blank = tmp_path / "blank.csv"
    blank.write_text(path.read_text() + "\n\n")
    vols = ["--vol", "BTC=0.6", "--vol", "USD=0.02", "--vol", "ALT=1.2"]
    cases = [
        (["--prices", str(dup)], "a column named twice: ETH"),
        (["--prices", str(latin)], "not a UTF-8 CSV file"),
        (["--prices", str(inf)], "inf.csv:6: ETH price must be a positive finite number"),
        (["--vol", "ETH=nan", *vols], "the number must be finite"),
        (["--vol", "ETH=0.8", "--vol", "ETH=0.9", *vols], "ETH is given twice"),
        (["--vol", "ETH=0.8", "--vol-of-vol", "ETH=-1", *vols], "must be positive numbers"),
        (["--vol", "ETH=1e6", *vols], "beyond any price"),
    ]
    for args, says in cases:
        result = CliRunner().invoke(main, ["calibrate", "--config", str(CONFIG), *args])
        assert result.exit_code != 0, args
        assert says in result.output, (args, result.output)
        assert "Traceback" not in result.output
    # blank lines at the end are skipped, not refused
    result = CliRunner().invoke(
        main, ["calibrate", "--config", str(CONFIG), "--prices", str(blank)]
    )
    assert result.exit_code == 0, result.output
