"""SafetyWatchdog: each limit, its action, latching, plausibility, the event log and the reaction time."""

from __future__ import annotations

import itertools
import math

import pytest

from controllers.watchdog import BIT, CONDITIONS, FAILSAFE_VALVES, SafetyWatchdog
from orchestrator.cosim.slaves.base import EventSink
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import barg_to_pa, degc_to_k, slpm_to_m3s

TS = 0.05
NORMAL = {
    "duty_req": 0.6,
    "cmd_feed_A_req": 1.0,
    "cmd_feed_B_req": 0.0,
    "cmd_vent_A_req": 0.0,
    "cmd_vent_B_req": 1.0,
    "cmd_equalize_req": 0.0,
    "Q_set_req": slpm_to_m3s(2.0),
    "p_feed": barg_to_pa(1.5),
    "sensor_O2": 0.93,
    "T_head": degc_to_k(50.0),
    "sensor_Q": slpm_to_m3s(2.0),
    "reset": 0.0,
}


class Driver:
    """Steps a watchdog with normal inputs, a wobble on pressure and purity (a running PSA), and overrides."""

    def __init__(self, **params):
        self.wd = SafetyWatchdog("watchdog", TS)
        self.wd.setup(0.0, params)
        self.k = 0
        self.last = dict(NORMAL)

    @property
    def t(self) -> float:
        return self.k * TS

    def step(self, wobble: bool = True, **override) -> dict:
        u = dict(NORMAL)
        u.update(override)
        self.last = dict(u)
        if wobble:
            u["p_feed"] += 2000.0 * math.sin(self.k * 0.7)
            u["sensor_O2"] += 1e-4 * math.sin(self.k * 0.3)
        self.wd.set_inputs(u)
        self.wd.step(self.t, TS)
        self.k += 1
        return self.wd.get_outputs()

    def run(self, seconds: float, wobble: bool = True, **override) -> dict:
        y = {}
        for _ in range(round(seconds / TS)):
            y = self.step(wobble, **override)
        return y

    def ramp(self, seconds: float, **targets) -> dict:
        """Move the named inputs linearly from their last values to the targets (a physically plausible change)."""
        n = round(seconds / TS)
        start = dict(self.last)
        y = {}
        for i in range(1, n + 1):
            y = self.step(**{k: start[k] + (v - start[k]) * i / n for k, v in targets.items()})
        return y


def test_normal_operation_passes_requests_through_without_alarm():
    d = Driver()
    y = d.run(300.0)
    assert y["duty"] == 0.6 and y["cmd_feed_A"] == 1.0 and y["cmd_vent_B"] == 1.0
    assert y["Q_set"] == pytest.approx(slpm_to_m3s(2.0))
    assert y["alarm_level"] == 0 and y["alarm_code"] == 0 and d.wd.events == []


def test_commands_are_clamped():
    d = Driver()
    y = d.step(duty_req=1.7, cmd_feed_A_req=-0.2, cmd_equalize_req=3.0, Q_set_req=1.0)
    assert y["duty"] == 1.0 and y["cmd_feed_A"] == 0.0 and y["cmd_equalize"] == 1.0
    assert y["Q_set"] == pytest.approx(slpm_to_m3s(10.0))


def test_overpressure_reduces_pwm_every_sample_and_recovers():
    d = Driver()
    d.run(10.0)
    duties = [d.step(p_feed=barg_to_pa(3.2))["duty"] for _ in range(10)]
    assert duties[0] == pytest.approx(0.6 * 0.7)
    for a, b in itertools.pairwise(duties):
        assert b == pytest.approx(a * 0.7)
    y = d.wd.get_outputs()
    assert y["alarm_code"] == BIT["OVERPRESSURE"] and y["alarm_level"] == 2
    y = d.run(20.0)  # back to 1.5 bar(g): the cap recovers at 0.1 per second
    assert y["duty"] == pytest.approx(0.6) and y["alarm_code"] == 0


def test_hard_overpressure_stops_the_compressor_at_once():
    d = Driver()
    d.run(5.0)
    y = d.step(p_feed=barg_to_pa(3.6))
    assert y["duty"] == 0.0
    assert int(y["alarm_code"]) & BIT["OVERPRESSURE_HARD"] and y["alarm_level"] == 3


def test_reaction_time_is_one_sample():
    """The sample that first sees the violation already outputs the reduced duty."""
    d = Driver()
    d.run(5.0)
    before = d.wd.get_outputs()["duty"]
    after = d.step(p_feed=barg_to_pa(3.05))["duty"]
    assert before == 0.6 and after < before


def test_low_pressure_alarm_only_after_grace_and_delay():
    d = Driver(pressure_grace_s=60.0, low_pressure_delay_s=5.0)
    y = d.run(59.0, p_feed=barg_to_pa(0.2))
    assert not int(y["alarm_code"]) & BIT["LOW_PRESSURE"], "start-up grace period"
    y = d.run(5.9, p_feed=barg_to_pa(0.2))
    assert not int(y["alarm_code"]) & BIT["LOW_PRESSURE"], "needs 5 s below the limit after the grace period"
    y = d.run(0.2, p_feed=barg_to_pa(0.2))
    assert int(y["alarm_code"]) & BIT["LOW_PRESSURE"] and y["duty"] == 0.6
    y = d.run(1.0)
    assert not int(y["alarm_code"]) & BIT["LOW_PRESSURE"]


def test_low_purity_adjusts_cycle_and_escalates():
    d = Driver(purity_grace_s=240.0, purity_escalate_s=60.0, trim_step=0.05, trim_min=0.8, trim_interval_s=10.0)
    d.ramp(10.0, sensor_O2=0.5)
    y = d.run(229.0, sensor_O2=0.5)
    assert y["alarm_code"] == 0 and y["cycle_time_trim"] == 1.0, "cold start: purity is low by nature"
    y = d.ramp(3.0, sensor_O2=0.85)  # low from t = 240 s on
    assert int(y["alarm_code"]) & BIT["LOW_PURITY"] and y["alarm_level"] == 2
    assert y["cycle_time_trim"] == pytest.approx(0.95)
    y = d.run(30.0, sensor_O2=0.85)
    assert y["cycle_time_trim"] == pytest.approx(0.8)
    assert not int(y["alarm_code"]) & BIT["LOW_PURITY_SUSTAINED"]
    y = d.run(36.0, sensor_O2=0.85)
    assert int(y["alarm_code"]) & BIT["LOW_PURITY_SUSTAINED"] and y["alarm_level"] == 3
    y = d.ramp(0.5, sensor_O2=0.875)  # within the hysteresis: still low
    assert int(y["alarm_code"]) & BIT["LOW_PURITY"]
    y = d.ramp(1.0, sensor_O2=0.92)
    y = d.run(60.0, sensor_O2=0.92)
    assert y["alarm_code"] == 0 and y["cycle_time_trim"] == pytest.approx(1.0)


def test_thermal_shutdown_latches_until_cooled_and_reset():
    d = Driver()
    d.run(2.0)
    y = d.ramp(10.0, T_head=degc_to_k(84.9))
    assert y["thermal_trip"] == 0.0 and y["duty"] == 0.6
    y = d.ramp(1.0, T_head=degc_to_k(86.0))
    assert y["duty"] == 0.0 and y["thermal_trip"] == 1.0 and y["alarm_level"] == 3
    y = d.ramp(2.0, T_head=degc_to_k(80.0))
    y = d.run(1.0, T_head=degc_to_k(80.0), reset=1.0)  # reset while still hot: ignored
    y = d.run(1.0, T_head=degc_to_k(80.0), reset=0.0)
    assert y["thermal_trip"] == 1.0 and y["duty"] == 0.0
    y = d.ramp(20.0, T_head=degc_to_k(60.0))  # cooled, no reset: still latched
    assert y["thermal_trip"] == 1.0 and y["duty"] == 0.0
    y = d.step(T_head=degc_to_k(60.0), reset=1.0)
    assert y["thermal_trip"] == 0.0 and y["duty"] > 0.0
    events = [(e.condition, e.active) for e in d.wd.events]
    assert events == [("THERMAL_SHUTDOWN", True), ("THERMAL_SHUTDOWN", False)]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, 5e6])
def test_implausible_pressure_gives_failsafe(bad):
    d = Driver()
    d.run(5.0)
    y = d.step(p_feed=bad)
    assert y["failsafe"] == 1.0 and y["duty"] <= 0.5 and int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]
    y = d.run(1.0)
    assert y["failsafe"] == 1.0, "the fault holds for fault_hold_s"
    y = d.run(2.0)
    assert y["failsafe"] == 0.0 and y["duty"] == 0.6


def test_pressure_rate_of_change_and_stuck_value():
    d = Driver()
    d.run(5.0)
    y = d.step(p_feed=barg_to_pa(1.5) + 5e5)  # +5 bar in 50 ms = 100 bar/s
    assert int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]
    d.run(3.0)
    y = d.run(9.5, wobble=False, p_feed=barg_to_pa(1.4))  # frozen reading while the compressor runs
    assert not int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]
    y = d.run(1.0, wobble=False, p_feed=barg_to_pa(1.4))
    assert int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"] and y["duty"] <= 0.5


def test_constant_pressure_with_compressor_off_is_not_stuck():
    d = Driver()
    y = d.run(60.0, wobble=False, duty_req=0.0, p_feed=101325.0)
    assert y["alarm_code"] == 0


def test_temperature_sensor_loss_gives_failsafe_and_o2_loss_stops_trim():
    d = Driver(purity_grace_s=10.0)
    d.run(12.0)
    y = d.step(T_head=math.nan)
    assert y["failsafe"] == 1.0 and y["duty"] <= 0.5 and y["alarm_level"] == 3
    d.run(3.0)
    y = d.run(30.0, sensor_O2=1.3)  # out of range
    assert int(y["alarm_code"]) & BIT["SENSOR_O2"] and y["cycle_time_trim"] == 1.0


def test_invalid_requests_are_replaced_by_safe_values():
    d = Driver()
    d.run(1.0)
    y = d.step(duty_req=math.nan, cmd_vent_A_req=math.inf, Q_set_req=math.nan)
    assert y["duty"] == 0.0
    assert tuple(y[v] for v in ("cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize")) == (
        FAILSAFE_VALVES
    )
    assert y["Q_set"] == pytest.approx(slpm_to_m3s(2.0)), "last valid flow held"
    assert int(y["alarm_code"]) & BIT["COMMAND_INVALID"] and y["alarm_level"] == 1


def test_occlusion_alarm():
    d = Driver(purity_grace_s=10.0, occlusion_time_s=5.0)
    d.run(12.0)
    y = d.run(4.9, sensor_Q=slpm_to_m3s(0.3))
    assert not int(y["alarm_code"]) & BIT["OCCLUSION"]
    y = d.run(0.2, sensor_Q=slpm_to_m3s(0.3))
    assert int(y["alarm_code"]) & BIT["OCCLUSION"] and y["alarm_level"] == 2
    ev = d.wd.events[-1]
    assert ev.condition == "OCCLUSION" and ev.level == "medium" and ev.active
    assert ev.value == pytest.approx(slpm_to_m3s(0.3)) and ev.time == pytest.approx(12.0 + 5.0, abs=1e-9)


def test_events_are_emitted_to_the_masters_sink():
    got = []
    d = Driver()
    d.wd.attach_event_sink(EventSink(lambda t, source, text, extra: got.append((t, source, text, extra))))
    d.run(1.0)
    d.step(p_feed=barg_to_pa(3.6))
    assert got and got[0][1] == "watchdog" and "OVERPRESSURE" in got[0][2] and got[0][3]["level"] == "medium"


def test_condition_table_is_consistent():
    assert len({c for c, _, _ in CONDITIONS}) == len(CONDITIONS)
    assert all(level in (1, 2, 3) for _, level, _ in CONDITIONS)


@pytest.mark.parametrize(
    "params, word",
    [({"p_max_barg": 0.3}, "p_min_barg"), ({"duty_reduction_factor": 1.0}, "duty_reduction_factor"),
     ({"t_reset_hysteresis_k": 0.0}, "hysteresis"), ({"purity_min": 87.0}, "purity_min"),
     ({"failsafe_duty": math.nan}, "failsafe_duty")],
)  # fmt: skip
def test_validation(params, word):
    with pytest.raises(SystemDefinitionError, match=word):
        Driver(**params)


def test_rollback_restores_state_and_trims_the_event_log():
    d = Driver()
    d.wd.attach_event_sink(EventSink(lambda *a: None))  # the master's event sink is not deep-copied
    d.run(2.0)
    state = d.wd.get_state()
    k0 = d.k
    a = [d.step(p_feed=barg_to_pa(3.2)) for _ in range(5)]
    assert d.wd.events
    d.wd.set_state(state)
    d.k = k0
    assert d.wd.events == []
    b = [d.step(p_feed=barg_to_pa(3.2)) for _ in range(5)]
    assert a == b and len(d.wd.events) == 1


def test_steady_operation_retains_no_memory():
    """4,000 samples without alarm transitions keep memory flat (no per-step containers, no log growth)."""
    import tracemalloc

    d = Driver()
    d.run(5.0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        d.run(200.0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert d.wd.events == []
    assert after - before < 4096, f"{after - before} bytes retained"
