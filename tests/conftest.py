"""Shared fixtures: role-named actors, token and feed factories, and a
deployed engine (OracleRouter + Clearinghouse) on Ape's in-process chain.

Session-scoped fixtures deploy once; Ape snapshots the chain around every
test, so each test starts from the same state.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from xmargin.chain.abi import deploy_clearinghouse
from xmargin.maths.fixed_point import WAD
from xmargin.maths.model import AssetParams

# Hypothesis: `ci` is bounded so `make test` stays well inside CI's budget;
# `fuzz` (make fuzz) runs long and keeps its example database.
settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT = 3_600
FEED_DECIMALS = 8
MIN_PRICE = 10**12  # $0.000001
MAX_PRICE = 10**6 * WAD  # $1,000,000

# Prices of the standard asset set, USD per whole token.
ETH_USD = 3_000
BTC_USD = 60_000
# The standard listing's haircuts (the fuzz machine's setup lists the same).
WETH_PARAMS = AssetParams(18, im_haircut=WAD // 5, mm_haircut=WAD // 10)
WBTC_PARAMS = AssetParams(8, im_haircut=15 * WAD // 100, mm_haircut=8 * WAD // 100)


@dataclass(frozen=True)
class Listed:
    """A listed collateral asset and its feed, with the params it was listed with."""

    token: Any
    feed: Any
    params: AssetParams
    usd: int  # initial whole-dollar price


@contextmanager
def isolated(chain) -> Iterator[None]:
    """Snapshot the chain, run the body, restore: one hypothesis example.

    Do NOT use Ape's `chain.isolate()` for this: it swallows every exception
    raised in its body (`except Exception: pass`), so a failing assertion
    inside it passes silently.
    """
    snapshot = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snapshot)


# ---------------------------------------------------------------- actors


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def guardian(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def trader(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def hedger(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[5]


# What the layout, selector and forwarding tests read of a contract: one
# compilation each, shared by every test in the session.
VYPER_OUTPUTS = ("abi", "layout", "external_interface", "method_identifiers")


@functools.cache
def _vyper_outputs(name: str) -> dict[str, str]:
    vyper = shutil.which("vyper")
    assert vyper, "vyper not on PATH: run via make"
    from vyper.cli.vyper_compile import compile_files

    path = ROOT / "contracts" / f"{name}.vy"
    out = compile_files([str(path)], VYPER_OUTPUTS, paths=[str(ROOT)])
    (got,) = out.values()
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in got.items()}


def vyper_output(name: str, output: str) -> str:
    """`vyper -f output` of contracts/<name>.vy (one of VYPER_OUTPUTS), as
    the project compiles it, compiled once a session."""
    return _vyper_outputs(name)[output]


@pytest.fixture(scope="session")
def lens(project, owner):
    """The stateless ClearinghouseLens (keeper pages, position breakdowns):
    one serves every engine, which each call names."""
    return owner.deploy(project.ClearinghouseLens)


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[6]


# ---------------------------------------------------------------- factories


@pytest.fixture(scope="session")
def make_token(project, owner) -> Callable[..., Any]:
    def make(decimals: int, symbol: str = "TKN") -> Any:
        return owner.deploy(project.MockERC20, f"Mock {symbol}", symbol, decimals)

    return make


@pytest.fixture(scope="session")
def make_feed(project, owner) -> Callable[..., Any]:
    def make(usd: int, decimals: int = FEED_DECIMALS, description: str = "X / USD") -> Any:
        return owner.deploy(project.MockAggregator, decimals, description, usd * 10**decimals)

    return make


@pytest.fixture(scope="session")
def fund():
    """Mint `amount` of `token` to `who` and approve `spender` for it."""

    def do(token, who, amount: int, spender) -> None:
        token.mint(who, amount, sender=who)
        token.approve(spender, amount, sender=who)

    return do


# ---------------------------------------------------------------- engine


@pytest.fixture(scope="session")
def oracle(project, owner):
    return owner.deploy(project.OracleRouter)


# An options underlying (issue 23): a token priced at $3,000 by its own
# feed, an implied-volatility feed at 80 %, an expiry 30 days out.
UNDERLYING_USD = 3_000
VOL_ANSWER = 80_000_000  # 80 % with 8 decimals
VOL_BOUNDS = (WAD // 100, 5 * WAD)  # 1 % .. 500 %, exclusive


@pytest.fixture
def underlying_feed(make_feed):
    return make_feed(UNDERLYING_USD)


@pytest.fixture
def underlying(make_token, oracle, owner, underlying_feed):
    token = make_token(18, "ETHX")
    oracle.set_feed(token, underlying_feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner)
    return token


@pytest.fixture
def vol_feed(project, owner):
    return owner.deploy(project.MockAggregator, 8, "ETH 30d IV", VOL_ANSWER)


@pytest.fixture
def expiry(chain):
    return chain.blocks.head.timestamp + 30 * 86_400


# The underlying's short-option rule: IM 15 % of the price less the OTM
# amount, at least 10 %; MM 7.5 %, at least 5 % (Deribit's figures).
OPTION_RULE = (15 * WAD // 100, 10 * WAD // 100, 75 * WAD // 1_000, 5 * WAD // 100)


@pytest.fixture
def options_book(project, owner, oracle, underlying, vol_feed, expiry):
    """An OptionsBook on the router, the underlying's vol feed set for
    `expiry` and its margin rule `OPTION_RULE`; no series yet."""
    oracle.set_vol_feed(underlying, expiry, vol_feed, HEARTBEAT, *VOL_BOUNDS, sender=owner)
    book = owner.deploy(project.OptionsBook, oracle)
    book.set_margin_params(underlying, *OPTION_RULE, sender=owner)
    return book


@pytest.fixture(scope="session")
def usdc(make_token):
    return make_token(6, "USDC")


@pytest.fixture(scope="session")
def weth_listed(make_token, make_feed) -> Listed:
    token = make_token(18, "WETH")
    feed = make_feed(ETH_USD, description="ETH / USD")
    return Listed(token, feed, WETH_PARAMS, ETH_USD)


@pytest.fixture
def weth(weth_listed):
    return weth_listed.token


@pytest.fixture
def eth_feed(weth_listed):
    return weth_listed.feed


@pytest.fixture(scope="session")
def wbtc_listed(project, owner, make_feed) -> Listed:
    # Hostile-capable (contracts/mocks/MockHostileToken.vy): an ordinary
    # ERC-20 until a test switches its mode, as the fuzz machine does.
    token = owner.deploy(project.MockHostileToken, "Mock WBTC", "WBTC", 8)
    feed = make_feed(BTC_USD, description="BTC / USD")
    params = WBTC_PARAMS
    return Listed(token, feed, params, BTC_USD)


@pytest.fixture
def wbtc(wbtc_listed):
    return wbtc_listed.token


QUOTE_CAP = 10**9 * 10**6  # 1bn USDC
WETH_CAP = 1_000 * 10**18
WBTC_CAP = 100 * 10**8


def _deploy_engine(project, core, owner, oracle, usdc, weth_listed, wbtc_listed, guardian):
    ch = deploy_clearinghouse(project, owner, usdc.address, oracle.address, QUOTE_CAP, core=core)
    for listed, cap in ((weth_listed, WETH_CAP), (wbtc_listed, WBTC_CAP)):
        # The harness shares the router with the Clearinghouse.
        if not oracle.has_feed(listed.token):
            oracle.set_feed(
                listed.token, listed.feed, HEARTBEAT, MIN_PRICE, MAX_PRICE, sender=owner
            )
        ch.list_asset(
            listed.token, listed.params.im_haircut, listed.params.mm_haircut, cap, sender=owner
        )
    ch.set_guardian(guardian, sender=owner)
    return ch


@pytest.fixture(scope="session")
def clearinghouse(project, owner, oracle, usdc, weth_listed, wbtc_listed, guardian):
    return _deploy_engine(
        project, "Clearinghouse", owner, oracle, usdc, weth_listed, wbtc_listed, guardian
    )


@pytest.fixture(scope="session")
def harness(project, owner, oracle, usdc, weth_listed, wbtc_listed, guardian, clearinghouse):
    """Same modules as the Clearinghouse plus a settlement-debt hook (mocks/)."""
    return _deploy_engine(
        project, "ClearinghouseHarness", owner, oracle, usdc, weth_listed, wbtc_listed, guardian
    )


@pytest.fixture(scope="session")
def assets(usdc, weth_listed, wbtc_listed) -> dict[str, AssetParams]:
    """Model view of the standard listing, keyed by token address."""
    return {
        usdc.address: AssetParams(6),
        weth_listed.token.address: weth_listed.params,
        wbtc_listed.token.address: wbtc_listed.params,
    }


def feed_price_wad(feed) -> int:
    """The WAD price a MockAggregator's current answer normalises to (independent
    of the router: straight from the feed's stored answer and decimals)."""
    return feed.answer() * 10 ** (18 - feed.decimals())


@pytest.fixture
def snapshot_balances():
    """Capture every balance a failed call must leave untouched."""

    def take(ch, tokens, people, sub_ids=(0,)) -> dict:
        state: dict = {}
        for t in tokens:
            state[("held", t.address)] = t.balanceOf(ch)
            state[("total", t.address)] = ch.total_deposits(t)
            for p in people:
                state[("wallet", t.address, p.address)] = t.balanceOf(p)
                for s in sub_ids:
                    state[("acct", t.address, p.address, s)] = ch.balance_of(p, s, t)
        return state

    return take


@pytest.fixture
def deposit_usdc(clearinghouse, usdc, fund):
    """Mints, approves and deposits whole USDC into an account."""

    def do(who, amount_usdc: int, sub_id: int = 0):
        fund(usdc, who, amount_usdc * 10**6, clearinghouse)
        clearinghouse.deposit(sub_id, usdc, amount_usdc * 10**6, sender=who)

    return do


@pytest.fixture
def market(clearinghouse, owner, weth_listed) -> int:
    """tests.markets.ETH_MARKET listed on the WETH feed: market id 0."""
    from tests.markets import allow_atomic, params

    clearinghouse.list_market(params(weth_listed.token.address), sender=owner)
    allow_atomic(clearinghouse, owner)
    return 0


@pytest.fixture
def clock(chain):
    """Sets the next block's timestamp, `dt` seconds after the first call's
    base (100 s after the head then)."""

    class Clock:
        base: int | None = None

        def at(self, dt: int) -> int:
            if self.base is None:
                self.base = chain.blocks.head.timestamp + 100
            chain.pending_timestamp = self.base + dt
            return self.base + dt

    return Clock()
