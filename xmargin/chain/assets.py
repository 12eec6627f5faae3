"""Each collateral asset's standing: tokens held against ledgers, freeze.

What `xmargin status` and `report` show and the keeper acts on (issue 19):
a non-quote asset whose tokens held fell short of its ledgers (a token
that rebased down or lost tokens; `reconcile` freezes it), and a frozen
asset with its haircut ramp (docs/liquidation.md#frozen-assets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xmargin.chain.engine import Engine
from xmargin.chain.scan import balances_at
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


# `balanceOf(address)`, and the gas the engine gives its call frame
# (constants.VIEW_GAS).
BALANCE_OF = "0x70a08231"
VIEW_GAS = 100_000
# What a call costs before the callee's frame: the intrinsic gas, then 16
# per non-zero and 4 per zero byte of calldata.
INTRINSIC_GAS = 21_000
# How nodes say that the call itself failed (a revert, out of gas, an
# invalid opcode), as opposed to the node failing to answer.
EXECUTION_FAILED = (
    "revert",
    "out of gas",
    "outofgas",
    "invalid opcode",
    "execution",
    "transactionfailed",
    "contractlogicerror",
)


def balance_call(token: str, engine_address: str) -> dict[str, Any]:
    """The `eth_call` of the engine's bounded `balanceOf(engine)` read of
    `token`: its frame gets VIEW_GAS, as in the engine (`engine_balance`)."""
    data = BALANCE_OF + str(engine_address)[2:].lower().rjust(64, "0")
    raw = bytes.fromhex(data[2:])
    calldata_gas = sum(16 if b else 4 for b in raw)
    return {"to": token, "data": data, "gas": VIEW_GAS + INTRINSIC_GAS + calldata_gas}


def engine_balance(token: Any, engine_address: str, block: int | str = "latest") -> int | None:
    """The tokens of `token` the engine holds, read as the engine reads it
    (`token_transfer._held_or_max`): the token's frame gets VIEW_GAS, and
    the answer is None when `balanceOf` reverts, runs out of that gas or
    answers in another shape than one word (its views broke); the engine
    then takes the asset as covered. Anything else the node raises (an
    unreachable node, a pruned block, a rate limit) is raised: an answer
    the node did not give is not an unreadable token."""
    call = balance_call(str(token.address), engine_address)
    try:
        answer = bytes(token.provider.web3.eth.call(call, block))
    except Exception as err:
        text = f"{type(err).__name__} {err}".lower()
        if not any(word in text for word in EXECUTION_FAILED):
            raise
        return None
    return int.from_bytes(answer, "big") if len(answer) == 32 else None


def read_asset_states(engine: Engine, block: int | str = "latest") -> list[AssetState]:
    """Every non-quote asset of the record, at `block`. A token whose
    balance cannot be read (`engine_balance`) is reported with
    `held=None`, not raised: one broken token must not stop the keeper or
    `xmargin status`."""
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


@dataclass(frozen=True)
class QuoteLedgers:
    """The quote asset's tokens the engine holds against every ledger of
    it (native units): the accounts' balances (signed: a debt is
    negative), the pool's ledger, the insurance fund and the delayed
    orders' escrowed settlement fees."""

    held: int | None
    accounts: int
    pool: int
    insurance: int
    order_fees: int

    @property
    def ledgers(self) -> int:
        return self.accounts + self.pool + self.insurance + self.order_fees


def read_quote_ledgers(engine: Engine, keys: Sequence[tuple[str, int]], block: int) -> QuoteLedgers:
    """The quote's ledgers over the accounts `keys` (every registered one,
    for a total) at `block`."""
    ch = engine.clearinghouse
    quote = engine.tokens[engine.quote_symbol]
    return QuoteLedgers(
        held=engine_balance(quote, ch.address, block),
        accounts=sum(balances_at(engine, keys, str(quote.address), block)),
        pool=int(ch.pool_balance(block_id=block)),
        insurance=int(ch.insurance_fund(block_id=block)),
        order_fees=int(ch.order_fees(block_id=block)),
    )
