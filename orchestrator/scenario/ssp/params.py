"""SSP 1.0 parameter bindings: parameter sets (.ssv), parameter mappings (.ssm) and their transformations.

A ``ParameterBinding`` on a component or a system names values by hierarchical name relative to its element
(SSP 1.0, SystemStructureDescription.xsd: "B.C.P2" is parameter P2 of element C of sub-system B, "SP1" a connector of
the system itself). Each binding here becomes a list of ``Assignment``: the value, its unit, the mapping's
transformation still to apply, and where in the hierarchy and in document order it was given (higher levels and
later bindings take precedence). Which variable a name reaches, and the unit conversion, is decided in flatten.py,
where the variables are known. What SSP allows but O2 Twin cannot apply (parameter sources of other MIME types,
Binary values, sources over http) is skipped with a warning naming the binding, never silently.
"""

from __future__ import annotations

import io
import logging
import posixpath
import zipfile
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.ssp.common import NS, parse_xml, validate
from orchestrator.scenario.ssp.units import BASE, BaseUnit

log = logging.getLogger(__name__)

PARAMETER_SET_MIME = "application/x-ssp-parameter-set"
PARAMETER_MAPPING_MIME = "application/x-ssp-parameter-mapping"
#: Largest FMU read into memory to find a parameter source inside it (sourceBase="component").
_MAX_NESTED_ARCHIVE_BYTES = 256 << 20
#: Largest parameter file (.ssv, .ssm) read into memory, unpacked: the members of an FMU inside the archive are not
#: counted by the archive's own limits (archive.py), so a deflated member of zeros could unpack to any size.
MAX_PARAMETER_SOURCE_BYTES = 64 << 20


@dataclass(frozen=True)
class Transformation:
    """A mapping entry's transformation: linear (factor, offset) for Reals, or a value table for Boolean, Integer
    (and enumeration values as integers) or Enumeration (item names)."""

    kind: str  #: "Linear", "Boolean", "Integer" or "Enumeration"
    factor: float = 1.0
    offset: float = 0.0
    table: tuple[tuple[Any, Any], ...] = ()


@dataclass(frozen=True)
class Assignment:
    """One value a binding gives to a hierarchical name (relative to the SSD's root system)."""

    name: str
    type: str  #: the ssv element: Real, Integer, Boolean, String or Enumeration
    value: float | int | bool | str
    unit: str | None = None  #: the value's unit (Real only), defined in unit_defs or by its name
    unit_defs: dict[str, BaseUnit] = field(default_factory=dict)
    transformation: Transformation | None = None
    suppress_unit_conversion: bool = False
    depth: int = 0  #: systems above the binding's element (0: the root system's own bindings)
    order: int = 0  #: document order of the binding
    where: str = ""


@dataclass(frozen=True)
class _MappingEntry:
    target: str
    transformation: Transformation | None
    suppress_unit_conversion: bool


def _units(root: etree._Element, path: str) -> dict[str, BaseUnit]:
    out = {}
    for u in root.findall(f"{path}/ssc:Unit", NS):
        bu = u.find("ssc:BaseUnit", NS)
        if bu is None:
            continue
        exps = tuple(int(bu.get(b, 0)) for b in BASE)
        out[u.get("name") or ""] = BaseUnit(exps, float(bu.get("factor", 1.0)), float(bu.get("offset", 0.0)))
    return out


def ssd_units(root: etree._Element) -> dict[str, BaseUnit]:
    """The SSD's Units table: unit name -> base units."""
    return _units(root, "ssd:Units")


def _bool(text: str | None) -> bool:
    return (text or "").strip() in ("true", "1")


#: SSP 2.0 (FMI 3.0) value types -> the kinds a binding distinguishes (SSP 1.0's Real, Integer, ...)
VALUE_KINDS = {"Real": "Real", "Float64": "Real", "Float32": "Real", "Integer": "Integer", "Boolean": "Boolean",
               "String": "String", "Enumeration": "Enumeration",
               **{t: "Integer" for t in ("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64")}}  # fmt: skip


def _values(el: etree._Element) -> tuple[str, list[Any], str | None]:
    """(kind, values, unit) of one typed value; SSP 2.0 arrays give several values (value lists or Value
    children), in FMI's row-major order."""
    kind = VALUE_KINDS.get(etree.QName(el).localname)
    if kind is None:
        raise ValueError(etree.QName(el).localname)
    children = [v.get("value") or "" for v in el.findall("ssv:Value", NS)]
    if kind in ("String", "Enumeration"):
        return kind, children or [el.get("value") or ""], None
    texts = (el.get("value") or "").split() or [""]
    if kind == "Real":
        return kind, [float(t) for t in texts], el.get("unit")
    if kind == "Integer":
        return kind, [int(t) for t in texts], None
    return kind, [_bool(t) for t in texts], None


def parameter_set(root: etree._Element, where: str) -> tuple[list[tuple[str, str, Any, str | None]], dict]:
    """An ssv:ParameterSet -> ([(name, type, value, unit)], its Units); Binary values are skipped with a warning."""
    values = []
    for p in root.findall("ssv:Parameters/ssv:Parameter", NS):
        name = p.get("name") or ""
        typed = [c for c in p if isinstance(c.tag, str) and etree.QName(c).namespace == NS["ssv"]]
        if not typed:
            raise SystemDefinitionError(f"{where}: parameter '{name}' has no value")
        try:
            kind, items, unit = _values(typed[0])
            if len(items) == 1:
                values.append((name, kind, items[0], unit))
            else:  # an array: one value per element, named as the master names FMI 3.0 array elements
                values += [(f"{name}[{i}]", kind, v, unit) for i, v in enumerate(items, 1)]
        except ValueError:
            log.warning(
                "%s: parameter '%s' of type %s is not supported and is not applied",
                where, name, etree.QName(typed[0]).localname,
            )  # fmt: skip
    return values, _units(root, "ssv:Units")


def _transformation(entry: etree._Element, where: str) -> Transformation | None:
    linear = entry.find("ssc:LinearTransformation", NS)
    if linear is not None:
        return Transformation("Linear", float(linear.get("factor", 1.0)), float(linear.get("offset", 0.0)))
    for kind, parse in (("Boolean", _bool), ("Integer", int), ("Enumeration", str)):
        table = entry.find(f"ssc:{kind}MappingTransformation", NS)
        if table is not None:
            pairs = tuple(
                (parse(e.get("source")), parse(e.get("target"))) for e in table.findall("ssc:MapEntry", NS)
            )  # fmt: skip
            return Transformation(kind, table=pairs)
    return None


def parameter_mapping(root: etree._Element, where: str) -> dict[str, list[_MappingEntry]]:
    """An ssm:ParameterMapping -> source name -> its entries (one source may feed several targets)."""
    out: dict[str, list[_MappingEntry]] = {}
    for e in root.findall("ssm:MappingEntry", NS):
        entry = _MappingEntry(e.get("target") or "", _transformation(e, where), _bool(e.get("suppressUnitConversion")))
        out.setdefault(e.get("source") or "", []).append(entry)
    return out


class SourceReader:
    """Reads the files parameter bindings name: relative to the SSD (the archive's root) or, with
    sourceBase="component", inside the component's FMU. Only members of the archive: never a path outside it,
    never the network."""

    def __init__(self, archive: zipfile.ZipFile, where: str) -> None:
        self.archive, self.where = archive, where

    def read(self, source: str, base: str, component_source: str | None, what: str) -> bytes | None:
        if "://" in source or source.startswith(("/", "\\")):
            log.warning("%s: %s source '%s' is not a file in the archive; it is not applied", self.where, what, source)
            return None
        if base == "component":
            if component_source is None:
                raise SystemDefinitionError(
                    f"{self.where}: {what} '{source}' has sourceBase=\"component\" outside a component"
                )
            return self._in_component(source, component_source, what)
        name = posixpath.normpath(source)
        if name.startswith("..") or name not in self.archive.namelist():
            raise SystemDefinitionError(f"{self.where}: {what} '{source}' is not in the archive")
        return self._bounded(self.archive, name, source, what)

    def _bounded(self, archive: zipfile.ZipFile, name: str, source: str, what: str) -> bytes:
        """The member's bytes, refused when it declares more than a parameter file may hold (zipfile never returns
        more than the declared size, so checking the declaration bounds what is unpacked)."""
        size = archive.getinfo(name).file_size
        if size > MAX_PARAMETER_SOURCE_BYTES:
            raise SystemDefinitionError(
                f"{self.where}: {what} '{source}' unpacks to {size >> 20} MiB, more than a parameter file may hold "
                f"({MAX_PARAMETER_SOURCE_BYTES >> 20} MiB)"
            )
        return archive.read(name)

    def _in_component(self, source: str, component_source: str, what: str) -> bytes:
        info = self.archive.getinfo(component_source)
        if info.file_size > _MAX_NESTED_ARCHIVE_BYTES:
            raise SystemDefinitionError(f"{self.where}: {component_source} is too large to read {what} '{source}' from")
        name = posixpath.normpath(source)
        with zipfile.ZipFile(io.BytesIO(self.archive.read(component_source))) as fmu:
            if name.startswith("..") or name not in fmu.namelist():
                raise SystemDefinitionError(f"{self.where}: {what} '{source}' is not in {component_source}")
            return self._bounded(fmu, name, source, what)


def _inline(container: etree._Element | None, tag: str) -> etree._Element | None:
    if container is None:
        return None
    return container.find(tag, NS)


def binding_assignments(
    binding: etree._Element,
    reader: SourceReader,
    owner: str,
    depth: int,
    order: int,
    component_source: str | None,
    where: str,
) -> list[Assignment]:
    """The assignments of one ssd:ParameterBinding of the element named ``owner`` ("" for the root system,
    "B.C." for element C of sub-system B): names are prefixed, mapped, then made hierarchical."""
    mime = binding.get("type", PARAMETER_SET_MIME)
    if mime != PARAMETER_SET_MIME:
        log.warning("%s: parameter binding of type '%s' is not supported (only %s); it is not applied",
                    where, mime, PARAMETER_SET_MIME)  # fmt: skip
        return []
    source = binding.get("source")
    if source:
        data = reader.read(source, binding.get("sourceBase", "SSD"), component_source, "parameter binding source")
        if data is None:
            return []
        ssv = parse_xml(data, f"{where}: {source}")
        validate(ssv, "SystemStructureParameterValues.xsd", f"{where}: {source}")
        set_where = f"{where}: {source}"
    else:
        ssv = _inline(binding.find("ssd:ParameterValues", NS), "ssv:ParameterSet")
        if ssv is None:
            log.warning("%s: a parameter binding without a source or inline ssv:ParameterSet; nothing applied", where)
            return []
        set_where = where
    values, unit_defs = parameter_set(ssv, set_where)
    mapping = _mapping(binding.find("ssd:ParameterMapping", NS), reader, component_source, where)
    prefix = binding.get("prefix", "")
    out = []
    for name, kind, value, unit in values:
        full = prefix + name
        entries = mapping.get(full) or [_MappingEntry(full, None, False)]
        for e in entries:
            out.append(Assignment(owner + e.target, kind, value, unit, unit_defs, e.transformation,
                                  e.suppress_unit_conversion, depth, order, set_where))  # fmt: skip
    return out


def _mapping(
    element: etree._Element | None, reader: SourceReader, component_source: str | None, where: str
) -> dict[str, list[_MappingEntry]]:
    if element is None:
        return {}
    mime = element.get("type", PARAMETER_MAPPING_MIME)
    if mime != PARAMETER_MAPPING_MIME:
        log.warning("%s: parameter mapping of type '%s' is not supported; names are used as they are", where, mime)
        return {}
    source = element.get("source")
    if source:
        data = reader.read(source, element.get("sourceBase", "SSD"), component_source, "parameter mapping")
        if data is None:
            return {}
        ssm = parse_xml(data, f"{where}: {source}")
        validate(ssm, "SystemStructureParameterMapping.xsd", f"{where}: {source}")
        return parameter_mapping(ssm, f"{where}: {source}")
    inline = element.find("ssm:ParameterMapping", NS)
    if inline is None:
        log.warning("%s: a parameter mapping without a source or inline ssm:ParameterMapping; not applied", where)
        return {}
    return parameter_mapping(inline, where)


def transform(value: Any, t: Transformation | None, where: str) -> Any:
    """Apply a mapping entry's transformation (after any unit conversion, as SSP requires)."""
    if t is None:
        return value
    if t.kind == "Linear":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SystemDefinitionError(f"{where}: a LinearTransformation applies to Real parameters, got {value!r}")
        return t.factor * float(value) + t.offset
    for source, target in t.table:
        if source == value and type(source) is type(value):
            return target
    log.warning("%s: the %sMappingTransformation has no entry for %r; the value is applied unchanged",
                where, t.kind, value)  # fmt: skip
    return value
