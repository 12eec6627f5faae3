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

from xmargin.chain.assets import read_asset_states
from xmargin.chain.engine import Engine, read_account, read_markets, stdout_silenced
from xmargin.chain.scan import account_healths_at, read_healths
from xmargin.chain.summary import EngineSummary, read_summary
from xmargin.maths.fixed_point import WAD
from xmargin.maths.stress import Path, answer_at

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
# Why an account below MM was left there after the step.
LEFT_CAPACITY = "waiting on liquidation capacity"
LEFT_UNPROFITABLE = "the reward does not pay the gas"
LEFT_NO_QUOTE = "the keeper holds no quote to repay its debt"


@dataclass(frozen=True)
class ScriptedFeed:
    """One feed the fork's script now publishes."""

    label: str  # "WETH", "WETH (second)", "WETH vol 1799222400"
    asset: str | None  # the asset whose path moves it (None: a vol feed, held)
    contract: ContractInstance
    answer: int  # at the fork


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
    for symbol, record in engine.record.assets.items():
        if record.feed is not None:
            found.append((symbol, symbol, record.feed))
        token = engine.tokens[symbol].address
        config = router.price_config(token)
        second = str(config.secondary.aggregator)
        if int(second, 16):
            found.append((f"{symbol} (second)", symbol, second))
    # Expiries are recorded by a label ("WETH+30d"): every asset is asked
    # about every expiry, and the pairs with a volatility feed are kept.
    for expiry in sorted(set(engine.record.expiries.values())):
        for symbol, contract in engine.tokens.items():
            feed, _, _ = router.vol_feed(contract.address, expiry)
            address = str(feed.aggregator)
            if int(address, 16):
                found.append((f"{symbol} vol {expiry}", None, address))
    out = []
    seen: set[str] = set()
    for label, asset, address in found:
        if address in seen:
            continue
        seen.add(address)
        before = project.MockAggregator.at(address)
        decimals = int(before.decimals())
        round_id, answer, started, updated, answered = (int(v) for v in before.latestRoundData())
        provider.make_request("anvil_setCode", [address, code])
        feed = project.MockAggregator.at(address)
        feed.set_decimals(decimals, sender=sender)
        feed.set_round(round_id, answer, started, updated, answered, sender=sender)
        out.append(ScriptedFeed(label, asset, feed, answer))
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
    keeper_reverted: int = 0
    ledgers: list[Ledger] = field(default_factory=list)
    left: list[LeftAccount] = field(default_factory=list)
    unreadable: int = 0

    @property
    def shortfalls(self) -> list[Ledger]:
        return [x for x in self.ledgers if x.held is not None and x.held < x.ledgers]

    @property
    def unexplained(self) -> list[LeftAccount]:
        return [a for a in self.left if not a.reason]

    @property
    def checks_pass(self) -> bool:
        return not self.shortfalls and not self.unexplained


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
    start_block: int
    quote_decimals: int
    # asset -> WAD USD at the fork, before the first step
    start_prices: dict[str, int | None] = field(default_factory=dict)
    # the keeper's log lines, in order
    keeper_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bad_debt(self) -> int:
        return sum(s.bad_debt for s in self.steps)

    @property
    def insurance_used(self) -> int:
        return sum(s.insurance_used for s in self.steps)

    @property
    def pool_loss(self) -> int:
        return sum(s.pool_loss for s in self.steps)

    @property
    def liquidations(self) -> int:
        return sum(s.liquidations for s in self.steps)

    @property
    def accounts_liquidated(self) -> int:
        return sum(s.accounts_liquidated for s in self.steps)

    @property
    def adl(self) -> int:
        return sum(s.adl for s in self.steps)

    @property
    def checks_pass(self) -> bool:
        return all(s.checks_pass for s in self.steps)


Progress = Callable[[StepReport], None]


@dataclass
class _Seen:
    """What the keeper said and did over the path, per account."""

    liquidated: set[tuple[str, int]] = field(default_factory=set)
    # those liquidated before the current step
    liquidated_before: set[tuple[str, int]] = field(default_factory=set)
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
    """Runs `path` on the fork `engine` is connected to (see the module)."""
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
    with stdout_silenced():
        # The keeper's first pass reads every event since the deployment:
        # done before the clock moves.
        keeper.run_once()
    log.clear()
    for k, moves in enumerate(path.steps, start=1):
        chain.pending_timestamp = start.timestamp + k * path.seconds
        for feed in feeds:
            multiple = moves.get(feed.asset, WAD) if feed.asset is not None else WAD
            feed.contract.set_answer(answer_at(feed.answer, multiple), sender=sender)
        mark = len(log)
        passes, reverted = 0, 0
        for _ in range(max_passes):
            with stdout_silenced():
                stats = keeper.run_once()
            passes += 1
            reverted += stats.reverted
            acted = (
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
            if acted == 0:
                break
        _note(seen, log[mark:])
        seen.liquidated_before = set(seen.liquidated)
        head = chain.blocks.head.number
        summary = read_summary(engine, engine.record.network, block=head, from_block=previous + 1)
        report = _read_step(engine, summary, k, k * path.seconds, seen)
        report.keeper_passes, report.keeper_reverted = passes, reverted
        bad.extend(_explain(engine, summary, k, previous, seen))
        steps.append(report)
        if progress is not None:
            progress(report)
        previous = head
    return PathResult(steps, bad, start.number, quote_decimals, start_prices, keeper_log=log)


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
    engine: Engine, summary: EngineSummary, step: int, seconds: int, seen: _Seen
) -> StepReport:
    """What the step did, from the chain's events since the step before
    (`summary`) and its state at the summary's block."""
    head = summary.block
    report = StepReport(step=step, seconds=seconds, block=head, prices=_prices(engine, head))
    report.liquidations = len(summary.liquidations)
    fresh = {(e.owner, e.sub_id) for e in summary.liquidations} - seen.liquidated
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
    report.adl = len(summary.adls)
    pool = engine.pool
    if pool is not None and summary.pool_supply > 0:
        one = 10 ** int(pool.decimals(block_id=head))
        report.share_price = int(pool.convertToAssets(one, block_id=head))
    with contextlib.suppress(ContractLogicError):
        report.markets = [
            MarketLine(m.symbol, m.state.long_oi, m.state.short_oi, m.state.skew)
            for m in read_markets(engine, head)
        ]
    report.ledgers = [
        Ledger(s.symbol, s.held, s.ledgers) for s in read_asset_states(engine, block=head)
    ]
    unreadable: list[tuple[str, int]] = []
    rows = read_healths(engine, head, on_unreadable=lambda i, o, s, r, a: unreadable.append((o, s)))
    report.unreadable = len(unreadable)
    for row in rows:
        h = row.health
        if h.equity >= h.mm:
            continue
        key = (row.owner, row.sub_id)
        reason = (
            LEFT_CAPACITY
            if key in seen.capacity
            else LEFT_UNPROFITABLE
            if key in seen.unprofitable
            else LEFT_NO_QUOTE
            if key in seen.no_quote
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
        reason = ""
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
            elif key in seen.liquidated:
                reason = PARTIAL
            else:
                reason = LEFT
        out.append(BadDebtAccount(e.owner, e.sub_id, step, e.deficit, reason))
    return out
