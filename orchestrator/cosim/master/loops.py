"""Algebraic loops between slaves, solved at a communication point.

Unknowns are the loop's connected inputs u (one per connection inside the loop). With y(u) the outputs the
slaves compute for inputs u, the loop is consistent when u = G(y(u)) (G: each connection's gain and offset).
Fixed point iterates u <- G(y(u)); Newton solves r(u) = G(y(u)) - u = 0 with the Jacobian from the slaves'
directional derivatives dy/du where every slave in the loop provides them, finite differences otherwise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from orchestrator.cosim.slaves.base import Slave
from orchestrator.errors import SimulationError

log = logging.getLogger(__name__)

#: Chord Newton: keep the Jacobian while each iteration shrinks the scaled residual at least this much ...
_CHORD_RATE = 0.05
#: ... and for at most this many solves (communication points).
_MAX_JACOBIAN_AGE = 10


@dataclass
class LoopEdge:
    """One connection inside a loop: source output -> target input, target = gain * source + offset."""

    source: Slave
    source_var: str
    target: Slave
    target_var: str
    gain: float
    offset: float

    @property
    def label(self) -> str:
        return f"{self.source.name}.{self.source_var} -> {self.target.name}.{self.target_var}"


class LoopSolver:
    """Solves one algebraic loop; ``solve(u0, t)`` sets consistent inputs on the slaves and returns them."""

    def __init__(
        self,
        edges: Sequence[LoopEdge],
        method: str = "newton",
        tolerance: float = 1e-10,
        max_iterations: int = 50,
        also_read: Mapping[Slave, Sequence[str]] | None = None,
    ) -> None:
        self.edges = list(edges)
        self.method = method
        self.tolerance = tolerance
        self.max_iterations = max_iterations
        self.slaves = list(dict.fromkeys(e.target for e in self.edges))
        self.names = ", ".join(s.name for s in dict.fromkeys([*self.slaves, *(e.source for e in self.edges)]))
        self.use_directional = all(s.info.provides_directional_derivative for s in self.slaves)
        self.iterations_total = 0
        self.jacobian_evaluations = 0
        # inputs per target slave, outputs per source slave
        self._inputs: dict[Slave, list[int]] = {}
        for k, e in enumerate(self.edges):
            self._inputs.setdefault(e.target, []).append(k)
        self._writers: dict[Slave, Callable[[Sequence[float]], None]] = {
            s: s.input_writer([self.edges[k].target_var for k in ks]) for s, ks in self._inputs.items()
        }
        self._outputs: dict[Slave, list[int]] = {}
        for k, e in enumerate(self.edges):
            self._outputs.setdefault(e.source, []).append(k)
        # each evaluation reads the loop outputs plus what the caller wants of those slaves (also_read), so the
        # values at the solution need no second read: ``last[slave]`` holds the also_read values
        self._also = {s: list(names) for s, names in (also_read or {}).items() if s in self._outputs}
        self._readers = {
            s: s.output_reader([*(self.edges[k].source_var for k in ks), *self._also.get(s, ())])
            for s, ks in self._outputs.items()
        }
        self.last: dict[Slave, list[float]] = {}
        self._gain = [e.gain for e in self.edges]
        self._offset = [e.offset for e in self.edges]
        self._identity = all(g == 1.0 for g in self._gain) and not any(self._offset)
        self._plan = [(self._writers[s], ks) for s, ks in self._inputs.items()]
        self._read_plan = [(s, self._readers[s], ks, len(ks)) for s, ks in self._outputs.items()]
        #: Inverse of the last Newton matrix (I - dG/du), reused across iterations and macro steps (chord
        #: Newton) until convergence slows down; loops between slaves are small (a few connections).
        self._inverse: list[list[float]] | None = None
        self._inverse_age = 0  # solves since the Jacobian was evaluated
        self._history: list[tuple[float, list[float]]] = []  # the last two (t, solution)

    def _set(self, u: Sequence[float]) -> None:
        for write, ks in self._plan:
            write([u[k] for k in ks])

    def _g(self, u: Sequence[float]) -> list[float]:
        """G(y(u)): set u, read the outputs, apply the connections."""
        self._set(u)
        y = [0.0] * len(self.edges)
        last = self.last
        for slave, read, ks, n in self._read_plan:
            values = read()
            for k, value in zip(ks, values[:n], strict=True):
                y[k] = value
            last[slave] = values[n:]
        if self._identity:
            return y
        return [g * yk + o for g, yk, o in zip(self._gain, y, self._offset, strict=True)]

    def _jacobian(self, u: Sequence[float], gu: Sequence[float]) -> np.ndarray:
        """d G(y(u)) / du at u (the slaves hold inputs u when called)."""
        n = len(self.edges)
        jac = np.zeros((n, n))
        self.jacobian_evaluations += 1
        if self.use_directional:
            for j, ej in enumerate(self.edges):
                rows = [i for i, ei in enumerate(self.edges) if ei.source is ej.target]
                if not rows:
                    continue
                d = ej.target.directional_derivative([self.edges[i].source_var for i in rows], [ej.target_var], [1.0])
                for i, value in zip(rows, d, strict=True):
                    jac[i, j] = self._gain[i] * value
            return jac
        for j in range(n):
            du = 1e-7 * max(1.0, abs(u[j]))
            up = list(u)
            up[j] += du
            jac[:, j] = (np.array(self._g(up)) - np.array(gu)) / du
        self._set(u)
        return jac

    def _newton_inverse(self, u: Sequence[float], gu: Sequence[float], t: float) -> list[list[float]]:
        matrix = np.eye(len(u)) - self._jacobian(u, gu)
        try:
            return np.linalg.inv(matrix).tolist()
        except np.linalg.LinAlgError as exc:
            raise SimulationError(
                f"algebraic loop between {self.names} at t = {t:.9g} s: singular Jacobian ({exc}); "
                "the loop has no unique solution"
            ) from exc

    def get_state(self) -> tuple:
        """What the next solve depends on (Jacobian, history): part of a Simulation snapshot, for exact replay."""
        return (self._inverse, self._inverse_age, list(self._history))

    def set_state(self, state: tuple) -> None:
        self._inverse, self._inverse_age, history = state
        self._history = list(history)

    def _guess(self, u0: Sequence[float], t: float) -> list[float]:
        """Initial guess: the line through the last two solutions at t, else u0 (the outputs after the step)."""
        h = self._history
        if len(h) == 2 and h[0][0] < h[1][0] < t:
            (t0, a), (t1, b) = h
            f = (t - t1) / (t1 - t0)
            return [bk + f * (bk - ak) for ak, bk in zip(a, b, strict=True)]
        if h and h[-1][0] >= t:  # rolled back or re-solved at the same time: start again
            self._history = []
        return [float(x) for x in u0]

    def solve(self, u0: Sequence[float], t: float, fixed: dict[int, float] | None = None) -> list[float]:
        """Consistent loop inputs at time t (s), set on the slaves; SimulationError if it does not converge.

        ``fixed`` holds loop inputs (by connection index) that are overridden and must not be solved for.
        """
        u = self._guess(u0, t)
        if fixed:
            for k, value in fixed.items():
                u[k] = value
        self._inverse_age += 1
        residual = math.inf
        previous = math.inf
        for iteration in range(1, self.max_iterations + 1):
            gu = self._g(u)
            if fixed:
                for k, value in fixed.items():
                    gu[k] = value
            r = [a - b for a, b in zip(gu, u, strict=True)]
            # scaled residual: each connection relative to its own magnitude (loops mix Pa, K and kg/s)
            residual = max((abs(ri) / (1.0 + abs(ui)) for ri, ui in zip(r, u, strict=True)), default=0.0)
            if not math.isfinite(residual):
                break
            if residual <= self.tolerance:
                self.iterations_total += iteration
                self._history = [*self._history[-1:], (t, u)]
                return u
            if self.method == "fixed-point":
                u = gu
                continue
            stale = self._inverse is None or self._inverse_age >= _MAX_JACOBIAN_AGE
            if stale or residual > _CHORD_RATE * previous:  # old or slow: a fresh Jacobian at this point
                self._inverse = self._newton_inverse(u, gu, t)
                self._inverse_age = 0
            previous = residual
            inverse = self._inverse
            assert inverse is not None
            # u <- u + (I - dG/du)^-1 r
            u = [uk + sum(a * b for a, b in zip(row, r, strict=True)) for uk, row in zip(u, inverse, strict=True)]
            if fixed:
                for k, value in fixed.items():
                    u[k] = value
        self._inverse = None
        hint = ' (try loop_solver = "newton")' if self.method == "fixed-point" else ""
        edges = "; ".join(e.label for e in self.edges)
        raise SimulationError(
            f"algebraic loop between {self.names} did not converge at t = {t:.9g} s after "
            f"{self.max_iterations} {self.method} iterations (scaled residual {residual:.3g}; connections {edges}){hint}"
        )
