"""Integration fixtures: anvil nodes on 127.0.0.1 and `ape run` subprocesses.

Each test starts its own anvil (from the npm package on PATH, put there by
the Makefile) on a free port, drives the real scripts in a subprocess as a
user would, and checks the chain independently through web3.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from xmargin.chain.abi import abi_json

ROOT = Path(__file__).resolve().parents[2]
# anvil's first default account (the test mnemonic's account 0).
ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@dataclass
class Anvil:
    url: str
    chain_id: int
    process: subprocess.Popen
    w3: Web3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def start_anvil() -> Iterator:
    """`start_anvil(chain_id)` -> a running Anvil, stopped after the test."""
    binary = shutil.which("anvil")
    if binary is None:
        pytest.fail("anvil is not on PATH: run the tests with `make test` (it installs anvil)")
    started: list[Anvil] = []

    def start(chain_id: int = 31337) -> Anvil:
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        w3 = Web3(Web3.HTTPProvider(url))
        deadline = time.monotonic() + 20
        while not w3.is_connected():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"anvil did not start on {url}")
            time.sleep(0.1)
        node = Anvil(url=url, chain_id=chain_id, process=proc, w3=w3)
        started.append(node)
        return node

    yield start
    for node in started:
        node.process.terminate()
        node.process.wait(timeout=10)


@pytest.fixture
def deployments_dir(tmp_path: Path) -> Path:
    return tmp_path / "deployments"


@pytest.fixture
def ape_env(deployments_dir: Path) -> dict[str, str]:
    """The environment `ape run` subprocesses get: this test's deployments."""
    return {
        **os.environ,
        "XMARGIN_DEPLOYMENTS_DIR": str(deployments_dir),
        "PYTHONWARNINGS": "ignore",
    }


@pytest.fixture
def ape_run(ape_env: dict[str, str]):
    """Runs `ape run <args>` in the project, returns the CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: int = 300):
        return subprocess.run(
            ["ape", "run", *args],
            cwd=ROOT,
            env={**ape_env, **(env or {})},
            # No terminal: a prompt (a passphrase) fails at once, as in CI.
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def ape_start(ape_env: dict[str, str]) -> Iterator:
    """Starts `ape run <args>` in the background (stdout piped, line by line);
    killed after the test if still running."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            ["ape", "run", *args],
            cwd=ROOT,
            env=ape_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def abi(project):
    """Contract name -> ABI as plain JSON, from the compiled project; the
    Clearinghouse's includes its extensions' functions (xmargin.chain.abi)."""

    def get(name: str) -> list[dict]:
        return abi_json(project, name)

    return get
