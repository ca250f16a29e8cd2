"""C code generation for the built-in exporter: CausalModel -> the model's C sources and model_data.h.

Builds the CasADi functions of docs/exporter-contract.md (model equations, their sparse Jacobians, all variables,
forward derivatives, initialisation) from the CausalModel's four functions, expanded to SX where possible (faster
generated code, structural sparsity) with common subexpressions merged (pymoca inlines each Modelica function call
separately, so a model repeats much of its arithmetic), and generates them as compilation units of bounded size
(c_units.py). The generated header model_data.h describes the variables to the C runtime
(orchestrator/export/runtime/).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import casadi as ca

from orchestrator.errors import ModelError
from orchestrator.export import c_units
from orchestrator.export.c_units import CUnit
from orchestrator.export.causal_model import CausalModel, ModelVariable

log = logging.getLogger(__name__)

#: C symbol prefix of every generated function (mdl_dae, mdl_dae_jac, ...).
PREFIX = "mdl_"

KIND_CODE = {"parameter": 0, "input": 1, "state": 2, "derivative": 3, "calculated": 4}


#: A CasADi symbolic expression (SX when the model expands to scalars, MX otherwise).
Symbolic: TypeAlias = ca.SX | ca.MX


@dataclass(frozen=True)
class ContractFunction:
    """One function of the contract as expressions: name (with PREFIX), inputs and outputs, with their names."""

    name: str
    inputs: list[Symbolic]
    input_names: list[str]
    outputs: list[Symbolic]
    output_names: list[str]

    def function(self, suffix: str = "") -> ca.Function:
        """The CasADi function, named name + suffix."""
        return ca.Function(self.name + suffix, self.inputs, self.outputs, self.input_names, self.output_names)


@dataclass(frozen=True)
class ContractFunctions:
    """The functions the runtime calls, plus which states have a fixed start row in init_res."""

    functions: list[ContractFunction]
    #: Per state: True when init_res pins it to its start value (so a value set before initialisation is exact).
    x_start_fixed: list[bool]


def _symbols(sym: type[ca.SX] | type[ca.MX], model: CausalModel) -> tuple[Symbolic, ...]:
    return (
        sym.sym("t"),
        sym.sym("x", model.nx),
        sym.sym("z", model.nz),
        sym.sym("u", model.nu),
        sym.sym("p", model.np),
    )


def _fixed_start_rows(r: ca.SX, x: ca.SX, others: ca.SX, nx: int) -> dict[int, int]:
    """Rows of the initialisation residual of the form x_j + c(t, p): state j -> row index.

    Such a row pins x_j to a start value; the runtime may replace it by x_j - xs_j when the user sets the state
    before initialisation (FMI initial="exact").
    """
    if r.numel() == 0 or nx == 0:
        return {}
    jx = ca.jacobian(r, x)
    jo = ca.jacobian(r, others) if others.numel() else ca.SX(r.numel(), 0)
    rows_x: dict[int, list[int]] = {}
    rr, cc = jx.sparsity().get_triplet()
    for row, col in zip(rr, cc, strict=True):
        rows_x.setdefault(row, []).append(col)
    rows_other = set(jo.sparsity().get_triplet()[0])
    fixed: dict[int, int] = {}
    for row, cols in rows_x.items():
        if len(cols) != 1 or row in rows_other:
            continue
        j = cols[0]
        entry = jx[row, j]
        if entry.is_constant() and float(entry) == 1.0 and j not in fixed:
            fixed[j] = row
    return fixed


def contract_functions(model: CausalModel) -> ContractFunctions:
    """The functions of the exporter contract, named mdl_<name>, built from the CausalModel."""
    try:
        return _contract_functions(model, ca.SX)
    except (RuntimeError, NotImplementedError) as err:  # not expandable (e.g. a symbolic linear solve): stay MX
        log.info("model %s does not expand to SX (%s); generating MX code", model.name, str(err).splitlines()[0])
        return _contract_functions(model, ca.MX)


def _check_sizes(model: CausalModel, xdot: Symbolic, res: Symbolic, v: Symbolic, r: Symbolic) -> None:
    for name, expr, n in (("xdot", xdot, model.nx), ("res", res, model.nz), ("vars", v, len(model.variables))):
        if expr.numel() != n:
            raise ModelError(f"model {model.name}: {name} has {expr.numel()} entries, expected {n}")
    if r.numel() != model.nx + model.nz:
        raise ModelError(
            f"model {model.name}: the initialisation has {r.numel()} equations for {model.nx + model.nz} unknowns "
            "(states and algebraic loop variables)"
        )


def _merged(exprs: list[Symbolic]) -> list[Symbolic]:
    """The expressions with common subexpressions merged (SX only; MX graphs are left as they are). Merged on
    the nonzeros: casadi.cse visits every entry of a matrix, structural zeros included."""
    if not exprs or not isinstance(exprs[0], ca.SX):
        return exprs
    merged = ca.cse([e.nz[:] for e in exprs])
    return [ca.SX(e.sparsity(), nz) for e, nz in zip(exprs, merged, strict=True)]


def _init_residual(model: CausalModel, r: Symbolic, sym: type[ca.SX] | type[ca.MX], ins: tuple) -> tuple:
    """init_res with each fixed-start row switchable to x_j - xs_j (see docs/exporter-contract.md): (r_mod, xs,
    xs_on, fixed rows by state)."""
    _, x, z, u, _ = ins
    xs, xs_on = sym.sym("xs", model.nx), sym.sym("xs_on", model.nx)
    fixed = _fixed_start_rows(r, x, ca.vertcat(z, u), model.nx) if sym is ca.SX else {}
    rows = [r[i] for i in range(r.numel())]
    for j, row in fixed.items():
        rows[row] = (1 - xs_on[j]) * rows[row] + xs_on[j] * (x[j] - xs[j])
    return (ca.vertcat(*rows) if rows else sym(0, 1)), xs, xs_on, fixed


def _contract_functions(model: CausalModel, sym: type[ca.SX] | type[ca.MX]) -> ContractFunctions:
    ins = _symbols(sym, model)
    t, x, z, u, p = ins
    xz = ca.vertcat(x, z)
    xdot, res = model.dae(*ins)
    v = model.vars(*ins)
    x0, z0 = model.init_guess(t, u, p)
    r = model.init_res(*ins)
    _check_sizes(model, xdot, res, v, r)
    r_mod, xs, xs_on, fixed = _init_residual(model, r, sym, ins)
    xdot, res, v, r_mod = _merged([ca.densify(e) for e in (xdot, res, v, r_mod)])
    f_all = ca.vertcat(xdot, res)
    dx, dz, du = sym.sym("dx", model.nx), sym.sym("dz", model.nz), sym.sym("du", model.nu)
    names = ["t", "x", "z", "u", "p"]
    inputs = list(ins)
    init_inputs, init_names = [*inputs, xs, xs_on], [*names, "xs", "xs_on"]
    dv = ca.densify(ca.jtimes(v, ca.vertcat(x, z, u), ca.vertcat(dx, dz, du)))

    def fn(name: str, i: list, i_names: list[str], outs: list[Symbolic], o_names: list[str]) -> ContractFunction:
        return ContractFunction(PREFIX + name, i, i_names, outs, o_names)

    def derived(exprs: list[Symbolic]) -> list[Symbolic]:  # derivatives of merged expressions repeat work again
        return _merged(exprs)

    functions = [
        fn("dae", inputs, names, [xdot, res], ["xdot", "res"]),
        fn("dae_jac", inputs, names, derived([ca.jacobian(f_all, xz)]), ["J"]),
        fn("dae_jac_u", inputs, names, derived([ca.jacobian(f_all, u)]), ["Ju"]),
        fn("vars", inputs, names, [v], ["v"]),
        fn("vars_fwd", [*inputs, dx, dz, du], [*names, "dx", "dz", "du"], derived([dv]), ["dv"]),
        fn("init_guess", [t, u, p], ["t", "u", "p"], [ca.densify(x0), ca.densify(z0)], ["x0", "z0"]),
        fn("init_res", init_inputs, init_names, [r_mod], ["r"]),
        fn("init_jac", init_inputs, init_names, derived([ca.jacobian(r_mod, xz)]), ["Jr"]),
    ]
    return ContractFunctions(functions, [j in fixed for j in range(model.nx)])


def _c_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append(f"\\{ord(ch) & 0xFF:03o}" if ord(ch) < 256 else "?")
    return '"' + "".join(out) + '"'


def _c_double(value: float) -> str:
    if not math.isfinite(value):
        raise ModelError(f"start or nominal value {value} is not finite")
    return repr(float(value))


def _c_array(ctype: str, name: str, values: list[str], size_macro: str) -> str:
    body = ", ".join(values) if values else "0"
    return f"static const {ctype} {name}[{size_macro} + 1] = {{{body}}};\n"


def _start(var: ModelVariable) -> float:
    return 0.0 if var.start is None else float(var.start)


def model_data_header(model: CausalModel, guid: str, x_start_fixed: list[bool]) -> str:
    """The text of model_data.h: sizes, identifiers and per-variable tables for the runtime."""
    variables = model.variables
    p_start = [0.0] * model.np
    u_start = [0.0] * model.nu
    x_nominal = [1.0] * model.nx
    x_vr = [0] * model.nx
    p_tunable = [False] * model.np
    for vr, var in enumerate(variables):
        if var.kind == "parameter":
            p_start[var.index] = _start(var)
            p_tunable[var.index] = var.variability == "tunable"
        elif var.kind == "input":
            u_start[var.index] = _start(var)
        elif var.kind == "state":
            x_vr[var.index] = vr
            if var.nominal is not None and var.nominal != 0.0:
                x_nominal[var.index] = max(abs(float(var.nominal)), 1e-10)
    lines = [
        "/* Generated by the O2 Twin built-in exporter (orchestrator/export/codegen.py). Do not edit. */\n",
        "#ifndef MODEL_DATA_H\n#define MODEL_DATA_H\n\n",
        f"#define MODEL_IDENTIFIER {model.identifier}\n",
        f"#define MODEL_GUID {_c_string(guid)}\n",
        f"#define MDL_NX {model.nx}\n#define MDL_NZ {model.nz}\n#define MDL_NU {model.nu}\n",
        f"#define MDL_NP {model.np}\n#define MDL_NV {len(variables)}\n",
        f"#define MDL_REL_TOL {_c_double(model.default_tolerance)}\n\n",
        "#define MDL_KIND_PARAM 0 /* p[index], settable before initialisation; tunable ones also later */\n",
        "#define MDL_KIND_INPUT 1 /* u[index], settable any time */\n",
        "#define MDL_KIND_STATE 2 /* x[index] */\n",
        "#define MDL_KIND_DERIV 3 /* xdot[index] */\n",
        "#define MDL_KIND_CALC 4  /* v[vr] from mdl_vars */\n\n",
        "/* Arrays have one extra element so that empty ones are valid C99. */\n",
        _c_array("int", "mdl_vr_kind", [str(KIND_CODE[v.kind]) for v in variables], "MDL_NV"),
        _c_array("int", "mdl_vr_index", [str(v.index if v.kind != "calculated" else -1) for v in variables], "MDL_NV"),
        _c_array("char *const", "mdl_vr_name", [_c_string(v.name) for v in variables], "MDL_NV"),
        _c_array("double", "mdl_p_start", [_c_double(s) for s in p_start], "MDL_NP"),
        _c_array("double", "mdl_u_start", [_c_double(s) for s in u_start], "MDL_NU"),
        _c_array("double", "mdl_x_nominal", [_c_double(s) for s in x_nominal], "MDL_NX"),
        _c_array("int", "mdl_x_vr", [str(i) for i in x_vr], "MDL_NX"),
        _c_array("int", "mdl_x_start_fixed", ["1" if f else "0" for f in x_start_fixed], "MDL_NX"),
        _c_array("int", "mdl_p_tunable", ["1" if f else "0" for f in p_tunable], "MDL_NP"),
        "\n#endif\n",
    ]
    return "".join(lines)


def generate_sources(model: CausalModel, guid: str, out_dir: Path) -> list[CUnit]:
    """Write the model's C files, model.h and model_data.h into ``out_dir``; return the C files to compile
    (model.c first), each with its optimisation level."""
    out_dir.mkdir(parents=True, exist_ok=True)
    contract = contract_functions(model)
    units: list[CUnit] = []
    wrappers = []
    functions = []
    for cf in contract.functions:
        function = cf.function()
        functions.append(function)
        generated = c_units.generate_function(function, cf.function("_body"), out_dir)
        level = c_units.opt_level(cf.name.removeprefix(PREFIX), function.n_instructions())
        units += [CUnit(name, level) for name in generated.files]
        wrappers.append(c_units.wrapper_source(generated))
    (out_dir / "model.h").write_text(c_units.header_source(functions))
    (out_dir / "model.c").write_text(
        "/* Generated by the O2 Twin built-in exporter (orchestrator/export/codegen.py). Do not edit. */\n"
        '#include "model.h"\n\n' + "\n".join(wrappers)
    )
    (out_dir / "model_data.h").write_text(model_data_header(model, guid, contract.x_start_fixed))
    log.info("%s: generated %d C files", model.name, len(units) + 1)
    return [CUnit("model.c", "-O2"), *units]
