"""One stress path on a fork of a deployment, with the real keeper.

`run_path(engine, keeper, feeds, path)` moves the prices step by step on
the fork it is connected to (a `xmargin.ops.fork.Fork`: never the live
node), and after each step runs the keeper (`xmargin.ops.keeper.Keeper`,
unchanged: liquidations, bad debt, ADL, orders and LP requests) pass
after pass until a pass finds nothing to do. Then it reads what the step
did from the chain itself (the engine's events and ledgers, not the
keeper's word) and checks it:

* every asset: the tokens the engine holds cover its ledgers (a surplus,
  a donation, is reported, never a failure);
* no account is left below maintenance margin whose prices are valid,
  unless the keeper said why it waited (the market's liquidation
  capacity for this window is used, or the reward does not pay the gas):
  an account left without a reason fails the step's check.

The feeds: `take_over_feeds` replaces the code at every feed address the
deployment reads (each asset's primary and second feed, every option
expiry's volatility feed) with the settable AggregatorV3 of
contracts/mocks/MockAggregator.vy (`anvil_setCode`), keeping each feed's
decimals, answer and round id (so its Chainlink phase too); a step then
publishes a new round on each: the moved assets at their path's price,
the others at their answer, so nothing goes stale because time passed.

Each bad debt is explained (`BadDebtAccount.reason`): the price gapped
past MM in one step (the account was above it at the step before), the
account was partly liquidated and the rest went under later, the keeper
skipped it as unprofitable or waited on liquidation capacity, or it held
an asset frozen for a shortfall.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ape.exceptions import ContractLogicError
from eth_utils import keccak
from hexbytes import HexBytes

from xmargin.chain.assets import read_asset_states, read_quote_ledgers
from xmargin.chain.engine import Engine, read_account, read_markets, stdout_silenced
from xmargin.chain.scan import account_healths_at, read_healths
from xmargin.chain.summary import EngineSummary, read_summary
from xmargin.maths.fixed_point import WAD
from xmargin.maths.stress import Path, StressInputError, answer_at

if TYPE_CHECKING:
    from ape.api.accounts import AccountAPI
    from ape.api.providers import ProviderAPI
    from ape.contracts.base import ContractInstance
    from ape.managers.project import ProjectManager

    from xmargin.ops.keeper import Keeper

# Keeper passes a step may take at most (each acts on what the last left:
# an account healed in part, a window of capacity that reopened).
MAX_PASSES = 8

# Why an account ended in bad debt.
GAP = "gap past MM in one step"
GAP_AFTER_PARTIAL = "gap past MM in one step, after a partial liquidation"
PARTIAL = "partly liquidated, still below MM, then under"
UNPROFITABLE = "no keeper profit"
CAPACITY = "liquidation capacity used up"
FROZEN = "a frozen asset"
NO_QUOTE = "the keeper held no quote to repay its debt"
UNREAD = "its health could not be read"
LEFT = "left below MM by the keeper"
AT_FORK = "already below MM at the fork (a live keeper behind)"
# Why an account below MM was left there after the step.
LEFT_CAPACITY = "waiting on liquidation capacity"
LEFT_UNPROFITABLE = "the reward does not pay the gas"
LEFT_NO_QUOTE = "the keeper holds no quote to repay its debt"
LEFT_CLOSED = "liquidations closed (paused, or the grace period after)"


@dataclass(frozen=True)
class ScriptedFeed:
    """One feed the fork's script now publishes."""

    label: str  # "WETH", "WETH (second)", "WETH vol 1799222400"
    # the assets it prices (one, or several sharing an aggregator; none: a
    # volatility feed, held)
    assets: tuple[str, ...]
    contract: ContractInstance
    answer: int  # at the fork

    def multiple(self, moves: Mapping[str, int]) -> int:
        """Where the step moves it (WAD); see `check_shared`."""
        return moves.get(self.assets[0], WAD) if self.assets else WAD


def check_shared(feeds: Sequence[ScriptedFeed], path: Path) -> None:
    """An aggregator that prices several assets can follow one path only:
    refused when the path moves them apart."""
    for feed in feeds:
        for moves in path.steps:
            if len({moves.get(a, WAD) for a in feed.assets}) > 1:
                raise StressInputError(
                    f"feed {feed.contract.address} prices {', '.join(feed.assets)}: the path "
                    "must move them alike (one answer cannot follow two paths)"
                )


def take_over_feeds(
    project: ProjectManager, provider: ProviderAPI, engine: Engine, sender: AccountAPI
) -> list[ScriptedFeed]:
    """Puts a settable feed at every feed address the deployment reads,
    with the same decimals, answer and round (see the module's notes)."""
    runtime = project.MockAggregator.contract_type.runtime_bytecode
    assert runtime is not None and runtime.bytecode, "MockAggregator is compiled"
    code = HexBytes(runtime.bytecode).to_0x_hex()
    router = engine.router
    found: list[tuple[str, str | None, str]] = []
    # The router's own feeds (not the record's: an owner may have moved one).
    for symbol, contract in engine.tokens.items():
        config = router.price_config(contract.address)
        for label, address in (
            (symbol, str(config.primary.aggregator)),
            (f"{symbol} (second)", str(config.secondary.aggregator)),
        ):
            if int(address, 16):
                found.append((label, symbol, address))
    # Expiries are recorded by a label ("WETH+30d"): every asset is asked
    # about every expiry, and the pairs with a volatility feed are kept.
    for expiry in sorted(set(engine.record.expiries.values())):
        for symbol, contract in engine.tokens.items():
            feed, _, _ = router.vol_feed(contract.address, expiry)
            address = str(feed.aggregator)
            if int(address, 16):
                found.append((f"{symbol} vol {expiry}", None, address))
    shared: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for label, asset, address in found:
        labels.setdefault(address, label)
        shared.setdefault(address, [])
        if asset is not None and asset not in shared[address]:
            shared[address].append(asset)
    out = []
    for address, assets in shared.items():
        label = labels[address]
        before = project.MockAggregator.at(address)
        decimals = int(before.decimals())
        round_id, answer, started, updated, answered = (int(v) for v in before.latestRoundData())
        provider.make_request("anvil_setCode", [address, code])
        feed = project.MockAggregator.at(address)
        feed.set_decimals(decimals, sender=sender)
        feed.set_round(round_id, answer, started, updated, answered, sender=sender)
        out.append(ScriptedFeed(label, tuple(assets), feed, answer))
    return out


def deal(provider: ProviderAPI, token: ContractInstance, who: str, amount: int) -> bool:
    """Sets `who`'s balance of `token` to `amount` on the fork, as Foundry's
    `deal` does: finds the slot of the balance mapping by writing a probe
    at each candidate (Solidity's keccak(key, slot), Vyper's keccak(slot,
    key), slots 0-49) and keeping the one `balanceOf` then reports;
    every other probe is written back. False if no slot answers (a token
    whose balances live elsewhere: a proxy's namespaced storage, shares)."""
    address = str(token.address)
    key = bytes.fromhex(who[2:].lower().rjust(64, "0"))
    for slot in range(50):
        word = slot.to_bytes(32, "big")
        for at in (keccak(key + word), keccak(word + key)):
            position = "0x" + at.hex()
            before = provider.make_request("eth_getStorageAt", [address, position, "latest"])
            value = "0x" + amount.to_bytes(32, "big").hex()
            provider.make_request("anvil_setStorageAt", [address, position, value])
            if int(token.balanceOf(who)) == amount:
                return True
            provider.make_request("anvil_setStorageAt", [address, position, before])
    return False


@dataclass(frozen=True)
class MarketLine:
    market: str
    # WAD base units
    long_oi: int
    short_oi: int
    skew: int


@dataclass(frozen=True)
class LeftAccount:
    owner: str
    sub_id: int
    # WAD USD
    equity: int
    mm: int
    reason: str  # LEFT_* or "" (then the check fails)


@dataclass(frozen=True)
class Ledger:
    asset: str
    held: int | None  # native units; None: balanceOf failed
    ledgers: int


@dataclass
class StepReport:
    step: int
    seconds: int  # since the fork
    block: int
    # asset -> WAD USD (None: the router refuses it)
    prices: dict[str, int | None]
    # positions (part-)closed, accounts among them seen for the first time
    liquidations: int = 0
    accounts_liquidated: int = 0
    newly_liquidated: list[tuple[str, int]] = field(default_factory=list)
    collateral_liquidations: int = 0
    bad_debts: int = 0
    # native quote units: written off, and who paid
    bad_debt: int = 0
    insurance_used: int = 0
    pool_loss: int = 0
    insurance_fund: int = 0
    pool_value: int = 0
    # quote units one whole LP share is worth (0: no pool or no shares)
    share_price: int = 0
    adl: int = 0
    markets: list[MarketLine] = field(default_factory=list)
    keeper_passes: int = 0
    ledgers: list[Ledger] = field(default_factory=list)
    left: list[LeftAccount] = field(default_factory=list)
    unreadable: int = 0
    # unreadable although no price it needs is refused: (owner, sub, reason)
    unread_priced: list[tuple[str, int, str]] = field(default_factory=list)
    # why the pool could not be valued (a refused price), or None
    pool_unpriced: str | None = None

    @property
    def shortfalls(self) -> list[Ledger]:
        return [x for x in self.ledgers if x.held is not None and x.held < x.ledgers]

    @property
    def unexplained(self) -> list[LeftAccount]:
        return [a for a in self.left if not a.reason]

    @property
    def checks_pass(self) -> bool:
        return not self.shortfalls and not self.unexplained and not self.unread_priced


@dataclass(frozen=True)
class BadDebtAccount:
    owner: str
    sub_id: int
    step: int
    deficit: int  # native quote units
    reason: str


@dataclass
class PathResult:
    steps: list[StepReport]
    bad_debt_accounts: list[BadDebtAccount]
    quote_decimals: int
    # asset -> WAD USD at the fork, before the first step
    start_prices: dict[str, int | None] = field(default_factory=dict)
    # the keeper's log lines, in order
    keeper_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def moved(self) -> list[StepReport]:
        """The path's own steps: step 0 (the keeper at the fork, what a
        live keeper left undone) is reported, never counted in the totals."""
        return [s for s in self.steps if s.step > 0]

    @property
    def bad_debt(self) -> int:
        return sum(s.bad_debt for s in self.moved)

    @property
    def insurance_used(self) -> int:
        return sum(s.insurance_used for s in self.moved)

    @property
    def pool_loss(self) -> int:
        return sum(s.pool_loss for s in self.moved)

    @property
    def liquidations(self) -> int:
        return sum(s.liquidations for s in self.moved)

    @property
    def accounts_liquidated(self) -> int:
        return sum(s.accounts_liquidated for s in self.moved)

    @property
    def adl(self) -> int:
        return sum(s.adl for s in self.moved)

    @property
    def path_bad_debt_accounts(self) -> list[BadDebtAccount]:
        return [b for b in self.bad_debt_accounts if b.step > 0]

    @property
    def checks_pass(self) -> bool:
        return all(s.checks_pass for s in self.steps)


Progress = Callable[[StepReport], None]


@dataclass
class _Seen:
    """What the keeper said and did over the path, per account."""

    liquidated: set[tuple[str, int]] = field(default_factory=set)
    # accounts whose collateral a keeper bought (liquidate_collateral)
    collateral_sold: set[tuple[str, int]] = field(default_factory=set)
    # those liquidated before the current step
    liquidated_before: set[tuple[str, int]] = field(default_factory=set)
    # the keeper found liquidations closed (paused, or the grace period)
    closed: bool = False

    def merge(self, step: _Seen) -> None:
        """Adds what the keeper said in one step to the path's story."""
        self.unprofitable |= step.unprofitable
        self.capacity |= step.capacity
        self.no_quote |= step.no_quote
        self.unreadable |= step.unreadable
        self.closed = self.closed or step.closed

    unprofitable: set[tuple[str, int]] = field(default_factory=set)
    capacity: set[tuple[str, int]] = field(default_factory=set)
    no_quote: set[tuple[str, int]] = field(default_factory=set)
    unreadable: set[tuple[str, int]] = field(default_factory=set)


def run_path(
    engine: Engine,
    keeper: Keeper,
    feeds: Sequence[ScriptedFeed],
    path: Path,
    sender: AccountAPI,
    progress: Progress | None = None,
    max_passes: int = MAX_PASSES,
) -> PathResult:
    """Runs `path` on the fork `engine` is connected to (see the module).

    Step 0 is the keeper at the fork, before any price moves: what a live
    keeper left undone (accounts already below MM) is reported there, not
    billed to the path's first move."""
    ch = engine.clearinghouse
    chain = ch.chain_manager
    start = chain.blocks.head
    quote_decimals = engine.record.assets[engine.quote_symbol].decimals
    log: list[dict[str, Any]] = []
    keeper.log = log.append
    seen = _Seen()
    steps: list[StepReport] = []
    bad: list[BadDebtAccount] = []
    previous = start.number
    start_prices = _prices(engine, previous)
    at = start.timestamp
    for k in range(len(path.steps) + 1):
        if k > 0:
            # The path's clock, unless the step before mined past it (each
            # block is a second): then a second after its last block.
            at = max(start.timestamp + k * path.seconds, chain.blocks.head.timestamp + 1)
            chain.pending_timestamp = at
            moves = path.steps[k - 1]
            for feed in feeds:
                feed.contract.set_answer(
                    answer_at(feed.answer, feed.multiple(moves)), sender=sender
                )
        mark = len(log)
        passes = 0
        for _ in range(max_passes):
            with stdout_silenced():
                stats = keeper.run_once()
            passes += 1
            if _acted(stats) == 0:
                break
        # What the keeper said in this step excuses an account it left in
        # this step only; a bad debt's story uses the whole path.
        now = _Seen()
        _note(now, log[mark:])
        seen.merge(now)
        head = chain.blocks.head.number
        with stdout_silenced():
            # Every account any event ever touched (deposit-only accounts
            # and the liquidators' sub-account 0 are not in the registry):
            # the quote's ledgers are summed over them.
            keeper.replica.update(head)
            touched = list(keeper.replica.replica.accounts)
            summary = read_summary(
                engine, engine.record.network, block=head, from_block=previous + 1
            )
            report = _read_step(engine, summary, k, at - start.timestamp, seen, now, touched)
            report.keeper_passes = passes
            bad.extend(_explain(engine, summary, k, previous, seen))
        seen.liquidated_before = set(seen.liquidated)
        steps.append(report)
        if progress is not None:
            progress(report)
        previous = head
    return PathResult(steps, bad, quote_decimals, start_prices, keeper_log=log)


def _acted(stats: Any) -> int:
    """What a keeper pass did (0: nothing, the step is done)."""
    return int(
        stats.liquidations
        + stats.collateral_liquidations
        + stats.bad_debts_settled
        + stats.adl
        + stats.option_liquidations
        + stats.orders_filled
        + stats.orders_refused
        + stats.lp_deposits
        + stats.lp_redemptions
    )


def _prices(engine: Engine, block: int) -> dict[str, int | None]:
    """Every priced asset's price at `block` (None: the router refuses it)."""
    prices: dict[str, int | None] = {}
    for symbol in engine.feeds:
        try:
            prices[symbol] = int(engine.router.price(engine.tokens[symbol].address, block_id=block))
        except ContractLogicError:
            prices[symbol] = None
    return prices


def _note(seen: _Seen, lines: Sequence[Mapping[str, Any]]) -> None:
    for line in lines:
        event = line.get("event")
        if event == "liquidations_closed":
            seen.closed = True
        if "owner" not in line:
            continue
        key = (str(line["owner"]), int(line["sub_id"]))
        if event == "skip_unprofitable":
            seen.unprofitable.add(key)
        elif event == "capacity_wait":
            seen.capacity.add(key)
        elif event == "account_unreadable":
            seen.unreadable.add(key)
        elif event == "skip_collateral" and line.get("why") == "empty wallet":
            seen.no_quote.add(key)


def _read_step(
    engine: Engine,
    summary: EngineSummary,
    step: int,
    seconds: int,
    seen: _Seen,
    said: _Seen,
    touched: Sequence[tuple[str, int]] = (),
) -> StepReport:
    """What the step did, from the chain's events since the step before
    (`summary`) and its state at the summary's block; `said` is what the
    keeper logged in this step (the reasons an account may be left);
    `touched`, every account an event ever named (the quote's ledgers)."""
    head = summary.block
    report = StepReport(step=step, seconds=seconds, block=head, prices=_prices(engine, head))
    report.liquidations = len(summary.liquidations)
    fresh = {(e.owner, e.sub_id) for e in summary.liquidations} - seen.liquidated
    seen.collateral_sold |= {(e.owner, e.sub_id) for e in summary.collateral_liquidations}
    report.accounts_liquidated = len(fresh)
    report.newly_liquidated = sorted(fresh)
    seen.liquidated |= fresh
    report.collateral_liquidations = len(summary.collateral_liquidations)
    report.bad_debts = len(summary.bad_debts)
    report.bad_debt = sum(e.deficit for e in summary.bad_debts)
    report.insurance_used = sum(e.from_insurance for e in summary.bad_debts)
    report.pool_loss = sum(e.from_pool for e in summary.bad_debts)
    report.insurance_fund = summary.insurance_fund
    report.pool_value = summary.pool_total_assets
    report.pool_unpriced = summary.pool_unpriced
    report.adl = len(summary.adls)
    pool = engine.pool
    if pool is not None and summary.pool_supply > 0 and summary.pool_unpriced is None:
        one = 10 ** int(pool.decimals(block_id=head))
        with contextlib.suppress(ContractLogicError):
            report.share_price = int(pool.convertToAssets(one, block_id=head))
    with contextlib.suppress(ContractLogicError):
        report.markets = [
            MarketLine(m.symbol, m.state.long_oi, m.state.short_oi, m.state.skew)
            for m in read_markets(engine, head)
        ]
    unreadable: list[tuple[str, int, str, str]] = []
    rows = read_healths(
        engine, head, on_unreadable=lambda i, o, s, r, a: unreadable.append((o, s, r, a))
    )
    report.unreadable = len(unreadable)
    # A health that reverts while the lens names no refused price: nobody
    # can tell whether the account is below MM, nor liquidate it. (The lens
    # names collateral and perp prices only: an account holding options
    # may need an underlying or a volatility it does not name.)
    report.unread_priced = [
        (o, s, r)
        for o, s, r, a in unreadable
        if not int(str(a), 16) and not engine.clearinghouse.holds_options(o, s, block_id=head)
    ]
    keys = list(
        dict.fromkeys(
            [*touched, *((r.owner, r.sub_id) for r in rows), *((o, s) for o, s, _, _ in unreadable)]
        )
    )
    quote = read_quote_ledgers(engine, keys, head)
    report.ledgers = [Ledger(engine.quote_symbol, quote.held, quote.ledgers)] + [
        Ledger(s.symbol, s.held, s.ledgers) for s in read_asset_states(engine, block=head)
    ]
    for row in rows:
        h = row.health
        if h.equity >= h.mm:
            continue
        key = (row.owner, row.sub_id)
        reason = (
            LEFT_CLOSED
            if said.closed
            else LEFT_CAPACITY
            if key in said.capacity
            else LEFT_UNPROFITABLE
            if key in said.unprofitable
            else LEFT_NO_QUOTE
            if key in said.no_quote
            else ""
        )
        report.left.append(LeftAccount(row.owner, row.sub_id, h.equity, h.mm, reason))
    return report


def _explain(
    engine: Engine, summary: EngineSummary, step: int, previous: int, seen: _Seen
) -> list[BadDebtAccount]:
    """Each bad debt of the step, with why it happened (module notes)."""
    if not summary.bad_debts:
        return []
    frozen = {s.symbol for s in read_asset_states(engine, block=previous) if s.frozen}
    out = []
    for e in summary.bad_debts:
        key = (e.owner, e.sub_id)
        reason = AT_FORK if step == 0 else ""
        if frozen:
            with contextlib.suppress(ContractLogicError):
                view = read_account(engine, e.owner, e.sub_id, block_id=previous)
                if any(view.balances.get(s) for s in frozen):
                    reason = FROZEN
        if not reason:
            before = account_healths_at(engine, [key], previous)[0]
            if isinstance(before, str):
                reason = UNREAD
            elif before.equity >= before.mm:
                reason = GAP_AFTER_PARTIAL if key in seen.liquidated_before else GAP
            elif key in seen.capacity:
                reason = CAPACITY
            elif key in seen.unprofitable:
                reason = UNPROFITABLE
            elif key in seen.no_quote:
                reason = NO_QUOTE
            elif key in seen.liquidated or key in seen.collateral_sold:
                reason = PARTIAL
            else:
                reason = LEFT
        out.append(BadDebtAccount(e.owner, e.sub_id, step, e.deficit, reason))
    return out
