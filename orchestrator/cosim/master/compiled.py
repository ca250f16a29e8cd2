"""Segments of FMU slaves that the master steps through its compiled coupling path (kernel/coupling_kernel.c).

A segment is a run of consecutive slaves in Gauss-Seidel order whose inputs and outputs the kernel can handle (FMI
2.0 Co-Simulation FMUs with Real scalar inputs, see Slave.compiled_io). Python blocks and other slaves stay around
them on the Python path; a macro step visits plans and segments in the same order as before. The path is taken for
Gauss-Seidel with held or linearly extrapolated inputs, one rate, and while no input of the segment is overridden and no
output drifts (Coupling.held_inputs, drifts); any other step takes the Python path, from the same signal table, so the two can alternate.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from typing import Any

from orchestrator.cosim.master.coupling import Coupling, SlavePlan
from orchestrator.cosim.master.kernel import (
    CK_DERIVATIVES,
    CK_GET,
    CK_OK,
    CK_SET,
    CK_STEP,
    CkCall,
    CkSlave,
    SlaveEntry,
    SlaveTable,
    library,
)
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.errors import SimulationError

log = logging.getLogger(__name__)


class CompiledSegment:
    """Consecutive FMU slave plans stepped by one call of the kernel."""

    def __init__(self, plans: Sequence[SlavePlan], ios: Sequence[Any], size: int) -> None:
        self.plans = list(plans)
        self.count = len(self.plans)
        self.size = size  # signals in the table when the segment was built
        entries = []
        for p, io in zip(self.plans, ios, strict=True):
            offsets = [o for _, _, o in p.in_terms]
            entries.append(
                SlaveEntry(io, p.index, p.in_src, p.in_src_slave, p.in_gain, offsets, p.out_ids, p.derivative_inputs)
            )
        self.table = SlaveTable(entries)
        self.indices = [p.index for p in self.plans]
        ids = [k for p in self.plans for k in p.out_ids]
        self.out = slice(min(ids), max(ids) + 1) if ids else slice(0, 0)
        self.feedthrough = [(p, self.table.in_values[i], len(p.in_src)) for i, p in enumerate(self.plans)
                            if p.slave.info.direct_feedthrough and p.write is not None]  # fmt: skip
        self.stepped_to = [p.slave.stepped_to for p in self.plans]
        self.values: Any = (ctypes.c_double * max(1, size))()
        self.values_at_t: Any = (ctypes.c_double * max(1, size))()  # first-order extrapolation: v at t ...
        self.slope: Any = (ctypes.c_double * max(1, size))()  # ... and the slope of every signal
        self._failed = ctypes.c_int(0)
        self._status = ctypes.c_int(0)
        self._step = library().ck_step
        #: single held steps (step_held) and the feedthrough update (CompiledUpdate): one struct, one pointer per call
        self.call = CkCall(slaves=ctypes.cast(self.table.records, ctypes.POINTER(CkSlave)), n=self.count,
                           v=ctypes.cast(self.values, ctypes.POINTER(ctypes.c_double)))  # fmt: skip
        self.call_ref = ctypes.byref(self.call)
        self._step_held = library().ck_step_held
        own = {k for p in self.plans for k in p.out_ids}
        #: step_held: the inputs others write (the rest of the table in values stays as the kernel left it) ...
        self.copy_in = _runs(sorted({k for p in self.plans for k in p.in_src} - own))
        #: ... while Coupling.writes stands where it stood at the last full copy (-1: copy all), and only where the
        #: segment's outputs are one run of the table (else v[out] would copy back what values holds of others)
        self.synced_writes = -1
        self._subset = sorted(own) == list(range(self.out.start, self.out.stop))

    def step(self, v: list[float], t: float, h: float, line: tuple[list[float], list[float]] | None = None
             ) -> tuple[SlavePlan, BaseException] | None:  # fmt: skip
        """Step the segment's slaves from t by h on the signal table v, the inputs held or, with line = (values at
        t, slope per signal), extrapolated; None, or the failed plan and the error."""
        values = self.values
        values[: self.size] = v
        at_t = slope = None
        if line is not None:
            at_t, slope = self.values_at_t, self.slope
            at_t[: self.size], slope[: self.size] = line
        rc = self._step(self.table.records, self.count, values, at_t, slope, t, h, 1.0, self._failed, self._status)
        out = self.out
        if rc == CK_OK:
            v[out] = values[out]
            self.finish_step(t + h, extrapolated=line is not None)
            return None
        return self.failure_in_step(rc, v, t, h)

    def step_held(self, v: list[float], t: float, h: float, writes: int) -> tuple[SlavePlan, BaseException] | None:
        """step() with held inputs, for the lean macro step (lean.py): the same kernel work through one pointer
        (ck_step_held). writes: Coupling.writes now; while it has not moved since the last full copy, values holds
        this segment's outputs as the table does (only the lean step wrote them since), so only the inputs from
        others are copied. The inputs written are left in the kernel (the feedthrough update compares with them
        there); the plans' ``written`` is not kept (the general path sets it again before its update compares)."""
        values = self.values
        if writes == self.synced_writes:
            for run in self.copy_in:
                values[run] = v[run]
        else:
            values[: self.size] = v
            self.synced_writes = writes if self._subset else -1
        call = self.call
        call.t, call.h = t, h
        rc = self._step_held(self.call_ref)
        if rc == CK_OK:
            out = self.out
            v[out] = values[out]
            t_end = t + h
            for stepped_to in self.stepped_to:
                stepped_to(t_end)
            return None
        self._failed.value, self._status.value = call.failed, call.status
        return self.failure_in_step(rc, v, t, h)

    def finish_step(self, t_end: float, extrapolated: bool = False) -> None:
        """After the kernel stepped every slave to t_end: what the Python path keeps (slave time, inputs written;
        extrapolated inputs are not the values at t_end, so a feedthrough slave's are unknown)."""
        for stepped_to in self.stepped_to:
            stepped_to(t_end)
        for p, written, n in self.feedthrough:
            p.written = None if extrapolated else written[:n]

    def failure_in_step(self, rc: int, v: list[float], t: float, h: float) -> tuple[SlavePlan, BaseException]:
        """The slaves before the failed one stepped: keep their outputs; describe the failure as the Python path."""
        failed = self._failed.value
        for p in self.plans[:failed]:
            if p.out_slice is not None:
                v[p.out_slice] = self.values[p.out_slice]
            p.slave.stepped_to(t + h)
        p = self.plans[failed]
        slave: Any = p.slave  # an FMU slave: only those have compiled_io
        if rc == CK_STEP:
            try:  # an error raises; a discard or termination request returns False
                slave.step_failed(self._status.value, t, h)
            except SimulationError as exc:
                return p, exc
            return p, StepNotAccepted(p)
        if rc == CK_GET:  # its step was taken: the read after it fails at its new time, as on the Python path
            slave.stepped_to(t + h)
            return p, self._io_error(rc, p, t + h)
        return p, self._io_error(rc, p, t)

    def failure_in_update(self, rc: int, t: float) -> tuple[SlavePlan, BaseException]:
        """The feedthrough update failed on a slave's set or get at t."""
        p = self.plans[self._failed.value]
        return p, self._io_error(rc, p, t)

    def _io_error(self, rc: int, p: SlavePlan, t: float) -> BaseException:
        """The error the Python path raises for the failed call (FmuCoSimSlave's input writer, output reader,
        set_input_derivatives): the same text, naming the call and the status it returned."""
        slave: Any = p.slave
        status = self._status.value
        if rc == CK_DERIVATIVES:
            return slave.fail("setting input derivatives failed", t, call=("fmi2SetRealInputDerivatives", status))
        if rc == CK_SET:
            return slave.fail(f"setting {', '.join(p.in_names)} failed", t, call=(slave.calls.SET_FLOAT, status))
        return slave.fail(f"getting {', '.join(p.out_names)} failed", t, call=(slave.calls.GET_FLOAT, status))

    def collect_timings(self) -> None:
        """Move the kernel's wall times into each plan's wall_s and slave's io_s (what the Python path keeps)."""
        for record, p in zip(self.table.records, self.plans, strict=False):
            p.wall_s += record.step_s
            if hasattr(p.slave, "io_s"):
                p.slave.io_s += record.io_s
            record.step_s = record.io_s = 0.0


class CompiledRun:
    """Many macro steps in one kernel call (ck_run) for a system whose slaves all lie in one segment and whose
    feedthrough needs no loop solve: the steps between two stops (events, targets, the stop time), with the
    feedthrough update after each step and the recorded signals collected in C. The Python path's steps, one kernel
    call each, do the same work with Python around every step; the results are identical."""

    #: at most this many macro steps per call (bounds the buffer of recorded rows)
    max_steps = 4096

    def __init__(self, segment: CompiledSegment, coupling: Coupling, record_ids: Sequence[int]) -> None:
        self.segment = segment
        position = {id(p): i for i, p in enumerate(segment.plans)}
        update = [position[id(p)] for plans, _ in coupling.blocks for p in plans]
        self.update = (ctypes.c_int * max(1, len(update)))(*update)
        self.n_update = len(update)
        self.record_ids = list(record_ids)
        self.rec = (ctypes.c_int * max(1, len(self.record_ids)))(*self.record_ids)
        self.rows: Any = None
        self._done, self._in_update = ctypes.c_long(0), ctypes.c_int(0)
        self._run = library().ck_run

    @staticmethod
    def applies(items: Sequence[Any] | None, coupling: Coupling) -> CompiledSegment | None:
        """The one segment when every slave is in it and no feedthrough block is a loop, else None."""
        if not items or len(items) != 1 or not isinstance(items[0], CompiledSegment):
            return None
        if any(solver is not None for _, solver in coupling.blocks):
            return None
        return items[0]

    def run(self, v: list[float], t0: float, num: int, den: int, n0: int, macro: int, k: int,
            rec_every: int) -> tuple[int, list[tuple[int, list[float]]], tuple[SlavePlan, BaseException, bool] | None]:  # fmt: skip
        """k macro steps from tick n0: (steps done, (end tick, values) of the recorded ones, None or (failed plan,
        error, whether it failed in the update))."""
        segment = self.segment
        n_rec = len(self.record_ids) if rec_every else 0
        if n_rec and (self.rows is None or len(self.rows) < k * n_rec):
            self.rows = (ctypes.c_double * (max(k, 64) * n_rec))()
        values = segment.values
        values[: segment.size] = v
        rc = self._run(segment.table.records, segment.count, self.update, self.n_update, values, t0, num, den, n0,
                       macro, k, self.rec, n_rec, rec_every, self.rows, self._done, self._in_update, segment._failed,
                       segment._status)  # fmt: skip
        done = self._done.value
        rows: list[tuple[int, list[float]]] = []  # (end tick, recorded values) of the recorded steps
        if n_rec:
            ends = [e for e in range(n0 + macro, n0 + (done + 1) * macro, macro) if e % rec_every == 0]
            flat = self.rows[: n_rec * len(ends)]
            rows = [(end, flat[i * n_rec : (i + 1) * n_rec]) for i, end in enumerate(ends)]
        if rc == CK_OK:
            v[:] = values[: segment.size]
            segment.finish_step(t0 + ((n0 + done * macro) * num) / den)
            return done, rows, None
        in_update = bool(self._in_update.value)
        t_start = t0 + ((n0 + done * macro) * num) / den
        t_end = t0 + ((n0 + (done + 1) * macro) * num) / den
        if in_update:  # every slave stepped; the update failed: v holds what the update had done
            v[:] = values[: segment.size]
            segment.finish_step(t_end)
            plan, error = segment.failure_in_update(rc, t_end)
            return done, rows, (plan, error, True)
        # the slaves before the failed one stepped (outputs in values), the others hold the last step's (in values
        # too: v still holds the table as it was before this call)
        v[:] = values[: segment.size]
        plan, error = segment.failure_in_step(rc, v, t_start, t_end - t_start)
        return done, rows, (plan, error, False)


class CompiledUpdate:
    """The feedthrough update after a single macro step (Coupling.update without force) in one kernel call
    (ck_feedthrough), for a system whose feedthrough slaves all lie in one segment and form no algebraic loop: each,
    in the update's order, gets its inputs recomputed from the signal table and, where they differ from the values
    it last received, set, and its outputs read. Same operations as Coupling.update, so the results are identical."""

    def __init__(self, segment: CompiledSegment, plans: Sequence[SlavePlan], later: Sequence[SlavePlan]) -> None:
        self.segment = segment
        position = {id(p): i for i, p in enumerate(segment.plans)}
        update = [position[id(p)] for p in plans]
        self._update = (ctypes.c_int * max(1, len(update)))(*update)
        segment.call.update = ctypes.cast(self._update, ctypes.POINTER(ctypes.c_int))
        segment.call.n_update = len(update)
        written = {k for p in later for k in p.out_ids}
        #: the signals the update reads that the slaves stepped after the segment wrote since its step ...
        self.copy_in = _runs(sorted({k for p in plans for k in p.in_src if k in written}))
        #: ... and those it may change (the update's slaves' outputs)
        self.copy_out = _runs(sorted({k for p in plans for k in p.out_ids}))
        self._feedthrough = library().ck_feedthrough

    @staticmethod
    def applies(items: Sequence[SlavePlan | CompiledSegment], coupling: Coupling) -> CompiledUpdate | None:
        """The update in C where every feedthrough slave is in the same segment of the macro step's items and none
        is in a loop, else None."""
        plans = [p for block, solver in coupling.blocks for p in block if solver is None]
        if not plans or len(plans) != sum(len(block) for block, _ in coupling.blocks):
            return None
        for k, item in enumerate(items):
            if isinstance(item, CompiledSegment) and all(any(p is q for q in item.plans) for p in plans):
                later = [q for i in items[k + 1 :] for q in (i.plans if isinstance(i, CompiledSegment) else [i])]
                return CompiledUpdate(item, plans, later)
        return None

    def run(self, v: list[float], t: float) -> tuple[SlavePlan, BaseException] | None:
        """The update at t on the signal table v, right after the segment's step_held and the slaves after it in
        the same macro step (values holds the rest): None, or the failed plan and the error (the slaves updated
        before it keep their new outputs)."""
        segment = self.segment
        values = segment.values
        for run in self.copy_in:
            values[run] = v[run]
        rc = self._feedthrough(segment.call_ref)
        for run in self.copy_out:
            v[run] = values[run]
        if rc == CK_OK:
            return None
        segment._failed.value, segment._status.value = segment.call.failed, segment.call.status
        return segment.failure_in_update(rc, t)


def _runs(ids: Sequence[int]) -> list[slice]:
    """Sorted signal ids as slices of consecutive ids."""
    runs: list[slice] = []
    for k in ids:
        if runs and runs[-1].stop == k:
            runs[-1] = slice(runs[-1].start, k + 1)
        else:
            runs.append(slice(k, k + 1))
    return runs


class StepNotAccepted(SimulationError):
    """A slave of a segment discarded its step or asked to end the run: the stepper turns it into its own error."""

    def __init__(self, plan: SlavePlan) -> None:
        super().__init__(f"slave {plan.name} did not accept the step", slave=plan.name)
        self.plan = plan


def build_segments(coupling: Coupling, options: MasterOptions) -> list[SlavePlan | CompiledSegment] | None:
    """The plans in order with runs of compiled-capable FMU slaves grouped into segments; None where the compiled
    path does not apply to this run (options, no kernel, no such slave)."""
    if not options.compiled_coupling or options.algorithm != "gauss-seidel":
        return None
    if options.error_control or coupling.multirate or library() is None:
        return None
    items: list[SlavePlan | CompiledSegment] = []
    run: list[tuple[SlavePlan, Any]] = []
    size = len(coupling.v)

    def close_run() -> None:
        if run:
            items.append(CompiledSegment([p for p, _ in run], [io for _, io in run], size))
            run.clear()

    for p in coupling.plans:
        eligible = not p.sampled and (p.out_slice is not None or not p.out_ids)
        io = p.slave.compiled_io(p.in_names, p.out_names) if eligible else None
        if io is None:
            close_run()
            items.append(p)
        else:
            run.append((p, io))
    close_run()
    if not any(isinstance(item, CompiledSegment) for item in items):
        return None
    compiled = sum(item.count for item in items if isinstance(item, CompiledSegment))
    log.info("compiled coupling path: %d of %d slaves", compiled, len(coupling.plans))
    return items


__all__ = ["CompiledRun", "CompiledSegment", "CompiledUpdate", "StepNotAccepted", "build_segments"]
