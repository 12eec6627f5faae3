"""xmargin.ops.deploy on the in-process chain: convergence, reuse, partial runs.

The anvil integration tests drive the script end to end; these pin the
convergence rules cheaply, including the review's failure cases.
"""

from __future__ import annotations

import copy
import json

import pytest

from xmargin.chain.config import parse_config
from xmargin.chain.connect import network_info
from xmargin.chain.deployments import DeploymentError, read_record
from xmargin.chain.sizes import DEPLOYABLES
from xmargin.ops.deploy import deploy

E18 = 10**18


def _asset(symbol: str, decimals: int, price: str, **feed) -> dict:
    return {
        "symbol": symbol,
        "decimals": decimals,
        "im_haircut": "0.2",
        "mm_haircut": "0.1",
        "cap": "1000",
        "feed": {
            "decimals": 8,
            "price": price,
            "heartbeat": 3600,
            "min_price": "1",
            "max_price": "1000000",
            **feed,
        },
    }


BASE = {
    "quote": {"symbol": "USDC", "decimals": 6, "cap": "1000000"},
    "assets": [_asset("WETH", 18, "3000"), _asset("LINK", 18, "15")],
}


@pytest.fixture
def run(project, owner, tmp_path):
    from ape import chain

    provider = chain.provider

    def go(raw: dict, name: str = "test", sender=None):
        return deploy(
            project,
            provider,
            sender or owner,
            parse_config(copy.deepcopy(raw), name=name),
            network_info(provider),
            directory=tmp_path,
            log=lambda _: None,
        )

    return go


def _prices(project, result) -> dict[str, int]:
    router = project.OracleRouter.at(result.record.contracts["OracleRouter"])
    return {s: router.price(a.token) for s, a in result.record.assets.items() if a.feed}


def test_second_run_sends_nothing(run):
    # 3 mock tokens, 2 mock feeds, router, 2 set_feed, admin, liquidator, pool
    # and orders extensions, Clearinghouse, 2 list_asset, lens
    assert run(BASE).transactions == 16
    assert run(BASE).transactions == 0


def test_every_run_writes_the_abi_files_and_an_unwritable_place_is_only_said(
    project, owner, tmp_path
):
    """Beside the record, `<network>.abi/` (issue 21): written by a run that
    sends nothing too (a record older than the files gets them), and a
    place that cannot hold them (here a file) is logged, never raised: the
    deployment is done and recorded (found by the outside review)."""
    from ape import chain

    from xmargin.chain.deployments import abi_dir, record_path

    provider, said = chain.provider, []

    def go() -> int:
        return deploy(
            project,
            provider,
            owner,
            parse_config(copy.deepcopy(BASE), name="test"),
            network_info(provider),
            directory=tmp_path,
            log=said.append,
        ).transactions

    assert go() > 0
    network = network_info(provider)
    path = record_path(network.ecosystem, network.chain_id, tmp_path)
    files = sorted(p.name for p in abi_dir(path).iterdir())
    assert files == sorted(f"{n}.json" for n in DEPLOYABLES)
    for p in abi_dir(path).iterdir():
        p.unlink()
    abi_dir(path).rmdir()
    assert go() == 0
    assert sorted(p.name for p in abi_dir(path).iterdir()) == files
    for p in abi_dir(path).iterdir():
        p.unlink()
    abi_dir(path).rmdir()
    abi_dir(path).write_text("not a directory")
    said.clear()
    assert go() == 0
    assert any("the ABI files were not written" in line for line in said), said
    assert path.is_file()


def test_the_record_lists_every_transaction_and_the_configs_hash(project, owner, tmp_path, chain):
    """Issue 21: the record names the config it converged to (SHA-256 of
    the file, what `sha256sum` prints) and every transaction sent, each
    checked here against the node's own receipt; runs that send nothing
    keep the history, the next change appends to it."""
    import hashlib

    import yaml

    from xmargin.chain.config import load_config

    provider = chain.provider
    config_file = tmp_path / "mine.yaml"

    def go(raw: dict):
        config_file.write_text(yaml.safe_dump(raw))
        return deploy(
            project,
            provider,
            owner,
            load_config(config_file),
            network_info(provider),
            directory=tmp_path,
            log=lambda _: None,
        )

    first = go(BASE)
    record = read_record(_record_file(tmp_path))
    assert record is not None and record == first.record
    assert record.config_sha256 == hashlib.sha256(config_file.read_bytes()).hexdigest()
    assert len(record.transactions) == 16  # as in test_second_run_sends_nothing
    assert len({t.hash for t in record.transactions}) == 16
    for sent in record.transactions:
        receipt = provider.get_receipt(sent.hash)
        assert (receipt.block_number, receipt.gas_used) == (sent.block, sent.gas_used)
        assert receipt.sender == owner.address
        if sent.what.startswith("deployed "):
            assert sent.what.endswith(f" at {receipt.contract_address}")
    deployed = [t.what.split(" at ")[0] for t in record.transactions if " at 0x" in t.what]
    assert deployed[:6] == [
        "deployed mock token USDC",
        "deployed mock token WETH",
        "deployed mock feed WETH/USD",
        "deployed mock token LINK",
        "deployed mock feed LINK/USD",
        "deployed OracleRouter",
    ]

    assert go(BASE).transactions == 0
    assert read_record(_record_file(tmp_path)).transactions == record.transactions
    changed = copy.deepcopy(BASE)
    changed["assets"][0]["cap"] = "2000"
    assert go(changed).transactions == 1
    after = read_record(_record_file(tmp_path))
    assert after.transactions[:16] == record.transactions
    assert after.transactions[16].what == "set WETH haircuts and cap"
    assert after.config_sha256 == hashlib.sha256(config_file.read_bytes()).hexdigest()
    assert after.config_sha256 != record.config_sha256


def test_a_run_that_sends_nothing_writes_no_record(run, owner, tmp_path):
    """Issue 21: a first deploy that stops before its first transaction (no
    passphrase and no terminal to ask one on: the account refuses to sign)
    left an empty record behind, which the next readers took for a
    deployment. Now nothing is written: no record, no ABI files."""
    from xmargin.chain.deployments import abi_dir

    class Locked:
        address = owner.address

        def deploy(self, *args, **kwargs):
            raise RuntimeError("no passphrase given and no terminal to ask for one")

    with pytest.raises(RuntimeError, match="no passphrase"):
        run(BASE, sender=Locked())
    assert not _record_file(tmp_path).exists()
    assert not abi_dir(_record_file(tmp_path)).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_run_failing_after_a_send_keeps_the_whole_record(run, tmp_path, monkeypatch):
    """Outside review: a run that sent a transaction and then failed wrote
    its half-built record over the full one (the lens and everything past
    the failure gone, and the failed config's hash). Now the record keeps
    what it had, with the run's transaction added, under the config it
    last converged to."""
    from xmargin.ops import deploy as deploy_module

    first = run(BASE).record
    changed = copy.deepcopy(BASE)
    changed["assets"][0]["cap"] = "2000"

    def fail(self, clearinghouse, tokens):
        raise DeploymentError("stopped after the listing")

    monkeypatch.setattr(deploy_module._Run, "_warn_unlisted", fail)
    with pytest.raises(DeploymentError, match="stopped after the listing"):
        run(changed)
    after = read_record(_record_file(tmp_path))
    assert after is not None
    assert after.contracts == first.contracts  # the lens included
    assert after.assets == first.assets and after.markets == first.markets
    assert after.config_sha256 == first.config_sha256
    assert [t.what for t in after.transactions[len(first.transactions) :]] == [
        "set WETH haircuts and cap"
    ]


def test_a_transaction_whose_receipt_was_not_seen_is_recorded(run, owner, tmp_path):
    """Outside review: an interrupt after the node took the first
    transaction but before its receipt came back wrote no record (the run
    had counted nothing). The sender's nonce says it was sent."""

    class Interrupted:
        address = owner.address

        def deploy(self, *args, **kwargs):
            owner.deploy(*args, **kwargs)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(BASE, sender=Interrupted())
    record = read_record(_record_file(tmp_path))
    assert record is not None
    (unseen,) = record.transactions
    assert unseen.hash == "" and "its receipt not seen" in unseen.what


def test_a_record_of_the_old_layout_stops_a_fresh_deploy(run, tmp_path, chain):
    """Outside review: with only `local.json` (the layout keyed by network
    name) the deploy made a second engine beside the first. It refuses
    and says the `mv`."""
    from xmargin.chain.deployments import DeploymentRecord, write_record

    network = network_info(chain.provider)
    old = tmp_path / f"{network.name}.json"
    write_record(
        old, DeploymentRecord(network="ethereum:local", chain_id=1, config="x", deployer="0x")
    )
    with pytest.raises(DeploymentError, match=f"mv {old}"):
        run(BASE)
    assert not _record_file(tmp_path).exists()


def test_the_record_keeps_the_engines_deployment_block(run, chain):
    """The keeper backfills its replica from the record's block: the
    block whose state first holds the Clearinghouse's code (none before
    it), kept by a second run that reuses it."""
    first = run(BASE)
    ch, block = first.record.contracts["Clearinghouse"], first.record.block
    web3 = chain.provider.web3
    assert web3.eth.get_code(ch, block - 1) == b""
    assert web3.eth.get_code(ch, block) != b""
    chain.mine(3)
    assert run(BASE).record.block == block


def test_changed_asset_list_after_a_chain_reset_is_not_confused(run, project, chain):
    """Review case: the chain rolled back under a record, then a config with
    another asset list. Addresses may now hold other contracts (same
    deployer, same nonces): each asset must still get its own token and the
    right feed."""
    snapshot = chain.snapshot()
    run(BASE)
    chain.restore(snapshot)
    changed = {**BASE, "assets": [_asset("WBTC", 8, "60000"), *BASE["assets"]]}
    result = run(changed)
    tokens = [a.token for a in result.record.assets.values()]
    assert len(set(tokens)) == 4
    assert _prices(project, result) == {
        "WBTC": 60_000 * E18,
        "WETH": 3_000 * E18,
        "LINK": 15 * E18,
    }
    ch = project.Clearinghouse.at(result.record.contracts["Clearinghouse"])
    assert ch.listed_assets() == tokens
    assert run(changed).transactions == 0


def _record_file(tmp_path):
    from ape import chain

    from xmargin.chain.deployments import record_path

    network = network_info(chain.provider)
    return record_path(network.ecosystem, network.chain_id, tmp_path)


def test_failed_run_keeps_what_it_deployed(run, make_token, tmp_path):
    """Review case: a failure late in a run must not lose the contracts
    deployed before it; the next run reuses them."""
    real_link = make_token(18, "LINK")
    wrong = copy.deepcopy(BASE)
    wrong["assets"][1] |= {"address": real_link.address, "decimals": 8}
    with pytest.raises(DeploymentError, match="has 18 decimals, the config says 8"):
        run(wrong)
    partial = read_record(_record_file(tmp_path))
    assert partial is not None and set(partial.assets) == {"USDC", "WETH"}
    # The ABIs beside the partial record are this code's (the CLI's fast
    # path decodes its new addresses with them): the merged Clearinghouse's
    # names the extensions' functions.
    from xmargin.chain.deployments import abi_dir

    written = json.loads((abi_dir(_record_file(tmp_path)) / "Clearinghouse.json").read_text())
    assert {"liquidate", "commit_order", "set_asset_params"} <= {i.get("name") for i in written}
    fixed = copy.deepcopy(BASE)
    fixed["assets"][1] |= {"address": real_link.address}
    result = run(fixed)
    for symbol in ("USDC", "WETH"):
        assert result.record.assets[symbol] == partial.assets[symbol]
    assert result.record.assets["LINK"].token == real_link.address


def test_feed_changes_converge_in_a_valid_order(run, project):
    """Review case: replacing both feeds must remove the old second feed
    first, or set_feed checks the new primary against the old second feed."""
    with_second = copy.deepcopy(BASE)
    with_second["assets"][0]["feed"]["secondary"] = {
        "heartbeat": 3600,
        "max_deviation": "0.02",
        "price": "3010",
    }
    first = run(with_second)
    router = project.OracleRouter.at(first.record.contracts["OracleRouter"])
    weth = first.record.assets["WETH"]
    assert router.price_config(weth.token).secondary.aggregator == weth.second_feed
    # New heartbeat on the primary: second feed removed and set again.
    moved = copy.deepcopy(with_second)
    moved["assets"][0]["feed"]["heartbeat"] = 1800
    assert run(moved).transactions == 3
    cfg = router.price_config(weth.token)
    assert (cfg.primary.heartbeat, cfg.secondary.aggregator) == (1800, weth.second_feed)
    # Second feed dropped from the config: removed on chain.
    dropped = copy.deepcopy(moved)
    dropped["assets"][0]["feed"]["secondary"] = None
    assert run(dropped).transactions == 1
    assert router.price_config(weth.token).secondary.aggregator == "0x" + "0" * 40


def test_guardian_converges(run, project, stranger):
    result = run(BASE | {"guardian": stranger.address})
    ch = project.Clearinghouse.at(result.record.contracts["Clearinghouse"])
    assert ch.guardian() == stranger.address
    assert run(BASE | {"guardian": stranger.address}).transactions == 0


PORTFOLIO = {
    "groups": {"ETH": ["WETH"], "OTHER": ["LINK", "USDC"]},
    "floor_fraction": "0.005",
    "min_per_position": "50",
    "im_factor": "1.5",
    "scenarios": [
        {"name": "up", "moves": {"ETH": "0.1"}},
        {"name": "down", "moves": {"ETH": "-0.1", "OTHER": "-0.2"}},
    ],
}


def test_portfolio_margin_converges(run, project):
    """The scenario set is deployed and every asset grouped; a second run
    sends nothing; a changed set is a new contract; a set with fewer groups
    than the one in force is pointed at after the groups moved into range."""
    from xmargin.chain.abi import clearinghouse_at
    from xmargin.chain.risk_set import read_config

    first = run(BASE | {"portfolio": PORTFOLIO})
    ch = clearinghouse_at(project, first.record.contracts["Clearinghouse"])
    risk = first.record.contracts["PortfolioRisk"]
    tokens = {s: a.token for s, a in first.record.assets.items()}
    assert ch.portfolio_risk() == risk
    got = read_config(ch, project.PortfolioRisk.at(risk), tokens)
    assert got.groups.members == {"WETH": 0, "LINK": 1, "USDC": 1}
    assert [s.shocks for s in got.scenarios.scenarios] == [
        (E18 // 10, 0),
        (-E18 // 10, -E18 // 5),
    ]
    assert (got.params.floor_fraction, got.params.min_per_position, got.params.im_factor) == (
        E18 // 200,
        50 * E18,
        3 * E18 // 2,
    )
    assert run(BASE | {"portfolio": PORTFOLIO}).transactions == 0

    # One group only: LINK and USDC must leave group 1 before the set with
    # one group can be used (the engine refuses the set otherwise).
    one = {**PORTFOLIO, "groups": {"ALL": ["WETH", "LINK", "USDC"]}}
    one["scenarios"] = [{"name": "down", "moves": {"ALL": "-0.1"}}]
    second = run(BASE | {"portfolio": one})
    assert second.transactions == 4  # deploy, two set_risk_group, set_portfolio_risk
    assert second.record.contracts["PortfolioRisk"] != risk
    assert ch.portfolio_risk() == second.record.contracts["PortfolioRisk"]
    assert [ch.risk_group(t) for t in tokens.values()] == [0, 0, 0]
    # Back to two groups: the set first, then the groups.
    third = run(BASE | {"portfolio": PORTFOLIO})
    assert third.transactions == 4
    assert [ch.risk_group(tokens[s]) for s in ("WETH", "LINK", "USDC")] == [0, 1, 1]


MARKET = {
    "symbol": "ETH-PERP",
    "asset": "WETH",
    "imr": "0.10",
    "mmr": "0.05",
    "im_size_scalar": "1",
    "mm_size_scalar": "0.5",
    "skew_scale": "1000000",
    "taker_fee": "0.001",
    "maker_fee": "0.0005",
    "max_oi": "10000",
    "max_funding_velocity": "0.03",
    "max_funding_rate": "0.01",
}


def test_capital_caps_converge(run, project):
    """A market's caps and the pool's total reserve are set by the run that
    lists them, left alone by the next, and moved by one transaction each
    when the config changes them. Out-of-range values are refused before
    anything is sent."""
    from xmargin.chain.abi import clearinghouse_at
    from xmargin.chain.config import ConfigError

    capped = {
        **MARKET,
        "reserve_factor": "0.5",
        "max_pnl_factor": "0.3",
        "adl_target_factor": "0.2",
    }
    pool = {"buffer": "0.1", "total_reserve_factor": "0.8"}
    raw = BASE | {"pool": pool, "markets": [capped]}
    first = run(raw)
    ch = clearinghouse_at(project, first.record.contracts["Clearinghouse"])
    assert tuple(ch.market_caps(0)) == (E18 // 2, 3 * E18 // 10, E18 // 5)
    assert ch.total_reserve_factor() == 8 * E18 // 10
    assert run(raw).transactions == 0
    moved = BASE | {"pool": pool, "markets": [{**capped, "max_pnl_factor": "0.25"}]}
    assert run(moved).transactions == 1
    assert tuple(ch.market_caps(0)) == (E18 // 2, E18 // 4, E18 // 5)
    for bad in (
        {"reserve_factor": "0"},
        {"reserve_factor": "2.1"},
        {"max_pnl_factor": "1.5"},
        {"adl_target_factor": "0.31"},  # above max_pnl_factor
        {"adl_target_factor": "0"},
    ):
        with pytest.raises(ConfigError):
            parse_config(BASE | {"markets": [{**capped, **bad}]}, name="bad")
    with pytest.raises(ConfigError):
        parse_config(BASE | {"pool": {"total_reserve_factor": "3"}}, name="bad")


def test_order_rules_converge(run, project):
    """A market without an `orders` section trades by delayed order only
    (12 s delay, an hour's window); a changed section is one transaction."""
    from xmargin.chain.abi import clearinghouse_at

    raw = BASE | {"pool": {}, "markets": [MARKET]}
    first = run(raw)
    ch = clearinghouse_at(project, first.record.contracts["Clearinghouse"])
    assert tuple(ch.order_rules(0)) == (12, 3_600, 0, False, 0)
    assert run(raw).transactions == 0
    rules = {"min_delay": 2, "window": 600, "settlement_fee": "1", "atomic": True}
    moved = BASE | {"pool": {}, "markets": [{**MARKET, "orders": {**rules, "deviation": "0.0015"}}]}
    assert run(moved).transactions == 1
    assert tuple(ch.order_rules(0)) == (2, 600, 10**6, True, 15 * E18 // 10_000)


def test_the_lp_request_delay_is_fixed_at_deployment(run, project):
    """The LiquidityPool takes its request delay in its constructor: the
    run that deploys it uses the config's, a later run with another delay
    stops with the reason instead of pretending to converge."""
    raw = BASE | {"pool": {"request_delay": 30}, "markets": [MARKET]}
    first = run(raw)
    vault = project.LiquidityPool.at(first.record.contracts["LiquidityPool"])
    assert vault.REQUEST_DELAY() == 30
    assert run(raw).transactions == 0
    with pytest.raises(DeploymentError, match="settles requests after 30 s, the config says 60 s"):
        run(BASE | {"pool": {"request_delay": 60}, "markets": [MARKET]})


OPTIONS = {
    "reserve_factor": "0.5",
    "liquidation_penalty": "0.01",
    "underlyings": [
        {
            "asset": "WETH",
            "im_rate": "0.15",
            "im_floor": "0.10",
            "mm_rate": "0.075",
            "mm_floor": "0.05",
            "vol_spread": "0.05",
            "min_size": "0.1",
            "max_oi": "1000",
            "min_delay": 5,
            "window": 120,
            "expiries": [
                {
                    "days": 30,
                    "vol": {"answer": "0.80", "heartbeat": 3600, "min": "0.01", "max": "5"},
                    "strikes": ["2800", "3000"],
                }
            ],
        }
    ],
}


def test_options_converge(run, project, chain):
    """Issue 23: the `options` section deploys an OptionsBook and an
    OptionsDesk (named by the engine once), a mock volatility feed per
    expiry, the margin and trade rules, and a call and a put per strike;
    the expiry (08:00 UTC, 30 days on) is recorded so a rerun keeps it and
    sends nothing; a changed rule is one transaction."""
    from xmargin.chain.abi import clearinghouse_at

    raw = BASE | {"pool": {}, "options": OPTIONS}
    now = chain.blocks.head.timestamp
    first = run(raw)
    record = first.record
    expiry = record.expiries["WETH+30d"]
    assert expiry == (now + 30 * 86_400) // 86_400 * 86_400 + 8 * 3_600 or (
        expiry == (now + 30 * 86_400 + 60) // 86_400 * 86_400 + 8 * 3_600
    )
    assert expiry % 86_400 == 8 * 3_600
    ch = clearinghouse_at(project, record.contracts["Clearinghouse"])
    book = project.OptionsBook.at(record.contracts["OptionsBook"])
    desk = project.OptionsDesk.at(record.contracts["OptionsDesk"])
    assert ch.options_desk() == desk.address
    weth = record.assets["WETH"].token
    assert book.num_series() == 4 == book.live_series()
    for strike in (2_800, 3_000):
        for is_call in (True, False):
            book.find_series(weth, strike * E18, expiry, is_call)
    assert tuple(book.margin_params(weth)) == (
        15 * E18 // 100,
        E18 // 10,
        75 * E18 // 1_000,
        E18 // 20,
    )
    assert tuple(desk.trade_rules(weth)) == (E18 // 20, E18 // 10, 1_000 * E18, 5, 120)
    assert (desk.reserve_factor(), desk.liquidation_penalty()) == (E18 // 2, E18 // 100)
    # the mock volatility feed answers 80 % and the book marks with it
    assert book.mark(0) > 0
    assert run(raw).transactions == 0
    changed = copy.deepcopy(raw)
    changed["options"]["underlyings"][0]["window"] = 300
    assert run(changed).transactions == 1
    assert desk.trade_rules(weth).window == 300
    assert book.num_series() == 4


def test_options_config_is_checked():
    """A section's own rules first (its minimum above its cap), then the
    rules across sections: a configured asset, a pool, at most 16 series."""
    from xmargin.chain.config import ConfigError

    bad = copy.deepcopy(OPTIONS)
    bad["underlyings"][0]["min_size"] = "2000"
    with pytest.raises(ConfigError, match="min_size above max_oi"):
        parse_config(BASE | {"pool": {}, "options": bad}, name="bad")
    bad = copy.deepcopy(OPTIONS)
    bad["underlyings"][0]["asset"] = "USDC"
    bad["underlyings"][0]["expiries"][0]["strikes"] = [str(s) for s in range(2000, 2900, 100)]
    with pytest.raises(ConfigError) as err:
        parse_config(BASE | {"options": bad}, name="bad")
    text = str(err.value)
    assert "must be one of the configured assets, not 'USDC'" in text
    assert "18 series (a call and a put per strike): at most 16 at once" in text
    assert "options need a `pool`" in text


def test_expiries_keep_their_dates_when_reordered_and_past_ones_are_left(run, project, chain):
    """The review: expiries were recorded by their place in the list, so a
    7-day expiry put before the deployed 30-day one took its date; and an
    `at` expiry already past aborted the deploy (the router refuses a
    past volatility feed). Expiries are keyed by `at` or `days`, and one
    less than an hour away is left alone."""
    raw = BASE | {"pool": {}, "options": copy.deepcopy(OPTIONS)}
    thirty = run(raw).record.expiries["WETH+30d"]
    changed = copy.deepcopy(raw)
    expiries = changed["options"]["underlyings"][0]["expiries"]
    past = copy.deepcopy(expiries[0])
    past.pop("days")
    past["at"] = int(chain.blocks.head.timestamp) - 86_400
    expiries[:] = [copy.deepcopy(expiries[0]) | {"days": 7}, expiries[0], past]
    record = run(changed).record
    assert record.expiries["WETH+30d"] == thirty
    assert record.expiries["WETH+7d"] < thirty - 20 * 86_400
    book = project.OptionsBook.at(record.contracts["OptionsBook"])
    assert book.num_series() == 8  # 2 strikes x call and put, two expiries
    assert run(changed).transactions == 0


def test_options_config_refuses_twice_listed_expiries_and_strikes():
    from xmargin.chain.config import ConfigError

    bad = copy.deepcopy(OPTIONS)
    e = bad["underlyings"][0]["expiries"]
    e[0]["strikes"] = ["2800", "2800"]
    e.append(copy.deepcopy(e[0]))
    with pytest.raises(ConfigError) as err:
        parse_config(BASE | {"pool": {}, "options": bad}, name="bad")
    assert "lists a strike twice" in str(err.value)
    e[0]["strikes"] = e[1]["strikes"] = ["2800"]
    with pytest.raises(ConfigError, match="lists an expiry twice"):
        parse_config(BASE | {"pool": {}, "options": bad}, name="bad")
