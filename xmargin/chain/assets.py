"""Each collateral asset's standing: tokens held against ledgers, freeze.

What `xmargin status` and `report` show and the keeper acts on (issue 19):
a non-quote asset whose tokens held fell short of its ledgers (a token
that rebased down or lost tokens; `reconcile` freezes it), and a frozen
asset with its haircut ramp (docs/liquidation.md#frozen-assets).
"""

from __future__ import annotations

from dataclasses import dataclass

from xmargin.chain.engine import Engine
from xmargin.maths.model import frozen_haircut


@dataclass(frozen=True)
class AssetState:
    symbol: str
    address: str
    # native units: tokens the engine holds, and what its ledgers book
    held: int
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
        """Ledgers the tokens held do not cover (native units)."""
        return max(self.ledgers - self.held, 0)

    def due_haircut(self, now: int) -> int:
        """The maintenance haircut its ramp has reached at `now` (WAD)."""
        return frozen_haircut(self.mm_start, self.frozen_since, self.ramp, now)


def read_asset_states(engine: Engine, block: int | str = "latest") -> list[AssetState]:
    """Every non-quote asset of the record, at `block`."""
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
                held=int(token.balanceOf(ch.address, block_id=block)),
                ledgers=int(ch.total_deposits(token.address, block_id=block)),
                frozen_since=int(since),
                ramp=int(ramp),
                mm_start=int(mm_start),
                mm_haircut=int(ch.asset_config(token.address, block_id=block).mm_haircut),
            )
        )
    return out
