"""A live run seen from the dashboard: the worker process, its messages gathered into a LiveState, and controls.

``LiveRun.start(request)`` starts ``python -m orchestrator.dashboard.worker`` (orchestrator.dashboard.worker), sends
it the request and reads its messages in a thread; the page reads ``state`` whenever it refreshes. ``pause``,
``resume`` and ``stop`` are control words on the worker's stdin (stop also ends the worker with SIGTERM, which a run
takes like Ctrl-C, if it does not end in time). One LiveRun at a time per dashboard (RunManager).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from orchestrator.dashboard.alarms import ActiveAlarm, AlarmBoard
from orchestrator.dashboard.charts import Series
from orchestrator.dashboard.protocol import RunRequest, decode, unpack_rows
from orchestrator.errors import O2TwinError

log = logging.getLogger(__name__)

#: States of a run that has not ended yet ("finishing": writing metrics.json and plots).
ACTIVE = ("starting", "running", "paused", "finishing")
#: Events kept for the page's log (the run's events.jsonl keeps them all).
EVENT_LOG_LENGTH = 500


class SampleTable:
    """The run's samples of the live signals: one float64 array (time, then a column per signal) grown by doubling,
    so a long run costs the page neither a Python float per value nor a conversion at every redraw. Rows are only
    appended: the arrays handed out (views of the first n rows) never change afterwards."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = ["time", *names]
        self._data = np.empty((1024, len(self.names)))
        self.n = 0

    def append(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), len(self.names)))
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : need] = rows
        self.n = need

    def column(self, name: str, first: int = 0) -> np.ndarray:
        return self._data[first : self.n, self.names.index(name)]

    def columns(self) -> dict[str, np.ndarray]:
        return {name: self._data[: self.n, i] for i, name in enumerate(self.names)}

    def latest(self) -> dict[str, float]:
        return dict(zip(self.names, self._data[self.n - 1].tolist(), strict=True)) if self.n else {}


class LiveState:
    """Everything the worker reported so far (thread-safe: the reader thread writes, the page reads).

    ``revision`` counts the changes the page's Streamlit part shows (the run's end or error, pause, alarms and
    events, the link panel and figures): the live view redraws its status line, values and charts from the data
    it fetches (orchestrator.dashboard.live_data) and asks for a Streamlit rerun only when the revision it
    fetched is newer than the one it was drawn with. A run start and its results being written need no rerun."""

    def __init__(self, request: RunRequest) -> None:
        self.lock = threading.Lock()
        self.request = request
        self.status = "starting"
        self.name = ""
        self.out_dir: Path | None = None
        self.start_time_s = 0.0
        self.stop_time_s = 0.0
        self.time_s = 0.0
        self.signals: list[str] = []
        self.units: dict[str, str | None] = {}
        self.plots: list[dict[str, Any]] = []
        self.parameters: dict[str, Any] = {}
        self.hil_enabled = False
        self.table = SampleTable([])
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=EVENT_LOG_LENGTH)
        self.alarms = AlarmBoard()
        self.hil: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.messages = 0
        self.revision = 0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def apply(self, message: dict[str, Any]) -> None:
        """Take one worker message (protocol.py) into the state."""
        with self.lock:
            self.messages += 1
            kind = message["kind"]
            if kind in ("finished", "error") or message.get("events") or message.get("hil") is not None:
                self.revision += 1
            if kind == "started":
                self._started(message)
            elif kind == "data":
                self._data(message)
            elif kind == "closing":
                self.status = "finishing"
            elif kind == "finished":
                self.result = message
                self.status = str(message.get("status", "finished"))
                self.error = message.get("error")
            elif kind == "error":
                self.status, self.error = "error", str(message.get("message"))

    def _started(self, m: dict[str, Any]) -> None:
        self.revision += bool(m.get("hil"))  # the link health panel appears; the rest is the live view's
        self.status = "running"
        self.name = str(m.get("name", ""))
        self.out_dir = Path(m["out_dir"])
        self.start_time_s = self.time_s = float(m["start_time_s"])
        self.stop_time_s = float(m["stop_time_s"])
        self.signals = list(m["signals"])
        self.units = dict(m.get("units") or {})
        self.plots = list(m.get("plots") or [])
        self.parameters = dict(m.get("parameters") or {})
        self.hil_enabled = bool(m.get("hil"))
        self.table = SampleTable(self.signals)

    def _data(self, m: dict[str, Any]) -> None:
        if self.status in ("running", "paused"):  # not "finishing": the last samples come after "closing"
            status = "paused" if m.get("paused") else "running"
            self.revision += status != self.status
            self.status = status
        self.time_s = float(m["time_s"])
        if m.get("rows"):
            self.table.append(unpack_rows(m["rows"], len(self.table.names)))
        for event in m.get("events") or ():
            self.events.append(event)
            self.alarms.apply(event)
        if m.get("hil") is not None:
            self.hil = m["hil"]

    def acknowledge(self, names: Sequence[str] | None = None) -> None:
        """Acknowledge active alarms (default: all)."""
        with self.lock:
            self.alarms.acknowledge(names)

    def active_alarms(self) -> list[ActiveAlarm]:
        """Copies of the active alarms, highest priority first."""
        with self.lock:
            return [dataclasses.replace(a) for a in self.alarms.ordered()]

    def recent_events(self, n: int = 200) -> list[dict[str, Any]]:
        """The newest n events, newest first."""
        with self.lock:
            return list(self.events)[-n:][::-1]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """Every sample so far of time and each live signal (SI)."""
        with self.lock:
            return self.table.columns()

    def latest(self) -> dict[str, float]:
        """The newest sample of every live signal (SI)."""
        with self.lock:
            return self.table.latest()

    def series(self, signals: Sequence[str], since_s: float | None = None, max_points: int = 200) -> Series:
        """The samples of ``signals`` (SI) from since_s on, at most max_points per line (Series.envelope)."""
        with self.lock:
            first = 0 if since_s is None else int(np.searchsorted(self.table.column("time"), since_s, "left"))
            columns = {s: self.table.column(s, first) for s in signals if s in self.table.names}
            times = self.table.column("time", first)
        return Series(times, columns).envelope(max_points)

    def fail(self, text: str) -> None:
        with self.lock:
            if self.status in ACTIVE:
                self.status, self.error = "error", text
                self.revision += 1


class LiveRun:
    """One run in a worker process; ``state`` fills in as it goes."""

    #: Seconds a stopped run may take to write its ending before the worker gets SIGTERM.
    stop_grace_s = 30.0

    def __init__(self, request: RunRequest, process: subprocess.Popen[str], channel: IO[str]) -> None:
        self.request = request
        self.state = LiveState(request)
        self.process = process
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._reader = threading.Thread(target=self._read, args=(channel,), daemon=True, name="dashboard run reader")
        self._reader.start()
        self._stderr = threading.Thread(target=self._read_stderr, daemon=True, name="dashboard run log")
        self._stderr.start()

    @classmethod
    def start(cls, request: RunRequest, cwd: str | os.PathLike | None = None) -> LiveRun:
        """Start the worker (in ``cwd``, default the dashboard's working directory, so results/ is the same)."""
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchestrator.dashboard.worker", str(write_fd)],
                stdin=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                pass_fds=(write_fd,),
                cwd=cwd,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as err:
            os.close(read_fd)
            raise O2TwinError(f"the dashboard could not start a run worker: {err}") from None
        finally:
            os.close(write_fd)
        channel = os.fdopen(read_fd, "r", encoding="utf-8")
        run = cls(request, process, channel)
        run._control(request.to_json())
        return run

    @property
    def active(self) -> bool:
        return self.state.active

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def stop(self) -> None:
        """Ask the run to end (status "stopped", its results written); SIGTERM if it has not ended in stop_grace_s."""
        self._control("stop")
        threading.Thread(target=self._terminate_late, daemon=True, name="dashboard run stopper").start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the worker has ended and its messages are read; False on timeout."""
        self._reader.join(timeout)
        return not self._reader.is_alive()

    def _terminate_late(self) -> None:
        try:
            self.process.wait(self.stop_grace_s)
        except subprocess.TimeoutExpired:
            log.warning("the run worker did not stop within %g s; terminating it", self.stop_grace_s)
            self.process.terminate()

    def _control(self, word: str) -> None:
        stdin = self.process.stdin
        if stdin is None or self.process.poll() is not None:
            return
        try:
            stdin.write(word + "\n")
            stdin.flush()
        except (BrokenPipeError, ValueError):  # the worker has just ended
            log.debug("control word %r not delivered: the worker has ended", word)

    def _read(self, channel: IO[str]) -> None:
        with channel:
            for line in channel:
                try:
                    self.state.apply(decode(line))
                except (ValueError, KeyError, TypeError) as err:
                    log.warning("the run worker sent an unreadable message (%s): %.80s", err, line)
        code = self.process.wait()
        self._stderr.join(5.0)
        if self.state.active:
            tail = "\n".join(self.stderr_tail)
            self.state.fail(f"the run worker ended unexpectedly (exit code {code})" + (f":\n{tail}" if tail else ""))

    def _read_stderr(self) -> None:
        stream = self.process.stderr
        if stream is None:
            return
        for line in stream:
            self.stderr_tail.append(line.rstrip())
            log.info("run worker: %s", line.rstrip())


class RunManager:
    """The dashboard's live run (one at a time: the machine's cores go to the simulation)."""

    def __init__(self) -> None:
        self.current: LiveRun | None = None
        self._lock = threading.Lock()

    def start(self, request: RunRequest, cwd: str | os.PathLike | None = None) -> LiveRun:
        with self._lock:
            if self.current is not None and self.current.active:
                raise O2TwinError("a run is in progress: stop it before starting another")
            self.current = LiveRun.start(request, cwd=cwd)
            return self.current
