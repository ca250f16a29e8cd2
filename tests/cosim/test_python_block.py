"""PythonBlock: drift-free sample instants, zero-order hold between them, parameters and input start values."""

from __future__ import annotations

import pytest

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError


class Counter(PythonBlock):
    INPUTS = (Variable("u", "input", start=0.0),)
    OUTPUTS = (Variable("y", "output", start=0.0), Variable("n", "output", start=0.0))
    PARAMETERS = (Variable("k", "parameter", start=2.0),)

    def reset(self) -> None:
        self.calls = 0

    def update(self, t, inputs):
        self.calls += 1
        return {"y": self.p["k"] * inputs["u"], "n": float(self.calls)}


def test_runs_only_at_sample_instants_without_drift():
    block = Counter("c", sample_time=0.1)
    block.setup(0.0)
    h, t = 0.01, 0.0
    for i in range(10_000):  # 100 s in steps of 0.01 s: float accumulation would drift off the 0.1 s grid
        t = i * h
        block.set_inputs({"u": float(i)})
        block.step(t, h)
    assert block.get_outputs()["n"] == 1000.0
    assert block.get_outputs()["y"] == pytest.approx(2.0 * 9990)  # held from the last instant, t = 99.9 s
    assert block.next_sample_time() == pytest.approx(100.0)


def test_parameters_and_input_start_values():
    block = Counter("c", sample_time=1.0)
    block.setup(0.0, {"k": 3.0, "u": 5.0})
    block.step(0.0, 1.0)
    assert block.get_outputs()["y"] == 15.0
    with pytest.raises(SystemDefinitionError, match="c: unknown parameter 'kk'"):
        Counter("c", sample_time=1.0).setup(0.0, {"kk": 1.0})


def test_state_round_trip():
    block = Counter("c", sample_time=1.0)
    block.setup(0.0)
    block.set_inputs({"u": 1.0})
    block.step(0.0, 1.0)
    saved = block.get_state()
    block.set_inputs({"u": 7.0})
    block.step(1.0, 1.0)
    block.set_state(saved)
    assert block.get_outputs() == {"y": 2.0, "n": 1.0}


def test_rejects_bad_sample_time():
    with pytest.raises(SystemDefinitionError, match="sample_time must be a positive"):
        Counter("c", sample_time=0.0)
