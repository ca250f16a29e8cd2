"""Property-based fuzzing of the SafetyWatchdog (hypothesis).

Arbitrary sequences of controller requests and sensor readings (NaN, inf, extremes, stuck values, physically
plausible values that cross every limit) must never produce an unsafe actuator command. The default run generates a
few hundred sequences; the slow run (``-m slow``) generates 10,000.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.watchdog import _LEVEL_MASKS, ACTUATORS, FAILSAFE_VALVES, VALVES, SafetyWatchdog
from orchestrator.units import barg_to_pa, degc_to_k, slpm_to_m3s

TS = 0.05
#: Short timers so that a sequence of a few seconds reaches every branch (grace periods, escalation, stuck values).
PARAMS = {
    "pressure_grace_s": 0.5,
    "purity_grace_s": 1.0,
    "purity_escalate_s": 1.0,
    "occlusion_time_s": 0.2,
    "stuck_time_s": 0.5,
    "fault_hold_s": 0.2,
    "low_pressure_delay_s": 0.2,
    "trim_interval_s": 0.1,
}
P_MAX = barg_to_pa(3.0)
P_HARD = barg_to_pa(3.5)
T_MAX = degc_to_k(85.0)
T_RESET = degc_to_k(85.0 - 15.0)
Q_MAX = slpm_to_m3s(10.0)
FACTOR = 0.7
FAILSAFE_DUTY = 0.5

SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324])
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


def signal(lo: float, hi: float):
    """A reading: mostly physical (crossing the limits), sometimes special values or any float."""
    return st.one_of(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        SPECIAL,
        ANY_FLOAT,
    )


def walk(max_step: float):
    """("d", delta): the previous reading plus a plausible change (so valid readings cross the limits)."""
    return st.tuples(st.just("d"), st.floats(-max_step, max_step))


REQUEST = st.one_of(st.floats(-0.5, 1.5), SPECIAL, ANY_FLOAT)
STUCK = st.none()  # None: repeat the previous value (a stuck sensor or a frozen controller)

STEP = st.fixed_dictionaries(
    {
        "duty_req": st.one_of(REQUEST, STUCK),
        **{f"{v}_req": REQUEST for v in VALVES},
        "Q_set_req": st.one_of(st.floats(-1e-4, 5e-4), SPECIAL, ANY_FLOAT),
        "p_feed": st.one_of(signal(0.5e5, 5.5e5), STUCK, walk(2e5), walk(2e5), walk(2e5)),
        "sensor_O2": st.one_of(signal(0.1, 1.05), STUCK, walk(0.01)),
        "T_head": st.one_of(signal(degc_to_k(-20.0), degc_to_k(110.0)), STUCK, walk(0.25), walk(0.25)),
        "sensor_Q": st.one_of(signal(-1e-5, 3e-4), STUCK),
        "reset": st.sampled_from([0.0, 0.0, 0.0, 1.0, math.nan]),
    }
)
#: A step may be repeated (a sensor that changes slowly or not at all over several samples).
SEQUENCE = st.lists(st.tuples(STEP, st.integers(1, 12)), min_size=1, max_size=40)


def resolve(value, last: float) -> float:
    if value is None:
        return last
    if isinstance(value, tuple):
        return last + value[1]
    return value


def run_and_check(sequence) -> list[dict]:
    wd = SafetyWatchdog("watchdog", TS)
    wd.setup(0.0, PARAMS)
    last = {v.name: float(v.start) for v in wd.INPUTS}
    prev = dict(wd.get_outputs())
    trace = []
    k = 0
    for step_inputs, repeat in sequence:
        for _ in range(repeat):
            u = {name: resolve(value, last[name]) for name, value in step_inputs.items()}
            reset_edge = u["reset"] > 0.5 and not last["reset"] > 0.5
            wd.set_inputs(u)
            wd.step(k * TS, TS)
            y = dict(wd.get_outputs())
            check_safe(u, y, prev, reset_edge)
            trace.append(y)
            prev = y
            last = u
            k += 1
    return trace


def check_safe(u: dict, y: dict, prev: dict, reset_edge: bool) -> None:
    for name in (*ACTUATORS, "cycle_time_trim", "alarm_level", "alarm_code"):
        assert math.isfinite(y[name]), f"{name} = {y[name]} is not finite"
    assert 0.0 <= y["duty"] <= 1.0
    for v in VALVES:
        assert 0.0 <= y[v] <= 1.0
    assert 0.0 <= y["Q_set"] <= Q_MAX
    assert 0.0 < y["cycle_time_trim"] <= 1.0
    # The duty never exceeds the request, and a non-finite request stops the compressor.
    duty_req = u["duty_req"]
    assert y["duty"] <= (min(max(duty_req, 0.0), 1.0) if math.isfinite(duty_req) else 0.0)
    if y["thermal_trip"]:
        assert y["duty"] == 0.0
    if y["failsafe"]:
        assert y["duty"] <= FAILSAFE_DUTY
    else:
        p, t_head = u["p_feed"], u["T_head"]
        # No sensor fault: pressure and temperature were plausible, so the limits must act.
        if p > P_HARD:
            assert y["duty"] == 0.0
        elif p > P_MAX:
            assert y["duty"] <= FACTOR * prev["duty"] + 1e-15
        if t_head > T_MAX:
            assert y["thermal_trip"] == 1.0
    if prev["thermal_trip"] and not y["thermal_trip"]:
        assert reset_edge and u["T_head"] < T_RESET, "a thermal trip clears only when cooled and reset"
    requests = [u[f"{v}_req"] for v in VALVES]
    if all(math.isfinite(r) for r in requests):
        assert [y[v] for v in VALVES] == [min(max(r, 0.0), 1.0) for r in requests]
    else:
        assert tuple(y[v] for v in VALVES) == FAILSAFE_VALVES
    code = int(y["alarm_code"])
    expected_level = next((lvl for lvl in (3, 2, 1) if code & _LEVEL_MASKS[lvl]), 0)
    assert y["alarm_level"] == expected_level


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEQUENCE)
def test_watchdog_never_commands_unsafe_actuation(sequence):
    trace = run_and_check(sequence)
    assert trace == run_and_check(sequence), "deterministic: the same inputs give the same outputs"


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEQUENCE)
def test_watchdog_never_commands_unsafe_actuation_long_campaign(sequence):
    run_and_check(sequence)
