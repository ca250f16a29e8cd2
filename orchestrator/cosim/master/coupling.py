"""The coupling of the slaves: the signal table, the input of every slave, consistent outputs, overrides and drifts.

Every connection source and recorded variable has an integer id into one list of values ``v`` (each slave's
signals consecutive, so storing a slave's outputs is one slice assignment). A slave's inputs are computed by one
function, ``inputs(plan, src)``: gain * src[source] + offset per connection, overridden inputs replaced, from
whichever values the caller passes (the values at t for Jacobi, the newest for Gauss-Seidel, points on the
extrapolation line for first-order extrapolation). ``update`` makes the outputs at a communication point
consistent: feedthrough slaves get their inputs re-set in dependency order and algebraic loops are solved.
The Coupling is also the EventTarget scheduled events act on (set, override, release, drift).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.cosim.master.failure import slave_failure
from orchestrator.cosim.master.graph import feedthrough_blocks, is_loop
from orchestrator.cosim.master.loops import LoopEdge, LoopSolver
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.slaves.base import Slave
from orchestrator.cosim.system import System, article, split_name
from orchestrator.errors import SimulationError

log = logging.getLogger(__name__)

#: Values a slave's inputs are computed from: the signal list, or a mapping signal id -> value.
Source = Sequence[float] | Mapping[int, float]


def _as_slice(ids: list[int]) -> slice | None:
    """ids as a slice when they are consecutive (the usual case), else None."""
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        return slice(ids[0], ids[0] + len(ids))
    return None


class SlavePlan:
    """One slave's place in the coupling, precomputed for the hot loop."""

    __slots__ = (
        "derivative_inputs",
        "idle",
        "in_gain",
        "in_names",
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
        "synced",
        "timed",
        "wall_s",
        "write",
        "written",
    )

    def __init__(self, index: int, slave: Slave, out_names: list[str], out_ids: list[int]) -> None:
        self.index, self.name, self.slave = index, slave.name, slave
        self.out_names, self.out_ids = out_names, out_ids
        self.out_slice = _as_slice(out_ids)
        self.read: Callable[[], list[float]] = slave.output_reader(out_names)
        self.in_names: list[str] = []
        self.in_src: list[int] = []
        self.in_src_slave: list[int] = []
        self.in_gain: list[float] = []
        self.in_terms: list[tuple[int, float, float]] = []  # (source id, gain, offset) per input
        self.write: Callable[[Sequence[float]], None] | None = None
        self.derivative_inputs = False
        #: a sampled block reads its inputs at its sample instant t: never extrapolated to mid-step
        self.sampled = slave.info.sample_time is not None
        self.overrides: dict[int, float] = {}  # input position -> held value
        self.rate = 1
        self.period_start = 0  # multi-rate: tick where the current period of a slow slave began
        self.period_end: int | None = None  # ... and where it ends (None: no period running)
        self.wall_s = 0.0  # wall time spent in slave.step (where the master times it: timed)
        self.timed = slave.own_step_wall_s() is None
        self.written: list[float] | None = None  # the input values last written (None: unknown)
        #: idle(t): a step from t would change nothing (Slave.idle_test); None: always stepped
        self.idle: Callable[[float], bool] | None = None
        #: the signal table holds the outputs as the slave's reader gives them now (no drift applied, none added
        #: since): an idle step may then be skipped without a read
        self.synced = False

    def step_wall_s(self) -> float:
        """Wall time spent in the slave's steps, s (timed by the master or by the slave itself)."""
        own = None if self.timed else self.slave.own_step_wall_s()
        return self.wall_s + (own or 0.0)


@dataclass(frozen=True)
class CouplingState:
    """The coupling's part of a Simulation snapshot."""

    values: list[float]
    previous_values: list[float] | None
    periods: list[tuple[int, int | None]]  # (period_start, period_end) per slave, multi-rate
    overrides: list[dict[int, float]]
    drifts: dict[int, tuple[float, float]]
    loops: list[Any]  # LoopSolver states (Jacobian, history)


class Coupling:
    """Signals, per-slave plans and the feedthrough/loop update of a System, in Gauss-Seidel order."""

    def __init__(self, system: System, options: MasterOptions, order: Sequence[str], signals: Sequence[str]) -> None:
        self.system = system
        slaves = [system.slaves[name] for name in order]
        self.index = {s.name: i for i, s in enumerate(slaves)}
        ordered = sorted(dict.fromkeys(signals), key=lambda q: self.index[split_name(q)[0]])
        self.sid: dict[str, int] = {name: k for k, name in enumerate(ordered)}
        self.v: list[float] = [0.0] * len(self.sid)
        #: the values at the previous communication point (first-order extrapolation), else None
        self.v_prev: list[float] | None = None
        self.drifts: dict[int, tuple[float, float]] = {}  # signal id -> (rate per s, since t)
        self.plans: list[SlavePlan] = []
        for i, s in enumerate(slaves):
            out_names = [split_name(q)[1] for q in self.sid if split_name(q)[0] == s.name]
            p = SlavePlan(i, s, out_names, [self.sid[f"{s.name}.{n}"] for n in out_names])
            conns = [c for c in system.connections if c.target_slave == s.name]
            p.in_names = [c.target_var for c in conns]
            p.in_src = [self.sid[c.source] for c in conns]
            p.in_src_slave = [self.index[c.source_slave] for c in conns]
            p.in_gain = [c.gain for c in conns]
            p.in_terms = [(self.sid[c.source], c.gain, c.offset) for c in conns]
            p.write = s.input_writer(p.in_names) if conns else None
            p.derivative_inputs = options.extrapolation == 1 and s.info.max_input_derivative_order >= 1
            p.rate = 1 if options.error_control else int(options.rates.get(s.name, 1))
            self.plans.append(p)
        #: idle steps may be skipped (Gauss-Seidel, fixed steps): see MacroStepper.step
        self.skip_idle = options.algorithm == "gauss-seidel" and not options.error_control
        for p in self.plans:
            p.idle = p.slave.idle_test(p.out_names) if self.skip_idle and p.rate == 1 else None
        self.multirate = any(p.rate > 1 for p in self.plans)
        #: inputs held by override events, over all slaves (the compiled coupling path leaves those to Python)
        self.held_inputs = 0
        #: counts the times a plan's ``synced`` was cleared (the lean step checks the plans again when it moves)
        self.desyncs = 0
        #: counts the writes into the table other than the lean step's (store, set_state, MacroStepper.step's general
        #: path): a compiled segment copies only its inputs from others into its own array while this stands still
        self.writes = 0
        self.blocks = self._feedthrough_blocks(slaves, options)

    def _feedthrough_blocks(
        self, slaves: list[Slave], o: MasterOptions
    ) -> list[tuple[list[SlavePlan], LoopSolver | None]]:
        system = self.system
        blocks: list[tuple[list[SlavePlan], LoopSolver | None]] = []
        for block in feedthrough_blocks(slaves, system.connections):
            plans = [self.plans[self.index[n]] for n in block]
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
            blocks.append((plans, solver))
        return blocks

    @property
    def solvers(self) -> list[LoopSolver]:
        return [solver for _, solver in self.blocks if solver is not None]

    def rescale(self, factor: int) -> None:
        """The time grid's tick was divided by factor: multiply the tick counts kept here."""
        for p in self.plans:
            p.period_start *= factor
            if p.period_end is not None:
                p.period_end *= factor

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def inputs(p: SlavePlan, src: Source) -> list[float]:
        """The values of p's connected inputs computed from ``src`` (gain * source + offset, overrides held)."""
        values = [g * src[s] + o for s, g, o in p.in_terms]
        if p.overrides:
            for k, value in p.overrides.items():
                values[k] = value
        return values

    def write_inputs(self, p: SlavePlan, src: Source | None = None) -> None:
        """Set p's connected inputs from ``src`` (default: the current values)."""
        if p.write is not None:
            values = self.inputs(p, self.v if src is None else src)
            p.write(values)
            p.written = values

    def write_extrapolated(
        self, p: SlavePlan, v_t: list[float], slope: list[float], h: float, stepped: set[int], jacobi: bool
    ) -> None:
        """Inputs for a step of length h on the line through the sources: u(t) and du/dt where the slave accepts
        input derivatives, else the line's value at mid-step. A source already stepped to t + h (Gauss-Seidel) is
        interpolated between t and t + h; others are extrapolated with the slope of the last two points."""
        if p.write is None:
            return
        v = self.v
        d = {
            s: (v[s] - v_t[s]) / h if not jacobi and ss in stepped else slope[s]
            for s, ss in zip(p.in_src, p.in_src_slave, strict=True)
        }
        if p.derivative_inputs:
            p.write(self.inputs(p, v_t))
            derivatives = {
                name: 0.0 if k in p.overrides else g * d[s]
                for k, (name, s, g) in enumerate(zip(p.in_names, p.in_src, p.in_gain, strict=True))
            }
            p.slave.set_input_derivatives(derivatives, 1)
        else:
            p.write(self.inputs(p, {s: v_t[s] + 0.5 * h * ds for s, ds in d.items()}))
        p.written = None  # not the values at t + h: an update must set those

    # ------------------------------------------------------------------ outputs
    def read(self, p: SlavePlan, t: float) -> None:
        if p.out_ids:
            self.store(p, p.read(), t)

    def store(self, p: SlavePlan, values: Sequence[float], t: float) -> None:
        """Put a slave's output values (in p.out_names order) into the signal table, applying drifts."""
        v = self.v
        self.writes += 1
        if p.out_slice is not None:  # the reader returns exactly len(out_ids) values
            v[p.out_slice] = values
        else:
            for k, value in zip(p.out_ids, values, strict=True):
                v[k] = value
        if self.drifts:
            for k in p.out_ids:
                d = self.drifts.get(k)
                if d is not None:
                    v[k] += d[0] * (t - d[1])

    def read_all(self, t: float) -> None:
        for p in self.plans:
            self.read(p, t)

    def update(self, t: float, force: bool = False) -> int:
        """Consistent outputs at t: feedthrough slaves re-read after their inputs are set; loops solved.

        A feedthrough slave whose inputs equal the values it last received keeps the outputs read after its step
        (re-setting the same inputs changes nothing) unless ``force`` (after events, which may change parameters).
        Returns the number of loops solved.
        """
        solves = 0
        v, inputs = self.v, self.inputs
        name: str | None = None  # the slave being worked on, for the error
        try:
            for plans, solver in self.blocks:
                if solver is None:
                    for p in plans:
                        name = p.name
                        if p.rate != 1 and p.period_end is not None:  # a slow slave mid-period: inputs frozen
                            self.read(p, t)
                            continue
                        values = inputs(p, v)
                        if force or values != p.written:
                            assert p.write is not None  # a feedthrough block member has connected inputs
                            p.write(values)
                            p.written = values
                            self.read(p, t)
                    continue
                name = None  # a loop: its errors name its slaves
                for p in plans:
                    if p.rate == 1 or p.period_end is None:
                        self.write_inputs(p)
                    p.written = None  # the solver sets loop inputs itself
                solves += 1
                self._solve_loop(plans, solver, t)
        except Exception as exc:
            error = slave_failure(exc, name, t)
            if error is exc:
                raise
            raise error from exc
        return solves

    def _solve_loop(self, plans: list[SlavePlan], solver: LoopSolver, t: float) -> None:
        v, sid = self.v, self.sid
        u0 = [e.gain * v[sid[f"{e.source.name}.{e.source_var}"]] + e.offset for e in solver.edges]
        fixed = {}
        for k, e in enumerate(solver.edges):
            p = self.plans[self.index[e.target.name]]
            if p.overrides:
                pos = p.in_names.index(e.target_var)
                if pos in p.overrides:
                    fixed[k] = p.overrides[pos]
        solver.solve(u0, t, fixed)
        last = solver.last
        for p in plans:  # the solver's last evaluation read them at the solution: no second read
            values = last.get(p.slave)
            if values is not None and len(values) == len(p.out_ids):
                self.store(p, values, t)
            else:  # signals added since (a drift event) or a slave the loop does not read
                self.read(p, t)

    def add_signal(self, qualified: str) -> int:
        """Give a variable an id in the signal table (read with its slave's outputs from now on)."""
        k = self.sid.get(qualified)
        if k is not None:
            return k
        k = self.sid[qualified] = len(self.sid)
        self.v.append(0.0)
        self.writes += 1
        if self.v_prev is not None:
            self.v_prev.append(0.0)
        slave_name, var = split_name(qualified)
        p = self.plans[self.index[slave_name]]
        p.out_names.append(var)
        p.out_ids.append(k)
        p.out_slice = _as_slice(p.out_ids)
        p.read = p.slave.output_reader(p.out_names)
        p.idle = p.slave.idle_test(p.out_names) if self.skip_idle and p.rate == 1 else None
        p.synced = False
        self.desyncs += 1
        return k

    # ------------------------------------------------------------------ EventTarget (events and sim.set)
    def set_value(self, qualified: str, value: Any) -> None:
        """Set an unconnected input or a tunable parameter now."""
        slave_name, var_name = split_name(qualified)
        slave, var = self.system.variable(qualified, f"set {qualified}")
        if var.causality == "input":
            if var_name in self.plans[self.index[slave_name]].in_names:
                raise SimulationError(
                    f"set {qualified}: the input is driven by a connection; use an override event to hold it",
                    slave=slave_name,
                )
            slave.set_inputs({var_name: value})
        elif var.causality == "parameter":
            slave.set_parameter(var_name, value)
        else:
            raise SimulationError(
                f"set {qualified}: it is {article(var.causality)}; only inputs and parameters can be set",
                slave=slave_name,
            )

    def override(self, qualified: str, value: float) -> None:
        slave_name, var_name = split_name(qualified)
        p = self.plans[self.index[slave_name]]
        if var_name in p.in_names:
            p.overrides[p.in_names.index(var_name)] = value
            self._count_held()
        else:
            p.slave.set_inputs({var_name: value})
        self.write_inputs(p)

    def release(self, qualified: str) -> None:
        slave_name, var_name = split_name(qualified)
        p = self.plans[self.index[slave_name]]
        if var_name in p.in_names:
            p.overrides.pop(p.in_names.index(var_name), None)
            self._count_held()
            self.write_inputs(p)
        elif qualified in self.sid:
            self.drifts.pop(self.sid[qualified], None)
            p.synced = False  # the table holds a drifted value: read again
            self.desyncs += 1
        else:
            var = p.slave.variables[var_name]
            start = self.system.start_values.get(qualified, var.start)
            if var.causality == "input" and start is not None:
                value: Any = start if var.type in ("String", "Binary") else float(start)
                p.slave.set_inputs({var_name: value})

    def _count_held(self) -> None:
        self.held_inputs = sum(len(p.overrides) for p in self.plans)

    def drift(self, qualified: str, rate: float, since: float) -> None:
        self.drifts[self.add_signal(qualified)] = (rate, since)

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> CouplingState:
        return CouplingState(
            values=list(self.v),
            previous_values=None if self.v_prev is None else list(self.v_prev),
            periods=[(p.period_start, p.period_end) for p in self.plans],
            overrides=[dict(p.overrides) for p in self.plans],
            drifts=dict(self.drifts),
            loops=[solver.get_state() for solver in self.solvers],
        )

    def set_state(self, state: CouplingState) -> None:
        self.v[:] = state.values
        self.writes += 1
        self.v_prev = None if state.previous_values is None else list(state.previous_values)
        for p, (start, end), held in zip(self.plans, state.periods, state.overrides, strict=True):
            p.period_start, p.period_end, p.overrides = start, end, dict(held)
            p.written = None
            p.synced = False
        self.desyncs += 1
        self._count_held()
        self.drifts = dict(state.drifts)
        for solver, loop_state in zip(self.solvers, state.loops, strict=True):
            solver.set_state(loop_state)
