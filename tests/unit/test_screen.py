"""The keeper's screen never clears an account the exact model finds below MM.

`xmargin.ops.screen` clears accounts in float64 with a stated error
bound. These tests build accounts whose exact slack (equity - MM, from
`xmargin.maths.replica`, the model the fuzz machine checks against the
chain to the wei) is a given number of wei, with an 18-decimal quote so
that one quote unit is one wei of slack, and check that the screen keeps
every account within its bound and clears those well above it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xmargin.maths.fixed_point import WAD
from xmargin.maths.model import AssetParams
from xmargin.maths.perps import MarketParams, Position
from xmargin.maths.portfolio import (
    PortfolioConfig,
    PortfolioParams,
    RiskGroups,
    Scenario,
    ScenarioSet,
)
from xmargin.maths.replica import MarketMark, Marks, Replica, Unpriced
from xmargin.ops.screen import Screen

QUOTE = "USD18"


def params(asset: str, mmr: int, scalar: int) -> MarketParams:
    scale = 10**6 * WAD
    return MarketParams(asset, 2 * mmr, mmr, 2 * scalar, scalar, scale, 0, 0, 10**30, WAD, WAD)


def marks(prices: dict[str, int], index: dict[int, int], mmr: int = WAD // 40) -> Marks:
    assets = {
        QUOTE: AssetParams(18),
        "WETH": AssetParams(18, WAD // 10, WAD // 20),
        "WBTC": AssetParams(8, WAD // 5, WAD // 10),
    }
    markets = {
        0: MarketMark("ETH", "WETH", params("WETH", mmr, WAD // 100), prices.get("WETH"), index[0]),
        1: MarketMark("BTC", "WBTC", params("WBTC", mmr, WAD // 200), prices.get("WBTC"), index[1]),
    }
    ok = {a: p for a, p in prices.items() if p is not None}
    refused = {a: "price stale" for a, p in prices.items() if p is None}
    groups = RiskGroups(("usd", "eth", "btc"), {QUOTE: 0, "WETH": 1, "WBTC": 2})
    scen = ScenarioSet((Scenario("down", (0, -WAD // 10, -WAD // 10)),))
    pm = PortfolioConfig(groups, scen, PortfolioParams(WAD // 100, WAD, WAD))
    return Marks(QUOTE, assets, ok, refused, markets, pm)


def slack_of(r: Replica, key: tuple[str, int], at: Marks) -> int:
    h = r.health(key, at)
    assert not isinstance(h, Unpriced)
    return h.equity - h.mm


def account_at(
    r: Replica, key: tuple[str, int], at: Marks, target: int, held: dict, positions: dict
) -> None:
    """Gives `key` the holdings and positions, and the quote balance that
    makes its exact slack exactly `target` wei."""
    s = r.state(key)
    s.balances.clear()
    s.positions.clear()
    for asset, amount in held.items():
        s.add(asset, amount)
    s.positions.update(positions)
    s.add(QUOTE, -1)  # a liability, so that it is screened
    s.add(QUOTE, target - slack_of(r, key, at))
    assert slack_of(r, key, at) == target


sizes = st.integers(1, 10**24).flatmap(lambda a: st.sampled_from([a, -a]))
prices = st.integers(10**15, 10**24)


@settings(max_examples=150, deadline=None)
@given(
    eth=prices,
    btc=prices,
    entry=st.tuples(prices, prices),
    size=st.tuples(sizes, sizes),
    idx=st.tuples(st.integers(-(10**22), 10**22), st.integers(-(10**22), 10**22)),
    fidx=st.tuples(st.integers(-(10**22), 10**22), st.integers(-(10**22), 10**22)),
    weth=st.integers(0, 10**24),
    wbtc=st.integers(0, 10**14),
    target=st.integers(-50, 20),
    mmr=st.integers(1, WAD // 2),
)
def test_an_account_a_few_wei_from_mm_is_always_a_candidate(
    eth, btc, entry, size, idx, fidx, weth, wbtc, target, mmr
):
    """Attack: an account one wei below MM that the screen clears is never
    liquidated by the keeper (a trader keeps a losing position open at the
    pool's expense). An account below its MM by 1 to 50 wei always
    reaches the exact model; one cleared is never below MM."""
    at = marks({"WETH": eth, "WBTC": btc}, {0: idx[0], 1: idx[1]}, mmr)
    r = Replica("0xengine", QUOTE, {})
    key = ("0xa", 0)
    positions = {m: Position(size[m], entry[m], fidx[m]) for m in (0, 1)}
    account_at(r, key, at, target, {"WETH": weth, "WBTC": wbtc}, positions)
    keys, screened = Screen(r).candidates(at)
    assert screened == 1
    if target < 0:
        assert keys == [key]
    assert keys == [key] or slack_of(r, key, at) >= 0


def test_an_account_well_above_mm_is_cleared_and_one_below_is_not():
    at = marks({"WETH": 3_000 * WAD, "WBTC": 60_000 * WAD}, {0: 5 * 10**12, 1: -(10**12)})
    r = Replica("0xengine", QUOTE, {})
    positions = {0: Position(10 * WAD, 2_900 * WAD, 10**12), 1: Position(-WAD, 61_000 * WAD, 0)}
    held = {"WETH": 2 * WAD, "WBTC": 10**7}
    # $1 of slack on ~$90k of terms: far above the bound (1e-9 relative).
    account_at(r, ("0xsafe", 0), at, WAD, held, positions)
    account_at(r, ("0xunder", 0), at, -1, held, positions)
    account_at(r, ("0xedge", 0), at, 0, held, positions)
    keys, screened = Screen(r).candidates(at)
    assert screened == 3
    assert sorted(keys) == [("0xedge", 0), ("0xunder", 0)]


def test_portfolio_refused_prices_and_changes_reach_the_model():
    at = marks({"WETH": 3_000 * WAD, "WBTC": 60_000 * WAD}, {0: 0, 1: 0})
    r = Replica("0xengine", QUOTE, {})
    long_eth = {0: Position(WAD, 3_000 * WAD, 0)}
    account_at(r, ("0xlinear", 0), at, 10**6 * WAD, {}, long_eth)
    account_at(r, ("0xpm", 0), at, 10**6 * WAD, {}, long_eth)
    r.state(("0xpm", 0)).portfolio = True
    # owes quote against one BTC
    account_at(r, ("0xbtc", 0), at, 1_000 * WAD, {"WBTC": 10**8}, {})
    # collateral only, no debt: never liquidatable, never screened
    r.state(("0xidle", 0)).add("WETH", WAD)
    screen = Screen(r)
    keys, screened = screen.candidates(at)
    assert (keys, screened) == ([("0xpm", 0)], 3)
    # WBTC's feed breaks: its holder reaches the model (which says why).
    broken = marks({"WETH": 3_000 * WAD, "WBTC": None}, {0: 0, 1: 0})
    keys, _ = screen.candidates(broken)
    assert sorted(keys) == [("0xbtc", 0), ("0xpm", 0)]
    assert r.health(("0xbtc", 0), broken) == Unpriced("WBTC", "price stale")
    # An event that takes the linear account below MM is seen on the next pass.
    r.apply(
        "Trade",
        {
            "owner": "0xlinear",
            "sub_id": 0,
            "market_id": 0,
            "new_size": 1_000 * WAD,
            "oracle_price": 3_000 * WAD,
            "funding_index": 0,
            "quote_delta": -(10**6) * WAD,
        },
    )
    keys, _ = screen.candidates(at)
    assert ("0xlinear", 0) in keys
    assert r.health(("0xlinear", 0), at).liquidatable
