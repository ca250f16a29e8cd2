"""An FMU archive unpacked for use: its model description, a binary for this platform (compiled from the FMU's
sources/ when it ships none) and instances with the project's log routing.

The FMU slaves build on it, and so do the test and validation drivers that need raw FMI calls (one FMU driver in
the project). Unpacking is confined and size-limited (archive.py); the folder is removed with the object.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fmpy
from fmpy import read_model_description, sharedLibraryExtension
from fmpy.fmi2 import FMU2Model, FMU2Slave

from orchestrator.cosim.slaves.archive import check_model_identifier, extract_archive, extraction_dir
from orchestrator.cosim.slaves.fmu_logging import LogHandler, fmi2_callbacks, release
from orchestrator.errors import SimulationError, SystemDefinitionError

log = logging.getLogger(__name__)

#: fmpy's instance classes by interface.
INSTANCE_CLASSES: dict[str, type] = {"cs": FMU2Slave, "me": FMU2Model}


class UnpackedFmu:
    """The FMU at ``path`` unpacked into its own folder; ``what`` names it in messages (e.g. "slave psa: 'x.fmu'")."""

    def __init__(self, path: str | Path, name: str, what: str | None = None) -> None:
        self.path = Path(path)
        self.what = what or f"'{self.path}'"
        if not self.path.exists():
            raise SystemDefinitionError(f"{self.what} does not exist (export it first)")
        self.directory: str | None = str(extraction_dir(name))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, True)
        try:
            extract_archive(self.path, self.directory, what=self.what)
            self.model_description: Any = read_model_description(self.directory, validate=False)
        except SystemDefinitionError:
            self.remove()
            raise
        except Exception as exc:  # fmpy raises plain Exceptions for broken archives/XML
            self.remove()
            raise SystemDefinitionError(f"{self.what}: cannot read it: {exc}") from None
        if self.model_description.fmiVersion != "2.0":
            version = self.model_description.fmiVersion
            self.remove()
            raise SystemDefinitionError(f"{self.what} is FMI {version}; only FMI 2.0 is supported")
        #: True when the FMU had no binary for this platform and its sources/ were compiled
        self.compiled_from_sources = False

    @property
    def value_references(self) -> dict[str, int]:
        return {v.name: v.valueReference for v in self.model_description.modelVariables}

    def model_identifier(self, interface: str) -> str:
        """The checked modelIdentifier of interface "cs" or "me", with a binary for this platform ready."""
        md = self.model_description
        kind = md.coSimulation if interface == "cs" else md.modelExchange
        if kind is None:
            other = "me" if interface == "cs" else "cs"
            name = "Co-Simulation" if interface == "cs" else "Model Exchange"
            raise SystemDefinitionError(f'{self.what} has no {name} interface; use interface = "{other}"')
        identifier = check_model_identifier(kind.modelIdentifier, self.what)
        self._require_binary(identifier)
        return identifier

    def _require_binary(self, model_identifier: str) -> None:
        """Compile sources/ when there is no binary for this platform, else raise a SystemDefinitionError naming
        the FMU and the platforms it does have (while the system is built, before any result is written)."""
        assert self.directory is not None
        unzip = Path(self.directory)
        if (unzip / "binaries" / fmpy.platform / (model_identifier + sharedLibraryExtension)).is_file():
            return
        binaries = unzip / "binaries"
        have = ", ".join(sorted(p.name for p in binaries.iterdir() if p.is_dir())) if binaries.is_dir() else ""
        where = f"{self.what} has no binary for this platform ({fmpy.platform})"
        where += f"; it has binaries for {have}" if have else "; it has no binaries at all"
        if not (unzip / "sources").is_dir():
            raise SystemDefinitionError(
                f"{where} and no sources/ to compile; get or export the FMU for {fmpy.platform}"
            )
        log.warning("%s; compiling its sources/ for %s", where, fmpy.platform)
        try:
            _compile_sources(unzip)
        except Exception as exc:  # cmake/compiler missing or failing: fmpy raises plain exceptions
            raise SystemDefinitionError(f"{where}, and compiling its sources/ failed: {exc}") from exc
        self.compiled_from_sources = True

    def instantiate(
        self, interface: str, model_identifier: str, instance_name: str, on_log: LogHandler, logging_on: bool = False
    ) -> tuple[Any, int]:
        """fmi2Instantiate an instance ("cs" or "me") whose log messages go to on_log(status, category, text);
        returns the fmpy instance and the key to release its log routing with (fmu_logging.release)."""
        if self.directory is None:
            raise SimulationError(f"{self.what}: its files were removed; it cannot be instantiated again")
        fmu = INSTANCE_CLASSES[interface](
            guid=self.model_description.guid,
            unzipDirectory=self.directory,
            modelIdentifier=model_identifier,
            instanceName=instance_name,
        )
        callbacks, key = fmi2_callbacks(on_log)
        fmu._o2twin_callbacks = callbacks  # the ctypes callbacks live as long as the instance
        try:
            fmu.instantiate(callbacks=callbacks, loggingOn=logging_on)
        except Exception as exc:  # fmpy raises a plain Exception when fmi2Instantiate returns NULL
            fmu.freeLibrary()
            release(key)
            raise SimulationError(f"{self.what}: fmi2Instantiate failed ({exc})") from exc
        return fmu, key

    def remove(self) -> None:
        """Delete the unpacked files (idempotent)."""
        self._cleanup()
        self.directory = None


def _compile_sources(unzip_dir: Path) -> None:
    """Build the binary for this platform from the FMU's sources/ into unzip_dir/binaries (fmpy + CMake).

    CMake is taken from PATH or from this Python's environment (PyPI's cmake package); the build's output goes to
    the log at debug level, and its last lines into the error when it fails.
    """
    from fmpy.build import build_platform_binary

    path = os.environ.get("PATH", "")
    with tempfile.TemporaryFile() as out, _fd_redirect(out):
        try:
            os.environ["PATH"] = f"{path}{os.pathsep}{Path(sys.executable).parent}"
            build_platform_binary(unzip_dir)
        except subprocess.CalledProcessError as exc:
            out.seek(0)
            tail = out.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{exc}: {' | '.join(tail)}") from exc
        finally:
            os.environ["PATH"] = path
        out.seek(0)
        log.debug("build output: %s", out.read().decode("utf-8", "replace"))


@contextlib.contextmanager
def _fd_redirect(target: Any) -> Iterator[None]:
    """Send what subprocesses write to stdout and stderr into the file target while inside."""
    saved = [os.dup(1), os.dup(2)]
    try:
        for fd in (1, 2):
            os.dup2(target.fileno(), fd)
        yield
    finally:
        for fd, old in zip((1, 2), saved, strict=True):
            os.dup2(old, fd)
            os.close(old)
