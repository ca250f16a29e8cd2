"""An FMU archive (FMI 2.0 or 3.0) unpacked for use: its model description, a binary for this platform (compiled
from the FMU's sources/ when it ships none) and instances with the project's log routing (fmi_calls.py).

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
from lxml import etree

from orchestrator.cosim.slaves.archive import check_model_identifier, extract_archive, extraction_dir
from orchestrator.cosim.slaves.fmi_calls import FmiCalls, instantiate
from orchestrator.cosim.slaves.fmu_logging import LogHandler
from orchestrator.errors import SimulationError, SystemDefinitionError

log = logging.getLogger(__name__)

#: The FMI versions the master runs.
SUPPORTED_VERSIONS = ("2.0", "3.0")
_INTERFACE_NAMES = {"cs": "Co-Simulation", "me": "Model Exchange"}


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
        version = str(self.model_description.fmiVersion)
        #: "2.0" or "3.0" (FMI 3.0 minor versions such as "3.0.1" are "3.0")
        self.fmi_version = "3.0" if version.startswith("3.") else version
        if self.fmi_version not in SUPPORTED_VERSIONS:
            self.remove()
            raise SystemDefinitionError(f"{self.what} is FMI {version}; the master runs FMI 2.0 and 3.0 FMUs")
        #: True when the FMU had no binary for this platform and its sources/ were compiled
        self.compiled_from_sources = False
        #: the shared libraries instances were loaded from (fmu_reuse checks that they were unloaded again)
        self.loaded_binaries: set[Path] = set()
        self._xml_root: Any = None

    @property
    def value_references(self) -> dict[str, int]:
        return {v.name: v.valueReference for v in self.model_description.modelVariables}

    @property
    def platform(self) -> str:
        """The binaries/ folder of this platform: FMI 2.0 'linux64', FMI 3.0 'x86_64-linux'."""
        return fmpy.platform if self.fmi_version == "2.0" else fmpy.platform_tuple

    def model_identifier(self, interface: str) -> str:
        """The checked modelIdentifier of interface "cs" or "me", with a binary for this platform ready."""
        md = self.model_description
        kind = md.coSimulation if interface == "cs" else md.modelExchange
        if kind is None:
            other = "me" if interface == "cs" else "cs"
            if (md.coSimulation if other == "cs" else md.modelExchange) is not None:
                raise SystemDefinitionError(
                    f'{self.what} has no {_INTERFACE_NAMES[interface]} interface; use interface = "{other}"'
                )
            only = getattr(md, "scheduledExecution", None) is not None
            raise SystemDefinitionError(
                f"{self.what} has neither a Co-Simulation nor a Model Exchange interface"
                + (" (only FMI 3.0 Scheduled Execution, which the master does not run)" if only else "")
            )
        identifier = check_model_identifier(kind.modelIdentifier, self.what)
        self._require_binary(identifier)
        return identifier

    def capability(self, interface: str, name: str) -> bool:
        """A boolean capability attribute of the interface element, read from modelDescription.xml itself (fmpy
        drops some FMI 3.0 ones, e.g. providesDirectionalDerivatives)."""
        element = "CoSimulation" if interface == "cs" else "ModelExchange"
        if self._xml_root is None:
            assert self.directory is not None
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            self._xml_root = etree.parse(str(Path(self.directory) / "modelDescription.xml"), parser).getroot()
        found = self._xml_root.find(element)
        return found is not None and found.get(name) in ("true", "1")

    def _require_binary(self, model_identifier: str) -> None:
        """Compile sources/ when there is no binary for this platform, else raise a SystemDefinitionError naming
        the FMU and the platforms it does have (while the system is built, before any result is written)."""
        assert self.directory is not None
        unzip = Path(self.directory)
        platform = self.platform
        if (unzip / "binaries" / platform / (model_identifier + sharedLibraryExtension)).is_file():
            return
        binaries = unzip / "binaries"
        have = ", ".join(sorted(p.name for p in binaries.iterdir() if p.is_dir())) if binaries.is_dir() else ""
        where = f"{self.what} has no binary for this platform ({platform})"
        where += f"; it has binaries for {have}" if have else "; it has no binaries at all"
        if not (unzip / "sources").is_dir():
            raise SystemDefinitionError(f"{where} and no sources/ to compile; get or export the FMU for {platform}")
        log.warning("%s; compiling its sources/ for %s", where, platform)
        try:
            _compile_sources(unzip, self.fmi_version)
        except Exception as exc:  # cmake/compiler missing or failing: fmpy raises plain exceptions
            raise SystemDefinitionError(f"{where}, and compiling its sources/ failed: {exc}") from exc
        self.compiled_from_sources = True

    def instantiate(
        self, interface: str, model_identifier: str, instance_name: str, on_log: LogHandler, logging_on: bool = False
    ) -> FmiCalls:
        """Instantiate ("cs" or "me") an instance whose log messages go to on_log(status, category, text); its
        calls in the terms of fmi_calls (``.fmu`` is fmpy's instance; ``free()`` releases it and its log routing)."""
        if self.directory is None:
            raise SimulationError(f"{self.what}: its files were removed; it cannot be instantiated again")
        self.loaded_binaries.add(
            Path(self.directory) / "binaries" / self.platform / (model_identifier + sharedLibraryExtension)
        )
        try:
            return instantiate(
                self.fmi_version,
                interface,
                self.model_description.guid,
                self.directory,
                model_identifier,
                instance_name,
                on_log,
                logging_on,
            )
        except Exception as exc:  # fmpy raises a plain Exception when the instance is NULL or the library fails
            prefix = "fmi2" if self.fmi_version == "2.0" else "fmi3"
            raise SimulationError(f"{self.what}: {prefix}Instantiate failed ({exc})") from exc

    def remove(self) -> None:
        """Delete the unpacked files (idempotent)."""
        self._cleanup()
        self.directory = None


def _compile_sources(unzip_dir: Path, fmi_version: str) -> None:
    """Build the binary for this platform from the FMU's sources/ into unzip_dir/binaries (fmpy + CMake).

    CMake is taken from PATH or from this Python's environment (PyPI's cmake package); the build's output goes to
    the log at debug level, and its last lines into the error when it fails. FMI 3.0 sources are compiled with an
    empty FMI3_FUNCTION_PREFIX: a shared library for dynamic loading exports the plain fmi3 names (fmpy sets it on
    Windows only, and sources such as the Reference FMUs' prefix them with the model identifier otherwise).
    """
    from fmpy.build import build_platform_binary

    path = os.environ.get("PATH", "")
    with tempfile.TemporaryFile() as out, _fd_redirect(out):
        try:
            os.environ["PATH"] = f"{path}{os.pathsep}{Path(sys.executable).parent}"
            flags = "-DFMI3_FUNCTION_PREFIX=" if fmi_version == "3.0" else ""
            build_platform_binary(unzip_dir, cmake_options={"CMAKE_C_FLAGS:STRING": flags} if flags else None)
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
