"""The concentrator loop's fast paths record exactly what the step-by-step path records.

The fast paths (issue 17): the master skips a block's idle steps between its sample instants (Slave.idle_test),
blocks time their own update() calls instead of the master timing every step (Slave.own_step_wall_s),
SensorNoise draws its noise in batches from its generator, the titrator's centroid is summed on Python floats, and
the master's lean macro step (master/lean.py: each block in one call, Slave.table_step; the FMU segment and the
feedthrough update in one kernel call each). The step-by-step path, the one before them, is selected by making
idle_test and own_step_wall_s answer None, drawing batches of one sample, defuzzifying with scikit-fuzzy and
building no lean step (MacroStepper.step's general path). The default scenario's session
(its events moved into the first 90 s) must record the same signals bit for bit, the same events and the same
summary metrics both ways.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import skfuzzy

from controllers import fuzzy
from controllers.sensors import SensorNoise
from orchestrator.cosim.master.lean import LeanStep
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.scenario.load import load_scenario

#: the default session's events (walk, sit down, probe off, probe on) moved to these times, s
EVENT_TIMES = {360.0: 20.0, 480.0: 45.0, 700.0: 60.0, 715.0: 70.0}


def session(out):
    from orchestrator.results.run import run

    spec = load_scenario("default")
    events = [dataclasses.replace(e, time=EVENT_TIMES[e.time]) for e in spec.events]
    return run(dataclasses.replace(spec, stop_time=90.0, events=events), out=out, plots=False)


def test_fast_paths_record_exactly_the_step_by_step_results(plant_fmus, tmp_path, monkeypatch):
    lean_steps = []
    original = LeanStep.take
    monkeypatch.setattr(LeanStep, "take", lambda self, n, end: lean_steps.append(n) or original(self, n, end))
    fast = session(tmp_path / "fast")
    assert len(lean_steps) > 1000  # the session's 1800 steps are lean but for a few around events
    monkeypatch.setattr(LeanStep, "build", staticmethod(lambda *args: None))
    monkeypatch.setattr(PythonBlock, "idle_test", lambda self, names: None)
    monkeypatch.setattr(PythonBlock, "own_step_wall_s", lambda self: None)
    monkeypatch.setattr(SensorNoise, "BATCH", 1)
    monkeypatch.setattr(fuzzy, "centroid", lambda x, mfx: float(skfuzzy.defuzz(np.array(x), np.array(mfx), "centroid")))
    slow = session(tmp_path / "slow")
    assert fast.status == slow.status == "ok"
    assert list(fast.signals.columns) == list(slow.signals.columns)
    a, b = fast.signals.to_numpy(dtype=np.float64), slow.signals.to_numpy(dtype=np.float64)
    assert a.shape == b.shape and a.tobytes() == b.tobytes()  # bit for bit, NaN readings included
    assert fast.events == slow.events
    assert len(fast.events) >= 4  # the four session events at least
    assert fast.metrics["summary"] == slow.metrics["summary"]
    assert fast.metrics["steps"] == slow.metrics["steps"]
    for name, slave in slow.metrics["slaves"].items():  # the blocks' own timing reaches the metadata
        assert fast.metrics["slaves"][name]["wall_s"] > 0, name
        assert fast.metrics["slaves"][name].get("update_calls") == slave.get("update_calls"), name
