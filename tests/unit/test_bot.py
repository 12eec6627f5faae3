"""The silverback bot's block handler (xmargin.ui.bot.KeeperTask) and its
settings, and the keeper's shard rule; the bot itself runs on anvil in
tests/integration/test_bot.py."""

from __future__ import annotations

import threading

import pytest
from ape.exceptions import ProviderError
from eth_utils import keccak, to_checksum_address
from pydantic import ValidationError

from xmargin.maths.fixed_point import WAD
from xmargin.ops.keeper import PassStats, shard_of
from xmargin.ui.bot import KeeperSettings, KeeperTask


class FakeKeeper:
    """Records passes; each covers the chain's head when it starts."""

    def __init__(self) -> None:
        self.head = 0
        self.passes: list[int] = []
        self.fail: Exception | None = None
        # set: a pass waits for `release` (a pass longer than a block)
        self.hold: threading.Event | None = None
        self.release = threading.Event()

    def run_once(self) -> PassStats:
        if self.fail is not None:
            raise self.fail
        at = self.head
        if self.hold is not None:
            self.hold.set()
            self.release.wait(5)
        self.passes.append(at)
        return PassStats(block=at, liquidations=2)


def _task() -> tuple[KeeperTask, FakeKeeper, list[dict]]:
    fake = FakeKeeper()
    task = KeeperTask(None, KeeperSettings(), lambda: None, lambda: fake.head)  # type: ignore[arg-type]
    logged: list[dict] = []
    task.log = logged.append
    task._keeper = fake  # type: ignore[assignment]
    return task, fake, logged


def test_a_block_already_covered_by_a_pass_is_skipped():
    """Blocks queued behind a pass that ran at head 12 (10, 11, 12) need
    no pass of their own; block 13 does."""
    task, fake, _ = _task()
    fake.head = 12
    assert task.on_block(10)["liquidations"] == 2
    assert task.on_block(11) == {"skipped": 1}
    assert task.on_block(12) == {"skipped": 1}
    fake.head = 13
    assert task.on_block(13)["liquidations"] == 2
    assert fake.passes == [12, 13]


def test_a_block_that_arrives_during_a_pass_runs_after_it():
    """Outside review: a block's task that found a pass running was
    dropped, so block 11's state waited for block 12 (or for ever, if no
    block came). It now waits for the pass and runs one at the new head."""
    task, fake, _ = _task()
    fake.head = 10
    fake.hold = threading.Event()
    first = threading.Thread(target=task.on_block, args=(10,))
    first.start()
    assert fake.hold.wait(5)
    fake.head = 11  # block 11 is mined while the pass at 10 runs
    results: list[dict] = []
    second = threading.Thread(target=lambda: results.append(task.on_block(11)))
    second.start()
    fake.hold = None
    fake.release.set()
    first.join(5)
    second.join(5)
    assert fake.passes == [10, 11]
    assert results[0]["liquidations"] == 2


def test_a_chain_that_went_back_is_not_skipped():
    """Outside review: after a node reset (or a reorg) below the last
    pass's head, every block up to it was skipped."""
    task, fake, _ = _task()
    fake.head = 10
    task.on_block(10)
    fake.head = 5
    assert task.on_block(5)["liquidations"] == 2
    assert fake.passes == [10, 5]


def test_a_node_error_is_logged_and_the_next_block_retries():
    task, fake, logged = _task()
    fake.fail = ProviderError("connection dropped")
    assert task.on_block(5) == {"node_errors": 1}
    assert [e["event"] for e in logged] == ["node_error"]
    fake.fail, fake.head = None, 5
    assert task.on_block(5)["liquidations"] == 2  # not marked covered by the failure


def test_any_other_error_is_logged_and_raised_for_silverback_to_count():
    task, fake, logged = _task()
    fake.fail = RuntimeError("a bug")
    with pytest.raises(RuntimeError, match="a bug"):
        task.on_block(5)
    assert [(e["event"], e["block"]) for e in logged] == [("pass_error", 5)]
    fake.fail, fake.head = None, 5
    assert task.on_block(5)["liquidations"] == 2  # the lock was released


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("XMARGIN_KEEPER_MIN_PROFIT", "2.5")
    monkeypatch.setenv("XMARGIN_KEEPER_SHARD", "1/3")
    monkeypatch.setenv("XMARGIN_KEEPER_BATCH", "20")
    config = KeeperSettings().keeper_config()
    assert (config.min_profit, config.shard, config.batch) == (5 * WAD // 2, (1, 3), 20)
    assert not config.leads


@pytest.mark.parametrize(
    ("name", "value"),
    [("SHARD", "3/3"), ("SHARD", "1"), ("SHARD", "a/2"), ("BATCH", "0"), ("BATCH", "101")],
)
def test_bad_settings_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(f"XMARGIN_KEEPER_{name}", value)
    with pytest.raises(ValidationError):
        KeeperSettings()


@pytest.mark.parametrize("sub_id", [0, 1, 7, 2**40 + 3])
def test_shard_of_is_keccak_of_owner_and_sub_id_whatever_the_address_case(sub_id):
    """The documented rule, computed here: keccak(owner's 20 bytes ++ sub
    id as a 32-byte big-endian word) mod n; an owner given checksummed or
    in lower case (events and rows differ) lands in the same shard."""
    owners = [f"0x{i:040x}" for i in (1, 2**100 + 5, 2**159 - 7)]
    for owner in owners:
        word = bytes.fromhex(owner[2:]) + sub_id.to_bytes(32, "big")
        for n in (2, 3, 5):
            want = int.from_bytes(keccak(word), "big") % n
            assert shard_of(owner, sub_id, n) == want
            assert shard_of(to_checksum_address(owner), sub_id, n) == want
            assert shard_of(owner.upper().replace("0X", "0x"), sub_id, n) == want
    # the sub-account id matters (little-endian or dropped, it would not)
    spread = {shard_of(owners[0], s, 5) for s in range(40)}
    assert len(spread) == 5
