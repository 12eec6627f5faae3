"""Delayed orders: each market's rules and an order's life.

Mirror of `contracts/modules/orders.vy` and the order functions of
`contracts/modules/trading.vy` (docs/orders.md). An order is committed at
`commit_time`; it may settle from `settle_after` = commit_time + min_delay
until `expires` = settle_after + window (inclusive; the delay and window in
force at the commit), on a price its feed published at or after
`settle_after`; after `expires` only its owner may cancel it. The fill
itself is `perps.trade` at the settlement price; a fill beyond the limit
or a trade its checks refuse removes the order instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmargin.maths import errors
from xmargin.maths.fixed_point import WAD
from xmargin.maths.perps import fill_adjustment

# The contract's bounds (orders.set_order_rules).
MAX_DELAY = 3_600
MAX_WINDOW = 7 * 86_400
# Acceptable prices are kept up to this value (above any fill).
MAX_ACCEPTABLE = 2**128 - 1


@dataclass(frozen=True)
class OrderRules:
    """A market's order rules; all zero: none set (the market cannot trade)."""

    min_delay: int = 0
    window: int = 0
    # Native quote units escrowed by the committer, earned by the settler.
    settlement_fee: int = 0
    atomic: bool = False
    # The feed's deviation threshold the owner declared (WAD fraction).
    deviation: int = 0

    def as_tuple(self) -> tuple[int, int, int, bool, int]:
        return (self.min_delay, self.window, self.settlement_fee, self.atomic, self.deviation)

    @property
    def is_set(self) -> bool:
        return self.window != 0


@dataclass(frozen=True)
class Order:
    """A pending order (size_delta 0: none), with its market's delay and
    window as they were at the commit (later rule changes do not move it)."""

    market_id: int = 0
    size_delta: int = 0
    acceptable_price: int = 0
    commit_time: int = 0
    fee: int = 0
    min_delay: int = 0
    window: int = 0

    @property
    def exists(self) -> bool:
        return self.size_delta != 0

    @property
    def settle_after(self) -> int:
        return self.commit_time + self.min_delay

    @property
    def expires(self) -> int:
        return self.commit_time + self.min_delay + self.window


def rules_reason(rules: OrderRules) -> str | None:
    """Why `set_order_rules` would refuse these rules (market and fees aside)."""
    if not 0 < rules.min_delay <= MAX_DELAY:
        return errors.ORDER_DELAY_RANGE
    if not 0 < rules.window <= MAX_WINDOW:
        return errors.ORDER_WINDOW_RANGE
    if rules.settlement_fee >= 2**128:
        return errors.AMOUNT_TOO_LARGE
    if rules.deviation > WAD:
        return errors.ORDER_DEVIATION_RANGE
    return None


def atomic_reason(rules: OrderRules, maker_fee: int, taker_fee: int) -> str | None:
    """Why an atomic `trade` is refused by the market's rules: the switch is
    off, or a round trip's fees (maker + taker) no longer cover the feed's
    declared deviation threshold."""
    if not rules.atomic:
        return errors.TRADE_BY_ORDER
    if maker_fee + taker_fee < rules.deviation:
        return errors.FEES_BELOW_DEVIATION
    return None


def commit_reason(rules: OrderRules, pending: Order, now: int, quote_balance: int) -> str | None:
    """Why `commit_order` is refused (size, market and operator checks
    aside): no rules, a pending order still in its window, or a quote
    balance below the settlement fee (an expired order's fee is refunded
    first)."""
    if not rules.is_set:
        return errors.NO_ORDER_RULES
    if pending.exists:
        if now <= pending.expires:
            return errors.ORDER_PENDING
        quote_balance += pending.fee
    if quote_balance - rules.settlement_fee < 0 and rules.settlement_fee > 0:
        return errors.INSUFFICIENT_BALANCE
    return None


def settle_reason(order: Order, now: int, published: int) -> str | None:
    """Why `settle_order` reverts: no order, too early, expired, or a price
    published before the delay. (A fill beyond the acceptable price, or a
    trade its own checks refuse, does not revert: the order is removed.)"""
    if not order.exists:
        return errors.NO_ORDER
    if now < order.settle_after:
        return errors.ORDER_TOO_EARLY
    if now > order.expires:
        return errors.ORDER_EXPIRED
    if published < order.settle_after:
        return errors.ORDER_PRICE_TOO_OLD
    return None


def cancel_reason(order: Order, now: int) -> str | None:
    if not order.exists:
        return errors.NO_ORDER
    if now <= order.expires:
        return errors.ORDER_NOT_EXPIRED
    return None


def fill_price(skew: int, size_delta: int, price: int, skew_scale: int) -> int:
    """The fill at oracle `price` under `skew` (stops at 0, as reported)."""
    return max(price + fill_adjustment(skew, size_delta, price, skew_scale), 0)


def fills(order: Order, fill: int) -> bool:
    """Whether the fill is within the order's acceptable price; otherwise
    the settlement refuses it (the settler keeps the fee, nothing trades)."""
    limit = min(order.acceptable_price, MAX_ACCEPTABLE)
    return fill <= limit if order.size_delta > 0 else fill >= limit
