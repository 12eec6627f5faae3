"""`ape run deploy --dry-run`: what a deploy would send, and its gas; nothing sent.

Like Foundry's `forge script` without `--broadcast`, the real convergence
(`xmargin.ops.deploy.deploy`) runs on a copy of the chain, so the plan is
exactly what a real run would send, in its order, with the gas each
transaction used there:

* on a public network, a fork of it at its head: Ape's `networks.fork()`,
  for which ape-foundry starts an anvil forked from the network's own node
  and stops it after. The deploying account is impersonated on the fork,
  so no key and no passphrase is needed to plan.
* on a local network (which Ape does not fork), the node itself, between an
  `evm_snapshot` and its `evm_revert`: the node ends as it was.

The copy starts from this chain's deployment record (copied to a scratch
directory; the real record is never written), so a re-run plans only the
changes. Mocks are refused on a non-local network exactly as a real run
refuses them: before anything runs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xmargin.chain.deployments import (
    DeploymentError,
    TransactionRecord,
    check_no_legacy_record,
    record_path,
)
from xmargin.chain.network import NetworkInfo
from xmargin.maths.fixed_point import format_units
from xmargin.ops.deploy import check_mocks_allowed, deploy

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.managers.project import ProjectManager

    from xmargin.chain.config import DeployConfig

# What the impersonated deployer holds on a fork: enough for any plan, so
# the plan shows every transaction even when the real balance is short
# (which `Plan.shortfall` then says).
FORK_BALANCE = 10**30


@dataclass(frozen=True)
class Plan:
    network: NetworkInfo
    # The head block the copy started from.
    block: int
    # What a real run would send now, in order, with the gas each used.
    sends: list[TransactionRecord]
    # The network's gas price (wei) and the deployer's balance (wei), both
    # read from the real network, not the copy.
    gas_price: int
    balance: int
    deployer: str

    @property
    def gas(self) -> int:
        return sum(t.gas_used for t in self.sends)

    @property
    def cost(self) -> int:
        """Wei the sends would cost at today's gas price."""
        return self.gas * self.gas_price

    @property
    def shortfall(self) -> int:
        """Wei the deployer lacks for the sends (0 if it has enough)."""
        return max(0, self.cost - self.balance)

    def lines(self) -> list[str]:
        """The plan as a person reads it (`ape run deploy --dry-run`)."""
        where = "a fork of" if not self.network.is_local else "a snapshot of"
        out = [
            f"dry run on {where} {self.network.label} (chain {self.network.chain_id}) "
            f"at block {self.block}: nothing was sent"
        ]
        if not self.sends:
            out.append("already up to date with the config: a real run would send nothing")
            return out
        width = max(len(t.what) for t in self.sends)
        out.append(f"{'#':>4}  {'transaction':{width}}  {'gas':>11}")
        for k, t in enumerate(self.sends, 1):
            out.append(f"{k:>4}  {t.what:{width}}  {t.gas_used:>11,}")
        gwei = format_units(self.gas_price, 9, 3)
        out.append(
            f"a real run would send {len(self.sends)} transaction(s) using {self.gas:,} gas: "
            f"{format_units(self.cost, 18, 6)} ETH at {gwei} gwei; the deployer "
            f"{self.deployer} holds {format_units(self.balance, 18, 6)} ETH"
        )
        if self.shortfall:
            out.append(
                f"the deployer is {format_units(self.shortfall, 18, 6)} ETH short at this gas "
                "price: fund it before the real run"
            )
        return out


def plan(
    project: ProjectManager,
    provider: ProviderAPI,
    sender: AccountAPI,
    config: DeployConfig,
    network: NetworkInfo,
    directory: Path | None = None,
) -> Plan:
    """Runs the deploy of `config` on a copy of the chain `provider` is
    connected to and returns what it sent there (see the module's notes).

    Args:
        sender: the account a real run would send from; on a public
            network only its address is used (it is impersonated on the fork).
        directory: where the real records live (default `deployments/`);
            read, never written.
    """
    check_mocks_allowed(config, network)
    real_record = record_path(network.ecosystem, network.chain_id, directory)
    check_no_legacy_record(network.name, real_record)
    gas_price = int(provider.gas_price)
    balance = int(provider.get_balance(sender.address))
    block = int(provider.get_block("latest").number or 0)
    with tempfile.TemporaryDirectory() as tmp, _copy_of(provider, network) as copy:
        scratch = Path(tmp)
        if real_record.is_file():
            shutil.copy(real_record, scratch / real_record.name)
        on_copy = sender if network.is_local else _impersonated(copy, sender.address)
        result = deploy(project, copy, on_copy, config, network, directory=scratch, log=_quiet)
    sends = result.record.transactions[len(result.record.transactions) - result.transactions :]
    return Plan(
        network=network,
        block=block,
        sends=sends,
        gas_price=gas_price,
        balance=balance,
        deployer=str(sender.address),
    )


def _quiet(_: str) -> None:
    pass


@contextmanager
def _copy_of(provider: ProviderAPI, network: NetworkInfo) -> Iterator[ProviderAPI]:
    """A provider on a copy of the chain: a fork (public), or the node
    itself rolled back after (local)."""
    if network.is_local:
        snapshot = provider.make_request("evm_snapshot", [])
        try:
            yield provider
        finally:
            if provider.make_request("evm_revert", [snapshot]) is not True:
                raise DeploymentError(
                    "the local node did not roll back the dry run (evm_revert refused): it may "
                    "hold the plan's transactions; restart it before deploying"
                )
        return
    from ape import networks

    with networks.fork(provider_name="foundry") as fork:
        yield fork


def _impersonated(fork: ProviderAPI, address: str) -> AccountAPI:
    from ape import accounts

    fork.set_balance(address, FORK_BALANCE)
    # Not `accounts[address]`: that is the keyfile account itself when its
    # alias is loaded, and it would ask to sign.
    return accounts.test_accounts.impersonate_account(address)
