"""export_model(): Modelica class -> fmus/<Model_Name>.fmu, rebuilt only when its sources or the exporter change.

The FMU is built in a temporary folder next to the target and moved into place with os.replace, so a failed
build leaves the previous FMU (and manifest entry) untouched, and readers never see a half-written file. A
per-model file lock makes concurrent exports of the same model safe: the second one waits and then finds the
FMU up to date.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from orchestrator.errors import BuildError, ModelError
from orchestrator.export import manifest
from orchestrator.export.dependencies import model_source_files
from orchestrator.export.frontend import list_models, modelica_files, parse_library
from orchestrator.paths import FMUS_DIR, MODELS_DIR

log = logging.getLogger(__name__)

BACKENDS = ("auto", "builtin", "openmodelica")
#: The Modelica packages whose models `o2twin export --all` exports (the co-simulation units and the plant).
COSIM_PACKAGES = ("O2Twin.CoSim", "O2Twin.Plant")


def fmu_path(model_name: str, out_dir: Path = FMUS_DIR) -> Path:
    """Where the FMU of a model lands: dots become underscores (OpenModelica's convention)."""
    return Path(out_dir) / f"{model_name.replace('.', '_')}.fmu"


def resolve_backend(backend: str) -> str:
    """'auto' -> 'openmodelica' when omc is on PATH (and OMPython installed), else 'builtin'; errors for unknown
    or unavailable backends."""
    from orchestrator.export.openmodelica import OMC_MISSING, omc_path

    if backend not in BACKENDS:
        raise BuildError(f"unknown exporter backend '{backend}'; use one of {', '.join(BACKENDS)}")
    if backend == "auto":
        # OpenModelica when it can really run: omc on PATH and OMPython importable
        return "openmodelica" if omc_path() and importlib.util.find_spec("OMPython") else "builtin"
    if backend == "openmodelica" and omc_path() is None:
        raise BuildError(OMC_MISSING)
    return backend


def model_guid(model_name: str, source_hash: str) -> str:
    """A deterministic GUID from the model, its sources and the exporter version."""
    digest = hashlib.sha256(f"{model_name}\0{source_hash}\0{manifest.exporter_version()}".encode())
    return "{" + str(uuid.UUID(hex=digest.hexdigest()[:32])) + "}"


def _build_builtin(model_name: str, models_dir: Path, out_fmu: Path, source_hash: str) -> dict:
    """pymoca -> causalisation -> build_fmu (C, modelDescription, compile, package); returns manifest extras."""
    from orchestrator.export.build import build_fmu
    from orchestrator.export.causalise import causalise
    from orchestrator.export.frontend import flatten_model

    started = time.perf_counter()
    flat = flatten_model(models_dir, model_name)
    model = causalise(flat)
    compiled_at = time.perf_counter()
    build_fmu(model, model_guid(model_name, source_hash), out_fmu)
    done = time.perf_counter()
    log.info(
        "%s: model compiled in %.2f s, C built and packaged in %.2f s",
        model_name,
        compiled_at - started,
        done - compiled_at,
    )
    return {"nx": model.nx, "nz": model.nz, "nu": model.nu, "np": model.np, "nv": len(model.variables)}


def export_model(
    model_name: str,
    *,
    models_dir: Path = MODELS_DIR,
    out_dir: Path = FMUS_DIR,
    backend: str = "auto",
    force: bool = False,
) -> Path:
    """Export a Modelica class to out_dir/<Model_Name>.fmu and return its path; a no-op when up to date."""
    models_dir, out_dir = Path(models_dir), Path(out_dir)
    chosen = resolve_backend(backend)
    files = modelica_files(models_dir)
    target = fmu_path(model_name, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with manifest.file_lock(out_dir, target.stem):
        # only the files the model can depend on count: editing another model does not rebuild this one
        used = model_source_files(files, models_dir, model_name)
        source_hash = manifest.sources_hash(used, models_dir)
        mtime_ns = manifest.newest_mtime_ns(used)
        entry = manifest.read_manifest(out_dir).get(model_name)
        if not force and manifest.is_up_to_date(entry, target, chosen, source_hash, mtime_ns):
            log.info("%s is up to date (%s)", target.name, chosen)
            return target
        log.info("exporting %s with the %s backend -> %s", model_name, chosen, target)
        for stale in out_dir.glob(f".build-{target.stem}-*"):  # left by a killed export (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        build_dir = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".build-{target.stem}-"))
        try:
            staged = build_dir / target.name
            if chosen == "builtin":
                extra = _build_builtin(model_name, models_dir, staged, source_hash)
            else:
                from orchestrator.export.openmodelica import build_fmu_openmodelica

                build_fmu_openmodelica(model_name, models_dir, staged)
                extra = {}
            if not staged.is_file():
                raise BuildError(f"the {chosen} backend produced no FMU for {model_name}")
            os.replace(staged, target)
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)
        manifest.write_entry(
            out_dir,
            model_name,
            manifest.make_entry(
                model_name,
                target,
                chosen,
                source_hash,
                mtime_ns,
                models_dir,
                source_files=[str(f.relative_to(models_dir)) for f in used],
                **extra,
            ),
        )
        return target


def cosim_models(models_dir: Path = MODELS_DIR, packages: tuple[str, ...] = COSIM_PACKAGES) -> list[str]:
    """The models `export --all` exports: every non-partial model/block inside the given packages."""
    tree, _ = parse_library(Path(models_dir))
    models = list_models(tree, packages)
    if not models:
        raise ModelError(
            f"no models in packages {', '.join(packages)} under {models_dir}; name the models to export instead"
        )
    return models
