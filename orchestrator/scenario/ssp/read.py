"""Read an SSP 1.0 archive (ours or another tool's) into a raw scenario table (what a scenario TOML file holds).

FMU components in a tree of systems: nested systems are flattened (flatten.py), parameter bindings on every level
are applied with their mappings (params.py), step hints are read (hints.py). Signal dictionaries are refused with a
clear message. The archive is data from anyone: it is opened within size and file-count limits, component sources
must be FMU files inside it, and each distinct source is unpacked to its own file in ``fmu_dir`` (two components
whose FMUs share a base name, resources/a/x.fmu and resources/b/x.fmu, get x.fmu and x_2.fmu). Nothing in the
archive is imported or run here; Python blocks named in o2twin's annotation go through the block registry like any
scenario's. orchestrator.scenario.load parses the table into a checked ScenarioSpec.
"""

from __future__ import annotations

import os
import re
import tomllib
import zipfile
from dataclasses import dataclass
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
    parse_xml,
    read_model_description,
    validate,
    var_unit,
)
from orchestrator.scenario.ssp.flatten import ComponentInfo, Flattener, VarInfo, connector_info
from orchestrator.scenario.ssp.hints import StepHint, component_step_hint, step_hint
from orchestrator.scenario.ssp.params import SourceReader, ssd_units
from orchestrator.scenario.ssp.units import BaseUnit

_SLAVE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPES = {"Float32": "Real", "Float64": "Real", "Real": "Real", "Boolean": "Boolean", "String": "String",
          "Enumeration": "Enumeration", "Binary": "Binary", "Clock": "Clock"}  # fmt: skip


@dataclass
class SspSystem:
    """What an archive holds: the raw scenario table and where its master step came from."""

    raw: dict[str, Any]
    step: StepHint  #: the step and its origin ("o2twin", "archive", "fmu" or "default")


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


def _var_info(v: Any) -> VarInfo:
    """An FMU variable (fmpy's model description, FMI 2.0 or 3.0) as VarInfo."""
    kind = _TYPES.get(v.type, "Integer" if "Int" in (v.type or "") else v.type or "Real")
    declared = getattr(v, "declaredType", None)
    items = None
    if kind == "Enumeration" and declared is not None:
        items = {i.name: int(i.value) for i in declared.items}
    settable = v.causality in ("parameter", "input") or (
        v.variability != "constant" and v.causality != "independent"
        and (v.initial in ("exact", "approx") or (v.initial is None and v.start is not None))
    )  # fmt: skip
    return VarInfo(v.causality or "local", kind, var_unit(v), items, settable)


class _ComponentReader:
    """Reads each ssd:Component into a slave table and its variables (FMUs unpacked on the way)."""

    def __init__(self, archive: zipfile.ZipFile, extract: _Extractor, extras: dict[str, Any],
                 unit_defs: dict[str, BaseUnit]) -> None:  # fmt: skip
        self.archive, self.extract, self.extras, self.unit_defs = archive, extract, extras, unit_defs
        self.block_fmus = set(extras.get("block_fmus", []))
        self.step_hints: dict[str, tuple[float, str]] = {}

    def __call__(self, comp: etree._Element, slave: str, where: str) -> ComponentInfo:
        connectors = {
            con.get("name") or "": connector_info(con) for con in comp.findall("ssd:Connectors/ssd:Connector", NS)
        }
        if slave in self.block_fmus:  # our closed-loop export: a Python block, run as the block
            return ComponentInfo(None, connectors)
        return self._fmu(comp, slave, connectors, where)

    def _fmu(self, comp: etree._Element, slave: str, connectors: dict[str, VarInfo], where: str) -> ComponentInfo:
        ctype = comp.get("type", FMU_MIME)
        if ctype != FMU_MIME:
            raise SystemDefinitionError(f"{where}: type '{ctype}' is not supported (FMU components only)")
        if not _SLAVE_NAME_RE.match(slave):
            raise SystemDefinitionError(
                f"{where}: the name must be a letter or '_' followed by letters, digits or '_' to become a slave"
            )
        source = comp.get("source") or ""
        if not source.lower().endswith(".fmu") or source not in self.archive.namelist():
            raise SystemDefinitionError(
                f"{where}: source '{source}' is not an .fmu file in the archive (external FMUs are not supported)"
            )
        fmu = self.extract(source)
        md = read_model_description(fmu, where)
        variables = {v.name: _var_info(v) for v in md.modelVariables}
        for name, info in connectors.items():
            if name in variables:
                variables[name].unit = info.unit or variables[name].unit
            else:
                variables[name] = info
        self.unit_defs.update({k: v for k, v in md_base_units([md]).items() if k not in self.unit_defs})
        options = dict(self.extras.get("fmus", {}).get(slave, {}))
        body: dict[str, Any] = {"fmu": _keep_reference(options.get("fmu"), fmu)}
        implementation = comp.get("implementation", "any")
        if implementation == "ScheduledExecution":
            raise SystemDefinitionError(f"{where}: implementation ScheduledExecution is not supported (CS or ME)")
        interface = options.get("interface") or ("me" if implementation == "ModelExchange" else "cs")
        if (interface == "me" and md.modelExchange is None) or (interface == "cs" and md.coSimulation is None):
            raise SystemDefinitionError(
                f"{where}: the FMU does not provide {'Model Exchange' if interface == 'me' else 'Co-Simulation'}"
            )
        if interface != "cs":
            body["interface"] = interface
        body.update({k: options[k] for k in ("rate", *FMU_SOLVER_KEYS) if k in options})
        hint = component_step_hint(comp, md)
        if hint is not None:
            self.step_hints[slave] = hint
        return ComponentInfo(body, variables)


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
    return read_ssp_system(ssp_path, fmu_dir).raw


def read_ssp_system(ssp_path: str | os.PathLike, fmu_dir: str | os.PathLike | None = None) -> SspSystem:
    """read_ssp, with where the master step came from (for the import's step check)."""
    ssp_path = Path(ssp_path)
    where = str(ssp_path)
    if not ssp_path.is_file():
        raise SystemDefinitionError(f"SSP file '{ssp_path}' does not exist")
    if not zipfile.is_zipfile(ssp_path):
        raise SystemDefinitionError(f"{where}: not an SSP archive (not a zip file)")
    with open_archive(ssp_path, where) as archive:
        if "SystemStructure.ssd" not in archive.namelist():
            raise SystemDefinitionError(f"{where}: no SystemStructure.ssd in the archive")
        root = parse_xml(archive.read("SystemStructure.ssd"), f"{where}: SystemStructure.ssd")
        validate(root, "SystemStructureDescription.xsd", f"{where}: SystemStructure.ssd")
        system = root.find("ssd:System", NS)
        assert system is not None  # the schema requires it
        extras = _read_extras(system, where)
        folder = Path(fmu_dir) if fmu_dir is not None else ssp_path.with_name(ssp_path.stem + "_fmus")
        unit_defs = ssd_units(root)
        components = _ComponentReader(archive, _Extractor(archive, folder, where), extras, unit_defs)
        flat = Flattener(components, SourceReader(archive, where), unit_defs, where).flatten(system)
    raw: dict[str, Any] = {k: v for k, v in extras.items() if k not in STRUCTURE_KEYS}
    raw["scenario"] = _scenario_head(root, system, extras, ssp_path.stem, where)
    _merge_extras(raw, flat.slaves, flat.connections, extras, where)
    if extras:  # our own export: the scenario's [master] table as it was (its default step included)
        return SspSystem(raw, StepHint(raw.get("master", {}).get("step"), "o2twin", "the o2twin annotation"))
    hint = _master_step(raw, step_hint(root, system, components.step_hints))
    return SspSystem(raw, hint)


def _master_step(raw: dict[str, Any], hint: StepHint) -> StepHint:
    """Put the archive's step hint into [master]."""
    master = raw.setdefault("master", {})
    if hint.step is not None:
        master["step"] = hint.step
        for name, rate in hint.rates.items():
            raw["slaves"][name].setdefault("rate", rate)
    if not master:
        raw.pop("master")
    return hint


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
