"""Active alarms as the page shows them, from the run's event log: name, priority, since when, acknowledged.

The safety watchdog reports every alarm condition as an event when it starts and when it ends, with the fields
``name``, ``priority`` ("low", "medium", "high": IEC 60601-1-8) and ``active`` (docs/safety.md). The board keeps
the conditions that started and have not ended. Acknowledging an alarm (IEC 60601-1-8: the operator has seen it)
marks it on the board only: the condition stays active until the watchdog ends it, and a condition that ends and
starts again comes back unacknowledged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Priorities in the order the page lists them (highest first); anything else sorts after them.
PRIORITIES = ("high", "medium", "low")


def is_alarm_event(event: Mapping[str, Any]) -> bool:
    """True for an event that starts or ends an alarm condition (it names the condition and its state)."""
    return isinstance(event.get("name"), str) and "active" in event and "priority" in event


@dataclass
class ActiveAlarm:
    name: str
    priority: str
    since_s: float
    source: str
    value: float | None = None
    acknowledged: bool = False


class AlarmBoard:
    """The alarm conditions active now, updated event by event; counts every start."""

    def __init__(self) -> None:
        self.active: dict[str, ActiveAlarm] = {}
        self.raised: dict[str, int] = {}

    def apply(self, event: Mapping[str, Any]) -> None:
        if not is_alarm_event(event):
            return
        name = str(event["name"])
        if event["active"]:
            if name not in self.active:
                self.raised[name] = self.raised.get(name, 0) + 1
            value = event.get("value")
            self.active[name] = ActiveAlarm(
                name=name,
                priority=str(event["priority"]),
                since_s=float(event.get("time", 0.0)),
                source=str(event.get("source", "")),
                value=float(value) if isinstance(value, int | float) else None,
                acknowledged=self.active[name].acknowledged if name in self.active else False,
            )
        else:
            self.active.pop(name, None)

    def apply_all(self, events: Iterable[Mapping[str, Any]]) -> AlarmBoard:
        for event in events:
            self.apply(event)
        return self

    def acknowledge(self, names: Iterable[str] | None = None) -> None:
        """Mark the named active alarms (default: all of them) as acknowledged."""
        for name in self.active if names is None else names:
            if name in self.active:
                self.active[name].acknowledged = True

    def ordered(self) -> list[ActiveAlarm]:
        """Active alarms, highest priority first, then the oldest first."""
        rank = {p: i for i, p in enumerate(PRIORITIES)}
        return sorted(self.active.values(), key=lambda a: (rank.get(a.priority, len(rank)), a.since_s, a.name))

    @property
    def highest(self) -> str | None:
        """The highest priority among the active alarms (None when there are none)."""
        ordered = self.ordered()
        return ordered[0].priority if ordered else None

    @property
    def unacknowledged(self) -> int:
        return sum(not a.acknowledged for a in self.active.values())
