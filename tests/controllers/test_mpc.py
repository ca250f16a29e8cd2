"""The MPC (controllers/mpc.py and its parts): its model comes from Modelica, constraints hold, the estimator
converges on noisy data with dropouts, and a failed solve holds the last command and logs an event."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from controllers.estimator import EstimatorDesign, ExtendedKalmanFilter
from controllers.mpc import DISTURBANCES, SupervisoryMPC
from controllers.mpc_problem import Limits, ShootingProblem, Weights
from controllers.prediction_model import PredictionModel
from orchestrator.export.functions import export_functions
from orchestrator.paths import MODELS_DIR

MODEL = "O2Twin.Control.SupervisoryModel"


@pytest.fixture(scope="module")
def model() -> PredictionModel:
    export_functions(MODEL)
    return PredictionModel.load(MODEL)


def _inputs(
    m: PredictionModel, p_barg: float, q_slpm: float, offset: float = 0.0, gas: float = 0.3375, scale: float = 1.0
) -> np.ndarray:
    u = np.zeros(m.nu)
    u[m.input("p_set")] = 101325.0 + p_barg * 1e5
    u[m.input("Q_set")] = q_slpm / 60000.0
    u[m.input("cycle_scale")] = scale
    u[m.input("y_O2_offset")] = offset
    u[m.input("gas_exchange")] = gas
    return u


def _steady_outputs(m: PredictionModel, u: np.ndarray) -> dict[str, float]:
    y = np.array(m.output_function()(m.steady_state(u), u)).ravel()
    return {o["name"]: float(y[i]) for i, o in enumerate(m.outputs)}


def test_a_changed_modelica_parameter_changes_the_prediction(tmp_path: Path, model: PredictionModel) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    source = models / "O2Twin" / "Control" / "LumpedConcentrator.mo"
    text = source.read_text()
    found = re.search(r'(parameter Real y_max_0\(unit="1"\) = )([0-9.]+)', text)
    assert found is not None
    lowered = float(found.group(2)) - 0.05
    source.write_text(text.replace(found.group(0), f"{found.group(1)}{lowered}"))
    changed = PredictionModel.load(MODEL, export_functions(MODEL, models_dir=models, out_dir=tmp_path / "fmus").parent)
    assert changed.source_hash != model.source_hash
    u = _inputs(model, 0.8, 1.0)
    before, after = _steady_outputs(model, u), _steady_outputs(changed, u)
    # 5 points less purity at low flow, all the way through: the delivered purity, then the patient's SpO2
    assert after["y_O2_product"] == pytest.approx(before["y_O2_product"] - 0.05, abs=2e-3)
    assert after["SpO2"] < before["SpO2"] - 0.001
    # the same change through the loaded model's parameters gives the same prediction
    by_name = _steady_outputs(model.with_parameters({"concentrator.y_max_0": lowered}), u)
    assert by_name["SpO2"] == pytest.approx(after["SpO2"], abs=1e-9)


def test_a_changed_cycle_time_parameter_changes_the_prediction(tmp_path: Path, model: PredictionModel) -> None:
    """The cycle-time relation comes from the .mo file too: a lower knee per unit of scale lowers the predicted
    purity of a long cycle at a flow near the knee, and leaves the nominal cycle (scale 1) as it was."""
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    source = models / "O2Twin" / "Control" / "LumpedConcentrator.mo"
    text = source.read_text()
    found = re.search(r'(parameter Real q_knee_per_scale\(unit="1"\) = )([-0-9.]+)', text)
    assert found is not None
    source.write_text(text.replace(found.group(0), f"{found.group(1)}{float(found.group(2)) - 3.0}"))
    changed = PredictionModel.load(MODEL, export_functions(MODEL, models_dir=models, out_dir=tmp_path / "fmus").parent)
    long_cycle, nominal = _inputs(model, 0.8, 3.5, scale=1.3), _inputs(model, 0.8, 3.5)
    assert (
        _steady_outputs(changed, long_cycle)["y_O2_product"] < _steady_outputs(model, long_cycle)["y_O2_product"] - 0.01
    )
    assert _steady_outputs(changed, nominal)["y_O2_product"] == pytest.approx(
        _steady_outputs(model, nominal)["y_O2_product"], abs=1e-9
    )


def test_the_cycle_time_scale_trades_capacity_against_power(model: PredictionModel) -> None:
    """The fitted relation (docs/controllers.md, "MPC"): shorter cycles raise the knee flow (more purity at high
    flow) and cost compressor power; longer ones save power."""
    high_flow = {s: _steady_outputs(model, _inputs(model, 0.8, 4.0, scale=s)) for s in (0.7, 1.0, 1.3)}
    assert high_flow[0.7]["y_O2_product"] > high_flow[1.0]["y_O2_product"] > high_flow[1.3]["y_O2_product"]
    assert high_flow[0.7]["power"] > high_flow[1.0]["power"] + 10.0 > high_flow[1.3]["power"] + 20.0


def test_more_flow_and_better_gas_exchange_raise_the_predicted_spo2(model: PredictionModel) -> None:
    low, high = _steady_outputs(model, _inputs(model, 0.8, 1.0)), _steady_outputs(model, _inputs(model, 0.8, 3.0))
    assert high["SpO2"] > low["SpO2"] + 0.01
    worse = _steady_outputs(model, _inputs(model, 0.8, 1.0, gas=0.8))
    assert worse["SpO2"] < low["SpO2"] - 0.02


def _problem(model: PredictionModel, **kw: object) -> ShootingProblem:
    options = dict(horizon=8, interval_s=5.0, disturbances=DISTURBANCES, weights=Weights(), limits=Limits(),
                   ambient_pressure_pa=101325.0, time_limit_s=30.0)  # fmt: skip
    options.update(kw)
    return ShootingProblem(model, **options)  # type: ignore[arg-type]


def test_commands_stay_within_ranges_and_rate_limits(model: PredictionModel) -> None:
    limits = Limits()
    problem = _problem(model)
    x0 = model.steady_state(_inputs(model, 0.8, 2.0, gas=0.3375))
    # a patient who suddenly oxygenates badly: the MPC wants much more O2 than one interval's rate limit allows
    s = problem.solve(x0, [0.0, 0.9], [0.8, 2.0, 1.0], (0.88, 0.92))
    assert s.success
    assert 2.0 < s.q_set_slpm <= 2.0 + limits.q_rate_slpm_per_s * 5.0 + 1e-6
    assert abs(s.p_set_barg - 0.8) <= limits.p_rate_bar_per_s * 5.0 + 1e-6
    assert abs(s.cycle_scale - 1.0) <= limits.scale_rate_per_s * 5.0 + 1e-6
    # a patient far above the band: less flow, never below the range
    x_high = model.steady_state(_inputs(model, 1.2, 5.0, gas=0.0))
    s = problem.solve(x_high, [0.0, 0.0], [1.2, 0.6, 1.3], (0.88, 0.92))
    assert s.success and limits.q_min_slpm - 1e-6 <= s.q_set_slpm < 0.6
    assert limits.p_min_barg - 1e-6 <= s.p_set_barg <= limits.p_max_barg + 1e-6
    assert limits.scale_min - 1e-6 <= s.cycle_scale <= limits.scale_max + 1e-6


def test_purity_floor_keeps_the_pressure_up(model: PredictionModel) -> None:
    """At high flow the purity falls unless the feed pressure is high: energy alone would lower the pressure, the
    soft purity floor holds it up."""
    x0 = model.steady_state(_inputs(model, 0.9, 4.0))
    args = (x0, [0.0, 0.3375], [0.9, 4.0, 1.0], (0.88, 0.92))
    plain = _problem(model, limits=Limits(purity_min=0.0)).solve(*args)
    floor = _problem(model, limits=Limits(purity_min=0.93)).solve(*args)
    assert floor.success and plain.success
    assert floor.p_set_barg > plain.p_set_barg + 0.02
    assert min(floor.purity) > min(plain.purity)


def _gas_exchange_for(m: PredictionModel, spo2: float, p_barg: float, q_slpm: float) -> float:
    """The gas exchange at which the steady displayed SpO2 is ``spo2`` (bisection: SpO2 falls as it rises)."""
    low, high = 0.0, 1.0
    for _ in range(30):
        gas = 0.5 * (low + high)
        if _steady_outputs(m, _inputs(m, p_barg, q_slpm, gas=gas))["spo2_display"] > spo2:
            low = gas
        else:
            high = gas
    return 0.5 * (low + high)


def test_the_mpc_moves_the_cycle_time_when_it_pays(model: PredictionModel) -> None:
    """Constructed cases: (1) low flow, the patient in the band: a longer cycle saves compressor energy at a purity
    that does not matter here, so the MPC lengthens it, unless energy has no weight; (2) high flow with the feed
    pressure held low: a shorter cycle raises the unit's capacity and keeps the purity floor, so it shortens it."""
    gas = _gas_exchange_for(model, 0.90, 0.8, 1.0)  # the patient in the middle of the band at 1 L/min
    x_low = model.steady_state(_inputs(model, 0.8, 1.0, gas=gas))
    args = (x_low, [0.0, gas], [0.8, 1.0, 1.0], (0.88, 0.92))
    saving = _problem(model).solve(*args)
    indifferent = _problem(model, weights=Weights(energy=0.0)).solve(*args)
    assert saving.success and indifferent.success
    assert saving.cycle_scale > 1.0 + 0.04  # as fast as the rate limit lets it (0.05 per 5 s)
    assert indifferent.cycle_scale < 1.0 + 0.01
    pinned = Limits(p_min_barg=0.7, p_max_barg=0.7)  # the pressure cannot help
    x_high = model.steady_state(_inputs(model, 0.7, 4.5, gas=0.5))
    args = (x_high, [0.0, 0.5], [0.7, 4.5, 1.0], (0.88, 0.92))
    short = _problem(model, limits=pinned, weights=Weights(o2=0.0)).solve(*args)
    assert short.success and short.cycle_scale < 1.0 - 0.04
    assert min(short.purity) > min(_problem(model, limits=pinned).solve(*args).purity) - 1e-6


def test_estimator_converges_on_noisy_data_with_dropouts(model: PredictionModel) -> None:
    """The plant is the prediction model itself with unknown disturbances; the filter sees noisy, gappy sensors."""
    rng = np.random.default_rng(3)
    design = EstimatorDesign(
        disturbances=DISTURBANCES,
        disturbance_bounds=((-0.75, 0.1), (0.0, 1.0)),
        disturbance_sd_per_s=(0.004, 0.01),
        measured=("spo2_display", "sensor_O2", "p_feed"),
        measurement_sd=(0.015, 0.005, 0.15e5),
        initial_disturbance_sd=(0.3, 0.3),
    )
    ekf = ExtendedKalmanFilter(model, design, 5.0)
    true_d = (-0.03, 0.65)
    u = _inputs(model, 0.8, 2.0, *true_d)
    x = model.steady_state(u)
    ekf.reset(model.steady_state(_inputs(model, 0.8, 2.0)), [0.0, 0.3375])
    step, out = model.rk4_step(5.0, substeps=2), model.output_function()
    known = [u[i] for i in ekf.u_index]
    sd = np.array(design.measurement_sd)
    for k in range(120):  # 10 minutes
        x = np.array(step(x, u)).ravel()
        y = np.array(out(x, u)).ravel()[ekf.y_index] + rng.normal(0, sd)
        valid = [rng.random() > 0.3, rng.random() > 0.05, True]  # the oximeter drops a third of its readings
        ekf.predict(known)
        ekf.update(known, y, valid)
        if k == 0:
            first_error = abs(ekf.d[1] - true_d[1])
    assert first_error > 0.2
    assert ekf.d[1] == pytest.approx(true_d[1], abs=0.08)
    assert ekf.d[0] == pytest.approx(true_d[0], abs=0.02)
    spo2_true = float(np.array(out(x, u)).ravel()[model.output("spo2_display")])
    spo2_est = float(np.array(out(ekf.x, ekf.full_inputs(known))).ravel()[model.output("spo2_display")])
    assert spo2_est == pytest.approx(spo2_true, abs=0.01)


def _sample(block: SupervisoryMPC, t: float, spo2: float) -> dict[str, float]:
    block.set_inputs({"spo2": spo2, "signal_quality": 1.0, "sensor_O2": 0.93, "p_feed": 101325 + 0.8e5,
                      "sensor_Q": block.get_outputs(["Q_set"])["Q_set"]})  # fmt: skip
    block.step(t, block.sample_time)
    return block.get_outputs()


def test_a_failed_solve_holds_the_last_command_and_logs_an_event(model: PredictionModel) -> None:
    events: list[tuple[float, str, str, dict]] = []
    block = SupervisoryMPC("mpc", 5.0)
    block.attach_event_sink(lambda t, source, text, extra: events.append((t, source, text, extra)))
    # IPOPT may not iterate: every solve fails genuinely (Maximum_Iterations_Exceeded), nothing is mocked
    block.setup(0.0, {"max_iterations": 0, "q_initial_slpm": 1.5, "p_initial_barg": 0.9})
    for k in (0, 1, 2):
        out = _sample(block, 5.0 * k, 0.80)  # SpO2 far below the band: a working MPC would raise the flow
        assert out["solver_ok"] == 0.0 and out["solver_failures"] == k + 1
        assert out["Q_set"] == pytest.approx(1.5 / 60000.0) and out["p_setpoint"] == pytest.approx(101325 + 0.9e5)
        assert math.isfinite(out["spo2_estimate"])  # the estimator goes on
    assert [e[1] for e in events] == ["mpc"] * 3 and "MPC solve failed (Maximum_Iterations_Exceeded)" in events[0][2]
    assert events[0][3]["held_q_slpm"] == pytest.approx(1.5)


def test_the_mpc_raises_the_flow_for_a_low_spo2_and_lowers_it_for_a_high_one(model: PredictionModel) -> None:
    flows = {}
    for spo2 in (0.84, 0.97):
        block = SupervisoryMPC("mpc", 5.0)
        block.setup(0.0, {"time_limit_s": 30.0})
        for k in range(4):
            out = _sample(block, 5.0 * k, spo2)
            assert out["solver_ok"] == 1.0
        flows[spo2] = out["Q_set"] * 60000.0
    assert flows[0.84] > 2.3 and flows[0.97] < 1.7


def test_the_mpc_set_runs_in_the_loop_behind_the_watchdog(tmp_path: Path) -> None:
    """The shipped controller set: the block comes from the registry, its model is exported by the scenario
    builder, it passes the watchdog's topology check and drives the flow request from the measured signals."""
    from orchestrator import run
    from orchestrator.compare import apply_controller_set, load_controller_set

    spec = apply_controller_set("default", load_controller_set("mpc"))
    result = run(spec, out=tmp_path / "run", stop_time=30.0, plots=False)
    assert result.ok, result.error
    signals = result.signals
    assert (signals["mpc.solver_ok"].iloc[1:] == 1.0).all()
    flow_slpm = signals["watchdog.Q_set"].to_numpy() * 60000.0
    assert flow_slpm[signals.index < 4.0].max() == pytest.approx(2.0, abs=1e-6)  # held: no reading yet
    acting = signals.index > 16.0  # after the first usable reading (about 12 s) and the next sample
    assert np.abs(flow_slpm[acting] - 2.0).max() > 0.05  # then it acts on what it measures
    scale = signals["mpc.cycle_time_scale"].to_numpy()
    assert np.abs(scale[acting] - 1.0).max() >= 0.04 and scale.min() >= 0.7 - 1e-9 and scale.max() <= 1.3 + 1e-9
    assert result.metrics["slaves"]["mpc"]["update_calls"] == 6  # t = 0, 5, ..., 25 s (the run ends at 30 s)
