"""FMI 2.0 modelDescription.xml from a CausalModel (Model Exchange and Co-Simulation in one FMU).

The ModelStructure dependencies are structural: they come from the Jacobian sparsity of the CasADi functions,
propagated through the algebraic loops (z from g = 0) and, for the initial unknowns, through the initialisation
system, in the block-triangular order of a Dulmage-Mendelsohn decomposition.
"""

from __future__ import annotations

import datetime as _dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import casadi as ca

from orchestrator import __version__
from orchestrator.export.causal_model import CausalModel, ModelVariable

GENERATION_TOOL = f"O2 Twin built-in exporter {__version__}"

# A name is legal under FMI's "structured" convention when every part is an identifier with optional indices.
_STRUCTURED_PART = r"([A-Za-z_][A-Za-z0-9_]*|'[^']+')(\[\d+(,\d+)*\])?"
_STRUCTURED_NAME = re.compile(rf"^(der\()?{_STRUCTURED_PART}(\.{_STRUCTURED_PART})*(\))?$")

# In (t, x, z, u, p) the inputs of dae / vars / init_res.
_X, _Z, _U, _P = 1, 2, 3, 4


def _fmt(value: float) -> str:
    """Shortest round-trip representation of a float (repr keeps 17 significant digits when needed)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") and "e" not in text else text


def variable_initial(var: ModelVariable) -> str | None:
    """The FMI initial attribute written for a variable (None: the attribute is left out, FMI default applies)."""
    if var.initial is not None:
        return var.initial
    if var.kind in ("parameter", "input"):
        return None
    if var.kind == "state":
        return "exact" if var.start is not None else "approx"
    return "calculated"


def _cols_by_row(sp: ca.Sparsity) -> list[list[int]]:
    """For each row of a sparsity pattern, the columns with a structural nonzero."""
    out: list[list[int]] = [[] for _ in range(sp.size1())]
    rows, cs = sp.get_triplet()
    for r, c in zip(rows, cs, strict=True):
        out[r].append(c)
    return out


def solve_dependencies(
    jac_unknowns: ca.Sparsity,
    known_deps_of_rows: Sequence[set[int]],
    fixed_deps: dict[int, set[int]] | None = None,
) -> list[set[int]]:
    """Structural dependencies of the unknowns of a square system F(unknowns, knowns) = 0 on the knowns.

    ``jac_unknowns`` is the sparsity of dF/dunknowns; ``known_deps_of_rows[i]`` the knowns equation i references
    directly. The system is put in block lower-triangular form (Dulmage-Mendelsohn); each block's unknowns depend on
    the knowns of its equations and on what the unknowns of earlier blocks depend on. ``fixed_deps`` overrides the
    result for some unknowns (e.g. states with an exact start value are knowns themselves).
    """
    n = jac_unknowns.size2()
    deps: list[set[int]] = [set() for _ in range(n)]
    if n == 0:
        return deps
    fixed_deps = fixed_deps or {}
    row_cols = _cols_by_row(jac_unknowns)
    nb, rowperm, colperm, rowblock, colblock, _, _ = jac_unknowns.btf()
    for b in range(nb):
        rows = [rowperm[k] for k in range(rowblock[b], rowblock[b + 1])]
        cols = [colperm[k] for k in range(colblock[b], colblock[b + 1])]
        members = set(cols)
        block_deps: set[int] = set()
        for r in rows:
            block_deps |= known_deps_of_rows[r]
            for c in row_cols[r]:
                if c not in members:
                    block_deps |= deps[c]
        for c in cols:
            deps[c] = set(fixed_deps[c]) if c in fixed_deps else set(block_deps)
    return deps


def _direct_deps(fn: ca.Function, oind: int, index_to_vr: dict[int, list[int]]) -> list[set[int]]:
    """Per output row of fn's output ``oind``: the value references of the knowns it references directly.

    ``index_to_vr`` maps a function input index to the value reference of each of its entries (or -1 for entries
    that are not knowns, which are skipped).
    """
    rows = fn.size1_out(oind)
    out: list[set[int]] = [set() for _ in range(rows)]
    for iind, vrs in index_to_vr.items():
        if fn.size1_in(iind) == 0 or rows == 0:
            continue
        for r, cols in enumerate(_cols_by_row(fn.jac_sparsity(oind, iind, False))):
            out[r].update(vrs[c] for c in cols if vrs[c] >= 0)
    return out


class _Structure:
    """Dependencies of every variable on the continuous-time knowns (states, inputs) and on the initial knowns."""

    def __init__(self, model: CausalModel) -> None:
        self.model = model
        self.x_vr = [-1] * model.nx
        self.u_vr = [-1] * model.nu
        self.p_vr = [-1] * model.np
        for vr, var in enumerate(model.variables):
            if var.kind == "state":
                self.x_vr[var.index] = vr
            elif var.kind == "input":
                self.u_vr[var.index] = vr
            elif var.kind == "parameter":
                self.p_vr[var.index] = vr
        self.exact_states = {i for i, vr in enumerate(self.x_vr) if variable_initial(model.variables[vr]) == "exact"}

    def continuous(self) -> list[set[int]]:
        """Per value reference: the states and inputs (value references) it depends on, through z = z(x, u)."""
        m = self.model
        knowns = {_X: self.x_vr, _U: self.u_vr}
        z_deps: list[set[int]] = []
        if m.nz:
            res_known = _direct_deps(m.dae, 1, knowns)
            z_deps = solve_dependencies(m.dae.jac_sparsity(1, _Z, False), res_known)
        return self._through(knowns, z_deps, [])

    def initial(self) -> list[set[int]]:
        """Per value reference: the knowns at initialisation (inputs, parameters, exact states) it depends on."""
        m = self.model
        nx = m.nx
        knowns = {_U: self.u_vr, _P: self.p_vr}
        n_res = m.init_res.size1_out(0)
        if n_res == 0:
            return self._through(knowns, [], [])
        row_known = _direct_deps(m.init_res, 0, knowns)
        blocks = [m.init_res.jac_sparsity(0, _X, False)]
        if m.nz:
            blocks.append(m.init_res.jac_sparsity(0, _Z, False))
        jac = ca.horzcat(*blocks)
        fixed = {i: {self.x_vr[i]} for i in self.exact_states}
        xz_deps = solve_dependencies(jac, row_known, fixed)
        return self._through(knowns, xz_deps[nx:], xz_deps[:nx])

    def _through(self, knowns: dict[int, list[int]], z_deps: list[set[int]], x_deps: list[set[int]]) -> list[set[int]]:
        """Dependencies of vars: direct knowns plus what referenced x (if unknown) and z depend on."""
        m = self.model
        v_deps = _direct_deps(m.vars, 0, knowns)
        indirect = {}
        if m.nz and z_deps:
            indirect[_Z] = z_deps
        if x_deps:
            indirect[_X] = x_deps
        for iind, per_entry in indirect.items():
            for r, cols in enumerate(_cols_by_row(m.vars.jac_sparsity(0, iind, False))):
                for c in cols:
                    v_deps[r] |= per_entry[c]
        return v_deps


def _deps_attr(deps: set[int]) -> str:
    """ModelStructure dependencies: 1-based ModelVariables indices (= value reference + 1), sorted."""
    return " ".join(str(vr + 1) for vr in sorted(deps))


def _root(model: CausalModel, guid: str) -> ET.Element:
    """fmiModelDescription with its attributes (naming convention from the variable names)."""
    naming = "structured" if all(_STRUCTURED_NAME.match(v.name) for v in model.variables) else "flat"
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    attrs = {
        "fmiVersion": "2.0",
        "modelName": model.name,
        "guid": guid,
        "description": model.description,
        "generationTool": GENERATION_TOOL,
        "generationDateAndTime": now,
        "variableNamingConvention": naming,
        "numberOfEventIndicators": "0",
    }
    if not model.description:
        del attrs["description"]
    return ET.Element("fmiModelDescription", attrs)


def _add_interfaces(root: ET.Element, model: CausalModel, source_files: list[str]) -> None:
    """ModelExchange and CoSimulation (same modelIdentifier and capabilities), each listing the source files."""
    common = {
        "modelIdentifier": model.identifier,
        "canGetAndSetFMUstate": "true",
        "canSerializeFMUstate": "true",
        "providesDirectionalDerivative": "true",
        "canNotUseMemoryManagementFunctions": "true",
    }
    me = ET.SubElement(root, "ModelExchange", {**common, "completedIntegratorStepNotNeeded": "true"})
    cs_only = {
        "canHandleVariableCommunicationStepSize": "true",
        "canInterpolateInputs": "true",
        "maxOutputDerivativeOrder": "0",
    }
    cs = ET.SubElement(root, "CoSimulation", {**common, **cs_only})
    for element in (me, cs):
        files = ET.SubElement(element, "SourceFiles")
        for name in source_files:
            ET.SubElement(files, "File", {"name": name})


def add_units_and_experiment(root: ET.Element, model: CausalModel) -> None:
    """UnitDefinitions (every unit a variable uses) and DefaultExperiment."""
    units = sorted({v.unit for v in model.variables if v.unit})
    if units:
        unit_defs = ET.SubElement(root, "UnitDefinitions")
        for unit in units:
            ET.SubElement(unit_defs, "Unit", {"name": unit})
    experiment = {
        "startTime": "0",
        "stopTime": _fmt(model.default_stop_time),
        "tolerance": _fmt(model.default_tolerance),
    }
    ET.SubElement(root, "DefaultExperiment", experiment)


def variable_attributes(vr: int, var: ModelVariable) -> dict[str, str]:
    """The attributes FMI 2.0 and 3.0 share for a variable: name, valueReference, description, causality,
    variability, and initial where FMI allows it."""
    attrs = {"name": var.name, "valueReference": str(vr)}
    if var.description:
        attrs["description"] = var.description
    attrs["causality"] = var.causality
    attrs["variability"] = var.variability
    initial = variable_initial(var)
    if initial is not None and var.causality not in ("parameter", "input"):
        attrs["initial"] = initial
    return attrs


def _add_scalar_variable(parent: ET.Element, vr: int, var: ModelVariable) -> None:
    """One ScalarVariable with its Real element (start only where FMI allows it)."""
    attrs = variable_attributes(vr, var)
    initial = variable_initial(var)
    sv = ET.SubElement(parent, "ScalarVariable", attrs)
    real: dict[str, str] = {}
    if var.kind == "derivative" and var.derivative_of is not None:
        real["derivative"] = str(var.derivative_of + 1)
    if var.unit:
        real["unit"] = var.unit
    for key in ("min", "max", "nominal"):
        value = getattr(var, key)
        if value is not None:
            real[key] = _fmt(value)
    if var.start is not None and (initial != "calculated" or var.causality in ("parameter", "input")):
        real["start"] = _fmt(var.start)
    ET.SubElement(sv, "Real", real)


def _initial_unknowns(variables: list[ModelVariable], derivatives: list[int]) -> list[int]:
    """Value references of the InitialUnknowns: outputs and states computed at initialisation, derivatives."""
    unknowns = {
        vr
        for vr, var in enumerate(variables)
        if var.causality == "output" and variable_initial(var) in ("approx", "calculated")
    }
    for vr in derivatives:
        unknowns.add(vr)
        state_vr = variables[vr].derivative_of
        if state_vr is not None and variable_initial(variables[state_vr]) in ("approx", "calculated"):
            unknowns.add(state_vr)
    return sorted(unknowns)


def _add_unknowns(parent: ET.Element, tag: str, unknowns: list[int], deps: list[set[int]]) -> None:
    """A ModelStructure list (Outputs, Derivatives, InitialUnknowns); left out when empty. An initial unknown
    never lists itself (a state output does depend on itself in continuous time)."""
    if not unknowns:
        return
    element = ET.SubElement(parent, tag)
    for vr in unknowns:
        known = deps[vr] - {vr} if tag == "InitialUnknowns" else deps[vr]
        ET.SubElement(element, "Unknown", {"index": str(vr + 1), "dependencies": _deps_attr(known)})


def _add_model_structure(root: ET.Element, model: CausalModel) -> None:
    """ModelStructure: outputs and derivatives on the states and inputs, initial unknowns on the initial knowns."""
    variables = model.variables
    structure = _Structure(model)
    outputs = [vr for vr, v in enumerate(variables) if v.causality == "output"]
    derivatives = sorted(
        (vr for vr, v in enumerate(variables) if v.kind == "derivative"), key=lambda vr: variables[vr].index
    )
    ms = ET.SubElement(root, "ModelStructure")
    continuous = structure.continuous()
    _add_unknowns(ms, "Outputs", outputs, continuous)
    _add_unknowns(ms, "Derivatives", derivatives, continuous)
    _add_unknowns(ms, "InitialUnknowns", _initial_unknowns(variables, derivatives), structure.initial())


def model_description_xml(model: CausalModel, guid: str, source_files: list[str]) -> str:
    """The FMI 2.0 modelDescription.xml of a CausalModel as a string (ME + CS, same modelIdentifier).

    ``source_files`` are the C files under sources/ that must be compiled to rebuild the binary.
    """
    root = _root(model, guid)
    _add_interfaces(root, model, source_files)
    add_units_and_experiment(root, model)
    model_variables = ET.SubElement(root, "ModelVariables")
    for vr, var in enumerate(model.variables):
        _add_scalar_variable(model_variables, vr, var)
    _add_model_structure(root, model)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
