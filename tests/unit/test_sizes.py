"""Every deployable keeps at least 4.5 KB of EIP-170 headroom: at most
20,000 bytes of runtime code (`make size` prints the table)."""

import pytest

from xmargin.chain.sizes import DEPLOYABLES, EIP170_LIMIT, HEADROOM_LIMIT, runtime_size


def test_the_limit_leaves_4_5_kb_under_eip170():
    assert EIP170_LIMIT - HEADROOM_LIMIT >= 4_500


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_runtime_code_keeps_its_headroom(project, name):
    size = runtime_size(project, name)
    assert 0 < size <= HEADROOM_LIMIT, f"{name}: {size:,} bytes, over {HEADROOM_LIMIT:,}"
