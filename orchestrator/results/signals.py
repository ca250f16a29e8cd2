"""Recorded signals streamed to disk: signals.csv and result.mat, readable at any time, also after a crash."""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from orchestrator.results.files import ResultWriteError, write_all, writing
from orchestrator.results.matfile import DsresWriter

log = logging.getLogger(__name__)

CSV_NAME = "signals.csv"
MAT_NAME = "result.mat"


class SignalWriter:
    """Writes one row per communication point to ``signals.csv`` and a column to ``result.mat``.

    Points are buffered and written to disk at least every ``flush_interval_s`` of wall time and on ``close``, so
    an interrupted run keeps everything recorded up to (at most) that long before the interruption, and a run killed
    outright loses at most that much; ``close`` is safe to call from a ``finally`` block and more than once.

    The two files always hold the same rows: a flush writes the .mat columns, then the CSV lines, and if either
    cannot be written completely (a full disk, Ctrl-C in between) both are cut back to where they were and the
    points stay buffered. A file that cannot be written raises ResultWriteError naming it.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        signals: Sequence[str],
        units: Mapping[str, str | None] | None = None,
        descriptions: Mapping[str, str] | None = None,
        constants: Mapping[str, float] | None = None,
        start_time: float = 0.0,
        flush_interval_s: float = 0.5,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.signals = list(signals)
        if len(set(self.signals)) != len(self.signals):
            raise ValueError(
                f"signals recorded twice: {sorted({s for s in self.signals if self.signals.count(s) > 1})}"
            )
        units = dict(units or {})
        descriptions = dict(descriptions or {})
        self.units = {s: units.get(s) for s in self.signals}
        self.csv_path = self.out_dir / CSV_NAME
        self.mat_path = self.out_dir / MAT_NAME
        with writing(self.out_dir):
            self.out_dir.mkdir(parents=True, exist_ok=True)
        with writing(self.csv_path):
            self._csv_file = open(self.csv_path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
            write_all(self._csv_file, _csv_head(self.signals, self.units).encode("utf-8"))
        try:
            with writing(self.mat_path):
                self._mat = DsresWriter(
                    self.mat_path,
                    self.signals,
                    [descriptions.get(s, "") for s in self.signals],
                    [self.units[s] for s in self.signals],
                    constants,
                    start_time,
                )
        except BaseException:
            self._csv_file.close()
            raise
        self._flush_interval_s = flush_interval_s
        self._width = len(self.signals)
        self._buffer: list[tuple[float, ...]] = []
        self._last_flush = time.monotonic()
        self._written = 0
        self.last_time: float | None = None
        self._closed = False

    @property
    def rows(self) -> int:
        """Points recorded so far (written or still buffered)."""
        return self._written + len(self._buffer)

    def record(self, t: float, values: Sequence[float]) -> None:
        """One communication point; values in the order of ``signals``."""
        if len(values) != self._width:
            raise ValueError(f"record at t={t}: {len(values)} values for {self._width} signals")
        self._buffer.append((float(t), *map(float, values)))
        self.last_time = t
        now = time.monotonic()
        if now - self._last_flush >= self._flush_interval_s:
            self._last_flush = now
            self.flush()

    def flush(self) -> None:
        """Write the buffered points to both files, all or none (see the class docstring)."""
        if self._closed or not self._buffer:
            return
        rows = self._buffer
        csv_end, mat_mark = self._csv_file.tell(), self._mat.checkpoint()
        path = self.mat_path
        try:
            self._mat.append_many(np.asarray(rows, dtype=float))
            self._mat.flush()
            path = self.csv_path
            # repr() is the shortest text that reads back as the same float
            text = "\n".join(",".join(map(repr, row)) for row in rows) + "\n"
            write_all(self._csv_file, text.encode("utf-8"))
        except BaseException as exc:
            self._undo(csv_end, mat_mark)
            if isinstance(exc, OSError):
                raise ResultWriteError(path, exc) from None
            raise
        self._buffer = []
        self._written += len(rows)

    def _undo(self, csv_end: int, mat_mark: tuple[int, int, float]) -> None:
        """Cut both files back to a flush boundary (truncating frees space, so it works on a full disk)."""
        try:
            self._csv_file.truncate(csv_end)
            self._csv_file.seek(csv_end)
            self._mat.rollback(mat_mark)
        except OSError as err:  # the original error is what the user needs
            log.warning("could not cut %s back to its last complete row: %s", self.out_dir, err)

    def close(self) -> None:
        """Write what is buffered and close both files; points that cannot be written are dropped from both."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._buffer = []
            self._closed = True
            try:
                self._csv_file.close()
            finally:
                with writing(self.mat_path):
                    self._mat.close()
        log.debug("recorded %d points of %d signals to %s", self.rows, len(self.signals), self.out_dir)


def _csv_head(signals: Sequence[str], units: Mapping[str, str | None]) -> str:
    """The two head lines of signals.csv: the names, then the units ("s" for time, empty where none is declared)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["time", *signals])
    writer.writerow(["s", *(units.get(s) or "" for s in signals)])
    return text.getvalue()


def _is_units_row(row: Sequence[str]) -> bool:
    """The units line: its first cell is the time unit, not a number (files from before the units row lack it)."""
    return bool(row) and row[0].strip() == "s"


def read_signal_units(path: str | os.PathLike) -> dict[str, str]:
    """The units line of signals.csv: {"time": "s", "slave.var": unit or "", ...} ({} for a file without one)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        row = next(reader, [])
    return dict(zip(header, row, strict=True)) if _is_units_row(row) and len(row) == len(header) else {}


def read_signals_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """signals.csv -> {"time": array, "slave.var": array, ...} in SI units (the units line is skipped; a trailing
    partial line, if any, is dropped)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = []
        for i, row in enumerate(reader):
            if i == 0 and _is_units_row(row):
                continue
            if len(row) != len(header):
                break  # a line cut short by a hard kill
            try:
                rows.append([float(x) for x in row])
            except ValueError:
                break
    data = np.array(rows, dtype=float).reshape(-1, len(header))
    return {name: data[:, i] for i, name in enumerate(header)}
