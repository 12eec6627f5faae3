"""Each collateral asset's standing: tokens held against ledgers, freeze.

What `xmargin status` and `report` show and the keeper acts on (issue 19):
a non-quote asset whose tokens held fell short of its ledgers (a token
that rebased down or lost tokens; `reconcile` freezes it), and a frozen
asset with its haircut ramp (docs/liquidation.md#frozen-assets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


# `balanceOf(address)`, and the gas the engine gives it (constants.VIEW_GAS).
BALANCE_OF = "0x70a08231"
VIEW_GAS = 100_000


def engine_balance(token: Any, engine_address: str, block: int | str = "latest") -> int | None:
    """The tokens of `token` the engine holds, read as the engine reads it
    (`token_transfer._held_or_max`): with VIEW_GAS, and None when the
    token's `balanceOf` reverts, runs out of that gas or answers in
    another shape than one word (its views broke); the engine then takes
    the asset as covered. A node that cannot be reached still raises."""
    call = {
        "to": str(token.address),
        "data": BALANCE_OF + str(engine_address)[2:].lower().rjust(64, "0"),
        "gas": VIEW_GAS,
    }
    try:
        data = bytes(token.provider.web3.eth.call(call, block))
    except OSError:
        raise
    except Exception:  # a revert or out of gas, in whichever type the node uses
        return None
    return int.from_bytes(data, "big") if len(data) == 32 else None


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
