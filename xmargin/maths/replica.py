"""Every account of the engine, rebuilt from its events, and their health.

The keeper keeps a replica of the engine's ledgers instead of reading
every account on every pass (docs/keeper.md): each event that changes an
account carries what the change needs (`Deposit` and `Withdraw` the new
balance, `Trade` and `Liquidation` the new size, the price and funding
index the rest of the position is re-entered at and the quote booked,
`AutoDeleverage` the new size (the rest keeps its terms) and the quote
booked, the others their amounts), so applying them in chain order
ends where the chain is. `Replica.apply` is that mirror, one event at a
time, of every write the contracts make to a balance
(`collateral._add`), a position (`trading._apply`) or a margin mode.
Option positions live in the OptionsDesk: the engine's `OptionCash`
event books their cash and says whether the account still holds any; an
account holding options is not valued locally (`OPTIONS`: the keeper
reads its health on chain, docs/options.md).

What the events do not carry is global and small: prices, funding, asset
and market parameters. A `Marks` snapshot holds them, read once per block
(`xmargin.chain.replica`), and `Replica.health` values an account with
`xmargin.maths.account.Account.health`: the same model, to the wei, as
the engine's `account_health`. An account that needs a price the router
refuses is `Unpriced` (the engine reverts for it too).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from xmargin.maths.account import Account, Exposure
from xmargin.maths.model import AssetParams, Health, worthless
from xmargin.maths.perps import MarketParams, Position
from xmargin.maths.portfolio import PortfolioConfig

# (owner, sub_id): owner as its EIP-55 string.
AccountKey = tuple[str, int]

# Why an account holding an asset or market the marks do not list cannot
# be valued locally (the keeper then reads it on chain).
UNKNOWN = "not in the deployment record"
# Why an account holding options is not valued locally: its options are
# priced by the OptionsBook (the keeper reads its health on chain).
OPTIONS = "holds options"

# Every event `Replica.apply` reads, in the Clearinghouse's ABI.
EVENTS = (
    "Deposit",
    "Withdraw",
    "TransferBetween",
    "Trade",
    "Liquidation",
    "AutoDeleverage",
    "CollateralLiquidation",
    "CollateralWrittenOff",
    "CollateralRecovered",
    "BadDebt",
    "OrderCommitted",
    "OrderSettled",
    "OrderCancelled",
    "MarginModeSet",
    "AccountRegistered",
    "OptionCash",
)


@dataclass
class AccountState:
    """One account's ledgers: native balances by asset symbol (the quote's
    may be negative), open positions by market id, its margin mode."""

    balances: dict[str, int] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    portfolio: bool = False
    # holds option positions (the header's options bit)
    options: bool = False

    def add(self, asset: str, delta: int) -> None:
        new = self.balances.get(asset, 0) + delta
        if new:
            self.balances[asset] = new
        else:
            self.balances.pop(asset, None)

    def has_liabilities(self, quote: str) -> bool:
        """Quote debt or an open perp or option position: the engine's
        `_has_liabilities`. An account without either has MM 0 and
        equity >= 0: it can never be liquidated."""
        return bool(self.positions) or self.options or self.balances.get(quote, 0) < 0


@dataclass(frozen=True)
class MarketMark:
    """One market at one block: what its positions are valued with."""

    symbol: str
    # symbol of the asset its oracle price is read for
    asset: str
    params: MarketParams
    # WAD USD; None when the router refuses the price
    price: int | None
    # funding index as of the block (0 when the price is refused)
    index: int
    # the part of `index` accrued since the market's last touch
    accrued: int = 0


@dataclass(frozen=True)
class Marks:
    """Everything global an account's health depends on, at one block."""

    quote: str
    assets: Mapping[str, AssetParams]
    # WAD USD price of each non-quote asset the router prices; an asset it
    # refuses maps to the router's reason
    prices: Mapping[str, int]
    refused: Mapping[str, str]
    markets: Mapping[int, MarketMark]
    portfolio: PortfolioConfig | None = None


@dataclass(frozen=True)
class Unpriced:
    """An account whose health needs a price the router refuses."""

    asset: str
    reason: str


@dataclass
class Replica:
    """The engine's account ledgers as its events left them.

    `engine` is the Clearinghouse's address (its own sub-account 0 is the
    insurance account written-off collateral moves to); `symbols` maps
    token addresses to the names balances are kept under (an address not
    in it names itself)."""

    engine: str
    quote: str
    symbols: Mapping[str, str]
    accounts: dict[AccountKey, AccountState] = field(default_factory=dict)
    # events applied
    applied: int = 0
    # accounts changed since the last `take_dirty` (a screen re-reads them)
    dirty: set[AccountKey] = field(default_factory=set)
    # registry indexes whose `AccountRegistered` was applied
    registered: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.engine = str(self.engine)

    def state(self, key: AccountKey) -> AccountState:
        """The account's ledgers, to change: it is marked dirty."""
        self.dirty.add(key)
        s = self.accounts.get(key)
        if s is None:
            s = self.accounts[key] = AccountState()
        return s

    def take_dirty(self) -> set[AccountKey]:
        """The accounts changed since the last call."""
        out, self.dirty = self.dirty, set()
        return out

    def _symbol(self, address: Any) -> str:
        a = str(address)
        return self.symbols.get(a, a)

    def _position(
        self, key: AccountKey, market_id: int, args: Mapping[str, Any], price: str
    ) -> None:
        size = int(args["new_size"])
        positions = self.state(key).positions
        if size == 0:
            positions.pop(market_id, None)
        else:
            positions[market_id] = Position(size, int(args[price]), int(args["funding_index"]))

    def apply(self, name: str, args: Mapping[str, Any]) -> None:
        """Applies one event of `EVENTS` (others are ignored)."""
        q = self.quote
        owner = str(args["owner"]) if "owner" in args else ""
        key = (owner, int(args.get("sub_id", 0)))
        if name in ("Deposit", "Withdraw"):
            # Both carry the balance after the change.
            s, asset = self.state(key), self._symbol(args["asset"])
            s.add(asset, int(args["balance"]) - s.balances.get(asset, 0))
        elif name == "TransferBetween":
            asset, amount = self._symbol(args["asset"]), int(args["amount"])
            self.state((owner, int(args["sub_from"]))).add(asset, -amount)
            self.state((owner, int(args["sub_to"]))).add(asset, amount)
        elif name == "Trade":
            self._position(key, int(args["market_id"]), args, "oracle_price")
            self.state(key).add(q, int(args["quote_delta"]))
        elif name == "AutoDeleverage":
            # The rest keeps its entry price and funding index: only the
            # size changes (`deleverage.auto_deleverage`).
            positions, market_id = self.state(key).positions, int(args["market_id"])
            size = int(args["new_size"])
            if size == 0:
                positions.pop(market_id, None)
            else:
                positions[market_id] = replace(positions[market_id], size=size)
            self.state(key).add(q, int(args["quote_delta"]))
        elif name == "Liquidation":
            self._position(key, int(args["market_id"]), args, "price")
            self.state(key).add(q, int(args["quote_delta"]) - int(args["penalty"]))
            self.state((str(args["liquidator"]), 0)).add(q, int(args["keeper_reward"]))
        elif name == "CollateralLiquidation":
            asset, out = self._symbol(args["asset"]), int(args["collateral_out"])
            s = self.state(key)
            s.add(q, int(args["repaid"]))
            s.add(asset, -out)
            self.state((str(args["liquidator"]), 0)).add(asset, out)
        elif name == "CollateralWrittenOff":
            asset, amount = self._symbol(args["asset"]), int(args["amount"])
            self.state(key).add(asset, -amount)
            self.state((self.engine, 0)).add(asset, amount)
        elif name == "CollateralRecovered":
            asset, amount = self._symbol(args["asset"]), int(args["amount"])
            self.state((self.engine, 0)).add(asset, -amount)
            self.state((str(args["to"]), 0)).add(asset, amount)
        elif name == "BadDebt":
            self.state(key).add(q, int(args["deficit"]))
        elif name == "OrderCommitted":
            self.state(key).add(q, -int(args["fee"]))
        elif name == "OrderCancelled":
            self.state(key).add(q, int(args["fee"]))
        elif name == "OrderSettled":
            self.state((str(args["settler"]), 0)).add(q, int(args["fee"]))
        elif name == "OptionCash":
            s = self.state(key)
            s.add(q, int(args["amount"]) - int(args["penalty"]))
            s.options = bool(args["holds_options"])
            if int(args["penalty"]):
                self.state((str(args["keeper"]), 0)).add(q, int(args["penalty"]))
        elif name == "MarginModeSet":
            self.state(key).portfolio = bool(args["portfolio"])
        elif name == "AccountRegistered":
            self.state(key)
            self.registered.add(int(args["index"]))
        else:
            return
        self.applied += 1

    # ------------------------------------------------------------ health

    def account(self, key: AccountKey, marks: Marks) -> Account | Unpriced:
        """The model's `Account` of one account at `marks`, or a price it
        needs that the router refuses (its markets' first, then its
        collateral's: the engine reverts alike for any of them)."""
        s = self.accounts.get(key) or AccountState()
        if s.options:
            return Unpriced("options", OPTIONS)
        prices: dict[str, int] = {}
        exposures = []
        for market_id in sorted(s.positions):
            m = marks.markets.get(market_id)
            if m is None:
                # Listed after the deployment record was written.
                return Unpriced(f"market {market_id}", UNKNOWN)
            if m.price is None:
                return Unpriced(m.asset, marks.refused.get(m.asset, ""))
            prices[m.asset] = m.price
            exposures.append(
                Exposure(
                    m.symbol,
                    m.asset,
                    s.positions[market_id],
                    m.params,
                    m.index,
                    m.accrued,
                    m.price,
                )
            )
        for asset in s.balances:
            if asset not in marks.assets:
                return Unpriced(asset, UNKNOWN)
            if asset == marks.quote or worthless(marks.assets[asset]):
                continue
            price = marks.prices.get(asset)
            if price is None:
                return Unpriced(asset, marks.refused.get(asset, ""))
            prices[asset] = price
        margin = marks.portfolio if s.portfolio else None
        if s.portfolio and margin is None:
            raise ValueError("an account in portfolio mode needs the scenario set in `marks`")
        return Account(s.balances, marks.assets, marks.quote, prices, tuple(exposures), margin)

    def health(self, key: AccountKey, marks: Marks) -> Health | Unpriced:
        """(equity, IM, MM) as the engine's `account_health` computes it."""
        a = self.account(key, marks)
        return a if isinstance(a, Unpriced) else a.health()

    def at_risk(self) -> Iterator[AccountKey]:
        """Accounts that can be liquidated at some price: those with quote
        debt or an open position (in insertion order)."""
        for key, s in self.accounts.items():
            if s.has_liabilities(self.quote):
                yield key

    def healths(self, marks: Marks) -> dict[AccountKey, Health | Unpriced]:
        """The health of every account that can be liquidated at some price."""
        return {key: self.health(key, marks) for key in self.at_risk()}
