"""The OpenModelica backend: export through omc (OMPython's ModelicaSystem.buildModelFMU), FMI 2.0 me_cs.

Used when omc is on PATH (backend "auto") or asked for ("openmodelica"). It writes the same file name as the
built-in exporter (fmus/<Model_Name>.fmu) and the caller records it in the same manifest.
"""

from __future__ import annotations

import logging
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


def _quote(path: Path | str) -> str:
    """A Modelica string literal for a path (forward slashes, quotes escaped)."""
    return '"' + str(path).replace("\\", "/").replace('"', '\\"') + '"'


def build_fmu_openmodelica(model_name: str, models_dir: Path, out_fmu: Path) -> Path:
    """Export `model_name` from `models_dir` with omc to `out_fmu` (FMI 2.0, Model Exchange + Co-Simulation).

    Talks to omc through OMPython's OMCSessionZMQ with plain scripting commands (loadFile, cd, buildModelFMU),
    which read the same across OMPython 3.x and 4.x.
    """
    if omc_path() is None:
        raise BuildError(OMC_MISSING)
    try:
        from OMPython import OMCSessionZMQ
    except ImportError:
        raise BuildError(
            "OMPython is not installed: pip install 'o2twin[openmodelica]' (or pip install OMPython),"
            " or export with --backend builtin"
        ) from None
    out_fmu = Path(out_fmu)
    work_dir = out_fmu.parent.resolve()
    files = _library_entry(models_dir)
    if not files:
        raise BuildError(f"no Modelica files in {models_dir} for OpenModelica to load")
    try:
        omc = OMCSessionZMQ()
    except Exception as err:
        raise BuildError(f"cannot start omc through OMPython: {err}") from None

    def send(expression: str) -> object:
        try:
            return omc.sendExpression(expression)
        except Exception as err:
            raise BuildError(f"omc failed on {expression}: {err}") from None

    def errors() -> str:
        text = send("getErrorString()")
        return str(text).strip() if text else ""

    for path in files:
        if not send(f"loadFile({_quote(path.resolve())})"):
            raise BuildError(f"OpenModelica could not load {path}: {errors() or 'no message'}")
    send(f"cd({_quote(work_dir)})")
    prefix = model_name.replace(".", "_")
    built = send(f'buildModelFMU({model_name}, version="2.0", fmuType="me_cs", fileNamePrefix="{prefix}")')
    built_path = Path(str(built)) if built else work_dir / f"{prefix}.fmu"
    if not built_path.is_absolute():
        built_path = work_dir / built_path
    if not built or not built_path.is_file():
        raise BuildError(
            f"OpenModelica could not export {model_name} from {models_dir}: {errors() or 'no FMU written'}"
        )
    if built_path != out_fmu.resolve():
        shutil.move(str(built_path), out_fmu)
    log.info("OpenModelica exported %s -> %s", model_name, out_fmu)
    return out_fmu
