"""Sweep files: a study's design in TOML (format in docs/sweeps.md), read with the care of scenario files.

A sweep file is data: nothing in it is imported or run, and the scenario it names is a name in the scenario folders
or a .toml/.ssp file inside the sweep file's own folder. Every error names the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.spec import ParameterValue, ScenarioSpec
from orchestrator.sweep.design import (
    SAMPLING_METHODS,
    Sampling,
    SweepDefinitionError,
    SweepDesign,
    check_address,
    check_design,
    check_seeds,
    grid_from_table,
    range_of,
)

TABLES = ("sweep", "set", "grid", "samples")
SWEEP_KEYS = ("scenario", "name", "description", "stop_time", "seeds")
SAMPLES_KEYS = ("n", "method", "seed", "ranges")


def is_sweep_file(path: str | Path) -> bool:
    """True for a readable .toml file with a [sweep] table (a scenario file has [scenario] instead)."""
    candidate = Path(path)
    if candidate.suffix.lower() != ".toml" or not candidate.is_file():
        return False
    try:
        return isinstance(tomllib.loads(candidate.read_text(encoding="utf-8")).get("sweep"), dict)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def load_sweep_file(path: str | Path) -> SweepDesign:
    """Read and check a sweep file; SweepDefinitionError naming the file and key on any mistake."""
    path = Path(path)
    raw = _read(path)
    where = str(path)
    _only(raw, TABLES, where, "top level")
    head = _table(raw, "sweep", where, required=True)
    _only(head, SWEEP_KEYS, where, "[sweep]")
    if "scenario" not in head:
        raise SweepDefinitionError(f'{where}: [sweep] needs scenario = "NAME" (or a .toml path beside this file)')
    design = SweepDesign(
        scenario=_scenario(head["scenario"], path),
        name=_name(head.get("name", path.stem), where),
        grid=grid_from_table(_table(raw, "grid", where), f"{where}: [grid]"),
        sampling=_sampling(_table(raw, "samples", where), where) if "samples" in raw else None,
        seeds=_seeds(head["seeds"], where) if "seeds" in head else None,
        overrides=_overrides(_table(raw, "set", where), where),
        stop_time=_stop_time(head.get("stop_time"), where),
    )
    check_design(design, where)
    return design


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SweepDefinitionError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise SweepDefinitionError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except OSError as err:
        raise SweepDefinitionError(f"{path}: cannot read it ({err.strerror or err})") from None


def _only(table: Mapping[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise SweepDefinitionError(f"{where}: {what}: unknown key '{unknown[0]}' (allowed: {', '.join(allowed)})")


def _table(raw: Mapping[str, Any], key: str, where: str, required: bool = False) -> dict[str, Any]:
    value = raw.get(key, None if required else {})
    if not isinstance(value, dict):
        missing = value is None
        raise SweepDefinitionError(f"{where}: " + (f"no [{key}] table" if missing else f"[{key}] must be a table"))
    return value


def _scenario(value: Any, sweep_file: Path) -> ScenarioSpec:
    """The scenario a sweep file names: NAME (beside the file, else in the scenario folders), or a .toml/.ssp path
    inside the sweep file's folder."""
    where = f"{sweep_file}: [sweep] scenario"
    if not isinstance(value, str) or not value:
        raise SweepDefinitionError(f"{where} must be a scenario name or a .toml file, got {value!r}")
    folder = sweep_file.resolve().parent
    rel = PurePath(value)
    if rel.suffix.lower() in (".toml", ".ssp") or "/" in value or "\\" in value:
        if rel.is_absolute() or ".." in rel.parts or "\\" in value or rel.suffix.lower() not in (".toml", ".ssp"):
            raise SweepDefinitionError(f"{where} = '{value}' must be a scenario name or a .toml/.ssp path in {folder}")
        candidate = folder / rel
        if not candidate.is_file():
            raise SweepDefinitionError(f"{where} = '{value}': {candidate} does not exist")
        if not candidate.resolve().is_relative_to(folder):
            raise SweepDefinitionError(f"{where} = '{value}' leads out of {folder} (a link); copy the file there")
        return load_scenario(candidate)
    beside = folder / f"{value}.toml"
    if beside.is_file() and beside.resolve() != sweep_file.resolve():
        return load_scenario(beside)
    return load_scenario(value)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or PurePath(value).name != value or value in (".", ".."):
        raise SweepDefinitionError(f"{where}: [sweep] name = {value!r} must be a plain name (it names a folder)")
    return value


def _stop_time(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SweepDefinitionError(f"{where}: [sweep] stop_time must be a number of seconds > 0, got {value!r}")
    return float(value)


def _seeds(value: Any, where: str) -> list[int]:
    key = f"{where}: [sweep] seeds"
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SweepDefinitionError(f"{key} = {value}: give a count >= 1 or a list of seeds")
        return list(range(value))
    if isinstance(value, list):
        return check_seeds(value, key)
    raise SweepDefinitionError(f"{key}: give a count (20) or a list of seeds ([3, 7, 11]), got {value!r}")


def _overrides(table: Mapping[str, Any], where: str) -> dict[str, ParameterValue]:
    out: dict[str, ParameterValue] = {}
    for name, value in table.items():
        key = f'{where}: [set] "{name}"'
        check_address(name, key)
        if isinstance(value, bool | int | float | str):
            out[name] = value
        else:
            raise SweepDefinitionError(f"{key}: the value must be a number, true/false or a string")
    return out


def _sampling(table: Mapping[str, Any], where: str) -> Sampling:
    _only(table, SAMPLES_KEYS, where, "[samples]")
    n, method, seed = table.get("n"), table.get("method", "lhs"), table.get("seed", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SweepDefinitionError(f"{where}: [samples] n must be a whole number >= 1, got {n!r}")
    if method not in SAMPLING_METHODS:
        raise SweepDefinitionError(f"{where}: [samples] method must be one of {', '.join(SAMPLING_METHODS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SweepDefinitionError(f"{where}: [samples] seed must be a whole number >= 0, got {seed!r}")
    ranges = table.get("ranges")
    if not isinstance(ranges, dict) or not ranges:
        raise SweepDefinitionError(f'{where}: [samples.ranges] must list "slave.parameter" = [low, high]')
    bounds: dict[str, tuple[float, float]] = {}
    for name, value in ranges.items():
        key = f'{where}: [samples.ranges] "{name}"'
        check_address(name, key)
        if not isinstance(value, list) or len(value) != 2 or any(isinstance(v, bool) for v in value):
            raise SweepDefinitionError(f"{key}: give [low, high]")
        bounds[name] = range_of(value, key)
    return Sampling(n, bounds, method, seed)
