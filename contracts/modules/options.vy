# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin options link
@notice The engine's side of the OptionsDesk (docs/options.md): which desk
        holds the accounts' option positions, and the two reads the engine
        asks it. An account holding options has its header's options bit
        set (`accounts.OPTIONS_FLAG`); its health adds the desk's
        `account_risk` (the positions' marks and margin), and the pool's
        value counts what the pool owes on the options traders hold
        against it (`pool_terms`). The desk moves cash through
        `option_cash.option_pay`, which only it may call.
@custom:security The desk is named once by the owner and never changes,
                 so no account's positions can be moved to a desk that
                 values them differently. Both reads are `staticcall`s of
                 the desk's `@reentrant` views: the desk calls the engine
                 mid-trade, after its own state is written.
"""

from snekmate.auth import ownable

from . import errors

uses: ownable


# An option position's or account's part of its health, WAD USD.
struct OptionRisk:
    value: int256
    im: uint256
    mm: uint256


interface IOptionsDesk:
    def account_risk(owner: address, sub_id: uint256) -> OptionRisk: view
    def pool_terms() -> (int256, uint256, uint256): view
    def prices_since() -> uint256: view
    def portfolio_risk(
        owner: address,
        sub_id: uint256,
        risk: address,
        lo: int256[8],
        hi: int256[8],
        gross_notional: uint256,
        open_positions: uint256,
    ) -> (int256, uint256, uint256): view


event OptionsDeskSet:
    desk: indexed(address)


options_desk: public(address)


@external
def set_options_desk(desk: address):
    """
    @notice Names the OptionsDesk whose positions the engine margins and
            whose cash it moves, once.
    @param desk The OptionsDesk.
    """
    ownable._check_owner()
    assert self.options_desk == empty(address), errors.DESK_ALREADY_SET
    assert desk.is_contract, errors.DESK_NOT_CONTRACT
    self.options_desk = desk
    log OptionsDeskSet(desk=desk)


@internal
@view
def _account_risk(owner: address, sub_id: uint256) -> OptionRisk:
    """
    @dev The account's option positions' value (negative when short) and
         linear IM and MM, from the desk (reverts as its pricing does).
    """
    return staticcall IOptionsDesk(self.options_desk).account_risk(owner, sub_id)


@internal
@view
def _portfolio_risk(
    owner: address,
    sub_id: uint256,
    risk: address,
    lo: int256[8],
    hi: int256[8],
    gross_notional: uint256,
    open_positions: uint256,
) -> (int256, uint256, uint256):
    """
    @dev A portfolio account's options' value, and its whole book's MM and
         IM (before the collateral add-on) over the risk set's grid with
         the options repriced in each scenario, from the desk.
    """
    return staticcall IOptionsDesk(self.options_desk).portfolio_risk(
        owner, sub_id, risk, lo, hi, gross_notional, open_positions
    )


@internal
@view
def _pool_terms() -> (int256, uint256):
    """
    @dev What the pool owes on the options traders hold against it (the
         traders' net marks, rounded against the pool) and the margin its
         own short options need; nothing while no desk is named.
    """
    owed: int256 = 0
    margin: uint256 = 0
    need: uint256 = 0
    owed, margin, need = self._pool_options()
    return owed, margin


@internal
@view
def _pool_options() -> (int256, uint256, uint256):
    """
    @dev The desk's `pool_terms`: what the pool owes on options, their
         margin, and the least pool value its reserve factor needs (zeros
         while no desk is named).
    """
    desk: address = self.options_desk
    if desk == empty(address):
        return 0, 0, 0
    return staticcall IOptionsDesk(desk).pool_terms()


@internal
@view
def _prices_since() -> uint256:
    """
    @dev When the oldest price or volatility the pool's value reads for
         options was published (max uint256 while no desk is named).
    """
    desk: address = self.options_desk
    if desk == empty(address):
        return max_value(uint256)
    return staticcall IOptionsDesk(desk).prices_since()
