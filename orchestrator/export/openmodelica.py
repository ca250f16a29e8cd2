"""The OpenModelica backend: export through omc (OMPython's ModelicaSystem.buildModelFMU), FMI 2.0 me_cs.

Used when omc is on PATH (backend "auto") or asked for ("openmodelica"). It writes the same file name as the
built-in exporter (fmus/<Model_Name>.fmu) and the caller records it in the same manifest.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from orchestrator.errors import BuildError

log = logging.getLogger(__name__)

OMC_MISSING = (
    "OpenModelica (omc) is not on PATH: install OpenModelica (https://openmodelica.org) and OMPython"
    " (pip install 'o2twin[openmodelica]'), or export with --backend builtin"
)


def omc_path() -> str | None:
    """The omc executable on PATH, or None."""
    return shutil.which("omc")


def _library_entry(models_dir: Path) -> list[Path]:
    """The files omc must load: each top-level package (folder with package.mo) once, plus loose .mo files."""
    entries: list[Path] = []
    for path in sorted(Path(models_dir).iterdir()):
        if path.is_dir() and (path / "package.mo").is_file():
            entries.append(path / "package.mo")
        elif path.is_file() and path.suffix == ".mo":
            entries.append(path)
    return entries


def build_fmu_openmodelica(model_name: str, models_dir: Path, out_fmu: Path) -> Path:
    """Export `model_name` from `models_dir` with omc to `out_fmu` (FMI 2.0, Model Exchange + Co-Simulation)."""
    if omc_path() is None:
        raise BuildError(OMC_MISSING)
    try:
        from OMPython import ModelicaSystem
    except ImportError:
        raise BuildError(
            "OMPython is not installed: pip install 'o2twin[openmodelica]' (or pip install OMPython),"
            " or export with --backend builtin"
        ) from None
    out_fmu = Path(out_fmu)
    work_dir = out_fmu.parent
    files = _library_entry(models_dir)
    if not files:
        raise BuildError(f"no Modelica files in {models_dir} for OpenModelica to load")
    cwd = os.getcwd()
    try:
        os.chdir(work_dir)
        system = ModelicaSystem(str(files[0]), model_name, lmodel=[str(f) for f in files[1:]] or None)
        built = system.buildModelFMU(version="2.0", fmuType="me_cs", includeResources=True)
    except BuildError:
        raise
    except Exception as err:
        raise BuildError(f"OpenModelica could not export {model_name} from {models_dir}: {err}") from None
    finally:
        os.chdir(cwd)
    built_path = Path(built) if built else work_dir / f"{model_name.replace('.', '_')}.fmu"
    if not built_path.is_absolute():
        built_path = work_dir / built_path
    if not built_path.is_file():
        raise BuildError(f"OpenModelica reported no FMU for {model_name} (expected {built_path}); see omc's log")
    if built_path != out_fmu:
        shutil.move(str(built_path), out_fmu)
    log.info("OpenModelica exported %s -> %s", model_name, out_fmu)
    return out_fmu
