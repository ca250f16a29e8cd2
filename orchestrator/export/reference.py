"""Independent reference simulation of a Modelica model: pymoca's implicit DAE integrated by CasADi's IDAS.

It shares only the front end (pymoca flattening) with the exporter: no causalisation, no generated C. The DAE
F(t, der(x), x, y, u, p) = 0 is handed to IDAS as the index-1 semi-explicit system
    x' = d,   0 = F(t, d, x, y, u, p)      with algebraic unknowns (d, y),
so a wrong causalisation, a wrong symbolic solve or a runtime bug in the FMU shows up as a mismatch.
Consistent initial values come from a Newton solve (CasADi rootfinder) of fixed starts + initial equations + F.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casadi as ca
import numpy as np

from orchestrator.errors import ModelError
from orchestrator.export.frontend import FlatModel, flatten_model


@dataclass
class ReferenceResult:
    """Trajectories of every variable of the flat model at the requested times."""

    time: np.ndarray
    #: variable name -> values at `time` (states, der(...), algebraic variables, inputs)
    values: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]


def _num(value: Any, params: dict[str, float], param_syms: list[ca.MX], param_vals: list[float]) -> float:
    if isinstance(value, ca.MX):
        if value.is_constant():
            return float(ca.DM(value))
        f = ca.Function("v", param_syms, [value])
        return float(f(*param_vals))
    out = float(value)
    return out if math.isfinite(out) else 0.0


def simulate_reference(
    models_dir: Path | None = None,
    model_name: str | None = None,
    *,
    flat: FlatModel | None = None,
    times: np.ndarray,
    inputs: Callable[[float], dict[str, float]] | None = None,
    parameters: dict[str, float] | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> ReferenceResult:
    """Simulate a model with IDAS at tight tolerances; inputs are evaluated piecewise constant between `times`."""
    if flat is None:
        if models_dir is None or model_name is None:
            raise ValueError("give models_dir and model_name, or flat")
        flat = flatten_model(models_dir, model_name)
    dae = flat.dae
    parameters = dict(parameters or {})
    states, ders, algs, ins = list(dae.states), list(dae.der_states), list(dae.alg_states), list(dae.inputs)
    consts = list(dae.constants)
    pars = list(dae.parameters)

    # Parameter values: defaults (possibly expressions of other parameters) with overrides; resolved iteratively.
    par_syms = [v.symbol for v in pars] + [c.symbol for c in consts]
    par_defs = [
        ca.MX(parameters[v.symbol.name()])
        if v.symbol.name() in parameters
        else ca.MX(v.value)
        if not isinstance(v.value, ca.MX)
        else v.value
        for v in pars
    ] + [c.value if isinstance(c.value, ca.MX) else ca.MX(c.value) for c in consts]
    for _ in range(len(par_syms) + 1 if par_syms else 0):
        par_defs = ca.substitute(par_defs, par_syms, par_defs)
    par_vals = [float(ca.DM(ca.evalf(d))) for d in par_defs] if par_syms else []
    if any(not math.isfinite(v) for v in par_vals):
        raise ModelError(f"model {flat.name}: a parameter has no numeric value")

    t = dae.time
    x = ca.vertcat(*[v.symbol for v in states]) if states else ca.MX(0, 1)
    d = ca.vertcat(*[v.symbol for v in ders]) if ders else ca.MX(0, 1)
    y = ca.vertcat(*[v.symbol for v in algs]) if algs else ca.MX(0, 1)
    u = ca.vertcat(*[v.symbol for v in ins]) if ins else ca.MX(0, 1)
    p_all = ca.vertcat(*par_syms) if par_syms else ca.MX(0, 1)
    res = ca.vertcat(*[ca.vec(e) for e in dae.equations])
    init = ca.vertcat(*[ca.vec(e) for e in dae.initial_equations]) if dae.initial_equations else ca.MX(0, 1)
    res = ca.substitute(res, p_all, ca.DM(par_vals)) if par_syms else res
    init = ca.substitute(init, p_all, ca.DM(par_vals)) if par_syms else init

    def start(v: Any) -> float:
        return _num(v.start, parameters, par_syms, par_vals)

    nx = len(states)
    # Initial system: fixed starts + initial equations + F = 0; unfixed states are fixed until it is square.
    fixed = [bool(float(v.fixed)) if not isinstance(v.fixed, ca.MX) else True for v in states]
    n_need = nx - init.numel()
    for i in range(nx):
        if sum(fixed) >= n_need:
            break
        if not fixed[i]:
            fixed[i] = True
    x_start = ca.DM([start(v) for v in states])
    fixed_res = ca.vertcat(*[x[i] - x_start[i] for i in range(nx) if fixed[i]]) if any(fixed) else ca.MX(0, 1)
    u_of = inputs or (lambda _t: {})

    def u_vec(time_s: float) -> ca.DM:
        given = u_of(time_s)
        return ca.DM([given.get(v.symbol.name(), start(v)) for v in ins])

    # Expand pymoca's MX graph to SX (exact Jacobians through if-expressions and inlined functions).
    sx_fn = ca.Function("flat", [t, x, d, y, u], [res, init_sys_mx := ca.vertcat(fixed_res, init)]).expand()
    ts, xs = ca.SX.sym("t"), ca.SX.sym("x", x.numel())
    ds, ys, us = ca.SX.sym("d", d.numel()), ca.SX.sym("y", y.numel()), ca.SX.sym("u", u.numel())
    res_sx, init_sx = sx_fn(ts, xs, ds, ys, us)
    del init_sys_mx
    zs = ca.vertcat(ds, ys)
    newton = {"abstol": 1e-10, "abstolStep": 1e-14, "max_iter": 100, "error_on_fail": False}
    init_fn = ca.Function("init", [ca.vertcat(xs, zs), ts, us], [ca.vertcat(init_sx, res_sx)])
    solver = ca.rootfinder("init_solver", "newton", init_fn, newton)
    guess = ca.vertcat(x_start, ca.DM.zeros(d.numel()), ca.DM([start(v) for v in algs]))
    t0 = float(times[0])
    sol0 = solver(guess, t0, u_vec(t0))
    x0 = sol0[:nx]
    zy0 = sol0[nx:]
    dae_dict = {"x": xs, "z": zs, "p": us, "t": ts, "ode": ds, "alg": res_sx}
    values: dict[str, list[float]] = {v.symbol.name(): [] for v in states + ders + algs + ins}

    def record(xk: ca.DM, zk: ca.DM, uk: ca.DM) -> None:
        for i, v in enumerate(states):
            values[v.symbol.name()].append(float(xk[i]))
        for i, v in enumerate(ders + algs):
            values[v.symbol.name()].append(float(zk[i]))
        for i, v in enumerate(ins):
            values[v.symbol.name()].append(float(uk[i]))

    # Consistent algebraic values for given x (inputs may jump at interval starts): Newton on F = 0.
    alg_fn = ca.Function("alg", [zs, xs, ts, us], [res_sx])
    alg_solver = ca.rootfinder("alg_solver", "newton", alg_fn, newton)
    xk, zk = x0, zy0
    record(xk, zk, u_vec(t0))
    for k in range(1, len(times)):
        ta, tb = float(times[k - 1]), float(times[k])
        uk = u_vec(ta)
        zk = alg_solver(zk, xk, ta, uk)
        out = _integrate(dae_dict, ta, tb, xk, zk, uk, rtol, atol)
        xk, zk = out["xf"], out["zf"]
        record(xk, zk, uk)
    return ReferenceResult(time=np.asarray(times, dtype=float), values={k: np.asarray(v) for k, v in values.items()})


def _integrate(dae: dict, ta: float, tb: float, xk: ca.DM, zk: ca.DM, uk: ca.DM, rtol: float, atol: float) -> dict:
    """One interval with IDAS; IDAS's own consistent-initialisation (IDACalcIC) is tried first, and skipped
    (z is already consistent from the Newton solve) when its line search fails."""
    last_error: Exception | None = None
    for calc_ic in (True, False):
        opts = {"abstol": atol, "reltol": rtol, "calc_ic": calc_ic, "suppress_algebraic": True, "max_num_steps": 100000}
        try:
            return ca.integrator("ref", "idas", dae, ta, [tb], opts)(x0=xk, z0=zk, p=uk)
        except RuntimeError as err:
            last_error = err
    raise RuntimeError(f"reference IDAS integration failed on [{ta}, {tb}]: {last_error}")
