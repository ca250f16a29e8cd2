"""``calibrate(config) -> CalibrationResult``: fit the chosen parameters to a measured trace.

Rounds of scipy.optimize.least_squares (trust region reflective, within the bounds) on the residuals of
orchestrator.calibration.residuals; the Jacobian by forward differences, its columns run in parallel. Each round
starts every evaluation from a snapshot taken at the window's start with the round's starting values, so the
state the window starts from follows the parameters from round to round.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from orchestrator.calibration.config import CalibrationConfig, CalibrationError, load_calibration
from orchestrator.calibration.evaluate import Evaluator, parameter_overrides, replay_spec
from orchestrator.calibration.hints import hint_for
from orchestrator.calibration.report import (
    overlay_plots,
    residual_statistics,
    write_fit_json,
    write_fitted_scenario,
)
from orchestrator.calibration.residuals import (
    Comparison,
    block_layout,
    make_comparison,
    residual_blocks,
    residual_vector,
)
from orchestrator.calibration.statistics import Block, FitStatistics, fit_statistics
from orchestrator.calibration.trace import Trace, read_trace

log = logging.getLogger(__name__)

#: Rounds end when one moved no parameter by more than this (in the optimiser's coordinates: ~0.1 % of its value).
ROUND_TOLERANCE = 1e-3
#: A round moves each parameter by at most this (optimiser coordinates: about 22 % of its value): far from the
#: snapshot's values the window starts from a state that belongs to other parameters, and its pull misleads the fit.
#: A parameter whose move changes direction from one round to the next moves half as far from then on, one that
#: keeps it twice as far again (the rounds are a fixed-point iteration, snapshot -> fit -> snapshot, and a parameter
#: the slow part of the state depends on overshoots).
ROUND_STEP_LIMIT = 0.2


class ParameterSpace:
    """The optimiser's coordinates: log(p / |p_start|) for parameters with positive bounds, p / |p_start| otherwise
    (so a step of 0.01 is 1 % of the value, and the fit spans decades evenly)."""

    def __init__(self, config: CalibrationConfig) -> None:
        params = config.parameters
        self.ref = np.array([abs(p.start) for p in params])
        self.log = np.array([p.lower > 0 for p in params])
        self.lower = self.to_z(np.array([p.lower for p in params]))
        self.upper = self.to_z(np.array([p.upper for p in params]))

    def to_z(self, p: np.ndarray) -> np.ndarray:
        scaled = np.asarray(p, dtype=float) / self.ref
        return np.where(self.log, np.log(np.where(self.log, scaled, 1.0)), scaled)

    def to_p(self, z: np.ndarray) -> np.ndarray:
        return np.where(self.log, np.exp(z), z) * self.ref

    def dp_dz(self, z: np.ndarray) -> np.ndarray:
        """d(p / |p_start|) / dz of each parameter."""
        return np.where(self.log, np.exp(z), 1.0)


@contextlib.contextmanager
def _engine(workers: int | None, scheduler: Any) -> Iterator[Any]:
    """Where evaluations run: the given scheduler, else a local Dask cluster held for the fit, else None (the local
    process pool of orchestrator.sweep, started for each batch)."""
    if scheduler is not None:
        yield scheduler
        return
    try:
        from distributed import Client

        from orchestrator.sweep.dask_cluster import start_local_cluster
        from orchestrator.sweep.pool import default_workers
    except ImportError:
        yield None
        return
    with start_local_cluster(workers or default_workers()) as cluster, Client(cluster) as client:
        yield client


@dataclass
class CalibrationResult:
    """The fitted values and what the fit says about them; ``out_dir`` holds fit.json, the plots and the scenario."""

    names: list[str]
    start: np.ndarray
    values: np.ndarray
    statistics: FitStatistics
    cost_start: float
    cost: float
    evaluations: int
    wall_time_s: float
    out_dir: Path | None
    report: dict[str, Any] = field(default_factory=dict)
    #: what the Jacobian at the start values said the signals could determine (None: not computed)
    start_statistics: FitStatistics | None = None

    @property
    def fitted(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.values, strict=True)}

    @property
    def warnings(self) -> list[str]:
        """Identifiability warnings at the fitted values (what the result can be trusted for)."""
        return self.statistics.warnings

    @property
    def start_warnings(self) -> list[str]:
        """Identifiability warnings at the start values: what the chosen signals could not determine if the model
        fitted there (an experiment-design check, made before the fit)."""
        return self.start_statistics.warnings if self.start_statistics is not None else []

    @property
    def unidentifiable(self) -> list[str]:
        """The parameters named by a warning at the fitted values."""
        return self.statistics.unidentifiable


class _Problem:
    """The least-squares problem of a calibration in the optimiser's coordinates: residuals, their Jacobian by
    forward differences (its columns run in parallel) and what the Jacobian says (statistics)."""

    def __init__(self, config: CalibrationConfig, comp: Comparison, evaluator: Evaluator) -> None:
        self.config, self.comp, self.evaluator = config, comp, evaluator
        self.space = ParameterSpace(config)
        self.names = [p.name for p in config.parameters]
        self.hints = {p.name: h for p in config.parameters if (h := hint_for(p.targets)) is not None}
        self.blocks: list[Block] = []

    def twins(self, points: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        return self.evaluator.evaluate([self.space.to_p(q) for q in points])

    def fun(self, q: np.ndarray) -> np.ndarray:
        twin = self.twins([q])[0]
        if not self.blocks:
            self.blocks = block_layout(self.config, self.comp, twin)
        return residual_vector(self.config, self.comp, twin)

    def jac(self, q: np.ndarray) -> np.ndarray:
        h = self.config.relative_step
        steps = np.where(q + h <= self.space.upper, h, -h)
        points = [q + np.eye(len(q))[j] * steps[j] for j in range(len(q))]
        r0, *cols = (residual_vector(self.config, self.comp, t) for t in self.twins([q, *points]))
        return np.column_stack([(c - r0) / d for c, d in zip(cols, steps, strict=True)])

    def statistics(self, z: np.ndarray, *, a_priori: bool = False) -> FitStatistics:
        """Intervals, correlations and identifiability at z (the Jacobian in p / |p_start|)."""
        residuals = self.fun(z)
        jac_p = self.jac(z) / self.space.dp_dz(z)
        return fit_statistics(self.names, self.space.to_p(z), self.space.ref, jac_p, residuals, self.blocks,
                              a_priori=a_priori, hints=self.hints)  # fmt: skip


@contextlib.contextmanager
def _problem(config: CalibrationConfig, workers: int | None, scheduler: Any) -> Iterator[_Problem]:
    trace = read_trace(config.trace, config.time_column, config.units, config.ambient_pa)
    spec = replay_spec(config, trace)
    times, comp = _comparison(config, trace)
    with _engine(workers, scheduler) as engine:
        yield _Problem(config, comp, Evaluator(config, spec, times, workers, scheduler=engine))


def calibrate(config: CalibrationConfig | str | Path, *, out: str | Path | None = None, workers: int | None = None,
              scheduler: Any = None, progress: Callable[[str], None] | None = None) -> CalibrationResult:  # fmt: skip
    """Fit the parameters of a calibration file (or a loaded config); write the results to ``out`` (None: no files).

    ``workers``: parallel evaluations on this machine (default: every core), on a local Dask cluster held for the
    whole fit (its worker processes and unpacked scenario stay up between evaluations), or on the local process
    pool where dask.distributed is not installed. ``scheduler``: a Dask scheduler address or Client to run on
    instead. Raises CalibrationError (an O2TwinError) for a bad file or trace and when the twin fails for values
    inside the bounds.
    """
    wall0 = time.perf_counter()
    if not isinstance(config, CalibrationConfig):
        config = load_calibration(config)
    say = progress or (lambda text: log.info("%s", text))
    with _problem(config, workers, scheduler) as pb:
        space, comp = pb.space, pb.comp
        z = space.to_z(np.array([p.start for p in config.parameters]))
        say(f"{len(config.parameters)} parameters, {comp.times.size} compared samples, {len(config.signals)} signals")
        pb.evaluator.restart_at(space.to_p(z))
        before = pb.twins([z])[0]
        cost_start = 0.5 * float(np.sum(pb.fun(z) ** 2))
        # an experiment-design check before the fit: what could these signals determine if the model fitted?
        start_stats = pb.statistics(z, a_priori=True)
        for text in start_stats.warnings:
            say(f"identifiability at the start values: {text}")
        if config.window[0] <= 0:
            z = _fit_from_rest(config, space, z, pb.fun, pb.jac, say)
        else:
            z = _fit_in_rounds(config, space, z, pb.fun, pb.jac, pb.evaluator, say)
        values = space.to_p(z)
        after = pb.twins([z])[0]
        stats = pb.statistics(z)
        cost = 0.5 * float(np.sum(pb.fun(z) ** 2))
        runs = pb.evaluator.runs
    outcome = CalibrationResult(
        names=pb.names,
        start=np.array([p.start for p in config.parameters]),
        values=values,
        statistics=stats,
        cost_start=cost_start,
        cost=cost,
        evaluations=runs,
        wall_time_s=time.perf_counter() - wall0,
        out_dir=Path(out) if out is not None else None,
        start_statistics=start_stats,
    )
    outcome.report = _report(config, comp, before, after, outcome)
    if out is not None:
        _write(config, comp, before, after, outcome, Path(out))
    return outcome


def identifiability_at(config: CalibrationConfig | str | Path, values: Sequence[float] | None = None, *,
                       a_priori: bool = False, workers: int | None = None, scheduler: Any = None) -> FitStatistics:  # fmt: skip
    """What the Jacobian at ``values`` (default: the start values) says the calibration's signals determine, without
    fitting: one snapshot (when the window does not start at 0 s) and n + 1 runs of the window. ``a_priori``:
    assume residuals at the level of their scales (an experiment-design check; statistics.py)."""
    if not isinstance(config, CalibrationConfig):
        config = load_calibration(config)
    with _problem(config, workers, scheduler) as pb:
        p = np.array([x.start for x in config.parameters] if values is None else values, dtype=float)
        pb.evaluator.restart_at(p)
        return pb.statistics(pb.space.to_z(p), a_priori=a_priori)


def _fit_from_rest(config: CalibrationConfig, space: ParameterSpace, z: np.ndarray, fun: Callable[..., np.ndarray],
                   jac: Callable[..., np.ndarray], say: Callable[[str], None]) -> np.ndarray:  # fmt: skip
    """A window from 0 s starts every run from the model's own initial state: no snapshot, so one least_squares run
    over the whole bounds (trust region reflective, variables scaled by the Jacobian's columns)."""
    steps = iter(range(1, config.max_evaluations + 2))

    def jac_and_say(q: np.ndarray) -> np.ndarray:
        say(f"step {next(steps)}: cost {0.5 * float(np.sum(fun(q) ** 2)):.6g}; {_describe(config, space.to_p(q))}")
        return jac(q)

    result = least_squares(fun, z, jac=jac_and_say, bounds=(space.lower, space.upper), method="trf", x_scale="jac",
                           max_nfev=config.max_evaluations, xtol=1e-4, ftol=1e-6, gtol=1e-8)  # fmt: skip
    say(
        f"cost {result.cost:.6g} after {result.nfev} steps ({result.message}); "
        + _describe(config, space.to_p(result.x))
    )
    return np.asarray(result.x)


def _fit_in_rounds(config: CalibrationConfig, space: ParameterSpace, z: np.ndarray, fun: Callable[..., np.ndarray],
                   jac: Callable[..., np.ndarray], evaluator: Evaluator,
                   say: Callable[[str], None]) -> np.ndarray:  # fmt: skip
    """Rounds of least_squares, each from a new snapshot at the values so far (docs/calibration.md, Rounds)."""
    relax, last_move = np.ones_like(z), np.zeros_like(z)
    for round_no in range(1, config.rounds + 1):
        if round_no > 1:
            evaluator.restart_at(space.to_p(z))
        lower = np.maximum(space.lower, z - ROUND_STEP_LIMIT)
        upper = np.minimum(space.upper, z + ROUND_STEP_LIMIT)
        result = least_squares(fun, z, jac=jac, bounds=(lower, upper), method="trf", x_scale=1.0,
                               max_nfev=config.max_evaluations, xtol=1e-5, ftol=1e-8, gtol=1e-8)  # fmt: skip
        move = result.x - z
        # a parameter that swung back moves half as far from now on; one that keeps its direction, twice (up to 1)
        relax = np.where(move * last_move < 0, relax * 0.5, np.minimum(1.0, relax * 2.0))
        move, last_move = relax * move, move
        moved = float(np.max(np.abs(move)))
        z = np.clip(z + move, space.lower, space.upper)
        say(f"round {round_no}: cost {result.cost:.6g} after {result.nfev} steps; " + _describe(config, space.to_p(z)))
        if moved < ROUND_TOLERANCE:  # the snapshot was taken at values the fit kept: it is consistent
            break
    return z


def _comparison(config: CalibrationConfig, trace: Trace) -> tuple[np.ndarray, Comparison]:
    """The compared samples of the trace (window after settle_s) and their scales and cycles."""
    mask = (trace.times >= config.compare_from - 1e-9) & (trace.times <= config.window[1] + 1e-9)
    times = trace.times[mask]
    if times.size < len(config.parameters) + 2:
        raise CalibrationError(f"{config.source}: only {times.size} trace samples in the compared window; lengthen it")
    measured = {s.name: trace.column(s.column, f"{config.source}: [signals.{s.name}]")[mask] for s in config.signals}
    cycle_values = None
    if config.cycle_column is not None:
        cycle_values = trace.column(config.cycle_column, f"{config.source}: [cycles]")[mask]
    return times, make_comparison(config, times, measured, cycle_values)


def _describe(config: CalibrationConfig, values: np.ndarray) -> str:
    return ", ".join(f"{p.name} = {v:.5g}" for p, v in zip(config.parameters, values, strict=True))


def _report(config: CalibrationConfig, comp: Comparison, before: dict[str, np.ndarray],
            after: dict[str, np.ndarray], res: CalibrationResult) -> dict[str, Any]:  # fmt: skip
    st = res.statistics
    blocks_before = residual_blocks(config, comp, before)
    blocks_after = residual_blocks(config, comp, after)
    return {
        "calibration": config.name,
        "source": str(config.source),
        "scenario": config.scenario.name,
        "window_s": list(config.window),
        "compared_from_s": config.compare_from,
        "parameters": {
            p.name: {
                "targets": list(p.targets),
                "start": p.start,
                "fitted": float(res.values[i]),
                "std": float(st.std[i]),
                "ci95": [float(st.ci_low[i]), float(st.ci_high[i])],
                "bounds": [p.lower, p.upper],
                "at_bound": bool(np.isclose(res.values[i], p.lower) or np.isclose(res.values[i], p.upper)),
            }
            for i, p in enumerate(config.parameters)
        },
        "correlation": {"names": res.names, "matrix": st.correlation.tolist()},
        "condition_number": st.condition_number,
        "identifiability_warnings": res.warnings,
        "identifiability_warnings_at_start": res.start_warnings,
        "identifiability": {
            "fitted": _identifiability(res.names, st),
            "start": _identifiability(res.names, res.start_statistics) if res.start_statistics else None,
        },
        "cost": {"start": res.cost_start, "fitted": res.cost},
        "residuals": {
            s.name: {
                "scale": comp.scales[s.name],
                "start": residual_statistics(comp.measured[s.name], before[s.name], comp.scales[s.name]),
                "fitted": residual_statistics(comp.measured[s.name], after[s.name], comp.scales[s.name]),
            }
            for s in config.signals
        },
        "cost_by_block": {
            name: {
                "start": 0.5 * float(blocks_before[name] @ blocks_before[name]),
                "fitted": 0.5 * float(blocks_after[name] @ blocks_after[name]),
            }
            for name in blocks_after
        },
        "evaluations": res.evaluations,
        "wall_time_s": res.wall_time_s,
        "overrides": parameter_overrides(config.parameters, res.values),
    }


def _identifiability(names: list[str], st: FitStatistics) -> dict[str, Any]:
    """The identifiability figures of docs/calibration.md for fit.json."""
    return {
        "relative_std": dict(zip(names, map(float, st.relative_std), strict=True)),
        "sensitivity_per_percent": dict(zip(names, map(float, st.sensitivity), strict=True)),
        "condition_number": st.condition_number,
        "collinear_subsets": [{"parameters": list(m), "collinearity_index": i} for m, i in st.collinear],
        "effective_samples": st.effective_samples,
        "unidentifiable": st.unidentifiable,
        "warnings": st.warnings,
    }


def _write(config: CalibrationConfig, comp: Comparison, before: dict[str, np.ndarray],
           after: dict[str, np.ndarray], res: CalibrationResult, out: Path) -> None:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    overlay_plots(config, comp.times, comp.measured, before, after, out)
    write_fitted_scenario(config, res.report["overrides"], out)
    write_fit_json(out, res.report)
