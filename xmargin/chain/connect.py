"""Connecting a reader (the CLI) to a running node and its deployment record.

`connect(choice, rpc)` is a context manager that yields a `Connection`:
the connected Ape provider, the network and the deployment record of that
network, checked against the chain. It never starts a node: Ape's node
provider would start `geth --dev` on a local network it cannot reach, and
ape-foundry an anvil (whose fresh chain holds nothing); a reader must look
at the chain that is already there. Every way this can fail raises
`ConnectError` (or `xmargin.chain.deployments.DeploymentError`) with a message
that says what to do, in this order:

1. the network choice is unknown to Ape;
2. a public network has no deployment record (records are keyed by
   ecosystem and chain id, and a public network's chain id is known without
   a node, so this needs none);
3. the network has no node URL (its `ape-config.yaml` entry reads an
   environment variable that is not set: the message names it);
4. no node answers at the provider's URI;
5. the node serves another chain than the network's (a Sepolia choice
   pointed at a local node);
6. a local network has no record for the chain id its node answers;
7. the record is for another chain with the same id (its genesis block
   differs: a restarted local node).

The chain id is asked of the node itself: Ape's node provider reports the
configured one for local networks (1337 unless `node.ethereum.local.chain_id`
says otherwise), whatever the node answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ape import networks
from ape.api.networks import ProviderContextManager
from ape.api.providers import ProviderAPI
from ape.exceptions import ConfigError, NetworkError, NetworkMismatchError, ProviderError

from xmargin.chain.deployments import DeploymentRecord, require_record
from xmargin.chain.network import (
    PROBE_TIMEOUT,
    ConnectError,
    NetworkInfo,
    check_genesis,
    find_record,
    no_uri,
    other_chain,
    unreachable,
)
from xmargin.chain.pinned import PinnedReads, UnansweredError, pinned


def network_info(provider: ProviderAPI) -> NetworkInfo:
    """The NetworkInfo of a connected Ape provider. A local network's chain
    id is the node's own: records are keyed by it, and Ape's node provider
    reports the configured one whatever the node is."""
    network = provider.network
    return NetworkInfo(
        ecosystem=network.ecosystem.name,
        name=network.name,
        chain_id=node_chain_id(provider) if network.is_local else provider.chain_id,
        is_local=network.is_local,
    )


@dataclass(frozen=True)
class Connection:
    provider: ProviderAPI
    network: NetworkInfo
    record: DeploymentRecord
    record_path: Path
    # Every request to the node, cached and pinned to one block (an
    # on an http(s) node); None otherwise.
    reads: PinnedReads | None = None


def genesis_hash(provider: ProviderAPI) -> str:
    """0x-hash of block 0: what a deployment record's `genesis` is compared to."""
    genesis = provider.get_block(0).hash
    assert genesis is not None, "block 0 has a hash"
    return "0x" + bytes(genesis).hex()


def provider_for(choice: str, rpc: str | None = None) -> ProviderAPI:
    """Ape's (unconnected) provider for a network choice, at `rpc` if given."""
    try:
        provider = networks.get_provider_from_choice(network_choice=choice)
        if rpc is not None:
            # ape-foundry calls its node URL `host`; Ape's node provider, `uri`.
            key = "host" if provider.name == "foundry" else "uri"
            provider = networks.get_provider_from_choice(
                network_choice=choice, provider_settings={key: rpc}
            )
    except NetworkError as err:
        raise ConnectError(
            f"unknown network '{choice}' ({err}): pass --network <ecosystem>:<network>:<provider> "
            "(see `ape networks list`)"
        ) from err
    return provider


@contextmanager
def connect(choice: str, rpc: str | None = None) -> Iterator[Connection]:
    """Connects to the node of `choice` (at `rpc` if given) and yields the
    Connection, disconnecting after. See the module's notes for the errors.

    Every request to an http(s) node goes through a
    `xmargin.chain.pinned.PinnedReads` for the connection's life: one
    block, each question asked once, the opening questions (which also
    probe the node, PROBE_TIMEOUT) in one request (`Connection.reads`, for
    the command's prefetches)."""
    with ExitStack() as stack:
        yield stack.enter_context(_connect(choice, rpc, stack))


@contextmanager
def _connect(choice: str, rpc: str | None, stack: ExitStack) -> Iterator[Connection]:
    provider = provider_for(choice, rpc)
    name = provider.network.name
    ecosystem = provider.network.ecosystem.name
    is_local = provider.network.is_local
    # A public network's chain id is fixed: its record is looked for before
    # any node. A local one's is the node's own, asked below.
    path = None if is_local else find_record(ecosystem, name, provider.network.chain_id)
    try:
        uri = str(getattr(provider, "uri", "") or "")
    except (ProviderError, ConfigError) as err:
        # No URL ("Missing URI"), or the config's `${VAR}` left unexpanded
        # ("Invalid uri: ${VAR}"), as Ape loaded it.
        raise no_uri(ecosystem, name) from err
    reads = None
    if uri.startswith(("http://", "https://")):
        reads = stack.enter_context(pinned(uri))
        try:
            answered = reads.start(probe_timeout=PROBE_TIMEOUT)
        except UnansweredError as err:
            raise unreachable(uri) from err
        if not is_local and answered != provider.network.chain_id:
            raise other_chain(uri, answered, name, provider.network.chain_id)
        if path is None:
            path = find_record(ecosystem, name, answered)
    # A reader looks at the chain that is there: never start a node.
    if hasattr(provider, "allow_start"):
        provider.allow_start = False
    # What `networks.parse_network_choice(choice)` returns, around the
    # provider configured above.
    context = ProviderContextManager(provider=provider)
    try:
        connected = context.__enter__()
    except NetworkMismatchError as err:
        raise ConnectError(
            f"{err}: pass the --network this node serves, or --rpc a node of '{name}'"
        ) from err
    try:
        if not connected.is_connected:
            raise unreachable(uri or choice)
        network = network_info(connected)
        chain_id = network.chain_id
        if path is None:
            path = find_record(ecosystem, name, chain_id)
        record = require_record(ecosystem, name, chain_id)
        check_genesis(record, genesis_hash(connected), name)
        yield Connection(
            provider=connected, network=network, record=record, record_path=path, reads=reads
        )
    finally:
        context.__exit__(None)


def node_chain_id(provider: ProviderAPI) -> int:
    """The chain id the node itself reports (not the provider's configured one)."""
    answer = provider.make_request("eth_chainId", [])
    return answer if isinstance(answer, int) else int(answer, 16)
