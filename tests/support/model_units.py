"""Run a Modelica model of the physics tests: the exported FMU through the master's own FMU slave (the artefact
users run), or the same Modelica translated by the exporter's front end and integrated directly
(orchestrator.validation.modelica_sim: the project's one Modelica reference simulator).

Both run the real model equations: nothing here re-types the physics or re-implements a solver.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from orchestrator.cosim.slaves.fmu import FmuCoSimSlave

#: Modelica test models beside the physics tests (e.g. CompressorChargingVolume).
TEST_MODELS = Path(__file__).resolve().parents[1] / "models" / "compressor_patient" / "models"
_instances = itertools.count(1)


def _grid(t_end: float, n_out: int) -> np.ndarray:
    return np.linspace(0.0, t_end, n_out)


class FmuUnit:
    """Test API on the exported FMU (Co-Simulation), run by orchestrator.cosim.slaves.fmu.FmuCoSimSlave."""

    backend = "fmu"

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = Path(path)
        probe = FmuCoSimSlave("probe", self.path)
        md = probe.model_description
        self.starts = {v.name: v.start for v in md.modelVariables}
        self.inputs = [v.name for v in md.modelVariables if v.causality == "input"]
        #: outputs and locals (intermediate quantities such as the patient's PaCO2)
        self.observable = [
            v.name
            for v in md.modelVariables
            if v.causality in ("output", "local") and v.variability == "continuous" and not v.name.startswith("der(")
        ]
        probe.terminate()

    def parameter(self, name: str) -> float:
        return float(self.starts[name])

    def run(
        self,
        t_end: float,
        inputs: Mapping[str, float],
        params: Mapping[str, float] | None = None,
        initial_inputs: Mapping[str, float] | None = None,
        n_out: int = 101,
        outputs: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """Initialise with initial_inputs (default: inputs) as start values, then hold inputs from t = 0 on."""
        names = list(outputs) or self.observable
        slave = FmuCoSimSlave(f"unit{next(_instances)}", self.path)
        try:
            slave.setup(0.0, {**(params or {}), **(initial_inputs or inputs)})
            write = slave.input_writer(list(inputs))
            read = slave.output_reader(names)
            write(list(inputs.values()))
            times = _grid(t_end, n_out)
            rows = [read()]
            for t0, t1 in itertools.pairwise(times):
                assert slave.step(float(t0), float(t1 - t0)), f"{self.name}: the FMU rejected a step at {t0} s"
                rows.append(read())
        finally:
            slave.terminate()
        values = np.array(rows)
        return {"time": times, **{n: values[:, k] for k, n in enumerate(names)}}

    def steady(self, inputs: Mapping[str, float], params: Mapping[str, float] | None = None, settle_s: float = 3600.0):
        """The state after settle_s of constant inputs (chosen by the test as many time constants)."""
        res = self.run(settle_s, inputs, params, n_out=11)
        return {n: float(v[-1]) for n, v in res.items()}


class ModelicaUnit:
    """Test API on the direct simulation of the Modelica model (exporter front end, CVODES)."""

    backend = "modelica"

    def __init__(self, name: str, observed: Sequence[str], extra_dirs: Sequence[Path] = ()):
        self.name = name
        self.observed = list(observed)
        self.extra_dirs = list(extra_dirs)

    def run(
        self,
        t_end: float,
        inputs: Mapping[str, float],
        params: Mapping[str, float] | None = None,
        initial_inputs: Mapping[str, float] | None = None,
        n_out: int = 101,
        outputs: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """Start from the model's initial state (initial equations with the inputs' start values)."""
        from orchestrator.validation.modelica_sim import Simulator, compile_model

        assert initial_inputs is None, "the direct simulator starts from the inputs' start values"
        model = compile_model(self.name, self.observed, dict(params or {}), self.extra_dirs)
        sim = Simulator(model, rel_tol=1e-8, abs_tol=1e-10)
        u = np.array([float(inputs.get(n, model.input_start[n])) for n in model.input_names])
        times = _grid(t_end, n_out)
        rows = [sim.outputs(u)]
        for t0, t1 in itertools.pairwise(times):
            sim.step(float(t1 - t0), u)
            rows.append(sim.outputs(u))
        values = np.array(rows)
        names = list(outputs) or self.observed
        return {"time": times, **{n: values[:, self.observed.index(n)] for n in names}}

    def steady(self, inputs: Mapping[str, float], params: Mapping[str, float] | None = None, settle_s: float = 3600.0):
        res = self.run(settle_s, inputs, params, n_out=11)
        return {n: float(v[-1]) for n, v in res.items()}


def unit(name: str, smoke: Sequence[tuple[dict, dict]] = (({}, {}),)) -> FmuUnit:
    """The exported FMU of ``name``, checked to initialise and step for each (inputs, params) in smoke.

    An FMU that fails to export or start is a test failure, never a silent switch of backend.
    """
    from orchestrator.export.api import export_model

    fmu = FmuUnit(name, export_model(name))
    for inputs, params in smoke:  # exported, instantiated, initialised, stepped
        fmu.run(1.0, inputs, params, n_out=2)
    return fmu
