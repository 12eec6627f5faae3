"""LP requests: the LiquidityPool's ERC-7540 deposits and redemptions.

Mirror of `contracts/LiquidityPool.vy` (docs/orders.md, "The life of an LP
request"). A request escrows assets (deposit) or shares (redemption); it
settles from `since + delay`, once every feed the pool's value rests on has
published a price at or after that moment (every listed market: nobody
can open or shut that gate by trading), at the vault's ERC-4626 rate then
(one virtual share and one virtual asset); a request that would buy or
fetch nothing goes back to its controller; the controller claims pro rata,
rounding for the vault.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmargin.maths import errors
from xmargin.maths.fixed_point import mul_div_down, mul_div_up

# contracts/LiquidityPool.vy MAX_REQUEST_DELAY: a week.
MAX_REQUEST_DELAY = 7 * 86400
# pool_prices_since() when no market has open interest.
NO_PRICES = 2**256 - 1


@dataclass(frozen=True)
class Request:
    """One controller's requests of one kind, as `deposit_requests` /
    `redeem_requests` return them: deposit (in = assets, out = shares),
    redemption (in = shares, out = assets)."""

    pending: int = 0
    since: int = 0
    claimable_in: int = 0
    claimable_out: int = 0

    def settles_from(self, delay: int) -> int:
        """The earliest second the pending part may settle."""
        return self.since + delay


def to_shares(assets: int, value: int, supply: int, roundup: bool = False) -> int:
    """Shares `assets` buy at pool value `value` and share supply `supply`."""
    f = mul_div_up if roundup else mul_div_down
    return f(assets, supply + 1, value + 1)


def to_assets(shares: int, value: int, supply: int, roundup: bool = False) -> int:
    """Assets `shares` are worth at pool value `value` and supply `supply`."""
    f = mul_div_up if roundup else mul_div_down
    return f(shares, value + 1, supply + 1)


def settle_reason(r: Request, delay: int, now: int, prices_since: int) -> str | None:
    """Why the pending part of `r` cannot settle now (the vault's checks
    before the pool's own), or None."""
    if r.pending == 0:
        return errors.NO_REQUEST
    if now < r.since + delay:
        return errors.REQUEST_TOO_EARLY
    if prices_since < r.since + delay:
        return errors.REQUEST_PRICE_TOO_OLD
    return None


def settle(r: Request, out: int) -> Request:
    """The request after its pending part settles for `out` (the shares a
    deposit bought, the assets a redemption fetched); with `out` 0 the
    pending part went back to the controller (a dust request)."""
    if out == 0:
        return Request(0, 0, r.claimable_in, r.claimable_out)
    return Request(0, 0, r.claimable_in + r.pending, r.claimable_out + out)


def prices_since(published: list[int | None], has_oi: list[bool]) -> int | None:
    """`pool_prices_since()` from each listed market's publish time (None:
    its price is invalid): the earliest, markets without open interest
    whose price is invalid skipped; None when one with open interest has
    an invalid price (the view reverts)."""
    oldest = NO_PRICES
    for at, oi in zip(published, has_oi, strict=True):
        if at is None:
            if oi:
                return None
            continue
        oldest = min(oldest, at)
    return oldest


def split(r: Request, by_in: int = 0, by_out: int = 0) -> tuple[int, int]:
    """(in, out) of a claim given by its in side or its out side, as the
    vault computes it; raises ValueError with the vault's reason."""
    if by_out == 0:
        if by_in == 0:
            raise ValueError(errors.ZERO_AMOUNT)
        if by_in > r.claimable_in:
            raise ValueError(errors.ABOVE_CLAIMABLE)
        if by_in == r.claimable_in:
            return by_in, r.claimable_out
        return by_in, mul_div_down(by_in, r.claimable_out, r.claimable_in)
    if by_out > r.claimable_out:
        raise ValueError(errors.ABOVE_CLAIMABLE)
    if by_out == r.claimable_out:
        return r.claimable_in, by_out
    by_in = mul_div_up(by_out, r.claimable_in, r.claimable_out)
    # rounding up took the last of the `in` side: the rest of `out` goes too
    return by_in, r.claimable_out if by_in == r.claimable_in else by_out
