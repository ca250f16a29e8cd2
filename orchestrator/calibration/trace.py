"""A measured trace: a CSV with a time column and named columns, converted to SI.

Units come from the header (``p_feed [bar(g)]``), from a second line of units, or from the calibration file's
[trace.units] table (which wins); a column without a unit is taken as SI. The trace's first time becomes 0 s, the
twin's start time.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.calibration.config import CalibrationError
from orchestrator.units import P_ATM_PA, T_ZERO_C_K

MAX_BYTES = 512 * 1024 * 1024
MAX_ROWS = 2_000_000
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")


def _scale(factor: float) -> Callable[[np.ndarray, float], np.ndarray]:
    return lambda x, ambient: x * factor


#: Unit -> conversion to SI (the second argument is the ambient pressure, Pa, for gauge units).
UNITS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    **{u: _scale(1.0) for u in ("", "1", "SI", "Pa", "K", "W", "s", "kg/s", "m3/s", "rad/s", "J", "V", "A", "mol")},
    "kPa": _scale(1e3),
    "mbar": _scale(1e2),
    "bar": _scale(1e5),
    "psi": _scale(6894.757293),
    "bar(g)": lambda x, ambient: x * 1e5 + ambient,
    "kPa(g)": lambda x, ambient: x * 1e3 + ambient,
    "psig": lambda x, ambient: x * 6894.757293 + ambient,
    "degC": lambda x, ambient: x + T_ZERO_C_K,
    "L/min": _scale(1.0 / 60_000.0),  # standard litres per minute -> standard m3/s
    "%": _scale(0.01),
    "rpm": _scale(2.0 * math.pi / 60.0),
    "ms": _scale(1e-3),
    "kW": _scale(1e3),
}


@dataclass
class Trace:
    """Times (s, from 0) and every column in SI units."""

    times: np.ndarray
    columns: dict[str, np.ndarray]

    def column(self, name: str, where: str) -> np.ndarray:
        if name not in self.columns:
            raise CalibrationError(f"{where}: the trace has no column '{name}' (columns: {', '.join(self.columns)})")
        return self.columns[name]


def read_trace(path: Path, time_column: str, units: Mapping[str, str], ambient_pa: float = P_ATM_PA) -> Trace:
    """Read a measured CSV trace (see the module docstring); CalibrationError naming the file, line and column."""
    where = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise CalibrationError(f"{where}: larger than {MAX_BYTES >> 20} MiB; shorten the trace")
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f) if row and not row[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise CalibrationError(f"{where}: cannot read it: {err}") from None
    if len(rows) < 2:
        raise CalibrationError(f"{where}: needs a header line and at least one row of numbers")
    names, header_units = _header(rows[0], where)
    if time_column not in names:
        raise CalibrationError(f"{where}: no time column '{time_column}' in the header (set [trace] time = NAME)")
    body = rows[1:]
    if body and not all(_is_number(c) for c in body[0]):
        header_units = [u.strip() for u in body[0]]  # a line of units under the header
        body = body[1:]
    if len(body) > MAX_ROWS:
        raise CalibrationError(f"{where}: {len(body)} rows is more than {MAX_ROWS}")
    data = _numbers(body, names, where)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        unit = units.get(name, header_units[i] if i < len(header_units) else "")
        convert = UNITS.get(unit)
        if convert is None:
            raise CalibrationError(
                f"{where}: column '{name}': unknown unit '{unit}' (known: {', '.join(u for u in UNITS if u)}); "
                "give the column in one of them or in SI"
            )
        out[name] = convert(data[:, i], ambient_pa)
    unknown = [n for n in units if n not in names]
    if unknown:
        raise CalibrationError(f"{where}: [trace.units] names column '{unknown[0]}', which the trace does not have")
    times = out.pop(time_column)
    if np.any(np.diff(times) <= 0):
        line = int(np.argmax(np.diff(times) <= 0)) + 2
        raise CalibrationError(f"{where}: the times must increase strictly (data row {line})")
    return Trace(times - times[0], out)


def _header(row: Sequence[str], where: str) -> tuple[list[str], list[str]]:
    names, units = [], []
    for cell in row:
        match = _HEADER_UNIT.match(cell.strip())
        names.append((match.group("name") if match else cell).strip())
        units.append(match.group("unit").strip() if match else "")
    if len(set(names)) != len(names) or any(not n for n in names):
        raise CalibrationError(f"{where}: header {', '.join(names)}: every column needs a name of its own")
    return names, units


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _numbers(body: list[list[str]], names: list[str], where: str) -> np.ndarray:
    if not body:
        raise CalibrationError(f"{where}: no rows of numbers")
    values = np.empty((len(body), len(names)))
    for line, row in enumerate(body):
        if len(row) != len(names):
            raise CalibrationError(f"{where}: data row {line + 1}: {len(row)} values for {len(names)} columns")
        for i, cell in enumerate(row):
            if not _is_number(cell):
                raise CalibrationError(f"{where}: data row {line + 1}, column '{names[i]}': {cell!r} is not a number")
            values[line, i] = float(cell)
    return values


def check_columns(trace: Trace, columns: Sequence[str], where: str) -> None:
    """Every named column must be in the trace."""
    for name in columns:
        trace.column(name, where)
