#!/usr/bin/env python3
"""Work per PSA cycle of two stiff integrators on the PSAUnit FMU's own ODE: BDF (NDF) and Radau IIA (order 5).

Is a method other than the runtime's variable-order BDF a way to a faster PSA FMU? This study answers it with
counts, not timings: both methods are SciPy's (`solve_ivp` BDF, the same NDF scheme as the FMU runtime, and Radau,
Hairer and Wanner's three-stage Radau IIA), driven through the FMU's Model Exchange interface with the Jacobian from
fmi2GetDirectionalDerivative, so both see the same right-hand side. The schedule is bench_psa.py's validation cycle
at the rated point; each valve switch restarts the integrator (as it restarts the runtime's BDF). After --warm
cycles from the cold start (BDF at rtol 1e-6), every method and tolerance runs the same --cycles cycles from the same
state; per cycle it reports the accepted steps, right-hand-side evaluations, Newton iterations, Jacobians, LU
factorisations and linear solves, and the largest deviation of bench_psa.py's outputs (sampled every 0.25 s) from a
Radau run at rtol 1e-10, relative to each output's range. docs/fmu-runtime.md turns the counts into time with the
runtime's measured cost per operation.

    .venv/bin/python scripts/psa_method_study.py [--warm 60] [--cycles 6] [--out docs/figures/psa_methods.json]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import sys
from pathlib import Path

import numpy as np
from bench_psa import CYCLE, MODEL, OPERATING_POINT, OUTPUTS, ROOT, VALVES
from scipy.integrate import solve_ivp

LOG = logging.getLogger("psa_method_study")
SAMPLE_S = 0.25
RUNS = (("BDF", 1e-6), ("BDF", 3e-7), ("Radau", 1e-6), ("Radau", 3e-6), ("Radau", 1e-5))
REFERENCE = ("Radau", 1e-10)


class PSAOde:
    """The PSAUnit FMU as an ODE x' = f(t, x) for SciPy, through fmi2 Model Exchange calls."""

    def __init__(self, fmu: Path) -> None:
        from fmpy import extract, read_model_description
        from fmpy.fmi2 import FMU2Model

        md = read_model_description(str(fmu))
        vr = {v.name: v.valueReference for v in md.modelVariables}
        self.nx = len(md.derivatives)
        self.model = FMU2Model(
            guid=md.guid,
            unzipDirectory=extract(str(fmu)),
            modelIdentifier=md.modelExchange.modelIdentifier,
            instanceName="study",
        )
        self.model.instantiate()
        self.model.setupExperiment(startTime=0.0)
        self.model.enterInitializationMode()
        self.model.exitInitializationMode()
        self.model.enterEventMode()
        self.model.newDiscreteStates()
        self.model.enterContinuousTimeMode()
        self.comp, dll = self.model.component, self.model.dll
        vec = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t]
        for name in ("fmi2GetContinuousStates", "fmi2SetContinuousStates", "fmi2GetDerivatives"):
            getattr(dll, name).argtypes = vec
        dll.fmi2GetNominalsOfContinuousStates.argtypes = vec
        self.dd = dll.fmi2GetDirectionalDerivative
        uint_p, dbl_p = ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_double)
        self.dd.argtypes = [ctypes.c_void_p, uint_p, ctypes.c_size_t, uint_p, ctypes.c_size_t, dbl_p, dbl_p]
        self.dll = dll
        self.buf = (ctypes.c_double * self.nx)()
        self.der_vr = (ctypes.c_uint * self.nx)(*(d.variable.valueReference for d in md.derivatives))
        self.state_vr = [d.variable.derivative.valueReference for d in md.derivatives]
        self.in_vr = [vr[n] for n in (*VALVES, *OPERATING_POINT)]
        self.out_vr = [vr[n] for n in OUTPUTS]
        dll.fmi2GetNominalsOfContinuousStates(self.comp, self.buf, self.nx)
        self.nominal = np.array(self.buf)
        dll.fmi2GetContinuousStates(self.comp, self.buf, self.nx)
        self.x_start = np.array(self.buf)

    def set_valves(self, open_valves: tuple[str, ...]) -> None:
        values = [1.0 if v in open_valves else 0.0 for v in VALVES] + list(OPERATING_POINT.values())
        self.model.setReal(self.in_vr, values)

    def _set_state(self, t: float, x: np.ndarray) -> bool:
        if not np.all(np.isfinite(x)):
            return False
        self.buf[:] = x.tolist()
        self.model.setTime(t)
        return self.dll.fmi2SetContinuousStates(self.comp, self.buf, self.nx) == 0

    def f(self, t: float, x: np.ndarray) -> np.ndarray:
        """x' at (t, x); NaN where the FMU refuses the state, so that the solver rejects the step."""
        if not self._set_state(t, x) or self.dll.fmi2GetDerivatives(self.comp, self.buf, self.nx) != 0:
            return np.full(self.nx, np.nan)
        return np.array(self.buf)

    def jacobian(self, t: float, x: np.ndarray) -> np.ndarray:
        """df/dx column by column from fmi2GetDirectionalDerivative (the FMU's own derivative code)."""
        jac = np.zeros((self.nx, self.nx))
        if not self._set_state(t, x):
            return np.full((self.nx, self.nx), np.nan)
        one, column = (ctypes.c_double * 1)(1.0), (ctypes.c_double * self.nx)()
        for j, ref in enumerate(self.state_vr):
            known = (ctypes.c_uint * 1)(ref)
            if self.dd(self.comp, self.der_vr, self.nx, known, 1, one, column) != 0:
                raise RuntimeError(f"fmi2GetDirectionalDerivative failed for state column {j}")
            jac[:, j] = column
        return jac

    def outputs(self, t: float, x: np.ndarray) -> np.ndarray:
        self._set_state(t, x)
        return np.array(self.model.getReal(self.out_vr))


def run_cycles(
    ode: PSAOde, method: str, rtol: float, x: np.ndarray, t: float, cycles: int
) -> tuple[dict[str, float], np.ndarray, np.ndarray, float]:
    """cycles validation cycles from (t, x); returns the work per cycle, the sampled outputs and the end state."""
    work = {"steps": 0.0, "rhs": 0.0, "jacobians": 0.0, "factorisations": 0.0}
    samples: list[np.ndarray] = []
    for _ in range(cycles):
        for duration, open_valves in CYCLE:
            ode.set_valves(open_valves)
            atol = rtol * ode.nominal
            sol = solve_ivp(
                ode.f, (t, t + duration), x, method, rtol=rtol, atol=atol, jac=ode.jacobian, dense_output=True
            )
            if not sol.success:
                raise RuntimeError(f"{method} at rtol {rtol:g} failed at t={t:g}: {sol.message}")
            work["rhs"] += sol.nfev
            work["jacobians"] += sol.njev
            work["factorisations"] += sol.nlu
            work["steps"] += len(sol.t) - 1  # sol.t: every accepted step's end
            t_samples = t + SAMPLE_S * np.arange(1, round(duration / SAMPLE_S) + 1)
            samples += [ode.outputs(tk, sol.sol(tk)) for tk in t_samples]
            x, t = sol.y[:, -1], t + duration
    return {k: v / cycles for k, v in work.items()}, np.array(samples), x, t


def derived_counts(method: str, work: dict) -> dict:
    """Newton iterations and linear solves per cycle from SciPy's counts. BDF: one right-hand side and one real
    solve per iteration. Radau: three right-hand sides and one real plus one complex solve per iteration, one more
    right-hand side and real solve per step for the error estimate; nlu counts the real and the complex factor."""
    if method == "BDF":
        return {"newton_iterations": work["rhs"], "real_solves": work["rhs"], "complex_solves": 0.0}
    iterations = (work["rhs"] - work["steps"]) / 3
    return {"newton_iterations": iterations, "real_solves": iterations + work["steps"], "complex_solves": iterations}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmu", type=Path, help="the PSAUnit FMU (default: export it into fmus/)")
    parser.add_argument("--warm", type=int, default=60, help="cycles from the cold start before the study (60)")
    parser.add_argument("--cycles", type=int, default=6, help="cycles each method and tolerance runs (6)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "psa_methods.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.fmu is None:
        sys.path.insert(0, str(ROOT))
        from orchestrator.export import export_model

        args.fmu = export_model(MODEL)
    ode = PSAOde(args.fmu)
    LOG.info("%d warm-up cycles (BDF, rtol 1e-6) ...", args.warm)
    _, _, x0, t0 = run_cycles(ode, "BDF", 1e-6, ode.x_start, 0.0, args.warm)
    _, reference, _, _ = run_cycles(ode, *REFERENCE, x0, t0, args.cycles)
    span = np.ptp(reference, axis=0)
    rows = []
    for method, rtol in RUNS:
        work, samples, _, _ = run_cycles(ode, method, rtol, x0, t0, args.cycles)
        error = float(np.max(np.max(np.abs(samples - reference), axis=0) / span))
        rows.append({"method": method, "rtol": rtol, **work, **derived_counts(method, work), "error": error})
        LOG.info(
            "%-5s rtol %-6g %s",
            method,
            rtol,
            ", ".join(f"{k} {v:.4g}" for k, v in rows[-1].items() if k not in ("method", "rtol")),
        )
    result = {
        "fmu": str(args.fmu),
        "schedule": f"{args.warm} warm-up + {args.cycles} cycles of 7 s, restart at each valve switch",
        "reference": f"{REFERENCE[0]} at rtol {REFERENCE[1]:g}",
        "per_cycle": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    LOG.info("written %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
