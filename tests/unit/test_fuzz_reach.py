"""tests/fuzz/reach.py: a run's counts grouped, the reasons no step hit,
and the paths a long run must reach (issue 22, point 4)."""

from __future__ import annotations

import json

from tests.fuzz import reach
from xmargin.maths import errors


def _everything() -> dict[str, int]:
    return {path: 1 for paths in reach.REQUIRED.values() for path in paths}


def test_counts_are_grouped_and_the_reasons_no_step_hit_are_named(tmp_path):
    counts = {
        "trade": 7,
        "keeper pass": 3,
        "keeper liquidation": 2,
        "attack 2: round trip around a round": 1,
        "sandwich": 4,
        f"refused: {errors.BELOW_IM}": 5,
        # a hostile token's own reason: refused, but not one of the catalogue's
        "refused: token paused": 2,
        "steps checked": 40,
        # two examples: the invariants ran once after each start, no step
        "examples": 2,
    }
    r = reach.reach(counts)
    assert reach.rule_steps(counts) == 38
    assert r.actions == {"examples": 2, "steps checked": 40, "trade": 7}
    assert r.keeper == {"keeper liquidation": 2, "keeper pass": 3}
    assert r.adversaries == {"attack 2: round trip around a round": 1, "sandwich": 4}
    assert r.refused == {errors.BELOW_IM: 5, "token paused": 2}
    everyone = set(errors.catalogue().values())
    assert set(r.never_refused) == everyone - {errors.BELOW_IM}
    # Liquidation paths other than the keeper's, ADL, orders and LP requests: missing.
    assert not r.complete
    assert "keeper liquidation" not in r.missing["liquidation paths"]
    assert "liquidation" in r.missing["liquidation paths"]
    assert r.missing["ADL"] == ("auto-deleveraging", "keeper auto-deleveraging")
    text = "\n".join(reach.lines(r))
    assert "ADL (2): NOT reached: auto-deleveraging; keeper auto-deleveraging" in text
    assert f"    {5:6d}  {errors.BELOW_IM}" in text
    assert f"catalogue reasons hit: 1 of {len(everyone)} " in text
    out = tmp_path / "reach.json"
    reach.write(r, out, {"steps": 40})
    doc = json.loads(out.read_text())
    assert doc["steps"] == 40 and doc["complete"] is False
    assert doc["required_missing"]["ADL"] == ["auto-deleveraging", "keeper auto-deleveraging"]


def test_a_run_that_reached_every_required_path_is_complete():
    counts = _everything()
    r = reach.reach(counts)
    assert r.complete and not any(r.missing.values())
    assert "all reached" in "\n".join(reach.lines(r))
    # One path missing is enough to fail a long run.
    del counts["keeper order refused"]
    assert reach.reach(counts).missing["order states"] == ("keeper order refused",)
