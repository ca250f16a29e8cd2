"""Write a ScenarioSpec back as TOML (for `o2twin ssp import` and for tests of the format).

Python's tomllib only reads TOML; the scenario format uses a small subset (tables, arrays of tables, strings,
numbers, booleans, lists of strings, inline tables), so this writer covers exactly that subset.
parse_scenario(tomllib.loads(dumps_scenario(spec))) == spec for every spec parse_scenario accepts.
"""

from __future__ import annotations

import math
from typing import Any

from orchestrator.cosim.master.options import MasterOptions
from orchestrator.scenario.spec import FMU_SOLVER_KEYS, MASTER_KEYS, ScenarioSpec


def spec_to_table(spec: ScenarioSpec) -> dict[str, Any]:
    """The raw TOML table of a spec (defaults left out where the format has them)."""
    head: dict[str, Any] = {"name": spec.name}
    if spec.description:
        head["description"] = spec.description
    head["stop_time"] = spec.stop_time
    if spec.start_time:
        head["start_time"] = spec.start_time
    head["seed"] = spec.seed
    table: dict[str, Any] = {"scenario": head}

    default = MasterOptions()
    table["master"] = {
        k: getattr(spec.master, k)
        for k in MASTER_KEYS
        if getattr(spec.master, k) is not None and (getattr(spec.master, k) != getattr(default, k) or k == "step")
    }

    slaves: dict[str, Any] = {}
    for name, s in spec.slaves.items():
        body: dict[str, Any] = {}
        if s.fmu is not None:
            body["fmu"] = s.fmu
            if s.interface != "cs":
                body["interface"] = s.interface
            body.update({k: getattr(s, k) for k in FMU_SOLVER_KEYS if getattr(s, k) is not None})
        else:
            body["block"] = s.block
            if s.sample_time is not None:
                body["sample_time"] = s.sample_time
        if s.rate != 1:
            body["rate"] = s.rate
        if s.parameters:
            body["parameters"] = dict(s.parameters)
        slaves[name] = body
    table["slaves"] = slaves

    conns = []
    for c in spec.connections:
        entry: dict[str, Any] = {"from": c.source, "to": c.target}
        if c.gain != 1.0:
            entry["gain"] = c.gain
        if c.offset != 0.0:
            entry["offset"] = c.offset
        conns.append(entry)
    if conns:
        table["connections"] = conns

    events = []
    for e in spec.events:
        entry = {"time": e.time}
        if e.description:
            entry["description"] = e.description
        if e.action == "release":
            entry["release"] = [e.target]
        elif e.action == "drift":
            entry["drift"] = {e.target: {"rate": e.value}}
        else:
            entry[e.action] = {e.target: e.value}
        events.append(entry)
    if events:
        table["events"] = events

    inputs = []
    for x in spec.inputs:
        entry = {"name": x.name}
        if x.file is not None:
            entry["file"] = x.file
        else:
            entry["table"] = [list(row) for row in x.rows or []]
        if x.columns:
            entry["columns"] = list(x.columns)
        if x.slave is not None:
            entry["slave"] = x.slave
        else:
            entry["to"] = dict(x.targets)
        if x.interpolation != "auto":
            entry["interpolation"] = x.interpolation
        inputs.append(entry)
    if inputs:
        table["inputs"] = inputs

    outputs: dict[str, Any] = {}
    if spec.outputs.record:
        outputs["record"] = list(spec.outputs.record)
    if spec.outputs.interval is not None:
        outputs["interval"] = spec.outputs.interval
    if outputs:
        table["outputs"] = outputs
    if spec.plots:
        table["plots"] = [
            {k: v for k, v in {"title": p.title, "signals": p.signals, "unit": p.unit, "file": p.file}.items() if v}
            for p in spec.plots
        ]
    if spec.plant is not None:
        table["plant"] = {"device": spec.plant.device, "replaces": list(spec.plant.replaces), **spec.plant.options}
    if spec.watchdog is not None:
        table["safety"] = {"watchdog": spec.watchdog}
    if spec.summary is not None:
        table["metrics"] = {"summary": spec.summary}
    return table


def _key(key: str) -> str:
    if key and all(ch.isalnum() or ch in "_-" for ch in key):
        return key
    return _string(key)


def _string(value: str) -> str:
    """A TOML basic string: backslash, quote and every control character (TOML forbids them raw) escaped."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"TOML scenario values must be finite, got {value}")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def dumps_table(table: dict[str, Any]) -> str:
    """TOML text of a scenario table: scalars first, then sub-tables, then arrays of tables."""
    lines: list[str] = []

    def emit(prefix: str, body: dict[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not _is_table(v) and not _is_table_array(v)}
        if prefix and (scalars or not body):
            lines.append(f"[{prefix}]")
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
        if scalars or (prefix and not body):
            lines.append("")
        for k, v in body.items():
            if _is_table(v):
                emit(f"{prefix}.{_key(k)}" if prefix else _key(k), v)
        for k, v in body.items():
            if _is_table_array(v):
                name = f"{prefix}.{_key(k)}" if prefix else _key(k)
                for item in v:
                    lines.append(f"[[{name}]]")
                    lines.extend(f"{_key(ik)} = {_value(iv)}" for ik, iv in item.items())
                    lines.append("")

    emit("", table)
    return "\n".join(lines).rstrip() + "\n"


def _is_table(value: Any) -> bool:
    # Event actions and parameters are written as inline tables only inside arrays of tables, so any dict
    # met at this level is a real table.
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dumps_scenario(spec: ScenarioSpec) -> str:
    """The TOML text of a spec."""
    return dumps_table(spec_to_table(spec))
