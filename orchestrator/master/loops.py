"""Algebraic loops between slaves, solved at a communication point.

Unknowns are the loop's connected inputs u (one per connection inside the loop). With y(u) the outputs the
slaves compute for inputs u, the loop is consistent when u = G(y(u)) (G: each connection's gain and offset).
Fixed point iterates u <- G(y(u)); Newton solves r(u) = G(y(u)) - u = 0 with the Jacobian from the slaves'
directional derivatives dy/du where every slave in the loop provides them, finite differences otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from orchestrator.errors import SimulationError
from orchestrator.slaves.base import Slave

log = logging.getLogger("o2twin.master.loops")


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
        self._readers = {s: s.output_reader([self.edges[k].source_var for k in ks]) for s, ks in self._outputs.items()}
        self._gain = np.array([e.gain for e in self.edges])
        self._offset = np.array([e.offset for e in self.edges])

    def _set(self, u: np.ndarray) -> None:
        for s, ks in self._inputs.items():
            self._writers[s]([float(u[k]) for k in ks])

    def _outputs_y(self) -> np.ndarray:
        y = np.empty(len(self.edges))
        for s, ks in self._outputs.items():
            y[ks] = self._readers[s]()
        return y

    def _g(self, u: np.ndarray) -> np.ndarray:
        """G(y(u)): set u, read the outputs, apply the connections."""
        self._set(u)
        return self._gain * self._outputs_y() + self._offset

    def _jacobian(self, u: np.ndarray, gu: np.ndarray) -> np.ndarray:
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
            up = u.copy()
            up[j] += du
            jac[:, j] = (self._g(up) - gu) / du
        self._set(u)
        return jac

    def solve(self, u0: Sequence[float], t: float) -> np.ndarray:
        """Consistent loop inputs at time t (s), set on the slaves; SimulationError if it does not converge."""
        u = np.array(u0, dtype=float)
        residual = np.inf
        for iteration in range(1, self.max_iterations + 1):
            gu = self._g(u)
            r = gu - u
            residual = float(np.max(np.abs(r))) if len(r) else 0.0
            scale = 1.0 + float(np.max(np.abs(u))) if len(u) else 1.0
            if not np.isfinite(residual):
                break
            if residual <= self.tolerance * scale:
                self.iterations_total += iteration
                return u
            if self.method == "fixed-point":
                u = gu
            else:
                jac = self._jacobian(u, gu) - np.eye(len(u))
                try:
                    u = u - np.linalg.solve(jac, r)
                except np.linalg.LinAlgError as exc:
                    raise SimulationError(
                        f"algebraic loop between {self.names} at t = {t:.9g} s: singular Jacobian ({exc}); "
                        "the loop has no unique solution"
                    ) from exc
        hint = ' (try loop_solver = "newton")' if self.method == "fixed-point" else ""
        edges = "; ".join(e.label for e in self.edges)
        raise SimulationError(
            f"algebraic loop between {self.names} did not converge at t = {t:.9g} s after "
            f"{self.max_iterations} {self.method} iterations (residual {residual:.3g}; connections {edges}){hint}"
        )
