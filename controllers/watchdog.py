"""SafetyWatchdog: the deterministic, fail-safe layer between every controller and the concentrator's actuators.

Controllers send *requests* (``duty_req``, ``cmd_*_req``, ``Q_set_req``); the watchdog reads the plant's sensors and
sends the *safe commands* (``duty``, ``cmd_*``, ``Q_set``) that alone may drive the plant's actuator inputs
(``check_topology`` enforces this for a scenario). The alarm conditions, their codes and IEC 60601-1-8 priorities
are the table of controllers/alarms.py; docs/safety.md is the safety model (hazards, guarantees, tests).

Hazards and safe states (each latched until the reset below):

| hazard | guarded by | raised when | safe state |
| --- | --- | --- | --- |
| overpressure | p_feed | above p_hard_max_barg (3.5 bar(g)), or the reading is faulty | compressor off, vent path open |
| overheating | T_head | above t_max_degc (85 degC), or the reading is faulty | compressor off |
| link loss (HIL) | link_ok | the device link is not ok (not latched: ends with the link's recovery) | both of the above |

A reading is *faulty* when it is NaN or infinite, outside its physical range (the ``*_RANGE`` limits below), changes
faster than physically possible (rate of change), or, for pressure and O2 while the compressor runs, stays within
a tolerance band (``p_stuck_tol_bar``, ``o2_stuck_tol``) for the stuck window (``stuck_time_s``) of running: a
frozen sensor, also one that dithers. The window counts running samples only and pauses while the compressor is
off (a stop of one sample every few seconds used to restart it, and a frozen reading was never caught); a reset
that clears the pressure latch restarts it. (The feed pressure swings by tenths of a bar every PSA cycle, so its
0.01 bar band has a wide margin; the product purity can stay flat within 1e-5 for minutes near the argon limit, so the O2 band is 0 by
default: only a frozen O2 value is caught, and the patient's SpO2 alarm guards what a wrong purity reading hides.) A faulty reading never acts less safely than the limit it guards: a pressure fault gives
the pressure safe state as the hard limit does, a temperature fault stops the compressor as the thermal trip does;
and a reading beyond a hard limit is that limit's violation whether or not it is also implausible (240 degC trips
the thermal shutdown; 1743 bar is an overpressure). Below the hard limits: above p_max_barg the duty cap falls by
``duty_reduction_factor`` every sample (recovering at ``duty_recovery_per_s`` below p_max - p_hysteresis_bar).

Reset: a rising edge of the ``reset`` input (> 0.5) clears each latch whose cause is gone: the pressure latch when
the reading is plausible and below p_max - p_hysteresis_bar; the thermal trip when the reading is plausible and
below t_max - t_reset_hysteresis_k; a temperature sensor fault when the reading is plausible again. A latch whose
cause persists survives the reset.

Reaction time (the block's): a violation or fault present in the inputs at a sample instant sets the commands
computed at that same instant (duty 0 at once); the plant sees them from the next communication step, so the
worst case from the physical crossing to the actuator is one sample_time plus one master step (0.05 s + 0.05 s in
the default scenario). A stuck or dithering reading is caught within stuck_time_s * 5/4 of the compressor running
against it (running time, added up over stops): the band is checked over the last four complete sub-windows of
stuck_time_s / 4 (rounded up to whole samples), so the worst case is five sub-windows (12.5 s for the default 10 s
at 0.05 s).

Other conditions: low feed pressure, low purity (with cycle-time trim and escalation), low head temperature,
faulty O2 and flow readings (held for fault_hold_s), no flow (supply down) vs occlusion (supply up), low SpO2 (two
levels with delays), a lost SpO2 signal, invalid requests. Consequences of a shutdown (low pressure, low purity,
no flow, occlusion) are suppressed while the shutdown's cause is active (controllers/alarms.py, cascade).
Interlock: the compressor is held off while no feed valve is commanded open (it would run dead-headed).

One update is a fixed sequence of phases on scalars: O(1), no I/O, no containers created per step (the outputs
are written into the same dict every sample, the state lives in preallocated attributes); one log entry is
allocated when an alarm condition starts or ends. Outputs: alarm_level (0 none, 1 low, 2 medium, 3 high: the
highest active priority), alarm_code (bit mask of active conditions, bit i = ALARMS[i]), thermal_trip and
pressure_trip (the latches), failsafe (a faulty guard sensor or a lost link). The event log (``events``: time,
condition, level, value, action, active) has one entry per start and end of a condition; each entry is also emitted
as it happens (``Slave.emit_event``, with the fields name, priority, value and active: the master passes it to the
run's event log, events.jsonl).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from controllers.alarms import ALARMS, BIT, CAUSE_MASKS, PRIORITY_MASKS, SHUTDOWN_CAUSES, Priority, mask
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import P_ATM_PA, slpm_to_m3s

#: Priority labels by alarm_level (0 none, 1 low, 2 medium, 3 high).
LEVEL_NAMES = tuple(p.label for p in Priority)
#: (condition, level, action) in bit order of alarm_code (the table of controllers/alarms.py, as tuples).
CONDITIONS: tuple[tuple[str, int, str], ...] = tuple((a.name, int(a.priority), a.action) for a in ALARMS)

#: Actuator inputs of the plant that only the watchdog may drive (the watchdog's outputs have the same names).
ACTUATORS = ("duty", "cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize", "Q_set")
VALVES = ACTUATORS[1:6]
#: Valves of the pressure safe state (also used when the valve requests are unusable): both beds open to feed and
#: vent, equalisation closed, so the feed manifold vents through the beds to the exhaust and nothing builds pressure.
PRESSURE_SAFE_VALVES = (1.0, 1.0, 1.0, 1.0, 0.0)
FAILSAFE_VALVES = PRESSURE_SAFE_VALVES
#: Sensor inputs the watchdog must see (check_topology requires them connected).
SENSORS = ("p_feed", "sensor_O2", "T_head", "sensor_Q")

#: Duty above which the compressor counts as running (stuck detection armed, supply up).
RUNNING_DUTY = 0.05
#: A valve command at or above this is open (the interlock's test).
VALVE_OPEN = 0.5


class PlausibleRange(NamedTuple):
    """Physical range of a reading (SI): outside it the sensor is faulty."""

    lo: float
    hi: float


#: Feed pressure, absolute: below any ambient pressure where people live, far above the hard limit.
P_FEED_RANGE_PA = PlausibleRange(0.2e5, 12e5)
#: Compressor head temperature: -73 .. 227 degC.
T_HEAD_RANGE_K = PlausibleRange(200.0, 500.0)
#: O2 fraction.
O2_RANGE = PlausibleRange(0.0, 1.0)
#: Product flow, standard: -0.06 .. 30 L/min (a small negative offset is sensor zero error).
Q_RANGE_M3S = PlausibleRange(-1e-6, 5e-4)
#: Product flow rate of change: 120 L/min per second.
Q_RATE_MAX_M3S_PER_S = 2e-3
#: SpO2 fraction; a reading outside it (or NaN) is "no reading".
SPO2_RANGE = PlausibleRange(0.0, 1.0)
#: Sub-windows of the stuck window (the band is checked over the last this many).
STUCK_SUBWINDOWS = 4

#: The longest sample time the watchdog runs at: its reaction time is one sample time plus one master step.
MAX_SAMPLE_TIME_S = 0.1
#: The guards' safe envelope: a scenario, ``--set`` or the dashboard may tighten a hazard limit but never widen it
#: beyond the value the safety model is stated for (docs/safety.md); name -> (lowest, highest) accepted value.
#: The hard pressure and thermal limits stay below the device's own (3.75 bar(g), 90 degC) so the host acts first;
#: the plausible rates and the stuck window and band are those the reaction times are stated for; the ambient
#: reference spans the sites a concentrator is rated for (79.5 kPa at 2000 m) up to the highest sea-level pressure
#: (a higher reference would lift every absolute pressure limit with it); Q_set up to the unit's rating.
SAFE_ENVELOPE: dict[str, tuple[float, float]] = {
    "p_ambient": (50e3, 110e3),
    "p_hard_max_barg": (-math.inf, 3.5),
    "t_max_degc": (-math.inf, 85.0),
    "p_rate_max_bar_per_s": (-math.inf, 50.0),
    "t_rate_max_k_per_s": (-math.inf, 5.0),
    "stuck_time_s": (-math.inf, 10.0),
    "p_stuck_tol_bar": (0.01, math.inf),
    "q_max_slpm": (-math.inf, 10.0),
}

# Named condition bits (controllers/alarms.py).
_OVERPRESSURE = BIT["OVERPRESSURE"]
_OVERPRESSURE_HARD = BIT["OVERPRESSURE_HARD"]
_LOW_PRESSURE = BIT["LOW_PRESSURE"]
_LOW_PURITY = BIT["LOW_PURITY"]
_LOW_PURITY_SUSTAINED = BIT["LOW_PURITY_SUSTAINED"]
_THERMAL_SHUTDOWN = BIT["THERMAL_SHUTDOWN"]
_LOW_TEMPERATURE = BIT["LOW_TEMPERATURE"]
_SENSOR_PRESSURE = BIT["SENSOR_PRESSURE"]
_SENSOR_TEMPERATURE = BIT["SENSOR_TEMPERATURE"]
_SENSOR_O2 = BIT["SENSOR_O2"]
_SENSOR_FLOW = BIT["SENSOR_FLOW"]
_OCCLUSION = BIT["OCCLUSION"]
_COMMAND_INVALID = BIT["COMMAND_INVALID"]
_NO_FLOW = BIT["NO_FLOW"]
_LOW_SPO2 = BIT["LOW_SPO2"]
_LOW_SPO2_SEVERE = BIT["LOW_SPO2_SEVERE"]
_SENSOR_SPO2 = BIT["SENSOR_SPO2"]
_LINK_LOSS = BIT["LINK_LOSS"]
#: Conditions that put the pressure safe state on (compressor off, vent path open).
_PRESSURE_SAFE = _OVERPRESSURE_HARD | _SENSOR_PRESSURE | _LINK_LOSS
#: Conditions that stop the compressor.
_COMPRESSOR_OFF = _PRESSURE_SAFE | _THERMAL_SHUTDOWN | _SENSOR_TEMPERATURE
#: Conditions reported as the fail-safe output (a guard that can no longer see its hazard).
_FAILSAFE = _SENSOR_PRESSURE | _SENSOR_TEMPERATURE | _LINK_LOSS
_HIGH, _MEDIUM, _LOW = PRIORITY_MASKS[3], PRIORITY_MASKS[2], PRIORITY_MASKS[1]


def _cascade_masks() -> tuple[int, int]:
    """(causes, dependents) of the alarm table: every dependent condition has the same causes (the shutdowns), so
    one mask test suppresses them all; a table that breaks this must not be run by this watchdog."""
    causes = mask(SHUTDOWN_CAUSES)
    dependents = 0
    for alarm, cause_mask in zip(ALARMS, CAUSE_MASKS, strict=True):
        if cause_mask and cause_mask != causes:
            raise ImportError(f"controllers.alarms: {alarm.name} has causes other than SHUTDOWN_CAUSES")
        if cause_mask:
            dependents |= alarm.bit
    return causes, dependents


_SHUTDOWN, _DEPENDENT = _cascade_masks()
_INF = math.inf


class WatchdogEvent(NamedTuple):
    """One entry of the watchdog's event log."""

    time: float  #: s
    condition: str  #: the alarm's name (controllers/alarms.py)
    level: str  #: priority: "low" | "medium" | "high"
    value: float  #: the reading that started or ended the condition (SI)
    action: str
    active: bool  #: True when the condition starts, False when it ends


class _Reading:
    """Plausibility of one sensor: range, rate of change and, optionally, stuck detection; O(1) state.

    Stuck: the readings of the last ``STUCK_SUBWINDOWS`` complete sub-windows (``sub_n`` armed samples each) all lie
    within a band of width ``tol``. The band's extremes are kept per sub-window in two fixed-size lists, so a reading
    that freezes (or dithers within the band) is caught after at most STUCK_SUBWINDOWS + 1 sub-windows of armed
    samples. Disarmed samples pause the window (they neither count nor restart it); only ``restart`` forgets it.
    """

    __slots__ = (
        "cur_hi",
        "cur_lo",
        "full",
        "hi",
        "highs",
        "k",
        "left",
        "lo",
        "lows",
        "prev",
        "prev_t",
        "rate_max",
        "stuck",
        "sub_n",
        "tol",
    )  # fmt: skip

    def __init__(self, limits: PlausibleRange, rate_max: float, sub_n: int = 0, tol: float = 0.0) -> None:
        self.lo, self.hi = limits
        self.rate_max = rate_max
        self.prev = math.nan  # the last plausible reading and its time
        self.prev_t = math.nan
        self.tol = tol
        self.sub_n = sub_n
        self.lows = [0.0] * STUCK_SUBWINDOWS
        self.highs = [0.0] * STUCK_SUBWINDOWS
        self.k = 0
        self.full = 0
        self.left = -1  # samples still to come in the current sub-window; -1: none started
        self.cur_lo = self.cur_hi = math.nan
        self.stuck = False

    def plausible(self, t: float, x: float) -> bool:
        """In range (not NaN, not infinite) and no faster than rate_max since the last plausible reading."""
        if not self.lo <= x <= self.hi:
            return False
        prev = self.prev
        if prev == prev and abs(x - prev) > self.rate_max * (t - self.prev_t):
            return False
        self.prev = x
        self.prev_t = t
        return True

    def restart(self) -> None:
        """Forget the stuck window (a reset that cleared the latch the stuck reading caused: the sensor gets a fresh
        window of running to show that it moves again)."""
        self.full = 0
        self.left = -1
        self.stuck = False

    def stuck_for(self, x: float, armed: bool) -> bool:
        """True while the (plausible) reading x has stayed within the band over the stuck window, counted in armed
        samples only: while disarmed the window pauses (False is returned; nothing is added or forgotten), so a
        compressor that stops for a moment now and then cannot hide a frozen reading by restarting the window."""
        if not armed:
            return False
        if self.left > 0:
            self.left -= 1
            if x < self.cur_lo:
                self.cur_lo = x
            elif x > self.cur_hi:
                self.cur_hi = x
            return self.stuck
        if self.left == 0:  # a sub-window is complete: keep its extremes, test the whole window
            k = self.k
            self.lows[k] = self.cur_lo
            self.highs[k] = self.cur_hi
            self.k = (k + 1) % STUCK_SUBWINDOWS
            if self.full < STUCK_SUBWINDOWS:
                self.full += 1
            self.stuck = self.full == STUCK_SUBWINDOWS and max(self.highs) - min(self.lows) <= self.tol
        self.cur_lo = self.cur_hi = x
        self.left = self.sub_n - 1
        return self.stuck


def stuck_subwindow_samples(stuck_time_s: float, sample_time: float) -> int:
    """Samples per stuck sub-window: stuck_time_s / STUCK_SUBWINDOWS rounded up to whole samples (at least 1)."""
    return max(1, math.ceil(stuck_time_s / STUCK_SUBWINDOWS / sample_time - 1e-9))


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
        Variable(
            "spo2",
            "input",
            unit="1",
            start=math.nan,
            description="patient SpO2 reading (NaN: no reading; unconnected: no SpO2 alarms)",
        ),
        Variable(
            "link_ok",
            "input",
            unit="1",
            start=1.0,
            description="hardware-in-the-loop link state (0: lost); 1 when there is no device",
        ),
        Variable("reset", "input", unit="1", start=0.0, description="rising edge > 0.5 resets the latches"),
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
        Variable(
            "pressure_trip",
            "output",
            unit="1",
            start=0.0,
            description="1 while the pressure safe state latches (compressor off, vent path open)",
        ),
        Variable(
            "failsafe",
            "output",
            unit="1",
            start=0.0,
            description="1 while a faulty guard sensor or a lost link holds a safe state",
        ),
    )
    PARAMETERS = (
        Variable("p_ambient", "parameter", unit="Pa", start=P_ATM_PA, description="reference of gauge pressure"),
        Variable("p_max_barg", "parameter", unit="bar", start=3.0, description="PWM reduction above"),
        Variable("p_hard_max_barg", "parameter", unit="bar", start=3.5, description="pressure safe state above"),
        Variable("p_min_barg", "parameter", unit="bar", start=0.5, description="low-pressure alarm below"),
        Variable("p_hysteresis_bar", "parameter", unit="bar", start=0.2, description="recovery below max-hys"),
        Variable("pressure_grace_s", "parameter", unit="s", start=60.0, description="start-up: no low-pressure alarm"),
        Variable("low_pressure_delay_s", "parameter", unit="s", start=5.0, description="persistence of low pressure"),
        Variable("duty_reduction_factor", "parameter", unit="1", start=0.7, description="cap factor per sample"),
        Variable("duty_recovery_per_s", "parameter", unit="1/s", start=0.1, description="cap recovery rate"),
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
        Variable("stuck_time_s", "parameter", unit="s", start=10.0, description="stuck window (pressure, O2)"),
        Variable("p_stuck_tol_bar", "parameter", unit="bar", start=0.01, description="stuck band of the pressure"),
        Variable(
            "o2_stuck_tol",
            "parameter",
            unit="1",
            start=0.0,
            description="stuck band of the O2 reading (0: only a frozen value; purity can be flat)",
        ),
        Variable("fault_hold_s", "parameter", unit="s", start=2.0, description="O2/flow sensor fault holds this long"),
        Variable("p_rate_max_bar_per_s", "parameter", unit="bar/s", start=50.0, description="plausible dp/dt"),
        Variable("t_rate_max_k_per_s", "parameter", unit="K/s", start=5.0, description="plausible dT/dt"),
        Variable("o2_rate_max_per_s", "parameter", unit="1/s", start=0.2, description="plausible d(purity)/dt"),
        Variable("spo2_low", "parameter", unit="1", start=0.85, description="low-SpO2 alarm below"),
        Variable("spo2_low_delay_s", "parameter", unit="s", start=15.0, description="persistence of low SpO2"),
        Variable("spo2_severe", "parameter", unit="1", start=0.80, description="severe-desaturation alarm below"),
        Variable("spo2_severe_delay_s", "parameter", unit="s", start=5.0, description="persistence of severe"),
        Variable("spo2_dropout_s", "parameter", unit="s", start=30.0, description="no SpO2 reading this long: alarm"),
    )

    @classmethod
    def check_scenario(cls, spec: Any) -> None:
        """The check the block registry runs on a scenario whose [safety] watchdog is this block (check_topology)."""
        check_topology(spec)

    def __init__(self, name: str, sample_time: float) -> None:
        super().__init__(name, sample_time)
        self._ts = float(sample_time)
        self.events: list[WatchdogEvent] = []
        #: Entries kept at most (oldest dropped beyond this, so a flapping condition cannot exhaust memory).
        self.max_events = 100_000

    def validate_parameters(self) -> None:
        p = self.p
        for name, value in p.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a finite number, got {value!r}")
        if not self._ts <= MAX_SAMPLE_TIME_S:
            raise SystemDefinitionError(
                f"{self.name}: sample_time = {self._ts:g} s is longer than the watchdog's {MAX_SAMPLE_TIME_S:g} s: its "
                "reaction time is one sample time plus one master step; set [slaves."
                f"{self.name}] sample_time to at most {MAX_SAMPLE_TIME_S:g}"
            )
        for name, (lo, hi) in SAFE_ENVELOPE.items():
            if not lo <= p[name] <= hi:
                raise SystemDefinitionError(
                    f"{self.name}: parameter '{name}' = {p[name]:g} is outside the watchdog's safe envelope: it must "
                    f"be {_bound_text(lo, hi)} ({self.variables[name].unit}); a hazard limit may be tightened, never widened "
                    "(controllers.watchdog.SAFE_ENVELOPE, docs/safety.md)"
                )
        if not (0 <= p["p_min_barg"] < p["p_max_barg"] <= p["p_hard_max_barg"]):
            raise SystemDefinitionError(
                f"{self.name}: need 0 <= p_min_barg < p_max_barg <= p_hard_max_barg, got "
                f"{p['p_min_barg']}, {p['p_max_barg']}, {p['p_hard_max_barg']}"
            )
        if not 0.0 <= p["duty_reduction_factor"] < 1.0:
            raise SystemDefinitionError(f"{self.name}: duty_reduction_factor must lie in [0, 1) so the duty falls")
        for name in ("purity_min", "trim_min", "occlusion_fraction"):
            if not 0.0 <= p[name] <= 1.0:
                raise SystemDefinitionError(f"{self.name}: {name} must lie in 0..1, got {p[name]}")
        if not 0.0 <= p["spo2_severe"] <= p["spo2_low"] <= 1.0:
            raise SystemDefinitionError(f"{self.name}: need 0 <= spo2_severe <= spo2_low <= 1 (fractions, not %)")
        if not p["t_min_degc"] < p["t_max_degc"] - p["t_reset_hysteresis_k"] < p["t_max_degc"]:
            raise SystemDefinitionError(
                f"{self.name}: need t_min_degc < t_max_degc - t_reset_hysteresis_k and a hysteresis > 0 K"
            )
        for name in ("q_max_slpm", "stuck_time_s", "trim_interval_s", "p_rate_max_bar_per_s", "t_rate_max_k_per_s",
                     "o2_rate_max_per_s", "spo2_dropout_s"):  # fmt: skip
            if not p[name] > 0:
                raise SystemDefinitionError(f"{self.name}: {name} must be > 0, got {p[name]}")
        for name in ("pressure_grace_s", "low_pressure_delay_s", "purity_grace_s", "purity_escalate_s",
                     "occlusion_time_s", "fault_hold_s", "p_hysteresis_bar", "purity_hysteresis", "trim_step",
                     "duty_recovery_per_s", "occlusion_q_min_slpm", "p_stuck_tol_bar", "o2_stuck_tol",
                     "spo2_low_delay_s", "spo2_severe_delay_s"):  # fmt: skip
            if not p[name] >= 0:
                raise SystemDefinitionError(f"{self.name}: {name} must be >= 0, got {p[name]}")

    def reset(self) -> None:
        p = self.p
        sub_n = stuck_subwindow_samples(p["stuck_time_s"], self._ts)
        self._p_reading = _Reading(P_FEED_RANGE_PA, p["p_rate_max_bar_per_s"] * 1e5, sub_n, p["p_stuck_tol_bar"] * 1e5)
        self._t_reading = _Reading(T_HEAD_RANGE_K, p["t_rate_max_k_per_s"])
        self._o2_reading = _Reading(O2_RANGE, p["o2_rate_max_per_s"], sub_n, p["o2_stuck_tol"])
        self._q_reading = _Reading(Q_RANGE_M3S, Q_RATE_MAX_M3S_PER_S)
        # Thresholds and timers in SI, computed once (no parameter lookups per step).
        pa = p["p_ambient"]
        self._p_max = pa + p["p_max_barg"] * 1e5
        self._p_hard = pa + p["p_hard_max_barg"] * 1e5
        self._p_min = pa + p["p_min_barg"] * 1e5
        self._p_recover = self._p_max - p["p_hysteresis_bar"] * 1e5
        self._cap_factor = p["duty_reduction_factor"]
        self._cap_step = p["duty_recovery_per_s"] * self._ts
        self._t_max = p["t_max_degc"] + 273.15
        self._t_min = p["t_min_degc"] + 273.15
        self._t_reset = self._t_max - p["t_reset_hysteresis_k"]
        self._q_max = slpm_to_m3s(p["q_max_slpm"])
        self._q_occl_min = slpm_to_m3s(p["occlusion_q_min_slpm"])
        self._fault_hold = p["fault_hold_s"]
        # State.
        self._t_start = math.nan
        self._running = False  # the compressor ran in the last sample (duty > RUNNING_DUTY)
        self._duty_cap = 1.0
        self._q_last = 0.0
        self._p_latch = 0  # causes holding the pressure safe state (OVERPRESSURE_HARD, SENSOR_PRESSURE bits)
        self._t_latch = 0  # causes holding the compressor off (THERMAL_SHUTDOWN, SENSOR_TEMPERATURE bits)
        self._p_ok = True
        self._reset_prev = 0.0
        self._o2_bad_until = -_INF
        self._q_bad_until = -_INF
        self._low_p_since = math.nan
        self._low_purity_since = math.nan
        self._flow_low_since = math.nan
        self._supply_up_t = -_INF  # last sample with the supply up (compressor running, feed at least p_min)
        self._spo2_low_since = math.nan
        self._spo2_severe_since = math.nan
        self._spo2_valid_t = math.nan  # NaN until a first valid reading (an unconnected oximeter raises nothing)
        self._spo2_code = 0
        self._trim = 1.0
        self._trim_changed_at = -_INF
        self._code = 0
        self._values = dict.fromkeys(BIT.values(), 0.0)  # condition bit -> the reading behind it (event log)
        self.events.clear()
        self._out = {name: 0.0 for name in (*ACTUATORS, "alarm_level", "alarm_code", "thermal_trip", "pressure_trip",
                                            "failsafe")}  # fmt: skip
        self._out["cycle_time_trim"] = 1.0

    # ------------------------------------------------------------------------------------------------------------
    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        if self._t_start != self._t_start:  # first sample
            self._t_start = t
        elapsed = t - self._t_start
        reset_in = inputs["reset"]
        reset_edge = reset_in > 0.5 and not self._reset_prev > 0.5
        self._reset_prev = reset_in if reset_in == reset_in else 0.0
        p_feed = inputs["p_feed"]
        # 1. hazards: guards that latch safe states
        code = self._guard_pressure(t, p_feed, reset_edge)
        code |= self._guard_temperature(t, inputs["T_head"], reset_edge)
        if not inputs["link_ok"] > 0.5:
            code |= _LINK_LOSS
        # 2. requests -> safe commands
        code |= self._command(inputs, code)
        # 3. consequences (suppressed while a shutdown explains them) and the patient
        shutdown = code & _SHUTDOWN
        code |= self._check_low_pressure(t, p_feed, elapsed, shutdown)
        code |= self._check_purity(t, inputs["sensor_O2"], elapsed, shutdown)
        code |= self._check_flow(t, inputs["sensor_Q"], p_feed, elapsed, shutdown)
        code |= self._check_spo2(t, inputs["spo2"])
        # 4. alarms
        return self._publish(t, code)

    def _guard_pressure(self, t: float, p: float, reset_edge: bool) -> int:
        """Feed pressure: the hard limit and a faulty reading latch the pressure safe state; above p_max the duty
        cap falls every sample. Returns the active pressure bits."""
        reading = self._p_reading
        ok = reading.plausible(t, p) and not reading.stuck_for(p, self._running)
        self._p_ok = ok
        latch = self._p_latch
        code = 0
        if p > self._p_hard:  # beyond the hard limit, plausible or not (+inf included)
            if not latch & _OVERPRESSURE_HARD:
                self._values[_OVERPRESSURE_HARD] = p
            latch |= _OVERPRESSURE_HARD
            code = _OVERPRESSURE
            self._values[_OVERPRESSURE] = p
        if not ok:
            if not latch & _SENSOR_PRESSURE:
                self._values[_SENSOR_PRESSURE] = p
            latch |= _SENSOR_PRESSURE
        else:
            if reset_edge and latch and p < self._p_recover:
                latch = 0
                reading.restart()
            cap = self._duty_cap
            if p > self._p_max:
                cap = min(cap, self._out["duty"]) * self._cap_factor
                code = _OVERPRESSURE
                self._values[_OVERPRESSURE] = p
            elif p < self._p_recover and cap < 1.0:
                cap = min(1.0, cap + self._cap_step)
            self._duty_cap = cap
        self._p_latch = latch
        return code | latch

    def _guard_temperature(self, t: float, temp: float, reset_edge: bool) -> int:
        """Head temperature: the limit and a faulty reading latch the compressor off. Returns the active bits."""
        ok = self._t_reading.plausible(t, temp)
        latch = self._t_latch
        code = 0
        if temp > self._t_max:  # beyond the limit, plausible or not
            if not latch & _THERMAL_SHUTDOWN:
                self._values[_THERMAL_SHUTDOWN] = temp
            latch |= _THERMAL_SHUTDOWN
        if not ok:
            if not latch & _SENSOR_TEMPERATURE:
                self._values[_SENSOR_TEMPERATURE] = temp
            latch |= _SENSOR_TEMPERATURE
        else:
            if reset_edge and latch:
                latch = 0 if temp < self._t_reset else latch & ~_SENSOR_TEMPERATURE
            if temp < self._t_min:
                code = _LOW_TEMPERATURE
                self._values[_LOW_TEMPERATURE] = temp
        self._t_latch = latch
        return code | latch

    def _command(self, u: Mapping[str, float], code: int) -> int:
        """Requests -> safe commands: clamped, substituted when invalid, overridden by the safe states and the
        dead-head interlock. Returns COMMAND_INVALID when a request had to be replaced."""
        out = self._out
        invalid = 0
        duty = u["duty_req"]
        if not -_INF < duty < _INF:
            duty = 0.0
            invalid = _COMMAND_INVALID
        elif duty > self._duty_cap:
            duty = self._duty_cap
        elif duty < 0.0:
            duty = 0.0
        r0 = u["cmd_feed_A_req"]
        r1 = u["cmd_feed_B_req"]
        r2 = u["cmd_vent_A_req"]
        r3 = u["cmd_vent_B_req"]
        r4 = u["cmd_equalize_req"]
        if code & _PRESSURE_SAFE:
            r0, r1, r2, r3, r4 = PRESSURE_SAFE_VALVES
        elif -_INF < r0 < _INF and -_INF < r1 < _INF and -_INF < r2 < _INF and -_INF < r3 < _INF and -_INF < r4 < _INF:
            r0 = 0.0 if r0 < 0.0 else (1.0 if r0 > 1.0 else r0)
            r1 = 0.0 if r1 < 0.0 else (1.0 if r1 > 1.0 else r1)
            r2 = 0.0 if r2 < 0.0 else (1.0 if r2 > 1.0 else r2)
            r3 = 0.0 if r3 < 0.0 else (1.0 if r3 > 1.0 else r3)
            r4 = 0.0 if r4 < 0.0 else (1.0 if r4 > 1.0 else r4)
        else:
            invalid = _COMMAND_INVALID
            r0, r1, r2, r3, r4 = PRESSURE_SAFE_VALVES
        if code & _COMPRESSOR_OFF or (r0 < VALVE_OPEN and r1 < VALVE_OPEN):
            duty = 0.0
        out["duty"] = duty
        out["cmd_feed_A"] = r0
        out["cmd_feed_B"] = r1
        out["cmd_vent_A"] = r2
        out["cmd_vent_B"] = r3
        out["cmd_equalize"] = r4
        q_req = u["Q_set_req"]
        if not -_INF < q_req < _INF:
            invalid = _COMMAND_INVALID
        else:
            self._q_last = 0.0 if q_req < 0.0 else (self._q_max if q_req > self._q_max else q_req)
        out["Q_set"] = self._q_last
        if invalid:
            self._values[_COMMAND_INVALID] = math.nan
        return invalid

    def _check_low_pressure(self, t: float, p: float, elapsed: float, shutdown: int) -> int:
        """Feed pressure below p_min for low_pressure_delay_s, after the start-up grace period."""
        if shutdown or not self._p_ok or not p < self._p_min or elapsed < self.p["pressure_grace_s"]:
            self._low_p_since = math.nan
            return 0
        if self._low_p_since != self._low_p_since:
            self._low_p_since = t
        if t - self._low_p_since < self.p["low_pressure_delay_s"]:
            return 0
        self._values[_LOW_PRESSURE] = p
        return _LOW_PRESSURE

    def _check_purity(self, t: float, o2: float, elapsed: float, shutdown: int) -> int:
        """O2 reading: fault (held), low purity with cycle trim and escalation after the grace period."""
        p = self.p
        reading = self._o2_reading
        graced = elapsed >= p["purity_grace_s"]
        if not reading.plausible(t, o2) or reading.stuck_for(o2, self._running and graced):
            self._o2_bad_until = t + self._fault_hold
            self._values[_SENSOR_O2] = o2
        if t < self._o2_bad_until:
            return _SENSOR_O2  # purity unknown: no cycle adjustment
        if not graced:
            return 0
        if shutdown:
            self._low_purity_since = math.nan
            return 0
        code = 0
        if o2 < p["purity_min"] or (self._code & _LOW_PURITY and o2 < p["purity_min"] + p["purity_hysteresis"]):
            code = _LOW_PURITY
            self._values[_LOW_PURITY] = o2
            if self._low_purity_since != self._low_purity_since:
                self._low_purity_since = t
            if t - self._low_purity_since >= p["purity_escalate_s"]:
                code |= _LOW_PURITY_SUSTAINED
                self._values[_LOW_PURITY_SUSTAINED] = o2
            if t - self._trim_changed_at >= p["trim_interval_s"] and self._trim > p["trim_min"]:
                self._trim = max(p["trim_min"], self._trim - p["trim_step"])
                self._trim_changed_at = t
        else:
            self._low_purity_since = math.nan
            if t - self._trim_changed_at >= p["trim_interval_s"] and self._trim < 1.0:
                self._trim = min(1.0, self._trim + p["trim_step"])
                self._trim_changed_at = t
        return code

    def _check_flow(self, t: float, q: float, p_feed: float, elapsed: float, shutdown: int) -> int:
        """Product flow far below the setpoint for occlusion_time_s: OCCLUSION while the supply is up (compressor
        running and feed pressure at least p_min at some sample within the last occlusion_time_s), NO_FLOW when it
        is down; SENSOR_FLOW (held) for a faulty reading."""
        if not self._q_reading.plausible(t, q):
            self._q_bad_until = t + self._fault_hold
            self._values[_SENSOR_FLOW] = q
        if t < self._q_bad_until:
            self._flow_low_since = math.nan
            return _SENSOR_FLOW
        if self._running and self._p_ok and p_feed >= self._p_min:
            self._supply_up_t = t  # the PSA cycle dips below p_min at each bed switch: keep the last time it was up
        q_set = self._q_last
        p = self.p
        if (shutdown or elapsed < p["purity_grace_s"] or not q_set > self._q_occl_min
                or not q < p["occlusion_fraction"] * q_set):  # fmt: skip
            self._flow_low_since = math.nan
            return 0
        if self._flow_low_since != self._flow_low_since:
            self._flow_low_since = t
        if t - self._flow_low_since < p["occlusion_time_s"]:
            return 0
        if t - self._supply_up_t <= p["occlusion_time_s"]:
            self._values[_OCCLUSION] = q
            return _OCCLUSION
        self._values[_NO_FLOW] = q
        return _NO_FLOW

    def _check_spo2(self, t: float, spo2: float) -> int:
        """Patient SpO2: two levels with delays; a reading lost for spo2_dropout_s (after valid ones) is an alarm,
        shorter dropouts hold the last state."""
        p = self.p
        if 0.0 <= spo2 <= 1.0:
            self._spo2_valid_t = t
            code = 0
            if spo2 < p["spo2_low"]:
                if self._spo2_low_since != self._spo2_low_since:
                    self._spo2_low_since = t
                if t - self._spo2_low_since >= p["spo2_low_delay_s"]:
                    code = _LOW_SPO2
                    self._values[_LOW_SPO2] = spo2
            else:
                self._spo2_low_since = math.nan
            if spo2 < p["spo2_severe"]:
                if self._spo2_severe_since != self._spo2_severe_since:
                    self._spo2_severe_since = t
                if t - self._spo2_severe_since >= p["spo2_severe_delay_s"]:
                    code |= _LOW_SPO2_SEVERE
                    self._values[_LOW_SPO2_SEVERE] = spo2
            else:
                self._spo2_severe_since = math.nan
            self._spo2_code = code
        elif t - self._spo2_valid_t >= p["spo2_dropout_s"]:
            self._spo2_code = _SENSOR_SPO2
            self._values[_SENSOR_SPO2] = spo2
            self._spo2_low_since = self._spo2_severe_since = math.nan
        return self._spo2_code

    def _publish(self, t: float, code: int) -> Mapping[str, float]:
        """Alarm outputs and the event log; remembers whether the compressor runs (for the next sample)."""
        if code & _SHUTDOWN:
            code &= ~_DEPENDENT
        out = self._out
        self._running = out["duty"] > RUNNING_DUTY
        out["cycle_time_trim"] = self._trim
        if code != self._code:
            self._log_changes(t, code)
            self._code = code
        if code & _HIGH:
            out["alarm_level"] = 3.0
        elif code & _MEDIUM:
            out["alarm_level"] = 2.0
        else:
            out["alarm_level"] = 1.0 if code else 0.0
        out["alarm_code"] = float(code)
        out["thermal_trip"] = 1.0 if self._t_latch & _THERMAL_SHUTDOWN else 0.0
        out["pressure_trip"] = 1.0 if self._p_latch else 0.0
        out["failsafe"] = 1.0 if code & _FAILSAFE else 0.0
        return out

    def get_state(self) -> Any:
        """Snapshot for master rollback: everything but the event log and the event sink (the master's, not to be
        deep-copied); the log length is kept so a rollback drops the entries of the rejected step."""
        keep = {k: v for k, v in self.__dict__.items() if k not in ("events", "_event_sink")}
        return copy.deepcopy(keep), len(self.events)

    def set_state(self, state: Any) -> None:
        snapshot, n_events = state
        self.__dict__.update(copy.deepcopy(snapshot))
        del self.events[n_events:]

    def _log_changes(self, t: float, code: int) -> None:
        """Append one event per condition that started or ended at t (only called when the code changed)."""
        changed = code ^ self._code
        for alarm in ALARMS:
            if changed >> alarm.code & 1:
                active = bool(code >> alarm.code & 1)
                event = WatchdogEvent(t, alarm.name, alarm.priority.label, self._values[alarm.bit],
                                      alarm.action if active else "cleared", active)  # fmt: skip
                if len(self.events) >= self.max_events:
                    del self.events[0]
                self.events.append(event)
                state = "start" if active else "end"
                self.emit_event(t, f"{alarm.name} {state}: {event.action}", name=alarm.name, priority=event.level,
                                value=event.value, active=active)  # fmt: skip


def _bound_text(lo: float, hi: float) -> str:
    """An envelope's bounds in words ("at most 3.5", "at least 0.01", "within 50000..110000")."""
    if lo == -math.inf:
        return f"at most {hi:g}"
    return f"at least {lo:g}" if hi == math.inf else f"within {lo:g}..{hi:g}"


def check_topology(spec: Any) -> None:
    """Reject a scenario whose plant actuators can be driven around the watchdog.

    ``spec`` is an orchestrator.scenario.spec.ScenarioSpec with ``spec.watchdog`` naming the watchdog slave. Every
    connection into an actuator input (duty, cmd_*, Q_set) of a plant slave (an FMU, or a slave that [plant]
    replaces lists for the hardware-in-the-loop device) must come from the watchdog's output of the same name with
    gain 1 and offset 0; every actuator input of the known O2Twin plant classes must be connected; no connection
    may drive the watchdog's ``reset`` (an operator action: a scheduled event); no [[inputs]] time table may feed a
    plant actuator; no scheduled event may act on the watchdog's outputs (a drift of ``watchdog.duty`` is a command
    past the watchdog; an actuator fault is an override of the plant's input); the watchdog's sensor inputs
    (p_feed, sensor_O2, T_head, sensor_Q) must be connected. Raises SystemDefinitionError naming the offending
    connection, table, event or input.
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
    # the plant: every FMU, and every slave a [plant] table lets the device replace (a block stand-in listed in
    # [plant] replaces becomes the real device's actuators: it must be guarded as an FMU plant is)
    replaced = getattr(getattr(spec, "plant", None), "replaces", None) or ()
    plant = {name for name, s in spec.slaves.items() if s.kind == "fmu" or name in replaced}
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
    for i, c in enumerate(spec.connections, 1):
        if c.target_slave == wd and c.target_var == "reset":
            raise SystemDefinitionError(
                f"{source}: [[connections]] #{i} ('{c.source}' -> '{c.target}'): the watchdog's reset is the "
                "operator's; a connection would let a controller re-enable the compressor after every trip. Reset "
                f'with a scheduled event instead: set = {{ "{wd}.reset" = 1.0 }}'
            )
    for i, table in enumerate(getattr(spec, "inputs", None) or (), 1):
        where = f"{source}: [[inputs]] #{i} ('{table.name}')"
        fed = [t for t in table.targets.values() if t.split(".", 1)[0] in plant and t.split(".", 1)[1] in ACTUATORS]
        if table.slave in plant:
            if not table.columns:
                raise SystemDefinitionError(
                    f"{where}: a time table feeding the plant slave '{table.slave}' must list its columns, so that "
                    f"none can be an actuator input ({', '.join(ACTUATORS)}), which only the watchdog drives"
                )
            fed += [f"{table.slave}.{col}" for col in table.columns if col in ACTUATORS]
        if fed:
            raise SystemDefinitionError(
                f"{where}: a time table may not feed the actuator input '{fed[0]}': only the watchdog drives it; "
                f"feed the request instead ('{wd}.{fed[0].split('.', 1)[1]}_req')"
            )
    outputs = {v.name for v in SafetyWatchdog.OUTPUTS}
    for e in getattr(spec, "events", None) or ():
        if e.slave == wd and e.variable in outputs and e.action != "release":
            hint = (f"; to model a faulty actuator, override the plant's input that '{wd}.{e.variable}' drives"
                    if e.variable in ACTUATORS else "")  # fmt: skip
            raise SystemDefinitionError(
                f"{source}: [[events]] t={e.time:g} s {e.action} '{e.target}': the watchdog's outputs are its "
                f"verdicts and the plant's safe commands; no event may change them{hint}"
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
