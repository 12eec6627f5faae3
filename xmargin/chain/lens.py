"""Liquidation prices of an account's positions: the ClearinghouseLens and the model.

The lens (`ClearinghouseLens.position_details`) reports each position's
liquidation price: where its asset's price, moving the account's positions on
it and its collateral in it, meets E = MM: a closed form for linear
accounts (`xmargin.maths.scenarios.lens_liquidation_price` computes the same
number from the account read by `xmargin.chain.engine.read_account`), a
bisection over the risk set to the price / 1e9 in portfolio mode (the
model's exact search agrees to that: `scenarios.lens_agrees`). Readers show
the model's and flag a lens that disagrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from xmargin.chain.engine import AccountView, Engine, account_of, token_symbols
from xmargin.maths import scenarios
from xmargin.maths.model import AssetParams

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
    """market id -> (the model's liquidation price, 0 for none; the lens's,
    or None when there is no lens or it gives none it could stand by),
    for each open position of `view` (read at `block`; `assets` from
    `engine.asset_params()`).

    The model's: in portfolio mode, or with options on the position's
    asset, the exact search (`scenarios.liquidation_price`, the options
    repriced); otherwise the lens's closed form (`lens_liquidation_price`).
    The lens declines (reports 0) for a portfolio account holding options
    and, in linear mode, for an asset the account holds options on: those
    come back as None."""
    from ape.exceptions import ContractLogicError, VirtualMachineError

    reported: dict[int, int] = {}
    if lens is not None and view.positions:
        try:
            rows = lens.position_details(
                engine.clearinghouse.address, view.owner, view.sub_id, block_id=block
            )
        except (ContractLogicError, VirtualMachineError):
            # a book too large for one call (the portfolio solver costs
            # ~1.2 M gas per asset on the largest sets): the model's alone
            pass
        else:
            reported = {int(r.market_id): int(r.liquidation_price) for r in rows}
    account = account_of(engine, view, assets)
    symbols = token_symbols(engine)
    book = (view.options, symbols) if view.options else None
    optioned = {symbols.get(o.asset, o.asset) for o in view.options}
    portfolio = view.portfolio is not None
    # one figure per asset: every position on it shares it
    model: dict[str, int] = {}
    out: dict[int, tuple[int, int | None]] = {}
    for e, p in zip(account.exposures, view.positions, strict=True):
        if e.asset not in model:
            if portfolio or e.asset in optioned:
                model[e.asset] = scenarios.liquidation_price(account, e.asset, book=book) or 0
            else:
                model[e.asset] = scenarios.lens_liquidation_price(account, e.asset)
        declined = (portfolio and bool(view.options)) or (not portfolio and e.asset in optioned)
        got = None if declined else reported.get(p.market.market_id)
        out[p.market.market_id] = (model[e.asset], got)
    return out
