"""FMI 2.0 to the letter, on the Modelica Association's Reference FMUs (built with CMake once per test session):
a terminate request ends the run cleanly, the default experiment's tolerance reaches fmi2SetupExperiment and the
Model Exchange integrator, discrete inputs of Model Exchange FMUs are set in event mode, and an FMU without a binary
for this platform is compiled from its sources or refused with the platforms it has."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from fmpy.fmi2 import FMU2Slave
from scipy.integrate import solve_ivp

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, SetEvent, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SystemDefinitionError
from tests.support.cosim_blocks import Ramp
from tests.support.fmu_runs import rewrite_fmu as rewrite
from tests.support.fmu_runs import run_single


@pytest.mark.parametrize("cls", [FmuCoSimSlave, FmuModelExchangeSlave])
def test_terminate_request_ends_the_run_cleanly(reference_fmus, cls):
    """Stair counts the seconds and asks to terminate when it reaches 10 (at t = 9 s): the run ends there with
    status "terminated" and an event, not with a failure that advises error control."""
    sim, rec = run_single(cls("stair", reference_fmus["Stair"]), stop=12.0, step=0.2, record=["stair.counter"])
    assert rec.finish_metadata["status"] == "terminated" and rec.finish_metadata["error"] is None
    assert 8.7 < sim.time <= 9.0
    assert rec.column("stair.counter")[-1] == 9 and rec.times[-1] == sim.time
    ended = [e for e in rec.events if e.text.startswith("terminated:")]
    assert len(ended) == 1 and "slave stair asked to end the simulation" in ended[0].text
    assert not any(e.text.startswith("error") for e in rec.events)


def vanderpol_exact(times: np.ndarray) -> np.ndarray:
    def rhs(_t, x):
        return [x[1], (1.0 - x[0] ** 2) * x[1] - x[0]]

    return solve_ivp(rhs, (0.0, times[-1]), [2.0, 0.0], t_eval=times, rtol=1e-12, atol=1e-12, method="DOP853").y[0]


def test_default_experiment_tolerance_reaches_the_fmu_and_the_me_integrator(reference_fmus, tmp_path, monkeypatch):
    tight = rewrite(
        reference_fmus["VanDerPol"],
        tmp_path / "VanDerPolTight.fmu",
        replace={"modelDescription.xml": ('stepSize="1e-2"/>', 'stepSize="1e-2" tolerance="1e-9"/>')},
    )
    passed = []
    original = FMU2Slave.setupExperiment

    def spy(self, tolerance=None, startTime=0.0, stopTime=None):
        passed.append(tolerance)
        return original(self, tolerance=tolerance, startTime=startTime, stopTime=stopTime)

    monkeypatch.setattr(FMU2Slave, "setupExperiment", spy)
    for path, tolerance, expected in (
        (tight, None, 1e-9),
        (tight, 1e-5, 1e-5),
        (reference_fmus["VanDerPol"], None, None),
    ):
        slave = FmuCoSimSlave("vdp", path, tolerance=tolerance)
        slave.setup(0.0)
        slave.terminate()
        assert passed[-1] == expected

    times = np.arange(0.0, 5.0 + 1e-9, 0.1)
    exact = vanderpol_exact(times)
    errors = {}
    for label, slave in (
        ("default", FmuModelExchangeSlave("vdp", reference_fmus["VanDerPol"])),
        ("from the FMU", FmuModelExchangeSlave("vdp", tight)),
        ("given", FmuModelExchangeSlave("vdp", reference_fmus["VanDerPol"], rtol=1e-9, atol=1e-11)),
    ):
        _, rec = run_single(slave, stop=5.0, step=0.1, record=["vdp.x0"])
        errors[label] = float(np.max(np.abs(np.array(rec.column("vdp.x0")) - exact)))
    assert errors["from the FMU"] < errors["default"] / 50 and errors["given"] < errors["default"] / 50
    assert errors["from the FMU"] < 1e-6


def test_discrete_inputs_of_model_exchange_fmus_are_set_in_event_mode(reference_fmus):
    """Feedthrough ME: Integer and Boolean inputs set by events, a discrete Real input driven by a sampled
    block; FMI 2.0 allows these only in event mode (continuous-time mode returns 'illegal call sequence')."""
    system = System()
    system.add(FmuModelExchangeSlave("ft", reference_fmus["Feedthrough"]))
    system.add(Ramp("ramp", 0.25), {"slope": 2.0})
    system.connect("ramp.y", "ft.Float64_discrete_input")
    rec = MemoryRecorder()
    events = [SetEvent(0.5, {"ft.Int32_input": 3, "ft.Boolean_input": True})]
    record = ["ft.Int32_output", "ft.Boolean_output", "ft.Float64_discrete_output"]
    sim = Simulation(system, MasterOptions(step=0.25, stop_time=1.0), events=events, recorders=[rec], record=record)
    sim.run()
    assert rec.times == [0.0, 0.25, 0.5, 0.75, 1.0]
    # an event at 0.5 s acts before the step from 0.5 s: the point recorded at 0.5 s is the one before it
    assert rec.column("ft.Int32_output") == [0, 0, 0, 3, 3]
    assert rec.column("ft.Boolean_output") == [0, 0, 0, 1, 1]
    assert rec.column("ft.Float64_discrete_output") == pytest.approx(rec.column("ramp.y"))
    assert rec.column("ramp.y")[-1] == pytest.approx(1.5)  # the last sample, at 0.75 s


def test_fmu_without_a_binary_for_this_platform(reference_fmus, tmp_path, caplog):
    """With sources/: compiled (and said so), then it runs as the original; without: one clear definition error
    naming the FMU and the platforms it has."""
    original = reference_fmus["Dahlquist"]
    sources_only = rewrite(original, tmp_path / "DahlquistSources.fmu", keep=lambda n: not n.startswith("binaries/"))
    _, expected = run_single(FmuCoSimSlave("d", original), stop=1.0, step=0.1, record=["d.x"])
    with caplog.at_level("WARNING"):
        slave = FmuCoSimSlave("d", sources_only)
    assert slave.compiled_from_sources
    assert any("compiling its sources/" in r.getMessage() for r in caplog.records)
    _, compiled = run_single(slave, stop=1.0, step=0.1, record=["d.x"])
    assert compiled.column("d.x") == expected.column("d.x")

    windows_only = tmp_path / "DahlquistWindows.fmu"
    rewrite(original, windows_only, keep=lambda n: not n.startswith(("binaries/", "sources/")))
    with zipfile.ZipFile(windows_only, "a") as z:
        z.writestr("binaries/win64/Dahlquist.dll", b"MZ")
    with pytest.raises(SystemDefinitionError) as info:
        FmuModelExchangeSlave("d", windows_only)
    message = str(info.value)
    assert "DahlquistWindows.fmu" in message and "no binary for this platform (linux64)" in message
    assert "binaries for win64" in message and "no sources/" in message
    assert info.value.exit_code == 2
