"""The steppable co-simulation master: ``sim.step()``, ``sim.run(until=t)``, ``sim.outputs``, ``sim.set(...)``.

Simulation is a facade over the parts of the master, each in its own module:

- timegrid.TimeGrid: integer ticks from the start time (t = t0 + n * tick, never accumulated);
- coupling.Coupling: the signal table, every slave's inputs (one function), consistent outputs (feedthrough,
  algebraic loops), overrides and drifts;
- events: scheduled events that check and apply themselves, in an EventSchedule;
- stepping: one macro step of every slave (MacroStepper) and the strategies choosing steps (FixedStepping,
  ErrorControlledStepping);
- snapshot.Snapshot: the state save_state/restore_state move.

One macro step: apply the events due at t; step the slaves from t to t + h; make the outputs at t + h consistent;
pass the events the slaves emitted during the (accepted) step to the recorders; record; call the callback.
"""

from __future__ import annotations

import logging
import time as wallclock
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from orchestrator.cosim.master.compiled import CompiledRun
from orchestrator.cosim.master.coupling import Coupling
from orchestrator.cosim.master.events import EventSchedule, ScheduledEvent
from orchestrator.cosim.master.failure import slave_failure
from orchestrator.cosim.master.graph import gauss_seidel_order
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.master.recorder import Recorder
from orchestrator.cosim.master.snapshot import Snapshot
from orchestrator.cosim.master.start_state import StartState, restore_start_state
from orchestrator.cosim.master.stepping import (
    ErrorControlledStepping,
    FixedStepping,
    MacroStepper,
    SteppingStrategy,
    TerminationRequested,
)
from orchestrator.cosim.master.timegrid import FINE_LEVELS, TimeGrid
from orchestrator.cosim.slaves.base import EventSink, Slave
from orchestrator.cosim.system import System, split_name
from orchestrator.errors import O2TwinError, SimulationError, SystemDefinitionError

log = logging.getLogger(__name__)


class Simulation:
    """A system under a master algorithm, steppable from outside (controllers, RL agents, the HIL pacer)."""

    def __init__(
        self,
        system: System,
        options: MasterOptions | None = None,
        events: Iterable[ScheduledEvent] = (),
        recorders: Iterable[Recorder] = (),
        record: Sequence[str] = (),
    ) -> None:
        self.system = system
        self.options = o = options or MasterOptions()
        o.validate()
        self.warnings = system.check()
        self.recorders = list(recorders)
        self.stats: dict[str, int] = {"macro_steps": 0, "rejected_steps": 0, "slave_steps": 0, "loop_solves": 0}
        for name in o.rates:
            if name not in system.slaves:
                raise SystemDefinitionError(f"[master] rates: there is no slave '{name}'")
        events = list(events)
        for event in events:
            event.check(system, o.start_time)
        for qualified in record:
            system.variable(qualified, f"recorded variable {qualified}")
        self._record_names = list(dict.fromkeys([*system.connected_signals(), *record]))
        sample_times = [s.info.sample_time for s in system.slaves.values() if s.info.sample_time]
        self.grid = TimeGrid(o.start_time, o.step, o.stop_time, times=[e.time for e in events],
                             durations=sample_times, record_interval=o.record_interval,
                             fine_levels=FINE_LEVELS if o.error_control else 0)  # fmt: skip
        self.schedule = EventSchedule(events, self.grid)
        self._initialised = False
        self._finished = False
        self._start_state: StartState | None = None
        #: how the run ended: None while it runs, else "completed", "terminated" (a slave asked to stop), "failed"
        #: or "stopped"
        self.finish_status: str | None = None
        self._pending: list[tuple[float, str, str, Mapping[str, Any]]] = []  # slave events of the current step
        self._final: dict[str, Any] = {}  # every variable's value when the run finished (get() after the end)
        self._wall_start = 0.0
        self._pace_check_at = 1024  # macro steps at the next check of the projected wall time

    #: Warn when, after at least pace_min_wall_s of wall time, the run projects to need more than pace_warn_wall_s.
    pace_min_wall_s = 10.0
    pace_warn_wall_s = 3600.0

    @property
    def events(self) -> list[ScheduledEvent]:
        """The scheduled events in time order."""
        return self.schedule.events

    # ----------------------------------------------------------------- set-up
    def start_from(self, state: StartState) -> None:
        """Start from serialised FMU states (taken at this run's start time) instead of the FMUs' initial state."""
        if self._initialised:
            raise SimulationError("start_from: the simulation has started already")
        self._start_state = state

    def initialise(self) -> None:
        """Set up every slave at the start time, apply start events, make outputs consistent, record t0."""
        if self._initialised:
            return
        system, o, t0 = self.system, self.options, self.grid.t0
        order = gauss_seidel_order(list(system.slaves.values()), system.connections)
        for name in order:
            try:
                system.slaves[name].setup(t0, system.slave_parameters(name))
            except BaseException as exc:
                self._failed(exc, name, t0, finish=False)
                raise
        if self._start_state is not None:
            try:
                restore_start_state(system, self._start_state, t0)
            except BaseException as exc:
                self._failed(exc, None, t0, finish=False)
                raise
        self.coupling = Coupling(system, o, order, [*system.connected_signals(), *self._record_names])
        ids = [self.coupling.sid[q] for q in self._record_names]  # fixed: signals added later get new ids
        #: the recorded signals' ids in the table (None: the table's first ones in order, recorded as a slice)
        self._record_ids: list[int] | None = None if ids == list(range(len(ids))) else ids
        self.grid.on_refine(self.coupling.rescale)
        self.stepper = MacroStepper(self.grid, self.coupling, self.schedule, o, self.stats, self._notify)
        self._rollback_ok = all(p.slave.info.can_rollback for p in self.coupling.plans)
        self.strategy: SteppingStrategy
        if o.error_control and self._rollback_ok:
            self.strategy = ErrorControlledStepping(self.stepper, self.save_state, self.restore_state, self._warn)
        else:
            self.strategy = FixedStepping(self.stepper)
        if o.error_control and o.rates:
            self._warn("error control steps every slave at every step; [master] rates are ignored")
        if o.error_control and not self._rollback_ok:
            names = ", ".join(p.name for p in self.coupling.plans if not p.slave.info.can_rollback)
            self._warn(f"error control needs rollback but {names} cannot save state; using fixed steps")
        segment = CompiledRun.applies(self.stepper.items, self.coupling)
        if segment is not None and isinstance(self.strategy, FixedStepping) and o.extrapolation == 0:
            record_ids = [self.coupling.sid[q] for q in self._record_names]
            self.stepper.batch = CompiledRun(segment, self.coupling, record_ids)
        sink = EventSink(self._slave_event)
        for slave in system.slaves.values():
            slave.attach_event_sink(sink)
        self._initialised = True
        self._wall_start = wallclock.perf_counter()
        for r in self.recorders:
            r.on_start(self._record_names, self.metadata())
        for w in self.warnings:
            self._notify(t0, f"warning: {w}")
        try:
            self.stepper.apply_events(0)
            coupling = self.coupling
            for p in coupling.plans:
                coupling.write_inputs(p)
            coupling.read_all(t0)
            self.stats["loop_solves"] += coupling.update(t0, force=True)
        except BaseException as exc:
            self._failed(exc, None, t0, finish=True)
            raise
        self._flush_slave_events()
        self._record()

    # --------------------------------------------------------------- public API
    @property
    def initialised(self) -> bool:
        """True once every slave is set up and the outputs at the start time are consistent."""
        return self._initialised

    @property
    def time(self) -> float:
        """Current simulated time in s."""
        return self.grid.now

    @property
    def outputs(self) -> dict[str, float]:
        """Current values ("slave.var" -> value) of every connected and recorded signal."""
        self.initialise()
        return dict(zip(self.coupling.sid, self.coupling.v, strict=True))

    def get(self, qualified: str) -> Any:
        """Current value of any variable of any slave ("slave.var"); after the run, its value at the end."""
        self.initialise()
        sid = self.coupling.sid.get(qualified)
        if sid is not None:
            return self.coupling.v[sid]
        slave, _ = self.system.variable(qualified, f"get {qualified}")
        if self._finished:
            if qualified not in self._final:
                raise SimulationError(f"get {qualified}: its value at the end of the run could not be read")
            return self._final[qualified]
        return slave.get_outputs([split_name(qualified)[1]])[split_name(qualified)[1]]

    def set(self, qualified: str, value: float) -> None:
        """Set an unconnected input or a tunable parameter now (holds until changed); outputs are updated."""
        self.initialise()
        self._check_running()
        t = self.time
        try:
            self.coupling.set_value(qualified, value)
            self.stats["loop_solves"] += self.coupling.update(t, force=True)
        except BaseException as exc:
            self._failed(exc, split_name(qualified)[0], t, finish=False)
            raise

    def step(self) -> float:
        """Advance by one macro step (shortened to land on events and sample instants); return the new time."""
        self._step()
        return self.time

    def _step(self) -> None:
        """step() without the new time (run's loop does not need it)."""
        if not self._initialised:
            self.initialise()
        if self._finished:
            self._check_running()
        try:
            self.strategy.advance()
        except TerminationRequested as stop:  # a slave ends the run: cleanly, at the start of the step
            self._terminated(stop)
            return
        except BaseException as exc:  # a failed step leaves the time at its start
            self._failed(exc, None, self.time, finish=True)
            raise  # _failed raises the SimulationError to report when it is not exc itself
        if self._pending:
            self._flush_slave_events()
        self._record()
        if self.stats["macro_steps"] >= self._pace_check_at:
            self._check_pace()

    def _step_batch(self) -> bool:
        """Many macro steps in one call of the compiled coupling path, where it applies now (see step())."""
        try:
            if not self.stepper.run_batch(self._record_values if self.recorders else None):
                return False
        except TerminationRequested as stop:
            self._terminated(stop)
            return True
        except BaseException as exc:
            self._failed(exc, None, self.time, finish=True)
            raise
        if self._pending:
            self._flush_slave_events()
        if self.stats["macro_steps"] >= self._pace_check_at:
            self._check_pace()
        return True

    def _terminated(self, stop: TerminationRequested) -> None:
        log.info("t = %.9g s: %s", self.time, stop)
        self._flush_slave_events()
        self._notify(self.time, f"terminated: {stop}")
        self.finish(status="terminated")

    def run(self, until: float | None = None, callback: Callable[[Simulation], Any] | None = None) -> None:
        """Step until ``until`` (s; default the stop time), calling ``callback(sim)`` after every macro step.

        A callback returning False stops the run early. At the stop time the recorders are finished.
        """
        self.initialise()
        grid = self.grid
        target = grid.stop if until is None else min(grid.ticks_at(until), grid.stop)
        grid.target = target
        try:
            while grid.n < grid.target and not self._finished:
                if callback is None and self.stepper.batch is not None and self._step_batch():
                    continue
                self._step()
                if callback is not None and callback(self) is False:
                    self.finish(status="stopped")
                    return
        except KeyboardInterrupt:
            self.finish(status="stopped", error="interrupted")
            raise
        finally:
            grid.target = None
        if grid.n >= grid.stop:
            self.finish()

    def finish(self, status: str = "completed", error: str | None = None) -> None:
        """Tell the recorders the run ended and release the slaves (idempotent)."""
        if self._finished or not self._initialised:
            return
        self._finished = True
        self.finish_status = status
        self._flush_slave_events()
        meta = self.metadata()
        meta.update(status=status, error=error)
        for r in self.recorders:
            r.on_finish(meta)
        for p in self.coupling.plans:
            self._keep_final_values(p.slave)
            try:
                p.slave.terminate()
            except O2TwinError as exc:  # pragma: no cover - best effort at the end
                log.warning("terminating %s failed: %s", p.name, exc)

    def metadata(self) -> dict[str, Any]:
        """Run metadata: times, algorithm, slaves (type, FMU GUID), units, wall time, real-time factor, counts."""
        o = self.options
        if self._initialised:
            self.stepper.collect_timings()
        wall = wallclock.perf_counter() - self._wall_start if self._initialised else 0.0
        simulated = self.time - self.grid.t0 if self._initialised else 0.0
        slaves = {}
        for name, s in self.system.slaves.items():
            entry: dict[str, Any] = {"type": type(s).__name__}
            if getattr(s, "guid", None):
                entry["guid"] = getattr(s, "guid", None)
                entry["fmu"] = str(getattr(s, "fmu_path", ""))
            if self._initialised:
                entry["wall_s"] = self.coupling.plans[self.coupling.index[name]].step_wall_s()
                if hasattr(s, "io_s"):
                    entry["io_s"] = getattr(s, "io_s", None)
                times = getattr(s, "update_times", None)
                if times is not None and hasattr(times, "summary"):
                    entry.update(times.summary())
            slaves[name] = entry
        units = {}
        for q in self._record_names:
            sn, vn = split_name(q)
            units[q] = self.system.slaves[sn].variables[vn].unit
        return {
            "start_time": self.grid.t0,
            "stop_time": o.stop_time,
            "time": simulated + self.grid.t0,
            "step": o.step,
            "algorithm": o.algorithm,
            "extrapolation": o.extrapolation,
            "error_control": o.error_control,
            "tolerance": o.tolerance,
            "loop_solver": o.loop_solver,
            "slaves": slaves,
            "units": units,
            "wall_time_s": wall,
            "real_time_factor": simulated / wall if wall > 0 else None,
            **self.stats,
        }

    def save_state(self) -> Snapshot:
        """A snapshot of every slave and the master (needs rollback support in every slave)."""
        self.initialise()
        if not self._rollback_ok:
            names = ", ".join(p.name for p in self.coupling.plans if not p.slave.info.can_rollback)
            raise SimulationError(f"cannot save the simulation state: {names} cannot save state")
        grid = self.grid
        return Snapshot(
            tick=grid.tick,
            n=grid.n,
            n_prev=grid.n_prev,
            next_event=self.schedule.next,
            slaves=tuple(p.slave.get_state() for p in self.coupling.plans),
            coupling=self.coupling.get_state(),
            pending_events=len(self._pending),
        )

    def restore_state(self, snapshot: Snapshot) -> None:
        """Return every slave and the master to a snapshot from save_state."""
        grid = self.grid
        if snapshot.tick != grid.tick:
            raise SimulationError("snapshot taken before the time grid was refined; take a new one")
        for p, state in zip(self.coupling.plans, snapshot.slaves, strict=True):
            p.slave.set_state(state)
        grid.n, grid.n_prev = snapshot.n, snapshot.n_prev
        self.schedule.next = snapshot.next_event
        self.coupling.set_state(snapshot.coupling)
        del self._pending[snapshot.pending_events :]

    # -------------------------------------------------------------- internals
    def _check_running(self) -> None:
        if self._finished:
            raise SimulationError("the simulation has finished; create a new Simulation to run again")

    def _failed(self, exc: BaseException, slave: str | None, t: float, finish: bool) -> None:
        """Something went wrong working on slave (None: unknown) at t: end the run as failed (if finish) and raise
        the SimulationError naming slave and time when it is not exc itself (KeyboardInterrupt passes)."""
        if isinstance(exc, KeyboardInterrupt):
            return
        error = slave_failure(exc, getattr(exc, "slave", None) or slave, t)
        if finish and isinstance(error, O2TwinError):
            self._fail(error)
        if error is not exc:
            raise error from exc

    def _check_pace(self) -> None:
        """Warn once when the run, at its pace so far, would need more than pace_warn_wall_s of wall time."""
        self._pace_check_at = 2 * self.stats["macro_steps"]
        wall = wallclock.perf_counter() - self._wall_start
        done = self.time - self.grid.t0
        if wall < self.pace_min_wall_s or done <= 0:
            return
        projected = wall * (self.options.stop_time - self.grid.t0) / done
        if projected > self.pace_warn_wall_s:
            self._pace_check_at = 2**62  # once
            steps = self.stats["macro_steps"]
            self._warn(
                f"at its pace so far ({steps} steps, {done / steps:.3g} s per step on average) the run needs about "
                f"{projected / 3600:.3g} h of wall time to reach the stop time {self.options.stop_time:g} s; "
                "a larger [master] step (or a stable coupling under error control) would shorten it"
            )

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)
        if self._initialised:
            self._notify(self.time, f"warning: {text}")

    def _notify(self, t: float, text: str) -> None:
        for r in self.recorders:
            r.on_event(t, text)

    def _slave_event(self, t: float, source: str, text: str, extra: Mapping[str, Any]) -> None:
        self._pending.append((t, source, text, extra))

    def _flush_slave_events(self) -> None:
        """Pass the events slaves emitted during accepted steps to the recorders."""
        if self._pending:
            pending, self._pending = self._pending, []
            for t, source, text, extra in pending:
                for r in self.recorders:
                    r.on_event(t, text, source=source, **extra)

    def _fail(self, exc: BaseException) -> None:
        self._flush_slave_events()
        self._notify(self.time, f"error: {exc}")
        self.finish(status="failed", error=str(exc))

    def _keep_final_values(self, slave: Slave) -> None:
        """Read every variable of slave before it is released, for get() after the run."""
        names = list(slave.variables)
        try:
            values = slave.get_outputs(names)
        except Exception:  # a failed slave may not answer: get() then says so
            log.debug("final values of %s unavailable", slave.name, exc_info=True)
            return
        self._final.update({f"{slave.name}.{k}": value for k, value in values.items()})

    def _record(self) -> None:
        if not self.recorders:
            return
        grid = self.grid
        if grid.record is not None and grid.n % grid.record:
            return
        v, ids = self.coupling.v, self._record_ids
        self._record_values(self.time, v[: len(self._record_names)] if ids is None else [v[k] for k in ids])

    def _record_values(self, t: float, values: list[float]) -> None:
        for r in self.recorders:
            r.on_sample(t, values)


def run_system(
    system: System,
    options: MasterOptions,
    events: Iterable[ScheduledEvent] = (),
    recorders: Iterable[Recorder] = (),
    record: Sequence[str] = (),
    callback: Callable[[Simulation], Any] | None = None,
) -> Simulation:
    """Build a Simulation and run it to the stop time (convenience for scripts)."""
    sim = Simulation(system, options, events, recorders, record)
    sim.run(callback=callback)
    return sim


__all__ = ["Simulation", "run_system"]
