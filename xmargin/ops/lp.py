"""LP money in, on a local chain: the whole life of an LP deposit.

With a request delay (every shipped config), a deposit is an ERC-7540
request that settles `REQUEST_DELAY` seconds later on prices published
after then, and is claimed by its controller (docs/orders.md). On a local
chain the mock feeds can be made to publish at once, so `provide` runs the
whole life in a few blocks: the crowd and the benchmarks fund the pool
through it; the demo runs the steps itself and lets its keeper settle.
"""

from __future__ import annotations

from ape.api import AccountAPI
from ape.contracts.base import ContractInstance

from xmargin.chain.deployments import DeploymentError
from xmargin.chain.engine import Engine, publish_after


def vault_of(engine: Engine) -> ContractInstance:
    """The deployment's LiquidityPool."""
    if engine.pool is None:
        raise DeploymentError("the deployment has no LiquidityPool: give the config a `pool`")
    return engine.pool


def request_deposit(engine: Engine, lp: AccountAPI, amount: int) -> bool:
    """Mints `amount` mock quote to `lp` and requests its deposit; on a
    vault without requests deposits at once. True if a request waits."""
    vault = vault_of(engine)
    quote = engine.tokens[engine.quote_symbol]
    quote.mint(lp, amount, sender=lp)
    quote.approve(vault.address, amount, sender=lp)
    if int(vault.REQUEST_DELAY()) == 0:
        vault.deposit(amount, lp, sender=lp)
        return False
    vault.requestDeposit(amount, lp, lp, sender=lp)
    return True


def claim_deposit(engine: Engine, lp: AccountAPI) -> int:
    """Claims every share `lp`'s settled deposits bought; returns them."""
    vault = vault_of(engine)
    assets = int(vault.maxDeposit(lp))
    if assets == 0:
        return 0
    (ev,) = vault.deposit(assets, lp, sender=lp).events.filter(vault.Deposit)
    return int(ev.shares)


def provide(engine: Engine, lp: AccountAPI, amount: int) -> None:
    """Puts `amount` of fresh mock quote in the pool for `lp`: request,
    the feeds publish after the delay, settle, claim. Local chains only."""
    if request_deposit(engine, lp, amount):
        vault = vault_of(engine)
        publish_after(engine, lp, int(vault.REQUEST_DELAY()))
        vault.settle_deposit(lp, sender=lp)
        claim_deposit(engine, lp)
