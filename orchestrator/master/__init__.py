"""Co-simulation master: the steppable Simulation, its options, scheduled events and the Recorder protocol."""

from orchestrator.master.events import DriftEvent, OverrideEvent, ReleaseEvent, ScheduledEvent, SetEvent
from orchestrator.master.options import MasterOptions
from orchestrator.master.recorder import MemoryRecorder, Recorder
from orchestrator.master.simulation import Simulation, run_system

__all__ = [
    "DriftEvent",
    "MasterOptions",
    "MemoryRecorder",
    "OverrideEvent",
    "Recorder",
    "ReleaseEvent",
    "ScheduledEvent",
    "SetEvent",
    "Simulation",
    "run_system",
]
