"""The Modelica Association's Reference FMUs (FMI 2.0), built with CMake from ../shared/third_party/Reference-FMUs.

Test data only: the sources are compiled into a temporary build folder once per test session (a few seconds), never
copied into the project. CMake comes from the system or from PyPI's ``cmake`` package (the dev extra).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from orchestrator.paths import PROJECT_ROOT

#: Where the sources are: shared/ beside the repository (a checkout's shared/ folder, or the workplace's).
_CANDIDATES = (PROJECT_ROOT / "shared", PROJECT_ROOT.parent / "shared", PROJECT_ROOT.parents[1] / "shared")
MODELS = ("BouncingBall", "Dahlquist", "Feedthrough", "Stair", "VanDerPol")


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


def build(build_dir: Path, models: tuple[str, ...] = MODELS) -> dict[str, Path]:
    """Configure and build the FMI 2.0 Reference FMUs into build_dir; name -> .fmu path."""
    program = cmake()
    src = source_dir()
    assert program is not None and src is not None, missing_tools()
    env = dict(os.environ, PATH=f"{Path(program).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    configure = [program, "-S", str(src), "-B", str(build_dir), "-DFMI_VERSION=2", "-DCMAKE_BUILD_TYPE=Release"]
    subprocess.run(configure, check=True, capture_output=True, text=True, env=env)
    subprocess.run([program, "--build", str(build_dir), "--target", *models], check=True, capture_output=True,
                   text=True, env=env)  # fmt: skip
    return {name: build_dir / "fmus" / f"{name}.fmu" for name in models}


def reference_output(model: str) -> dict[str, list[float]]:
    """The model's reference result (<model>_out.csv from the sources): column -> values."""
    src = source_dir()
    assert src is not None
    with open(src / model / f"{model}_out.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().strip('"') for h in rows[0]]
    columns: dict[str, list[float]] = {h: [] for h in header}
    for row in rows[1:]:
        for h, value in zip(header, row, strict=True):
            columns[h].append(float(value) if value not in ("true", "false") else float(value == "true"))
    return columns
