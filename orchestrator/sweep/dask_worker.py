"""The Dask workers' side of a study: the scenario bundles as a worker plugin, and the task that runs a batch of
cases.

The plugin (registered by the caller, kept by the scheduler) reaches every worker, also those that join or restart
later, so a task carries only its small CaseJobs and depends on no other task: the scheduler queues the tasks and
hands a worker only what it runs (with worker-saturation 1.0), so a worker that dies takes only its own task; and
the task marks each case as it starts it, so the caller charges the death to that case (orchestrator.sweep.batches).
"""

from __future__ import annotations

import uuid
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.utils import sync

from orchestrator.cosim.slaves.fmu_reuse import keep_unpacked_fmus
from orchestrator.sweep.batches import ENDED, GIVEN_UP, attempts_that_died
from orchestrator.sweep.bundle import ScenarioBundle
from orchestrator.sweep.worker import CaseJob, CaseOutcome, execute_case, worker_name


class ScenarioBundles(WorkerPlugin):
    """The bundles of one study, held by every worker."""

    idempotent = True

    def __init__(self, bundles: dict[str, ScenarioBundle]) -> None:
        self.bundles = bundles

    def setup(self, worker: Any) -> None:
        keep_unpacked_fmus()  # a worker runs case after case of the same FMUs


def run_batch_on_worker(
    plugin_name: str, topic: str, batch: int, jobs: list[CaseJob], deaths_left: int | None = None
) -> tuple[str, list[CaseOutcome]]:
    """The task of a batch: each case in turn, its start marked by an event ``[batch, attempt, case_id]`` under
    ``topic``; returns (this attempt's id, the outcomes). Stops after a case interrupted by Ctrl-C ("stopped").

    The mark is sent to the scheduler and answered before the case starts (a round trip of about a millisecond):
    a worker that dies a few milliseconds into a case would lose a mark still waiting in its outgoing batch.
    After the last case the task marks its end (case_id ENDED; it reaches the scheduler before the result), so
    that a rerun after its result was lost is not taken for a death. ``deaths_left`` (a case alone, charged in a
    batch given up): when this task's earlier attempts that died (they marked a start and no end) are that many,
    the case is not started again (status GIVEN_UP)."""
    worker = get_worker()
    plugin = worker.plugins[plugin_name]
    assert isinstance(plugin, ScenarioBundles), f"worker plugin {plugin_name} is not a study's bundles"
    attempt = uuid.uuid4().hex
    if deaths_left is not None:
        events = sync(worker.loop, worker.scheduler.events, topic=topic)
        if attempts_that_died([msg for _, msg in events], batch) >= deaths_left:
            return attempt, [CaseOutcome(job.case_id, GIVEN_UP, worker=worker_name()) for job in jobs]
    outcomes: list[CaseOutcome] = []
    for job in jobs:
        sync(worker.loop, worker.scheduler.log_event, topic=topic, msg=[batch, attempt, job.case_id])
        outcomes.append(_execute(plugin.bundles[job.bundle], job))
        if not outcomes[-1].finished:
            break
    # no round trip: the mark goes on the worker's stream to the scheduler ahead of the task's result
    worker.log_event(topic, [batch, attempt, ENDED])
    return attempt, outcomes


def _execute(bundle: ScenarioBundle, job: CaseJob) -> CaseOutcome:
    """execute_case, whose own failures (a full temporary disk, say) are this case's and not the batch's."""
    try:
        return execute_case(bundle, job)
    except Exception as err:
        return CaseOutcome(job.case_id, "failed", error=f"{type(err).__name__}: {err}", worker=worker_name())
