"""The generated C of a model as compilation units of bounded size, each with its own optimisation level.

CasADi generates each contract function (mdl_dae, mdl_dae_jac, ...) of an SX model as one straight-line C
function: `aK=<operation>;` statements on local variables, and `if (res[i]!=0) res[i][k]=aK;` stores. Of a large
model that is one huge function, and C compilers take time superlinear in a function's size and cannot share it
between cores. So the body is re-emitted in chunks of at most `MAX_CHUNK_STATEMENTS` statements, each a function
in its own file (`<name>_c<k>.c`) with its own locals; a value computed in one chunk and read in a later one
passes through a slot of the work vector (`v[K]`, found by a liveness pass), so nothing is computed twice. The
chunks compile in parallel, and the cost of an export grows linearly with the model. The stores lose their NULL
test (thousands of branches made gcc -O1 take minutes on one chunk): the contract requires every non-empty output
pointer to be non-NULL. Bodies of other shapes (MX functions) stay as CasADi wrote them.

model.c holds the contract functions the runtime calls (docs/exporter-contract.md): each calls its generated
body, reports the work sizes (the body's plus the slots of a chunked body) and gives the output sparsity.

The optimisation level follows how often the runtime calls a function and how large it is (`opt_level`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import casadi as ca

#: A function body longer than this many statements is cut into chunks of at most this size.
MAX_CHUNK_STATEMENTS = 8000

#: How often the runtime calls each contract function (by name without prefix): "hot" in every integrator step,
#: "warm" once per communication step, "cold" at initialisation or on request.
CALL_FREQUENCY = {
    "dae": "hot",
    "dae_jac": "hot",
    "vars": "warm",
    "dae_jac_u": "cold",
    "vars_fwd": "cold",
    "init_guess": "cold",
    "init_res": "cold",
    "init_jac": "cold",
}

#: (largest function size in instructions, compiler optimisation level) per call frequency, first match wins.
#: gcc needs about 0.05 / 0.25 / 0.35 ms of CPU per instruction at -O0 / -O1 / -O2 (measured on this project's
#: x86-64 machine), so a function compiled at -O0 costs about a seventh; -O2 is kept for what the integrator
#: calls in every step, as far as the model's size allows.
OPT_LEVELS: dict[str, tuple[tuple[int | None, str], ...]] = {
    "hot": ((30000, "-O2"), (80000, "-O1"), (None, "-O0")),
    "warm": ((30000, "-O1"), (None, "-O0")),
    "cold": ((5000, "-O1"), (None, "-O0")),
}

SIGNATURE = "(const casadi_real** arg, casadi_real** res, casadi_int* iw, casadi_real* w, int mem)"
WORK_SIGNATURE = "(casadi_int* sz_arg, casadi_int* sz_res, casadi_int* sz_iw, casadi_int* sz_w)"
CHUNK_SIGNATURE = "(const casadi_real** arg, casadi_real** res, casadi_real* restrict v)"

_BODY = re.compile(r"^static int casadi_f0\(.*?\) \{\n(?P<body>.*?)\n\}\n", re.S | re.M)
_DECLARATION = re.compile(r"^  casadi_real (a\d+(, a\d+)*);$")
_ASSIGN = re.compile(r"^  (a\d+)=([^;]*);$")
_STORE = re.compile(r"^  if \(res\[(\d+)\]!=0\) (res\[\1\]\[\d+\])=(a\d+);$")
_NAME = re.compile(r"\ba\d+\b")
_LOAD = re.compile(r"^arg\[(\d+)\]\? arg\[\1\]\[(\d+)\] : 0$")


@dataclass(frozen=True)
class CUnit:
    """A C file under sources/ and the optimisation flag it is compiled with."""

    name: str
    opt_level: str


@dataclass(frozen=True)
class GeneratedFunction:
    """A contract function generated as C: its files and the work-vector slots its chunks need."""

    function: ca.Function
    files: list[str]
    extra_w: int

    @property
    def body_name(self) -> str:
        return self.function.name() + "_body"


def opt_level(function_name: str, n_instructions: int) -> str:
    """The optimisation flag for a contract function of this size (see OPT_LEVELS)."""
    for limit, level in OPT_LEVELS[CALL_FREQUENCY.get(function_name, "cold")]:
        if limit is None or n_instructions <= limit:
            return level
    raise AssertionError("OPT_LEVELS must end with a catch-all")


class _Statement(NamedTuple):
    """One statement of a straight-line body: its C text, the local it assigns (None for an output store) and
    the locals it reads."""

    text: str
    target: str | None
    reads: list[str]


def _statements(body: str) -> list[_Statement] | None:
    """The statements of a CasADi SX function body, or None when it is not of the plain straight-line form.

    Output stores lose their NULL test (see the module docstring), and each input load `aK=arg[i]? arg[i][k] : 0;`
    is dropped and aK read as arg[i][k] until it is overwritten: CasADi loads every input into its own local up
    front, so a model with thousands of states has thousands of values live at once (the compiler's register
    allocation then takes minutes); reading the input where it is used keeps them short-lived. (Inputs are never
    NULL where they have entries; see the contract.)"""
    lines = body.split("\n")
    if lines[-1] != "  return 0;":
        return None
    loaded: dict[str, str] = {}
    out = []
    for line in lines[:-1]:
        if m := _ASSIGN.match(line):
            target, lhs, expression = m[1], m[1], m[2]
            if expression.startswith("arg[") and (load := _LOAD.match(expression)):
                loaded[target] = f"arg[{load[1]}][{load[2]}]"
                continue
        elif _DECLARATION.match(line):
            continue
        elif m := _STORE.match(line):
            target, lhs, expression = None, m[2], m[3]
        else:
            return None
        reads = _NAME.findall(expression)
        if loaded and any(r in loaded for r in reads):
            expression = _NAME.sub(lambda k: loaded.get(k[0], k[0]), expression)
            reads = [r for r in reads if r not in loaded]
        if target:
            loaded.pop(target, None)
        out.append(_Statement(f"  {lhs}={expression};", target, reads))
    return out


def _slot(name: str) -> int:
    return int(name[1:])


def _chunk_source(statements: list[_Statement], live_in: set[str], stores: set[str]) -> str:
    """The body of one chunk: its locals declared, the values it reads from earlier chunks loaded from v, its
    statements, and the values later chunks read stored to v."""
    used = sorted({s.target for s in statements if s.target} | {r for s in statements for r in s.reads}, key=_slot)
    lines = [f"  casadi_real {', '.join(used[i : i + 12])};" for i in range(0, len(used), 12)]
    lines += [f"  {k}=v[{_slot(k)}];" for k in sorted(live_in, key=_slot)]
    lines += [s.text for s in statements]
    lines += [f"  v[{_slot(k)}]={k};" for k in sorted(stores, key=_slot)]
    return "\n".join(lines)


def _chunks(statements: list[_Statement], max_statements: int) -> tuple[list[str], int]:
    """The statements cut into chunk bodies that pass the values live across a cut through the work slots v[K]
    (a backward liveness pass over the chunks), and the number of slots (0 for a single chunk)."""
    n_chunks = max(1, math.ceil(len(statements) / max_statements))
    size = max(1, math.ceil(len(statements) / n_chunks))
    parts = [statements[k : k + size] for k in range(0, len(statements), size)] or [[]]
    exposed: list[set[str]] = []  # read in the chunk before written in it
    written: list[set[str]] = []
    for part in parts:
        seen: set[str] = set()
        reads: set[str] = set()
        for s in part:
            reads.update(r for r in s.reads if r not in seen)
            if s.target:
                seen.add(s.target)
        exposed.append(reads)
        written.append(seen)
    live: set[str] = set()  # read by a later chunk before being overwritten there
    bodies = []
    for c in range(len(parts) - 1, -1, -1):
        bodies.append(_chunk_source(parts[c], exposed[c], live & written[c]))
        live = exposed[c] | (live - written[c])
    if len(parts) == 1:
        return bodies, 0
    return bodies[::-1], 1 + max((_slot(k) for w in written for k in w), default=-1)


def generate_function(
    function: ca.Function, body_fn: ca.Function, folder: Path, max_statements: int | None = None
) -> GeneratedFunction:
    """Generate the contract function ``function``, computed by ``body_fn`` (the same function named
    <name>_body), into folder/<name>.c, the body cut into <name>_c<k>.c files when it has more than
    ``max_statements`` (default MAX_CHUNK_STATEMENTS) statements."""
    name = function.name()
    options = {"with_header": False, "casadi_int": "int", "casadi_real": "double", "prefix": f"{name}_"}
    cg = ca.CodeGenerator(f"{name}.c", {**options, "with_export": False})
    cg.add(body_fn)
    code = cg.dump()
    match = _BODY.search(code)
    statements = _statements(match["body"]) if match else None
    limit = max_statements or MAX_CHUNK_STATEMENTS
    if match is None or statements is None:
        (folder / f"{name}.c").write_text(code)
        return GeneratedFunction(function, [f"{name}.c"], 0)
    chunks, n_slots = _chunks(statements, limit)
    preamble = code[: match.start()]
    files = [f"{name}.c"]
    calls = []
    for k, chunk_body in enumerate(chunks):
        chunk = f"{name}_c{k}"
        own_prefix = preamble.replace(f"CASADI_PREFIX(ID) {name}__ ## ID", f"CASADI_PREFIX(ID) {chunk}__ ## ID")
        text = f"{own_prefix}void {chunk}{CHUNK_SIGNATURE} {{\n{chunk_body}\n}}\n"
        (folder / f"{chunk}.c").write_text(text)
        files.append(f"{chunk}.c")
        calls.append(f"  {chunk}(arg, res, v);\n")
    declarations = "".join(f"void {name}_c{k}{CHUNK_SIGNATURE};\n" for k in range(len(chunks)))
    driver = (
        f"{declarations}static int casadi_f0{SIGNATURE} {{\n  casadi_real* v = w + {body_fn.sz_w()};\n"
        f"  (void)iw; (void)mem;\n{''.join(calls)}  return 0;\n}}\n"
    )
    (folder / f"{name}.c").write_text(preamble + driver + code[match.end() :])
    return GeneratedFunction(function, files, n_slots)


def _c_ints(values: Sequence[int]) -> str:
    lines = [", ".join(str(v) for v in values[k : k + 16]) for k in range(0, len(values), 16)]
    return "{\n  " + ",\n  ".join(lines) + "}" if lines else "{0}"


def _sparsity_array(name: str, sp: ca.Sparsity) -> str:
    """A CasADi-style compressed-column pattern [nrow, ncol, colind..., row...] as a C array."""
    values = [sp.size1(), sp.size2(), *sp.colind(), *sp.row()]
    return f"static const casadi_int {name}[{len(values)}] = {_c_ints(values)};\n"


def wrapper_source(generated: GeneratedFunction) -> str:
    """C of one contract function: calls its generated body, reports the work sizes and output sparsity."""
    fn = generated.function
    name, body = fn.name(), generated.body_name
    sz_arg, sz_res, sz_iw = max(fn.sz_arg(), fn.n_in()), max(fn.sz_res(), fn.n_out()), fn.sz_iw()
    sz_w = fn.sz_w() + generated.extra_w
    lines = [
        f"int {body}{SIGNATURE};\n",
        f"int {name}{SIGNATURE} {{\n  return {body}(arg, res, iw, w, mem);\n}}\n",
        f"int {name}_work{WORK_SIGNATURE} {{\n"
        f"  *sz_arg = {sz_arg}; *sz_res = {sz_res}; *sz_iw = {sz_iw}; *sz_w = {sz_w};\n  return 0;\n}}\n",
    ]
    cases = []
    for i in range(fn.n_out()):
        lines.append(_sparsity_array(f"{name}_sp_out{i}", fn.sparsity_out(i)))
        cases.append(f"    case {i}: return {name}_sp_out{i};\n")
    lines.append(
        f"const casadi_int* {name}_sparsity_out(casadi_int i) {{\n  switch (i) {{\n{''.join(cases)}"
        "    default: return 0;\n  }\n}\n"
    )
    return "".join(lines)


def header_source(functions: Sequence[ca.Function]) -> str:
    """model.h: the contract functions' C interface used by the runtime."""
    lines = [
        "/* Generated by the O2 Twin built-in exporter (orchestrator/export/c_units.py). Do not edit. */\n",
        "#ifndef MODEL_H\n#define MODEL_H\n\n#ifndef casadi_real\n#define casadi_real double\n#endif\n",
        "#ifndef casadi_int\n#define casadi_int int\n#endif\n\n",
    ]
    for fn in functions:
        name = fn.name()
        lines.append(f"int {name}{SIGNATURE};\n")
        lines.append(f"int {name}_work{WORK_SIGNATURE};\n")
        lines.append(f"const casadi_int* {name}_sparsity_out(casadi_int i);\n")
    lines.append("\n#endif\n")
    return "".join(lines)
