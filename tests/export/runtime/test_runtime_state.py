"""FMU state get/set and serialize/deserialize: a restored state replays the trajectory bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.support.fmu_session import open_fmu, start

H = 0.25

# (model, outputs recorded, input schedule: step index -> input values)
CASES = {
    "tank_with_loop": (["V", "h", "q_out"], lambda k: {"q_in": 0.3 if (k // 7) % 2 == 0 else 0.65}),
    "van_der_pol": (["x0", "x1"], None),
    "robertson_dae": (["y1", "y2", "y3"], None),
}


def _run(session, t0: float, steps: int, outputs: list[str], inputs) -> tuple[float, np.ndarray]:
    rows = []
    t = t0
    for _ in range(steps):
        k = round(t / H)
        if inputs:
            session.set(**inputs(k))
        session.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=H)
        t += H
        rows.append(session.get(*outputs))
    return t, np.array(rows)


@pytest.mark.parametrize("name", list(CASES))
def test_get_set_state_replays_bit_for_bit(fmu_of: Callable[[str], Path], name: str) -> None:
    outputs, inputs = CASES[name]
    s = start(open_fmu(fmu_of(name)))
    t1, _ = _run(s, 0.0, 9, outputs, inputs)  # integrator history and inputs already switched once
    state = s.fmu.getFMUstate()
    _, first = _run(s, t1, 30, outputs, inputs)
    s.fmu.setFMUstate(state)
    _, second = _run(s, t1, 30, outputs, inputs)
    assert first.tobytes() == second.tobytes()
    s.fmu.freeFMUstate(state)
    s.fmu.terminate()
    s.fmu.freeInstance()


@pytest.mark.parametrize("name", list(CASES))
def test_serialized_state_restores_in_a_fresh_instance(fmu_of: Callable[[str], Path], name: str) -> None:
    outputs, inputs = CASES[name]
    a = start(open_fmu(fmu_of(name), name="a"))
    t1, _ = _run(a, 0.0, 11, outputs, inputs)
    blob = a.fmu.serializeFMUstate(a.fmu.getFMUstate())
    _, reference = _run(a, t1, 25, outputs, inputs)

    b = start(open_fmu(fmu_of(name), name="b"))  # a different history: it must be overwritten completely
    _run(b, 0.0, 3, outputs, inputs)
    b.fmu.setFMUstate(b.fmu.deSerializeFMUstate(blob))
    _, replay = _run(b, t1, 25, outputs, inputs)
    assert reference.tobytes() == replay.tobytes()
    for s in (a, b):
        s.fmu.terminate()
        s.fmu.freeInstance()


def test_state_of_another_model_is_rejected(fmu_of: Callable[[str], Path]) -> None:
    a = start(open_fmu(fmu_of("linear_system"), name="a"))
    b = start(open_fmu(fmu_of("van_der_pol"), name="b"))
    blob = a.fmu.serializeFMUstate(a.fmu.getFMUstate())
    with pytest.raises(Exception, match="fmi2DeSerializeFMUstate"):
        b.fmu.deSerializeFMUstate(blob)
    assert any("different" in m for m in b.messages)
    with pytest.raises(Exception, match="fmi2DeSerializeFMUstate"):
        b.fmu.deSerializeFMUstate(b"\0" * 64)


def test_model_exchange_state_round_trip(fmu_of: Callable[[str], Path]) -> None:
    s = start(open_fmu(fmu_of("tank_with_loop"), kind="me"))
    from ctypes import c_double

    x = (c_double * 1)()
    dx = (c_double * 1)()
    s.fmu.setTime(1.0)
    x[0] = 0.7
    s.fmu.setContinuousStates(x, 1)
    state = s.fmu.getFMUstate()
    s.fmu.getDerivatives(dx, 1)
    before = dx[0]
    s.fmu.setTime(2.0)
    x[0] = 0.2
    s.fmu.setContinuousStates(x, 1)
    s.fmu.setFMUstate(state)
    s.fmu.getDerivatives(dx, 1)
    assert dx[0] == before == pytest.approx(0.3 - 0.8 * np.sqrt(0.7), rel=1e-10)
