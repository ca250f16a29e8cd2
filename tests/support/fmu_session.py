"""Open a packaged FMU with fmpy's low-level FMI 2.0 wrappers, collecting the FMU's log messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fmpy import extract, read_model_description
from fmpy.fmi2 import (
    FMU2Model,
    FMU2Slave,
    fmi2CallbackAllocateMemoryTYPE,
    fmi2CallbackFreeMemoryTYPE,
    fmi2CallbackFunctions,
    fmi2CallbackLoggerTYPE,
)

_UNZIPPED: dict[Path, str] = {}


@dataclass
class Session:
    """An instantiated FMU with its value references by name and the messages it logged."""

    fmu: FMU2Slave | FMU2Model
    vr: dict[str, int]
    messages: list[str] = field(default_factory=list)
    callbacks: fmi2CallbackFunctions | None = None

    def get(self, *names: str) -> list[float]:
        return self.fmu.getReal([self.vr[n] for n in names])

    def set(self, **values: float) -> None:
        self.fmu.setReal([self.vr[n] for n in values], list(values.values()))


def unzipped(fmu: Path) -> str:
    if fmu not in _UNZIPPED:
        _UNZIPPED[fmu] = extract(str(fmu))
    return _UNZIPPED[fmu]


def open_fmu(fmu: Path, kind: str = "cs", name: str = "instance", logging_on: bool = False) -> Session:
    """Instantiate (not initialise) a CS ('cs') or ME ('me') instance of ``fmu``."""
    from ctypes import CDLL, c_size_t, c_void_p
    from ctypes.util import find_library

    md = read_model_description(str(fmu))
    cls = FMU2Slave if kind == "cs" else FMU2Model
    ident = (md.coSimulation or md.modelExchange).modelIdentifier
    instance = cls(guid=md.guid, unzipDirectory=unzipped(fmu), modelIdentifier=ident, instanceName=name)
    session = Session(instance, {v.name: v.valueReference for v in md.modelVariables})

    libc = CDLL(find_library("c"))
    libc.calloc.restype = c_void_p
    libc.calloc.argtypes = [c_size_t, c_size_t]
    libc.free.argtypes = [c_void_p]

    def logger(env: object, instance_name: bytes, status: int, category: bytes, message: bytes) -> None:
        session.messages.append(message.decode(errors="replace"))

    cb = fmi2CallbackFunctions()
    cb.logger = fmi2CallbackLoggerTYPE(logger)
    cb.allocateMemory = fmi2CallbackAllocateMemoryTYPE(lambda n, s: libc.calloc(n, s))
    cb.freeMemory = fmi2CallbackFreeMemoryTYPE(lambda p: libc.free(p))
    session.callbacks = cb  # keep the ctypes callbacks alive as long as the session
    instance.instantiate(callbacks=cb, loggingOn=logging_on)
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
