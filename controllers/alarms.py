"""The alarm conditions of the concentrator's SafetyWatchdog: codes, names, IEC 60601-1-8 priorities, actions.

This table is the one definition of the alarm system. The watchdog raises these conditions; its ``alarm_code``
output is a bit mask (bit ``code`` set while the condition is active) and ``alarm_level`` the highest active
priority (0 none, 1 low, 2 medium, 3 high). Metrics, plots and reports decode ``alarm_code`` with ``active()`` and
name alarms with ``Alarm.name``; the event log (events.jsonl) carries the same ``name`` and ``priority``.

Priorities follow IEC 60601-1-8 (Table 1: the potential result of failing to respond, and how soon it can follow):
high = immediate response needed (serious harm can follow within minutes: no oxygen delivered, overpressure or
overheating that the device no longer guards, severe desaturation); medium = prompt response (harm can follow
if it lasts: low purity, moderate desaturation, a blocked cannula); low = awareness (no harm by itself).

A sensor fault has at least the priority of the highest alarm that sensor guards (a blind guard is no safer than
the hazard it misses): SENSOR_O2 high (LOW_PURITY_SUSTAINED), SENSOR_FLOW high (NO_FLOW); SENSOR_SPO2 is medium, as
a pulse oximeter's own "no signal" alarm is, since the therapy goes on unchanged (the titrator holds its flow).

Cascade suppression: a condition whose ``caused_by`` names an active condition is a consequence of it (after a
thermal shutdown the flow, the pressure and the purity fall) and is not raised as a new root cause; its timers
start again when the causes have cleared. docs/safety.md explains each condition's limit and reaction time.

| code | name | priority | raised when | action |
| --- | --- | --- | --- | --- |
| 0 | OVERPRESSURE | medium | feed pressure above p_max_barg (3.0 bar(g)) | duty cap cut by duty_reduction_factor per sample |
| 1 | OVERPRESSURE_HARD | high | feed pressure above p_hard_max_barg (3.5 bar(g)) | pressure safe state, latched |
| 2 | LOW_PRESSURE | medium | feed pressure below p_min_barg for low_pressure_delay_s | alarm |
| 3 | LOW_PURITY | medium | O2 reading below purity_min (87 %) | PSA cycle shortened (cycle_time_trim) |
| 4 | LOW_PURITY_SUSTAINED | high | low purity for purity_escalate_s | alarm (escalation) |
| 5 | THERMAL_SHUTDOWN | high | head temperature above t_max_degc (85 degC) | compressor off, latched |
| 6 | LOW_TEMPERATURE | low | head temperature below t_min_degc (0 degC) | alarm |
| 7 | SENSOR_PRESSURE | high | pressure reading faulty: NaN, implausible, too fast, stuck | pressure safe state, latched |
| 8 | SENSOR_TEMPERATURE | high | temperature reading faulty: NaN, implausible, too fast | compressor off, latched |
| 9 | SENSOR_O2 | high | O2 reading faulty | cycle adjustment suspended |
| 10 | SENSOR_FLOW | high | flow reading faulty | no-flow and occlusion checks suspended |
| 11 | OCCLUSION | medium | flow far below the setpoint while the supply is up | alarm: check the cannula |
| 12 | COMMAND_INVALID | low | a controller request is NaN or infinite | safe substitute |
| 13 | NO_FLOW | high | flow far below the setpoint and the supply is down | alarm: no oxygen delivered |
| 14 | LOW_SPO2 | medium | SpO2 below spo2_low (85 %) for spo2_low_delay_s (15 s) | alarm |
| 15 | LOW_SPO2_SEVERE | high | SpO2 below spo2_severe (80 %) for spo2_severe_delay_s (5 s) | alarm |
| 16 | SENSOR_SPO2 | medium | no valid SpO2 reading for spo2_dropout_s after valid ones (probe off) | alarm |
| 17 | LINK_LOSS | high | the hardware-in-the-loop link is not ok (link_ok = 0) | both safe states while lost |

Pressure safe state: compressor off (duty 0) and the vent path open (both feed and both vent valves open, the
equalisation valve closed), so the feed manifold vents through the beds to the exhaust.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Priority(IntEnum):
    """Alarm priority (IEC 60601-1-8); the value is the watchdog's ``alarm_level``."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """ "none" | "low" | "medium" | "high" (as written in the event log)."""
        return self.name.lower()


@dataclass(frozen=True)
class Alarm:
    """One alarm condition: its bit ``code`` in alarm_code, its name, priority and what the watchdog does."""

    code: int
    name: str
    priority: Priority
    action: str
    meaning: str
    caused_by: tuple[str, ...] = ()  #: active conditions that explain this one (cascade suppression)

    @property
    def bit(self) -> int:
        return 1 << self.code


#: Conditions that stop the compressor: what follows from them (no flow, low pressure, low purity) is a cascade.
SHUTDOWN_CAUSES = ("OVERPRESSURE_HARD", "THERMAL_SHUTDOWN", "SENSOR_PRESSURE", "SENSOR_TEMPERATURE", "LINK_LOSS")

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW
#: Every alarm condition, in code (bit) order. Codes are stable: new conditions are appended.
# fmt: off
ALARMS: tuple[Alarm, ...] = (
    Alarm(0, "OVERPRESSURE", M, "PWM reduction", "feed pressure above the upper limit"),
    Alarm(1, "OVERPRESSURE_HARD", H, "compressor off, vent path open (latched until reset)",
          "feed pressure above the hard limit"),
    Alarm(2, "LOW_PRESSURE", M, "alarm", "feed pressure below the lower limit", SHUTDOWN_CAUSES),
    Alarm(3, "LOW_PURITY", M, "cycle adjustment", "product O2 below the purity limit", SHUTDOWN_CAUSES),
    Alarm(4, "LOW_PURITY_SUSTAINED", H, "alarm escalated", "product O2 low for too long", SHUTDOWN_CAUSES),
    Alarm(5, "THERMAL_SHUTDOWN", H, "compressor off (latched until cooled and reset)",
          "compressor head above its temperature limit"),
    Alarm(6, "LOW_TEMPERATURE", L, "alarm", "compressor head below its operating range"),
    Alarm(7, "SENSOR_PRESSURE", H, "compressor off, vent path open (latched until reset)",
          "feed pressure sensor faulty or implausible"),
    Alarm(8, "SENSOR_TEMPERATURE", H, "compressor off (latched until reset)",
          "head temperature sensor faulty or implausible"),
    Alarm(9, "SENSOR_O2", H, "cycle adjustment suspended", "O2 sensor faulty or implausible"),
    Alarm(10, "SENSOR_FLOW", H, "no-flow and occlusion checks suspended", "flow sensor faulty or implausible"),
    Alarm(11, "OCCLUSION", M, "alarm: check the cannula", "flow far below the setpoint while the supply is up",
          SHUTDOWN_CAUSES),
    Alarm(12, "COMMAND_INVALID", L, "request replaced by a safe value", "a controller request is NaN or infinite"),
    Alarm(13, "NO_FLOW", H, "alarm: no oxygen delivered", "flow far below the setpoint and the supply is down",
          SHUTDOWN_CAUSES),
    Alarm(14, "LOW_SPO2", M, "alarm", "patient SpO2 below the low limit"),
    Alarm(15, "LOW_SPO2_SEVERE", H, "alarm", "patient SpO2 below the severe-desaturation limit"),
    Alarm(16, "SENSOR_SPO2", M, "alarm", "no valid SpO2 reading (probe off, no signal)"),
    Alarm(17, "LINK_LOSS", H, "compressor off, vent path open while the link is lost",
          "the hardware-in-the-loop link to the device is lost"),
)
# fmt: on
del H, M, L

BY_NAME: dict[str, Alarm] = {a.name: a for a in ALARMS}
#: name -> bit mask in alarm_code
BIT: dict[str, int] = {a.name: a.bit for a in ALARMS}


def mask(names: tuple[str, ...] | list[str]) -> int:
    """The alarm_code bits of the named conditions."""
    out = 0
    for name in names:
        out |= BIT[name]
    return out


#: Bits of each priority (index = Priority value; 0 is empty).
PRIORITY_MASKS: tuple[int, ...] = tuple(mask([a.name for a in ALARMS if a.priority == p]) for p in Priority)
#: For each condition, the bits of the conditions that cause it (0: a root cause only).
CAUSE_MASKS: tuple[int, ...] = tuple(mask(a.caused_by) for a in ALARMS)


def active(code: int | float) -> list[Alarm]:
    """The conditions set in an alarm_code value (a recorded float is accepted), in code order."""
    bits = int(code)
    return [a for a in ALARMS if bits >> a.code & 1]


def highest_priority(code: int | float) -> Priority:
    """The highest priority among the conditions set in alarm_code (Priority.NONE when none)."""
    bits = int(code)
    for p in (Priority.HIGH, Priority.MEDIUM, Priority.LOW):
        if bits & PRIORITY_MASKS[p]:
            return p
    return Priority.NONE
