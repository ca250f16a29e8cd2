"""Drive a Co-Simulation FMU with fmpy through the same small interface as modelica_sim.Simulator.

Why: the physics validation (orchestrator/validation/psa_validation.py) runs the exported FMU when it exists, and the model
directly (pymoca + CasADi) when a variant cannot be exported (e.g. another cell count), with one driver.
"""

from __future__ import annotations

import atexit
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.errors import SimulationError, SystemDefinitionError


@dataclass
class FMUModel:
    """An extracted FMU and the names the driver exchanges with it (inputs, outputs; SI units)."""

    name: str
    path: Path
    unzip_dir: Path
    guid: str
    model_identifier: str
    value_refs: dict[str, int]
    input_names: list[str]
    output_names: list[str]
    parameters: dict[str, float]


def load_fmu(path: Path, output_names: list[str], parameters: dict[str, float] | None = None) -> FMUModel:
    """Read and extract an FMU; output_names are the variables read back after every step."""
    from fmpy import extract, read_model_description

    path = Path(path)
    if not path.is_file():
        raise SystemDefinitionError(f"FMU not found: {path}; export it first (o2twin export)")
    md = read_model_description(str(path))
    refs = {v.name: v.valueReference for v in md.modelVariables}
    missing = [n for n in [*output_names, *(parameters or {})] if n not in refs]
    if missing:
        raise SystemDefinitionError(f"{path.name}: unknown variable(s) {', '.join(missing)}")
    unzip = Path(extract(str(path)))
    atexit.register(shutil.rmtree, unzip, True)
    return FMUModel(
        name=md.modelName,
        path=path,
        unzip_dir=unzip,
        guid=md.guid,
        model_identifier=md.coSimulation.modelIdentifier,
        value_refs=refs,
        input_names=[v.name for v in md.modelVariables if v.causality == "input"],
        output_names=list(output_names),
        parameters=dict(parameters or {}),
    )


def _collecting_callbacks(messages: list[str]):
    """fmi2CallbackFunctions whose logger appends 'category: message' to messages (fmpy formats the varargs)."""
    from orchestrator.cosim.slaves.fmu_logging import fmi2_callbacks

    callbacks, _ = fmi2_callbacks(lambda _status, category, message: messages.append(f"{category}: {message}"))
    return callbacks


class FMUSimulator:
    """One FMU instance: step(h, u) with inputs held, outputs(u), reset(state) from a serialized FMU state."""

    def __init__(self, model: FMUModel, rel_tol: float = 1e-6, messages: list[str] | None = None):
        """messages: if given, the FMU's log messages are appended to it (enable categories with debug_logging)."""
        from fmpy.fmi2 import FMU2Slave

        self.model = model
        self._fmu = FMU2Slave(
            guid=model.guid,
            unzipDirectory=str(model.unzip_dir),
            modelIdentifier=model.model_identifier,
            instanceName="validation",
        )
        self._fmu.instantiate(callbacks=_collecting_callbacks(messages) if messages is not None else None)
        self._fmu.setupExperiment(tolerance=rel_tol, startTime=0.0)
        if model.parameters:
            self._fmu.setReal([model.value_refs[n] for n in model.parameters], list(model.parameters.values()))
        self._fmu.enterInitializationMode()
        self._fmu.exitInitializationMode()
        self._in_refs = [model.value_refs[n] for n in model.input_names]
        self._out_refs = [model.value_refs[n] for n in model.output_names]
        self.t = 0.0
        self.steps = 0  # communication steps (the FMU's internal steps are not exposed through FMI)

    @property
    def x(self) -> bytes:
        """The full FMU state, serialized (restore it with reset)."""
        state = self._fmu.getFMUstate()
        try:
            return bytes(self._fmu.serializeFMUstate(state))
        finally:
            self._fmu.freeFMUstate(state)

    def reset(self, x: bytes, t: float) -> None:
        """Restore a state taken with ``x`` (from this or another instance of the same FMU) at time t."""
        state = self._fmu.deSerializeFMUstate(x)
        try:
            self._fmu.setFMUstate(state)
        finally:
            self._fmu.freeFMUstate(state)
        self.t = t

    def step(self, h: float, u: np.ndarray) -> None:
        self._fmu.setReal(self._in_refs, [float(v) for v in u])
        try:
            self._fmu.doStep(currentCommunicationPoint=self.t, communicationStepSize=h)
        except Exception as exc:  # fmpy raises on fmi2Error/fmi2Fatal
            raise SimulationError(f"{self.model.path.name}: doStep failed at t = {self.t:.4f} s: {exc}") from exc
        self.t += h
        self.steps += 1

    def outputs(self, u: np.ndarray) -> np.ndarray:
        return np.array(self._fmu.getReal(self._out_refs))

    def debug_logging(self, categories: list[str]) -> None:
        """Switch on the FMU's log categories (e.g. 'logStatistics', printed at fmi2Terminate)."""
        self._fmu.setDebugLogging(True, categories)

    def close(self) -> None:
        self._fmu.terminate()
        self._fmu.freeInstance()
