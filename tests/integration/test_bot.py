"""The keeper as a silverback bot on anvil (issue 20, point 4): `silverback
run keeper` with its in-process broker, then in worker mode (the runner
queues one task per block on a Redis broker, a `silverback worker`
process runs the passes), each clearing a shock; checked independently
through web3: who liquidated whom, and that nobody is left."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import fakeredis
import pytest

from tests.integration.conftest import ROOT, _free_port
from tests.integration.test_deploy import deploy_crowd
from tests.integration.test_keeper import _entries, _shock

CROWD = 30


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis server on 127.0.0.1 for taskiq's broker and results:
    fakeredis's TCP server (pure Python; an operator runs redis-server)."""
    port = _free_port()
    server = fakeredis.TcpFakeServer(("127.0.0.1", port))
    # Its connection threads end with the test (clients may still hold one).
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silverback(ape_env: dict[str, str]) -> Iterator:
    """Starts `silverback <command> keeper ...` in the background; stopped
    (SIGINT, as Ctrl-C) after the test if still running."""
    started: list[subprocess.Popen] = []

    def start(command: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            ["silverback", command, "keeper", *args],
            cwd=ROOT,
            env={**ape_env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop(proc)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    """Ctrl-C, then what the process printed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)


def _wait_until_cleared(lens, ch, accounts, procs, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while any(lens.functions.is_liquidatable(ch.address, *a).call() for a in accounts):
        for proc in procs:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the bot stopped ({proc.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail("the bot did not clear the liquidatable accounts in time")
        time.sleep(0.5)


def test_silverback_bot_liquidates_in_process_and_in_worker_mode(
    start_anvil, ape_run, silverback, deployments_dir, abi, redis_url
):
    node = start_anvil()
    # `ethereum:local:<uri>`: the local network at this node. silverback
    # reads `--network` but not ape's `--provider-settings`.
    network = ("--network", f"ethereum:local:{node.url}")
    signer = {"SILVERBACK_SIGNER_ALIAS": "TEST::9"}

    # No deployment: the bot refuses to load, saying what to do.
    missing = silverback("run", *network, env=signer)
    out, err = missing.communicate(timeout=120)
    assert missing.returncode != 0
    assert "run `ape run deploy" in out + err

    record, ch, lens, accounts = deploy_crowd(node, ape_run, deployments_dir, abi, CROWD)
    # The bot acts on new blocks: mine one a second from now on.
    node.w3.provider.make_request("evm_setIntervalMining", [1])

    # 1. In-process broker (the default): ETH -25 %.
    _shock(node, abi, record, {"WETH": -2_500})
    doomed = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    assert doomed, "the shock must make some account liquidatable"
    start = node.w3.eth.block_number
    bot = silverback("run", *network, env=signer)
    _wait_until_cleared(lens, ch, accounts, [bot])
    out, err = stop(bot)
    passes = [e for e in _entries(out) if e["event"] == "pass"]
    assert passes and sum(p["liquidations"] for p in passes) >= len(doomed), err[-3000:]
    assert all(p["reverted"] == p["failed"] == 0 for p in passes)
    events = ch.events.Liquidation().get_logs(from_block=start + 1)
    assert {(e.args.owner, e.args.sub_id) for e in events} == doomed
    assert {e.args.liquidator for e in events} == {node.w3.eth.accounts[9]}

    # 2. Worker mode: the runner (no signer) only queues the blocks' tasks
    # on Redis; the worker (account 8) runs every pass.
    broker = {
        "SILVERBACK_BROKER_CLASS": "taskiq_redis:ListQueueBroker",
        "SILVERBACK_BROKER_KWARGS": json.dumps({"url": redis_url}),
        "SILVERBACK_RESULT_BACKEND_CLASS": "taskiq_redis:RedisAsyncResultBackend",
        "SILVERBACK_RESULT_BACKEND_KWARGS": json.dumps({"redis_url": redis_url}),
    }
    worker = silverback(
        "worker", *network, "--workers", "1", env={**broker, "SILVERBACK_SIGNER_ALIAS": "TEST::8"}
    )
    runner = silverback("run", *network, env=broker)  # it sends nothing: no signer
    _shock(node, abi, record, {"WBTC": 3_000})
    second = {a for a in accounts if lens.functions.is_liquidatable(ch.address, *a).call()}
    assert second, "the second shock must make some account liquidatable"
    start = node.w3.eth.block_number
    _wait_until_cleared(lens, ch, accounts, [worker, runner])
    runner_out, runner_err = stop(runner)
    worker_out, worker_err = stop(worker)
    assert not [e for e in _entries(runner_out) if e["event"] == "pass"], runner_err[-3000:]
    worked = [e for e in _entries(worker_out) if e["event"] == "pass"]
    assert sum(p["liquidations"] for p in worked) >= len(second), worker_err[-3000:]
    events = ch.events.Liquidation().get_logs(from_block=start + 1)
    assert {(e.args.owner, e.args.sub_id) for e in events} == second
    assert {e.args.liquidator for e in events} == {node.w3.eth.accounts[8]}
