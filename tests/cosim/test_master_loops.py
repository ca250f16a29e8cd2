"""An algebraic loop across two FMUs (both outputs feed through directly) is detected from ModelStructure, solved
at every communication point, and converges to the monolithic solution as the macro step shrinks."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SimulationError
from tests.support.lti_reference import lti_solution

# FMU 1: x1' = -x1 + u1, y1 = x1 + d1 u1;  FMU 2: x2' = -2 x2 + u2, y2 = x2 + d2 u2;  u1 = y2, u2 = y1.
X0 = np.array([1.0, -0.5])


def build_pair(fmu_dir, d1, d2, tag, **caps):
    from tests.support.lti_fmu import build_lti_fmu

    f1 = build_lti_fmu(
        fmu_dir, f"Loop1_{tag}", [[-1.0]], [[1.0]], [[1.0]], [[d1]], ["s"], ["u"], ["y"], [X0[0]], **caps
    )
    f2 = build_lti_fmu(
        fmu_dir, f"Loop2_{tag}", [[-2.0]], [[1.0]], [[1.0]], [[d2]], ["s"], ["u"], ["y"], [X0[1]], **caps
    )
    return f1, f2


def monolithic(times, d1, d2):
    """y = x + D y  =>  y = (I - D)^-1 x with D = [[0, d1], [d2, 0]]; x' = diag(-1, -2) x + P y (u1 = y2, u2 = y1)."""
    dmat = np.array([[0.0, d1], [d2, 0.0]])
    m = np.linalg.inv(np.eye(2) - dmat)
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    a = np.diag([-1.0, -2.0]) + swap @ m
    xs = lti_solution(a, X0, np.asarray(times))
    return xs, xs @ m.T


def run_loop(paths, step, solver, stop=1.0):
    system = System()
    system.add(FmuCoSimSlave("a", paths[0]))
    system.add(FmuCoSimSlave("b", paths[1]))
    system.connect("a.y", "b.u")
    system.connect("b.y", "a.u")
    rec = MemoryRecorder()
    options = MasterOptions(step=step, stop_time=stop, loop_solver=solver, record_interval=0.1, loop_tolerance=1e-10)
    sim = Simulation(system, options, recorders=[rec], record=["a.s", "b.s"])
    sim.run()
    return sim, rec


@pytest.fixture(scope="module")
def loop_fmus(fmu_dir):
    return build_pair(fmu_dir, 0.5, -0.8, "std")


@pytest.mark.parametrize("solver", ["newton", "fixed-point"])
def test_loop_consistent_at_every_point(loop_fmus, solver):
    sim, rec = run_loop(loop_fmus, 0.01, solver)
    assert sim.stats["loop_solves"] == sim.stats["macro_steps"] + 1
    x1, x2 = np.array(rec.column("a.s")), np.array(rec.column("b.s"))
    y1, y2 = np.array(rec.column("a.y")), np.array(rec.column("b.y"))
    np.testing.assert_allclose(y1, x1 + 0.5 * y2, atol=1e-9)
    np.testing.assert_allclose(y2, x2 - 0.8 * y1, atol=1e-9)


def test_loop_converges_to_monolithic(loop_fmus):
    errors = []
    for h in (0.02, 0.01, 0.005):
        _, rec = run_loop(loop_fmus, h, "newton")
        _xs, ys = monolithic(rec.times, 0.5, -0.8)
        got = np.column_stack([rec.column("a.y"), rec.column("b.y")])
        errors.append(np.max(np.abs(got - ys)))
    assert errors[2] < 3e-3
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 0.85), rates


def test_newton_by_finite_differences_matches_directional(fmu_dir, loop_fmus):
    plain = build_pair(fmu_dir, 0.5, -0.8, "nodd", directional=False)
    _, a = run_loop(loop_fmus, 0.01, "newton")
    _, b = run_loop(plain, 0.01, "newton")
    np.testing.assert_allclose(a.column("a.y"), b.column("a.y"), atol=1e-9)


def test_fixed_point_divergence_is_reported(fmu_dir):
    paths = build_pair(fmu_dir, 2.0, 1.5, "stiff")  # loop gain 3: fixed point diverges, Newton is exact
    with pytest.raises(
        SimulationError, match=r"algebraic loop between (a, b|b, a) did not converge at t = 0 s.*newton"
    ):
        run_loop(paths, 0.01, "fixed-point")
    _, rec = run_loop(paths, 0.01, "newton", stop=0.2)
    _xs, ys = monolithic(rec.times, 2.0, 1.5)
    np.testing.assert_allclose([rec.column("a.y")[0], rec.column("b.y")[0]], ys[0], rtol=1e-9, atol=1e-12)


def loop_system(paths) -> System:
    system = System()
    system.add(FmuCoSimSlave("a", paths[0]))
    system.add(FmuCoSimSlave("b", paths[1]))
    system.connect("a.y", "b.u")
    system.connect("b.y", "a.u")
    return system


def test_rollback_replays_loop_exactly(loop_fmus):
    """The loop solver's Jacobian and history are part of the snapshot: a replay is bit-identical."""
    sim = Simulation(loop_system(loop_fmus), MasterOptions(step=0.01, stop_time=1.0))
    sim.run(until=0.3)
    snapshot = sim.save_state()
    sim.run(until=0.6)
    first = sim.outputs
    sim.restore_state(snapshot)
    sim.run(until=0.6)
    assert sim.outputs == first
    sim.finish()


def test_override_inside_loop_is_held_not_solved(loop_fmus):
    from orchestrator.cosim.master import OverrideEvent

    sim = Simulation(loop_system(loop_fmus), MasterOptions(step=0.01, stop_time=1.0, loop_tolerance=1e-10),
                     events=[OverrideEvent(0.5, {"b.u": 0.7})])  # fmt: skip
    sim.run(until=0.8)
    assert sim.get("b.u") == 0.7
    assert sim.get("b.y") == pytest.approx(sim.get("b.s") - 0.8 * 0.7, abs=1e-12)
    assert sim.get("a.y") == pytest.approx(sim.get("a.s") + 0.5 * sim.get("b.y"), abs=1e-9)
    sim.finish()
