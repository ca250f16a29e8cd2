"""What a worker does with one case, wherever it runs (a local pool process or a Dask worker): unpack the scenario
bundle, ``run()`` the case into a private temporary folder, turn the result into a row, and send back the row and
the files to keep. Nothing here writes outside the worker's temporary folder, so workers need no shared file system.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.cosim.master.start_state import StartState
from orchestrator.errors import O2TwinError
from orchestrator.results.run import RunResult, run
from orchestrator.scenario.spec import ParameterValue, ScenarioSpec
from orchestrator.sweep.bundle import ScenarioBundle, unpack
from orchestrator.sweep.case import RowFunction, flatten

log = logging.getLogger(__name__)

#: The files of a case's results directory kept without --keep-signals (small: figures, the event log, a traceback).
SMALL_FILES = ("metrics.json", "events.jsonl", "traceback.txt", "traces.csv")


@dataclass
class CaseJob:
    """One case as a worker receives it: the scenario comes separately, as a bundle (shipped once per worker)."""

    case_id: str
    bundle: str  #: the digest of its ScenarioBundle
    overrides: dict[str, ParameterValue]
    seed: int | None
    stop_time: float | None
    row: RowFunction
    keep_signals: bool = False
    allow_modules: tuple[str, ...] = ()
    start_state: StartState | None = None  #: serialised FMU states the run starts from (None: cold start)


@dataclass
class CaseOutcome:
    """What came back from a case: the run's status ("ok", "terminated" when a slave ended it early, "failed", or
    "stopped" when interrupted), error, the row function's metrics, and the results files to keep (path -> bytes)."""

    case_id: str
    status: str
    error: str | None = None
    failed_slave: str | None = None
    failed_at_s: float | None = None
    simulated_time_s: float | None = None
    wall_time_s: float | None = None
    cpu_time_s: float | None = None  #: CPU time of the worker process during the case (user + system)
    worker: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    attempts: int = 1

    @property
    def finished(self) -> bool:
        """A case that ran to an outcome; "stopped" means it was interrupted (Ctrl-C) and runs again."""
        return self.status != "stopped"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_unpacked: dict[str, ScenarioSpec] = {}


def bundled_spec(bundle: ScenarioBundle) -> ScenarioSpec:
    """The bundle's spec, unpacked once per process."""
    spec = _unpacked.get(bundle.digest)
    if spec is None:
        spec = _unpacked[bundle.digest] = unpack(bundle)
    return spec


def execute_case(bundle: ScenarioBundle, job: CaseJob) -> CaseOutcome:
    """Run one case and return its outcome; never raises for a failing case (its error is in the outcome)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    scratch = Path(tempfile.mkdtemp(prefix=f"o2twin-case-{job.case_id}-"))
    try:
        outcome = _run_case(bundle, job, scratch / "run")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.wall_time_s = time.perf_counter() - started
    outcome.cpu_time_s = time.process_time() - cpu_started
    outcome.worker = worker_name()
    return outcome


def _run_case(bundle: ScenarioBundle, job: CaseJob, out: Path) -> CaseOutcome:
    try:
        spec = bundled_spec(bundle)
        if job.seed is not None:
            spec = dataclasses.replace(spec, seed=job.seed)
        result = run(
            spec,
            out=out,
            stop_time=job.stop_time,
            overrides=job.overrides,
            plots=False,
            progress=False,
            allow_modules=job.allow_modules,
            start_state=job.start_state,
        )
    except O2TwinError as err:  # a definition error of this case's values (one is out of its range, say)
        return CaseOutcome(job.case_id, "failed", error=str(err))
    except Exception as err:  # a bug: keep its traceback with the case
        text = "".join(traceback.format_exception(err))
        return CaseOutcome(job.case_id, "failed", error=f"{type(err).__name__}: {err}", files=_traceback(text))
    outcome = CaseOutcome(
        job.case_id,
        result.status,
        error=result.error,
        failed_slave=result.failed_slave,
        failed_at_s=result.failed_at,
        simulated_time_s=result.metrics.get("simulated_time_s"),
    )
    if outcome.status != "stopped":
        outcome.metrics, row_error = row_of(job.row, result)
        if row_error is not None:
            outcome.status = "failed"
            outcome.error = row_error if outcome.error is None else f"{outcome.error}; {row_error}"
    outcome.files = kept_files(result.out_dir, job.keep_signals)
    return outcome


def row_of(row: RowFunction, result: RunResult) -> tuple[dict[str, Any], str | None]:
    """The row function's metrics, flattened; (partial row, error text) when it raises or returns no mapping."""
    try:
        metrics = row(result)
    except Exception as err:
        log.debug("row function failed", exc_info=True)
        return {}, f"row function raised {type(err).__name__}: {err}"
    if not isinstance(metrics, Mapping):
        return {}, f"row function returned {type(metrics).__name__}, not a mapping of metric names to values"
    return flatten(metrics), None


def kept_files(out_dir: Path, keep_signals: bool) -> dict[str, bytes]:
    """The results files that go back to the caller: all of them with keep_signals, else only SMALL_FILES."""
    if not out_dir.is_dir():
        return {}
    if keep_signals:
        paths = [p for p in sorted(out_dir.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    else:
        paths = [out_dir / name for name in SMALL_FILES if (out_dir / name).is_file()]
    return {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in paths}


def _traceback(text: str) -> dict[str, bytes]:
    return {"traceback.txt": text.encode("utf-8")}
