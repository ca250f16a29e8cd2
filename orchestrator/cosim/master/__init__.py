"""Co-simulation master: the steppable Simulation, its options, scheduled events and the Recorder protocol."""

from orchestrator.cosim.master.events import DriftEvent, OverrideEvent, ReleaseEvent, ScheduledEvent, SetEvent
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.master.recorder import MemoryRecorder, Recorder
from orchestrator.cosim.master.simulation import Simulation, run_system

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
