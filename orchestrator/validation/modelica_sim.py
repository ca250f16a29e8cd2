"""Simulate a Modelica model of models/ directly with CasADi (no FMU, no C compiler): the physics developers' path.

Why: the physics validation (mass balance, purity, cyclic steady state) can run from the same Modelica source with or
without a compiled FMU, and cross-checks the FMU runtime. The model is translated by the exporter's own front end
(pymoca flattening and block-triangular causalisation, orchestrator.export) into xdot = f(t, x, u), y = h(t, x, u),
and integrated with SUNDIALS CVODES (BDF, Newton with CasADi's exact sparse Jacobian).
Parameter changes are applied as modifiers of a generated wrapper model ``model Run extends Model(mods)``, so
structural parameters (array sizes) can change too. Compiled models are cached on disk (CasADi serialisation),
keyed by the hash of the sources, the modifiers and the exporter's version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casadi as ca
import numpy as np

from orchestrator.errors import ModelError, SimulationError
from orchestrator.export.manifest import exporter_version
from orchestrator.paths import MODELS_DIR

LOG = logging.getLogger(__name__)

CACHE_DIR = Path(os.environ.get("O2TWIN_SIM_CACHE", Path(tempfile.gettempdir()) / "o2twin_modelica_sim_cache"))


def _format_modifier(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    return repr(float(value)) if not isinstance(value, int) else str(value)


@dataclass
class CompiledModel:
    """An explicit ODE compiled from Modelica: xdot = f(t, x, u), y = h(t, x, u), x(0) = x0.

    ``ode`` and ``outputs`` are CasADi SX functions of (t, x, u); states are scaled by ``x_nominal`` inside
    ``simulate`` so one absolute tolerance fits all of them.
    """

    name: str
    state_names: list[str]
    input_names: list[str]
    output_names: list[str]
    ode: ca.Function
    outputs: ca.Function
    x0: np.ndarray
    x_nominal: np.ndarray
    input_start: dict[str, float] = field(default_factory=dict)


def _compile(
    model_name: str, modifiers: dict[str, float | int | str], observed: list[str], extra_dirs: list[Path]
) -> CompiledModel:
    """Flatten and causalise with the exporter's own front end (one translation of Modelica in the project)."""
    from orchestrator.export.causalise import causalise
    from orchestrator.export.frontend import flatten_model

    with tempfile.TemporaryDirectory(prefix="o2twin_sim_") as tmp:
        work = Path(tmp)
        for folder in (MODELS_DIR, *extra_dirs):
            shutil.copytree(folder, work, dirs_exist_ok=True)
        top = model_name
        if modifiers:  # structural parameters (array sizes) too: a wrapper model with class modifications
            mods = ", ".join(f"{k}={_format_modifier(v)}" for k, v in modifiers.items())
            root = model_name.split(".")[0]
            (work / root / "O2TwinSimRun.mo").write_text(
                f"within {root};\nmodel O2TwinSimRun\n  extends {model_name}({mods});\nend O2TwinSimRun;\n"
            )
            top = f"{root}.O2TwinSimRun"
        model = causalise(flatten_model(work, top))
    if model.nz:
        raise ModelError(
            f"{model_name}: {model.nz} iteration variables of nonlinear algebraic loops; this direct simulator handles"
            " explicit models only: simulate the exported FMU instead"
        )

    by_name = {v.name: v for v in model.variables}
    missing = [n for n in observed if n not in by_name]
    if missing:
        raise ModelError(f"{model_name}: observed variables not found after compilation: {missing}")

    def ordered(kind: str, size: int) -> list[Any]:
        chosen: list[Any] = [None] * size
        for v in model.variables:
            if v.kind == kind:
                chosen[v.index] = v
        return chosen

    p_num = ca.DM([float(v.start) for v in ordered("parameter", model.np)])
    states, inputs = ordered("state", model.nx), ordered("input", model.nu)
    u_start = np.array([float(v.start or 0.0) for v in inputs])
    t, x, u, z = ca.SX.sym("t"), ca.SX.sym("x", model.nx), ca.SX.sym("u", model.nu), ca.SX(0, 1)
    xdot = model.dae(t, x, z, u, p_num)[0]
    v_all = model.vars(t, x, z, u, p_num)
    refs = {v.name: k for k, v in enumerate(model.variables)}
    ode = ca.Function("ode", [t, x, u], [xdot])
    outputs = ca.Function("outputs", [t, x, u], [ca.vertcat(*[v_all[refs[n]] for n in observed])])

    # Initial values: fixed start values and initial equations, solved by Newton from the start values.
    x_guess = np.array(model.init_guess(0.0, u_start, p_num)[0]).ravel()
    if model.nx:
        r_fun = ca.Function("r", [x], [model.init_res(0.0, x, z, u_start, p_num)])
        x0 = np.array(ca.rootfinder("init", "newton", r_fun, {"abstol": 1e-10})(x_guess)).ravel()
    else:
        x0 = np.zeros(0)
    nominal = np.array(
        [abs(v.nominal) if v.nominal else max(abs(x0_i), 1.0) for v, x0_i in zip(states, x0, strict=True)]
    )
    return CompiledModel(
        name=model_name,
        state_names=[v.name for v in states],
        input_names=[v.name for v in inputs],
        output_names=list(observed),
        ode=ode,
        outputs=outputs,
        x0=x0,
        x_nominal=nominal,
        input_start=dict(zip([v.name for v in inputs], u_start.tolist(), strict=True)),
    )


def _sources_hash(model_name: str, modifiers: dict, observed: list[str], extra_dirs: list[Path]) -> str:
    digest = hashlib.sha256()
    for folder in [MODELS_DIR, *extra_dirs]:
        for mo_file in sorted(folder.rglob("*.mo")):
            digest.update(str(mo_file.relative_to(folder)).encode())
            digest.update(mo_file.read_bytes())
    digest.update(json.dumps([model_name, sorted(modifiers.items()), observed, exporter_version()]).encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:20]


def compile_model(
    model_name: str,
    observed: list[str],
    modifiers: dict[str, float | int | str] | None = None,
    extra_dirs: list[Path] | None = None,
) -> CompiledModel:
    """Compile ``model_name`` (e.g. 'O2Twin.CoSim.PSAUnit') with parameter ``modifiers``; cached on disk.

    observed: variable names to expose as outputs (outputs of the model or any other variable, e.g.
    'bedA.y_O2_out'); everything else is eliminated symbolically.
    extra_dirs: further Modelica library folders loaded with models/ (e.g. test models using O2Twin).
    """
    modifiers = dict(modifiers or {})
    extra_dirs = [Path(d) for d in (extra_dirs or [])]
    key = _sources_hash(model_name, modifiers, observed, extra_dirs)
    cache = CACHE_DIR / key
    if (cache / "meta.json").exists():
        meta = json.loads((cache / "meta.json").read_text())
        return CompiledModel(
            name=meta["name"],
            state_names=meta["state_names"],
            input_names=meta["input_names"],
            output_names=meta["output_names"],
            ode=ca.Function.load(str(cache / "ode.casadi")),
            outputs=ca.Function.load(str(cache / "outputs.casadi")),
            x0=np.array(meta["x0"]),
            x_nominal=np.array(meta["x_nominal"]),
            input_start=meta["input_start"],
        )
    LOG.info("compiling %s %s with pymoca", model_name, modifiers)
    compiled = _compile(model_name, modifiers, observed, extra_dirs)
    tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    compiled.ode.save(str(tmp / "ode.casadi"))
    compiled.outputs.save(str(tmp / "outputs.casadi"))
    meta = {
        "name": compiled.name,
        "state_names": compiled.state_names,
        "input_names": compiled.input_names,
        "output_names": compiled.output_names,
        "x0": compiled.x0.tolist(),
        "x_nominal": compiled.x_nominal.tolist(),
        "input_start": compiled.input_start,
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    try:
        tmp.rename(cache)
    except OSError:  # another process cached it first
        shutil.rmtree(tmp, ignore_errors=True)
    return compiled


class Simulator:
    """Integrates a CompiledModel over intervals with piecewise-constant inputs (CVODES, BDF)."""

    def __init__(self, model: CompiledModel, rel_tol: float = 1e-6, abs_tol: float = 1e-8, max_step: float = 0.0):
        self.model = model
        nx = len(model.state_names)
        xs = ca.SX.sym("xs", nx)
        us = ca.SX.sym("u", len(model.input_names))
        h = ca.SX.sym("h")  # interval length: time is scaled to tau in [0, 1]
        t0 = ca.SX.sym("t0")
        nominal = ca.DM(model.x_nominal)
        tau = ca.SX.sym("tau")
        xdot = model.ode(t0 + tau * h, xs * nominal, us) / nominal * h
        dae = {"t": tau, "x": xs, "p": ca.vertcat(us, h, t0), "ode": xdot}
        opts = {"abstol": abs_tol, "reltol": rel_tol, "max_num_steps": 200000}
        if max_step > 0:
            opts["max_step_size"] = max_step
        self._integrator = ca.integrator("sim", "cvodes", dae, 0.0, 1.0, opts)
        self.t = 0.0
        self.x = model.x0.copy()
        self.steps = 0

    def reset(self, x: np.ndarray | None = None, t: float = 0.0) -> None:
        """Restore state x (default: the initial state) at time t."""
        self.x = (self.model.x0 if x is None else x).copy()
        self.t = t

    def step(self, h: float, u: np.ndarray) -> None:
        """Advance from self.t by h seconds with inputs u held constant."""
        xs = self.x / self.model.x_nominal
        try:
            out = self._integrator(x0=xs, p=np.concatenate([u, [h, self.t]]))
        except RuntimeError as exc:
            raise SimulationError(f"{self.model.name}: integration failed at t = {self.t:.4f} s: {exc}") from exc
        self.x = np.array(out["xf"]).ravel() * self.model.x_nominal
        stats = self._integrator.stats()
        self.steps += int(stats.get("nsteps", 0))
        self.t += h

    def outputs(self, u: np.ndarray) -> np.ndarray:
        return np.array(self.model.outputs(self.t, self.x, u)).ravel()
