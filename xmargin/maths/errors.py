"""The one catalogue of revert reasons (mirror of contracts/modules/errors.vy).

Every xmargin contract reverts with one of these strings, "xm.<area>: <what>"
(at most 32 bytes). Python code matches reasons by these names, never by a
copied literal; tests/unit/test_errors.py checks this file against
errors.vy and the compiled contracts.
"""

from __future__ import annotations

from typing import Final

# input: bad input of any entry point
ZERO_AMOUNT: Final = "xm.input: zero amount"
AMOUNT_TOO_LARGE: Final = "xm.input: amount too large"
ZERO_SIZE: Final = "xm.input: zero size"
SIZE_TOO_LARGE: Final = "xm.input: size too large"

# deploy: constructors
BAD_LIQUIDATOR: Final = "xm.deploy: bad liquidator"
BAD_ADMIN: Final = "xm.deploy: bad admin"
BAD_POOL_EXTENSION: Final = "xm.deploy: bad pool extension"
BAD_ORDERS_EXTENSION: Final = "xm.deploy: bad orders extension"

# gov: guardian and pause
PAUSED: Final = "xm.gov: paused"
NOT_PAUSED: Final = "xm.gov: not paused"
ALREADY_PAUSED: Final = "xm.gov: already paused"
NOT_OWNER_OR_GUARDIAN: Final = "xm.gov: not owner or guardian"
GRACE_TOO_LONG: Final = "xm.gov: grace too long"
IN_GRACE: Final = "xm.gov: liquidation grace"

# acct: accounts, sub-accounts and operators
INSUFFICIENT_BALANCE: Final = "xm.acct: insufficient balance"
SAME_SUB_ACCOUNT: Final = "xm.acct: same sub-account"
OWNER_NEEDS_NO_APPROVAL: Final = "xm.acct: owner needs no approval"
ZERO_OPERATOR: Final = "xm.acct: zero operator"
NOT_OPERATOR: Final = "xm.acct: not an operator"

# health: margin checks
BELOW_IM: Final = "xm.health: below IM"

# asset: collateral listing, parameters and deposits
ASSET_NOT_LISTED: Final = "xm.asset: not listed"
ASSET_NOT_CONTRACT: Final = "xm.asset: not a contract"
ASSET_ALREADY_LISTED: Final = "xm.asset: already listed"
ASSET_FROZEN: Final = "xm.asset: frozen"
ASSET_NOT_FROZEN: Final = "xm.asset: not frozen"
FREEZE_RAMP_RANGE: Final = "xm.asset: freeze ramp range"
ASSET_SHORT: Final = "xm.asset: tokens short"
TOO_MANY_ASSETS: Final = "xm.asset: too many assets"
TOKEN_DECIMALS: Final = "xm.asset: decimals above 18"
HAIRCUT_TOO_HIGH: Final = "xm.asset: haircut above 100%"
MM_HAIRCUT_ABOVE_IM: Final = "xm.asset: mm haircut > im"
CAP_TOO_LARGE: Final = "xm.asset: cap too large"
QUOTE_HAIRCUT: Final = "xm.asset: quote takes no haircut"
DEPOSIT_CAP: Final = "xm.asset: deposit cap exceeded"

# token: ERC-20 transfers
TRANSFER_FROM_FAILED: Final = "xm.token: transferFrom failed"
TRANSFER_FAILED: Final = "xm.token: transfer failed"
FEE_ON_TRANSFER: Final = "xm.token: fee on transfer"
WRONG_AMOUNT_MOVED: Final = "xm.token: moved wrong amount"
APPROVE_FAILED: Final = "xm.token: approve failed"

# oracle: OracleRouter and the engine's oracle
ORACLE_NOT_CONTRACT: Final = "xm.oracle: not a contract"
NO_FEED: Final = "xm.oracle: no feed"
ASSET_NO_PRICE: Final = "xm.oracle: asset has no price"
MARKET_NO_PRICE: Final = "xm.oracle: market has no price"
PRICE_OUT_OF_BOUNDS: Final = "xm.oracle: price out of bounds"
PRICE_NOT_POSITIVE: Final = "xm.oracle: price <= 0"
PRICE_INCOMPLETE: Final = "xm.oracle: round incomplete"
PRICE_FROM_FUTURE: Final = "xm.oracle: price from future"
PRICE_STALE: Final = "xm.oracle: price stale"
SECOND_NOT_POSITIVE: Final = "xm.oracle: second price <= 0"
SECOND_INCOMPLETE: Final = "xm.oracle: second incomplete"
SECOND_FROM_FUTURE: Final = "xm.oracle: second from future"
SECOND_STALE: Final = "xm.oracle: second price stale"
FEED_CALL_FAILED: Final = "xm.oracle: feed call failed"
SECOND_CALL_FAILED: Final = "xm.oracle: second feed failed"
FEED_DECIMALS_CHANGED: Final = "xm.oracle: feed decimals changed"
SECOND_DECIMALS_CHANGED: Final = "xm.oracle: second decimals moved"
FEED_PHASE_CHANGED: Final = "xm.oracle: feed phase changed"
SECOND_PHASE_CHANGED: Final = "xm.oracle: second phase changed"
FEEDS_DEVIATE: Final = "xm.oracle: feeds deviate"
ZERO_ASSET: Final = "xm.oracle: zero asset"
MIN_PRICE_ZERO: Final = "xm.oracle: min price is zero"
MAX_PRICE_TOO_LARGE: Final = "xm.oracle: max price too large"
MAX_PRICE_BELOW_MIN: Final = "xm.oracle: max price <= min"
PRIMARY_IS_SECOND: Final = "xm.oracle: primary is second"
SECOND_IS_PRIMARY: Final = "xm.oracle: second is primary"
NO_SECOND_FEED: Final = "xm.oracle: no second feed"
ZERO_DEVIATION: Final = "xm.oracle: zero deviation"
DEVIATION_TOO_HIGH: Final = "xm.oracle: deviation above 100%"
FEED_NOT_CONTRACT: Final = "xm.oracle: feed not a contract"
ZERO_HEARTBEAT: Final = "xm.oracle: zero heartbeat"
HEARTBEAT_TOO_LONG: Final = "xm.oracle: heartbeat > 7 days"
FEED_DECIMALS: Final = "xm.oracle: feed decimals > 18"
# implied-volatility feeds (options, issue 23)
NO_VOL_FEED: Final = "xm.oracle: no vol feed"
VOL_OUT_OF_BOUNDS: Final = "xm.oracle: vol out of bounds"
VOL_NOT_POSITIVE: Final = "xm.oracle: vol <= 0"
VOL_INCOMPLETE: Final = "xm.oracle: vol round incomplete"
VOL_FROM_FUTURE: Final = "xm.oracle: vol from future"
VOL_STALE: Final = "xm.oracle: vol stale"
VOL_CALL_FAILED: Final = "xm.oracle: vol feed failed"
VOL_DECIMALS_CHANGED: Final = "xm.oracle: vol decimals changed"
VOL_PHASE_CHANGED: Final = "xm.oracle: vol phase changed"
MIN_VOL_ZERO: Final = "xm.oracle: min vol is zero"
MAX_VOL_RANGE: Final = "xm.oracle: max vol out of range"
EXPIRY_PAST: Final = "xm.oracle: expiry not in future"
NOT_EXPIRED: Final = "xm.oracle: expiry not reached"
ROUND_BEFORE_EXPIRY: Final = "xm.oracle: round before expiry"
NOT_FIRST_ROUND: Final = "xm.oracle: not first round after"
NO_SUCH_ROUND: Final = "xm.oracle: no such round"

# market: market listing and parameters
UNKNOWN_MARKET: Final = "xm.market: unknown market"
TOO_MANY_MARKETS: Final = "xm.market: too many markets"
ZERO_MARKET_ASSET: Final = "xm.market: zero asset"
MARKET_ASSET_FIXED: Final = "xm.market: asset cannot change"
ZERO_MM_RATIO: Final = "xm.market: zero mm ratio"
MM_RATIO_ABOVE_IM: Final = "xm.market: mm ratio >= im"
IM_RATIO_TOO_HIGH: Final = "xm.market: im ratio above 100%"
MM_SCALAR_ABOVE_IM: Final = "xm.market: mm scalar > im"
SIZE_SCALAR_TOO_LARGE: Final = "xm.market: size scalar too large"
SKEW_SCALE_TOO_SMALL: Final = "xm.market: skew scale < 1 unit"
SKEW_SCALE_TOO_LARGE: Final = "xm.market: skew scale too large"
MAKER_FEE_ABOVE_TAKER: Final = "xm.market: maker fee > taker"
FEE_TOO_HIGH: Final = "xm.market: fee above 10%"
OI_CAP_TOO_LARGE: Final = "xm.market: OI cap too large"
OI_CAP_ABOVE_SKEW_SCALE: Final = "xm.market: OI cap > skew scale"
RATE_CAP_TOO_LARGE: Final = "xm.market: rate cap too large"
VELOCITY_TOO_LARGE: Final = "xm.market: velocity too large"

# trade: trading
MARKET_CLOSED: Final = "xm.trade: market closed"
OI_CAP: Final = "xm.trade: open interest cap"
POSITION_TOO_LARGE: Final = "xm.trade: position too large"
FILL_ABOVE_LIMIT: Final = "xm.trade: fill above limit"
FILL_BELOW_LIMIT: Final = "xm.trade: fill below limit"
REDUCTION_TOO_COSTLY: Final = "xm.trade: reduction too costly"
REDUCTION_NEEDS_IM: Final = "xm.trade: reduction needs IM"
HEALTH_OUT_OF_GAS: Final = "xm.trade: health out of gas"

# pool: the engine's pool ledger
NOT_POOL: Final = "xm.pool: caller is not the pool"
POOL_NOT_CONTRACT: Final = "xm.pool: not a contract"
POOL_ALREADY_SET: Final = "xm.pool: already set"
POOL_CANNOT_COVER: Final = "xm.pool: cannot cover positions"
BUFFER_TOO_HIGH: Final = "xm.pool: buffer above 100%"
RESERVE_CAP: Final = "xm.pool: reserve cap"
TOTAL_RESERVE_CAP: Final = "xm.pool: total reserve cap"
PNL_CAP: Final = "xm.pool: pnl cap"
RESERVE_FACTOR_RANGE: Final = "xm.pool: reserve factor range"
PNL_FACTOR_RANGE: Final = "xm.pool: pnl factor range"
CAPS_NEED_VALUE: Final = "xm.pool: caps need the value"
ADL_TARGET_RANGE: Final = "xm.pool: adl target range"
LEDGER_FULL: Final = "xm.pool: ledger lane full"

# adl: auto-deleveraging
ADL_NOT_SET: Final = "xm.adl: market not capped"
ADL_NOT_NEEDED: Final = "xm.adl: profit within cap"
ADL_NOT_IN_PROFIT: Final = "xm.adl: position not in profit"
ADL_WRONG_SIDE: Final = "xm.adl: not on the skew's side"
ADL_SELF: Final = "xm.adl: own account"
ADL_RAISES_MM: Final = "xm.adl: would raise MM"

# order: delayed orders and their rules
ORDER_DELAY_RANGE: Final = "xm.order: delay out of range"
ORDER_WINDOW_RANGE: Final = "xm.order: window out of range"
ORDER_DEVIATION_RANGE: Final = "xm.order: deviation above 100%"
FEES_BELOW_DEVIATION: Final = "xm.order: fees below deviation"
TRADE_BY_ORDER: Final = "xm.order: market trades by order"
NO_ORDER_RULES: Final = "xm.order: market has no rules"
ORDER_PENDING: Final = "xm.order: order pending"
NO_ORDER: Final = "xm.order: no order"
ORDER_TOO_EARLY: Final = "xm.order: too early"
ORDER_EXPIRED: Final = "xm.order: expired"
ORDER_PRICE_TOO_OLD: Final = "xm.order: price not after delay"
ORDER_NOT_EXPIRED: Final = "xm.order: not expired"
ORDER_OUT_OF_GAS: Final = "xm.order: settle out of gas"
ENGINE_ONLY: Final = "xm.order: engine only"

# vault: the LiquidityPool vault
POOL_NO_VALUE: Final = "xm.vault: pool has no value"
BELOW_ONE_SHARE: Final = "xm.vault: below one share"
INSUFFICIENT_SHARES: Final = "xm.vault: insufficient shares"
REQUEST_DELAY_RANGE: Final = "xm.vault: delay out of range"
SYNC_VAULT: Final = "xm.vault: requests are off"
ASYNC_VAULT: Final = "xm.vault: settles by request"
NOT_CONTROLLER: Final = "xm.vault: not controller"
NO_REQUEST: Final = "xm.vault: no pending request"
REQUEST_TOO_EARLY: Final = "xm.vault: request too early"
REQUEST_PRICE_TOO_OLD: Final = "xm.vault: price not after delay"
ABOVE_CLAIMABLE: Final = "xm.vault: above claimable"

# liq: liquidation, collateral liquidation, bad debt
SELF_LIQUIDATION: Final = "xm.liq: self-liquidation"
NOT_LIQUIDATABLE: Final = "xm.liq: not liquidatable"
NOT_CONFIGURED: Final = "xm.liq: not configured"
NO_POSITION: Final = "xm.liq: no position in market"
WRONG_ORDER: Final = "xm.liq: worst loser first"
MUST_CLOSE_WHOLE: Final = "xm.liq: must close whole"
PIECE_BELOW_DUST: Final = "xm.liq: piece below dust"
REWARD_BELOW_MIN: Final = "xm.liq: reward below minimum"
QUOTE_NOT_COLLATERAL: Final = "xm.liq: quote is not collateral"
HAS_POSITIONS: Final = "xm.liq: has positions"
NO_DEBT: Final = "xm.liq: no debt"
HOLDS_NONE: Final = "xm.liq: holds none of asset"
HOLDS_COLLATERAL: Final = "xm.liq: holds collateral"
RECOVER_ABOVE_HELD: Final = "xm.liq: recover above held"
RECOVER_TO_SELF: Final = "xm.liq: recover to engine"
STILL_PRICED: Final = "xm.liq: priced: sell it instead"
REPAY_BELOW_ONE_UNIT: Final = "xm.liq: repay below one unit"
OUT_BELOW_MIN: Final = "xm.liq: out below minimum"
PENALTY_TOO_HIGH: Final = "xm.liq: penalty above 10%"
SHARE_MIN_ABOVE_MAX: Final = "xm.liq: keeper share min > max"
SHARE_TOO_HIGH: Final = "xm.liq: keeper share > 100%"
AUCTION_DEPTH_RANGE: Final = "xm.liq: auction depth range"
TARGET_TOO_LOW: Final = "xm.liq: target health <= 1"
TARGET_TOO_HIGH: Final = "xm.liq: target health > 2"
FULL_CLOSE_TOO_HIGH: Final = "xm.liq: full-close health >= 1"
DUST_TOO_LARGE: Final = "xm.liq: dust too large"
DISCOUNT_TOO_HIGH: Final = "xm.liq: discount above 20%"
CAPACITY_WINDOW_RANGE: Final = "xm.liq: capacity window range"
CAPACITY_FACTOR_RANGE: Final = "xm.liq: capacity factor range"
LIQ_CAPACITY: Final = "xm.liq: window capacity used"
BATCH_OUT_OF_GAS: Final = "xm.liq: batch item out of gas"
BATCH_ALL_FAILED: Final = "xm.liq: every item failed"
BATCH_NESTED: Final = "xm.liq: batch inside a batch"

# opt: option series and positions (OptionsBook, OptionsDesk; issue 23)
UNKNOWN_SERIES: Final = "xm.opt: unknown series"
SERIES_EXISTS: Final = "xm.opt: series exists"
STRIKE_OUT_OF_RANGE: Final = "xm.opt: strike out of range"
EXPIRY_TOO_SOON: Final = "xm.opt: expiry too soon"
EXPIRY_TOO_FAR: Final = "xm.opt: expiry too far"
TOO_MANY_SERIES: Final = "xm.opt: too many series"
NOTHING_TO_SETTLE: Final = "xm.opt: no series at expiry"
ALREADY_SETTLED: Final = "xm.opt: already settled"
NOT_SETTLED: Final = "xm.opt: expired, not settled"
NO_OPTION_MARGIN: Final = "xm.opt: no margin rule"
OPTION_MARGIN_RANGE: Final = "xm.opt: margin rule out of range"
DESK_ONLY: Final = "xm.opt: options desk only"
DESK_ALREADY_SET: Final = "xm.opt: desk already set"
DESK_NOT_CONTRACT: Final = "xm.opt: desk is not a contract"
ENGINE_NOT_CONTRACT: Final = "xm.opt: engine not a contract"
TRADE_RULES_RANGE: Final = "xm.opt: trade rules out of range"
NO_TRADE_RULES: Final = "xm.opt: no trade rules"
SERIES_EXPIRED: Final = "xm.opt: series expired"
OPTION_OI_CAP: Final = "xm.opt: open interest cap"
OPTION_TOO_SMALL: Final = "xm.opt: position below minimum"
OPTION_RESERVE_CAP: Final = "xm.opt: pool reserve cap"
NO_OPTION_POSITION: Final = "xm.opt: no position"
TOO_MANY_HELD: Final = "xm.opt: too many series held"
TOO_MANY_ACTIVE: Final = "xm.opt: too many active series"
SCENARIO_LENGTHS: Final = "xm.opt: bad scenario moves"
OPTION_HEDGE: Final = "xm.opt: close frees no margin"
UNDERLYING_NOT_LISTED: Final = "xm.opt: underlying not listed"

# pm: portfolio margin and PortfolioRisk
PM_NOT_CONFIGURED: Final = "xm.pm: not configured"
ALREADY_IN_MODE: Final = "xm.pm: already in that mode"
NOT_PORTFOLIO: Final = "xm.pm: not in portfolio mode"
PM_NO_POSITION: Final = "xm.pm: no position"
RISK_SET_NOT_CONTRACT: Final = "xm.pm: set is not a contract"
RISK_SET_BAD_GROUPS: Final = "xm.pm: set has no valid groups"
ASSET_GROUP_NOT_IN_SET: Final = "xm.pm: asset group not in set"
MARKET_GROUP_NOT_IN_SET: Final = "xm.pm: market group not in set"
GROUP_ASSET_NOT_LISTED: Final = "xm.pm: asset not listed"
NO_SUCH_GROUP: Final = "xm.pm: no such group"
NO_SCENARIOS: Final = "xm.pm: no scenarios"
NO_GROUPS: Final = "xm.pm: no groups"
RAGGED_SHOCKS: Final = "xm.pm: one shock per group"
SHOCK_OUT_OF_RANGE: Final = "xm.pm: shock out of range"
FLOOR_TOO_HIGH: Final = "xm.pm: floor above 100%"
MIN_TOO_LARGE: Final = "xm.pm: minimum too large"
IM_FACTOR_RANGE: Final = "xm.pm: IM factor out of range"
WEIGHT_RANGE: Final = "xm.pm: weight out of range"
CONCENTRATION_RANGE: Final = "xm.pm: concentration too large"
CREDIT_RANGE: Final = "xm.pm: bad credit pair or rate"
NO_SUCH_SCENARIO: Final = "xm.pm: no such scenario"
EXPOSURE_BOUNDS: Final = "xm.pm: exposure lo > hi"
EXPOSURE_TOO_LARGE: Final = "xm.pm: exposure too large"

# Reasons of snekmate's modules the engine exports (not in errors.vy).
NOT_OWNER: Final = "ownable: caller is not the owner"
NOT_NEW_OWNER: Final = "ownable_2step: caller is not the new owner"


def area(reason: str) -> str:
    """The area of a reason: "xm.oracle" of "xm.oracle: price stale"."""
    return reason.split(": ", 1)[0]


def from_message(message: str, reasons: tuple[str, ...] | None = None) -> str | None:
    """The reason (of `reasons`, default every one) a revert message names:
    the reason itself, or its text without the `xm.<area>: ` label, which
    some providers strip (Ape's node provider reads it as a label)."""
    for reason in reasons if reasons is not None else tuple(catalogue().values()):
        if message in (reason, reason.split(": ", 1)[-1]):
            return reason
    return None


def in_area(name: str) -> tuple[str, ...]:
    """Every reason of the area `name` ("oracle": the OracleRouter's)."""
    return tuple(r for r in catalogue().values() if area(r) == f"xm.{name}")


def catalogue() -> dict[str, str]:
    """name -> reason for every xmargin reason (snekmate's excluded)."""
    return {
        name: value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, str) and value.startswith("xm.")
    }
