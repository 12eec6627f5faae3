"""Each collateral asset's standing: tokens held against ledgers, freeze.

What `xmargin status` and `report` show and the keeper acts on (issue 19):
a non-quote asset whose tokens held fell short of its ledgers (a token
that rebased down or lost tokens; `reconcile` freezes it), and a frozen
asset with its haircut ramp (docs/liquidation.md#frozen-assets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ape.exceptions import ContractLogicError

from xmargin.chain.engine import Engine
from xmargin.maths.model import frozen_haircut


@dataclass(frozen=True)
class AssetState:
    symbol: str
    address: str
    # native units: tokens the engine holds (None: the token's `balanceOf`
    # reverts, a token whose views broke), and what its ledgers book
    held: int | None
    ledgers: int
    # the freeze (all zero when not frozen): its start, ramp (seconds) and
    # the maintenance haircut it ramps from; the haircut stored now (WAD)
    frozen_since: int
    ramp: int
    mm_start: int
    mm_haircut: int

    @property
    def frozen(self) -> bool:
        return self.ramp != 0

    @property
    def shortfall(self) -> int:
        """Ledgers the tokens held do not cover (native units; 0 when the
        balance cannot be read)."""
        return 0 if self.held is None else max(self.ledgers - self.held, 0)

    def due_haircut(self, now: int) -> int:
        """The maintenance haircut its ramp has reached at `now` (WAD)."""
        return frozen_haircut(self.mm_start, self.frozen_since, self.ramp, now)


def engine_balance(token: Any, engine_address: str, block: int | str = "latest") -> int | None:
    """The tokens of `token` the engine holds, or None when the token's
    `balanceOf` reverts (its views broke): what the engine itself then
    takes as covered (`token_transfer._held_or_max`)."""
    try:
        return int(token.balanceOf(engine_address, block_id=block))
    except ContractLogicError:
        return None


def read_asset_states(engine: Engine, block: int | str = "latest") -> list[AssetState]:
    """Every non-quote asset of the record, at `block`. A token whose
    `balanceOf` reverts is reported with `held=None`, not raised: one
    broken token must not stop the keeper or `xmargin status`."""
    ch = engine.clearinghouse
    out = []
    for symbol, token in engine.tokens.items():
        if symbol == engine.quote_symbol:
            continue
        since, ramp, _, mm_start = ch.asset_freeze(token.address, block_id=block)
        out.append(
            AssetState(
                symbol=symbol,
                address=str(token.address),
                held=engine_balance(token, ch.address, block),
                ledgers=int(ch.total_deposits(token.address, block_id=block)),
                frozen_since=int(since),
                ramp=int(ramp),
                mm_start=int(mm_start),
                mm_haircut=int(ch.asset_config(token.address, block_id=block).mm_haircut),
            )
        )
    return out
