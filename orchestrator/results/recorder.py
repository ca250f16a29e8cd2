"""ResultRecorder: the master's Recorder that writes a results directory while the run goes on.

signals.csv and result.mat (every recorded signal at every recorded communication point), events.jsonl, and
the start/finish metadata the run pipeline turns into metrics.json. Everything is flushed on ``on_finish`` (which
the master calls also when a run fails) and on ``close`` (for a ``finally`` block), so a crash or Ctrl-C keeps
what was recorded up to it.

A file that cannot be written (a full disk) raises one ResultWriteError naming it, from the call that hit it; the
run fails with that error. From then on the recorder writes nothing more (the master's failure events and its
finish call do not raise again, so the first error is the one reported), and signals.csv and result.mat keep the
same rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.results.events import EventLog
from orchestrator.results.files import ResultWriteError, writing
from orchestrator.results.progress import Progress
from orchestrator.results.signals import SignalWriter

log = logging.getLogger(__name__)


class ResultRecorder:
    """Implements orchestrator.cosim.master.recorder.Recorder by streaming to files in ``out_dir``."""

    def __init__(
        self,
        out_dir: str | os.PathLike,
        *,
        progress: bool = False,
        descriptions: Mapping[str, str] | None = None,
        constants: Mapping[str, float] | Callable[[], Mapping[str, float]] | None = None,
        flush_interval_s: float = 0.5,
    ) -> None:
        self.out_dir = Path(out_dir)
        with writing(self.out_dir):
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.events = EventLog(self.out_dir)
        self.signals: SignalWriter | None = None
        self.signal_names: list[str] = []
        self.units: dict[str, str | None] = {}
        self.start_metadata: dict[str, Any] = {}
        self.finish_metadata: dict[str, Any] = {}
        #: The first file error, after which nothing more is written.
        self.write_error: ResultWriteError | None = None
        self._progress_enabled = progress
        self._progress: Progress | None = None
        self._descriptions = dict(descriptions or {})
        #: stored in result.mat as constants; a function is called at the start of the run (slaves set up)
        self._constants = constants
        self._flush_interval_s = flush_interval_s

    def _guarded(self, action: Callable[[], None], *, raise_first: bool = True) -> None:
        """Run a write; remember its ResultWriteError (raised only if it is the first and raise_first)."""
        if self.write_error is not None:
            return
        try:
            action()
        except ResultWriteError as err:
            self.write_error = err
            if raise_first:
                raise
            log.debug("%s", err)

    # ------------------------------------------------------------------ Recorder protocol
    def on_start(self, signal_names: Sequence[str], metadata: Mapping[str, Any]) -> None:
        self.signal_names = list(signal_names)
        self.start_metadata = dict(metadata)
        units = dict(metadata.get("units") or {})
        self.units = {s: units.get(s) for s in self.signal_names}
        start = float(metadata.get("start_time", 0.0))

        def open_files() -> None:
            constants = self._constants() if callable(self._constants) else dict(self._constants or {})
            recorded = set(self.signal_names)
            self.signals = SignalWriter(
                self.out_dir,
                self.signal_names,
                units=self.units,
                descriptions=self._descriptions,
                constants={k: v for k, v in constants.items() if k not in recorded},
                start_time=start,
                flush_interval_s=self._flush_interval_s,
            )

        self._guarded(open_files)
        if self._progress_enabled and "stop_time" in metadata:
            self._progress = Progress(start, float(metadata["stop_time"]))

    def on_sample(self, t: float, values: Sequence[float]) -> None:
        signals = self.signals
        if signals is not None and self.write_error is None:
            self._guarded(lambda: signals.record(t, values))
        if self._progress is not None:
            self._progress.update(t)

    def on_event(self, t: float, text: str, source: str = "master", **extra: Any) -> None:
        self._guarded(lambda: self.events.log(t, source, text, **extra), raise_first=False)

    def on_finish(self, metadata: Mapping[str, Any]) -> None:
        self.finish_metadata = dict(metadata)
        self._close_streams()

    # ------------------------------------------------------------------ beyond the protocol
    def log_event(self, t: float, source: str, text: str, **extra: Any) -> None:
        """An event from someone other than the master (the run pipeline, a block's alarm)."""
        self._guarded(lambda: self.events.log(t, source, text, **extra), raise_first=False)

    @property
    def rows(self) -> int:
        return self.signals.rows if self.signals is not None else 0

    @property
    def last_time(self) -> float | None:
        return self.signals.last_time if self.signals is not None else None

    def close_signals(self) -> None:
        """Flush and close signals.csv and result.mat (the event log stays open); never raises a write error."""
        self._close_streams()

    def _close_streams(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        signals = self.signals
        if signals is not None:
            if self.write_error is not None:
                try:
                    signals.close()  # drops what cannot be written; both files keep the same rows
                except ResultWriteError as err:
                    log.debug("closing the signal files after %s: %s", self.write_error, err)
            else:
                self._guarded(signals.close, raise_first=False)

    def close(self) -> None:
        """Flush and close every file (idempotent; safe in a finally block; never raises a write error)."""
        try:
            self._close_streams()
        finally:
            try:
                self.events.close()
            except ResultWriteError as err:
                if self.write_error is None:
                    self.write_error = err
                    log.debug("%s", err)
