"""The extensions run on the Clearinghouse's storage, and only there."""

from __future__ import annotations

import json
import re

import ape
import pytest

from tests.conftest import ROOT, vyper_output
from xmargin.maths import errors

CONTRACTS = [
    "Clearinghouse",
    "ClearinghouseOrders",
    "ClearinghousePool",
    "ClearinghouseAdmin",
    "ClearinghouseLiquidator",
    "mocks/ClearinghouseHarness",
]


def _vyper(name: str, output: str) -> dict:
    return json.loads(vyper_output(name, output))


def test_storage_layouts_are_identical():
    """A delegatecall into a contract with another layout would write the
    wrong slots: all must agree slot for slot, locks included. Each
    contract's only storage is `modules/state.vy`."""
    core, *others = (_vyper(name, "layout") for name in CONTRACTS)
    assert list(core["storage_layout"]) == ["state"]
    assert core["storage_layout"]["state"]["liquidation"], "the layout lists every module"
    for other in others:
        assert other["storage_layout"] == core["storage_layout"]
        assert other["transient_storage_layout"] == core["transient_storage_layout"]


def test_no_selector_is_served_twice():
    """The core answers its own selectors and forwards the orders' and the
    pool's to their extensions and the rest to the liquidation extension, which
    forwards its unknown ones to the admin extension: a selector in two of
    them would shadow the later one."""
    ids = {
        name: {k: v for k, v in _vyper(name, "method_identifiers").items() if k != "__default__()"}
        for name in CONTRACTS[:5]
    }
    names = list(ids)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = set(ids[a]) & set(ids[b])
            assert shared == set(), f"{a} and {b} both implement {sorted(shared)}"
    # Selectors, not just names: two signatures can share four bytes.
    selectors = [sel for name in names for sel in ids[name].values()]
    assert len(selectors) == len(set(selectors))


def test_the_core_routes_exactly_the_orders_and_pool_extensions_selectors():
    """modules/extensions.vy lists the selectors it sends to
    ClearinghouseOrders, then those it sends to ClearinghousePool (the
    order book's reads and `cancel_order` run in the core itself); a
    function missing from its list would be sent to the liquidator and
    revert, one listed but not implemented would revert in the extension."""
    text = (ROOT / "contracts" / "modules" / "extensions.vy").read_text()
    orders_part, pool_part = text.split("return ORDERS")
    to_orders = set(re.findall(r'method_id\(\s*"([^"]+)"', orders_part))
    to_pool = set(re.findall(r'method_id\(\s*"([^"]+)"', pool_part))
    assert to_orders == set(_vyper("ClearinghouseOrders", "method_identifiers"))
    assert to_pool == set(_vyper("ClearinghousePool", "method_identifiers"))
    assert (len(to_orders), len(to_pool)) == (5, 14)


def test_orders_extension_called_directly_refuses_everything(project, owner):
    extension = owner.deploy(project.ClearinghouseOrders)
    with ape.reverts(errors.UNKNOWN_MARKET):
        extension.trade(0, 0, 1, 1, sender=owner)
    with ape.reverts(errors.UNKNOWN_MARKET):
        extension.commit_order(owner, 0, 0, 1, 1, sender=owner)
    with ape.reverts(errors.NO_ORDER):
        extension.settle_order(owner, 0, sender=owner)


def test_pool_extension_called_directly_refuses_everything(project, owner):
    extension = owner.deploy(project.ClearinghousePool)
    with ape.reverts(errors.NOT_POOL):
        extension.pool_deposit(1, sender=owner)
    with ape.reverts(errors.NOT_POOL):
        extension.pool_withdraw(1, owner, sender=owner)
    with ape.reverts(errors.UNKNOWN_MARKET):
        extension.adl(extension, 0, 0, 1, sender=owner)
    # no desk is named there, and nobody owns it to name one
    with ape.reverts(errors.DESK_ONLY):
        extension.option_pay(owner, 0, 1, owner, 0, False, 1, sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        extension.set_options_desk(extension, sender=owner)


def test_admin_called_directly_refuses_everything(project, owner, guardian, usdc, oracle):
    admin = owner.deploy(project.ClearinghouseAdmin)
    with ape.reverts(errors.NOT_OWNER):
        admin.list_asset(usdc, 0, 0, 1, sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        admin.set_oracle(oracle, sender=owner)
    with ape.reverts(errors.NOT_OWNER_OR_GUARDIAN):
        admin.pause(sender=owner)
    with ape.reverts(errors.NOT_OWNER):
        admin.transfer_ownership(owner, sender=owner)


def test_admin_functions_act_on_the_clearinghouse(clearinghouse, owner, stranger):
    """Through the fallback the owner is the Clearinghouse's owner, and the
    change is visible through the core's own getters."""
    with ape.reverts(errors.NOT_OWNER):
        clearinghouse.set_guardian(stranger, sender=stranger)
    tx = clearinghouse.set_guardian(stranger, sender=owner)
    assert clearinghouse.guardian() == stranger.address
    assert [e.event_name for e in tx.events] == ["GuardianSet"]


def test_unknown_selector_and_ether_revert(clearinghouse, stranger):
    with pytest.raises(ape.exceptions.ContractLogicError):
        stranger.transfer(clearinghouse.address, 0, data="0xdeadbeef")
    with pytest.raises(ape.exceptions.ContractLogicError):
        stranger.transfer(clearinghouse.address, 1)


def test_execute_order_is_the_engines_only(clearinghouse, market, trader, stranger):
    """The settlement's inner trade runs only when the engine calls itself."""
    for who in (trader, stranger):
        with ape.reverts(errors.ENGINE_ONLY):
            clearinghouse.execute_order(
                trader, 0, market, 10**18, 2**255, 3_000 * 10**18, sender=who
            )
