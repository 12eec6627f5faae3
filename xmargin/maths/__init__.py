"""Pure maths: the integer mirror of each contract module.

Fixed point (`fixed_point`), collateral and health (`model`), perpetual
markets (`perps`), liquidation (`liquidation`), the portfolio risk set
(`portfolio`), one account snapshot (`account.Account`, whose `health()`
is the only linear-or-portfolio dispatch) and what-if curves
(`scenarios`). Imports only the standard library and this layer: no web3,
Ape, eth_*, requests, click, rich or matplotlib
(tests/unit/test_package_layers.py).
"""
