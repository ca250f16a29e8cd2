"""Writing result files without losing the run's ending: one error type for a file that cannot be written (a full
disk, a file size limit, a vanished folder), raw appends that report partial writes, and atomic small files."""

from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Iterator
from pathlib import Path

from orchestrator.errors import SimulationError


class ResultWriteError(SimulationError):
    """A results file could not be written; the message names the file and the reason (exit code 3)."""

    def __init__(self, path: str | os.PathLike, err: OSError) -> None:
        reason = err.strerror or str(err)
        hint = ""
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            hint = "; free some space (or raise the file size limit) or write the results elsewhere with --out"
        super().__init__(f"cannot write {path}: {reason}{hint}")
        self.path = Path(path)
        self.errno = err.errno


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError raised inside the block into a ResultWriteError naming ``path``."""
    try:
        yield
    except OSError as err:
        raise ResultWriteError(path, err) from None


def write_all(f: io.RawIOBase, data: bytes) -> None:
    """Write every byte through an unbuffered file (a raw write may take only part of it before the disk fills)."""
    view = memoryview(data)
    while view:
        n = f.write(view)
        if not n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a small text file as a whole or not at all (a temporary file renamed); ResultWriteError on failure."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ResultWriteError(path, err) from None
    return path
