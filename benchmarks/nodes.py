"""Nodes the benchmarks start themselves (run as `python benchmarks/<x>.py`).

`anvil` starts an anvil with ape-foundry's own command line, on a free
port, optionally without `--steps-tracing`: ape-foundry always turns step
tracing on, and an anvil that keeps the step trace of every transaction
grows past this machine's 24 GB over the gas benchmark's run (measured:
killed by the kernel's OOM killer at 24.2 GB). Gas figures need no trace.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ape import networks

from xmargin.ops.bulk_send import connect

if TYPE_CHECKING:
    from xmargin.chain.engine import Engine

NETWORK = "ethereum:local:foundry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def anvil(steps_tracing: bool, extra: list[str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """An anvil started with ape-foundry's own command line (its mnemonic,
    accounts, balance, zero base fee and gas price), on a free port."""
    cmd = networks.get_provider_from_choice(NETWORK).build_command()
    if not steps_tracing:
        cmd.remove("--steps-tracing")
    cmd += extra or []
    port = _free_port()
    cmd[cmd.index("--port") + 1] = str(port)
    if shutil.which(cmd[0]) is None:
        raise SystemExit(f"{cmd[0]} not found: run `make setup` (npm anvil in node_modules)")
    url = f"http://127.0.0.1:{port}"
    # Its own process group: node_modules/.bin/anvil is a node wrapper that
    # starts the binary, and both must stop with the benchmark.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        w3 = connect(url, timeout=5)
        deadline = time.monotonic() + 30
        while not w3.is_connected():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"anvil did not start on {url}")
            time.sleep(0.1)
        yield url, cmd
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def local_deployment() -> Iterator[tuple[Any, Engine]]:
    """An anvil of its own without step traces, `config/local.yaml` deployed
    on it by the real deploy pipeline (test account 0), and its engine."""
    from ape import accounts, project

    from xmargin.chain.config import load_config
    from xmargin.chain.engine import load_engine
    from xmargin.ops.deploy import deploy_scratch

    with (
        anvil(steps_tracing=False) as (url, _),
        networks.parse_network_choice(NETWORK, provider_settings={"host": url}) as provider,
    ):
        owner = accounts.test_accounts[0]
        deployed = deploy_scratch(project, provider, owner, load_config("local"))
        yield provider, load_engine(project, deployed.record)
