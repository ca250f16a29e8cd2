"""Scheduled events: set a value, override (hold) an input, release an override, drift an output.

The master steps onto every event time exactly (integer tick arithmetic) and applies the event before the macro
step that starts at that time. The scenario loader turns ``[[events]]`` tables into these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScheduledEvent:
    """Base: something that happens at ``time`` (s)."""

    time: float

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class SetEvent(ScheduledEvent):
    """Set inputs (unconnected ones) or tunable parameters ("slave.var" -> value) once, e.g. a setpoint change."""

    values: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return "set " + ", ".join(f"{k} = {v:g}" for k, v in self.values.items())


@dataclass(frozen=True)
class OverrideEvent(ScheduledEvent):
    """Hold inputs at fixed values whatever drives them (a stuck valve) until a ReleaseEvent."""

    values: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return "override " + ", ".join(f"{k} = {v:g}" for k, v in self.values.items())


@dataclass(frozen=True)
class ReleaseEvent(ScheduledEvent):
    """End overrides (the inputs follow their connections again) and drifts of the named variables."""

    names: tuple[str, ...] = ()

    def describe(self) -> str:
        return "release " + ", ".join(self.names)


@dataclass(frozen=True)
class DriftEvent(ScheduledEvent):
    """Outputs seen by the rest of the system drift linearly from this time: value + rate * (t - time).

    ``rates`` maps "slave.output" to the drift rate in the output's unit per second (a sensor drift fault).
    """

    rates: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return "drift " + ", ".join(f"{k} at {v:g}/s" for k, v in self.rates.items())
