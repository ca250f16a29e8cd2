"""A Modelica model as serialised CasADi functions, for controllers that predict with it (the MPC).

Optimisation-based controllers need the model's equations, not a compiled FMU: ``export_functions(model_name)``
translates the class with the exporter's own front end (pymoca flattening and causalisation, the same
CausalModel an FMU is generated from) and writes next to the FMUs

- ``<Model_Name>.casadi``: one CasADi function ``model(x, u, p) -> (xdot, y)`` (SX, expanded): the state
  derivatives and the model's outputs for states x, inputs u and independent parameters p;
- ``<Model_Name>.casadi.json``: the names, start values, nominal values and ranges of x, u, y and p, the initial
  state x0 for the start values, and what it was built from (source hash, exporter version).

The model must be an explicit ODE (no algebraic loops) that does not depend on time. As for FMUs, the files are
rebuilt only when the model's sources or the exporter change, written atomically under the model's file lock.
Controllers load them with plain CasADi and JSON (they never import the exporter); the scenario builder calls this
function for blocks that name a model (orchestrator.scenario.build).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import casadi as ca
import numpy as np

from orchestrator.errors import ModelError
from orchestrator.export import manifest
from orchestrator.export.causal_model import CausalModel, ModelVariable
from orchestrator.export.dependencies import model_source_files
from orchestrator.export.frontend import modelica_files
from orchestrator.paths import FMUS_DIR, MODELS_DIR, casadi_functions_path

log = logging.getLogger(__name__)

#: Version of the files' layout; a loader refuses other versions.
FORMAT = 1


def _ordered(model: CausalModel, kind: str, size: int) -> list[ModelVariable]:
    chosen: list[Any] = [None] * size
    for v in model.variables:
        if v.kind == kind:
            chosen[v.index] = v
    return chosen


def _describe(v: ModelVariable, value: float | None = None) -> dict[str, Any]:
    start = value if value is not None else (float(v.start) if v.start is not None else 0.0)
    return {
        "name": v.name,
        "unit": v.unit,
        "description": v.description,
        "start": start,
        "nominal": abs(float(v.nominal)) if v.nominal else (abs(start) or 1.0),
        "min": v.min,
        "max": v.max,
    }


def build_functions(model: CausalModel) -> tuple[ca.Function, dict[str, Any]]:
    """The function model(x, u, p) -> (xdot, y) of an explicit, time-invariant CausalModel and its metadata."""
    if model.nz:
        raise ModelError(
            f"{model.name}: {model.nz} iteration variables of nonlinear algebraic loops; a prediction model must be an"
            " explicit ODE (solve the loop in the model, e.g. with a state or an explicit formula)"
        )
    states, inputs, params = (
        _ordered(model, "state", model.nx),
        _ordered(model, "input", model.nu),
        _ordered(model, "parameter", model.np),
    )
    outputs = [v for v in model.variables if v.causality == "output"]
    t, x, u, p = ca.SX.sym("t"), ca.SX.sym("x", model.nx), ca.SX.sym("u", model.nu), ca.SX.sym("p", model.np)
    z = ca.SX(0, 1)
    xdot = model.dae(t, x, z, u, p)[0]
    v_all = model.vars(t, x, z, u, p)
    refs = {v.name: k for k, v in enumerate(model.variables)}
    y = ca.vertcat(*[v_all[refs[v.name]] for v in outputs]) if outputs else ca.SX(0, 1)
    if ca.depends_on(ca.vertcat(xdot, y), t):
        raise ModelError(f"{model.name}: the equations depend on time; a prediction model must be time-invariant")
    function = ca.Function("model", [x, u, p], [xdot, y], ["x", "u", "p"], ["xdot", "y"])

    p_start = np.array([float(v.start or 0.0) for v in params])
    u_start = np.array([float(v.start or 0.0) for v in inputs])
    x_guess = np.array(model.init_guess(0.0, u_start, p_start)[0]).ravel()
    if model.nx:
        residual = ca.Function("r", [x], [model.init_res(0.0, x, z, u_start, p_start)])
        x0 = np.array(ca.rootfinder("init", "newton", residual, {"abstol": 1e-10})(x_guess)).ravel()
    else:
        x0 = np.zeros(0)
    y0 = np.array(function(x0, u_start, p_start)[1]).ravel()
    meta = {
        "format": FORMAT,
        "model": model.name,
        "description": model.description,
        "states": [_describe(v, float(x0_i)) for v, x0_i in zip(states, x0, strict=True)],
        "inputs": [_describe(v) for v in inputs],
        "outputs": [_describe(v, float(y0_i)) for v, y0_i in zip(outputs, y0, strict=True)],
        "parameters": [_describe(v) for v in params],
    }
    return function, meta


def functions_version() -> str:
    """The exporter's version and this module's own hash (this module is left out of the FMUs' exporter version)."""
    return f"{manifest.exporter_version()}+{manifest.file_sha256(Path(__file__))[:12]}"


def _up_to_date(meta_path: Path, function_path: Path, source_hash: str) -> bool:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        function_path.is_file()
        and meta.get("format") == FORMAT
        and meta.get("source_hash") == source_hash
        and meta.get("exporter_version") == functions_version()
        and meta.get("function_sha256") == manifest.file_sha256(function_path)
    )


def _write_atomically(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_functions(
    model_name: str, *, models_dir: Path = MODELS_DIR, out_dir: Path = FMUS_DIR, force: bool = False
) -> Path:
    """Write out_dir/<Model_Name>.casadi (+ .json) for a Modelica class and return its path; a no-op when up to date."""
    from orchestrator.export.causalise import causalise
    from orchestrator.export.frontend import flatten_model

    models_dir, out_dir = Path(models_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        target = casadi_functions_path(model_name, out_dir)
    except ValueError as err:
        raise ModelError(f"CasADi functions: {err}") from None
    meta_path = target.with_name(target.name + ".json")
    files = modelica_files(models_dir)
    with manifest.file_lock(out_dir, target.name):
        used = model_source_files(files, models_dir, model_name)
        source_hash = manifest.sources_hash(used, models_dir)
        if not force and _up_to_date(meta_path, target, source_hash):
            log.info("%s is up to date", target.name)
            return target
        log.info("exporting the CasADi functions of %s -> %s", model_name, target)
        function, meta = build_functions(causalise(flatten_model(models_dir, model_name)))
        _write_atomically(target, function.save)
        meta.update(
            source_hash=source_hash,
            exporter_version=functions_version(),
            source_files=[str(f.relative_to(models_dir)) for f in used],
            function_sha256=manifest.file_sha256(target),
        )
        _write_atomically(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1), encoding="utf-8"))
        return target
