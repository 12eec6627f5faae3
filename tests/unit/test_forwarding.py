"""The core's fallback forwards the extensions' return data through a
buffer of constants.MAX_RETURN bytes; `raw_call` cuts anything longer. No
function the core forwards may return more (checked from the compiled ABIs
and, for dynamic arrays, the bounds in the Vyper interface)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import ROOT, vyper_output

FORWARDED = (
    "ClearinghouseOrders",
    "ClearinghousePool",
    "ClearinghouseLiquidator",
    "ClearinghouseAdmin",
)
WORD = 32


def max_return() -> int:
    text = (ROOT / "contracts" / "modules" / "constants.vy").read_text()
    (value,) = re.findall(r"^MAX_RETURN: constant\(uint256\) = ([\d_]+)$", text, re.M)
    return int(value.replace("_", ""))


def _size(item: dict[str, Any], bounds: dict[str, int]) -> int:
    """Largest ABI encoding of one output, head and tail (a dynamic array's
    bound comes from the Vyper interface, keyed by function name)."""
    kind: str = item["type"]
    if kind.endswith("[]"):
        element = dict(item, type=kind[:-2])
        return 2 * WORD + bounds[item["_function"]] * _size(element, bounds)
    fixed = re.fullmatch(r"(.*)\[(\d+)\]", kind)
    if fixed:
        return int(fixed.group(2)) * _size(dict(item, type=fixed.group(1)), bounds)
    if kind == "tuple":
        return sum(_size(dict(c, _function=item["_function"]), bounds) for c in item["components"])
    assert kind not in ("bytes", "string"), f"{item['_function']}: unbounded {kind}"
    return WORD


def forwarded_returns() -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name in FORWARDED:
        bounds = {
            fn: int(bound)
            for fn, bound in re.findall(
                r"def (\w+)\(.*\) -> DynArray\[[^,]+, (\d+)\]",
                vyper_output(name, "external_interface"),
            )
        }
        for fn in json.loads(vyper_output(name, "abi")):
            if fn.get("type") != "function" or fn["name"] == "__default__":
                continue
            outputs = [dict(o, _function=fn["name"]) for o in fn["outputs"]]
            sizes[f"{name}.{fn['name']}"] = sum(_size(o, bounds) for o in outputs)
    return sizes


def test_every_forwarded_return_fits_the_fallback_buffer():
    sizes = forwarded_returns()
    largest = max(sizes, key=sizes.__getitem__)
    assert sizes[largest] <= max_return(), f"{largest} returns up to {sizes[largest]} bytes"
    # The sizing itself, on hand-counted cases: MarketParams's 11 static
    # words (asset, 4 margin ratios, skew scale, 2 fees, OI cap, 2 funding
    # limits), and a bounded array of 16 addresses (offset, length, 16
    # words). (`portfolio_exposure`, 25 words, is served by the core.)
    assert sizes["ClearinghouseAdmin.market_params"] == 11 * WORD
    assert "ClearinghouseLiquidator.portfolio_exposure" not in sizes
    # (No forwarded function returns an array today; the core serves
    # `listed_assets` itself, so the array case is checked on its ABI item.)
    assert "ClearinghouseAdmin.listed_assets" not in sizes
    item = {"type": "address[]", "_function": "listed_assets"}
    assert _size(item, {"listed_assets": 16}) == (2 + 16) * WORD
