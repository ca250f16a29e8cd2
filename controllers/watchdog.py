"""SafetyWatchdog: the deterministic layer between every controller and the concentrator's actuators.

Controllers send *requests* (``duty_req``, ``cmd_*_req``, ``Q_set_req``); the watchdog reads the plant's sensors and
sends the *safe commands* (``duty``, ``cmd_*``, ``Q_set``) that alone may drive the plant's actuator inputs
(``check_topology`` enforces this for a scenario). One update is a fixed sequence of comparisons on scalars: O(1),
no I/O, no containers created per step (the outputs are written into the same dict every sample, the state lives in
preallocated attributes; only CPython's boxed float intermediates remain); one log entry is allocated when an alarm
condition starts or ends.

Limits (defaults from the design seed; gauge pressure at the compressor outlet, relative to ``p_ambient``):

| condition | limit | level | action |
| --- | --- | --- | --- |
| OVERPRESSURE | p > 3.0 bar(g) | medium | duty cap reduced by the factor duty_reduction_factor every sample |
| OVERPRESSURE_HARD | p > 3.5 bar(g) | high | compressor off while above |
| LOW_PRESSURE | p < 0.5 bar(g) for low_pressure_delay_s, after pressure_grace_s | medium | alarm |
| LOW_PURITY | O2 < 87 % after purity_grace_s | medium | cycle adjustment: cycle_time_trim steps down |
| LOW_PURITY_SUSTAINED | low purity longer than purity_escalate_s | high | alarm (escalation) |
| THERMAL_SHUTDOWN | T_head > 85 degC | high | compressor off, latched until T_head < 85 - hysteresis AND reset |
| LOW_TEMPERATURE | T_head < 0 degC | low | alarm |
| SENSOR_PRESSURE / SENSOR_TEMPERATURE | implausible reading | high | fail-safe: duty capped at failsafe_duty |
| SENSOR_O2 | implausible reading | high | no cycle adjustment (purity unknown), alarm |
| SENSOR_FLOW | implausible reading | low | occlusion check suspended |
| OCCLUSION | sensor_Q < occlusion_fraction * Q_set for occlusion_time_s | medium | alarm (blocked cannula) |
| COMMAND_INVALID | a request is NaN/inf | low | substitute: duty 0, valves to the vent pattern, Q_set held |

A reading is implausible when it is NaN or infinite, outside its physical range, changes faster than physically
possible (rate of change), or, for pressure and O2 while the compressor runs, stays bit-identical longer than
stuck_time_s (a frozen sensor: the PSA cycle always moves them). A sensor fault holds for fault_hold_s after the last
implausible reading. Every command is clamped to its range (duty 0..1, valves 0..1, Q_set 0..q_max).

Reaction time: a limit violation present in the sensor values at a sample instant changes the commands computed at
that instant; the plant sees them from the next communication step, so the worst case from the physical crossing to
the actuator is one watchdog sample_time plus one master step (0.05 s + 0.1 s in the default scenario).

Outputs for recording: alarm_level (0 none, 1 low, 2 medium, 3 high: the highest active), alarm_code (bit mask of
active conditions, bit i = CONDITIONS[i]), thermal_trip (latched shutdown), failsafe (sensor fault). The event log
(``events``: time, condition, level, value, action, active) has one entry per start and end of a condition;
each entry is also emitted as it happens (``Slave.emit_event``: the master passes it to the run's event log).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import P_ATM_PA, slpm_to_m3s

LEVEL_NAMES = ("none", "low", "medium", "high")

#: (condition, level, action) in bit order of alarm_code.
CONDITIONS: tuple[tuple[str, int, str], ...] = (
    ("OVERPRESSURE", 2, "PWM reduction"),
    ("OVERPRESSURE_HARD", 3, "compressor off"),
    ("LOW_PRESSURE", 2, "alarm"),
    ("LOW_PURITY", 2, "cycle adjustment"),
    ("LOW_PURITY_SUSTAINED", 3, "alarm escalated"),
    ("THERMAL_SHUTDOWN", 3, "compressor off (latched until cooled and reset)"),
    ("LOW_TEMPERATURE", 1, "alarm"),
    ("SENSOR_PRESSURE", 3, "fail-safe duty cap"),
    ("SENSOR_TEMPERATURE", 3, "fail-safe duty cap"),
    ("SENSOR_O2", 3, "cycle adjustment suspended"),
    ("SENSOR_FLOW", 1, "occlusion check suspended"),
    ("OCCLUSION", 2, "alarm"),
    ("COMMAND_INVALID", 1, "request replaced by a safe value"),
)
BIT = {name: 1 << i for i, (name, _, _) in enumerate(CONDITIONS)}
_LEVEL_MASKS = tuple(sum(1 << i for i, c in enumerate(CONDITIONS) if c[1] == lvl) for lvl in range(4))

#: Actuator inputs of the plant that only the watchdog may drive (the watchdog's outputs have the same names).
ACTUATORS = ("duty", "cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize", "Q_set")
VALVES = ACTUATORS[1:6]
#: Valve pattern when the valve requests are unusable: both beds open to feed and vent, nothing builds pressure.
FAILSAFE_VALVES = (1.0, 1.0, 1.0, 1.0, 0.0)
#: Sensor inputs the watchdog must see (check_topology requires them connected).
SENSORS = ("p_feed", "sensor_O2", "T_head", "sensor_Q")


class WatchdogEvent(NamedTuple):
    """One entry of the watchdog's event log."""

    time: float  #: s
    condition: str
    level: str  #: "low" | "medium" | "high"
    value: float  #: the reading that started or ended the condition (SI)
    action: str
    active: bool  #: True when the condition starts, False when it ends


class _Plausibility:
    """Range, rate-of-change and stuck-value check of one sensor; O(1) state."""

    __slots__ = ("bad_until", "hi", "hold", "lo", "prev", "prev_t", "rate_max", "same_since", "stuck_s")

    def __init__(self, lo: float, hi: float, rate_max: float, stuck_s: float, hold: float) -> None:
        self.lo, self.hi, self.rate_max, self.stuck_s, self.hold = lo, hi, rate_max, stuck_s, hold
        self.prev = math.nan
        self.prev_t = math.nan
        self.same_since = math.nan
        self.bad_until = -math.inf

    def check(self, t: float, x: float, stuck_armed: bool) -> bool:
        """True if the reading x at time t is plausible (and no fault was seen within the hold time)."""
        bad = not (self.lo <= x <= self.hi)  # also catches NaN; inf is out of range
        if not bad and self.prev == self.prev:  # prev is not NaN
            dt = t - self.prev_t
            if dt > 0.0 and abs(x - self.prev) > self.rate_max * dt:
                bad = True
            if x == self.prev:
                if stuck_armed and t - self.same_since > self.stuck_s:
                    bad = True
            else:
                self.same_since = t
            if not stuck_armed:
                self.same_since = t
        elif not bad:
            self.same_since = t
        if not bad:
            self.prev = x
            self.prev_t = t
        else:
            self.bad_until = t + self.hold
        return t >= self.bad_until


class SafetyWatchdog(PythonBlock):
    """Requests + sensors in, clamped safe actuator commands + alarms out (see the module docstring)."""

    INPUTS = (
        Variable("duty_req", "input", unit="1", start=0.0, description="requested compressor duty"),
        *(Variable(f"{v}_req", "input", unit="1", start=0.0, description="requested valve command") for v in VALVES),
        Variable("Q_set_req", "input", unit="m3/s", start=0.0, description="requested product flow (standard)"),
        Variable("p_feed", "input", unit="Pa", start=P_ATM_PA, description="feed pressure sensor, absolute"),
        Variable("sensor_O2", "input", unit="1", start=0.2095, description="O2 purity sensor"),
        Variable("T_head", "input", unit="K", start=293.15, description="compressor head temperature"),
        Variable("sensor_Q", "input", unit="m3/s", start=0.0, description="product flow sensor (standard)"),
        Variable("reset", "input", unit="1", start=0.0, description="rising edge > 0.5 resets a cooled thermal trip"),
    )
    OUTPUTS = (
        Variable("duty", "output", unit="1", start=0.0, min=0.0, max=1.0, description="safe compressor duty"),
        *(
            Variable(v, "output", unit="1", start=0.0, min=0.0, max=1.0, description="safe valve command")
            for v in VALVES
        ),
        Variable("Q_set", "output", unit="m3/s", start=0.0, min=0.0, description="safe product flow setpoint"),
        Variable("cycle_time_trim", "output", unit="1", start=1.0, description="cycle adjustment for the sequencer"),
        Variable("alarm_level", "output", unit="1", start=0.0, description="0 none, 1 low, 2 medium, 3 high"),
        Variable("alarm_code", "output", unit="1", start=0.0, description="bit mask of active conditions"),
        Variable("thermal_trip", "output", unit="1", start=0.0, description="1 while the thermal shutdown latches"),
        Variable("failsafe", "output", unit="1", start=0.0, description="1 while a sensor fault caps the duty"),
    )
    PARAMETERS = (
        Variable("p_ambient", "parameter", unit="Pa", start=P_ATM_PA, description="reference of gauge pressure"),
        Variable("p_max_barg", "parameter", unit="bar", start=3.0, description="PWM reduction above"),
        Variable("p_hard_max_barg", "parameter", unit="bar", start=3.5, description="compressor off above"),
        Variable("p_min_barg", "parameter", unit="bar", start=0.5, description="low-pressure alarm below"),
        Variable("p_hysteresis_bar", "parameter", unit="bar", start=0.2, description="duty cap recovers below max-hys"),
        Variable("pressure_grace_s", "parameter", unit="s", start=60.0, description="start-up: no low-pressure alarm"),
        Variable("low_pressure_delay_s", "parameter", unit="s", start=5.0, description="persistence of low pressure"),
        Variable("duty_reduction_factor", "parameter", unit="1", start=0.7, description="cap factor per sample"),
        Variable("duty_recovery_per_s", "parameter", unit="1/s", start=0.1, description="cap recovery rate"),
        Variable("failsafe_duty", "parameter", unit="1", start=0.5, description="duty cap on a sensor fault"),
        Variable("purity_min", "parameter", unit="1", start=0.87, description="low-purity alarm below"),
        Variable("purity_hysteresis", "parameter", unit="1", start=0.01, description="clears above min + this"),
        Variable("purity_grace_s", "parameter", unit="s", start=240.0, description="start-up: no purity alarm"),
        Variable("purity_escalate_s", "parameter", unit="s", start=60.0, description="sustained low purity after"),
        Variable("trim_step", "parameter", unit="1", start=0.05, description="cycle trim change per interval"),
        Variable("trim_min", "parameter", unit="1", start=0.8, description="shortest cycle trim"),
        Variable("trim_interval_s", "parameter", unit="s", start=10.0, description="time between trim changes"),
        Variable("t_max_degc", "parameter", unit="degC", start=85.0, description="thermal shutdown above"),
        Variable("t_min_degc", "parameter", unit="degC", start=0.0, description="low-temperature alarm below"),
        Variable("t_reset_hysteresis_k", "parameter", unit="K", start=15.0, description="reset allowed below max-hys"),
        Variable("q_max_slpm", "parameter", unit="L/min", start=10.0, description="highest Q_set (unit rating)"),
        Variable("occlusion_fraction", "parameter", unit="1", start=0.5, description="flow/setpoint ratio below"),
        Variable("occlusion_time_s", "parameter", unit="s", start=5.0, description="persistence of low flow"),
        Variable("occlusion_q_min_slpm", "parameter", unit="L/min", start=0.2, description="check above this Q_set"),
        Variable("stuck_time_s", "parameter", unit="s", start=10.0, description="identical readings this long: stuck"),
        Variable("fault_hold_s", "parameter", unit="s", start=2.0, description="sensor fault holds this long"),
        Variable("p_rate_max_bar_per_s", "parameter", unit="bar/s", start=50.0, description="plausible dp/dt"),
        Variable("t_rate_max_k_per_s", "parameter", unit="K/s", start=5.0, description="plausible dT/dt"),
        Variable("o2_rate_max_per_s", "parameter", unit="1/s", start=0.2, description="plausible d(purity)/dt"),
    )

    @classmethod
    def check_scenario(cls, spec: Any) -> None:
        """The check the block registry runs on a scenario whose [safety] watchdog is this block (check_topology)."""
        check_topology(spec)

    def __init__(self, name: str, sample_time: float) -> None:
        super().__init__(name, sample_time)
        self.events: list[WatchdogEvent] = []
        #: Entries kept at most (oldest dropped beyond this, so a flapping condition cannot exhaust memory).
        self.max_events = 100_000

    def validate_parameters(self) -> None:
        p = self.p
        for name, value in p.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a finite number, got {value!r}")
        if not p["p_ambient"] > 0:
            raise SystemDefinitionError(f"{self.name}: p_ambient must be an absolute pressure > 0 Pa")
        if not (0 <= p["p_min_barg"] < p["p_max_barg"] <= p["p_hard_max_barg"]):
            raise SystemDefinitionError(
                f"{self.name}: need 0 <= p_min_barg < p_max_barg <= p_hard_max_barg, got "
                f"{p['p_min_barg']}, {p['p_max_barg']}, {p['p_hard_max_barg']}"
            )
        if not 0.0 <= p["duty_reduction_factor"] < 1.0:
            raise SystemDefinitionError(f"{self.name}: duty_reduction_factor must lie in [0, 1) so the duty falls")
        for name in ("failsafe_duty", "purity_min", "trim_min", "occlusion_fraction"):
            if not 0.0 <= p[name] <= 1.0:
                raise SystemDefinitionError(f"{self.name}: {name} must lie in 0..1, got {p[name]}")
        if not p["t_min_degc"] < p["t_max_degc"] - p["t_reset_hysteresis_k"] < p["t_max_degc"]:
            raise SystemDefinitionError(
                f"{self.name}: need t_min_degc < t_max_degc - t_reset_hysteresis_k and a hysteresis > 0 K"
            )
        for name in ("q_max_slpm", "stuck_time_s", "trim_interval_s", "p_rate_max_bar_per_s", "t_rate_max_k_per_s",
                     "o2_rate_max_per_s"):  # fmt: skip
            if not p[name] > 0:
                raise SystemDefinitionError(f"{self.name}: {name} must be > 0, got {p[name]}")
        for name in ("pressure_grace_s", "low_pressure_delay_s", "purity_grace_s", "purity_escalate_s",
                     "occlusion_time_s", "fault_hold_s", "p_hysteresis_bar", "purity_hysteresis", "trim_step",
                     "duty_recovery_per_s", "occlusion_q_min_slpm"):  # fmt: skip
            if not p[name] >= 0:
                raise SystemDefinitionError(f"{self.name}: {name} must be >= 0, got {p[name]}")

    def reset(self) -> None:
        p = self.p
        hold = p["fault_hold_s"]
        self._p_check = _Plausibility(0.2e5, 12e5, p["p_rate_max_bar_per_s"] * 1e5, p["stuck_time_s"], hold)
        self._t_check = _Plausibility(200.0, 500.0, p["t_rate_max_k_per_s"], math.inf, hold)
        self._o2_check = _Plausibility(0.0, 1.0, p["o2_rate_max_per_s"], p["stuck_time_s"], hold)
        self._q_check = _Plausibility(-1e-6, 5e-4, 2e-3, math.inf, hold)  # 0..30 L/min, 120 L/min per s
        # Thresholds in SI, computed once.
        pa = p["p_ambient"]
        self._p_max = pa + p["p_max_barg"] * 1e5
        self._p_hard = pa + p["p_hard_max_barg"] * 1e5
        self._p_min = pa + p["p_min_barg"] * 1e5
        self._p_recover = self._p_max - p["p_hysteresis_bar"] * 1e5
        self._t_max = p["t_max_degc"] + 273.15
        self._t_min = p["t_min_degc"] + 273.15
        self._t_reset = self._t_max - p["t_reset_hysteresis_k"]
        self._q_max = slpm_to_m3s(p["q_max_slpm"])
        self._q_occl_min = slpm_to_m3s(p["occlusion_q_min_slpm"])
        self._t_start = math.nan
        self._duty_cap = 1.0
        self._duty_out = 0.0
        self._q_last = 0.0
        self._tripped = False
        self._reset_prev = 0.0
        self._low_p_since = math.nan
        self._low_purity_since = math.nan
        self._occl_since = math.nan
        self._trim = 1.0
        self._trim_changed_at = -math.inf
        self._code = 0
        self._values = [0.0] * len(CONDITIONS)
        self.events.clear()
        self._out = {name: 0.0 for name in (*ACTUATORS, "alarm_level", "alarm_code", "thermal_trip", "failsafe")}
        self._out["cycle_time_trim"] = 1.0

    # ------------------------------------------------------------------------------------------------------------
    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        p = self.p
        ts = self.info.sample_time
        if self._t_start != self._t_start:  # first sample
            self._t_start = t
        elapsed = t - self._t_start
        code = 0
        values = self._values
        running = self._duty_out > 0.05

        # --- sensors -------------------------------------------------------------------------------------------
        p_feed = inputs["p_feed"]
        t_head = inputs["T_head"]
        o2 = inputs["sensor_O2"]
        q_meas = inputs["sensor_Q"]
        p_ok = self._p_check.check(t, p_feed, running)
        t_ok = self._t_check.check(t, t_head, False)
        o2_ok = self._o2_check.check(t, o2, running and elapsed > p["purity_grace_s"])
        q_ok = self._q_check.check(t, q_meas, False)
        if not p_ok:
            code |= BIT["SENSOR_PRESSURE"]
            values[7] = p_feed
        if not t_ok:
            code |= BIT["SENSOR_TEMPERATURE"]
            values[8] = t_head
        if not o2_ok:
            code |= BIT["SENSOR_O2"]
            values[9] = o2
        if not q_ok:
            code |= BIT["SENSOR_FLOW"]
            values[10] = q_meas

        # --- temperature: latched thermal shutdown ---------------------------------------------------------------
        reset_in = inputs["reset"]
        reset_edge = reset_in > 0.5 and not self._reset_prev > 0.5
        self._reset_prev = reset_in if reset_in == reset_in else 0.0
        if t_ok:
            if t_head > self._t_max:
                self._tripped = True
            elif self._tripped and reset_edge and t_head < self._t_reset:
                self._tripped = False
            if t_head < self._t_min:
                code |= BIT["LOW_TEMPERATURE"]
                values[6] = t_head
        if self._tripped:
            code |= BIT["THERMAL_SHUTDOWN"]
            values[5] = t_head

        # --- pressure: PWM reduction, hard limit, low pressure after the grace period -----------------------------
        cap = self._duty_cap
        if p_ok:
            if p_feed > self._p_hard:
                cap = 0.0
                code |= BIT["OVERPRESSURE_HARD"] | BIT["OVERPRESSURE"]
                values[1] = values[0] = p_feed
            elif p_feed > self._p_max:
                cap = min(cap, self._duty_out) * p["duty_reduction_factor"]
                code |= BIT["OVERPRESSURE"]
                values[0] = p_feed
            elif p_feed < self._p_recover:
                cap = min(1.0, cap + p["duty_recovery_per_s"] * ts)
            if p_feed < self._p_min and elapsed >= p["pressure_grace_s"]:
                if self._low_p_since != self._low_p_since:
                    self._low_p_since = t
                if t - self._low_p_since >= p["low_pressure_delay_s"]:
                    code |= BIT["LOW_PRESSURE"]
                    values[2] = p_feed
            else:
                self._low_p_since = math.nan
        self._duty_cap = cap

        # --- purity: cycle adjustment, escalation ----------------------------------------------------------------
        if o2_ok and elapsed >= p["purity_grace_s"]:
            low = o2 < p["purity_min"] or (
                self._code & BIT["LOW_PURITY"] and o2 < p["purity_min"] + p["purity_hysteresis"]
            )
            if low:
                code |= BIT["LOW_PURITY"]
                values[3] = o2
                if self._low_purity_since != self._low_purity_since:
                    self._low_purity_since = t
                if t - self._low_purity_since >= p["purity_escalate_s"]:
                    code |= BIT["LOW_PURITY_SUSTAINED"]
                    values[4] = o2
                if t - self._trim_changed_at >= p["trim_interval_s"] and self._trim > p["trim_min"]:
                    self._trim = max(p["trim_min"], self._trim - p["trim_step"])
                    self._trim_changed_at = t
            else:
                self._low_purity_since = math.nan
                if t - self._trim_changed_at >= p["trim_interval_s"] and self._trim < 1.0:
                    self._trim = min(1.0, self._trim + p["trim_step"])
                    self._trim_changed_at = t

        # --- requests -> safe commands ---------------------------------------------------------------------------
        out = self._out
        duty = inputs["duty_req"]
        if duty != duty or duty in (math.inf, -math.inf):
            duty = 0.0
            code |= BIT["COMMAND_INVALID"]
            values[12] = math.nan
        duty = min(max(duty, 0.0), 1.0, cap)
        if not (p_ok and t_ok):
            duty = min(duty, p["failsafe_duty"])
        if self._tripped:
            duty = 0.0
        self._duty_out = duty
        out["duty"] = duty

        r0 = inputs["cmd_feed_A_req"]
        r1 = inputs["cmd_feed_B_req"]
        r2 = inputs["cmd_vent_A_req"]
        r3 = inputs["cmd_vent_B_req"]
        r4 = inputs["cmd_equalize_req"]
        if math.isfinite(r0) and math.isfinite(r1) and math.isfinite(r2) and math.isfinite(r3) and math.isfinite(r4):
            out["cmd_feed_A"] = min(max(r0, 0.0), 1.0)
            out["cmd_feed_B"] = min(max(r1, 0.0), 1.0)
            out["cmd_vent_A"] = min(max(r2, 0.0), 1.0)
            out["cmd_vent_B"] = min(max(r3, 0.0), 1.0)
            out["cmd_equalize"] = min(max(r4, 0.0), 1.0)
        else:
            out["cmd_feed_A"], out["cmd_feed_B"], out["cmd_vent_A"], out["cmd_vent_B"], out["cmd_equalize"] = (
                FAILSAFE_VALVES
            )
            code |= BIT["COMMAND_INVALID"]
            values[12] = math.nan

        q_req = inputs["Q_set_req"]
        if math.isfinite(q_req):
            self._q_last = min(max(q_req, 0.0), self._q_max)
        else:
            code |= BIT["COMMAND_INVALID"]
            values[12] = math.nan
        q_set = self._q_last
        out["Q_set"] = q_set

        # --- occlusion (blocked cannula): measured flow far below the setpoint ----------------------------------
        if q_ok and elapsed >= p["purity_grace_s"] and q_set > self._q_occl_min:
            if q_meas < p["occlusion_fraction"] * q_set:
                if self._occl_since != self._occl_since:
                    self._occl_since = t
                if t - self._occl_since >= p["occlusion_time_s"]:
                    code |= BIT["OCCLUSION"]
                    values[11] = q_meas
            else:
                self._occl_since = math.nan
        else:
            self._occl_since = math.nan

        # --- alarms ----------------------------------------------------------------------------------------------
        out["cycle_time_trim"] = self._trim
        if code != self._code:
            self._log_changes(t, code)
            self._code = code
        if code & _LEVEL_MASKS[3]:
            out["alarm_level"] = 3.0
        elif code & _LEVEL_MASKS[2]:
            out["alarm_level"] = 2.0
        else:
            out["alarm_level"] = 1.0 if code else 0.0
        out["alarm_code"] = float(code)
        out["thermal_trip"] = 1.0 if self._tripped else 0.0
        out["failsafe"] = 0.0 if (p_ok and t_ok) else 1.0
        return out

    def get_state(self) -> Any:
        """Snapshot for master rollback: everything but the event log and the listener (a recorder must not be
        deep-copied); the log length is kept so a rollback drops the entries of the rejected step."""
        keep = {k: v for k, v in self.__dict__.items() if k not in ("events", "event_listener")}
        return copy.deepcopy(keep), len(self.events)

    def set_state(self, state: Any) -> None:
        snapshot, n_events = state
        self.__dict__.update(copy.deepcopy(snapshot))
        del self.events[n_events:]

    def _log_changes(self, t: float, code: int) -> None:
        """Append one event per condition that started or ended at t (only called when the code changed)."""
        changed = code ^ self._code
        for i, (condition, level, action) in enumerate(CONDITIONS):
            if changed >> i & 1:
                active = bool(code >> i & 1)
                event = WatchdogEvent(
                    t, condition, LEVEL_NAMES[level], self._values[i], action if active else "cleared", active
                )
                if len(self.events) >= self.max_events:
                    del self.events[0]
                self.events.append(event)
                state = "start" if active else "end"
                self.emit_event(t, f"{condition} {state}: {event.action}", level=event.level, value=event.value)


def check_topology(spec: Any) -> None:
    """Reject a scenario whose plant actuators can be driven around the watchdog.

    ``spec`` is an orchestrator.scenario.spec.ScenarioSpec with ``spec.watchdog`` naming the watchdog slave. Every
    connection into an actuator input (duty, cmd_*, Q_set) of an FMU slave must come from the watchdog's output of
    the same name with gain 1 and offset 0; every actuator input of the known O2Twin plant classes must be connected;
    the watchdog's sensor inputs (p_feed, sensor_O2, T_head, sensor_Q) must be connected. Raises
    SystemDefinitionError naming the offending connection or input.
    """
    source = getattr(spec, "source", "") or "<scenario>"
    wd = spec.watchdog
    if wd is None or wd not in spec.slaves:
        raise SystemDefinitionError(f"{source}: [safety] watchdog = {wd!r} names no slave in [slaves]")
    wd_spec = spec.slaves[wd]
    if wd_spec.kind != "block" or not str(wd_spec.block).endswith(":SafetyWatchdog"):
        raise SystemDefinitionError(
            f"{source}: [safety] watchdog slave '{wd}' must be block = 'controllers.watchdog:SafetyWatchdog', "
            f"got {wd_spec.block or wd_spec.fmu!r}"
        )
    plant = {name for name, s in spec.slaves.items() if s.kind == "fmu"}
    driven: set[str] = set()
    for i, c in enumerate(spec.connections, 1):
        if c.target_slave in plant and c.target_var in ACTUATORS:
            where = f"{source}: [[connections]] #{i} ('{c.source}' -> '{c.target}')"
            if c.source_slave != wd:
                raise SystemDefinitionError(
                    f"{where}: actuator input '{c.target}' must be driven by the watchdog: connect "
                    f"'{wd}.{c.target_var}' to it and the controller to '{wd}.{c.target_var}_req'"
                )
            if c.source_var != c.target_var:
                raise SystemDefinitionError(
                    f"{where}: actuator '{c.target}' must take the watchdog output of the same name, '{wd}.{c.target_var}'"
                )
            if c.gain != 1.0 or c.offset != 0.0:
                raise SystemDefinitionError(f"{where}: an actuator connection must have gain 1 and offset 0")
            driven.add(c.target)
    for name in plant:
        s = spec.slaves[name]
        for actuator in _known_actuators(s.fmu or ""):
            target = f"{name}.{actuator}"
            if target not in driven:
                raise SystemDefinitionError(
                    f"{source}: actuator input '{target}' is not connected; connect '{wd}.{actuator}' to it"
                )
    sensed = {c.target_var for c in spec.connections if c.target_slave == wd}
    for sensor in SENSORS:
        if sensor not in sensed:
            raise SystemDefinitionError(
                f"{source}: watchdog input '{wd}.{sensor}' is not connected; the watchdog needs every sensor "
                f"({', '.join(SENSORS)}) wired from the plant"
            )


def _known_actuators(fmu: str) -> tuple[str, ...]:
    """Actuator inputs of the O2Twin plant classes (by class name or FMU file name); () for other FMUs."""
    key = fmu.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".fmu").replace("_", ".")
    if key.endswith("CoSim.Compressor"):
        return ("duty",)
    if key.endswith("CoSim.PSAUnit"):
        return (*VALVES, "Q_set")
    if key.endswith("Plant.Concentrator"):
        return ACTUATORS
    return ()
