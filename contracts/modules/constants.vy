# pragma version 0.4.3
"""
@title xmargin fixed-point and sizing constants
@notice Every amount of value is a WAD (1e18) fixed-point number of USD;
        every rate (haircut, margin ratio, deviation) is a WAD fraction.
"""

# 1.0 in 18-decimal fixed point.
WAD: constant(uint256) = 10**18

# Assets an engine can list. Health loops over an account's bitmap of held
# assets, so this bounds the work of a health check (no unbounded loops).
MAX_ASSETS: constant(uint256) = 16

# Largest token amount (native units) a deposit cap may admit. Balances are
# int256 and values are computed with 512-bit mul_div, so 2**128 leaves room
# for `amount * 10**18 * price` without overflow.
MAX_AMOUNT: constant(uint256) = 2**128

# Largest normalised price an oracle may be configured to accept: 1e18 USD
# per whole token, in WAD.
MAX_PRICE: constant(uint256) = 10**36

# Most decimals a token or feed may have (values are scaled *up* to 18).
MAX_DECIMALS: constant(uint256) = 18

# Oracle heartbeats are bounded so a misconfigured feed cannot be "fresh"
# for weeks.
MAX_HEARTBEAT: constant(uint256) = 7 * 86_400

# Perpetual markets an engine can list. Health loops over an account's
# bitmap of open positions, so this bounds that loop too.
MAX_MARKETS: constant(uint256) = 32

# Largest |size| of a trade or a position, in base units scaled to 18
# decimals (about 7.9e10 whole units): keeps `size * price` (<= 2**96 *
# 10**36) and sums of such products far inside int256.
MAX_SIZE: constant(uint256) = 2**96

# Funding rates are quoted per day.
SECONDS_PER_DAY: constant(uint256) = 86_400

# Longest liquidation grace period after an unpause (Aave v3.1's bound).
MAX_GRACE: constant(uint256) = 4 * 3_600

# Pool capital caps (modules/liquidity.vy): net notional may reach at most
# twice the pool's value, traders' profit at most its whole value.
MAX_RESERVE_FACTOR: constant(uint256) = 2 * 10**18
MAX_PNL_FACTOR: constant(uint256) = 10**18

# Bounds on market parameters an owner may set.
# These four (and MAX_SIZE) also bound the lanes MarketParams is packed
# into (markets.params_words: 64 bits, 128 for sizes); keep them below.
MAX_FEE: constant(uint256) = 10**17  # 10 % of notional
MAX_SIZE_SCALAR: constant(uint256) = 10 * 10**18
MAX_FUNDING_RATE: constant(uint256) = 10 * 10**18  # 1,000 % per day
MAX_FUNDING_VELOCITY: constant(uint256) = 10 * 10**18  # per day, per day
# Largest return data the Clearinghouse's fallback forwards from its
# extensions (raw_call cuts anything longer): today `portfolio_exposure`,
# 25 words = 800 bytes; tests/unit/test_forwarding.py checks every
# forwarded function against it. Every forwarded call pays memory for the
# whole buffer, once per hop.
MAX_RETURN: constant(uint256) = 1_024

# Gas a token's `balanceOf` may burn where the engine must not depend on it
# (a collateral liquidation's shortfall check): the router's feed cap.
VIEW_GAS: constant(uint256) = 100_000
