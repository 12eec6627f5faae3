"""Values of a deployment config, read exactly, and its failures, worded.

The field types of `xmargin.chain.config_models`: decimal strings in human
units read into exact integers (`Wad`, `Amount`), bounded YAML integers
(`Whole`) and quoted addresses (`Address`), each with its JSON Schema. A
failure is worded for a person, as a predicate of the value (`is_`:
"{where} must lie in [1, 3600]") or a statement about it (`says`:
"{where}: not an address: ..."); `problems` puts each at its place in the
file (`assets[1].feed.heartbeat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from xmargin.maths.fixed_point import parse_units

Loc = tuple[str | int, ...]

# ---------------------------------------------------------------- how a problem is worded

# A message is either said of the value ("{where} must lie in [1, 3600]") or
# about it ("{where}: not an address: ..."); the error type tells which.
_PREDICATE = "xmargin_predicate"
_STATEMENT = "xmargin_statement"


def is_(text: str) -> PydanticCustomError:
    """A failure worded as a predicate of the value: `{where} {text}`."""
    return PydanticCustomError(_PREDICATE, text)


def says(text: str) -> PydanticCustomError:
    """A failure worded as a statement about the value: `{where}: {text}`."""
    return PydanticCustomError(_STATEMENT, text)


class Found:
    """The failures of one section's (or the config's) cross-field rules,
    raised together, each at its own place."""

    def __init__(self) -> None:
        self.errors: list[InitErrorDetails] = []

    def add(self, loc: Loc, text: str, predicate: bool = False) -> None:
        kind = is_(text) if predicate else says(text)
        self.errors.append(InitErrorDetails(type=kind, loc=loc, input=None))

    def raise_any(self, title: str) -> None:
        if self.errors:
            raise ValidationError.from_exception_data(title, self.errors)


# Pydantic's own failures, reworded (predicates of the value).
_PYDANTIC_WORDS = {
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be text (quote it in YAML)",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "string_too_short": "must not be empty",
}

# What a missing key means, where `is missing` says too little.
_MISSING = {
    ("quote",): "the config needs a `quote` asset (the USD settlement stablecoin)",
}
_MISSING_KEY = {
    "feed": "needs a `feed` (the Chainlink feed that prices it)",
}


def path(loc: Loc) -> str:
    """`("assets", 1, "feed", "heartbeat")` -> `assets[1].feed.heartbeat`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _line(where: str, text: str, predicate: bool) -> str:
    if not where:
        return f"the config {text}" if predicate else text
    return f"{where} {text}" if predicate else f"{where}: {text}"


def problems(err: ValidationError) -> list[str]:
    """Every failure in `err`, one line each, in the order of the file:
    where it is and what to do about it. The unknown keys of one mapping
    share a line, and so do its missing keys."""
    lines: list[str | tuple[str, Loc, list[str]]] = []
    keys: dict[tuple[str, Loc], list[str]] = {}  # (kind, mapping) -> keys
    for e in err.errors(include_url=False):
        loc: Loc = tuple(e["loc"])
        kind, text = e["type"], e["msg"]
        if kind == "missing" and loc in _MISSING:
            lines.append(_MISSING[loc])
        elif kind == "missing" and loc and loc[-1] in _MISSING_KEY:
            lines.append(_line(path(loc[:-1]), _MISSING_KEY[str(loc[-1])], False))
        elif kind in ("missing", "extra_forbidden"):
            if (kind, loc[:-1]) not in keys:
                keys[kind, loc[:-1]] = []
                lines.append((kind, loc[:-1], keys[kind, loc[:-1]]))
            keys[kind, loc[:-1]].append(str(loc[-1]))
        elif kind in (_PREDICATE, _STATEMENT):
            lines.append(_line(path(loc), text, kind == _PREDICATE))
        elif kind == "string_too_long":
            at_most = f"must be at most {e.get('ctx', {}).get('max_length')} characters"
            lines.append(_line(path(loc), at_most, True))
        elif kind in _PYDANTIC_WORDS:
            lines.append(_line(path(loc), _PYDANTIC_WORDS[kind], True))
        else:
            lines.append(_line(path(loc), text, False))
    return [line if isinstance(line, str) else _keys_line(*line) for line in lines]


def _keys_line(kind: str, mapping: Loc, keys: list[str]) -> str:
    if kind == "extra_forbidden":
        return f"{path(mapping) or 'top level'}: unknown key(s) {', '.join(sorted(keys))}"
    if len(keys) == 1:
        return _line(path((*mapping, keys[0])), "is missing", True)
    return f"{path(mapping) or 'top level'}: missing keys {', '.join(keys)}"


# ---------------------------------------------------------------- numbers, addresses


def human(value: int, decimals: int = 18) -> str:
    """An integer in units of 10**-decimals, written exactly (`2e16` -> "0.02")."""
    whole, frac = divmod(abs(value), 10**decimals)
    digits = str(frac).rjust(decimals, "0").rstrip("0")
    return ("-" if value < 0 else "") + str(whole) + (f".{digits}" if digits else "")


def _number_text(value: object) -> str:
    if value is None:
        raise is_("is missing")
    if isinstance(value, float):
        # YAML reads 0.1 as a binary float: it would be rounded.
        raise says(f"write numbers as strings or integers, not floats ({value})")
    return str(value)


def units(value: object, decimals: int, signed: bool = False) -> int:
    """A decimal number in whole units -> an exact integer of 10**-decimals."""
    text = _number_text(value)
    try:
        out = parse_units(text, decimals)
    except ValueError as err:
        raise says(str(err)) from None
    if out < 0 and not signed:
        raise is_("must not be negative")
    return out


def number_schema(signed: bool = False) -> dict[str, Any]:
    """JSON Schema of a number as a config writes it: a decimal string (or
    a YAML integer), never a float."""
    sign = "-?" if signed else ""
    integer: dict[str, Any] = {"type": "integer"} if signed else {"type": "integer", "minimum": 0}
    return {"anyOf": [{"type": "string", "pattern": rf"^\s*{sign}[0-9_]*\.?[0-9_]*\s*$"}, integer]}


@dataclass(frozen=True)
class _Input:
    """Annotated metadata: how a field is read (`parse`) and its JSON Schema."""

    def parse(self, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.parse)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.schema()


@dataclass(frozen=True)
class Wad(_Input):
    """A decimal string -> WAD (18 decimals), within [low, high] (WAD)."""

    low: int = 0
    high: int | None = None
    signed: bool = False
    # Why the range, said when a value is outside it.
    why: str = ""

    def parse(self, value: Any) -> int:
        out = units(value, 18, self.signed)
        if out < self.low or (self.high is not None and out > self.high):
            raise is_(self.why or f"out of range: {self.bounds()}")
        return out

    def bounds(self) -> str:
        low, high = self.low, self.high
        # One wei off a round number is an exclusive bound: (0, 1], [0, 1).
        exclusive_low = low % 10**9 == 1
        start = f"({human(low - 1)}" if exclusive_low else f"[{human(low)}"
        if high is None:
            return f"must be {'above' if exclusive_low else 'at least'} {start[1:]}"
        exclusive_high = high % 10**9 == 10**9 - 1
        end = f"{human(high + 1)})" if exclusive_high else f"{human(high)}]"
        return f"must lie in {start}, {end}"

    def schema(self) -> dict[str, Any]:
        return number_schema(self.signed)


@dataclass(frozen=True)
class Amount(_Input):
    """A non-negative decimal string kept as written, for a field whose
    decimals another section sets (converted by the rule that knows them)."""

    def parse(self, value: Any) -> str:
        text = _number_text(value)
        units(text, len(text))  # its form and sign; any number of decimals
        return text

    def schema(self) -> dict[str, Any]:
        return number_schema()


@dataclass(frozen=True)
class Whole(_Input):
    """A YAML integer in [low, high] (seconds, decimals)."""

    low: int
    high: int

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise is_("must be an integer")
        if not self.low <= value <= self.high:
            raise is_(f"must lie in [{self.low}, {self.high}]")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Address(_Input):
    """A quoted 0x address, checksummed; absent or null: none (a mock)."""

    def parse(self, value: Any) -> str | None:
        if value is None:
            return None
        s = str(value)
        if not (s.startswith("0x") and len(s) == 42):
            # YAML reads an unquoted 0x... as a number: say so.
            raise says(f"not an address: {s!r} (quote addresses in YAML)")
        try:
            return str(to_checksum_address(s))
        except ValueError:
            raise says(f"not an address: {s!r}") from None

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}, {"type": "null"}]}


def wad_default(value: int) -> Any:
    """A WAD field's default, shown in the schema as the YAML would write it."""
    return Field(default=value, json_schema_extra={"default": human(value)})
