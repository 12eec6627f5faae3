"""The outside review of `xmargin stress` (issue 24): its findings in the
step checks and the input checks, shown without a chain (run_path's chain
reads stubbed). Each failed on the code as reviewed."""

from __future__ import annotations

import http.server
import threading
from types import SimpleNamespace

import pytest

from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD
from xmargin.maths.model import Health
from xmargin.maths.stress import Path, StressInputError
from xmargin.ops import stress as st
from xmargin.ops.fork import ForkError

X = ("0x00000000000000000000000000000000000000aa", 0)
ZERO = "0x0000000000000000000000000000000000000000"


class _Stats(SimpleNamespace):
    def __init__(self) -> None:
        super().__init__(
            liquidations=0, collateral_liquidations=0, bad_debts_settled=0, adl=0,
            option_liquidations=0, orders_filled=0, orders_refused=0, lp_deposits=0,
            lp_redemptions=0, reverted=0,
        )  # fmt: skip


class _Keeper:
    """Logs what `script[pass]` says, and never acts."""

    def __init__(self, script: dict[int, list[dict]]) -> None:
        self.script, self.calls, self.log = script, 0, None
        # the accounts its events named, beyond the registry
        self.replica = SimpleNamespace(
            update=lambda head: 0, replica=SimpleNamespace(accounts={("0xdep", 0): None})
        )

    def run_once(self) -> _Stats:
        for line in self.script.get(self.calls, []):
            self.log(line)
        self.calls += 1
        return _Stats()


def _engine():
    head = SimpleNamespace(number=100, timestamp=1_000)
    chain = SimpleNamespace(blocks=SimpleNamespace(head=head), pending_timestamp=0)
    record = SimpleNamespace(assets={"USDC": SimpleNamespace(decimals=6)}, network="x")
    return SimpleNamespace(
        clearinghouse=SimpleNamespace(
            chain_manager=chain, holds_options=lambda owner, sub_id, block_id: False
        ),
        record=record,
        quote_symbol="USDC",
        pool=None,
    )


def _stub_chain(monkeypatch, healths):
    """`healths(step, on_unreadable)` -> the rows read_healths returns."""
    step = {"k": 0}
    summary = SimpleNamespace(
        block=100, liquidations=(), collateral_liquidations=(), bad_debts=(),
        insurance_fund=0, pool_total_assets=0, adls=(), pool_supply=0, pool_unpriced=None,
    )  # fmt: skip

    def read_summary(*a, **k):
        step["k"] += 1
        return summary

    monkeypatch.setattr(st, "read_summary", read_summary)
    monkeypatch.setattr(st, "_prices", lambda engine, block: {})
    monkeypatch.setattr(st, "read_markets", lambda engine, block: [])
    monkeypatch.setattr(st, "read_asset_states", lambda engine, block: [])
    monkeypatch.setattr(
        st,
        "read_quote_ledgers",
        lambda engine, keys, block: SimpleNamespace(held=10, ledgers=10),
    )
    monkeypatch.setattr(
        st, "read_healths", lambda engine, block, on_unreadable: healths(step["k"], on_unreadable)
    )


def _below_mm(step, on_unreadable):
    return [SimpleNamespace(owner=X[0], sub_id=X[1], health=Health(90, 200, 100))]


def test_a_reason_from_an_earlier_step_does_not_excuse_a_later_one(monkeypatch):
    """Step 1: the keeper waits on X's capacity (a reason). Step 2: it says
    nothing about X and does nothing, X still below MM: a keeper bug the
    check exists to catch. The stress reuses step 1's reason for ever."""
    _stub_chain(monkeypatch, _below_mm)
    # pass 0 is step 0's (at the fork); pass 1 is step 1's only pass
    keeper = _Keeper({1: [{"event": "capacity_wait", "owner": X[0], "sub_id": X[1]}]})
    path = Path(steps=({"WETH": WAD}, {"WETH": WAD}), seconds=60)
    result = st.run_path(_engine(), keeper, [], path, sender=None)
    assert [s.step for s in result.steps] == [0, 1, 2]
    assert not result.steps[0].checks_pass  # at the fork: below MM, nothing said
    assert result.steps[1].checks_pass  # step 1: waiting on capacity, said so
    assert result.steps[1].left[0].reason == st.LEFT_CAPACITY
    assert not result.steps[2].checks_pass, result.steps[2].left  # step 2: said nothing


def test_liquidations_closed_is_a_reason(monkeypatch):
    """A paused engine: the keeper says `liquidations_closed` (no account)."""
    _stub_chain(monkeypatch, _below_mm)
    keeper = _Keeper({1: [{"event": "liquidations_closed", "block": 1}]})
    path = Path(steps=({"WETH": WAD},), seconds=60)
    result = st.run_path(_engine(), keeper, [], path, sender=None)
    assert result.steps[1].checks_pass
    assert result.steps[1].left[0].reason == st.LEFT_CLOSED


def test_a_quote_shortfall_fails_the_step(monkeypatch):
    """The quote's tokens held fall short of its ledgers (accounts, pool,
    insurance, escrowed fees): the step fails."""
    _stub_chain(monkeypatch, lambda step, on_unreadable: [])
    monkeypatch.setattr(
        st,
        "read_quote_ledgers",
        lambda engine, keys, block: SimpleNamespace(held=9, ledgers=10),
    )
    result = st.run_path(_engine(), _Keeper({}), [], Path(({"WETH": WAD},), 60), sender=None)
    assert [x.asset for x in result.steps[1].shortfalls] == ["USDC"]
    assert not result.checks_pass


def test_an_account_whose_health_reverts_with_valid_prices_fails_the_check(monkeypatch):
    """The lens names no unpriced asset (prices valid) but the engine's
    health read reverts: nobody can tell whether it is below MM, and the
    keeper cannot liquidate it. The step's check still passes."""

    def unreadable(step, on_unreadable):
        on_unreadable(0, X[0], X[1], "arithmetic overflow", ZERO)
        return []

    _stub_chain(monkeypatch, unreadable)
    path = Path(steps=({"WETH": WAD},), seconds=60)
    result = st.run_path(_engine(), _Keeper({}), [], path, sender=None)
    assert result.steps[1].unreadable == 1
    assert result.steps[1].unread_priced == [(X[0], X[1], "arithmetic overflow")]
    assert not result.checks_pass


class _Html(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>502 Bad Gateway</html>")

    def log_message(self, *a):
        pass


def test_a_source_that_is_not_json_rpc_is_a_clear_message():
    """--rpc at a web page (a proxy's error page, a wrong path): a
    JSONDecodeError traceback instead of a ForkError the CLI prints."""
    from xmargin.ops.stress_session import check_source

    server = http.server.HTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        record = SimpleNamespace(chain_id=31337, genesis="", block=0)
        with pytest.raises(ForkError, match="not a JSON-RPC answer"):
            check_source(uri, record, None)
    finally:
        server.shutdown()


def test_the_quote_is_summed_over_every_account_an_event_named(monkeypatch):
    """A deposit-only account and a liquidator's sub-account 0 are not in
    the registry: their quote is a ledger too."""
    _stub_chain(monkeypatch, _below_mm)
    asked = []

    def quote(engine, keys, block):
        asked.append(list(keys))
        return SimpleNamespace(held=10, ledgers=10)

    monkeypatch.setattr(st, "read_quote_ledgers", quote)
    st.run_path(_engine(), _Keeper({}), [], Path(({"WETH": WAD},), 60), sender=None)
    assert asked[-1] == [("0xdep", 0), X]


def test_step_zero_is_reported_but_not_counted(monkeypatch):
    """A bad debt at the fork (a live keeper behind) is the fork's, with
    its own reason, and is left out of the path's totals."""
    debt = SimpleNamespace(owner=X[0], sub_id=X[1], deficit=7, from_insurance=7, from_pool=0)
    summaries = iter(
        [
            SimpleNamespace(
                block=100, liquidations=(), collateral_liquidations=(), bad_debts=(debt,),
                insurance_fund=0, pool_total_assets=0, adls=(), pool_supply=0,
                pool_unpriced=None,
            ),
            SimpleNamespace(
                block=101, liquidations=(), collateral_liquidations=(), bad_debts=(),
                insurance_fund=0, pool_total_assets=0, adls=(), pool_supply=0,
                pool_unpriced=None,
            ),
        ]
    )  # fmt: skip
    _stub_chain(monkeypatch, lambda step, on_unreadable: [])
    monkeypatch.setattr(st, "read_summary", lambda *a, **k: next(summaries))
    monkeypatch.setattr(st, "account_healths_at", lambda engine, keys, block: [Health(5, 0, 0)])
    result = st.run_path(_engine(), _Keeper({}), [], Path(({"WETH": WAD},), 60), sender=None)
    assert result.steps[0].bad_debt == 7
    assert result.bad_debt == 0 and result.insurance_used == 0
    assert [b.reason for b in result.bad_debt_accounts] == [st.AT_FORK]
    assert result.path_bad_debt_accounts == []


def test_an_options_holder_unreadable_is_not_a_failure(monkeypatch):
    """The lens names collateral and perp prices only: an options holder
    whose underlying or volatility is refused reverts with no asset named.
    It is unreadable (a refused price), not a failed check."""

    def unreadable(step, on_unreadable):
        on_unreadable(0, X[0], X[1], errors.VOL_STALE, ZERO)
        return []

    _stub_chain(monkeypatch, unreadable)
    engine = _engine()
    engine.clearinghouse.holds_options = lambda owner, sub_id, block_id: True
    result = st.run_path(engine, _Keeper({}), [], Path(({"WETH": WAD},), 60), sender=None)
    assert result.steps[1].unreadable == 1 and result.checks_pass


def test_a_step_that_mined_past_the_next_step_moves_it_after_its_last_block(monkeypatch):
    """Each block is a second: a step whose transactions mine past the
    next step's time cannot be stamped in the past (anvil refuses); it is
    a second after the last block, and the report says so."""
    _stub_chain(monkeypatch, lambda step, on_unreadable: [])
    engine = _engine()
    clock = {"t": 1_000}

    class Blocks:
        @property
        def head(self):  # a new block each time, as Ape's chain gives it
            return SimpleNamespace(number=100, timestamp=clock["t"])

    class Chain:
        blocks = Blocks()

        @property
        def pending_timestamp(self):
            return clock["t"]

        @pending_timestamp.setter
        def pending_timestamp(self, t):  # the next block's stamp
            assert t > clock["t"], "anvil refuses a stamp not after the last block"
            clock["t"] = t

    engine.clearinghouse.chain_manager = Chain()

    class Slow(_Keeper):
        def run_once(self):
            clock["t"] += 100  # a pass mines 100 blocks
            return super().run_once()

    path = Path(steps=({"WETH": WAD}, {"WETH": WAD}), seconds=60)
    result = st.run_path(engine, Slow({}), [], path, sender=None)
    # start 1,000; step 0 left the head at 1,100: step 1 at 1,101 (not
    # 1,060), its pass to 1,201: step 2 at 1,202 (not 1,120)
    assert [s.seconds for s in result.steps] == [0, 101, 202]
    assert clock["t"] == 1_302  # step 2's pass


def test_a_feed_shared_by_two_assets_follows_one_path_only():
    feed = st.ScriptedFeed("WETH", ("WETH", "stETH"), SimpleNamespace(address="0xfeed"), 1)
    alike = Path(steps=({"WETH": WAD // 2, "stETH": WAD // 2},), seconds=60)
    st.check_shared([feed], alike)
    apart = Path(steps=({"WETH": WAD // 2},), seconds=60)
    with pytest.raises(StressInputError, match="must move them alike"):
        st.check_shared([feed], apart)


def test_a_fork_of_another_chain_is_refused(monkeypatch):
    """A worker that reached another node by the same URL: its fork's
    block hash is not the one the source gave."""
    from xmargin.ops import stress_session as ss

    monkeypatch.setattr(ss, "rpc", lambda uri, method, params: {"hash": "0xother"})
    source = ss.Source(uri="http://127.0.0.1:1", record=None, block=7, head=7, block_hash="0xab")
    with pytest.raises(ForkError, match="not the chain that was checked"):
        ss._check_fork("http://127.0.0.1:2", source)
    monkeypatch.setattr(ss, "rpc", lambda uri, method, params: {"hash": "0xab"})
    ss._check_fork("http://127.0.0.1:2", source)


def test_an_interrupt_cancels_the_paths_not_started(monkeypatch):
    """Ctrl-C (or a failing callback) while paths run: the queue is
    cancelled, not worked through."""
    from concurrent.futures import Future

    from xmargin.ops import stress_paths as sp

    shut: list[bool] = []

    class Pool:
        def __init__(self, max_workers, mp_context):
            pass

        def submit(self, fn, job):
            f: Future = Future()
            f.set_result(sp.PathOutcome(index=job.index))
            return f

        def shutdown(self, wait=True, cancel_futures=False):
            shut.append(cancel_futures)

    monkeypatch.setattr(sp, "ProcessPoolExecutor", Pool)
    jobs = [sp.PathJob(i, "http://x", "{}", 1, Path(({"WETH": WAD},), 60)) for i in range(3)]

    def interrupt(outcome):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sp.run_local(jobs, 2, interrupt)
    assert shut == [True]
    assert [o.index for o in sp.run_local(jobs, 2)] == [0, 1, 2] and shut[-1] is False


def test_a_remote_dask_scheduler_is_refused_a_loopback_source(monkeypatch):
    """Its workers would each fork a node on their own machine."""
    from click.testing import CliRunner

    from xmargin.chain.deployments import AssetRecord, DeploymentRecord
    from xmargin.ops.stress_session import Source
    from xmargin.ui import stress_cli

    record = DeploymentRecord(
        network="ethereum:local",
        chain_id=31337,
        config="local",
        deployer=ZERO,
        assets={"USDC": AssetRecord(ZERO, 6), "WETH": AssetRecord(ZERO, 18, feed=ZERO)},
        markets={"ETH-PERP": 0},
    )
    source = Source(uri="http://127.0.0.1:8545", record=record, block=1, head=1)
    monkeypatch.setattr(stress_cli, "_source", lambda *a: source)
    monkeypatch.setattr(stress_cli, "_market_assets", lambda record: {"ETH-PERP": "WETH"})
    args = ["--paths", "2", "--vol", "ETH=0.8", "--dask", "tcp://10.1.2.3:8786"]
    result = CliRunner().invoke(stress_cli.stress_command, args)
    assert result.exit_code == 1, result.output
    assert "would each fork http://127.0.0.1:8545" in " ".join(result.output.split())
