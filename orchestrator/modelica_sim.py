"""Simulate a Modelica model of models/ directly with pymoca + CasADi (no FMU): the physics developers' path.

Why: the physics validation (mass balance, purity, cyclic steady state) must run on this machine whether or not
the FMU exporter is available, and from the same Modelica source. This module compiles a model with pymoca,
causalises the flat DAE symbolically into an explicit ODE xdot = f(t, x, u) with outputs y = h(t, x, u),
and integrates it with SUNDIALS CVODES (BDF, Newton with CasADi's exact sparse Jacobian).

pymoca 0.12 lacks three constructs that standard Modelica (and the models here) use; they are handled on a
scratch copy of the model sources, never on models/ itself:
- package constants (``O2Twin.Media.R``) are replaced by their literal values;
- ``noEvent(e)`` becomes ``(e)`` and ``smooth(n, e)`` becomes ``(e)`` (both are no-ops for a continuous ODE);
- CasADi rejects dotted function names, so the generator names functions with underscores.
Parameter changes are applied as modifiers of a generated wrapper model ``model Run extends Model(mods)``.
Compiled models are cached on disk (CasADi serialisation), keyed by the hash of the sources and the modifiers.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

import casadi as ca
import numpy as np

from orchestrator.errors import ModelError, SimulationError

LOG = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
CACHE_DIR = Path(os.environ.get("O2TWIN_SIM_CACHE", Path(tempfile.gettempdir()) / "o2twin_modelica_sim_cache"))


def _patch_pymoca_function_names() -> None:
    """Make pymoca's CasADi generator name functions without dots (CasADi rejects 'Pkg.f')."""
    import pymoca.backends.casadi.generator as gen

    if getattr(gen, "_o2twin_patched", False):
        return

    class _CasadiWithPlainFunctionNames(types.ModuleType):
        def __getattr__(self, name: str):
            return getattr(ca, name)

        @staticmethod
        def Function(name, *args, **kwargs):
            return ca.Function(name.replace(".", "_"), *args, **kwargs)

    gen.ca = _CasadiWithPlainFunctionNames("casadi")
    gen._o2twin_patched = True


def _package_constants(models_dir: Path) -> dict[str, str]:
    """Literal values of the scalar and array constants declared in package.mo files: {qualified name: text}."""
    constants: dict[str, str] = {}
    pattern = re.compile(
        r"constant\s+Real\s+(\w+)(?:\[\d+\])?(?:\((?:[^()\"]|\"[^\"]*\")*\))?\s*=\s*([^;\"]+?)\s*(?:\"|;)"
    )
    for package_file in models_dir.rglob("package.mo"):
        rel = package_file.parent.relative_to(models_dir)
        qualified = ".".join(rel.parts)
        for match in pattern.finditer(package_file.read_text()):
            constants[f"{qualified}.{match.group(1)}"] = match.group(2).strip()
    return constants


def _prepare_sources(models_dir: Path, work_dir: Path) -> None:
    """Copy the Modelica sources to work_dir with pymoca's missing constructs rewritten (see module doc)."""
    shutil.copytree(models_dir, work_dir, dirs_exist_ok=True)
    constants = _package_constants(models_dir)
    for mo_file in work_dir.rglob("*.mo"):
        text = mo_file.read_text()
        for name, value in sorted(constants.items(), key=lambda kv: -len(kv[0])):
            if value.startswith("{"):
                for index, element in enumerate(value.strip("{}").split(","), start=1):
                    text = text.replace(f"{name}[{index}]", f"({element.strip()})")
            text = re.sub(re.escape(name) + r"\b", f"({value})", text)
        text = text.replace("noEvent(", "(")
        text = re.sub(r"smooth\(\s*\d+\s*,", "(", text)
        mo_file.write_text(text)


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

    def output_index(self, name: str) -> int:
        try:
            return self.output_names.index(name)
        except ValueError:
            raise SimulationError(
                f"{self.name}: no output named {name!r}; known: {', '.join(self.output_names)}"
            ) from None

    def state_index(self, name: str) -> int:
        try:
            return self.state_names.index(name)
        except ValueError:
            raise SimulationError(f"{self.name}: no state named {name!r}") from None


def _solve_affine_blocks(residual: ca.SX, unknowns: ca.SX) -> ca.SX:
    """Solve residual(unknowns) = 0 symbolically, block by block in block-lower-triangular (BLT) order.

    Each block must be affine in its own unknowns (true for ``der(x) = ...`` and ``v = expr`` equations);
    blocks of several equations (algebraic loops) are solved with a symbolic dense linear solve.
    """
    import networkx as nx
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    n = unknowns.numel()
    if residual.numel() != n:
        raise ModelError(f"model not balanced: {residual.numel()} equations for {n} unknowns")
    jac = ca.jacobian(residual, unknowns)
    sp = jac.sparsity()
    rows, cols = sp.get_triplet()
    incidence = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    match = maximum_bipartite_matching(incidence, perm_type="column")  # match[row] = column
    if np.any(match < 0):
        raise ModelError("structurally singular model: some equations cannot be matched to an unknown")
    eq_of_var = np.empty(n, dtype=int)
    eq_of_var[match] = np.arange(n)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for r, c in zip(rows, cols, strict=True):
        var_of_row = match[r]
        if c != var_of_row:
            graph.add_edge(c, var_of_row)  # var c is needed to compute var_of_row
    condensed = nx.condensation(graph)
    solution: list[ca.SX | None] = [None] * n
    zero = ca.SX.zeros(n)
    for block_id in nx.topological_sort(condensed):
        block_vars = sorted(condensed.nodes[block_id]["members"])
        block_eqs = [int(eq_of_var[v]) for v in block_vars]
        deps = {int(c) for e in block_eqs for c in incidence.indices[incidence.indptr[e] : incidence.indptr[e + 1]]}
        known = sorted(d for d in deps if solution[d] is not None)
        res_block = ca.vertcat(*[residual[e] for e in block_eqs])
        if known:
            res_block = ca.substitute(
                res_block, ca.vertcat(*[unknowns[i] for i in known]), ca.vertcat(*[solution[i] for i in known])
            )
        block_syms = ca.vertcat(*[unknowns[v] for v in block_vars])
        block_jac = ca.jacobian(res_block, block_syms)
        if ca.depends_on(block_jac, block_syms):
            names = ", ".join(str(unknowns[v]) for v in block_vars)
            raise ModelError(f"equation for {names} is nonlinear in its unknown; cannot be solved explicitly")
        res0 = ca.substitute(res_block, block_syms, zero[: len(block_vars)])
        if len(block_vars) == 1:
            values = [-res0 / block_jac]
        else:
            sol = ca.solve(block_jac, -res0)
            values = [sol[k] for k in range(len(block_vars))]
        for v, value in zip(block_vars, values, strict=True):
            solution[v] = ca.simplify(value) if len(block_vars) == 1 else value
    return ca.vertcat(*solution)


def _substitute_parameters(model) -> tuple[list[ca.MX], list[ca.MX]]:
    """Replace the parameters pymoca left symbolic (bindings to other parameters) by their numeric values."""
    equations = [ca.vertcat(*model.equations)]
    initial = [ca.vertcat(*model.initial_equations)] if model.initial_equations else [ca.MX.zeros(0)]
    params = [p for p in itertools.chain(model.parameters, model.constants)]
    if not params:
        return equations, initial
    symbols = ca.vertcat(*[p.symbol for p in params])
    values = ca.vertcat(*[ca.MX(p.value) if not isinstance(p.value, ca.MX) else p.value for p in params])
    for _ in range(50):
        if not ca.depends_on(values, symbols):
            break
        values = ca.substitute(values, symbols, values)
    else:
        raise ModelError("parameter bindings are circular")
    numeric = ca.Function("pv", [], [values])()["o0"]
    if np.any(np.isnan(np.array(numeric))):
        bad = [str(p.symbol) for p, v in zip(params, np.array(numeric).ravel(), strict=True) if np.isnan(v)]
        raise ModelError(f"parameters without a value: {', '.join(bad)}")
    equations = [ca.substitute(equations[0], symbols, numeric)]
    initial = [ca.substitute(initial[0], symbols, numeric)]
    return equations, initial


def _compile(
    model_name: str, modifiers: dict[str, float | int | str], observed: list[str], extra_dirs: list[Path]
) -> CompiledModel:
    _patch_pymoca_function_names()
    import pymoca.backends.casadi.api as api

    with tempfile.TemporaryDirectory(prefix="o2twin_pymoca_") as tmp:
        work = Path(tmp)
        _prepare_sources(MODELS_DIR, work)
        for extra in extra_dirs:
            _prepare_sources(extra, work)
        top = model_name
        if modifiers:
            mods = ", ".join(f"{k}={_format_modifier(v)}" for k, v in modifiers.items())
            root = model_name.split(".")[0]
            (work / root / "O2TwinSimRun.mo").write_text(
                f"within {root};\nmodel O2TwinSimRun\n  extends {model_name}({mods});\nend O2TwinSimRun;\n"
            )
            top = f"{root}.O2TwinSimRun"
        options = {
            "expand_vectors": True,
            "replace_constant_values": True,
            "replace_parameter_values": True,
            "replace_parameter_expressions": True,
            "detect_aliases": False,
            "expand_mx": True,
            "cache": False,
            "eliminable_variable_expression": None,
        }
        try:
            model = api.transfer_model(str(work), top, options)
        except Exception as exc:  # pymoca raises bare Exceptions for model errors
            raise ModelError(f"{model_name}: pymoca could not compile the model: {exc}") from exc

    states = [s.symbol for s in model.states]
    ders = [s.symbol for s in model.der_states]
    algs = [s.symbol for s in model.alg_states]
    inputs = [s.symbol for s in model.inputs]
    t = model.time
    equations, initial_equations = _substitute_parameters(model)
    mx_args = [t, ca.vertcat(*states), ca.vertcat(*ders), ca.vertcat(*algs), ca.vertcat(*inputs)]
    residual_mx = ca.Function("res", mx_args, [ca.vertcat(*equations)]).expand()
    init_mx = ca.Function("init", mx_args, [ca.vertcat(*initial_equations)]).expand()

    ts = ca.SX.sym("t")
    xs = ca.SX.sym("x", len(states))
    xds = ca.SX.sym("xdot", len(ders))
    zs = ca.SX.sym("z", len(algs))
    us = ca.SX.sym("u", len(inputs))
    residual = residual_mx(ts, xs, xds, zs, us)
    solution = _solve_affine_blocks(residual, ca.vertcat(xds, zs))
    xdot_expr = solution[: len(ders)]
    z_expr = solution[len(ders) :]

    alg_names = [s.name() for s in algs]
    output_names = [name for name in observed if name in alg_names]
    state_names = [s.name() for s in states]
    for name in observed:
        if name in state_names:
            output_names.append(name)
    missing = [n for n in observed if n not in output_names]
    if missing:
        raise ModelError(f"{model_name}: observed variables not found after compilation: {missing}")
    out_exprs = []
    for name in output_names:
        if name in alg_names:
            out_exprs.append(z_expr[alg_names.index(name)])
        else:
            out_exprs.append(xs[state_names.index(name)])
    ode = ca.Function("ode", [ts, xs, us], [xdot_expr])
    outputs = ca.Function("outputs", [ts, xs, us], [ca.vertcat(*out_exprs)])

    # Initial values: fixed start values and initial equations, solved by Newton from the start values.
    start = np.array([float(s.start) for s in model.states])
    fixed = [s.fixed for s in model.states]
    init_res = [init_mx(ts, xs, ca.SX.zeros(len(ders)), z_expr, us)]
    fixed_res = [xs[i] - start[i] for i in range(len(states)) if fixed[i]]
    r_all = ca.vertcat(*init_res, *fixed_res)
    if r_all.numel() != len(states):
        raise ModelError(f"{model_name}: {r_all.numel()} initial conditions for {len(states)} states")
    u_start = np.array([float(s.start) for s in model.inputs])
    r_fun = ca.Function("r", [xs], [ca.substitute(r_all, ca.vertcat(ts, us), ca.vertcat(0, u_start))])
    if len(states):
        solver = ca.rootfinder("init", "newton", r_fun, {"abstol": 1e-10})
        x0 = np.array(solver(start)).ravel()
    else:
        x0 = np.zeros(0)

    nominal = np.array(
        [
            abs(float(s.nominal)) if float(s.nominal or 0) > 0 else max(abs(x), 1.0)
            for s, x in zip(model.states, x0, strict=True)
        ]
    )
    return CompiledModel(
        name=model_name,
        state_names=state_names,
        input_names=[s.name() for s in inputs],
        output_names=output_names,
        ode=ode,
        outputs=outputs,
        x0=x0,
        x_nominal=nominal,
        input_start=dict(zip([s.name() for s in inputs], u_start.tolist(), strict=True)),
    )


def _sources_hash(model_name: str, modifiers: dict, observed: list[str], extra_dirs: list[Path]) -> str:
    digest = hashlib.sha256()
    for folder in [MODELS_DIR, *extra_dirs]:
        for mo_file in sorted(folder.rglob("*.mo")):
            digest.update(str(mo_file.relative_to(folder)).encode())
            digest.update(mo_file.read_bytes())
    digest.update(json.dumps([model_name, sorted(modifiers.items()), observed, 2]).encode())
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
