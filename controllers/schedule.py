"""PressureSchedule: the feed-pressure setpoint scheduled on the flow demand (gain scheduling of the PSA unit).

A PSA unit needs more air, hence a higher feed pressure, the more product it delivers: at the rated 5 L/min the
compressor must feed about 1.2 g/s of cooled air, at 1-2 L/min 0.8 g/s is plenty. One fixed setpoint either starves
the beds at high flow (1.0 bar(g) gave 88.6 % O2 at 5 L/min) or wastes compressor energy at low flow. The schedule is
piecewise linear in the flow setpoint Q_set (the watchdog's safe setpoint, i.e. the flow actually commanded):

    p_setpoint = p_ambient + p_low   for Q <= q_low
               = linear              for q_low < Q < q_high
               = p_ambient + p_high  for Q >= q_high

and the output moves at most ``rate_max_bar_per_s`` per second (a step in the flow demand, e.g. a manual change,
becomes a ramp the PID follows without overshoot). Defaults (docs/controllers.md, measured at cyclic steady state
with the PSAUnit's cooling coil): 0.8 bar(g) up to 2 L/min (94.5 % O2 at 2 L/min, 25 % less compressor power than
1.0 bar(g)), 1.25 bar(g) at 5 L/min (92.8 % O2 at 25 degC, 91.8 % at 35 degC). The gauge reference ``p_ambient`` must
be the room's pressure (set it for altitude, as the watchdog's). A supervisor (optimizer, MPC) replaces this block's
connection to ``pid.p_setpoint`` or moves its parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import P_ATM_PA, barg_to_pa, m3s_to_slpm


class PressureSchedule(PythonBlock):
    """Flow setpoint (standard m3/s) in, feed-pressure setpoint (Pa absolute) out."""

    INPUTS = (Variable("Q_set", "input", unit="m3/s", start=0.0, description="product flow setpoint (standard)"),)
    OUTPUTS = (
        Variable("p_setpoint", "output", unit="Pa", start=barg_to_pa(0.8), description="feed pressure setpoint, abs"),
    )
    PARAMETERS = (
        Variable("p_ambient", "parameter", unit="Pa", start=P_ATM_PA, description="reference of gauge pressure"),
        Variable("q_low_slpm", "parameter", unit="L/min", start=2.0, description="flow up to which p_low_barg holds"),
        Variable("p_low_barg", "parameter", unit="bar", start=0.8, description="feed pressure at low flow"),
        Variable("q_high_slpm", "parameter", unit="L/min", start=5.0, description="flow from which p_high_barg holds"),
        Variable("p_high_barg", "parameter", unit="bar", start=1.25, description="feed pressure at the rated flow"),
        Variable("rate_max_bar_per_s", "parameter", unit="bar/s", start=0.05, description="setpoint slew limit"),
    )

    def validate_parameters(self) -> None:
        p = self.p
        for name, value in p.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a finite number, got {value!r}")
        if not p["p_ambient"] > 0:
            raise SystemDefinitionError(f"{self.name}: p_ambient must be an absolute pressure > 0 Pa")
        if not 0.0 <= p["q_low_slpm"] < p["q_high_slpm"]:
            raise SystemDefinitionError(
                f"{self.name}: need 0 <= q_low_slpm < q_high_slpm, got {p['q_low_slpm']} and {p['q_high_slpm']}"
            )
        if not 0.0 < p["p_low_barg"] <= p["p_high_barg"] <= 2.4:
            raise SystemDefinitionError(
                f"{self.name}: need 0 < p_low_barg <= p_high_barg <= 2.4 bar(g) (below the relief valve's setting), "
                f"got {p['p_low_barg']} and {p['p_high_barg']}"
            )
        if not p["rate_max_bar_per_s"] > 0:
            raise SystemDefinitionError(f"{self.name}: rate_max_bar_per_s must be > 0 (inf: no slew limit)")

    def reset(self) -> None:
        self._p_pa = math.nan
        self._out = {"p_setpoint": barg_to_pa(self.p["p_low_barg"], self.p["p_ambient"])}

    def scheduled_barg(self, q_slpm: float) -> float:
        """The steady-state setpoint (bar(g)) for a flow demand in standard L/min."""
        p = self.p
        x = (q_slpm - p["q_low_slpm"]) / (p["q_high_slpm"] - p["q_low_slpm"])
        x = min(max(x, 0.0), 1.0)
        return float(p["p_low_barg"] + x * (p["p_high_barg"] - p["p_low_barg"]))

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        q = inputs["Q_set"]
        if not math.isfinite(q):
            return self._out  # hold: the watchdog substitutes invalid requests, this is only belt and braces
        target = barg_to_pa(self.scheduled_barg(m3s_to_slpm(q)), self.p["p_ambient"])
        if math.isnan(self._p_pa):
            self._p_pa = target
        else:
            step = self.p["rate_max_bar_per_s"] * 1e5 * self.info.sample_time
            self._p_pa = min(max(target, self._p_pa - step), self._p_pa + step)
        self._out["p_setpoint"] = self._p_pa
        return self._out
