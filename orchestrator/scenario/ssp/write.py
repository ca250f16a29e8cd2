"""Write a scenario's system as an SSP 1.0 archive that other tools (OMSimulator, FMPy, libcosim) open.

- ``SystemStructure.ssd``: one ``Component`` per FMU slave (``resources/<file>.fmu``), its connectors with types and
  units from the FMU's modelDescription.xml, the FMU-to-FMU connections (gain/offset as ``ssc:LinearTransformation``),
  units, and the start/stop time as ``DefaultExperiment``;
- ``resources/<slave>.ssv``: each FMU's parameter values, bound with a ``ParameterBinding``;
- an annotation of type ``org.o2twin.scenario`` on the system holding, as TOML, everything SSP 1.0 cannot express:
  the master settings, events, outputs, plots, metrics, safety and plant tables, FMU rates/interfaces and original
  references, and the Python blocks with their connections. Python blocks are not SSP components; other tools
  ignore the annotation and see the FMU-only system (inputs driven by blocks keep their start values there).
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from lxml import etree

from orchestrator.cosim.system import Connection
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import FMU_SOLVER_KEYS, ScenarioSpec, SlaveSpec
from orchestrator.scenario.ssp.common import (
    ANNOTATION_TYPE,
    FMU_MIME,
    NS,
    O2_NS,
    fmt,
    md_base_units,
    q,
    read_model_description,
    var_unit,
)
from orchestrator.scenario.ssp.units import parse_unit
from orchestrator.scenario.toml import dumps_table, spec_to_table

log = logging.getLogger(__name__)


def _type_element(parent: etree._Element, var: Any, ns: str = "ssc") -> None:
    kind = {"Enumeration": "Integer"}.get(var.type, var.type)
    if kind not in ("Real", "Integer", "Boolean", "String"):
        kind = "Real"
    el = etree.SubElement(parent, q(ns, kind))
    unit = var_unit(var) if kind == "Real" else None
    if unit:
        el.set("unit", unit)


def _ssv_bytes(name: str, parameters: dict[str, Any], md: Any, where: str) -> bytes:
    """A parameter set (.ssv) with a slave's parameter values, typed and with units from the FMU."""
    variables = {v.name: v for v in md.modelVariables}
    root = etree.Element(q("ssv", "ParameterSet"), nsmap={"ssv": NS["ssv"]})
    root.set("version", "1.0")
    root.set("name", name)
    params = etree.SubElement(root, q("ssv", "Parameters"))
    for key, value in parameters.items():
        var = variables.get(key)
        if var is None:
            raise SystemDefinitionError(f"{where}: parameters: the FMU has no variable '{key}'")
        p = etree.SubElement(params, q("ssv", "Parameter"))
        p.set("name", key)
        kind = {"Enumeration": "Integer"}.get(var.type, var.type)
        el = etree.SubElement(p, q("ssv", kind))
        if kind == "Real":
            el.set("value", fmt(value))
            if var_unit(var):
                el.set("unit", str(var_unit(var)))
        elif kind == "Integer":
            el.set("value", str(int(value)))
        elif kind == "Boolean":
            el.set("value", "true" if value else "false")
        else:
            el.set("value", str(value))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _units_element(used: set[str], mds: list[Any]) -> etree._Element | None:
    """ssd:Units for the connector units: from the FMUs' UnitDefinitions, else derived from the unit name;
    a unit neither defines is left out rather than given made-up base units."""
    defined = md_base_units(mds)
    units = etree.Element(q("ssd", "Units"))
    for name in sorted(used):
        base_unit = defined.get(name) or parse_unit(name)
        if base_unit is None:
            log.warning("SSP export: unit '%s' has no definition; it is not listed in the SSD's Units", name)
            continue
        unit = etree.SubElement(units, q("ssc", "Unit"))
        unit.set("name", name)
        base = etree.SubElement(unit, q("ssc", "BaseUnit"))
        for attr, value in base_unit.as_dict().items():
            base.set(attr, str(value))
        if base_unit.factor != 1.0:
            base.set("factor", fmt(base_unit.factor))
        if base_unit.offset != 0.0:
            base.set("offset", fmt(base_unit.offset))
    return units if len(units) else None


def _extras_table(spec: ScenarioSpec, fmu_names: set[str], block_fmus: set[str]) -> dict[str, Any]:
    """What SSP 1.0 cannot hold, as a scenario-like table (stored in the system's o2twin annotation).

    Python blocks exported as FMU components (block_fmus) are still listed under "blocks" (o2twin runs them as
    blocks) and named in "block_fmus" (o2twin's import skips their components); their connections are in the SSD."""
    table = spec_to_table(spec)
    slaves = table.pop("slaves")
    extras: dict[str, Any] = {k: v for k, v in table.items() if k != "connections"}
    extras["blocks"] = {n: body for n, body in slaves.items() if n not in fmu_names}
    if block_fmus:
        extras["block_fmus"] = sorted(block_fmus)
    extras["fmus"] = {
        n: {k: v for k, v in body.items() if k in ("fmu", "interface", "rate", *FMU_SOLVER_KEYS)}
        for n, body in slaves.items()
        if n in fmu_names
    }
    extras["order"] = list(slaves)
    extras["connection_order"] = [f"{c['from']}>{c['to']}" for c in table.get("connections", [])]
    components = fmu_names | block_fmus
    block_conns = [
        c
        for c in table.get("connections", [])
        if c["from"].split(".", 1)[0] not in components or c["to"].split(".", 1)[0] not in components
    ]
    if block_conns:
        extras["block_connections"] = block_conns
    return extras


def _resources(fmu_slaves: list[SlaveSpec], paths: dict[str, Path]) -> tuple[dict[str, str], dict[str, Path]]:
    """(slave -> resource name, resource name -> file): one resource per distinct FMU file (instances share it)."""
    by_digest: dict[str, str] = {}
    component_source: dict[str, str] = {}
    files: dict[str, Path] = {}
    for s in fmu_slaves:
        digest = hashlib.sha256(paths[s.name].read_bytes()).hexdigest()
        if digest not in by_digest:
            stem, name, n = paths[s.name].stem, f"resources/{paths[s.name].stem}.fmu", 1
            while name in files:
                n += 1
                name = f"resources/{stem}_{n}.fmu"
            by_digest[digest] = name
            files[name] = paths[s.name]
        component_source[s.name] = by_digest[digest]
    return component_source, files


def _component(
    elements: etree._Element,
    s: SlaveSpec,
    md: Any,
    source: str,
    fmu_conns: list[Connection],
    used_units: set[str],
    ssv_files: dict[str, bytes],
    where: str,
) -> None:
    """One FMU slave as an ssd:Component: connectors, and a parameter binding to its .ssv."""
    variables = {v.name: v for v in md.modelVariables}
    comp = etree.SubElement(elements, q("ssd", "Component"))
    comp.set("name", s.name)
    comp.set("type", FMU_MIME)
    comp.set("source", source)
    comp.set("implementation", "CoSimulation" if s.interface == "cs" else "ModelExchange")
    for c in fmu_conns:
        for slave_name, var_name in ((c.source_slave, c.source_var), (c.target_slave, c.target_var)):
            if slave_name == s.name and var_name not in variables:
                raise SystemDefinitionError(
                    f"{where}: connection {c.source} -> {c.target}: {s.name} has no variable '{var_name}'"
                )
    # connectors: every output, and the inputs another FMU drives (fmpy's runner needs each declared input
    # connected); parameters are bound through the .ssv, not connectors
    driven = {c.target_var for c in fmu_conns if c.target_slave == s.name}
    wanted = [v for v in md.modelVariables if v.causality == "output" or (v.causality == "input" and v.name in driven)]
    if wanted:
        connectors = etree.SubElement(comp, q("ssd", "Connectors"))
        for v in wanted:
            con = etree.SubElement(connectors, q("ssd", "Connector"))
            con.set("name", v.name)
            con.set("kind", v.causality)
            if v.description:
                con.set("description", v.description)
            _type_element(con, v)
            if v.type == "Real" and var_unit(v):
                used_units.add(str(var_unit(v)))
    if s.parameters:
        ssv_name = f"resources/{s.name}.ssv"
        ssv_files[ssv_name] = _ssv_bytes(s.name, s.parameters, md, f"{where}: [slaves.{s.name}]")
        bindings = etree.SubElement(comp, q("ssd", "ParameterBindings"))
        binding = etree.SubElement(bindings, q("ssd", "ParameterBinding"))
        binding.set("source", ssv_name)


def _connection(parent: etree._Element, c: Connection, mds: dict[str, Any]) -> None:
    """One FMU-to-FMU connection as an ssd:Connection (gain/offset as a LinearTransformation)."""
    el = etree.SubElement(parent, q("ssd", "Connection"))
    el.set("startElement", c.source_slave)
    el.set("startConnector", c.source_var)
    el.set("endElement", c.target_slave)
    el.set("endConnector", c.target_var)
    src_unit = var_unit({v.name: v for v in mds[c.source_slave].modelVariables}[c.source_var])
    dst_unit = var_unit({v.name: v for v in mds[c.target_slave].modelVariables}[c.target_var])
    if src_unit and dst_unit and src_unit != dst_unit:
        # our gain/offset already converts; an SSP tool must not convert the units a second time
        el.set("suppressUnitConversion", "true")
    if c.gain != 1.0 or c.offset != 0.0:
        lt = etree.SubElement(el, q("ssc", "LinearTransformation"))
        lt.set("factor", fmt(c.gain))
        lt.set("offset", fmt(c.offset))


def _write_archive(out_path: Path, root: etree._Element, ssv_files: dict[str, bytes], files: dict[str, Path]) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "SystemStructure.ssd", etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )
        for name, data in ssv_files.items():
            z.writestr(name, data)
        for name, path in files.items():
            z.write(path, name)
    os.replace(tmp, out_path)


def write_ssp(
    spec: ScenarioSpec,
    out_path: str | os.PathLike,
    fmu_paths: dict[str, Path],
    block_fmus: dict[str, Path] | None = None,
) -> Path:
    """Write the spec's system as an SSP 1.0 archive; ``fmu_paths`` maps each FMU slave to its .fmu file and
    ``block_fmus`` Python blocks to FMUs of them (orchestrator.cosim.slaves.block_fmu), which then become
    components too, so other tools run the closed loop (their parameter values are inside those FMUs)."""
    out_path = Path(out_path)
    block_fmus = dict(block_fmus or {})
    where = spec.source or "<scenario>"
    fmu_slaves = [s for s in spec.slaves.values() if s.kind == "fmu"]
    if not fmu_slaves:
        raise SystemDefinitionError(
            f"{where}: SSP export needs at least one FMU slave; this system has only Python blocks"
        )
    missing = [s.name for s in fmu_slaves if s.name not in fmu_paths]
    if missing:
        raise ValueError(f"write_ssp: no .fmu file given for {', '.join(missing)}")
    fmu_names = {s.name for s in fmu_slaves}
    # blocks exported as FMUs: components like the FMU slaves, with their values inside the FMU (no .ssv)
    block_specs = [replace(s, parameters={}) for s in spec.slaves.values() if s.name in block_fmus]
    paths = {**fmu_paths, **block_fmus}
    components = [*fmu_slaves, *block_specs]
    component_names = {s.name for s in components}
    component_source, files = _resources(components, paths)
    mds = {s.name: read_model_description(paths[s.name], f"{where}: [slaves.{s.name}]") for s in components}

    fmu_conns = [c for c in spec.connections if c.source_slave in component_names and c.target_slave in component_names]
    root = etree.Element(q("ssd", "SystemStructureDescription"), nsmap={"ssd": NS["ssd"], "ssc": NS["ssc"]})
    root.set("version", "1.0")
    root.set("name", spec.name)
    root.set("generationTool", "o2twin")
    system = etree.SubElement(root, q("ssd", "System"))
    system.set("name", "system")
    if spec.description:
        system.set("description", spec.description)
    elements = etree.SubElement(system, q("ssd", "Elements"))
    used_units: set[str] = set()
    ssv_files: dict[str, bytes] = {}
    for s in components:
        _component(elements, s, mds[s.name], component_source[s.name], fmu_conns, used_units, ssv_files, where)
    if fmu_conns:
        conns = etree.SubElement(system, q("ssd", "Connections"))
        for c in fmu_conns:
            _connection(conns, c, mds)
    annotations = etree.SubElement(system, q("ssd", "Annotations"))
    annotation = etree.SubElement(annotations, q("ssc", "Annotation"))
    annotation.set("type", ANNOTATION_TYPE)
    extras = etree.SubElement(annotation, f"{{{O2_NS}}}Scenario", nsmap={"o2": O2_NS})
    extras.text = etree.CDATA(dumps_table(_extras_table(spec, fmu_names, set(block_fmus))))
    units = _units_element(used_units, list(mds.values()))
    if units is not None:
        root.append(units)
    experiment = etree.SubElement(root, q("ssd", "DefaultExperiment"))
    experiment.set("startTime", fmt(spec.start_time))
    experiment.set("stopTime", fmt(spec.stop_time))
    _write_archive(out_path, root, ssv_files, files)
    log.info("wrote %s: %d FMU components (%d of them Python blocks), %d connections", out_path, len(components),
             len(block_specs), len(fmu_conns))  # fmt: skip
    return out_path
