"""`Keeper.follow`: a pass that fails on the node is logged and retried
with a doubling backoff; nothing else is swallowed (issue 19)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ape.exceptions import ProviderError

from xmargin.ops import keeper as keeper_module
from xmargin.ops.keeper import Keeper, PassStats


def _bot(heads: list[int], outcomes: list[Exception | None], log: list[dict]) -> Keeper:
    """A keeper over a chain whose head reads `heads` in turn, whose passes
    raise or succeed per `outcomes`."""
    head_iter = iter(heads)

    class Blocks:
        @property
        def head(self) -> SimpleNamespace:
            return SimpleNamespace(number=next(head_iter))

    ch = SimpleNamespace(chain_manager=SimpleNamespace(blocks=Blocks()))
    bot = Keeper(engine=SimpleNamespace(clearinghouse=ch), sender=None, log=log.append)  # type: ignore[arg-type]
    passes = iter(outcomes)

    def run_once() -> PassStats:
        err = next(passes)
        if err is not None:
            raise err
        return PassStats()

    bot.run_once = run_once  # type: ignore[method-assign]
    return bot


def test_node_errors_back_off_and_the_pass_is_retried(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(keeper_module.time, "sleep", slept.append)
    log: list[dict] = []
    down = ProviderError("connection refused")
    # head 5 fails twice (connection, then a timeout), then passes; head 5
    # again is waited on; head 6 passes: two blocks done.
    bot = _bot([5, 5, 5, 5, 6], [down, TimeoutError("read timed out"), None, None], log)
    bot.follow(poll_seconds=1.0, max_blocks=2, max_backoff=60.0)
    assert [e["event"] for e in log] == ["node_error", "node_error"]
    assert [e["retry_in"] for e in log] == [1.0, 2.0]
    assert slept == [1.0, 2.0, 1.0]


def test_the_backoff_is_capped_and_resets_after_a_pass(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(keeper_module.time, "sleep", slept.append)
    log: list[dict] = []
    down = ProviderError("down")
    bot = _bot([1] * 5 + [2, 2], [down] * 4 + [None, down, None], log)
    bot.follow(poll_seconds=1.0, max_blocks=2, max_backoff=5.0)
    assert slept == [1.0, 2.0, 4.0, 5.0, 1.0]


def test_a_bug_is_not_swallowed(monkeypatch):
    monkeypatch.setattr(keeper_module.time, "sleep", lambda s: None)
    bot = _bot([1], [KeyError("a bug")], [])
    with pytest.raises(KeyError):
        bot.follow(max_blocks=1)
