"""Modelica-style result files (Dymola "dsres" layout, MAT v4, as OpenModelica writes): streamed while running.

Layout (all matrices MAT v4, little-endian, "binTrans" orientation as OpenModelica and Dymola write it):
- ``Aclass``: text, rows "Atrajectory", "1.1", "", "binTrans".
- ``name``, ``description``: text, one column per variable (``time`` first); descriptions end in ``[unit]``.
- ``dataInfo``: int32, 4 rows x one column per variable: (block, signed 1-based column, 0, -1);
  block 0 is the abscissa (time), 1 is ``data_1`` (constants: start and stop value), 2 is ``data_2``.
- ``data_1``: double, rows = time + constants, columns = (start, stop).
- ``data_2``: double, rows = time + signals, one column per communication point. Column-major storage makes each
  time point one contiguous record, so the writer appends columns and keeps the column count in the header
  current: after every flush the file on disk is a complete, readable result file.

Readers: scipy.io.loadmat, DyMat, OMPython/OMEdit, Dymola, fmpy's result readers.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from orchestrator.results.files import write_all

_HEADER = struct.Struct("<5i")
#: MOPT type codes: 0 little-endian, precision 0 double / 2 int32 / 5 uint8, type 0 numeric / 1 text.
_DOUBLE, _INT32, _TEXT = 0, 20, 51


def _matrix_bytes(name: str, mopt: int, array: np.ndarray) -> bytes:
    """One MAT v4 matrix record; array is (rows, cols) and is stored column-major."""
    rows, cols = array.shape
    dtype = {_DOUBLE: "<f8", _INT32: "<i4", _TEXT: "u1"}[mopt]
    body = np.asarray(array, dtype=dtype).tobytes(order="F")
    label = name.encode("ascii") + b"\0"
    return _HEADER.pack(mopt, rows, cols, 0, len(label)) + label + body


def _text_matrix(strings: Sequence[str], transposed: bool) -> np.ndarray:
    """Strings as a byte matrix, space padded; one string per column when transposed (binTrans)."""
    encoded = [s.encode("ascii", "replace") for s in strings]
    width = max([1, *map(len, encoded)])
    rows = np.full((len(encoded), width), ord(" "), dtype=np.uint8)
    for i, e in enumerate(encoded):
        rows[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
    return rows.T if transposed else rows


class DsresWriter:
    """Streams a result file: constants once at open, one column of signal values per ``append``.

    The writer is crash-tolerant: ``flush`` rewrites the column count of ``data_2`` and the stop time in
    ``data_1``, so whatever was flushed is a valid file; ``close`` flushes and trims anything after the last
    complete column. Writes are unbuffered; ``checkpoint``/``rollback`` undo appends that could not all be written
    (a full disk), so the file never holds a partial column. Write errors are raised as OSError.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        signals: Sequence[str],
        descriptions: Sequence[str] | None = None,
        units: Sequence[str | None] | None = None,
        constants: Mapping[str, float] | None = None,
        start_time: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.signals = list(signals)
        n = len(self.signals)
        descriptions = list(descriptions or [""] * n)
        units = list(units or [None] * n)
        constants = dict(constants or {})
        names = ["time", *self.signals, *constants]
        descr = ["Simulation time [s]"]
        for d, u in zip(descriptions, units, strict=True):
            descr.append(f"{d} [{u}]" if u else d)
        descr.extend("" for _ in constants)
        info = np.zeros((4, len(names)), dtype=np.int32)
        info[:, 0] = (0, 1, 0, -1)
        for i in range(n):
            info[:, 1 + i] = (2, 2 + i, 0, -1)
        for j in range(len(constants)):
            info[:, 1 + n + j] = (1, 2 + j, 0, 0)
        data_1 = np.array([[start_time, start_time], *([v, v] for v in constants.values())], dtype=float)
        aclass = _text_matrix(["Atrajectory", "1.1", "", "binTrans"], transposed=False)

        self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115 - kept open while streaming, closed in close()
        try:
            write_all(self._file, _matrix_bytes("Aclass", _TEXT, aclass))
            write_all(self._file, _matrix_bytes("name", _TEXT, _text_matrix(names, transposed=True)))
            write_all(self._file, _matrix_bytes("description", _TEXT, _text_matrix(descr, transposed=True)))
            write_all(self._file, _matrix_bytes("dataInfo", _INT32, info))
            self._data_1_stop_at = self._file.tell() + _HEADER.size + len(b"data_1\0") + 8 * data_1.shape[0]
            write_all(self._file, _matrix_bytes("data_1", _DOUBLE, data_1))
            self._data_2_header_at = self._file.tell()
            self._rows = 1 + n
            write_all(self._file, _matrix_bytes("data_2", _DOUBLE, np.zeros((self._rows, 0))))
        except BaseException:
            self._file.close()
            raise
        self._columns = 0
        self._last_time = start_time
        self._closed = False

    @property
    def columns(self) -> int:
        """Communication points written so far."""
        return self._columns

    def append(self, time: float, values: Sequence[float]) -> None:
        """Add one communication point (values in the order of ``signals``)."""
        column = np.empty(self._rows, dtype="<f8")
        column[0] = time
        column[1:] = values
        write_all(self._file, column.tobytes())
        self._columns += 1
        self._last_time = time

    def append_many(self, block: np.ndarray) -> None:
        """Add several communication points: block has one row per point, (time, *values)."""
        block = np.ascontiguousarray(block, dtype="<f8")
        if block.ndim != 2 or block.shape[1] != self._rows:
            raise ValueError(f"append_many: expected rows of {self._rows} values, got shape {block.shape}")
        if not len(block):
            return
        write_all(self._file, block.tobytes())
        self._columns += len(block)
        self._last_time = float(block[-1, 0])

    def flush(self) -> None:
        """Make everything appended so far a readable file on disk."""
        if self._closed:
            return
        end = self._file.tell()
        self._file.seek(self._data_2_header_at)
        write_all(self._file, _HEADER.pack(_DOUBLE, self._rows, self._columns, 0, len(b"data_2\0")))
        # data_1 is column-major: the stop column starts after the start column (rows doubles).
        self._file.seek(self._data_1_stop_at)
        write_all(self._file, struct.pack("<d", self._last_time))
        self._file.seek(end)

    def checkpoint(self) -> tuple[int, int, float]:
        """Where the file stands now (for ``rollback``)."""
        return self._file.tell(), self._columns, self._last_time

    def rollback(self, mark: tuple[int, int, float]) -> None:
        """Forget every column appended after ``checkpoint`` returned ``mark`` (on disk too)."""
        end, self._columns, self._last_time = mark
        self._file.truncate(end)
        self._file.seek(end)
        self.flush()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
            self._file.truncate(self._file.tell())
        finally:
            self._file.close()
            self._closed = True


def read_dsres(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a dsres result file (binTrans or binNormal) into {name: values over time}; constants are repeated."""
    from scipy.io import loadmat

    # naming the variables stops the reader after data_2, so bytes a killed writer left after it do no harm
    mat = loadmat(
        str(path),
        chars_as_strings=False,
        variable_names=["Aclass", "name", "description", "dataInfo", "data_1", "data_2"],
    )
    aclass = ["".join(row).rstrip() for row in mat["Aclass"]]
    if aclass[0] != "Atrajectory" or aclass[1] != "1.1":
        raise ValueError(f"{path}: not a dsres 1.1 result file (Aclass {aclass})")
    transposed = aclass[3] == "binTrans"
    names_m = mat["name"].T if transposed else mat["name"]
    names = ["".join(row).rstrip() for row in names_m]
    info = mat["dataInfo"] if transposed else mat["dataInfo"].T
    data_1 = mat["data_1"] if transposed else mat["data_1"].T
    data_2 = mat["data_2"] if transposed else mat["data_2"].T
    ntime = data_2.shape[1]
    result: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        block, column = int(info[0, i]), int(info[1, i])
        sign, row = (1 if column > 0 else -1), abs(column) - 1
        if block == 1:
            result[name] = np.full(ntime, sign * data_1[row, 0])
        else:
            result[name] = sign * data_2[row, :]
    return result
