# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title xmargin Clearinghouse lens
@notice Read-only breakdowns for UIs, the CLI and keepers, kept out of the
        Clearinghouse so they cost it no bytecode. Everything is computed
        from the Clearinghouse's own views with the same maths
        (`markets._risk`), so a row here sums to what `account_health`
        reports. The keepers' pages (`account_healths`,
        `accounts_to_liquidate`, `is_liquidatable`) read the engine's
        account registry 50 accounts at a time: a page is one call, and no
        loop ever walks the whole registry.
        The liquidation price of a position is the price of its asset at
        which the account's equity would equal its maintenance margin, other
        assets' prices held where they are. The asset's price moves
        everything priced from it: every open position on it (sizes s_i,
        MM ratios mmr_i, MMs mm_i, funding a_i accrued per unit since its
        market's last touch, which that touch books at its price) and the
        account's collateral in it (c: its amount less the maintenance
        haircut, which is what equity counts):
            E + (S + c) * (p - P) = M - sum(mm_i) + sum(|s_i| * mmr_i) * p
        with S = sum(s_i * (P - a_i) / P), so
            p = ((M - sum(mm_i) - E) + (S + c) * P) / (S + c - sum(|s_i| * mmr_i)),
        rounded toward the current price (a long is liquidated a little
        earlier, a short a little earlier too). 0 means no positive price
        of the asset liquidates the account. In portfolio mode MM is a
        maximum over scenarios, not linear in the price: the lens moves the
        asset's part of its risk group's exposure (its positions at the
        price less the funding accrued since their market's last touch, and
        the collateral in it after the MM haircut) by p / P, the equity by
        the same and the gross notional with the positions, asks the risk
        set for MM at each trial price and bisects to P / 1e9, within 1,000
        times the price (the healthy side of the boundary): about 42 calls
        of the risk set per asset the account trades, once per asset (1.2 M
        gas an asset on an 8 x 32 set with credits). An account
        holding options reports 0 in portfolio mode, and in linear mode
        for an asset its options are written on: the lens does not reprice
        options (`xmargin status` and `xmargin chart` do, docs/cli.md).
        `option_details` lists an account's option positions with their
        value, linear margins and greeks.
@custom:security View-only; holds nothing; trusts only the Clearinghouse it
                 is asked about.
"""

from .interfaces import IOptionsBook
from .interfaces import IOracleRouter
from .interfaces import IPortfolioRisk
from .modules import collateral
from .modules import constants
from .modules import fixed_point as fp
from .modules import health
from .modules import markets
from .modules import portfolio
from .modules import registry


# The engine's views the lens reads, typed with the modules' own structs.
interface IClearinghouseView:
    def oracle() -> address: view
    def quote_asset() -> address: view
    def balance_of(owner: address, sub_id: uint256, asset: address) -> int256: view
    def position_mask(owner: address, sub_id: uint256) -> uint256: view
    def position(owner: address, sub_id: uint256, market_id: uint256) -> markets.Position: view
    def market_params(market_id: uint256) -> markets.MarketParams: view
    def funding_now(market_id: uint256) -> (int256, int256): view
    def account_health(owner: address, sub_id: uint256) -> health.Health: view
    def num_accounts() -> uint256: view
    def account_at(index: uint256) -> registry.Account: view
    def held_mask(owner: address, sub_id: uint256) -> uint256: view
    def asset_list(index: uint256) -> address: view
    def asset_config(asset: address) -> collateral.Asset: view
    def portfolio_mode(owner: address, sub_id: uint256) -> bool: view
    def portfolio_exposure(owner: address, sub_id: uint256) -> portfolio.Exposure: view
    def portfolio_risk() -> address: view
    def risk_group(asset: address) -> uint256: view
    def market_state(market_id: uint256) -> markets.MarketState: view
    def holds_options(owner: address, sub_id: uint256) -> bool: view
    def options_desk() -> address: view


# The desk's views the lens reads.
interface IOptionsDeskView:
    def BOOK() -> address: view
    def account_series(owner: address, sub_id: uint256) -> DynArray[uint256, MAX_HELD]: view
    def position(owner: address, sub_id: uint256, series_id: uint256) -> int256: view


# Accounts per keeper page.
MAX_PAGE: constant(uint256) = 50
# The desk's cap on series held by one account (OptionsDesk.MAX_HELD).
MAX_HELD: constant(uint256) = 8
# The portfolio solver searches up to this multiple of the price, to a
# precision of the price / BISECT_PRECISION.
MAX_MOVE: constant(uint256) = 1_000
BISECT_PRECISION: constant(uint256) = 10**9
# An encoded Health (3 words), or the engine's revert data: Error(string)
# with a reason of at most 32 bytes (selector, offset, length, one word:
# 100 bytes; longer data is cut here and not decoded).
HEALTH_BYTES: constant(uint256) = 132


struct AccountHealth:
    owner: address
    sub_id: uint256
    equity: int256
    im: uint256
    mm: uint256
    # "" when the health was read; else the engine's reason (a price the
    # account needs is invalid) and the first asset, in the engine's read
    # order, whose price the router refuses (margins are then zero).
    error: String[32]
    asset: address


struct PositionDetail:
    market_id: uint256
    size: int256
    entry_price: uint256
    price: uint256
    notional: uint256
    pnl: int256
    funding: int256
    im: uint256
    mm: uint256
    liquidation_price: uint256


struct Greeks:
    delta: int256
    gamma: int256
    vega: int256
    theta: int256


struct OptionDetail:
    series_id: uint256
    asset: address
    strike: uint256
    expiry: uint256
    is_call: bool
    # contracts, negative when short
    size: int256
    # per contract, WAD USD
    mark: uint256
    # the position's value and linear margins, WAD USD
    value: int256
    im: uint256
    mm: uint256
    # the position's greeks (per-contract greeks x size, toward zero), WAD:
    # delta per 1 USD of the underlying, gamma per 1 USD squared, vega per
    # 1.00 of volatility, theta per year
    delta: int256
    gamma: int256
    vega: int256
    theta: int256


@external
@view
def option_details(
    clearinghouse: IClearinghouseView, owner: address, sub_id: uint256
) -> DynArray[OptionDetail, MAX_HELD]:
    """
    @notice Every option position of an account with its mark, value,
            linear margins and greeks (the account's totals:
            `option_greeks`).
    @dev Reverts as the book's `mark` does (a series needing a price or
         volatility the router refuses). Empty without a desk.
    @param clearinghouse The engine.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return One row per series held, in the desk's order.
    """
    return self._option_details(clearinghouse, owner, sub_id)


@internal
@view
def _option_details(
    clearinghouse: IClearinghouseView, owner: address, sub_id: uint256
) -> DynArray[OptionDetail, MAX_HELD]:
    out: DynArray[OptionDetail, MAX_HELD] = []
    desk: address = staticcall clearinghouse.options_desk()
    if desk == empty(address):
        return out
    book: IOptionsBook = IOptionsBook(staticcall IOptionsDeskView(desk).BOOK())
    wad: int256 = convert(constants.WAD, int256)
    for series_id: uint256 in staticcall IOptionsDeskView(desk).account_series(owner, sub_id):
        size: int256 = staticcall IOptionsDeskView(desk).position(owner, sub_id, series_id)
        s: IOptionsBook.Series = staticcall book.series_of(series_id)
        r: IOptionsBook.OptionRisk = staticcall book.position_risk(series_id, size)
        delta: int256 = 0
        gamma: uint256 = 0
        vega: uint256 = 0
        theta: int256 = 0
        delta, gamma, vega, theta = staticcall book.greeks(series_id)
        out.append(
            OptionDetail(
                series_id=series_id,
                asset=s.asset,
                strike=s.strike,
                expiry=s.expiry,
                is_call=s.is_call,
                size=size,
                mark=staticcall book.mark(series_id),
                value=r.value,
                im=r.im,
                mm=r.mm,
                delta=size * delta // wad,
                gamma=size * convert(gamma, int256) // wad,
                vega=size * convert(vega, int256) // wad,
                theta=size * theta // wad,
            )
        )
    return out


@external
@view
def option_greeks(clearinghouse: IClearinghouseView, owner: address, sub_id: uint256) -> Greeks:
    """
    @notice An account's delta, gamma, vega and theta over its option
            positions: the sum of `option_details`' rows (the desk's
            `account_greeks`).
    @dev Reverts as `option_details` does.
    @param clearinghouse The engine.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return (delta, gamma, vega, theta), WAD.
    """
    g: Greeks = empty(Greeks)
    rows: DynArray[OptionDetail, MAX_HELD] = self._option_details(clearinghouse, owner, sub_id)
    for r: OptionDetail in rows:
        g.delta += r.delta
        g.gamma += r.gamma
        g.vega += r.vega
        g.theta += r.theta
    return g


@external
@view
def position_details(
    clearinghouse: IClearinghouseView, owner: address, sub_id: uint256
) -> DynArray[PositionDetail, constants.MAX_MARKETS]:
    """
    @notice Every open position of an account with its PnL, funding owed,
            margins and liquidation price.
    @param clearinghouse The engine.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return One row per open position, in market order (WAD USD, WAD sizes).
    """
    out: DynArray[PositionDetail, constants.MAX_MARKETS] = []
    assets: DynArray[address, constants.MAX_MARKETS] = []
    h: health.Health = staticcall clearinghouse.account_health(owner, sub_id)
    oracle: IOracleRouter = IOracleRouter(staticcall clearinghouse.oracle())
    in_portfolio: bool = staticcall clearinghouse.portfolio_mode(owner, sub_id)
    options: bool = staticcall clearinghouse.holds_options(owner, sub_id)
    mask: uint256 = staticcall clearinghouse.position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            p: markets.MarketParams = staticcall clearinghouse.market_params(m)
            out.append(
                self._detail(clearinghouse, oracle, owner, sub_id, m, p, h, in_portfolio, options)
            )
            assets.append(p.asset)
        mask >>= 1
    if len(out) == 0 or not in_portfolio or options:
        return out
    # Portfolio mode: one solve per asset (positions on one asset share
    # it), over the book read once.
    x: portfolio.Exposure = staticcall clearinghouse.portfolio_exposure(owner, sub_id)
    risk: IPortfolioRisk = IPortfolioRisk(staticcall clearinghouse.portfolio_risk())
    for i: uint256 in range(constants.MAX_MARKETS):
        if i == len(out):
            break
        for j: uint256 in range(constants.MAX_MARKETS):
            if j == i:
                out[i].liquidation_price = self._portfolio_liquidation_price(
                    clearinghouse, owner, sub_id, assets[i], out[i].price, h, x, risk
                )
                break
            if assets[j] == assets[i]:
                out[i].liquidation_price = out[j].liquidation_price
                break
    return out


@external
@view
def is_liquidatable(clearinghouse: IClearinghouseView, owner: address, sub_id: uint256) -> bool:
    """
    @notice Whether the account's equity is below its maintenance margin:
            what `liquidate` (or `liquidate_collateral`) checks.
    @dev An account with no debt and no position is never liquidatable (a
         stale feed does not make it revert). Otherwise reverts if a price
         the account needs is invalid.
    @param clearinghouse The engine.
    @param owner The account owner.
    @param sub_id The sub-account.
    @return True if the account can be liquidated now.
    """
    return self._is_liquidatable(clearinghouse, owner, sub_id)


@external
@view
def accounts_to_liquidate(
    clearinghouse: IClearinghouseView, start: uint256, limit: uint256
) -> DynArray[registry.Account, MAX_PAGE]:
    """
    @notice The liquidatable accounts among registry indexes
            [start, start + min(limit, 50)).
    @dev Never reverts for an account's invalid price: an account whose
         health cannot be read is left out (`account_healths` names it
         with the asset to blame), so one broken feed hides no one else.
    @param clearinghouse The engine.
    @param start First registry index.
    @param limit Accounts to scan, at most 50.
    @return The accounts with equity below maintenance margin.
    """
    out: DynArray[registry.Account, MAX_PAGE] = []
    page: DynArray[registry.Account, MAX_PAGE] = self._page(clearinghouse, start, limit)
    for a: registry.Account in page:
        r: AccountHealth = self._row(clearinghouse, a)
        if r.equity < convert(r.mm, int256) and self._has_liabilities(
            clearinghouse, a.owner, a.sub_id
        ):
            out.append(a)
    return out


@external
@view
def account_healths(
    clearinghouse: IClearinghouseView, start: uint256, limit: uint256
) -> DynArray[AccountHealth, MAX_PAGE]:
    """
    @notice Equity, IM and MM of registry accounts [start, start + min(limit, 50)),
            one call for a keeper's batch read.
    @dev Never reverts for an account's invalid price: that account's row
         carries the engine's reason and the asset whose price the router
         refuses, with zero margins; the other rows are read as usual.
    @param clearinghouse The engine.
    @param start First registry index.
    @param limit Accounts to read, at most 50.
    @return One row per account, in registry order.
    """
    out: DynArray[AccountHealth, MAX_PAGE] = []
    page: DynArray[registry.Account, MAX_PAGE] = self._page(clearinghouse, start, limit)
    for a: registry.Account in page:
        out.append(self._row(clearinghouse, a))
    return out


@internal
@view
def _row(ch: IClearinghouseView, a: registry.Account) -> AccountHealth:
    """
    @dev The account's health, or why it cannot be read: the engine's
         reason and the asset to blame.
    """
    ok: bool = False
    data: Bytes[HEALTH_BYTES] = b""
    ok, data = self._try_health(ch, a.owner, a.sub_id)
    if ok:
        h: health.Health = abi_decode(data, health.Health)
        return AccountHealth(
            owner=a.owner,
            sub_id=a.sub_id,
            equity=h.equity,
            im=h.im,
            mm=h.mm,
            error="",
            asset=empty(address),
        )
    return AccountHealth(
        owner=a.owner,
        sub_id=a.sub_id,
        equity=0,
        im=0,
        mm=0,
        error=self._reason(data),
        asset=self._unpriced(ch, a.owner, a.sub_id),
    )


@internal
@view
def _try_health(
    ch: IClearinghouseView, owner: address, sub_id: uint256
) -> (bool, Bytes[HEALTH_BYTES]):
    return raw_call(
        ch.address,
        abi_encode(owner, sub_id, method_id=method_id("account_health(address,uint256)")),
        max_outsize=HEALTH_BYTES,
        is_static_call=True,
        revert_on_failure=False,
    )


@internal
@pure
def _reason(data: Bytes[HEALTH_BYTES]) -> String[32]:
    """
    @dev The reason of an Error(string) revert of at most 32 bytes (every
         xmargin reason); "" for any other revert data.
    """
    if len(data) < 100 or slice(data, 0, 4) != method_id("Error(string)"):
        return ""
    n: uint256 = convert(slice(data, 36, 32), uint256)
    if n > 32:
        return ""
    return convert(slice(slice(data, 68, 32), 0, n), String[32])


@internal
@view
def _unpriced(ch: IClearinghouseView, owner: address, sub_id: uint256) -> address:
    """
    @dev The first asset, in the engine's read order (held collateral in
         listing order, skipping assets at a 100 % haircut, then each
         position's market), whose price the router refuses.
    """
    oracle: address = staticcall ch.oracle()
    mask: uint256 = staticcall ch.held_mask(owner, sub_id) >> 1
    for i: uint256 in range(1, constants.MAX_ASSETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            asset: address = staticcall ch.asset_list(i)
            if (staticcall ch.asset_config(asset)).mm_haircut != constants.WAD:
                if not self._priced(oracle, asset):
                    return asset
        mask >>= 1
    mask = staticcall ch.position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            asset: address = (staticcall ch.market_params(m)).asset
            if not self._priced(oracle, asset):
                return asset
        mask >>= 1
    return empty(address)


@internal
@view
def _priced(oracle: address, asset: address) -> bool:
    ok: bool = False
    data: Bytes[32] = b""
    ok, data = raw_call(
        oracle,
        abi_encode(asset, method_id=method_id("price(address)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    return ok


@internal
@view
def _page(
    ch: IClearinghouseView, start: uint256, limit: uint256
) -> DynArray[registry.Account, MAX_PAGE]:
    """
    @dev Registry accounts [start, start + min(limit, MAX_PAGE)), in order.
    """
    out: DynArray[registry.Account, MAX_PAGE] = []
    n: uint256 = staticcall ch.num_accounts()
    for j: uint256 in range(MAX_PAGE):
        if j >= limit or start + j >= n:
            break
        out.append(staticcall ch.account_at(start + j))
    return out


@internal
@view
def _is_liquidatable(ch: IClearinghouseView, owner: address, sub_id: uint256) -> bool:
    """
    @dev What the engine's liquidation entry points check: equity below
         maintenance margin, and something owed (a position or quote debt;
         the engine's `health._has_liabilities`). One call in the common
         case: the account's health; liabilities are read only for an
         account below MM, or when the health call reverts (a price it
         needs is invalid): then an account that owes nothing is not
         liquidatable (and is not priced), and any other reverts with the
         engine's own reason, whole.
    """
    ok: bool = False
    data: Bytes[HEALTH_BYTES] = b""
    ok, data = self._try_health(ch, owner, sub_id)
    if ok:
        h: health.Health = abi_decode(data, health.Health)
        if h.equity >= convert(h.mm, int256):
            return False
        return self._has_liabilities(ch, owner, sub_id)
    if not self._has_liabilities(ch, owner, sub_id):
        return False
    # Reverts again, now bubbling the engine's revert data whatever its length.
    h: health.Health = staticcall ch.account_health(owner, sub_id)
    return h.equity < convert(h.mm, int256)


@internal
@view
def _has_liabilities(ch: IClearinghouseView, owner: address, sub_id: uint256) -> bool:
    return (
        staticcall ch.balance_of(owner, sub_id, staticcall ch.quote_asset()) < 0
        or staticcall ch.position_mask(owner, sub_id) != 0
    )


@internal
@view
def _detail(
    ch: IClearinghouseView,
    oracle: IOracleRouter,
    owner: address,
    sub_id: uint256,
    m: uint256,
    p: markets.MarketParams,
    h: health.Health,
    in_portfolio: bool,
    options: bool,
) -> PositionDetail:
    """
    @dev One position's row; a portfolio account's liquidation price is
         filled in by `position_details`, one solve per asset.
    """
    pos: markets.Position = staticcall ch.position(owner, sub_id, m)
    price: uint256 = staticcall oracle.price(p.asset)
    rate: int256 = 0
    index: int256 = 0
    rate, index = staticcall ch.funding_now(m)
    r: markets.PositionRisk = markets._risk(pos, p, price, index)
    liq: uint256 = 0
    if not in_portfolio and not (options and self._options_on(ch, owner, sub_id, p.asset)):
        liq = self._liquidation_price(ch, owner, sub_id, p.asset, price, h)
    return PositionDetail(
        market_id=m,
        size=pos.size,
        entry_price=pos.entry_price,
        price=price,
        notional=r.notional,
        pnl=r.pnl,
        funding=r.funding,
        im=r.im,
        mm=r.mm,
        liquidation_price=liq,
    )


@internal
@view
def _liquidation_price(
    ch: IClearinghouseView,
    owner: address,
    sub_id: uint256,
    asset: address,
    price: uint256,
    h: health.Health,
) -> uint256:
    """
    @dev Where `asset`'s price meets E = MM, a linear account's positions
         on it and its collateral in it moving together (the contract's
         notice has the formula).
    """
    size: int256 = 0
    slope: uint256 = 0
    moved_mm: uint256 = 0
    mask: uint256 = staticcall ch.position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            p: markets.MarketParams = staticcall ch.market_params(m)
            if p.asset == asset:
                pos: markets.Position = staticcall ch.position(owner, sub_id, m)
                rate: int256 = 0
                index: int256 = 0
                rate, index = staticcall ch.funding_now(m)
                # The funding accrued since the market's last touch moves
                # with the price too: the next touch books it at its price.
                stored: int256 = (staticcall ch.market_state(m)).funding_index
                size += pos.size * (convert(price, int256) - index + stored) // convert(
                    price, int256
                )
                slope += fp._abs(pos.size) * markets._margin_ratio(
                    fp._abs(pos.size), p.mmr_base, p.mm_size_scalar, p.skew_scale
                )
                moved_mm += markets._risk(pos, p, price, index).mm
        mask >>= 1
    held: uint256 = 0
    if asset != staticcall ch.quote_asset():
        a: collateral.Asset = staticcall ch.asset_config(asset)
        balance: int256 = staticcall ch.balance_of(owner, sub_id, asset)
        if a.listed and balance > 0:
            held = (
                convert(balance, uint256)
                * a.precision
                * (constants.WAD - a.mm_haircut) // constants.WAD
            )
    return self._solve(size + convert(held, int256), slope, price, h.equity, h.mm - moved_mm)


@internal
@view
def _options_on(ch: IClearinghouseView, owner: address, sub_id: uint256, asset: address) -> bool:
    """
    @dev Whether the account, which holds options, holds one on `asset`.
    """
    desk: IOptionsDeskView = IOptionsDeskView(staticcall ch.options_desk())
    book: IOptionsBook = IOptionsBook(staticcall desk.BOOK())
    for series_id: uint256 in staticcall desk.account_series(owner, sub_id):
        if (staticcall book.series_of(series_id)).asset == asset:
            return True
    return False


@internal
@view
def _portfolio_liquidation_price(
    ch: IClearinghouseView,
    owner: address,
    sub_id: uint256,
    asset: address,
    price: uint256,
    h: health.Health,
    x: portfolio.Exposure,
    risk: IPortfolioRisk,
) -> uint256:
    """
    @dev Where `asset`'s price meets E = MM for a portfolio account
         without options (its book `x`, the risk set in force `risk`), by
         bisection over the risk set's requirement (the contract's notice).
    """
    wad: int256 = convert(constants.WAD, int256)
    p0: int256 = convert(price, int256)
    # c: the asset's part of its group's exposure; n: its positions' |size|.
    c: int256 = 0
    n: uint256 = 0
    mask: uint256 = staticcall ch.position_mask(owner, sub_id)
    for m: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            if (staticcall ch.market_params(m)).asset == asset:
                size: int256 = (staticcall ch.position(owner, sub_id, m)).size
                rate: int256 = 0
                index: int256 = 0
                rate, index = staticcall ch.funding_now(m)
                stored: int256 = (staticcall ch.market_state(m)).funding_index
                c += fp._floor_div(size * (p0 - index + stored), wad)
                n += fp._abs(size)
        mask >>= 1
    if asset != staticcall ch.quote_asset():
        a: collateral.Asset = staticcall ch.asset_config(asset)
        balance: int256 = staticcall ch.balance_of(owner, sub_id, asset)
        if a.listed and balance > 0:
            c += convert(
                convert(balance, uint256)
                * a.precision
                * price // constants.WAD
                * (constants.WAD - a.mm_haircut) // constants.WAD,
                int256,
            )
    g: uint256 = staticcall ch.risk_group(asset)
    here: bool = self._under(risk, x, h.equity, g, c, n, price, price)
    lo: uint256 = 0
    hi: uint256 = price
    if self._under(risk, x, h.equity, g, c, n, price, 0) == here:
        hi = price * MAX_MOVE
        if self._under(risk, x, h.equity, g, c, n, price, hi) == here:
            return 0
        lo = price
    lo_under: bool = self._under(risk, x, h.equity, g, c, n, price, lo)
    step: uint256 = max(price // BISECT_PRECISION, 1)
    for i: uint256 in range(128):
        if hi - lo <= step:
            break
        mid: uint256 = (lo + hi) // 2
        if self._under(risk, x, h.equity, g, c, n, price, mid) == lo_under:
            lo = mid
        else:
            hi = mid
    if lo_under:
        return hi
    return lo


@internal
@view
def _under(
    risk: IPortfolioRisk,
    x: portfolio.Exposure,
    equity: int256,
    g: uint256,
    c: int256,
    n: uint256,
    price: uint256,
    p: uint256,
) -> bool:
    """
    @dev Whether the account is below MM with the asset at `p`: its part
         `c` of group `g` and the equity moved by c (p - P) / P (down for
         the equity and the low bound, up for the high), the gross
         notional by n (p - P).
    """
    dp: int256 = convert(p, int256) - convert(price, int256)
    down: int256 = fp._floor_div(c * dp, convert(price, int256))
    lo: int256[portfolio.MAX_GROUPS] = x.lo
    hi: int256[portfolio.MAX_GROUPS] = x.hi
    lo[g] += down
    hi[g] += fp._ceil_div(c * dp, convert(price, int256))
    gross: int256 = convert(x.gross_notional, int256) + fp._ceil_div(
        convert(n, int256) * dp, convert(constants.WAD, int256)
    )
    mm: uint256 = 0
    im: uint256 = 0
    mm, im = staticcall risk.requirement(lo, hi, convert(max(gross, 0), uint256), x.open_positions)
    return equity + down < convert(mm, int256)


@internal
@pure
def _solve(
    moving: int256, slope: uint256, price: uint256, equity: int256, rest_mm: uint256
) -> uint256:
    """
    @dev p with E + moving * (p - P) = rest_mm + slope * p (WAD units:
         `moving` in WAD base units, `slope` in WAD^2), rounded toward P;
         0 if no positive p.
    """
    wad: int256 = convert(constants.WAD, int256)
    # num in WAD^2 units, den in WAD units: p = num / den is WAD USD.
    num: int256 = (convert(rest_mm, int256) - equity) * wad + moving * convert(price, int256)
    den: int256 = fp._floor_div(moving * wad - convert(slope, int256), wad)
    if den == 0:
        return 0
    p: int256 = 0
    if den > 0:
        p = fp._ceil_div(num, den)
    else:
        p = fp._floor_div(-num, -den)
    return convert(max(p, 0), uint256)
