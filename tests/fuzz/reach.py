"""What a fuzz run reached: the table printed at its end, and its JSON.

The machine counts every outcome in `COVERAGE` (tests/fuzz/machine.py):
an action that went through ("liquidation", "order settle", ...), a revert
the model predicted ("refused: <reason>"), a path of the keeper's ("keeper
auto-deleveraging"), an adversary's round ("attack 2: ..."). `reach`
sorts them into those groups, names every catalogue reason
(`xmargin.maths.errors`) no step hit, and checks the paths a long run must
reach (issue 22): every liquidation path, ADL and every order and LP
request state. The `ci` run prints what it missed; `make fuzz` fails on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xmargin.maths import errors

REFUSED = "refused: "
# What a long run must reach (`make fuzz`), by group.
REQUIRED: dict[str, tuple[str, ...]] = {
    "liquidation paths": (
        "liquidation",
        "portfolio liquidation",
        "collateral liquidation",
        "bad debt absorbed",
        "keeper liquidation",
        "keeper liquidation of a portfolio account",
        "keeper collateral liquidation",
        "keeper bad-debt settlement",
        "liquidatable with an entry",
    ),
    "ADL": ("auto-deleveraging", "keeper auto-deleveraging"),
    "order states": (
        "order commit",
        "order settle",
        "order cancel",
        "keeper order settled",
        "keeper order refused",
        REFUSED + errors.ORDER_TOO_EARLY,
        REFUSED + errors.ORDER_EXPIRED,
        REFUSED + errors.ORDER_PRICE_TOO_OLD,
        REFUSED + errors.ORDER_PENDING,
    ),
    "LP request states": (
        "LP request: deposit",
        "LP request: redeem",
        "LP settled: deposit",
        "LP settled: redeem",
        "LP claim",
        "LP cancel",
        REFUSED + errors.REQUEST_TOO_EARLY,
    ),
}
KEEPER = "keeper "
ATTACK = ("attack ", "sandwich", "dust spam")


@dataclass(frozen=True)
class Reach:
    """A run's counts, grouped."""

    actions: dict[str, int]
    keeper: dict[str, int]
    adversaries: dict[str, int]
    refused: dict[str, int]
    # catalogue reasons no step hit
    never_refused: tuple[str, ...]
    # group -> required paths the run did not reach
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not any(self.missing.values())

    def to_json(self) -> dict[str, object]:
        return {
            "actions": self.actions,
            "keeper": self.keeper,
            "adversaries": self.adversaries,
            "refused": self.refused,
            "never_refused": list(self.never_refused),
            "required_missing": {k: list(v) for k, v in self.missing.items() if v},
            "complete": self.complete,
        }


def rule_steps(counts: Mapping[str, int]) -> int:
    """Rule steps checked: the invariants run once after each example's
    start as well, which is not a step."""
    return counts.get("steps checked", 0) - counts.get("examples", 0)


def reach(counts: Mapping[str, int]) -> Reach:
    """`counts` (the machine's COVERAGE) sorted into groups."""
    refused = {k[len(REFUSED) :]: n for k, n in counts.items() if k.startswith(REFUSED)}
    keeper = {k: n for k, n in counts.items() if k.startswith(KEEPER)}
    adversaries = {k: n for k, n in counts.items() if k.startswith(ATTACK)}
    actions = {
        k: n
        for k, n in counts.items()
        if not k.startswith(REFUSED) and k not in keeper and k not in adversaries
    }
    catalogue = sorted(set(errors.catalogue().values()))
    never = tuple(r for r in catalogue if r not in refused)
    missing = {
        group: tuple(path for path in paths if not counts.get(path))
        for group, paths in REQUIRED.items()
    }
    return Reach(
        dict(sorted(actions.items())),
        dict(sorted(keeper.items())),
        dict(sorted(adversaries.items())),
        dict(sorted(refused.items())),
        never,
        missing,
    )


def lines(r: Reach) -> list[str]:
    """The table printed at the end of a run."""
    out = ["", "what the state machine reached:"]
    for title, group in (
        ("actions", r.actions),
        ("keeper", r.keeper),
        ("adversaries", r.adversaries),
        ("reverts the model predicted", r.refused),
    ):
        out.append(f"  {title} ({len(group)}):")
        out += [f"    {n:6d}  {k}" for k, n in group.items()]
    total = len(set(errors.catalogue().values()))
    out.append(
        f"  catalogue reasons hit: {total - len(r.never_refused)} of {total} "
        "(the others listed in the JSON: `never_refused`)"
    )
    for group, paths in REQUIRED.items():
        gone = r.missing.get(group, ())
        said = "all reached" if not gone else "NOT reached: " + "; ".join(gone)
        out.append(f"  {group} ({len(paths)}): {said}")
    return out


def write(r: Reach, path: Path, meta: Mapping[str, object]) -> None:
    """The run's reach as JSON (`meta`: steps, examples, seconds ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, **r.to_json()}, indent=2) + "\n")
