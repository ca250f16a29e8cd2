"""Compile and package an FMI 2.0 FMU (Model Exchange + Co-Simulation) from a CausalModel.

build_fmu generates the model's C code (codegen.py) and its modelDescription.xml, compiles the C files together
with the C runtime in runtime/ using the system C compiler (one process per file, in parallel, each file at its
own optimisation level), and zips modelDescription.xml, the binary and everything needed to rebuild it (sources/,
with the FMI 2.0 headers taken from the installed fmpy package) into an .fmu, written atomically.
compile_library and package_fmu are the two halves on their own, also used for the hand-written test FMUs.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.errors import BuildError
from orchestrator.export.c_units import CUnit
from orchestrator.export.causal_model import CausalModel
from orchestrator.export.codegen import generate_sources
from orchestrator.export.model_description import model_description_xml

log = logging.getLogger(__name__)

RUNTIME_DIR = Path(__file__).parent / "runtime"
#: Runtime C files compiled into every FMU (besides the generated model files).
RUNTIME_C_FILES = ["o2_fmi2.c", "o2_model.c", "o2_bdf.c", "o2_state.c", "o2_sparse_lu.c"]
RUNTIME_H_FILES = ["o2_runtime.h", "o2_sparse_lu.h"]
FMI2_HEADERS = ["fmi2Functions.h", "fmi2FunctionTypes.h", "fmi2TypesPlatform.h"]
#: Flags for every binary shipped in an FMU (C99, position independent, only the fmi2 API exported; errno is
#: never read, so sqrt and friends compile to single instructions). The optimisation level is per file.
C_FLAGS = ["-std=c99", "-fPIC", "-fvisibility=hidden", "-fno-math-errno", "-DNDEBUG"]
RUNTIME_OPT_LEVEL = "-O3"  # the runtime is small: its loops are worth vectorising
COMPILE_TIMEOUT_S = 600


def fmi_platform() -> str:
    """FMI 2.0 platform folder name under binaries/ for this machine (linux64, darwin64, win64)."""
    bits = "64" if sys.maxsize > 2**32 else "32"
    system = platform.system()
    if system == "Linux":
        return f"linux{bits}"
    if system == "Darwin":
        return f"darwin{bits}"
    if system == "Windows":
        return f"win{bits}"
    raise BuildError(f"the built-in exporter does not know the FMI platform name of {system}")


def find_c_compiler() -> str:
    """The C compiler to use: $CC, else cc, gcc or clang on PATH."""
    candidates = [os.environ["CC"]] if os.environ.get("CC") else []
    candidates += ["cc", "gcc", "clang"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise BuildError(
        "no C compiler found (tried $CC, cc, gcc, clang): the built-in exporter compiles the FMU's C code. "
        "Install one, e.g. `sudo apt-get install gcc` (Debian/Ubuntu) or `xcode-select --install` (macOS)."
    )


def fmi2_header_paths() -> list[Path]:
    """The FMI 2.0 C headers shipped with the installed fmpy package."""
    try:
        import fmpy
    except ImportError as err:
        raise BuildError("fmpy is not installed; it provides the FMI 2.0 headers: pip install fmpy") from err
    folder = Path(fmpy.__file__).parent / "c-code"
    paths = [folder / name for name in FMI2_HEADERS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BuildError(f"FMI 2.0 headers missing from the fmpy installation: {', '.join(missing)}; reinstall fmpy")
    return paths


def build_description_xml(model_identifier: str, source_files: list[str]) -> str:
    """sources/buildDescription.xml (FMI 3.0 build description format, also read by fmpy for FMI 2.0 FMUs)."""
    root = ET.Element("fmiBuildDescription", {"fmiVersion": "3.0"})
    config = ET.SubElement(root, "BuildConfiguration", {"modelIdentifier": model_identifier})
    file_set = ET.SubElement(config, "SourceFileSet", {"language": "C99"})
    for name in source_files:
        ET.SubElement(file_set, "SourceFile", {"name": name})
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _compile_jobs(
    compiler: str, units: Sequence[CUnit], sources_dir: Path, objects_dir: Path, flags: list[str]
) -> list[str]:
    """Compile every unit to an object file, at most os.cpu_count() at a time; returns the error messages."""
    pending = list(units)
    running: list[tuple[str, subprocess.Popen[str], float]] = []
    errors: list[str] = []
    while pending or running:
        while pending and len(running) < (os.cpu_count() or 1):
            unit = pending.pop(0)
            obj = objects_dir / (Path(unit.name).stem + ".o")
            cmd = [compiler, *flags, unit.opt_level, "-c", str(sources_dir / unit.name), "-o", str(obj)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            running.append((unit.name, proc, time.monotonic()))
        name, proc, started = running.pop(0)
        try:
            _, stderr = proc.communicate(timeout=max(1.0, COMPILE_TIMEOUT_S - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            errors.append(f"{name}: compiler timed out after {COMPILE_TIMEOUT_S} s")
            continue
        if proc.returncode != 0:
            errors.append(f"{name}:\n" + "\n".join(stderr.strip().splitlines()[:15]))
    return errors


def compile_library(
    units: Sequence[CUnit],
    sources_dir: Path,
    out_library: Path,
    *,
    include_dirs: Sequence[Path] = (),
    defines: Mapping[str, str] | None = None,
    compiler: str | None = None,
) -> None:
    """Compile the C files ``units`` of sources_dir into the shared library out_library (the FMU binary).

    One compiler process per file, run in parallel; ``include_dirs`` and ``defines`` (-DNAME=VALUE) apply to all.
    Raises BuildError with the compiler's first lines on failure.
    """
    compiler = compiler or find_c_compiler()
    flags = [*C_FLAGS, f"-I{sources_dir}", *(f"-I{d}" for d in include_dirs)]
    flags += [f"-D{k}={v}" for k, v in (defines or {}).items()]
    objects_dir = out_library.parent / f".obj-{out_library.stem}"
    objects_dir.mkdir(parents=True, exist_ok=True)
    try:
        errors = _compile_jobs(compiler, units, sources_dir, objects_dir, flags)
        if errors:
            raise BuildError(f"compiling the FMU with {compiler} failed:\n" + "\n".join(errors))
        objects = [str(objects_dir / (Path(u.name).stem + ".o")) for u in units]
        link = [compiler, "-dynamiclib" if platform.system() == "Darwin" else "-shared", "-o", str(out_library)]
        result = subprocess.run([*link, *objects, "-lm"], capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        if result.returncode != 0:
            first = "\n".join(result.stderr.strip().splitlines()[:15])
            raise BuildError(f"linking the FMU with {compiler} failed:\n{first}")
    finally:
        shutil.rmtree(objects_dir, ignore_errors=True)


def library_suffix() -> str:
    """File suffix of a shared library on this platform (.so, .dylib, .dll)."""
    return {"Darwin": ".dylib", "Windows": ".dll"}.get(platform.system(), ".so")


def package_fmu(root: Path, out_fmu: Path) -> Path:
    """Zip the FMU folder ``root`` (modelDescription.xml, binaries/, sources/, ...) into out_fmu, replaced
    atomically (a reader never sees a half-written file); returns out_fmu."""
    out_fmu = Path(out_fmu)
    out_fmu.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=out_fmu.parent, prefix=f".{out_fmu.name}-", suffix=".part")
    os.close(fd)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(root).rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root).as_posix())
        os.replace(partial, out_fmu)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return out_fmu


def _copy_sources(sources: Path, identifier: str, units: list[CUnit]) -> None:
    """The runtime and FMI headers next to the generated files, and buildDescription.xml listing every C file."""
    for name in RUNTIME_C_FILES + RUNTIME_H_FILES:
        shutil.copyfile(RUNTIME_DIR / name, sources / name)
    for header in fmi2_header_paths():
        shutil.copyfile(header, sources / header.name)
    (sources / "buildDescription.xml").write_text(build_description_xml(identifier, [u.name for u in units]))


def build_fmu(model: CausalModel, guid: str, out_fmu: Path) -> Path:
    """Generate, describe, compile and package ``model`` as an FMU at ``out_fmu`` (replaced atomically).

    The GUID is compiled into the binary and written into modelDescription.xml, whose SourceFiles list every C
    file under sources/. Raises BuildError when no C compiler is found or compilation fails; the previous file at
    ``out_fmu`` is then left untouched.
    """
    out_fmu = Path(out_fmu)
    compiler = find_c_compiler()
    fmi2_header_paths()
    started = time.perf_counter()
    out_fmu.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{model.identifier}-", dir=out_fmu.parent) as tmp:
        root = Path(tmp) / "fmu"
        sources = root / "sources"
        generated = generate_sources(model, guid, sources)
        units = [*generated, *(CUnit(name, RUNTIME_OPT_LEVEL) for name in RUNTIME_C_FILES)]
        _copy_sources(sources, model.identifier, units)
        description = model_description_xml(model, guid, [u.name for u in units])
        (root / "modelDescription.xml").write_text(description, encoding="utf-8")
        binary = root / "binaries" / fmi_platform() / (model.identifier + library_suffix())
        binary.parent.mkdir(parents=True)
        generated_at = time.perf_counter()
        compile_library(units, sources, binary, compiler=compiler)
        compiled_at = time.perf_counter()
        package_fmu(root, out_fmu)
    log.info(
        "built %s: code generation %.2f s, compilation of %d C files %.2f s",
        out_fmu,
        generated_at - started,
        len(units),
        compiled_at - generated_at,
    )
    return out_fmu
