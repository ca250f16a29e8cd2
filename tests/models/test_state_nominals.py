"""Every state of the shipped plant FMUs has a nominal value on its own scale.

The built-in Co-Simulation solver weighs a state's local error by rtol * (|x| + nominal) (docs/fmu-runtime.md): a
state far smaller than its nominal (1 when the model gives none) is integrated with a tolerance that can exceed the
state itself. Two did: the flow sensor's lag (up to 7e-5 m3/s) and the patient's O2 consumption (4e-6 m3/s), so the
flow reading rang by 2e-6 m3/s after the product flow stopped, beyond the watchdog's plausible range, once the solver
kept its history across macro steps. A state's nominal must stay within NOMINAL_OVER_MAGNITUDE of the largest value
it takes in the default session, so the solver's accuracy on it is at least rtol * NOMINAL_OVER_MAGNITUDE relative.
"""

from __future__ import annotations

import fmpy
import numpy as np
import pytest

from orchestrator.results.run import open_run

NOMINAL_OVER_MAGNITUDE = 1000.0
FMU_SLAVES = ("psa", "compressor", "patient")


@pytest.fixture(scope="module")
def largest_state_values(tmp_path_factory) -> dict[str, dict[str, tuple[float, float]]]:
    """Per FMU slave: state name -> (nominal, largest |value| sampled every 2 s of the default session's first 400 s)."""
    session = open_run("default", out=tmp_path_factory.mktemp("nominals") / "run", stop_time=402.0, plots=False)
    try:
        slaves = session.simulation.system.slaves
        states = {}
        for name in FMU_SLAVES:
            md = fmpy.read_model_description(str(slaves[name].fmu_path))
            states[name] = {
                d.variable.derivative.name: float(d.variable.derivative.nominal or 1.0) for d in md.derivatives
            }
        largest = {name: dict.fromkeys(states[name], 0.0) for name in FMU_SLAVES}
        for t in np.arange(2.0, 400.0 + 1e-9, 2.0):
            session.advance(float(t))
            for name in FMU_SLAVES:
                for state, value in slaves[name].get_outputs(list(states[name])).items():
                    largest[name][state] = max(largest[name][state], abs(float(value)))
    finally:
        session.close()
    return {name: {s: (states[name][s], largest[name][s]) for s in states[name]} for name in FMU_SLAVES}


def test_every_state_nominal_is_on_the_scale_of_the_state(largest_state_values):
    too_large = [
        f"{name}.{state}: nominal {nominal:g}, largest value {largest:.3g}"
        for name, table in largest_state_values.items()
        for state, (nominal, largest) in table.items()
        if largest > 0.0 and nominal > NOMINAL_OVER_MAGNITUDE * largest
    ]
    assert not too_large, "give these states a nominal on their scale (Modelica nominal=...):\n" + "\n".join(too_large)
    assert sum(len(t) for t in largest_state_values.values()) > 100  # the PSA's bed cells are all there
