"""Shared helpers of the exporter tests: the test-model catalogue, a CasADi simulation of a CausalModel, and the
comparison against the independent reference (IDAS on pymoca's implicit DAE)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import casadi as ca
import numpy as np

TEST_MODELS_DIR = Path(__file__).resolve().parents[1] / "export" / "models"


@dataclass(frozen=True)
class Case:
    """A test model, how long to simulate it, and the inputs to apply (constant; names -> values)."""

    name: str
    stop_time: float
    inputs: dict[str, float] = field(default_factory=dict)
    #: construct(s) the model covers (documentation of the test matrix)
    covers: str = ""


CASES = [
    Case("Tank", 20.0, {"q_in": 0.03}, "nonlinear tank with input and outputs, smooth()"),
    Case("Hydraulics.Circuit", 1.0, {}, "connectors, flow variables, connect(), modifications, initial equations"),
    Case("Rod", 10.0, {"T_left": 420.0}, "arrays, for-loops, sum(), Integer parameter, dependent parameter"),
    Case("AlgebraicLoop", 2.0, {"u": 0.8}, "nonlinear algebraic loop (2 unknowns, torn to 1 iteration variable)"),
    Case("Functions.Decay", 3.0, {}, "functions declared in a package"),
    Case("Functions.Weighted", 3.0, {}, "package constants (full name, arrays indexed in for-loops)"),
    Case(
        "Inheritance.Lag", 3.0, {"u": 1.0}, "extends with modifications, if-expressions, noEvent, smooth, der()=0 init"
    ),
    Case("Robertson", 40.0, {}, "stiff kinetics"),
    Case("CoupledOscillators.Mass1", 5.0, {"F": 0.5}, "co-simulation unit without direct feedthrough"),
    Case("CoupledOscillators.Mass2", 5.0, {"x1": 0.1, "v1": -0.2}, "co-simulation unit with direct feedthrough"),
    Case("CoupledOscillators.Monolithic", 5.0, {}, "monolithic reference of the two masses"),
]
CASE_IDS = [c.name for c in CASES]
#: Models whose compiled-FMU checks run only in the slow suite (their compiler checks against the reference always
#: run; the constructs they add are code-generation-neutral).
SLOW_FMU_CASES = {"Functions.Weighted", "Inheritance.Lag", "CoupledOscillators.Monolithic"}


def fmu_cases() -> list:
    """CASES as pytest params for the compiled-FMU tests, the slow ones marked."""
    import pytest

    return [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.name in SLOW_FMU_CASES else []) for c in CASES]


def simulate_causal(model, times: np.ndarray, inputs: dict[str, float]) -> dict[str, np.ndarray]:
    """Integrate a CausalModel's own CasADi functions (Newton init + IDAS/CVODES); every variable by name."""
    u = ca.DM([inputs.get(v.name, v.start) for v in model.variables if v.kind == "input"])
    p = ca.DM([v.start for v in model.variables if v.kind == "parameter"])
    t = ca.SX.sym("t")
    x = ca.SX.sym("x", model.nx)
    z = ca.SX.sym("z", model.nz)
    xz = ca.vertcat(x, z)
    t0 = float(times[0])
    init = ca.Function("init", [xz], [model.init_res(t0, x, z, u, p)])
    solver = ca.rootfinder(
        "init_solver", "newton", init, {"abstol": 1e-10, "abstolStep": 1e-14, "error_on_fail": False}
    )
    x0, z0 = model.init_guess(t0, u, p)
    sol = solver(ca.vertcat(x0, z0))
    xk, zk = sol[: model.nx], sol[model.nx :]
    xdot, g = model.dae(t, x, z, u, p)
    plugin = "idas" if model.nz else "cvodes"
    opts = {"abstol": 1e-10, "reltol": 1e-10, "max_num_steps": 100000}
    integ = ca.integrator("causal", plugin, {"x": x, "z": z, "t": t, "ode": xdot, "alg": g}, t0, list(times[1:]), opts)
    out = integ(x0=xk, z0=zk)
    xs = np.hstack([np.array(xk).reshape(model.nx, 1), np.array(out["xf"]).reshape(model.nx, len(times) - 1)])
    zs = np.hstack([np.array(zk).reshape(model.nz, 1), np.array(out["zf"]).reshape(model.nz, len(times) - 1)])
    rows = [np.array(model.vars(times[k], xs[:, k], zs[:, k], u, p)).ravel() for k in range(len(times))]
    values = np.array(rows)
    return {v.name: values[:, vr] for vr, v in enumerate(model.variables)}


def assert_matches_reference(actual: dict[str, np.ndarray], reference, rtol: float = 1e-4, names=None) -> int:
    """Every variable present in both matches to rtol (absolute floor: rtol x the variable's own peak, so
    quantities passing through zero are compared at their scale). Returns how many variables were compared."""
    compared = 0
    for name in names or sorted(set(actual) & set(reference.values)):
        a = np.asarray(actual[name], dtype=float)
        b = np.asarray(reference[name], dtype=float)
        scale = max(float(np.max(np.abs(b))), 1e-12)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=f"variable {name}")
        compared += 1
    assert compared > 0, "no variable in common with the reference"
    return compared
