"""Causalisation: pymoca's implicit DAE  F(t, der(x), x, y, u, p) = 0  ->  a CausalModel (see causal_model.py).

Steps (all in CasADi SX, after expanding pymoca's MX functions), one function each:
1. `_expand`: constants and dependent parameters (parameters whose value is an expression of others) are
   substituted and everything is expanded to SX scalars;
2. `_blocks`: the unknowns w = [der(x); y] are matched to the equations and put in block lower-triangular order
   (Dulmage-Mendelsohn, casadi Sparsity.btf);
3. `_solve_blocks`: each block that is linear in its own unknowns (and small) is solved symbolically; every other
   block is torn: its tear unknowns become iteration variables z with its residual equations g (solved by Newton
   inside the FMU);
4. `_substitute_forward`: the solved unknowns are substituted forward (casadi substitute_inplace, linear in the
   expression size), giving xdot = f(t, x, z, u, p), 0 = g(t, x, z, u, p) and every variable's value;
5. `_initialisation`: fixed start values, initial equations and g, square in [x; z].
`_variables` then lists the FMU variables and `causalise` wraps the result in CasADi functions.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, replace
from typing import Any

import casadi as ca

from orchestrator.errors import ModelError
from orchestrator.export.causal_model import CausalModel, ModelVariable, VariableKind
from orchestrator.export.frontend import FlatModel

log = logging.getLogger(__name__)

#: Linear blocks up to this size are solved symbolically; larger ones go to the runtime's sparse Newton solver
#: (one Newton step solves them exactly), which avoids dense symbolic factorisations.
MAX_SYMBOLIC_LINEAR_BLOCK = 12

#: A pymoca variable (pymoca.backends.casadi.model.Variable): symbol, value, start, fixed, min, max, nominal, ...
PymocaVariable = Any


@dataclass
class _Symbols:
    """The SX symbols of the flat model, one scalar per variable."""

    t: ca.SX
    x: list[ca.SX]
    dx: list[ca.SX]
    y: list[ca.SX]
    u: list[ca.SX]
    p: list[ca.SX]


@dataclass
class _Expanded:
    """Step 1's result: the flat model's variables and its equations as SX in (t, der(x), x, y, u, p)."""

    states: list[PymocaVariable]
    ders: list[PymocaVariable]
    algs: list[PymocaVariable]
    inputs: list[PymocaVariable]
    independent: list[PymocaVariable]
    dependent: list[PymocaVariable]
    sym: _Symbols
    #: F = 0, one row per equation
    residual: ca.SX
    #: the initial equations
    init_eqs: ca.SX
    #: start values of states and algebraic variables that are expressions of parameters (0 for numeric ones)
    starts: ca.SX
    #: values of the dependent parameters in terms of the independent ones
    dep_values: ca.SX

    @property
    def nx(self) -> int:
        return len(self.states)

    def vec(self, name: str) -> ca.SX:
        return _vec(getattr(self.sym, name))


@dataclass
class _BlockSolution:
    """Step 3's result: explicit solutions w_k = def_k for solved unknowns, tear variables z and residuals g."""

    solved_syms: list[ca.SX]
    solved_defs: list[ca.SX]
    z_syms: list[ca.SX]
    #: per tear variable: its position in w = [der(x); y]
    z_columns: list[int]
    g_parts: list[ca.SX]
    n_linear: int
    n_nonlinear: int


@dataclass
class _Causal:
    """Step 4's result: xdot = f, y, 0 = g and the initial equations, in (t, x, z, u, p)."""

    xdot: ca.SX
    y: ca.SX
    g: ca.SX
    init_eqs: ca.SX


@dataclass
class _Initial:
    """Step 5's result: the initialisation residual and the start values of x and z (expressions of p)."""

    state_fixed: list[bool]
    start_x: list[ca.SX]
    z_start: list[ca.SX]
    residual: ca.SX


def _vec(items: list[ca.SX]) -> ca.SX:
    return ca.vertcat(*items) if items else ca.SX(0, 1)


def _mx_vec(items: list[ca.MX]) -> ca.MX:
    return ca.vertcat(*items) if items else ca.MX(0, 1)


def _scalar(value: object) -> float | None:
    """A finite float for a numeric pymoca attribute, None for symbolic/absent/infinite ones."""
    if isinstance(value, ca.MX | ca.SX):
        if not value.is_constant() or value.numel() != 1:
            return None
        value = float(ca.DM(value))
    elif isinstance(value, ca.DM):
        if value.numel() != 1:
            return None
        value = float(value)
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _as_mx(value: object) -> ca.MX:
    if isinstance(value, ca.MX):
        return value
    return ca.MX(ca.DM(float(value)))  # type: ignore[arg-type]


def _base_name(name: str) -> str:
    """Flat name without trailing array indices: 'T[3]' -> 'T', 'a[2].b[1]' -> 'a[2].b'."""
    return re.sub(r"\[[\d,\s]+\]$", "", name)


def _meta(flat: FlatModel, name: str, var: PymocaVariable) -> tuple[str | None, str]:
    unit, description = flat.metadata.get(name) or flat.metadata.get(_base_name(name)) or (None, "")
    unit_attr = getattr(var, "unit", None)
    if isinstance(unit_attr, str) and unit_attr:
        unit = unit_attr
    return unit, description


def _where(flat: FlatModel) -> str:
    return str(flat.class_file or flat.name)


def _split_parameters(dae: Any) -> tuple[list[PymocaVariable], list[PymocaVariable]]:
    """Independent parameters (numeric value) and dependent ones (value an expression of other parameters)."""
    independent, dependent = [], []
    for par in dae.parameters:
        value = par.value
        if isinstance(value, ca.MX) and not value.is_constant():
            dependent.append(par)
        elif _scalar(value) is None:
            raise ModelError(
                f"parameter '{par.symbol.name()}' has no value; give it a default (parameter Real"
                f" {par.symbol.name().split('.')[-1]} = ...) in the model"
            )
        else:
            independent.append(par)
    return independent, dependent


def _resolve_dependent(
    dependent: list[PymocaVariable], constants: list[PymocaVariable]
) -> tuple[list[ca.MX], list[ca.MX]]:
    """Symbols and definitions of dependent parameters and constants, with definitions in terms of
    independent parameters only (dependent parameters may refer to each other in any order)."""
    syms = [c.symbol for c in constants] + [d.symbol for d in dependent]
    defs = [_as_mx(c.value) for c in constants] + [_as_mx(d.value) for d in dependent]
    if not syms:
        return [], []
    sym_vec = ca.vertcat(*syms)
    for _ in range(len(syms) + 1):
        if not any(ca.depends_on(d, sym_vec) for d in defs):
            return syms, defs
        defs = ca.substitute(defs, syms, defs)
    cyclic = [s.name() for s, d in zip(syms, defs, strict=True) if ca.depends_on(d, sym_vec)]
    raise ModelError(f"parameters {', '.join(cyclic)} are defined in terms of each other (a cycle); break the cycle")


def _check_balanced(flat: FlatModel, n_eq: int, nx: int, ny: int) -> None:
    if n_eq != nx + ny:
        raise ModelError(
            f"{_where(flat)}: model {flat.name} is unbalanced: {n_eq} equations for {nx + ny}"
            f" unknowns ({nx} states, {ny} algebraic variables); "
            + ("add the missing equations" if n_eq < nx + ny else "remove the extra equations")
        )


def _expand(flat: FlatModel) -> _Expanded:
    """Step 1: substitute constants and dependent parameters (MX), then expand everything to SX scalars."""
    dae: Any = flat.dae
    states, ders, algs, inputs = list(dae.states), list(dae.der_states), list(dae.alg_states), list(dae.inputs)
    independent, dependent = _split_parameters(dae)
    residual_mx = _mx_vec([ca.vec(e) for e in dae.equations])
    _check_balanced(flat, residual_mx.numel(), len(states), len(algs))
    init_mx = _mx_vec([ca.vec(e) for e in dae.initial_equations])
    dep_syms, dep_defs = _resolve_dependent(dependent, list(dae.constants))
    start_mx = [_as_mx(v.start) if _scalar(v.start) is None else ca.MX(0) for v in states + algs]
    exprs = [residual_mx, init_mx, _mx_vec(start_mx), _mx_vec(dep_defs[len(dae.constants) :])]
    if dep_syms:
        exprs = ca.substitute(exprs, dep_syms, dep_defs)
    groups = [states, ders, algs, inputs, independent]
    mx_in = [dae.time, *(_mx_vec([v.symbol for v in group]) for group in groups)]
    try:
        flat_fn = ca.Function("flat", mx_in, exprs, {"allow_free": False}).expand()
    except RuntimeError as err:
        free = re.findall(r"free variables?[^\[]*\[([^\]]*)\]", str(err))
        what = free[0] if free else str(err).splitlines()[-1]
        raise ModelError(
            f"{_where(flat)}: model {flat.name} refers to undefined symbols ({what});"
            " declare them as variables or parameters with values"
        ) from None
    x, dx, y, u, p = ([ca.SX.sym(v.symbol.name()) for v in group] for group in groups)
    sym = _Symbols(t=ca.SX.sym("time"), x=x, dx=dx, y=y, u=u, p=p)
    residual, init_eqs, starts, dep_values = flat_fn(sym.t, _vec(x), _vec(dx), _vec(y), _vec(u), _vec(p))
    return _Expanded(states, ders, algs, inputs, independent, dependent, sym, residual, init_eqs, starts, dep_values)


def _blocks(jac: ca.Sparsity, w_names: list[str], flat: FlatModel) -> list[tuple[list[int], list[int]]]:
    """Step 2: block lower-triangular (rows, cols) blocks of the square incidence matrix; errors for singular
    structure."""
    nb, rowperm, colperm, rowblock, colblock, _, _ = jac.btf()
    blocks = [
        (list(rowperm[rowblock[b] : rowblock[b + 1]]), list(colperm[colblock[b] : colblock[b + 1]])) for b in range(nb)
    ]
    # Non-square blocks are the Dulmage-Mendelsohn over-determined (more equations) and under-determined (more
    # unknowns) parts.
    n_redundant = sum(len(r) - len(c) for r, c in blocks if len(r) > len(c))
    under = [(len(c) - len(r), [w_names[k] for k in c]) for r, c in blocks if len(c) > len(r)]
    if n_redundant or under:
        parts = []
        for missing, names in under:
            shown = ", ".join(names[:10]) + (f" (and {len(names) - 10} more)" if len(names) > 10 else "")
            parts.append(f"{missing} of the unknowns {shown} are not determined by any equation")
        if n_redundant:
            parts.append(
                f"{n_redundant} equations determine nothing new (e.g. an equation in states and parameters only,"
                " or a duplicate)"
            )
        raise ModelError(
            f"{_where(flat)}: model {flat.name} is structurally singular: {'; '.join(parts)};"
            " check for missing or duplicated equations"
        )
    return blocks


def tear_block(
    f_b: ca.SX, w_b: ca.SX, jac_b: ca.SX, not_parameters: ca.SX
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Tearing of an algebraic loop: (assigned (equation, unknown) pairs in solution order, tear unknowns,
    residual equations), with len(tears) == len(residual equations).

    Greedy: an equation with exactly one unknown left is solved for it when it is linear in it with a coefficient
    that depends only on parameters (never zero by accident of the iterate); when no such equation exists, the
    unknown occurring in most remaining equations becomes an iteration (tear) variable. The runtime's Newton then
    iterates on the tear variables only: a loop like z1 = f(z0), z2 = f(z1), ..., z0 = f(zn) shrinks to one unknown.
    """
    n = w_b.numel()
    incidence: list[set[int]] = [set() for _ in range(n)]
    rows, cols = jac_b.sparsity().get_triplet()
    for r, k in zip(rows, cols, strict=True):
        incidence[r].add(k)

    def solvable(r: int, k: int) -> bool:
        coefficient = jac_b[r, k]
        if coefficient.is_constant():
            return float(coefficient) != 0.0
        return not ca.depends_on(coefficient, not_parameters)

    unknown = set(range(n))
    open_rows = set(range(n))
    assigned: list[tuple[int, int]] = []
    tears: list[int] = []
    residual: list[int] = []
    while open_rows:
        progress = False
        for r in sorted(open_rows):
            left = incidence[r] & unknown
            if len(left) == 1:
                k = next(iter(left))
                if solvable(r, k):
                    assigned.append((r, k))
                    unknown.discard(k)
                    open_rows.discard(r)
                    progress = True
            elif not left and unknown == set():
                residual.append(r)
                open_rows.discard(r)
                progress = True
        if progress:
            continue
        if not unknown:
            residual.extend(sorted(open_rows))
            break
        counts = {k: sum(k in incidence[r] for r in open_rows) for k in unknown}
        k = max(sorted(unknown), key=lambda c: counts[c])
        tears.append(k)
        unknown.discard(k)
    return assigned, tears, residual


def _solve_blocks(ex: _Expanded, blocks: list[tuple[list[int], list[int]]]) -> _BlockSolution:
    """Step 3: small linear blocks solved symbolically, every other block torn into solved unknowns, tear
    variables z and residuals g."""
    w = ca.vertcat(ex.vec("dx"), ex.vec("y"))
    # coefficients that depend on nothing but parameters (and numbers) are safe to divide by when tearing
    known_only = ca.vertcat(w, ex.vec("x"), ex.vec("u"), ex.sym.t)
    out = _BlockSolution([], [], [], [], [], 0, 0)
    for rows, cols in blocks:
        f_b = ex.residual[rows]
        w_b = w[cols]
        jac_b = ca.jacobian(f_b, w_b)
        if len(cols) <= MAX_SYMBOLIC_LINEAR_BLOCK and not ca.depends_on(jac_b, w_b):
            b0 = ca.substitute(f_b, w_b, ca.SX.zeros(len(cols)))
            solution = -b0 / jac_b if len(cols) == 1 else ca.solve(jac_b, -b0)
            out.solved_syms += [w[c] for c in cols]
            out.solved_defs += [solution[k] for k in range(len(cols))]
            out.n_linear += 1
            continue
        assigned, tears, residual_rows = tear_block(f_b, w_b, jac_b, known_only)
        for r, k in assigned:
            out.solved_syms.append(w_b[k])
            out.solved_defs.append(-ca.substitute(f_b[r], w_b[k], 0) / jac_b[r, k])
        for k in tears:
            out.z_columns.append(cols[k])
            out.z_syms.append(w_b[k])
        out.g_parts.append(f_b[residual_rows])
        out.n_nonlinear += 1
    return out


def _substitute_forward(ex: _Expanded, solution: _BlockSolution) -> _Causal:
    """Step 4: the solved unknowns substituted into everything that references them, in one pass."""
    w = ca.vertcat(ex.vec("dx"), ex.vec("y"))
    targets = [w, _vec(solution.g_parts), ex.init_eqs]
    if solution.solved_syms:
        _, targets = ca.substitute_inplace([_vec(solution.solved_syms)], [_vec(solution.solved_defs)], targets, False)
    w_sol, g, init_eqs = targets
    return _Causal(xdot=w_sol[: ex.nx], y=w_sol[ex.nx :], g=g, init_eqs=init_eqs)


def _fixed_states(flat: FlatModel, ex: _Expanded, n_init: int) -> list[bool]:
    """Which states are fixed at their start value: fixed=true ones, plus (as Modelica tools do) states without
    fixed start and initial equations, in declaration order, until the initial system is square."""
    nx = ex.nx
    state_fixed = [bool(_scalar(v.fixed)) for v in ex.states]
    n_fixed = sum(state_fixed)
    if n_fixed + n_init > nx:
        raise ModelError(
            f"{_where(flat)}: the initial system of {flat.name} is over-determined: {n_init}"
            f" initial equations and {n_fixed} states with fixed=true for {nx} states; remove fixed=true or an"
            " initial equation"
        )
    for i, fixed in enumerate(state_fixed):
        if n_fixed + n_init == nx:
            break
        if not fixed:
            state_fixed[i] = True
            n_fixed += 1
            log.info("%s: state %s has no initial condition; fixing it at its start value", flat.name, ex.sym.x[i])
    return state_fixed


def _initialisation(flat: FlatModel, ex: _Expanded, causal: _Causal, solution: _BlockSolution) -> _Initial:
    """Step 5: the initialisation system [fixed starts; initial equations; g] = 0 in [x; z], and start values."""
    state_fixed = _fixed_states(flat, ex, causal.init_eqs.numel())
    start_x = [ex.starts[i] if _scalar(st.start) is None else ca.SX(float(st.start)) for i, st in enumerate(ex.states)]
    x_sx = ex.vec("x")
    fixed_res = [x_sx[i] - start_x[i] for i in range(ex.nx) if state_fixed[i]]
    residual = ca.vertcat(_vec(fixed_res), causal.init_eqs, causal.g)
    z_start = []
    for c in solution.z_columns:  # a tear variable starts at its unknown's start value (derivatives at 0)
        if c < ex.nx:
            z_start.append(ca.SX(0))
        elif (value := _scalar(ex.algs[c - ex.nx].start)) is not None:
            z_start.append(ca.SX(value))
        else:
            z_start.append(ex.starts[c])
    return _Initial(state_fixed, start_x, z_start, residual)


def _model_variable(
    flat: FlatModel,
    var: PymocaVariable,
    kind: VariableKind,
    index: int,
    causality: str,
    variability: str,
    *,
    start: float | None = None,
    initial: str | None = None,
    with_bounds: bool = True,
) -> ModelVariable:
    """The ModelVariable of a pymoca variable: name, unit and description from the model, bounds from its
    attributes (unless with_bounds is False)."""
    name = var.symbol.name()
    unit, description = _meta(flat, name, var)

    def bound(key: str) -> float | None:
        return _scalar(getattr(var, key)) if with_bounds else None

    return ModelVariable(
        name=name,
        kind=kind,
        index=index,
        causality=causality,
        variability=variability,
        unit=unit,
        description=description,
        start=start,
        initial=initial,
        min=bound("min"),
        max=bound("max"),
        nominal=bound("nominal") or None,
    )


def _variables(
    flat: FlatModel, ex: _Expanded, causal: _Causal, init: _Initial
) -> tuple[list[ModelVariable], list[ca.SX]]:
    """The FMU variables in value-reference order (parameters, dependent parameters, inputs, states,
    derivatives, algebraic variables) and each one's value in (t, x, z, u, p)."""
    p_default = [float(_scalar(v.value)) for v in ex.independent]  # type: ignore[arg-type]
    defaults = ca.Function("defaults", [ex.vec("p")], [_vec(init.start_x), ex.dep_values])
    start_x, dep_start = (list(map(float, ca.DM(m).full().ravel())) for m in defaults(p_default))
    outputs = set(flat.dae.outputs)
    sym = ex.sym
    variables: list[ModelVariable] = []
    values: list[ca.SX] = []
    for i, par in enumerate(ex.independent):
        variability = "tunable" if par.python_type is float else "fixed"
        variables.append(_model_variable(flat, par, "parameter", i, "parameter", variability, start=p_default[i]))
        values.append(sym.p[i])
    for i, par in enumerate(ex.dependent):
        variability = "tunable" if par.python_type is float else "fixed"
        var = _model_variable(
            flat, par, "calculated", -1, "local", variability, start=dep_start[i], initial="calculated",
            with_bounds=False,
        )  # fmt: skip
        variables.append(var if var.description else replace(var, description=f"= {par.value}"))
        values.append(ex.dep_values[i])
    for i, inp in enumerate(ex.inputs):
        variables.append(_model_variable(flat, inp, "input", i, "input", "continuous", start=_scalar(inp.start) or 0.0))
        values.append(sym.u[i])
    state_vr = []
    for i, st in enumerate(ex.states):
        state_vr.append(len(variables))
        causality = "output" if st.symbol.name() in outputs else "local"
        initial = "exact" if init.state_fixed[i] and _scalar(st.start) is not None else "approx"
        variables.append(
            _model_variable(flat, st, "state", i, causality, "continuous", start=start_x[i], initial=initial)
        )
        values.append(sym.x[i])
    for i, der in enumerate(ex.ders):
        variables.append(
            ModelVariable(der.symbol.name(), "derivative", i, "local", "continuous", derivative_of=state_vr[i])
        )
        values.append(causal.xdot[i])
    for i, alg in enumerate(ex.algs):
        causality = "output" if alg.symbol.name() in outputs else "local"
        variables.append(_model_variable(flat, alg, "calculated", -1, causality, "continuous"))
        values.append(causal.y[i])
    return variables, values


def causalise(flat: FlatModel) -> CausalModel:
    """Turn a flattened model into the semi-explicit CausalModel the C code generator compiles."""
    started = time.perf_counter()
    ex = _expand(flat)
    w = ca.vertcat(ex.vec("dx"), ex.vec("y"))
    w_names = [v.symbol.name() for v in ex.ders + ex.algs]
    n_unknown = w.numel()
    blocks = _blocks(ca.jacobian_sparsity(ex.residual, w), w_names, flat) if n_unknown else []
    solution = _solve_blocks(ex, blocks)
    log.info(
        "%s: %d states, %d algebraic variables, %d blocks (%d solved symbolically, %d nonlinear, nz=%d)",
        flat.name,
        ex.nx,
        len(ex.algs),
        len(blocks),
        solution.n_linear,
        solution.n_nonlinear,
        len(solution.z_syms),
    )
    causal = _substitute_forward(ex, solution)
    init = _initialisation(flat, ex, causal, solution)
    variables, values = _variables(flat, ex, causal, init)

    sym = ex.sym
    args = [sym.t, ex.vec("x"), _vec(solution.z_syms), ex.vec("u"), ex.vec("p")]
    names_in = ["t", "x", "z", "u", "p"]
    model = CausalModel(
        name=flat.name,
        description=flat.description,
        dae=ca.Function("dae", args, [causal.xdot, causal.g], names_in, ["xdot", "res"]),
        vars=ca.Function("vars", args, [_vec(values)], names_in, ["v"]),
        init_guess=ca.Function(
            "init_guess",
            [sym.t, ex.vec("u"), ex.vec("p")],
            [_vec(init.start_x), _vec(init.z_start)],
            ["t", "u", "p"],
            ["x0", "z0"],
        ),
        init_res=ca.Function("init_res", args, [init.residual], names_in, ["r"]),
        variables=variables,
        source_files=list(flat.source_files),
        default_tolerance=flat.tolerance,
        default_stop_time=flat.stop_time,
        model_identifier=flat.identifier,
    )
    log.info("%s: causalised in %.2f s", flat.name, time.perf_counter() - started)
    return model
