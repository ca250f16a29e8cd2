"""Idle block steps: between its sample instants a Python block's step changes nothing the master sees, so the master
skips its input writes, its step and its output reads (Slave.idle_test). The recorded values must be exactly those
of stepping every block at every macro step (the path taken where idle_test answers None), also around drifts and
their release on a block's output, overrides of its inputs, sample instants off the macro grid, and a rollback."""

from __future__ import annotations

import struct

import pytest

from orchestrator.cosim.master import (
    DriftEvent,
    MasterOptions,
    MemoryRecorder,
    OverrideEvent,
    ReleaseEvent,
    SetEvent,
    Simulation,
)
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.cosim.system import System
from tests.support.cosim_blocks import Accumulator, Ramp

EVENTS = (
    SetEvent(0.25, {"ramp.slope": 2.0}),
    OverrideEvent(0.55, {"acc.u": 10.0}),
    ReleaseEvent(0.95, ("acc.u",)),
    DriftEvent(1.05, {"ramp.y": -1.0}),
    ReleaseEvent(1.65, ("ramp.y",)),  # the drifted value must not stay in the table while the ramp is idle
)


def system() -> System:
    s = System()
    s.add(Ramp("ramp", 0.5))  # sampled every 5 macro steps
    s.add(Accumulator("acc", 0.3))  # sample instants off the macro grid
    s.add(Accumulator("fast", 0.1))
    s.connect("ramp.y", "acc.u")
    s.connect("acc.total", "fast.u")
    return s


def bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", x) for x in values]


def run(rollback_at: float | None = None) -> tuple[MemoryRecorder, Simulation]:
    rec = MemoryRecorder()
    sim = Simulation(system(), MasterOptions(step=0.1, stop_time=3.0), events=list(EVENTS), recorders=[rec])
    if rollback_at is not None:
        sim.run(until=rollback_at)
        snapshot = sim.save_state()
        sim.run(until=rollback_at + 0.7)
        sim.restore_state(snapshot)
    sim.run()
    return rec, sim


def recorded(rec: MemoryRecorder) -> dict[str, list[bytes]]:
    return {name: bits(rec.column(name)) for name in rec.signal_names} | {"t": bits(rec.times)}


@pytest.mark.parametrize("rollback_at", [None, 1.2])
def test_skipping_idle_steps_records_exactly_what_stepping_every_block_records(monkeypatch, rollback_at):
    calls: dict[str, int] = {}
    original_step = PythonBlock.step

    def counted_step(self: PythonBlock, t: float, h: float) -> bool:
        calls[self.name] = calls.get(self.name, 0) + 1
        return original_step(self, t, h)

    monkeypatch.setattr(PythonBlock, "step", counted_step)
    fast, fast_sim = run(rollback_at)
    fast_calls = dict(calls)
    calls.clear()
    monkeypatch.setattr(PythonBlock, "idle_test", lambda self, names: None)  # every block stepped every time
    slow, slow_sim = run(rollback_at)
    assert recorded(fast) == recorded(slow)
    assert [e.text for e in fast.events] == [e.text for e in slow.events]
    assert fast_sim.stats == slow_sim.stats  # skipped steps still count as slave steps
    assert fast_sim.system.slaves["acc"].instants == slow_sim.system.slaves["acc"].instants
    # the skip happened: the ramp (every 5th step) was stepped far less often than on the slow path
    assert 2 * fast_calls["ramp"] < calls["ramp"]


def test_a_block_reading_back_an_input_is_never_skipped():
    """An input recorded as a signal is read back from the block: it changes between samples, so no idle test."""
    block = Accumulator("acc", 0.5)
    assert block.idle_test(["total"]) is not None
    assert block.idle_test(["total", "u"]) is None
