"""A scenario packed for workers that share no file system with the caller: the spec as data plus the bytes of every
file a run of it reads (the FMUs, [[inputs]] tables, allowed modules beside the scenario).

The caller resolves the files once (exporting Modelica classes to FMUs where needed); each worker process writes a
bundle once into its temporary folder, keyed by the bundle's digest, and runs the spec found there. The bundled spec
names its FMUs by paths inside that folder, so every worker, local or remote, runs the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.build import resolve_fmu
from orchestrator.scenario.inputs import table_file
from orchestrator.scenario.load import scenario_text
from orchestrator.scenario.spec import ScenarioSpec

log = logging.getLogger(__name__)

#: Where workers unpack bundles: <temp>/o2twin-bundles/<digest>/ (content-addressed, so processes can share it).
BUNDLE_ROOT_NAME = "o2twin-bundles"
#: The bundled spec's source: its canonical TOML (relative paths in the spec resolve beside it).
SCENARIO_FILE = "scenario.toml"
#: Where the bundled FMUs lie inside it: <FMU_FOLDER>/<sha256 prefix>/<file name>.
FMU_FOLDER = ".fmus"


@dataclass
class ScenarioBundle:
    """A spec and the files its runs read, by path relative to the bundle folder (POSIX spelling)."""

    spec: ScenarioSpec
    files: dict[str, bytes] = field(default_factory=dict)
    #: the spec's [slaves.NAME] fmu -> the bundled file that replaces it
    fmu_files: dict[str, str] = field(default_factory=dict)
    digest: str = ""

    @property
    def size_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())


def bundle_scenario(spec: ScenarioSpec, allow_modules: tuple[str, ...] = ()) -> ScenarioBundle:
    """Pack a spec: every FMU it names (exported now if it is a Modelica class), its input tables, and the allowed
    modules found beside the scenario file. Definition errors (a missing FMU or table) raise here, before any run."""
    files: dict[str, bytes] = {}
    fmu_files: dict[str, str] = {}
    for slave in spec.slaves.values():
        if slave.kind != "fmu":
            continue
        path = resolve_fmu(slave, spec)
        data = path.read_bytes()
        name = f"{FMU_FOLDER}/{hashlib.sha256(data).hexdigest()[:16]}/{path.name}"
        files[name] = data
        fmu_files[slave.name] = name
    for i, table in enumerate(spec.inputs, 1):
        if table.file is not None:
            where = f"{spec.source or '<scenario>'}: [[inputs]] #{i}"
            files[_relative(table.file, where)] = table_file(spec.source, table.file, where).read_bytes()
    if spec.source:
        folder = Path(spec.source).resolve().parent
        for module in allow_modules:
            candidate = folder / f"{module}.py"
            if "." not in module and candidate.is_file():
                files[f"{module}.py"] = candidate.read_bytes()
    files[SCENARIO_FILE] = scenario_text(spec).encode("utf-8")  # for people reading the folder, and error messages
    bundle = ScenarioBundle(spec, files, fmu_files)
    bundle.digest = _digest(bundle)
    log.debug("bundled scenario %s: %d files, %.1f MB", spec.name, len(files), bundle.size_bytes / 1e6)
    return bundle


def _relative(file: str, where: str) -> str:
    rel = PurePosixPath(file.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] == (FMU_FOLDER,) or rel.as_posix() == SCENARIO_FILE:
        raise SystemDefinitionError(f"{where}: 'file' = '{file}' must be a path inside the scenario's folder")
    return rel.as_posix()


def _digest(bundle: ScenarioBundle) -> str:
    h = hashlib.sha256(scenario_text(bundle.spec).encode("utf-8"))
    for name in sorted(bundle.files):
        h.update(b"\0" + name.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(bundle.files[name]).digest())
    for slave, name in sorted(bundle.fmu_files.items()):
        h.update(f"\0{slave}={name}".encode())
    return h.hexdigest()


def bundle_root() -> Path:
    return Path(tempfile.gettempdir()) / BUNDLE_ROOT_NAME


def unpack(bundle: ScenarioBundle, root: Path | None = None) -> ScenarioSpec:
    """Write the bundle's files (once per digest) and return its spec reading them from there.

    The folder is filled under a temporary name and renamed into place, so processes unpacking the same bundle at
    once never see half of it.
    """
    root = root if root is not None else bundle_root()
    folder = root / bundle.digest
    if not folder.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{bundle.digest[:12]}-{os.getpid()}-", dir=root))
        for name, data in bundle.files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            os.rename(staging, folder)
        except OSError:  # another process was first: its copy holds the same bytes
            _remove_tree(staging)
    spec = bundle.spec
    source = folder / SCENARIO_FILE
    slaves = {
        name: dataclasses.replace(slave, fmu=bundle.fmu_files[name]) if name in bundle.fmu_files else slave
        for name, slave in spec.slaves.items()
    }
    return dataclasses.replace(spec, slaves=slaves, source=str(source))


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
