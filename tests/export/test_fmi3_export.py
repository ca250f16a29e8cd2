"""FMI 3.0 from the built-in exporter (`o2twin export --fmi-version 3`): the FMU passes fmpy's validation and the
Reference FMUs' own target checks (validate, then simulate as Model Exchange and as Co-Simulation), runs exactly
like the FMI 2.0 export of the same model (same runtime), saves and restores its state, and runs in the master."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest
from fmpy import read_model_description, simulate_fmu
from fmpy.fmi3 import FMU3Slave
from fmpy.validation import validate_fmu

from orchestrator.cli.main import main
from orchestrator.errors import BuildError
from orchestrator.export import export_model
from orchestrator.export.fmi3_build import fmi3_platform
from orchestrator.export.manifest import read_manifest
from orchestrator.scenario.build import build_simulation
from orchestrator.scenario.parse import parse_scenario
from tests.support.export_cases import TEST_MODELS_DIR

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")

#: a model with inputs, outputs and algebraic feedthrough; a stiff one; one with parameters and outputs only
MODELS = ("CoupledOscillators.Mass2", "Robertson", "Tank")
_INPUTS = {"CoupledOscillators.Mass2": {"x1": 0.1, "v1": -0.2}, "Tank": {"q_in": 0.03}, "Robertson": {}}


@pytest.fixture(scope="module")
def fmus(tmp_path_factory):
    """Each model exported as FMI 2.0 and as FMI 3.0 into one folder."""
    out = tmp_path_factory.mktemp("fmi3")
    return {
        (name, version): export_model(name, models_dir=TEST_MODELS_DIR, out_dir=out, backend="builtin",
                                      fmi_version=version)
        for name in MODELS
        for version in (2, 3)
    }  # fmt: skip


@pytest.mark.parametrize("name", MODELS)
def test_fmi3_export_is_valid_and_runs_as_the_fmi2_export(name, fmus):
    fmu3, fmu2 = fmus[(name, 3)], fmus[(name, 2)]
    assert fmu3.name.endswith("_fmi3.fmu")
    assert validate_fmu(str(fmu3)) == []  # the Reference FMUs' test_targets: validate, then simulate both ways
    md = read_model_description(str(fmu3))
    assert md.fmiVersion == "3.0" and md.modelExchange is not None and md.coSimulation is not None
    time_vars = [v for v in md.modelVariables if v.causality == "independent"]
    assert [v.name for v in time_vars] == ["time"]
    with zipfile.ZipFile(fmu3) as z:
        assert f"binaries/{fmi3_platform()}/{md.coSimulation.modelIdentifier}.so" in z.namelist()
    start = _INPUTS[name]
    for fmi_type in ("ModelExchange", "CoSimulation"):
        r3 = simulate_fmu(str(fmu3), fmi_type=fmi_type, stop_time=2.0, start_values=start)
        r2 = simulate_fmu(str(fmu2), fmi_type=fmi_type, stop_time=2.0, start_values=start)
        names = [n for n in r2.dtype.names if n != "time"]
        assert names and len(r3) == len(r2)
        for n in names:  # the same runtime under both APIs: the same numbers
            np.testing.assert_array_equal(r3[n], r2[n], err_msg=f"{name} {fmi_type} {n}")


def test_fmi3_state_save_restore_and_time(fmus, tmp_path):
    """fmi3GetFMUState / SetFMUState / (de)serialisation restore the trajectory; time reads back as the FMU's."""
    fmu = fmus[("Tank", 3)]
    md = read_model_description(str(fmu))
    vr = {v.name: v.valueReference for v in md.modelVariables}
    unzipped = tmp_path / "tank"
    with zipfile.ZipFile(fmu) as z:
        z.extractall(unzipped)
    slave = FMU3Slave(guid=md.instantiationToken, unzipDirectory=str(unzipped),
                      modelIdentifier=md.coSimulation.modelIdentifier, instanceName="tank")  # fmt: skip
    slave.instantiate()
    slave.setFloat64([vr["q_in"]], [0.03])
    slave.enterInitializationMode(startTime=0.0)
    slave.exitInitializationMode()
    slave.doStep(0.0, 0.5)
    state = slave.getFMUState()
    serialized = slave.serializeFMUState(state)
    slave.doStep(0.5, 0.5)
    h_first, t_first = slave.getFloat64([vr["h"], vr["time"]])
    slave.setFMUState(slave.deserializeFMUState(serialized))
    assert slave.getFloat64([vr["time"]]) == [0.5]
    slave.doStep(0.5, 0.5)
    assert slave.getFloat64([vr["h"], vr["time"]]) == [h_first, t_first] and t_first == 1.0
    slave.freeFMUState(state)
    slave.terminate()
    slave.freeInstance()


def test_the_master_runs_the_fmi3_export_like_the_fmi2_one(fmus):
    results = {}
    for version in (2, 3):
        raw = {
            "scenario": {"name": f"tank{version}", "stop_time": 2.0},
            "master": {"step": 0.1},
            "slaves": {"tank": {"fmu": str(fmus[("Tank", version)]), "parameters": {"q_in": 0.03}}},
            "outputs": {"record": ["tank.h", "tank.q_out"]},
        }
        sim = build_simulation(parse_scenario(raw, ""))
        sim.run()
        results[version] = (sim.get("tank.h"), sim.get("tank.q_out"))
    assert results[3] == results[2] and results[2][0] > 0


def test_cli_fmi_version_3_manifest_and_no_op(tmp_path, capsys):
    out = tmp_path / "fmus"
    args = ["export", "Tank", "--models-dir", str(TEST_MODELS_DIR), "--out-dir", str(out), "--backend", "builtin"]
    assert main([*args, "--fmi-version", "3"]) == 0
    fmu = out / "Tank_fmi3.fmu"
    assert str(fmu) in capsys.readouterr().out
    entry = read_manifest(out)["Tank [FMI 3.0]"]
    mtime = fmu.stat().st_mtime_ns
    assert main([*args, "--fmi-version", "3"]) == 0 and fmu.stat().st_mtime_ns == mtime  # up to date: no rebuild
    assert read_manifest(out)["Tank [FMI 3.0]"] == entry and "Tank" not in read_manifest(out)
    with pytest.raises(SystemExit):
        main([*args, "--fmi-version", "4"])
    with pytest.raises(BuildError, match="FMI version 1 is not supported"):
        export_model("Tank", models_dir=TEST_MODELS_DIR, out_dir=out, backend="builtin", fmi_version=1)
    with pytest.raises(BuildError, match=r"FMI 3\.0 is written by the built-in exporter only"):
        export_model("Tank", models_dir=TEST_MODELS_DIR, out_dir=out, backend="openmodelica", fmi_version=3)
