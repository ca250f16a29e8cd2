"""A co-simulation system: named slaves, output -> input connections (with gain/offset), parameters, start values.

``System.check()`` finds every definition error before a run starts and raises one SystemDefinitionError naming the
connection or variable and the fix; unconnected inputs are only warned about (their start value is used).
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.cosim.slaves.base import Slave, Variable
from orchestrator.errors import SystemDefinitionError

log = logging.getLogger(__name__)

#: Causalities a connection may read from.
SOURCE_CAUSALITIES = frozenset({"output", "local", "calculatedParameter", "parameter"})


def article(word: str) -> str:
    """'output' -> 'an output', 'parameter' -> 'a parameter' (for messages)."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def split_name(qualified: str) -> tuple[str, str]:
    """ "slave.var" -> ("slave", "var"); the variable part may itself contain dots (FMU names like a.b[1])."""
    slave, sep, var = qualified.partition(".")
    if not sep or not slave or not var:
        raise SystemDefinitionError(f"'{qualified}' is not a 'slave.variable' name (e.g. 'psa.p_feed')")
    return slave, var


@dataclass(frozen=True)
class Connection:
    """``target = gain * source + offset``, both as "slave.variable" names (gain/offset convert units)."""

    source: str
    target: str
    gain: float = 1.0
    offset: float = 0.0

    @property
    def source_slave(self) -> str:
        return split_name(self.source)[0]

    @property
    def source_var(self) -> str:
        return split_name(self.source)[1]

    @property
    def target_slave(self) -> str:
        return split_name(self.target)[0]

    @property
    def target_var(self) -> str:
        return split_name(self.target)[1]

    def label(self) -> str:
        return f"connection {self.source} -> {self.target}"


@dataclass
class System:
    """Slaves (by name), connections, per-slave parameter values and start values ("slave.var" -> value)."""

    slaves: dict[str, Slave] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    start_values: dict[str, float] = field(default_factory=dict)

    def add(self, slave: Slave, parameters: Mapping[str, Any] | None = None) -> Slave:
        """Add a slave (its name must be unique) with optional parameter values."""
        if slave.name in self.slaves:
            raise SystemDefinitionError(f"slave name '{slave.name}' is used twice; give each slave a unique name")
        if "." in slave.name or not slave.name:
            raise SystemDefinitionError(f"slave name '{slave.name}' must be non-empty and contain no '.'")
        self.slaves[slave.name] = slave
        if parameters:
            self.parameters.setdefault(slave.name, {}).update(parameters)
        return slave

    def connect(self, source: str, target: str, gain: float = 1.0, offset: float = 0.0) -> Connection:
        """Connect output ``source`` to input ``target`` ("slave.var" names): target = gain * source + offset."""
        connection = Connection(source, target, float(gain), float(offset))
        self.connections.append(connection)
        return connection

    # ------------------------------------------------------------------ checks
    def variable(self, qualified: str, where: str) -> tuple[Slave, Variable]:
        """The slave and variable a "slave.var" name refers to; SystemDefinitionError starting with ``where``
        (with a did-you-mean) when either does not exist."""
        slave_name, var_name = split_name(qualified)
        slave = self.slaves.get(slave_name)
        if slave is None:
            hint = did_you_mean(slave_name, self.slaves)
            known = ", ".join(sorted(self.slaves)) or "none"
            raise SystemDefinitionError(f"{where}: there is no slave '{slave_name}'{hint} (slaves: {known})")
        var = slave.variables.get(var_name)
        if var is None:
            hint = did_you_mean(var_name, slave.variables)
            raise SystemDefinitionError(f"{where}: {slave_name} has no variable '{var_name}'{hint}")
        return slave, var

    def check(self) -> list[str]:
        """Raise SystemDefinitionError on the first inconsistency; return warnings (unconnected inputs, conversions).

        Checked: unknown slaves/variables (with a did-you-mean), causality (source must be an output, target an
        input), type (Real/Integer/Boolean must match, Integer/Boolean -> Real is allowed; String and Binary are not
        connected), declared units
        (different units need a non-identity gain/offset, which is taken as the conversion), an input driven twice,
        parameter and start-value names.
        """
        warnings: list[str] = []
        driven: dict[str, Connection] = {}
        for c in self.connections:
            where = c.label()
            _, src = self.variable(c.source, where)
            _, dst = self.variable(c.target, where)
            if src.causality not in SOURCE_CAUSALITIES:
                raise SystemDefinitionError(
                    f"{where}: {c.source} is {article(src.causality)}, not an output; connect an output to an input"
                )
            if dst.causality != "input":
                raise SystemDefinitionError(
                    f"{where}: {c.target} is {article(dst.causality)}, not an input; connections must end at an input "
                    "(set parameters in the slave's parameters instead)"
                )
            if src.type in ("String", "Binary") or dst.type in ("String", "Binary"):
                kind = src.type if src.type in ("String", "Binary") else dst.type
                raise SystemDefinitionError(
                    f"{where}: {kind} variables cannot be connected (the master couples numbers); give "
                    f"{c.target} a value in the slave's parameters or with a set event"
                )
            if src.type != dst.type and not (dst.type == "Real" and src.type in ("Integer", "Boolean")):
                raise SystemDefinitionError(
                    f"{where}: type mismatch, {c.source} is {src.type} but {c.target} is {dst.type}"
                )
            if not (math.isfinite(c.gain) and math.isfinite(c.offset)):
                raise SystemDefinitionError(f"{where}: gain and offset must be finite numbers")
            identity = c.gain == 1.0 and c.offset == 0.0
            if src.unit and dst.unit and src.unit != dst.unit:
                if identity:
                    raise SystemDefinitionError(
                        f"{where}: unit mismatch, {c.source} is in '{src.unit}' but {c.target} expects "
                        f"'{dst.unit}'; add gain/offset to convert (target = gain * source + offset)"
                    )
                warnings.append(
                    f"{where}: converts '{src.unit}' to '{dst.unit}' with gain {c.gain:g} and offset {c.offset:g}"
                )
            if c.target in driven:
                raise SystemDefinitionError(
                    f"{where}: input {c.target} is already driven by {driven[c.target].source}; an input takes "
                    "exactly one connection"
                )
            driven[c.target] = c
        for slave_name, params in self.parameters.items():
            if slave_name not in self.slaves:
                raise SystemDefinitionError(f"parameters for unknown slave '{slave_name}'")
            slave = self.slaves[slave_name]
            for name in params:
                var = slave.variables.get(name)
                if var is None:
                    hint = did_you_mean(name, slave.variables)
                    raise SystemDefinitionError(
                        f"parameter {slave_name}.{name}: {slave_name} has no variable '{name}'{hint}"
                    )
                if var.causality not in ("parameter", "input"):
                    raise SystemDefinitionError(
                        f"parameter {slave_name}.{name}: is {article(var.causality)}; only parameters and inputs can be set"
                    )
        for qualified in self.start_values:
            _, var = self.variable(qualified, f"start value {qualified}")
            if var.causality not in ("input", "parameter"):
                raise SystemDefinitionError(
                    f"start value {qualified}: is {article(var.causality)}; only inputs and parameters take start values"
                )
        for slave in self.slaves.values():
            for var in slave.inputs():
                qualified = f"{slave.name}.{var.name}"
                if qualified not in driven and qualified not in self.start_values:
                    warnings.append(f"input {qualified} is not connected; its start value {var.start!r} is used")
        for w in warnings:
            log.warning(w)
        return warnings

    def slave_parameters(self, slave_name: str) -> dict[str, Any]:
        """Parameter values plus start values of inputs/parameters for one slave (what setup() receives)."""
        values = dict(self.parameters.get(slave_name, {}))
        prefix = slave_name + "."
        for qualified, value in self.start_values.items():
            if qualified.startswith(prefix):
                values.setdefault(qualified[len(prefix) :], value)
        return values

    def connected_signals(self) -> list[str]:
        """Every distinct connection source, in connection order (what the recorder stores by default)."""
        seen: dict[str, None] = {}
        for c in self.connections:
            seen.setdefault(c.source, None)
        return list(seen)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest candidate, or ""."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_did_you_mean = did_you_mean  # the scenario layer's old name for it, until it imports the public one
