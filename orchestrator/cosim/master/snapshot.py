"""Snapshot: the whole state of a Simulation at a communication point, for rollback (error control, users)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from orchestrator.cosim.master.coupling import CouplingState


@dataclass(frozen=True)
class Snapshot:
    """What ``Simulation.restore_state`` puts back: every slave's state and the master's.

    ``tick`` is the time grid's tick when it was taken (a later refinement invalidates it), ``n``/``n_prev`` the
    current and previous communication points in ticks, ``next_event`` the index of the next scheduled event,
    ``pending_events`` how many slave events were waiting to be recorded (later ones belong to rolled-back steps).
    """

    tick: Fraction
    n: int
    n_prev: int | None
    next_event: int
    slaves: tuple[Any, ...]
    coupling: CouplingState
    pending_events: int
