"""The event log of a run: one JSON object per line (time, source, text), flushed as it is written; a line that
cannot be written raises ResultWriteError naming events.jsonl."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from orchestrator.results.files import writing

EVENTS_NAME = "events.jsonl"


class EventLog:
    """Appends ``{"time": s, "source": name, "text": ...}`` lines to events.jsonl; each line is flushed at once."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.path = Path(out_dir) / EVENTS_NAME
        with writing(self.path):
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.count = 0

    def log(self, time_s: float, source: str, text: str, **extra: Any) -> None:
        """Record one event; extra keys (JSON-serialisable) are stored with it."""
        entry = {"time": float(time_s), "source": source, "text": text, **extra}
        with writing(self.path):
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            with writing(self.path):
                self._file.close()


def read_events(path: str | os.PathLike) -> list[dict[str, Any]]:
    """events.jsonl (or a results dir) -> list of event dicts, in the order written."""
    path = Path(path)
    if path.is_dir():
        path = path / EVENTS_NAME
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                events.append(json.loads(line))
    return events
