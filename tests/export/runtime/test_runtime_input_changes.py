"""Input changes between communication steps in Co-Simulation (o2_bdf.c): an input that does not reach the
derivatives leaves the integration alone, a small change continues the history (no restart) and stays within the
tolerance, a large jump restarts, and a continued run replays bit for bit from a saved state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.linalg import expm

from tests.support.fmu_session import Session, open_fmu, start

H = 0.05  # communication step, s
A = np.array([[-0.5, 0.0], [1000.0, -1000.0]])  # driven_lags: x' = A x + B u
B = np.array([0.5, 0.0])


def held_input_reference(x0: np.ndarray, inputs: list[float]) -> np.ndarray:
    """x at every communication point for inputs held over each step (exact: matrix exponential)."""
    phi = expm(A * H)
    gamma = np.linalg.solve(A, (phi - np.eye(2)) @ B)
    xs, x = [], x0
    for u in inputs:
        x = phi @ x + gamma * u
        xs.append(x)
    return np.array(xs)


def counters(session: Session) -> tuple[int, int]:
    """(restarts, input changes continued) from the statistics logged at fmi2Terminate."""
    session.fmu.terminate()
    (line,) = [m for m in session.messages if "restarts" in m]
    restarts = int(line.split(" restarts")[0].split()[-1])
    continued = int(line.split(" input changes continued")[0].split()[-1])
    return restarts, continued


def run(session: Session, inputs: list[float], noise: list[float] | None = None, t0: float = 0.0) -> np.ndarray:
    xs = []
    for k, u in enumerate(inputs):
        session.set(u=u, **({"noise": noise[k]} if noise else {}))
        session.fmu.doStep(currentCommunicationPoint=t0 + k * H, communicationStepSize=H)
        xs.append(session.get("x0", "x1"))
    return np.array(xs)


def test_an_input_that_only_feeds_outputs_changes_nothing_in_the_integration(fmu_of: Callable[[str], Path]) -> None:
    fmu = fmu_of("driven_lags")
    inputs = [1.0] * 100
    quiet = start(open_fmu(fmu, name="quiet", logging_on=True))
    noisy = start(open_fmu(fmu, name="noisy", logging_on=True))
    x_quiet = run(quiet, inputs)
    noise = list(np.random.default_rng(0).normal(0.0, 0.1, 100))
    x_noisy = run(noisy, inputs, noise)
    assert np.array_equal(x_quiet, x_noisy)  # bit for bit: the history went on untouched
    assert noisy.get("y")[0] == x_noisy[-1][1] + noise[-1]
    assert counters(noisy) == (1, 99)  # the start; then only the noise changed


def test_small_input_changes_continue_the_history_within_the_tolerance(fmu_of: Callable[[str], Path]) -> None:
    """A slowly varying input held per step (as a master with a 0.05 s step sets it; each step's jump is a few
    times the tolerance): no restart after the first, and the error against the exact held-input solution stays
    bounded (held inputs put a kink into the solution at every step: restarting at each one, as the runtime did
    before, gave 41 rtol here, continuing gives 193 rtol; without held inputs the run's error is 3 rtol)."""
    rtol = 1e-6
    inputs = [1.0 + 0.001 * np.sin(0.5 * k * H) for k in range(200)]
    s = start(open_fmu(fmu_of("driven_lags"), name="smooth", logging_on=True), tolerance=rtol)
    xs = run(s, inputs)
    reference = held_input_reference(np.zeros(2), inputs)
    assert np.max(np.abs(xs - reference)) < 300 * rtol
    restarts, continued = counters(s)
    assert restarts == 1  # the start only: the 199 small changes continued
    assert continued == 199


def test_a_large_jump_restarts_and_is_resolved(fmu_of: Callable[[str], Path]) -> None:
    """u jumps between 0 and 5 every second (a valve command): each jump restarts; the error stays small."""
    rtol = 1e-8
    inputs = [5.0 * ((k // 20) % 2) for k in range(200)]
    s = start(open_fmu(fmu_of("driven_lags"), name="jumps", logging_on=True), tolerance=rtol)
    xs = run(s, inputs)
    assert np.max(np.abs(xs - held_input_reference(np.zeros(2), inputs))) < 100 * rtol
    restarts, continued = counters(s)
    assert restarts == 1 + 9  # the start and every jump after the first second
    assert continued == 0


def test_a_continued_run_replays_bit_for_bit_from_a_saved_state(fmu_of: Callable[[str], Path]) -> None:
    inputs = [1.0 + 0.2 * np.sin(0.7 * k * H) for k in range(120)]
    s = start(open_fmu(fmu_of("driven_lags"), name="replay"))
    run(s, inputs[:60])
    state = s.fmu.getFMUstate()
    first = run(s, inputs[60:], t0=60 * H)
    s.fmu.setFMUstate(state)
    again = run(s, inputs[60:], t0=60 * H)
    assert np.array_equal(first, again)
