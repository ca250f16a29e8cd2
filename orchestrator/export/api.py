"""export_model(): Modelica class -> fmus/<Model_Name>.fmu, rebuilt only when its sources or the exporter change.

A variant with parameter values bound at export (`O2Twin.CoSim.PSAUnit(nCells=30)`, or parameters={"nCells": 30};
see variants.py) lands in its own file, fmus/O2Twin_CoSim_PSAUnit__nCells_30.fmu, with its own manifest entry.

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
from collections.abc import Mapping
from pathlib import Path

from orchestrator.errors import BuildError, ModelError
from orchestrator.export import manifest
from orchestrator.export.dependencies import model_source_files
from orchestrator.export.frontend import list_models, modelica_files, parse_library
from orchestrator.export.variants import ModelVariant, parse_variant
from orchestrator.paths import FMUS_DIR, MODELS_DIR

log = logging.getLogger(__name__)

BACKENDS = ("auto", "builtin", "openmodelica")
#: FMI versions the built-in exporter writes (3: fmi3_build.py, same runtime; the file name ends in _fmi3).
FMI_VERSIONS = (2, 3)
#: The Modelica packages whose models `o2twin export --all` exports (the co-simulation units and the plant).
COSIM_PACKAGES = ("O2Twin.CoSim", "O2Twin.Plant")


def fmu_path(
    model_name: str, out_dir: Path = FMUS_DIR, parameters: Mapping[str, object] | None = None, fmi_version: int = 2
) -> Path:
    """Where the FMU of a model lands: dots become underscores (OpenModelica's convention); a variant's parameter
    values append __name_value (O2Twin_CoSim_PSAUnit__nCells_30.fmu); FMI 3.0 appends _fmi3."""
    suffix = "_fmi3" if fmi_version == 3 else ""
    return Path(out_dir) / f"{parse_variant(model_name, parameters).identifier}{suffix}.fmu"


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


def _build_builtin(variant: ModelVariant, models_dir: Path, out_fmu: Path, source_hash: str, fmi_version: int) -> dict:
    """pymoca -> causalisation -> build_fmu (C, modelDescription, compile, package); returns manifest extras."""
    from orchestrator.export.build import build_fmu
    from orchestrator.export.causalise import causalise
    from orchestrator.export.frontend import flatten_model

    started = time.perf_counter()
    flat = flatten_model(models_dir, variant.model, variant)
    model = causalise(flat)
    compiled_at = time.perf_counter()
    if fmi_version == 3:
        from orchestrator.export.fmi3_build import build_fmu3

        build_fmu3(model, model_guid(variant.key, source_hash), out_fmu)
    else:
        build_fmu(model, model_guid(variant.key, source_hash), out_fmu)
    done = time.perf_counter()
    log.info(
        "%s: model compiled in %.2f s, C built and packaged in %.2f s",
        variant.key,
        compiled_at - started,
        done - compiled_at,
    )
    return {"nx": model.nx, "nz": model.nz, "nu": model.nu, "np": model.np, "nv": len(model.variables)}


def _variant_backend(variant: ModelVariant, backend: str, chosen: str, fmi_version: int = 2) -> str:
    """Variants and FMI 3.0 are built by the built-in exporter (the OpenModelica backend exports classes as they are,
    as FMI 2.0)."""
    if fmi_version == 3:
        return "builtin"  # export_model refused --backend openmodelica already
    if not variant.parameters or chosen == "builtin":
        return chosen
    if backend == "auto":
        return "builtin"
    raise BuildError(
        f"{variant.key}: parameters set at export need the built-in exporter (--backend builtin); the OpenModelica"
        " backend exports classes as written (declare a model that extends this one with the modifiers instead)"
    )


def _build(variant: ModelVariant, chosen: str, models_dir: Path, target: Path, source_hash: str,
           fmi_version: int = 2) -> dict:  # fmt: skip
    """Build the FMU in a temporary folder next to target and move it into place; returns manifest extras."""
    out_dir = target.parent
    for stale in out_dir.glob(f".build-{target.stem}-*"):  # left by a killed export (the caller holds the lock)
        shutil.rmtree(stale, ignore_errors=True)
    build_dir = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".build-{target.stem}-"))
    try:
        staged = build_dir / target.name
        if chosen == "builtin":
            extra = _build_builtin(variant, models_dir, staged, source_hash, fmi_version)
        else:
            from orchestrator.export.openmodelica import build_fmu_openmodelica

            build_fmu_openmodelica(variant.model, models_dir, staged)
            extra = {}
        if not staged.is_file():
            raise BuildError(f"the {chosen} backend produced no FMU for {variant.key}")
        os.replace(staged, target)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return extra


def export_model(
    model_name: str,
    *,
    models_dir: Path = MODELS_DIR,
    out_dir: Path = FMUS_DIR,
    backend: str = "auto",
    force: bool = False,
    parameters: Mapping[str, object] | None = None,
    fmi_version: int = 2,
) -> Path:
    """Export a Modelica class to out_dir/<Model_Name>.fmu and return its path; a no-op when up to date.

    fmi_version 3 writes FMI 3.0 (built-in exporter only) to out_dir/<Model_Name>_fmi3.fmu.

    ``model_name`` may carry parameter values bound at export in Modelica modifier syntax
    (`O2Twin.CoSim.PSAUnit(nCells=30)`), and ``parameters`` adds more ({"nCells": 30}): the variant lands in
    out_dir/O2Twin_CoSim_PSAUnit__nCells_30.fmu, recorded in the manifest with its values (docs/exporter.md).
    """
    models_dir, out_dir = Path(models_dir), Path(out_dir)
    if fmi_version not in FMI_VERSIONS:
        raise BuildError(f"FMI version {fmi_version} is not supported; use one of {', '.join(map(str, FMI_VERSIONS))}")
    if fmi_version == 3 and backend == "openmodelica":
        raise BuildError(f"{model_name}: FMI 3.0 is written by the built-in exporter only (--backend builtin)")
    variant = parse_variant(model_name, parameters)
    chosen = _variant_backend(variant, backend, resolve_backend(backend), fmi_version)
    files = modelica_files(models_dir)
    target = fmu_path(model_name, out_dir, parameters, fmi_version)
    key = variant.key if fmi_version == 2 else f"{variant.key} [FMI 3.0]"
    out_dir.mkdir(parents=True, exist_ok=True)
    with manifest.file_lock(out_dir, target.stem):
        # only the files the model can depend on count: editing another model does not rebuild this one
        used = model_source_files(files, models_dir, variant.model)
        source_hash = manifest.sources_hash(used, models_dir)
        mtime_ns = manifest.newest_mtime_ns(used)
        entry = manifest.read_manifest(out_dir).get(key)
        if not force and manifest.is_up_to_date(entry, target, chosen, source_hash, mtime_ns):
            log.info("%s is up to date (%s)", target.name, chosen)
            return target
        log.info("exporting %s with the %s backend -> %s", variant.key, chosen, target)
        extra = _build(variant, chosen, models_dir, target, source_hash, fmi_version)
        if variant.parameters:
            extra["parameters"] = dict(variant.parameters)
        manifest.write_entry(
            out_dir,
            key,
            manifest.make_entry(
                variant.model,
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
