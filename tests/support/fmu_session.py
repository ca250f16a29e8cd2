"""Open a packaged FMU for raw FMI 2.0 calls (the runtime conformance tests), collecting the FMU's log messages.

Built on the slaves' own FMU code (orchestrator.cosim.slaves.fmu_files.UnpackedFmu): the same unpacking, binary
check and log routing as a co-simulation run; the tests then call fmpy's FMU2Slave/FMU2Model methods directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmpy.fmi2 import FMU2Model

from orchestrator.cosim.slaves.fmu_files import UnpackedFmu

_UNPACKED: dict[Path, UnpackedFmu] = {}


@dataclass
class Session:
    """An instantiated FMU (fmpy's FMU2Slave or FMU2Model) with its value references by name and its log."""

    fmu: Any
    vr: dict[str, int]
    messages: list[str] = field(default_factory=list)

    def get(self, *names: str) -> list[float]:
        return self.fmu.getReal([self.vr[n] for n in names])

    def set(self, **values: float) -> None:
        self.fmu.setReal([self.vr[n] for n in values], list(values.values()))


def unpacked(fmu: Path) -> UnpackedFmu:
    """The FMU unpacked once per test session."""
    if fmu not in _UNPACKED:
        _UNPACKED[fmu] = UnpackedFmu(fmu, fmu.stem)
    return _UNPACKED[fmu]


def unzipped(fmu: Path) -> str:
    """The folder the FMU is unpacked in."""
    directory = unpacked(fmu).directory
    assert directory is not None
    return directory


def open_fmu(fmu: Path, kind: str = "cs", name: str = "instance", logging_on: bool = False) -> Session:
    """Instantiate (not initialise) a CS ('cs') or ME ('me') instance of ``fmu``."""
    archive = unpacked(fmu)
    session = Session(None, archive.value_references)
    calls = archive.instantiate(
        kind,
        archive.model_identifier(kind),
        name,
        lambda _status, _category, message: session.messages.append(message),
        logging_on,
    )
    session.fmu = calls.fmu
    return session


def start(session: Session, tolerance: float = 1e-6, **start_values: float) -> Session:
    """Set up, set start values, initialise; an ME instance is left in continuous-time mode."""
    session.fmu.setupExperiment(tolerance=tolerance, startTime=0.0)
    if start_values:
        session.set(**start_values)
    session.fmu.enterInitializationMode()
    session.fmu.exitInitializationMode()
    if isinstance(session.fmu, FMU2Model):
        session.fmu.newDiscreteStates()
        session.fmu.enterContinuousTimeMode()
    return session
