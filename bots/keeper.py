"""The liquidation keeper as a silverback bot (xmargin.ui.bot):

    silverback run keeper --network ethereum:sepolia:node --account keeper

Settings: `XMARGIN_KEEPER_*` variables (min profit, batch, shard) and
silverback's `SILVERBACK_*` (broker, result backend); docs/liquidation.md.
"""

from xmargin.ui.bot import make_bot

bot = make_bot()
