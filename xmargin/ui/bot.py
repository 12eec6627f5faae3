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
  only watches the chain and queues one task per block (it needs no
  signer); a `silverback worker` process runs them, with its own keeper
  (its replica catches up from the events on its first task) and the
  account it was started with. One worker per queue: passes are
  serialised within a process, not across processes.
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
from collections.abc import Callable
from typing import Any

import click
from ape import chain

# Imported at run time: taskiq reads the handler's type hints.
from ape.api import BlockAPI
from ape.api.accounts import AccountAPI
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from silverback import SilverbackBot
from silverback._importer import import_from_string
from silverback.settings import Settings
from taskiq import InMemoryBroker

from xmargin.chain.engine import Engine
from xmargin.maths.fixed_point import parse_wad
from xmargin.ops.keeper import TRANSIENT, Keeper, KeeperConfig, json_logger
from xmargin.ui.ape_cli import check_deployment


class KeeperSettings(BaseSettings):
    """The keeper's settings, from `XMARGIN_KEEPER_<NAME>` variables."""

    model_config = SettingsConfigDict(env_prefix="XMARGIN_KEEPER_")

    # USD beyond gas a liquidation must earn ("0", "2.5").
    min_profit: str = "0"
    # First block whose events are read (default: the record's).
    from_block: int | None = None
    # Liquidations per `liquidate_many` transaction (1..100).
    batch: int = 100
    # Accounts compared with the chain per pass.
    audit: int = 50
    # "k/n": liquidate only shard k of n.
    shard: str = "0/1"

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        index, count = parse_shard(value)
        if not 0 <= index < count:
            raise ValueError(f"shard {value}: k must be in [0, n)")
        return value

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"batch must be in [1, 100] (the engine's limit), not {value}")
        return value

    def keeper_config(self) -> KeeperConfig:
        return KeeperConfig(
            min_profit=parse_wad(self.min_profit),
            batch=self.batch,
            audit=self.audit,
            shard=parse_shard(self.shard),
        )


def parse_shard(value: str) -> tuple[int, int]:
    """`"k/n"` as (k, n); raises ValueError on anything else."""
    parts = value.split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"shard must be 'k/n' (e.g. 0/2), not {value!r}")
    return int(parts[0]), int(parts[1])


class KeeperTask:
    """A block handler's keeper: made on first use in the process that
    runs the handler (the bot's own, or a worker's), so that worker
    processes each keep their own replica and nonces."""

    def __init__(
        self,
        engine: Engine,
        settings: KeeperSettings,
        signer: Callable[[], AccountAPI | None],
        head: Callable[[], int],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.signer = signer
        self.head = head
        self.log = json_logger()
        self._keeper: Keeper | None = None
        self._covered = -1
        self._lock = threading.Lock()

    @property
    def keeper(self) -> Keeper:
        if self._keeper is None:
            sender = self.signer()
            if sender is None:
                raise click.UsageError(
                    "the keeper sends transactions: start it with --account <alias> "
                    "(or SILVERBACK_SIGNER_ALIAS)"
                )
            self._keeper = Keeper(
                self.engine,
                sender,
                self.settings.keeper_config(),
                log=self.log,
                from_block=self.settings.from_block,
            )
        return self._keeper

    def on_block(self, number: int) -> dict[str, Any]:
        """One pass at the head, unless a pass of this process has already
        run at or past block `number`. Passes of one process never
        overlap: a block's task that arrives during a pass waits for it,
        then runs only if the pass had not reached its block (silverback
        runs several tasks at once, and a pass may outlast a block). If
        the chain's head is now below what a pass covered (a node reset,
        a reorg), the record is dropped. A node error is logged
        (`node_error`) and left to the next block; any other error is
        logged (`pass_error`) and raised, for silverback to count
        (`--max-exceptions`)."""
        with self._lock:
            if self.head() < self._covered:
                self._covered = -1
            if number <= self._covered:
                return {"skipped": 1}
            try:
                stats = self.keeper.run_once()
            except TRANSIENT as err:
                self.log({"event": "node_error", "error": repr(err), "block": number})
                return {"node_errors": 1}
            except Exception as err:
                self.log({"event": "pass_error", "error": repr(err), "block": number})
                raise
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
    stops it with the reason), then one pass per block. With silverback's
    in-process broker the process sends, so it needs a signer at once; a
    runner that only queues tasks for workers does not (each worker
    needs its own)."""
    settings = KeeperSettings()
    silverback = Settings()
    bot = SilverbackBot(silverback)
    if bot.signer is None and import_from_string(silverback.BROKER_CLASS) is InMemoryBroker:
        raise click.UsageError(
            "the keeper sends transactions: pass --account <alias> (or SILVERBACK_SIGNER_ALIAS)"
        )
    engine = check_deployment(bot.provider)

    def head() -> int:
        return int(bot.provider.get_block("latest").number or 0)

    task = KeeperTask(engine, settings, lambda: bot.signer, head)

    @bot.on_(chain.blocks)
    def keeper_pass(block: BlockAPI) -> dict[str, Any]:
        return task.on_block(int(block.number or 0))

    return bot
