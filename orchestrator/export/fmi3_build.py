"""Compile and package an FMI 3.0 FMU (Model Exchange + Co-Simulation) from a CausalModel.

The same generated model code and C runtime as the FMI 2.0 FMU (build.py), plus runtime/o2_fmi3.c, the FMI 3.0
API over the runtime's FMI 2.0 entry points; the FMI 3.0 modelDescription.xml comes from fmi3_description.py and
the binary goes to binaries/<arch>-<os>/ as FMI 3.0 names platforms. The FMI 2.0 and 3.0 headers are taken from
the installed fmpy package, like build.py does for 2.0.
"""

from __future__ import annotations

import logging
import platform
import shutil
import tempfile
import time
from pathlib import Path

from orchestrator.errors import BuildError
from orchestrator.export.build import (
    RUNTIME_C_FILES,
    RUNTIME_DIR,
    RUNTIME_H_FILES,
    RUNTIME_OPT_LEVEL,
    build_description_xml,
    compile_library,
    find_c_compiler,
    fmi2_header_paths,
    library_suffix,
    package_fmu,
)
from orchestrator.export.c_units import CUnit
from orchestrator.export.causal_model import CausalModel
from orchestrator.export.codegen import generate_sources
from orchestrator.export.fmi3_description import fmi3_model_description_xml

log = logging.getLogger(__name__)

FMI3_RUNTIME_FILE = "o2_fmi3.c"
FMI3_HEADERS = ["fmi3Functions.h", "fmi3FunctionTypes.h", "fmi3PlatformTypes.h"]
_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64", "i386": "x86",
                  "i686": "x86", "x86": "x86"}  # fmt: skip
_SYSTEMS = {"Linux": "linux", "Darwin": "darwin", "Windows": "windows"}


def fmi3_platform() -> str:
    """FMI 3.0 platform tuple under binaries/ for this machine (x86_64-linux, aarch64-darwin, x86_64-windows)."""
    arch = _ARCHITECTURES.get(platform.machine().lower())
    system = _SYSTEMS.get(platform.system())
    if arch is None or system is None:
        raise BuildError(
            f"the built-in exporter does not know the FMI 3.0 platform name of {platform.machine()} {platform.system()}"
        )
    return f"{arch}-{system}"


def fmi3_header_paths() -> list[Path]:
    """The FMI 3.0 C headers shipped with the installed fmpy package."""
    folder = fmi2_header_paths()[0].parent
    paths = [folder / name for name in FMI3_HEADERS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BuildError(f"FMI 3.0 headers missing from the fmpy installation: {', '.join(missing)}; update fmpy")
    return paths


def _copy_sources(sources: Path, identifier: str, units: list[CUnit]) -> None:
    for name in [*RUNTIME_C_FILES, FMI3_RUNTIME_FILE, *RUNTIME_H_FILES]:
        shutil.copyfile(RUNTIME_DIR / name, sources / name)
    for header in [*fmi2_header_paths(), *fmi3_header_paths()]:
        shutil.copyfile(header, sources / header.name)
    (sources / "buildDescription.xml").write_text(build_description_xml(identifier, [u.name for u in units]))


def build_fmu3(model: CausalModel, token: str, out_fmu: Path) -> Path:
    """Generate, describe, compile and package ``model`` as an FMI 3.0 FMU at ``out_fmu`` (replaced atomically).

    ``token`` is the instantiationToken (compiled into the binary, which checks it at instantiation).
    """
    out_fmu = Path(out_fmu)
    compiler = find_c_compiler()
    fmi3_header_paths()
    started = time.perf_counter()
    out_fmu.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{model.identifier}-fmi3-", dir=out_fmu.parent) as tmp:
        root = Path(tmp) / "fmu"
        sources = root / "sources"
        generated = generate_sources(model, token, sources)
        runtime = [*RUNTIME_C_FILES, FMI3_RUNTIME_FILE]
        units = [*generated, *(CUnit(name, RUNTIME_OPT_LEVEL) for name in runtime)]
        _copy_sources(sources, model.identifier, units)
        (root / "modelDescription.xml").write_text(fmi3_model_description_xml(model, token), encoding="utf-8")
        binary = root / "binaries" / fmi3_platform() / (model.identifier + library_suffix())
        binary.parent.mkdir(parents=True)
        compile_library(units, sources, binary, compiler=compiler)
        package_fmu(root, out_fmu)
    log.info("built %s (FMI 3.0) in %.2f s", out_fmu, time.perf_counter() - started)
    return out_fmu
