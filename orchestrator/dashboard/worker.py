"""The dashboard's run worker: ``python -m orchestrator.dashboard.worker FD`` runs one live run and reports on it.

The run is the public pipeline's: ``open_run`` builds it (results directory and all), ``RunSession.advance`` steps
it, ``close`` writes its ending. A LiveFeed rides along as one more recorder of the simulation (the samples of the
plotted signals and every event, alarms included) and as the step callback, which hands what is new to the Outbox
at most every PUBLISH_PERIOD_S of wall time (a thread of its own encodes and writes it, so a page slow to read never
holds up the run), waits while paused (not a hardware-in-the-loop run) and ends the run when asked. The worker is a
process of its own so the dashboard's page rendering never holds up the simulation (and a crashing FMU cannot take
the page down).
Messages: orchestrator.dashboard.protocol.
"""

from __future__ import annotations

import logging
import operator
import queue
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from orchestrator.dashboard.protocol import RunRequest, encode
from orchestrator.errors import O2TwinError

if TYPE_CHECKING:
    from orchestrator.cosim.master.simulation import Simulation
    from orchestrator.results.run import RunSession

log = logging.getLogger(__name__)

#: Wall time between two data messages (s): at most five a second, twice the page's refresh rate (every 0.4 s), so
#: the page always has fresh values and the run hands over few, larger messages.
PUBLISH_PERIOD_S = 0.2
#: Wall time between two readings of the device link's figures (s; they sort the latency lists).
HIL_PERIOD_S = 1.0


class Control:
    """The dashboard's control words, read from stdin in a thread; end of input (the dashboard went away) stops."""

    def __init__(self, stream: IO[str]) -> None:
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True, name="dashboard control")
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            word = line.strip()
            if word == "pause":
                self.paused.set()
            elif word == "resume":
                self.paused.clear()
            elif word == "stop":
                self.stopped.set()
        self.stopped.set()


class LiveFeed:
    """A recorder of the running simulation and its step callback: forwards the plotted signals and the events."""

    def __init__(self, outbox: Outbox, signals: Sequence[str], control: Control, hil: Any = None) -> None:
        self.outbox = outbox
        self.signals = list(signals)
        self.control = control
        self._hil = hil  # orchestrator.hil.host.plant for a hardware-in-the-loop run
        self._pick: Any = None  # values -> the plotted signals' values (a tuple)
        self._rows: list[tuple[float, ...]] = []
        self._events: list[dict[str, Any]] = []
        self._next_publish = 0.0
        self._next_hil = 0.0

    # Recorder protocol (orchestrator.cosim.master.recorder)
    def on_start(self, signal_names: Sequence[str], metadata: Mapping[str, Any]) -> None:
        position = {name: i for i, name in enumerate(signal_names)}
        self.signals = [s for s in self.signals if s in position]
        index = [position[s] for s in self.signals]
        # one C call per sample (the run waits for it); itemgetter of one index gives a value, not a tuple
        self._pick = operator.itemgetter(*index) if len(index) > 1 else lambda values: tuple(values[i] for i in index)

    def on_sample(self, t: float, values: Sequence[float]) -> None:
        self._rows.append((t, *self._pick(values)))

    def on_event(self, t: float, text: str, source: str = "master", **extra: Any) -> None:
        self._events.append({"time": t, "source": source, "text": text, **extra})

    def on_finish(self, metadata: Mapping[str, Any]) -> None:
        pass

    # step callback
    def __call__(self, sim: Simulation) -> bool:
        now = time.perf_counter()
        if now >= self._next_publish:
            self._next_publish = now + PUBLISH_PERIOD_S
            self.publish(sim)
        # a hardware-in-the-loop run is never paused: without commands the device goes to its fail-safe
        if self.control.paused.is_set() and self._hil is None:
            self.publish(sim, paused=True)
            while self.control.paused.is_set() and not self.control.stopped.is_set():
                self.control.stopped.wait(PUBLISH_PERIOD_S)
            self.publish(sim)
        return not self.control.stopped.is_set()

    def publish(self, sim: Simulation, paused: bool = False) -> None:
        """Send the samples and events gathered since the last message."""
        message: dict[str, Any] = {"kind": "data", "time_s": sim.time, "rows": self._rows, "events": self._events,
                                   "paused": paused}  # fmt: skip
        self._rows, self._events = [], []
        if self._hil is not None and time.perf_counter() >= self._next_hil:
            self._next_hil = time.perf_counter() + HIL_PERIOD_S
            message["hil"] = self._hil.hil_metrics(sim.system).get("hil")
        self.outbox.send(message)


class Outbox:
    """The worker's messages, written to the page's pipe by a thread of their own, in order.

    The simulation only hands a message over (no encoding, no write): when the page is slow to read and the pipe is
    full, the writer waits, not the run. The samples go packed as float64 bytes (protocol.pack_rows), which costs
    the run's process (its GIL) far less than JSON text. ``close`` writes what is left and ends the writer.
    """

    def __init__(self, channel: IO[str]) -> None:
        self.channel = channel
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, daemon=True, name="dashboard outbox")
        self._thread.start()

    def send(self, message: dict[str, Any]) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _write(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self.channel.write(encode(message))
                self.channel.flush()
            except (BrokenPipeError, ValueError):  # the dashboard went away: the run goes on to its end or its stop
                log.debug("the dashboard no longer reads the run's messages")


def live_signals(session: RunSession) -> list[str]:
    """The signals the page plots: those of the scenario's [[plots]] (or the default plots) that are recorded."""
    from orchestrator.results.plots import default_plots

    plots = session.spec.plots or default_plots(list(session.units), session.units)
    wanted = [s for p in plots for s in p.signals if s in session.units]
    return list(dict.fromkeys(wanted))


def started_message(session: RunSession, signals: Sequence[str]) -> dict[str, Any]:
    from orchestrator.results.plots import default_plots

    spec = session.spec
    plots = spec.plots or default_plots(list(session.units), session.units)
    return {
        "kind": "started",
        "name": spec.name,
        "out_dir": str(session.out_dir),
        "start_time_s": spec.start_time,
        "stop_time_s": spec.stop_time,
        "signals": list(signals),
        "units": {s: session.units.get(s) for s in signals},
        "plots": [{"title": p.title, "signals": list(p.signals), "unit": p.unit} for p in plots],
        "parameters": {f"{n}.{k}": v for n, s in spec.slaves.items() for k, v in s.parameters.items()},
        "hil": spec.plant is not None,
    }


def run_live(request: RunRequest, outbox: Outbox, control: Control) -> int:
    """Open the run, step it to its end (or until stopped), close it; returns the run's exit code."""
    from orchestrator.results.run import open_run

    try:
        session = open_run(request.scenario_to_run(), stop_time=request.stop_time, overrides=request.overrides,
                           plant=request.plant, progress=False)  # fmt: skip
    except O2TwinError as err:
        outbox.send({"kind": "error", "message": str(err)})
        return err.exit_code
    hil: Any = None
    if session.spec.plant is not None:
        from orchestrator.hil.host import plant

        hil = plant
    signals = live_signals(session)
    feed = LiveFeed(outbox, signals, control, hil)
    outbox.send(started_message(session, signals))
    with session:
        session.simulation.recorders.append(feed)
        if not control.stopped.is_set():
            session.advance(callback=feed)
        feed.publish(session.simulation)
        outbox.send({"kind": "closing"})
    result = session.close()
    feed.publish(session.simulation)
    outbox.send({"kind": "finished", "status": result.status, "exit_code": result.exit_code, "error": result.error,
                   "out_dir": str(result.out_dir), "summary": result.metrics.get("summary")})  # fmt: skip
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Read the request from stdin, report on the pipe whose descriptor is the first argument."""
    import os

    from orchestrator.logging_setup import configure_logging

    args = list(sys.argv[1:] if argv is None else argv)
    configure_logging(0, False)
    with os.fdopen(int(args[0]), "w", encoding="utf-8") as channel:
        request = RunRequest.from_json(sys.stdin.readline())
        outbox = Outbox(channel)
        try:
            return run_live(request, outbox, Control(sys.stdin))
        finally:
            outbox.close()


if __name__ == "__main__":
    sys.exit(main())
