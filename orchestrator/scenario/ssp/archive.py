"""SSP 1.0 (System Structure and Parameterization) export and import of a scenario's system.

Export writes an .ssp archive that other tools (OMSimulator, FMPy, libcosim) open:
- ``SystemStructure.ssd``: one ``Component`` per FMU slave (``resources/<file>.fmu``), its connectors with types and
  units from the FMU's modelDescription.xml, the FMU-to-FMU connections (gain/offset as ``ssc:LinearTransformation``),
  units, and the start/stop time as ``DefaultExperiment``;
- ``resources/<slave>.ssv``: each FMU's parameter values, bound with a ``ParameterBinding``;
- an annotation of type ``org.o2twin.scenario`` on the system holding, as TOML, everything SSP 1.0 cannot express:
  the master settings, events, outputs, plots, metrics, safety and plant tables, FMU rates/interfaces and original
  references, and the Python blocks with their connections. Python blocks are not SSP components; other tools
  ignore the annotation and see the FMU-only system (inputs driven by blocks keep their start values there).
Import reads an .ssp (ours or another tool's) back into a ScenarioSpec: FMU components only (nested systems,
signal dictionaries and system-level connectors are refused with a clear message); FMUs are extracted next to
the scenario that will reference them. ``import_ssp(export_ssp(spec))`` reproduces the spec.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.parse import parse_scenario
from orchestrator.scenario.spec import ScenarioSpec
from orchestrator.scenario.ssp.units import BASE, BaseUnit, conversion, parse_unit
from orchestrator.scenario.toml import dumps_table, spec_to_table

log = logging.getLogger("o2twin.ssp")

NS = {
    "ssc": "http://ssp-standard.org/SSP1/SystemStructureCommon",
    "ssd": "http://ssp-standard.org/SSP1/SystemStructureDescription",
    "ssv": "http://ssp-standard.org/SSP1/SystemStructureParameterValues",
    "ssm": "http://ssp-standard.org/SSP1/SystemStructureParameterMapping",
    "ssb": "http://ssp-standard.org/SSP1/SystemStructureSignalDictionary",
}
O2_NS = "urn:o2twin:ssp-scenario"
ANNOTATION_TYPE = "org.o2twin.scenario"
FMU_MIME = "application/x-fmu-sharedlibrary"
_SLAVE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _fmt(value: float) -> str:
    return repr(float(value))


# ---------------------------------------------------------------------------------------------------------------
# export


def _read_md(path: Path, where: str):
    from fmpy import read_model_description

    try:
        return read_model_description(str(path), validate=False)
    except Exception as err:  # fmpy raises plain exceptions for broken archives
        raise SystemDefinitionError(f"{where}: cannot read the FMU '{path}': {err}") from None


def _var_unit(var: Any) -> str | None:
    return var.unit or (var.declaredType.unit if getattr(var, "declaredType", None) is not None else None)


def _type_element(parent: etree._Element, var: Any, ns: str = "ssc") -> None:
    kind = {"Enumeration": "Integer"}.get(var.type, var.type)
    if kind not in ("Real", "Integer", "Boolean", "String"):
        kind = "Real"
    el = etree.SubElement(parent, _q(ns, kind))
    unit = _var_unit(var) if kind == "Real" else None
    if unit:
        el.set("unit", unit)


def _ssv_bytes(name: str, parameters: dict[str, Any], md: Any, where: str) -> bytes:
    variables = {v.name: v for v in md.modelVariables}
    root = etree.Element(_q("ssv", "ParameterSet"), nsmap={"ssv": NS["ssv"]})
    root.set("version", "1.0")
    root.set("name", name)
    params = etree.SubElement(root, _q("ssv", "Parameters"))
    for key, value in parameters.items():
        var = variables.get(key)
        if var is None:
            raise SystemDefinitionError(f"{where}: parameters: the FMU has no variable '{key}'")
        p = etree.SubElement(params, _q("ssv", "Parameter"))
        p.set("name", key)
        kind = {"Enumeration": "Integer"}.get(var.type, var.type)
        el = etree.SubElement(p, _q("ssv", kind))
        if kind == "Real":
            el.set("value", _fmt(value))
            if _var_unit(var):
                el.set("unit", _var_unit(var))
        elif kind == "Integer":
            el.set("value", str(int(value)))
        elif kind == "Boolean":
            el.set("value", "true" if value else "false")
        else:
            el.set("value", str(value))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _md_base_units(mds: list[Any]) -> dict[str, BaseUnit]:
    """Unit name -> base units from the FMUs' UnitDefinitions."""
    out: dict[str, BaseUnit] = {}
    for md in mds:
        for u in getattr(md, "unitDefinitions", []) or []:
            bu = getattr(u, "baseUnit", None)
            if bu is not None and u.name not in out:
                exps = tuple(int(getattr(bu, b, 0) or 0) for b in BASE)
                out[u.name] = BaseUnit(exps, float(getattr(bu, "factor", 1.0)), float(getattr(bu, "offset", 0.0)))
    return out


def _units_element(used: set[str], mds: list[Any]) -> etree._Element | None:
    """ssd:Units for the connector units: from the FMUs' UnitDefinitions, else derived from the unit name;
    a unit neither defines is left out rather than given made-up base units."""
    defined = _md_base_units(mds)
    units = etree.Element(_q("ssd", "Units"))
    for name in sorted(used):
        base_unit = defined.get(name) or parse_unit(name)
        if base_unit is None:
            log.warning("SSP export: unit '%s' has no definition; it is not listed in the SSD's Units", name)
            continue
        unit = etree.SubElement(units, _q("ssc", "Unit"))
        unit.set("name", name)
        base = etree.SubElement(unit, _q("ssc", "BaseUnit"))
        for attr, value in base_unit.as_dict().items():
            base.set(attr, str(value))
        if base_unit.factor != 1.0:
            base.set("factor", _fmt(base_unit.factor))
        if base_unit.offset != 0.0:
            base.set("offset", _fmt(base_unit.offset))
    return units if len(units) else None


def _extras_table(spec: ScenarioSpec, fmu_names: set[str]) -> dict[str, Any]:
    """What SSP 1.0 cannot hold, as a scenario-like table (stored in the system's o2twin annotation)."""
    table = spec_to_table(spec)
    slaves = table.pop("slaves")
    extras: dict[str, Any] = {k: v for k, v in table.items() if k != "connections"}
    extras["blocks"] = {n: body for n, body in slaves.items() if n not in fmu_names}
    extras["fmus"] = {
        n: {k: v for k, v in body.items() if k in ("fmu", "interface", "rate")}
        for n, body in slaves.items()
        if n in fmu_names
    }
    extras["order"] = list(slaves)
    extras["connection_order"] = [f"{c['from']}>{c['to']}" for c in table.get("connections", [])]
    block_conns = [
        c
        for c in table.get("connections", [])
        if c["from"].split(".", 1)[0] not in fmu_names or c["to"].split(".", 1)[0] not in fmu_names
    ]
    if block_conns:
        extras["block_connections"] = block_conns
    return extras


def export_ssp(spec: ScenarioSpec, out_path: str | os.PathLike, fmu_paths: dict[str, Path] | None = None) -> Path:
    """Write the spec's system as an SSP 1.0 archive; returns the path.

    fmu_paths maps FMU slave names to .fmu files; missing ones are resolved like a run does (a path, or an export
    of the Modelica class).
    """
    from orchestrator.scenario.build import resolve_fmu

    out_path = Path(out_path)
    where = spec.source or "<scenario>"
    fmu_slaves = [s for s in spec.slaves.values() if s.kind == "fmu"]
    if not fmu_slaves:
        raise SystemDefinitionError(
            f"{where}: SSP export needs at least one FMU slave; this system has only Python blocks"
        )
    paths = dict(fmu_paths or {})
    for s in fmu_slaves:
        if s.name not in paths:
            paths[s.name] = resolve_fmu(s, spec)
    fmu_names = {s.name for s in fmu_slaves}

    # one resource per distinct FMU file (instances of the same FMU share it)
    resources: dict[str, str] = {}  # sha256 -> resource name
    component_source: dict[str, str] = {}
    files: dict[str, Path] = {}
    for s in fmu_slaves:
        digest = hashlib.sha256(paths[s.name].read_bytes()).hexdigest()
        if digest not in resources:
            stem, name, n = paths[s.name].stem, f"resources/{paths[s.name].stem}.fmu", 1
            while name in files:
                n += 1
                name = f"resources/{stem}_{n}.fmu"
            resources[digest] = name
            files[name] = paths[s.name]
        component_source[s.name] = resources[digest]
    mds = {s.name: _read_md(paths[s.name], f"{where}: [slaves.{s.name}]") for s in fmu_slaves}

    fmu_conns = [c for c in spec.connections if c.from_slave in fmu_names and c.to_slave in fmu_names]
    root = etree.Element(_q("ssd", "SystemStructureDescription"), nsmap={"ssd": NS["ssd"], "ssc": NS["ssc"]})
    root.set("version", "1.0")
    root.set("name", spec.name)
    root.set("generationTool", "o2twin")
    system = etree.SubElement(root, _q("ssd", "System"))
    system.set("name", "system")
    if spec.description:
        system.set("description", spec.description)
    elements = etree.SubElement(system, _q("ssd", "Elements"))
    used_units: set[str] = set()
    ssv_files: dict[str, bytes] = {}
    for s in fmu_slaves:
        md = mds[s.name]
        variables = {v.name: v for v in md.modelVariables}
        comp = etree.SubElement(elements, _q("ssd", "Component"))
        comp.set("name", s.name)
        comp.set("type", FMU_MIME)
        comp.set("source", component_source[s.name])
        comp.set("implementation", "CoSimulation" if s.interface == "cs" else "ModelExchange")
        # connectors: every output, and the inputs another FMU drives (fmpy's runner needs each declared input
        # connected); parameters are bound through the .ssv, not connectors
        driven = {c.to_var for c in fmu_conns if c.to_slave == s.name}
        wanted = [
            v for v in md.modelVariables if v.causality == "output" or (v.causality == "input" and v.name in driven)
        ]
        for c in fmu_conns:
            for slave_name, var_name in ((c.from_slave, c.from_var), (c.to_slave, c.to_var)):
                if slave_name == s.name and var_name not in variables:
                    raise SystemDefinitionError(
                        f"{where}: connection {c.source} -> {c.target}: {s.name} has no variable '{var_name}'"
                    )
        if wanted:
            connectors = etree.SubElement(comp, _q("ssd", "Connectors"))
            for v in wanted:
                con = etree.SubElement(connectors, _q("ssd", "Connector"))
                con.set("name", v.name)
                con.set("kind", v.causality)
                if v.description:
                    con.set("description", v.description)
                _type_element(con, v)
                if v.type == "Real" and _var_unit(v):
                    used_units.add(_var_unit(v))
        if s.parameters:
            ssv_name = f"resources/{s.name}.ssv"
            ssv_files[ssv_name] = _ssv_bytes(s.name, s.parameters, md, f"{where}: [slaves.{s.name}]")
            bindings = etree.SubElement(comp, _q("ssd", "ParameterBindings"))
            binding = etree.SubElement(bindings, _q("ssd", "ParameterBinding"))
            binding.set("source", ssv_name)
    if fmu_conns:
        conns = etree.SubElement(system, _q("ssd", "Connections"))
        for c in fmu_conns:
            el = etree.SubElement(conns, _q("ssd", "Connection"))
            el.set("startElement", c.from_slave)
            el.set("startConnector", c.from_var)
            el.set("endElement", c.to_slave)
            el.set("endConnector", c.to_var)
            src_unit = _var_unit({v.name: v for v in mds[c.from_slave].modelVariables}[c.from_var])
            dst_unit = _var_unit({v.name: v for v in mds[c.to_slave].modelVariables}[c.to_var])
            if src_unit and dst_unit and src_unit != dst_unit:
                # our gain/offset already converts; an SSP tool must not convert the units a second time
                el.set("suppressUnitConversion", "true")
            if c.gain != 1.0 or c.offset != 0.0:
                lt = etree.SubElement(el, _q("ssc", "LinearTransformation"))
                lt.set("factor", _fmt(c.gain))
                lt.set("offset", _fmt(c.offset))
    annotations = etree.SubElement(system, _q("ssd", "Annotations"))
    annotation = etree.SubElement(annotations, _q("ssc", "Annotation"))
    annotation.set("type", ANNOTATION_TYPE)
    extras = etree.SubElement(annotation, f"{{{O2_NS}}}Scenario", nsmap={"o2": O2_NS})
    extras.text = etree.CDATA(dumps_table(_extras_table(spec, fmu_names)))
    units = _units_element(used_units, list(mds.values()))
    if units is not None:
        root.append(units)
    experiment = etree.SubElement(root, _q("ssd", "DefaultExperiment"))
    experiment.set("startTime", _fmt(spec.start_time))
    experiment.set("stopTime", _fmt(spec.stop_time))

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
    log.info("wrote %s: %d FMU components, %d connections", out_path, len(fmu_slaves), len(fmu_conns))
    return out_path


# ---------------------------------------------------------------------------------------------------------------
# import


def _validate(root: etree._Element, schema_file: str, where: str) -> None:
    import fmpy.ssp.ssd as fmpy_ssd

    schema = etree.XMLSchema(file=str(Path(fmpy_ssd.__file__).parent / "schema" / schema_file))
    if not schema.validate(root):
        first = schema.error_log[0]
        raise SystemDefinitionError(f"{where}: not valid SSP 1.0 (line {first.line}: {first.message})")


def _parse_value(el: etree._Element) -> Any:
    kind = etree.QName(el).localname
    value = el.get("value")
    if kind == "Real":
        return float(value)
    if kind == "Integer":
        return int(value)
    if kind == "Boolean":
        return value.strip() in ("true", "1")
    if kind in ("String", "Enumeration"):
        return value
    raise ValueError(kind)


def _parameter_set(root: etree._Element, where: str, prefix: str) -> dict[str, Any]:
    values = {}
    for p in root.findall("ssv:Parameters/ssv:Parameter", NS):
        name = p.get("name")
        if prefix and name.startswith(prefix):
            name = name[len(prefix) :]
        typed = [c for c in p if isinstance(c.tag, str) and etree.QName(c).namespace == NS["ssv"]]
        if not typed:
            raise SystemDefinitionError(f"{where}: parameter '{name}' has no value")
        try:
            values[name] = _parse_value(typed[0])
        except ValueError:
            raise SystemDefinitionError(
                f"{where}: parameter '{name}' of type {etree.QName(typed[0]).localname} is not supported"
            ) from None
    return values


def _bindings(comp: etree._Element, archive: zipfile.ZipFile, where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for b in comp.findall("ssd:ParameterBindings/ssd:ParameterBinding", NS):
        prefix = b.get("prefix", "")
        if b.find("ssd:ParameterMapping", NS) is not None:
            raise SystemDefinitionError(f"{where}: parameter mappings (.ssm) are not supported; bind values directly")
        source = b.get("source")
        if source is not None:
            if source not in archive.namelist():
                raise SystemDefinitionError(f"{where}: parameter binding source '{source}' is not in the archive")
            ssv = etree.fromstring(archive.read(source))
            _validate(ssv, "SystemStructureParameterValues.xsd", f"{where}: {source}")
            values.update(_parameter_set(ssv, f"{where}: {source}", prefix))
        for inline in b.findall("ssd:ParameterValues/ssv:ParameterSet", NS):
            values.update(_parameter_set(inline, where, prefix))
    return values


def import_ssp(ssp_path: str | os.PathLike, fmu_dir: str | os.PathLike | None = None) -> ScenarioSpec:
    """Read an .ssp into a ScenarioSpec; FMUs are extracted into fmu_dir (default: '<ssp name>_fmus' beside it).

    A reference the o2twin annotation recorded (a Modelica class name, or an absolute .fmu path that still exists)
    is kept; otherwise the slave uses the extracted FMU (by absolute path).
    """
    ssp_path = Path(ssp_path)
    where = str(ssp_path)
    if not ssp_path.is_file():
        raise SystemDefinitionError(f"SSP file '{ssp_path}' does not exist")
    try:
        archive = zipfile.ZipFile(ssp_path)
    except zipfile.BadZipFile:
        raise SystemDefinitionError(f"{where}: not an SSP archive (not a zip file)") from None
    with archive:
        if "SystemStructure.ssd" not in archive.namelist():
            raise SystemDefinitionError(f"{where}: no SystemStructure.ssd in the archive")
        try:
            root = etree.fromstring(archive.read("SystemStructure.ssd"))
        except etree.XMLSyntaxError as err:
            raise SystemDefinitionError(f"{where}: SystemStructure.ssd is not XML: {err}") from None
        _validate(root, "SystemStructureDescription.xsd", f"{where}: SystemStructure.ssd")
        system = root.find("ssd:System", NS)
        extras = _read_extras(system, where)
        if system.find("ssd:Elements/ssd:System", NS) is not None:
            raise SystemDefinitionError(f"{where}: nested systems are not supported; flatten the system")
        if system.find("ssd:Elements/ssd:SignalDictionaryReference", NS) is not None:
            raise SystemDefinitionError(f"{where}: signal dictionaries are not supported; connect components directly")

        fmu_dir = Path(fmu_dir) if fmu_dir is not None else ssp_path.with_name(ssp_path.stem + "_fmus")
        slaves: dict[str, Any] = {}
        causality: dict[str, dict[str, str]] = {}
        units: dict[str, dict[str, str | None]] = {}
        unit_defs: dict[str, BaseUnit] = _ssd_units(root)
        extracted: dict[str, Path] = {}
        fmu_opts = extras.get("fmus", {})
        for comp in system.findall("ssd:Elements/ssd:Component", NS):
            name = comp.get("name")
            cwhere = f"{where}: component '{name}'"
            ctype = comp.get("type", FMU_MIME)
            if ctype != FMU_MIME:
                raise SystemDefinitionError(f"{cwhere}: type '{ctype}' is not supported (FMU components only)")
            if not _SLAVE_NAME_RE.match(name or ""):
                raise SystemDefinitionError(
                    f"{cwhere}: the name must be a letter or '_' followed by letters, digits or '_' to become a slave"
                )
            source = comp.get("source")
            if source not in archive.namelist():
                raise SystemDefinitionError(
                    f"{cwhere}: source '{source}' is not in the archive (external FMUs are not supported)"
                )
            if source not in extracted:
                fmu_dir.mkdir(parents=True, exist_ok=True)
                target = fmu_dir / Path(source).name
                with archive.open(source) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                extracted[source] = target.resolve()
            md = _read_md(extracted[source], cwhere)
            causality[name] = {v.name: v.causality for v in md.modelVariables}
            units[name] = {v.name: _var_unit(v) for v in md.modelVariables}
            unit_defs.update({k: v for k, v in _md_base_units([md]).items() if k not in unit_defs})
            for con in comp.findall("ssd:Connectors/ssd:Connector", NS):
                causality[name].setdefault(con.get("name"), con.get("kind"))
                typed = con.find("ssc:Real", NS)
                if typed is not None and typed.get("unit"):
                    units[name][con.get("name")] = typed.get("unit")
            implementation = comp.get("implementation", "any")
            opts = dict(fmu_opts.get(name, {}))
            body: dict[str, Any] = {"fmu": _keep_reference(opts.get("fmu"), extracted[source])}
            interface = opts.get("interface") or ("me" if implementation == "ModelExchange" else "cs")
            if (interface == "me" and md.modelExchange is None) or (interface == "cs" and md.coSimulation is None):
                raise SystemDefinitionError(
                    f"{cwhere}: the FMU does not provide {'Model Exchange' if interface == 'me' else 'Co-Simulation'}"
                )
            if interface != "cs":
                body["interface"] = interface
            if "rate" in opts:
                body["rate"] = opts["rate"]
            params = _bindings(comp, archive, cwhere)
            if params:
                body["parameters"] = params
            slaves[name] = body

        connections = []
        for i, c in enumerate(system.findall("ssd:Connections/ssd:Connection", NS), 1):
            a = (c.get("startElement"), c.get("startConnector"))
            b = (c.get("endElement"), c.get("endConnector"))
            if a[0] is None or b[0] is None:
                raise SystemDefinitionError(
                    f"{where}: connection #{i} uses a system-level connector; only component-to-component "
                    "connections are supported"
                )
            for elem, _ in (a, b):
                if elem not in slaves:
                    raise SystemDefinitionError(f"{where}: connection #{i} names unknown component '{elem}'")
            kind_a, kind_b = causality[a[0]].get(a[1]), causality[b[0]].get(b[1])
            if kind_a == "input" and kind_b != "input":
                a, b = b, a  # start/end do not imply direction in SSP
            entry: dict[str, Any] = {"from": f"{a[0]}.{a[1]}", "to": f"{b[0]}.{b[1]}"}
            # SSP: the units are converted first (unless suppressed), then target = factor * value + offset
            gain, offset = 1.0, 0.0
            src_unit, dst_unit = units[a[0]].get(a[1]), units[b[0]].get(b[1])
            suppressed = c.get("suppressUnitConversion", "false") in ("true", "1")
            if not suppressed and src_unit and dst_unit and src_unit != dst_unit:
                src_base = unit_defs.get(src_unit) or parse_unit(src_unit)
                dst_base = unit_defs.get(dst_unit) or parse_unit(dst_unit)
                converted = conversion(src_base, dst_base) if src_base and dst_base else None
                if converted is None:
                    raise SystemDefinitionError(
                        f"{where}: connection #{i} {entry['from']} -> {entry['to']}: cannot convert "
                        f"'{src_unit}' to '{dst_unit}' (unknown or different dimensions); set "
                        "suppressUnitConversion or fix the units"
                    )
                gain, offset = converted
            lt = c.find("ssc:LinearTransformation", NS)
            if lt is None:
                lt = c.find("ssd:LinearTransformation", NS)  # written by some tools in the wrong namespace
            if lt is not None:
                factor, extra = float(lt.get("factor", 1.0)), float(lt.get("offset", 0.0))
                gain, offset = factor * gain, factor * offset + extra
            if gain != 1.0:
                entry["gain"] = gain
            if offset != 0.0:
                entry["offset"] = offset
            if (
                c.find("ssc:BooleanMappingTransformation", NS) is not None
                or c.find("ssc:IntegerMappingTransformation", NS) is not None
            ):
                raise SystemDefinitionError(f"{where}: connection #{i}: mapping transformations are not supported")
            connections.append(entry)

    raw: dict[str, Any] = {
        k: v for k, v in extras.items() if k not in ("blocks", "fmus", "block_connections", "order", "connection_order")
    }
    head = dict(raw.get("scenario", {}))
    head.setdefault("name", root.get("name") or ssp_path.stem)
    if "description" not in head and system.get("description"):
        head["description"] = system.get("description")
    experiment = root.find("ssd:DefaultExperiment", NS)
    if experiment is not None and experiment.get("stopTime") is not None:
        head["stop_time"] = float(experiment.get("stopTime"))
        if experiment.get("startTime") is not None and float(experiment.get("startTime")) != 0.0:
            head["start_time"] = float(experiment.get("startTime"))
    if "stop_time" not in head:
        raise SystemDefinitionError(f"{where}: no stop time (DefaultExperiment stopTime); add one to the SSD")
    raw["scenario"] = head
    for name, body in extras.get("blocks", {}).items():
        if name in slaves:
            raise SystemDefinitionError(f"{where}: Python block '{name}' has the name of an FMU component")
        slaves[name] = body
    raw["slaves"] = slaves
    raw["connections"] = connections + list(extras.get("block_connections", []))
    wanted = extras.get("connection_order", [])
    keyed = {f"{c['from']}>{c['to']}": c for c in raw["connections"]}
    if sorted(wanted) == sorted(keyed):  # our own export: keep the scenario's connection order
        raw["connections"] = [keyed[k] for k in wanted]
    order = extras.get("order", [])
    if set(order) == set(slaves) and len(order) == len(slaves):  # our own export: keep the scenario's slave order
        raw["slaves"] = {n: slaves[n] for n in order}
    return parse_scenario(raw, source=where, default_name=ssp_path.stem)


def _ssd_units(root: etree._Element) -> dict[str, BaseUnit]:
    out = {}
    for u in root.findall("ssd:Units/ssc:Unit", NS):
        bu = u.find("ssc:BaseUnit", NS)
        if bu is None:
            continue
        exps = tuple(int(bu.get(b, 0)) for b in BASE)
        out[u.get("name")] = BaseUnit(exps, float(bu.get("factor", 1.0)), float(bu.get("offset", 0.0)))
    return out


def _keep_reference(original: str | None, extracted: Path) -> str:
    if original:
        if not original.lower().endswith(".fmu"):
            return original  # a Modelica class name: exported on demand, independent of location
        if Path(original).is_absolute() and Path(original).is_file():
            return original
    return str(extracted)


def _read_extras(system: etree._Element, where: str) -> dict[str, Any]:
    for a in system.findall("ssd:Annotations/ssc:Annotation", NS):
        if a.get("type") != ANNOTATION_TYPE:
            continue
        body = a.find(f"{{{O2_NS}}}Scenario")
        if body is None or not (body.text or "").strip():
            return {}
        try:
            return tomllib.loads(body.text)
        except tomllib.TOMLDecodeError as err:
            raise SystemDefinitionError(f"{where}: the {ANNOTATION_TYPE} annotation is not valid TOML: {err}") from None
    return {}
