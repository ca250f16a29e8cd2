"""Drive a Co-Simulation FMU through the same small interface as modelica_sim.Simulator.

Why: the physics validation (orchestrator/validation/psa_validation.py) runs the exported FMU when it exists, and the
model directly (pymoca + CasADi) when a variant cannot be exported (e.g. another cell count), with one driver. The
FMU is run by the master's own FMU slave (orchestrator.cosim.slaves.fmu), so validation exercises the same code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.errors import SimulationError, SystemDefinitionError

_instances = itertools.count(1)


@dataclass
class FMUModel:
    """An FMU and the names the driver exchanges with it (inputs, outputs; SI units)."""

    name: str
    path: Path
    guid: str
    value_refs: dict[str, int]
    input_names: list[str]
    output_names: list[str]
    parameters: dict[str, float]


def load_fmu(path: Path, output_names: list[str], parameters: dict[str, float] | None = None) -> FMUModel:
    """Read an FMU's interface; output_names are the variables read back after every step."""
    from fmpy import read_model_description

    path = Path(path)
    if not path.is_file():
        raise SystemDefinitionError(f"FMU not found: {path}; export it first (o2twin export)")
    md = read_model_description(str(path))
    refs = {v.name: v.valueReference for v in md.modelVariables}
    missing = [n for n in [*output_names, *(parameters or {})] if n not in refs]
    if missing:
        raise SystemDefinitionError(f"{path.name}: unknown variable(s) {', '.join(missing)}")
    return FMUModel(
        name=md.modelName,
        path=path,
        guid=md.guid,
        value_refs=refs,
        input_names=[v.name for v in md.modelVariables if v.causality == "input"],
        output_names=list(output_names),
        parameters=dict(parameters or {}),
    )


class FMUSimulator:
    """One FMU instance: step(h, u) with inputs held, outputs(u), reset(state) from a serialized FMU state."""

    def __init__(self, model: FMUModel, rel_tol: float = 1e-6, messages: list[str] | None = None):
        """messages: if given, the FMU's log messages are appended to it (enable categories with debug_logging)."""
        self.model = model
        self.slave = FmuCoSimSlave(f"validation{next(_instances)}", model.path, tolerance=rel_tol, messages=messages)
        self.slave.setup(0.0, model.parameters)
        self._write = self.slave.input_writer(model.input_names)
        self._read = self.slave.output_reader(model.output_names)
        self.t = 0.0
        self.steps = 0  # communication steps (the FMU's internal steps are not exposed through FMI)

    @property
    def x(self) -> bytes:
        """The full FMU state, serialized (restore it with reset)."""
        return self.slave.serialize_state()

    def reset(self, x: Any, t: float) -> None:
        """Restore a state taken with ``x`` (from this or another instance of the same FMU) at time t."""
        self.slave.deserialize_state(bytes(x), t)
        self.t = t

    def step(self, h: float, u: np.ndarray) -> None:
        self._write([float(v) for v in u])
        if not self.slave.step(self.t, h):
            raise SimulationError(
                f"{self.model.path.name}: the FMU rejected the step from t = {self.t:.4f} s by {h:g} s (fmi2DoStep returned Discard)"
            )
        self.t += h
        self.steps += 1

    def outputs(self, u: np.ndarray | None) -> np.ndarray:
        return np.array(self._read())

    def debug_logging(self, categories: list[str]) -> None:
        """Switch on the FMU's log categories (e.g. 'logStatistics', printed at fmi2Terminate)."""
        self.slave.set_debug_logging(categories)

    def close(self) -> None:
        self.slave.terminate()
