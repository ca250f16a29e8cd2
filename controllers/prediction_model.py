"""The MPC's prediction model: a Modelica class's CasADi functions, loaded and discretised.

The equations come from the Modelica source only: ``orchestrator.export.functions`` writes
``fmus/<Model_Name>.casadi`` (one function ``model(x, u, p) -> (xdot, y)``) and its ``.json`` description when a
scenario that uses the MPC is built. This module reads them with plain CasADi and JSON (controllers never import the
exporter), sets parameter values by their Modelica names, and builds what the estimator and the optimiser need: an
RK4 step over a sampling interval and the outputs, as CasADi functions of scaled or physical quantities.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casadi as ca
import numpy as np

from orchestrator.errors import SystemDefinitionError
from orchestrator.paths import FMUS_DIR, casadi_functions_path

#: The layout version of the exported files this loader reads (orchestrator.export.functions.FORMAT).
FORMAT = 1


@dataclass
class PredictionModel:
    """xdot = f(x, u, p), y = h(x, u, p) of a Modelica class, with named states, inputs, outputs and parameters."""

    name: str
    function: ca.Function
    states: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    parameters: list[dict[str, Any]]
    #: parameter values in the function's order (the Modelica defaults unless changed with with_parameters)
    p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    source_hash: str = ""

    @classmethod
    def load(cls, model_name: str, folder: Path | str = FMUS_DIR) -> PredictionModel:
        """Read <folder>/<Model_Name>.casadi and its .json (exported from the Modelica class ``model_name``)."""
        try:
            path = casadi_functions_path(model_name, Path(folder))
        except ValueError as err:
            raise SystemDefinitionError(f"prediction model: {err}") from None
        meta_path = path.with_name(path.name + ".json")
        how = (
            f"export it from the Modelica source first (a scenario run does this for the MPC block; or "
            f"python -c 'from orchestrator.export.functions import export_functions; export_functions(\"{model_name}\")')"
        )
        if not path.is_file() or not meta_path.is_file():
            raise SystemDefinitionError(f"prediction model {model_name}: {path} not found; {how}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            function = ca.Function.load(str(path))
        except (OSError, ValueError, RuntimeError) as err:
            raise SystemDefinitionError(
                f"prediction model {model_name}: {path} cannot be read ({err}); {how}"
            ) from None
        if meta.get("format") != FORMAT or meta.get("model") != model_name:
            raise SystemDefinitionError(f"prediction model {model_name}: {meta_path} is of another format; {how}")
        return cls(
            name=model_name,
            function=function,
            states=meta["states"],
            inputs=meta["inputs"],
            outputs=meta["outputs"],
            parameters=meta["parameters"],
            p=np.array([float(v["start"]) for v in meta["parameters"]]),
            source_hash=str(meta.get("source_hash", "")),
        )

    # ------------------------------------------------------------------ names
    @property
    def nx(self) -> int:
        return len(self.states)

    @property
    def nu(self) -> int:
        return len(self.inputs)

    def _index(self, table: list[dict[str, Any]], name: str, what: str) -> int:
        for i, v in enumerate(table):
            if v["name"] == name:
                return i
        known = ", ".join(v["name"] for v in table)
        raise SystemDefinitionError(f"prediction model {self.name} has no {what} '{name}' ({what}s: {known})")

    def state(self, name: str) -> int:
        return self._index(self.states, name, "state")

    def input(self, name: str) -> int:
        return self._index(self.inputs, name, "input")

    def output(self, name: str) -> int:
        return self._index(self.outputs, name, "output")

    def parameter(self, name: str) -> int:
        return self._index(self.parameters, name, "parameter")

    def with_parameters(self, values: dict[str, float]) -> PredictionModel:
        """A copy with Modelica parameters changed by name (e.g. {'ambient_pressure': 79500})."""
        p = self.p.copy()
        for name, value in values.items():
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise SystemDefinitionError(f"prediction model {self.name}: parameter {name} = {value!r} is no number")
            p[self.parameter(name)] = float(value)
        return PredictionModel(
            self.name, self.function, self.states, self.inputs, self.outputs, self.parameters, p, self.source_hash
        )

    def nominal(self, table: str) -> np.ndarray:
        """Nominal values of 'states', 'inputs' or 'outputs' (the scale of each quantity)."""
        return np.array([float(v["nominal"]) for v in getattr(self, table)])

    # ------------------------------------------------------------------ numerics
    def rk4_step(self, interval_s: float, substeps: int = 1) -> ca.Function:
        """step(x, u) -> x after interval_s with u held (classic Runge-Kutta, ``substeps`` steps), p fixed."""
        x, u = ca.SX.sym("x", self.nx), ca.SX.sym("u", self.nu)
        p = ca.DM(self.p)
        h = interval_s / substeps

        def f(xi: ca.SX) -> ca.SX:
            return self.function(xi, u, p)[0]

        xk = x
        for _ in range(substeps):
            k1 = f(xk)
            k2 = f(xk + h / 2 * k1)
            k3 = f(xk + h / 2 * k2)
            k4 = f(xk + h * k3)
            xk = xk + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return ca.Function("step", [x, u], [xk], ["x", "u"], ["x_next"])

    def output_function(self) -> ca.Function:
        """outputs(x, u) -> y with p fixed."""
        x, u = ca.SX.sym("x", self.nx), ca.SX.sym("u", self.nu)
        return ca.Function("outputs", [x, u], [self.function(x, u, ca.DM(self.p))[1]], ["x", "u"], ["y"])

    def steady_state(self, u: np.ndarray, x_guess: np.ndarray | None = None) -> np.ndarray:
        """The equilibrium x with f(x, u) = 0 (Newton on the scaled states, from the exported x0)."""
        scale = self.nominal("states")
        solver = self._steady_solver()
        guess = np.array([v["start"] for v in self.states]) if x_guess is None else np.asarray(x_guess)
        try:
            x = np.array(solver(guess / scale, np.asarray(u, dtype=float))).ravel() * scale
        except RuntimeError as err:
            raise SystemDefinitionError(
                f"prediction model {self.name}: no steady state for inputs {u}: {err}"
            ) from None
        return x

    def _steady_solver(self) -> ca.Function:
        """Newton's method on f(x * scale, u) / scale = 0, built once per parameter vector."""
        key = self.p.tobytes()
        cached = getattr(self, "_steady_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        scale = self.nominal("states")
        xs, us = ca.SX.sym("xs", self.nx), ca.SX.sym("u", self.nu)
        residual = ca.Function("r", [xs, us], [self.function(xs * scale, us, ca.DM(self.p))[0] / scale])
        solver = ca.rootfinder("steady", "newton", residual, {"abstol": 1e-12, "max_iter": 100})
        self._steady_cache = (key, solver)
        return solver
