"""StartState: a Simulation's FMU states as bytes, so that other runs (other processes) start where one stopped.

A calibration brings the twin to a cyclic steady state once and starts every evaluation there, in worker processes
of the many-runs engine. ``capture_start_state(sim)`` serialises every FMU slave (FMI canSerializeFMUstate) at the
current communication point; a Simulation given it (``Simulation.start_from``) sets its slaves up at its start time
as usual, then restores those states and applies its own tunable parameter values again (a serialised state holds
the parameter values it was taken with). Python blocks start from their own initial state: a start state fits
systems whose blocks hold no state of their own (time tables, sources).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import SimulationError

if TYPE_CHECKING:
    from orchestrator.cosim.master.simulation import Simulation
    from orchestrator.cosim.system import System


@dataclass(frozen=True)
class StartState:
    """Serialised FMU states (slave name -> bytes) taken at ``time_s`` (s)."""

    time_s: float
    fmu_states: Mapping[str, bytes] = field(default_factory=dict)

    def digest(self) -> str:
        """A hash of the time and every state (part of a sweep case's identity)."""
        h = hashlib.sha256(repr(float(self.time_s)).encode())
        for name in sorted(self.fmu_states):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.fmu_states[name]).digest())
        return h.hexdigest()


def capture_start_state(sim: Simulation) -> StartState:
    """The FMU states of ``sim`` at its current time; every FMU slave must be able to serialise its state."""
    states: dict[str, bytes] = {}
    for name, slave in sim.system.slaves.items():
        serialize = getattr(slave, "serialize_state", None)
        if serialize is not None:
            states[name] = serialize()
    if not states:
        raise SimulationError("the system has no FMU slave whose state can be serialised")
    return StartState(sim.time, states)


def restore_start_state(system: System, state: StartState, time_s: float) -> None:
    """Put the serialised states back into the slaves (set up at ``time_s``), then the system's own tunable
    parameter values (a serialised state carries the values of the run it came from)."""
    if abs(time_s - state.time_s) > 1e-9 * max(1.0, abs(time_s)):
        raise SimulationError(f"the start state was taken at t = {state.time_s:g} s; the run starts at {time_s:g} s")
    for name, data in state.fmu_states.items():
        slave = system.slaves.get(name)
        if slave is None or not hasattr(slave, "deserialize_state"):
            raise SimulationError(f"the start state holds FMU slave '{name}', which this system does not have")
        slave.deserialize_state(data, time_s)
        for key, value in _tunable(slave, system.slave_parameters(name)).items():
            slave.set_parameter(key, value)


def _tunable(slave: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        var = slave.variables.get(key)
        if var is not None and var.causality == "parameter" and var.variability == "tunable":
            out[key] = value
    return out
