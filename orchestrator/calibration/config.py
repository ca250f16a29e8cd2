"""The calibration file (TOML, format in docs/calibration.md), read with the care of scenario files.

A calibration file is data: nothing in it is imported or run; the scenario it names is a name in the scenario
folders or a .toml file inside its own folder, and the trace a .csv file inside that folder. Unknown keys, wrong
types and impossible values are one CalibrationError naming the file and the key.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.spec import ScenarioSpec


class CalibrationError(SystemDefinitionError):
    """A calibration file, trace or fit that cannot be used as given (the message names the file, key and fix)."""


TABLES = ("calibration", "trace", "inputs", "signals", "cycles", "features", "parameters")
CALIBRATION_KEYS = (
    "name",
    "description",
    "scenario",
    "trace",
    "window",
    "settle_s",
    "rounds",
    "max_evaluations",
    "relative_step",
    "interpolation",
)
TRACE_KEYS = ("time", "ambient_pa", "units")
SIGNAL_KEYS = ("twin", "column", "weight", "scale")
CYCLE_KEYS = ("column", "threshold")
FEATURE_KEYS = ("kind", "signal", "weight", "scale", "value")
PARAMETER_KEYS = ("name", "start", "bounds", "targets")
#: Cycle features are computed per cycle (cycles from [cycles]); the others once over the compared window.
CYCLE_FEATURES = ("cycle_min", "cycle_max", "cycle_mean", "cycle_time")
FEATURES = (*CYCLE_FEATURES, "mean", "time_to")
INTERPOLATIONS = ("auto", "linear", "hold")


@dataclass(frozen=True)
class FitParameter:
    """One fitted value: ``name`` (its label) sets every parameter in ``targets`` ("slave.parameter")."""

    name: str
    targets: tuple[str, ...]
    start: float
    lower: float
    upper: float


@dataclass(frozen=True)
class SignalMap:
    """A measured column compared with a twin signal; ``scale`` (SI) is the size of one unit of residual."""

    name: str
    column: str
    twin: str
    weight: float = 1.0
    scale: float | None = None  #: None: estimated from the measured signal's noise (docs/calibration.md)


@dataclass(frozen=True)
class Feature:
    """A cycle or window feature of a mapped signal, compared between trace and twin."""

    kind: str
    signal: str
    weight: float = 1.0
    scale: float | None = None  #: None: the signal's scale (s for cycle_time and time_to: 1 s)
    value: float | None = None  #: time_to: the level (SI) the signal must reach


@dataclass(frozen=True)
class CalibrationConfig:
    """Everything a calibration needs, checked (see docs/calibration.md for the meaning of each key)."""

    source: Path
    name: str
    description: str
    scenario: ScenarioSpec
    trace: Path
    time_column: str
    ambient_pa: float
    units: Mapping[str, str]
    inputs: Mapping[str, str]  #: trace column -> "slave.input" it drives
    interpolation: str
    signals: tuple[SignalMap, ...]
    features: tuple[Feature, ...]
    cycle_column: str | None
    cycle_threshold: float
    parameters: tuple[FitParameter, ...]
    window: tuple[float, float]  #: s of trace time (the trace's first time is 0)
    settle_s: float
    rounds: int
    max_evaluations: int
    relative_step: float

    @property
    def compare_from(self) -> float:
        """Trace time (s) from which twin and trace are compared."""
        return self.window[0] + self.settle_s


def load_calibration(path: str | Path) -> CalibrationConfig:
    """Read and check a calibration file; CalibrationError naming the file and key on any mistake."""
    path = Path(path)
    raw = _read(path)
    where = str(path)
    _only(raw, TABLES, where, "top level")
    head = _table(raw, "calibration", where, required=True)
    _only(head, CALIBRATION_KEYS, where, "[calibration]")
    trace_table = _table(raw, "trace", where)
    _only(trace_table, TRACE_KEYS, where, "[trace]")
    for key in ("scenario", "trace"):
        if key not in head:
            raise CalibrationError(f'{where}: [calibration] needs {key} = "..." (a file beside this one)')
    window = _window(head.get("window"), where)
    signals = _signals(_table(raw, "signals", where), where)
    cycles = _table(raw, "cycles", where)
    _only(cycles, CYCLE_KEYS, where, "[cycles]")
    features = _features(raw.get("features", []), {s.name for s in signals}, where)
    if any(f.kind in CYCLE_FEATURES for f in features) and "column" not in cycles:
        raise CalibrationError(f'{where}: cycle features need [cycles] column = "..." (the column that starts a cycle)')
    config = CalibrationConfig(
        source=path,
        name=_name(head.get("name", path.stem), where),
        description=_text(head.get("description", ""), f"{where}: [calibration] description"),
        scenario=_scenario(head["scenario"], path),
        trace=_inside(head["trace"], path, ".csv", f"{where}: [calibration] trace"),
        time_column=_text(trace_table.get("time", "time"), f"{where}: [trace] time"),
        ambient_pa=_positive(trace_table.get("ambient_pa", 101325.0), f"{where}: [trace] ambient_pa"),
        units=_strings(trace_table.get("units", {}), f"{where}: [trace.units]"),
        inputs=_strings(_table(raw, "inputs", where), f"{where}: [inputs]", addresses=True),
        interpolation=_choice(
            head.get("interpolation", "hold"), INTERPOLATIONS, f"{where}: [calibration] interpolation"
        ),
        signals=signals,
        features=features,
        cycle_column=_text(cycles["column"], f"{where}: [cycles] column") if "column" in cycles else None,
        cycle_threshold=_number(cycles.get("threshold", 0.5), f"{where}: [cycles] threshold"),
        parameters=_parameters(raw.get("parameters"), where),
        window=window,
        settle_s=_non_negative(head.get("settle_s", 0.0), f"{where}: [calibration] settle_s"),
        rounds=_count(head.get("rounds", 4), f"{where}: [calibration] rounds", 1, 20),
        max_evaluations=_count(head.get("max_evaluations", 30), f"{where}: [calibration] max_evaluations", 2, 10_000),
        relative_step=_positive(head.get("relative_step", 0.01), f"{where}: [calibration] relative_step"),
    )
    if not signals:
        raise CalibrationError(f"{where}: no [signals.NAME] table: map at least one trace column to a twin signal")
    if config.settle_s >= window[1] - window[0]:
        raise CalibrationError(f"{where}: [calibration] settle_s must be shorter than the window")
    if config.relative_step >= 0.5:
        raise CalibrationError(f"{where}: [calibration] relative_step must be < 0.5 (a fraction of each value)")
    return config


# ------------------------------------------------------------------------------------------------ file and tables
def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise CalibrationError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise CalibrationError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except OSError as err:
        raise CalibrationError(f"{path}: cannot read it ({err.strerror or err})") from None


def _only(table: Mapping[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise CalibrationError(f"{where}: {what}: unknown key '{unknown[0]}' (allowed: {', '.join(allowed)})")


def _table(raw: Mapping[str, Any], key: str, where: str, required: bool = False) -> dict[str, Any]:
    value = raw.get(key, None if required else {})
    if not isinstance(value, dict):
        raise CalibrationError(
            f"{where}: " + ("no [" + key + "] table" if value is None else f"[{key}] must be a table")
        )
    return value


def _scenario(value: Any, source: Path) -> ScenarioSpec:
    """NAME (beside the file, else in the scenario folders) or a .toml path inside the calibration file's folder."""
    where = f"{source}: [calibration] scenario"
    if not isinstance(value, str) or not value:
        raise CalibrationError(f"{where} must be a scenario name or a .toml file, got {value!r}")
    if value.endswith(".toml") or "/" in value or "\\" in value:
        return load_scenario(_inside(value, source, ".toml", where))
    beside = source.resolve().parent / f"{value}.toml"
    if beside.is_file() and beside.resolve() != source.resolve():
        return load_scenario(beside)
    return load_scenario(value)


def _inside(value: Any, source: Path, suffix: str, where: str) -> Path:
    """A relative file path inside the calibration file's folder (no absolute path, '..' or link out of it)."""
    folder = source.resolve().parent
    if not isinstance(value, str) or not value:
        raise CalibrationError(f"{where} must be a {suffix} file name, got {value!r}")
    rel = PurePath(value)
    if rel.is_absolute() or ".." in rel.parts or "\\" in value or "\0" in value or rel.suffix.lower() != suffix:
        raise CalibrationError(f"{where} = '{value}' must be a {suffix} path inside {folder}")
    candidate = (folder / rel).resolve()
    if not candidate.is_relative_to(folder):
        raise CalibrationError(f"{where} = '{value}' leads out of {folder} (a link); copy the file there")
    if not candidate.is_file():
        raise CalibrationError(f"{where} = '{value}': {candidate} does not exist")
    return candidate


def _name(value: Any, where: str) -> str:
    ok = isinstance(value, str) and value and PurePath(value).name == value and value not in (".", "..")
    if not ok or any(ord(c) < 32 for c in value):
        raise CalibrationError(f"{where}: [calibration] name = {value!r} must be a plain name (it names a folder)")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or any(ord(c) < 32 for c in value):
        raise CalibrationError(f"{where} must be one line of text, got {value!r}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibrationError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _positive(value: Any, where: str) -> float:
    number = _number(value, where)
    if number <= 0:
        raise CalibrationError(f"{where} must be > 0, got {value!r}")
    return number


def _non_negative(value: Any, where: str) -> float:
    number = _number(value, where)
    if number < 0:
        raise CalibrationError(f"{where} must be >= 0, got {value!r}")
    return number


def _count(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CalibrationError(f"{where} must be a whole number in {low}..{high}, got {value!r}")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise CalibrationError(f"{where} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _address(value: Any, where: str) -> str:
    parts = value.split(".", 1) if isinstance(value, str) else []
    if len(parts) != 2 or not all(parts) or any(ord(c) < 32 for c in value):
        raise CalibrationError(f"{where} must be 'slave.variable', got {value!r}")
    return value


def _strings(value: Any, where: str, addresses: bool = False) -> dict[str, str]:
    if not isinstance(value, dict):
        raise CalibrationError(f"{where} must be a table of names to texts")
    out = {}
    for key, text in value.items():
        out[_text(key, where)] = _address(text, f"{where} {key}") if addresses else _text(text, f"{where} {key}")
    return out


def _window(value: Any, where: str) -> tuple[float, float]:
    key = f"{where}: [calibration] window"
    if not isinstance(value, list) or len(value) != 2:
        raise CalibrationError(f"{key}: give [start, end] in s of trace time, e.g. [60.0, 120.0]")
    start, end = _non_negative(value[0], key), _number(value[1], key)
    if not end > start:
        raise CalibrationError(f"{key}: the end ({end:g} s) must be after the start ({start:g} s)")
    return start, end


def _signals(table: Mapping[str, Any], where: str) -> tuple[SignalMap, ...]:
    out = []
    for name, entry in table.items():
        key = f"{where}: [signals.{name}]"
        if "/" in name or "\\" in name or name in (".", ".."):  # it names a plot file: plots/overlay_NAME.png
            raise CalibrationError(
                f"{key}: a signal's name must be a plain name (no '/' or '\\'): it names a plot file"
            )
        if not isinstance(entry, dict):
            raise CalibrationError(f'{key} must be a table with twin = "slave.variable"')
        _only(entry, SIGNAL_KEYS, where, f"[signals.{name}]")
        if "twin" not in entry:
            raise CalibrationError(f'{key} needs twin = "slave.variable" (the twin signal it is compared with)')
        scale = entry.get("scale")
        out.append(
            SignalMap(
                name=_text(name, key),
                column=_text(entry.get("column", name), f"{key} column"),
                twin=_address(entry["twin"], f"{key} twin"),
                weight=_non_negative(entry.get("weight", 1.0), f"{key} weight"),
                scale=None if scale is None else _positive(scale, f"{key} scale"),
            )
        )
    return tuple(out)


def _features(value: Any, signals: set[str], where: str) -> tuple[Feature, ...]:
    if not isinstance(value, list):
        raise CalibrationError(f"{where}: features must be [[features]] tables")
    out = []
    for i, entry in enumerate(value, 1):
        key = f"{where}: [[features]] #{i}"
        if not isinstance(entry, dict):
            raise CalibrationError(f"{key} must be a table")
        _only(entry, FEATURE_KEYS, where, f"[[features]] #{i}")
        kind = _choice(entry.get("kind"), FEATURES, f"{key} kind")
        signal = entry.get("signal")
        if signal not in signals:
            raise CalibrationError(f"{key} signal = {signal!r} is not a [signals.NAME] ({', '.join(sorted(signals))})")
        if (kind == "time_to") != ("value" in entry):
            raise CalibrationError(f"{key}: value (the level to reach, SI) goes with kind = 'time_to' only")
        scale = entry.get("scale")
        out.append(
            Feature(
                kind=kind,
                signal=signal,
                weight=_non_negative(entry.get("weight", 1.0), f"{key} weight"),
                scale=None if scale is None else _positive(scale, f"{key} scale"),
                value=_number(entry["value"], f"{key} value") if "value" in entry else None,
            )
        )
    return tuple(out)


def _parameters(value: Any, where: str) -> tuple[FitParameter, ...]:
    if not isinstance(value, list) or not value:
        raise CalibrationError(f"{where}: no [[parameters]]: give each fitted parameter (name, start, bounds)")
    out: list[FitParameter] = []
    for i, entry in enumerate(value, 1):
        key = f"{where}: [[parameters]] #{i}"
        if not isinstance(entry, dict):
            raise CalibrationError(f"{key} must be a table")
        _only(entry, PARAMETER_KEYS, where, f"[[parameters]] #{i}")
        name = entry.get("name")
        targets = entry.get("targets", [name])
        if not isinstance(targets, list) or not targets:
            raise CalibrationError(f'{key} targets must be a list of "slave.parameter"')
        checked = tuple(_address(t, f"{key} targets") for t in targets)
        bounds = entry.get("bounds")
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise CalibrationError(f"{key} bounds must be [lower, upper]")
        lower, upper = _number(bounds[0], f"{key} bounds"), _number(bounds[1], f"{key} bounds")
        start = _number(entry.get("start"), f"{key} start")
        if not lower < start < upper:
            raise CalibrationError(f"{key}: start {start:g} must lie strictly inside bounds [{lower:g}, {upper:g}]")
        if start == 0:
            raise CalibrationError(f"{key}: start must not be 0 (parameters are scaled by their start value)")
        out.append(FitParameter(_text(name, f"{key} name"), checked, start, lower, upper))
    names = [p.name for p in out]
    targets_all = [t for p in out for t in p.targets]
    if len(set(names)) != len(names) or len(set(targets_all)) != len(targets_all):
        raise CalibrationError(f"{where}: [[parameters]]: each name and each target may appear once")
    return tuple(out)
