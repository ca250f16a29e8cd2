"""The many-runs engine: ``run_cases(cases) -> DataFrame``, one row per case, on a local pool or a Dask cluster.

Every case is an ordinary ``orchestrator.run()`` in a worker (orchestrator.sweep.worker); this module prepares the
cases (scenarios loaded and bundled with their FMUs, parameter names checked once, before any run), skips those a
restarted study has finished, records each outcome as it comes (orchestrator.sweep.store) and writes the table and
the summary plots, also when the study is interrupted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.cosim.system import article, did_you_mean
from orchestrator.errors import O2TwinError, SystemDefinitionError
from orchestrator.results.run import registry_for, stop_on_signals
from orchestrator.scenario.build import apply_hooks, build_system
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.spec import ScenarioSpec
from orchestrator.sweep.bundle import ScenarioBundle, bundle_scenario, unpack
from orchestrator.sweep.case import OUTCOME_COLUMNS, Case, RowFunction, case_id, describe_function, summary_row
from orchestrator.sweep.dask_cluster import SCHEDULER_ENV, DaskCluster
from orchestrator.sweep.pool import LocalPool
from orchestrator.sweep.store import MANIFEST, SweepStore
from orchestrator.sweep.worker import CaseJob, CaseOutcome

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

log = logging.getLogger(__name__)


class Backend(Protocol):
    """Where cases run: the local pool or a Dask cluster; yields one outcome per job as they finish."""

    def describe(self) -> str: ...

    def run(
        self, bundles: dict[str, ScenarioBundle], jobs: list[CaseJob], running_dir: Path
    ) -> Iterator[CaseOutcome]: ...


@dataclass
class PreparedCase:
    """A case ready to send: its id, the job a worker gets and the columns its row starts with."""

    case: Case
    job: CaseJob
    columns: dict[str, Any]


def run_cases(
    cases: Iterable[Case],
    *,
    out: str | os.PathLike | None = None,
    row: RowFunction = summary_row,
    workers: int | None = None,
    scheduler: str | Client | None = None,
    keep_signals: bool = False,
    allow_modules: Sequence[str] = (),
    retry_failed: bool = False,
    progress: bool = False,
    plots: bool = True,
    cases_per_task: int | None = None,
) -> pd.DataFrame:
    """Run every case and return the table: one row per case, in the order given.

    Columns: case_id, the cases' tags, scenario, every overridden parameter ("slave.parameter"), seed, status
    ("ok", "terminated" or "failed"), error, failed_slave, failed_at_s, simulated_time_s, wall_time_s, cpu_time_s, attempts, worker, then the
    metrics ``row(result)`` returns (default: the run's metrics.json summary, flattened).

    ``out``: the study's folder (table.parquet, table.csv, rows/, cases/, plots/; see orchestrator.sweep.store);
    cases whose row is there already are not run again (``retry_failed`` reruns the failed ones). ``None``: a
    temporary folder, removed afterwards (only the table is returned).
    ``workers``: local worker processes (default: every core). ``scheduler``: a Dask scheduler address or Client
    (default: the O2TWIN_DASK_SCHEDULER environment variable; unset: the local pool). ``cases_per_task``: on Dask,
    the cases of one task (default: about 1 s of cases, from their measured wall time; see
    orchestrator.sweep.batches).
    ``keep_signals``: keep each case's whole results directory under cases/ID/ (else metrics.json and events.jsonl).
    ``allow_modules``: as for ``run()``; the modules must be importable on every worker (or lie beside the scenario).
    Definition errors (an unknown scenario or parameter, a missing FMU) raise O2TwinError before any case runs; a
    case that fails is a row with status "failed" and its error, and the study goes on.
    """
    cases = list(cases)
    backend = choose_backend(workers, scheduler, cases_per_task)
    if isinstance(backend, LocalPool):
        check_picklable(row)
    bundles, prepared = prepare_cases(cases, row, keep_signals, tuple(allow_modules))
    with _study_folder(out) as root:
        store = SweepStore(root)
        _check_resume(store, row)
        store.write_manifest(_manifest(backend, row, prepared, bundles))
        finished = store.finished_rows(prepared, retry_failed)
        todo = [p.job for cid, p in prepared.items() if cid not in finished]
        rows = dict(finished)
        log.info(
            "sweep: %d cases (%d finished before, %d to run) on a %s; results in %s",
            len(prepared),
            len(finished),
            len(todo),
            backend.describe(),
            root,
        )
        try:
            if todo:
                needed = {job.bundle: bundles[job.bundle] for job in todo}
                with stop_on_signals(), _ProgressBar(len(prepared), len(finished), progress) as bar:
                    for outcome in backend.run(needed, todo, store.running_dir):
                        if not outcome.finished:  # interrupted (Ctrl-C): runs again when the study restarts
                            continue
                        rows[outcome.case_id] = store.record(prepared[outcome.case_id].columns, outcome)
                        bar.advance(outcome.status == "failed")
        finally:
            frame = _table([rows[cid] for cid in prepared if cid in rows], prepared)
            if out is not None:
                _write_outputs(store, frame, prepared, plots)
        frame.attrs["out_dir"] = str(root) if out is not None else None
        return frame


def choose_backend(workers: int | None, scheduler: str | Client | None, cases_per_task: int | None = None) -> Backend:
    """A Dask cluster when a scheduler is given (or named by O2TWIN_DASK_SCHEDULER), else the local pool."""
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    if scheduler is not None:
        if workers is not None:
            raise O2TwinError("--workers is for the local pool; the Dask cluster's workers are its own")
        if isinstance(scheduler, str) and "://" not in scheduler:
            raise O2TwinError(f"--scheduler {scheduler}: give the scheduler's address, e.g. tcp://host:8786")
        return DaskCluster(scheduler, cases_per_task)
    if cases_per_task is not None:
        raise O2TwinError(
            "--cases-per-task (cases_per_task) is for a Dask cluster (--scheduler or $O2TWIN_DASK_SCHEDULER); the "
            "local pool sends its workers one case at a time: leave it out"
        )
    # the workers speak only when asked to (-vv): a failing case's messages are in its row and events.jsonl
    debug = logging.getLogger("orchestrator").isEnabledFor(logging.DEBUG)
    return LocalPool(workers, log_level=logging.DEBUG if debug else logging.CRITICAL)


def prepare_cases(
    cases: Sequence[Case], row: RowFunction, keep_signals: bool, allow_modules: tuple[str, ...]
) -> tuple[dict[str, ScenarioBundle], dict[str, PreparedCase]]:
    """Load and bundle each distinct scenario once, check the parameter names, and give every case its id.

    Returns (bundles by digest, prepared cases by id in the order given; a repeated case appears once)."""
    if not cases:
        raise O2TwinError("the study has no cases")
    specs: dict[Any, ScenarioSpec] = {}
    bundles: dict[int, ScenarioBundle] = {}
    names: dict[int, set[str]] = {}
    prepared: dict[str, PreparedCase] = {}
    for case in cases:
        _check_tags(case)
        key = case.scenario if isinstance(case.scenario, str | Path | None) else id(case.scenario)
        spec = specs.get(key)
        if spec is None:
            spec = specs[key] = (
                case.scenario if isinstance(case.scenario, ScenarioSpec) else load_scenario(case.scenario)
            )
            if spec.plant is not None:
                raise SystemDefinitionError(
                    f"{spec.source or spec.name}: [plant] runs hardware in the loop; a sweep runs the simulated plant "
                    "only (remove [plant] or sweep a scenario without it)"
                )
            bundles[id(spec)] = bundle_scenario(spec, allow_modules)
            names[id(spec)] = set()
        bundle = bundles[id(spec)]
        names[id(spec)].update(case.overrides)
        cid = case_id(bundle.digest, case)
        job = CaseJob(
            cid,
            bundle.digest,
            dict(case.overrides),
            case.seed,
            case.stop_time,
            row,
            keep_signals,
            allow_modules,
            case.start_state,
        )
        seed = case.seed if case.seed is not None else spec.seed
        columns = {"case_id": cid, **case.tags, "scenario": spec.name, **case.overrides, "seed": seed}
        prepared.setdefault(cid, PreparedCase(case, job, columns))
    for spec in {id(s): s for s in specs.values()}.values():  # on the bundled files, as the workers will run them
        check_parameter_names(unpack(bundles[id(spec)]), sorted(names[id(spec)]), allow_modules)
    return {b.digest: b for b in bundles.values()}, prepared


def _check_tags(case: Case) -> None:
    for name in case.tags:
        if name in OUTCOME_COLUMNS or "." in name:
            raise O2TwinError(f"case tag '{name}': a tag may not be named like a column of the table or contain '.'")


def check_parameter_names(spec: ScenarioSpec, names: Sequence[str], allow_modules: Sequence[str] = ()) -> None:
    """Every "slave.parameter" a study varies must be a parameter or input of that slave (checked on the scenario's
    own slaves, built once here, so a typo stops the study before its first run). Also the scenario's safety check."""
    registry = registry_for(spec, allow_modules)
    apply_hooks(spec, registry)
    system = build_system(spec, check=False, registry=registry)
    try:
        for name in names:
            slave_name, _, parameter = name.partition(".")
            slave = system.slaves.get(slave_name)
            if slave is None:
                known = ", ".join(sorted(system.slaves))
                raise SystemDefinitionError(f"{name}: the scenario {spec.name} has no slave '{slave_name}' ({known})")
            var = slave.variables.get(parameter)
            if var is None:
                hint = did_you_mean(parameter, slave.variables)
                raise SystemDefinitionError(f"{name}: {slave_name} has no parameter '{parameter}'{hint}")
            if var.causality not in ("parameter", "input"):
                raise SystemDefinitionError(
                    f"{name}: is {article(var.causality)} of {slave_name}; only parameters and inputs can be varied"
                )
    finally:
        for slave in system.slaves.values():
            slave.terminate()


def check_picklable(row: RowFunction) -> None:
    try:
        pickle.dumps(row)
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        raise O2TwinError(
            f"row function {describe_function(row)} cannot be sent to the local worker processes ({err}); "
            "define it at module level"
        ) from None


@contextlib.contextmanager
def _study_folder(out: str | os.PathLike | None) -> Iterator[Path]:
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="o2twin-sweep-") as tmp:
        yield Path(tmp)


def _check_resume(store: SweepStore, row: RowFunction) -> None:
    """A study folder is reused only with the same row function (its rows would mix two kinds of metrics)."""
    path = store.root / MANIFEST
    if not path.exists():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")).get("row")
    except (OSError, ValueError, AttributeError):
        return
    if earlier and earlier != describe_function(row) and any(store.rows_dir.iterdir()):
        raise O2TwinError(
            f"{store.root}: holds a study whose rows come from {earlier}, not {describe_function(row)}; "
            "choose another --out folder"
        )


def _manifest(
    backend: Backend, row: RowFunction, prepared: Mapping[str, PreparedCase], bundles: Mapping[str, ScenarioBundle]
) -> dict[str, Any]:
    return {
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "backend": backend.describe(),
        "row": describe_function(row),
        "scenarios": {
            d: {"name": b.spec.name, "source": b.spec.source, "files": {n: len(data) for n, data in b.files.items()}}
            for d, b in bundles.items()
        },
        "cases": [
            {
                "case_id": cid,
                "scenario": p.job.bundle,
                "overrides": p.job.overrides,
                "seed": p.job.seed,
                "stop_time": p.job.stop_time,
                "tags": dict(p.case.tags),
            }
            for cid, p in prepared.items()
        ],
    }


#: Outcome columns that hold numbers (None where unknown: NaN in the table).
NUMERIC_COLUMNS = ("failed_at_s", "simulated_time_s", "wall_time_s", "cpu_time_s")


def _table(rows: list[dict[str, Any]], prepared: Mapping[str, PreparedCase]) -> pd.DataFrame:
    """The rows as a DataFrame: the cases' own columns (id, tags, scenario, parameters, seed), the outcome, then
    the metrics."""
    import pandas as pd

    if not rows:
        return pd.DataFrame(columns=list(OUTCOME_COLUMNS))
    frame = pd.DataFrame.from_records(rows)
    own = [c for c in dict.fromkeys(k for p in prepared.values() for k in p.columns) if c != "seed"]
    outcome = [c for c in OUTCOME_COLUMNS if c not in own]
    order = list(dict.fromkeys([*own, *outcome, *frame.columns]))
    frame = frame.reindex(columns=order)
    for name in NUMERIC_COLUMNS:
        frame[name] = pd.to_numeric(frame[name]).astype(float)
    return frame


def _write_outputs(store: SweepStore, frame: pd.DataFrame, prepared: Mapping[str, PreparedCase], plots: bool) -> None:
    paths = store.write_table(frame)
    log.info("sweep table: %s", ", ".join(str(p) for p in paths.values()))
    if not plots or frame.empty:
        return
    from orchestrator.sweep.plots import write_summary_plots

    parameters = [k for p in prepared.values() for k in p.job.overrides]
    try:
        write_summary_plots(frame, list(dict.fromkeys(parameters)), store.root / "plots")
    except Exception as err:  # plots are a convenience; the table is what matters
        log.warning("sweep plots could not be written: %s", err)


class _ProgressBar:
    """Cases done (with failures) and the ETA, on a terminal; nothing otherwise."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.failed = 0
        self._bar: Any = None
        self._redirect: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._bar = tqdm(total=total, initial=done, unit="case", desc="sweep", file=sys.stderr, smoothing=0.1)
            self._bar.set_postfix_str("failed 0", refresh=False)
            self._redirect = logging_redirect_tqdm()
            self._redirect.__enter__()

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._redirect is not None:
            self._redirect.__exit__(*exc)
        if self._bar is not None:
            self._bar.close()

    def advance(self, failed: bool) -> None:
        self.failed += failed
        if self._bar is not None:
            self._bar.set_postfix_str(f"failed {self.failed}", refresh=False)
            self._bar.update(1)
