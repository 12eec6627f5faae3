"""Liquidation prices of an account's positions: the ClearinghouseLens and the model.

The lens (`ClearinghouseLens.position_details`) reports each position's
liquidation price: where its asset's price, moving the account's positions on
it and its collateral in it, meets E = MM (linear accounts; 0 in portfolio
mode). `xmargin.maths.scenarios.lens_liquidation_price` computes the same
number from the account read by `xmargin.chain.engine.read_account`. Readers
show the model's and flag a lens that disagrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from xmargin.chain.engine import AccountView, Engine, account_of
from xmargin.maths.model import AssetParams
from xmargin.maths.scenarios import lens_liquidation_price

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance
    from ape.managers.project import ProjectManager

LENS = "ClearinghouseLens"


def lens_at(project: ProjectManager, engine: Engine) -> ContractInstance | None:
    """The deployment's lens contract, or None if the record has none."""
    address = engine.record.contracts.get(LENS)
    return getattr(project, LENS).at(address) if address else None


def liquidation_prices(
    view: AccountView,
    lens: ContractInstance | None,
    engine: Engine,
    block: int,
    assets: Mapping[str, AssetParams],
) -> dict[int, tuple[int, int | None]]:
    """market id -> (the model's liquidation price, the lens's or None),
    for each open position of `view` (read at `block`; `assets` from
    `engine.asset_params()`)."""
    reported: dict[int, int] = {}
    if lens is not None and view.positions:
        rows = lens.position_details(
            engine.clearinghouse.address, view.owner, view.sub_id, block_id=block
        )
        reported = {int(r.market_id): int(r.liquidation_price) for r in rows}
    account = account_of(engine, view, assets)
    by_market = {e.market: e.asset for e in account.exposures}
    return {
        p.market.market_id: (
            lens_liquidation_price(account, by_market[p.market.symbol]),
            reported.get(p.market.market_id),
        )
        for p in view.positions
    }
