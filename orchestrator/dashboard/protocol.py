"""What the dashboard and its run worker say to each other: a RunRequest in, JSON-line messages out.

The dashboard writes the request as the first line of the worker's stdin, then control words ("pause", "resume",
"stop"), one a line. The worker answers on a pipe, one JSON object a line, ``kind`` being one of:

- ``started``: out_dir, start_time_s, stop_time_s, signals (names of the values in each row), units (SI, per
  signal), plots (the scenario's [[plots]]: title, signals, unit), parameters (the scenario's parameter values);
- ``data``: time_s, rows (the samples since the last message, ``[t, v1, v2, ...]`` in the order of ``signals``,
  sent as base64 of little-endian float64 values, row after row: pack_rows / unpack_rows), events (the run's event log entries:
  time, source, text and the fields a slave adds, such as an alarm's name, priority and active), hil (the device
  link's figures, hardware in the loop only), paused;
- ``closing``: the run has ended and is writing its results (metrics.json, plots);
- ``finished``: status, exit_code, error, out_dir, summary (the scenario's summary metrics);
- ``error``: message (a definition error: the scenario, an override or the device could not be used).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from orchestrator.scenario.spec import ScenarioSpec

CONTROL_WORDS = ("pause", "resume", "stop")


@dataclass(frozen=True)
class RunRequest:
    """One live run: the scenario (a name in the scenario folders or a checked file path), --set overrides, an
    optional stop time (s), for hardware in the loop the device URL, and the name of a controller set to run the
    scenario under (None: the scenario's own controllers)."""

    scenario: str
    overrides: dict[str, Any] = field(default_factory=dict)
    stop_time: float | None = None
    plant: str | None = None
    controllers: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        raw = json.loads(text)
        return cls(
            scenario=str(raw["scenario"]),
            overrides=dict(raw.get("overrides") or {}),
            stop_time=None if raw.get("stop_time") is None else float(raw["stop_time"]),
            plant=raw.get("plant"),
            controllers=raw.get("controllers"),
        )

    def scenario_to_run(self) -> ScenarioSpec | str:
        """The scenario as the run opens it: under the controller set when one is named (applied by the function
        `o2twin compare` and `o2twin run --controllers` use), else as named. Only a set's name from the controller
        set folders is taken, never a path."""
        from orchestrator.errors import SystemDefinitionError
        from orchestrator.scenario.controller_set import (
            apply_controller_set,
            known_controller_sets,
            load_controller_set,
        )

        if self.controllers is None:
            return self.scenario
        known = known_controller_sets()
        if self.controllers not in known:
            raise SystemDefinitionError(f"no controller set '{self.controllers}' (controller sets: {', '.join(known)})")
        return apply_controller_set(self.scenario, load_controller_set(self.controllers))


def encode(message: dict[str, Any]) -> str:
    """One message as a line of JSON (NaN and infinities become null, so any JSON reader can take it; a ``rows``
    list is packed by pack_rows, which keeps NaN)."""
    if isinstance(message.get("rows"), list):
        message = {**message, "rows": pack_rows(message["rows"])}
    return json.dumps(_finite(message), default=str) + "\n"


def pack_rows(rows: Sequence[Sequence[float]]) -> str:
    """Rows of numbers as base64 of little-endian float64, row after row: bit for bit, NaN included, and a small
    fraction of the CPU time of writing every number as JSON text (the worker shares its process with the run)."""
    return base64.b64encode(np.asarray(rows, dtype="<f8").tobytes()).decode("ascii")


def unpack_rows(text: str, width: int) -> np.ndarray:
    """What pack_rows wrote, as an array of ``width`` columns."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8").reshape(-1, width)


def decode(line: str) -> dict[str, Any]:
    message = json.loads(line)
    if not isinstance(message, dict) or "kind" not in message:
        raise ValueError(f"not a worker message: {line[:80]!r}")
    return message


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
