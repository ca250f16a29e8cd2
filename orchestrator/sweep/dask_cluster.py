"""Cases on a Dask distributed cluster (``--scheduler tcp://host:8786`` or O2TWIN_DASK_SCHEDULER).

Dask schedules; this module only submits. The scenario bundles (spec and FMU bytes) reach every worker once, as a
worker plugin (orchestrator.sweep.dask_worker); each task runs a batch of cases (orchestrator.sweep.batches: about 1 s
of cases, one case while their length is unknown), submitted as workers need them. The workers need the
o2twin package installed but no shared file system. A worker lost mid-task is Dask's business: the scheduler runs
the task again on another worker up to its ``distributed.scheduler.allowed-failures`` and then gives KilledWorker;
each death is charged to the case the task had started last, and a case charged that often is recorded as failed
(a case charged in a batch given up runs alone with the rest of its allowance: orchestrator.sweep.batches).
Tasks a worker holds without running them yet (``worker-saturation`` above 1.0) are counted as dead too, so
``start_local_cluster`` sets allowed-failures to 1 (one retry) and the saturation to 1.0 (CLUSTER_CONFIG); set both
on your own scheduler for the same behaviour.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import O2TwinError
from orchestrator.sweep.batches import Batch, BatchPlan
from orchestrator.sweep.bundle import ScenarioBundle
from orchestrator.sweep.worker import CaseJob, CaseOutcome

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

log = logging.getLogger(__name__)

#: The environment variable naming the scheduler when --scheduler is not given.
SCHEDULER_ENV = "O2TWIN_DASK_SCHEDULER"
#: How long to wait for the scheduler to answer, s.
CONNECT_TIMEOUT_S = 30
#: How often the number of worker threads (which sets how many tasks are kept submitted) is asked again, s.
THREADS_REFRESH_S = 5.0
#: Worker losses a case survives on a cluster this project starts (the scheduler's allowed-failures).
ALLOWED_FAILURES = 1
#: The scheduler settings of such a cluster: one retry, and a worker holds only the task it runs (with the default
#: saturation a worker also queues the next one, which is then blamed as well when the worker dies).
CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.scheduler.worker-saturation": 1.0,
}


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise O2TwinError(
            "running on a Dask cluster needs dask.distributed: pip install 'o2twin[sweep]' (on the workers too)"
        ) from None
    return distributed


def start_local_cluster(workers: int, **options: Any) -> LocalCluster:
    """A LocalCluster of ``workers`` single-threaded worker processes with CLUSTER_CONFIG (one retry)."""
    import dask

    distributed = _distributed()
    settings = {"processes": True, "threads_per_worker": 1, "dashboard_address": None, **options}
    with dask.config.set(CLUSTER_CONFIG):
        return distributed.LocalCluster(n_workers=workers, **settings)


class DaskCluster:
    """Runs cases as tasks of a Dask cluster: a scheduler address, or a Client the caller holds.
    ``cases_per_task``: a fixed batch size (default: sized from the cases' wall time, orchestrator.sweep.batches)."""

    def __init__(self, scheduler: str | Client, cases_per_task: int | None = None) -> None:
        if cases_per_task is not None and cases_per_task < 1:
            raise O2TwinError(f"cases_per_task {cases_per_task}: give at least 1")
        self.scheduler = scheduler
        self.cases_per_task = cases_per_task

    def describe(self) -> str:
        address = self.scheduler if isinstance(self.scheduler, str) else self.scheduler.scheduler_info().get("address")
        return f"Dask cluster at {address}"

    def _connect(self) -> tuple[Client, bool]:
        distributed = _distributed()
        if not isinstance(self.scheduler, str):
            return self.scheduler, False
        try:
            return distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S), True
        except (OSError, TimeoutError) as err:
            raise O2TwinError(
                f"--scheduler {self.scheduler}: cannot reach the Dask scheduler ({err}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or leave --scheduler out to run locally"
            ) from None

    def run(self, bundles: dict[str, ScenarioBundle], jobs: list[CaseJob], running_dir: Path) -> Iterator[CaseOutcome]:
        """Yield one outcome per job, in the order they finish."""
        distributed = _distributed()
        from orchestrator.sweep.dask_worker import ScenarioBundles

        client, owned = self._connect()
        token = uuid.uuid4().hex[:8]
        plugin, topic = f"o2twin-bundles-{token}", f"o2twin-cases-{token}"
        plan = BatchPlan(jobs, self.cases_per_task)
        futures: dict[Any, Batch] = {}
        try:
            client.subscribe_topic(topic, plan.started)
            client.register_plugin(ScenarioBundles(bundles), name=plugin)
            done = distributed.as_completed()
            threads = _Threads(client)
            for batch in plan.take(threads.count(), 0):
                futures[self._submit(client, plugin, topic, token, batch)] = batch
            done.update(futures)
            for future in done:
                yield from self._outcomes(plan, futures.pop(future), future, distributed)
                for batch in plan.take(threads.count(), len(futures)):
                    new = self._submit(client, plugin, topic, token, batch)
                    futures[new] = batch
                    done.add(new)
        finally:
            unfinished = [f for f in futures if not f.done()]
            if unfinished:
                client.cancel(unfinished)
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(topic)
            with contextlib.suppress(Exception):  # the study's bundles leave the workers; best effort
                client.unregister_worker_plugin(plugin)
            if owned:
                client.close()

    @staticmethod
    def _submit(client: Client, plugin: str, topic: str, token: str, batch: Batch) -> Any:
        from orchestrator.sweep.dask_worker import run_batch_on_worker

        key = f"o2twin-cases-{batch.jobs[0].case_id}-{len(batch.jobs)}-{token}-{batch.number}"
        return client.submit(
            run_batch_on_worker, plugin, topic, batch.number, batch.jobs, batch.deaths_left, key=key, pure=False
        )

    @staticmethod
    def _outcomes(plan: BatchPlan, batch: Batch, future: Any, distributed: Any) -> list[CaseOutcome]:
        try:
            attempt, outcomes = future.result()
        except distributed.KilledWorker as err:
            return plan.killed(batch, err.allowed_failures, err.last_worker.address)
        except Exception as err:  # the task could not run at all (say o2twin is missing on a worker)
            error = (
                f"the Dask worker could not run the case: {type(err).__name__}: {err} "
                "(are o2twin and its dependencies installed on every worker?)"
            )
            return [CaseOutcome(job.case_id, "failed", error=error) for job in batch.jobs]
        return plan.finished(batch, attempt, outcomes)


class _Threads:
    """The cluster's worker threads (at least 1), asked again every THREADS_REFRESH_S as workers come and go."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._count = 1
        self._asked = -math.inf

    def count(self) -> int:
        now = time.monotonic()
        if now - self._asked >= THREADS_REFRESH_S:
            self._asked = now
            self._count = max(1, sum(self.client.nthreads().values()))
        return self._count
