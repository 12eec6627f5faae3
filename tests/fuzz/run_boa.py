"""The long fuzz run (`make fuzz`): the state machine on titanoboa's EVM.

    python -m tests.fuzz.run_boa --steps 100000 --workers 2

Each worker process deploys the engine on its own `BoaChain`
(`tests.fuzz.setup_world.build`, the same bytecode and arguments as the
CI suite's Ape chain) and runs `tests.fuzz.machine.EngineMachine` under
hypothesis, example after example, every invariant after every step,
until its share of the steps is checked. At the end: what the run reached
(`tests.fuzz.reach`, every liquidation path, ADL, every order and LP
request state required), steps/s per worker and together, and the JSON in
`reports/fuzz_reach_boa.json`. A failure prints the sequence hypothesis
shrank it to (replay it as a regression in test_stateful_engine.py) and
stops every worker; the exit code is non-zero on a failure or a path not
reached.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

REPORT = Path(__file__).resolve().parents[2] / "reports" / "fuzz_reach_boa.json"
# Examples per hypothesis run: each run starts a new random search, so a
# worker's runs explore apart rather than narrowing on one (and a worker
# sees another's failure between two runs).
EXAMPLES_PER_RUN = 20
# Failures found are kept here and tried first by the next run.
DATABASE = Path(__file__).resolve().parents[2] / ".hypothesis" / "boa"


def boa_context() -> dict[str, Any]:
    """The machine's context (`setup_world.build`) on a fresh BoaChain."""
    from tests.fuzz.boa_chain import BoaDeployer, BoaSender
    from tests.fuzz.setup_world import build

    d = BoaDeployer()
    ctx = build(d)
    ctx["keeper_pipeline"] = lambda account: BoaSender(account, d.chain)
    return ctx


def machine_on_boa() -> Any:
    """The machine class with its context on a fresh BoaChain."""
    from tests.fuzz import machine

    machine.EngineMachine.ctx = boa_context()
    machine.EngineMachine.driver = "boa"
    return machine.EngineMachine


def run_steps(steps: int, step_count: int, seed: int | None, stop: Any = None) -> dict[str, Any]:
    """Runs the machine on boa until `steps` rule steps are checked (or
    `stop` is set); what it reached, or the failure. With `seed`, the
    draws are the same every time (hypothesis's forced seed, one per run)."""
    import hypothesis.core
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase
    from hypothesis.stateful import run_state_machine_as_test

    from tests.fuzz import reach
    from tests.fuzz.machine import COVERAGE

    machine = machine_on_boa()
    COVERAGE.clear()
    started = time.monotonic()
    run = 0
    failure = None
    while reach.rule_steps(COVERAGE) < steps and not (stop is not None and stop.is_set()):
        config = settings(
            max_examples=EXAMPLES_PER_RUN,
            stateful_step_count=step_count,
            deadline=None,
            # A seeded run is reproducible: no database to replay from.
            database=None if seed is not None else DirectoryBasedExampleDatabase(DATABASE),
            derandomize=False,
            # The failure's steps are printed; a blob names no test to decorate.
            print_blob=False,
            suppress_health_check=list(HealthCheck),
        )
        hypothesis.core.global_force_seed = None if seed is None else seed * 1_000 + run
        try:
            run_state_machine_as_test(machine, settings=config)
        except Exception as err:  # a failing invariant or rule: report it whole
            notes = "\n".join(getattr(err, "__notes__", []))
            failure = "".join(traceback.format_exception(err)) + "\n" + notes
            if stop is not None:
                stop.set()
            break
        finally:
            hypothesis.core.global_force_seed = None
        run += 1
    chain = getattr(machine, "ctx", {}).get("chain")
    behind = getattr(chain, "behind_reads", 0)
    return {
        "counts": dict(COVERAGE) | {"boa: reads behind the head answered from the head": behind},
        "seconds": time.monotonic() - started,
        "runs": run,
        "failure": failure,
    }


def _worker(job: tuple[int, int, int, int | None, Any]) -> dict[str, Any]:
    index, steps, step_count, seed, stop = job
    out = run_steps(steps, step_count, None if seed is None else seed + index, stop)
    out["worker"] = index
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps in all")
    parser.add_argument("--workers", type=int, default=2, help="processes (one chain each)")
    parser.add_argument("--step-count", type=int, default=50, help="most steps per example")
    parser.add_argument("--seed", type=int, default=None, help="reproducible draws")
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--no-require", action="store_true", help="report, do not require, reach")
    args = parser.parse_args(argv)

    from tests.fuzz import reach

    share = -(-args.steps // args.workers)
    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        stop = manager.Event()
        jobs = [(i, share, args.step_count, args.seed, stop) for i in range(args.workers)]
        with ctx.Pool(args.workers) as pool:
            results = pool.map(_worker, jobs)
    wall = time.monotonic() - started
    counts: Counter[str] = Counter()
    for r in results:
        counts.update(r["counts"])
    reached = reach.reach(counts)
    print("\n".join(reach.lines(reached)))
    steps = reach.rule_steps(counts)
    for r in results:
        n = reach.rule_steps(r["counts"])
        print(
            f"  worker {r['worker']}: {n} steps in {r['seconds']:.0f} s"
            f" ({n / max(r['seconds'], 1e-9):.1f} steps/s, {r['runs']} hypothesis runs)"
        )
    print(
        f"  {steps} steps in {wall:.0f} s on {args.workers} workers:"
        f" {steps / max(wall, 1e-9):.1f} steps/s"
    )
    reach.write(
        reached,
        args.out,
        {
            "driver": "titanoboa",
            "steps": steps,
            "seconds": round(wall, 1),
            "workers": args.workers,
            "step_count": args.step_count,
            "per_worker": [
                {"steps": reach.rule_steps(r["counts"]), "seconds": round(r["seconds"], 1)}
                for r in results
            ],
            "failures": [r["failure"] for r in results if r["failure"]],
        },
    )
    failures = [r for r in results if r["failure"]]
    for r in failures:
        print(f"\nworker {r['worker']} FAILED:\n{r['failure']}", file=sys.stderr)
    if failures:
        return 1
    if not args.no_require and not reached.complete:
        print(f"not reached: {reached.missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
