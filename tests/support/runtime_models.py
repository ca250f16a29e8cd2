"""Hand-built CausalModels for the runtime tests (no Modelica front end involved) and a helper to package them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import casadi as ca

from orchestrator.export.build import build_fmu
from orchestrator.export.causal_model import CausalModel, ModelVariable

Expr = ca.SX


def causal_model(
    name: str,
    states: list[tuple[str, float]],
    rhs: Callable[..., tuple[list[Expr], list[Expr]]],
    *,
    algebraic: list[tuple[str, float]] = (),
    inputs: list[tuple[str, float]] = (),
    parameters: list[tuple[str, float]] = (),
    outputs: Callable[..., list[tuple[str, Expr]]] | None = None,
    start_from: dict[str, str] | None = None,
    nominals: dict[str, float] | None = None,
    fixed: set[str] = frozenset(),
    tolerance: float = 1e-6,
    stop_time: float = 1.0,
) -> CausalModel:
    """A semi-explicit DAE  xdot = f, 0 = g  from ``rhs(t, x, z, u, p) -> (f, g)`` (lists of SX expressions).

    Every state has a fixed start (its start value, or the parameter named in ``start_from``); z are guessed from
    their start values. ``outputs(t, x, z, u, p)`` gives named output expressions.
    """
    start_from = start_from or {}
    nominals = nominals or {}
    nx, nz, nu, np_ = len(states), len(algebraic), len(inputs), len(parameters)
    t = ca.SX.sym("t")
    x, z, u, p = ca.SX.sym("x", nx), ca.SX.sym("z", nz), ca.SX.sym("u", nu), ca.SX.sym("p", np_)
    f, g = rhs(t, x, z, u, p)
    f, g = ca.vertcat(*f) if f else ca.SX(0, 1), ca.vertcat(*g) if g else ca.SX(0, 1)
    pnames = [n for n, _ in parameters]
    x_start = (
        ca.vertcat(*[p[pnames.index(start_from[n])] if n in start_from else s for n, s in states])
        if nx
        else ca.SX(0, 1)
    )
    z_guess = ca.vertcat(*[s for _, s in algebraic]) if nz else ca.SX(0, 1)

    variables: list[ModelVariable] = []
    exprs: list[Expr] = []
    for i, (n, s) in enumerate(parameters):
        variables.append(ModelVariable(n, "parameter", i, "parameter", "fixed" if n in fixed else "tunable", start=s))
        exprs.append(p[i])
    for i, (n, s) in enumerate(inputs):
        variables.append(ModelVariable(n, "input", i, "input", "continuous", start=s))
        exprs.append(u[i])
    state_vr = []
    for i, (n, s) in enumerate(states):
        state_vr.append(len(variables))
        variables.append(
            ModelVariable(n, "state", i, "local", "continuous", start=s, initial="exact", nominal=nominals.get(n))
        )
        exprs.append(x[i])
    for i, (n, _) in enumerate(states):
        variables.append(ModelVariable(f"der({n})", "derivative", i, "local", "continuous", derivative_of=state_vr[i]))
        exprs.append(f[i])
    for i, (n, _) in enumerate(algebraic):
        variables.append(ModelVariable(n, "calculated", -1, "local", "continuous"))
        exprs.append(z[i])
    for n, e in outputs(t, x, z, u, p) if outputs else []:
        variables.append(ModelVariable(n, "calculated", -1, "output", "continuous"))
        exprs.append(e)
    ins = [t, x, z, u, p]
    return CausalModel(
        name=name,
        description=f"runtime test model {name}",
        dae=ca.Function("dae", ins, [f, g]),
        vars=ca.Function("vars", ins, [ca.vertcat(*exprs)]),
        init_guess=ca.Function("init_guess", [t, u, p], [x_start, z_guess]),
        init_res=ca.Function("init_res", ins, [ca.vertcat(x - x_start, g)]),
        variables=variables,
        default_tolerance=tolerance,
        default_stop_time=stop_time,
    )


def package(model: CausalModel, folder: Path) -> Path:
    """Build ``model`` into folder/<identifier>.fmu."""
    guid = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "o2twin-test/" + model.name)) + "}"
    return build_fmu(model, guid, folder / f"{model.identifier}.fmu")


def van_der_pol(mu: float = 1000.0) -> CausalModel:
    """Van der Pol oscillator, stiff for large mu: x0' = x1, x1' = mu (1 - x0^2) x1 - x0."""
    return causal_model(
        "Test.VanDerPol",
        [("x0", 2.0), ("x1", 0.0)],
        lambda t, x, z, u, p: ([x[1], p[0] * (1 - x[0] ** 2) * x[1] - x[0]], []),
        parameters=[("mu", mu)],
        outputs=lambda t, x, z, u, p: [("y", x[0])],
        stop_time=3000.0,
    )


def robertson_dae() -> CausalModel:
    """Robertson kinetics as an index-1 DAE: y3 = 1 - y1 - y2 is the algebraic variable (0 = y1 + y2 + y3 - 1)."""
    return causal_model(
        "Test.Robertson",
        [("y1", 1.0), ("y2", 0.0)],
        lambda t, x, z, u, p: (
            [-p[0] * x[0] + p[1] * x[1] * z[0], p[0] * x[0] - p[1] * x[1] * z[0] - p[2] * x[1] ** 2],
            [x[0] + x[1] + z[0] - 1.0],
        ),
        algebraic=[("y3", 0.0)],
        parameters=[("k1", 0.04), ("k2", 1e4), ("k3", 3e7)],
        nominals={"y2": 1e-5},
        outputs=lambda t, x, z, u, p: [("y3_out", z[0])],
        stop_time=40.0,
    )


def linear_system() -> CausalModel:
    """x' = A x with A = [[-1, 10], [-10, -1]] (decaying rotation): x(t) = e^-t R(10 t) x0, analytic."""
    return causal_model(
        "Test.Linear",
        [("a", 1.0), ("b", 0.0)],
        lambda t, x, z, u, p: ([-x[0] + 10 * x[1], -10 * x[0] - x[1]], []),
        outputs=lambda t, x, z, u, p: [("a_out", x[0])],
        stop_time=2.0,
    )


def driven_lags() -> CausalModel:
    """Two lags driven by an input, one slow and one stiff, and an input that only feeds an output:
    x0' = (u - x0) / 2, x1' = 1000 (x0 - x1), y = x1 + noise (the ODE is linear: analytic for held inputs)."""
    return causal_model(
        "Test.DrivenLags",
        [("x0", 0.0), ("x1", 0.0)],
        lambda t, x, z, u, p: ([(u[0] - x[0]) / 2.0, 1000.0 * (x[0] - x[1])], []),
        inputs=[("u", 0.0), ("noise", 0.0)],
        outputs=lambda t, x, z, u, p: [("y", x[1] + u[1])],
        stop_time=10.0,
    )


def tank_with_loop() -> CausalModel:
    """A tank with an input inflow and a nonlinear algebraic loop for the outflow q (sqrt law, implicit form);
    k and V0 are tunable parameters, area is fixed.

    V' = u - q,   0 = q * |q| - k^2 * V   (so q = k sqrt(V)); output level h = V / area.
    """
    return causal_model(
        "Test.Tank",
        [("V", 1.0)],
        lambda t, x, z, u, p: ([u[0] - z[0]], [z[0] * ca.fabs(z[0]) - p[0] ** 2 * x[0]]),
        algebraic=[("q", 0.5)],
        inputs=[("q_in", 0.3)],
        parameters=[("k", 0.8), ("area", 2.0), ("V0", 1.0)],
        outputs=lambda t, x, z, u, p: [("h", x[0] / p[1]), ("q_out", z[0])],
        start_from={"V": "V0"},
        fixed={"area"},
        stop_time=10.0,
    )


def blow_up() -> CausalModel:
    """x' = x^2, x(0) = 1: the solution 1 / (1 - t) has no continuation past t = 1."""
    return causal_model(
        "Test.BlowUp",
        [("x", 1.0)],
        lambda t, x, z, u, p: ([x[0] ** 2], []),
        outputs=lambda t, x, z, u, p: [("y", x[0])],
        stop_time=2.0,
    )


def parametric_linear(n: int = 5) -> CausalModel:
    """x' = A x with every entry of A a tunable parameter a_ij (default -I), x(0) = 1: for property tests."""
    names = [f"a{i}{j}" for i in range(n) for j in range(n)]
    return causal_model(
        "Test.ParametricLinear",
        [(f"x{i}", 1.0) for i in range(n)],
        lambda t, x, z, u, p: ([sum(p[i * n + j] * x[j] for j in range(n)) for i in range(n)], []),
        parameters=[(name, -1.0 if name[1] == name[2] else 0.0) for name in names],
        stop_time=1.0,
    )
