"""The real deploy script on anvil: local mocks, idempotency, a testnet path.

Expected values are written out by hand from `config/local.yaml`, not read
back through the config parser under test.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from eth_account import Account
from web3 import Web3

from tests.integration.conftest import ANVIL_ACCOUNT_0, ROOT
from xmargin.chain.sizes import DEPLOYABLES
from xmargin.maths import errors

pytestmark = pytest.mark.integration

E18 = 10**18
# config/local.yaml, by hand: symbol -> (im_haircut, mm_haircut, cap, price)
LOCAL_ASSETS = {
    "WETH": (20 * E18 // 100, 10 * E18 // 100, 20_000 * E18, 3_000 * E18),
    "WBTC": (15 * E18 // 100, 8 * E18 // 100, 1_000 * 10**8, 60_000 * E18),
    "LINK": (35 * E18 // 100, 25 * E18 // 100, 2_000_000 * E18, 15 * E18),
}
USDC_CAP = 100_000_000 * 10**6
# 4 mock tokens + 3 mock feeds + router + 3 set_feed + admin, liquidator,
# pool and orders extensions + Clearinghouse + 3 list_asset + LiquidityPool
# + set_pool + set_pool_buffer + set_total_reserve_factor + 2 list_market + 2
# set_market_caps + 2 set_order_rules + set_liquidation_params
# + set_liquidation_capacity + PortfolioRisk + set_portfolio_risk + 3 set_risk_group (WETH stays in
# group 0) + lens; the options: OptionsBook, OptionsDesk, set_options_desk,
# set_pool_limits, set_margin_params, set_trade_rules, a mock vol feed,
# set_vol_feed, 6 list_series (a call and a put at 3 strikes)
LOCAL_DEPLOY_TXS = 51

TESTNET_CONFIG = """
quote: {symbol: USDC, decimals: 6, cap: "1000000"}
assets:
  - symbol: WETH
    decimals: 18
    im_haircut: "0.2"
    mm_haircut: "0.1"
    cap: "100"
    feed: {decimals: 8, price: "3000", heartbeat: 3600, min_price: "1", max_price: "100000"}
"""


def _contract(w3: Web3, abi, name: str, address: str):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))


def _record(deployments_dir: Path, key: str) -> dict:
    """The record `<ecosystem>-<chain id>.json`, e.g. `ethereum-31337`."""
    return json.loads((deployments_dir / f"{key}.json").read_text())


def _ok(result) -> str:
    assert result.returncode == 0, f"ape run failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def deploy_crowd(node, ape_run, deployments_dir: Path, abi, count: int):
    """`ape run deploy` then `ape run crowd --count <count>` on `node`, as a
    user would: (record, Clearinghouse, lens, the crowd's accounts)."""
    on_node = ("--network", "ethereum:local:foundry", "--provider-settings")
    on_node += (json.dumps({"host": node.url}),)
    _ok(ape_run("deploy", *on_node))
    _ok(ape_run("crowd", *on_node, "--count", str(count)))
    record = _record(deployments_dir, "ethereum-31337")
    ch = _contract(node.w3, abi, "Clearinghouse", record["contracts"]["Clearinghouse"])
    lens = _contract(node.w3, abi, "ClearinghouseLens", record["contracts"]["ClearinghouseLens"])
    accounts = [tuple(ch.functions.account_at(i).call()) for i in range(count)]
    return record, ch, lens, accounts


def test_local_deploy_converges_and_is_idempotent(
    start_anvil, ape_run, deployments_dir, abi, tmp_path
):
    node = start_anvil()
    on_node = (
        "--network",
        "ethereum:local:foundry",
        "--provider-settings",
        json.dumps({"host": node.url}),
    )

    # A dry run on a local node runs between a snapshot and its revert:
    # the plan, and the node as it was (no block, no nonce, no record).
    head = node.w3.eth.block_number
    out = _ok(ape_run("deploy", *on_node, "--dry-run"))
    assert f"dry run on a snapshot of ethereum:local (chain 31337) at block {head}" in out
    assert len(_plan_rows(out)) == LOCAL_DEPLOY_TXS
    assert node.w3.eth.block_number == head
    assert node.w3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == 0
    assert list(deployments_dir.glob("*")) == []

    out = _ok(ape_run("deploy", *on_node))
    assert f"{LOCAL_DEPLOY_TXS} transaction(s) sent" in out
    assert node.w3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == LOCAL_DEPLOY_TXS

    record = _record(deployments_dir, "ethereum-31337")
    assert record["chain_id"] == 31337
    assert record["genesis"] == "0x" + bytes(node.w3.eth.get_block(0)["hash"]).hex()
    # Beside the record, every contract's ABI (issue 21): the Clearinghouse's
    # file alone reaches the extensions' functions at its address.
    published = deployments_dir / "ethereum-31337.abi"
    for name in DEPLOYABLES:
        assert json.loads((published / f"{name}.json").read_text()) == abi(name), name
    ch = node.w3.eth.contract(
        address=record["contracts"]["Clearinghouse"],
        abi=json.loads((published / "Clearinghouse.json").read_text()),
    )
    assert ch.functions.LIQUIDATOR().call() == record["contracts"]["ClearinghouseLiquidator"]
    assert ch.functions.ADMIN().call() == record["contracts"]["ClearinghouseAdmin"]
    router = _contract(node.w3, abi, "OracleRouter", record["contracts"]["OracleRouter"])
    assert ch.functions.owner().call() == ANVIL_ACCOUNT_0
    assert router.functions.owner().call() == ANVIL_ACCOUNT_0
    assert ch.functions.oracle().call() == router.address
    usdc = record["assets"]["USDC"]["token"]
    assert ch.functions.quote_asset().call() == usdc
    assert ch.functions.asset_config(usdc).call()[6] == USDC_CAP
    listed = ch.functions.listed_assets().call()
    assert listed == [record["assets"][s]["token"] for s in ("USDC", "WETH", "WBTC", "LINK")]
    for symbol, (im, mm, cap, price) in LOCAL_ASSETS.items():
        token = record["assets"][symbol]["token"]
        # Asset struct: listed, index, decimals, precision, im_haircut, mm_haircut, cap
        cfg = ch.functions.asset_config(token).call()
        assert (cfg[0], cfg[4], cfg[5], cfg[6]) == (True, im, mm, cap), symbol
        assert router.functions.price(token).call() == price, symbol

    # The pool and the two markets of config/local.yaml.
    assert ch.functions.pool().call() == record["contracts"]["LiquidityPool"]
    assert ch.functions.pool_buffer().call() == E18 // 10
    assert record["markets"] == {"ETH-PERP": 0, "BTC-PERP": 1}
    eth = ch.functions.market_params(0).call()
    assert tuple(eth[:3]) == (record["assets"]["WETH"]["token"], E18 // 10, E18 // 20)
    assert eth[5] == 1_000_000 * E18  # skew scale
    btc = ch.functions.market_params(1).call()
    assert (btc[0], btc[1], btc[8]) == (
        record["assets"]["WBTC"]["token"],
        8 * E18 // 100,
        500 * E18,
    )

    # Portfolio margin: the scenario set in force, every asset in its group.
    assert ch.functions.portfolio_risk().call() == record["contracts"]["PortfolioRisk"]
    groups = [ch.functions.risk_group(record["assets"][s]["token"]).call() for s in LOCAL_ASSETS]
    assert groups == [0, 1, 3]  # WETH, WBTC, LINK (USDC is group 2)
    assert ch.functions.risk_group(usdc).call() == 2

    # Same config again: nothing to send.
    out = _ok(ape_run("deploy", *on_node))
    assert "no transaction sent" in out
    assert node.w3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == LOCAL_DEPLOY_TXS

    # One changed cap: exactly one transaction, and the chain follows.
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        (ROOT / "config" / "local.yaml").read_text().replace('cap: "20000"', 'cap: "25000"')
    )
    out = _ok(ape_run("deploy", *on_node, "--config", str(changed)))
    assert "1 transaction(s) sent" in out
    assert node.w3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == LOCAL_DEPLOY_TXS + 1
    weth = record["assets"]["WETH"]["token"]
    assert ch.functions.asset_config(weth).call()[6] == 25_000 * E18
    assert _record(deployments_dir, "ethereum-31337")["contracts"] == record["contracts"]


def _keyfile_deployer(node, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """An imported keyfile account `deployer`, as `ape accounts import`
    leaves it, in a private Ape data folder, funded with 10 ETH; and the
    environment of a run that signs with it (passphrase from the variable)."""
    data = tmp_path / "ape-data"
    (data / "accounts").mkdir(parents=True)
    deployer = Account.create()
    keyfile = Account.encrypt(deployer.key, "correct horse battery staple")
    (data / "accounts" / "deployer.json").write_text(json.dumps(keyfile))
    node.w3.provider.make_request("anvil_setBalance", [deployer.address, hex(10 * E18)])
    env = {
        "APE_DATA_FOLDER": str(data),
        "XMARGIN_SEPOLIA_RPC": node.url,
        "APE_ACCOUNTS_deployer_PASSPHRASE": "correct horse battery staple",
    }
    return deployer.address, env


def test_testnet_deploy_with_keyfile_account(start_anvil, ape_run, deployments_dir, abi, tmp_path):
    node = start_anvil(chain_id=11155111)
    deployer, env = _keyfile_deployer(node, tmp_path)
    config = tmp_path / "testnet.yaml"
    config.write_text(TESTNET_CONFIG)
    args = (
        "deploy",
        "--network",
        "ethereum:sepolia:node",
        "--account",
        "deployer",
        "--config",
        str(config),
    )

    # Mocks on a non-local chain are refused before anything is sent.
    refused = ape_run(*args, env=env)
    assert refused.returncode != 0
    assert "allow_mocks: true" in refused.stdout + refused.stderr
    assert node.w3.eth.get_transaction_count(deployer) == 0
    assert list(deployments_dir.glob("*")) == []

    # Without the passphrase variable and without a terminal to ask on, the
    # first signature fails: nothing sent and, issue 21, no empty record
    # left behind for the next reader to take for a deployment.
    config.write_text("allow_mocks: true\n" + TESTNET_CONFIG)
    no_passphrase = {k: v for k, v in env.items() if not k.endswith("_PASSPHRASE")}
    aborted = ape_run(*args, env=no_passphrase)  # stdin: /dev/null
    assert aborted.returncode != 0
    assert node.w3.eth.get_transaction_count(deployer) == 0
    assert list(deployments_dir.glob("*")) == []

    # Named explicitly, they are deployed: 2 tokens, 1 feed, router, set_feed,
    # admin, liquidator, pool and orders extensions, Clearinghouse,
    # list_asset, lens.
    out = _ok(ape_run(*args, env=env))
    assert "12 transaction(s) sent" in out
    assert node.w3.eth.get_transaction_count(deployer) == 12
    assert node.w3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == 0
    record = _record(deployments_dir, "ethereum-11155111")
    assert record["chain_id"] == 11155111
    assert record["deployer"] == deployer
    ch = _contract(node.w3, abi, "Clearinghouse", record["contracts"]["Clearinghouse"])
    assert ch.functions.owner().call() == deployer
    weth = record["assets"]["WETH"]["token"]
    assert ch.functions.asset_config(weth).call()[6] == 100 * E18

    # Idempotent on the testnet path too.
    out = _ok(ape_run(*args, env=env))
    assert "no transaction sent" in out
    assert node.w3.eth.get_transaction_count(deployer) == 12

    # With a wrong passphrase the keyfile stays locked: a config change that
    # needs a transaction is not sent, by this or by any other account.
    config.write_text(("allow_mocks: true\n" + TESTNET_CONFIG).replace('cap: "100"', 'cap: "200"'))
    locked = ape_run(*args, env={**env, "APE_ACCOUNTS_deployer_PASSPHRASE": "wrong"})
    assert locked.returncode != 0
    assert node.w3.eth.get_transaction_count(deployer) == 12
    assert node.w3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == 0
    assert ch.functions.asset_config(weth).call()[6] == 100 * E18


def _plant(node, abi, project, name: str, args: tuple, at: str) -> None:
    """Puts a mock's code and state at `at`, an address of the real network
    the node stands in for: deployed once from anvil's account 0, then its
    runtime code copied there (`anvil_setCode`) with its first storage
    slots (every non-mapping variable of the mocks lives in them)."""
    container = getattr(project, name).contract_type
    factory = node.w3.eth.contract(abi=abi(name), bytecode=container.deployment_bytecode.bytecode)
    receipt = node.w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": ANVIL_ACCOUNT_0})
    )
    source = receipt["contractAddress"]
    rpc = node.w3.provider.make_request
    rpc("anvil_setCode", [at, "0x" + bytes(node.w3.eth.get_code(source)).hex()])
    for slot in range(32):
        value = node.w3.eth.get_storage_at(source, slot)
        rpc("anvil_setStorageAt", [at, hex(slot), "0x" + bytes(value).hex().rjust(64, "0")])


def _plan_rows(out: str) -> list[tuple[str, int]]:
    """(what, gas) of each row of a dry run's plan."""
    rows = re.findall(r"^ +\d+  (.+?) +([\d,]+)$", out, flags=re.M)
    return [(what.strip(), int(gas.replace(",", ""))) for what, gas in rows]


def test_sepolia_example_dry_run_then_deploy(
    start_anvil, ape_run, deployments_dir, abi, project, tmp_path
):
    """Issue 21's testnet path, for real: `config/sepolia.example.yaml` (real
    Sepolia tokens and Chainlink feeds, no mocks) on an anvil serving chain
    11155111 whose config addresses hold mock code, deployed by an imported
    keyfile account. The dry run needs no passphrase, sends nothing, writes
    no record and leaves no fork running; the real run then sends exactly
    the planned transactions, with the planned gas."""
    node = start_anvil(chain_id=11155111)
    deployer, env = _keyfile_deployer(node, tmp_path)
    example = yaml.safe_load((ROOT / "config" / "sepolia.example.yaml").read_text())
    for a in [example["quote"], *example["assets"]]:
        token = (a["symbol"], a["symbol"], a["decimals"])
        _plant(node, abi, project, "MockERC20", token, a["address"])
    prices = {"WETH": 3_000, "LINK": 15}
    for a in example["assets"]:
        feed = a["feed"]
        args = (feed["decimals"], f"{a['symbol']} / USD", prices[a["symbol"]] * 10**8)
        _plant(node, abi, project, "MockAggregator", args, feed["address"])
    deploy = ("deploy", "--network", "ethereum:sepolia:node", "--account", "deployer")
    args = (*deploy, "--config", "sepolia.example")
    no_passphrase = {k: v for k, v in env.items() if not k.endswith("_PASSPHRASE")}
    head = node.w3.eth.block_number

    out = _ok(ape_run(*args, "--dry-run", env=no_passphrase))
    assert f"dry run on a fork of ethereum:sepolia (chain 11155111) at block {head}" in out
    planned = _plan_rows(out)
    # router, 2 set_feed, admin, liquidator, pool and orders extensions,
    # Clearinghouse, 2 list_asset (USDC is listed by the constructor),
    # LiquidityPool, set_pool, set_pool_buffer, set_total_reserve_factor,
    # 2 list_market, 2 set_market_caps, 2 set_order_rules,
    # set_liquidation_params, set_liquidation_capacity, lens
    assert len(planned) == 23, out
    total = sum(g for _, g in planned)
    assert f"a real run would send 23 transaction(s) using {total:,} gas" in out
    assert node.w3.eth.get_transaction_count(deployer) == 0
    assert node.w3.eth.block_number == head
    assert list(deployments_dir.glob("*")) == []
    leftover = subprocess.run(["pgrep", "-f", f"fork-url {node.url}"], capture_output=True)
    assert leftover.returncode == 1, "the dry run's fork is still running"

    out = _ok(ape_run(*args, env=env))
    assert "23 transaction(s) sent" in out
    record = _record(deployments_dir, "ethereum-11155111")
    sent = [(t["what"], t["gas_used"]) for t in record["transactions"]]
    assert [w for w, _ in sent] == [w for w, _ in planned]
    for (what, gas), (_, planned_gas) in zip(sent, planned, strict=True):
        assert abs(gas - planned_gas) <= planned_gas // 100, what
    for t in record["transactions"]:
        receipt = node.w3.eth.get_transaction_receipt(t["hash"])
        assert (receipt["from"], receipt["gasUsed"]) == (deployer, t["gas_used"])
    config_bytes = (ROOT / "config" / "sepolia.example.yaml").read_bytes()
    assert record["config_sha256"] == hashlib.sha256(config_bytes).hexdigest()
    weth, link = (a["address"] for a in example["assets"])
    assert record["assets"]["WETH"]["token"] == weth
    assert record["assets"]["WETH"]["feed"] == example["assets"][0]["feed"]["address"]
    router = _contract(node.w3, abi, "OracleRouter", record["contracts"]["OracleRouter"])
    assert router.functions.price(weth).call() == 3_000 * E18
    assert router.functions.price(link).call() == 15 * E18
    ch = _contract(node.w3, abi, "Clearinghouse", record["contracts"]["Clearinghouse"])
    assert ch.functions.quote_asset().call() == example["quote"]["address"]
    assert [ch.functions.market_params(m).call()[0] for m in (0, 1)] == [weth, link]

    # A dry run of the deployed config plans nothing; of a changed cap, the
    # one transaction a real run would send; neither sends it.
    out = _ok(ape_run(*args, "--dry-run", env=no_passphrase))
    assert "a real run would send nothing" in out
    changed = tmp_path / "changed.yaml"
    changed.write_text(config_bytes.decode().replace('cap: "500"', 'cap: "800"'))
    out = _ok(ape_run(*deploy, "--config", str(changed), "--dry-run", env=no_passphrase))
    assert [w for w, _ in _plan_rows(out)] == ["set WETH haircuts and cap"]
    assert node.w3.eth.get_transaction_count(deployer) == 23

    # Verification needs an explorer plugin (none installed here): said
    # before anything is sent.
    refused = ape_run(*deploy, "--config", str(changed), "--verify", env=env)
    assert refused.returncode != 0
    assert "pip install ape-etherscan" in refused.stdout + refused.stderr
    # A dry run with --verify says so too, instead of planning a run that
    # would be refused.
    refused = ape_run(*deploy, "--config", str(changed), "--verify", "--dry-run", env=env)
    assert refused.returncode != 0
    assert "pip install ape-etherscan" in refused.stdout + refused.stderr
    assert node.w3.eth.get_transaction_count(deployer) == 23


def test_demo_end_to_end(ape_run):
    """`make demo`'s command, with ape-foundry starting and stopping anvil."""
    result = ape_run("demo", "--network", "ethereum:local:foundry")
    out = _ok(result)
    # Hand-computed, the hedger (5,000 USDC + 10 WETH, short 10 ETH-PERP by
    # a delayed order): quote 5,000 - 1 settlement fee - 30 fee - 0.15
    # premium = 4,968.85; equity 4,968.85 + 27,000
    assert "31,968.85" in out
    # After WETH -30 %: 4,968.85 + 10 * 2,100 * 0.90 + 9,000 perp PnL
    assert "32,868.85" in out
    assert "the keeper settles 5 orders (0 refused, 0 reverted) and earns 5.00 USDC" in out
    # The option books (issue 23): five legs executed by the keeper. The
    # covered call (1 WETH + 1,000 USDC, short the $3,200 call at $3,000):
    # IM max(15 % x 3,000 - 200, 10 % x 3,000) = 300 plus the WETH haircut
    # gap 3,000 x (20 % - 10 %) = 300; MM max(7.5 % x 3,000 - 200, 5 % x
    # 3,000) = 150.
    assert "the keeper executes 5 orders (0 refused)" in out
    assert "IM $600.00, MM $150.00: healthy; the model agrees" in out
    # Each book also as portfolio mode would margin it (the desk's grid,
    # the mirror agreeing), before and after the shock. The put spread's
    # scenario losses and its short-option minimum (1 % x 3,000) are under
    # its floor: 2 positions x $50, IM 1.5 x 100.
    asked = [line for line in out.splitlines() if "portfolio mode would ask" in line]
    assert len(asked) == 6 and all(line.endswith("the model agrees") for line in asked)
    assert "portfolio mode would ask IM $150.00, MM $100.00" in asked[1]
    assert "DISAGREES" not in out
    assert "LIQUIDATABLE" in out
    # The same book in portfolio mode (config/local.yaml's scenarios): V_ETH =
    # 27,000 - 30,000 = -3,000, "crypto up" loses 300 (floor 0.5 % of 30,000
    # = 150): MM 300, IM 1.5 * 300 + 3,000 haircut gap = 3,450. Linear IM is
    # 30,000 * (10 % + 10 / 1e6) + 3,000 = 6,000.30. The grid also moves the
    # funding ETH-PERP accrued since its last trade with the price: a few
    # seconds of the demo's one-second blocks at under $0.00035 per ETH-second
    # (1 %/day of $3,000): under a cent on 10 ETH x 10 %, and the figures
    # are floored to the cent, so MM shows $300.00 or $299.99.
    found = re.search(
        r"portfolio margin IM \$([\d,.]+), MM \$([\d,.]+): \$([\d,.]+) of initial margin freed", out
    )
    assert found is not None
    im, mm, freed = (Decimal(v.replace(",", "")) for v in found.groups())
    assert Decimal("299.99") <= mm <= Decimal("300.00")
    assert abs(im - (Decimal(3000) + Decimal("1.5") * mm)) <= Decimal("0.02")
    assert abs(freed - (Decimal("6000.30") - im)) <= Decimal("0.01")
    # After WETH -30 %: V_ETH = 18,900 - 21,000 = -2,100 (a 210 loss), but the
    # de-peg of its USDC loses 248.978: MM 248.97. (Its quote is 5,000 - 1 -
    # 19.44: the settlement fee, then it sold 10 into a +7 skew, maker fee on
    # 7, taker on 3, 0.06 premium back.)
    assert "│   248.97 │" in out
    assert f"reverted '{errors.BELOW_IM}'" in out
    assert "agrees with the chain" in out
    # The squeeze: BTC traders' profit past its cap, the keeper's ADL
    # closes (one per winner, the last partial) bring it back under it.
    closes = re.search(r"keeper pass: \d+ liquidations, (\d+) auto-deleveraging closes", out)
    assert closes is not None and int(closes.group(1)) > 0
    btc_rows = [line for line in out.splitlines() if line.startswith("│ BTC-PERP │")]
    assert "needed" in btc_rows[-2] and btc_rows[-1].rstrip().endswith("│ no  │")
