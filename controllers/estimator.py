"""Extended Kalman filter on the prediction model: what the MPC knows of the plant and the patient.

The supervisory controller sees only what the device measures (the oximeter's display and its signal quality, the
O2, pressure and flow sensors), noisy and with dropouts. The filter's state is the prediction model's state plus the
model inputs named as disturbances (random walks; for O2Twin.Control.SupervisoryModel the purity offset and the
patient's gas exchange), so that the MPC predicts from where the plant is and what the patient needs now, without
a steady offset. Model, Jacobians and outputs are one CasADi function of the Modelica-derived model
(controllers/prediction_model.py); the covariance algebra is numpy (10 x 10).

A measurement that is missing (NaN) or flagged (``valid`` False) is left out of that update: the filter then runs
on its prediction alone and its covariance grows, which is what a dropout means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import casadi as ca
import numpy as np

from controllers.prediction_model import PredictionModel


@dataclass(frozen=True)
class EstimatorDesign:
    """What the filter estimates and how much it trusts the model and each sensor (standard deviations)."""

    disturbances: tuple[str, ...]  #: model inputs estimated as random walks
    disturbance_bounds: tuple[tuple[float, float], ...]  #: (low, high) of each, the estimate is kept inside
    disturbance_sd_per_s: tuple[float, ...]  #: random-walk intensity of each, per sqrt(s)
    measured: tuple[str, ...]  #: model outputs the sensors read, in the order of ``update``'s values
    measurement_sd: tuple[float, ...]  #: sensor noise of each (SI units of the output)
    state_sd_per_s: float = 1e-3  #: model error of every state, relative to its nominal value, per sqrt(s)
    initial_state_sd: float = 0.05  #: relative to the nominal values
    initial_disturbance_sd: tuple[float, ...] = ()  #: absolute; default: a quarter of each bound's range


class ExtendedKalmanFilter:
    """Discrete EKF at a fixed period: ``predict(u)`` after the command is applied, ``update(y, valid)`` at a sample."""

    def __init__(self, model: PredictionModel, design: EstimatorDesign, period_s: float) -> None:
        self.model, self.design, self.period_s = model, design, period_s
        self.d_index = [model.input(n) for n in design.disturbances]
        self.u_index = [i for i in range(model.nu) if i not in self.d_index]
        self.y_index = [model.output(n) for n in design.measured]
        nx, nd = model.nx, len(self.d_index)
        self.n = nx + nd
        self._terms = self._build(model.rk4_step(period_s, substeps=2), model.output_function())
        scale = np.concatenate([model.nominal("states"), np.ones(nd)])
        q_state = (design.state_sd_per_s * scale[:nx]) ** 2 * period_s
        q_dist = np.asarray(design.disturbance_sd_per_s, dtype=float) ** 2 * period_s
        self.Q = np.diag(np.concatenate([q_state, q_dist]))
        self.R = np.diag(np.asarray(design.measurement_sd, dtype=float) ** 2)
        self.low = np.array([b[0] for b in design.disturbance_bounds])
        self.high = np.array([b[1] for b in design.disturbance_bounds])
        d_sd = design.initial_disturbance_sd or tuple((self.high - self.low) / 4)
        self.P0 = np.diag(np.concatenate([(design.initial_state_sd * scale[:nx]) ** 2, np.asarray(d_sd) ** 2]))
        self.z = np.zeros(self.n)
        self.P = self.P0.copy()

    def _build(self, step: ca.Function, outputs: ca.Function) -> ca.Function:
        """terms(z, u_known) -> (z_next, A, y_measured, C): the model, its Jacobians, at one point."""
        m = self.model
        z, uk = ca.SX.sym("z", self.n), ca.SX.sym("u", len(self.u_index))
        x = z[: m.nx]
        u = [ca.SX(0)] * m.nu
        for k, i in enumerate(self.u_index):
            u[i] = uk[k]
        for k, i in enumerate(self.d_index):
            u[i] = z[m.nx + k]
        u_full = ca.vertcat(*u)
        z_next = ca.vertcat(step(x, u_full), z[m.nx :])
        y = outputs(x, u_full)[self.y_index]
        return ca.Function(
            "ekf_terms",
            [z, uk],
            [z_next, ca.jacobian(z_next, z), y, ca.jacobian(y, z)],
            ["z", "u"],
            ["z_next", "A", "y", "C"],
        )

    # ------------------------------------------------------------------ state
    def reset(self, x0: np.ndarray, d0: Sequence[float] | np.ndarray) -> None:
        """Start from model state x0 and disturbances d0 with the initial uncertainty."""
        self.z = np.concatenate([np.asarray(x0, dtype=float), np.asarray(d0, dtype=float)])
        self.P = self.P0.copy()

    @property
    def x(self) -> np.ndarray:
        """The model state estimate."""
        return self.z[: self.model.nx].copy()

    @property
    def d(self) -> np.ndarray:
        """The disturbance estimates, in the order of the design."""
        return self.z[self.model.nx :].copy()

    def full_inputs(self, u_known: Sequence[float] | np.ndarray) -> np.ndarray:
        """The model's input vector from the known inputs and the estimated disturbances."""
        u = np.zeros(self.model.nu)
        u[self.u_index] = u_known
        u[self.d_index] = self.d
        return u

    # ------------------------------------------------------------------ the filter
    def update(self, u_known: Sequence[float] | np.ndarray, measured: Sequence[float], valid: Sequence[bool]) -> None:
        """Correct the estimate with the measurements that are valid and finite (the others are skipped)."""
        values = np.asarray(measured, dtype=float)
        use = np.array([bool(ok) and np.isfinite(v) for ok, v in zip(valid, values, strict=True)])
        if not use.any():
            return
        _, _, y, c = self._terms(self.z, np.asarray(u_known, dtype=float))
        h, c = np.array(y).ravel()[use], np.array(c)[use]
        r = self.R[np.ix_(use, use)]
        s = c @ self.P @ c.T + r
        gain = np.linalg.solve(s, c @ self.P).T
        self.z = self.z + gain @ (values[use] - h)
        ikc = np.eye(self.n) - gain @ c
        self.P = ikc @ self.P @ ikc.T + gain @ r @ gain.T  # Joseph form: stays symmetric positive definite
        self._clip()

    def predict(self, u_known: Sequence[float] | np.ndarray) -> None:
        """Propagate the estimate over one period with the inputs applied during it."""
        z_next, a, _, _ = self._terms(self.z, np.asarray(u_known, dtype=float))
        a = np.array(a)
        self.z = np.array(z_next).ravel()
        self.P = a @ self.P @ a.T + self.Q
        self._clip()

    def _clip(self) -> None:
        nx = self.model.nx
        self.z[nx:] = np.clip(self.z[nx:], self.low, self.high)
