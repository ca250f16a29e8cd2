"""The master's compiled coupling path (FMU slaves stepped from C) gives results identical to its Python path: the
same recorded values bit for bit, the same events, the same errors, with Python blocks around the FMUs, connection
gains and offsets, feedthrough, events, and a failing or discarding FMU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.master.compiled import CompiledSegment
from orchestrator.cosim.master.events import DriftEvent, OverrideEvent, ReleaseEvent, SetEvent
from orchestrator.cosim.master.kernel import library
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SimulationError
from tests.support.cosim_blocks import Accumulator, Ramp
from tests.support.lag_fmu import build_lag_fmu
from tests.support.lti_fmu import build_lti_fmu


@pytest.fixture(scope="module")
def fmus(tmp_path_factory) -> dict[str, Path]:
    if library() is None:
        pytest.skip("no C compiler here: the master keeps its Python path (nothing to compare)")
    out = tmp_path_factory.mktemp("compiled")
    # y = x + 0.5 u: an FMU with direct feedthrough (the master re-sets its inputs after the step where they changed)
    feed = build_lti_fmu(out, "Feed", [[-2.0]], [[1.0]], [[1.0]], [[0.5]], ["x"], ["u"], ["y"], [0.3])
    interp = build_lti_fmu(out, "Interp", [[-2.0]], [[1.0]], [[1.0]], [[0.5]], ["x"], ["u"], ["y"], [0.3],
                           interpolate_inputs=True)  # fmt: skip
    return {"lag": build_lag_fmu(out), "feed": feed, "interp": interp}


def mixed_system(fmus: dict[str, Path], fail: dict[str, float] | None = None) -> System:
    """ramp (Python) -> lag0 -> lag1 -> feed -> acc (Python) -> lag2 -> lag0 (a cycle through a delay), gains and
    offsets on the connections; lag1 may fail (fail_time, discard)."""
    s = System()
    s.add(Ramp("ramp", 0.01))
    for k in range(3):
        s.add(FmuCoSimSlave(f"lag{k}", fmus["lag"]))
    s.add(FmuCoSimSlave("feed", fmus["feed"]))
    s.add(Accumulator("acc", 0.02))
    s.connect("ramp.y", "lag0.u", gain=0.7)
    s.connect("lag0.y", "lag1.u", gain=1.1, offset=-0.05)
    s.connect("lag1.y", "feed.u")
    s.connect("feed.y", "acc.u", gain=0.3, offset=0.1)
    s.connect("acc.total", "lag2.u", gain=0.01)
    s.start_values["lag1.T"] = 0.2
    s.start_values["lag2.T"] = 0.05
    for name, value in (fail or {}).items():
        s.start_values[f"lag1.{name}"] = value
    return s


EVENTS = [
    SetEvent(0.31, {"lag0.k": 2.5}),
    OverrideEvent(0.5, {"lag1.u": 0.4}),
    ReleaseEvent(0.62, ("lag1.u",)),
    DriftEvent(0.8, {"lag2.y": 0.5}),
    ReleaseEvent(0.9, ("lag2.y",)),
]


def run(fmus, compiled: bool, fail=None, events=EVENTS, stop=1.2) -> tuple[MemoryRecorder, Simulation, str]:
    rec = MemoryRecorder()
    options = MasterOptions(step=0.01, stop_time=stop, compiled_coupling=compiled)
    sim = Simulation(mixed_system(fmus, fail), options, events=list(events), recorders=[rec],
                     record=["lag0.y", "lag1.y", "lag2.y", "feed.y", "acc.total"])  # fmt: skip
    error = ""
    try:
        sim.run()
    except SimulationError as exc:
        error = str(exc)
    return rec, sim, error


def test_compiled_path_is_taken_around_python_blocks(fmus):
    _, sim, _ = run(fmus, compiled=True, events=(), stop=0.05)
    segments = [item for item in sim.stepper.items or () if isinstance(item, CompiledSegment)]
    # ramp | lag0 lag1 feed | acc | lag2 in Gauss-Seidel order: the FMU runs between the blocks are segments
    assert [[p.name for p in s.plans] for s in segments] == [["lag0", "lag1", "feed"], ["lag2"]]
    _, python, _ = run(fmus, compiled=False, events=(), stop=0.05)
    assert python.stepper.items is None


def test_identical_results_with_events_feedthrough_and_blocks(fmus):
    compiled, sim, error = run(fmus, compiled=True)
    python, _, python_error = run(fmus, compiled=False)
    assert error == python_error == ""
    assert compiled.signal_names == python.signal_names
    assert compiled.times == python.times and len(compiled.times) > 100
    assert compiled.rows == python.rows  # bit for bit
    assert compiled.events == python.events
    assert len([e for e in compiled.events if not e.text.startswith("warning")]) == len(EVENTS)
    assert sim.stats["macro_steps"] == len(compiled.times) - 1
    assert np.ptp(compiled.column("lag1.y")) > 0.1  # the signals moved: the comparison compares something
    timings = sim.metadata()["slaves"]
    assert timings["lag1"]["wall_s"] > 0 and timings["lag1"]["io_s"] > 0  # the kernel's timings reach the metadata


@pytest.mark.parametrize("discard", [0.0, 1.0])
def test_identical_failure(fmus, discard):
    fail = {"fail_time": 0.433, "discard": discard}
    compiled, _, error = run(fmus, compiled=True, fail=fail)
    python, _, python_error = run(fmus, compiled=False, fail=fail)
    assert error and error == python_error
    assert "lag1" in error
    assert compiled.rows == python.rows and compiled.times == python.times
    assert compiled.times[-1] == pytest.approx(0.43)


def fmu_system(fmus: dict[str, Path], fail: dict[str, float] | None = None) -> System:
    """FMUs only (the kernel takes many macro steps per call): lag0 -> lag1 -> feed -> lag2, lag2 -> lag0 through a
    gain; feed has direct feedthrough; lag1 may fail."""
    s = System()
    for k in range(3):
        s.add(FmuCoSimSlave(f"lag{k}", fmus["lag"]))
    s.add(FmuCoSimSlave("feed", fmus["feed"]))
    s.connect("lag0.y", "lag1.u", gain=1.1, offset=0.25)
    s.connect("lag1.y", "feed.u")
    s.connect("feed.y", "lag2.u", gain=-0.6, offset=0.05)
    s.connect("lag2.y", "lag0.u", gain=0.9, offset=1.0)
    s.start_values["lag1.T"] = 0.2
    for name, value in (fail or {}).items():
        s.start_values[f"lag1.{name}"] = value
    return s


def run_fmus(fmus, compiled: bool, fail=None, record_interval=None, callback=None):
    rec = MemoryRecorder()
    options = MasterOptions(step=0.01, stop_time=3.0, compiled_coupling=compiled, record_interval=record_interval)
    events = [SetEvent(0.505, {"lag0.k": 2.0}), OverrideEvent(1.2, {"lag1.u": 0.4}), ReleaseEvent(1.5, ("lag1.u",))]
    sim = Simulation(fmu_system(fmus, fail), options, events=events, recorders=[rec], record=["feed.y"])
    error = ""
    try:
        sim.run(callback=callback)
    except SimulationError as exc:
        error = str(exc)
    return rec, sim, error


@pytest.mark.parametrize("record_interval", [None, 0.05])
def test_many_steps_per_call_identical(fmus, record_interval):
    compiled, sim, error = run_fmus(fmus, compiled=True, record_interval=record_interval)
    python, _, python_error = run_fmus(fmus, compiled=False, record_interval=record_interval)
    assert sim.stepper.batch is not None  # the kernel ran whole stretches between the events
    assert error == python_error == ""
    assert compiled.times == python.times and compiled.rows == python.rows
    assert compiled.events == python.events
    assert len(compiled.times) == (302 if record_interval is None else 61)  # t0, 300 steps and the one cut at 0.505
    assert np.ptp(compiled.column("feed.y")) > 0.1
    assert sim.stats["macro_steps"] == 301 and sim.time == 3.0


def test_many_steps_per_call_with_a_callback_steps_one_by_one(fmus):
    seen: list[float] = []
    compiled, _, _ = run_fmus(fmus, compiled=True, callback=lambda s: seen.append(s.time))
    python, _, _ = run_fmus(fmus, compiled=False)
    assert len(seen) == 301 and compiled.rows == python.rows


@pytest.mark.parametrize("discard", [0.0, 1.0])
def test_many_steps_per_call_identical_failure(fmus, discard):
    fail = {"fail_time": 2.2345, "discard": discard}
    compiled, sim, error = run_fmus(fmus, compiled=True, fail=fail)
    python, _, python_error = run_fmus(fmus, compiled=False, fail=fail)
    assert error and error == python_error and "lag1" in error
    assert compiled.times == python.times and compiled.rows == python.rows
    assert compiled.times[-1] == pytest.approx(2.23)
    assert compiled.events == python.events
    assert sim.finish_status == "failed"


@pytest.mark.parametrize("derivatives", [False, True])
def test_identical_results_with_extrapolation(fmus, derivatives):
    """First-order extrapolation: inputs on the line through the sources, at mid-step, or at t with their
    derivatives where the FMU accepts them (canInterpolateInputs)."""

    def run_extrapolated(compiled: bool) -> tuple[MemoryRecorder, Simulation]:
        s = mixed_system(fmus)
        if derivatives:  # the feedthrough FMU replaced by one that takes input derivatives
            s = System()
            s.add(Ramp("ramp", 0.01))
            for k in range(3):
                s.add(FmuCoSimSlave(f"lag{k}", fmus["lag"]))
            s.add(FmuCoSimSlave("feed", fmus["interp"]))
            s.add(Accumulator("acc", 0.02))
            s.connect("ramp.y", "lag0.u", gain=0.7)
            s.connect("lag0.y", "lag1.u", gain=1.1, offset=-0.05)
            s.connect("lag1.y", "feed.u", gain=0.8, offset=0.02)
            s.connect("feed.y", "acc.u", gain=0.3, offset=0.1)
            s.connect("acc.total", "lag2.u", gain=0.01)
        rec = MemoryRecorder()
        options = MasterOptions(step=0.01, stop_time=1.0, extrapolation=1, compiled_coupling=compiled)
        sim = Simulation(s, options, events=list(EVENTS[:3]), recorders=[rec], record=["feed.y", "lag1.y"])
        sim.run()
        return rec, sim

    compiled, sim = run_extrapolated(True)
    python, _ = run_extrapolated(False)
    assert sim.stepper.segments and sim.stepper.batch is None  # step by step: extrapolation is per macro step
    assert compiled.times == python.times and compiled.rows == python.rows
    assert np.ptp(compiled.column("feed.y")) > 0.05
