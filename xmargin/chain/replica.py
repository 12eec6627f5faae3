"""The keeper's replica of every account, kept up to date from the chain.

`ChainReplica.update` reads the Clearinghouse's account events of the
blocks it has not read (`xmargin.chain.events`: one `eth_getLogs` per range
for all of them, from the deployment block the record stores on the first
call) and applies them (`xmargin.maths.replica.Replica`); `marks` reads
what is global at one block: each asset's haircuts and price, each
market's parameters, funding and price, the portfolio scenario set. That
is a few calls per asset and market, whatever the number of accounts;
the keeper then values every account locally. `resync` re-reads one
account from the chain, for a keeper that finds the chain disagreeing
with its replica.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ape.contracts.base import ContractInstance
from ape.exceptions import ContractLogicError
from eth_utils import to_checksum_address

from xmargin.chain.engine import Engine
from xmargin.chain.events import EventCursor
from xmargin.chain.risk_set import read_groups, read_set, risk_set_address
from xmargin.maths import perps
from xmargin.maths import portfolio as pm
from xmargin.maths.replica import EVENTS, AccountKey, MarketMark, Marks, Replica


@dataclass
class AccountRow:
    """One account valued by the replica (WAD USD): a `scan.HealthRow`."""

    owner: str
    sub_id: int
    equity: int
    im: int
    mm: int


@dataclass
class ChainReplica:
    engine: Engine
    # The first block to read: the deployment's by default.
    from_block: int | None = None
    replica: Replica = field(init=False)
    # The last block whose events are applied (-1: none yet).
    block: int = -1
    _cursor: EventCursor = field(init=False)
    # (address, scenarios, params) of the PortfolioRisk last read
    _risk_set: tuple[str, pm.ScenarioSet, pm.PortfolioParams] | None = None

    def __post_init__(self) -> None:
        e = self.engine
        start = e.record.block if self.from_block is None else self.from_block
        self.replica = Replica(
            engine=str(e.clearinghouse.address),
            quote=e.quote_symbol,
            symbols={str(t.address): s for s, t in e.tokens.items()},
        )
        self._cursor = EventCursor(e.clearinghouse, EVENTS, start)

    def update(self, head: int) -> int:
        """Applies the events of blocks up to `head` not read yet; returns
        how many changed an account."""
        before = self.replica.applied
        for _, _, name, args in self._cursor.advance_logs(head):
            self.replica.apply(name, args)
        self.block = max(self.block, head)
        return self.replica.applied - before

    def marks(self, block: int) -> Marks:
        """Prices, funding and parameters at `block` (a price the router
        refuses is kept with its reason)."""
        e = self.engine
        ch, router = e.clearinghouse, e.router
        symbols = self.replica.symbols
        at = {"block_id": block}
        assets = e.asset_params(block)
        prices: dict[str, int] = {}
        refused: dict[str, str] = {}

        def price(symbol: str, address: str) -> int | None:
            if symbol not in prices and symbol not in refused:
                try:
                    prices[symbol] = int(router.price(address, **at))
                except ContractLogicError as err:
                    refused[symbol] = str(err.message)
            return prices.get(symbol)

        for symbol, token in e.tokens.items():
            if symbol != e.quote_symbol:
                price(symbol, str(token.address))
        now = ch.chain_manager.blocks[block].timestamp
        markets = {}
        for symbol, market_id in e.record.markets.items():
            params = perps.MarketParams(*ch.market_params(market_id, **at))
            asset = symbols.get(str(params.asset), str(params.asset))
            p = price(asset, str(params.asset))
            index = accrued = 0
            if p is not None:
                state = perps.MarketState(*ch.market_state(market_id, **at))
                _, index = perps.funding(state, params, p, now)
                accrued = index - state.funding_index
            markets[market_id] = MarketMark(symbol, asset, params, p, index, accrued)
        portfolio = None
        if any(s.portfolio for s in self.replica.accounts.values()):
            portfolio = self._portfolio(block)
        return Marks(e.quote_symbol, assets, prices, refused, markets, portfolio)

    def _portfolio(self, block: int) -> pm.PortfolioConfig | None:
        """The scenario set in force at `block` (read once per PortfolioRisk
        contract: it is immutable) and each asset's risk group."""
        e = self.engine
        address = risk_set_address(e.clearinghouse, block)
        if address is None or e.portfolio_risk is None:
            return None
        if self._risk_set is None or self._risk_set[0] != address:
            risk = e.portfolio_risk
            if str(risk.address) != to_checksum_address(address):
                # Another set since the engine was loaded: its ABI is the same.
                risk = ContractInstance(to_checksum_address(address), risk.contract_type)
            self._risk_set = (address, *read_set(risk, block))
        _, scenarios, params = self._risk_set
        tokens = {s: str(t.address) for s, t in e.tokens.items()}
        groups = read_groups(e.clearinghouse, tokens, block)
        names = tuple(f"group {g}" for g in range(scenarios.groups))
        return pm.PortfolioConfig(pm.RiskGroups(names, groups), scenarios, params)

    def resync(self, key: AccountKey, block: int) -> None:
        """Replaces one account's ledgers with what the chain holds at `block`."""
        e = self.engine
        ch = e.clearinghouse
        owner, sub_id = key
        at = {"block_id": block}
        s = self.replica.state(key)
        s.balances.clear()
        for symbol, token in e.tokens.items():
            s.add(symbol, int(ch.balance_of(owner, sub_id, token.address, **at)))
        s.positions.clear()
        for market_id in e.record.markets.values():
            pos = perps.Position(*(int(v) for v in ch.position(owner, sub_id, market_id, **at)))
            if pos.size:
                s.positions[market_id] = pos
        s.portfolio = bool(ch.portfolio_mode(owner, sub_id, **at))
        s.options = bool(ch.holds_options(owner, sub_id, **at))
