"""The Recorder protocol: how the master hands results to whoever stores them (CSV/.mat writers, live plots).

A run calls ``on_start`` once, ``on_sample`` at every recorded communication point, ``on_event`` for scheduled
events, warnings, failures and events the slaves emit (``Slave.emit_event``), and ``on_finish`` once, also when the run fails (so what was recorded up to the
failure is flushed to disk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable


@runtime_checkable
class Recorder(Protocol):
    def on_start(self, signal_names: Sequence[str], metadata: Mapping[str, Any]) -> None:
        """Before the first sample: the "slave.var" names every sample holds (in order) and run metadata
        (start/stop time, step, algorithm, slaves with their FMU GUIDs, units per signal under "units")."""

    def on_sample(self, t: float, values: Sequence[float]) -> None:
        """One communication point: time in s and the values in the order of ``signal_names``."""

    def on_event(self, t: float, text: str, source: str = "master", **extra: Any) -> None:
        """Something happened at time t (s): a scheduled event, a warning, a failure (source "master"), or an
        event a slave emitted (source: the slave's name; extra: its fields, e.g. level and value of an alarm)."""

    def on_finish(self, metadata: Mapping[str, Any]) -> None:
        """The run ended: "status" ("completed", "stopped", "failed", or "terminated" when a slave asked to end the
        simulation before the stop time), "error" (message or None), wall time,
        real-time factor, per-slave wall time, step counts."""


class RecordedEvent(NamedTuple):
    """One on_event call as MemoryRecorder keeps it."""

    t: float
    text: str
    source: str = "master"
    extra: Mapping[str, Any] = {}


class MemoryRecorder:
    """Keeps samples in memory (tests, notebooks, RL agents); ``times`` and ``rows`` grow with every sample."""

    def __init__(self) -> None:
        self.signal_names: list[str] = []
        self.times: list[float] = []
        self.rows: list[list[float]] = []
        self.events: list[RecordedEvent] = []
        self.start_metadata: dict[str, Any] = {}
        self.finish_metadata: dict[str, Any] = {}

    def on_start(self, signal_names: Sequence[str], metadata: Mapping[str, Any]) -> None:
        self.signal_names = list(signal_names)
        self.start_metadata = dict(metadata)

    def on_sample(self, t: float, values: Sequence[float]) -> None:
        self.times.append(t)
        self.rows.append(list(values))

    def on_event(self, t: float, text: str, source: str = "master", **extra: Any) -> None:
        self.events.append(RecordedEvent(t, text, source, extra))

    def on_finish(self, metadata: Mapping[str, Any]) -> None:
        self.finish_metadata = dict(metadata)

    def column(self, name: str) -> list[float]:
        """All recorded values of one signal."""
        i = self.signal_names.index(name)
        return [row[i] for row in self.rows]
