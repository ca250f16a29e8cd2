"""An FMU whose fmi2SetReal, fmi2GetReal or fmi2DoStep fails inside a kernel call (tests/support/faulty_fmu.c) fails
the run the same way on every path: the Python path, the general compiled path (ck_step, the update in Python),
the lean macro step (ck_step_held, the update in ck_feedthrough) and many steps per call (ck_run). The same error
text naming the slave and the FMI call, at the same simulated time; the same points and events recorded up to the
failure, in memory and on disk; the same statistics and end time. Failures in the step and in the feedthrough update
after it (fail_skip picks which call fails), with fmi2Error, fmi2Discard and fmi2Fatal."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.master.kernel import library
from orchestrator.cosim.master.lean import LeanStep
from orchestrator.cosim.master.stepping import MacroStepper
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SimulationError
from orchestrator.results.recorder import ResultRecorder
from tests.support.faulty_fmu import FAIL_CALLS, build_faulty_fmu

WAYS = ("python", "general", "lean", "batch")
FAIL_TIME = 0.25
#: (call, fail_skip, the last recorded time): f's first call at t >= 0.25 is the update's fmi2SetReal after the step
#: to 0.25 (skip 1: the next step's) and the step's own fmi2GetReal (skip 1: the update's); a failed update or read
#: records no point at 0.25
CASES = [
    ("fmi2SetReal", 0, 0.24),
    ("fmi2SetReal", 1, 0.25),
    ("fmi2GetReal", 0, 0.24),
    ("fmi2GetReal", 1, 0.24),
    ("fmi2DoStep", 0, 0.25),
]
STATUSES = {2: "Discard", 3: "Error", 4: "Fatal"}


@pytest.fixture(scope="module")
def fmu(tmp_path_factory) -> Path:
    if library() is None:
        pytest.skip("no C compiler here: the master keeps its Python path (nothing to compare)")
    return build_faulty_fmu(tmp_path_factory.mktemp("faulty"))


def system(fmu: Path, call: str, skip: int, status: int) -> System:
    """a -> b -> f -> g, g -> b.w: b and f (feedthrough slaves, b fed by g, stepped after them) get new inputs in the
    update after every step, b's before f's; all four are one compiled segment."""
    s = System()
    for name in ("a", "b", "f", "g"):
        s.add(FmuCoSimSlave(name, fmu))
    s.connect("a.y", "b.u", gain=0.5)
    s.connect("g.y", "b.w", gain=-0.3, offset=0.1)
    s.connect("a.y", "f.u")
    s.connect("b.y", "f.w", gain=2.0)
    s.connect("f.y", "g.u")
    s.start_values.update({"a.u": 1.0, "a.w": 0.0, "g.w": 0.0})
    s.start_values.update({"f.fail_call": FAIL_CALLS[call], "f.fail_time": FAIL_TIME, "f.fail_skip": skip,
                           "f.fail_status": status})  # fmt: skip
    return s


def run(fmu: Path, way: str, case: tuple[str, int, float], status: int, out: Path, monkeypatch,
        extrapolation: int = 0) -> dict[str, Any]:  # fmt: skip
    """The failing run one way: what it reported and recorded, and how many macro steps each path took."""
    call, skip, _ = case
    taken = {"lean": 0, "stepper": 0}
    lean_take, stepper_step = LeanStep.take, MacroStepper.step

    def lean(self, n, end):
        taken["lean"] += 1
        return lean_take(self, n, end)

    def stepper(self, n, end):
        taken["stepper"] += 1
        return stepper_step(self, n, end)

    with monkeypatch.context() as m:
        m.setattr(LeanStep, "take", lean)
        m.setattr(MacroStepper, "step", stepper)
        if way == "general":
            m.setattr(LeanStep, "build", staticmethod(lambda *args: None))
        memory, disk = MemoryRecorder(), ResultRecorder(out / way)
        options = MasterOptions(
            step=0.01, stop_time=0.4, compiled_coupling=way != "python", extrapolation=extrapolation
        )
        sim = Simulation(system(fmu, call, skip, status), options, recorders=[memory, disk], record=["f.y", "g.y"])
        with pytest.raises(SimulationError) as failure:
            sim.run(callback=None if way == "batch" else lambda s: None)  # a callback: one step per call
    return {"error": failure.value, "memory": memory, "sim": sim, "taken": taken,
            "csv": (out / way / "signals.csv").read_bytes(), "events": (out / way / "events.jsonl").read_bytes()}  # fmt: skip


def check_path(way: str, r: dict[str, Any]) -> None:
    """The run went the way it names, up to and including the failing step."""
    steps, stepper, taken = r["sim"].stats["macro_steps"] + 1, r["sim"].stepper, r["taken"]
    expected = {"python": (0, steps), "general": (0, steps), "lean": (steps, steps), "batch": (0, 0)}[way]
    assert (taken["lean"], taken["stepper"]) == expected
    assert (stepper.items is None) == (way == "python")
    if way == "lean":
        assert stepper.lean.compiled_update is not None  # the update in the kernel (ck_feedthrough)
    assert (stepper.batch is not None) == (way != "python")  # set up; taken without a callback only


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("case", CASES, ids=[f"{c}-skip{s}" for c, s, _ in CASES])
def test_a_failing_fmi_call_fails_every_path_alike(fmu, tmp_path, monkeypatch, case, status):
    runs = {way: run(fmu, way, case, status, tmp_path, monkeypatch) for way in WAYS}
    call, _, last_recorded = case
    python = runs["python"]
    error, memory = python["error"], python["memory"]
    if call == "fmi2DoStep" and status == 2:
        assert str(error).startswith(
            "slave f rejected the step from t = 0.25 s by 0.01 s (fmi2DoStep returned Discard)"
        )
    else:
        assert str(error).startswith("slave f: ") and call in str(error)
        assert "at t = 0.25 s" in str(error)
    if call != "fmi2DoStep" or status == 2:  # the call and its status are named
        assert f"{call} returned {STATUSES[status]}" in str(error)
    assert error.slave == "f" and error.time == pytest.approx(FAIL_TIME, abs=1e-12)
    assert memory.times[-1] == pytest.approx(last_recorded, abs=1e-12) and len(memory.times) > 20
    assert all(math.isfinite(x) for row in memory.rows for x in row)  # a failed read's values never reached them
    for way, r in runs.items():
        check_path(way, r)
    same_failure(runs)


@pytest.mark.parametrize("status", STATUSES)
def test_a_failing_input_derivatives_call_fails_both_paths_alike(fmu, tmp_path, monkeypatch, status):
    """Extrapolated inputs (the general compiled path only: ck_step with slopes) go with input derivatives here."""
    case = ("fmi2SetRealInputDerivatives", 0, 0.25)
    runs = {way: run(fmu, way, case, status, tmp_path, monkeypatch, extrapolation=1) for way in ("python", "general")}
    assert runs["general"]["sim"].stepper.items is not None and runs["general"]["taken"]["lean"] == 0
    error = runs["python"]["error"]
    assert str(error).startswith("slave f: setting input derivatives failed at t = 0.25 s "
                                 f"(fmi2SetRealInputDerivatives returned {STATUSES[status]})")  # fmt: skip
    assert runs["python"]["memory"].times[-1] == pytest.approx(0.25, abs=1e-12)
    same_failure(runs)


def same_failure(runs: dict[str, dict[str, Any]]) -> None:
    """Every way failed as the Python path did: error, time, statistics, signal table, recorded points and events
    (in memory and on disk)."""
    python = runs["python"]
    error, memory = python["error"], python["memory"]
    assert memory.events[-1].text == f"error: {error}" and memory.finish_metadata["status"] == "failed"
    for way, r in runs.items():
        assert str(r["error"]) == str(error) and r["error"].slave == "f" and r["error"].time == error.time, way
        assert r["sim"].time == python["sim"].time and r["sim"].stats == python["sim"].stats, way
        assert r["sim"].outputs == python["sim"].outputs, way  # the signal table left by the failure
        assert r["memory"].times == memory.times and bits(r["memory"]) == bits(memory), way
        assert r["memory"].events == memory.events, way
        assert r["memory"].finish_metadata["error"] == str(error), way
        assert r["csv"] == python["csv"] and r["events"] == python["events"], way  # on disk too
    assert python["csv"].count(b"\n") == 2 + len(memory.times)  # names, units and every recorded point


def bits(rec: MemoryRecorder) -> list[list[bytes]]:
    return [[struct.pack("<d", x) for x in row] for row in rec.rows]
