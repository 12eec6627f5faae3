# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin liquidity-pool ledger
@notice The counterparty side of every trade, inside the Clearinghouse: the
        pool's quote cash (`pool_balance`, written only here) plus its claim on traders'
        open positions. The LiquidityPool vault (ERC-4626) is the only
        address that may move cash in and out; its share price is
        `pool_value`, which includes traders' unrealised PnL and funding,
        so entering or leaving the pool around a price move is not a free
        option:
            value = cash - sum(traders' unrealised PnL) + sum(funding traders owe)
                     - sum(skew premium the pool must refund as skew unwinds)
        A withdrawal must leave enough cash to pay every trader's unrealised
        gain plus a buffer, a fraction of open-interest notional.
@custom:security Pool value rounds against the pool (traders' PnL up, the
                 funding they owe down); the cash requirement rounds up.
                 The aggregates are exact sums kept by `markets`, so the
                 value can differ from a per-position sum by a few wei.
"""

from snekmate.auth import ownable
from snekmate.utils import math

from . import collateral
from . import constants
from . import fixed_point as fp
from . import markets
from . import token_transfer
from . import errors

uses: ownable
uses: collateral
uses: markets


struct PoolState:
    # Pool cash (quote balance scaled to WAD).
    cash: int256
    # Traders' aggregate unrealised PnL (owed by the pool when > 0), rounded up.
    traders_pnl: int256
    # Funding traders owe the pool (paid to them when < 0), rounded down.
    traders_funding: int256
    # Skew premium traders paid in that the pool refunds as skew unwinds:
    # price * skew^2 / (2 * skew_scale) per market, rounded up.
    premium_owed: uint256
    # Long plus short open interest at oracle prices, rounded up.
    oi_notional: uint256
    # max(cash - traders_pnl + traders_funding - premium_owed, 0).
    value: uint256
    # Cash the pool must keep: max(traders_pnl - traders_funding, 0)
    # + premium_owed + buffer.
    required: uint256


event PoolSet:
    pool: indexed(address)


event PoolBufferSet:
    buffer: uint256


event PoolDeposit:
    pool: indexed(address)
    amount: uint256
    balance: int256


event PoolWithdraw:
    receiver: indexed(address)
    amount: uint256
    balance: int256


# The pool's quote cash (native quote units): the counterparty side of
# every settlement. Negative only if traders' realised gains exceed what
# LPs put in (covered by the bad-debt waterfall).
pool_balance: public(int256)
pool: public(address)
# WAD fraction of open-interest notional the pool keeps in cash.
pool_buffer: public(uint256)


@external
@view
def pool_state() -> PoolState:
    """
    @notice The pool's cash, its claim on open positions and what it must keep.
    @return (cash, traders_pnl, traders_funding, oi_notional, value, required), WAD USD.
    """
    return self._pool_state()


@external
@view
def pool_value() -> uint256:
    """
    @notice What the pool is worth, in native quote units, rounded down:
            the LiquidityPool's `totalAssets`.
    @return Native quote units.
    """
    return self._pool_state().value // self._precision()


@external
@view
def pool_withdrawable() -> uint256:
    """
    @notice The most cash the pool may release now, native quote units.
    @return Native quote units (0 when cash does not cover the requirement).
    """
    s: PoolState = self._pool_state()
    free: int256 = s.cash - convert(s.required, int256)
    if free <= 0:
        return 0
    return min(convert(free, uint256), s.value) // self._precision()


@external
def pool_deposit(amount: uint256):
    """
    @notice Moves `amount` quote from the LiquidityPool into the pool ledger.
    @dev Only the LiquidityPool, which must have approved this contract.
    @param amount Native quote units, > 0.
    """
    assert msg.sender == self.pool and msg.sender != empty(address), errors.NOT_POOL
    assert amount > 0, errors.ZERO_AMOUNT
    assert amount <= constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    self.pool_balance += convert(amount, int256)
    token_transfer._pull(collateral.quote_asset, msg.sender, amount)
    log PoolDeposit(pool=msg.sender, amount=amount, balance=self.pool_balance)


@external
def pool_withdraw(amount: uint256, receiver: address):
    """
    @notice Pays `amount` of pool cash to `receiver` for the LiquidityPool.
    @dev Reverts if the cash left would not cover traders' unrealised gains
         plus the buffer.
    @param amount Native quote units, > 0.
    @param receiver Who gets the tokens.
    """
    assert msg.sender == self.pool and msg.sender != empty(address), errors.NOT_POOL
    assert amount > 0, errors.ZERO_AMOUNT
    assert amount <= constants.MAX_AMOUNT, errors.AMOUNT_TOO_LARGE
    self.pool_balance -= convert(amount, int256)
    s: PoolState = self._pool_state()
    assert s.cash >= convert(s.required, int256), errors.POOL_CANNOT_COVER
    token_transfer._push(collateral.quote_asset, receiver, amount)
    log PoolWithdraw(receiver=receiver, amount=amount, balance=self.pool_balance)


@external
def set_pool(new_pool: address):
    """
    @notice Names the LiquidityPool, once.
    @param new_pool The ERC-4626 vault that owns the pool ledger.
    """
    ownable._check_owner()
    assert self.pool == empty(address), errors.POOL_ALREADY_SET
    assert new_pool.is_contract, errors.POOL_NOT_CONTRACT
    self.pool = new_pool
    log PoolSet(pool=new_pool)


@external
def set_pool_buffer(buffer: uint256):
    """
    @notice Sets the cash the pool keeps beyond traders' gains, as a WAD
            fraction of open-interest notional.
    @param buffer WAD fraction, <= 1.
    """
    ownable._check_owner()
    assert buffer <= constants.WAD, errors.BUFFER_TOO_HIGH
    self.pool_buffer = buffer
    log PoolBufferSet(buffer=buffer)


@internal
def _move_cash(delta: int256):
    """
    @dev Moves the pool's cash by `delta` native quote units: what a trade
         or a liquidation settles against it, or bad debt it absorbs.
    """
    self.pool_balance += delta


@internal
@view
def _precision() -> uint256:
    return collateral.asset_config[collateral.quote_asset].precision


@internal
@view
def _pool_state() -> PoolState:
    s: PoolState = empty(PoolState)
    s.cash = self.pool_balance * convert(self._precision(), int256)
    wad: int256 = convert(constants.WAD, int256)
    for m: uint256 in range(constants.MAX_MARKETS):
        if m == markets.num_markets:
            break
        # An empty market costs two storage reads, not the struct's eight.
        if markets.market_state[m].long_oi == 0 and markets.market_state[m].short_oi == 0:
            continue
        st: markets.MarketState = markets.market_state[m]
        price: uint256 = markets._price(m)
        rate: int256 = 0
        index: int256 = 0
        rate, index = markets._funding(m, price)
        s.traders_pnl += fp._ceil_div(convert(price, int256) * st.skew - st.entry_sum, wad)
        s.traders_funding += fp._floor_div(index * st.skew - st.funding_sum, wad)
        s.oi_notional += math._mul_div(st.long_oi + st.short_oi, price, constants.WAD, True)
        # Growing |skew| from 0 to k paid price * k^2 / (2 * skew_scale) into
        # the pool; unwinding pays it back. It is not the pool's money until
        # then, or an LP could leave with a share of it.
        skew_abs: uint256 = fp._abs(st.skew)
        s.premium_owed += math._mul_div(
            math._mul_div(skew_abs, price, constants.WAD, True),
            skew_abs,
            2 * markets._skew_scale(m),
            True,
        )
    owed: int256 = convert(s.premium_owed, int256)
    s.value = convert(max(s.cash - s.traders_pnl + s.traders_funding - owed, 0), uint256)
    s.required = (
        convert(max(s.traders_pnl - s.traders_funding, 0), uint256)
        + s.premium_owed
        + math._mul_div(s.oi_notional, self.pool_buffer, constants.WAD, True)
    )
    return s
