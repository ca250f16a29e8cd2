"""Two coupled oscillators split into two FMUs: the co-simulation error shrinks with the macro step at the order
the algorithm promises (1 with inputs held, 2 with first-order extrapolation / input derivatives)."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from tests.support.lti_reference import oscillator_reference, oscillator_system

STOP = 2.0


def max_error(paths, step, algorithm, extrapolation, cls=FmuCoSimSlave, stop=STOP) -> float:
    rec = MemoryRecorder()
    options = MasterOptions(step=step, stop_time=stop, algorithm=algorithm, extrapolation=extrapolation,
                            record_interval=0.1)  # fmt: skip
    Simulation(oscillator_system(paths, cls), options, recorders=[rec], record=["mass1.v", "mass2.v"]).run()
    ref = oscillator_reference(np.array(rec.times))
    got = np.column_stack([rec.column(n) for n in ("mass1.x", "mass1.v", "mass2.x", "mass2.v")])
    assert rec.times[-1] == stop
    return float(np.max(np.abs(got - ref)))


def observed_order(paths, algorithm, extrapolation, steps=(0.02, 0.01, 0.005), cls=FmuCoSimSlave, stop=STOP) -> float:
    errors = [max_error(paths, h, algorithm, extrapolation, cls, stop) for h in steps]
    assert errors[0] > errors[1] > errors[2]
    return float(np.mean(np.log2(np.array(errors[:-1]) / np.array(errors[1:]))))


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_zero_order_hold_is_first_order(oscillator_fmus, algorithm):
    order = observed_order(oscillator_fmus(), algorithm, 0)
    assert 0.85 < order < 1.3, order


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_linear_extrapolation_is_second_order(oscillator_fmus, algorithm):
    order = observed_order(oscillator_fmus(), algorithm, 1)
    assert 1.7 < order < 2.4, order


def test_input_derivatives_second_order(oscillator_fmus):
    """FMUs that declare canInterpolateInputs get u(t) and du/dt instead of a mid-step value."""
    order = observed_order(oscillator_fmus(interpolate_inputs=True), "jacobi", 1)
    assert 1.7 < order < 2.4, order


def test_extrapolation_beats_hold(oscillator_fmus):
    paths = oscillator_fmus()
    assert max_error(paths, 0.01, "jacobi", 1) < 0.1 * max_error(paths, 0.01, "jacobi", 0)
    # Gauss-Seidel uses newer information than Jacobi
    assert max_error(paths, 0.01, "gauss-seidel", 0) < max_error(paths, 0.01, "jacobi", 0)


def test_model_exchange_slaves_converge(oscillator_fmus):
    """The same system with both FMUs imported as Model Exchange (only ME, no CS in the XML)."""
    paths = oscillator_fmus(cs=False)
    order = observed_order(paths, "gauss-seidel", 0, steps=(0.04, 0.02, 0.01), cls=FmuModelExchangeSlave, stop=0.8)
    assert 0.8 < order < 1.3, order


def test_deterministic(oscillator_fmus):
    paths = oscillator_fmus()
    runs = []
    for _ in range(2):
        rec = MemoryRecorder()
        Simulation(oscillator_system(paths), MasterOptions(step=0.01, stop_time=0.5, extrapolation=1),
                   recorders=[rec]).run()  # fmt: skip
        runs.append((rec.times, rec.rows))
    assert runs[0] == runs[1]
