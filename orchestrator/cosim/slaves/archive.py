"""Unpacking FMU and SSP archives safely: they are data from anyone, so extraction is bounded and confined.

- ``extract_archive``: every member stays inside the target folder (no absolute paths, ``..``, drive letters,
  backslashes or symbolic links), at most ``MAX_ARCHIVE_FILES`` members and ``MAX_ARCHIVE_BYTES`` bytes unpacked
  (counted while writing, so a lying header does not help a zip bomb);
- ``check_model_identifier``: the FMI modelIdentifier names the shared library inside the FMU, so it must be a C
  identifier (FMI 2.0, section 2.2.1), never a path such as ``../../lib/evil``;
- ``extraction_dir``: where an FMU is unpacked while it runs: ``<temp>/o2twin-fmus/<pid>-<name>-XXXX``. A process
  that dies without cleaning up (SIGKILL, power loss) leaves its folders behind; the first extraction of the next
  process removes every folder whose process is gone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from orchestrator.errors import SystemDefinitionError

log = logging.getLogger(__name__)

#: Upper bounds of one unpacked archive (the project's largest FMU unpacks to about 3.5 MB in 16 files).
MAX_ARCHIVE_BYTES = 1 << 30
MAX_ARCHIVE_FILES = 10_000
_CHUNK = 1 << 20
_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXTRACTION_ROOT_NAME = "o2twin-fmus"
_stale_cleaned = False


def member_path(name: str, what: str) -> PurePosixPath:
    """The relative path of an archive member; SystemDefinitionError if it could leave the target folder."""
    path = PurePosixPath(name)
    if (
        "\\" in name
        or ":" in name
        or "\0" in name
        or path.is_absolute()
        or any(part == ".." for part in path.parts)
        or not path.parts
    ):
        raise SystemDefinitionError(
            f"{what}: member '{name}' would be unpacked outside its folder; the archive is refused"
        )
    return path


def open_archive(
    archive: str | os.PathLike, what: str, *, max_bytes: int = MAX_ARCHIVE_BYTES, max_files: int = MAX_ARCHIVE_FILES
) -> zipfile.ZipFile:
    """Open a zip archive whose member count and declared unpacked size are within the limits."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise SystemDefinitionError(f"{what}: cannot read the archive ({err})") from None
    infos = zf.infolist()
    declared = sum(i.file_size for i in infos)
    if len(infos) > max_files or declared > max_bytes:
        zf.close()
        raise SystemDefinitionError(
            f"{what}: {len(infos)} files unpacking to {declared / 2**20:.1f} MiB is more than an archive may hold "
            f"({max_files} files, {max_bytes / 2**20:.0f} MiB)"
        )
    return zf


def copy_member(zf: zipfile.ZipFile, name: str, dest: Path, what: str, max_bytes: int = MAX_ARCHIVE_BYTES) -> int:
    """Unpack one member to the file ``dest``, at most max_bytes (counted while writing); returns the bytes."""
    info = zf.getinfo(name)
    member_path(info.filename, what)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SystemDefinitionError(f"{what}: member '{info.filename}' is a symbolic link; the archive is refused")
    written = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zf.open(info) as src, open(dest, "wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise SystemDefinitionError(
                        f"{what}: unpacks to more than allowed (at most {MAX_ARCHIVE_BYTES / 2**20:.0f} MiB an archive)"
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError) as err:
        raise SystemDefinitionError(f"{what}: member '{info.filename}' is damaged ({err})") from None
    return written


def extract_archive(
    archive: str | os.PathLike,
    target: str | os.PathLike,
    *,
    what: str = "",
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_files: int = MAX_ARCHIVE_FILES,
) -> Path:
    """Unpack every member of ``archive`` into ``target``, within the limits; returns ``target``."""
    what = what or str(archive)
    target = Path(target)
    with open_archive(archive, what, max_bytes=max_bytes, max_files=max_files) as zf:
        budget = max_bytes
        for info in zf.infolist():
            rel = member_path(info.filename, what)
            dest = target.joinpath(*rel.parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                budget -= copy_member(zf, info.filename, dest, what, budget)
    return target


def check_model_identifier(identifier: str | None, what: str) -> str:
    """An FMI modelIdentifier, checked to be a C identifier (it names binaries/<platform>/<identifier>.so)."""
    if not identifier or not _C_IDENTIFIER.match(identifier):
        raise SystemDefinitionError(
            f"{what}: modelIdentifier {identifier!r} is not a C identifier (FMI 2.0 requires one); the FMU is refused"
        )
    return identifier


def extraction_root() -> Path:
    """The folder every running FMU is unpacked under."""
    return Path(tempfile.gettempdir()) / EXTRACTION_ROOT_NAME


def extraction_dir(name: str) -> Path:
    """A new folder to unpack the FMU of slave ``name`` into, tagged with this process's id."""
    global _stale_cleaned
    root = extraction_root()
    root.mkdir(parents=True, exist_ok=True)
    if not _stale_cleaned:
        _stale_cleaned = True
        clean_stale_extractions(root)
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)[:40]
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{safe}-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def clean_stale_extractions(root: Path | None = None) -> int:
    """Remove the extraction folders of processes that no longer run; returns how many were removed."""
    root = root if root is not None else extraction_root()
    removed = 0
    for folder in root.iterdir() if root.is_dir() else ():
        pid_text = folder.name.split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        log.info("removed %d FMU folder(s) left in %s by runs that were killed", removed, root)
    return removed
