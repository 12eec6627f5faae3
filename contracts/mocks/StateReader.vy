# pragma version 0.4.3
"""
@title Test-only batch reader of a Clearinghouse's state
@notice One view call returns what the fuzz machine's invariants compare
        with the model after every step (balances, positions and health of
        each tracked account, market states, the pool, insurance and
        bad-debt ledgers, tokens held), instead of ~50 separate Ape calls.
        A health view that reverts (an invalid price) is reported as not
        ok; the test then asks the Clearinghouse directly for its reason.
@custom:security Test helper only (contracts/mocks): never deployed by the
                 project's scripts.
"""

from ethereum.ercs import IERC20


struct Account:
    owner: address
    sub_id: uint256


struct Position:
    size: int256
    entry_price: uint256
    funding_index: int256


struct MarketState:
    skew: int256
    long_oi: uint256
    short_oi: uint256
    entry_sum: int256
    funding_sum: int256
    funding_rate: int256
    funding_index: int256
    last_funding_time: uint256


struct Health:
    ok: bool
    equity: int256
    im: uint256
    mm: uint256


struct Ledgers:
    pool_balance: int256
    insurance_fund: uint256
    bad_debt_total: uint256
    bad_debt_insurance: uint256
    bad_debt_pool: uint256
    num_accounts: uint256


interface IClearinghouseState:
    def balance_of(owner: address, sub_id: uint256, asset: address) -> int256: view
    def position(owner: address, sub_id: uint256, market_id: uint256) -> Position: view
    def market_state(market_id: uint256) -> MarketState: view
    def pool_balance() -> int256: view
    def insurance_fund() -> uint256: view
    def bad_debt_total() -> uint256: view
    def bad_debt_insurance() -> uint256: view
    def bad_debt_pool() -> uint256: view
    def num_accounts() -> uint256: view


MAX_ACCOUNTS: constant(uint256) = 8
MAX_ASSETS: constant(uint256) = 4
MAX_MARKETS: constant(uint256) = 4


@external
@view
def read(
    ch: IClearinghouseState,
    accounts: DynArray[Account, MAX_ACCOUNTS],
    assets: DynArray[address, MAX_ASSETS],
    num_markets: uint256,
) -> (
    DynArray[int256, MAX_ACCOUNTS * MAX_ASSETS],
    DynArray[Position, MAX_ACCOUNTS * MAX_MARKETS],
    DynArray[Health, MAX_ACCOUNTS],
    DynArray[MarketState, MAX_MARKETS],
    Ledgers,
    DynArray[uint256, MAX_ASSETS],
):
    """
    @notice Everything the invariants compare, in account-major order.
    @param ch The Clearinghouse.
    @param accounts The tracked accounts.
    @param assets The listed assets (token balances of `ch` are returned too).
    @param num_markets Markets to read (ids 0 .. num_markets - 1).
    @return balances[account][asset], positions[account][market], health per
            account, market states, ledgers, tokens held per asset.
    """
    balances: DynArray[int256, MAX_ACCOUNTS * MAX_ASSETS] = []
    positions: DynArray[Position, MAX_ACCOUNTS * MAX_MARKETS] = []
    healths: DynArray[Health, MAX_ACCOUNTS] = []
    for a: Account in accounts:
        for asset: address in assets:
            balances.append(staticcall ch.balance_of(a.owner, a.sub_id, asset))
        for m: uint256 in range(MAX_MARKETS):
            if m == num_markets:
                break
            positions.append(staticcall ch.position(a.owner, a.sub_id, m))
        ok: bool = False
        data: Bytes[96] = b""
        ok, data = raw_call(
            ch.address,
            abi_encode(a.owner, a.sub_id, method_id=method_id("account_health(address,uint256)")),
            max_outsize=96,
            is_static_call=True,
            revert_on_failure=False,
        )
        h: Health = empty(Health)
        if ok and len(data) == 96:
            h.ok = True
            h.equity, h.im, h.mm = abi_decode(data, (int256, uint256, uint256))
        healths.append(h)
    states: DynArray[MarketState, MAX_MARKETS] = []
    for m: uint256 in range(MAX_MARKETS):
        if m == num_markets:
            break
        states.append(staticcall ch.market_state(m))
    ledgers: Ledgers = Ledgers(
        pool_balance=staticcall ch.pool_balance(),
        insurance_fund=staticcall ch.insurance_fund(),
        bad_debt_total=staticcall ch.bad_debt_total(),
        bad_debt_insurance=staticcall ch.bad_debt_insurance(),
        bad_debt_pool=staticcall ch.bad_debt_pool(),
        num_accounts=staticcall ch.num_accounts(),
    )
    held: DynArray[uint256, MAX_ASSETS] = []
    for asset: address in assets:
        held.append(staticcall IERC20(asset).balanceOf(ch.address))
    return balances, positions, healths, states, ledgers, held
