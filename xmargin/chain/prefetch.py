"""The reads each CLI command is about to make, asked together up front.

Each function lists, for `xmargin.chain.pinned.PinnedReads.prefetch`, the
`eth_call`s (and code checks) the command's own reading code will make at
the pinned block: the engine's loading, the markets and prices, one
account, the pool, the ledgers. The lists are a forecast, not a second
implementation: the reading code stays where it is and asks what it asks;
what was forecast is answered from the batch, anything else is sent on its
own (tests/integration/test_cli.py counts the requests, so a forecast that
drifts from the code shows up there).

Lists are built from the deployment record and the compiled ABIs, with
contract instances made without asking the node (`_at`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xmargin.chain.pinned import Call, PinnedReads, eth_call, get_code, get_logs

if TYPE_CHECKING:
    from ape.contracts.base import ContractInstance
    from ape.managers.project import ProjectManager

    from xmargin.chain.deployments import DeploymentRecord
    from xmargin.chain.engine import Engine

# Rows per `account_healths` page (xmargin.chain.scan.PAGE).
HEALTH_PAGE = 50


class Forecast:
    """Builds the calls of one command at `block`."""

    def __init__(
        self,
        record: DeploymentRecord,
        block: int,
        reads: PinnedReads | None = None,
        *,
        ch: ContractInstance,
        router: ContractInstance,
        lens: ContractInstance | None = None,
        pool: ContractInstance | None = None,
        risk: ContractInstance | None = None,
    ) -> None:
        self.record, self.block = record, block
        # What is answered already: a later round forecasts what depends on it.
        self.reads = reads
        self.calls: list[Call] = []
        self.ch, self.router, self.lens, self.pool, self.risk = ch, router, lens, pool, risk
        self.tokens = {s: a.token for s, a in record.assets.items()}

    @classmethod
    def of_project(
        cls,
        project: ProjectManager,
        record: DeploymentRecord,
        block: int,
        reads: PinnedReads | None = None,
    ) -> Forecast:
        """Instances made from the project's contract types, without asking
        the node (the CLI's Ape path, before the engine is loaded)."""
        from xmargin.chain.abi import combined_type

        contracts = record.contracts

        def at(name: str) -> ContractInstance | None:
            if name not in contracts:
                return None
            return _at(contracts[name], getattr(project, name).contract_type)

        router = at("OracleRouter")
        assert router is not None, "every deployment has an OracleRouter"
        return cls(
            record,
            block,
            reads,
            ch=_at(contracts["Clearinghouse"], combined_type(project)),
            router=router,
            lens=at("ClearinghouseLens"),
            pool=at("LiquidityPool"),
            risk=at("PortfolioRisk"),
        )

    @classmethod
    def of_engine(cls, engine: Engine, block: int, reads: PinnedReads | None = None) -> Forecast:
        """A loaded engine's own instances (the keeper's, the fast path's)."""
        return cls(
            engine.record,
            block,
            reads,
            ch=engine.clearinghouse,
            router=engine.router,
            lens=engine.lens,
            pool=engine.pool,
            risk=engine.portfolio_risk,
        )

    def _call(self, contract: ContractInstance, method: str, *args: Any) -> Call:
        data = getattr(contract, method).encode_input(*args)
        return eth_call(str(contract.address), data, self.block)

    def call(self, contract: ContractInstance, method: str, *args: Any) -> None:
        self.calls.append(self._call(contract, method, *args))

    def answered(self, contract: ContractInstance, method: str, *args: Any) -> int | None:
        """A one-word answer already kept (from an earlier round), or None."""
        if self.reads is None:
            return None
        result = self.reads.result(self._call(contract, method, *args))
        return int(result, 16) if isinstance(result, str) and len(result) == 66 else None

    # ------------------------------------------------------------ pieces

    def engine(self) -> Forecast:
        """`load_engine`, `asset_params` and `read_markets`: every recorded
        contract's code, the asset and market configuration, the prices."""
        addresses = [*self.record.contracts.values()]
        for a in self.record.assets.values():
            addresses += [a.token, *([a.feed] if a.feed else [])]
        self.calls += [get_code(address, self.block) for address in addresses]
        ch = self.ch
        self.call(ch, "portfolio_risk")
        self.call(ch, "num_accounts")
        for token in self.tokens.values():
            self.call(ch, "asset_config", token)
        for asset in self.record.assets.values():
            if asset.feed:
                self.call(self.router, "price", asset.token)
                self.call(self.router, "price_time", asset.token)
        for market_id in self.record.markets.values():
            self.call(ch, "market_params", market_id)
            self.call(ch, "market_state", market_id)
            self.call(ch, "market_caps", market_id)
            self.call(ch, "adl_state", market_id)
        return self

    def portfolio(self, owner: str, sub_id: int) -> Forecast:
        """The scenario set in force and every asset's risk group; the
        scenario grid once an earlier round says the account is in
        portfolio mode and how large the grid is."""
        if self.risk is None:
            return self
        risk = self.risk
        for method in (
            "num_groups",
            "num_scenarios",
            "floor_fraction",
            "min_per_position",
            "im_factor",
            "short_option_min",
            "vol_shocks",
            "weights",
            "concentrations",
            "credits",
        ):
            self.call(risk, method)
        for token in self.tokens.values():
            self.call(self.ch, "risk_group", token)
        groups = self.answered(risk, "num_groups")
        scenarios = self.answered(risk, "num_scenarios")
        if self.answered(self.ch, "portfolio_mode", owner, sub_id) and groups and scenarios:
            for scenario in range(scenarios):
                for group in range(groups):
                    self.call(risk, "shock", scenario, group)
        return self

    def account(self, owner: str, sub_id: int) -> Forecast:
        """`read_account`, the lens's liquidation prices, the pending order."""
        ch = self.ch
        for token in self.tokens.values():
            self.call(ch, "balance_of", owner, sub_id, token)
        for method in ("account_health", "collateral_value", "portfolio_mode", "pending_order"):
            self.call(ch, method, owner, sub_id)
        for market_id in self.record.markets.values():
            self.call(ch, "position", owner, sub_id, market_id)
        if self.lens is not None:
            self.call(self.lens, "position_details", ch.address, owner, sub_id)
        if self.pool is not None:
            self.call(self.pool, "deposit_requests", owner)
            self.call(self.pool, "redeem_requests", owner)
        return self

    def pool_and_ledgers(self) -> Forecast:
        """The pool's value and request rules, and the engine's ledgers."""
        ch = self.ch
        for method in (
            "insurance_fund",
            "bad_debt_total",
            "bad_debt_insurance",
            "bad_debt_pool",
            "pool_state",
            "pool_prices_since",
        ):
            self.call(ch, method)
        if self.pool is not None:
            for method in ("REQUEST_DELAY", "totalAssets", "totalSupply"):
                self.call(self.pool, method)
        return self

    def asset_states(self) -> Forecast:
        """`read_asset_states`: each collateral asset's freeze, tokens held
        and ledgers."""
        from xmargin.chain.assets import balance_call

        ch = self.ch
        for symbol, token in self.tokens.items():
            if not self.record.assets[symbol].feed:
                continue  # the quote asset
            self.call(ch, "asset_freeze", token)
            self.call(ch, "total_deposits", token)
            read = balance_call(token, str(ch.address))
            self.calls.append(eth_call(read["to"], read["data"], self.block, read["gas"]))
        return self

    def events(self, names: tuple[str, ...], first: int, chunk: int) -> Forecast:
        """The Clearinghouse's logs of each event in `names` from block
        `first` to the pinned block, in chunks of `chunk` blocks (as
        `xmargin.chain.summary` scans them)."""
        from eth_utils import encode_hex, keccak

        for name in names:
            topic = encode_hex(keccak(text=getattr(self.ch, name).abi.selector))
            for lo in range(first, self.block + 1, chunk):
                hi = min(lo + chunk, self.block + 1)
                self.calls.append(get_logs(str(self.ch.address), topic, lo, hi - 1))
        return self

    def keeper_pass(self) -> Forecast:
        """The views every keeper pass reads at its head
        (`xmargin.ops.keeper.Keeper.run_once`): the engine's (code, assets,
        prices, markets, caps, ADL state), each asset's standing, the risk
        groups and the replica's marks, whether liquidations are open and
        the LP requests' price rule. Accounts' healths are one batch of
        their own (`account_healths_at`)."""
        self.engine().asset_states()
        for token in self.tokens.values():
            self.call(self.ch, "risk_group", token)
        for method in ("paused", "liquidations_resume_at", "liquidation_params"):
            self.call(self.ch, method)
        if self.pool is not None:
            self.call(self.ch, "pool_prices_since")
        return self

    def health_pages(self, total: int) -> Forecast:
        """Every `account_healths` page of the registry's `total` accounts."""
        if self.lens is None:
            return self
        for start in range(0, total, HEALTH_PAGE):
            self.call(self.lens, "account_healths", self.ch.address, start, HEALTH_PAGE)
        return self


def _at(address: str, contract_type: Any) -> ContractInstance:
    """An instance for encoding calls: made without asking the node."""
    from ape.contracts.base import ContractInstance
    from eth_utils import to_checksum_address

    return ContractInstance(to_checksum_address(address), contract_type)
