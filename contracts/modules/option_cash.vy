# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin option cash
@notice The one door through which the OptionsDesk moves money: a
        premium, a close at the mark, an expiry's payoff or a liquidation
        penalty passes between an account's quote balance and the pool's
        cash (the pool is the counterparty of every option trade), and the
        account's options bit follows whether it still holds options.
        Amounts arrive in WAD USD and are converted to native quote units
        rounded against the account (floor: it pays the larger amount, is
        paid the smaller). What the call is for decides its checks:
            TRADE        an option trade: refused while paused; the account
                         must meet initial margin afterwards
            CLOSE        a close, an expiry's settlement: no check (it never
                         adds risk the desk did not price at the mark)
            LIQUIDATION  liquidations must be open and the keeper may not
                         act for the account; the penalty goes to the
                         keeper's sub-account 0
@custom:security Only the named desk may call (`options.options_desk`);
                 the desk writes its own state before it calls, and the
                 margin check reads it back through the desk's
                 `account_risk`.
"""

from . import accounts
from . import collateral
from . import errors
from . import fixed_point as fp
from . import governance
from . import health
from . import liquidity
from . import operators
from . import options
from . import registry

uses: accounts
uses: collateral
uses: governance
uses: health
uses: liquidity
uses: operators
uses: options
uses: registry

TRADE: constant(uint256) = 0
CLOSE: constant(uint256) = 1
LIQUIDATION: constant(uint256) = 2


event OptionCash:
    owner: indexed(address)
    sub_id: indexed(uint256)
    # Native quote units to the account (negative: from it), against the pool.
    amount: int256
    keeper: address
    penalty: uint256
    holds_options: bool


@external
def option_pay(
    owner: address,
    sub_id: uint256,
    delta: int256,
    keeper: address,
    penalty: uint256,
    holds: bool,
    kind: uint256,
):
    """
    @notice Moves an option trade's cash between an account and the pool,
            for the OptionsDesk only (see the module's notice).
    @param owner The account owner.
    @param sub_id The sub-account.
    @param delta WAD USD to the account from the pool (negative: to the
           pool), rounded down in native units.
    @param keeper A liquidation's keeper (LIQUIDATION only).
    @param penalty WAD USD from the account to the keeper, rounded down.
    @param holds Whether the account holds any option afterwards.
    @param kind TRADE, CLOSE or LIQUIDATION.
    """
    assert msg.sender == options.options_desk, errors.DESK_ONLY
    if kind == TRADE:
        governance._check_not_paused()
    elif kind == LIQUIDATION:
        governance._check_liquidations_open()
        assert not operators._acts_for(keeper, owner, sub_id), errors.SELF_LIQUIDATION
    precision: int256 = convert(liquidity._precision(), int256)
    amount: int256 = fp._floor_div(delta, precision)
    quote: address = collateral.quote_asset
    if amount != 0:
        collateral._add(owner, sub_id, quote, amount)
        liquidity._move_cash(-amount)
    fee: uint256 = penalty // convert(precision, uint256)
    if fee != 0:
        collateral._add(owner, sub_id, quote, -convert(fee, int256))
        collateral._add(keeper, 0, quote, convert(fee, int256))
    if holds != accounts._has_options(owner, sub_id):
        if holds:
            registry._register(owner, sub_id)
        accounts._flip(owner, sub_id, accounts.OPTIONS_FLAG)
    if kind == TRADE:
        health._check_im(owner, sub_id)
    log OptionCash(
        owner=owner,
        sub_id=sub_id,
        amount=amount,
        keeper=keeper,
        penalty=fee,
        holds_options=holds,
    )
