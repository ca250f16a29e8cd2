"""Is an imported system's communication step small enough? Checked by step halving.

An SSP archive of another tool need not say which step its system needs (ssp/hints.py reads what it does say). A
co-simulation coupled at too large a step can diverge (an explicit coupling of stiff or oscillating parts) and still
end "completed". So before an imported archive runs, its system runs twice over a short probe (the first
``PROBE_STEPS`` steps): at the step h and at h/2. If the connected signals differ by more than ``TOLERANCE`` of their
magnitude, the step is not trusted:
- a step the archive gave (an OSP or OMSimulator annotation): kept, with a warning naming the difference;
- a guessed step (the FMUs' DefaultExperiment or the master's default): halved until two successive steps agree
  (at most ``MAX_HALVINGS`` times), with a warning naming the step used and why.
Either finding is logged as a warning and appended to the scenario's description, which the run saves with its
results (scenario.toml). The probes run the real FMUs, as a run would; a probe that fails leaves the step as it is,
with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from orchestrator.cosim.master.simulation import Simulation
from orchestrator.scenario.build import build_simulation
from orchestrator.scenario.spec import ScenarioSpec
from orchestrator.scenario.ssp.hints import StepHint

log = logging.getLogger(__name__)

PROBE_STEPS = 50
TOLERANCE = 0.1  #: largest difference between runs at h and h/2, relative to the signal's largest magnitude
MAX_HALVINGS = 6
_FLOOR = 1e-12


@dataclasses.dataclass
class _Trace:
    times: np.ndarray
    values: dict[str, np.ndarray]


def _with_step(spec: ScenarioSpec, step: float) -> ScenarioSpec:
    return dataclasses.replace(spec, master=dataclasses.replace(spec.master, step=step))


def probe(spec: ScenarioSpec, step: float, horizon: float) -> _Trace:
    """Run the spec's system at ``step`` for ``horizon`` s; the connected signals after every step."""
    sim = build_simulation(_with_step(spec, step))
    times: list[float] = []
    rows: list[dict[str, float]] = []

    def keep(s: Simulation) -> None:
        times.append(s.time)
        rows.append(dict(s.outputs))

    try:
        keep(sim)
        sim.run(until=spec.start_time + horizon, callback=keep)
    finally:
        sim.finish(status="stopped")
    names = [n for n in rows[0] if all(isinstance(r.get(n), int | float) for r in rows)]
    return _Trace(np.array(times), {n: np.array([float(r[n]) for r in rows]) for n in names})


def difference(coarse: _Trace, fine: _Trace) -> tuple[float, str]:
    """(largest relative difference, the signal) between two probes, on the coarse probe's times."""
    worst, name = 0.0, ""
    for n, a in coarse.values.items():
        b = fine.values.get(n)
        if b is None:
            continue
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return math.inf, n
        b_at = np.interp(coarse.times, fine.times, b)
        scale = max(float(np.max(np.abs(b))), float(np.max(np.abs(a))) * 1e-3, _FLOOR)
        d = float(np.max(np.abs(a - b_at))) / scale
        if d > worst:
            worst, name = d, n
    return worst, name


def check_step(spec: ScenarioSpec, hint: StepHint) -> ScenarioSpec:
    """The spec with a step that passes the halving check (see the module docstring); warnings say what changed."""
    if hint.origin == "o2twin":
        return spec
    step = spec.master.step
    horizon = min(spec.stop_time - spec.start_time, PROBE_STEPS * step)
    where = spec.source or spec.name
    try:
        coarse = probe(spec, step, horizon)
        fine = probe(spec, step / 2, horizon)
    except Exception as err:  # a probe is a check only: the run reports the failure itself
        log.warning("%s: the step %g s could not be checked by step halving: %s", where, step, err)
        return spec
    diff, signal = difference(coarse, fine)
    if diff <= TOLERANCE:
        log.info("%s: step %g s (%s) agrees with %g s within %.2g over %g s", where, step, hint.detail, step / 2,
                 diff, horizon)  # fmt: skip
        return spec
    first = (step, diff, signal)
    if hint.origin == "archive":
        message = (
            f"the archive's step {step:g} s ({hint.detail}) is too large: over the first {horizon:g} s a run at "
            f"{step / 2:g} s differs in {signal} by {_percent(diff)} of its magnitude; set a smaller [master] step "
            f"(e.g. {step / 4:g} s)"
        )
        log.warning("%s: %s", where, message)
        return _noted(spec, message)
    for _ in range(MAX_HALVINGS - 1):
        step, coarse = step / 2, fine
        try:
            fine = probe(spec, step / 2, horizon)
        except Exception as err:
            log.warning("%s: step halving stopped at %g s: %s", where, step, err)
            break
        diff, signal = difference(coarse, fine)
        if diff <= TOLERANCE:
            break
    message = (
        f"step {first[0]:g} s ({hint.detail}) is too large: over the first {horizon:g} s a run at half that step "
        f"differs in {first[2]} by {_percent(first[1])} of its magnitude; using {step:g} s, where halving changes "
        f"the result by {_percent(diff)}"
    )
    log.warning("%s: %s", where, message)
    return _noted(_with_step(spec, step), message)


def _noted(spec: ScenarioSpec, message: str) -> ScenarioSpec:
    """The spec with the check's finding at the end of its description (saved with the run's results)."""
    note = f"[o2twin step check: {message}]"
    return dataclasses.replace(spec, description=f"{spec.description} {note}".strip())


def _percent(x: float) -> str:
    return "more than any bound (not finite)" if not math.isfinite(x) else f"{100 * x:.3g} %"
