"""Packaging: FMU layout, sources that rebuild through fmpy, build errors, atomic writes."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fmpy import extract, read_model_description, simulate_fmu
from fmpy.model_description import read_build_description

from orchestrator.errors import BuildError
from orchestrator.export import build
from tests.support import runtime_models


def test_fmu_layout_and_source_list(fmu_of: Callable[[str], Path]) -> None:
    fmu = fmu_of("tank_with_loop")
    names = set(zipfile.ZipFile(fmu).namelist())
    md = read_model_description(str(fmu))
    ident = md.coSimulation.modelIdentifier
    assert {"modelDescription.xml", f"binaries/linux64/{ident}.so", "sources/buildDescription.xml"} <= names
    listed = md.buildConfigurations[0].sourceFileSets[0].sourceFiles
    shipped_c = {n.removeprefix("sources/") for n in names if n.startswith("sources/") and n.endswith(".c")}
    assert listed[0] == "model.c" and set(listed) == shipped_c and len(listed) == len(shipped_c)
    assert set(build.RUNTIME_C_FILES) <= set(listed)
    for header in (*build.FMI2_HEADERS, "model.h", "model_data.h", *build.RUNTIME_H_FILES):
        assert f"sources/{header}" in names
    (config,) = read_build_description(str(fmu))  # validated against the FMI 3.0 schema
    assert config.modelIdentifier == ident
    assert config.sourceFileSets[0].sourceFiles == listed


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed (fmpy builds sources with it)")
def test_sources_rebuild_through_fmpy(fmu_of: Callable[[str], Path], tmp_path: Path) -> None:
    from fmpy.build import build_platform_binary

    fmu = fmu_of("linear_system")
    folder = Path(extract(str(fmu), unzipdir=str(tmp_path / "unzipped")))
    binary = next((folder / "binaries" / "linux64").glob("*.so"))
    binary.unlink()
    (tmp_path / "cmake-build").mkdir()
    build_platform_binary(folder, build_dir=tmp_path / "cmake-build")
    assert binary.is_file()
    res = simulate_fmu(
        str(folder), fmi_type="CoSimulation", output=["a"], output_interval=0.05, relative_tolerance=1e-8
    )
    np.testing.assert_allclose(res["a"], np.exp(-res["time"]) * np.cos(10 * res["time"]), rtol=1e-4, atol=1e-6)


def test_no_compiler_is_a_clear_build_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BuildError, match=r"no C compiler found.*apt-get install gcc"):
        build.find_c_compiler()


def test_compile_error_is_reported_and_previous_fmu_kept(
    fmu_of: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing compiler: BuildError carrying its message; the FMU already at the target stays as it was."""
    target = tmp_path / "Test_Linear.fmu"
    shutil.copyfile(fmu_of("linear_system"), target)
    before = target.read_bytes()
    fake = tmp_path / "badcc"
    fake.write_text("#!/bin/sh\necho 'model.c:1:1: error: simulated compiler failure' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(fake))
    with pytest.raises(BuildError, match="simulated compiler failure"):
        runtime_models.package(runtime_models.linear_system(), tmp_path)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["Test_Linear.fmu", "badcc"])


def test_large_functions_are_split_into_units_with_the_same_results(
    fmu_of: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a tiny chunk limit every function body is cut into many C files; the FMU computes the same
    trajectory bit for bit."""
    from orchestrator.export import c_units

    monkeypatch.setattr(c_units, "MAX_CHUNK_STATEMENTS", 3)
    split = runtime_models.package(runtime_models.tank_with_loop(), tmp_path)
    listed = read_model_description(str(split)).buildConfigurations[0].sourceFileSets[0].sourceFiles
    assert sum(name.startswith("mdl_dae_jac_c") for name in listed) >= 2
    assert sum(name.startswith("mdl_vars_c") for name in listed) >= 2
    signal = np.array([(0, 0.3), (5, 0.3), (5, 0.6), (10, 0.6)], dtype=[("time", float), ("q_in", float)])
    runs = [
        simulate_fmu(str(fmu), fmi_type="CoSimulation", input=signal, output=["V", "q_out", "h"], output_interval=0.5)
        for fmu in (split, fmu_of("tank_with_loop"))
    ]
    for name in ("V", "q_out", "h"):
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_runtime_compiles_warning_free_as_c99(fmu_of: Callable[[str], Path], tmp_path: Path) -> None:
    """The shipped C is portable C99: strict flags produce no warnings in the runtime files."""
    import subprocess

    folder = Path(extract(str(fmu_of("tank_with_loop")), unzipdir=str(tmp_path / "src")))
    cc = build.find_c_compiler()
    for name in build.RUNTIME_C_FILES:
        result = subprocess.run(
            [
                cc,
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-c",
                str(folder / "sources" / name),
                "-o",
                os.devnull,
                f"-I{folder / 'sources'}",
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and result.stderr == "", result.stderr


def test_mx_code_path_builds_and_simulates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Models that do not expand to SX are generated from MX: the same FMU behaviour."""
    import casadi as ca

    from orchestrator.export import codegen

    monkeypatch.setattr(codegen, "contract_functions", lambda model: codegen._contract_functions(model, ca.MX))
    fmu = runtime_models.package(runtime_models.tank_with_loop(), tmp_path)
    signal = np.array([(0, 0.3), (5, 0.3), (5, 0.6), (10, 0.6)], dtype=[("time", float), ("q_in", float)])
    mx = simulate_fmu(
        str(fmu),
        fmi_type="CoSimulation",
        input=signal,
        output=["V", "q_out"],
        output_interval=0.5,
        relative_tolerance=1e-8,
    )
    v = mx["V"]
    np.testing.assert_allclose(mx["q_out"], 0.8 * np.sqrt(v), rtol=1e-7)  # the algebraic loop is solved
    assert v[0] == 1.0 and 0.5 < v[-1] < 0.6  # ends near the new equilibrium (0.6 / 0.8)^2 = 0.5625
