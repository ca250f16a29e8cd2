"""Cases on a Dask distributed cluster (``--scheduler tcp://host:8786`` or O2TWIN_DASK_SCHEDULER).

Dask schedules; this module only submits. The scenario bundles (spec and FMU bytes) reach every worker once, as a
worker plugin (orchestrator.sweep.dask_worker); each case is a task. The workers need the o2twin package installed
but no shared file system. A worker lost mid-task is Dask's business: the scheduler runs the task again on another
worker up to its ``distributed.scheduler.allowed-failures`` and then gives KilledWorker, recorded as the case's
failure; tasks a worker holds without running them yet (``worker-saturation`` above 1.0) are counted too.
``start_local_cluster`` sets allowed-failures to 1 (one retry) and the saturation to 1.0 (CLUSTER_CONFIG); set both
on your own scheduler for the same behaviour.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import O2TwinError
from orchestrator.sweep.bundle import ScenarioBundle
from orchestrator.sweep.worker import CaseJob, CaseOutcome

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

log = logging.getLogger(__name__)

#: The environment variable naming the scheduler when --scheduler is not given.
SCHEDULER_ENV = "O2TWIN_DASK_SCHEDULER"
#: How long to wait for the scheduler to answer, s.
CONNECT_TIMEOUT_S = 30
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
    """Runs cases as tasks of a Dask cluster: a scheduler address, or a Client the caller holds."""

    def __init__(self, scheduler: str | Client) -> None:
        self.scheduler = scheduler

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
        from orchestrator.sweep.dask_worker import ScenarioBundles, run_case_on_worker

        client, owned = self._connect()
        token = uuid.uuid4().hex[:8]
        plugin = f"o2twin-bundles-{token}"
        futures: dict[Any, CaseJob] = {}
        try:
            client.register_plugin(ScenarioBundles(bundles), name=plugin)
            for job in jobs:
                key = f"o2twin-case-{job.case_id}-{token}"
                futures[client.submit(run_case_on_worker, plugin, job, key=key, pure=False)] = job
            for future in distributed.as_completed(list(futures)):
                yield self._outcome(future, futures[future], distributed)
        finally:
            unfinished = [f for f in futures if not f.done()]
            if unfinished:
                client.cancel(unfinished)
            with contextlib.suppress(Exception):  # the study's bundles leave the workers; best effort
                client.unregister_worker_plugin(plugin)
            if owned:
                client.close()

    @staticmethod
    def _outcome(future: Any, job: CaseJob, distributed: Any) -> CaseOutcome:
        try:
            outcome: CaseOutcome = future.result()
            return outcome
        except distributed.KilledWorker as err:
            return CaseOutcome(
                job.case_id,
                "failed",
                error=f"the Dask workers running this case died {err.allowed_failures + 1} times "
                f"(last: {err.last_worker.address}); the case was retried {err.allowed_failures} time(s)",
                attempts=err.allowed_failures + 1,
            )
        except Exception as err:  # the task could not run at all (say o2twin is missing on a worker)
            return CaseOutcome(
                job.case_id,
                "failed",
                error=f"the Dask worker could not run the case: {type(err).__name__}: {err} "
                "(are o2twin and its dependencies installed on every worker?)",
            )
