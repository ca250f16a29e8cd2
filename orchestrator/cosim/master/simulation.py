"""The steppable co-simulation master: ``sim.step()``, ``sim.run(until=t)``, ``sim.outputs``, ``sim.set(...)``.

Time is kept as an integer number of ticks from the start time; a tick divides the macro step, every scheduled
event time, every Python block's sample time and the record interval exactly, so t = t0 + n * tick never drifts
and every event and sample instant is hit exactly. One macro step:

1. apply scheduled events due at t;
2. step the slaves from t (Jacobi: all from the outputs at t; Gauss-Seidel: in connection-graph order, each from
   the newest outputs), with inputs held or linearly extrapolated (input derivatives where accepted);
3. at t + h make the outputs consistent: re-set inputs of slaves with direct feedthrough in dependency order and
   solve algebraic loops between slaves (fixed point or Newton);
4. record, call the callback.

With error control the step size varies by powers of two: each step is taken once with h and again as two steps
of h/2 from the saved state; the difference estimates the error (Richardson), the step is rejected and the slaves
rolled back when it is too large.
"""

from __future__ import annotations

import logging
import math
import time as wallclock
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

from orchestrator.cosim.master.events import DriftEvent, OverrideEvent, ReleaseEvent, ScheduledEvent, SetEvent
from orchestrator.cosim.master.graph import feedthrough_blocks, gauss_seidel_order, is_loop
from orchestrator.cosim.master.loops import LoopEdge, LoopSolver
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.master.recorder import Recorder
from orchestrator.cosim.system import System, article, split_name
from orchestrator.errors import O2TwinError, SimulationError, SystemDefinitionError

log = logging.getLogger("o2twin.master")

#: Error control: the finest step is the macro step / 2**_FINE_LEVELS (the tick is fine enough to halve that often).
_FINE_LEVELS = 10


def _fraction(x: float) -> Fraction:
    """A float as the decimal fraction it was written as (0.1 -> 1/10), so grids of decimal times line up."""
    return Fraction(repr(float(x)))


def _as_slice(ids: list[int]) -> slice | None:
    """ids as a slice when they are consecutive (the usual case), else None."""
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        return slice(ids[0], ids[0] + len(ids))
    return None


class _SlavePlan:
    """Precomputed per-slave data for the hot loop."""

    __slots__ = (
        "derivative_inputs",
        "in_gain",
        "in_names",
        "in_offset",
        "in_src",
        "in_src_slave",
        "in_terms",
        "index",
        "name",
        "out_ids",
        "out_names",
        "out_slice",
        "overrides",
        "period_end",
        "period_start",
        "rate",
        "read",
        "sampled",
        "slave",
        "wall_s",
        "write",
        "written",
    )


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
        self.options = options or MasterOptions()
        self.options.validate()
        self.warnings = system.check()
        self.events = sorted(events, key=lambda e: e.time)
        self.recorders = list(recorders)
        self.stats: dict[str, int] = {"macro_steps": 0, "rejected_steps": 0, "slave_steps": 0, "loop_solves": 0}
        self._initialised = False
        self._finished = False
        self._callback_target: int | None = None
        for name in self.options.rates:
            if name not in system.slaves:
                raise SystemDefinitionError(f"[master] rates: there is no slave '{name}'")
        for ev in self.events:
            self._check_event(ev)
        for qualified in record:
            system._variable(qualified, f"recorded variable {qualified}")
        self._record_names = list(dict.fromkeys([*system.connected_signals(), *record]))
        self._build_time_grid()

    # ----------------------------------------------------------------- set-up
    def _check_event(self, ev: ScheduledEvent) -> None:
        where = f"event at t = {ev.time:g} s ({ev.describe()})"
        if not (math.isfinite(ev.time) and ev.time >= self.options.start_time):
            raise SystemDefinitionError(f"{where}: time must be at or after the start time {self.options.start_time}")
        names: Iterable[str] = ()
        if isinstance(ev, SetEvent | OverrideEvent):
            names = ev.values
        elif isinstance(ev, DriftEvent):
            names = ev.rates
        elif isinstance(ev, ReleaseEvent):
            names = ev.names
        for qualified in names:
            _, var = self.system._variable(qualified, where)
            if isinstance(ev, OverrideEvent) and var.causality != "input":
                raise SystemDefinitionError(
                    f"{where}: {qualified} is {article(var.causality)}; only inputs can be overridden"
                )
            if isinstance(ev, DriftEvent) and var.causality != "output":
                raise SystemDefinitionError(f"{where}: {qualified} is {article(var.causality)}; only outputs can drift")
            if isinstance(ev, SetEvent) and var.causality not in ("input", "parameter"):
                raise SystemDefinitionError(
                    f"{where}: {qualified} is {article(var.causality)}; set inputs or parameters"
                )

    def _build_time_grid(self) -> None:
        """Choose the tick: the largest time dividing the step, event times, sample times and record interval."""
        o = self.options
        self._t0 = float(o.start_time)
        step = _fraction(o.step)
        tick = step
        for ev in self.events:
            tick = _fgcd(tick, _fraction(ev.time) - _fraction(self._t0))
        for slave in self.system.slaves.values():
            ts = slave.info.sample_time
            if ts:
                tick = _fgcd(tick, _fraction(ts))
        if o.record_interval:
            tick = _fgcd(tick, _fraction(o.record_interval))
        tick = _fgcd(tick, _fraction(o.stop_time) - _fraction(o.start_time))
        if o.error_control:
            tick = tick / (2**_FINE_LEVELS)
        self._set_tick(tick)
        self._n = 0
        self._macro_ticks = self._ticks(o.step)
        self._record_ticks = self._ticks(o.record_interval) if o.record_interval else None
        self._stop_ticks = self._ticks(o.stop_time - o.start_time)

    def _set_tick(self, tick: Fraction) -> None:
        self._tick = tick
        self._tick_num = tick.numerator
        self._tick_den = tick.denominator

    def _ticks(self, duration: float | Fraction) -> int:
        """Duration in s -> integer ticks (refining the tick if the duration is not on the grid)."""
        d = duration if isinstance(duration, Fraction) else _fraction(duration)
        q = d / self._tick
        if q.denominator != 1:
            new_tick = _fgcd(self._tick, d)
            factor = self._tick / new_tick
            assert factor.denominator == 1
            self._rescale(int(factor))
            q = d / self._tick
        return int(q)

    def _rescale(self, factor: int) -> None:
        """Refine the tick by an integer factor, converting every stored tick count."""
        self._set_tick(self._tick / factor)
        for attr in ("_n", "_macro_ticks", "_record_ticks", "_stop_ticks", "_callback_target", "_n_prev"):
            value = getattr(self, attr, None)
            if value is not None:
                setattr(self, attr, value * factor)
        if self._initialised:
            self._event_ticks = [k * factor for k in self._event_ticks]
            for p in self._plans:
                if p.period_end is not None:
                    p.period_end *= factor
            if self._sample_ticks:
                self._sample_ticks = [(s, k * factor) for s, k in self._sample_ticks]
            self._h_ticks *= factor

    def _time_of(self, n: int) -> float:
        return self._t0 + (n * self._tick_num) / self._tick_den

    def initialise(self) -> None:
        """Set up every slave at the start time, apply start events, make outputs consistent, record t0."""
        if self._initialised:
            return
        system, o = self.system, self.options
        self._gs_order = gauss_seidel_order(list(system.slaves.values()), system.connections)
        slaves = [system.slaves[name] for name in self._gs_order]
        self._index = {s.name: i for i, s in enumerate(slaves)}
        for s in slaves:
            s.setup(self._t0, system.slave_parameters(s.name))
        # signals: every connection source and every recorded variable
        # Each slave's signals get consecutive ids, so storing its outputs is one slice assignment.
        signals = list(dict.fromkeys([*system.connected_signals(), *self._record_names]))
        signals.sort(key=lambda q: self._index[split_name(q)[0]])
        self._sid: dict[str, int] = {name: k for k, name in enumerate(signals)}
        self._v = [0.0] * len(self._sid)
        self._v_prev: list[float] | None = None
        self._n_prev: int | None = None
        self._plans: list[_SlavePlan] = []
        for i, s in enumerate(slaves):
            p = _SlavePlan()
            p.index, p.name, p.slave = i, s.name, s
            p.out_names = [split_name(q)[1] for q in self._sid if split_name(q)[0] == s.name]
            p.out_ids = [self._sid[f"{s.name}.{v}"] for v in p.out_names]
            p.out_slice = _as_slice(p.out_ids)
            p.read = s.output_reader(p.out_names)
            conns = [c for c in system.connections if c.target_slave == s.name]
            p.in_names = [c.target_var for c in conns]
            p.in_src = [self._sid[c.source] for c in conns]
            p.in_src_slave = [self._index[c.source_slave] for c in conns]
            p.in_gain = [c.gain for c in conns]
            p.in_offset = [c.offset for c in conns]
            p.in_terms = list(zip(p.in_src, p.in_gain, p.in_offset, strict=True))
            p.write = s.input_writer(p.in_names) if conns else None
            p.derivative_inputs = o.extrapolation == 1 and s.info.max_input_derivative_order >= 1
            # a sampled block reads its inputs at its sample instant t: never extrapolated to mid-step
            p.sampled = s.info.sample_time is not None
            p.overrides = {}
            p.rate = 1 if o.error_control else int(o.rates.get(s.name, 1))
            p.period_end = None
            p.wall_s = 0.0
            p.written = None  # the input values last written (None: unknown), to skip needless updates
            self._plans.append(p)
        if o.error_control and o.rates:
            self._warn("error control steps every slave at every step; [master] rates are ignored")
        self._multirate = any(p.rate > 1 for p in self._plans)
        self._blocks = []
        for block in feedthrough_blocks(slaves, system.connections):
            plans = [self._plans[self._index[n]] for n in block]
            solver = None
            if is_loop(block, system.connections):
                members = set(block)
                edges = [
                    LoopEdge(
                        system.slaves[c.source_slave],
                        c.source_var,
                        system.slaves[c.target_slave],
                        c.target_var,
                        c.gain,
                        c.offset,
                    )
                    for c in system.connections
                    if c.source_slave in members and c.target_slave in members
                ]
                also = {p.slave: list(p.out_names) for p in plans}
                solver = LoopSolver(edges, o.loop_solver, o.loop_tolerance, o.loop_max_iterations, also)
                log.info("algebraic loop between %s (%s)", ", ".join(block), o.loop_solver)
            self._blocks.append((plans, solver))
        self._sample_ticks = []
        for p in self._plans:
            ts = p.slave.info.sample_time
            if ts:
                k = self._ticks(ts)
                if k % self._macro_ticks or o.error_control:
                    self._sample_ticks.append((p, k))
        self._event_ticks = [self._ticks(_fraction(e.time) - _fraction(self._t0)) for e in self.events]
        self._next_event = 0
        self._drifts: dict[int, tuple[float, float]] = {}
        self._h_ticks = self._macro_ticks
        self._slave_wall_s = [0.0] * len(slaves)
        self._rollback_ok = all(p.slave.info.can_rollback for p in self._plans)
        if o.error_control and not self._rollback_ok:
            names = ", ".join(p.name for p in self._plans if not p.slave.info.can_rollback)
            self._warn(f"error control needs rollback but {names} cannot save state; using fixed steps")
        self._initialised = True
        self._wall_start = wallclock.perf_counter()
        for r in self.recorders:
            r.on_start(self._record_names, self.metadata())
        for w in self.warnings:
            self._notify(self._t0, f"warning: {w}")
        t = self._t0
        try:
            self._apply_events(0)
            for p in self._plans:
                self._write_inputs(p, t)
            self._read_all(t)
            self._update(t, force=True)
        except O2TwinError as exc:
            self._fail(exc)
            raise
        self._record()

    # --------------------------------------------------------------- public API
    @property
    def initialised(self) -> bool:
        """True once every slave is set up and the outputs at the start time are consistent."""
        return self._initialised

    @property
    def time(self) -> float:
        """Current simulated time in s."""
        return self._time_of(self._n)

    @property
    def outputs(self) -> dict[str, float]:
        """Current values ("slave.var" -> value) of every connected and recorded signal."""
        if not self._initialised:
            self.initialise()
        return dict(zip(self._sid, self._v, strict=True))

    def get(self, qualified: str) -> float:
        """Current value of any variable of any slave ("slave.var")."""
        if not self._initialised:
            self.initialise()
        sid = self._sid.get(qualified)
        if sid is not None:
            return self._v[sid]
        slave_name, var = split_name(qualified)
        self.system._variable(qualified, f"get {qualified}")
        return self.system.slaves[slave_name].get_outputs([var])[var]

    def set(self, qualified: str, value: float) -> None:
        """Set an unconnected input or a tunable parameter now (holds until changed); outputs are updated."""
        if not self._initialised:
            self.initialise()
        self._set_value(qualified, value, self.time)
        self._update(self.time, force=True)

    def _set_value(self, qualified: str, value: float, t: float) -> None:
        slave_name, var_name = split_name(qualified)
        _, var = self.system._variable(qualified, f"set {qualified}")
        slave = self.system.slaves[slave_name]
        if var.causality == "input":
            plan = self._plans[self._index[slave_name]]
            if var_name in plan.in_names:
                raise SimulationError(
                    f"set {qualified}: the input is driven by a connection; use an override event to hold it"
                )
            slave.set_inputs({var_name: value})
        elif var.causality == "parameter":
            slave.set_parameter(var_name, value)
        else:
            raise SimulationError(
                f"set {qualified}: it is {article(var.causality)}; only inputs and parameters can be set"
            )

    def step(self) -> float:
        """Advance by one macro step (shortened to land on events and sample instants); return the new time."""
        if not self._initialised:
            self.initialise()
        if self._finished:
            raise SimulationError("the simulation has finished; create a new Simulation to run again")
        try:
            if self.options.error_control and self._rollback_ok:
                self._adaptive_step()
            else:
                self._fixed_step()
        except O2TwinError as exc:
            self._fail(exc)
            raise
        return self.time

    def run(self, until: float | None = None, callback: Callable[[Simulation], Any] | None = None) -> None:
        """Step until ``until`` (s; default the stop time), calling ``callback(sim)`` after every macro step.

        A callback returning False stops the run early. At the stop time the recorders are finished.
        """
        if not self._initialised:
            self.initialise()
        target = self._stop_ticks if until is None else self._ticks(_fraction(until) - _fraction(self._t0))
        target = min(target, self._stop_ticks)
        self._callback_target = target
        try:
            while self._n < self._callback_target:
                self.step()
                if callback is not None and callback(self) is False:
                    self.finish(status="stopped")
                    return
        except KeyboardInterrupt:
            self.finish(status="stopped", error="interrupted")
            raise
        finally:
            self._callback_target = None
        if self._n >= self._stop_ticks:
            self.finish()

    def finish(self, status: str = "completed", error: str | None = None) -> None:
        """Tell the recorders the run ended and release the slaves (idempotent)."""
        if self._finished or not self._initialised:
            return
        self._finished = True
        meta = self.metadata()
        meta.update(status=status, error=error)
        for r in self.recorders:
            r.on_finish(meta)
        for p in self._plans:
            try:
                p.slave.terminate()
            except O2TwinError as exc:  # pragma: no cover - best effort at the end
                log.warning("terminating %s failed: %s", p.name, exc)

    def metadata(self) -> dict[str, Any]:
        """Run metadata: times, algorithm, slaves (type, FMU GUID), units, wall time, real-time factor, counts."""
        o = self.options
        wall = wallclock.perf_counter() - self._wall_start if self._initialised else 0.0
        simulated = self.time - self._t0 if self._initialised else 0.0
        slaves = {}
        for name, s in self.system.slaves.items():
            entry: dict[str, Any] = {"type": type(s).__name__}
            if getattr(s, "guid", None):
                entry["guid"] = s.guid
                entry["fmu"] = str(getattr(s, "fmu_path", ""))
            if self._initialised:
                entry["wall_s"] = self._plans[self._index[name]].wall_s
                if hasattr(s, "io_s"):
                    entry["io_s"] = s.io_s
            slaves[name] = entry
        units = {}
        for q in self._record_names:
            sn, vn = split_name(q)
            units[q] = self.system.slaves[sn].variables[vn].unit
        return {
            "start_time": self._t0,
            "stop_time": o.stop_time,
            "time": simulated + self._t0,
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

    def save_state(self) -> Any:
        """A snapshot of every slave and the master (needs rollback support in every slave)."""
        if not self._initialised:
            self.initialise()
        if not self._rollback_ok:
            names = ", ".join(p.name for p in self._plans if not p.slave.info.can_rollback)
            raise SimulationError(f"cannot save the simulation state: {names} cannot save state")
        return (
            [p.slave.get_state() for p in self._plans],
            list(self._v),
            None if self._v_prev is None else list(self._v_prev),
            self._n_prev,
            self._n,
            self._tick,
            [p.period_end for p in self._plans],
            [dict(p.overrides) for p in self._plans],
            dict(self._drifts),
            self._next_event,
            [solver.get_state() for _, solver in self._blocks if solver is not None],
        )

    def restore_state(self, snapshot: Any) -> None:
        """Return every slave and the master to a snapshot from save_state."""
        states, v, v_prev, n_prev, n, tick, period_ends, overrides, drifts, next_event, solvers = snapshot
        if tick != self._tick:
            raise SimulationError("snapshot taken before the time grid was refined; take a new one")
        for p, s in zip(self._plans, states, strict=True):
            p.slave.set_state(s)
        self._v[:] = v
        self._v_prev = None if v_prev is None else list(v_prev)
        self._n_prev, self._n = n_prev, n
        for p, pe, ov in zip(self._plans, period_ends, overrides, strict=True):
            p.period_end, p.overrides = pe, dict(ov)
            p.written = None
        self._drifts = dict(drifts)
        self._next_event = next_event
        for solver, state in zip([sv for _, sv in self._blocks if sv is not None], solvers, strict=True):
            solver.set_state(state)

    # -------------------------------------------------------------- internals
    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)

    def _notify(self, t: float, text: str) -> None:
        for r in self.recorders:
            r.on_event(t, text)

    def _fail(self, exc: Exception) -> None:
        self._notify(self.time, f"error: {exc}")
        self.finish(status="failed", error=str(exc))

    def _apply_events(self, n: int) -> bool:
        """Apply every event due at tick n; True if any was applied."""
        applied = False
        t = self._time_of(n)
        while self._next_event < len(self.events) and self._event_ticks[self._next_event] <= n:
            ev = self.events[self._next_event]
            self._next_event += 1
            applied = True
            if isinstance(ev, SetEvent):
                for q, value in ev.values.items():
                    self._set_value(q, value, t)
            elif isinstance(ev, OverrideEvent):
                for q, value in ev.values.items():
                    sn, vn = split_name(q)
                    p = self._plans[self._index[sn]]
                    if vn in p.in_names:
                        p.overrides[p.in_names.index(vn)] = float(value)
                    else:
                        p.slave.set_inputs({vn: float(value)})
                    self._write_inputs(p, t)
            elif isinstance(ev, ReleaseEvent):
                for q in ev.names:
                    sn, vn = split_name(q)
                    p = self._plans[self._index[sn]]
                    if vn in p.in_names:
                        p.overrides.pop(p.in_names.index(vn), None)
                        self._write_inputs(p, t)
                    elif q in self._sid:
                        self._drifts.pop(self._sid[q], None)
                    else:
                        start = self.system.start_values.get(q, p.slave.variables[vn].start)
                        if p.slave.variables[vn].causality == "input" and start is not None:
                            p.slave.set_inputs({vn: float(start)})
            elif isinstance(ev, DriftEvent):
                for q, rate in ev.rates.items():
                    if q not in self._sid:
                        self._sid[q] = len(self._sid)
                        self._v.append(0.0)
                        if self._v_prev is not None:
                            self._v_prev.append(0.0)
                        sn, vn = split_name(q)
                        p = self._plans[self._index[sn]]
                        p.out_names.append(vn)
                        p.out_ids.append(self._sid[q])
                        p.out_slice = _as_slice(p.out_ids)
                        p.read = p.slave.output_reader(p.out_names)
                    self._drifts[self._sid[q]] = (float(rate), ev.time)
            log.info("t = %.9g s: %s", t, ev.describe())
            self._notify(t, ev.describe())
        return applied

    def _inputs_at(self, p: _SlavePlan) -> list[float]:
        v = self._v
        values = [g * v[s] + o for s, g, o in p.in_terms]
        if p.overrides:
            for k, value in p.overrides.items():
                values[k] = value
        return values

    def _write_inputs(self, p: _SlavePlan, t: float) -> None:
        if p.write is not None:
            values = self._inputs_at(p)
            p.write(values)
            p.written = values

    def _read(self, p: _SlavePlan, t: float) -> None:
        if p.out_ids:
            self._store(p, p.read(), t)

    def _store(self, p: _SlavePlan, values: Sequence[float], t: float) -> None:
        """Put a slave's output values (in p.out_names order) into the signal table, applying drifts."""
        v = self._v
        if p.out_slice is not None:  # the reader returns exactly len(out_ids) values
            v[p.out_slice] = values
        else:
            for k, value in zip(p.out_ids, values, strict=True):
                v[k] = value
        if self._drifts:
            for k in p.out_ids:
                d = self._drifts.get(k)
                if d is not None:
                    v[k] += d[0] * (t - d[1])

    def _read_all(self, t: float) -> None:
        for p in self._plans:
            self._read(p, t)

    def _update(self, t: float, force: bool = False) -> None:
        """Consistent outputs at t: feedthrough slaves re-read after their inputs are set; loops solved.

        A feedthrough slave whose inputs equal the values it last received keeps the outputs read after its step
        (re-setting the same inputs changes nothing) unless ``force`` (after events, which may change parameters).
        """
        for plans, solver in self._blocks:
            if solver is None:
                for p in plans:
                    if p.rate != 1 and p.period_end is not None:  # a slow slave mid-period: inputs frozen
                        self._read(p, t)
                        continue
                    values = self._inputs_at(p)
                    if force or values != p.written:
                        p.write(values)
                        p.written = values
                        self._read(p, t)
                continue
            for p in plans:
                if p.rate == 1 or p.period_end is None:
                    self._write_inputs(p, t)
                p.written = None  # the solver sets loop inputs itself
            if solver is not None:
                self.stats["loop_solves"] += 1
                u0 = [e.gain * self._v[self._sid[f"{e.source.name}.{e.source_var}"]] + e.offset for e in solver.edges]
                fixed = {}
                for k, e in enumerate(solver.edges):
                    p = self._plans[self._index[e.target.name]]
                    if p.overrides:
                        pos = p.in_names.index(e.target_var)
                        if pos in p.overrides:
                            fixed[k] = p.overrides[pos]
                solver.solve(u0, t, fixed)
                last = solver.last
                for p in plans:  # the solver's last evaluation read them at the solution: no second read
                    values = last.get(p.slave)
                    if values is not None and len(values) == len(p.out_ids):
                        self._store(p, values, t)
                    else:  # signals added since (a drift event) or a slave the loop does not read
                        self._read(p, t)

    def _next_stop(self, n: int, h_ticks: int) -> int:
        """The end tick of a step from n of nominal length h_ticks, cut at events, samples, records and targets."""
        adaptive = self.options.error_control and self._rollback_ok
        end = n + h_ticks if adaptive else (n // self._macro_ticks + 1) * self._macro_ticks
        if self._next_event < len(self.events):
            k = self._event_ticks[self._next_event]
            if n < k < end:
                end = k
        for _p, k in self._sample_ticks:
            nxt = (n // k + 1) * k
            if nxt < end:
                end = nxt
        if self._record_ticks is not None and (adaptive or self._record_ticks % self._macro_ticks):
            nxt = (n // self._record_ticks + 1) * self._record_ticks
            if nxt < end:
                end = nxt
        if self._callback_target is not None and n < self._callback_target < end:
            end = self._callback_target
        if n < self._stop_ticks:
            end = min(end, self._stop_ticks)
        return end

    def _fixed_step(self) -> None:
        n = self._n
        if self._next_event < len(self._event_ticks) and self._event_ticks[self._next_event] <= n:
            self._apply_events(n)
            self._update(self._time_of(n), force=True)
        end = self._next_stop(n, self._macro_ticks)
        self._macro_step(n, end)
        self._record()

    def _macro_step(self, n: int, end: int) -> None:
        """Step every slave from tick n to tick end and make the outputs at end consistent."""
        t = self._time_of(n)
        t_end = self._time_of(end)
        h = t_end - t
        v = self._v
        jacobi = self.options.algorithm == "jacobi"
        order1 = self.options.extrapolation == 1
        v_t = list(v) if (jacobi or order1 or self._multirate) else v  # the values at t, where they are needed
        extrapolate = order1 and self._v_prev is not None
        slope = None
        if extrapolate:
            dt_prev = t - self._time_of(self._n_prev)
            slope = [(a - b) / dt_prev for a, b in zip(v_t, self._v_prev, strict=True)]
        perf = wallclock.perf_counter
        drifting = bool(self._drifts)
        steps = 0
        stepped: set[int] = set()
        for p in self._plans:
            slave = p.slave
            t_from, h_slave = t, h
            if p.rate > 1:
                if p.period_end is None:  # a new period of a slow slave starts: inputs frozen now
                    p.period_end = self._next_stop_multirate(n, p)
                    p.period_start = n  # type: ignore[attr-defined]
                    self._set_slave_inputs(p, v_t, v_t, None if p.sampled else slope, h * p.rate, set(), jacobi=True)
                if end < p.period_end:
                    continue
                t_from = self._time_of(p.period_start)  # type: ignore[attr-defined]
                h_slave = t_end - t_from
                p.period_end = None
            elif slope is None or p.sampled:  # hold (inlined): Jacobi from v_t, Gauss-Seidel the newest v
                if p.write is not None:
                    src = v_t if jacobi else v
                    values = [g * src[s] + o for s, g, o in p.in_terms]
                    if p.overrides:
                        for k, value in p.overrides.items():
                            values[k] = value
                    p.write(values)
                    p.written = values
            else:
                self._set_slave_inputs(p, v, v_t, slope, h, stepped, jacobi)
            t1 = perf()
            ok = slave.step(t_from, h_slave)
            p.wall_s += perf() - t1
            steps += 1
            if not ok:
                raise _StepRejected(
                    f"slave {p.name} rejected (fmi2Discard) the step from t = {t_from:.9g} s by {h_slave:.3g} s"
                    + (f": {slave.last_error_message}" if getattr(slave, "last_error_message", "") else "")
                    + "; try a smaller [master] step or error_control = true",
                    slave=p.name,
                    time=t_from,
                )
            if not jacobi:
                if p.out_slice is not None and not drifting:  # _read inlined: the common case
                    v[p.out_slice] = p.read()
                else:
                    self._read(p, t_end)
                stepped.add(p.index)
        if jacobi:
            self._read_all(t_end)
        self._v_prev = v_t if order1 else None
        self._n_prev = n
        self._n = end
        self._update(t_end)
        self.stats["macro_steps"] += 1
        self.stats["slave_steps"] += steps

    def _next_stop_multirate(self, n: int, p: _SlavePlan) -> int:
        """End of a slow slave's period: rate macro steps, cut at the next event, target or stop time."""
        end = n + p.rate * self._macro_ticks
        if self._next_event < len(self.events):
            k = self._event_ticks[self._next_event]
            if n < k < end:
                end = k
        if self._callback_target is not None and n < self._callback_target < end:
            end = self._callback_target
        return min(end, self._stop_ticks)

    def _set_slave_inputs(
        self,
        p: _SlavePlan,
        v: list[float],
        v_t: list[float],
        slope: list[float] | None,
        h: float,
        stepped: set[int],
        jacobi: bool,
    ) -> None:
        """Inputs for a step of length h: held (order 0) or extrapolated/interpolated (order 1)."""
        if p.write is None:
            return
        if slope is None:  # hold: Jacobi uses v_t; Gauss-Seidel the newest values in v
            src = v_t if jacobi else v
            values = [g * src[s] + o for s, g, o in p.in_terms]
            if p.overrides:
                for k, value in p.overrides.items():
                    values[k] = value
            p.write(values)
            p.written = values
            return
        values = []
        derivs = {}
        for k, (s, ss, g, o) in enumerate(zip(p.in_src, p.in_src_slave, p.in_gain, p.in_offset, strict=True)):
            if k in p.overrides:
                values.append(p.overrides[k])
                if p.derivative_inputs:
                    derivs[p.in_names[k]] = 0.0
                continue
            # a source already at t + h is interpolated; others are extrapolated from the last two points
            d = (v[s] - v_t[s]) / h if not jacobi and ss in stepped else slope[s]
            if p.derivative_inputs:
                values.append(g * v_t[s] + o)
                derivs[p.in_names[k]] = g * d
            else:  # no input derivatives: hold the value the line has at mid-step
                values.append(g * (v_t[s] + 0.5 * h * d) + o)
        p.write(values)
        p.written = None  # extrapolated values (or derivatives): an update must set the values at t + h
        if derivs:
            p.slave.set_input_derivatives(derivs, 1)

    def _record(self) -> None:
        if not self.recorders:
            return
        rt = self._record_ticks
        if rt is not None and self._n % rt:
            return
        t = self.time
        v = self._v
        values = [v[self._sid[q]] for q in self._record_names]
        for r in self.recorders:
            r.on_sample(t, values)

    # ----------------------------------------------------------- error control
    def _adaptive_step(self) -> None:
        """One accepted step by step doubling: h and 2 x h/2 from the same state; reject and halve if too large."""
        o = self.options
        n = self._n
        t = self._time_of(n)
        if self._apply_events(n):
            self._update(t, force=True)
        order = 1 + o.extrapolation  # local coupling error ~ h**(order + 1)
        min_ticks = max(1, self._ticks(o.min_step) if o.min_step else 1)
        max_ticks = self._ticks(o.max_step) if o.max_step else self._macro_ticks * 2**_FINE_LEVELS
        watched = [self._sid[q] for q in self.system.connected_signals()] or list(range(len(self._v)))
        while True:
            end = self._next_stop(n, self._h_ticks)
            h_ticks = end - n
            snapshot = self.save_state()
            kept = self.stats["macro_steps"]
            half = n + h_ticks // 2
            try:
                self._macro_step(n, end)
                y_big = [self._v[k] for k in watched]
                self.restore_state(snapshot)
                self.stats["macro_steps"] = kept
                if half == n:
                    self._macro_step(n, end)
                    break
                self._macro_step(n, half)
                self._macro_step(half, end)
            except _StepRejected as exc:  # a slave discarded the step: retry smaller, like a too-large error
                if half == n:
                    raise
                log.info("t = %.9g s: %s; retrying with a smaller step", t, exc)
                err = 1e9
                discarded: SimulationError | None = exc
            else:
                discarded = None
                y_small = [self._v[k] for k in watched]
                err = 0.0
                for a, b in zip(y_big, y_small, strict=True):
                    scale = o.tolerance * (1.0 + abs(b))
                    e = abs(b - a) / (2**order - 1) / scale
                    if e > err:
                        err = e
                if not math.isfinite(err):
                    err = 1e9
            if err <= 1.0:
                factor = 0.9 * err ** (-1.0 / (order + 1)) if err > 0 else 4.0
                if factor >= 2.0 and h_ticks == self._h_ticks:
                    self._h_ticks = min(self._h_ticks * 2, max_ticks)
                elif factor < 1.0:
                    self._h_ticks = max(self._h_ticks // 2, min_ticks)
                break
            self.restore_state(snapshot)
            self.stats["macro_steps"] = kept
            self.stats["rejected_steps"] += 1
            if h_ticks <= min_ticks:
                if discarded is not None:
                    raise SimulationError(
                        f"{discarded} (also with the smallest step)", slave=discarded.slave, time=discarded.time
                    )
                raise SimulationError(
                    f"error control cannot meet tolerance {o.tolerance:g} at t = {t:.9g} s with the smallest step "
                    f"{self._time_of(min_ticks) - self._t0:.3g} s (error estimate {err:.3g} x tolerance); "
                    "raise [master] tolerance or lower min_step"
                )
            factor = max(0.25, 0.9 * err ** (-1.0 / (order + 1)))
            self._h_ticks = max(min_ticks, min(h_ticks // 2, int(h_ticks * factor)))
        self._record()


class _StepRejected(SimulationError):
    """A slave discarded a step (fmi2Discard): fatal with fixed steps, a rejection under error control."""


def _fgcd(a: Fraction, b: Fraction) -> Fraction:
    """Greatest common divisor of two non-negative rationals (0 is ignored)."""
    if b == 0:
        return a
    if a == 0:
        return b
    a, b = abs(a), abs(b)
    den = a.denominator * b.denominator // math.gcd(a.denominator, b.denominator)
    return Fraction(math.gcd(int(a * den), int(b * den)), den)


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
