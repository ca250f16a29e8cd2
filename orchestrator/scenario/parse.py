"""The checks that turn a raw scenario table (parsed TOML) into a ScenarioSpec.

Every check names the file, the table and the key it rejects, so a user can fix a scenario without reading code.
The format is documented in docs/scenarios.md; this module and that page change together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.cosim.master.options import ALGORITHMS, LOOP_SOLVERS, MasterOptions
from orchestrator.cosim.system import Connection
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.registry import REFERENCE_RE
from orchestrator.scenario.spec import (
    EVENT_ACTIONS,
    FMU_SOLVER_KEYS,
    INTERFACES,
    INTERPOLATIONS,
    MASTER_KEYS,
    ME_METHODS,
    EventSpec,
    InputSpec,
    OutputsSpec,
    ParameterValue,
    PlantSpec,
    PlotSpec,
    ScenarioSpec,
    SlaveSpec,
)

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A scenario name becomes a folder under results/: no separators, no "..", nothing a file system treats specially.
_SCENARIO_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}$")


class _Where:
    """Builds error messages that name the file and the table."""

    def __init__(self, source: str) -> None:
        self.source = source or "<scenario>"

    def error(self, table: str, message: str) -> SystemDefinitionError:
        return SystemDefinitionError(f"{self.source}: {table}: {message}")


def _check_keys(where: _Where, table: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            raise where.error(table, f"unknown key '{key}' (allowed: {', '.join(allowed)})")


def _number(where: _Where, table: str, key: str, value: Any, *, positive: bool = False, minimum: float | None = None):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise where.error(table, f"'{key}' must be a number, got {value!r}")
    if positive and value <= 0:
        raise where.error(table, f"'{key}' must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise where.error(table, f"'{key}' must be >= {minimum}, got {value!r}")
    return float(value)


def _integer(where: _Where, table: str, key: str, value: Any, *, choices: tuple[int, ...] | None = None,
             minimum: int | None = None) -> int:  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(table, f"'{key}' must be an integer, got {value!r}")
    if choices is not None and value not in choices:
        raise where.error(table, f"'{key}' must be one of {', '.join(map(str, choices))}, got {value!r}")
    if minimum is not None and value < minimum:
        raise where.error(table, f"'{key}' must be >= {minimum}, got {value!r}")
    return value


def _string(where: _Where, table: str, key: str, value: Any, *, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise where.error(table, f"'{key}' must be a string, got {value!r}")
    if choices is not None and value not in choices:
        raise where.error(table, f"'{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _boolean(where: _Where, table: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.error(table, f"'{key}' must be true or false, got {value!r}")
    return value


def _table(where: _Where, table: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise where.error(table, f"must be a table, got {value!r}")
    return value


def _qualified(where: _Where, table: str, key: str, value: Any) -> tuple[str, str]:
    """Split "slave.variable" (the variable may itself contain dots or brackets, e.g. "psa.N_feed[1]")."""
    if not isinstance(value, str) or "." not in value or value.startswith(".") or value.endswith("."):
        raise where.error(table, f"'{key}' must be 'slave.variable', got {value!r}")
    slave, variable = value.split(".", 1)
    return slave, variable


def _parameters(where: _Where, table: str, raw: Any) -> dict[str, ParameterValue]:
    params = {}
    for key, value in _table(where, table, raw).items():
        if isinstance(value, bool | str) or (isinstance(value, int | float) and math.isfinite(value)):
            params[key] = value
        else:
            raise where.error(table, f"'{key}' must be a number, boolean or string, got {value!r}")
    return params


def _parse_master(where: _Where, raw: Mapping[str, Any]) -> MasterOptions:
    t = "[master]"
    _check_keys(where, t, raw, MASTER_KEYS)
    m = MasterOptions()
    if "algorithm" in raw:
        m.algorithm = _string(where, t, "algorithm", raw["algorithm"], choices=ALGORITHMS)  # type: ignore[assignment]
    if "step" in raw:
        m.step = _number(where, t, "step", raw["step"], positive=True)
    if "extrapolation" in raw:
        m.extrapolation = _integer(where, t, "extrapolation", raw["extrapolation"], choices=(0, 1))
    if "error_control" in raw:
        m.error_control = _boolean(where, t, "error_control", raw["error_control"])
    for key in ("tolerance", "loop_tolerance", "min_step", "max_step"):
        if key in raw:
            setattr(m, key, _number(where, t, key, raw[key], positive=True))
    if "loop_solver" in raw:
        m.loop_solver = _string(where, t, "loop_solver", raw["loop_solver"], choices=LOOP_SOLVERS)  # type: ignore[assignment]
    if "loop_max_iterations" in raw:
        m.loop_max_iterations = _integer(where, t, "loop_max_iterations", raw["loop_max_iterations"], minimum=1)
    if m.min_step is not None and m.max_step is not None and m.min_step > m.max_step:
        raise where.error(t, f"'min_step' ({m.min_step}) must not exceed 'max_step' ({m.max_step})")
    try:
        m.validate()  # the master's own limits (e.g. its minimum step)
    except SystemDefinitionError as err:
        raise where.error(t, str(err).removeprefix("[master] ")) from None
    return m


def _parse_slave(where: _Where, name: str, raw: Any) -> SlaveSpec:
    t = f"[slaves.{name}]"
    raw = _table(where, t, raw)
    if not _NAME_RE.match(name):
        raise where.error(t, "a slave name must be a letter or '_' followed by letters, digits or '_'")
    _check_keys(where, t, raw, ("fmu", "block", "interface", "rate", "sample_time", "parameters", *FMU_SOLVER_KEYS))
    if ("fmu" in raw) == ("block" in raw):
        raise where.error(t, "give exactly one of 'fmu' (Modelica class or .fmu path) or 'block' ('module:Class')")
    s = SlaveSpec(name=name)
    if "fmu" in raw:
        s.fmu = _string(where, t, "fmu", raw["fmu"])
        if not s.fmu.strip():
            raise where.error(t, "'fmu' must not be empty")
        if "sample_time" in raw:
            raise where.error(t, "'sample_time' is for Python blocks; an FMU steps every 'rate' * master.step")
        if "interface" in raw:
            s.interface = _string(where, t, "interface", raw["interface"], choices=INTERFACES)  # type: ignore[assignment]
        _parse_fmu_solver(where, t, raw, s)
    else:
        s.block = _string(where, t, "block", raw["block"])
        if not REFERENCE_RE.match(s.block):
            raise where.error(
                t,
                f"'block' must be a registered block name or 'module:Class', e.g. 'controllers.pid:PressurePID', "
                f"got {s.block!r}",
            )
        for key in ("interface", *FMU_SOLVER_KEYS):
            if key in raw:
                raise where.error(t, f"'{key}' is for FMUs only")
        if "sample_time" in raw:
            s.sample_time = _number(where, t, "sample_time", raw["sample_time"], positive=True)
    if "rate" in raw:
        s.rate = _integer(where, t, "rate", raw["rate"], minimum=1)
    if "parameters" in raw:
        s.parameters = _parameters(where, f"[slaves.{name}.parameters]", raw["parameters"])
    return s


def _parse_fmu_solver(where: _Where, t: str, raw: Mapping[str, Any], s: SlaveSpec) -> None:
    """[slaves.NAME] tolerance (both interfaces), method/rtol/atol (Model Exchange: the master integrates)."""
    if "tolerance" in raw:
        s.tolerance = _number(where, t, "tolerance", raw["tolerance"], positive=True)
    for key in ("method", "rtol", "atol"):
        if key in raw and s.interface != "me":
            raise where.error(t, f"'{key}' sets the Model Exchange integrator; add interface = \"me\" or remove it")
    if "method" in raw:
        s.method = _string(where, t, "method", raw["method"], choices=ME_METHODS)
    if "rtol" in raw:
        s.rtol = _number(where, t, "rtol", raw["rtol"], positive=True)
    if "atol" in raw:
        s.atol = _number(where, t, "atol", raw["atol"], positive=True)


def _parse_connection(where: _Where, index: int, raw: Any) -> Connection:
    t = f"[[connections]] #{index}"
    raw = _table(where, t, raw)
    _check_keys(where, t, raw, ("from", "to", "gain", "offset"))
    for key in ("from", "to"):
        if key not in raw:
            raise where.error(t, f"missing '{key}' ('slave.variable')")
    fs, fv = _qualified(where, t, "from", raw["from"])
    ts, tv = _qualified(where, t, "to", raw["to"])
    gain = _number(where, t, "gain", raw.get("gain", 1.0))
    offset = _number(where, t, "offset", raw.get("offset", 0.0))
    return Connection(f"{fs}.{fv}", f"{ts}.{tv}", gain, offset)


def _parse_event(where: _Where, index: int, raw: Any) -> list[EventSpec]:
    t = f"[[events]] #{index}"
    raw = _table(where, t, raw)
    _check_keys(where, t, raw, ("time", "description", *EVENT_ACTIONS))
    if "time" not in raw:
        raise where.error(t, "missing 'time' (s)")
    time = _number(where, t, "time", raw["time"])
    description = _string(where, t, "description", raw.get("description", ""))
    if not any(a in raw for a in EVENT_ACTIONS):
        raise where.error(t, f"nothing to do: give at least one of {', '.join(EVENT_ACTIONS)}")
    events: list[EventSpec] = []
    for action in EVENT_ACTIONS:
        if action not in raw:
            continue
        if action == "release":
            targets = raw["release"]
            if not isinstance(targets, list):
                raise where.error(t, f"'release' must be a list of 'slave.variable', got {targets!r}")
            for target in targets:
                slave, var = _qualified(where, t, "release", target)
                events.append(EventSpec(time, "release", slave, var, None, description))
            continue
        for target, value in _table(where, f"{t} '{action}'", raw[action]).items():
            slave, var = _qualified(where, t, f"{action}' key '{target}", target)
            if action == "drift":
                spec = _table(where, f"{t} drift '{target}'", value)
                _check_keys(where, f"{t} drift '{target}'", spec, ("rate",))
                if "rate" not in spec:
                    raise where.error(t, f"drift '{target}' needs 'rate' (change per second)")
                value = _number(where, t, f"drift '{target}' rate", spec["rate"])
            elif isinstance(value, bool | str):
                pass
            else:
                value = _number(where, t, f"{action} '{target}'", value)
            events.append(EventSpec(time, action, slave, var, value, description))  # type: ignore[arg-type]
    return events


def _string_list(where: _Where, table: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(table, f"'{key}' must be a list of strings, got {value!r}")
    return list(value)


def _parse_input(where: _Where, index: int, raw: Any) -> InputSpec:
    t = f"[[inputs]] #{index}"
    raw = _table(where, t, raw)
    _check_keys(where, t, raw, ("name", "file", "table", "columns", "to", "slave", "interpolation"))
    if ("file" in raw) == ("table" in raw):
        raise where.error(t, "give exactly one of 'file' (a CSV beside the scenario) or 'table' (rows of time, values)")
    if ("to" in raw) == ("slave" in raw):
        raise where.error(t, "give exactly one of 'to' ({ column = 'slave.input' }) or 'slave' (columns by input name)")
    spec = InputSpec(name=_string(where, t, "name", raw.get("name", f"inputs{index}")))
    if not _NAME_RE.match(spec.name):
        raise where.error(t, f"'name' = {spec.name!r} must be a letter or '_' followed by letters, digits or '_'")
    if "columns" in raw:
        spec.columns = _string_list(where, t, "columns", raw["columns"])
    if "file" in raw:
        spec.file = _string(where, t, "file", raw["file"])
    else:
        rows = raw["table"]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise where.error(t, "'table' must be a list of rows [time, value, ...]")
        spec.rows = [[_number(where, t, "table", v) for v in row] for row in rows]
        if not spec.columns:
            raise where.error(t, "an inline 'table' needs 'columns' (the names of its value columns)")
        if any(len(row) != len(spec.columns) + 1 for row in spec.rows):
            raise where.error(t, f"every row of 'table' must hold a time and {len(spec.columns)} value(s)")
    if "to" in raw:
        for column, target in _table(where, f"{t} 'to'", raw["to"]).items():
            _qualified(where, t, f"to' key '{column}", target)
            spec.targets[column] = target
        unknown = [c for c in spec.targets if spec.columns and c not in spec.columns]
        if unknown:
            raise where.error(t, f"'to' names column(s) {', '.join(unknown)} not in 'columns'")
    else:
        spec.slave = _string(where, t, "slave", raw["slave"])
    if "interpolation" in raw:
        spec.interpolation = _string(where, t, "interpolation", raw["interpolation"], choices=INTERPOLATIONS)  # type: ignore[assignment]
    return spec


def _parse_outputs(where: _Where, raw: Any) -> OutputsSpec:
    t = "[outputs]"
    raw = _table(where, t, raw)
    _check_keys(where, t, raw, ("record", "interval"))
    out = OutputsSpec()
    record = raw.get("record", [])
    if not isinstance(record, list):
        raise where.error(t, f"'record' must be a list of 'slave.variable', got {record!r}")
    for item in record:
        _qualified(where, t, "record", item)
    out.record = list(record)
    if "interval" in raw:
        out.interval = _number(where, t, "interval", raw["interval"], positive=True)
    return out


def _parse_plot(where: _Where, index: int, raw: Any) -> PlotSpec:
    t = f"[[plots]] #{index}"
    raw = _table(where, t, raw)
    _check_keys(where, t, raw, ("title", "signals", "unit", "file"))
    if "title" not in raw or "signals" not in raw:
        raise where.error(t, "needs 'title' and 'signals' (a list of 'slave.variable')")
    signals = raw["signals"]
    if not isinstance(signals, list) or not signals:
        raise where.error(t, f"'signals' must be a non-empty list of 'slave.variable', got {signals!r}")
    for s in signals:
        _qualified(where, t, "signals", s)
    unit = raw.get("unit")
    if unit is not None:
        from orchestrator.units import DISPLAY_UNITS

        known = ("SI", *sorted({u for u, _ in DISPLAY_UNITS.values()}))
        unit = _string(where, t, "unit", unit, choices=known)
    file = raw.get("file")
    if file is not None:
        file = _string(where, t, "file", file)
        if "/" in file or "\\" in file or not file.lower().endswith(".png"):
            raise where.error(t, f"'file' must be a plain file name ending in .png, got {file!r}")
    return PlotSpec(_string(where, t, "title", raw["title"]), list(signals), unit, file)


def _parse_plant(where: _Where, raw: Any) -> PlantSpec:
    t = "[plant]"
    raw = dict(_table(where, t, raw))
    if "device" not in raw:
        raise where.error(t, "missing 'device' (e.g. 'serial:///dev/ttyUSB0?baud=115200')")
    device = _string(where, t, "device", raw.pop("device"))
    replaces = raw.pop("replaces", [])
    if not isinstance(replaces, list) or not all(isinstance(r, str) for r in replaces):
        raise where.error(t, f"'replaces' must be a list of slave names, got {replaces!r}")
    return PlantSpec(device, list(replaces), raw)


def _check_text(where: _Where, path: str, value: Any) -> None:
    """No key or string anywhere in a scenario may hold a control character (a NUL ends a C string, a newline
    splits a log line): names reach file systems, FMUs and logs."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_text(where, f"{path}.{key}" if path else str(key), str(key))
            _check_text(where, f"{path}.{key}" if path else str(key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(where, f"{path}[{i}]", item)
    elif isinstance(value, str):
        bad = next((c for c in value if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F), None)
        if bad is not None:
            shown = path.encode("unicode_escape").decode("ascii")
            raise where.error(
                f"'{shown}'",
                f"holds the control character {bad!r}; names and texts must be one printable line (no NUL)",
            )


def safe_name(stem: str) -> str:
    """A file stem as a scenario name (the results folder): unusual characters become '_'."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", stem)[:100]
    return "_" + name[1:] if name[:1] in (".", "-", "+", "") else name


def parse_scenario(raw: Mapping[str, Any], source: str = "", default_name: str = "scenario") -> ScenarioSpec:
    """Check a scenario table (as read from TOML) and return the spec; SystemDefinitionError names what is wrong."""
    where = _Where(source)
    _check_text(where, "", raw)
    allowed = ("scenario", "master", "slaves", "connections", "events", "inputs", "outputs", "plots", "plant",
               "safety", "metrics")  # fmt: skip
    for key in raw:
        if key not in allowed:
            raise where.error(f"[{key}]", f"unknown table (allowed: {', '.join(allowed)})")
    head = _table(where, "[scenario]", raw.get("scenario", {}))
    _check_keys(where, "[scenario]", head, ("name", "description", "stop_time", "start_time", "seed"))
    if "stop_time" not in head:
        raise where.error("[scenario]", "missing 'stop_time' (s)")
    spec = ScenarioSpec(
        name=_string(where, "[scenario]", "name", head.get("name", safe_name(default_name))),
        stop_time=_number(where, "[scenario]", "stop_time", head["stop_time"]),
        description=_string(where, "[scenario]", "description", head.get("description", "")),
        start_time=_number(where, "[scenario]", "start_time", head.get("start_time", 0.0)),
        seed=_integer(where, "[scenario]", "seed", head.get("seed", 0), minimum=0),
        source=source,
    )
    if not _SCENARIO_NAME_RE.match(spec.name):
        raise where.error(
            "[scenario]",
            f"'name' = {spec.name!r} names the results folder (results/NAME/...): use letters, digits and _ . + - "
            "(up to 100), not a path",
        )
    if "\n" in spec.description:
        raise where.error("[scenario]", "'description' must be one line")
    if spec.stop_time <= spec.start_time:
        raise where.error(
            "[scenario]", f"'stop_time' ({spec.stop_time}) must be after 'start_time' ({spec.start_time})"
        )
    spec.master = _parse_master(where, _table(where, "[master]", raw.get("master", {})))

    slaves = _table(where, "[slaves]", raw.get("slaves", {}))
    if not slaves:
        raise where.error("[slaves]", "a scenario needs at least one slave ([slaves.NAME] with 'fmu' or 'block')")
    spec.slaves = {name: _parse_slave(where, name, body) for name, body in slaves.items()}

    def _list(key: str) -> list:
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise where.error(f"[[{key}]]", f"must be an array of tables ([[{key}]]), got {value!r}")
        return value

    spec.connections = [_parse_connection(where, i + 1, c) for i, c in enumerate(_list("connections"))]
    spec.events = [e for i, ev in enumerate(_list("events")) for e in _parse_event(where, i + 1, ev)]
    spec.events.sort(key=lambda e: e.time)  # stable: same-time actions keep file order
    spec.inputs = [_parse_input(where, i + 1, x) for i, x in enumerate(_list("inputs"))]
    spec.outputs = _parse_outputs(where, raw.get("outputs", {}))
    spec.plots = [_parse_plot(where, i + 1, p) for i, p in enumerate(_list("plots"))]
    if "plant" in raw:
        spec.plant = _parse_plant(where, raw["plant"])
    if "safety" in raw:
        safety = _table(where, "[safety]", raw["safety"])
        _check_keys(where, "[safety]", safety, ("watchdog",))
        if "watchdog" in safety:
            spec.watchdog = _string(where, "[safety]", "watchdog", safety["watchdog"])
    if "metrics" in raw:
        metrics = _table(where, "[metrics]", raw["metrics"])
        _check_keys(where, "[metrics]", metrics, ("summary",))
        if "summary" in metrics:
            spec.summary = _string(where, "[metrics]", "summary", metrics["summary"])
            if not REFERENCE_RE.match(spec.summary):
                raise where.error(
                    "[metrics]", f"'summary' must be a registered name or 'module:function', got {spec.summary!r}"
                )
    check_references(spec)
    return spec


def check_references(spec: ScenarioSpec) -> None:
    """Check that every slave named by connections, events, outputs, plots, plant and safety exists.

    Variable names are checked later, against the slaves' declared interfaces, when the system is built.
    """
    where = _Where(spec.source)
    known = ", ".join(spec.slaves)

    def need(table: str, slave: str, what: str) -> None:
        if slave not in spec.slaves:
            raise where.error(table, f"{what} names unknown slave '{slave}' (slaves: {known})")

    seen_targets: dict[str, int] = {}
    for i, c in enumerate(spec.connections, 1):
        need(f"[[connections]] #{i}", c.source_slave, f"'from' = '{c.source}'")
        need(f"[[connections]] #{i}", c.target_slave, f"'to' = '{c.target}'")
        if c.target in seen_targets:
            raise where.error(
                f"[[connections]] #{i}", f"input '{c.target}' is already driven by connection #{seen_targets[c.target]}"
            )
        seen_targets[c.target] = i
    for i, table in enumerate(spec.inputs, 1):
        t = f"[[inputs]] #{i}"
        if table.name in spec.slaves or table.name in [x.name for x in spec.inputs[: i - 1]]:
            raise where.error(t, f"'name' = '{table.name}' is taken by a slave or another table; name it otherwise")
        if table.slave is not None:
            need(t, table.slave, f"'slave' = '{table.slave}'")
        for column, target in table.targets.items():
            need(t, target.split(".", 1)[0], f"'to' {column} = '{target}'")
            if target in seen_targets:
                raise where.error(t, f"input '{target}' is already driven by connection #{seen_targets[target]}")
    for e in spec.events:
        need("[[events]]", e.slave, f"event at t={e.time:g} s on '{e.target}'")
        if not spec.start_time <= e.time <= spec.stop_time:
            raise where.error(
                "[[events]]", f"event at t={e.time:g} s on '{e.target}' is outside [start_time, stop_time]"
            )
    for r in spec.outputs.record:
        need("[outputs]", r.split(".", 1)[0], f"'record' entry '{r}'")
    for i, p in enumerate(spec.plots, 1):
        for s in p.signals:
            need(f"[[plots]] #{i}", s.split(".", 1)[0], f"signal '{s}'")
    if spec.plant is not None:
        for r in spec.plant.replaces:
            need("[plant]", r, f"'replaces' entry '{r}'")
    if spec.watchdog is not None:
        need("[safety]", spec.watchdog, "'watchdog'")
    if spec.outputs.interval is not None:
        ratio = spec.outputs.interval / spec.master.step
        if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio) or round(ratio) < 1:
            raise where.error(
                "[outputs]",
                f"'interval' ({spec.outputs.interval:g} s) must be a multiple of master.step ({spec.master.step:g} s)",
            )
