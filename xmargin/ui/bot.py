"""The keeper as an ApeWorX silverback bot: `silverback run keeper`.

`bots/keeper.py` makes the bot (`make_bot`); silverback's runner calls it
once per new block, and the handler runs one keeper pass
(`xmargin.ops.keeper.Keeper.run_once`) at the head, logging the pass's
JSON lines and returning its counts as the task's metrics.

    silverback run keeper --network ethereum:sepolia:node --account keeper

Settings come from the environment (`KeeperSettings`, prefix
`XMARGIN_KEEPER_`; silverback's own `SILVERBACK_*` pick the broker).

- **One process (the default).** silverback's in-memory broker: the
  runner and the handler share one process and one keeper.
- **Worker mode.** With a taskiq broker and result backend that
  processes share (`taskiq_redis`, on a Redis server), `silverback run`
  only watches the chain and queues one task per block;
  `silverback worker` processes run them. Each worker process keeps its
  own keeper (its replica catches up from the events on its first task),
  sends from the account it was started with, and skips a block's task
  when a pass of its own has already covered that block.
- **Shards.** `XMARGIN_KEEPER_SHARD=k/n` makes a bot liquidate only the
  accounts of shard k of n (`xmargin.ops.keeper.shard_of`); n bots, each
  with its own sending account (nonces are per account), cover every
  account between them; the bot of shard 0 also settles orders and LP
  requests, watches the assets and runs ADL. A shard can run in either
  mode (each shard its own broker queue).

docs/liquidation.md ("Running the keeper") has the commands.
"""

from __future__ import annotations

import threading
from typing import Any

from ape import chain

# Imported at run time: taskiq reads the handler's type hints.
from ape.api import BlockAPI
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from silverback import SilverbackBot

from xmargin.maths.fixed_point import parse_wad
from xmargin.ops.keeper import TRANSIENT, Keeper, KeeperConfig
from xmargin.ui.ape_cli import open_keeper


class KeeperSettings(BaseSettings):
    """The keeper's settings, from `XMARGIN_KEEPER_<NAME>` variables."""

    model_config = SettingsConfigDict(env_prefix="XMARGIN_KEEPER_")

    # USD beyond gas a liquidation must earn ("0", "2.5").
    min_profit: str = "0"
    # First block whose events are read (default: the record's).
    from_block: int | None = None
    # Liquidations per `liquidate_many` transaction (1..50).
    batch: int = 50
    # Accounts compared with the chain per pass.
    audit: int = 50
    # "k/n": liquidate only shard k of n.
    shard: str = "0/1"

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        parts = value.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"shard must be 'k/n' (e.g. 0/2), not {value!r}")
        index, count = int(parts[0]), int(parts[1])
        if not 0 <= index < count:
            raise ValueError(f"shard {value}: k must be in [0, n)")
        return value

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: int) -> int:
        if not 1 <= value <= 50:
            raise ValueError(f"batch must be in [1, 50] (the engine's limit), not {value}")
        return value

    def keeper_config(self) -> KeeperConfig:
        index, count = (int(p) for p in self.shard.split("/"))
        return KeeperConfig(
            min_profit=parse_wad(self.min_profit),
            batch=self.batch,
            audit=self.audit,
            shard=(index, count),
        )


class KeeperTask:
    """A block handler's keeper: made on first use in the process that
    runs the handler (the bot's own, or a worker's), so that worker
    processes each keep their own replica and nonces."""

    def __init__(self, bot: SilverbackBot, settings: KeeperSettings) -> None:
        self.bot = bot
        self.settings = settings
        self._keeper: Keeper | None = None
        self._covered = -1
        self._lock = threading.Lock()

    @property
    def keeper(self) -> Keeper:
        if self._keeper is None:
            self._keeper = open_keeper(
                self.bot.provider,
                self.bot.signer,
                self.settings.keeper_config(),
                self.settings.from_block,
            )
        return self._keeper

    def on_block(self, number: int) -> dict[str, Any]:
        """One pass at the head, unless a pass of this process already
        covered block `number` (a pass longer than a block leaves its
        blocks' tasks queued: one pass at the head covers them all) or is
        running. A node error is logged and left to the next block."""
        if number <= self._covered or not self._lock.acquire(blocking=False):
            return {"skipped": 1}
        try:
            stats = self.keeper.run_once()
        except TRANSIENT as err:
            self.keeper.log({"event": "node_error", "error": repr(err), "block": number})
            return {"node_errors": 1}
        finally:
            self._lock.release()
        self._covered = stats.block
        return {
            "liquidatable": stats.liquidatable,
            "liquidations": stats.liquidations,
            "batches": stats.batches,
            "lost_races": stats.lost_races,
            "reverted": stats.reverted,
            "unreadable": stats.unreadable,
            "adl": stats.adl,
            "orders_filled": stats.orders_filled,
            "pass_seconds": round(stats.seconds, 3),
        }


def make_bot() -> SilverbackBot:
    """The keeper bot: checks the deployment when it loads (in the runner
    and in every worker: a wrong chain or another deployment's record
    stops it with the reason), then one pass per block."""
    settings = KeeperSettings()
    bot = SilverbackBot(signer_required=True)
    task = KeeperTask(bot, settings)
    task.keeper  # noqa: B018 (checks the record and the engine now)

    @bot.on_(chain.blocks)
    def keeper_pass(block: BlockAPI) -> dict[str, Any]:
        return task.on_block(int(block.number or 0))

    return bot
