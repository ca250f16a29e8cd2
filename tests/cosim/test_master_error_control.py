"""Variable macro step with error control (step doubling, rollback) against fixed steps on a system with a fast
transient and a slow tail: it reaches the same accuracy with far fewer slave steps."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from tests.support.lti_reference import lti_solution

A = np.array([[-20.0, 5.0], [2.0, -0.5]])  # a fast mode (~1/20 s) and a slow one (~2 s)
X0 = [1.0, 1.0]
STOP = 3.0


@pytest.fixture(scope="module")
def fast_slow(fmu_dir):
    from tests.support.lti_fmu import build_lti_fmu

    fast = build_lti_fmu(fmu_dir, "Fast", [[A[0, 0]]], [[A[0, 1]]], [[1.0]], [[0.0]], ["s"], ["u"], ["y"], [X0[0]])
    slow = build_lti_fmu(fmu_dir, "Slow", [[A[1, 1]]], [[A[1, 0]]], [[1.0]], [[0.0]], ["s"], ["u"], ["y"], [X0[1]])
    norb = build_lti_fmu(fmu_dir, "SlowNoRollback", [[A[1, 1]]], [[A[1, 0]]], [[1.0]], [[0.0]], ["s"], ["u"],
                         ["y"], [X0[1]], can_rollback=False)  # fmt: skip
    return fast, slow, norb


def run(paths, step, error_control, tolerance=1e-4, extrapolation=0):
    system = System()
    system.add(FmuCoSimSlave("fast", paths[0]))
    system.add(FmuCoSimSlave("slow", paths[1]))
    system.connect("fast.y", "slow.u")
    system.connect("slow.y", "fast.u")
    rec = MemoryRecorder()
    options = MasterOptions(step=step, stop_time=STOP, error_control=error_control, tolerance=tolerance,
                            extrapolation=extrapolation)  # fmt: skip
    sim = Simulation(system, options, recorders=[rec])
    sim.run()
    ref = lti_solution(A, X0, np.array(rec.times))
    got = np.column_stack([rec.column("fast.y"), rec.column("slow.y")])
    assert rec.times[-1] == STOP
    return float(np.max(np.abs(got - ref))), sim, rec


@pytest.mark.parametrize("extrapolation", [0, 1])
def test_fewer_steps_than_fixed_for_same_accuracy(fast_slow, extrapolation):
    err_adaptive, sim, rec = run(fast_slow, 0.01, True, 1e-4, extrapolation)
    work_adaptive = sim.stats["slave_steps"]  # every doStep, including the doubled and rejected ones
    steps = np.diff(rec.times)
    assert steps.max() > 8 * steps.min()  # small steps in the transient, large ones in the tail
    h = 0.04
    while True:
        err_fixed, fixed, _ = run(fast_slow, h, False, extrapolation=extrapolation)
        if err_fixed <= err_adaptive:
            break
        h /= 2
    print(
        f"adaptive: error {err_adaptive:.2e} with {work_adaptive} slave steps; fixed: h = {h}, error {err_fixed:.2e}, {fixed.stats['slave_steps']} steps"
    )
    assert work_adaptive * 3 < fixed.stats["slave_steps"], (work_adaptive, fixed.stats["slave_steps"])


def test_tighter_tolerance_is_more_accurate(fast_slow):
    loose, sim_loose, _ = run(fast_slow, 0.01, True, 1e-3, 1)
    tight, sim_tight, _ = run(fast_slow, 0.01, True, 1e-5, 1)
    assert tight < loose / 5
    assert sim_tight.stats["macro_steps"] > sim_loose.stats["macro_steps"]


def test_rejected_steps_roll_back(fast_slow):
    """A too-large first step is rejected and retried from the restored state; the result stays accurate."""
    err, sim, _ = run(fast_slow, 0.5, True, 1e-4, 1)
    assert sim.stats["rejected_steps"] >= 1
    assert err < 5e-3


def test_falls_back_to_fixed_step_without_rollback(fast_slow, caplog):
    paths = (fast_slow[0], fast_slow[2])
    with caplog.at_level(logging.WARNING, logger="orchestrator.cosim.master"):
        _err, sim, rec = run(paths, 0.01, True)
    assert "cannot save state; using fixed steps" in caplog.text
    assert any("using fixed steps" in w for w in sim.warnings)
    assert np.allclose(np.diff(rec.times), 0.01)
    assert sim.stats["macro_steps"] == round(STOP / 0.01)


def test_collapsing_step_warns_and_stops_near_the_minimum(oscillator_fmus):
    """An absurd coupling gain: error control shrinks the step (a warning, also in the event log) and, instead of
    creeping on for tens of thousands of steps, stops with one clear error near the minimum step."""
    from orchestrator.errors import SimulationError
    from tests.support.lti_reference import oscillator_system

    system = System()
    plain = oscillator_system(oscillator_fmus())
    for slave in plain.slaves.values():
        system.add(slave)
    system.connect("mass1.x", "mass2.x_other", gain=1e4)
    system.connect("mass2.x", "mass1.x_other", gain=1e4)
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.05, stop_time=2.0, error_control=True), recorders=[rec])
    with pytest.raises(SimulationError, match=r"held the step within 4x of its minimum 4.88e-05 s for 1000 steps"):
        sim.run()
    assert sim.stats["macro_steps"] < 5000
    assert any("shrank the step" in e.text for e in rec.events)
    assert rec.finish_metadata["status"] == "failed"


def test_step_below_the_master_minimum_is_refused():
    from orchestrator.cosim.master.options import MIN_STEP_S
    from orchestrator.errors import SystemDefinitionError

    for field in ("step", "min_step"):
        options = MasterOptions(**{field: 1e-9}, error_control=True)
        with pytest.raises(SystemDefinitionError, match=rf"\[master\] {field} = 1e-09 is invalid: at least"):
            options.validate()
    MasterOptions(step=MIN_STEP_S, stop_time=MIN_STEP_S).validate()


def test_projected_wall_time_warns_once(fast_slow):
    system = System()
    system.add(FmuCoSimSlave("fast", fast_slow[0]))
    system.add(FmuCoSimSlave("slow", fast_slow[1]))
    system.connect("fast.y", "slow.u")
    system.connect("slow.y", "fast.u")
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=1e-3, stop_time=3.0), recorders=[rec])
    sim.pace_min_wall_s, sim.pace_warn_wall_s = 0.0, 1e-3  # any run is "too slow" for this test
    sim.run(until=2.5)
    warned = [e for e in rec.events if "wall time" in e.text]
    assert len(warned) == 1 and "to reach the stop time 3 s" in warned[0].text
