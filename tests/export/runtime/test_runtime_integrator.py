"""Property test of the Co-Simulation integrator: random stiff linear systems x' = A x (eigenvalues from -0.1 to
-1e4, set through tunable parameters of one FMU) against the matrix exponential."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from tests.support.fmu_session import open_fmu, start

N = 5


@pytest.fixture(scope="module")
def linear_fmu(fmu_of: Callable[[str], Path]) -> Path:
    return fmu_of("parametric_linear")


@settings(max_examples=25, deadline=None)
@given(
    log_rates=st.lists(st.floats(-1.0, 4.0), min_size=N, max_size=N),
    seed=st.integers(0, 2**31 - 1),
    comm_step=st.sampled_from([0.01, 0.1, 0.37, 1.0]),
    rtol=st.sampled_from([1e-6, 1e-8]),
)
def test_stiff_linear_systems_match_the_matrix_exponential(
    linear_fmu: Path, log_rates: list[float], seed: int, comm_step: float, rtol: float
) -> None:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(N, N)))
    a = q @ np.diag(-(10.0 ** np.array(log_rates))) @ q.T
    s = open_fmu(linear_fmu)
    start(s, tolerance=rtol, **{f"a{i}{j}": float(a[i, j]) for i in range(N) for j in range(N)})
    x0 = np.ones(N)
    t, worst = 0.0, 0.0
    while t < 2.0 - 1e-12:
        s.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=comm_step)
        t += comm_step
        exact = expm(a * t) @ x0
        got = np.array(s.get(*[f"x{i}" for i in range(N)]))
        worst = max(worst, np.max(np.abs(got - exact)))
    s.fmu.freeInstance()
    # the global error stays within a modest multiple of the tolerance (scale |x0| = 1; measured up to ~15x)
    assert worst < 50 * rtol
