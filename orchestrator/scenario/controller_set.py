"""Controller sets: which blocks of a scenario a controller replaces, with which blocks, parameters and wiring.

A controller set is a TOML file in ``controller_sets/`` (or a path): it takes slaves out of a scenario (with every
connection, recorded signal, plot signal and event of theirs), adds or changes slaves (merged as a scenario's
``extends`` merges), and adds connections, where one to an input the scenario already drives replaces that
connection; ``[from_scenario]`` gives a parameter of the set's slaves the value the scenario gives another slave's
parameter (the site's ambient pressure, so a set fits a scenario at altitude as it is). ``apply_controller_set``
turns any scenario with the shipped control structure into the same scenario under that controller: the one
definition that `o2twin compare`, `o2twin run --controllers` and the dashboard use (orchestrator.compare re-exports
it). The file is data: nothing in it is imported or run; its blocks come from the block registry
like a scenario's. Format: docs/compare.md.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import SystemDefinitionError
from orchestrator.paths import CONTROLLER_SETS_DIR
from orchestrator.scenario.load import merge_tables, read_scenario_table, resolve_scenario_path
from orchestrator.scenario.parse import parse_scenario, safe_name
from orchestrator.scenario.spec import ScenarioSpec

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")
_TOP_KEYS = ("controller_set", "slaves", "connections", "outputs", "plots", "from_scenario")
_QUALIFIED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.\[\]]*$")
_HEAD_KEYS = ("name", "description", "remove", "timed")


@dataclass(frozen=True)
class ControllerSet:
    """A parsed controller-set file (see the module docstring)."""

    name: str
    description: str = ""
    remove: tuple[str, ...] = ()  #: slaves taken out of the scenario
    timed: tuple[str, ...] = ()  #: slaves whose update compute time the comparison reports
    slaves: Mapping[str, Any] = field(default_factory=dict)  #: [slaves.NAME] tables, merged into the scenario's
    connections: tuple[Mapping[str, Any], ...] = ()
    record: tuple[str, ...] = ()  #: [outputs] record, appended to the scenario's
    plots: tuple[Mapping[str, Any], ...] = ()
    #: ("slave.parameter" of the set's slaves, "slave.parameter" of the scenario's): copied when the scenario gives it
    from_scenario: tuple[tuple[str, str], ...] = ()
    source: str = ""


def controller_set_dirs() -> list[Path]:
    """Where controller-set names are looked up: ./controller_sets (if it exists), then the repository's."""
    local = Path.cwd() / "controller_sets"
    dirs = [local] if local.is_dir() else []
    if CONTROLLER_SETS_DIR.resolve() not in [d.resolve() for d in dirs]:
        dirs.append(CONTROLLER_SETS_DIR)
    return dirs


def known_controller_sets() -> list[str]:
    """The names of the controller sets in the lookup folders."""
    return sorted({p.stem for d in controller_set_dirs() if d.is_dir() for p in d.glob("*.toml")})


def resolve_controller_set(name_or_path: str | Path) -> Path:
    """A controller-set argument -> its file: an existing .toml path, or NAME -> controller_sets/NAME.toml."""
    candidate = Path(name_or_path)
    if candidate.suffix.lower() == ".toml":
        if not candidate.is_file():
            raise SystemDefinitionError(f"controller set file '{candidate}' does not exist")
        return candidate
    for folder in controller_set_dirs():
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return path
    raise SystemDefinitionError(
        f"no controller set '{name_or_path}' in {', '.join(str(d) for d in controller_set_dirs())} "
        f"(controller sets: {', '.join(known_controller_sets()) or 'none'}); give a name or a .toml path"
    )


def load_controller_set(name_or_path: str | Path) -> ControllerSet:
    """Read and check a controller-set file; SystemDefinitionError names the file and the key that is wrong."""
    path = resolve_controller_set(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SystemDefinitionError(f"{path}: not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SystemDefinitionError(f"{path}: cannot read it ({err})") from None
    return parse_controller_set(raw, path)


def _fail(path: Path | str, where: str, text: str) -> SystemDefinitionError:
    return SystemDefinitionError(f"{path}: {where}: {text}")


def _names(path: Path | str, key: str, value: Any) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise _fail(path, f"[controller_set] '{key}'", f"give a list of slave names, got {value!r}")
    return tuple(value)


def parse_controller_set(raw: Mapping[str, Any], path: Path | str = "<controller set>") -> ControllerSet:
    """A ControllerSet from a table as read from TOML (the checks of load_controller_set)."""
    for key in raw:
        if key not in _TOP_KEYS:
            raise _fail(path, f"[{key}]", f"unknown table (allowed: {', '.join(_TOP_KEYS)})")
    head = raw.get("controller_set", {})
    if not isinstance(head, Mapping):
        raise _fail(path, "[controller_set]", "must be a table")
    for key in head:
        if key not in _HEAD_KEYS:
            raise _fail(path, f"[controller_set] '{key}'", f"unknown key (allowed: {', '.join(_HEAD_KEYS)})")
    name = head.get("name", safe_name(Path(path).stem))
    if not (isinstance(name, str) and _NAME_RE.match(name)):
        raise _fail(path, "[controller_set] 'name'", f"use letters, digits and _ . + - (up to 64), got {name!r}")
    description = head.get("description", "")
    if not isinstance(description, str) or "\n" in description:
        raise _fail(path, "[controller_set] 'description'", "must be one line of text")
    slaves = raw.get("slaves", {})
    if not (isinstance(slaves, Mapping) and all(isinstance(v, Mapping) for v in slaves.values())):
        raise _fail(path, "[slaves]", "give [slaves.NAME] tables")
    connections = raw.get("connections", [])
    if not (isinstance(connections, list) and all(isinstance(c, Mapping) for c in connections)):
        raise _fail(path, "[[connections]]", "must be an array of tables")
    for i, c in enumerate(connections, 1):
        if not (isinstance(c.get("from"), str) and isinstance(c.get("to"), str)):
            raise _fail(path, f"[[connections]] #{i}", "needs 'from' and 'to' as 'slave.variable'")
    outputs = raw.get("outputs", {})
    if not isinstance(outputs, Mapping) or set(outputs) - {"record"}:
        raise _fail(path, "[outputs]", "only 'record' (a list of 'slave.variable') may be given")
    record = outputs.get("record", [])
    if not (isinstance(record, list) and all(isinstance(r, str) for r in record)):
        raise _fail(path, "[outputs] 'record'", "give a list of 'slave.variable'")
    plots = raw.get("plots", [])
    if not (isinstance(plots, list) and all(isinstance(p, Mapping) for p in plots)):
        raise _fail(path, "[[plots]]", "must be an array of tables")
    from_scenario = _from_scenario(path, raw.get("from_scenario", {}), slaves)
    remove = _names(path, "remove", head.get("remove", []))
    added = tuple(n for n, body in slaves.items() if "block" in body or "fmu" in body)
    timed = _names(path, "timed", head["timed"]) if "timed" in head else added
    return ControllerSet(
        name=name,
        description=description,
        remove=remove,
        timed=timed,
        slaves=copy.deepcopy(dict(slaves)),
        connections=tuple(copy.deepcopy(dict(c)) for c in connections),
        record=tuple(record),
        plots=tuple(copy.deepcopy(dict(p)) for p in plots),
        from_scenario=from_scenario,
        source=str(path),
    )


def _from_scenario(path: Path | str, table: Any, slaves: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """[from_scenario] "set_slave.parameter" = "scenario_slave.parameter" pairs, checked."""
    if not isinstance(table, Mapping):
        raise _fail(path, "[from_scenario]", 'give "slave.parameter" = "slave.parameter" pairs')
    pairs = []
    for target, source in table.items():
        where = f"[from_scenario] '{target}'"
        if not (isinstance(source, str) and _QUALIFIED_RE.match(source) and _QUALIFIED_RE.match(str(target))):
            raise _fail(path, where, f'give "slave.parameter" = "slave.parameter", got {source!r}')
        if _slave_of(target) not in slaves:
            raise _fail(path, where, f"'{_slave_of(target)}' is not one of this set's [slaves] ({', '.join(slaves)})")
        pairs.append((str(target), source))
    return tuple(pairs)


# ---------------------------------------------------------------------------------------------------------------
# applying a set to a scenario's table


def _slave_of(qualified: Any) -> str:
    return str(qualified).split(".", 1)[0]


def _without_slaves(raw: dict[str, Any], gone: set[str]) -> None:
    """Drop every connection, recorded signal, plot signal and event action that names a slave in ``gone``."""
    raw["connections"] = [
        c
        for c in raw.get("connections", [])
        if _slave_of(c.get("from")) not in gone and _slave_of(c.get("to")) not in gone
    ]
    outputs = raw.get("outputs")
    if isinstance(outputs, dict) and isinstance(outputs.get("record"), list):
        outputs["record"] = [r for r in outputs["record"] if _slave_of(r) not in gone]
    plots = []
    for plot in raw.get("plots", []):
        signals = [s for s in plot.get("signals", []) if _slave_of(s) not in gone]
        if signals:
            plots.append({**plot, "signals": signals})
    raw["plots"] = plots
    events = []
    for event in raw.get("events", []):
        kept = dict(event)
        for action in ("set", "override", "drift"):
            if isinstance(kept.get(action), Mapping):
                kept[action] = {k: v for k, v in kept[action].items() if _slave_of(k) not in gone}
                if not kept[action]:
                    del kept[action]
        if isinstance(kept.get("release"), list):
            kept["release"] = [k for k in kept["release"] if _slave_of(k) not in gone] or None
            if kept["release"] is None:
                del kept["release"]
        if any(a in kept for a in ("set", "override", "drift", "release")):
            events.append(kept)
    raw["events"] = events


def apply_to_table(raw: Mapping[str, Any], cset: ControllerSet, scenario: str = "scenario") -> dict[str, Any]:
    """The scenario table ``raw`` (extends resolved) with the controller set applied."""
    table = copy.deepcopy(dict(raw))
    slaves = table.setdefault("slaves", {})
    site = _scenario_values(slaves, cset, scenario)
    missing = [n for n in cset.remove if n not in slaves]
    if missing:
        raise SystemDefinitionError(
            f"{cset.source}: [controller_set] 'remove' names {', '.join(missing)}, which {scenario} does not have "
            f"(its slaves: {', '.join(slaves)}); this controller set fits scenarios with the shipped control structure"
        )
    for name in cset.remove:
        del slaves[name]
    _without_slaves(table, set(cset.remove))
    table["slaves"] = merge_tables(slaves, copy.deepcopy(dict(cset.slaves)))
    for target, value in site.items():
        name, parameter = target.split(".", 1)
        table["slaves"][name].setdefault("parameters", {})[parameter] = value
    driven = {str(c["to"]) for c in cset.connections}
    table["connections"] = [c for c in table.get("connections", []) if str(c.get("to")) not in driven] + [
        dict(c) for c in cset.connections
    ]
    if cset.record:
        outputs = table.setdefault("outputs", {})
        outputs["record"] = [
            *outputs.get("record", []),
            *(r for r in cset.record if r not in outputs.get("record", [])),
        ]
    table["plots"] = [*table.get("plots", []), *(dict(p) for p in cset.plots)]
    for key in ("connections", "events", "plots"):
        if not table.get(key):
            table.pop(key, None)
    return table


def _scenario_values(slaves: Mapping[str, Any], cset: ControllerSet, scenario: str) -> dict[str, Any]:
    """The values [from_scenario] copies: the scenario's value of each source parameter, where the scenario gives
    one (else the target keeps the set's or the block's own value)."""
    values = {}
    for target, source in cset.from_scenario:
        name, parameter = source.split(".", 1)
        if name not in slaves:
            raise SystemDefinitionError(
                f"{cset.source}: [from_scenario] '{target}' = '{source}': {scenario} has no slave '{name}' "
                f"(its slaves: {', '.join(slaves)})"
            )
        given = slaves[name].get("parameters", {}) if isinstance(slaves[name], Mapping) else {}
        if isinstance(given, Mapping) and parameter in given:
            values[target] = copy.deepcopy(given[parameter])
    return values


def apply_controller_set(scenario: str | Path, cset: ControllerSet) -> ScenarioSpec:
    """The scenario (a name in scenarios/ or a .toml path) under the controller set, checked like any scenario.

    The scenario keeps its name (results go to the usual folder); errors name the controller-set file or the
    scenario file. A scenario without the slaves the set removes is refused.
    """
    path = resolve_scenario_path(scenario)
    if path.suffix.lower() != ".toml":
        raise SystemDefinitionError(f"{path}: a controller set applies to .toml scenarios only")
    table = apply_to_table(read_scenario_table(path), cset, scenario=str(path))
    try:
        return parse_scenario(table, source=str(path), default_name=safe_name(path.stem))
    except SystemDefinitionError as err:
        raise SystemDefinitionError(f"{err} (with controller set {cset.name} from {cset.source})") from None
