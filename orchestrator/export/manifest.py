"""fmus/manifest.json: what each FMU was built from, so an unchanged model is not rebuilt.

An entry records the model, the backend, the exporter version (a hash of the exporter's own sources, so a changed
exporter rebuilds), the SHA-256 of the Modelica sources (content) with their newest modification time (so a
touched file rebuilds, as make does), and the SHA-256 of the FMU. Writes are atomic (temp file + os.replace) and
serialised by a file lock (fcntl), so concurrent exports of the same or different models are safe.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from orchestrator import __version__

if sys.platform == "win32":  # msvcrt byte-range locks instead of fcntl
    import msvcrt
else:
    import fcntl

MANIFEST_NAME = "manifest.json"
LOCK_DIR_NAME = ".locks"
_EXPORT_DIR = Path(__file__).resolve().parent
#: Modules of the export package that take no part in building an FMU (a change to them rebuilds no FMU):
#: the reference simulator and the CasADi-function export for controllers (which keys its files on its own hash).
_NOT_FMU_SOURCES = ("reference.py", "functions.py")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sources_hash(files: list[Path], root: Path) -> str:
    """SHA-256 over the relative paths and contents of the Modelica sources (order-independent of the walk)."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: str(p.relative_to(root))):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def newest_mtime_ns(files: list[Path]) -> int:
    """Newest modification time of the sources in ns (a touched file counts as changed)."""
    return max((p.stat().st_mtime_ns for p in files), default=0)


@cache
def exporter_version() -> str:
    """Package version plus a short hash of the exporter's Python and C runtime sources."""
    digest = hashlib.sha256()
    for path in sorted(_EXPORT_DIR.rglob("*")):
        if path.suffix in (".py", ".c", ".h") and "__pycache__" not in path.parts and path.name not in _NOT_FMU_SOURCES:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


@contextlib.contextmanager
def file_lock(out_dir: Path, name: str) -> Iterator[None]:
    """An exclusive inter-process lock on out_dir/.locks/<name>.lock (fcntl.flock; msvcrt on Windows)."""
    lock_dir = Path(out_dir) / LOCK_DIR_NAME
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a+") as handle:
        if sys.platform == "win32":
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises OSError
        else:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if sys.platform == "win32":
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_manifest(out_dir: Path) -> dict[str, dict]:
    """The manifest's entries by model name ({} if there is none or it is unreadable)."""
    path = Path(out_dir) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    models = data.get("models") if isinstance(data, dict) else None
    return models if isinstance(models, dict) else {}


def write_entry(out_dir: Path, model: str, entry: dict) -> None:
    """Add or replace one model's entry; atomic and serialised with other writers."""
    out_dir = Path(out_dir)
    with file_lock(out_dir, "manifest"):
        models = read_manifest(out_dir)
        models[model] = entry
        payload = json.dumps({"format": 1, "models": dict(sorted(models.items()))}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".manifest-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
            os.replace(tmp, out_dir / MANIFEST_NAME)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def make_entry(
    model: str, fmu: Path, backend: str, source_hash: str, mtime_ns: int, models_dir: Path, **extra: object
) -> dict:
    """A manifest entry for a freshly built FMU."""
    return {
        "model": model,
        "fmu": fmu.name,
        "backend": backend,
        "exporter_version": exporter_version(),
        "source_hash": source_hash,
        "sources_mtime_ns": mtime_ns,
        "models_dir": str(Path(models_dir).resolve()),
        "fmu_sha256": file_sha256(fmu),
        "exported_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        **extra,
    }


def is_up_to_date(entry: dict | None, fmu: Path, backend: str, source_hash: str, mtime_ns: int) -> bool:
    """True when the FMU on disk was built by this exporter and backend from exactly these sources."""
    if not entry or not fmu.is_file():
        return False
    return (
        entry.get("backend") == backend
        and entry.get("exporter_version") == exporter_version()
        and entry.get("source_hash") == source_hash
        and int(entry.get("sources_mtime_ns", -1)) >= mtime_ns
        and entry.get("fmu_sha256") == file_sha256(fmu)
    )
