"""An `xmargin.chain.engine.Engine` over contracts a test deployed itself (no
deployment record on disk), for the keeper and the other tools that take one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmargin.chain.deployments import AssetRecord, DeploymentRecord
from xmargin.chain.engine import Engine
from xmargin.chain.risk_set import risk_set_address


def engine_over(
    ch: Any,
    oracle: Any,
    tokens: dict[str, Any],
    feeds: dict[str, Any],
    markets: dict[str, int],
    pool: Any = None,
    deployer: str = "",
    lens: Any = None,
    risk_at: Callable[[str], Any] | None = None,
    desk: Any = None,
) -> Engine:
    """`tokens`: symbol -> token, the quote asset first; `feeds`: symbol ->
    primary feed of each non-quote asset; `markets`: symbol -> market id;
    `risk_at`: the PortfolioRisk instance at an address (Ape's project's
    by default)."""
    record = DeploymentRecord(
        network="ethereum:local:test",
        chain_id=0,
        config="test",
        deployer=deployer,
        contracts={"Clearinghouse": ch.address, "OracleRouter": oracle.address}
        | ({"ClearinghouseLens": lens.address} if lens is not None else {}),
        assets={
            symbol: AssetRecord(
                token.address,
                token.decimals(),
                feeds[symbol].address if symbol in feeds else None,
            )
            for symbol, token in tokens.items()
        },
        markets=dict(markets),
    )
    # the scenario set in force now, as `load_engine` finds it
    risk = risk_set_address(ch)
    if risk_at is None:
        import ape

        risk_at = ape.project.PortfolioRisk.at
    portfolio_risk = risk_at(risk) if risk else None
    book = None
    if desk is not None:
        import ape

        book = ape.project.OptionsBook.at(desk.BOOK())
    return Engine(
        record, oracle, ch, dict(tokens), dict(feeds), pool, portfolio_risk, lens, desk, book
    )
