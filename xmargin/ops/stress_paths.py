"""Many stress paths at once (`xmargin stress --paths N`).

Each path is one job: its own fork of the source at the same block, its
own Ape connection and keeper (`xmargin.ops.stress_session.stress`), run
in a worker process; a job returns a small `PathOutcome` (no chain
objects cross processes). Two executors run the same jobs:

* `run_local`: a `concurrent.futures.ProcessPoolExecutor` of `workers`
  spawned processes on this machine (spawned, not forked: Ape's state
  does not survive a fork);
* `run_dask`: Dask `distributed`, on an existing cluster (a scheduler's
  address) or a `LocalCluster` of `workers` processes: where one machine
  is not enough, the same function on many.

A path that fails (its fork could not start, a node error) comes back
with `error` set instead of taking the others down.
"""

from __future__ import annotations

import functools
import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from xmargin.maths import portfolio as pm
from xmargin.maths.fixed_point import WAD
from xmargin.maths.stress import Path, StressInputError, bridge_path, gbm_path


@dataclass(frozen=True)
class PathJob:
    index: int
    source: str
    record_json: str
    block: int
    path: Path
    # the block's hash at the source, which every fork must have
    block_hash: str = ""


@dataclass(frozen=True)
class PathOutcome:
    index: int
    # native quote units
    bad_debt: int = 0
    insurance_used: int = 0
    pool_loss: int = 0
    liquidations: int = 0
    accounts_liquidated: int = 0
    adl: int = 0
    bad_debt_accounts: int = 0
    checks_pass: bool = False
    # the path's last step: asset -> WAD multiple of the fork's price
    final: Mapping[str, int] | None = None
    seconds: float = 0.0
    error: str | None = None


@functools.cache
def _project() -> Any:
    """The project, loaded once per worker process (its jobs share it)."""
    from ape import Project
    from ape.logging import logger

    from xmargin.chain.deployments import REPO_ROOT

    logger.set_level("ERROR")
    return Project(REPO_ROOT)


def run_job(job: PathJob) -> PathOutcome:
    """One path in this process: fork, keeper, outcome (never raises)."""
    started = time.monotonic()
    try:
        from xmargin.chain.deployments import DeploymentRecord
        from xmargin.ops.stress_session import Source, stress

        record = DeploymentRecord.from_json(job.record_json)
        source = Source(
            uri=job.source,
            record=record,
            block=job.block,
            head=job.block,
            block_hash=job.block_hash,
        )
        result = stress(_project(), source, job.path).base
        return PathOutcome(
            index=job.index,
            bad_debt=result.bad_debt,
            insurance_used=result.insurance_used,
            pool_loss=result.pool_loss,
            liquidations=result.liquidations,
            accounts_liquidated=result.accounts_liquidated,
            adl=result.adl,
            bad_debt_accounts=len(result.path_bad_debt_accounts),
            checks_pass=result.checks_pass,
            final=dict(job.path.final),
            seconds=time.monotonic() - started,
        )
    except Exception as err:
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return PathOutcome(index=job.index, error=last, seconds=time.monotonic() - started)


Done = Callable[[PathOutcome], None]


def _outcome(future: Any, index: int) -> PathOutcome:
    """A finished job's outcome; a worker that died under it (a broken
    pool, Dask's KilledWorker) fails that path only."""
    try:
        outcome: PathOutcome = future.result()
    except Exception as err:
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return PathOutcome(index=index, error=f"its worker failed: {last}")
    return outcome


def run_local(jobs: Sequence[PathJob], workers: int, done: Done | None = None) -> list[PathOutcome]:
    """The jobs over `workers` spawned processes, in index order."""
    out: list[PathOutcome] = []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        futures = {pool.submit(run_job, j): j.index for j in jobs}
        for future in as_completed(futures):
            outcome = _outcome(future, futures[future])
            out.append(outcome)
            if done is not None:
                done(outcome)
    except BaseException:
        # Ctrl-C, a broken pool, a failing callback: start no further path
        # (the ones running stop their forks on the way out).
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return sorted(out, key=lambda o: o.index)


def run_dask(
    jobs: Sequence[PathJob], scheduler: str | None, workers: int, done: Done | None = None
) -> list[PathOutcome]:
    """The jobs on Dask `distributed`: the scheduler at `scheduler`, or a
    `LocalCluster` of `workers` single-threaded processes started (and
    closed) here. Each worker forks `job.source` itself: a scheduler on
    other machines needs a source they reach (refused for a loopback one,
    `xmargin.ui.stress_cli`), and each fork is checked against the block
    hash the source gave here."""
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    cluster: Any = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            futures = client.map(run_job, list(jobs), pure=False)
            index = {f.key: j.index for f, j in zip(futures, jobs, strict=True)}
            out = []
            try:
                for future in dask_completed(futures):
                    outcome = _outcome(future, index[future.key])
                    out.append(outcome)
                    if done is not None:
                        done(outcome)
            finally:
                client.cancel(futures)  # after Ctrl-C, the paths not yet run
    finally:
        if cluster is not None:
            cluster.close()
    return sorted(out, key=lambda o: o.index)


def worst(outcomes: Sequence[PathOutcome]) -> PathOutcome | None:
    """The path with the most bad debt, then the most liquidations, then
    the lowest index (the table and the JSON name the same one)."""
    ok = [o for o in outcomes if o.error is None]
    return max(ok, key=lambda o: (o.bad_debt, o.liquidations, -o.index)) if ok else None


# ---------------------------------------------------------------- drawing


def vol_paths(
    n: int, seed: int, vols: Mapping[str, float], steps: int, seconds: int, correlation: float
) -> list[Path]:
    """`n` driftless GBM paths from annual volatilities (asset -> 0.8)."""
    rng = random.Random(seed)
    return [gbm_path(rng, vols, steps, seconds, correlation) for _ in range(n)]


def scenario_paths(
    n: int,
    seed: int,
    config: pm.PortfolioConfig,
    priced: Sequence[str],
    steps: int,
    seconds: int,
    wobble: float,
) -> list[Path]:
    """`n` paths, each ending on a row of the scenario set drawn at random
    (rows weighted by their weight: an extreme row counted at 35 % is
    drawn 35 % as often as a full one), every priced asset moving by its
    risk group's shock, reached by a Brownian bridge (`wobble`)."""
    rows = config.scenarios.scenarios
    members = config.groups.members
    moved = [a for a in priced if a in members]
    if not moved:
        raise StressInputError(
            "no priced asset belongs to a risk group of the scenario set: use --vol instead"
        )
    rng = random.Random(seed)
    weights = [s.weight / WAD for s in rows]
    out = []
    for _ in range(n):
        row = rng.choices(rows, weights=weights)[0]
        target = {a: max(WAD + row.shocks[members[a]], 1) for a in moved}
        out.append(bridge_path(rng, target, steps, seconds, wobble))
    return out
