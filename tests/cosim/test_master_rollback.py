"""save_state/restore_state put every slave (FMUs via fmi2Get/SetFMUstate, Python blocks) back exactly."""

from __future__ import annotations

import pytest

from orchestrator.cosim.master import MasterOptions, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from orchestrator.errors import SimulationError
from tests.support.cosim_blocks import Accumulator
from tests.support.lti_reference import oscillator_system


def trajectory(sim: Simulation, steps: int) -> list[dict[str, float]]:
    out = []
    for _ in range(steps):
        sim.step()
        out.append({"t": sim.time, **sim.outputs, "acc": sim.get("acc.total"), "s": sim.get("mass1.s")})
    return out


@pytest.mark.parametrize("cls", [FmuCoSimSlave, FmuModelExchangeSlave])
def test_restore_replays_bit_identically(oscillator_fmus, cls):
    system = oscillator_system(oscillator_fmus(), cls)
    system.add(Accumulator("acc", 0.03))
    system.connect("mass1.x", "acc.u")
    sim = Simulation(system, MasterOptions(step=0.01, stop_time=1.0, extrapolation=1))
    trajectory(sim, 7)
    snapshot = sim.save_state()
    t_saved = sim.time
    first = trajectory(sim, 20)
    sim.restore_state(snapshot)
    assert sim.time == t_saved
    second = trajectory(sim, 20)
    assert first == second
    sim.finish()


def test_cannot_save_without_rollback(oscillator_fmus):
    sim = Simulation(oscillator_system(oscillator_fmus(can_rollback=False)), MasterOptions(step=0.01, stop_time=1.0))
    with pytest.raises(SimulationError, match="mass1, mass2 cannot save state"):
        sim.save_state()
    sim.finish()
