"""The reason in a revert's data, decoded without Ape (the keeper's
skipped batch items, the CLI's fast path)."""

from __future__ import annotations

from eth_abi import decode
from eth_abi.exceptions import DecodingError

# `Error(string)`: the selector of a Solidity/Vyper revert reason.
ERROR_SELECTOR = bytes.fromhex("08c379a0")


def revert_reason(data: bytes) -> str:
    """The reason string of revert data (`Error(string)`); other data (a
    panic, an out-of-gas with none) as hex."""
    if data[:4] == ERROR_SELECTOR:
        try:
            (reason,) = decode(["string"], data[4:])
            return str(reason)
        except (DecodingError, ValueError):
            pass
    return "0x" + data.hex()
