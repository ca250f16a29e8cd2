"""Reference solutions and the coupled-oscillator parameters shared by the master tests."""

from __future__ import annotations

import numpy as np

from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System

# Two masses on springs, coupled by a spring kc (the classic co-simulation benchmark):
#   m1 x1'' = -k1 x1 - c1 x1' + kc (x2 - x1),   m2 x2'' = -k2 x2 - c2 x2' - kc (x2 - x1)
OSC = {"m1": 1.0, "k1": 10.0, "c1": 0.2, "m2": 1.0, "k2": 6.0, "c2": 0.1, "kc": 8.0}


def oscillator_matrices(p: dict[str, float]) -> tuple[np.ndarray, ...]:
    """(A1, B1, A2, B2, A_monolithic): mass i has states (x_i, v_i) and input x_j of the other mass."""
    m1, k1, c1, m2, k2, c2, kc = (p[k] for k in ("m1", "k1", "c1", "m2", "k2", "c2", "kc"))
    a1 = np.array([[0.0, 1.0], [-(k1 + kc) / m1, -c1 / m1]])
    b1 = np.array([[0.0], [kc / m1]])
    a2 = np.array([[0.0, 1.0], [-(k2 + kc) / m2, -c2 / m2]])
    b2 = np.array([[0.0], [kc / m2]])
    mono = np.zeros((4, 4))
    mono[:2, :2] = a1
    mono[2:, 2:] = a2
    mono[1, 2] = kc / m1
    mono[3, 0] = kc / m2
    return a1, b1, a2, b2, mono


def lti_solution(a: np.ndarray, x0, times) -> np.ndarray:
    """Exact solution of x' = a x, x(0) = x0 at the given times (eigen-decomposition of a; rows = times)."""
    lam, vec = np.linalg.eig(a)
    coef = np.linalg.solve(vec, np.asarray(x0, dtype=complex))
    return np.real(np.exp(np.outer(times, lam)) * coef @ vec.T)


def oscillator_reference(times: np.ndarray) -> np.ndarray:
    """Exact monolithic solution (x1, v1, x2, v2) at the given times."""
    *_, mono = oscillator_matrices(OSC)
    return lti_solution(mono, [1.0, 0.0, 0.0, 0.0], np.asarray(times))


def oscillator_system(paths, cls: type | None = None) -> System:
    from orchestrator.cosim.system import System

    cls = cls or FmuCoSimSlave
    system = System()
    system.add(cls("mass1", paths[0]))
    system.add(cls("mass2", paths[1]))
    system.connect("mass1.x", "mass2.x_other")
    system.connect("mass2.x", "mass1.x_other")
    return system
