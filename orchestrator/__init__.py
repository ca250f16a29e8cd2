"""O2 Twin orchestrator: Modelica -> FMU export, co-simulation, scenarios, results and hardware in the loop.

The public Python API (see docs/api.md)::

    from orchestrator import load_scenario, run

    result = run("default", stop_time=120, overrides={"patient.copd": 1.0})
    result.metrics["summary"], result.signals  # pandas DataFrame indexed by time
    result.plot(["patient.SpO2"])

``open_run`` gives a steppable RunSession (for dashboards and RL environments). The names are imported on first
use, so ``import orchestrator.export`` does not load the co-simulation stack.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_scenario": "orchestrator.scenario.load",
    "run": "orchestrator.results.run",
    "open_run": "orchestrator.results.run",
    "RunResult": "orchestrator.results.run",
    "RunSession": "orchestrator.results.run",
    "ScenarioSpec": "orchestrator.scenario.spec",
    "run_cases": "orchestrator.sweep",
    "Case": "orchestrator.sweep",
    "O2TwinError": "orchestrator.errors",
    "SimulationError": "orchestrator.errors",
    "SystemDefinitionError": "orchestrator.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrator' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
