"""The crowd's pool backing (xmargin.ops.crowd.backing), by hand."""

from __future__ import annotations

from xmargin.ops.crowd import CrowdAccount, backing

E18 = 10**18
PRICES = {"ETH-PERP": 3_000 * E18, "BTC-PERP": 60_000 * E18}


def _acct(market: str, size: int) -> CrowdAccount:
    return CrowdAccount("0x0", 100, market, size, 1, 10)


def test_backing_follows_the_largest_side_along_the_way():
    """+10 ETH, +5 ETH, -12 ETH: the ETH long side peaks at 15 ($45,000),
    which a 50 % reserve needs $90,000 of pool value for (the short of 12
    does not shrink it: either side may close); +1 BTC ($60,000) under a 50 %
    reserve needs $120,000; the total at its peak (15 ETH + 1 BTC =
    $105,000) under 80 % needs $131,250. The largest, $131,250, plus a
    tenth: 144,375 USDC."""
    plan = [
        _acct("ETH-PERP", 10 * E18),
        _acct("ETH-PERP", 5 * E18),
        _acct("ETH-PERP", -12 * E18),
        _acct("BTC-PERP", E18),
    ]
    reserve = {"ETH-PERP": E18 // 2, "BTC-PERP": E18 // 2}
    assert backing(plan, PRICES, reserve, 8 * E18 // 10, 6) == 144_375 * 10**6
    # Uncapped markets and no total cap need nothing.
    assert backing(plan, PRICES, {"ETH-PERP": 0, "BTC-PERP": 0}, 0, 6) == 0
    # Only the markets' reserves: $120,000 + a tenth.
    assert backing(plan, PRICES, reserve, 0, 6) == 132_000 * 10**6
