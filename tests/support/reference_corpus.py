"""The Reference FMU corpus of issue 16: every Reference FMU model, built as FMI 2.0 and 3.0, run in Co-Simulation
and Model Exchange through the master against the model's reference result, with a stated tolerance per model.

The reference results (``<model>_out.csv`` in the sources) are the models' Co-Simulation results: the Reference
FMUs' own fixed-step forward Euler (cosimulation.c, the model's FIXED_SOLVER_STEP) sampled at the default
experiment's step. So a Co-Simulation run through the master must reproduce them to rounding, and a Model Exchange
run (integrated by the master's BDF within its tolerance) differs from them by the reference's own Euler error:
that error is what each Model Exchange tolerance allows, and no more. Where a reference file cannot serve (Roberts'
is a copy of BouncingBall's upstream), the model's equations solved by scipy's Radau at rtol 1e-12 are the
reference. The error of a column is max |y - y_ref| / max |y_ref| over the reference times (the column's magnitude,
1 for a column that is 0 throughout); a case's error is the largest over its compared columns.

docs/interop.md has the table; scripts/interop_corpus.py measures it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from tests.support.fmu_runs import run_single
from tests.support.reference_fmus import reference_table

INTERFACES = {"cs": FmuCoSimSlave, "me": FmuModelExchangeSlave}


@dataclass(frozen=True)
class Case:
    """One model of the corpus: how it is run and compared."""

    model: str
    #: FMI versions the sources build it for
    versions: tuple[int, ...]
    #: the reference's length (s) and the default suite's shorter run
    stop: float
    brief_stop: float
    #: communication step (s): the default experiment's step, the reference's sampling
    step: float
    #: reference columns compared, per interface (an interface missing: the model is refused, see refused)
    columns: Mapping[str, tuple[str, ...]]
    #: the largest error allowed, per interface
    tolerance: Mapping[str, float]
    #: why the tolerance is what it is
    why: str
    #: for a model the master cannot run: the start of the refusal it must give
    refused: str | None = None
    #: start time (s)
    start: float = 0.0
    #: columns left out and why
    left_out: Mapping[str, str] = field(default_factory=dict)


EULER = "the reference is the FMU's forward Euler"
CASES = (
    Case("BouncingBall", (2, 3), 3.0, 1.2, 0.01, {"cs": ("h", "v"), "me": ("h",)}, {"cs": 1e-12, "me": 0.03},
         f"{EULER} at h = 1 ms; Model Exchange locates the bounces exactly, shifting them by up to 3 ms",
         left_out={"me": "v jumps at each bounce, so a bounce shifted by the reference's Euler error changes v by "
                         "up to 2|v| at the samples next to it"}),
    Case("Dahlquist", (2, 3), 10.0, 10.0, 0.1, {"cs": ("x",), "me": ("x",)}, {"cs": 1e-12, "me": 0.025},
         f"{EULER} at h = 0.1 s: 0.9^10 = 0.349 against e^-1 = 0.368 at t = 1 s"),
    Case("Feedthrough", (2, 3), 2.0, 2.0, 0.1, {}, {"cs": 0.0, "me": 0.0},
         "no dynamics: every output equals its input; the reference has no inputs (all outputs at their start)"),
    Case("Resource", (2, 3), 1.0, 1.0, 1.0, {"cs": ("y",), "me": ("y",)}, {"cs": 0.0, "me": 0.0},
         "y is read from the FMU's resources/ folder: exact"),
    Case("Stair", (2, 3), 10.0, 10.0, 0.2, {"cs": ("counter",), "me": ("counter",)}, {"cs": 0.0, "me": 0.0},
         "a counter of time events, exact; the FMU asks to terminate at 9 s: the master ends the run at the start "
         "of that step (8.8 s), the reference's last row (9 s) is the FMU's state after the terminating step"),
    Case("VanDerPol", (2, 3), 20.0, 2.0, 0.01, {"cs": ("x0", "x1"), "me": ("x0", "x1")}, {"cs": 1e-12, "me": 0.3},
         f"{EULER} at h = 10 ms: its phase drifts from the limit cycle's over 20 s (0.004 over the first 2 s)"),
    Case("StateSpace", (3,), 10.0, 10.0, 1.0, {"cs": ("y[1]", "y[2]", "y[3]"), "me": ("y[1]", "y[2]", "y[3]")},
         {"cs": 1e-12, "me": 0.006},
         f"{EULER} at h = 1 ms: (1.001)^10000 = 21917 against e^10 = 22026 (0.5 %); the array y as y[1], y[2], y[3]"),
    Case("Roberts", (3,), 10.0, 1.0, 0.1, {"cs": ("y1", "y2", "y3"), "me": ("y1", "y2", "y3")},
         {"cs": 2e-5, "me": 6e-3},
         "Roberts_out.csv is a copy of BouncingBall_out.csv upstream, so the Robertson equations solved by Radau at "
         "rtol 1e-12 are the reference; CS: the FMU's Euler at h = 1 us; ME: the default experiment's tolerance 1e-4 "
         "on y1 (about 1) is up to 5e-3 of y3 = 1 - y1 - y2 (at most 0.034 by 1 s)"),
    Case("Clocks", (3,), 10.0, 10.0, 1.0, {}, {}, "", refused="has neither a Co-Simulation nor a Model Exchange "
         "interface (only FMI 3.0 Scheduled Execution"),
)  # fmt: skip


def case(model: str) -> Case:
    return next(c for c in CASES if c.model == model)


def reference(c: Case, times: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The reference times and columns of case c (arrays of the reference file split into elements)."""
    if c.model == "Roberts":
        assert times is not None
        return times, robertson(times)
    table = reference_table(c.model)
    t = np.array([float(x) for x in table["time"]])
    columns: dict[str, np.ndarray] = {}
    for name, values in table.items():
        if name == "time":
            continue
        parts = [v.split() for v in values]
        if all(len(p) == 1 for p in parts):
            try:
                columns[name] = np.array([float(v) for v in values])
            except ValueError:
                continue  # text (String, Binary): compared by the Feedthrough test itself
        else:
            matrix = np.array([[float(x) for x in p] for p in parts])
            for i in range(matrix.shape[1]):
                columns[f"{name}[{i + 1}]"] = matrix[:, i]
    return t, columns


def robertson(times: np.ndarray) -> dict[str, np.ndarray]:
    """The Robertson problem (y1' = -0.04 y1 + 1e4 y2 y3, y2' = 0.04 y1 - 1e4 y2 y3 - 3e7 y2^2, y3 = 1 - y1 - y2) at
    times, by Radau at rtol 1e-12."""

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        y1, y2 = y
        y3 = 1.0 - y1 - y2
        return [-0.04 * y1 + 1e4 * y2 * y3, 0.04 * y1 - 1e4 * y2 * y3 - 3e7 * y2 * y2]

    sol = solve_ivp(rhs, (0.0, float(times[-1])), [1.0, 0.0], method="Radau", rtol=1e-12, atol=1e-16, t_eval=times)
    return {"y1": sol.y[0], "y2": sol.y[1], "y3": 1.0 - sol.y[0] - sol.y[1]}


@dataclass
class Outcome:
    """A case run through the master: its status, the error per compared column and the reference points used."""

    status: str
    errors: dict[str, float]
    compared_points: int
    reference_points: int

    @property
    def error(self) -> float:
        return max(self.errors.values(), default=0.0)


def run_case(c: Case, fmu: Path, interface: str, stop: float) -> Outcome:
    """Run case c's FMU alone through the master to ``stop`` and compare it with the reference."""
    columns = c.columns[interface]
    cls = INTERFACES[interface]
    _, rec = run_single(cls("m", fmu), stop=stop, step=c.step, record=[f"m.{n}" for n in columns])
    times = np.array(rec.times)
    ref_t, ref = reference(c, times)
    errors: dict[str, float] = {}
    used = 0
    for name in columns:
        y = np.array(rec.column(f"m.{name}"), dtype=float)
        diffs = []
        for k, t_ref in enumerate(ref_t):
            if t_ref > stop + 1e-9:
                break
            i = int(np.argmin(np.abs(times - t_ref)))
            if abs(times[i] - t_ref) < 1e-9:
                diffs.append(abs(y[i] - ref[name][k]))
        scale = float(np.max(np.abs(ref[name]))) or 1.0
        errors[name] = max(diffs) / scale
        used = len(diffs)
    n_ref = int(np.sum(ref_t <= stop + 1e-9))
    return Outcome(str(rec.finish_metadata["status"]), errors, used, n_ref)
