# pragma version 0.4.3
"""
@title xmargin revert reasons
@notice Every reason an xmargin contract reverts with, listed once. Each is
        "xm.<area>: <what>", at most 32 bytes (one word of bytecode).
        `xmargin/maths/errors.py` lists the same names and strings for Python, and
        tests/unit/test_errors.py checks the two agree with each other and
        with the compiled contracts.
"""

# input: bad input of any entry point
ZERO_AMOUNT: constant(String[32]) = "xm.input: zero amount"
AMOUNT_TOO_LARGE: constant(String[32]) = "xm.input: amount too large"
ZERO_SIZE: constant(String[32]) = "xm.input: zero size"
SIZE_TOO_LARGE: constant(String[32]) = "xm.input: size too large"

# deploy: constructors
BAD_LIQUIDATOR: constant(String[32]) = "xm.deploy: bad liquidator"
BAD_ADMIN: constant(String[32]) = "xm.deploy: bad admin"
BAD_POOL_EXTENSION: constant(String[32]) = "xm.deploy: bad pool extension"

# gov: guardian and pause
PAUSED: constant(String[32]) = "xm.gov: paused"
NOT_PAUSED: constant(String[32]) = "xm.gov: not paused"
ALREADY_PAUSED: constant(String[32]) = "xm.gov: already paused"
NOT_OWNER_OR_GUARDIAN: constant(String[32]) = "xm.gov: not owner or guardian"
GRACE_TOO_LONG: constant(String[32]) = "xm.gov: grace too long"
IN_GRACE: constant(String[32]) = "xm.gov: liquidation grace"

# acct: accounts, sub-accounts and operators
INSUFFICIENT_BALANCE: constant(String[32]) = "xm.acct: insufficient balance"
SAME_SUB_ACCOUNT: constant(String[32]) = "xm.acct: same sub-account"
OWNER_NEEDS_NO_APPROVAL: constant(String[32]) = "xm.acct: owner needs no approval"
ZERO_OPERATOR: constant(String[32]) = "xm.acct: zero operator"
NOT_OPERATOR: constant(String[32]) = "xm.acct: not an operator"

# health: margin checks
BELOW_IM: constant(String[32]) = "xm.health: below IM"

# asset: collateral listing, parameters and deposits
ASSET_NOT_LISTED: constant(String[32]) = "xm.asset: not listed"
ASSET_NOT_CONTRACT: constant(String[32]) = "xm.asset: not a contract"
ASSET_ALREADY_LISTED: constant(String[32]) = "xm.asset: already listed"
TOO_MANY_ASSETS: constant(String[32]) = "xm.asset: too many assets"
TOKEN_DECIMALS: constant(String[32]) = "xm.asset: decimals above 18"
HAIRCUT_TOO_HIGH: constant(String[32]) = "xm.asset: haircut above 100%"
MM_HAIRCUT_ABOVE_IM: constant(String[32]) = "xm.asset: mm haircut > im"
CAP_TOO_LARGE: constant(String[32]) = "xm.asset: cap too large"
QUOTE_HAIRCUT: constant(String[32]) = "xm.asset: quote takes no haircut"
DEPOSIT_CAP: constant(String[32]) = "xm.asset: deposit cap exceeded"

# token: ERC-20 transfers
TRANSFER_FROM_FAILED: constant(String[32]) = "xm.token: transferFrom failed"
TRANSFER_FAILED: constant(String[32]) = "xm.token: transfer failed"
FEE_ON_TRANSFER: constant(String[32]) = "xm.token: fee on transfer"
WRONG_AMOUNT_MOVED: constant(String[32]) = "xm.token: moved wrong amount"
APPROVE_FAILED: constant(String[32]) = "xm.token: approve failed"

# oracle: OracleRouter and the engine's oracle
ORACLE_NOT_CONTRACT: constant(String[32]) = "xm.oracle: not a contract"
NO_FEED: constant(String[32]) = "xm.oracle: no feed"
ASSET_NO_PRICE: constant(String[32]) = "xm.oracle: asset has no price"
MARKET_NO_PRICE: constant(String[32]) = "xm.oracle: market has no price"
PRICE_OUT_OF_BOUNDS: constant(String[32]) = "xm.oracle: price out of bounds"
PRICE_NOT_POSITIVE: constant(String[32]) = "xm.oracle: price <= 0"
PRICE_INCOMPLETE: constant(String[32]) = "xm.oracle: round incomplete"
PRICE_FROM_FUTURE: constant(String[32]) = "xm.oracle: price from future"
PRICE_STALE: constant(String[32]) = "xm.oracle: price stale"
SECOND_NOT_POSITIVE: constant(String[32]) = "xm.oracle: second price <= 0"
SECOND_INCOMPLETE: constant(String[32]) = "xm.oracle: second incomplete"
SECOND_FROM_FUTURE: constant(String[32]) = "xm.oracle: second from future"
SECOND_STALE: constant(String[32]) = "xm.oracle: second price stale"
FEEDS_DEVIATE: constant(String[32]) = "xm.oracle: feeds deviate"
ZERO_ASSET: constant(String[32]) = "xm.oracle: zero asset"
MIN_PRICE_ZERO: constant(String[32]) = "xm.oracle: min price is zero"
MAX_PRICE_TOO_LARGE: constant(String[32]) = "xm.oracle: max price too large"
MAX_PRICE_BELOW_MIN: constant(String[32]) = "xm.oracle: max price <= min"
PRIMARY_IS_SECOND: constant(String[32]) = "xm.oracle: primary is second"
SECOND_IS_PRIMARY: constant(String[32]) = "xm.oracle: second is primary"
NO_SECOND_FEED: constant(String[32]) = "xm.oracle: no second feed"
ZERO_DEVIATION: constant(String[32]) = "xm.oracle: zero deviation"
DEVIATION_TOO_HIGH: constant(String[32]) = "xm.oracle: deviation above 100%"
FEED_NOT_CONTRACT: constant(String[32]) = "xm.oracle: feed not a contract"
ZERO_HEARTBEAT: constant(String[32]) = "xm.oracle: zero heartbeat"
HEARTBEAT_TOO_LONG: constant(String[32]) = "xm.oracle: heartbeat > 7 days"
FEED_DECIMALS: constant(String[32]) = "xm.oracle: feed decimals > 18"

# market: market listing and parameters
UNKNOWN_MARKET: constant(String[32]) = "xm.market: unknown market"
TOO_MANY_MARKETS: constant(String[32]) = "xm.market: too many markets"
ZERO_MARKET_ASSET: constant(String[32]) = "xm.market: zero asset"
MARKET_ASSET_FIXED: constant(String[32]) = "xm.market: asset cannot change"
ZERO_MM_RATIO: constant(String[32]) = "xm.market: zero mm ratio"
MM_RATIO_ABOVE_IM: constant(String[32]) = "xm.market: mm ratio >= im"
IM_RATIO_TOO_HIGH: constant(String[32]) = "xm.market: im ratio above 100%"
MM_SCALAR_ABOVE_IM: constant(String[32]) = "xm.market: mm scalar > im"
SIZE_SCALAR_TOO_LARGE: constant(String[32]) = "xm.market: size scalar too large"
SKEW_SCALE_TOO_SMALL: constant(String[32]) = "xm.market: skew scale < 1 unit"
SKEW_SCALE_TOO_LARGE: constant(String[32]) = "xm.market: skew scale too large"
MAKER_FEE_ABOVE_TAKER: constant(String[32]) = "xm.market: maker fee > taker"
FEE_TOO_HIGH: constant(String[32]) = "xm.market: fee above 10%"
OI_CAP_TOO_LARGE: constant(String[32]) = "xm.market: OI cap too large"
OI_CAP_ABOVE_SKEW_SCALE: constant(String[32]) = "xm.market: OI cap > skew scale"
RATE_CAP_TOO_LARGE: constant(String[32]) = "xm.market: rate cap too large"
VELOCITY_TOO_LARGE: constant(String[32]) = "xm.market: velocity too large"

# trade: trading
MARKET_CLOSED: constant(String[32]) = "xm.trade: market closed"
OI_CAP: constant(String[32]) = "xm.trade: open interest cap"
POSITION_TOO_LARGE: constant(String[32]) = "xm.trade: position too large"
FILL_ABOVE_LIMIT: constant(String[32]) = "xm.trade: fill above limit"
FILL_BELOW_LIMIT: constant(String[32]) = "xm.trade: fill below limit"
REDUCTION_TOO_COSTLY: constant(String[32]) = "xm.trade: reduction too costly"
REDUCTION_NEEDS_IM: constant(String[32]) = "xm.trade: reduction needs IM"

# pool: the engine's pool ledger
NOT_POOL: constant(String[32]) = "xm.pool: caller is not the pool"
POOL_NOT_CONTRACT: constant(String[32]) = "xm.pool: not a contract"
POOL_ALREADY_SET: constant(String[32]) = "xm.pool: already set"
POOL_CANNOT_COVER: constant(String[32]) = "xm.pool: cannot cover positions"
BUFFER_TOO_HIGH: constant(String[32]) = "xm.pool: buffer above 100%"
RESERVE_CAP: constant(String[32]) = "xm.pool: reserve cap"
TOTAL_RESERVE_CAP: constant(String[32]) = "xm.pool: total reserve cap"
PNL_CAP: constant(String[32]) = "xm.pool: pnl cap"
RESERVE_FACTOR_RANGE: constant(String[32]) = "xm.pool: reserve factor range"
PNL_FACTOR_RANGE: constant(String[32]) = "xm.pool: pnl factor range"
CAPS_NEED_VALUE: constant(String[32]) = "xm.pool: caps need the value"
ADL_TARGET_RANGE: constant(String[32]) = "xm.pool: adl target range"

# adl: auto-deleveraging
ADL_NOT_SET: constant(String[32]) = "xm.adl: market not capped"
ADL_NOT_NEEDED: constant(String[32]) = "xm.adl: profit within cap"
ADL_NOT_IN_PROFIT: constant(String[32]) = "xm.adl: position not in profit"
ADL_WRONG_SIDE: constant(String[32]) = "xm.adl: not on the skew's side"
ADL_SELF: constant(String[32]) = "xm.adl: own account"
ADL_RAISES_MM: constant(String[32]) = "xm.adl: would raise MM"

# vault: the LiquidityPool vault
POOL_NO_VALUE: constant(String[32]) = "xm.vault: pool has no value"
BELOW_ONE_SHARE: constant(String[32]) = "xm.vault: below one share"
INSUFFICIENT_SHARES: constant(String[32]) = "xm.vault: insufficient shares"

# liq: liquidation, collateral liquidation, bad debt
SELF_LIQUIDATION: constant(String[32]) = "xm.liq: self-liquidation"
NOT_LIQUIDATABLE: constant(String[32]) = "xm.liq: not liquidatable"
NOT_CONFIGURED: constant(String[32]) = "xm.liq: not configured"
NO_POSITION: constant(String[32]) = "xm.liq: no position in market"
WRONG_ORDER: constant(String[32]) = "xm.liq: worst loser first"
MUST_CLOSE_WHOLE: constant(String[32]) = "xm.liq: must close whole"
PIECE_BELOW_DUST: constant(String[32]) = "xm.liq: piece below dust"
REWARD_BELOW_MIN: constant(String[32]) = "xm.liq: reward below minimum"
QUOTE_NOT_COLLATERAL: constant(String[32]) = "xm.liq: quote is not collateral"
HAS_POSITIONS: constant(String[32]) = "xm.liq: has positions"
NO_DEBT: constant(String[32]) = "xm.liq: no debt"
HOLDS_NONE: constant(String[32]) = "xm.liq: holds none of asset"
HOLDS_COLLATERAL: constant(String[32]) = "xm.liq: holds collateral"
REPAY_BELOW_ONE_UNIT: constant(String[32]) = "xm.liq: repay below one unit"
OUT_BELOW_MIN: constant(String[32]) = "xm.liq: out below minimum"
PENALTY_TOO_HIGH: constant(String[32]) = "xm.liq: penalty above 10%"
SHARE_MIN_ABOVE_MAX: constant(String[32]) = "xm.liq: keeper share min > max"
SHARE_TOO_HIGH: constant(String[32]) = "xm.liq: keeper share > 100%"
AUCTION_DEPTH_RANGE: constant(String[32]) = "xm.liq: auction depth range"
TARGET_TOO_LOW: constant(String[32]) = "xm.liq: target health <= 1"
TARGET_TOO_HIGH: constant(String[32]) = "xm.liq: target health > 2"
FULL_CLOSE_TOO_HIGH: constant(String[32]) = "xm.liq: full-close health >= 1"
DUST_TOO_LARGE: constant(String[32]) = "xm.liq: dust too large"
DISCOUNT_TOO_HIGH: constant(String[32]) = "xm.liq: discount above 20%"

# pm: portfolio margin and PortfolioRisk
PM_NOT_CONFIGURED: constant(String[32]) = "xm.pm: not configured"
ALREADY_IN_MODE: constant(String[32]) = "xm.pm: already in that mode"
NOT_PORTFOLIO: constant(String[32]) = "xm.pm: not in portfolio mode"
PM_NO_POSITION: constant(String[32]) = "xm.pm: no position"
RISK_SET_NOT_CONTRACT: constant(String[32]) = "xm.pm: set is not a contract"
RISK_SET_BAD_GROUPS: constant(String[32]) = "xm.pm: set has no valid groups"
ASSET_GROUP_NOT_IN_SET: constant(String[32]) = "xm.pm: asset group not in set"
MARKET_GROUP_NOT_IN_SET: constant(String[32]) = "xm.pm: market group not in set"
GROUP_ASSET_NOT_LISTED: constant(String[32]) = "xm.pm: asset not listed"
NO_SUCH_GROUP: constant(String[32]) = "xm.pm: no such group"
NO_SCENARIOS: constant(String[32]) = "xm.pm: no scenarios"
NO_GROUPS: constant(String[32]) = "xm.pm: no groups"
RAGGED_SHOCKS: constant(String[32]) = "xm.pm: one shock per group"
SHOCK_OUT_OF_RANGE: constant(String[32]) = "xm.pm: shock out of range"
FLOOR_TOO_HIGH: constant(String[32]) = "xm.pm: floor above 100%"
MIN_TOO_LARGE: constant(String[32]) = "xm.pm: minimum too large"
IM_FACTOR_RANGE: constant(String[32]) = "xm.pm: IM factor out of range"
NO_SUCH_SCENARIO: constant(String[32]) = "xm.pm: no such scenario"
EXPOSURE_BOUNDS: constant(String[32]) = "xm.pm: exposure lo > hi"
EXPOSURE_TOO_LARGE: constant(String[32]) = "xm.pm: exposure too large"
