"""Real-time pacing: hold a co-simulation to the wall clock and measure how well it keeps time.

With hardware in the loop, simulated time t must coincide with wall time (t - t_start) * speed^-1. The pacer
sleeps until each macro step's end instant; ``jitter`` is how late it actually wakes (what a sampled controller
sees as timing noise), a ``deadline miss`` is a step whose computation already ran past its end instant. Sleeping
uses time.sleep to within ``spin_s`` of the target and then polls the clock, because a plain sleep overshoots by
up to a scheduler tick on a loaded machine. The spin margin adapts: it follows the 99th percentile of the recent
sleep overshoots (between ``spin_min_s`` and ``spin_max_s``), so an idle machine spins little and a loaded one
trades some CPU for timing. The spin does not yield: on a loaded machine a yield costs a whole time slice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def set_realtime_priority(priority: int | None) -> bool:
    """Give the calling thread SCHED_FIFO priority (1..99) on Linux; False (and a warning) where not permitted.

    A loaded machine delays a normal-priority thread's wake-up by whole scheduler time slices (milliseconds);
    a real-time thread is woken first. ``None`` or 0 restores normal scheduling. Needs root or CAP_SYS_NICE
    (systemd: CPUSchedulingPolicy=fifo; docs/deployment.md).
    """
    if not hasattr(os, "sched_setscheduler"):
        log.warning("real-time priority is not available on this platform")
        return False
    try:
        if priority:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
        else:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (PermissionError, OSError) as err:
        log.warning("cannot set real-time priority %s (%s): timing will suffer on a loaded machine", priority, err)
        return False
    return True


def percentiles_ms(values_s: list[float] | np.ndarray) -> dict[str, float]:
    """p50 / p99 / max of a list of durations in seconds, in milliseconds (NaN when empty)."""
    if len(values_s) == 0:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan"), "n": 0}
    a = np.asarray(values_s, dtype=float) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "n": int(a.size)}  # fmt: skip


@dataclass
class RealTimePacer:
    """Paces simulated time against time.perf_counter; call wait_until(t_sim) at the end of each step."""

    speed: float = 1.0  #: simulated seconds per wall second (1 = real time)
    spin_min_s: float = 0.0005  #: the last part of each wait is a clock poll, for sub-millisecond wake-up
    spin_max_s: float = 0.004
    clock: Callable[[], float] = time.perf_counter
    jitter_s: list[float] = field(default_factory=list)
    deadline_misses: int = 0
    steps: int = 0
    max_overrun_s: float = 0.0
    _origin: float | None = None
    _t0: float = 0.0
    _overshoots: list[float] = field(default_factory=list)
    _spin_s: float = 0.0005

    def start(self, t_sim: float) -> None:
        """Align simulated time t_sim with now."""
        self._origin = self.clock()
        self._t0 = t_sim

    @property
    def started(self) -> bool:
        return self._origin is not None

    def wall_target(self, t_sim: float) -> float:
        if self._origin is None:
            self.start(t_sim)
        return self._origin + (t_sim - self._t0) / self.speed  # type: ignore[operator]

    def wait_until(self, t_sim: float) -> float:
        """Sleep until the wall-clock instant of t_sim; returns the lateness (jitter) in seconds."""
        target = self.wall_target(t_sim)
        now = self.clock()
        self.steps += 1
        if now > target:
            self.deadline_misses += 1
            self.max_overrun_s = max(self.max_overrun_s, now - target)
            self.jitter_s.append(now - target)
            return now - target
        remaining = target - now
        if remaining > self._spin_s:
            wake = target - self._spin_s
            time.sleep(remaining - self._spin_s)
            self._learn(self.clock() - wake)
        while (now := self.clock()) < target:
            pass  # a busy wait: yielding here (sleep(0)) costs a whole time slice on a loaded machine
        self.jitter_s.append(now - target)
        return now - target

    def _learn(self, overshoot_s: float) -> None:
        """Adapt the spin margin to the p99 of the last 200 sleep overshoots."""
        self._overshoots.append(max(0.0, overshoot_s))
        if len(self._overshoots) > 200:
            del self._overshoots[:-200]
        if len(self._overshoots) >= 20:
            p99 = float(np.percentile(self._overshoots, 99))
            self._spin_s = min(self.spin_max_s, max(self.spin_min_s, p99 + 0.0002))

    def metrics(self) -> dict[str, Any]:
        j = percentiles_ms(self.jitter_s)
        return {"steps": self.steps, "speed": self.speed, "jitter_p50_ms": j["p50_ms"], "jitter_p99_ms": j["p99_ms"],
                "jitter_max_ms": j["max_ms"], "deadline_misses": self.deadline_misses,
                "max_overrun_ms": self.max_overrun_s * 1e3, "spin_ms": self._spin_s * 1e3}  # fmt: skip


class RealTimeCallback:
    """A ``callback(sim)`` for Simulation.run: paces every macro step to the wall clock.

    ``time_of`` extracts the simulated time from the simulation object (default: its ``time`` attribute). Use it
    for real-time runs without a device; with a SerialDevice in the system the device paces itself and this
    callback is not needed.
    """

    def __init__(self, speed: float = 1.0, time_of: Callable[[Any], float] | None = None) -> None:
        self.pacer = RealTimePacer(speed=speed)
        self.time_of = time_of or (lambda sim: float(sim.time))

    def __call__(self, sim: Any) -> None:
        self.pacer.wait_until(self.time_of(sim))

    def metrics(self) -> dict[str, Any]:
        return self.pacer.metrics()
