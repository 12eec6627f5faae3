"""The keeper on anvil: 60 accounts, a price shock, every liquidatable account
liquidated and nothing else (checked independently through web3), also
while one feed is broken (issue 19); a pass's requests to the node
counted through a proxy (issue 21)."""

from __future__ import annotations

import json
import sys

from ape import accounts, networks

from tests.integration.test_deploy import _contract, _ok, _record
from xmargin.maths import errors

sys.path.insert(0, "benchmarks")
from rpc_proxy import RpcProxy  # benchmarks/ is not a package

CROWD = 60


def _entries(text: str) -> list[dict]:
    """The keeper's JSON log lines."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _shock(node, abi, record, moves_bps: dict[str, int]) -> None:
    sender = node.w3.eth.accounts[0]
    for symbol, bps in moves_bps.items():
        feed = _contract(node.w3, abi, "MockAggregator", record["assets"][symbol]["feed"])
        answer = feed.functions.latestRoundData().call()[1]
        tx = feed.functions.set_answer(answer * (10_000 + bps) // 10_000).transact({"from": sender})
        node.w3.eth.wait_for_transaction_receipt(tx, timeout=30)  # mined (interval mining too)


def test_keeper_liquidates_every_liquidatable_account_and_nothing_else(
    start_anvil, ape_run, ape_start, deployments_dir, abi, monkeypatch
):
    node = start_anvil()
    on_node = (
        "--network",
        "ethereum:local:foundry",
        "--provider-settings",
        json.dumps({"host": node.url}),
    )
    # No deployment yet: a real failure, a non-zero exit that says what to do.
    missing = ape_run("keeper", *on_node, "--once", "--test-account", "9")
    assert missing.returncode != 0
    assert "run `ape run deploy" in missing.stdout + missing.stderr

    _ok(ape_run("deploy", *on_node))
    _ok(ape_run("crowd", *on_node, "--count", str(CROWD)))
    record = _record(deployments_dir, "ethereum-31337")
    ch = _contract(node.w3, abi, "Clearinghouse", record["contracts"]["Clearinghouse"])
    lens = _contract(node.w3, abi, "ClearinghouseLens", record["contracts"]["ClearinghouseLens"])
    assert ch.functions.num_accounts().call() == CROWD
    accounts = [tuple(ch.functions.account_at(i).call()) for i in range(CROWD)]
    assert not any(lens.functions.is_liquidatable(ch.address, *a).call() for a in accounts)

    # ETH -25 %, BTC +12 %: longs in ETH and shorts in BTC lose.
    _shock(node, abi, record, {"WETH": -2_500, "WBTC": 1_200})
    doomed = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    assert 5 <= len(doomed) < CROWD - 5, f"{len(doomed)} liquidatable: the test needs both kinds"
    # The batch view agrees with the per-account view.
    rows = [
        *lens.functions.account_healths(ch.address, 0, 50).call(),
        *lens.functions.account_healths(ch.address, 50, 50).call(),
    ]
    assert {(r[0], r[1]) for r in rows if r[2] < r[4]} == doomed

    # A keeper that wants $1M of profit per liquidation sends nothing.
    start = node.w3.eth.block_number
    greedy = _ok(
        ape_run("keeper", *on_node, "--once", "--test-account", "9", "--min-profit", "1000000")
    )
    (greedy_pass,) = [entry for entry in _entries(greedy) if entry["event"] == "pass"]
    assert greedy_pass["liquidations"] == 0
    assert greedy_pass["skipped_unprofitable"] == len(doomed)
    assert node.w3.eth.block_number == start

    # Issue 19: BTC's feed turns hostile (its decimals move): every account
    # with a BTC position cannot be read. One pass still liquidates every
    # other liquidatable account and names each unreadable one.
    btc_feed = _contract(node.w3, abi, "MockAggregator", record["assets"]["WBTC"]["feed"])
    btc_feed.functions.set_decimals(9).transact({"from": node.w3.eth.accounts[0]})
    in_btc = {a for a in accounts if ch.functions.position_mask(*a).call() & 0b10}
    assert in_btc and doomed - in_btc, "the test needs BTC accounts and other doomed ones"
    broken = _entries(_ok(ape_run("keeper", *on_node, "--once", "--test-account", "9")))
    unreadable = [e for e in broken if e["event"] == "account_unreadable"]
    assert {(e["owner"], e["sub_id"]) for e in unreadable} == in_btc
    assert {(e["reason"], e["asset"]) for e in unreadable} == {
        (errors.FEED_DECIMALS_CHANGED, "WBTC")
    }
    (broken_pass,) = [e for e in broken if e["event"] == "pass"]
    readable = [a for a in accounts if a not in in_btc]
    # every account screened (all have a position), those in BTC unreadable
    assert (broken_pass["accounts"], broken_pass["unreadable"]) == (CROWD, len(in_btc))
    assert broken_pass["reverted"] == broken_pass["failed"] == 0
    assert not any(lens.functions.is_liquidatable(ch.address, *a).call() for a in readable)
    btc_feed.functions.set_decimals(8).transact({"from": node.w3.eth.accounts[0]})

    # What the keeper screens: accounts with a position or quote debt (the
    # broken pass closed some whole).
    usdc = _contract(node.w3, abi, "MockERC20", record["assets"]["USDC"]["token"])
    liable = [
        a
        for a in accounts
        if ch.functions.position_mask(*a).call()
        or ch.functions.balance_of(*a, usdc.address).call() < 0
    ]
    out = _ok(ape_run("keeper", *on_node, "--once", "--test-account", "9"))
    lines = _entries(out)
    (scan,) = [entry for entry in lines if entry["event"] == "scan"]
    assert (scan["accounts"], scan["liquidatable"]) == (len(liable), len(doomed & in_btc))
    (summary,) = [entry for entry in lines if entry["event"] == "pass"]
    print("keeper passes:", broken_pass, summary)
    assert summary["lost_races"] == summary["reverted"] == summary["skipped_unprofitable"] == 0

    # Independently: nobody is left liquidatable, and only the doomed were touched.
    assert not any(lens.functions.is_liquidatable(ch.address, *a).call() for a in accounts)
    events = ch.events.Liquidation().get_logs(from_block=start + 1)
    touched = {(e.args.owner, e.args.sub_id) for e in events}
    assert touched == doomed
    assert all(e.args.liquidator == node.w3.eth.accounts[9] for e in events)
    assert broken_pass["liquidations"] + summary["liquidations"] == len(events)

    # Tokens in the Clearinghouse == every quote ledger, to the wei.
    ledgers = sum(ch.functions.balance_of(o, s, usdc.address).call() for o, s in accounts)
    ledgers += ch.functions.balance_of(node.w3.eth.accounts[9], 0, usdc.address).call()
    ledgers += ch.functions.pool_balance().call() + ch.functions.insurance_fund().call()
    assert usdc.functions.balanceOf(ch.address).call() == ledgers

    # Following new blocks: a keeper started now makes one pass (nothing to
    # do), then the next block (BTC +30 %) makes BTC shorts liquidatable and
    # its second pass clears them.
    follower = ape_start(
        "keeper", *on_node, "--blocks", "2", "--poll", "0.2", "--test-account", "9"
    )
    first = json.loads(next(line for line in follower.stdout if '"event": "pass"' in line))
    assert first["liquidations"] == 0
    _shock(node, abi, record, {"WBTC": 3_000})
    rest, err = follower.communicate(timeout=120)
    assert follower.returncode == 0, err
    (second,) = [e for e in _entries(rest) if e["event"] == "pass"]
    (second_scan,) = [e for e in _entries(rest) if e["event"] == "scan"]
    # Liquidatable at the block the keeper screened (a read at the head
    # after the shock can be a block or two earlier: funding accrued in
    # between has put accounts at the edge over it on a loaded machine).
    at = second_scan["block"]
    second_doomed = {
        a
        for a in accounts
        if lens.functions.is_liquidatable(ch.address, *a).call(block_identifier=at)
    }
    assert second_doomed, "the second shock must make some account liquidatable"
    assert second["liquidatable"] == len(second_doomed)
    assert second["liquidations"] >= len(second_doomed)
    assert not any(lens.functions.is_liquidatable(ch.address, *a).call() for a in accounts)

    monkeypatch.setenv("XMARGIN_DEPLOYMENTS_DIR", str(deployments_dir))
    _pass_requests(node, abi, record, accounts_=accounts, lens=lens, ch=ch)


def _pass_requests(node, abi, record, accounts_, lens, ch) -> None:
    """Issue 21: the keeper's requests per pass, through a counting proxy.

    A pass with nothing to do asks the node three times: the opening batch
    (chain id, client, the head block it pins), the views every pass reads
    (one batch: code, assets, prices, markets, caps, ADL state) and the
    audited accounts' healths (one batch). Through Ape, one call at a
    time, it was 106 requests (15 s over a 100 ms link).

    Failure it answers: a keeper that kept "latest" pinned after its own
    transactions would value the next accounts at a block its
    liquidations already changed (re-sending closed liquidations, or
    missing the ADL they cause). After the first transaction of a pass,
    the head block must be asked afresh, as "latest", on the wire."""
    from xmargin.ops.keeper import Keeper, KeeperConfig
    from xmargin.ui.ape_cli import check_deployment

    log: list[dict] = []
    with (
        RpcProxy(node.url, delay_ms=0) as proxy,
        networks.parse_network_choice(
            "ethereum:local:foundry", provider_settings={"host": proxy.url}
        ) as provider,
    ):
        keeper = accounts.test_accounts[9]
        bot = Keeper(check_deployment(provider), keeper, KeeperConfig(), log=log.append)
        bot.run_once()  # the first: the replica's backfill from the events
        proxy.reset()
        quiet = bot.run_once()
        traffic = proxy.reset()
        assert quiet.liquidatable == quiet.liquidations == 0
        assert traffic.http_requests == 3, [[c.method for c in r.calls] for r in traffic.requests]

        _shock(node, abi, record, {"WETH": -3_000})
        doomed = {a for a in accounts_ if lens.functions.is_liquidatable(ch.address, *a).call()}
        assert doomed, "the shock must make some account liquidatable"
        busy = bot.run_once()
        traffic = proxy.reset()
    assert busy.liquidations >= len(doomed)
    assert busy.reverted == busy.lost_races == 0
    assert not any(lens.functions.is_liquidatable(ch.address, *a).call() for a in accounts_)
    calls = [c for r in traffic.requests for c in r.calls]
    sent = next(i for i, c in enumerate(calls) if c.method == "eth_sendRawTransaction")
    assert any(
        c.method == "eth_getBlockByNumber" and c.params[0] == "latest" for c in calls[sent:]
    ), "the head was not asked afresh after the pass's first transaction"
