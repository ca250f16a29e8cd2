"""Runs of the twin for a calibration: the replay scenario, the start snapshot, and parallel evaluations.

The replay scenario is the calibration's scenario with the trace's measured inputs fed through a time table
([[inputs]], docs/scenarios.md). A snapshot run replays the trace from its start to the window's start and keeps the
FMU states there (orchestrator.cosim.master.start_state); every evaluation starts from that snapshot and runs only
the window, as a case of the many-runs engine (orchestrator.sweep.run_cases), several at once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from orchestrator.calibration.config import CalibrationConfig, CalibrationError, FitParameter
from orchestrator.calibration.trace import Trace
from orchestrator.cosim.master.start_state import StartState, capture_start_state
from orchestrator.errors import SimulationError
from orchestrator.results.run import RunResult, open_run
from orchestrator.scenario.spec import InputSpec, ScenarioSpec
from orchestrator.sweep.case import Case
from orchestrator.sweep.engine import run_cases

log = logging.getLogger(__name__)

#: The name of the time table that replays the trace's inputs (its columns are recorded as measured.COLUMN).
REPLAY_NAME = "measured"


def replay_spec(config: CalibrationConfig, trace: Trace) -> ScenarioSpec:
    """The calibration's scenario with the measured inputs replayed, the twin signals recorded, to the window's end."""
    spec = config.scenario
    if not config.inputs:
        inputs = list(spec.inputs)
    else:
        columns = list(config.inputs)
        for c in columns:
            trace.column(c, f"{config.source}: [inputs]")
        times = trace.times + replay_delay(spec)
        rows = np.column_stack([times, *(trace.columns[c] for c in columns)]).tolist()
        table = InputSpec(name=REPLAY_NAME, targets=dict(config.inputs), rows=rows, columns=columns,
                          interpolation=config.interpolation)  # type: ignore[arg-type]  # fmt: skip
        inputs = [*spec.inputs, table]
    twin = [s.twin for s in config.signals]
    record = list(dict.fromkeys([*spec.outputs.record, *twin]))
    end = config.window[1]
    if end > float(trace.times[-1]) + 1e-9:
        raise CalibrationError(
            f"{config.source}: the window ends at {end:g} s, after the trace ({trace.times[-1]:g} s)"
        )
    return dataclasses.replace(
        spec,
        inputs=inputs,
        outputs=dataclasses.replace(spec.outputs, record=record),
        events=[e for e in spec.events if e.time <= end],
        plots=[],
        start_time=0.0,
        stop_time=end,
    )


def replay_delay(spec: ScenarioSpec) -> float:
    """How much later (s) the replay table lists each sample, so that a value measured at t drives the twin from t
    on: under Gauss-Seidel a slave stepping from t takes a source's value at the end of the step (docs/scenarios.md,
    time tables), so the table is shifted by one master step; under Jacobi it takes the value at t."""
    return spec.master.step if spec.master.algorithm == "gauss-seidel" else 0.0


def parameter_overrides(parameters: Sequence[FitParameter], values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """{"slave.parameter": value} for every target of every fitted parameter."""
    return {t: float(v) for p, v in zip(parameters, values, strict=True) for t in p.targets}


def take_snapshot(spec: ScenarioSpec, at_s: float, overrides: Mapping[str, float]) -> StartState | None:
    """Replay from 0 to ``at_s`` with the given parameter values and keep the FMU states (None when at_s is 0)."""
    if at_s <= 0:
        return None
    with tempfile.TemporaryDirectory(prefix="o2twin-calibration-snapshot-") as tmp:
        session = open_run(spec, out=tmp, overrides=dict(overrides), plots=False)
        state: StartState | None = None
        with session:  # a failure is recorded in the session's result, not raised
            session.advance(until=at_s)
            state = capture_start_state(session.simulation)
        result = session.close()
    if state is None or result.status == "failed":
        raise SimulationError(f"the snapshot run to t = {at_s:g} s failed: {result.error}")
    return state


def sample_row(result: RunResult, *, names: tuple[str, ...], times: tuple[float, ...]) -> dict[str, Any]:
    """A case's row: the twin signals ``names`` interpolated at ``times`` (s), as JSON text (one column)."""
    frame = result.signals
    t = frame.index.to_numpy(dtype=float)
    grid = np.asarray(times, dtype=float)
    samples = {n: np.interp(grid, t, frame[n].to_numpy(dtype=float)).tolist() for n in names}
    return {"samples": json.dumps(samples)}


class Evaluator:
    """Evaluates parameter vectors (in the config's units) from one start snapshot, caching every result."""

    def __init__(self, config: CalibrationConfig, spec: ScenarioSpec, times: np.ndarray, workers: int | None,
                 scheduler: Any = None) -> None:  # fmt: skip
        self.config = config
        self.times = times
        self.workers = workers
        self.scheduler = scheduler  #: a Dask Client or address; None: the local process pool
        self.spec = dataclasses.replace(spec, start_time=config.window[0])
        self.base_spec = spec
        self.state: StartState | None = None
        self.cache: dict[tuple[float, ...], dict[str, np.ndarray]] = {}
        self.runs = 0
        self.row = functools.partial(
            sample_row, names=tuple(s.twin for s in config.signals), times=tuple(float(x) for x in times)
        )

    def restart_at(self, values: Sequence[float] | np.ndarray) -> None:
        """Take a new snapshot at the window's start with these values (the previous results no longer apply)."""
        overrides = parameter_overrides(self.config.parameters, values)
        self.state = take_snapshot(self.base_spec, self.config.window[0], overrides)
        self.cache.clear()

    def evaluate(self, points: Sequence[Sequence[float] | np.ndarray]) -> list[dict[str, np.ndarray]]:
        """The twin's mapped signals (signal name -> values at ``times``) for each parameter vector."""
        keys = [tuple(float(v) for v in p) for p in points]
        todo = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if todo:
            cases = [
                Case(self.spec, parameter_overrides(self.config.parameters, k), start_state=self.state) for k in todo
            ]
            if self.scheduler is not None:
                table = run_cases(cases, row=self.row, scheduler=self.scheduler, plots=False)
            else:
                table = run_cases(cases, row=self.row, workers=min(len(cases), self._workers()), plots=False)
            self.runs += len(cases)
            for key, (_, row) in zip(todo, table.iterrows(), strict=True):
                if row["status"] not in ("ok",):
                    raise SimulationError(
                        f"the twin failed with {self._describe(key)}: {row['error']}; narrow the bounds or check the "
                        "scenario"
                    )
                samples = json.loads(row["samples"])
                self.cache[key] = {s.name: np.asarray(samples[s.twin]) for s in self.config.signals}
        return [self.cache[k] for k in keys]

    def _workers(self) -> int:
        from orchestrator.sweep.pool import default_workers

        return self.workers if self.workers is not None else default_workers()

    def _describe(self, key: tuple[float, ...]) -> str:
        return ", ".join(f"{p.name} = {v:.6g}" for p, v in zip(self.config.parameters, key, strict=True))
