"""SafetyWatchdog: each limit, its action, latching and reset, plausibility, the alarms (no flow vs occlusion,
cascade suppression, SpO2, link loss), the event log and the reaction time."""

from __future__ import annotations

import itertools
import math

import pytest

from controllers.alarms import ALARMS, BY_NAME, Priority
from controllers.watchdog import BIT, CONDITIONS, FAILSAFE_VALVES, PRESSURE_SAFE_VALVES, VALVES, SafetyWatchdog
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
    y = d.step(duty_req=1.7, cmd_feed_A_req=-0.2, cmd_feed_B_req=1.4, cmd_equalize_req=3.0, Q_set_req=1.0)
    assert y["duty"] == 1.0 and y["cmd_feed_A"] == 0.0 and y["cmd_feed_B"] == 1.0 and y["cmd_equalize"] == 1.0
    assert y["Q_set"] == pytest.approx(slpm_to_m3s(10.0))


def test_compressor_is_held_off_while_no_feed_valve_is_open():
    """Dead-head interlock: with both feed valves closed the compressor would pump against a closed manifold."""
    d = Driver()
    d.run(2.0)
    y = d.step(cmd_feed_A_req=0.0, cmd_feed_B_req=0.4)
    assert y["duty"] == 0.0 and y["alarm_code"] == 0
    y = d.step(cmd_feed_A_req=0.0, cmd_feed_B_req=0.6)
    assert y["duty"] == 0.6


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


def pressure_safe(y) -> bool:
    """Compressor off and the vent path open: both beds open to feed and vent (the manifold vents through the beds to
    the exhaust), equalisation closed; literal values, so a change of the watchdog's constant shows here."""
    return y["duty"] == 0.0 and tuple(y[v] for v in VALVES) == (1.0, 1.0, 1.0, 1.0, 0.0) == PRESSURE_SAFE_VALVES


def test_hard_overpressure_gives_the_pressure_safe_state_at_once_latched_until_reset():
    d = Driver()
    d.run(5.0)
    y = d.step(p_feed=barg_to_pa(3.6))
    assert pressure_safe(y) and y["pressure_trip"] == 1.0
    assert int(y["alarm_code"]) & BIT["OVERPRESSURE_HARD"] and y["alarm_level"] == 3
    y = d.ramp(2.0, p_feed=barg_to_pa(1.5))
    assert pressure_safe(y), "latched: the pressure fell, but nobody reset"
    y = d.run(1.0, reset=1.0)
    assert y["duty"] > 0.0 and tuple(y[v] for v in VALVES) == (1.0, 0.0, 0.0, 1.0, 0.0) and y["alarm_code"] == 0
    y = d.run(10.0)
    assert y["duty"] == 0.6, "the duty cap has recovered"


def test_reset_is_ignored_while_the_pressure_is_still_high():
    d = Driver()
    d.run(5.0)
    d.step(p_feed=barg_to_pa(3.6))
    y = d.run(1.0, p_feed=barg_to_pa(3.1), reset=1.0)  # above p_max - hysteresis
    y = d.run(1.0, p_feed=barg_to_pa(1.5), reset=0.0)
    assert pressure_safe(y)


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


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, 5e6, 1743e5])
def test_unusable_pressure_reading_gives_the_pressure_safe_state_until_reset(bad):
    d = Driver()
    d.run(5.0)
    y = d.step(p_feed=bad)
    assert pressure_safe(y) and y["failsafe"] == 1.0 and int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]
    y = d.run(5.0)
    assert pressure_safe(y) and y["failsafe"] == 1.0, "latched: a good reading alone does not restart"
    d.step(reset=1.0)
    y = d.run(1.0)
    assert y["failsafe"] == 0.0 and y["duty"] == 0.6


@pytest.mark.parametrize("reading_pa", [barg_to_pa(4.5), 13e5, 1743e5, math.inf])
def test_a_pressure_beyond_the_hard_limit_is_an_overpressure_even_when_implausible(reading_pa):
    """Issue 10: a reading beyond the hard limit is that limit's violation whether or not it is also implausible (a
    jump from 1.5 to 4.5 bar(g) in one sample, 60 bar/s; above the 12 bar abs range; 1743 bar; +inf):
    OVERPRESSURE_HARD (not only a sensor fault), latched."""
    d = Driver()
    d.run(5.0)
    y = d.step(wobble=False, p_feed=reading_pa)
    assert pressure_safe(y) and y["pressure_trip"] == 1.0 and int(y["alarm_code"]) & BIT["OVERPRESSURE_HARD"]


def test_reset_is_ignored_while_the_pressure_reading_is_still_faulty():
    d = Driver()
    d.run(5.0)
    y = d.run(1.0, p_feed=math.nan, reset=1.0)
    y = d.run(1.0)
    assert pressure_safe(y)


def test_pressure_rate_of_change_gives_the_pressure_safe_state():
    d = Driver()
    d.run(5.0)
    y = d.step(p_feed=barg_to_pa(1.5) + 2.6e5)  # +2.6 bar in 50 ms = 52 bar/s, still below the hard limit
    assert pressure_safe(y) and int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]


@pytest.mark.parametrize("dither_pa", [0.0, 1.0, 500.0])
def test_frozen_or_dithering_pressure_reading_stops_the_compressor(dither_pa):
    """Stuck: a reading inside the 0.01 bar band for the stuck window (10 s) while the compressor runs, caught
    within 5/4 of the window; a 1 Pa dither does not hide it."""
    d = Driver()
    d.run(5.0)
    p0 = barg_to_pa(1.4)
    stopped = None
    for k in range(round(14.0 / TS)):
        y = d.step(wobble=False, p_feed=p0 + (dither_pa if k % 2 else -dither_pa))
        if y["duty"] == 0.0:
            stopped = k * TS
            break
    assert stopped is not None and 10.0 <= stopped <= 12.5 + TS, stopped
    assert pressure_safe(y) and int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]


def test_a_moving_pressure_reading_is_not_stuck():
    d = Driver()
    for k in range(round(120.0 / TS)):
        y = d.step(wobble=False, p_feed=barg_to_pa(1.4) + (1200.0 if (k // 20) % 2 else 0.0))  # 0.012 bar steps
    assert y["alarm_code"] == 0 and y["duty"] == 0.6


def test_constant_pressure_with_compressor_off_is_not_stuck():
    d = Driver()
    y = d.run(60.0, wobble=False, duty_req=0.0, p_feed=101325.0)
    assert y["alarm_code"] == 0


@pytest.mark.parametrize(
    "stop",
    [{"duty_req": 0.0}, {"duty_req": 0.04}, {"cmd_feed_A_req": 0.0}],
    ids=["duty_0", "duty_below_running", "interlock_no_feed_valve"],
)
@pytest.mark.parametrize("pattern", [(1, 180), (40, 160)], ids=["one_sample_every_9s", "2s_every_10s"])
def test_a_frozen_pressure_reading_stops_the_compressor_although_it_stops_now_and_then(stop, pattern):
    """Hazard: whenever the feed pressure sensor is frozen, the compressor stops within the stuck reaction time of
    running against it (12.5 s), also when the controller (or the dead-head interlock) stops it for a moment now and
    then. Before: every stop restarted the stuck window, and the compressor ran 119 of 120 s against a frozen
    reading with no alarm."""
    d = Driver()
    d.run(5.0)
    off, period = pattern
    frozen = barg_to_pa(1.5)
    running_s = 0.0
    y: dict = {}
    for k in range(round(120.0 / TS)):
        y = d.step(wobble=False, p_feed=frozen, **(stop if k % period < off else {}))
        running_s += TS if y["duty"] > 0.05 else 0.0
    assert running_s <= 12.5 + TS, f"the compressor ran {running_s:.2f} s against a frozen pressure reading"
    assert y["duty"] == 0.0 and pressure_safe(y) and int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]
    assert y["pressure_trip"] == 1.0, "latched until a reset"


def test_a_reset_after_a_frozen_reading_gives_a_fresh_window():
    """After a stuck trip a reset restarts the compressor; a sensor still frozen stops it again within the stuck
    reaction time of running, and a sensor that moves again lets it run on (no stale stuck verdict)."""
    d = Driver()
    d.run(5.0)
    frozen = barg_to_pa(1.5)
    y = d.run(13.0, wobble=False, p_feed=frozen)
    assert y["duty"] == 0.0 and int(y["alarm_code"]) & BIT["SENSOR_PRESSURE"]
    d.step(wobble=False, p_feed=frozen, reset=1.0)
    duties = [d.step(wobble=False, p_feed=frozen)["duty"] for _ in range(round(14.0 / TS))]
    assert duties[0] == 0.6, "the reset restarts the compressor"
    assert duties[-1] == 0.0 and 10.0 <= duties.index(0.0) * TS <= 12.5 + TS, "still frozen: stopped again"
    d.step(p_feed=frozen, reset=0.0)
    d.step(p_feed=frozen, reset=1.0)  # the sensor moves again (wobble), the operator resets
    y = d.run(60.0)
    assert y["duty"] == 0.6 and y["alarm_code"] == 0


def test_a_long_stop_at_ambient_then_a_restart_is_not_stuck():
    """The stuck window pauses while the compressor is off: a minute at a flat ambient reading in between does not
    make a moving reading look frozen after the restart."""
    d = Driver()
    d.run(20.0)
    d.run(60.0, wobble=False, duty_req=0.0, p_feed=101325.0)
    y = d.run(60.0)
    assert y["alarm_code"] == 0 and y["duty"] == 0.6


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 100.0, 600.0])
def test_unusable_temperature_reading_stops_the_compressor_until_reset(bad):
    d = Driver()
    d.run(5.0)
    y = d.step(T_head=bad)
    assert y["duty"] == 0.0 and y["failsafe"] == 1.0 and y["alarm_level"] == 3
    assert int(y["alarm_code"]) & BIT["SENSOR_TEMPERATURE"]
    assert tuple(y[v] for v in VALVES) == (1.0, 0.0, 0.0, 1.0, 0.0), "valves follow the sequencer"
    y = d.run(3.0)
    assert y["duty"] == 0.0, "latched"
    d.step(reset=1.0)
    y = d.run(1.0)
    assert y["duty"] == 0.6 and y["failsafe"] == 0.0 and y["alarm_code"] == 0


@pytest.mark.parametrize("reading_degc", [95.0, 240.0, math.inf])
def test_a_temperature_beyond_the_limit_trips_at_once_even_when_implausible(reading_degc):
    """A jump to 95 degC (too fast), 240 degC (outside the physical range), +inf: each is a thermal trip."""
    d = Driver()
    d.run(5.0)
    y = d.step(T_head=degc_to_k(reading_degc))
    assert y["duty"] == 0.0 and y["thermal_trip"] == 1.0 and int(y["alarm_code"]) & BIT["THERMAL_SHUTDOWN"]


def test_a_real_rise_with_a_nan_every_second_trips():
    d = Driver()
    d.run(2.0)
    y = {}
    for k in range(round(45.0 / TS) + 1):  # 1 K/s from 50 to 95 degC, every 20th reading NaN
        temp = degc_to_k(50.0) + k * TS * 1.0
        y = d.step(T_head=math.nan if k % 20 == 19 else temp)
        assert k < 19 or y["duty"] == 0.0, f"{k * TS:.2f} s: duty {y['duty']}"
    assert y["thermal_trip"] == 1.0


def test_o2_loss_stops_the_trim():
    d = Driver(purity_grace_s=10.0)
    d.run(12.0)
    y = d.run(30.0, sensor_O2=1.3)  # out of range
    assert int(y["alarm_code"]) & BIT["SENSOR_O2"] and y["cycle_time_trim"] == 1.0 and y["duty"] == 0.6


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


def test_occlusion_alarm_while_the_supply_is_up():
    d = Driver(purity_grace_s=10.0, occlusion_time_s=5.0)
    d.run(12.0)
    y = d.run(4.9, sensor_Q=slpm_to_m3s(0.3))
    assert not int(y["alarm_code"]) & BIT["OCCLUSION"]
    y = d.run(0.2, sensor_Q=slpm_to_m3s(0.3))
    assert y["alarm_code"] == BIT["OCCLUSION"] and y["alarm_level"] == 2
    ev = d.wd.events[-1]
    assert ev.condition == "OCCLUSION" and ev.level == "medium" and ev.active
    assert ev.value == pytest.approx(slpm_to_m3s(0.3)) and ev.time == pytest.approx(12.0 + 5.0, abs=1e-9)


@pytest.mark.parametrize("supply_down", [{"duty_req": 0.0}, {"p_feed": barg_to_pa(0.3)}])
def test_no_flow_when_the_supply_is_down_is_not_called_occlusion(supply_down):
    """Flow far below the setpoint with the compressor stopped (by its controller) or the feed pressure below the
    low limit: the device delivers nothing, the cannula is not the cause."""
    d = Driver(purity_grace_s=10.0, occlusion_time_s=5.0, pressure_grace_s=1e6)
    d.run(12.0)
    y = d.run(5.1, sensor_Q=0.0, **supply_down)
    assert y["alarm_code"] == BIT["NO_FLOW"] and y["alarm_level"] == 3
    assert d.wd.events[-1].condition == "NO_FLOW"


def test_no_flow_after_a_thermal_shutdown_is_a_cascade_not_a_new_alarm():
    """issue 11 (high_ambient_temperature): after the thermal trip the flow stops; that is no OCCLUSION and no
    NO_FLOW root cause, and neither are the low pressure and low purity that follow. After the reset the
    consequences' timers start afresh."""
    d = Driver(purity_grace_s=10.0, occlusion_time_s=5.0, pressure_grace_s=10.0, purity_escalate_s=5.0)
    d.run(12.0)
    d.ramp(10.0, T_head=degc_to_k(86.0))
    d.ramp(10.0, T_head=degc_to_k(60.0), sensor_Q=0.0, p_feed=barg_to_pa(0.1), sensor_O2=0.5)
    y = d.run(60.0, T_head=degc_to_k(60.0), sensor_Q=0.0, p_feed=barg_to_pa(0.1), sensor_O2=0.5)
    assert y["alarm_code"] == BIT["THERMAL_SHUTDOWN"] and y["duty"] == 0.0
    assert [e.condition for e in d.wd.events] == ["THERMAL_SHUTDOWN"]
    d.step(T_head=degc_to_k(60.0), sensor_Q=0.0, p_feed=barg_to_pa(0.1), sensor_O2=0.5, reset=1.0)
    y = d.run(4.0, T_head=degc_to_k(60.0), sensor_Q=0.0, p_feed=barg_to_pa(0.1), sensor_O2=0.5)
    assert y["duty"] == 0.6 and not int(y["alarm_code"]) & (BIT["NO_FLOW"] | BIT["OCCLUSION"] | BIT["LOW_PRESSURE"])


def test_every_cascade_of_the_table_is_suppressed_by_every_cause():
    for alarm in ALARMS:
        for cause in alarm.caused_by:
            assert BY_NAME[cause].priority == Priority.HIGH, f"{alarm.name} is explained by a high-priority alarm"
    # the watchdog suppresses by the table: a thermal trip, a sensor fault, a hard overpressure, a lost link
    for trigger in ({"T_head": degc_to_k(90.0)}, {"T_head": math.nan}, {"p_feed": barg_to_pa(3.8)},
                    {"p_feed": math.nan}, {"link_ok": 0.0}):  # fmt: skip
        d = Driver(purity_grace_s=1.0, occlusion_time_s=1.0, pressure_grace_s=1.0, purity_escalate_s=1.0)
        d.run(2.0)
        d.step(**trigger)
        held = {k: v for k, v in trigger.items() if k != "p_feed"}
        d.ramp(5.0, sensor_Q=0.0, p_feed=barg_to_pa(0.1), sensor_O2=0.5, **held)
        y = d.run(10.0, sensor_Q=0.0, p_feed=barg_to_pa(0.1), sensor_O2=0.5, **held)
        dependents = sum(BIT[a.name] for a in ALARMS if a.caused_by)
        assert not int(y["alarm_code"]) & dependents, (
            trigger,
            [a.name for a in ALARMS if int(y["alarm_code"]) & a.bit],
        )


def test_low_spo2_two_levels_with_their_delays():
    d = Driver()
    d.run(5.0, spo2=0.92)
    y = d.run(14.9, spo2=0.84)
    assert y["alarm_code"] == 0, "15 s delay"
    y = d.run(0.2, spo2=0.84)
    assert y["alarm_code"] == BIT["LOW_SPO2"] and y["alarm_level"] == 2
    y = d.run(4.9, spo2=0.79)
    assert y["alarm_code"] == BIT["LOW_SPO2"], "5 s delay of the severe level"
    y = d.run(0.2, spo2=0.79)
    assert y["alarm_code"] == BIT["LOW_SPO2"] | BIT["LOW_SPO2_SEVERE"] and y["alarm_level"] == 3
    assert y["duty"] == 0.6, "an alarm, not an actuator action"
    y = d.run(0.1, spo2=0.90)
    assert y["alarm_code"] == 0


def test_spo2_dropouts_hold_the_state_and_a_lost_signal_is_an_alarm():
    d = Driver()
    y = d.run(100.0)  # no oximeter connected: no SpO2 alarm at all
    assert y["alarm_code"] == 0
    d.run(16.0, spo2=0.84)
    y = d.run(29.9, spo2=math.nan)
    assert y["alarm_code"] == BIT["LOW_SPO2"], "a dropout shorter than spo2_dropout_s holds the last state"
    y = d.run(0.2, spo2=math.nan)
    assert y["alarm_code"] == BIT["SENSOR_SPO2"] and y["alarm_level"] == 2
    y = d.run(0.1, spo2=0.95)
    assert y["alarm_code"] == 0


def test_link_loss_holds_both_safe_states_while_it_lasts():
    d = Driver()
    d.run(2.0)
    y = d.step(link_ok=0.0)
    assert pressure_safe(y) and y["failsafe"] == 1.0 and y["alarm_code"] == BIT["LINK_LOSS"] and y["alarm_level"] == 3
    y = d.run(1.0, link_ok=math.nan)
    assert pressure_safe(y)
    y = d.step(link_ok=1.0)
    assert y["duty"] == 0.6 and y["alarm_code"] == 0


def test_events_are_emitted_to_the_masters_sink_with_names_and_priorities():
    got = []
    d = Driver()
    d.wd.attach_event_sink(EventSink(lambda t, source, text, extra: got.append((t, source, text, extra))))
    d.run(1.0)
    d.step(p_feed=barg_to_pa(3.6))
    names = {extra["name"]: extra["priority"] for _, _, _, extra in got}
    assert names == {"OVERPRESSURE": "medium", "OVERPRESSURE_HARD": "high"}
    assert all(source == "watchdog" and extra["name"] in text and extra["active"] for _, source, text, extra in got)


def test_condition_table_is_the_alarm_table():
    assert [c for c, _, _ in CONDITIONS] == [a.name for a in ALARMS]
    assert [a.code for a in ALARMS] == list(range(len(ALARMS))), "codes are the bit positions, in order"
    assert all(level == int(a.priority) for (_, level, _), a in zip(CONDITIONS, ALARMS, strict=True))
    assert all(a.priority in (Priority.LOW, Priority.MEDIUM, Priority.HIGH) for a in ALARMS)
    assert {a.name: 1 << a.code for a in ALARMS} == BIT


@pytest.mark.parametrize(
    "params, word",
    [({"p_max_barg": 0.3}, "p_min_barg"), ({"duty_reduction_factor": 1.0}, "duty_reduction_factor"),
     ({"t_reset_hysteresis_k": 0.0}, "hysteresis"), ({"purity_min": 87.0}, "purity_min"),
     ({"p_stuck_tol_bar": math.nan}, "p_stuck_tol_bar"), ({"spo2_low": 85.0}, "spo2_severe <= spo2_low"),
     ({"spo2_dropout_s": 0.0}, "spo2_dropout_s")],
)  # fmt: skip
def test_validation(params, word):
    with pytest.raises(SystemDefinitionError, match=word):
        Driver(**params)


WIDENED = [
    ({"p_hard_max_barg": 9.0, "p_max_barg": 8.5}, "p_hard_max_barg"),
    ({"p_hard_max_barg": 3.6}, "p_hard_max_barg"),
    ({"t_max_degc": 200.0}, "t_max_degc"),
    ({"t_max_degc": 85.5}, "t_max_degc"),
    ({"p_ambient": 6e5}, "p_ambient"),
    ({"p_rate_max_bar_per_s": 1e9}, "p_rate_max_bar_per_s"),
    ({"t_rate_max_k_per_s": 1e9}, "t_rate_max_k_per_s"),
    ({"stuck_time_s": 1e6}, "stuck_time_s"),
    ({"p_stuck_tol_bar": 0.0}, "p_stuck_tol_bar"),
    ({"q_max_slpm": 1000.0}, "q_max_slpm"),
]


@pytest.mark.parametrize("params, name", WIDENED, ids=[f"{n}={p[n]:g}" for p, n in WIDENED])
def test_a_hazard_limit_cannot_be_widened(params, name):
    """Hazard: whatever a scenario, --set or the dashboard gives the watchdog, the feed pressure is guarded at 3.5
    bar(g) or below, the head temperature at 85 degC or below, and the plausibility and stuck checks are at least
    as strict as the reaction times are stated for. Before, every one of these was accepted (the order of the
    pressure limits was the only check): with p_hard_max_barg = 9 the watchdog kept the compressor at its requested
    duty at a reading of 8 bar(g)."""
    with pytest.raises(SystemDefinitionError, match=f"'{name}' = .* outside the watchdog's safe envelope"):
        Driver(**params)


@pytest.mark.parametrize(
    "params",
    [{"p_hard_max_barg": 3.5, "t_max_degc": 85.0, "stuck_time_s": 10.0, "p_stuck_tol_bar": 0.01},
     {"p_hard_max_barg": 2.5, "p_max_barg": 2.0, "t_max_degc": 54.0, "stuck_time_s": 0.5, "p_stuck_tol_bar": 0.02},
     {"p_ambient": 79500.0}, {"p_ambient": 101325.0, "q_max_slpm": 5.0}],
    ids=["the_limits_themselves", "tightened", "high_altitude", "sea_level"],
)  # fmt: skip
def test_limits_may_be_tightened(params):
    d = Driver(**params)
    assert d.run(2.0)["alarm_code"] == 0


@pytest.mark.parametrize("sample_time", [0.11, 1.0, 10.0])
def test_the_watchdog_cannot_sample_slower_than_its_reaction_time_allows(sample_time):
    """Hazard: a pressure or temperature beyond its limit reaches the actuators as duty 0 within one watchdog sample
    time plus one master step; a scenario's [slaves.watchdog] sample_time was unbounded (at 10 s an overpressure
    could go unanswered for up to 10 s). At most 0.1 s now."""
    wd = SafetyWatchdog("watchdog", sample_time)
    with pytest.raises(SystemDefinitionError, match=r"sample_time = .* longer than the watchdog's 0\.1 s"):
        wd.setup(0.0, {})


def test_the_watchdog_may_sample_faster():
    for ts in (0.01, 0.05, 0.1):
        SafetyWatchdog("watchdog", ts).setup(0.0, {})


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
