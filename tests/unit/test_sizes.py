"""Every deployable fits under EIP-170's 24,576-byte runtime code limit."""

import pytest

EIP170_LIMIT = 24_576


@pytest.mark.parametrize(
    "name",
    ["Clearinghouse", "ClearinghouseAdmin", "ClearinghouseLens", "LiquidityPool", "OracleRouter"],
)
def test_runtime_code_fits_eip170(project, name):
    code = bytes.fromhex(getattr(project, name).contract_type.runtime_bytecode.bytecode[2:])
    assert 0 < len(code) <= EIP170_LIMIT
