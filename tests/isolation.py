"""`isolated(chain)`: a chain snapshot around a block of a test.

Kept out of conftest.py on purpose: a test module that imports conftest
before pytest has loaded the other test modules registers conftest's
fixtures a second time, and a session fixture (the Clearinghouse) then
exists twice (found when test_liquidation.py, importing it, sorted before
test_liquidity_pool.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def isolated(chain) -> Iterator[None]:
    """Snapshot the chain, run the body, restore: one hypothesis example.

    Do NOT use Ape's `chain.isolate()` for this: it swallows every exception
    raised in its body (`except Exception: pass`), so a failing assertion
    inside it passes silently.
    """
    snapshot = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snapshot)
