"""The MPC's optimal control problem: multiple shooting on the Modelica-derived prediction model, solved by IPOPT.

Decision variables (scaled to order one): the model state at every node of the horizon (divided by its nominal
value), the three supervisory commands on every interval (feed pressure in bar(g), flow in L/min and the PSA
cycle-time scale, held over the interval) and slacks of the soft constraints. Each interval's end state is one RK4 integration of the model
(``PredictionModel.rk4_step``), tied to the next node by an equality constraint (multiple shooting: the solver may
start from an infeasible guess, and the warm start is the previous solution shifted by one interval).

Objective per interval (weights in ``Weights``, documented in docs/controllers.md, "MPC"):

    w_band   ((s_low^2 + s_high^2) / 1 %^2)        SpO2 outside the inner target band (soft, slack s)
    w_center ((SpO2 - mid) / 1 %)^2                a weak pull to the middle of the band
    w_purity (s_purity / 1 %)^2                    delivered purity below purity_min (soft)
    w_o2     (litres of O2 delivered)              O2 use
    w_energy (Wh of compressor energy)             energy
    w_move   ((dQ / 1 L/min)^2 + (dp / 0.1 bar)^2 + (ds / 1)^2)  smooth commands

Hard constraints: the command ranges and rate limits (from the last applied command too). The SpO2 in the objective
is the oximeter's display as the model predicts it (the estimator absorbs the oximeter's bias). The cycle-time scale
reaches the model multiplied by the watchdog's trim (a parameter of each solve, held over the horizon), as the
sequencer applies it; a model without a ``cycle_scale`` input keeps the scale at 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import casadi as ca
import numpy as np

from controllers.prediction_model import PredictionModel

BAR_PA = 1e5
LPM_M3S = 1.0 / 60000.0
HESSIAN = "exact"


@dataclass(frozen=True)
class Weights:
    """Objective weights, per interval of the horizon (see the module docstring)."""

    band: float = 20.0
    center: float = 0.2
    purity: float = 50.0
    o2: float = 2.0
    energy: float = 1.0
    move: float = 0.5


@dataclass(frozen=True)
class Limits:
    """Command ranges and rate limits, the inner SpO2 band and the purity floor."""

    q_min_slpm: float = 0.5
    q_max_slpm: float = 5.0
    p_min_barg: float = 0.5
    p_max_barg: float = 1.3
    q_rate_slpm_per_s: float = 0.1
    p_rate_bar_per_s: float = 0.05
    scale_min: float = 0.7
    scale_max: float = 1.3
    scale_rate_per_s: float = 0.01
    purity_min: float = 0.90
    band_margin: float = 0.01  #: the inner band is target_low + margin .. target_high - margin


@dataclass
class Solution:
    """One solve: success, the first commands, the predicted SpO2 and purity, IPOPT's status and iterations."""

    success: bool
    status: str
    p_set_barg: float
    q_set_slpm: float
    cycle_scale: float
    spo2: np.ndarray
    purity: np.ndarray
    iterations: int


class ShootingProblem:
    """The NLP of the MPC, built once; ``solve`` warm-starts from the previous solution."""

    def __init__(
        self,
        model: PredictionModel,
        *,
        horizon: int,
        interval_s: float,
        disturbances: Sequence[str],
        weights: Weights,
        limits: Limits,
        ambient_pressure_pa: float,
        max_iterations: int = 100,
        time_limit_s: float = 1.0,
        substeps: int = 2,
    ) -> None:
        self.model, self.n, self.dt = model, horizon, interval_s
        self.weights, self.limits, self.p_amb = weights, limits, ambient_pressure_pa
        self.i_p, self.i_q = model.input("p_set"), model.input("Q_set")
        self.i_s = model.input("cycle_scale") if any(v["name"] == "cycle_scale" for v in model.inputs) else None
        self.d_index = [model.input(name) for name in disturbances]
        self.o_spo2, self.o_purity = model.output("spo2_display"), model.output("y_O2_product")
        self.o_o2, self.o_power = model.output("Q_O2"), model.output("power")
        self.scale = model.nominal("states")
        self.substeps = substeps
        self._build(max_iterations, time_limit_s)
        self._warm: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------------ building
    def _inputs(self, u: ca.SX, d: ca.SX, trim: ca.SX) -> ca.SX:
        """The model's input vector from the commands (bar(g), L/min, scale), the disturbances and the trim."""
        full = [ca.SX(0)] * self.model.nu
        full[self.i_p] = self.p_amb + u[0] * BAR_PA
        full[self.i_q] = u[1] * LPM_M3S
        if self.i_s is not None:
            full[self.i_s] = u[2] * trim
        for k, i in enumerate(self.d_index):
            full[i] = d[k]
        return ca.vertcat(*full)

    def _build(self, max_iterations: int, time_limit_s: float) -> None:
        m, n, lim, w = self.model, self.n, self.limits, self.weights
        nx, nd = m.nx, len(self.d_index)
        step, outputs = m.rk4_step(self.dt, substeps=self.substeps), m.output_function()
        scale = ca.DM(self.scale)
        xs = [ca.SX.sym(f"x{k}", nx) for k in range(n + 1)]
        us = [ca.SX.sym(f"u{k}", 3) for k in range(n)]
        slack = [ca.SX.sym(f"s{k}", 3) for k in range(n)]  # SpO2 low, SpO2 high, purity
        x0, d, u_prev, band = ca.SX.sym("x0", nx), ca.SX.sym("d", nd), ca.SX.sym("u_prev", 3), ca.SX.sym("band", 2)
        trim = ca.SX.sym("trim")
        g, lbg, ubg = [xs[0] - x0], [0.0] * nx, [0.0] * nx
        cost = ca.SX(0)
        rate = ca.DM([lim.p_rate_bar_per_s * self.dt, lim.q_rate_slpm_per_s * self.dt, lim.scale_rate_per_s * self.dt])
        spo2_pred, purity_pred = [], []
        for k in range(n):
            u_full = self._inputs(us[k], d, trim)
            x_next = step(xs[k] * scale, u_full) / scale
            g += [xs[k + 1] - x_next]
            lbg += [0.0] * nx
            ubg += [0.0] * nx
            du = us[k] - (u_prev if k == 0 else us[k - 1])
            g += [du]
            lbg += list(-np.array(rate).ravel())
            ubg += list(np.array(rate).ravel())
            y = outputs(xs[k + 1] * scale, u_full)
            spo2, purity = y[self.o_spo2], y[self.o_purity]
            spo2_pred.append(spo2)
            purity_pred.append(purity)
            s_low, s_high, s_pur = slack[k][0], slack[k][1], slack[k][2]
            g += [spo2 + s_low - band[0], band[1] - spo2 + s_high, purity + s_pur - lim.purity_min]
            lbg += [0.0, 0.0, 0.0]
            ubg += [ca.inf, ca.inf, ca.inf]
            mid = (band[0] + band[1]) / 2
            cost += w.band * (s_low**2 + s_high**2) / 1e-4 + w.center * (spo2 - mid) ** 2 / 1e-4
            cost += w.purity * s_pur**2 / 1e-4
            cost += w.o2 * y[self.o_o2] * self.dt * 1000.0  # standard litres of O2
            cost += w.energy * y[self.o_power] * self.dt / 3600.0  # Wh
            cost += w.move * (du[1] ** 2 + (du[0] / 0.1) ** 2 + du[2] ** 2)
        self._nvar_x = (n + 1) * nx
        variables = ca.vertcat(*xs, *us, *slack)
        params = ca.vertcat(x0, d, u_prev, band, trim)
        nlp = {"x": variables, "p": params, "f": cost, "g": ca.vertcat(*g)}
        options: dict[str, Any] = {
            "ipopt.print_level": 0,
            "ipopt.sb": "yes",
            "print_time": False,
            "ipopt.max_iter": max_iterations,
            "ipopt.max_wall_time": time_limit_s,
            "ipopt.tol": 1e-6,
            "ipopt.acceptable_tol": 1e-4,
            "ipopt.warm_start_init_point": "yes",
            "ipopt.mu_init": 1e-3,
            "ipopt.hessian_approximation": HESSIAN,
            "error_on_fail": False,
        }
        self.solver = ca.nlpsol("mpc", "ipopt", nlp, options)
        self._predicted = ca.Function(
            "predicted", [variables, params], [ca.vertcat(*spo2_pred), ca.vertcat(*purity_pred)]
        )
        lbx = [-ca.inf] * self._nvar_x
        ubx = [ca.inf] * self._nvar_x
        scale_low, scale_high = (lim.scale_min, lim.scale_max) if self.i_s is not None else (1.0, 1.0)
        for _ in range(n):
            lbx += [lim.p_min_barg, lim.q_min_slpm, scale_low]
            ubx += [lim.p_max_barg, lim.q_max_slpm, scale_high]
        lbx += [0.0] * (3 * n)
        ubx += [ca.inf] * (3 * n)
        self.bounds = {"lbx": np.array(lbx), "ubx": np.array(ubx), "lbg": np.array(lbg), "ubg": np.array(ubg)}

    # ------------------------------------------------------------------ solving
    def _initial_guess(self, x0_scaled: np.ndarray, u_prev: np.ndarray) -> dict[str, np.ndarray]:
        if self._warm is not None:
            return self._shifted(self._warm)
        n = self.n
        guess = np.concatenate([np.tile(x0_scaled, n + 1), np.tile(u_prev, n), np.zeros(3 * n)])
        return {"x0": guess}

    def _shifted(self, warm: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The previous solution moved one interval ahead (the last interval repeated)."""
        nx, n = self.model.nx, self.n
        x = warm["x"].copy()
        states = x[: self._nvar_x].reshape(n + 1, nx)
        controls = x[self._nvar_x : self._nvar_x + 3 * n].reshape(n, 3)
        slacks = x[self._nvar_x + 3 * n :].reshape(n, 3)
        shifted = np.concatenate(
            [
                np.vstack([states[1:], states[-1:]]).ravel(),
                np.vstack([controls[1:], controls[-1:]]).ravel(),
                np.vstack([slacks[1:], slacks[-1:]]).ravel(),
            ]
        )
        return {"x0": shifted, "lam_g0": warm["lam_g"], "lam_x0": warm["lam_x"]}

    def solve(
        self,
        x0: np.ndarray,
        disturbances: np.ndarray,
        u_prev_barg_slpm: Sequence[float] | np.ndarray,
        band: Sequence[float],
        trim: float = 1.0,
    ) -> Solution:
        """Optimise from the estimated state; the commands of the first interval are the ones to apply.

        ``u_prev``: the last applied (p_set bar(g), Q_set L/min, cycle-time scale); ``trim``: the watchdog's
        cycle-time trim now (the sequencer applies scale x trim)."""
        lim = self.limits
        x0_scaled = np.asarray(x0, dtype=float) / self.scale
        u_prev = np.clip(
            np.asarray(u_prev_barg_slpm, dtype=float),
            self.bounds["lbx"][self._nvar_x : self._nvar_x + 3],
            self.bounds["ubx"][self._nvar_x : self._nvar_x + 3],
        )
        inner = [band[0] + lim.band_margin, band[1] - lim.band_margin]
        params = np.concatenate([x0_scaled, np.asarray(disturbances, dtype=float), u_prev, inner, [float(trim)]])
        guess = self._initial_guess(x0_scaled, u_prev)
        result = self.solver(p=params, **guess, **self.bounds)
        stats = self.solver.stats()
        success = bool(stats.get("success", False))
        x = np.array(result["x"]).ravel()
        if success:
            self._warm = {
                "x": x,
                "lam_g": np.array(result["lam_g"]).ravel(),
                "lam_x": np.array(result["lam_x"]).ravel(),
            }
        else:
            self._warm = None  # a failed iterate is no start for the next solve
        spo2, purity = self._predicted(x, params)
        u0 = x[self._nvar_x : self._nvar_x + 3]
        return Solution(
            success=success,
            status=str(stats.get("return_status", "unknown")),
            p_set_barg=float(u0[0]),
            q_set_slpm=float(u0[1]),
            cycle_scale=float(u0[2]),
            spo2=np.array(spo2).ravel(),
            purity=np.array(purity).ravel(),
            iterations=int(stats.get("iter_count", 0)),
        )

    def forget(self) -> None:
        """Drop the warm start (after a reset)."""
        self._warm = None
