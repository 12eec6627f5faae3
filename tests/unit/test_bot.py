"""The silverback bot's block handler (xmargin.ui.bot.KeeperTask) and its
settings; the bot itself runs on anvil in tests/integration/test_bot.py."""

from __future__ import annotations

import pytest
from ape.exceptions import ProviderError
from pydantic import ValidationError

from xmargin.maths.fixed_point import WAD
from xmargin.ops.keeper import PassStats
from xmargin.ui.bot import KeeperSettings, KeeperTask


class FakeKeeper:
    """Records passes; each covers the head it is given."""

    def __init__(self) -> None:
        self.head = 0
        self.passes: list[int] = []
        self.logged: list[dict] = []
        self.fail = False

    def run_once(self) -> PassStats:
        if self.fail:
            raise ProviderError("connection dropped")
        self.passes.append(self.head)
        return PassStats(block=self.head, liquidations=2)

    def log(self, entry: dict) -> None:
        self.logged.append(entry)


def _task() -> tuple[KeeperTask, FakeKeeper]:
    task = KeeperTask(bot=None, settings=KeeperSettings())  # type: ignore[arg-type]
    fake = FakeKeeper()
    task._keeper = fake  # type: ignore[assignment]
    return task, fake


def test_a_block_already_covered_by_a_pass_is_skipped():
    """A pass longer than a block leaves the next blocks' tasks queued:
    the pass that ran at head 12 covers blocks 11 and 12, block 13 runs."""
    task, fake = _task()
    fake.head = 12
    assert task.on_block(10)["liquidations"] == 2
    assert task.on_block(11) == {"skipped": 1}
    assert task.on_block(12) == {"skipped": 1}
    fake.head = 13
    assert task.on_block(13)["liquidations"] == 2
    assert fake.passes == [12, 13]


def test_a_node_error_is_logged_and_the_next_block_retries():
    task, fake = _task()
    fake.fail = True
    assert task.on_block(5) == {"node_errors": 1}
    assert [e["event"] for e in fake.logged] == ["node_error"]
    fake.fail, fake.head = False, 5
    assert task.on_block(5)["liquidations"] == 2  # not marked covered by the failure


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("XMARGIN_KEEPER_MIN_PROFIT", "2.5")
    monkeypatch.setenv("XMARGIN_KEEPER_SHARD", "1/3")
    monkeypatch.setenv("XMARGIN_KEEPER_BATCH", "20")
    config = KeeperSettings().keeper_config()
    assert (config.min_profit, config.shard, config.batch) == (5 * WAD // 2, (1, 3), 20)
    assert not config.leads


@pytest.mark.parametrize(
    ("name", "value"),
    [("SHARD", "3/3"), ("SHARD", "1"), ("SHARD", "a/2"), ("BATCH", "0"), ("BATCH", "51")],
)
def test_bad_settings_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(f"XMARGIN_KEEPER_{name}", value)
    with pytest.raises(ValidationError):
        KeeperSettings()
