"""The code inside a Python block's FMU (block_fmu.py builds it): a pythonfmu Co-Simulation slave that runs the
project's PythonBlock, the same class and the same sample instants as in a co-simulation run.

This file is copied into the FMU's resources/ and runs where the FMU is loaded, in an interpreter that has
pythonfmu and the block's package (e.g. the project's ``controllers``) importable. It reads ``block.json`` beside it:
the block class ("module:Class"), the slave name, the sample time (s) and the parameter values. fmi2DoStep from t by
h runs ``update`` at every sample instant t0 + k * Ts in [t, t + h) with the inputs set before the step, as the
master does; events the block emits are logged through the FMU's logger.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from pythonfmu import Boolean, Fmi2Causality, Fmi2Initial, Fmi2Slave, Fmi2Variability, Integer, Real, String

_EPS = 1e-9


class BlockFmu(Fmi2Slave):
    """A PythonBlock as an FMI 2.0 Co-Simulation slave."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = json.loads((Path(self.resources) / "block.json").read_text(encoding="utf-8"))
        module, _, name = config["block"].partition(":")
        block_class = getattr(importlib.import_module(module), name)
        self.block = block_class(config["name"], float(config["sample_time"]))
        self.description = config.get("description")
        self.parameters: dict[str, Any] = dict(config.get("parameters", {}))
        self.start_time = 0.0
        self.block.attach_event_sink(self._event)
        block = self.block
        for var in block.INPUTS:
            start = self.parameters.pop(var.name, var.start)  # a start value given for an input
            block._u[var.name] = start
            self._register(var.name, var.type, "input", start, lambda n=var.name: block._u[n],
                           lambda v, n=var.name: block.set_inputs({n: v}))  # fmt: skip
        for var in block.OUTPUTS:
            self._register(var.name, var.type, "output", var.start, lambda n=var.name: block._y[n], None)
        for var in block.PARAMETERS:
            value = self.parameters.get(var.name, var.start)
            self.parameters[var.name] = value
            self._register(var.name, var.type, "parameter", value, lambda n=var.name: self.parameters[n],
                           lambda v, n=var.name: self._set_parameter(n, v))  # fmt: skip

    def _register(self, name: str, var_type: str, causality: str, start: Any, getter: Any, setter: Any) -> None:
        kind, convert = _TYPES.get(var_type, _TYPES["Real"])
        if var_type == "Real" and isinstance(start, bool | str):
            kind, convert = _TYPES["Boolean" if isinstance(start, bool) else "String"]
        options: dict[str, Any] = {
            "causality": getattr(Fmi2Causality, causality),
            "getter": lambda: convert(getter()),
            "setter": setter,
            "start": convert(start if start is not None else 0.0),
        }
        if causality == "parameter":
            options["variability"] = Fmi2Variability.tunable
        elif kind is not Real:
            options["variability"] = Fmi2Variability.discrete
        if causality == "output":
            options["initial"] = Fmi2Initial.exact  # held from the start until the first sample instant
        self.register_variable(kind(name, **options), nested=False)

    def _set_parameter(self, name: str, value: Any) -> None:
        self.parameters[name] = value
        if getattr(self, "_running", False):
            self.block.set_parameter(name, value)

    def _event(self, t: float, source: str, text: str, extra: Any) -> None:
        self.log(f"t = {t:.9g} s: {text}", category="logAll")

    def setup_experiment(self, start_time: float, stop_time: Any, tolerance: Any) -> None:
        self.start_time = float(start_time)

    def exit_initialization_mode(self) -> None:
        inputs = {v.name: self.block._u[v.name] for v in self.block.INPUTS}
        self.block.setup(self.start_time, self.parameters)
        self.block.set_inputs(inputs)
        self._running = True

    def do_step(self, current_time: float, step_size: float) -> bool:
        block, end = self.block, current_time + step_size
        while True:
            t = block.next_sample_time()
            if t >= end - _EPS * block.sample_time:
                return True
            block.step(max(t, current_time), 0.0)


def _real(value: Any) -> float:
    return float(value) if value is not None else 0.0


#: The block's variable type -> pythonfmu's variable class and the conversion of values to it.
_TYPES: dict[str, tuple[Any, Any]] = {
    "Real": (Real, _real),
    "Integer": (Integer, lambda v: int(v or 0)),
    "Boolean": (Boolean, bool),
    "String": (String, lambda v: "" if v is None else str(v)),
}
