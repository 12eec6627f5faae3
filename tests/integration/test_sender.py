"""`xmargin.ops.sender.Sender` on anvil (which, unlike Ape's in-process
chain, holds several pending transactions of one sender): transactions
in flight on the keeper's own nonces land in one block; one whose
simulation reverts is never sent and spends no nonce; one the node
dropped is sent again, same nonce, higher fees.

Attack or failure it answers: a keeper's liquidation that never lands
(dropped from a mempool, or priced under a rising base fee) must not hold
every later nonce of the keeper, and so every later liquidation, hostage;
a keeper waiting for each receipt needs a block per transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ape
from ape import accounts, networks, project

from xmargin.ops.sender import Sender


@contextmanager
def _on(node) -> Iterator:
    with networks.parse_network_choice(
        "ethereum:local:foundry", provider_settings={"host": node.url}
    ) as provider:
        yield provider


def _manual(node, on: bool) -> None:
    node.w3.provider.make_request("evm_setAutomine", [not on])


def _token(provider, **settings):
    """A fresh token, and a Sender for test account 1 (who mints it)."""
    me = accounts.test_accounts[1]
    token = me.deploy(project.MockERC20, "Test", "TST", 6)
    return me, token, Sender(me, provider, **settings)


def test_transactions_in_flight_land_in_one_block(start_anvil):
    node = start_anvil()
    with _on(node) as provider:
        me, token, sender = _token(provider)
        start = me.nonce
        head = node.w3.eth.block_number
        _manual(node, True)
        pending = [sender.submit(token.mint, me, amount) for amount in (1, 2, 3)]
        assert [p.nonce for p in pending] == [start, start + 1, start + 2]
        assert node.w3.eth.block_number == head  # nothing mined yet
        node.w3.provider.make_request("evm_mine", [])
        receipts = sender.wait(pending, timeout=30)
        assert {r.block_number for r in receipts} == {head + 1}
        assert token.balanceOf(me) == 6
        # A simulation that reverts sends nothing and keeps the nonce.
        _manual(node, False)
        with ape.reverts():
            sender.submit(token.transfer, accounts.test_accounts[2], 10**9)
        p = sender.submit(token.transfer, accounts.test_accounts[2], 6)
        assert p.nonce == start + 3
        (receipt,) = sender.wait([p], timeout=30)
        assert receipt.status == 1 and sender.replaced == 0


def test_a_dropped_transaction_is_replaced_with_higher_fees(start_anvil):
    node = start_anvil()
    rpc = node.w3.provider.make_request
    with _on(node) as provider:
        me, token, sender = _token(provider, stuck_blocks=1)
        _manual(node, True)
        p = sender.submit(token.mint, me, 5)
        first_fee = int(p.txn.max_fee or 0)
        rpc("anvil_dropTransaction", [p.hashes[0]])
        rpc("evm_mine", [])  # a block without it: stuck
        _manual(node, False)
        (receipt,) = sender.wait([p], timeout=30)
        assert sender.replaced == 1
        assert len(p.hashes) == 2 and receipt.txn_hash == p.hashes[1]
        assert receipt.nonce == p.nonce
        assert int(p.txn.max_fee or 0) >= first_fee * 1.1
        assert token.balanceOf(me) == 5


def test_only_the_first_of_a_queue_is_replaced(start_anvil):
    """Three in flight, the first dropped: those behind it cannot land
    before it. A replacement is only ever sent for the lowest nonce still
    pending (anvil also drops the two behind a dropped one: each is sent
    again once it leads); all three land in order."""
    node = start_anvil()
    rpc = node.w3.provider.make_request
    with _on(node) as provider:
        me, token, sender = _token(provider, stuck_blocks=1)
        replaced_at: list[tuple[int, int]] = []
        replace = sender._replace

        def watched(p, block):
            # (the nonce replaced, the account's next nonce on chain then)
            replaced_at.append((p.nonce, node.w3.eth.get_transaction_count(me.address)))
            replace(p, block)

        sender._replace = watched  # type: ignore[method-assign]
        _manual(node, True)
        pending = [sender.submit(token.mint, me, amount) for amount in (1, 2, 3)]
        rpc("anvil_dropTransaction", [pending[0].hashes[0]])
        rpc("evm_mine", [])  # nothing lands behind the gap
        assert token.balanceOf(me) == 0
        rpc("evm_setIntervalMining", [1])  # a block a second, whatever is ready
        receipts = sender.wait(pending, timeout=30)
        assert replaced_at and all(nonce == next_on_chain for nonce, next_on_chain in replaced_at)
        assert replaced_at[0][0] == pending[0].nonce
        assert [r.nonce for r in receipts] == [p.nonce for p in pending]
        assert token.balanceOf(me) == 6


def test_a_dropped_transaction_behind_the_lead_is_broadcast_again(start_anvil):
    """Seen in the keeper benchmark: anvil tried the last, smaller batch
    ahead of its nonce to fill a block's last gas, and dropped it; it sat
    lost until it led and was stuck (3 blocks), so 10,000 accounts took 7
    blocks instead of 3. Two in flight, the second dropped: at the next
    block the sender finds the node no longer knows it and broadcasts the
    same signed transaction again (same hash, no fee raise), long before
    the stuck rule (100 blocks here) would replace it."""
    node = start_anvil()
    rpc = node.w3.provider.make_request
    with _on(node) as provider:
        me, token, sender = _token(provider, stuck_blocks=100)
        _manual(node, True)
        pending = [sender.submit(token.mint, me, amount) for amount in (1, 2)]
        first_hash = pending[1].hashes[0]
        rpc("anvil_dropTransaction", [first_hash])
        checks: list[int] = []
        dropped = sender._dropped

        def counted(p):
            checks.append(p.nonce)
            return dropped(p)

        sender._dropped = counted  # type: ignore[method-assign]
        start = node.w3.eth.block_number
        rpc("evm_setIntervalMining", [1])
        receipts = sender.wait(pending, timeout=30)
        assert (sender.replaced, sender.rebroadcast) == (0, 1)
        # once a block per transaction still waiting, not once a poll
        assert len(checks) <= 2 * (node.w3.eth.block_number - start + 1)
        assert receipts[1].txn_hash == first_hash and pending[1].hashes == [first_hash]
        assert receipts[1].block_number - receipts[0].block_number <= 2
        assert token.balanceOf(me) == 3
