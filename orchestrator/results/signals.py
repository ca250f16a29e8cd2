"""Recorded signals streamed to disk: signals.csv and result.mat, readable at any time, also after a crash."""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from orchestrator.results.matfile import DsresWriter

log = logging.getLogger("o2twin.results")

CSV_NAME = "signals.csv"
MAT_NAME = "result.mat"


class SignalWriter:
    """Writes one row per communication point to ``signals.csv`` and a column to ``result.mat``.

    Points are buffered and written to disk at least every ``flush_interval_s`` of wall time and on ``close``, so
    an interrupted run keeps everything recorded up to (at most) that long before the interruption, and a run killed
    outright loses at most that much; ``close`` is safe to call from a ``finally`` block and more than once.
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
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.signals = list(signals)
        if len(set(self.signals)) != len(self.signals):
            raise ValueError(
                f"signals recorded twice: {sorted({s for s in self.signals if self.signals.count(s) > 1})}"
            )
        units = dict(units or {})
        descriptions = dict(descriptions or {})
        self.units = {s: units.get(s) for s in self.signals}
        self._csv_file = open(self.out_dir / CSV_NAME, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv_file.write(",".join(["time", *self.signals]) + "\n")
        self._mat = DsresWriter(
            self.out_dir / MAT_NAME,
            self.signals,
            [descriptions.get(s, "") for s in self.signals],
            [self.units[s] for s in self.signals],
            constants,
            start_time,
        )
        self._flush_interval_s = flush_interval_s
        self._width = len(self.signals)
        self._buffer: list[tuple[float, ...]] = []
        self._last_flush = time.monotonic()
        self.rows = 0
        self.last_time: float | None = None
        self._closed = False

    def record(self, t: float, values: Sequence[float]) -> None:
        """One communication point; values in the order of ``signals``."""
        if len(values) != self._width:
            raise ValueError(f"record at t={t}: {len(values)} values for {self._width} signals")
        self._buffer.append((float(t), *map(float, values)))
        self.rows += 1
        self.last_time = t
        now = time.monotonic()
        if now - self._last_flush >= self._flush_interval_s:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Write the buffered points to both files and make them readable on disk."""
        if self._closed:
            return
        if self._buffer:
            rows, self._buffer = self._buffer, []
            # repr() is the shortest text that reads back as the same float
            self._csv_file.write("\n".join(",".join(map(repr, row)) for row in rows) + "\n")
            self._mat.append_many(np.asarray(rows, dtype=float))
        self._csv_file.flush()
        self._mat.flush()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
            self._csv_file.close()
        finally:
            self._mat.close()
            self._closed = True
        log.debug("recorded %d points of %d signals to %s", self.rows, len(self.signals), self.out_dir)


def read_signals_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """signals.csv -> {"time": array, "slave.var": array, ...} (a trailing partial line, if any, is dropped)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = []
        for row in reader:
            if len(row) != len(header):
                break  # a line cut short by a hard kill
            try:
                rows.append([float(x) for x in row])
            except ValueError:
                break
    data = np.array(rows, dtype=float).reshape(-1, len(header))
    return {name: data[:, i] for i, name in enumerate(header)}
