"""The DQN environment's reward: energy per litre of O2, with penalties for poor gas, SpO2 off target and alarms.

Per supervisory period (docs/rl.md, "Reward"):

    r = - (E / L_O2) / E_REF                      energy per litre of O2 delivered, in units of E_REF
        - W_PURITY * mean(max(0, 0.90 - y_O2)) / 0.01   percentage points of delivered purity below 90 %
        - W_SPO2 * (share of the period with the patient's SpO2 outside the target range)
        - W_ALARM * (alarm conditions raised in the period)
        - W_WATCHDOG * (share of the period with a watchdog intervention: duty capped below the PID's request,
                        cycle-time trim, or a safe state)

E is the compressor's electrical energy (Wh), L_O2 the standard litres of pure O2 delivered (flow x purity), both
integrated from the plant's signals each master step. The reward uses plant quantities the device does not measure
(true purity and SpO2, electrical energy): it is the training signal, never part of the observation.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

#: Reference energy per litre of O2 (Wh/L): about the fixed-setting controllers' figure in the default session.
E_REF_WH_PER_L = 1.6
W_PURITY = 1.0
W_SPO2 = 1.0
W_ALARM = 2.0
W_WATCHDOG = 1.0
PURITY_MIN = 0.90
#: Below this many litres of O2 in a period the energy per litre is taken at this floor (no division by ~0).
L_O2_FLOOR = 0.02

#: Plant and controller signals the meter reads each master step.
SIGNALS = (
    "compressor.power",
    "psa.Q_product",
    "psa.y_O2_product",
    "patient.SpO2",
    "watchdog.alarm_code",
    "watchdog.duty",
    "pid.duty",
    "watchdog.cycle_time_trim",
    "watchdog.failsafe",
    "watchdog.thermal_trip",
    "watchdog.pressure_trip",
)


@dataclasses.dataclass
class PeriodTotals:
    """What the meter integrated over one period."""

    energy_wh: float = 0.0
    o2_l: float = 0.0
    duration_s: float = 0.0
    purity_shortfall_s: float = 0.0  # integral of max(0, 0.90 - y_O2) / 0.01 dt
    spo2_out_s: float = 0.0
    spo2_in_s: float = 0.0
    alarms_raised: int = 0
    intervention_s: float = 0.0

    def reward(self) -> float:
        """The period's reward (see the module docstring)."""
        d = max(self.duration_s, 1e-9)
        energy_per_l = self.energy_wh / max(self.o2_l, L_O2_FLOOR)
        return -(
            energy_per_l / E_REF_WH_PER_L
            + W_PURITY * self.purity_shortfall_s / d
            + W_SPO2 * self.spo2_out_s / d
            + W_ALARM * self.alarms_raised
            + W_WATCHDOG * self.intervention_s / d
        )

    def info(self) -> dict[str, Any]:
        """The period's figures for the step's ``info`` dict."""
        d = max(self.duration_s, 1e-9)
        return {
            "energy_wh": self.energy_wh,
            "o2_l": self.o2_l,
            "energy_wh_per_l_o2": self.energy_wh / self.o2_l if self.o2_l > 0 else math.nan,
            "purity_shortfall": self.purity_shortfall_s / d,
            "spo2_in_target": self.spo2_in_s / d,
            "alarms_raised": self.alarms_raised,
            "watchdog_intervention": self.intervention_s / d,
        }


class RewardMeter:
    """Integrates the reward's quantities from the simulation after each master step (a ``Simulation.run`` callback)."""

    def __init__(self, spo2_low: float, spo2_high: float) -> None:
        self.spo2_low, self.spo2_high = spo2_low, spo2_high
        self.totals = PeriodTotals()
        self._t: float | None = None
        self._alarm_code = 0

    def start(self, sim: Any) -> None:
        """Begin a period at the simulation's current time."""
        self.totals = PeriodTotals()
        self._t = float(sim.time)
        self._alarm_code = int(sim.get("watchdog.alarm_code"))

    def __call__(self, sim: Any) -> None:
        t = float(sim.time)
        dt = t - self._t if self._t is not None else 0.0
        self._t = t
        if dt <= 0:
            return
        get = sim.get
        tot = self.totals
        tot.duration_s += dt
        tot.energy_wh += _finite(get("compressor.power")) * dt / 3600.0
        purity = _finite(get("psa.y_O2_product"))
        tot.o2_l += max(_finite(get("psa.Q_product")), 0.0) * purity * dt * 1000.0
        tot.purity_shortfall_s += max(0.0, PURITY_MIN - purity) / 0.01 * dt
        spo2 = get("patient.SpO2")
        if self.spo2_low <= spo2 <= self.spo2_high:
            tot.spo2_in_s += dt
        else:
            tot.spo2_out_s += dt
        code = int(get("watchdog.alarm_code"))
        tot.alarms_raised += bin(code & ~self._alarm_code).count("1")
        self._alarm_code = code
        capped = get("watchdog.duty") < get("pid.duty") - 0.05  # beyond one step of the PID's rate limit
        trimmed = get("watchdog.cycle_time_trim") < 0.999
        safe = (
            get("watchdog.failsafe") > 0.5 or get("watchdog.thermal_trip") > 0.5 or get("watchdog.pressure_trip") > 0.5
        )
        if capped or trimmed or safe:
            tot.intervention_s += dt


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0
