"""The local process pool: concurrent.futures.ProcessPoolExecutor on forkserver (spawn where there is none).

Every worker is a fresh process (never a fork of the caller with its open FMUs and threads); it receives the
scenario bundles once, at start, and unpacks them into its temporary folder. FMU slaves extract each instance into
a folder named after the process (orchestrator.cosim.slaves.archive.extraction_dir), so workers share none.

A worker killed mid-case (SIGKILL, out of memory, an FMU that crashes the process) breaks a ProcessPoolExecutor:
every case in flight fails with BrokenProcessPool. To tell the killed case from the others, a worker marks the case
it runs (``.running/CASE_ID`` in the study folder) and removes the mark however the case ends, unless the process
dies; the pool stops its other workers with SIGTERM, which ends their runs cleanly (status "stopped"). After the
pool is down, the cases still marked are those whose worker died: each runs once more, then is recorded as failed.
The rest run again in a new pool, as if never started.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from orchestrator.cosim.slaves.fmu_reuse import keep_unpacked_fmus
from orchestrator.errors import O2TwinError
from orchestrator.sweep.bundle import ScenarioBundle
from orchestrator.sweep.worker import CaseJob, CaseOutcome, execute_case

log = logging.getLogger(__name__)

#: A case whose worker died this many times is recorded as failed (it was retried once).
MAX_ATTEMPTS = 2
KILLED_ERROR = (
    "the worker process running this case died (killed, out of memory, or a crash inside an FMU), twice; "
    "the case was retried once"
)


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_context() -> multiprocessing.context.BaseContext:
    """forkserver (workers forked from a clean server that has the run stack imported) where there is one, else
    spawn; never a plain fork of the caller."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


class LocalPool:
    """Runs cases on ``workers`` local processes (see the module docstring)."""

    def __init__(self, workers: int | None = None, log_level: int = logging.CRITICAL) -> None:
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise O2TwinError(f"--workers {self.workers}: give at least 1 worker")
        self.log_level = log_level

    def describe(self) -> str:
        return f"local pool of {self.workers} worker process{'es' if self.workers != 1 else ''}"

    def run(self, bundles: dict[str, ScenarioBundle], jobs: list[CaseJob], running_dir: Path) -> Iterator[CaseOutcome]:
        """Yield one outcome per job, in the order they finish."""
        running_dir.mkdir(parents=True, exist_ok=True)
        for stale in running_dir.iterdir():  # marks left by an earlier, interrupted study
            stale.unlink(missing_ok=True)
        pending = {job.case_id: job for job in jobs}
        deaths: Counter[str] = Counter()
        fruitless = 0
        while pending:
            broken: list[CaseJob] = []
            done_before = len(pending)
            executor = ProcessPoolExecutor(
                max_workers=min(self.workers, len(pending)),
                mp_context=pool_context(),
                initializer=_init_worker,
                initargs=(bundles, str(running_dir), self.log_level),
            )
            try:
                futures = {executor.submit(_pool_case, job): job for job in pending.values()}
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken.append(job)
                        continue
                    outcome.attempts = deaths[job.case_id] + 1
                    del pending[job.case_id]
                    yield outcome
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
            killed = [job for job in broken if _take_mark(running_dir, job.case_id)]
            for job in killed:
                deaths[job.case_id] += 1
                if deaths[job.case_id] >= MAX_ATTEMPTS:
                    del pending[job.case_id]
                    yield CaseOutcome(job.case_id, "failed", error=KILLED_ERROR, attempts=deaths[job.case_id])
                else:
                    log.warning("case %s: its worker process died; running it once more", job.case_id)
            fruitless = fruitless + 1 if broken and not killed and len(pending) == done_before else 0
            if fruitless >= MAX_ATTEMPTS:
                raise O2TwinError(
                    "the local worker processes die before running any case (see the messages above); a script "
                    'that calls run_cases must do so under `if __name__ == "__main__":` (the workers import it)'
                )


def _take_mark(running_dir: Path, case_id: str) -> bool:
    """True (and the mark removed) when the case's worker died while running it."""
    mark = running_dir / case_id
    if not mark.exists():
        return False
    mark.unlink(missing_ok=True)
    return True


# ---------------------------------------------------------------------------------------------------------------
# in the worker processes

_bundles: dict[str, ScenarioBundle] = {}
_running_dir: Path | None = None
_in_case = False


def _init_worker(bundles: dict[str, ScenarioBundle], running_dir: str, log_level: int) -> None:
    global _running_dir
    _bundles.update(bundles)
    _running_dir = Path(running_dir)
    keep_unpacked_fmus()  # a worker runs case after case of the same FMUs
    # Quiet by default: a case's failure and its FMU's messages are in the table and in cases/ID/events.jsonl.
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s [worker %(process)d]: %(message)s")
    logging.getLogger().setLevel(log_level)
    # Ctrl-C in a terminal reaches every worker: it stops the case running (recorded as not finished), and
    # is ignored between cases. SIGTERM (the pool stopping its workers) ends the process, its mark removed.
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigint(signum: int, frame: Any) -> None:
    if _in_case:
        raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _pool_case(job: CaseJob) -> CaseOutcome:
    global _in_case
    assert _running_dir is not None, "the pool worker was not initialised"
    mark = _running_dir / job.case_id
    mark.write_text(str(os.getpid()), encoding="utf-8")
    try:
        _in_case = True
        return execute_case(_bundles[job.bundle], job)
    finally:
        _in_case = False
        mark.unlink(missing_ok=True)
