# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse liquidation extension
@notice Liquidation and collateral liquidation
        (`modules/liquidation.vy`; the bad-debt write-off of an account
        with nothing left to liquidate is in ClearinghousePool, the
        insurance fund's top-up and the bad-debt totals in
        ClearinghouseAdmin), the portfolio
        liquidation order, the approval of an account's operators,
        and the account and market state reads keepers and integrators use
        but the core does not need. It runs only by `delegatecall` from the
        Clearinghouse's `__default__`, on the Clearinghouse's storage, at
        its address. Selectors this contract does not implement are
        forwarded, again by `delegatecall`, to ClearinghouseAdmin (the
        owner's and guardian's functions), so the core needs one extension
        address. The keepers' pages (`account_healths`,
        `accounts_to_liquidate`, `is_liquidatable`) are in the stateless
        ClearinghouseLens.
        Called directly, this contract acts on its own empty storage: no
        owner, no configuration, no quote asset; every function reverts or
        reports nothing, except `set_operator`, which records an approval
        in that unused storage (its `OperatorSet` comes from this
        contract's address, not the Clearinghouse's, and moves nothing).
@custom:security Storage layout equals the Clearinghouse's by construction:
                 both `initializes: state` and declare nothing else; a unit
                 test compares the compiler's layouts.
"""

from .modules import constants
from .modules import errors
from .modules import state

# The Clearinghouse's storage, by construction (modules/state.vy).
initializes: state

exports: (
    # liquidation
    state.liquidation.liquidate,
    state.liquidation.liquidate_collateral,
    # the order in which a portfolio-mode account is liquidated (its
    # exposure, `portfolio_exposure`, is read in the core)
    state.liquidation.portfolio_liquidation_market,
    # an account's operators (read in the core): each approval counts in
    # the account's header, which liquidation reads to skip the lookup
    state.operators.set_operator,
)

ADMIN: public(immutable(address))
# This contract's own address, which `liquidate_many` runs each item's
# `liquidate` from (by `delegatecall`, on the calling Clearinghouse's storage).
SELF: immutable(address)


@deploy
def __init__(admin: address):
    """
    @notice Deploys the extension, forwarding unknown selectors to `admin`.
    @param admin The ClearinghouseAdmin extension.
    """
    assert admin.is_contract, errors.BAD_ADMIN
    state.__init__()
    # Its own storage is never used: without an owner, every owner-only
    # function forwarded from a direct call reverts.
    state.ownable._transfer_ownership(empty(address))
    ADMIN = admin
    SELF = self


@external
@reentrant
@raw_return
def __default__() -> Bytes[constants.MAX_RETURN]:
    """
    @notice Runs the owner's and guardian's functions and the configuration
            reads (ClearinghouseAdmin) on the calling Clearinghouse's storage.
    @dev `@reentrant`: the admin functions take the shared lock themselves.
    """
    return raw_call(ADMIN, msg.data, max_outsize=constants.MAX_RETURN, is_delegate_call=True)


@external
@reentrant
def liquidate_many(
    items: DynArray[state.liquidation.LiquidationItem, state.liquidation.MAX_BATCH],
) -> uint256:
    """
    @notice Liquidates each item in turn, as `liquidate` would for the
            caller (every reward to its sub-account 0), with every price
            read once for the whole batch: an item that reverts is skipped
            and logged (`LiquidationSkipped`, with its revert data), the
            others go on. Reverts if every item fails, so a batch that
            would do nothing fails in simulation instead of being sent.
    @dev Each item runs this extension's `liquidate` by `delegatecall`
         (on the Clearinghouse's storage, where this runs), so that its
         revert undoes only its own changes. `@reentrant`: each item takes
         the engine's lock.
    @param items At most 100 liquidations: account, market, the most size
           to close and the least reward accepted (as `liquidate`).
    @return How many items went through.
    """
    return state.liquidation._liquidate_many(items, SELF)
