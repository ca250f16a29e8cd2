"""PressureSchedule on its own: the piecewise-linear setpoint, its slew limit, invalid input and parameters."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.schedule import PressureSchedule
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import barg_to_pa, slpm_to_m3s

TS = 0.1


def make(**params) -> PressureSchedule:
    block = PressureSchedule("schedule", TS)
    block.setup(0.0, params)
    return block


def settle(block: PressureSchedule, q_slpm: float, seconds: float = 60.0, t0: float = 0.0) -> float:
    for k in range(round(seconds / TS)):
        block.set_inputs({"Q_set": slpm_to_m3s(q_slpm)})
        block.step(t0 + k * TS, TS)
    return block.get_outputs()["p_setpoint"]


@pytest.mark.parametrize(
    ("q_slpm", "p_barg"), [(0.0, 0.8), (1.0, 0.8), (2.0, 0.8), (3.5, 1.025), (5.0, 1.25), (8, 1.25)]
)
def test_schedule_points(q_slpm, p_barg):
    assert settle(make(), q_slpm) == pytest.approx(barg_to_pa(p_barg), abs=1e-6)


def test_gauge_reference_follows_the_room_pressure():
    """At 2000 m (79.5 kPa) the same gauge setpoints refer to the local ambient."""
    assert settle(make(p_ambient=79500.0), 5.0) == pytest.approx(79500.0 + 1.25e5, abs=1e-6)


def test_a_flow_step_becomes_a_ramp():
    block = make(rate_max_bar_per_s=0.05)
    settle(block, 2.0, 10.0)
    trace = []
    for k in range(100):  # 10 s after a step to 5 L/min
        block.set_inputs({"Q_set": slpm_to_m3s(5.0)})
        block.step(10.0 + k * TS, TS)
        trace.append(block.get_outputs()["p_setpoint"])
    steps = [b - a for a, b in zip([barg_to_pa(0.8), *trace[:-1]], trace, strict=True)]
    assert max(steps) == pytest.approx(0.05e5 * TS, rel=1e-9)  # 0.05 bar/s
    assert trace[-1] == pytest.approx(barg_to_pa(1.25), abs=1.0)  # 0.45 bar in 9 s


def test_invalid_flow_holds_the_setpoint():
    block = make()
    p = settle(block, 5.0)
    block.set_inputs({"Q_set": math.nan})
    block.step(100.0, TS)
    assert block.get_outputs()["p_setpoint"] == p


@given(st.floats(min_value=0.0, max_value=10.0), st.floats(min_value=0.0, max_value=10.0))
def test_schedule_is_monotone_and_bounded(q1, q2):
    block = make()
    lo, hi = sorted((q1, q2))
    assert 0.8 <= block.scheduled_barg(lo) <= block.scheduled_barg(hi) <= 1.25


@pytest.mark.parametrize(
    "params",
    [
        {"q_low_slpm": 5.0, "q_high_slpm": 2.0},
        {"p_low_barg": 1.5, "p_high_barg": 1.0},
        {"p_high_barg": 3.0},  # above the relief valve's setting
        {"p_ambient": 0.0},
        {"rate_max_bar_per_s": 0.0},
        {"p_low_barg": math.nan},
    ],
)
def test_bad_parameters_name_the_parameter(params):
    with pytest.raises(SystemDefinitionError, match="schedule"):
        make(**params)
