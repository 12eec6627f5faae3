"""Several transactions in flight: the keeper's own nonces, fees and
replacements.

Ape's `method(..., sender=...)` sends one transaction and waits for its
receipt, so a keeper that liquidates 1,000 accounts that way needs 1,000
blocks on a chain that mines one of its transactions per block. `Sender`
signs and sends without waiting (`submit`), each transaction with the
next nonce it keeps itself, and waits for all of them together (`wait`):
every transaction of a pass can land in the same block.

- Simulation first: `submit` estimates the transaction's gas (its limit is
  the estimate plus a margin), so one that would revert raises
  `ContractLogicError` before anything is signed, and its nonce is not
  used.
- Fees: EIP-1559, `max_fee = base fee * fee_multiplier + priority fee`,
  the priority fee being the node's suggestion unless configured.
- Stuck transactions: the lowest nonce still pending, not mined
  `stuck_blocks` blocks after it was sent (or after it came first in the
  queue), is sent again with the same nonce and both fees raised by
  `bump` (nodes require at least 10 %), as often as needed until
  `timeout`; the receipt of whichever version is mined is returned. The
  transactions behind it are not replaced: they wait for it, or for room
  in a block.
- Dropped transactions: once a block, every transaction still waiting
  that the node no longer knows (its pool let it go: anvil drops one it
  tried ahead of its nonce to fill a block's last gas) is broadcast
  again as signed, same hash and fees (`rebroadcast`), so it can land in
  the next block instead of waiting to lead and be stuck.
- Nonces: the node's pending count, read before every transaction, or
  past it the last nonce this sender used (so the keeper's other sends,
  through Ape, never make it reuse one); a send the node refuses forgets
  the last one used.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from web3.exceptions import TransactionNotFound, Web3RPCError

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.api.transactions import ReceiptAPI, TransactionAPI
    from ape.contracts.base import ContractTransactionHandler


@dataclass
class Pending:
    """One transaction in flight, and every hash it was sent under."""

    nonce: int
    txn: TransactionAPI
    hashes: list[str]
    sent_block: int


@dataclass
class Sender:
    account: AccountAPI
    provider: ProviderAPI
    # wei; None: the node's suggestion
    priority_fee: int | None = None
    fee_multiplier: float = 2.0
    # factor on both fees for a replacement (nodes want >= 1.1)
    bump: float = 1.125
    # blocks without a receipt before a transaction is sent again
    stuck_blocks: int = 3
    poll_seconds: float = 0.05
    # gas limit = the estimate times this (the state may move before it lands)
    gas_margin: float = 1.15
    replaced: int = 0
    # transactions broadcast again, unchanged, after the node dropped them
    rebroadcast: int = 0
    _nonce: int | None = field(default=None, repr=False)

    @property
    def web3(self) -> Any:
        return self.provider.web3  # type: ignore[attr-defined]

    def resync(self) -> None:
        """Re-reads the next nonce from the node on the next `submit`."""
        self._nonce = None

    def _next_nonce(self) -> int:
        """The next nonce: the node's pending count, or past it the last one
        this sender used (several in flight that the node may not count
        yet). Read every time: the account also sends through Ape, which
        takes the node's nonce, and a nonce already used is refused."""
        pending = int(self.web3.eth.get_transaction_count(str(self.account.address), "pending"))
        return max(pending, self._nonce or 0)

    def _fees(self) -> tuple[int, int]:
        priority = (
            self.priority_fee if self.priority_fee is not None else int(self.provider.priority_fee)
        )
        return int(self.provider.base_fee * self.fee_multiplier) + priority, priority

    def estimate(self, method: ContractTransactionHandler, *args: Any) -> int:
        """The gas `method(*args)` needs now: the simulation, whatever the
        network's gas-limit setting (one that reverts raises
        `ContractLogicError` with its reason)."""
        return int(method.estimate_gas_cost(*args, sender=self.account))

    def gas_limit(self, estimate: int) -> int:
        """The limit a transaction of this estimate is sent with (before
        the cap at the node's most gas a transaction may take)."""
        return math.ceil(estimate * self.gas_margin)

    def submit(
        self, method: ContractTransactionHandler, *args: Any, estimate: int | None = None
    ) -> Pending:
        """Simulates (unless given the `estimate` just made), signs and
        sends `method(*args)` with the next nonce; does not wait. Raises
        `ContractLogicError` (nothing sent, the nonce kept for the next
        one) when the simulation reverts."""
        gas = self.estimate(method, *args) if estimate is None else estimate
        nonce = self._next_nonce()
        max_fee, priority = self._fees()
        txn = method.as_transaction(
            *args,
            sender=self.account,
            nonce=nonce,
            gas=min(self.gas_limit(gas), int(self.provider.max_gas)),
            max_fee=max_fee,
            max_priority_fee=priority,
            type=2,
        )
        pending = Pending(nonce, txn, [], 0)
        try:
            self._send(pending, txn)
        except Exception:
            # Refused by the node (or lost on the way): read the nonce again.
            self.resync()
            raise
        self._nonce = nonce + 1
        # The head once sent: before, a keeper pass's reads are pinned to
        # its own head (`xmargin.chain.pinned`), maybe blocks behind, and
        # the transaction would look stuck (and be replaced) at once.
        pending.sent_block = int(self.provider.get_block("latest").number or 0)
        return pending

    def _send(self, pending: Pending, txn: TransactionAPI) -> None:
        signed = self.account.sign_transaction(txn)
        if signed is None:
            raise RuntimeError(f"{self.account.address} declined to sign")
        raw = signed.serialize_transaction()
        tx_hash = self.web3.eth.send_raw_transaction(raw)
        pending.hashes.append("0x" + bytes(tx_hash).hex())
        pending.txn = signed

    def _replace(self, pending: Pending, block: int) -> None:
        """Sends `pending` again, same nonce, both fees raised by `bump`."""
        txn = pending.txn.model_copy(deep=True)
        txn.signature = None
        fee = int(txn.max_fee or 0)
        tip = int(txn.max_priority_fee or 0)
        base = int(self.provider.base_fee * self.fee_multiplier)
        txn.max_priority_fee = max(math.ceil(tip * self.bump), tip + 1)
        txn.max_fee = max(math.ceil(fee * self.bump), fee + 1, base + txn.max_priority_fee)
        self._send(pending, txn)
        pending.sent_block = block
        self.replaced += 1

    def wait(self, pending: list[Pending], timeout: float = 120.0) -> list[ReceiptAPI]:
        """The receipts of every transaction in `pending`, in its order,
        replacing those stuck for `stuck_blocks` blocks. Raises
        `TimeoutError` after `timeout` seconds."""
        done: dict[int, ReceiptAPI] = {}
        deadline = time.monotonic() + timeout
        # Only the lowest nonce still pending can be stuck: the others wait
        # behind it (or for block space), and count from when they lead.
        lead: int | None = None
        checked = -1
        while len(done) < len(pending):
            block = int(self.provider.get_block("latest").number or 0)
            for i, p in enumerate(pending):
                if i in done:
                    continue
                for h in p.hashes:
                    if self._receipt(h) is not None:
                        done[i] = self.provider.get_receipt(h)
                        break
            waiting = [i for i in range(len(pending)) if i not in done]
            if waiting:
                first = min(waiting, key=lambda i: pending[i].nonce)
                if lead is not None and first != lead:
                    # It waited behind the one before: its clock starts now.
                    pending[first].sent_block = max(pending[first].sent_block, block)
                lead = first
                if block - pending[first].sent_block >= self.stuck_blocks:
                    self._replace(pending[first], block)
                if block != checked:
                    # Once a block: any the node let go of is broadcast
                    # again as signed (same hash and fees: no replacement),
                    # not left until it leads and is stuck (anvil drops a
                    # transaction it tried ahead of its nonce to fill a
                    # block's last gas; a node's pool may evict).
                    checked = block
                    for i in waiting:
                        if block > pending[i].sent_block and self._dropped(pending[i]):
                            self._rebroadcast(pending[i])
            if len(done) < len(pending):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending) - len(done)} transaction(s) not mined")
                time.sleep(self.poll_seconds)
        return [done[i] for i in range(len(pending))]

    def _dropped(self, p: Pending) -> bool:
        """Whether the node knows none of `p`'s hashes (its pool let it go)."""
        for h in reversed(p.hashes):  # the latest first: the one a node keeps
            try:
                self.web3.eth.get_transaction(h)
                return False
            except TransactionNotFound:
                continue
        return True

    def _rebroadcast(self, p: Pending) -> None:
        """Sends `p`'s latest signed transaction again, unchanged. A node
        that refuses it (it landed meanwhile, or was replaced) is left to
        the receipts and the stuck rule."""
        try:
            self.web3.eth.send_raw_transaction(p.txn.serialize_transaction())
        except (ValueError, Web3RPCError):
            return
        self.rebroadcast += 1

    def _receipt(self, tx_hash: str) -> Any:
        """The node's receipt of `tx_hash`, None while it is not mined."""
        try:
            return self.web3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None
