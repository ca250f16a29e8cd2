"""FMI 3.0 modelDescription.xml from a CausalModel (Model Exchange and Co-Simulation in one FMU).

The same model as the FMI 2.0 description (model_description.py, whose dependency analysis it reuses), written as
FMI 3.0: every variable a Float64 with value reference = its index, the independent variable ``time`` after them
(value reference nx+nz+...= MDL_NV, answered by runtime/o2_fmi3.c), ``derivative`` and ModelStructure
dependencies as value references, the capability flags of FMI 3.0, and the instantiationToken in place of the
GUID. Source files are listed in sources/buildDescription.xml (FMI 3.0 has no SourceFiles element).
"""

from __future__ import annotations

import datetime as _dt
import xml.etree.ElementTree as ET

from orchestrator.export.causal_model import CausalModel, ModelVariable
from orchestrator.export.model_description import (
    _STRUCTURED_NAME,
    GENERATION_TOOL,
    _fmt,
    _initial_unknowns,
    _Structure,
    add_units_and_experiment,
    variable_attributes,
    variable_initial,
)


def time_value_reference(model: CausalModel) -> int:
    """The value reference of ``time`` (after the model's variables; MDL_NV in the generated C)."""
    return len(model.variables)


def _root(model: CausalModel, token: str) -> ET.Element:
    naming = "structured" if all(_STRUCTURED_NAME.match(v.name) for v in model.variables) else "flat"
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    attrs = {"fmiVersion": "3.0", "modelName": model.name, "instantiationToken": token}
    if model.description:
        attrs["description"] = model.description
    attrs.update(generationTool=GENERATION_TOOL, generationDateAndTime=now, variableNamingConvention=naming)
    return ET.Element("fmiModelDescription", attrs)


def _add_interfaces(root: ET.Element, model: CausalModel) -> None:
    common = {
        "modelIdentifier": model.identifier,
        "canGetAndSetFMUState": "true",
        "canSerializeFMUState": "true",
        "providesDirectionalDerivatives": "true",
    }
    ET.SubElement(root, "ModelExchange", {**common, "needsCompletedIntegratorStep": "false"})
    ET.SubElement(
        root,
        "CoSimulation",
        {**common, "canHandleVariableCommunicationStepSize": "true", "maxOutputDerivativeOrder": "0",
         "hasEventMode": "false"},
    )  # fmt: skip


def _add_variable(parent: ET.Element, vr: int, var: ModelVariable) -> None:
    """One Float64 variable (start only where FMI allows it)."""
    attrs = variable_attributes(vr, var)
    initial = variable_initial(var)
    if var.unit:
        attrs["unit"] = var.unit
    for key in ("min", "max", "nominal"):
        value = getattr(var, key)
        if value is not None:
            attrs[key] = _fmt(value)
    if var.start is not None and (initial != "calculated" or var.causality in ("parameter", "input")):
        attrs["start"] = _fmt(var.start)
    if var.kind == "derivative" and var.derivative_of is not None:
        attrs["derivative"] = str(var.derivative_of)
    ET.SubElement(parent, "Float64", attrs)


def _add_unknowns(parent: ET.Element, tag: str, unknowns: list[int], deps: list[set[int]]) -> None:
    for vr in unknowns:
        known = deps[vr] - {vr} if tag == "InitialUnknown" else deps[vr]
        ET.SubElement(parent, tag, {"valueReference": str(vr), "dependencies": " ".join(map(str, sorted(known)))})


def _add_model_structure(root: ET.Element, model: CausalModel) -> None:
    variables = model.variables
    structure = _Structure(model)
    outputs = [vr for vr, v in enumerate(variables) if v.causality == "output"]
    derivatives = sorted(
        (vr for vr, v in enumerate(variables) if v.kind == "derivative"), key=lambda vr: variables[vr].index
    )
    ms = ET.SubElement(root, "ModelStructure")
    continuous = structure.continuous()
    _add_unknowns(ms, "Output", outputs, continuous)
    _add_unknowns(ms, "ContinuousStateDerivative", derivatives, continuous)
    _add_unknowns(ms, "InitialUnknown", _initial_unknowns(variables, derivatives), structure.initial())


def fmi3_model_description_xml(model: CausalModel, token: str) -> str:
    """The FMI 3.0 modelDescription.xml of a CausalModel as a string (ME + CS, same modelIdentifier)."""
    root = _root(model, token)
    _add_interfaces(root, model)
    add_units_and_experiment(root, model)
    model_variables = ET.SubElement(root, "ModelVariables")
    ET.SubElement(
        model_variables,
        "Float64",
        {"name": "time", "valueReference": str(time_value_reference(model)), "causality": "independent",
         "variability": "continuous", "description": "simulation time"},
    )  # fmt: skip
    for vr, var in enumerate(model.variables):
        _add_variable(model_variables, vr, var)
    _add_model_structure(root, model)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
