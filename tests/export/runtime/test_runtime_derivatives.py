"""fmi2GetDirectionalDerivative (CasADi forward AD through the algebraic loop) against finite differences and
the analytic Jacobian."""

from __future__ import annotations

from collections.abc import Callable
from ctypes import c_double
from pathlib import Path

import numpy as np
import pytest

from tests.support.fmu_session import Session, open_fmu, start


def _me_values(s: Session, t: float, x: np.ndarray, inputs: dict[str, float], unknowns: list[str]) -> np.ndarray:
    s.fmu.setTime(t)
    s.fmu.setContinuousStates((c_double * len(x))(*x), len(x))
    if inputs:
        s.set(**inputs)
    return np.array(s.get(*unknowns))


@pytest.mark.parametrize(
    ("name", "states", "inputs", "unknowns"),
    [
        ("tank_with_loop", ["V"], {"q_in": 0.45}, ["der(V)", "h", "q_out"]),
        ("robertson_dae", ["y1", "y2"], {}, ["der(y1)", "der(y2)", "y3", "y3_out"]),
    ],
)
def test_directional_derivatives_match_central_differences(
    fmu_of: Callable[[str], Path], name: str, states: list[str], inputs: dict[str, float], unknowns: list[str]
) -> None:
    s = start(open_fmu(fmu_of(name), kind="me"))
    x = np.array([0.8, 2e-5]) if name == "robertson_dae" else np.array([0.9])
    t = 0.5
    for known in states + list(inputs):
        base_x, base_u = x.copy(), dict(inputs)
        _me_values(s, t, base_x, base_u, unknowns)
        ad = np.array(s.fmu.getDirectionalDerivative([s.vr[u] for u in unknowns], [s.vr[known]], [1.0]))
        value = base_x[states.index(known)] if known in states else base_u[known]
        step = 1e-6 * max(abs(value), 1e-3)
        sides = []
        for sign in (1.0, -1.0):
            px, pu = base_x.copy(), dict(base_u)
            if known in states:
                px[states.index(known)] += sign * step
            else:
                pu[known] += sign * step
            sides.append(_me_values(s, t, px, pu, unknowns))
        fd = (sides[0] - sides[1]) / (2 * step)
        np.testing.assert_allclose(ad, fd, rtol=1e-5, atol=1e-7 * np.max(np.abs(fd)), err_msg=f"d/d{known}")


def test_directional_derivative_in_cosimulation_matches_analytic_jacobian(fmu_of: Callable[[str], Path]) -> None:
    s = start(open_fmu(fmu_of("van_der_pol")))
    t = 0.0
    for _ in range(5):
        s.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=0.3)
        t += 0.3
    x0, x1 = s.get("x0", "x1")
    mu = 1000.0
    unknowns = [s.vr[n] for n in ("der(x0)", "der(x1)", "y")]
    d_dx0 = s.fmu.getDirectionalDerivative(unknowns, [s.vr["x0"]], [1.0])
    d_dx1 = s.fmu.getDirectionalDerivative(unknowns, [s.vr["x1"]], [1.0])
    np.testing.assert_allclose(d_dx0, [0.0, -2 * mu * x0 * x1 - 1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(d_dx1, [1.0, mu * (1 - x0**2), 0.0], rtol=1e-12)
    # a combined seed is the sum of the columns
    both = s.fmu.getDirectionalDerivative(unknowns, [s.vr["x0"], s.vr["x1"]], [2.0, -3.0])
    np.testing.assert_allclose(both, 2 * np.array(d_dx0) - 3 * np.array(d_dx1), rtol=1e-12)


def test_directional_derivative_rejects_parameters_as_knowns(fmu_of: Callable[[str], Path]) -> None:
    s = start(open_fmu(fmu_of("van_der_pol")))
    with pytest.raises(Exception, match="fmi2GetDirectionalDerivative"):
        s.fmu.getDirectionalDerivative([s.vr["y"]], [s.vr["mu"]], [1.0])
    assert any("must be a state or an input" in m for m in s.messages)
