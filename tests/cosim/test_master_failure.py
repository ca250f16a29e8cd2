"""A slave failing mid-run (fmi2Error, fmi2Discard) is reported with its name and the time, FMU log messages reach
the Python log under o2twin.fmu.<slave>, and the recorders keep everything up to the failure."""

from __future__ import annotations

import gc
import logging

import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.errors import SimulationError
from tests.support.lti_reference import oscillator_system


def failing_run(paths, status: int):
    system = oscillator_system(paths)
    system.parameters["mass2"] = {"fail_time": 0.35, "fail_status": float(status)}
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=1.0), recorders=[rec])
    return sim, rec


def test_fmi2error_names_slave_and_time(oscillator_fmus, caplog):
    sim, rec = failing_run(oscillator_fmus(), 3)
    with caplog.at_level(logging.ERROR, logger="o2twin.fmu.mass2"), pytest.raises(SimulationError) as info:
        sim.run()
    message = str(info.value)
    assert "slave mass2" in message and "t = 0.3 s" in message
    assert "injected failure in the step from t = 0.3" in message  # the FMU's own log message
    assert any(r.name == "o2twin.fmu.mass2" and "injected failure" in r.getMessage() for r in caplog.records)
    assert rec.times == pytest.approx([0.0, 0.1, 0.2, 0.3])  # everything before the failure was recorded
    assert rec.finish_metadata["status"] == "failed"
    assert "slave mass2" in rec.finish_metadata["error"]
    assert rec.events[-1][0] == pytest.approx(0.3) and rec.events[-1][1].startswith("error:")
    assert info.value.exit_code == 3


def test_fmi2discard_is_reported(oscillator_fmus):
    sim, rec = failing_run(oscillator_fmus(), 2)
    with pytest.raises(
        SimulationError, match=r"slave mass2 rejected the step from t = 0.3 s by 0.1 s \(fmi2DoStep returned Discard\)"
    ):
        sim.run()
    assert len(rec.times) == 4


def test_stepping_after_failure_is_refused(oscillator_fmus):
    sim, _ = failing_run(oscillator_fmus(), 3)
    with pytest.raises(SimulationError):
        sim.run()
    with pytest.raises(SimulationError, match="has finished"):
        sim.step()


def test_discard_under_error_control_retries_smaller(oscillator_fmus):
    """An FMU that discards steps longer than 0.02 s: fatal with a fixed 0.1 s step, absorbed by error control."""
    system = oscillator_system(oscillator_fmus())
    system.parameters["mass2"] = {"max_h": 0.02}
    with pytest.raises(
        SimulationError,
        match=r"slave mass2 rejected the step .* \(fmi2DoStep returned Discard\): step 0.1 larger than max_h",
    ):
        Simulation(system, MasterOptions(step=0.1, stop_time=0.5)).run()
    system = oscillator_system(oscillator_fmus())
    system.parameters["mass2"] = {"max_h": 0.02}
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=0.5, error_control=True, tolerance=1e-2),
                     recorders=[rec])  # fmt: skip
    sim.run()
    assert rec.times[-1] == 0.5 and sim.stats["rejected_steps"] >= 1
    assert max(b - a for a, b in zip(rec.times, rec.times[1:], strict=False)) <= 0.04 + 1e-12  # two halves of 0.02


def test_fmu_log_messages_reach_their_own_slave_after_other_instances_are_freed(oscillator_fmus, caplog):
    """Each FMU's messages go to its own logger, also when it is not the last instance created and after other
    instances (and their callbacks) have been freed (fmpy's logger proxy holds one process-wide pointer)."""
    earlier = Simulation(oscillator_system(oscillator_fmus()), MasterOptions(step=0.1, stop_time=0.2))
    earlier.run()
    del earlier
    gc.collect()

    system = oscillator_system(oscillator_fmus())
    system.parameters["mass1"] = {"fail_time": 0.15, "fail_status": 3.0}  # mass1 is created before mass2
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=1.0))
    with caplog.at_level(logging.ERROR, logger="o2twin.fmu"), pytest.raises(SimulationError, match="slave mass1"):
        sim.run()
    names = {r.name for r in caplog.records if "injected failure" in r.getMessage()}
    assert names == {"o2twin.fmu.mass1"}


def test_python_block_exception_becomes_a_simulation_error_naming_slave_and_time():
    """A bug in a Python block: SlaveCrash (a SimulationError) with .slave and .time, raised from the original
    exception so its traceback survives; the recorders hear of it and finish as failed."""
    from orchestrator.cosim.system import System
    from orchestrator.errors import SlaveCrash
    from tests.support.cosim_blocks import Crasher, Ramp

    system = System()
    system.add(Ramp("ramp", 0.1))
    system.add(Crasher("crash", 0.1), {"crash_time": 0.55})
    system.connect("ramp.y", "crash.u")
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=1.0), recorders=[rec])
    with pytest.raises(SimulationError) as info:
        sim.run()
    error = info.value
    assert isinstance(error, SlaveCrash) and error.slave == "crash" and error.time == pytest.approx(0.6)
    assert isinstance(error.__cause__, RuntimeError) and "block bug at t=0.6" in str(error)
    assert error.__cause__.__traceback__ is not None
    assert rec.finish_metadata["status"] == "failed" and rec.events[-1].text.startswith("error: slave crash")
