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
from orchestrator.calibration.report import (
    overlay_plots,
    residual_statistics,
    write_fit_json,
    write_fitted_scenario,
)
from orchestrator.calibration.residuals import Comparison, make_comparison, residual_blocks, residual_vector
from orchestrator.calibration.statistics import FitStatistics, fit_statistics
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

    @property
    def fitted(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.values, strict=True)}

    @property
    def warnings(self) -> list[str]:
        return self.statistics.warnings


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
    trace = read_trace(config.trace, config.time_column, config.units, config.ambient_pa)
    spec = replay_spec(config, trace)
    times, comp = _comparison(config, trace)
    with _engine(workers, scheduler) as engine:
        evaluator = Evaluator(config, spec, times, workers, scheduler=engine)
        space = ParameterSpace(config)
        z = space.to_z(np.array([p.start for p in config.parameters]))
        say(f"{len(config.parameters)} parameters, {comp.times.size} compared samples, {len(config.signals)} signals")

        def residuals_at(points: Sequence[np.ndarray]) -> list[np.ndarray]:
            twins = evaluator.evaluate([space.to_p(q) for q in points])
            return [residual_vector(config, comp, t) for t in twins]

        def fun(q: np.ndarray) -> np.ndarray:
            return residuals_at([q])[0]

        def jac(q: np.ndarray) -> np.ndarray:
            h = config.relative_step
            steps = np.where(q + h <= space.upper, h, -h)
            points = [q + np.eye(len(q))[j] * steps[j] for j in range(len(q))]
            r0, *cols = residuals_at([q, *points])
            return np.column_stack([(c - r0) / d for c, d in zip(cols, steps, strict=True)])

        evaluator.restart_at(space.to_p(z))
        before = evaluator.evaluate([space.to_p(z)])[0]
        cost_start = 0.5 * float(np.sum(fun(z) ** 2))
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
            say(
                f"round {round_no}: cost {result.cost:.6g} after {result.nfev} steps; "
                + _describe(config, space.to_p(z))
            )
            if moved < ROUND_TOLERANCE:  # the snapshot was taken at values the fit kept: it is consistent
                break
        values = space.to_p(z)
        after = evaluator.evaluate([values])[0]
        jac_p = jac(z) / space.dp_dz(z)  # d residual / d (p / |p_start|)
        ref = np.array([abs(p.start) for p in config.parameters])
        stats = fit_statistics([p.name for p in config.parameters], values, ref, jac_p, fun(z))
        cost = 0.5 * float(np.sum(fun(z) ** 2))
        runs = evaluator.runs
    params = config.parameters
    outcome = CalibrationResult(
        names=[p.name for p in params],
        start=np.array([p.start for p in params]),
        values=values,
        statistics=stats,
        cost_start=cost_start,
        cost=cost,
        evaluations=runs,
        wall_time_s=time.perf_counter() - wall0,
        out_dir=Path(out) if out is not None else None,
    )
    outcome.report = _report(config, comp, before, after, outcome)
    if out is not None:
        _write(config, comp, before, after, outcome, Path(out))
    return outcome


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
        "identifiability_warnings": st.warnings,
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


def _write(config: CalibrationConfig, comp: Comparison, before: dict[str, np.ndarray],
           after: dict[str, np.ndarray], res: CalibrationResult, out: Path) -> None:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    overlay_plots(config, comp.times, comp.measured, before, after, out)
    write_fitted_scenario(config, res.report["overrides"], out)
    write_fit_json(out, res.report)
