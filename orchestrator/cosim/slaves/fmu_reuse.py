"""Unpacked FMUs lent from one slave to the next in a long-lived process (a sweep worker running case after case).

By default every FMU slave unpacks its archive into a folder of its own and removes it when it terminates. A process
that builds the same scenario over and over spends much of a short run on that: unzipping the archive, parsing
modelDescription.xml, deleting the folder again. After ``keep_unpacked_fmus()``, a terminated slave gives its
unpacked FMU back instead, and the next slave of the same FMU file (same path, size and modification time) borrows it.

What stays as it was:
- a folder is lent to one live slave at a time (two slaves of one FMU in the same system each get their own), and
  never leaves the process (the folders are named after it; orchestrator.cosim.slaves.archive);
- every instance loads the binary afresh: the shared library is unloaded when its instance is freed, and a folder
  whose library stays loaded after that (one the dynamic loader cannot unload) is removed rather than lent again, so
  no global state of an FMU's binary passes from one run to the next.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import weakref
from pathlib import Path

from orchestrator.cosim.slaves.fmu_files import UnpackedFmu

log = logging.getLogger(__name__)

#: At most this many unpacked FMUs wait for a borrower in one process; more are removed as usual.
MAX_KEPT = 32

_Key = tuple[str, int, int]


class _Lender:
    """The unpacked FMUs of this process that no live slave holds, by FMU file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[UnpackedFmu]] = {}
        self._lent: weakref.WeakKeyDictionary[UnpackedFmu, _Key] = weakref.WeakKeyDictionary()  # -> its file

    def borrow(self, path: Path, name: str, what: str) -> UnpackedFmu:
        key = _file_key(path)
        if key is not None:
            with self._lock:
                idle = self._idle.get(key)
                unpacked = idle.pop() if idle else None
                if unpacked is not None:
                    self._lent[unpacked] = key
            if unpacked is not None:
                unpacked.what = what
                return unpacked
        unpacked = UnpackedFmu(path, name, what)
        if key is not None:
            with self._lock:
                self._lent[unpacked] = key
        return unpacked

    def give_back(self, unpacked: UnpackedFmu) -> bool:
        """Keep ``unpacked`` for the next borrower; False when it cannot be kept (the caller removes it)."""
        with self._lock:
            key = self._lent.pop(unpacked, None)
            if key is None or unpacked.directory is None or sum(map(len, self._idle.values())) >= MAX_KEPT:
                return False
        if binaries_still_loaded(unpacked):
            log.debug("%s: its binary stays loaded after its instance was freed; not reused", unpacked.what)
            return False
        with self._lock:
            self._idle.setdefault(key, []).append(unpacked)
        return True

    def idle_count(self) -> int:
        with self._lock:
            return sum(map(len, self._idle.values()))


_lender: _Lender | None = None


def keep_unpacked_fmus() -> None:
    """From now on, this process lends terminated slaves' unpacked FMUs to later slaves of the same FMU file."""
    global _lender
    if _lender is None:
        _lender = _Lender()


def kept_unpacked_fmus() -> int:
    """How many unpacked FMUs wait for a borrower (0 unless keep_unpacked_fmus was called)."""
    return _lender.idle_count() if _lender is not None else 0


def unpack_fmu(path: str | Path, name: str, what: str) -> UnpackedFmu:
    """The FMU at ``path`` unpacked for slave ``name``: a kept one where there is one, else freshly unpacked."""
    if _lender is None:
        return UnpackedFmu(path, name, what)
    return _lender.borrow(Path(path), name, what)


def release_fmu(unpacked: UnpackedFmu) -> None:
    """A slave is done with ``unpacked`` (its instance freed): keep it for the next slave, or remove it."""
    if _lender is None or not _lender.give_back(unpacked):
        unpacked.remove()


def binaries_still_loaded(unpacked: UnpackedFmu) -> bool:
    """True when a shared library of ``unpacked`` is still mapped in this process (or that cannot be told)."""
    if not hasattr(os, "RTLD_NOLOAD"):  # not a dlopen platform: never reuse
        return True
    for binary in unpacked.loaded_binaries:
        try:
            library = ctypes.CDLL(str(binary), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:  # not loaded: the instance's library was unloaded
            continue
        _dlclose(library._handle)  # the probe took a reference of its own
        return True
    return False


def _dlclose(handle: int) -> None:
    import _ctypes

    _ctypes.dlclose(handle)


def _file_key(path: Path) -> _Key | None:
    try:
        stat = path.stat()
        return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:  # missing: UnpackedFmu says so
        return None
