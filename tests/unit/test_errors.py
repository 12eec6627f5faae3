"""One catalogue of revert reasons: contracts/modules/errors.vy for Vyper,
xmargin/errors.py for Python, and both agree with the compiled contracts.

A reason added as a literal in a contract, a catalogue entry no contract can
revert with, a Python literal copied from a contract, or the two lists
drifting apart each fail one test here.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from xmargin.chain.sizes import DEPLOYABLES
from xmargin.maths import errors

ERRORS_VY = ROOT / "contracts" / "modules" / "errors.vy"
CONSTANT = re.compile(r'^([A-Z_0-9]+): constant\(String\[32\]\) = "([^"]*)"$', re.M)
# A reason written in place: `assert x, "..."` or `raise "..."`.
LITERAL_REASON = re.compile(r'(assert [^\n]*,\s*"|raise\s+")')
PYTHON_LITERAL = re.compile(r"""["'](xm\.[a-z]+: |xmargin: )""")


def vyper_catalogue() -> dict[str, str]:
    return dict(CONSTANT.findall(ERRORS_VY.read_text()))


def test_vyper_and_python_catalogues_are_the_same():
    assert vyper_catalogue() == errors.catalogue()


def test_every_reason_is_short_unique_and_namespaced():
    reasons = list(errors.catalogue().values())
    assert len(reasons) == len(set(reasons))
    for reason in reasons:
        assert re.fullmatch(r"xm\.[a-z]+: \S.*", reason), reason
        # One word of bytecode each.
        assert len(reason.encode()) <= 32, reason


def test_no_contract_writes_a_reason_in_place():
    # Mocks stand in for third-party tokens and keep their own reasons.
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "contracts").rglob("*.vy"))
        if "mocks" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL_REASON.search(line)
    ]
    assert offenders == []


@pytest.fixture(scope="module")
def compiled_code(project) -> bytes:
    """Every deployable's creation code (constructor and runtime)."""
    return b"".join(
        bytes.fromhex(getattr(project, name).contract_type.deployment_bytecode.bytecode[2:])
        for name in DEPLOYABLES
    )


def test_every_catalogue_reason_is_in_a_compiled_contract(compiled_code):
    missing = [
        name for name, reason in errors.catalogue().items() if reason.encode() not in compiled_code
    ]
    assert missing == []
    # snekmate's ownership reasons, which the engine exports (a reason over
    # 32 bytes is pushed a word at a time: its first word is contiguous).
    assert errors.NOT_OWNER.encode()[:32] in compiled_code
    assert errors.NOT_NEW_OWNER.encode()[:32] in compiled_code


def test_python_matches_reasons_by_name_not_by_a_copied_literal():
    catalogue_file = ROOT / "xmargin" / "maths" / "errors.py"
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("xmargin", "tests", "scripts", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != catalogue_file and path != ROOT / "tests" / "unit" / "test_errors.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PYTHON_LITERAL.search(line)
    ]
    assert offenders == []
