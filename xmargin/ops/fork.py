"""A throwaway anvil forked from a live node (`xmargin stress`).

`forked_anvil(source, block)` starts anvil on 127.0.0.1 at a free port,
forking `source` at `block`, waits until it answers and yields a `Fork`;
the process (and its process group) is stopped when the block exits, on
an error too. Nothing is ever sent to `source`: anvil only reads it.
An anvil that cannot fork (the source refuses, the block does not exist)
exits early; its last log line is in the `ForkError` it raises.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmargin.chain.pinned import UrllibTransport

# Seconds to wait for the fork to answer (it fetches the block's header and
# the accounts it touches lazily), and for a stopped anvil to exit.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# prctl(2): the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1


class ForkError(RuntimeError):
    """The fork could not be made; the message says why."""


@dataclass(frozen=True)
class Fork:
    uri: str
    source: str
    block: int
    chain_id: int
    process: subprocess.Popen[bytes]


def rpc(uri: str, method: str, params: list[Any] | None = None, timeout: float = 10.0) -> Any:
    """One JSON-RPC call's result over HTTP, through the CLI's own
    transport (`xmargin.chain.pinned.UrllibTransport`: no web3, a URL's
    user:password sent as basic auth); ForkError for an error or an answer
    that is not JSON-RPC."""
    try:
        reply = UrllibTransport(uri, timeout).request(method, params or [])
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
        raise ForkError(f"{method} on {uri}: not a JSON-RPC answer")
    if "error" in reply:
        error = reply["error"]
        said = error.get("message", error) if isinstance(error, dict) else error
        raise ForkError(f"{method} on {uri}: {said}")
    return reply["result"]


def is_loopback(uri: str) -> bool:
    """Whether the node at `uri` runs on this machine."""
    host = (urllib.parse.urlsplit(uri).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def forked_anvil(source: str, block: int, timeout: float = START_TIMEOUT) -> Iterator[Fork]:
    """anvil forking `source` at `block`; stopped when the block exits.

    anvil caches what it reads from a fork in ~/.foundry/cache, keyed by
    chain and block number: right for a public chain (its history never
    changes; repeated paths then spare the user's RPC), wrong for a local
    node, which restarts with other state under the same numbers (a stress
    of today's demo chain would read yesterday's). A source on this
    machine is therefore never cached."""
    cache = not is_loopback(source)
    binary = shutil.which("anvil")
    if binary is None:
        raise ForkError("anvil is not on PATH: `make setup` installs it (node_modules/.bin)")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="xmargin-fork-") as tmp:
        log_path = Path(tmp) / "anvil.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    "--fork-url",
                    source,
                    "--fork-block-number",
                    str(block),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    # a source that refuses fails once, not after retries
                    "--retries",
                    "1",
                    *([] if cache else ["--no-storage-caching"]),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            chain_id = _wait(uri, process, log_path, source, block, timeout)
            yield Fork(uri=uri, source=source, block=block, chain_id=chain_id, process=process)
        finally:
            stop(process)


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that
    started it dies, so a killed `xmargin stress` or worker leaves no
    anvil behind (its own `finally` covers every other exit)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait(
    uri: str, process: subprocess.Popen[bytes], log: Path, source: str, block: int, timeout: float
) -> int:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ForkError(f"anvil could not fork {source} at block {block}: {_last_line(log)}")
        try:
            return int(rpc(uri, "eth_chainId", timeout=2.0), 16)
        except (OSError, urllib.error.URLError, ValueError, ForkError):
            pass  # not up yet (or answering something else while it starts)
        if time.monotonic() > deadline:
            raise ForkError(
                f"the fork of {source} at block {block} did not answer within {timeout:.0f} s: "
                f"{_last_line(log) or 'anvil said nothing'}"
            )
        time.sleep(0.2)


def _last_line(log: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return lines[-1][:500]
    return ""


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stops anvil and anything it started: SIGTERM to its group, then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
