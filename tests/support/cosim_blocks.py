"""Small Python blocks for the master tests."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock


class Accumulator(PythonBlock):
    """Sums its input at every sample instant and remembers the instants (to check they are hit exactly)."""

    INPUTS = (Variable("u", "input", unit="m", start=0.0),)
    OUTPUTS = (Variable("total", "output", unit="m", start=0.0), Variable("count", "output", unit="1", start=0.0))
    PARAMETERS = (Variable("gain", "parameter", unit="1", start=1.0),)

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0
        self.instants: list[float] = []
        self.inputs: list[float] = []

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        self.total += self.p["gain"] * inputs["u"]
        self.count += 1
        self.instants.append(t)
        self.inputs.append(inputs["u"])
        return {"total": self.total, "count": float(self.count)}


class Ramp(PythonBlock):
    """y = slope * t at sample instants (a signal source)."""

    OUTPUTS = (Variable("y", "output", unit="m", start=0.0),)
    PARAMETERS = (Variable("slope", "parameter", unit="m/s", start=1.0),)

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        return {"y": self.p["slope"] * t}


class Crasher(PythonBlock):
    """Passes its input through and raises RuntimeError (a bug) at the first sample at or after crash_time."""

    INPUTS = (Variable("u", "input", unit="m", start=0.0),)
    OUTPUTS = (Variable("y", "output", unit="m", start=0.0),)
    PARAMETERS = (Variable("crash_time", "parameter", unit="s", start=1e9),)

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        if t >= self.p["crash_time"]:
            raise RuntimeError(f"block bug at t={t:g}")
        return {"y": inputs["u"]}


class Threshold(PythonBlock):
    """Emits an event each time its input crosses ``level`` (either way); ``above`` is 1 while it is above."""

    INPUTS = (Variable("u", "input", unit="m", start=0.0),)
    OUTPUTS = (Variable("above", "output", unit="1", start=0.0),)
    PARAMETERS = (Variable("level", "parameter", unit="m", start=0.0),)

    def reset(self) -> None:
        self.above = False

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        above = inputs["u"] > self.p["level"]
        if above != self.above:
            self.above = above
            self.emit_event(t, "crossed up" if above else "crossed down", value=inputs["u"])
        return {"above": float(above)}
