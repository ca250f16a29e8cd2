"""PressurePID: feed (compressor discharge) pressure control through the compressor PWM duty.

A discrete PID in positional form, sampled every ``sample_time`` seconds (Astrom & Hagglund's practical form):

* proportional action on the error e = p_setpoint - p_measured, in bar (so kp is duty per bar);
* integral action with back-calculation anti-windup: the integrator is corrected by (u_applied - v) / tt, where v is
  the unsaturated PID output and u_applied what really reached the actuator (the watchdog's duty when it is wired
  back to ``duty_applied``, otherwise this block's own limited output);
* derivative on the measurement only (no derivative kick on setpoint steps), low-pass filtered with time constant
  td / n_filter (backward-difference discretisation, stable for every sample time);
* output limits (duty_min..duty_max) and a rate limit (duty_rate_max per second), in auto and in manual;
* bumpless manual/auto transfer: in manual the integrator tracks so that v equals the output, so switching to auto
  starts from the current duty; switching to manual moves toward ``duty_manual`` at the rate limit.

* an optional first-order filter of the measurement (measurement_tau_s) against the PSA cycle ripple: the feed
  pressure swings by about +-0.3 bar within every 7.5 s cycle, which the compressor cannot and should not follow.

Tuning (docs/controllers.md): identified on the closed-loop plant (compressor + PSA FMUs, PID in manual, duty step
0.7 -> 0.9 at 200 s): the cycle-mean feed pressure responds like a first-order lag with gain K ~ 1.3 bar per unit
duty and time constant ~ 4 s (motor inertia + manifold). With the 2 s measurement filter counted as delay, a
SIMC-type tuning with tc + theta ~ 7 s gives kp = tau / (K (tc + theta)) ~ 0.45 duty/bar; the integral time is
3 s (a little below tau, for faster rejection of the bed-switching load changes); td = 0.1 s damps the equalisation
steps. Checked on the same plant: a setpoint step 1.0 -> 0.8 bar(g) settles within ~20 s with ~1 % undershoot.
The setpoint is an input: in the shipped scenarios controllers.schedule:PressureSchedule moves it with the flow
demand (0.8 bar(g) up to 2 L/min, 1.25 bar(g) at 5 L/min); a supervisory layer (an optimizer or MPC) may move it
instead. Its start value, 1.0 bar(g), holds only while it is unconnected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import barg_to_pa

_PA_PER_BAR = 1e5


class PressurePID(PythonBlock):
    """PID controller of the feed pressure (Pa absolute) acting on the compressor duty (0..1)."""

    INPUTS = (
        Variable("p_measured", "input", unit="Pa", start=101325.0, description="feed pressure sensor, absolute"),
        Variable(
            "p_setpoint",
            "input",
            unit="Pa",
            start=barg_to_pa(1.0),
            description="feed pressure setpoint, absolute (a supervisor may move it)",
        ),
        Variable("manual", "input", unit="1", start=0.0, description="> 0.5: manual mode (output follows duty_manual)"),
        Variable("duty_manual", "input", unit="1", start=0.0, min=0.0, max=1.0, description="manual duty request"),
        Variable(
            "duty_applied",
            "input",
            unit="1",
            start=-1.0,
            description="duty actually applied (watchdog output) for anti-windup; negative or NaN: not connected",
        ),
    )
    OUTPUTS = (Variable("duty", "output", unit="1", start=0.0, min=0.0, max=1.0, description="compressor PWM duty"),)
    PARAMETERS = (
        Variable("kp", "parameter", unit="1/bar", start=0.45, description="proportional gain, duty per bar"),
        Variable("ti", "parameter", unit="s", start=3.0, description="integral time (inf: no integral action)"),
        Variable("td", "parameter", unit="s", start=0.1, description="derivative time (0: no derivative action)"),
        Variable("n_filter", "parameter", unit="1", start=10.0, description="derivative filter: time constant td/N"),
        Variable("tt", "parameter", unit="s", start=1.0, description="anti-windup tracking time constant"),
        Variable("duty_min", "parameter", unit="1", start=0.0, description="lowest duty in auto and manual"),
        Variable("duty_max", "parameter", unit="1", start=1.0, description="highest duty in auto and manual"),
        Variable("duty_rate_max", "parameter", unit="1/s", start=0.5, description="largest duty change per second"),
        Variable("duty_initial", "parameter", unit="1", start=0.0, description="duty before the first sample"),
        Variable(
            "measurement_tau_s",
            "parameter",
            unit="s",
            start=2.0,
            description="first-order filter of p_measured against the PSA cycle ripple (0: none)",
        ),
    )

    def validate_parameters(self) -> None:
        p = self.p
        for name in ("kp", "ti", "td", "n_filter", "tt", "duty_min", "duty_max", "duty_rate_max", "duty_initial",
                     "measurement_tau_s"):  # fmt: skip
            value = p[name]
            if not isinstance(value, int | float) or math.isnan(value):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a number, got {value!r}")
        if not (p["kp"] >= 0 and math.isfinite(p["kp"])):
            raise SystemDefinitionError(f"{self.name}: kp must be >= 0 (duty per bar), got {p['kp']}")
        if not p["ti"] > 0:
            raise SystemDefinitionError(f"{self.name}: ti must be > 0 s (use inf for no integral action)")
        if not (p["td"] >= 0 and math.isfinite(p["td"])):
            raise SystemDefinitionError(f"{self.name}: td must be a finite time >= 0 s, got {p['td']}")
        if not (p["n_filter"] > 0 and math.isfinite(p["n_filter"])):
            raise SystemDefinitionError(f"{self.name}: n_filter must be > 0 (typically 5..20), got {p['n_filter']}")
        if not (p["tt"] > 0 and math.isfinite(p["tt"])):
            raise SystemDefinitionError(f"{self.name}: tt must be > 0 s (typically sqrt(ti*td)..ti), got {p['tt']}")
        if not (0.0 <= p["duty_min"] < p["duty_max"] <= 1.0):
            raise SystemDefinitionError(
                f"{self.name}: need 0 <= duty_min < duty_max <= 1, got duty_min={p['duty_min']}, "
                f"duty_max={p['duty_max']}"
            )
        if not p["duty_rate_max"] > 0:
            raise SystemDefinitionError(f"{self.name}: duty_rate_max must be > 0 per second (inf: no rate limit)")
        if not (p["measurement_tau_s"] >= 0 and math.isfinite(p["measurement_tau_s"])):
            raise SystemDefinitionError(f"{self.name}: measurement_tau_s must be a finite time >= 0 s")
        if not (0.0 <= p["duty_initial"] <= 1.0):
            raise SystemDefinitionError(f"{self.name}: duty_initial must lie in 0..1, got {p['duty_initial']}")

    def reset(self) -> None:
        self._integral = 0.0
        self._derivative = 0.0
        self._y_prev = math.nan
        self._y_filtered = math.nan
        self._duty = min(max(float(self.p["duty_initial"]), self.p["duty_min"]), self.p["duty_max"])
        self._out = {"duty": self._duty}

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        p = self.p
        ts = self.info.sample_time
        y_bar = inputs["p_measured"] / _PA_PER_BAR
        sp_bar = inputs["p_setpoint"] / _PA_PER_BAR
        if not math.isfinite(y_bar) or not math.isfinite(sp_bar):
            # No usable measurement: hold the output (the watchdog decides what is safe).
            return self._out
        if p["measurement_tau_s"] > 0.0:
            if math.isnan(self._y_filtered):
                self._y_filtered = y_bar
            else:
                self._y_filtered += ts / (p["measurement_tau_s"] + ts) * (y_bar - self._y_filtered)
            y_bar = self._y_filtered
        kp, td = p["kp"], p["td"]
        # Filtered derivative on the measurement (backward difference).
        if math.isnan(self._y_prev) or td == 0.0:
            self._derivative = 0.0
        else:
            a = td / (td + p["n_filter"] * ts)
            self._derivative = a * self._derivative - kp * (1.0 - a) * p["n_filter"] * (y_bar - self._y_prev)
        self._y_prev = y_bar
        proportional = kp * (sp_bar - y_bar)

        manual = inputs["manual"] > 0.5
        if manual:
            target = inputs["duty_manual"]
            if not math.isfinite(target):
                target = self._duty
        else:
            target = proportional + self._integral + self._derivative
        u = self._limit(target)
        self._duty = u

        applied = inputs["duty_applied"]
        u_track = applied if (math.isfinite(applied) and applied >= 0.0) else u
        if manual:
            # Track so that the auto output equals the current output at the switch (bumpless).
            self._integral = u_track - proportional - self._derivative
        elif math.isfinite(p["ti"]):
            self._integral += kp * ts / p["ti"] * (sp_bar - y_bar) + ts / p["tt"] * (u_track - target)
        else:
            self._integral = 0.0
        self._out["duty"] = u
        return self._out

    def _limit(self, value: float) -> float:
        """Apply the rate limit relative to the last output, then the output limits."""
        p = self.p
        step = p["duty_rate_max"] * self.info.sample_time
        u_prev = self._duty
        value = min(max(value, u_prev - step), u_prev + step)
        return min(max(value, p["duty_min"]), p["duty_max"])
