"""Run the compressor and patient Modelica models for the physics tests: the exported FMU with fmpy when the
built-in exporter works, otherwise the same Modelica flattened by pymoca and integrated with CasADi (IDAS).

Both paths run the real model equations: nothing here re-types the physics. The pymoca path parses a private
copy of only the .mo files the model needs, so unfinished files of other packages cannot break these tests.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import casadi as ca
import numpy as np

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"

#: The .mo files (relative to models/) each co-simulation unit needs.
MODEL_FILES = {
    "O2Twin.CoSim.Compressor": [
        "O2Twin/package.mo",
        "O2Twin/Components/package.mo",
        "O2Twin/Components/Compressor.mo",
        "O2Twin/CoSim/package.mo",
        "O2Twin/CoSim/Compressor.mo",
    ],
    "O2Twin.CoSim.Patient": [
        "O2Twin/package.mo",
        "O2Twin/Patient/package.mo",
        "O2Twin/Patient/Breathing.mo",
        "O2Twin/Patient/NasalCannula.mo",
        "O2Twin/Patient/GasExchange.mo",
        "O2Twin/Patient/PulseOximeter.mo",
        "O2Twin/Patient/Adult.mo",
        "O2Twin/CoSim/package.mo",
        "O2Twin/CoSim/Patient.mo",
    ],
    # the compressor component inside a composed model (tests/models/compressor_patient/models)
    "CompressorChargingVolume": [
        "O2Twin/package.mo",
        "O2Twin/Components/package.mo",
        "O2Twin/Components/Compressor.mo",
        "tests:CompressorChargingVolume.mo",
    ],
}
TEST_MODELS = REPO / "tests" / "models" / "compressor_patient" / "models"

_PYMOCA_OPTIONS = {"expand_vectors": True, "expand_mx": True, "check_balanced": False}


def _resolve_parameters(parameters: list) -> dict[str, float]:
    """Numeric values of all parameters (bindings may refer to other parameters)."""
    symbols = [p.symbol for p in parameters]
    values = [p.value for p in parameters]
    numeric: dict[str, float] = {}
    for _ in range(len(parameters) + 1):
        pending = False
        for p, sym, val in zip(parameters, symbols, values, strict=True):
            if p.symbol.name() in numeric:
                continue
            expr = ca.MX(val) if not isinstance(val, ca.MX) else val
            free = ca.symvar(expr)
            if all(s.name() in numeric for s in free):
                f = ca.Function("f", free, [expr])
                numeric[sym.name()] = float(f.call([numeric[s.name()] for s in free])[0])
            else:
                pending = True
        if not pending:
            break
    return numeric


class CasadiModel:
    """A flattened Modelica model as residual equations res(t, x, xdot, z, u, p) = 0, solved with CasADi."""

    def __init__(self, name: str):
        from pymoca.backends.casadi.api import transfer_model

        tmp = Path(tempfile.mkdtemp(prefix="o2twin_cp_"))
        try:
            for rel in MODEL_FILES[name]:
                src = TEST_MODELS / rel.removeprefix("tests:") if rel.startswith("tests:") else MODELS / rel
                dst = tmp / rel.removeprefix("tests:")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
            model = transfer_model(str(tmp), name, dict(_PYMOCA_OPTIONS))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.name = name
        self.model = model
        self.x = ca.veccat(*[v.symbol for v in model.states])
        self.xd = ca.veccat(*[v.symbol for v in model.der_states])
        self.z = ca.veccat(*[v.symbol for v in model.alg_states])
        self.u = ca.veccat(*[v.symbol for v in model.inputs])
        self.p = ca.veccat(*[v.symbol for v in model.parameters])
        self.c = ca.veccat(*[v.symbol for v in model.constants])
        self.state_names = [v.symbol.name() for v in model.states]
        self.alg_names = [v.symbol.name() for v in model.alg_states]
        self.input_names = [v.symbol.name() for v in model.inputs]
        self.param_names = [v.symbol.name() for v in model.parameters]
        self.param_defaults = _resolve_parameters(model.parameters)
        const_values = [float(ca.DM(v.value)) for v in model.constants]
        res = ca.veccat(*model.equations)
        self.res = ca.substitute([res], [self.c], [ca.DM(const_values)])[0]
        init = ca.veccat(*model.initial_equations) if model.initial_equations else ca.MX(0, 1)
        self.init_eqs = ca.substitute([init], [self.c], [ca.DM(const_values)])[0]
        self.input_defaults = {
            v.symbol.name(): float(ca.DM(v.value)) if _is_num(v.value) else 0.0 for v in model.inputs
        }
        t = model.time
        self.t = t
        self._starts = model.states

    # ------------------------------------------------------------------ helpers
    def _p_vector(self, overrides: dict[str, float] | None) -> np.ndarray:
        values = dict(self.param_defaults)
        unknown = set(overrides or {}) - set(values)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)} of {self.name}")
        values.update(overrides or {})
        # re-resolve bindings that depend on overridden parameters
        if overrides:
            subst_params = []
            for v in self.model.parameters:
                if v.symbol.name() in overrides:
                    subst_params.append(_Param(v.symbol, overrides[v.symbol.name()]))
                else:
                    subst_params.append(v)
            values = _resolve_parameters(subst_params)
        return np.array([values[n] for n in self.param_names])

    def _u_vector(self, inputs: dict[str, float] | None) -> np.ndarray:
        values = dict(self.input_defaults)
        unknown = set(inputs or {}) - set(values)
        if unknown:
            raise KeyError(f"unknown inputs {sorted(unknown)} of {self.name}")
        values.update(inputs or {})
        return np.array([values[n] for n in self.input_names])

    def _start_values(self, p: np.ndarray) -> tuple[np.ndarray, list[bool]]:
        starts, fixed = [], []
        for v in self._starts:
            expr = ca.MX(v.start) if not isinstance(v.start, ca.MX) else v.start
            f = ca.Function("s", [self.p], [expr], {"allow_free": True})
            starts.append(float(f(p)))
            fixed.append(bool(v.fixed))
        return np.array(starts), fixed

    # ------------------------------------------------------------------ solvers
    def _inner(self):
        """Block-triangular solver of res(x, xdot, z) = 0 for (xdot, z) with x, u, p given (built once)."""
        if getattr(self, "_inner_blocks", None) is None:
            w = ca.veccat(self.xd, self.z)
            jac = ca.jacobian(self.res, w)
            nb, rowperm, colperm, rowblock, colblock, _, _ = jac.sparsity().btf()
            args = [self.x, w, self.u, self.p, self.t]
            blocks = []
            for b in range(nb):
                rows = list(rowperm[rowblock[b] : rowblock[b + 1]])
                cols = list(colperm[colblock[b] : colblock[b + 1]])
                g = self.res[rows]
                wb = w[cols]
                blocks.append((cols, ca.Function(f"b{b}", args, [g, ca.jacobian(g, wb)]), rows))
            # order: a block may only be solved after the blocks it depends on
            trip_rows, trip_cols = jac.sparsity().get_triplet()
            row_cols: dict[int, set[int]] = {}
            for r, c in zip(trip_rows, trip_cols, strict=True):
                row_cols.setdefault(r, set()).add(c)
            deps = []
            for b in range(nb):
                rows = list(rowperm[rowblock[b] : rowblock[b + 1]])
                deps.append(set().union(*(row_cols.get(r, set()) for r in rows)) - set(blocks[b][0]))
            order, solved, remaining = [], set(), list(range(nb))
            while remaining:
                ready = [b for b in remaining if deps[b] <= solved]
                if not ready:
                    raise RuntimeError(f"{self.name}: cannot order the equation blocks")
                for b in ready:
                    order.append(blocks[b])
                    solved.update(blocks[b][0])
                    remaining.remove(b)
            self._inner_blocks = order
        return self._inner_blocks

    def _explicit(self) -> ca.Function | None:
        """(x, u, p, t) -> (xdot, z) in closed form when every block is one equation linear in its unknown
        (true for the compressor and the patient); None otherwise (then the blocks are solved numerically)."""
        if hasattr(self, "_explicit_f"):
            return self._explicit_f
        self._explicit_f = None
        nx, nw = self.x.numel(), self.xd.numel() + self.z.numel()
        res_f = ca.Function("res", [self.x, self.xd, self.z, self.u, self.p, self.t], [self.res]).expand()
        xs, us = ca.SX.sym("x", nx), ca.SX.sym("u", self.u.numel())
        ps, ts = ca.SX.sym("p", self.p.numel()), ca.SX.sym("t")
        ws = ca.SX.sym("w", nw)
        current = [ws[i] for i in range(nw)]
        for cols, _, rows in self._inner():
            if len(cols) != 1:
                return None
            c = cols[0]
            wvec = ca.vertcat(*current)
            g = res_f(xs, wvec[:nx], wvec[nx:], us, ps, ts)[rows[0]]
            slope = ca.jacobian(g, ws[c])
            if ca.depends_on(slope, ws[c]):
                return None
            current[c] = -ca.substitute(g, ws[c], 0) / slope
        wvec = ca.vertcat(*current)
        self._explicit_f = ca.Function("explicit", [xs, us, ps, ts], [wvec[:nx], wvec[nx:]])
        return self._explicit_f

    def solve_algebraic(self, x: np.ndarray, u: np.ndarray, p: np.ndarray, guess: np.ndarray | None = None):
        """(xdot, z) consistent with the states x: blocks in order, Newton within each block."""
        nw = self.xd.numel() + self.z.numel()
        w = np.ones(nw) if guess is None else np.array(guess, dtype=float)
        if guess is None:
            for j, v in enumerate(self.model.alg_states):
                if _is_num(v.start) and float(ca.DM(v.start)) != 0.0:
                    w[self.xd.numel() + j] = float(ca.DM(v.start))
        explicit = self._explicit()
        if explicit is not None:
            xd, z = explicit(x, u, p, 0.0)
            return np.array(xd).ravel(), np.array(z).ravel()
        for cols, f, _ in self._inner():
            wb = w[cols]
            for _ in range(100):
                w[cols] = wb
                g, jac = f(x, w, u, p, 0.0)
                g = np.array(g).ravel()
                if np.linalg.norm(g, np.inf) <= 1e-12 * (1 + np.linalg.norm(wb, np.inf)):
                    break
                dw = np.linalg.lstsq(np.array(jac), -g, rcond=None)[0]
                step = 1.0
                while step > 1e-6:
                    trial = wb + step * dw
                    w[cols] = trial
                    gt = np.array(f(x, w, u, p, 0.0)[0]).ravel()
                    if np.all(np.isfinite(gt)) and np.linalg.norm(gt, np.inf) < np.linalg.norm(g, np.inf):
                        break
                    step *= 0.5
                wb = trial
            w[cols] = wb
        return w[: self.xd.numel()], w[self.xd.numel() :]

    def _outer_newton(self, residual, x0: np.ndarray, tol: float = 1e-10) -> np.ndarray:
        """Newton with a finite-difference Jacobian on the (few) states."""
        x = np.array(x0, dtype=float)
        scale = np.maximum(np.abs(x), 1e-3)
        for _ in range(100):
            r = residual(x)
            if np.linalg.norm(r, np.inf) < tol:
                return x
            jac = np.empty((r.size, x.size))
            for k in range(x.size):
                dx = np.zeros_like(x)
                dx[k] = 1e-7 * scale[k]
                jac[:, k] = (residual(x + dx) - r) / dx[k]
            step_x = np.linalg.lstsq(jac, -r, rcond=None)[0]
            step = 1.0
            while step > 1e-6:
                trial = x + step * step_x
                rt = residual(trial)
                if np.all(np.isfinite(rt)) and np.linalg.norm(rt, np.inf) < np.linalg.norm(r, np.inf):
                    break
                step *= 0.5
            x = trial
        raise RuntimeError(f"{self.name}: Newton did not converge (residual {np.linalg.norm(r, np.inf):.3g})")

    def initialise(self, inputs: dict[str, float] | None = None, params: dict[str, float] | None = None):
        """Consistent initial (x, xdot, z): fixed start values, initial equations, model equations."""
        p = self._p_vector(params)
        u = self._u_vector(inputs)
        x0, fixed = self._start_values(p)
        init_f = ca.Function("init", [self.x, self.xd, self.z, self.u, self.p, self.t], [self.init_eqs])

        def residual(x: np.ndarray) -> np.ndarray:
            xd, z = self.solve_algebraic(x, u, p)
            r = [x[i] - x0[i] for i in range(x.size) if fixed[i]]
            r += list(np.array(init_f(x, xd, z, u, p, 0.0)).ravel())
            return np.array(r, dtype=float)

        if residual(x0).size != x0.size:
            raise RuntimeError(f"{self.name}: {residual(x0).size} initial conditions for {x0.size} states")
        x = self._outer_newton(residual, x0)
        xd, z = self.solve_algebraic(x, u, p)
        return x, xd, z, u, p

    def simulate(
        self,
        t_end: float,
        inputs: dict[str, float] | None = None,
        params: dict[str, float] | None = None,
        n_out: int = 101,
        outputs: Sequence[str] = (),
        initial_inputs: dict[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """Initialise with initial_inputs (default: inputs), then integrate with constant inputs."""
        x0, _, _, _, p = self.initialise(initial_inputs or inputs, params)
        u = self._u_vector(inputs)
        xd0, z0 = self.solve_algebraic(x0, u, p)
        nx = self.x.numel()
        # semi-explicit index-1 DAE: der(x) = v, 0 = res(x, v, z)
        v = ca.MX.sym("v", nx)
        res = ca.substitute([self.res], [self.xd, self.u, self.p], [v, ca.DM(u), ca.DM(p)])[0]
        dae = {"t": self.t, "x": self.x, "z": ca.veccat(v, self.z), "ode": v, "alg": res}
        grid = np.linspace(0.0, t_end, n_out)
        opts = {"reltol": 1e-8, "abstol": 1e-10, "max_num_steps": 200000}
        integ = ca.integrator("F", "idas", dae, 0.0, grid[1:], opts)
        out = integ(x0=x0, z0=np.concatenate([xd0, z0]))
        xs = np.hstack([x0[:, None], np.array(out["xf"])])
        zs = np.hstack([np.concatenate([xd0, z0])[:, None], np.array(out["zf"])])
        result = {"time": grid}
        for name in list(outputs) or (self.state_names + self.alg_names):
            if name in self.state_names:
                result[name] = xs[self.state_names.index(name)]
            elif name in self.alg_names:
                result[name] = zs[nx + self.alg_names.index(name)]
            else:
                raise KeyError(f"{name} is not a variable of {self.name}")
        return result

    def steady_state(
        self,
        inputs: dict[str, float] | None = None,
        params: dict[str, float] | None = None,
        integrating_states: Sequence[str] = (),
    ) -> dict[str, float]:
        """Equilibrium der(x) = 0, except counters (integrating_states keep their initial value)."""
        x0, _, _, u, p = self.initialise(inputs, params)
        keep = [i for i, n in enumerate(self.state_names) if n in integrating_states]
        free = [i for i in range(x0.size) if i not in keep]

        def residual(xf: np.ndarray) -> np.ndarray:
            x = x0.copy()
            x[free] = xf
            xd, _ = self.solve_algebraic(x, u, p)
            return xd[free] * self._x_scale[free]

        self._x_scale = 1.0 / np.maximum(np.abs(x0), 1.0)
        guess = x0[free].copy()
        xf = self._outer_newton(residual, guess, tol=1e-12)
        x = x0.copy()
        x[free] = xf
        _, z = self.solve_algebraic(x, u, p)
        values = {n: x[i] for i, n in enumerate(self.state_names)}
        values.update({n: z[j] for j, n in enumerate(self.alg_names)})
        return values


class _Param:
    def __init__(self, symbol, value):
        self.symbol = symbol
        self.value = value


def _is_num(value) -> bool:
    try:
        float(ca.DM(value))
        return True
    except Exception:
        return False


_CACHE: dict[str, CasadiModel] = {}


def casadi_model(name: str) -> CasadiModel:
    """The flattened model, cached per test session (flattening takes a second or two)."""
    if name not in _CACHE:
        _CACHE[name] = CasadiModel(name)
    return _CACHE[name]


class CasadiUnit:
    """Test API on the pymoca + CasADi path: steady states by Newton on der(x) = 0, runs by IDAS."""

    backend = "pymoca+casadi"

    def __init__(self, name: str, counters: Sequence[str] = ()):
        self.model = casadi_model(name)
        self.counters = tuple(counters)

    def parameter(self, name: str) -> float:
        return self.model.param_defaults[name]

    def steady(self, inputs: dict[str, float], params: dict[str, float] | None = None, settle_s: float = 0.0):
        """Equilibrium for constant inputs (settle_s is what the FMU path simulates to reach it)."""
        return self.model.steady_state(inputs, params, integrating_states=self.counters)

    def run(
        self,
        t_end: float,
        inputs: dict[str, float],
        params: dict[str, float] | None = None,
        initial_inputs: dict[str, float] | None = None,
        n_out: int = 101,
        outputs: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """Start in the state given by initial_inputs (equilibrium or fixed starts); inputs from t = 0 on."""
        return self.model.simulate(t_end, inputs, params, n_out, outputs, initial_inputs=initial_inputs)


class FmuUnit:
    """Test API on the exported FMU (Co-Simulation, fmpy): the artefact users run."""

    backend = "fmu"

    def __init__(self, name: str, path: Path):
        from fmpy import read_model_description

        self.name = name
        self.path = path
        self.md = read_model_description(str(path))
        self.starts = {v.name: v.start for v in self.md.modelVariables}
        #: outputs and locals (intermediate quantities such as the patient's PaCO2)
        self.observable = [
            v.name
            for v in self.md.modelVariables
            if v.causality in ("output", "local") and v.variability == "continuous" and not v.name.startswith("der(")
        ]

    def parameter(self, name: str) -> float:
        return float(self.starts[name])

    def run(
        self,
        t_end: float,
        inputs: dict[str, float],
        params: dict[str, float] | None = None,
        initial_inputs: dict[str, float] | None = None,
        n_out: int = 101,
        outputs: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        from fmpy import simulate_fmu

        dt = t_end / (n_out - 1)
        start = dict(params or {})
        names = sorted(inputs)
        if not names:  # fmpy needs at least one input column
            names = [v.name for v in self.md.modelVariables if v.causality == "input"][:1]
            inputs = {names[0]: float(self.starts[names[0]])}
        new = tuple(inputs[n] for n in names)
        if initial_inputs:
            # fmpy applies the inputs before initialisation ends: hold the initial inputs for one output interval,
            # then step, and report time from the step on
            start.update(initial_inputs)
            old = tuple(initial_inputs.get(n, inputs[n]) for n in names)
            rows, t_shift = [(0.0, *old), (dt, *old), (dt, *new), (t_end + dt, *new)], dt
        else:
            start.update(inputs)
            rows, t_shift = [(0.0, *new), (t_end, *new)], 0.0
        signal = np.array(rows, dtype=[("time", np.float64)] + [(n, np.float64) for n in names])
        res = simulate_fmu(
            str(self.path),
            stop_time=t_end + t_shift,
            start_values=start,
            input=signal,
            output=list(outputs) or self.observable,
            output_interval=dt,
            fmi_type="CoSimulation",
        )
        keep = res["time"] >= t_shift - 1e-9
        out = {n: np.asarray(res[n], dtype=float)[keep] for n in res.dtype.names}
        out["time"] = out["time"] - t_shift
        return out

    def steady(self, inputs: dict[str, float], params: dict[str, float] | None = None, settle_s: float = 3600.0):
        """The state after settle_s of constant inputs (chosen by the test as many time constants)."""
        res = self.run(settle_s, inputs, params, n_out=11)
        return {n: float(v[-1]) for n, v in res.items()}


def unit(name: str, counters: Sequence[str] = (), smoke: Sequence[tuple[dict, dict]] = ((({}, {})),)):
    """The exported FMU, checked to initialise and step for each (inputs, params) in smoke: the artefact users run.

    O2TWIN_CP_BACKEND=casadi runs the same checks on the pymoca + CasADi path instead (a cross-check of the FMU
    runtime); an FMU that fails to export or start is a test failure, never a silent switch of backend.
    """
    if os.environ.get("O2TWIN_CP_BACKEND", "fmu") == "casadi":
        return CasadiUnit(name, counters)
    from orchestrator.export.api import export_model

    fmu = FmuUnit(name, export_model(name))
    for inputs, params in smoke:  # exported, instantiated, initialised, stepped
        fmu.run(1.0, inputs, params, n_out=2)
    return fmu
