"""Stepping: one macro step of every slave (MacroStepper) and the strategies choosing the steps.

A macro step from tick n to tick end: every slave steps from t (Jacobi: all from the outputs at t; Gauss-Seidel:
in connection-graph order, each from the newest outputs), with inputs held or linearly extrapolated; then the
outputs at t + h are made consistent (feedthrough and algebraic loops, see coupling). Steps are cut to land on
events, sample instants, record instants and ``run(until=...)`` targets.

FixedStepping takes macro steps of the configured size. ErrorControlledStepping varies the step by powers of two:
each step is taken once with h and again as two steps of h/2 from the saved state; the difference estimates the
error (Richardson), and the step is rejected and every slave rolled back when it is too large.
"""

from __future__ import annotations

import logging
import math
import time as wallclock
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.cosim.master.compiled import CompiledRun, CompiledSegment, StepNotAccepted, build_segments
from orchestrator.cosim.master.coupling import Coupling, SlavePlan
from orchestrator.cosim.master.events import EventSchedule
from orchestrator.cosim.master.failure import slave_failure
from orchestrator.cosim.master.lean import LeanStep
from orchestrator.cosim.master.options import MIN_STEP_S, MasterOptions
from orchestrator.cosim.master.timegrid import FINE_LEVELS, TimeGrid
from orchestrator.errors import SimulationError

log = logging.getLogger(__name__)


class StepRejected(SimulationError):
    """A slave discarded a step (fmi2Discard, fmi3Discard): fatal with fixed steps, a rejection under error control."""


class TerminationRequested(SimulationError):
    """A slave asked to end the simulation (fmi2Terminated, fmi3DoStep's terminateSimulation): the run ends cleanly, not as a failure."""


class MacroStepper:
    """Steps every slave of a Coupling from one tick to another and applies the events due."""

    def __init__(
        self,
        grid: TimeGrid,
        coupling: Coupling,
        schedule: EventSchedule,
        options: MasterOptions,
        stats: dict[str, int],
        notify: Callable[[float, str], None],
    ) -> None:
        self.grid, self.coupling, self.schedule, self.options, self.stats = grid, coupling, schedule, options, stats
        self.notify = notify
        self.adaptive = False  # error control: steps of any length on the grid, not cut to the macro grid
        # sampled blocks whose sample instants are off the macro grid (or any, under error control)
        self.sample_ticks: list[int] = []
        for p in coupling.plans:
            ts = p.slave.info.sample_time
            if ts:
                k = grid.ticks(ts)
                if k % grid.macro or options.error_control:
                    self.sample_ticks.append(k)
        grid.on_refine(self._rescale)
        #: the plans in order with runs of FMU slaves grouped into compiled segments (None: all on the Python path)
        self.items = build_segments(coupling, options)
        self.segments = [i for i in self.items or () if isinstance(i, CompiledSegment)]
        self.segment_size = len(coupling.v)
        #: many macro steps per kernel call (set by the Simulation where the whole system allows it)
        self.batch: CompiledRun | None = None
        #: the common macro step from closures made once (fixed Gauss-Seidel steps, held inputs), where it applies
        self.lean = LeanStep.build(grid, coupling, self.items, options, stats, self._rejected)

    def run_batch(self, record: Callable[[float, list[float]], None] | None) -> bool:
        """Take the macro steps up to the next stop (event, target, stop time) in one kernel call where the system
        allows it (self.batch); record(t, values) for each recorded point. False: nothing done, take a step."""
        batch, grid, coupling = self.batch, self.grid, self.coupling
        if batch is None or coupling.drifts or coupling.held_inputs or len(coupling.v) != self.segment_size:
            return False
        n, macro, every = grid.n, grid.macro, grid.record
        if n % macro or (every is not None and every % macro):
            return False
        stop = grid.stop if grid.target is None else min(grid.target, grid.stop)
        k_event = self.schedule.next_tick()
        if k_event is not None and k_event < stop:
            stop = k_event
        k = min((stop - n) // macro, batch.max_steps)
        num, den = grid.tick.numerator, grid.tick.denominator
        if k < 2 or (n + k * macro) * num >= 2**53 or den >= 2**53:  # times computed as TimeGrid.time in C
            return False
        rec_every = (every or 1) if record is not None else 0
        done, rows, failure = batch.run(coupling.v, grid.t0, num, den, n, macro, k, rec_every)
        coupling.writes += 1
        if done:
            grid.n_prev, grid.n = n + (done - 1) * macro, n + done * macro
            coupling.v_prev = None
            self.stats["macro_steps"] += done
            self.stats["slave_steps"] += done * batch.segment.count
        if record is not None:
            for end, row in rows:
                record(grid.time(end), row)
        if failure is None:
            return True
        plan, error, in_update = failure
        t_start = grid.time(grid.n)
        if in_update:  # the step was taken; its feedthrough update failed (as Coupling.update raises it)
            grid.n_prev, grid.n = grid.n, grid.n + macro
            raise slave_failure(error, plan.name, grid.time(grid.n))
        if isinstance(error, StepNotAccepted):
            raise self._rejected(plan, t_start, grid.time(grid.n + macro) - t_start)
        raise slave_failure(error, plan.name, t_start)

    def collect_timings(self) -> None:
        """Bring the compiled path's wall times into the plans' wall_s and the slaves' io_s."""
        for segment in self.segments:
            segment.collect_timings()

    def _rescale(self, factor: int) -> None:
        self.sample_ticks = [k * factor for k in self.sample_ticks]

    # ------------------------------------------------------------------ events
    def apply_events(self, n: int) -> bool:
        """Apply every event due at tick n, then make the outputs consistent; True if any was applied."""
        t = self.grid.time(n)
        applied = False
        while (event := self.schedule.pop_due(n)) is not None:
            event.apply(self.coupling)
            log.info("t = %.9g s: %s", t, event.describe())
            self.notify(t, event.describe())
            applied = True
        if applied:
            self.stats["loop_solves"] += self.coupling.update(t, force=True)
        return applied

    # ------------------------------------------------------------------ where a step ends
    def next_stop(self, n: int, h_ticks: int) -> int:
        """The end tick of a step from n of nominal length h_ticks, cut at events, samples, records and targets."""
        grid = self.grid
        end = n + h_ticks if self.adaptive else (n // grid.macro + 1) * grid.macro
        k = self.schedule.next_tick()
        if k is not None and n < k < end:
            end = k
        for k in self.sample_ticks:
            nxt = (n // k + 1) * k
            if nxt < end:
                end = nxt
        record = grid.record
        if record is not None and (self.adaptive or record % grid.macro):
            nxt = (n // record + 1) * record
            if nxt < end:
                end = nxt
        if grid.target is not None and n < grid.target < end:
            end = grid.target
        if n < grid.stop:
            end = min(end, grid.stop)
        return end

    def _period_end(self, n: int, p: SlavePlan) -> int:
        """End of a slow slave's period: rate macro steps, cut at the next event, target or stop time."""
        grid = self.grid
        end = n + p.rate * grid.macro
        k = self.schedule.next_tick()
        if k is not None and n < k < end:
            end = k
        if grid.target is not None and n < grid.target < end:
            end = grid.target
        return min(end, grid.stop)

    # ------------------------------------------------------------------ the macro step
    def step(self, n: int, end: int) -> None:
        """Step every slave from tick n to tick end and make the outputs at end consistent."""
        lean = self.lean
        if lean is not None and lean.ready():
            lean.take(n, end)
            return
        grid, coupling = self.grid, self.coupling
        coupling.writes += 1  # this path writes the table outside Coupling.store
        t = grid.time(n)
        t_end = grid.time(end)
        h = t_end - t
        v = coupling.v
        inputs = coupling.inputs
        jacobi = self.options.algorithm == "jacobi"
        order1 = self.options.extrapolation == 1
        v_t = list(v) if (jacobi or order1 or coupling.multirate) else v  # the values at t, where they are needed
        slope = None
        if order1 and coupling.v_prev is not None and grid.n_prev is not None:
            dt_prev = t - grid.time(grid.n_prev)
            slope = [(a - b) / dt_prev for a, b in zip(v_t, coupling.v_prev, strict=True)]
        perf = wallclock.perf_counter
        drifting = bool(coupling.drifts)
        steps = 0
        stepped: set[int] = set()
        p: SlavePlan | None = None
        t_from = t
        items: Sequence[SlavePlan | CompiledSegment] = coupling.plans
        if self.items is not None and not drifting and not coupling.held_inputs and len(v) == self.segment_size:
            items = self.items  # FMU runs on the compiled path; overrides, drifts and added signals stay in Python
        try:
            for item in items:
                if isinstance(item, CompiledSegment):  # a run of FMU slaves stepped in C
                    steps += item.count
                    failure = item.step(v, t, h, None if slope is None else (v_t, slope))
                    if failure is not None:
                        p, exc = failure
                        raise self._rejected(p, t, h) if isinstance(exc, StepNotAccepted) else exc
                    stepped.update(item.indices)
                    continue
                p = item
                t_from, h_slave = t, h
                if p.rate > 1:
                    if p.period_end is None:  # a new period of a slow slave starts: inputs frozen now
                        p.period_end = self._period_end(n, p)
                        p.period_start = n
                        if slope is None or p.sampled:
                            coupling.write_inputs(p, v_t)
                        else:
                            coupling.write_extrapolated(p, v_t, slope, h * p.rate, stepped, jacobi=True)
                    if end < p.period_end:
                        continue
                    t_from = grid.time(p.period_start)
                    h_slave = t_end - t_from
                    p.period_end = None
                elif slope is None or p.sampled:  # hold: Jacobi from the values at t, Gauss-Seidel the newest
                    if p.synced and p.idle is not None and not drifting and p.idle(t):
                        # nothing would change: not written, not stepped, not read (the table holds its outputs)
                        steps += 1
                        stepped.add(p.index)
                        continue
                    if p.write is not None:
                        values = inputs(p, v_t if jacobi else v)
                        p.write(values)
                        p.written = values
                else:
                    coupling.write_extrapolated(p, v_t, slope, h, stepped, jacobi)
                if p.timed:
                    t1 = perf()
                    ok = p.slave.step(t_from, h_slave)
                    p.wall_s += perf() - t1
                else:  # the slave times its own work (Slave.own_step_wall_s)
                    ok = p.slave.step(t_from, h_slave)
                steps += 1
                if not ok:
                    raise self._rejected(p, t_from, h_slave)
                if not jacobi:
                    if p.out_slice is not None and not drifting:  # coupling.read inlined: the common case
                        v[p.out_slice] = p.read()
                        p.synced = True
                    else:
                        coupling.read(p, t_end)
                        p.synced = not drifting
                    stepped.add(p.index)
            p = None
            if jacobi:
                coupling.read_all(t_end)
        except Exception as exc:
            error = slave_failure(exc, p.name if p is not None else None, t_from)
            if error is exc:
                raise
            raise error from exc
        coupling.v_prev = v_t if order1 else None
        grid.n_prev = n
        grid.n = end
        stats = self.stats
        stats["loop_solves"] += coupling.update(t_end)
        stats["macro_steps"] += 1
        stats["slave_steps"] += steps

    @staticmethod
    def _rejected(p: SlavePlan, t_from: float, h: float) -> SimulationError:
        if p.slave.termination_requested:
            return TerminationRequested(
                f"slave {p.name} asked to end the simulation (terminate) in the step from t = {t_from:.9g} s",
                slave=p.name,
                time=t_from,
            )
        message = getattr(p.slave, "last_error_message", "")
        status = getattr(p.slave, "discard_status", "discarded")
        return StepRejected(
            f"slave {p.name} rejected the step from t = {t_from:.9g} s by {h:.3g} s ({status})"
            + (f": {message}" if message else "")
            + "; try a smaller [master] step or error_control = true",
            slave=p.name,
            time=t_from,
        )


class SteppingStrategy(ABC):
    """Chooses the macro steps: ``advance()`` takes one accepted step from the current tick."""

    def __init__(self, stepper: MacroStepper) -> None:
        self.stepper = stepper

    @abstractmethod
    def advance(self) -> None:
        """Apply the events due now and take one accepted step."""


class FixedStepping(SteppingStrategy):
    """Steps of the configured macro step, cut to land on events, sample instants and targets."""

    def advance(self) -> None:
        s = self.stepper
        n = s.grid.n
        schedule = s.schedule
        if schedule.next < len(schedule.ticks) and schedule.ticks[schedule.next] <= n:
            s.apply_events(n)
        s.step(n, s.next_stop(n, s.grid.macro))


class ErrorControlledStepping(SteppingStrategy):
    """Step doubling with rollback: the step grows and shrinks by powers of two to meet ``tolerance``.

    Stops with a SimulationError when the tolerance cannot be met at the minimum step, or when the step has stayed
    within ``near_minimum`` times the minimum for ``max_steps_at_minimum`` accepted steps in a row (an unstable
    coupling creeping forward); warns once when the step falls ``shrink_warning`` times below the macro step.
    """

    #: Accepted steps in a row near the minimum step before the run is stopped ...
    max_steps_at_minimum = 1000
    #: ... where near means at most this many times the minimum step.
    near_minimum = 4
    #: Warn when the step falls this many times below the macro step.
    shrink_warning = 64

    def __init__(
        self,
        stepper: MacroStepper,
        save: Callable[[], Any],
        restore: Callable[[Any], None],
        warn: Callable[[str], None],
    ) -> None:
        super().__init__(stepper)
        self.save, self.restore, self.warn = save, restore, warn
        stepper.adaptive = True
        grid, o = stepper.grid, stepper.options
        coupling = stepper.coupling
        self.h_ticks = grid.macro
        floor = max(1, math.ceil(MIN_STEP_S / grid.seconds(1)))  # never below MIN_STEP_S
        self.min_ticks = max(floor, grid.ticks(o.min_step) if o.min_step else 1)
        self.max_ticks = grid.ticks(o.max_step) if o.max_step else grid.macro * 2**FINE_LEVELS
        self.watched = [coupling.sid[q] for q in coupling.system.connected_signals()] or list(range(len(coupling.v)))
        self._at_minimum = 0
        self._warned_shrink = False
        grid.on_refine(self._rescale)

    def _rescale(self, factor: int) -> None:
        self.h_ticks *= factor
        self.min_ticks *= factor
        self.max_ticks *= factor

    def _error(self, y_big: list[float], y_small: list[float]) -> float:
        """Richardson estimate of the local error, in units of the tolerance (<= 1: acceptable)."""
        o = self.stepper.options
        order = 1 + o.extrapolation  # local coupling error ~ h**(order + 1)
        err = 0.0
        for a, b in zip(y_big, y_small, strict=True):
            e = abs(b - a) / (2**order - 1) / (o.tolerance * (1.0 + abs(b)))
            if e > err:
                err = e
        return err if math.isfinite(err) else 1e9

    def advance(self) -> None:
        s = self.stepper
        grid, o, stats, v = s.grid, s.options, s.stats, s.coupling.v
        n = grid.n
        t = grid.time(n)
        s.apply_events(n)
        order = 1 + o.extrapolation
        while True:
            end = s.next_stop(n, self.h_ticks)
            h_ticks = end - n
            snapshot = self.save()
            kept = stats["macro_steps"]
            half = n + h_ticks // 2
            discarded: SimulationError | None = None
            try:
                s.step(n, end)
                y_big = [v[k] for k in self.watched]
                self.restore(snapshot)
                stats["macro_steps"] = kept
                if half == n:  # one tick: nothing to compare with
                    s.step(n, end)
                    break
                s.step(n, half)
                s.step(half, end)
            except StepRejected as exc:  # a slave discarded the step: retry smaller, like a too-large error
                if half == n:
                    raise
                log.info("t = %.9g s: %s; retrying with a smaller step", t, exc)
                err, discarded = 1e9, exc
            else:
                err = self._error(y_big, [v[k] for k in self.watched])
            if err <= 1.0:
                factor = 0.9 * err ** (-1.0 / (order + 1)) if err > 0 else 4.0
                if factor >= 2.0 and h_ticks == self.h_ticks:
                    self.h_ticks = min(self.h_ticks * 2, self.max_ticks)
                elif factor < 1.0:
                    self.h_ticks = max(self.h_ticks // 2, self.min_ticks)
                break
            self.restore(snapshot)
            stats["macro_steps"] = kept
            stats["rejected_steps"] += 1
            if h_ticks <= self.min_ticks:
                if discarded is not None:
                    raise SimulationError(
                        f"{discarded} (also with the smallest step)", slave=discarded.slave, time=discarded.time
                    )
                raise SimulationError(
                    f"error control cannot meet tolerance {o.tolerance:g} at t = {t:.9g} s with the smallest step "
                    f"{grid.seconds(self.min_ticks):.3g} s (error estimate {err:.3g} x tolerance); "
                    "raise [master] tolerance or lower min_step",
                    time=t,
                )
            factor = max(0.25, 0.9 * err ** (-1.0 / (order + 1)))
            self.h_ticks = max(self.min_ticks, min(h_ticks // 2, int(h_ticks * factor)))
        self._watch_step_size(h_ticks, t)

    def _watch_step_size(self, h_ticks: int, t: float) -> None:
        """Warn when the accepted step collapses; stop when it stays at the minimum."""
        grid = self.stepper.grid
        if not self._warned_shrink and h_ticks * self.shrink_warning < grid.macro:
            self._warned_shrink = True
            self.warn(
                f"error control shrank the step to {grid.seconds(h_ticks):.3g} s at t = {t:.9g} s, more than "
                f"{self.shrink_warning}x below the macro step {grid.seconds(grid.macro):g} s: the coupling may be "
                "unstable (check connection gains) or the tolerance too tight"
            )
        if h_ticks > self.near_minimum * self.min_ticks:
            self._at_minimum = 0
            return
        self._at_minimum += 1
        if self._at_minimum >= self.max_steps_at_minimum:
            raise SimulationError(
                f"error control held the step within {self.near_minimum}x of its minimum "
                f"{grid.seconds(self.min_ticks):.3g} s for {self._at_minimum} steps up to t = {grid.now:.9g} s: "
                "the coupled system is unstable at any larger step (check connection gains) or needs a lower "
                "[master] min_step",
                time=grid.now,
            )
