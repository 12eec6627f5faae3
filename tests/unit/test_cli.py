"""`xmargin` (xmargin.ui.cli) error paths through click's CliRunner: each failure
is a click error that says what to do, with a non-zero exit and no traceback.

No real node is needed: a public network's missing record is found before
connecting, a local one's through a stub node that answers its chain id,
and the unreachable node is a free port nobody listens on.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.stub_node import stub_node
from xmargin.chain.deployments import DIR_ENV, DeploymentRecord, record_path, write_record
from xmargin.ui.cli import main

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def cli_runner() -> CliRunner:
    return CliRunner()


def _record_dir(tmp_path: Path, network: str, chain_id: int) -> Path:
    """A deployments directory holding a (fake) record for `network`."""
    directory = tmp_path / "deployments"
    record = DeploymentRecord(
        network=f"ethereum:{network}", chain_id=chain_id, config=network, deployer=OWNER
    )
    write_record(record_path("ethereum", chain_id, directory), record)
    return directory


@pytest.fixture
def cli_record_dir(tmp_path: Path) -> Path:
    return _record_dir(tmp_path, "local", 31337)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _stub_node(chain_id: int) -> Iterator[str]:
    """A JSON-RPC "node" on a free port that answers every call (batches
    too) with `chain_id`, and a block for a block (enough for the checks
    made before a real connection)."""

    def answer(request: dict) -> dict:
        result: object = hex(chain_id)
        if request.get("method") == "eth_getBlockByNumber":
            result = {"number": "0x1", "hash": "0x" + "00" * 32, "timestamp": "0x1"}
        return {"jsonrpc": "2.0", "id": request.get("id", 1), "result": result}

    with stub_node(answer) as node:
        yield node.url


def _failed(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    # A click error, not an exception escaping with a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    "args",
    [
        ["accounts", "--unhealthy"],
        ["status", OWNER],
        ["chart", OWNER, "--sub", "1"],
        ["report"],
    ],
)
def test_no_deployment_record_says_how_to_deploy(cli_runner, tmp_path, args):
    """A local record is keyed by the chain id its node answers (a stub
    node here answers 31337): `ethereum-31337.json`."""
    empty = tmp_path / "nothing-here"
    with _stub_node(31337) as url:
        result = cli_runner.invoke(main, [*args, "--rpc", url], env={DIR_ENV: str(empty)})
    out = _failed(result)
    assert "no deployment for network 'local'" in out
    assert str(empty / "ethereum-31337.json") in out
    assert "ape run deploy --network ethereum:local:<provider>" in out


def test_a_public_networks_missing_record_needs_no_node(cli_runner, tmp_path):
    """Sepolia's chain id is known without a node: the record is looked for
    first, keyed by ecosystem and chain id (issue 21: `ethereum:sepolia`
    and `arbitrum:sepolia` shared `sepolia.json`)."""
    empty = tmp_path / "nothing-here"
    result = cli_runner.invoke(
        main,
        [
            "accounts",
            "--network",
            "ethereum:sepolia:node",
            "--rpc",
            f"http://127.0.0.1:{_free_port()}",
        ],
        env={DIR_ENV: str(empty)},
    )
    assert str(empty / "ethereum-11155111.json") in _failed(result)


def test_a_record_of_the_old_layout_is_named_with_the_move(cli_runner, tmp_path):
    """A record kept by network name (before issue 21) is not read as
    another chain's: the message says which file to move where."""
    directory = _record_dir(tmp_path, "sepolia", 11155111)
    (directory / "ethereum-11155111.json").rename(directory / "sepolia.json")
    result = cli_runner.invoke(
        main, ["accounts", "--network", "ethereum:sepolia:node"], env={DIR_ENV: str(directory)}
    )
    out = _failed(result)
    assert f"mv {directory / 'sepolia.json'} {directory / 'ethereum-11155111.json'}" in out


def test_unreachable_node_says_start_one_or_pass_network(cli_runner, cli_record_dir):
    url = f"http://127.0.0.1:{_free_port()}"
    result = cli_runner.invoke(main, ["accounts", "--rpc", url], env={DIR_ENV: str(cli_record_dir)})
    out = _failed(result)
    assert f"no node at {url}: start one" in out
    assert "--network" in out


def test_default_network_is_a_node_on_8545(cli_runner, cli_record_dir):
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8545)) == 0:
            pytest.skip("something listens on 8545: the default node is there")
    result = cli_runner.invoke(main, ["status", OWNER], env={DIR_ENV: str(cli_record_dir)})
    assert "no node at http://127.0.0.1:8545: start one" in _failed(result)


def test_unknown_network_choice(cli_runner, cli_record_dir):
    result = cli_runner.invoke(
        main, ["report", "--network", "ethereum:nowhere:node"], env={DIR_ENV: str(cli_record_dir)}
    )
    out = _failed(result)
    assert "unknown network 'ethereum:nowhere:node'" in out
    assert "ape networks list" in out


def test_a_broken_record_says_move_it_away(cli_runner, tmp_path):
    directory = tmp_path / "deployments"
    directory.mkdir()
    (directory / "ethereum-11155111.json").write_text("{not json")
    result = cli_runner.invoke(
        main, ["accounts", "--network", "ethereum:sepolia:node"], env={DIR_ENV: str(directory)}
    )
    assert "is not a deployment record" in _failed(result)


@pytest.mark.parametrize("owner", ["0x1234", "alice", OWNER + "00"])
def test_an_owner_that_is_not_an_address_is_a_usage_error(cli_runner, cli_record_dir, owner):
    result = cli_runner.invoke(main, ["status", owner], env={DIR_ENV: str(cli_record_dir)})
    out = _failed(result, code=2)
    assert f"'{owner}' is not an address" in out


def test_an_owner_with_a_broken_checksum_is_refused_with_the_right_form(cli_runner, cli_record_dir):
    """Issue 21: a mixed-case address whose EIP-55 checksum fails was taken
    as another account (one mistyped letter). It is refused, naming the
    checksummed form of the same digits; all lower or upper case has no
    checksum and is taken as is."""
    at = max(k for k, c in enumerate(OWNER) if k > 1 and c.isalpha())
    typo = OWNER[:at] + OWNER[at].swapcase() + OWNER[at + 1 :]  # one letter's case flipped
    assert typo != OWNER and typo.lower() == OWNER.lower()
    result = cli_runner.invoke(main, ["status", typo], env={DIR_ENV: str(cli_record_dir)})
    out = _failed(result, code=2)
    assert "fails its EIP-55 checksum" in out and OWNER in out
    for plain in (OWNER.lower(), "0x" + OWNER[2:].upper()):
        result = cli_runner.invoke(
            main,
            ["status", plain, "--rpc", f"http://127.0.0.1:{_free_port()}"],
            env={DIR_ENV: str(cli_record_dir)},
        )
        assert "no node at" in _failed(result), plain  # got past the address


def test_an_rpc_without_a_scheme_is_http_and_another_scheme_is_refused(cli_runner, cli_record_dir):
    """Issue 21: `--rpc 127.0.0.1:8545` gave `Invalid uri`."""
    port = _free_port()
    result = cli_runner.invoke(
        main, ["accounts", "--rpc", f"127.0.0.1:{port}"], env={DIR_ENV: str(cli_record_dir)}
    )
    assert f"no node at http://127.0.0.1:{port}: start one" in _failed(result)
    result = cli_runner.invoke(
        main, ["accounts", "--rpc", "ftp://127.0.0.1:1"], env={DIR_ENV: str(cli_record_dir)}
    )
    assert "starts with http://, https://, ws:// or wss://" in _failed(result, code=2)


@pytest.mark.parametrize(
    "args", [["chart", OWNER, "--out", "health.jpg"], ["report", "--out", "r.svg"]]
)
def test_a_chart_file_not_named_png_is_refused(cli_runner, cli_record_dir, tmp_path, args):
    """Issue 21: `--out x.jpg` wrote PNG bytes under a .jpg name."""
    result = cli_runner.invoke(main, args, env={DIR_ENV: str(cli_record_dir)})
    assert "the chart is a PNG; name the file *.png" in _failed(result, code=2)


def test_version(cli_runner):
    from importlib.metadata import version

    result = cli_runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"xmargin {version('xmargin')}"


def test_a_negative_sub_account_is_a_usage_error(cli_runner, cli_record_dir):
    result = cli_runner.invoke(
        main, ["chart", OWNER, "--sub", "-1"], env={DIR_ENV: str(cli_record_dir)}
    )
    assert "--sub" in _failed(result, code=2)


def test_help_lists_the_four_commands(cli_runner):
    result = cli_runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("status", "accounts", "chart", "report"):
        assert command in result.output


def test_abi_needs_no_chain_and_writes_every_contracts_file(cli_runner, tmp_path, project):
    """`xmargin abi` prints the Clearinghouse's merged ABI (no node, no
    record: the compiled contracts only); `--contract` picks another;
    `--out` writes every contract's file and names each."""
    from xmargin.chain.abi import abi_json
    from xmargin.chain.sizes import DEPLOYABLES

    result = cli_runner.invoke(main, ["abi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == abi_json(project, "Clearinghouse")
    names = {i.get("name") for i in json.loads(result.output)}
    # The extensions' entry points are in it: the file works at the address.
    assert {"liquidate", "liquidate_many", "trade", "pool_deposit", "Liquidation"} <= names
    result = cli_runner.invoke(main, ["abi", "--contract", "OracleRouter"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == abi_json(project, "OracleRouter")
    out = tmp_path / "abi"
    result = cli_runner.invoke(main, ["abi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(out / f"{n}.json") for n in DEPLOYABLES]
    assert all(json.loads((out / f"{n}.json").read_text()) for n in DEPLOYABLES)
    result = cli_runner.invoke(main, ["abi", "--contract", "Nope"])
    assert "Nope" in _failed(result, 2)


@pytest.fixture
def sepolia_record_dir(tmp_path: Path) -> Path:
    return _record_dir(tmp_path, "sepolia", 11155111)


def test_an_unset_node_url_variable_is_named(cli_runner, sepolia_record_dir):
    """Issue 21: with XMARGIN_SEPOLIA_RPC unset, a Sepolia read failed with
    Ape's `Missing URI` (earlier `Invalid uri: ${XMARGIN_SEPOLIA_RPC}`)."""
    import os

    if os.environ.get("XMARGIN_SEPOLIA_RPC"):
        pytest.skip("XMARGIN_SEPOLIA_RPC is set in this shell")
    result = cli_runner.invoke(
        main,
        ["accounts", "--network", "ethereum:sepolia:node"],
        env={DIR_ENV: str(sepolia_record_dir)},
    )
    out = _failed(result)
    assert "network 'sepolia' has no node URL" in out
    assert "export XMARGIN_SEPOLIA_RPC=<your sepolia node's URL>" in out


def test_a_node_of_another_chain_is_named_with_both_chain_ids(cli_runner, sepolia_record_dir):
    """Issue 21: a Sepolia choice pointed at a local node raised Ape's raw
    NetworkMismatchError. A stub node answers eth_chainId 31337."""
    with _stub_node(31337) as url:
        result = cli_runner.invoke(
            main,
            ["accounts", "--network", "ethereum:sepolia:node", "--rpc", url],
            env={DIR_ENV: str(sepolia_record_dir)},
        )
    out = _failed(result)
    assert f"the node at {url} serves chain 31337, not sepolia's (11155111)" in out


def test_the_node_url_variable_is_read_from_the_projects_config(tmp_path):
    from xmargin.chain.network import uri_variable

    assert uri_variable("ethereum", "sepolia") == "XMARGIN_SEPOLIA_RPC"
    assert uri_variable("ethereum", "local") is None  # a literal URL
    assert uri_variable("ethereum", "mainnet") is None  # not configured
    config = tmp_path / "ape-config.yaml"
    config.write_text("node:\n  ethereum:\n    holesky:\n      uri: ${MY_HOLESKY}\n")
    assert uri_variable("ethereum", "holesky", config) == "MY_HOLESKY"
