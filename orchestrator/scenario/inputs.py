"""Time tables that feed slave inputs ([[inputs]] in a scenario): measured profiles replayed in a run.

A table is a CSV file beside the scenario (header ``time,<column>,...``; times in s, values in the target's SI unit;
rows in time order, a time given twice is a step) or an inline list of rows. It becomes a source slave whose outputs,
one per column, are connected to the target inputs, so the replayed values are recorded like any signal.

Between time points a column is interpolated linearly or held; "auto" follows FMI 2.0: a Real input of continuous
variability varies linearly, discrete inputs (and Integer and Boolean ones) are held. Before the first time point
the first row holds, after the last the last row. The slave's outputs are the table at its current time, as any
source FMU's are: a slave stepping from t takes the value at t (Jacobi) or at the end of the step the source has
just taken (Gauss-Seidel steps sources first).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from orchestrator.cosim.slaves.base import Slave, SlaveInfo, Variable
from orchestrator.errors import SystemDefinitionError

#: At most this many rows in one table (a day at 1 Hz is 86,400).
MAX_ROWS = 2_000_000


@dataclass
class Table:
    """Time points (s) and one value array per column."""

    times: np.ndarray
    columns: dict[str, np.ndarray]


def table_file(source: str, file: str, where: str) -> Path:
    """The CSV file an [[inputs]] entry names: relative to the scenario file and inside its folder."""
    rel = PurePath(file)
    if rel.is_absolute() or ".." in rel.parts or "\\" in file:
        raise SystemDefinitionError(f"{where}: 'file' = '{file}' must be a path inside the scenario's folder")
    folder = Path(source).resolve().parent if source else Path.cwd().resolve()
    path = folder / rel
    if not path.is_file():
        raise SystemDefinitionError(f"{where}: 'file' = '{file}': {path} does not exist")
    if not path.resolve().is_relative_to(folder):
        raise SystemDefinitionError(
            f"{where}: 'file' = '{file}' leads out of the scenario's folder {folder} (a link); copy the file there"
        )
    return path


def read_csv_table(path: Path, wanted: Sequence[str], where: str) -> Table:
    """The columns ``wanted`` (all when empty) of a CSV time table; SystemDefinitionError naming file and line."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise SystemDefinitionError(f"{where}: cannot read {path}: {err}") from None
    if not rows or not rows[0] or rows[0][0].strip().lower() != "time":
        raise SystemDefinitionError(f"{where}: {path}: the first line must be the header 'time,<column>,...'")
    header = [h.strip() for h in rows[0]]
    names = list(wanted) or header[1:]
    missing = [n for n in names if n not in header[1:]]
    if missing:
        raise SystemDefinitionError(
            f"{where}: {path} has no column {', '.join(repr(m) for m in missing)} (columns: {', '.join(header[1:])})"
        )
    picks = [0, *(header.index(n) for n in names)]
    data = []
    for line, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != len(header):
            raise SystemDefinitionError(f"{where}: {path} line {line}: {len(row)} values for {len(header)} columns")
        try:
            data.append([_number(row[i]) for i in picks])
        except ValueError:
            bad = next(header[i] for i in picks if not _is_number(row[i]))
            raise SystemDefinitionError(
                f"{where}: {path} line {line}: column '{bad}' holds {row[header.index(bad)]!r}, not a number "
                "(choose numeric columns with 'columns')"
            ) from None
    return make_table(data, names, f"{where}: {path}")


def _number(text: str) -> float:
    text = text.strip()
    if text in ("true", "false"):
        return float(text == "true")
    return float(text)


def _is_number(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def make_table(rows: Sequence[Sequence[float]], names: Sequence[str], where: str) -> Table:
    """A checked Table from rows of [time, value, ...]: finite numbers, time never decreasing, at least one row."""
    if not rows:
        raise SystemDefinitionError(f"{where}: the table has no rows")
    if len(rows) > MAX_ROWS:
        raise SystemDefinitionError(f"{where}: {len(rows)} rows is more than the {MAX_ROWS} a table may hold")
    array = np.asarray(rows, dtype=float)
    if array.ndim != 2 or array.shape[1] != len(names) + 1:
        raise SystemDefinitionError(f"{where}: every row must hold a time and {len(names)} value(s)")
    if not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise SystemDefinitionError(f"{where}: row {row + 1} holds a value that is not a finite number")
    steps = np.diff(array[:, 0])
    if np.any(steps < 0):
        row = int(np.argmax(steps < 0)) + 2
        raise SystemDefinitionError(f"{where}: row {row} goes back in time; give the rows in time order")
    return Table(array[:, 0].copy(), {n: array[:, i + 1].copy() for i, n in enumerate(names)})


def interpolates_linearly(target: Variable, interpolation: str) -> bool:
    """FMI 2.0's rule for "auto": only Real inputs of continuous variability vary between time points."""
    if interpolation != "auto":
        return interpolation == "linear"
    return target.type == "Real" and target.variability == "continuous"


class TimeTableSlave(Slave):
    """A source slave: each output is a column of a time table at the slave's current time (see the module doc)."""

    def __init__(self, name: str, table: Table, outputs: Mapping[str, Variable], linear: Mapping[str, bool]) -> None:
        self.name = name
        self.table = table
        self.variables = {
            col: Variable(col, "output", type=v.type, unit=v.unit, description=f"time table value for {v.name}")
            for col, v in outputs.items()
        }
        self._linear = dict(linear)
        self._types = {col: v.type for col, v in outputs.items()}
        self.info = SlaveInfo(can_rollback=True, direct_feedthrough={col: frozenset() for col in outputs})
        self._t = 0.0

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        if parameters:
            raise SystemDefinitionError(f"{self.name}: a time table has no parameters ({', '.join(parameters)})")
        self._t = start_time

    def set_inputs(self, values: Mapping[str, float]) -> None:
        if values:
            raise SystemDefinitionError(f"{self.name}: a time table has no inputs")

    def step(self, t: float, h: float) -> bool:
        self._t = t + h
        return True

    def value(self, column: str, t: float) -> float:
        """The column at time t: the last row at or before t (after a step), interpolated or held."""
        times, values = self.table.times, self.table.columns[column]
        i = int(np.searchsorted(times, t, side="right")) - 1
        if i < 0:
            value = float(values[0])
        elif i >= len(times) - 1 or not self._linear[column]:
            value = float(values[i])
        else:
            t0, t1 = times[i], times[i + 1]
            value = float(values[i] + (values[i + 1] - values[i]) * (t - t0) / (t1 - t0))
        kind = self._types[column]
        if kind == "Integer":
            return float(math.floor(value + 0.5)) if self._linear[column] else value
        return value

    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, float]:
        return {n: self.value(n, self._t) for n in (names if names is not None else self.variables)}

    def get_state(self) -> float:
        return self._t

    def set_state(self, state: Any) -> None:
        self._t = float(state)


def describe_table(path: os.PathLike | str | None, table: Table) -> str:
    """A short description for logs: where the table is from and its time span."""
    origin = f"{path}" if path is not None else "inline table"
    return f"{origin}: {len(table.times)} rows, {table.times[0]:g}..{table.times[-1]:g} s"
