"""`xmargin` against a real node: anvil, `ape run deploy` and `ape run crowd`, a
price shock, then `status`, `accounts --unhealthy`, `chart` and `report` as
subprocesses, their output checked against the chain read through web3."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.test_deploy import _contract, deploy_crowd
from tests.integration.test_keeper import _shock
from xmargin.maths import errors
from xmargin.maths.fixed_point import format_units

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from rpc_proxy import RpcProxy  # benchmarks/ is not a package

pytestmark = pytest.mark.integration

CROWD = 20
XMARGIN = str(Path(sys.executable).parent / "xmargin")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in `text`, as stripped cells."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def _usd(wad: int) -> str:
    return format_units(wad, 18, 2)


def _args(account: tuple[str, int]) -> tuple[str, str, str]:
    return account[0], "--sub", str(account[1])


def _exact(value: int, decimals: int = 18) -> str:
    """What `--json` should print for `value` units of 10**-decimals."""
    text = format(Decimal(value).scaleb(-decimals).normalize(), "f")
    return "0" if Decimal(text) == 0 else text


def test_cli_reads_what_the_chain_says(
    start_anvil, ape_run, ape_env, deployments_dir, abi, tmp_path
):
    node = start_anvil()
    record, ch, lens, accounts = deploy_crowd(node, ape_run, deployments_dir, abi, CROWD)
    _shock(node, abi, record, {"WETH": -2_500, "WBTC": 1_200})
    doomed = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    assert 0 < len(doomed) < CROWD, "the test needs liquidatable and healthy accounts"

    def run(args: tuple[str, ...], rpc: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [XMARGIN, *args, "--rpc", rpc],
            cwd=tmp_path,
            env=ape_env | env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def xmargin(*args: str, rpc: str = node.url) -> subprocess.CompletedProcess:
        result = run(args, rpc)
        if args[0] in ("status", "accounts", "chart", "report") and rpc == node.url:
            # The fast path (no Ape: xmargin.chain.light) and Ape's print
            # the same, byte for byte, refusals included.
            ape = run(args, rpc, XMARGIN_READ_THROUGH_APE="1")
            assert (result.returncode, result.stdout, result.stderr) == (
                ape.returncode,
                ape.stdout,
                ape.stderr,
            )
        return result

    def ok(*args: str) -> str:
        result = xmargin(*args)
        assert result.returncode == 0, f"xmargin {args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    # accounts --unhealthy: exactly the accounts the chain calls liquidatable,
    # each with MM - equity as account_health says.
    listed = _rows(ok("accounts", "--unhealthy"))
    assert {(row[1], int(row[2])) for row in listed} == doomed
    for row in listed:
        equity, _, mm = ch.functions.account_health(row[1], int(row[2])).call()
        assert (row[3], row[5], row[-1]) == (_usd(equity), _usd(mm), _usd(mm - equity))
    everyone = _rows(ok("accounts"))
    assert [(row[1], int(row[2])) for row in everyone] == accounts

    # status: equity, IM, MM and the lens's liquidation price of one doomed
    # account and one healthy one.
    healthy = next(a for a in accounts if a not in doomed)
    for owner, sub in (min(doomed), healthy):
        out = ok("status", owner, "--sub", str(sub))
        cells = {row[0]: row[-1] for row in _rows(out)}
        equity, im, mm = ch.functions.account_health(owner, sub).call()
        assert cells["equity $"] == _usd(equity)
        assert cells["initial margin (IM) $"] == _usd(im)
        assert cells["maintenance margin (MM) $"] == _usd(mm)
        assert (cells["status"] == "LIQUIDATABLE") == ((owner, sub) in doomed)
        (detail,) = lens.functions.position_details(ch.address, owner, sub).call()
        (position,) = [row for row in _rows(out) if len(row) > 10]
        assert position[-2:] == [_usd(detail[-1]), "="]

    # status of a portfolio-mode account: the mode, and the scenario table's
    # MM and IM are the chain's (long 2 ETH against 10,000 USDC under the
    # local config's scenarios).
    pm_owner, pm_sub = node.w3.eth.accounts[8], 7
    usdc = _contract(node.w3, abi, "MockERC20", record["assets"]["USDC"]["token"])
    sender = {"from": pm_owner}
    usdc.functions.mint(pm_owner, 10_000 * 10**6).transact(sender)
    usdc.functions.approve(ch.address, 10_000 * 10**6).transact(sender)
    ch.functions.deposit(pm_sub, usdc.address, 10_000 * 10**6).transact(sender)
    ch.functions.set_margin_mode(pm_sub, True).transact(sender)
    ch.functions.trade(pm_sub, record["markets"]["ETH-PERP"], 2 * 10**18, 10**30).transact(sender)
    out = ok("status", pm_owner, "--sub", str(pm_sub))
    cells = {row[0]: row[-1] for row in _rows(out)}
    equity, im, mm = ch.functions.account_health(pm_owner, pm_sub).call()
    assert cells["margin mode"] == "portfolio (scenario grid)"
    assert cells["maintenance margin (MM) $"] == cells["MM = max(worst loss, floor)"] == _usd(mm)
    assert cells["IM = MM x factor + haircut gap"] == _usd(im)
    assert cells["xmargin.maths.model"] == "agrees"
    assert "<- worst" in out

    # status of an account with a pending delayed order: where it stands
    # (local config: 2 s delay, 1 USDC fee escrowed), then due once the
    # ETH feed publishes after the delay.
    eth = record["markets"]["ETH-PERP"]
    ch.functions.commit_order(pm_owner, pm_sub, eth, 10**18, 2**255).transact(sender)
    out = ok("status", pm_owner, "--sub", str(pm_sub))
    assert "pending order: 1.0000 ETH-PERP at any price, fee 1.00 USDC escrowed;" in out
    assert "waiting for a price published after its delay" in out or "settles in" in out
    node.w3.provider.make_request("evm_increaseTime", [3])
    feed = _contract(node.w3, abi, "MockAggregator", record["assets"]["WETH"]["feed"])
    feed.functions.set_answer(feed.functions.answer().call()).transact(
        {"from": node.w3.eth.accounts[0]}
    )
    out = ok("status", pm_owner, "--sub", str(pm_sub))
    assert "due: any keeper may settle it now" in out

    # status of an owner with a pending LP deposit request (local config:
    # 60 s delay), then settled by anyone and shown as claimable.
    vault = _contract(node.w3, abi, "LiquidityPool", record["contracts"]["LiquidityPool"])
    usdc.functions.mint(pm_owner, 500 * 10**6).transact(sender)
    usdc.functions.approve(vault.address, 500 * 10**6).transact(sender)
    vault.functions.requestDeposit(500 * 10**6, pm_owner, pm_owner).transact(sender)
    out = ok("status", pm_owner, "--sub", str(pm_sub))
    assert "pending LP deposit: 500.00 USDC; settles in" in out
    node.w3.provider.make_request("evm_increaseTime", [61])
    for symbol in ("WETH", "WBTC", "LINK"):
        if symbol in record["assets"] and record["assets"][symbol]["feed"]:
            f = _contract(node.w3, abi, "MockAggregator", record["assets"][symbol]["feed"])
            f.functions.set_answer(f.functions.answer().call()).transact(
                {"from": node.w3.eth.accounts[0]}
            )
    out = ok("status", pm_owner, "--sub", str(pm_sub))
    assert "pending LP deposit: 500.00 USDC; due: any keeper may settle it now" in out
    vault.functions.settle_deposit(pm_owner).transact(sender)
    out = ok("status", pm_owner, "--sub", str(pm_sub))
    assert "claimable LP deposit: " in out and " xLP for 500.00 USDC" in out

    # chart: a PNG, and the liquidation price it marks is the lens's (the
    # crowd holds only USDC, so moving the asset moves only the position).
    owner, sub = min(doomed)
    out = ok("chart", owner, "--sub", str(sub), "--out", "charts/health.png")
    assert (tmp_path / "charts" / "health.png").read_bytes().startswith(PNG_SIGNATURE)
    (detail,) = lens.functions.position_details(ch.address, owner, sub).call()
    shown = out.split("liquidation $")[1].split(" ")[0]
    assert abs(int(shown.replace(",", "").replace(".", "")) - detail[-1] // 10**16) <= 1

    # report: after one liquidation sent through web3, its penalty and the
    # insurance and bad-debt ledgers as the views say.
    start = node.w3.eth.block_number
    market = next(m for m in record["markets"].values() if detail[0] == m)
    # (owner, sub_id, market, max size, min reward)
    ch.functions.liquidate(owner, sub, market, abs(detail[1]), 0).transact(
        {"from": node.w3.eth.accounts[9]}
    )
    (event,) = ch.events.Liquidation().get_logs(from_block=start + 1)
    out = ok("report", "--out", "report.png")
    assert (tmp_path / "report.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "Liquidations since block 0: 1" in out
    totals = {row[0]: row[1] for row in _rows(out) if len(row) == 2}
    q = record["assets"]["USDC"]["decimals"]
    assert totals["liquidation penalties charged"] == format_units(event.args.penalty, q, 2)
    assert totals["insurance fund now"] == format_units(ch.functions.insurance_fund().call(), q, 2)
    assert totals["bad debt, total"] == format_units(ch.functions.bad_debt_total().call(), q, 2)

    # Over a counted link (benchmarks/rpc_proxy.py), each command asks the
    # node in a few HTTP requests whatever it reads (issue 21: status in at
    # most 5): the opening batch, the forecast reads, and for accounts the
    # lens's pages; a portfolio account's scenario grid is one more.
    with RpcProxy(node.url, delay_ms=0) as proxy:

        def requests_of(*args: str) -> int:
            proxy.reset()
            result = xmargin(*args, rpc=proxy.url)
            assert result.returncode == 0, result.stderr
            return proxy.reset().http_requests

        assert requests_of("status", *_args(healthy)) == 2
        # every command without importing Ape's contracts or web3 (the
        # fast path: Ape's start-up was 2 s of status's 4.4 s at 100 ms).
        chart = ("chart", *_args(healthy), "--out", "t.png")
        report = ("report", "--out", "t.png")
        for command in (("status", *_args(healthy)), ("accounts",), chart, report):
            traced = subprocess.run(
                [sys.executable, "-X", "importtime", XMARGIN, *command, "--rpc", node.url],
                cwd=tmp_path,
                env=ape_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            imported = {line.split("|")[-1].strip() for line in traced.stderr.splitlines()}
            assert traced.returncode == 0 and "xmargin.chain.light" in imported
            assert not imported & {"web3", "ape.contracts.base", "ape.managers.project"}
        assert requests_of("status", pm_owner, "--sub", str(pm_sub)) == 3
        assert requests_of("accounts") == 3
        assert requests_of("chart", *_args(healthy), "--out", "c.png") == 2
        # its event scans too: each (kind, 5,000 blocks) is a fixed answer
        assert requests_of("report", "--out", "r.png") == 2

    # --json (issue 21): the same figures as exact decimal strings, checked
    # against the chain's views converted here with Decimal.
    doomed = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    doc = json.loads(ok("accounts", "--unhealthy", "--json"))
    assert (doc["command"], doc["chain_id"], doc["total"]) == ("accounts", 31337, CROWD + 1)
    assert {(a["owner"], a["sub"]) for a in doc["accounts"]} == doomed
    for a in doc["accounts"]:
        equity, im, mm = ch.functions.account_health(a["owner"], a["sub"]).call()
        assert (a["equity_usd"], a["im_usd"], a["mm_usd"]) == (
            _exact(equity),
            _exact(im),
            _exact(mm),
        )
        assert a["shortfall_usd"] == _exact(mm - equity)
        assert a["status"] == "liquidatable"
    doc = json.loads(ok("status", pm_owner, "--sub", str(pm_sub), "--json"))
    equity, im, mm = ch.functions.account_health(pm_owner, pm_sub).call()
    assert doc["health"]["equity_usd"] == _exact(equity)
    assert (doc["health"]["im_usd"], doc["health"]["mm_usd"]) == (_exact(im), _exact(mm))
    assert doc["margin_mode"] == "portfolio" and doc["portfolio"]["mm_usd"] == _exact(mm)
    (position,) = doc["positions"]
    assert (position["market"], position["size"]) == ("ETH-PERP", "2")
    assert doc["order"]["state"] == "due" and doc["order"]["fee_quote"] == "1"
    assert [r["state"] for r in doc["lp_requests"]] == ["claimable"]
    doc = json.loads(ok("chart", *_args(healthy), "--out", "c.png", "--json"))
    (curve,) = doc["underlyings"]
    if curve["liquidation_price_usd"] is not None:
        lens_price = Decimal(lens.functions.position_details(ch.address, *healthy).call()[0][-1])
        assert abs(Decimal(curve["liquidation_price_usd"]) - lens_price / 10**18) <= Decimal("0.01")
    doc = json.loads(ok("report", "--out", "report.png", "--json"))
    (liquidation,) = doc["liquidations"]
    assert liquidation["penalty_quote"] == _exact(event.args.penalty, q)
    assert liquidation["closed"] == _exact(abs(event.args.size_delta))
    assert doc["totals"]["penalties_quote"] == _exact(event.args.penalty, q)
    assert doc["totals"]["insurance_fund_quote"] == _exact(ch.functions.insurance_fund().call(), q)
    assert doc["pool"]["value_usd"] == _exact(ch.functions.pool_state().call()[5])
    assert doc["pool_unpriced"] is None and doc["prices"] == []

    # A stale price (past the feeds' 3,600 s heartbeat): a command that
    # needs it names the asset, its feed and its age; the report still
    # shows its ledgers, and says why the pool's value is missing.
    node.w3.provider.make_request("evm_increaseTime", [3_700])
    node.w3.provider.make_request("evm_mine", [])
    weth_feed = record["assets"]["WETH"]["feed"]
    now = node.w3.eth.get_block("latest")["timestamp"]
    age = now - feed.functions.latestRoundData().call()[3]
    refused = xmargin("status", *_args(healthy))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert (
        f"WETH's price is stale: its feed {weth_feed} last answered $2250 {age:,} s ago, "
        "past its 3,600 s heartbeat" in " ".join(refused.stderr.split())
    )
    out = ok("report", "--out", "report.png")
    assert "not shown; the ledgers below need none" in out
    totals = {row[0]: row[1] for row in _rows(out) if len(row) == 2}
    assert totals["liquidation penalties charged"] == format_units(event.args.penalty, q, 2)
    doc = json.loads(ok("report", "--out", "report.png", "--json"))
    assert doc["pool"] is None and doc["pool_unpriced"] == errors.PRICE_STALE
    stale = {p["asset"]: p for p in doc["prices"]}
    assert stale["WETH"]["feed"] == weth_feed and stale["WETH"]["age_seconds"] == age
    assert stale["WETH"]["heartbeat_seconds"] == 3_600
    assert doc["totals"]["penalties_quote"] == _exact(event.args.penalty, q)

    # Another chain with the same id: the record is refused, and says why.
    other = start_anvil()
    result = subprocess.run(
        [XMARGIN, "accounts", "--rpc", other.url],
        cwd=tmp_path,
        env=ape_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "deployment record belongs to another chain" in result.stderr
    assert "Traceback" not in result.stderr
