"""Time events and the steppable API: sample instants and scheduled events are hit exactly (integer ticks, no float
drift), set/override/release/drift act as specified, callbacks run after every macro step, multi-rate works."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.cosim.master import (
    DriftEvent,
    MasterOptions,
    MemoryRecorder,
    OverrideEvent,
    ReleaseEvent,
    SetEvent,
    Simulation,
)
from orchestrator.cosim.system import System
from orchestrator.errors import SimulationError, SystemDefinitionError
from tests.support.cosim_blocks import Accumulator, Ramp
from tests.support.lti_reference import oscillator_system


def ramp_system(sample_time: float = 0.1) -> System:
    s = System()
    s.add(Ramp("ramp", 0.1))
    s.add(Accumulator("acc", sample_time))
    s.connect("ramp.y", "acc.u")
    return s


def test_sample_instants_off_the_macro_grid_are_hit():
    system = ramp_system(sample_time=0.03)
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=1.0), recorders=[rec])
    sim.run()
    acc = system.slaves["acc"]
    assert acc.count == 34  # 0, 0.03, ..., 0.99
    assert acc.instants == [k * 3 / 100 for k in range(34)]  # exactly the decimal instants
    assert 0.03 in rec.times and 0.1 in rec.times and rec.times[-1] == 1.0
    assert all(abs(t - round(t / 0.01) * 0.01) < 1e-15 for t in rec.times)


def test_no_drift_over_long_runs():
    system = ramp_system()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=2000.0))
    sim.run()
    assert sim.time == 2000.0
    assert system.slaves["acc"].count == 20000  # instants 0 .. 1999.9 (a block samples at the start of a step)
    assert system.slaves["acc"].instants[-1] == 1999.9
    assert sim.stats["macro_steps"] == 20000


def test_set_override_release_drift():
    system = ramp_system()
    events = [
        SetEvent(0.25, {"ramp.slope": 2.0}),
        OverrideEvent(0.5, {"acc.u": 10.0}),
        ReleaseEvent(0.7, ("acc.u",)),
        DriftEvent(0.8, {"ramp.y": -1.0}),
    ]
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=1.0), events=events, recorders=[rec])
    sim.run()
    assert 0.25 in rec.times  # the step was shortened to land on the event
    # a block's output after the step from t is what it computed at t: y(0.3) = 1 * 0.2, y(0.4) = 2 * 0.3
    y = dict(zip(rec.times, rec.column("ramp.y"), strict=True))
    assert y[0.2] == pytest.approx(0.1)
    assert y[0.3] == pytest.approx(0.2)
    assert y[0.4] == pytest.approx(0.6)  # slope 2 from t = 0.25
    assert y[0.9] == pytest.approx(1.6 - 0.1)  # drifting by -1/s since 0.8
    acc = system.slaves["acc"]
    inputs = dict(zip(acc.instants, acc.inputs, strict=True))
    assert inputs[0.4] == pytest.approx(0.8)
    assert inputs[0.5] == pytest.approx(10.0) and inputs[0.6] == pytest.approx(10.0)
    assert inputs[0.7] == pytest.approx(1.4)  # released: follows the ramp again
    texts = [e.text for e in rec.events]
    assert texts == ["set ramp.slope = 2", "override acc.u = 10", "release acc.u", "drift ramp.y at -1/s"]


def test_event_errors(oscillator_fmus):
    system = ramp_system()
    with pytest.raises(SystemDefinitionError, match=r"event at t = 0.5 s \(override ramp.y = 1\): ramp.y is an output"):
        Simulation(system, events=[OverrideEvent(0.5, {"ramp.y": 1.0})])
    with pytest.raises(SystemDefinitionError, match=r"acc has no variable 'uu' \(did you mean 'u'\?\)"):
        Simulation(system, events=[SetEvent(0.5, {"acc.uu": 1.0})])


def test_steppable_api_and_callback(oscillator_fmus):
    system = oscillator_system(oscillator_fmus())
    system.connections.pop()  # mass1.x_other is now a free input
    sim = Simulation(system, MasterOptions(step=0.01, stop_time=1.0))
    assert sim.time == 0.0 and sim.outputs["mass1.x"] == 1.0
    t = sim.step()
    assert t == sim.time == 0.01
    sim.set("mass1.x_other", 0.5)
    assert sim.get("mass1.x_other") == 0.5
    with pytest.raises(SimulationError, match="driven by a connection; use an override"):
        sim.set("mass2.x_other", 1.0)
    seen = []
    sim.run(until=0.1, callback=lambda s: seen.append(s.time))
    assert seen == pytest.approx([0.02 + 0.01 * k for k in range(9)]) and sim.time == 0.1
    sim.run(until=0.5, callback=lambda s: s.time < 0.2)  # returning False stops
    assert sim.time == 0.2


def test_multirate(oscillator_fmus):
    """mass2 steps every 4 macro steps: a quarter of its doStep calls, still converging with the step."""
    from tests.support.lti_reference import oscillator_reference

    errors = []
    for h in (0.005, 0.0025):
        rec = MemoryRecorder()
        options = MasterOptions(step=h, stop_time=1.0, rates={"mass2": 4}, record_interval=0.1)
        sim = Simulation(oscillator_system(oscillator_fmus()), options, recorders=[rec], record=["mass1.v", "mass2.v"])
        sim.run()
        n = sim.stats["macro_steps"]
        assert sim.stats["slave_steps"] == n + n // 4
        ref = oscillator_reference(np.array(rec.times))
        got = np.column_stack([rec.column(c) for c in ("mass1.x", "mass1.v", "mass2.x", "mass2.v")])
        errors.append(np.max(np.abs(got - ref)))
    assert errors[1] < 0.6 * errors[0]


def test_run_until_off_grid_refines_the_tick():
    system = ramp_system(sample_time=0.03)
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=1.0), recorders=[rec])
    sim.run(until=0.123)
    assert sim.time == 0.123
    sim.step()
    assert sim.time == 0.15  # next sample instant of acc (0.03 * 5), then back on the grid
    sim.step()
    assert sim.time == 0.18
    sim.run()
    assert rec.times[-1] == 1.0 and 0.2 in rec.times and 0.123 in rec.times
    assert system.slaves["acc"].instants == [k * 3 / 100 for k in range(34)]


def test_error_control_hits_sample_instants_and_events(oscillator_fmus):
    system = oscillator_system(oscillator_fmus())
    system.add(Accumulator("acc", 0.03))
    system.connect("mass1.x", "acc.u")
    options = MasterOptions(step=0.1, stop_time=1.0, error_control=True, tolerance=1e-3, extrapolation=1)
    rec = MemoryRecorder()
    sim = Simulation(system, options, events=[SetEvent(0.51, {"acc.gain": 2.0})], recorders=[rec])
    sim.run()
    assert system.slaves["acc"].instants == [k * 3 / 100 for k in range(34)]
    assert 0.51 in rec.times and rec.times[-1] == 1.0
    assert sim.stats["macro_steps"] > 10  # steps vary; the tests of the algorithm are in test_master_error_control


def test_sampled_blocks_are_not_extrapolated(oscillator_fmus):
    """With extrapolation = 1 a controller still samples the plant output at its sample instant, not mid-step."""
    system = oscillator_system(oscillator_fmus())
    system.add(Accumulator("acc", 0.1))
    system.connect("mass1.x", "acc.u")
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=0.5, extrapolation=1, algorithm="jacobi"))
    seen = {}
    sim.run(until=0.5, callback=lambda s: seen.setdefault(round(s.time, 9), s.outputs["mass1.x"]))
    acc = system.slaves["acc"]
    for t, u in zip(acc.instants[1:], acc.inputs[1:], strict=True):
        assert u == seen[round(t, 9)]


def test_event_value_and_causality_errors_are_one_clear_line():
    from orchestrator.cosim.master.events import EVENT_CAUSALITIES, EVENT_TYPES

    assert EVENT_CAUSALITIES == {
        "set": ("input", "parameter"),
        "override": ("input",),
        "release": ("input", "output"),
        "drift": ("output",),
    }
    assert EVENT_TYPES["set"] is SetEvent
    bad = [
        (SetEvent(0.5, {"acc.gain": "fast"}), r"acc.gain value 'fast' is not a finite number"),
        (OverrideEvent(0.5, {"acc.u": "1"}), r"acc.u value '1' is not a finite number"),
        (DriftEvent(0.5, {"acc.total": float("nan")}), r"acc.total rate nan is not a finite number"),
        (OverrideEvent(0.5, {"acc.total": 1.0}), r"acc.total is an output; override acts on an input"),
        (DriftEvent(0.5, {"acc.u": 1.0}), r"acc.u is an input; drift acts on an output"),
        (SetEvent(-1.0, {"acc.gain": 1.0}), r"time must be at or after the start time"),
    ]
    for event, message in bad:
        with pytest.raises(SystemDefinitionError, match=message):
            Simulation(ramp_system(), MasterOptions(step=0.1, stop_time=1.0), events=[event])
    assert SetEvent(0.5, {"acc.gain": "fast"}).describe() == "set acc.gain = 'fast'"


def test_one_thirtieth_step_lands_on_the_stop_time():
    rec = MemoryRecorder()
    sim = Simulation(ramp_system(), MasterOptions(step=1 / 30, stop_time=1.0), recorders=[rec])
    sim.run()
    assert sim.stats["macro_steps"] == 30 and rec.times[-1] == 1.0
    assert min(np.diff(rec.times)) > 1 / 30 - 1e-12


def test_get_after_the_stop_time(oscillator_fmus):
    sim = Simulation(oscillator_system(oscillator_fmus()), MasterOptions(step=0.1, stop_time=0.5))
    sim.run(until=0.5)
    assert sim.time == 0.5
    v_end = sim.get("mass1.v")  # not a connected signal: read from the slave, which is released by now
    assert isinstance(v_end, float) and v_end != 0.0
    assert sim.get("mass1.x") == sim.outputs["mass1.x"]
    with pytest.raises(SystemDefinitionError, match="has no variable 'vv'"):
        sim.get("mass1.vv")
