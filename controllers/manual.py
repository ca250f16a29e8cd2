"""FixedFlow: the flow a clinician dials in and leaves (manual oxygen therapy, the baseline of closed-loop titration).

A conventional concentrator delivers the prescribed flow whatever the patient's SpO2; staff change the dial now and
then (the manual arm of the FreeO2 trial, L'Her et al. 2017). This block stands in for the titrator: its ``Q_set``
goes to the watchdog's ``Q_set_req`` and is the parameter ``flow_slpm``, which a scheduled ``set`` event may change
(a nurse turning the knob). It also serves the rating tests, which need the unit at a fixed flow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import slpm_to_m3s


class FixedFlow(PythonBlock):
    """Prescribed cannula flow: Q_set (standard m3/s) from the parameter flow_slpm."""

    OUTPUTS = (Variable("Q_set", "output", unit="m3/s", start=slpm_to_m3s(2.0), description="prescribed flow"),)
    PARAMETERS = (
        Variable("flow_slpm", "parameter", unit="L/min", start=2.0, description="prescribed flow (set events move it)"),
    )

    def validate_parameters(self) -> None:
        flow = self.p["flow_slpm"]
        if isinstance(flow, bool) or not isinstance(flow, int | float) or not (math.isfinite(flow) and 0 <= flow <= 10):
            raise SystemDefinitionError(f"{self.name}: flow_slpm must be a flow in 0..10 L/min, got {flow!r}")

    def reset(self) -> None:
        self._out = {"Q_set": slpm_to_m3s(float(self.p["flow_slpm"]))}

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        self._out["Q_set"] = slpm_to_m3s(float(self.p["flow_slpm"]))
        return self._out
