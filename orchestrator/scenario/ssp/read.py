"""Read an SSP 1.0 archive (ours or another tool's) into a raw scenario table (what a scenario TOML file holds).

FMU components only: nested systems, signal dictionaries and system-level connectors are refused with a clear
message. The archive is data from anyone: it is opened within size and file-count limits, component sources must
be FMU files inside it, and each distinct source is unpacked to its own file in ``fmu_dir`` (two components whose
FMUs share a base name, resources/a/x.fmu and resources/b/x.fmu, get x.fmu and x_2.fmu). Nothing in the archive
is imported or run here; Python blocks named in o2twin's annotation go through the block registry like any
scenario's. orchestrator.scenario.load parses the table into a checked ScenarioSpec.
"""

from __future__ import annotations

import os
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from orchestrator.cosim.slaves.archive import copy_member, member_path, open_archive
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import FMU_SOLVER_KEYS
from orchestrator.scenario.ssp.common import (
    ANNOTATION_TYPE,
    FMU_MIME,
    NS,
    O2_NS,
    STRUCTURE_KEYS,
    md_base_units,
    read_model_description,
    var_unit,
)
from orchestrator.scenario.ssp.units import BASE, BaseUnit, conversion, parse_unit

_SLAVE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class _Components:
    """What the components tell the connections: variable causalities and units, unit definitions."""

    causality: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[str, dict[str, str | None]] = field(default_factory=dict)
    unit_defs: dict[str, BaseUnit] = field(default_factory=dict)


class _Extractor:
    """Unpacks each distinct FMU source of the archive once, to a unique file name in fmu_dir."""

    def __init__(self, archive: zipfile.ZipFile, fmu_dir: Path, where: str) -> None:
        self.archive, self.fmu_dir, self.where = archive, fmu_dir, where
        self.extracted: dict[str, Path] = {}
        self._taken: set[str] = set()

    def __call__(self, source: str) -> Path:
        if source not in self.extracted:
            rel = member_path(source, self.where)
            stem, n = PurePosixPath(rel.name).stem, 1
            name = f"{stem}.fmu"
            while name in self._taken:
                n += 1
                name = f"{stem}_{n}.fmu"
            self._taken.add(name)
            target = self.fmu_dir / name
            copy_member(self.archive, source, target, self.where)
            self.extracted[source] = target.resolve()
        return self.extracted[source]


def _validate(root: etree._Element, schema_file: str, where: str) -> None:
    import fmpy.ssp.ssd as fmpy_ssd

    schema = etree.XMLSchema(file=str(Path(fmpy_ssd.__file__).parent / "schema" / schema_file))
    if not schema.validate(root):
        first = schema.error_log[0]
        raise SystemDefinitionError(f"{where}: not valid SSP 1.0 (line {first.line}: {first.message})")


def _parse_value(el: etree._Element) -> Any:
    kind = etree.QName(el).localname
    value = el.get("value") or ""
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
        name = p.get("name") or ""
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
            ssv = _xml(archive.read(source), f"{where}: {source}")
            _validate(ssv, "SystemStructureParameterValues.xsd", f"{where}: {source}")
            values.update(_parameter_set(ssv, f"{where}: {source}", prefix))
        for inline in b.findall("ssd:ParameterValues/ssv:ParameterSet", NS):
            values.update(_parameter_set(inline, where, prefix))
    return values


def _xml(data: bytes, where: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise SystemDefinitionError(f"{where} is not XML: {err}") from None


def _component(
    comp: etree._Element,
    archive: zipfile.ZipFile,
    extract: _Extractor,
    options: dict[str, Any],
    known: _Components,
    where: str,
) -> tuple[str, dict[str, Any]]:
    """One ssd:Component -> (slave name, [slaves.NAME] table); records its causalities and units in ``known``."""
    name = comp.get("name") or ""
    cwhere = f"{where}: component '{name}'"
    ctype = comp.get("type", FMU_MIME)
    if ctype != FMU_MIME:
        raise SystemDefinitionError(f"{cwhere}: type '{ctype}' is not supported (FMU components only)")
    if not _SLAVE_NAME_RE.match(name):
        raise SystemDefinitionError(
            f"{cwhere}: the name must be a letter or '_' followed by letters, digits or '_' to become a slave"
        )
    source = comp.get("source") or ""
    if not source.lower().endswith(".fmu") or source not in archive.namelist():
        raise SystemDefinitionError(
            f"{cwhere}: source '{source}' is not an .fmu file in the archive (external FMUs are not supported)"
        )
    fmu = extract(source)
    md = read_model_description(fmu, cwhere)
    causality = {v.name: v.causality for v in md.modelVariables}
    units = {v.name: var_unit(v) for v in md.modelVariables}
    known.unit_defs.update({k: v for k, v in md_base_units([md]).items() if k not in known.unit_defs})
    for con in comp.findall("ssd:Connectors/ssd:Connector", NS):
        causality.setdefault(con.get("name") or "", con.get("kind") or "")
        typed = con.find("ssc:Real", NS)
        if typed is not None and typed.get("unit"):
            units[con.get("name") or ""] = typed.get("unit")
    known.causality[name], known.units[name] = causality, units
    body: dict[str, Any] = {"fmu": _keep_reference(options.get("fmu"), fmu)}
    implementation = comp.get("implementation", "any")
    interface = options.get("interface") or ("me" if implementation == "ModelExchange" else "cs")
    if (interface == "me" and md.modelExchange is None) or (interface == "cs" and md.coSimulation is None):
        raise SystemDefinitionError(
            f"{cwhere}: the FMU does not provide {'Model Exchange' if interface == 'me' else 'Co-Simulation'}"
        )
    if interface != "cs":
        body["interface"] = interface
    body.update({k: options[k] for k in ("rate", *FMU_SOLVER_KEYS) if k in options})
    params = _bindings(comp, archive, cwhere)
    if params:
        body["parameters"] = params
    return name, body


def _block_component(comp: etree._Element, known: _Components) -> None:
    """A Python block exported as an FMU component by o2twin: only its connectors' kinds and units (for the
    connections); the block itself comes from the annotation."""
    name = comp.get("name") or ""
    known.causality[name], known.units[name] = {}, {}
    for con in comp.findall("ssd:Connectors/ssd:Connector", NS):
        known.causality[name][con.get("name") or ""] = con.get("kind") or ""
        typed = con.find("ssc:Real", NS)
        known.units[name][con.get("name") or ""] = typed.get("unit") if typed is not None else None


def _unit_conversion(i: int, entry: dict[str, Any], src: str | None, dst: str | None, known: _Components,
                     where: str) -> tuple[float, float]:  # fmt: skip
    """(gain, offset) converting the source unit to the target unit (SSP converts before the transformation)."""
    if not (src and dst and src != dst):
        return 1.0, 0.0
    src_base = known.unit_defs.get(src) or parse_unit(src)
    dst_base = known.unit_defs.get(dst) or parse_unit(dst)
    converted = conversion(src_base, dst_base) if src_base and dst_base else None
    if converted is None:
        raise SystemDefinitionError(
            f"{where}: connection #{i} {entry['from']} -> {entry['to']}: cannot convert '{src}' to '{dst}' "
            "(unknown or different dimensions); set suppressUnitConversion or fix the units"
        )
    return converted


def _connection(i: int, c: etree._Element, known: _Components, where: str) -> dict[str, Any]:
    """One ssd:Connection -> a [[connections]] entry (direction from causality, units and transformation)."""
    a = (c.get("startElement"), c.get("startConnector") or "")
    b = (c.get("endElement"), c.get("endConnector") or "")
    if a[0] is None or b[0] is None:
        raise SystemDefinitionError(
            f"{where}: connection #{i} uses a system-level connector; only component-to-component "
            "connections are supported"
        )
    for elem in (a[0], b[0]):
        if elem not in known.causality:
            raise SystemDefinitionError(f"{where}: connection #{i} names unknown component '{elem}'")
    if known.causality[a[0]].get(a[1]) == "input" and known.causality[b[0]].get(b[1]) != "input":
        a, b = b, a  # start/end do not imply direction in SSP
    entry: dict[str, Any] = {"from": f"{a[0]}.{a[1]}", "to": f"{b[0]}.{b[1]}"}
    gain, offset = 1.0, 0.0
    if c.get("suppressUnitConversion", "false") not in ("true", "1"):
        gain, offset = _unit_conversion(i, entry, known.units[a[0]].get(a[1]), known.units[b[0]].get(b[1]), known,
                                        where)  # fmt: skip
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
    return entry


def _scenario_head(root: etree._Element, system: etree._Element, extras: dict[str, Any], stem: str,
                   where: str) -> dict[str, Any]:  # fmt: skip
    head = dict(extras.get("scenario", {}))
    head.setdefault("name", root.get("name") or stem)
    if "description" not in head and system.get("description"):
        head["description"] = system.get("description")
    experiment = root.find("ssd:DefaultExperiment", NS)
    if experiment is not None and experiment.get("stopTime") is not None:
        head["stop_time"] = float(experiment.get("stopTime") or 0.0)
        if experiment.get("startTime") is not None and float(experiment.get("startTime") or 0.0) != 0.0:
            head["start_time"] = float(experiment.get("startTime") or 0.0)
    if "stop_time" not in head:
        raise SystemDefinitionError(f"{where}: no stop time (DefaultExperiment stopTime); add one to the SSD")
    return head


def _merge_extras(raw: dict[str, Any], slaves: dict[str, Any], connections: list[dict[str, Any]],
                  extras: dict[str, Any], where: str) -> None:  # fmt: skip
    """Add o2twin's annotation (Python blocks, their connections, the original order) to the FMU system."""
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


def read_ssp(ssp_path: str | os.PathLike, fmu_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The raw scenario table of an .ssp; its FMUs are unpacked into fmu_dir (default: '<ssp name>_fmus' beside it).

    A reference the o2twin annotation recorded (a Modelica class name, or an absolute .fmu path that still exists)
    is kept; otherwise the slave uses the unpacked FMU (by absolute path).
    """
    ssp_path = Path(ssp_path)
    where = str(ssp_path)
    if not ssp_path.is_file():
        raise SystemDefinitionError(f"SSP file '{ssp_path}' does not exist")
    if not zipfile.is_zipfile(ssp_path):
        raise SystemDefinitionError(f"{where}: not an SSP archive (not a zip file)")
    with open_archive(ssp_path, where) as archive:
        if "SystemStructure.ssd" not in archive.namelist():
            raise SystemDefinitionError(f"{where}: no SystemStructure.ssd in the archive")
        root = _xml(archive.read("SystemStructure.ssd"), f"{where}: SystemStructure.ssd")
        _validate(root, "SystemStructureDescription.xsd", f"{where}: SystemStructure.ssd")
        system = root.find("ssd:System", NS)
        assert system is not None  # the schema requires it
        extras = _read_extras(system, where)
        if system.find("ssd:Elements/ssd:System", NS) is not None:
            raise SystemDefinitionError(f"{where}: nested systems are not supported; flatten the system")
        if system.find("ssd:Elements/ssd:SignalDictionaryReference", NS) is not None:
            raise SystemDefinitionError(f"{where}: signal dictionaries are not supported; connect components directly")
        folder = Path(fmu_dir) if fmu_dir is not None else ssp_path.with_name(ssp_path.stem + "_fmus")
        extract = _Extractor(archive, folder, where)
        known = _Components(unit_defs=_ssd_units(root))
        slaves: dict[str, Any] = {}
        block_fmus = set(extras.get("block_fmus", []))
        for comp in system.findall("ssd:Elements/ssd:Component", NS):
            if comp.get("name") in block_fmus:  # our closed-loop export: a Python block, run as the block
                _block_component(comp, known)
                continue
            options = dict(extras.get("fmus", {}).get(comp.get("name"), {}))
            name, body = _component(comp, archive, extract, options, known, where)
            slaves[name] = body
        connections = [
            _connection(i, c, known, where)
            for i, c in enumerate(system.findall("ssd:Connections/ssd:Connection", NS), 1)
        ]
    raw: dict[str, Any] = {k: v for k, v in extras.items() if k not in STRUCTURE_KEYS}
    raw["scenario"] = _scenario_head(root, system, extras, ssp_path.stem, where)
    _merge_extras(raw, slaves, connections, extras, where)
    return raw


def _ssd_units(root: etree._Element) -> dict[str, BaseUnit]:
    out = {}
    for u in root.findall("ssd:Units/ssc:Unit", NS):
        bu = u.find("ssc:BaseUnit", NS)
        if bu is None:
            continue
        exps = tuple(int(bu.get(b, 0)) for b in BASE)
        out[u.get("name") or ""] = BaseUnit(exps, float(bu.get("factor", 1.0)), float(bu.get("offset", 0.0)))
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
            return tomllib.loads(body.text or "")
        except tomllib.TOMLDecodeError as err:
            raise SystemDefinitionError(f"{where}: the {ANNOTATION_TYPE} annotation is not valid TOML: {err}") from None
    return {}
