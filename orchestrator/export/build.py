"""Compile and package an FMI 2.0 FMU (Model Exchange + Co-Simulation) from a CausalModel.

build_fmu generates the model's C code (codegen.py), compiles it together with the C runtime in runtime/ using the
system C compiler, and zips modelDescription.xml, the binary and everything needed to rebuild it (sources/, with
the FMI 2.0 headers taken from the installed fmpy package) into an .fmu, written atomically.
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
from pathlib import Path

from orchestrator.errors import BuildError
from orchestrator.export.causal_model import CausalModel
from orchestrator.export.codegen import generate_sources

log = logging.getLogger(__name__)

RUNTIME_DIR = Path(__file__).parent / "runtime"
#: Runtime C files compiled into every FMU (besides the generated model.c).
RUNTIME_C_FILES = ["o2_fmi2.c", "o2_model.c", "o2_bdf.c", "o2_state.c", "o2_sparse_lu.c"]
RUNTIME_H_FILES = ["o2_runtime.h", "o2_sparse_lu.h"]
FMI2_HEADERS = ["fmi2Functions.h", "fmi2FunctionTypes.h", "fmi2TypesPlatform.h"]
#: Flags for the binary shipped in the FMU (C99, position independent, only the fmi2 API exported).
C_FLAGS = ["-std=c99", "-O2", "-fPIC", "-fvisibility=hidden", "-DNDEBUG"]
COMPILE_TIMEOUT_S = 600


def runtime_source_files() -> list[str]:
    """The C files under sources/ that are compiled into the binary: what modelDescription's SourceFiles lists."""
    return ["model.c", *RUNTIME_C_FILES]


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


def _description_fields(model_description: str) -> tuple[str, str]:
    """GUID and modelIdentifier of a modelDescription.xml text."""
    try:
        root = ET.fromstring(model_description)
    except ET.ParseError as err:
        raise BuildError(f"the generated modelDescription.xml is not valid XML: {err}") from err
    guid = root.get("guid")
    identifiers = {el.get("modelIdentifier") for el in root if el.tag in ("ModelExchange", "CoSimulation")}
    if not guid or len(identifiers) != 1:
        raise BuildError("modelDescription.xml needs a guid and one modelIdentifier for ModelExchange/CoSimulation")
    return guid, identifiers.pop() or ""


def compile_binary(sources_dir: Path, out_library: Path, compiler: str | None = None) -> None:
    """Compile the C files of sources_dir into a shared library (one compiler process per file, in parallel)."""
    compiler = compiler or find_c_compiler()
    objects_dir = out_library.parent / "obj"
    objects_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for name in runtime_source_files():
        obj = objects_dir / (Path(name).stem + ".o")
        cmd = [compiler, *C_FLAGS, f"-I{sources_dir}", "-c", str(sources_dir / name), "-o", str(obj)]
        jobs.append((name, obj, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    errors = []
    for name, _obj, proc in jobs:
        try:
            _, stderr = proc.communicate(timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            errors.append(f"{name}: compiler timed out after {COMPILE_TIMEOUT_S} s")
            continue
        if proc.returncode != 0:
            errors.append(f"{name}:\n" + "\n".join(stderr.strip().splitlines()[:15]))
    if errors:
        raise BuildError(f"compiling the FMU with {compiler} failed:\n" + "\n".join(errors))
    link = [compiler, "-shared", "-o", str(out_library), *[str(obj) for _, obj, _ in jobs], "-lm"]
    if platform.system() == "Darwin":
        link[1] = "-dynamiclib"
    result = subprocess.run(link, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    if result.returncode != 0:
        first = "\n".join(result.stderr.strip().splitlines()[:15])
        raise BuildError(f"linking the FMU with {compiler} failed:\n{first}")
    shutil.rmtree(objects_dir, ignore_errors=True)


def _library_suffix() -> str:
    return {"Darwin": ".dylib", "Windows": ".dll"}.get(platform.system(), ".so")


def build_fmu(model: CausalModel, model_description: str, out_fmu: Path) -> Path:
    """Generate, compile and package ``model`` as an FMU at ``out_fmu`` (replaced atomically); return its path.

    ``model_description`` is the modelDescription.xml text (its GUID is compiled into the binary, its SourceFiles
    must list runtime_source_files()). Raises BuildError when no C compiler is found or compilation fails; the
    previous file at ``out_fmu`` is then left untouched.
    """
    out_fmu = Path(out_fmu)
    guid, identifier = _description_fields(model_description)
    if identifier != model.identifier:
        raise BuildError(
            f"modelDescription modelIdentifier {identifier!r} differs from the model's {model.identifier!r}"
        )
    compiler = find_c_compiler()
    headers = fmi2_header_paths()
    started = time.perf_counter()
    out_fmu.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{identifier}-", dir=out_fmu.parent) as tmp:
        root = Path(tmp) / "fmu"
        sources = root / "sources"
        sources.mkdir(parents=True)
        generate_sources(model, guid, sources)
        for name in RUNTIME_C_FILES + RUNTIME_H_FILES:
            shutil.copyfile(RUNTIME_DIR / name, sources / name)
        for header in headers:
            shutil.copyfile(header, sources / header.name)
        (sources / "buildDescription.xml").write_text(build_description_xml(identifier, runtime_source_files()))
        (root / "modelDescription.xml").write_text(model_description, encoding="utf-8")
        binary = root / "binaries" / fmi_platform() / (identifier + _library_suffix())
        binary.parent.mkdir(parents=True)
        generated = time.perf_counter()
        compile_binary(sources, binary, compiler)
        compiled = time.perf_counter()
        partial = Path(tmp) / (out_fmu.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root).as_posix())
        os.replace(partial, out_fmu)
    log.info(
        "built %s: code generation %.2f s, compilation %.2f s",
        out_fmu,
        generated - started,
        compiled - generated,
    )
    return out_fmu
