"""The lean macro step: MacroStepper.step's common case without its general machinery (issue 17).

With fixed steps, Gauss-Seidel, held inputs and one rate, while no input is overridden, no output drifts, no signal
was added and the signal table holds every block's outputs (LeanStep.ready), a macro step is the same short sequence
every time: the plans in order, each a Python block (one call: Slave.table_step, nothing while idle), another slave
stepped from Python, or a compiled segment of FMU slaves stepped in one kernel call; then the feedthrough update, in
the kernel too where every feedthrough slave lies in one segment (CompiledUpdate). LeanStep runs that sequence from
closures made once per plan, with the same operations in the same order as MacroStepper.step, so the results are
identical (tests/cosim/test_lean_step.py and tests/controllers/test_loop_fast_paths.py against the Python path).
"""

from __future__ import annotations

import time as wallclock
from collections.abc import Callable, Sequence

from orchestrator.cosim.master.compiled import CompiledSegment, CompiledUpdate, StepNotAccepted
from orchestrator.cosim.master.coupling import Coupling, SlavePlan
from orchestrator.cosim.master.failure import slave_failure
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.master.timegrid import TimeGrid
from orchestrator.errors import SimulationError

#: One plan's part of a macro step: run(v, t, h) works on the signal table v for the step from t by h.
Op = Callable[[list[float], float, float], None]
#: What MacroStepper gives for a plan that rejected its step: the error to raise (discard or termination).
Rejected = Callable[[SlavePlan, float, float], SimulationError]


class LeanStep:
    """The macro step of a fixed-step Gauss-Seidel run with held inputs, from per-plan closures."""

    def __init__(self, grid: TimeGrid, coupling: Coupling, items: Sequence[SlavePlan | CompiledSegment],
                 stats: dict[str, int], rejected: Rejected) -> None:  # fmt: skip
        self.grid, self.coupling, self.stats = grid, coupling, stats
        self.size = len(coupling.v)
        self.ops: list[tuple[SlavePlan, Op]] = []
        for item in items:
            if isinstance(item, CompiledSegment):
                self.ops.append((item.plans[0], _segment_op(coupling, item, rejected)))
            else:
                self.ops.append((item, _block_op(item) or _plan_op(item, rejected)))
        #: plans that skip idle steps: those need the table to hold their outputs (SlavePlan.synced)
        self.idle_plans = [p for p in coupling.plans if p.idle is not None]
        self._synced_at = -1  # Coupling.desyncs when every idle plan was last seen synced
        self.count = len(coupling.plans)  # slave steps per macro step (idle ones count, as in MacroStepper.step)
        self.compiled_update = CompiledUpdate.applies(items, coupling)

    @staticmethod
    def build(grid: TimeGrid, coupling: Coupling, items: Sequence[SlavePlan | CompiledSegment] | None,
              options: MasterOptions, stats: dict[str, int], rejected: Rejected) -> LeanStep | None:  # fmt: skip
        """A LeanStep where the run's options allow one (the compiled path, held inputs, one rate), else None."""
        if items is None or options.extrapolation != 0 or options.error_control or coupling.multirate:
            return None
        if options.algorithm != "gauss-seidel":
            return None
        return LeanStep(grid, coupling, items, stats, rejected)

    def ready(self) -> bool:
        """Whether this step may be lean: no override, no drift, no signal added since set-up, and the table holds
        the outputs of every block that skips idle steps (after a restore or a released drift, one step of
        MacroStepper.step reads them again first)."""
        c = self.coupling
        if c.drifts or c.held_inputs or len(c.v) != self.size:
            return False
        if c.desyncs != self._synced_at:
            if not all(p.synced for p in self.idle_plans):
                return False
            self._synced_at = c.desyncs
        return True

    def take(self, n: int, end: int) -> None:
        """MacroStepper.step from tick n to tick end: every slave stepped, the grid moved to end, the outputs made
        consistent (the feedthrough update), the statistics counted; errors as MacroStepper.step's."""
        grid, coupling = self.grid, self.coupling
        t = grid.time(n)
        t_end = grid.time(end)
        h = t_end - t
        v = coupling.v
        plan: SlavePlan | None = None
        try:
            for plan, run in self.ops:  # noqa: B007 - the plan names the slave in an error
                run(v, t, h)
        except Exception as exc:
            error = slave_failure(exc, plan.name if plan is not None else None, t)
            if error is exc:
                raise
            raise error from exc
        coupling.v_prev = None
        grid.n_prev = n
        grid.n = end
        stats = self.stats
        compiled = self.compiled_update
        if compiled is None:
            stats["loop_solves"] += coupling.update(t_end)
        else:  # the slaves' own clocks stand at t + h: what their errors in the update report
            failure = compiled.run(v, t + h)
            if failure is not None:
                failed, failed_error = failure
                raise slave_failure(failed_error, failed.name, t_end)
        stats["macro_steps"] += 1
        stats["slave_steps"] += self.count


def _segment_op(coupling: Coupling, segment: CompiledSegment, rejected: Rejected) -> Op:
    step_held = segment.step_held

    def run(v: list[float], t: float, h: float) -> None:
        failure = step_held(v, t, h, coupling.writes)
        if failure is not None:
            p, exc = failure
            raise rejected(p, t, h) if isinstance(exc, StepNotAccepted) else slave_failure(exc, p.name, t)

    return run


def _block_op(p: SlavePlan) -> Op | None:
    """A slave's own one-call step on the table (Slave.table_step) where it skips idle steps and times itself."""
    if p.idle is None or p.timed or p.out_slice is None:
        return None
    return p.slave.table_step(p.in_names, p.in_terms, p.out_names, p.out_slice)


def _plan_op(p: SlavePlan, rejected: Rejected) -> Op:
    """A slave stepped from Python: skipped while idle (a block between its sample instants), else its inputs
    written, stepped (timed by the master unless it times itself) and its outputs read."""
    idle, write, step, read, terms, out = p.idle, p.write, p.slave.step, p.read, p.in_terms, p.out_slice
    timed = p.timed
    perf = wallclock.perf_counter

    def run(v: list[float], t: float, h: float) -> None:
        if idle is not None and idle(t):
            return
        if write is not None:
            values = [g * v[s] + o for s, g, o in terms]
            write(values)
            p.written = values
        if timed:
            t1 = perf()
            ok = step(t, h)
            p.wall_s += perf() - t1
        else:
            ok = step(t, h)
        if not ok:
            raise rejected(p, t, h)
        if out is not None:
            v[out] = read()
        elif p.out_ids:
            for k, value in zip(p.out_ids, read(), strict=True):
                v[k] = value
        p.synced = True

    return run
