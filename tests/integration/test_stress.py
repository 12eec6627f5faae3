"""`xmargin stress` against a real node: a deployment with a crowd on
anvil, a stress of it on a fork, checked against the ledgers and against
what the source itself says once the same shock is applied to it; the
what-if, the Monte Carlo paths (a process pool and Dask's LocalCluster),
and the bad inputs, each a clear message with nothing left running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.integration.test_deploy import _contract, deploy_crowd
from tests.integration.test_keeper import _shock

pytestmark = pytest.mark.integration

CROWD = 20
XMARGIN = str(Path(sys.executable).parent / "xmargin")


def _forks(url: str) -> list[psutil.Process]:
    """anvil processes forking `url` (left running = a leak)."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any("anvil" in c for c in cmd[:1]) and url in cmd:
            out.append(p)
    return out


def test_stress_replays_the_cascade_on_a_fork(
    start_anvil, ape_run, ape_env, deployments_dir, abi, tmp_path
):
    node = start_anvil()
    record, ch, lens, accounts = deploy_crowd(node, ape_run, deployments_dir, abi, CROWD)
    assert not any(lens.functions.is_liquidatable(ch.address, *a).call() for a in accounts)

    def xmargin(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [XMARGIN, "stress", "--rpc", node.url, *args],
            cwd=tmp_path,
            env=ape_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    head = node.w3.eth.block_number
    feed = _contract(node.w3, abi, "MockAggregator", record["assets"]["WETH"]["feed"])
    round_before = feed.functions.latestRoundData().call()
    mmr_before = ch.functions.market_params(0).call()

    out = tmp_path / "stress.png"
    result = xmargin(
        "--shock", "ETH=-30%", "--over", "1h", "--steps", "6",
        "--set", "ETH-PERP.mmr=0.08", "--json", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    doc = json.loads(result.stdout)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert (doc["command"], doc["chain_id"], doc["block"]) == ("stress", 31337, head)
    assert doc["path"]["final_multiple"] == {"WETH": "0.7"}

    # Nothing was sent to the source; its fork is gone.
    assert node.w3.eth.block_number == head
    assert feed.functions.latestRoundData().call() == round_before
    assert ch.functions.market_params(0).call() == mmr_before
    assert _forks(node.url) == []

    for run in (doc["base"], doc["what_if"]):
        steps = run["steps"]
        assert len(steps) == 7 and all(s["checks_pass"] for s in steps)
        # Step 0 at the fork, then WETH steps -5 % of the fork's $3,000.
        assert [s["prices_usd"]["WETH"] for s in steps] == [
            "3000", "2850", "2700", "2550", "2400", "2250", "2100",
        ]  # fmt: skip
        assert steps[0]["liquidations"] == 0  # nobody was below MM at the fork
        for s in steps:
            # tokens held cover the ledgers at every step, the quote too
            # (accounts' balances, pool, insurance fund, escrowed fees)
            assert s["ledgers"][0]["asset"] == "USDC" and s["ledgers"][0]["held"] > 0
            assert all(x["covered"] and x["held"] >= x["ledgers"] for x in s["ledgers"])
            # the keeper left nobody below MM without a reason
            assert all(a["reason"] for a in s["left_below_mm"])
            # the bad debt written off was paid by the fund and the pool
            written = _units(s["bad_debt_quote"])
            assert written == _units(s["insurance_used_quote"]) + _units(s["pool_loss_quote"])
        totals = run["totals"]
        assert totals["liquidations"] == sum(s["liquidations"] for s in steps[1:])
        assert _units(totals["bad_debt_quote"]) == sum(
            _units(s["bad_debt_quote"]) for s in steps[1:]
        )
        # step 0 (the fork itself) is reported, not counted in the totals
        on_path = [b for b in run["bad_debt_accounts"] if b["step"] > 0]
        assert sum(_units(b["deficit_quote"]) for b in on_path) == _units(totals["bad_debt_quote"])
    assert doc["what_if"]["sent"] == ["set market ETH-PERP params"]

    liquidated = {
        (a["owner"], a["sub_id"]) for s in doc["base"]["steps"] for a in s["newly_liquidated"]
    }
    assert len(liquidated) == doc["base"]["totals"]["accounts_liquidated"] > 0

    # The same shock on the source itself, with the hour the path took: the
    # accounts below MM there are the ones the stress liquidated (each
    # linear in the ETH price, so below MM at the end iff on the way).
    node.w3.provider.make_request("evm_increaseTime", [3600])
    _shock(node, abi, record, {"WETH": -3_000, "WBTC": 0, "LINK": 0})
    below = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    assert below == liquidated


def _units(text: str) -> int:
    """A decimal string of USDC as 6-decimal units."""
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * 10**6 + int((frac + "000000")[:6]))


def test_stress_monte_carlo_and_bad_input(
    start_anvil, ape_run, ape_env, deployments_dir, abi, tmp_path
):
    node = start_anvil()
    record, ch, lens, accounts = deploy_crowd(node, ape_run, deployments_dir, abi, 6)

    def xmargin(*args: str, rpc: str = node.url) -> subprocess.CompletedProcess:
        return subprocess.run(
            [XMARGIN, "stress", "--rpc", rpc, *args],
            cwd=tmp_path,
            env=ape_env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def refused(*args: str, said: str, code: int = 1, rpc: str = node.url) -> None:
        got = xmargin(*args, rpc=rpc)
        assert got.returncode == code, (got.stdout, got.stderr)
        assert said in " ".join(got.stderr.split()), got.stderr
        assert "Traceback" not in got.stderr
        assert _forks(node.url) == []

    refused("--shock", "DOGE=-30%", said="'DOGE' is not an asset")
    refused("--shock", "ETH=-100%", said="would make the price zero or negative", code=2)
    refused("--shock", "ETH=-30%", "--block", "0", said="is before the deployment")
    refused("--shock", "ETH=-30%", "--block", "999999", said="past the node's head")
    other = dict(record, chain_id=11155111)
    other_file = tmp_path / "other.json"
    other_file.write_text(json.dumps(other))
    refused("--shock", "ETH=-30%", "--record", str(other_file), said="serves chain 31337")
    # A node that answers but cannot be forked at the block: anvil's own word.
    refused("--shock", "ETH=-30%", "--rpc", "http://127.0.0.1:9", said="no node at", rpc="")
    refused("--shock", "ETH=-30%", "--set", "ETH-PERP.nope=1", said="has no field 'nope'")
    refused("--paths", "2", said="--vol ASSET=VOL or --scenarios", code=2)

    # 500 % a year over a day: 26 % (one standard deviation), enough to liquidate
    draw = ("--paths", "2", "--vol", "ETH=5", "--over", "1d", "--steps", "3", "--seed", "4")
    docs = []
    for executor in (("--workers", "2"), ("--workers", "2", "--dask", "local")):
        got = xmargin(*draw, "--json", *executor)
        assert got.returncode == 0, got.stderr
        doc = json.loads(got.stdout)
        docs.append(doc)
        assert [p["index"] for p in doc["paths"]] == [0, 1]
        assert all(p["error"] is None and p["checks_pass"] for p in doc["paths"])
        debts = sorted(_units(p["bad_debt_quote"]) for p in doc["paths"])
        # nearest rank over two paths: the mean, and both percentiles the larger
        assert _units(doc["bad_debt_quote"]["p99"]) == debts[-1]
        assert _units(doc["bad_debt_quote"]["mean"]) == sum(debts) // 2
        assert _forks(node.url) == []
    # Both executors ran the same draws to the same outcomes, and `--show 1`
    # replays path 1 alone to the same totals (one fork, one clock).
    strip = [[{k: v for k, v in p.items() if k != "seconds"} for p in d["paths"]] for d in docs]
    assert strip[0] == strip[1]
    got = xmargin(*draw, "--show", "1", "--json", "--out", str(tmp_path / "one.png"))
    assert got.returncode == 0, got.stderr
    one = json.loads(got.stdout)
    assert one["path"]["final_multiple"] == docs[0]["paths"][1]["final_multiple"]
    totals = one["base"]["totals"]
    path = docs[0]["paths"][1]
    assert sum(p["liquidations"] for p in docs[0]["paths"]) > 0, "a draw that liquidates"
    assert (totals["bad_debt_quote"], totals["liquidations"]) == (
        path["bad_debt_quote"],
        path["liquidations"],
    )

    # The chain already differs from the config (the owner moved the
    # liquidation penalty on the source): a what-if would apply that too,
    # so it is refused, on the fork, before any run.
    params = list(ch.functions.liquidation_params().call())
    params[0] = 3 * 10**16 if params[0] != 3 * 10**16 else 2 * 10**16
    tx = ch.functions.set_liquidation_params(tuple(params)).transact(
        {"from": node.w3.eth.accounts[0]}
    )
    node.w3.eth.wait_for_transaction_receipt(tx)
    refused(
        "--shock", "ETH=-10%", "--steps", "1", "--set", "ETH-PERP.mmr=0.08",
        said="already differs from the deployment's config",
    )  # fmt: skip

    # Accounts already below MM at the fork (a live keeper behind): step 0
    # liquidates them, before the path's first move, not billed to it.
    _shock(node, abi, record, {"WETH": -3_000})
    doomed = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    assert doomed
    got = xmargin("--shock", "ETH=-1%", "--steps", "1", "--json")
    assert got.returncode == 0, got.stderr
    steps = json.loads(got.stdout)["base"]["steps"]
    at_fork = {(a["owner"], a["sub_id"]) for a in steps[0]["newly_liquidated"]}
    assert at_fork == doomed
    assert steps[1]["accounts_liquidated"] == 0 or not (
        {(a["owner"], a["sub_id"]) for a in steps[1]["newly_liquidated"]} & doomed
    )
