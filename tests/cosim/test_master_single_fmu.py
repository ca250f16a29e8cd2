"""A single FMU under the master gives the same results as fmpy.simulate_fmu on the same FMU and step."""

from __future__ import annotations

import fmpy
import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SystemDefinitionError


def run_single(cls, path, step, stop, algorithm="gauss-seidel"):
    system = System()
    system.add(cls("m", path))
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=step, stop_time=stop, algorithm=algorithm), recorders=[rec],
                     record=["m.x", "m.v"])  # fmt: skip
    sim.run()
    return rec


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_cs_bit_identical_to_fmpy(oscillator_fmus, algorithm):
    path, _ = oscillator_fmus()
    ref = fmpy.simulate_fmu(str(path), stop_time=2.0, output_interval=0.125, output=["x", "v"])
    rec = run_single(FmuCoSimSlave, path, 0.125, 2.0, algorithm)
    assert np.array_equal(np.array(rec.times), ref["time"])
    assert np.array_equal(np.array(rec.column("m.x")), ref["x"])
    assert np.array_equal(np.array(rec.column("m.v")), ref["v"])


def test_cs_decimal_step_matches_fmpy(oscillator_fmus):
    """With step 0.1 our times are t0 + n/10 exactly rounded, fmpy's n * 0.1: equal up to an ulp of time."""
    path, _ = oscillator_fmus()
    ref = fmpy.simulate_fmu(str(path), stop_time=1.0, output_interval=0.1, output=["x", "v"])
    rec = run_single(FmuCoSimSlave, path, 0.1, 1.0)
    assert len(rec.times) == len(ref) == 11
    assert rec.times[3] == 0.3  # no float accumulation: 3/10, not 0.1 + 0.1 + 0.1
    np.testing.assert_allclose(rec.column("m.x"), ref["x"], rtol=0, atol=1e-12)


def test_me_matches_fmpy_cvode(oscillator_fmus):
    path, _ = oscillator_fmus()
    ref = fmpy.simulate_fmu(str(path), fmi_type="ModelExchange", stop_time=2.0, output_interval=0.1,
                            output=["x", "v"], relative_tolerance=1e-8)  # fmt: skip
    rec = run_single(FmuModelExchangeSlave, path, 0.1, 2.0)
    np.testing.assert_allclose(rec.column("m.x"), ref["x"], atol=2e-5)


def test_capabilities_from_model_description(oscillator_fmus):
    full, _ = oscillator_fmus(interpolate_inputs=True)
    s = FmuCoSimSlave("m", full)
    assert s.info.can_rollback and s.info.provides_directional_derivative
    assert s.info.max_input_derivative_order == 1
    assert s.info.direct_feedthrough == {"x": frozenset(), "v": frozenset()}
    assert s.variables["x"].unit == "m" and s.variables["x_other"].causality == "input"
    bare, _ = oscillator_fmus(can_rollback=False, directional=False)
    s = FmuCoSimSlave("m", bare)
    assert not s.info.can_rollback and not s.info.provides_directional_derivative
    assert s.info.max_input_derivative_order == 0


def test_interface_must_exist(oscillator_fmus, tmp_path):
    me_only, _ = oscillator_fmus(cs=False)
    cs_only, _ = oscillator_fmus(me=False)
    with pytest.raises(SystemDefinitionError, match="no Co-Simulation interface"):
        FmuCoSimSlave("m", me_only)
    with pytest.raises(SystemDefinitionError, match="no Model Exchange interface"):
        FmuModelExchangeSlave("m", cs_only)
    with pytest.raises(SystemDefinitionError, match="does not exist"):
        FmuCoSimSlave("m", tmp_path / "missing.fmu")
    broken = tmp_path / "broken.fmu"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SystemDefinitionError, match="cannot read"):
        FmuCoSimSlave("m", broken)


def bouncing_ball_height(t: float, h0: float = 1.0, g: float = 9.81, e: float = 0.8) -> float:
    """Exact height of a ball dropped from h0 whose speed is scaled by e at each bounce."""
    t_hit = np.sqrt(2 * h0 / g)
    if t < t_hit:
        return h0 - 0.5 * g * t * t
    v_up = e * g * t_hit
    while True:
        flight = 2 * v_up / g
        if t < t_hit + flight:
            s = t - t_hit
            return v_up * s - 0.5 * g * s * s
        t_hit += flight
        v_up *= e


def test_me_state_events_bouncing_ball(fmu_dir):
    """A third-party style ME FMU with an event indicator: the master locates the bounces inside its steps."""
    from tests.support.lti_fmu import build_lti_fmu

    path = build_lti_fmu(fmu_dir, "Ball", [[0, 1], [0, 0]], [[0], [1]], [[1, 0], [0, 1]], [[0], [0]],
                         ["h", "v"], ["g"], ["height", "speed"], [1.0, 0.0], cs=False, bounce=0.8)  # fmt: skip
    system = System()
    system.add(FmuModelExchangeSlave("ball", path, rtol=1e-9, atol=1e-11))
    system.start_values["ball.g"] = -9.81
    rec = MemoryRecorder()
    Simulation(system, MasterOptions(step=0.1, stop_time=2.0), recorders=[rec], record=["ball.height"]).run()
    height = np.array(rec.column("ball.height"))
    expected = np.array([bouncing_ball_height(t) for t in rec.times])
    assert height.min() > -1e-6  # never below the floor: the events were found inside the macro steps
    np.testing.assert_allclose(height, expected, atol=1e-5)
    assert max(height[rec.times.index(0.5) :]) < 0.65  # bounced to 0.8**2 of the drop height
