"""Causalisation: pymoca's implicit DAE  F(t, der(x), x, y, u, p) = 0  ->  a CausalModel (see causal_model.py).

Steps (all in CasADi SX, after expanding pymoca's MX functions):
1. constants and dependent parameters (parameters whose value is an expression of others) are substituted;
2. the unknowns w = [der(x); y] are matched to the equations and put in block lower-triangular order
   (Dulmage-Mendelsohn, casadi Sparsity.btf);
3. each block that is linear in its own unknowns (and small) is solved symbolically; every other block keeps its
   unknowns as iteration variables z with its equations as residuals g (solved by Newton inside the FMU);
4. the solved unknowns are substituted forward (casadi substitute_inplace, linear in the expression size), giving
   xdot = f(t, x, z, u, p), 0 = g(t, x, z, u, p) and every variable's value;
5. the initialisation system: fixed start values, initial equations and g, square in [x; z].
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass

import casadi as ca

from orchestrator.errors import ModelError
from orchestrator.export.causal_model import CausalModel, ModelVariable
from orchestrator.export.frontend import FlatModel

log = logging.getLogger(__name__)

#: Linear blocks up to this size are solved symbolically; larger ones go to the runtime's sparse Newton solver
#: (one Newton step solves them exactly), which avoids dense symbolic factorisations.
MAX_SYMBOLIC_LINEAR_BLOCK = 12


@dataclass
class _Symbols:
    """The SX symbols of the flat model, one scalar per variable."""

    t: ca.SX
    x: list[ca.SX]
    dx: list[ca.SX]
    y: list[ca.SX]
    u: list[ca.SX]
    p: list[ca.SX]


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
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _as_mx(value: object) -> ca.MX:
    if isinstance(value, ca.MX):
        return value
    return ca.MX(ca.DM(float(value)))


def _base_name(name: str) -> str:
    """Flat name without trailing array indices: 'T[3]' -> 'T', 'a[2].b[1]' -> 'a[2].b'."""
    return re.sub(r"\[[\d,\s]+\]$", "", name)


def _meta(flat: FlatModel, name: str, var: object) -> tuple[str | None, str]:
    unit, description = flat.metadata.get(name) or flat.metadata.get(_base_name(name)) or (None, "")
    unit_attr = getattr(var, "unit", None)
    if isinstance(unit_attr, str) and unit_attr:
        unit = unit_attr
    return unit, description


def _split_parameters(dae: object) -> tuple[list, list]:
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


def _resolve_dependent(dependent: list, constants: list) -> tuple[list[ca.MX], list[ca.MX]]:
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


def _blocks(jac: ca.Sparsity, n_eq: int, w_names: list[str], flat: FlatModel) -> list[tuple[list[int], list[int]]]:
    """Block lower-triangular (rows, cols) blocks of the square incidence matrix; errors for singular structure."""
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
            f"{flat.class_file or flat.name}: model {flat.name} is structurally singular: {'; '.join(parts)};"
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
    incidence = [set() for _ in range(n)]
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


def causalise(flat: FlatModel) -> CausalModel:
    """Turn a flattened model into the semi-explicit CausalModel the C code generator compiles."""
    started = time.perf_counter()
    dae = flat.dae
    states, ders, algs, inputs = list(dae.states), list(dae.der_states), list(dae.alg_states), list(dae.inputs)
    independent, dependent = _split_parameters(dae)
    nx, ny = len(states), len(algs)
    n_unknown = nx + ny

    equations = [ca.vec(e) for e in dae.equations]
    residual_mx = ca.vertcat(*equations) if equations else ca.MX(0, 1)
    init_mx = ca.vertcat(*[ca.vec(e) for e in dae.initial_equations]) if dae.initial_equations else ca.MX(0, 1)
    n_eq = residual_mx.numel()
    if n_eq != n_unknown:
        raise ModelError(
            f"{flat.class_file or flat.name}: model {flat.name} is unbalanced: {n_eq} equations for {n_unknown}"
            f" unknowns ({nx} states, {ny} algebraic variables); "
            + ("add the missing equations" if n_eq < n_unknown else "remove the extra equations")
        )

    # Substitute constants and dependent parameters (MX), then expand everything to SX.
    dep_syms, dep_defs = _resolve_dependent(dependent, list(dae.constants))
    start_mx = [_as_mx(v.start) if _scalar(v.start) is None else ca.MX(0) for v in states + algs]
    dep_values_mx = [d for d in dep_defs[len(dae.constants) :]]
    exprs = [residual_mx, init_mx, ca.vertcat(*start_mx) if start_mx else ca.MX(0, 1)]
    exprs.append(ca.vertcat(*dep_values_mx) if dep_values_mx else ca.MX(0, 1))
    if dep_syms:
        exprs = ca.substitute(exprs, dep_syms, dep_defs)

    mx_in = [
        dae.time,
        ca.vertcat(*[v.symbol for v in states]) if states else ca.MX(0, 1),
        ca.vertcat(*[v.symbol for v in ders]) if ders else ca.MX(0, 1),
        ca.vertcat(*[v.symbol for v in algs]) if algs else ca.MX(0, 1),
        ca.vertcat(*[v.symbol for v in inputs]) if inputs else ca.MX(0, 1),
        ca.vertcat(*[v.symbol for v in independent]) if independent else ca.MX(0, 1),
    ]
    try:
        flat_fn = ca.Function("flat", mx_in, exprs, {"allow_free": False}).expand()
    except RuntimeError as err:
        free = re.findall(r"free variables?[^\[]*\[([^\]]*)\]", str(err))
        what = free[0] if free else str(err).splitlines()[-1]
        raise ModelError(
            f"{flat.class_file or flat.name}: model {flat.name} refers to undefined symbols ({what});"
            " declare them as variables or parameters with values"
        ) from None
    sym = _Symbols(
        t=ca.SX.sym("time"),
        x=[ca.SX.sym(v.symbol.name()) for v in states],
        dx=[ca.SX.sym(v.symbol.name()) for v in ders],
        y=[ca.SX.sym(v.symbol.name()) for v in algs],
        u=[ca.SX.sym(v.symbol.name()) for v in inputs],
        p=[ca.SX.sym(v.symbol.name()) for v in independent],
    )

    def vec(items: list[ca.SX]) -> ca.SX:
        return ca.vertcat(*items) if items else ca.SX(0, 1)

    x_sx, dx_sx, y_sx, u_sx, p_sx = vec(sym.x), vec(sym.dx), vec(sym.y), vec(sym.u), vec(sym.p)
    residual, init_eqs, starts, dep_values = flat_fn(sym.t, x_sx, dx_sx, y_sx, u_sx, p_sx)

    # Block-triangular decomposition of F(w) with w = [der(x); y].
    w = ca.vertcat(dx_sx, y_sx)
    w_names = [v.symbol.name() for v in ders] + [v.symbol.name() for v in algs]
    jac_sp = ca.jacobian_sparsity(residual, w) if n_unknown else ca.Sparsity(0, 0)
    blocks = _blocks(jac_sp, n_eq, w_names, flat) if n_unknown else []

    # coefficients that depend on nothing but parameters (and numbers) are safe to divide by when tearing
    known_only = ca.vertcat(w, x_sx, u_sx, sym.t)
    solved_syms: list[ca.SX] = []
    solved_defs: list[ca.SX] = []
    z_syms: list[ca.SX] = []
    z_of_w: dict[int, int] = {}
    g_parts: list[ca.SX] = []
    n_linear = n_nonlinear = 0
    for rows, cols in blocks:
        f_b = residual[rows]
        w_b = w[cols]
        jac_b = ca.jacobian(f_b, w_b)
        linear = not ca.depends_on(jac_b, w_b)
        if linear and len(cols) <= MAX_SYMBOLIC_LINEAR_BLOCK:
            b0 = ca.substitute(f_b, w_b, ca.SX.zeros(len(cols)))
            solution = -b0 / jac_b if len(cols) == 1 else ca.solve(jac_b, -b0)
            for k, c in enumerate(cols):
                solved_syms.append(w[c])
                solved_defs.append(solution[k])
            n_linear += 1
        else:
            assigned, tears, residual_rows = tear_block(f_b, w_b, jac_b, known_only)
            for r, k in assigned:
                solved_syms.append(w_b[k])
                solved_defs.append(-ca.substitute(f_b[r], w_b[k], 0) / jac_b[r, k])
            for k in tears:
                z_of_w[cols[k]] = len(z_syms)
                z_syms.append(w_b[k])
            g_parts.append(f_b[residual_rows])
            n_nonlinear += 1
    nz = len(z_syms)
    log.info(
        "%s: %d states, %d algebraic variables, %d blocks (%d solved symbolically, %d nonlinear, nz=%d)",
        flat.name,
        nx,
        ny,
        len(blocks),
        n_linear,
        n_nonlinear,
        nz,
    )

    # Forward substitution of the solved unknowns into everything that references them.
    g = vec(g_parts)
    z_sx = vec(z_syms)
    targets = [w, g, init_eqs]
    if solved_syms:
        _, targets = ca.substitute_inplace([vec(solved_syms)], [vec(solved_defs)], targets, False)
    w_sol, g, init_eqs = targets
    xdot = w_sol[:nx]
    y_sol = w_sol[nx:]

    # Initialisation: fixed states, initial equations, g.
    state_fixed = [bool(_scalar(v.fixed)) for v in states]
    n_init = init_eqs.numel()
    n_fixed = sum(state_fixed)
    if n_fixed + n_init > nx:
        raise ModelError(
            f"{flat.class_file or flat.name}: the initial system of {flat.name} is over-determined: {n_init}"
            f" initial equations and {n_fixed} states with fixed=true for {nx} states; remove fixed=true or an"
            " initial equation"
        )
    if n_fixed + n_init < nx:
        # As Modelica tools do: states without fixed start and without initial equations start at their start.
        for i, fixed in enumerate(state_fixed):
            if n_fixed + n_init == nx:
                break
            if not fixed:
                state_fixed[i] = True
                n_fixed += 1
                log.info("%s: state %s has no initial condition; fixing it at its start value", flat.name, sym.x[i])
    start_x = [starts[i] if _scalar(states[i].start) is None else ca.SX(float(states[i].start)) for i in range(nx)]
    fixed_res = [x_sx[i] - start_x[i] for i in range(nx) if state_fixed[i]]
    init_res = ca.vertcat(vec(fixed_res), init_eqs, g)

    # z start values: from the unknowns' start attributes.
    all_vars = ders + algs
    z_start = []
    for zi in range(nz):
        c = next(c for c, k in z_of_w.items() if k == zi)
        var = all_vars[c]
        if c < nx:
            z_start.append(ca.SX(0))
        elif _scalar(var.start) is not None:
            z_start.append(ca.SX(float(var.start)))
        else:
            z_start.append(starts[nx + (c - nx)])

    # Variables in value-reference order.
    variables: list[ModelVariable] = []
    values: list[ca.SX] = []
    p_default = [float(_scalar(v.value)) for v in independent]
    default_eval = ca.Function("defaults", [p_sx], [vec(start_x), dep_values, vec(z_start)])
    start_x_num, dep_num, _ = (list(map(float, ca.DM(m).full().ravel())) for m in default_eval(p_default))
    outputs = set(dae.outputs)

    for i, par in enumerate(independent):
        unit, description = _meta(flat, par.symbol.name(), par)
        is_real = par.python_type is float
        variables.append(
            ModelVariable(
                name=par.symbol.name(),
                kind="parameter",
                index=i,
                causality="parameter",
                variability="tunable" if is_real else "fixed",
                unit=unit,
                description=description,
                start=p_default[i],
                min=_scalar(par.min),
                max=_scalar(par.max),
                nominal=_scalar(par.nominal) or None,
            )
        )
        values.append(sym.p[i])
    for i, par in enumerate(dependent):
        unit, description = _meta(flat, par.symbol.name(), par)
        variables.append(
            ModelVariable(
                name=par.symbol.name(),
                kind="calculated",
                index=-1,
                causality="local",
                variability="tunable" if par.python_type is float else "fixed",
                unit=unit,
                description=description or f"= {par.value}",
                start=dep_num[i],
                initial="calculated",
            )
        )
        values.append(dep_values[i])
    for i, inp in enumerate(inputs):
        unit, description = _meta(flat, inp.symbol.name(), inp)
        variables.append(
            ModelVariable(
                name=inp.symbol.name(),
                kind="input",
                index=i,
                causality="input",
                variability="continuous",
                unit=unit,
                description=description,
                start=_scalar(inp.start) or 0.0,
                min=_scalar(inp.min),
                max=_scalar(inp.max),
                nominal=_scalar(inp.nominal) or None,
            )
        )
        values.append(sym.u[i])
    state_vr = []
    for i, st in enumerate(states):
        name = st.symbol.name()
        unit, description = _meta(flat, name, st)
        state_vr.append(len(variables))
        variables.append(
            ModelVariable(
                name=name,
                kind="state",
                index=i,
                causality="output" if name in outputs else "local",
                variability="continuous",
                unit=unit,
                description=description,
                start=start_x_num[i],
                min=_scalar(st.min),
                max=_scalar(st.max),
                nominal=_scalar(st.nominal) or None,
                initial="exact" if state_fixed[i] and _scalar(st.start) is not None else "approx",
            )
        )
        values.append(sym.x[i])
    for i, der in enumerate(ders):
        variables.append(
            ModelVariable(
                name=der.symbol.name(),
                kind="derivative",
                index=i,
                causality="local",
                variability="continuous",
                derivative_of=state_vr[i],
            )
        )
        values.append(xdot[i])
    for i, alg in enumerate(algs):
        name = alg.symbol.name()
        unit, description = _meta(flat, name, alg)
        variables.append(
            ModelVariable(
                name=name,
                kind="calculated",
                index=-1,
                causality="output" if name in outputs else "local",
                variability="continuous",
                unit=unit,
                description=description,
                min=_scalar(alg.min),
                max=_scalar(alg.max),
                nominal=_scalar(alg.nominal) or None,
            )
        )
        values.append(y_sol[i])

    args = [sym.t, x_sx, z_sx, u_sx, p_sx]
    names_in = ["t", "x", "z", "u", "p"]
    dae_fn = ca.Function("dae", args, [xdot, g], names_in, ["xdot", "res"])
    vars_fn = ca.Function("vars", args, [vec(values)], names_in, ["v"])
    guess_fn = ca.Function(
        "init_guess", [sym.t, u_sx, p_sx], [vec(start_x), vec(z_start)], ["t", "u", "p"], ["x0", "z0"]
    )
    init_fn = ca.Function("init_res", args, [init_res], names_in, ["r"])
    log.info("%s: causalised in %.2f s", flat.name, time.perf_counter() - started)
    return CausalModel(
        name=flat.name,
        description=flat.description,
        dae=dae_fn,
        vars=vars_fn,
        init_guess=guess_fn,
        init_res=init_fn,
        variables=variables,
        source_files=list(flat.source_files),
        default_tolerance=flat.tolerance,
        default_stop_time=flat.stop_time,
    )
