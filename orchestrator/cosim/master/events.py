"""Scheduled events: set a value, override (hold) an input, release an override, drift an output.

The master steps onto every event time exactly (integer tick arithmetic) and applies the event before the macro
step that starts at that time. Each event checks its own targets against the System before a run (``check``) and
applies itself through the master's EventTarget interface (``apply``). What each action may act on is declared
once, here (``CAUSALITIES``, and ``EVENT_TYPES`` by action name), for the scenario loader and HIL checks to reuse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar, Protocol

from orchestrator.cosim.master.timegrid import TimeGrid
from orchestrator.cosim.system import System, article
from orchestrator.errors import SystemDefinitionError


class EventTarget(Protocol):
    """What events act on: implemented by the Simulation (its coupling of the slaves)."""

    def set_value(self, qualified: str, value: Any) -> None:
        """Set an unconnected input or a tunable parameter now."""

    def override(self, qualified: str, value: float) -> None:
        """Hold an input at ``value`` whatever drives it."""

    def release(self, qualified: str) -> None:
        """End an override or drift of ``qualified`` (an unconnected input returns to its start value)."""

    def drift(self, qualified: str, rate: float, since: float) -> None:
        """The output as seen by the rest of the system becomes value + rate * (t - since)."""


def _format(value: Any, unit: str | None = None) -> str:
    """A value for the event log, with its unit when it has one ("323.15 K"; none for dimensionless "1")."""
    text = f"{value:g}" if isinstance(value, Real) and not isinstance(value, bool) else repr(value)
    return f"{text} {unit}" if unit and unit != "1" else text


@dataclass(frozen=True)
class ScheduledEvent:
    """Base: something that happens at ``time`` (s) to some "slave.var" targets."""

    time: float

    #: The action's name in scenario files ([[events]] action = ...).
    ACTION: ClassVar[str] = ""
    #: Causalities of the variables the action may act on.
    CAUSALITIES: ClassVar[tuple[str, ...]] = ()

    def targets(self) -> Iterable[str]:
        """The "slave.var" names the event acts on."""
        return ()

    def describe(self) -> str:
        return type(self).__name__

    def where(self) -> str:
        """How messages name the event."""
        return f"event at t = {self.time:g} s ({self.describe()})"

    def check(self, system: System, start_time: float) -> None:
        """Raise SystemDefinitionError naming the event when its time, a target or a value cannot work."""
        where = self.where()
        if not (isinstance(self.time, Real) and math.isfinite(self.time) and self.time >= start_time):
            raise SystemDefinitionError(f"{where}: time must be at or after the start time {start_time:g} s")
        for qualified in self.targets():
            _, var = system.variable(qualified, where)
            if var.causality not in self.CAUSALITIES:
                allowed = " or ".join(article(c) for c in self.CAUSALITIES)
                raise SystemDefinitionError(
                    f"{where}: {qualified} is {article(var.causality)}; {self.ACTION} acts on {allowed}"
                )
            self.check_value(qualified, var.type, where)

    def check_value(self, qualified: str, var_type: str, where: str) -> None:
        """Raise SystemDefinitionError if the value given for ``qualified`` does not fit (default: no value)."""

    def apply(self, target: EventTarget) -> None:
        """Act on the master at the event time."""
        raise NotImplementedError


def _number(where: str, qualified: str, value: Any, what: str = "value") -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise SystemDefinitionError(
            f"{where}: {qualified} {what} {value!r} is not a finite number; give a number such as 0.5"
        )


def _is_hex(value: Any) -> bool:
    try:
        bytes.fromhex(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class _ValueEvent(ScheduledEvent):
    """An event carrying a value per target."""

    values: Mapping[str, Any] = field(default_factory=dict)
    #: the targets' units, for the event log only (the scenario layer fills them in from the slaves)
    units: Mapping[str, str | None] = field(default_factory=dict, compare=False)

    def targets(self) -> Iterable[str]:
        return self.values

    def describe(self) -> str:
        return f"{self.ACTION} " + ", ".join(f"{k} = {_format(v, self.units.get(k))}" for k, v in self.values.items())


@dataclass(frozen=True)
class SetEvent(_ValueEvent):
    """Set inputs (unconnected ones) or tunable parameters ("slave.var" -> value) once, e.g. a setpoint change."""

    ACTION: ClassVar[str] = "set"
    CAUSALITIES: ClassVar[tuple[str, ...]] = ("input", "parameter")

    def check_value(self, qualified: str, var_type: str, where: str) -> None:
        value = self.values[qualified]
        if var_type == "String":
            if not isinstance(value, str):
                raise SystemDefinitionError(f"{where}: {qualified} is a String; give a text value, got {value!r}")
        elif var_type == "Binary":
            if not isinstance(value, bytes | bytearray) and not _is_hex(value):
                raise SystemDefinitionError(
                    f"{where}: {qualified} is Binary; give bytes or hexadecimal text such as '666f6f', got {value!r}"
                )
        elif var_type == "Boolean" and isinstance(value, bool):
            return
        else:
            _number(where, qualified, value)

    def apply(self, target: EventTarget) -> None:
        for qualified, value in self.values.items():
            target.set_value(qualified, value)


@dataclass(frozen=True)
class OverrideEvent(_ValueEvent):
    """Hold inputs at fixed values whatever drives them (a stuck valve) until a ReleaseEvent."""

    ACTION: ClassVar[str] = "override"
    CAUSALITIES: ClassVar[tuple[str, ...]] = ("input",)

    def check_value(self, qualified: str, var_type: str, where: str) -> None:
        _number(where, qualified, self.values[qualified])

    def apply(self, target: EventTarget) -> None:
        for qualified, value in self.values.items():
            target.override(qualified, float(value))


@dataclass(frozen=True)
class ReleaseEvent(ScheduledEvent):
    """End overrides (the inputs follow their connections again) and drifts of the named variables."""

    names: tuple[str, ...] = ()

    ACTION: ClassVar[str] = "release"
    CAUSALITIES: ClassVar[tuple[str, ...]] = ("input", "output")

    def targets(self) -> Iterable[str]:
        return self.names

    def describe(self) -> str:
        return "release " + ", ".join(self.names)

    def apply(self, target: EventTarget) -> None:
        for qualified in self.names:
            target.release(qualified)


@dataclass(frozen=True)
class DriftEvent(ScheduledEvent):
    """Outputs seen by the rest of the system drift linearly from this time: value + rate * (t - time).

    ``rates`` maps "slave.output" to the drift rate in the output's unit per second (a sensor drift fault).
    """

    rates: Mapping[str, float] = field(default_factory=dict)
    #: the targets' units, for the event log only (the rate is in unit per second)
    units: Mapping[str, str | None] = field(default_factory=dict, compare=False)

    ACTION: ClassVar[str] = "drift"
    CAUSALITIES: ClassVar[tuple[str, ...]] = ("output",)

    def targets(self) -> Iterable[str]:
        return self.rates

    def describe(self) -> str:
        return "drift " + ", ".join(f"{k} at {_format(v, self.units.get(k))}/s" for k, v in self.rates.items())

    def check_value(self, qualified: str, var_type: str, where: str) -> None:
        _number(where, qualified, self.rates[qualified], "rate")

    def apply(self, target: EventTarget) -> None:
        for qualified, rate in self.rates.items():
            target.drift(qualified, float(rate), self.time)


#: The event class of each scenario action.
EVENT_TYPES: dict[str, type[ScheduledEvent]] = {
    cls.ACTION: cls for cls in (SetEvent, OverrideEvent, ReleaseEvent, DriftEvent)
}
#: Causalities each action may act on (the one table; the scenario layer and HIL checks use it).
EVENT_CAUSALITIES: dict[str, tuple[str, ...]] = {action: cls.CAUSALITIES for action, cls in EVENT_TYPES.items()}


class EventSchedule:
    """The run's events in time order, their ticks on the grid and which is next."""

    def __init__(self, events: Iterable[ScheduledEvent], grid: TimeGrid) -> None:
        self.events = sorted(events, key=lambda e: e.time)
        self.ticks = [grid.ticks_at(e.time) for e in self.events]
        self.next = 0
        grid.on_refine(self.rescale)

    def rescale(self, factor: int) -> None:
        self.ticks = [k * factor for k in self.ticks]

    def next_tick(self) -> int | None:
        """The tick of the next event not yet applied (None: none left)."""
        return self.ticks[self.next] if self.next < len(self.ticks) else None

    def pop_due(self, n: int) -> ScheduledEvent | None:
        """The next event if it is due at or before tick n (and mark it applied), else None."""
        if self.next < len(self.ticks) and self.ticks[self.next] <= n:
            self.next += 1
            return self.events[self.next - 1]
        return None
