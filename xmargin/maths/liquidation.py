"""Pure-integer mirror of contracts/modules/liquidation.vy.

How much of a position a liquidation closes, the penalty and its split
between liquidator and insurance fund, what a collateral liquidation pays,
and the bad-debt waterfall: same operations, same order, same rounding as
the contract (see docs/liquidation.md for the derivation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, replace

from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD, ceil_div, div_trunc, mul_div_down, mul_div_up
from xmargin.maths.perps import MarketParams, MarketState, Position, accrue, risk, settle

WHOLE_CLOSE = errors.MUST_CLOSE_WHOLE
# The contract's bounds (liquidation.set_liquidation_capacity).
MAX_CAPACITY_WINDOW = 3_600
MAX_CAPACITY_FACTOR = 10 * WAD
PIECE_TOO_SMALL = errors.PIECE_BELOW_DUST
MIN_PIECE = WAD  # 1 USD: least notional of a piece smaller than the engine would close


@dataclass(frozen=True)
class LiquidationParams:
    """Mirror of `liquidation.LiquidationParams` (WAD fractions, WAD USD)."""

    penalty: int = 2 * 10**16  # 2 % of closed notional
    keeper_share_min: int = 25 * 10**16  # 25 % of the penalty just under MM ...
    keeper_share_max: int = 75 * 10**16  # ... 75 % at a 20 % shortfall
    auction_depth: int = 20 * 10**16
    target_health: int = 12 * 10**17  # E / MM = 1.2 after a partial close
    full_close_health: int = 5 * 10**17  # E / MM < 0.5: close it all
    dust_notional: int = 10 * WAD  # 10 USD
    collateral_discount: int = 5 * 10**16  # 5 %

    def as_tuple(self) -> tuple[int, ...]:
        return astuple(self)


def penalty_rate(lp: LiquidationParams, p: MarketParams) -> int:
    """The penalty rate a liquidation in market `p` charges: `lp.penalty`,
    at most the market's base maintenance ratio (so E - MM never falls)."""
    return min(lp.penalty, p.mmr_base)


def keeper_share(equity: int, mm: int, lp: LiquidationParams) -> int:
    """WAD fraction of the penalty paid to the liquidator (`_keeper_share`)."""
    if equity <= 0:
        return lp.keeper_share_max
    shortfall = (mm - equity) * WAD // mm
    t = min(shortfall * WAD // lp.auction_depth, WAD)
    return lp.keeper_share_min + (lp.keeper_share_max - lp.keeper_share_min) * t // WAD


def close_size(
    equity: int,
    mm: int,
    size_abs: int,
    price: int,
    p: MarketParams,
    lp: LiquidationParams,
    quote_precision: int,
) -> int:
    """Size (WAD) a liquidation closes before the caller's `max_size` (`_close_size`).

    `quote_precision` is 10**(18 - quote decimals): the target is met with
    two native quote units to spare for rounding.
    """
    lp = replace(lp, penalty=penalty_rate(lp, p))
    if equity <= 0:
        return size_abs
    if equity * WAD < mm * lp.full_close_health:
        return size_abs
    need = lp.target_health * mm - equity * WAD + 2 * quote_precision * WAD
    x = size_abs
    last = 0
    for i in range(5):
        r = min(p.mmr_base + (2 * size_abs - x) * p.mm_size_scalar // p.skew_scale, WAD)
        if i == 0 and equity * r <= lp.penalty * mm:
            return size_abs
        gain = lp.target_health * r // WAD
        if gain <= lp.penalty:
            return size_abs
        x = mul_div_up(need, WAD, price * (gain - lp.penalty))
        if x >= size_abs:
            return size_abs
        if x == last:
            break  # a fixed point: the contract stops here too
        last = x
    if mul_div_down(size_abs - x, price, WAD) < lp.dust_notional:
        return size_abs
    return x


@dataclass(frozen=True)
class Penalty:
    """Native quote units: charged to the account, and its split."""

    total: int
    keeper: int
    insurance: int


def penalty(
    closed: int,
    price: int,
    equity: int,
    mm: int,
    quote_precision: int,
    lp: LiquidationParams,
    p: MarketParams,
) -> Penalty:
    """The penalty of closing `closed` at `price` in market `p`
    (quote_precision = 10**(18 - decimals))."""
    wad = mul_div_up(mul_div_up(closed, price, WAD), penalty_rate(lp, p), WAD)
    full = ceil_div(wad, quote_precision)
    keeper = full * keeper_share(equity, mm, lp) // WAD
    # The insurance share only out of equity left after the keeper's share.
    left = div_trunc(equity, quote_precision) - keeper
    insurance = max(0, min(full - keeper, left))
    return Penalty(total=keeper + insurance, keeper=keeper, insurance=insurance)


@dataclass(frozen=True)
class Capacity:
    """How much size liquidations may close per market per window: factor x
    2 x maker_fee x skew_scale (factor 0: no cap). Selling into the skew,
    liquidating L and buying back earns the sandwicher price x L / skew_scale
    per unit and costs it at least 2 x maker_fee per unit in fees, so with
    L <= 2 x maker_fee x skew_scale per window (factor <= 1) the sandwich
    does not pay (docs/liquidation.md). A market without a maker fee is not
    capped (its cap would be 0 and block every liquidation)."""

    window: int = 0
    factor: int = 0

    def as_tuple(self) -> tuple[int, int]:
        return (self.window, self.factor)

    def per_window(self, p: MarketParams) -> int | None:
        """Size (WAD) one window allows in the market; None: uncapped."""
        cap = mul_div_down(2 * p.maker_fee * self.factor // WAD, p.skew_scale, WAD)
        return None if self.factor == 0 or cap == 0 else cap

    def left(self, p: MarketParams, start: int, used: int, now: int) -> int | None:
        """Size left now, given the window that opened at `start` with
        `used` closed in it (a window over resets to the whole cap)."""
        cap = self.per_window(p)
        if cap is None:
            return None
        if now >= start + self.window:
            used = 0
        return max(cap - used, 0)


def capacity_reason(c: Capacity) -> str | None:
    if c.factor == 0:
        return None
    if not 0 < c.window <= MAX_CAPACITY_WINDOW:
        return errors.CAPACITY_WINDOW_RANGE
    if c.factor > MAX_CAPACITY_FACTOR:
        return errors.CAPACITY_FACTOR_RANGE
    return None


@dataclass(frozen=True)
class Liquidation:
    """What `liquidate` does to a position (native quote units, WAD sizes)."""

    closed: int
    # what the engine would close with no `max_size` limit
    wanted: int
    # the account's realised PnL - funding, credited before the penalty
    quote_delta: int
    penalty: Penalty
    state: MarketState
    position: Position


def liquidate(
    state: MarketState,
    p: MarketParams,
    old: Position,
    equity: int,
    mm: int,
    price: int,
    now: int,
    max_size: int,
    quote_precision: int,
    lp: LiquidationParams,
    whole: bool = False,
    realise: Callable[[int], int] | None = None,
    capacity: int | None = None,
) -> Liquidation:
    """`liquidate` on an account the caller found liquidatable (E < MM, taken
    before funding accrues) with `old.size != 0` and `max_size > 0`: closes
    at the oracle price with no premium and no fee. Raises ValueError with
    the contract's reason when `max_size` would split a whole-position close
    or cut a piece worth less than the dust threshold. `whole`: the account
    is in portfolio mode, whose liquidations close whole positions.
    `realise`: what the pool pays of the position's net profit (the
    realisation cap, `xmargin.maths.pool.pay_out`; all of it when None).
    `capacity`: the size the market's liquidation window has left
    (`Capacity.left`; None: uncapped); the close stops there."""
    state = accrue(state, p, price, now)
    index = state.funding_index
    size_abs = abs(old.size)
    wanted = size_abs if whole else close_size(equity, mm, size_abs, price, p, lp, quote_precision)
    if wanted >= size_abs and max_size < size_abs:
        raise ValueError(WHOLE_CLOSE)
    closed = min(wanted, max_size)
    if capacity is not None:
        if capacity == 0:
            raise ValueError(errors.LIQ_CAPACITY)
        closed = min(closed, capacity)
    if closed < wanted and mul_div_down(closed, price, WAD) < max(lp.dust_notional, MIN_PIECE):
        raise ValueError(PIECE_TOO_SMALL)
    new_size = old.size - closed if old.size > 0 else old.size + closed
    r = risk(old, p, price, index)
    net = r.pnl - r.funding
    paid = net if realise is None or net <= 0 else realise(net)
    state, position, quote_delta = settle(state, old, new_size, price, index, paid, quote_precision)
    pen = penalty(closed, price, equity, mm, quote_precision, lp, p)
    return Liquidation(closed, wanted, quote_delta, pen, state, position)


def absorb(deficit: int, insurance_fund: int) -> tuple[int, int]:
    """The bad-debt waterfall (`_settle_bad_debt`): (from insurance, from pool)."""
    from_insurance = min(deficit, insurance_fund)
    return from_insurance, deficit - from_insurance


def covered_price(price: int, held: int | None, ledgers: int) -> int:
    """The price `liquidate_collateral` sells a ledger unit at: the oracle
    price, scaled by `held / ledgers` when the engine's tokens of the
    asset fall short of its ledgers (rounded down, as the contract); the
    whole price when the token's balance cannot be read (`held` None), and
    never below 1 wei (a token the engine holds none of sells for dust)."""
    if held is None or held >= ledgers:
        return price
    return max(price * (held * WAD // ledgers) // WAD, 1)


def collateral_out(
    repay: int,
    debt: int,
    held: int,
    price: int,
    quote_precision: int,
    asset_precision: int,
    mm_haircut: int,
    lp: LiquidationParams,
    equity: int | None = None,
    mm: int = 0,
) -> tuple[int, int]:
    """(quote repaid, collateral received), native units (`liquidate_collateral`).

    `debt` is the account's (positive) quote debt, `held` its balance of the
    asset; the discount is capped at the asset's `mm_haircut` and, for an
    account with `equity` >= 0 (below its `mm`: portfolio margin), scaled
    by the shortfall (mm - equity) / mm. The result
    may be (x, 0), which the contract refuses.
    """
    discount = min(lp.collateral_discount, mm_haircut)
    if equity is not None and equity >= 0:
        # a solvent account below MM: the discount scales with the shortfall
        discount = discount * (mm - equity) // mm
    cost_num = asset_precision * price * (WAD - discount)
    repaid = min(repay, debt)
    out = mul_div_down(repaid * quote_precision, WAD * WAD, cost_num)
    if out > held:
        out = held
        repaid = mul_div_up(out, cost_num, WAD * WAD * quote_precision)
    return repaid, out
