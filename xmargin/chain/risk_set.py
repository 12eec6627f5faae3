"""The engine's portfolio-margin configuration, read from chain.

The scenario set is a `PortfolioRisk` contract (immutable; the engine's
`portfolio_risk()` names the one in force) and each asset's risk group is
the engine's `risk_group(asset)`. This turns both into an
`xmargin.maths.portfolio.PortfolioConfig` keyed by the deployment's asset
symbols, so a portfolio account read from chain can be recomputed with the
model (`xmargin.chain.engine.read_account`) and explained (`xmargin status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from xmargin.maths import portfolio as pm

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance


def risk_set_address(ch: ContractInstance, block_id: int | None = None) -> str | None:
    """The PortfolioRisk in force, or None while portfolio margin is off."""
    address = str(ch.portfolio_risk(block_id=block_id))
    return None if int(address, 16) == 0 else address


def read_set(
    risk: ContractInstance, block_id: int | None = None
) -> tuple[pm.ScenarioSet, pm.PortfolioParams]:
    """The immutable part: the scenarios (named s0, s1, ...) and the params."""
    at = {"block_id": block_id}
    groups = risk.num_groups(**at)
    vols = risk.vol_shocks(**at)
    weights = risk.weights(**at)
    scenarios = tuple(
        pm.Scenario(
            f"s{s}",
            tuple(risk.shock(s, g, **at) for g in range(groups)),
            int(vols[s]),
            int(weights[s]),
        )
        for s in range(risk.num_scenarios(**at))
    )
    params = pm.PortfolioParams(
        floor_fraction=risk.floor_fraction(**at),
        min_per_position=risk.min_per_position(**at),
        im_factor=risk.im_factor(**at),
        short_option_min=risk.short_option_min(**at),
        concentration=tuple((int(c[0]), int(c[1])) for c in risk.concentrations(**at)),
        credits=tuple((int(c[0]), int(c[1]), int(c[2])) for c in risk.credits(**at)),
    )
    return pm.ScenarioSet(scenarios), params


def read_groups(
    ch: ContractInstance, tokens: Mapping[str, str], block_id: int | None = None
) -> dict[str, int]:
    """symbol -> the engine's risk group of that token."""
    return {symbol: ch.risk_group(address, block_id=block_id) for symbol, address in tokens.items()}


def read_config(
    ch: ContractInstance,
    risk: ContractInstance,
    tokens: Mapping[str, str],
    block_id: int | None = None,
) -> pm.PortfolioConfig:
    """`risk`: the PortfolioRisk instance; `tokens`: symbol -> token address
    of every asset (collateral and markets' oracle keys)."""
    scenarios, params = read_set(risk, block_id)
    names = tuple(f"group {g}" for g in range(scenarios.groups))
    return pm.PortfolioConfig(
        pm.RiskGroups(names, read_groups(ch, tokens, block_id)), scenarios, params
    )
