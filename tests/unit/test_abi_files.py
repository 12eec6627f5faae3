"""The ABI files a deployment publishes (`xmargin.chain.abi.write_abis`,
`xmargin abi`): one per contract, the Clearinghouse's merged with its four
extensions', so a front-end or `cast` decodes every event emitted at the
Clearinghouse's address with that file alone (issue 21, point 1)."""

from __future__ import annotations

import json
import warnings
from typing import Any

from eth_abi import decode
from eth_utils import keccak

from tests.markets import E18, ETH, USDC, allow_atomic, params
from xmargin.chain.abi import EXTENSIONS, combined_type, write_abis
from xmargin.chain.sizes import DEPLOYABLES
from xmargin.maths.liquidation import LiquidationParams


def _type(arg: dict[str, Any]) -> str:
    """The canonical type of an ABI argument (tuples spelled out)."""
    if arg["type"].startswith("tuple"):
        inner = ",".join(_type(c) for c in arg["components"])
        return f"({inner}){arg['type'][len('tuple') :]}"
    return str(arg["type"])


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_type(a) for a in item['inputs'])})"


def _entries(abi: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(i["type"], _signature(i)) for i in abi if i["type"] in ("function", "event")}


def _compiled(project, name: str) -> list[dict[str, Any]]:
    """The compiler's own ABI of a contract, read from the project (not
    through `write_abis`)."""
    abi = getattr(project, name).contract_type.abi
    return [json.loads(i.model_dump_json(by_alias=True)) for i in abi]


def test_every_contract_gets_a_file_and_the_clearinghouses_is_the_union(project, tmp_path):
    paths = write_abis(project, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{n}.json" for n in DEPLOYABLES)
    files = {p.stem: json.loads(p.read_text()) for p in paths}
    for name in DEPLOYABLES[1:]:
        assert _entries(files[name]) == _entries(_compiled(project, name)), name
    union = _entries(_compiled(project, "Clearinghouse"))
    for name in EXTENSIONS:
        union |= _entries(_compiled(project, name))
    merged = files["Clearinghouse"]
    assert _entries(merged) == union
    # Each function and event once: a selector or topic never ambiguous.
    keys = [(i["type"], _signature(i)) for i in merged if i["type"] in ("function", "event")]
    assert len(keys) == len(set(keys))
    # Writing them again replaces each file whole.
    assert write_abis(project, tmp_path) == paths


def test_the_merged_type_serialises_without_a_warning(project):
    """Issue 21: every non-local run printed a pydantic serializer warning,
    from the merged type built with `model_copy(update=...)`."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        combined_type(project).model_dump_json(by_alias=True)


def test_the_merged_file_alone_decodes_every_event_of_a_liquidation_run(
    project,
    tmp_path,
    clearinghouse,
    owner,
    weth,
    usdc,
    fund,
    lp,
    trader,
    keeper,
    stranger,
    eth_feed,
):
    """Events of the core and of each extension (the owner's settings in
    the admin one, an LP deposit in the pool one, a trade in the orders one,
    operators and a liquidation in the liquidator one): every log at the
    Clearinghouse's address is found by its topic in the merged file and
    its data decodes with plain eth_abi, no Ape."""
    ch = clearinghouse
    vault = owner.deploy(project.LiquidityPool, ch.address, "xmargin LP", "xLP", 0)
    fund(usdc, lp, 100_000 * USDC, vault)
    fund(usdc, trader, 4_000 * USDC, ch)
    txs = [
        ch.set_pool(vault, sender=owner),
        vault.deposit(100_000 * USDC, lp, sender=lp),
        ch.list_market(params(weth, im_size_scalar=0, mm_size_scalar=0), sender=owner),
        ch.set_liquidation_params(LiquidationParams().as_tuple(), sender=owner),
    ]
    allow_atomic(ch, owner)
    txs += [
        ch.deposit(0, usdc, 4_000 * USDC, sender=trader),
        ch.trade(0, 0, 10 * ETH, 3_001 * E18, sender=trader),
        ch.set_operator(0, stranger, True, sender=trader),
        ch.set_operator(0, stranger, False, sender=trader),
    ]
    eth_feed.set_answer(2_600 * 10**8, sender=owner)
    txs.append(ch.liquidate(trader, 0, 0, 10 * ETH, 0, sender=keeper))

    (path,) = (p for p in write_abis(project, tmp_path) if p.stem == "Clearinghouse")
    events = {
        keccak(text=_signature(i)): i for i in json.loads(path.read_text()) if i["type"] == "event"
    }
    seen = []
    for tx in txs:
        for log in tx.logs:
            if log["address"].lower() != ch.address.lower():
                continue
            item = events[bytes(log["topics"][0])]
            assert len(log["topics"]) == 1 + sum(a["indexed"] for a in item["inputs"])
            decode([_type(a) for a in item["inputs"] if not a["indexed"]], bytes(log["data"]))
            seen.append(item["name"])
    # One at least from the core and from each extension.
    wanted = {"Deposit", "PoolSet", "PoolDeposit", "MarketListed", "Trade", "Liquidation"}
    assert wanted | {"OperatorSet", "LiquidationParamsSet"} <= set(seen), seen
