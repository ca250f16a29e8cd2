"""An SSP system tree (nested systems, system connectors, parameter bindings on every level) as one flat system.

Every connector has a hierarchical name (SSP 1.0): "B.C.u" is connector u of element C in sub-system B, "B.in" a
connector of sub-system B, "k1" a connector of the root system. A component in a sub-system becomes the slave
"B_C". Connections are followed through system connectors (in both directions, with each hop's unit conversion and
linear transformation composed) until they reach a component output, giving one FMU-to-FMU connection; an input or
parameter fed by a system connector that nothing drives takes that connector's bound value. Parameter bindings are
applied as SSP orders them: later bindings over earlier ones on the same level, a higher level over a lower one;
a name that reaches no variable, or a variable that cannot be set before initialisation, is reported with a
warning (SSP says it is ignored).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.ssp.common import NS
from orchestrator.scenario.ssp.params import VALUE_KINDS, Assignment, SourceReader, binding_assignments, transform
from orchestrator.scenario.ssp.units import BaseUnit, conversion, parse_unit

log = logging.getLogger(__name__)

#: Connector kinds that receive a value, seen from outside the element that has them.
SINK_KINDS = ("input", "parameter")
#: A chain of connections longer than this is a cycle through system connectors.
_MAX_CHAIN = 1000


@dataclass
class VarInfo:
    """What parameter binding and connection need to know of one variable or connector."""

    causality: str
    type: str = "Real"  #: Real, Integer, Boolean, String or Enumeration
    unit: str | None = None
    items: dict[str, int] | None = None  #: an enumeration's item names -> values
    settable: bool = True  #: may be given a value before initialisation (FMI: parameter, input, initial exact/approx)


@dataclass
class ComponentInfo:
    """A component as read by read.py: its slave table (None for an o2twin Python block) and its variables."""

    body: dict[str, Any] | None
    variables: dict[str, VarInfo]


@dataclass
class _Component:
    path: str  #: hierarchical name, "B.C"
    slave: str  #: flat slave name, "B_C"
    info: ComponentInfo


@dataclass
class _Driver:
    source: str
    gain: float
    offset: float
    where: str


@dataclass
class FlatSystem:
    """The flattened system: slaves (name -> table), connections ([[connections]] entries), unit definitions."""

    slaves: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: list[dict[str, Any]] = field(default_factory=list)
    components: dict[str, _Component] = field(default_factory=dict)


ComponentReader = Callable[[etree._Element, str, str], ComponentInfo]


class Flattener:
    """Walks the SSD's system tree once; ``flatten()`` returns the FlatSystem."""

    def __init__(self, reader: ComponentReader, sources: SourceReader, unit_defs: dict[str, BaseUnit],
                 where: str) -> None:  # fmt: skip
        self.read_component, self.sources, self.unit_defs, self.where = reader, sources, unit_defs, where
        self.components: dict[str, _Component] = {}  # by hierarchical path
        self.system_connectors: dict[str, VarInfo] = {}  # "B.in" -> the connector, seen from outside
        self.system_paths: set[str] = set()
        self.drivers: dict[str, _Driver] = {}
        #: component input or parameter -> (the undriven system connector feeding it, gain, offset)
        self.fed_by_system: dict[str, tuple[str, float, float]] = {}
        self.assignments: list[Assignment] = []
        self._order = 0
        self._slave_names: dict[str, str] = {}

    # ------------------------------------------------------------------ walk
    def flatten(self, system: etree._Element) -> FlatSystem:
        self._system(system, "", 0)
        flat = FlatSystem(components={c.slave: c for c in self.components.values()})
        for c in self.components.values():
            if c.info.body is not None:
                flat.slaves[c.slave] = c.info.body
        self._resolve_connections(flat)
        self._apply_parameters(flat)
        return flat

    def _system(self, system: etree._Element, prefix: str, depth: int) -> None:
        where = f"{self.where}: system '{prefix[:-1] or system.get('name') or ''}'"
        if (
            system.find("ssd:Elements/ssd:SignalDictionaryReference", NS) is not None
            or system.find("ssd:SignalDictionaries", NS) is not None
        ):
            raise SystemDefinitionError(f"{where}: signal dictionaries are not supported; connect components directly")
        for con in system.findall("ssd:Connectors/ssd:Connector", NS):
            self.system_connectors[prefix + (con.get("name") or "")] = connector_info(con)
        self._bindings(system, prefix, depth, None, where)
        for element in system.findall("ssd:Elements/*", NS):
            tag = etree.QName(element).localname
            name = element.get("name") or ""
            if tag == "System":
                self.system_paths.add(prefix + name)
                self._system(element, f"{prefix}{name}.", depth + 1)
            elif tag == "Component":
                self._component(element, prefix, depth + 1)
            else:
                log.warning("%s: element %s '%s' is not supported and is left out", where, tag, name)
        for i, c in enumerate(system.findall("ssd:Connections/ssd:Connection", NS), 1):
            self._connection(i, c, prefix, where)

    def _component(self, element: etree._Element, prefix: str, depth: int) -> None:
        name = element.get("name") or ""
        path = prefix + name
        slave = path.replace(".", "_")
        if slave in self._slave_names:
            raise SystemDefinitionError(
                f"{self.where}: components '{self._slave_names[slave]}' and '{path}' both flatten to the slave "
                f"name '{slave}'; rename one of them"
            )
        self._slave_names[slave] = path
        info = self.read_component(element, slave, f"{self.where}: component '{path}'")
        self.components[path] = _Component(path, slave, info)
        self._bindings(element, path + ".", depth, element.get("source"), f"{self.where}: component '{path}'")

    def _bindings(self, element: etree._Element, owner: str, depth: int, component_source: str | None,
                  where: str) -> None:  # fmt: skip
        for b in element.findall("ssd:ParameterBindings/ssd:ParameterBinding", NS):
            self._order += 1
            self.assignments += binding_assignments(b, self.sources, owner, depth, self._order, component_source,
                                                    where)  # fmt: skip

    # ----------------------------------------------------------- connectors
    def _node(self, element: str | None, connector: str, prefix: str, i: int, where: str) -> tuple[str, bool]:
        """(hierarchical name, whether it is a system's own connector seen from inside)."""
        if element is None or element == "":
            name = prefix + connector
            if name not in self.system_connectors:
                raise SystemDefinitionError(f"{where}: connection #{i} names unknown system connector '{connector}'")
            return name, True
        path = prefix + element
        if path not in self.components and path not in self.system_paths:
            raise SystemDefinitionError(f"{where}: connection #{i} names unknown component '{element}'")
        return f"{path}.{connector}", False

    def info(self, node: str) -> VarInfo | None:
        """The variable or connector a hierarchical name reaches (None: none)."""
        if node in self.system_connectors:
            return self.system_connectors[node]
        found = self.component_variable(node)
        return found[0].info.variables[found[1]] if found else None

    def component_variable(self, name: str) -> tuple[_Component, str] | None:
        """(component, variable) a hierarchical name reaches; variable names may hold dots themselves."""
        parts = name.split(".")
        for k in range(len(parts) - 1, 0, -1):
            comp = self.components.get(".".join(parts[:k]))
            if comp is not None:
                var = ".".join(parts[k:])
                return (comp, var) if var in comp.info.variables else None
        return None

    def _is_sink(self, node: str, inside: bool) -> bool:
        info = self.info(node)
        if info is None:
            return False
        kind = info.causality
        return kind not in SINK_KINDS if inside else kind in SINK_KINDS

    def _connection(self, i: int, c: etree._Element, prefix: str, where: str) -> None:
        a, a_inside = self._node(c.get("startElement"), c.get("startConnector") or "", prefix, i, where)
        b, b_inside = self._node(c.get("endElement"), c.get("endConnector") or "", prefix, i, where)
        if self._is_sink(a, a_inside) and not self._is_sink(b, b_inside):
            a, b = b, a  # start/end do not imply direction in SSP
        cwhere = f"{where}: connection #{i} {a} -> {b}"
        if c.get("startIndices") is not None or c.get("endIndices") is not None:
            raise SystemDefinitionError(f"{cwhere}: connections of array elements (startIndices/endIndices) are not "
                                        "supported; connect whole connectors")  # fmt: skip
        for tag in ("BooleanMappingTransformation", "IntegerMappingTransformation", "EnumerationMappingTransformation"):
            if c.find(f"ssc:{tag}", NS) is not None:
                raise SystemDefinitionError(f"{cwhere}: {tag} on connections is not supported")
        gain, offset = 1.0, 0.0
        if c.get("suppressUnitConversion", "false") not in ("true", "1"):
            gain, offset = self.unit_conversion(self._unit(a), self._unit(b), cwhere)
        lt = c.find("ssc:LinearTransformation", NS)
        if lt is None:
            lt = c.find("ssd:LinearTransformation", NS)  # written by some tools in the wrong namespace
        if lt is not None:
            factor, extra = float(lt.get("factor", 1.0)), float(lt.get("offset", 0.0))
            gain, offset = factor * gain, factor * offset + extra
        if b in self.drivers:
            raise SystemDefinitionError(f"{cwhere}: {b} is already driven by {self.drivers[b].source}")
        self.drivers[b] = _Driver(a, gain, offset, cwhere)

    def _unit(self, node: str) -> str | None:
        info = self.info(node)
        return info.unit if info is not None else None

    def unit_conversion(self, src: str | None, dst: str | None, where: str) -> tuple[float, float]:
        """(gain, offset) converting a value in unit src to unit dst (identity when either is unknown or equal)."""
        if not (src and dst and src != dst):
            return 1.0, 0.0
        src_base = self.unit_defs.get(src) or parse_unit(src)
        dst_base = self.unit_defs.get(dst) or parse_unit(dst)
        converted = conversion(src_base, dst_base) if src_base and dst_base else None
        if converted is None:
            raise SystemDefinitionError(
                f"{where}: cannot convert '{src}' to '{dst}' (unknown or different dimensions); "
                "set suppressUnitConversion or fix the units"
            )
        return converted

    def _chain(self, node: str) -> tuple[str, float, float]:
        """Follow a component connector's drivers back to its origin: (origin, gain, offset) with
        value(node) = gain * value(origin) + offset."""
        gain, offset, current = 1.0, 0.0, node
        for _ in range(_MAX_CHAIN):
            d = self.drivers.get(current)
            if d is None:
                return current, gain, offset
            gain, offset = gain * d.gain, gain * d.offset + offset
            current = d.source
            if current not in self.system_connectors:
                return current, gain, offset
        raise SystemDefinitionError(f"{self.where}: the connections through {node} form a cycle")

    # ------------------------------------------------------------- resolve
    def _resolve_connections(self, flat: FlatSystem) -> None:
        for sink in self.drivers:
            if sink in self.system_connectors:
                continue
            origin, gain, offset = self._chain(sink)
            if origin in self.system_connectors:
                self.fed_by_system[sink] = (origin, gain, offset)
                continue
            source = self.component_variable(origin)
            target = self.component_variable(sink)
            if source is None or target is None:
                missing = origin if source is None else sink
                raise SystemDefinitionError(
                    f"{self.drivers[sink].where}: '{missing}' is not a variable of its component"
                )
            entry: dict[str, Any] = {"from": f"{source[0].slave}.{source[1]}", "to": f"{target[0].slave}.{target[1]}"}
            if gain != 1.0:
                entry["gain"] = gain
            if offset != 0.0:
                entry["offset"] = offset
            flat.connections.append(entry)

    def _apply_parameters(self, flat: FlatSystem) -> None:
        """Bound values onto component variables, in SSP's precedence (deepest level first, then document order;
        later wins)."""
        targeted: list[tuple[int, int, _Component, str, Any]] = []
        unmatched: dict[str, list[str]] = {}
        connector_values: dict[str, tuple[Assignment, Any]] = {}
        for a in sorted(self.assignments, key=lambda a: (-a.depth, a.order)):
            if a.name in self.system_connectors:
                info = self.system_connectors[a.name]
                connector_values[a.name] = (a, self._value(a, info, a.name))
                continue
            found = self.component_variable(a.name)
            if found is None:
                unmatched.setdefault(a.where, []).append(a.name)
                continue
            comp, var = found
            targeted.append((a.depth, a.order, comp, var, self._value(a, comp.info.variables[var], a.name)))
        for sink, (origin, gain, offset) in self.fed_by_system.items():
            if origin not in connector_values:
                continue
            a, value = connector_values[origin]
            comp_var = self.component_variable(sink)
            if comp_var is None:
                continue
            target = comp_var[0].info.variables[comp_var[1]]
            if isinstance(value, str) and target.type == "Enumeration":
                value = self._item(value, target, f"{a.where}: {origin}")
            elif (gain != 1.0 or offset != 0.0) and isinstance(value, int | float) and not isinstance(value, bool):
                value = gain * float(value) + offset
            targeted.append((a.depth, a.order, comp_var[0], comp_var[1], value))
        for where, names in unmatched.items():
            log.warning("%s: no variable or connector named %s; %s not applied", where, ", ".join(sorted(names)),
                        "it is" if len(names) == 1 else "they are")  # fmt: skip
        for _, _, comp, var, value in sorted(targeted, key=lambda t: (-t[0], t[1])):
            info = comp.info.variables[var]
            if not info.settable:
                log.warning("%s: %s.%s (causality %s) cannot be set before initialisation; the bound value is "
                            "not applied", self.where, comp.path, var, info.causality)  # fmt: skip
                continue
            if comp.info.body is None:
                log.warning("%s: %s is an o2twin block; its bound value for %s is not applied", self.where,
                            comp.path, var)  # fmt: skip
                continue
            comp.info.body.setdefault("parameters", {})[var] = value

    def _value(self, a: Assignment, target: VarInfo, name: str) -> Any:
        """The assignment's value for the target: unit conversion, then the mapping's transformation; enumeration
        item names become the target's values."""
        where = f"{a.where}: {name}"
        value = a.value
        if a.type == "Real" and not a.suppress_unit_conversion and a.unit and target.unit:
            src = a.unit_defs.get(a.unit) or self.unit_defs.get(a.unit) or parse_unit(a.unit)
            dst = self.unit_defs.get(target.unit) or parse_unit(target.unit)
            if a.unit != target.unit:
                converted = conversion(src, dst) if src and dst else None
                if converted is None:
                    raise SystemDefinitionError(
                        f"{where}: cannot convert the bound value's unit '{a.unit}' to '{target.unit}'"
                    )
                value = converted[0] * float(value) + converted[1]
        if a.type == "Enumeration" and target.items is None and target.type == "Enumeration":
            return transform(value, a.transformation, where)  # a system connector: item names until they reach one
        if a.type == "Enumeration" and target.type in ("Enumeration", "Integer"):
            t = a.transformation
            if t is not None and t.kind == "Enumeration":
                value = transform(value, t, where)
            value = self._item(value, target, where)
            return transform(value, t, where) if t is not None and t.kind == "Integer" else value
        value = transform(value, a.transformation, where)
        if target.type == "Integer" and isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)
        return value

    @staticmethod
    def _item(value: Any, target: VarInfo, where: str) -> int:
        if target.items is None:
            raise SystemDefinitionError(f"{where}: an enumeration value '{value}' for a variable without items")
        if value not in target.items:
            raise SystemDefinitionError(
                f"{where}: '{value}' is not an item of the enumeration (items: {', '.join(target.items)})"
            )
        return target.items[value]


def connector_info(con: etree._Element) -> VarInfo:
    """An ssd:Connector as VarInfo (its kind, type and unit)."""
    kind = con.get("kind") or ""
    for typed in con:
        if not isinstance(typed.tag, str) or etree.QName(typed).namespace != NS["ssc"]:
            continue
        tag = etree.QName(typed).localname
        return VarInfo(kind, VALUE_KINDS.get(tag, tag), typed.get("unit"))  # SSP 2.0: Float64 -> Real, ...
    return VarInfo(kind)
