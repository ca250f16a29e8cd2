"""The lean macro step (orchestrator/cosim/master/lean.py) gives the results of MacroStepper.step's general path:
the same recorded values bit for bit, the same events, statistics and errors, with Python blocks around FMU segments,
a feedthrough FMU whose inputs come from a segment and from a block after it (the feedthrough update in the kernel),
connection gains and offsets, events that send steps to the general path (override, drift) and back, a snapshot
restored, a failing or discarding FMU and a crashing block. Compared three ways: the lean step (the default), the
general path with the compiled segments (LeanStep switched off: the master before it), and the Python path."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.master.compiled import CompiledSegment
from orchestrator.cosim.master.events import DriftEvent, OverrideEvent, ReleaseEvent, SetEvent
from orchestrator.cosim.master.kernel import library
from orchestrator.cosim.master.lean import LeanStep
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SimulationError
from tests.support.cosim_blocks import Accumulator, Crasher, Ramp
from tests.support.lag_fmu import build_lag_fmu
from tests.support.lti_fmu import build_lti_fmu

WAYS = ("lean", "general", "python")


@pytest.fixture(scope="module")
def fmus(tmp_path_factory) -> dict[str, Path]:
    if library() is None:
        pytest.skip("no C compiler here: the master keeps its Python path (nothing to compare)")
    out = tmp_path_factory.mktemp("lean")
    # x' = -2 x + u, y = x: no feedthrough; y = x + 0.5 u + 0.25 w: feedthrough from both inputs
    lag = build_lti_fmu(out, "Lti", [[-2.0]], [[1.0]], [[1.0]], [[0.0]], ["x"], ["u"], ["y"], [0.1])
    lag2 = build_lti_fmu(out, "Lti2", [[-2.0]], [[1.0, 0.5]], [[1.0]], [[0.0, 0.0]], ["x"], ["u", "w"], ["y"], [0.2])
    feed = build_lti_fmu(out, "Feed2", [[-3.0]], [[1.0, 0.5]], [[1.0]], [[0.5, 0.25]], ["x"], ["u", "w"], ["y"],
                         [0.3])  # fmt: skip
    return {"lti": lag, "lti2": lag2, "feed": feed, "lag": build_lag_fmu(out)}


def system(fmus: dict[str, Path], first: str = "lti", crash_time: float = 1e9) -> System:
    """ramp -> a -> b -> feed (also fed by acc, a block after it) -> crash -> acc -> c, and feed -> b (from the
    previous step, as the PSA unit's pressure reaches the compressor); the FMUs a, b, feed form a segment, c another;
    feed's inputs change in the update after every step."""
    s = System()
    s.add(Ramp("ramp", 0.02))
    s.add(FmuCoSimSlave("a", fmus[first]))
    s.add(FmuCoSimSlave("b", fmus["lti2"]))
    s.add(FmuCoSimSlave("feed", fmus["feed"]))
    s.add(Crasher("crash", 0.01))
    s.add(Accumulator("acc", 0.03))  # sample instants off the 0.02 s macro grid: shortened steps
    s.add(FmuCoSimSlave("c", fmus["lti"]))
    s.connect("ramp.y", "a.u", gain=0.7)
    s.connect("a.y", "b.u", gain=1.1, offset=-0.05)
    s.connect("b.y", "feed.u")
    s.connect("feed.y", "b.w", gain=0.5)
    s.connect("acc.total", "feed.w", gain=0.01, offset=0.2)
    s.connect("feed.y", "crash.u")
    s.connect("crash.y", "acc.u", gain=0.3, offset=0.1)
    s.connect("acc.total", "c.u", gain=-0.02)
    s.start_values["crash.crash_time"] = crash_time
    return s


EVENTS = [
    SetEvent(0.31, {"ramp.slope": 2.5}),
    OverrideEvent(0.5, {"feed.w": 0.4}),  # held inputs: the general path ...
    ReleaseEvent(0.62, ("feed.w",)),  # ... and back
    DriftEvent(0.8, {"acc.total": 0.5}),  # a block's output drifts: the general path ...
    ReleaseEvent(0.92, ("acc.total",)),  # ... and one step to read it again (acc is idle) before the lean step
]


def run(fmus, way: str, monkeypatch, *, first: str = "lti", crash_time: float = 1e9, fail=None, restore=False,
        stop: float = 1.4) -> tuple[MemoryRecorder, Simulation, str, int]:  # fmt: skip
    """The run one way; returns the recorder, the simulation, the error text and the number of lean steps."""
    lean_steps = [0]
    original = LeanStep.take

    def counted(self, n, end):
        lean_steps[0] += 1
        return original(self, n, end)

    with monkeypatch.context() as m:
        m.setattr(LeanStep, "take", counted)
        if way == "general":
            m.setattr(LeanStep, "build", staticmethod(lambda *args: None))
        s = system(fmus, first, crash_time)
        for name, value in (fail or {}).items():
            s.start_values[f"a.{name}"] = value
        rec = MemoryRecorder()
        options = MasterOptions(step=0.02, stop_time=stop, compiled_coupling=way != "python")
        sim = Simulation(s, options, events=list(EVENTS), recorders=[rec], record=["feed.y", "acc.total", "c.y"])
        error = ""
        try:
            if restore:
                sim.run(until=0.41)
                snapshot = sim.save_state()
                sim.run(until=0.73)
                sim.restore_state(snapshot)
            sim.run()
        except SimulationError as exc:
            error = str(exc)
    return rec, sim, error, lean_steps[0]


def bits(rec: MemoryRecorder) -> list[list[bytes]]:
    return [[struct.pack("<d", x) for x in row] for row in rec.rows]


def same_results(runs: dict[str, tuple[MemoryRecorder, Simulation, str, int]]) -> None:
    lean = runs["lean"]
    for way in ("general", "python"):
        other = runs[way]
        assert lean[2] == other[2], way  # the same error (or none)
        assert lean[0].times == other[0].times, way
        assert bits(lean[0]) == bits(other[0]), way  # bit for bit
        assert lean[0].events == other[0].events, way
        assert lean[1].stats == other[1].stats, way
        assert lean[1].time == other[1].time, way


def test_the_lean_step_is_taken_with_the_update_in_the_kernel(fmus, monkeypatch):
    _, sim, error, lean_steps = run(fmus, "lean", monkeypatch, stop=0.3)
    assert error == ""
    lean = sim.stepper.lean
    assert lean is not None and lean.compiled_update is not None
    segments = [[p.name for p in i.plans] for i in sim.stepper.items or () if isinstance(i, CompiledSegment)]
    assert segments == [["a", "b", "feed"], ["c"]]
    assert lean_steps == sim.stats["macro_steps"] - 1  # all but the first (it reads every block once)
    _, general, _, none = run(fmus, "general", monkeypatch, stop=0.3)
    assert general.stepper.lean is None and none == 0


def test_identical_results_with_events(fmus, monkeypatch):
    runs = {way: run(fmus, way, monkeypatch) for way in WAYS}
    same_results(runs)
    rec, sim, _, lean_steps = runs["lean"]
    steps = sim.stats["macro_steps"]
    assert 0.6 * steps < lean_steps < steps  # lean, except while overridden or drifting, and right after
    assert len([e for e in rec.events if not e.text.startswith("warning")]) == len(EVENTS)
    assert np.ptp(rec.column("feed.y")) > 0.05 and np.ptp(rec.column("c.y")) > 0.001  # the signals moved
    timings = sim.metadata()["slaves"]
    assert timings["feed"]["wall_s"] > 0 and timings["feed"]["io_s"] > 0  # the kernel's timings reach the metadata


def test_identical_results_after_a_restored_snapshot(fmus, monkeypatch):
    runs = {way: run(fmus, way, monkeypatch, restore=True) for way in WAYS}
    same_results(runs)
    assert runs["lean"][3] > 0


@pytest.mark.parametrize("discard", [0.0, 1.0])
def test_identical_failure_of_an_fmu(fmus, monkeypatch, discard):
    fail = {"fail_time": 0.433, "discard": discard}
    runs = {way: run(fmus, way, monkeypatch, first="lag", fail=fail) for way in WAYS}
    same_results(runs)
    rec, sim, error, _ = runs["lean"]
    assert "slave a" in error and rec.times[-1] == pytest.approx(0.43)
    assert sim.finish_status == "failed"


def test_identical_crash_of_a_block(fmus, monkeypatch):
    runs = {way: run(fmus, way, monkeypatch, crash_time=0.255) for way in WAYS}
    same_results(runs)
    error = runs["lean"][2]
    assert "slave crash raised at t = 0.26 s: RuntimeError: block bug at t=0.26" in error
