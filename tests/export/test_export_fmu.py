"""End to end: every test model exported by the built-in exporter to an FMU that passes fmpy's validation,
simulates in fmpy as Co-Simulation and as Model Exchange, and matches the independent reference (IDAS on pymoca's
implicit DAE) to rtol 1e-4; plus the build behaviour (no-op re-export, rebuild on change, atomic failure, locks).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fmpy import read_model_description, simulate_fmu
from fmpy.validation import validate_fmu

from orchestrator.cli.main import main
from orchestrator.errors import ModelError
from orchestrator.export import export_model
from orchestrator.export.api import cosim_models
from orchestrator.export.manifest import MANIFEST_NAME, file_sha256, read_manifest
from orchestrator.export.openmodelica import omc_path
from orchestrator.export.reference import simulate_reference
from tests.support.export_cases import TEST_MODELS_DIR, assert_matches_reference, fmu_cases

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")


class _Exported(dict):
    """Test models exported on first use (built-in backend) into one out folder, then reused."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out

    def __missing__(self, name: str) -> Path:
        self[name] = export_model(name, models_dir=TEST_MODELS_DIR, out_dir=self.out, backend="builtin")
        return self[name]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("fmus")
    return out, _Exported(out)


def _all_names(fmu: Path) -> list[str]:
    md = read_model_description(str(fmu))
    # every continuous variable except derivatives (those amplify the integrator's state error by cancellation)
    return [
        v.name
        for v in md.modelVariables
        if v.causality in ("output", "local") and v.variability == "continuous" and v.derivative is None
    ]


def _fmu_result(result) -> dict[str, np.ndarray]:
    return {name: np.asarray(result[name], dtype=float) for name in result.dtype.names if name != "time"}


@pytest.mark.parametrize("case", fmu_cases())
def test_fmu_passes_fmpy_validation(case, exported):
    _, fmus = exported
    fmu = fmus[case.name]
    assert fmu.name == case.name.replace(".", "_") + ".fmu"
    assert validate_fmu(str(fmu)) == []
    with zipfile.ZipFile(fmu) as archive:
        names = set(archive.namelist())
    assert {"modelDescription.xml", "sources/model.c", "sources/fmi2Functions.h"} <= names
    assert any(n.startswith("binaries/linux64/") and n.endswith(".so") for n in names)


@pytest.mark.parametrize("fmi_type", ["CoSimulation", "ModelExchange"])
@pytest.mark.parametrize("case", fmu_cases())
def test_fmu_matches_reference(case, fmi_type, exported):
    _, fmus = exported
    fmu = fmus[case.name]
    n_out = 25
    times = np.linspace(0.0, case.stop_time, n_out + 1)
    step = case.stop_time / n_out
    names = _all_names(fmu)
    result = simulate_fmu(
        str(fmu),
        fmi_type=fmi_type,
        stop_time=case.stop_time,
        output_interval=step,
        step_size=step,
        start_values=dict(case.inputs),
        output=names,
        relative_tolerance=1e-8,
    )
    ours = _fmu_result(result)
    np.testing.assert_allclose(result["time"], times, atol=1e-9 * case.stop_time)
    ref = simulate_reference(TEST_MODELS_DIR, case.name, times=times, inputs=lambda _t, c=case: c.inputs)
    compared = assert_matches_reference(ours, ref, rtol=1e-4)
    assert compared >= 2


@pytest.fixture
def tank_dir(tmp_path):
    """A private model folder holding a copy of Tank.mo (tests modify it)."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(TEST_MODELS_DIR / "Tank.mo", models / "Tank.mo")
    return models


def test_reexport_noop_touch_rebuild_and_broken_source_keeps_fmu(tank_dir, tmp_path, capsys):
    out = tmp_path / "fmus"
    fmu = export_model("Tank", models_dir=tank_dir, out_dir=out, backend="builtin")
    first = read_manifest(out)["Tank"]
    assert first["fmu_sha256"] == file_sha256(fmu) and first["backend"] == "builtin"
    assert first["source_hash"] and first["exporter_version"]
    stat = fmu.stat()

    # unchanged source: no-op (same file, same manifest entry), also through the CLI
    t0 = time.perf_counter()
    assert export_model("Tank", models_dir=tank_dir, out_dir=out, backend="builtin") == fmu
    noop_s = time.perf_counter() - t0
    assert main(["export", "Tank", "--models-dir", str(tank_dir), "--out-dir", str(out), "--backend", "builtin"]) == 0
    assert str(fmu) in capsys.readouterr().out
    assert fmu.stat().st_mtime_ns == stat.st_mtime_ns and fmu.stat().st_ino == stat.st_ino
    assert read_manifest(out)["Tank"] == first
    assert noop_s < 5  # generous: the benchmark script measures the real figure

    # touching the source rebuilds
    source = tank_dir / "Tank.mo"
    os.utime(source, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    export_model("Tank", models_dir=tank_dir, out_dir=out, backend="builtin")
    second = read_manifest(out)["Tank"]
    assert second["sources_mtime_ns"] > first["sources_mtime_ns"]
    assert fmu.stat().st_ino != stat.st_ino  # a new file moved into place

    # a changed parameter default changes the FMU
    source.write_text(source.read_text().replace('A(unit = "m2") = 0.5', 'A(unit = "m2") = 0.25'))
    export_model("Tank", models_dir=tank_dir, out_dir=out, backend="builtin")
    third = read_manifest(out)["Tank"]
    assert third["source_hash"] != second["source_hash"]
    start_a = {v.name: v.start for v in read_model_description(str(fmu)).modelVariables}["A"]
    assert float(start_a) == 0.25
    good_bytes = fmu.read_bytes()

    # a broken source: one clear error, the previous FMU and manifest entry stay
    source.write_text(source.read_text().replace("A * der(h) = q_in - q_out;", "A * der(h) = q_in - ;"))
    with pytest.raises(ModelError, match=r"Tank\.mo:\d+:\d+: Modelica syntax error"):
        export_model("Tank", models_dir=tank_dir, out_dir=out, backend="builtin")
    assert fmu.read_bytes() == good_bytes
    assert read_manifest(out)["Tank"] == third
    assert validate_fmu(str(fmu)) == []
    assert not list(out.glob(".build-*")) and not list(out.glob("*.part"))
    assert json.loads((out / MANIFEST_NAME).read_text())["models"]["Tank"]["model"] == "Tank"


def _export_in_child(args: tuple[str, str]) -> str:
    models_dir, out_dir = args
    return str(export_model("Tank", models_dir=Path(models_dir), out_dir=Path(out_dir), backend="builtin"))


def test_concurrent_exports_of_one_model_are_safe(tank_dir, tmp_path):
    out = tmp_path / "fmus"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        paths = pool.map(_export_in_child, [(str(tank_dir), str(out))] * 2)
    assert paths[0] == paths[1]
    fmu = Path(paths[0])
    assert validate_fmu(str(fmu)) == []
    assert read_manifest(out)["Tank"]["fmu_sha256"] == file_sha256(fmu)
    assert not list(out.glob(".build-*"))


def test_all_discovers_cosim_and_plant_models(tmp_path):
    root = tmp_path / "models" / "Lib"
    (root / "CoSim").mkdir(parents=True)
    (root / "package.mo").write_text("package Lib\nend Lib;\n")
    (root / "CoSim" / "package.mo").write_text(
        "within Lib;\npackage CoSim\n  model A\n    Real x(start = 1, fixed = true);\n  equation\n    der(x) = -x;\n"
        "  end A;\n  partial model P\n  end P;\nend CoSim;\n"
    )
    (root / "Other.mo").write_text("within Lib;\nmodel Other\nend Other;\n")
    assert cosim_models(tmp_path / "models", ("Lib.CoSim",)) == ["Lib.CoSim.A"]
    with pytest.raises(ModelError, match="no models in packages"):
        cosim_models(tmp_path / "models", ("Lib.Plant",))


def test_openmodelica_backend_exports_a_valid_fmu(tmp_path):
    if omc_path() is None:
        print("SKIP reason: omc (OpenModelica) is not on PATH; the OpenModelica backend test needs it")
        pytest.skip("omc (OpenModelica) is not on PATH")
    pytest.importorskip("OMPython", reason="OMPython is not installed (pip install 'o2twin[openmodelica]')")
    fmu = export_model("Tank", models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="openmodelica")
    assert fmu == tmp_path / "Tank.fmu"
    assert validate_fmu(str(fmu)) == []
    assert read_manifest(tmp_path)["Tank"]["backend"] == "openmodelica"
    result = simulate_fmu(str(fmu), stop_time=5.0, start_values={"q_in": 0.03})
    times = np.asarray(result["time"])
    ref = simulate_reference(TEST_MODELS_DIR, "Tank", times=times, inputs=lambda _t: {"q_in": 0.03})
    np.testing.assert_allclose(result["h"], ref["h"], rtol=1e-3)
