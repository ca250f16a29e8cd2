"""SupervisoryMPC: model-predictive SpO2 control of the flow request, the feed-pressure setpoint and the PSA cycle time.

At every sample (``sample_time``, 5 s in the shipped controller set) the block

1. estimates the prediction model's state and its two disturbances (purity offset, the patient's gas exchange) with
   an extended Kalman filter (controllers/estimator.py) from what the device measures: the oximeter's displayed
   SpO2 (used only when a number with signal quality >= ``quality_min``), the O2 sensor, the feed-pressure sensor;
   the flow sensor gives the flow the filter predicts with (the delivered flow, e.g. less through a kinked cannula);
2. solves the optimal control problem (controllers/mpc_problem.py: multiple shooting over ``horizon`` intervals of
   ``sample_time``, IPOPT, warm-started from the previous solution) for the flow, pressure and cycle-time commands;
3. applies the first interval's commands (before the oximeter's first usable reading it holds the initial
   2 L/min, 0.8 bar(g) and scale 1: an estimate without a reading is no reason to change the oxygen): ``Q_set`` to
   the watchdog's ``Q_set_req``, ``p_setpoint`` to the pressure PID and ``cycle_time_scale`` to the sequencer, which
   the watchdog still clamps and trims (its ``cycle_time_trim`` is an input: the model sees scale x trim).

The prediction model is the Modelica class ``O2Twin.Control.SupervisoryModel`` (parameter ``model``), exported as
CasADi functions next to the FMUs (orchestrator.export.functions; the scenario builder exports it for this block,
see ``MODELICA_MODELS``); ``model_parameters`` changes its Modelica parameters by name (``"name=value;..."``).

If the solver fails (IPOPT reports no success, an exception, or the solve exceeds ``time_limit_s``) the block holds
the last command it applied (the last safe command: one that passed through the solver's constraints) and emits an
event naming the solver status; ``solver_failures`` counts them. Weights and limits: docs/controllers.md, "MPC".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

import numpy as np

from controllers.estimator import EstimatorDesign, ExtendedKalmanFilter
from controllers.mpc_problem import Limits, ShootingProblem, Weights
from controllers.prediction_model import PredictionModel
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import slpm_to_m3s

log = logging.getLogger(__name__)

BAR_PA = 1e5
DEFAULT_MODEL = "O2Twin.Control.SupervisoryModel"
DISTURBANCES = ("y_O2_offset", "gas_exchange")
MEASURED = ("spo2_display", "sensor_O2", "p_feed")
#: The prediction model's parameter that ``p_ambient`` sets (unless ``model_parameters`` names it).
AMBIENT_PARAMETER = "ambient_pressure"


def _p(name: str, start: float | int | str, unit: str | None, text: str) -> Variable:
    return Variable(name, "parameter", type="String" if isinstance(start, str) else "Real", unit=unit, start=start,
                    description=text)  # fmt: skip


class SupervisoryMPC(PythonBlock):
    """Estimator + multiple-shooting MPC on the Modelica-derived prediction model (see the module docstring)."""

    #: Modelica classes this block predicts with: the scenario builder exports their CasADi functions before setup.
    MODELICA_MODELS = (DEFAULT_MODEL,)

    INPUTS = (
        Variable("spo2", "input", unit="1", start=math.nan, description="oximeter's displayed SpO2 (NaN: none)"),
        Variable("signal_quality", "input", unit="1", start=1.0, description="oximeter signal quality, 0..1"),
        Variable("sensor_O2", "input", unit="1", start=math.nan, description="O2 sensor reading of the product"),
        Variable("p_feed", "input", unit="Pa", start=math.nan, description="feed-pressure sensor (absolute)"),
        Variable("sensor_Q", "input", unit="m3/s", start=math.nan, description="product flow sensor (standard)"),
        Variable("cycle_time_trim", "input", unit="1", start=1.0, description="watchdog's cycle-time trim"),
    )
    OUTPUTS = (
        Variable("Q_set", "output", unit="m3/s", start=slpm_to_m3s(2.0), description="flow request (standard)"),
        Variable("p_setpoint", "output", unit="Pa", start=101325.0 + 0.8e5, description="feed-pressure setpoint"),
        Variable("cycle_time_scale", "output", unit="1", start=1.0, description="PSA cycle-time scale (sequencer)"),
        Variable("spo2_estimate", "output", unit="1", start=math.nan, description="estimated displayed SpO2"),
        Variable("spo2_predicted_end", "output", unit="1", start=math.nan, description="SpO2 at the horizon's end"),
        Variable("gas_exchange_estimate", "output", unit="1", start=math.nan, description="estimated disturbance"),
        Variable("purity_offset_estimate", "output", unit="1", start=math.nan, description="estimated disturbance"),
        Variable("solve_time_s", "output", unit="s", start=0.0, description="wall time of the last solve"),
        Variable("solver_ok", "output", unit="1", start=1.0, description="1: last solve succeeded, 0: held"),
        Variable("solver_failures", "output", unit="1", start=0.0, description="failed solves so far"),
    )
    PARAMETERS = (
        _p("model", DEFAULT_MODEL, None, "Modelica class of the prediction model"),
        _p("model_parameters", "", None, "Modelica parameters changed by name: 'name=value;name=value'"),
        _p("horizon", 12, "1", "prediction intervals (of sample_time each)"),
        _p("spo2_target_low", 0.88, "1", "low edge of the SpO2 target band"),
        _p("spo2_target_high", 0.92, "1", "high edge of the SpO2 target band"),
        _p("band_margin", 0.01, "1", "the MPC aims inside the band by this much"),
        _p("q_min_slpm", 0.5, "L/min", "lowest flow request"),
        _p("q_max_slpm", 5.0, "L/min", "highest flow request (unit rating)"),
        _p("q_initial_slpm", 2.0, "L/min", "flow request before the first solve"),
        _p("q_rate_slpm_per_s", 0.1, "L/min/s", "flow request rate limit"),
        _p("p_min_barg", 0.5, "bar", "lowest feed-pressure setpoint, bar(g)"),
        _p("p_max_barg", 1.3, "bar", "highest feed-pressure setpoint, bar(g)"),
        _p("p_initial_barg", 0.8, "bar", "feed-pressure setpoint before the first solve, bar(g)"),
        _p("p_rate_bar_per_s", 0.05, "bar/s", "feed-pressure setpoint rate limit"),
        _p("scale_min", 0.7, "1", "lowest cycle-time scale (x the watchdog's trim >= 0.8: within the sequencer's 0.5)"),
        _p("scale_max", 1.3, "1", "highest cycle-time scale (the range the control model was fitted on)"),
        _p("scale_initial", 1.0, "1", "cycle-time scale before the first solve"),
        _p("scale_rate_per_s", 0.01, "1/s", "cycle-time scale rate limit"),
        _p("purity_min", 0.90, "1", "soft floor of the delivered purity"),
        _p("p_ambient", 101325.0, "Pa", "gauge reference and the model's ambient pressure (the site: altitude)"),
        _p("w_band", Weights.band, "1", "weight: SpO2 outside the inner band, per (1 %)^2 and interval"),
        _p("w_center", Weights.center, "1", "weight: SpO2 off the band's middle, per (1 %)^2"),
        _p("w_purity", Weights.purity, "1", "weight: purity below purity_min, per (1 %)^2"),
        _p("w_o2", Weights.o2, "1", "weight: O2 delivered, per standard litre"),
        _p("w_energy", Weights.energy, "1", "weight: compressor energy, per Wh"),
        _p("w_move", Weights.move, "1", "weight: command changes, per (1 L/min)^2 and (0.1 bar)^2"),
        _p("quality_min", 0.5, "1", "oximeter readings of lower signal quality are not used"),
        _p("spo2_sd", 0.015, "1", "estimator: oximeter display noise (sd)"),
        _p("purity_sd", 0.005, "1", "estimator: O2 sensor noise and model error (sd)"),
        _p("p_feed_sd", 0.15e5, "Pa", "estimator: feed-pressure ripple over the PSA cycle (sd)"),
        _p("gas_exchange_sd_per_s", 0.01, "1", "estimator: random-walk intensity of the gas exchange, per sqrt(s)"),
        _p("purity_offset_sd_per_s", 0.004, "1", "estimator: random-walk intensity of the purity offset"),
        _p("max_iterations", 100, "1", "IPOPT iterations per solve (0 forces a failure: tests)"),
        _p("time_limit_s", 2.5, "s", "wall-time limit per solve (half the 5 s period); beyond it the command is held"),
    )

    # ------------------------------------------------------------------ set-up
    def validate_parameters(self) -> None:
        p = self.p
        for name in ("model", "model_parameters"):
            if not isinstance(p[name], str):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a text, got {p[name]!r}")
        for v in self.PARAMETERS:
            if v.type == "Real":
                value = p[v.name]
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise SystemDefinitionError(f"{self.name}: parameter '{v.name}' must be a number, got {value!r}")
                if value < 0:
                    raise SystemDefinitionError(f"{self.name}: parameter '{v.name}' must be >= 0, got {value!r}")
        if not (0.5 <= p["spo2_target_low"] < p["spo2_target_high"] <= 1.0):
            raise SystemDefinitionError(f"{self.name}: need 0.5 <= spo2_target_low < spo2_target_high <= 1")
        if not (p["q_min_slpm"] < p["q_max_slpm"] and p["p_min_barg"] < p["p_max_barg"]):
            raise SystemDefinitionError(f"{self.name}: need q_min_slpm < q_max_slpm and p_min_barg < p_max_barg")
        if not (0.5 <= p["scale_min"] <= p["scale_initial"] <= p["scale_max"] <= 2.0):
            raise SystemDefinitionError(
                f"{self.name}: need 0.5 <= scale_min <= scale_initial <= scale_max <= 2 (the sequencer's range)"
            )
        if not (1 <= int(p["horizon"]) <= 100) or int(p["horizon"]) != p["horizon"]:
            raise SystemDefinitionError(f"{self.name}: horizon must be a whole number of intervals in 1..100")
        self._model_overrides = self._parse_model_parameters(p["model_parameters"])

    def _parse_model_parameters(self, text: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for item in filter(None, (s.strip() for s in text.split(";"))):
            name, sep, value = item.partition("=")
            try:
                values[name.strip()] = float(value)
            except ValueError:
                sep = ""
            if not sep or not name.strip():
                raise SystemDefinitionError(
                    f"{self.name}: model_parameters item {item!r}: write 'name=value' (names of {self.p['model']})"
                )
        return values

    def reset(self) -> None:
        p = self.p
        model = PredictionModel.load(str(p["model"]))
        model = model.with_parameters({**self._site(model), **self._model_overrides})
        self.model = model
        self._outputs = model.output_function()
        limits = Limits(
            q_min_slpm=float(p["q_min_slpm"]),
            q_max_slpm=float(p["q_max_slpm"]),
            p_min_barg=float(p["p_min_barg"]),
            p_max_barg=float(p["p_max_barg"]),
            q_rate_slpm_per_s=float(p["q_rate_slpm_per_s"]),
            p_rate_bar_per_s=float(p["p_rate_bar_per_s"]),
            scale_min=float(p["scale_min"]),
            scale_max=float(p["scale_max"]),
            scale_rate_per_s=float(p["scale_rate_per_s"]),
            purity_min=float(p["purity_min"]),
            band_margin=float(p["band_margin"]),
        )
        weights = Weights(*(float(p[f"w_{k}"]) for k in ("band", "center", "purity", "o2", "energy", "move")))
        self.problem = ShootingProblem(
            model,
            horizon=int(p["horizon"]),
            interval_s=self.sample_time,
            disturbances=DISTURBANCES,
            weights=weights,
            limits=limits,
            ambient_pressure_pa=float(p["p_ambient"]),
            max_iterations=int(p["max_iterations"]),
            time_limit_s=float(p["time_limit_s"]),
        )
        self.ekf = ExtendedKalmanFilter(model, self._design(), self.sample_time)
        self.u_applied = np.array([float(p["p_initial_barg"]), float(p["q_initial_slpm"]), float(p["scale_initial"])])
        self._trim = 1.0
        x0 = model.steady_state(self._model_inputs(self.u_applied, np.array([0.0, 0.3375])))
        self.ekf.reset(x0, [0.0, 0.3375])
        self._started = False
        self._initialised = False
        self._failures = 0
        self._out = {v.name: float(v.start) for v in self.OUTPUTS}  # type: ignore[arg-type]
        self._out.update(
            Q_set=slpm_to_m3s(self.u_applied[1]),
            p_setpoint=self._p_abs(self.u_applied[0]),
            cycle_time_scale=float(self.u_applied[2]),
        )

    def _site(self, model: PredictionModel) -> dict[str, float]:
        """The prediction model's ambient pressure is the gauge reference ``p_ambient`` (unit and patient are in the
        same place: a scenario at altitude sets one value, a controller set copies it from the watchdog's)."""
        names = {v["name"] for v in model.parameters}
        return {AMBIENT_PARAMETER: float(self.p["p_ambient"])} if AMBIENT_PARAMETER in names else {}

    def _design(self) -> EstimatorDesign:
        p = self.p
        return EstimatorDesign(
            disturbances=DISTURBANCES,
            disturbance_bounds=((-0.75, 0.1), (0.0, 1.0)),
            disturbance_sd_per_s=(float(p["purity_offset_sd_per_s"]), float(p["gas_exchange_sd_per_s"])),
            measured=MEASURED,
            measurement_sd=(float(p["spo2_sd"]), float(p["purity_sd"]), float(p["p_feed_sd"])),
            initial_disturbance_sd=(0.3, 0.3),
        )

    def _p_abs(self, barg: float) -> float:
        return float(self.p["p_ambient"]) + barg * BAR_PA

    def _model_inputs(self, u_commands: np.ndarray, d: np.ndarray) -> np.ndarray:
        """The model's input vector from (p_set bar(g), Q_set L/min, scale) and the disturbances."""
        known = self._known_values(float(u_commands[0]), slpm_to_m3s(u_commands[1]), float(u_commands[2]))
        u = np.array([float(v.get("start", 0.0)) for v in self.model.inputs])
        for name, value in known.items():
            if any(v["name"] == name for v in self.model.inputs):
                u[self.model.input(name)] = value
        for k, name in enumerate(DISTURBANCES):
            u[self.model.input(name)] = d[k]
        return u

    def _known_values(self, p_barg: float, q_m3s: float, scale: float) -> dict[str, float]:
        """The model's known inputs by name (SI): the sequencer runs at the commanded scale times the trim."""
        return {"p_set": self._p_abs(p_barg), "Q_set": q_m3s, "cycle_scale": scale * self._trim}

    def _known_inputs(self, p_barg: float, q_m3s: float, scale: float) -> np.ndarray:
        """The EKF's known inputs (p_set, Q_set, cycle_scale in the model's order, SI)."""
        values = self._known_values(p_barg, q_m3s, scale)
        return np.array([values[self.model.inputs[i]["name"]] for i in self.ekf.u_index])

    # ------------------------------------------------------------------ one sample
    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        q_measured = float(inputs.get("sensor_Q", math.nan))
        q_model = q_measured if math.isfinite(q_measured) and q_measured >= 0 else slpm_to_m3s(self.u_applied[1])
        known = self._known_inputs(self.u_applied[0], q_model, self.u_applied[2])
        if self._started:
            self.ekf.predict(known)  # over the interval just ended, with what was applied and delivered
        self._started = True
        trim = float(inputs.get("cycle_time_trim", 1.0))
        self._trim = trim if math.isfinite(trim) and trim > 0 else 1.0
        known = self._known_inputs(self.u_applied[0], q_model, self.u_applied[2])
        spo2 = float(inputs.get("spo2", math.nan))
        quality = float(inputs.get("signal_quality", 0.0))
        measured = [spo2, float(inputs.get("sensor_O2", math.nan)), float(inputs.get("p_feed", math.nan))]
        valid = [math.isfinite(spo2) and quality >= float(self.p["quality_min"]), True, True]
        if not self._initialised and valid[0] and math.isfinite(measured[1]):
            self._initialise(spo2, measured[1], q_model)
        self.ekf.update(known, measured, valid)
        if self._initialised:
            self._solve(t)
        return self._out  # before the first usable SpO2 reading: the initial command, held

    def _initialise(self, spo2: float, purity: float, q_m3s: float) -> None:
        """Start the filter at the steady state that explains the first usable readings.

        The purity offset is the O2 reading minus the map's purity; the gas exchange is found by bisection so that
        the steady displayed SpO2 equals the reading. A filter started elsewhere would explain a low reading by the
        fast display state first and learn the patient's need only over minutes.
        """
        m, p_barg = self.model, float(self.u_applied[0])
        scale = float(self.u_applied[2])
        u = self._model_inputs(np.array([p_barg, q_m3s * 60000.0, scale]), np.array([0.0, 0.5]))
        y = np.array(self._outputs(m.steady_state(u), u)).ravel()
        offset = float(np.clip(purity - y[m.output("y_O2_product")], self.ekf.low[0], self.ekf.high[0]))
        low, high = 0.0, 1.0  # displayed SpO2 falls as the gas exchange worsens
        for _ in range(20):
            gas = 0.5 * (low + high)
            u = self._model_inputs(np.array([p_barg, q_m3s * 60000.0, scale]), np.array([offset, gas]))
            x = m.steady_state(u)
            if float(np.array(self._outputs(x, u)).ravel()[m.output("spo2_display")]) > spo2:
                low = gas
            else:
                high = gas
        self.ekf.reset(x, [offset, gas])
        self.problem.forget()
        self._initialised = True

    def _solve(self, t: float) -> None:
        band = (float(self.p["spo2_target_low"]), float(self.p["spo2_target_high"]))
        started = time.perf_counter()
        try:
            solution = self.problem.solve(self.ekf.x, self.ekf.d, self.u_applied, band, trim=self._trim)
            ok, status = solution.success, solution.status
        except (RuntimeError, ValueError, np.linalg.LinAlgError) as err:
            solution, ok, status = None, False, f"{type(err).__name__}: {err}"
        elapsed = time.perf_counter() - started
        if ok and elapsed > float(self.p["time_limit_s"]):
            ok, status = False, f"solve took {elapsed:.3f} s > time_limit_s"
        if ok and solution is not None:
            self.u_applied = np.array([solution.p_set_barg, solution.q_set_slpm, solution.cycle_scale])
            self._out["spo2_predicted_end"] = float(solution.spo2[-1])
        else:
            self._failures += 1
            self.problem.forget()
            self.emit_event(
                t,
                f"MPC solve failed ({status}): holding Q_set {self.u_applied[1]:.2f} L/min, "
                f"p_setpoint {self.u_applied[0]:.2f} bar(g), cycle_time_scale {self.u_applied[2]:.2f}",
                status=status,
                held_q_slpm=float(self.u_applied[1]),
                held_p_barg=float(self.u_applied[0]),
                held_cycle_time_scale=float(self.u_applied[2]),
            )
        known = self._known_inputs(float(self.u_applied[0]), slpm_to_m3s(self.u_applied[1]), self.u_applied[2])
        y = np.array(self._outputs(self.ekf.x, self.ekf.full_inputs(known))).ravel()
        self._out.update(
            Q_set=slpm_to_m3s(self.u_applied[1]),
            p_setpoint=self._p_abs(self.u_applied[0]),
            cycle_time_scale=float(self.u_applied[2]),
            spo2_estimate=float(y[self.model.output("spo2_display")]),
            purity_offset_estimate=float(self.ekf.d[0]),
            gas_exchange_estimate=float(self.ekf.d[1]),
            solve_time_s=elapsed,
            solver_ok=1.0 if ok else 0.0,
            solver_failures=float(self._failures),
        )
