"""The Modelica Association's Reference FMUs, built as FMI 2.0 and 3.0 with CMake from
../shared/third_party/Reference-FMUs.

Test data only: the sources are compiled (the model targets, not the examples) into a build folder, never copied
into the project. A build is kept under a key of the sources' hash and the FMI version (in pytest's cache folder),
so a test session builds each version once and later sessions reuse it while the sources are unchanged. CMake
comes from the system or from PyPI's ``cmake`` package (the dev extra).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from orchestrator.paths import PROJECT_ROOT

#: Where the sources are: shared/ beside the repository (a checkout's shared/ folder, or the workplace's).
_CANDIDATES = (PROJECT_ROOT / "shared", PROJECT_ROOT.parent / "shared", PROJECT_ROOT.parents[1] / "shared")
#: The models of each FMI version (the sources' CMakeLists.txt builds Clocks, Roberts and StateSpace for 3.0 only).
MODELS = {
    2: ("BouncingBall", "Dahlquist", "Feedthrough", "Resource", "Stair", "VanDerPol"),
    3: (
        "BouncingBall",
        "Clocks",
        "Dahlquist",
        "Feedthrough",
        "Resource",
        "Roberts",
        "Stair",
        "StateSpace",
        "VanDerPol",
    ),
}


def source_dir() -> Path | None:
    """The Reference-FMUs source tree, or None when it is not here."""
    for shared in _CANDIDATES:
        src = shared / "third_party" / "Reference-FMUs"
        if (src / "CMakeLists.txt").is_file():
            return src
    return None


def cmake() -> str | None:
    """The cmake program: on PATH, or installed into this Python's environment by pip's ``cmake`` package."""
    found = shutil.which("cmake")
    if found:
        return found
    beside = Path(sys.executable).parent / "cmake"
    return str(beside) if beside.is_file() else None


def missing_tools() -> str | None:
    """Why the Reference FMUs cannot be built here, or None."""
    if source_dir() is None:
        return "the Reference-FMUs sources (shared/third_party/Reference-FMUs) are not here"
    if cmake() is None:
        return "cmake is not installed (pip install cmake, in the dev extra)"
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        return "no C compiler"
    return None


def sources_hash() -> str:
    """A hash of every file of the sources the FMUs are built from (models, src/, include/, CMakeLists.txt)."""
    src = source_dir()
    assert src is not None
    digest = hashlib.sha256()
    for path in sorted(src.rglob("*")):
        parts = path.relative_to(src).parts
        if path.is_file() and parts[0] not in ("examples", "tests", "build", ".git") and not parts[0].startswith("."):
            digest.update(str(path.relative_to(src)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(build_dir: Path, models: tuple[str, ...] | None = None, version: int = 2) -> dict[str, Path]:
    """Configure and build the Reference FMUs of FMI ``version`` (2 or 3) into build_dir; name -> .fmu path."""
    program = cmake()
    src = source_dir()
    assert program is not None and src is not None, missing_tools()
    models = models or MODELS[version]
    env = dict(os.environ, PATH=f"{Path(program).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    # the sources build with -Werror; newer GCCs warn about a strncpy bound in Resource (not an error in the model)
    configure = [program, "-S", str(src), "-B", str(build_dir), f"-DFMI_VERSION={version}",
                 "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_C_FLAGS=-Wno-stringop-truncation"]  # fmt: skip
    subprocess.run(configure, check=True, capture_output=True, text=True, env=env)
    subprocess.run([program, "--build", str(build_dir), "--target", *models], check=True, capture_output=True,
                   text=True, env=env)  # fmt: skip
    return {name: build_dir / "fmus" / f"{name}.fmu" for name in models}


def build_cached(cache_root: Path, version: int) -> dict[str, Path]:
    """The FMUs of FMI ``version``, built into cache_root/fmi<version>-<sources hash> unless they are there."""
    folder = cache_root / f"fmi{version}-{sources_hash()}"
    fmus = {name: folder / f"{name}.fmu" for name in MODELS[version]}
    if all(path.is_file() for path in fmus.values()):
        return fmus
    cache_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root) as tmp:
        built = build(Path(tmp) / "build", version=version)
        staging = Path(tmp) / "fmus"
        staging.mkdir()
        for path in built.values():
            shutil.copy2(path, staging / path.name)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    return fmus


def reference_output(model: str) -> dict[str, list[float]]:
    """The model's reference result (<model>_out.csv from the sources): column -> values (numbers only)."""
    return {k: [float(v) for v in values] for k, values in reference_table(model, "out").items() if _numeric(values)}


def reference_table(model: str, which: str = "out") -> dict[str, list[str]]:
    """<model>_out.csv (which="out") or <model>_in.csv ("in") as text: column -> values ("true"/"false" as 1/0)."""
    src = source_dir()
    assert src is not None
    with open(src / model / f"{model}_{which}.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().strip('"') for h in rows[0]]
    columns: dict[str, list[str]] = {h: [] for h in header}
    for row in rows[1:]:
        for h, value in zip(header, row, strict=True):
            columns[h].append({"true": "1", "false": "0"}.get(value, value))
    return columns


def _numeric(values: list[str]) -> bool:
    try:
        [float(v) for v in values]
    except ValueError:
        return False
    return True
