"""The master's compiled coupling path: FMU-to-FMU coupling of FMI 2.0 Co-Simulation slaves stepped from C.

coupling_kernel.c (beside this file) steps a run of consecutive FMU slaves (a segment) in one call: inputs from the
signal table (gain * source + offset), fmi2SetReal, fmi2DoStep, fmi2GetReal into the signal table, in Gauss-Seidel
order, with the same double operations as the Python path, so the results are identical. It is compiled once per
machine with the system C compiler (cc, gcc or clang; $CC first) into the user's cache folder and loaded with
ctypes; where no compiler is found the master keeps its Python path (the results are the same, only slower).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.cosim.slaves.base import CompiledIo

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("coupling_kernel.c")
#: No fused multiply-adds: gain * source + offset must round as Python rounds it.
C_FLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fvisibility=default"]
#: ck_step's results: which call failed.
CK_OK, CK_SET, CK_STEP, CK_GET, CK_DERIVATIVES = 0, 1, 2, 3, 4


class CkSlave(ctypes.Structure):
    """ck_slave of coupling_kernel.c."""

    _fields_ = [
        ("component", ctypes.c_void_p),
        ("set_real", ctypes.c_void_p),
        ("get_real", ctypes.c_void_p),
        ("do_step", ctypes.c_void_p),
        ("n_in", ctypes.c_int),
        ("in_vr", ctypes.POINTER(ctypes.c_uint)),
        ("in_src", ctypes.POINTER(ctypes.c_int)),
        ("in_gain", ctypes.POINTER(ctypes.c_double)),
        ("in_offset", ctypes.POINTER(ctypes.c_double)),
        ("in_value", ctypes.POINTER(ctypes.c_double)),
        ("n_out_vr", ctypes.c_int),
        ("out_vr", ctypes.POINTER(ctypes.c_uint)),
        ("out_buffer", ctypes.POINTER(ctypes.c_double)),
        ("n_out", ctypes.c_int),
        ("out_pick", ctypes.POINTER(ctypes.c_int)),
        ("out_signal", ctypes.POINTER(ctypes.c_int)),
        ("step_s", ctypes.c_double),
        ("io_s", ctypes.c_double),
        ("index", ctypes.c_int),
        ("in_src_slave", ctypes.POINTER(ctypes.c_int)),
        ("set_derivatives", ctypes.c_void_p),
        ("in_order", ctypes.POINTER(ctypes.c_int)),
        ("in_derivative", ctypes.POINTER(ctypes.c_double)),
    ]


class CkCall(ctypes.Structure):
    """ck_call of coupling_kernel.c: the arguments of ck_step_held and ck_feedthrough (one pointer per call)."""

    _fields_ = [
        ("slaves", ctypes.POINTER(CkSlave)),
        ("n", ctypes.c_int),
        ("v", ctypes.POINTER(ctypes.c_double)),
        ("t", ctypes.c_double),
        ("h", ctypes.c_double),
        ("update", ctypes.POINTER(ctypes.c_int)),
        ("n_update", ctypes.c_int),
        ("failed", ctypes.c_int),
        ("status", ctypes.c_int),
    ]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "o2twin"


def _compiler() -> str | None:
    for name in [os.environ.get("CC") or "", "cc", "gcc", "clang"]:
        if name and (path := shutil.which(name)):
            return path
    return None


_library: Any = None
_tried = False


def library() -> Any:
    """The compiled kernel (ctypes CDLL), compiling it on first use; None where it cannot be built here."""
    global _library, _tried
    if _tried:
        return _library
    _tried = True
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(C_FLAGS).encode()).hexdigest()[:16]
    target = _cache_dir() / f"coupling_kernel-{digest}.so"
    try:
        if not target.exists():
            _build(target)
        _library = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        log.info("compiled coupling path unavailable (%s); the master steps every slave from Python", exc)
        return None
    for name in ("ck_step", "ck_loop", "ck_run", "ck_step_held", "ck_feedthrough"):
        function = getattr(_library, name)
        function.restype = ctypes.c_int
    # ck_step_held and ck_feedthrough take one ctypes.byref(CkCall) made once: no argtypes, no conversion per call
    c_double_p = ctypes.POINTER(ctypes.c_double)
    _library.ck_step.argtypes = [ctypes.POINTER(CkSlave), ctypes.c_int, c_double_p, c_double_p, c_double_p,
                                 ctypes.c_double, ctypes.c_double, ctypes.c_double,
                                 ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    _library.ck_loop.argtypes = [ctypes.POINTER(CkSlave), ctypes.c_int, ctypes.POINTER(ctypes.c_double),
                                 ctypes.c_double, ctypes.c_double, ctypes.c_long,
                                 ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    c_int_p, c_long = ctypes.POINTER(ctypes.c_int), ctypes.c_long
    _library.ck_run.argtypes = [ctypes.POINTER(CkSlave), ctypes.c_int, c_int_p, ctypes.c_int,
                                ctypes.POINTER(ctypes.c_double), ctypes.c_double, ctypes.c_longlong,
                                ctypes.c_longlong, ctypes.c_longlong, ctypes.c_longlong, c_long, c_int_p, ctypes.c_int,
                                ctypes.c_longlong, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(c_long), c_int_p,
                                c_int_p, c_int_p]  # fmt: skip
    return _library


def _build(target: Path) -> None:
    """Compile coupling_kernel.c into target, atomically (a concurrent build of the same file is harmless)."""
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found ($CC, cc, gcc, clang)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run([cc, *C_FLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(cc).name} failed on {SOURCE.name}: {done.stderr.strip()[:500]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _array(ctype: Any, values: Sequence[Any]) -> Any:
    return (ctype * max(1, len(values)))(*values)


@dataclass(frozen=True)
class SlaveEntry:
    """One slave of a SlaveTable: its CompiledIo, its position in the Gauss-Seidel order, per connected input the
    source signal id, the source slave's position, gain and offset, the output signal ids, and whether its inputs
    go with derivatives (first-order extrapolation into a slave that accepts them)."""

    io: CompiledIo
    index: int
    in_src: Sequence[int]
    in_src_slave: Sequence[int]
    gain: Sequence[float]
    offset: Sequence[float]
    out_ids: Sequence[int]
    input_derivatives: bool = False


class SlaveTable:
    """The ck_slave records of some slaves, and the arrays they point into (kept alive here)."""

    def __init__(self, entries: Sequence[SlaveEntry]) -> None:
        self.records = (CkSlave * max(1, len(entries)))()
        self.count = len(entries)
        self._keep: list[Any] = []
        self.in_values: list[Any] = []
        for record, entry in zip(self.records, entries, strict=False):
            io, src, out_ids = entry.io, entry.in_src, entry.out_ids
            set_real, get_real, do_step = io.functions
            arrays = {
                "in_vr": _array(ctypes.c_uint, io.in_vrs),
                "in_src": _array(ctypes.c_int, src),
                "in_gain": _array(ctypes.c_double, entry.gain),
                "in_offset": _array(ctypes.c_double, entry.offset),
                "in_value": _array(ctypes.c_double, [0.0] * len(src)),
                "out_vr": _array(ctypes.c_uint, io.out_vrs),
                "out_buffer": _array(ctypes.c_double, [0.0] * io.out_size),
                "out_pick": _array(ctypes.c_int, io.out_pick),
                "out_signal": _array(ctypes.c_int, out_ids),
                "in_src_slave": _array(ctypes.c_int, entry.in_src_slave),
                "in_order": _array(ctypes.c_int, [1] * len(src)),
                "in_derivative": _array(ctypes.c_double, [0.0] * len(src)),
            }
            self._keep.append(arrays)
            self.in_values.append(arrays["in_value"])
            record.component = io.component if isinstance(io.component, int) else _address(io.component)
            record.set_real = ctypes.cast(set_real, ctypes.c_void_p).value
            record.get_real = ctypes.cast(get_real, ctypes.c_void_p).value
            record.do_step = ctypes.cast(do_step, ctypes.c_void_p).value
            record.n_in, record.n_out_vr, record.n_out = len(src), len(io.out_vrs), len(out_ids)
            record.index = entry.index
            if entry.input_derivatives and io.set_input_derivatives is not None:
                record.set_derivatives = ctypes.cast(io.set_input_derivatives, ctypes.c_void_p).value
            for name, array in arrays.items():
                setattr(record, name, ctypes.cast(array, type(getattr(record, name))))


def _address(component: Any) -> int | None:
    """The address behind fmpy's component handle (a c_void_p or an int)."""
    value = getattr(component, "value", component)
    return int(value) if value is not None else None


__all__ = [
    "CK_DERIVATIVES",
    "CK_GET",
    "CK_OK",
    "CK_SET",
    "CK_STEP",
    "CkCall",
    "CkSlave",
    "SlaveEntry",
    "SlaveTable",
    "library",
]
