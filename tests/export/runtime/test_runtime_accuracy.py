"""Built-in FMUs pass fmpy's validation and simulate as Co-Simulation and Model Exchange in agreement with
independent references (scipy solve_ivp at tight tolerances, or analytic solutions) to rtol 1e-4."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fmpy import simulate_fmu
from fmpy.validation import validate_fmu
from scipy.integrate import solve_ivp

FMI_TYPES = ["CoSimulation", "ModelExchange"]
MODELS = ["van_der_pol", "robertson_dae", "linear_system", "tank_with_loop"]


@pytest.mark.parametrize("name", MODELS)
def test_fmu_passes_fmpy_validation(fmu_of: Callable[[str], Path], name: str) -> None:
    assert validate_fmu(str(fmu_of(name))) == []


@pytest.mark.parametrize("fmi_type", FMI_TYPES)
def test_linear_system_matches_analytic_solution(fmu_of: Callable[[str], Path], fmi_type: str) -> None:
    res = simulate_fmu(
        str(fmu_of("linear_system")),
        fmi_type=fmi_type,
        output=["a", "b"],
        output_interval=0.01,
        relative_tolerance=1e-8,
    )
    t = res["time"]
    decay = np.exp(-t)
    np.testing.assert_allclose(res["a"], decay * np.cos(10 * t), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res["b"], -decay * np.sin(10 * t), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fmi_type", FMI_TYPES)
def test_stiff_van_der_pol_matches_radau(fmu_of: Callable[[str], Path], fmi_type: str) -> None:
    """mu = 1000: a slow phase up to t ~ 807, then a jump; compare the slow phase pointwise and the jump time."""
    # fmpy's CVode (ME) stops in the jump (500 steps per output interval), so ME covers the slow phase only
    stop_time = 900.0 if fmi_type == "CoSimulation" else 780.0
    res = simulate_fmu(
        str(fmu_of("van_der_pol")),
        fmi_type=fmi_type,
        stop_time=stop_time,
        output=["x0", "x1"],
        output_interval=0.1,
        relative_tolerance=1e-8,
    )
    mu = 1000.0
    ref = solve_ivp(
        lambda t, x: [x[1], mu * (1 - x[0] ** 2) * x[1] - x[0]],
        (0, stop_time),
        [2.0, 0.0],
        method="Radau",
        rtol=1e-11,
        atol=1e-12,
        t_eval=res["time"],
        dense_output=True,
    )
    slow = res["time"] <= 780.0
    np.testing.assert_allclose(res["x0"][slow], ref.y[0][slow], rtol=1e-4)
    if fmi_type == "ModelExchange":
        return
    # time of the first zero crossing of x0 (the relaxation jump), located on a fine grid of the references
    fine = np.linspace(780.0, 900.0, 240001)
    t_ref = fine[np.argmax(ref.sol(fine)[0] < 0)]
    i = int(np.argmax(res["x0"] < 0))
    assert res["time"][i - 1] <= t_ref + 1e-4 * t_ref and res["time"][i] >= t_ref - 1e-4 * t_ref


@pytest.mark.parametrize("fmi_type", FMI_TYPES)
def test_robertson_dae_matches_reference(fmu_of: Callable[[str], Path], fmi_type: str) -> None:
    """Index-1 DAE with an algebraic variable (y3 from the conservation law)."""
    res = simulate_fmu(
        str(fmu_of("robertson_dae")),
        fmi_type=fmi_type,
        stop_time=40.0,
        output=["y1", "y2", "y3", "y3_out"],
        output_interval=0.5,
        relative_tolerance=1e-9,
    )

    def rhs(t: float, y: np.ndarray) -> list[float]:
        return [
            -0.04 * y[0] + 1e4 * y[1] * y[2],
            0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
            3e7 * y[1] ** 2,
        ]

    ref = solve_ivp(rhs, (0, 40.0), [1.0, 0.0, 0.0], method="Radau", rtol=1e-12, atol=1e-16, t_eval=res["time"])
    later = res["time"] >= 0.5
    np.testing.assert_allclose(res["y1"][later], ref.y[0][later], rtol=1e-4)
    np.testing.assert_allclose(res["y2"][later], ref.y[1][later], rtol=1e-4)
    np.testing.assert_allclose(res["y3"][later], ref.y[2][later], rtol=1e-4)
    np.testing.assert_array_equal(res["y3"], res["y3_out"])
    np.testing.assert_allclose(res["y1"] + res["y2"] + res["y3"], 1.0, rtol=1e-12)


def _tank_reference(t_eval: np.ndarray, t_switch: float, q1: float, q2: float) -> np.ndarray:
    k, v0 = 0.8, 1.0

    def rhs(q: float) -> Callable[[float, np.ndarray], list[float]]:
        return lambda t, v: [q - k * np.sqrt(v[0])]

    first = t_eval <= t_switch
    a = solve_ivp(rhs(q1), (0, t_switch), [v0], rtol=1e-12, atol=1e-14, t_eval=t_eval[first], method="LSODA")
    b = solve_ivp(
        rhs(q2), (t_switch, t_eval[-1]), [a.y[0][-1]], rtol=1e-12, atol=1e-14, t_eval=t_eval[~first], method="LSODA"
    )
    return np.concatenate([a.y[0], b.y[0]])


@pytest.mark.parametrize("fmi_type", FMI_TYPES)
def test_tank_with_input_step_and_algebraic_loop(fmu_of: Callable[[str], Path], fmi_type: str) -> None:
    """The input steps at t = 5 (a communication point); the outflow comes from a nonlinear algebraic loop."""
    signal = np.array([(0, 0.3), (5, 0.3), (5, 0.6), (10, 0.6)], dtype=[("time", float), ("q_in", float)])
    res = simulate_fmu(
        str(fmu_of("tank_with_loop")),
        fmi_type=fmi_type,
        stop_time=10.0,
        input=signal,
        output=["V", "h", "q_out"],
        output_interval=0.1,
        relative_tolerance=1e-8,
    )
    t = res["time"]
    if fmi_type == "ModelExchange":  # the event at t = 5 records the instant twice: keep the value after it
        keep = np.ones(len(t), bool)
        keep[:-1] = t[:-1] != t[1:]
        res, t = res[keep], t[keep]
    ref = _tank_reference(t, 5.0, 0.3, 0.6)
    np.testing.assert_allclose(res["V"], ref, rtol=1e-4)
    np.testing.assert_allclose(res["h"], ref / 2.0, rtol=1e-4)
    np.testing.assert_allclose(res["q_out"], 0.8 * np.sqrt(ref), rtol=1e-4)


def test_tolerance_is_honoured(fmu_of: Callable[[str], Path]) -> None:
    """A looser tolerance gives a larger (but bounded) error: the error control is active."""
    fmu = str(fmu_of("linear_system"))
    errors = []
    for rtol in (1e-4, 1e-8):
        res = simulate_fmu(fmu, fmi_type="CoSimulation", output=["a"], output_interval=0.05, relative_tolerance=rtol)
        errors.append(np.max(np.abs(res["a"] - np.exp(-res["time"]) * np.cos(10 * res["time"]))))
    assert errors[1] < errors[0] / 50
    assert errors[0] < 1e-2


def test_input_derivatives_interpolate_inputs_within_a_step(fmu_of: Callable[[str], Path]) -> None:
    """A ramp input q_in = 0.3 + 0.05 t: with fmi2SetRealInputDerivatives the result matches the ramp reference;
    holding the input per communication step (no derivatives) is visibly worse. Input values that continue the
    ramp do not restart the integrator; steps in the input do."""
    from tests.support.fmu_session import open_fmu, start

    def ramp(t: float) -> float:
        return 0.3 + 0.05 * t

    times = np.arange(0.0, 10.0 + 1e-9, 0.5)
    ref = solve_ivp(
        lambda t, v: [ramp(t) - 0.8 * np.sqrt(v[0])],
        (0, 10),
        [1.0],
        rtol=1e-12,
        atol=1e-14,
        t_eval=times,
        method="LSODA",
    ).y[0]
    errors, restarts = {}, {}
    for interpolate in (True, False):
        s = start(open_fmu(fmu_of("tank_with_loop"), name=f"ramp{interpolate}", logging_on=True), tolerance=1e-9)
        values = [s.get("V")[0]]
        for t in times[:-1]:
            s.set(q_in=ramp(t))
            if interpolate:
                s.fmu.setRealInputDerivatives([s.vr["q_in"]], [1], [0.05])
            s.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=0.5)
            values.append(s.get("V")[0])
        errors[interpolate] = np.max(np.abs(np.array(values) - ref) / ref)
        s.fmu.terminate()
        (stats,) = [m for m in s.messages if "restarts" in m]
        restarts[interpolate] = int(stats.split(" restarts")[0].split()[-1])
    assert errors[True] < 1e-6
    assert restarts[True] == 1  # the ramp continues smoothly: only the start, no restart per step
    assert restarts[False] == len(times) - 1
    assert errors[False] > 100 * errors[True]


def test_tunable_parameter_change_between_steps(fmu_of: Callable[[str], Path]) -> None:
    """Changing the tunable outflow coefficient k at t = 4 acts from there on (the state is kept)."""
    from tests.support.fmu_session import open_fmu, start

    s = start(open_fmu(fmu_of("tank_with_loop"), name="tune"), tolerance=1e-9)
    times = np.arange(0.0, 8.0 + 1e-9, 0.5)
    values = [s.get("V")[0]]
    for t in times[:-1]:
        if t == 4.0:
            s.set(k=1.2)
        s.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=0.5)
        values.append(s.get("V")[0])
    assert s.get("q_out")[0] == pytest.approx(1.2 * np.sqrt(values[-1]), rel=1e-8)

    def rhs(k: float) -> Callable[[float, np.ndarray], list[float]]:
        return lambda t, v: [0.3 - k * np.sqrt(v[0])]

    first = solve_ivp(rhs(0.8), (0, 4), [1.0], rtol=1e-12, atol=1e-14, t_eval=times[times <= 4], method="LSODA")
    second = solve_ivp(
        rhs(1.2), (4, 8), [first.y[0][-1]], rtol=1e-12, atol=1e-14, t_eval=times[times > 4], method="LSODA"
    )
    np.testing.assert_allclose(values, np.concatenate([first.y[0], second.y[0]]), rtol=1e-6)
