"""A vectorised screen that clears accounts far above maintenance margin.

The keeper values an account with the exact model
(`xmargin.maths.replica.Replica.health`, about 15 us of Python per
account). Across 100,000 accounts on every block that is more than a
second, and almost every account is far from its MM. This screen proves
most of them safe at once, with numpy, and leaves the rest (the
candidates) to the exact model.

Without rounding, a linear-margin account's equity minus MM is linear in
the prices and funding indexes:

    slack = q + sum_a bal_a * P_a * (1 - mmh_a)
              + sum_m size_m * (p_m - entry_m) - size_m * (idx_m - fidx_m)
              - sum_m |size_m| * p_m * mmr_m

(WAD units dropped). The engine rounds each term once or twice, always by
less than one wei and against the account: a held asset by less than 2
wei, a position's PnL and funding by less than 1 each and its MM by less
than 2. The screen computes `slack` in float64 with the margin ratio
rounded up by one wei (an upper bound on the engine's `ceil`), and calls
an account a candidate unless

    slack > 1e-9 * magnitude + 2 * assets + 4 * positions + 8

where `magnitude` is the sum of the absolute values of every term. A
float64 sum of k terms is off by at most k * 2**-53 of that magnitude,
about 1e-15 of it here: the bound leaves six orders of magnitude to
spare, so an account the screen clears has exact equity above its MM.
Accounts in portfolio margin mode, and accounts that need a price the
router refuses, are always candidates (the exact model decides, or says
why it cannot). Accounts with neither quote debt nor a position are not
screened: they can never be liquidated.

`tests/unit/test_screen.py` checks the bound on accounts built to sit a
wei either side of their MM and on random ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from xmargin.maths.fixed_point import WAD
from xmargin.maths.replica import AccountKey, Marks, Replica

Array = npt.NDArray[np.float64]

# Relative headroom for float64 error (which is about 1e-15 here).
RELATIVE = 1e-9
# Wei of rounding the engine may add against the account, per term.
PER_ASSET = 2.0
PER_POSITION = 4.0
SLACK = 8.0


@dataclass
class Screen:
    """Per-account arrays of the replica's linear accounts, kept in step
    with the accounts its events change."""

    replica: Replica
    rows: dict[AccountKey, int] = field(default_factory=dict)
    keys: list[AccountKey] = field(default_factory=list)
    # column layouts: asset symbol -> column, market id -> column
    assets: dict[str, int] = field(default_factory=dict)
    markets: dict[int, int] = field(default_factory=dict)
    # row -> screened (linear, with liabilities), always a candidate
    # (portfolio mode) or neither
    active: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    always: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    quote: Array = field(default_factory=lambda: np.zeros(0))
    held: Array = field(default_factory=lambda: np.zeros((0, 0)))
    size: Array = field(default_factory=lambda: np.zeros((0, 0)))
    entry: Array = field(default_factory=lambda: np.zeros((0, 0)))
    findex: Array = field(default_factory=lambda: np.zeros((0, 0)))
    # rows with an entry in `held` / `size`
    n_assets: Array = field(default_factory=lambda: np.zeros(0))
    n_positions: Array = field(default_factory=lambda: np.zeros(0))

    def _layout(self, marks: Marks) -> bool:
        """Columns for every asset and market of `marks`; True when they
        changed (every row is then rebuilt)."""
        assets = {a: i for i, a in enumerate(sorted(a for a in marks.assets if a != marks.quote))}
        markets = {m: i for i, m in enumerate(sorted(marks.markets))}
        if assets == self.assets and markets == self.markets:
            return False
        self.assets, self.markets = assets, markets
        self.rows.clear()
        self.keys.clear()
        self._resize(0)
        return True

    def _resize(self, n: int) -> None:
        a, m = len(self.assets), len(self.markets)

        def grow(x: npt.NDArray, shape: tuple[int, ...]) -> npt.NDArray:
            out = np.zeros(shape, x.dtype)
            if x.shape[1:] == shape[1:]:
                k = min(len(x), n)
                out[:k] = x[:k]
            return out

        self.active = grow(self.active, (n,))
        self.always = grow(self.always, (n,))
        self.quote = grow(self.quote, (n,))
        self.n_assets = grow(self.n_assets, (n,))
        self.n_positions = grow(self.n_positions, (n,))
        self.held = grow(self.held, (n, a))
        self.size = grow(self.size, (n, m))
        self.entry = grow(self.entry, (n, m))
        self.findex = grow(self.findex, (n, m))

    def refresh(self, marks: Marks) -> None:
        """Re-reads every account the replica changed since the last call
        (all of them when the listed assets or markets changed)."""
        dirty = self.replica.take_dirty()
        if self._layout(marks):
            dirty = set(self.replica.accounts)
        new = [k for k in dirty if k not in self.rows]
        if new:
            start = len(self.keys)
            capacity = len(self.active)
            if start + len(new) > capacity:
                self._resize(max(2 * capacity, start + len(new), 1024))
            for i, key in enumerate(new, start):
                self.rows[key] = i
                self.keys.append(key)
        quote = self.replica.quote
        for key in dirty:
            i = self.rows[key]
            s = self.replica.accounts[key]
            self.held[i] = 0.0
            self.size[i] = 0.0
            self.entry[i] = 0.0
            self.findex[i] = 0.0
            liable = s.has_liabilities(quote)
            # portfolio and option accounts go to the exact model (options
            # to the chain): the linear bound does not cover them
            exact = s.portfolio or s.options
            self.active[i] = liable and not exact
            self.always[i] = liable and exact
            self.quote[i] = float(s.balances.get(quote, 0) * marks.assets[quote].precision)
            n = 0
            for asset, amount in s.balances.items():
                if asset == quote:
                    continue
                col = self.assets.get(asset)
                if col is None:  # not listed in the marks: the exact model decides
                    self.always[i], self.active[i] = liable, False
                    continue
                self.held[i, col] = float(amount * marks.assets[asset].precision)
                n += 1
            self.n_assets[i] = n
            for market_id, pos in s.positions.items():
                col = self.markets.get(market_id)
                if col is None:
                    self.always[i], self.active[i] = liable, False
                    continue
                self.size[i, col] = float(pos.size)
                self.entry[i, col] = float(pos.entry_price)
                self.findex[i, col] = float(pos.funding_index)
            self.n_positions[i] = len(s.positions)

    def candidates(self, marks: Marks) -> tuple[list[AccountKey], int]:
        """(accounts the exact model must value at `marks`, accounts
        screened): every account with liabilities that the bound cannot
        clear, in portfolio mode, or exposed to a refused price."""
        self.refresh(marks)
        n = len(self.keys)
        if n == 0:
            return [], 0
        wad = float(WAD)
        names = sorted(self.assets, key=self.assets.__getitem__)
        ids = sorted(self.markets, key=self.markets.__getitem__)
        # Per asset: price * (1 - mm haircut); a refused price flags its holders.
        keep = np.array([(WAD - marks.assets[a].mm_haircut) / wad for a in names])
        price_a = np.array([float(marks.prices.get(a, 0)) for a in names])
        worthless = np.array([marks.assets[a].mm_haircut == WAD for a in names])
        refused_a = np.array([a not in marks.prices for a in names]) & ~worthless
        mk = [marks.markets[m] for m in ids]
        price_m = np.array([float(m.price or 0) for m in mk])
        index_m = np.array([float(m.index) for m in mk])
        refused_m = np.array([m.price is None for m in mk])
        base = np.array([float(m.params.mmr_base) for m in mk])
        scalar = np.array([float(m.params.mm_size_scalar) for m in mk])
        # (a zero scale lists no market: nothing is open in it)
        scale = np.array([float(max(m.params.skew_scale, 1)) for m in mk])

        held, size = self.held[:n], self.size[:n]
        entry, findex = self.entry[:n], self.findex[:n]
        abs_size = np.abs(size)
        collateral = held * (price_a * keep / wad)
        pnl = size * (price_m - entry) / wad
        funding = size * (index_m - findex) / wad
        mmr = np.minimum(base + abs_size * scalar / scale + 1.0, wad)
        mm = abs_size * price_m / wad * mmr / wad
        quote = self.quote[:n]
        slack = quote + collateral.sum(1) + pnl.sum(1) - funding.sum(1) - mm.sum(1)
        magnitude = (
            np.abs(quote)
            + collateral.sum(1)
            + (abs_size * (price_m + np.abs(entry)) / wad).sum(1)
            + (abs_size * (np.abs(index_m) + np.abs(findex)) / wad).sum(1)
            + mm.sum(1)
        )
        bound = (
            RELATIVE * magnitude
            + PER_ASSET * self.n_assets[:n]
            + PER_POSITION * self.n_positions[:n]
            + SLACK
        )
        exposed = np.zeros(n, bool)
        if refused_a.any():
            exposed |= (held[:, refused_a] != 0).any(1)
        if refused_m.any():
            exposed |= (size[:, refused_m] != 0).any(1)
        active = self.active[:n]
        pick = self.always[:n] | (active & (exposed | ~(slack > bound)))
        keys = self.keys
        return [keys[i] for i in np.flatnonzero(pick)], int(active.sum() + self.always[:n].sum())
