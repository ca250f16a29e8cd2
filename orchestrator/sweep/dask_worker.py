"""The Dask workers' side of a study: the scenario bundles as a worker plugin, and the task that runs one case.

The plugin (registered by the caller, kept by the scheduler) reaches every worker, also those that join or restart
later, so a case task carries only its small CaseJob and depends on no other task: the scheduler queues case tasks
and hands a worker only what it runs (with worker-saturation 1.0), so a worker that dies takes only its own case.
"""

from __future__ import annotations

from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from orchestrator.cosim.slaves.fmu_reuse import keep_unpacked_fmus
from orchestrator.sweep.bundle import ScenarioBundle
from orchestrator.sweep.worker import CaseJob, CaseOutcome, execute_case


class ScenarioBundles(WorkerPlugin):
    """The bundles of one study, held by every worker."""

    idempotent = True

    def __init__(self, bundles: dict[str, ScenarioBundle]) -> None:
        self.bundles = bundles

    def setup(self, worker: Any) -> None:
        keep_unpacked_fmus()  # a worker runs case after case of the same FMUs


def run_case_on_worker(plugin_name: str, job: CaseJob) -> CaseOutcome:
    """The task of one case: its bundle from the study's plugin on this worker, then execute_case."""
    plugin = get_worker().plugins[plugin_name]
    assert isinstance(plugin, ScenarioBundles), f"worker plugin {plugin_name} is not a study's bundles"
    return execute_case(plugin.bundles[job.bundle], job)
