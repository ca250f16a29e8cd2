"""Compressor physics against published numbers (physics.md): flow-pressure curve shape, power, heating, 85 C trip,
diaphragm deflection and the cycle counter. Runs the exported FMU through the master's FMU slave; the composed test
model runs on the direct Modelica simulator (orchestrator.validation.modelica_sim)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from orchestrator.units import P_ATM_PA, degc_to_k, k_to_degc
from tests.support.model_units import unit

log = logging.getLogger(__name__)

NAME = "O2Twin.CoSim.Compressor"
RHO_STD_AIR = 1.2929  # kg/m3 of dry air at 0 degC, 101325 Pa (standard litres)
TRIP_K = degc_to_k(85.0)


@pytest.fixture(scope="module")
def compressor():
    u = unit(NAME)
    log.info("compressor checks run on the %s path", u.backend)
    return u


def slpm(m_flow_kg_s: float) -> float:
    return m_flow_kg_s / RHO_STD_AIR * 60_000.0


def open_model_ratio(dp_bar: np.ndarray) -> np.ndarray:
    """Published curve Q = (n - 300)/7500 (75 + 65 (1 - dp/7 bar)), normalised to dp = 0 at fixed speed."""
    return (75.0 + 65.0 * (1.0 - dp_bar / 7.0)) / 140.0


def test_compressor_flow_curve_matches_published_shape(compressor):
    """At fixed speed the delivered flow falls almost linearly with discharge pressure, Q(7 bar(g))/Q(0) ~ 0.54."""
    dp_bar = np.arange(0.0, 7.01, 1.0)
    per_speed, full_duty = [], []
    for dp in dp_bar:
        s = compressor.steady({"duty": 1.0, "p_discharge": P_ATM_PA + dp * 1e5}, settle_s=5.0)
        per_speed.append(s["m_flow"] / s["speed"])  # flow at fixed speed: m_flow is proportional to speed
        full_duty.append(slpm(s["m_flow"]))
    ratio = np.array(per_speed) / per_speed[0]
    log.info("fixed-speed Q/Q0 %s; full-duty SLPM %s", np.round(ratio, 3), np.round(full_duty, 1))
    assert np.all(np.diff(ratio) < 0), "flow must fall with discharge pressure"
    assert np.all(np.diff(full_duty) < 0)
    assert ratio[-1] == pytest.approx(0.54, abs=0.03)
    # roughly linear: within 0.04 of the open model's straight line over 0..7 bar(g)
    assert np.max(np.abs(ratio - open_model_ratio(dp_bar))) < 0.04
    # with the motor's speed droop the full-duty curve falls a little faster, but stays close
    assert full_duty[-1] / full_duty[0] == pytest.approx(ratio[-1], abs=0.08)


def test_compressor_operating_point_power_and_flow(compressor):
    """5 L/min class concentrator feed: ~60 SLPM at 2.5 bar abs, electrical power 300-600 W."""
    s = compressor.steady({"duty": 1.0, "p_discharge": 2.5e5}, settle_s=5.0)
    log.info("2.5 bar abs: %.1f SLPM, %.0f W, %.0f rpm", slpm(s["m_flow"]), s["power"], s["speed"] * 30 / np.pi)
    assert 300.0 <= s["power"] <= 600.0
    assert 50.0 <= slpm(s["m_flow"]) <= 70.0
    high = compressor.steady({"duty": 1.0, "p_discharge": 3.5e5}, settle_s=5.0)
    assert s["power"] < high["power"] <= 600.0
    half = compressor.steady({"duty": 0.5, "p_discharge": 2.5e5}, settle_s=5.0)
    assert half["speed"] < 0.6 * s["speed"] and half["power"] < 0.6 * s["power"]
    assert half["m_flow"] < 0.6 * s["m_flow"]


def test_compressor_at_rest_delivers_nothing(compressor):
    """Duty 0 against a pressurised manifold: no rotation, no flow, the head stays at the (set) ambient."""
    r = compressor.run(
        10.0,
        {"duty": 0.0, "p_discharge": 2.5e5},
        {"T_ambient": degc_to_k(35.0)},
        n_out=11,
        outputs=("speed", "m_flow", "T_head", "power"),
    )
    assert np.max(np.abs(r["speed"])) < 0.1
    assert np.max(np.abs(r["m_flow"])) < 1e-6
    assert np.max(np.abs(r["T_head"] - degc_to_k(35.0))) < 0.01
    assert np.all(r["power"] < 20.0)  # drive electronics only


def test_compressor_speed_follows_duty_quickly(compressor):
    """First-order electromechanical response: 95 % of the final speed within a fraction of a second."""
    r = compressor.run(2.0, {"duty": 1.0, "p_discharge": 2.5e5}, n_out=201, outputs=("speed",))
    final = r["speed"][-1]
    t95 = r["time"][np.argmax(r["speed"] >= 0.95 * final)]
    assert 0.01 < t95 < 0.5
    # monotone within the FMU's relative tolerance (1e-6): its solution between steps is interpolated
    assert np.all(np.diff(r["speed"]) >= -1e-6 * final)


def test_compressor_heats_under_load_and_stays_below_trip_at_room_temperature(compressor):
    r = compressor.run(3600.0, {"duty": 1.0, "p_discharge": 2.5e5}, n_out=61, outputs=("T_head", "T_discharge"))
    t_head = r["T_head"]
    assert np.all(np.diff(t_head) > -1e-9), "head temperature rises monotonically under constant load"
    assert t_head[-1] - t_head[0] > 25.0
    for ambient_c in (20.0, 25.0):
        s = compressor.steady(
            {"duty": 1.0, "p_discharge": 2.5e5}, {"T_ambient": degc_to_k(ambient_c)}, settle_s=4 * 3600.0
        )
        log.info("ambient %.0f C: T_head %.1f C", ambient_c, k_to_degc(s["T_head"]))
        assert s["T_head"] < TRIP_K - 10.0
        assert s["T_discharge"] > s["T_head"] > degc_to_k(ambient_c)


def test_compressor_reaches_trip_at_high_ambient_and_pressure(compressor):
    """40 C ambient, full duty, 3.5 bar abs: the 85 C trip is reached (after how long is reported)."""
    params = {"T_ambient": degc_to_k(40.0)}
    r = compressor.run(7200.0, {"duty": 1.0, "p_discharge": 3.5e5}, params, n_out=241, outputs=("T_head",))
    assert r["T_head"][-1] > TRIP_K
    t_trip = r["time"][np.argmax(r["T_head"] > TRIP_K)]
    log.info("85 C trip after %.0f s at 40 C ambient, 3.5 bar abs", t_trip)
    assert 300.0 < t_trip < 3600.0
    normal = compressor.steady({"duty": 1.0, "p_discharge": 2.5e5}, params, settle_s=4 * 3600.0)
    assert normal["T_head"] < r["T_head"][-1]


def test_compressor_wear_reduces_flow_and_heats(compressor):
    new = compressor.steady({"duty": 1.0, "p_discharge": 2.5e5}, settle_s=4 * 3600.0)
    worn = compressor.steady({"duty": 1.0, "p_discharge": 2.5e5}, {"wear_factor": 0.7}, settle_s=4 * 3600.0)
    assert worn["m_flow"] / worn["speed"] == pytest.approx(0.7 * new["m_flow"] / new["speed"], rel=1e-6)
    assert worn["T_head"] > new["T_head"] + 2.0


def test_compressor_diaphragm_deflection_follows_plate_theory(compressor):
    """w/h + k (w/h)^3 = q a^4/(64 D h) (clamped plate, large deflection); odd in q, stiffening with load."""
    a = compressor.parameter("a_diaphragm")
    h = compressor.parameter("h_diaphragm")
    e = compressor.parameter("E_diaphragm")
    nu = compressor.parameter("nu_diaphragm")
    k = compressor.parameter("k_membrane")
    d_plate = e * h**3 / (12 * (1 - nu**2))
    deflections = []
    for p in (P_ATM_PA + 0.05e5, 2.5e5, 4.0e5):
        w = compressor.steady({"duty": 0.0, "p_discharge": p}, settle_s=1.0)["deflection"]
        r_lin = (p - P_ATM_PA) * a**4 / (64 * d_plate * h)
        assert w / h + k * (w / h) ** 3 == pytest.approx(r_lin, rel=1e-6)
        deflections.append(w)
    assert 0 < deflections[0] < deflections[1] < deflections[2] < a
    # small load: the linear (Kirchhoff) plate; higher load: stiffer than linear
    assert deflections[0] == pytest.approx(0.05e5 * a**4 / (64 * d_plate), rel=0.03)
    assert deflections[2] < (4.0e5 - P_ATM_PA) * a**4 / (64 * d_plate)


def test_compressor_counts_one_cycle_per_revolution(compressor):
    r = compressor.run(60.0, {"duty": 1.0, "p_discharge": 2.5e5}, n_out=601, outputs=("speed", "cycles"))
    revolutions = np.trapezoid(r["speed"], r["time"]) / (2 * np.pi)
    assert r["cycles"][-1] == pytest.approx(revolutions, rel=2e-3)
    assert r["cycles"][-1] > 2500  # about 50 rev/s


def test_compressor_component_charges_a_vented_volume():
    """The component inside a composed model (as in the monolithic plant): its flow fills a volume whose pressure
    is a state; the pressure rises monotonically to where delivered and vented flow balance."""
    from tests.support.model_units import TEST_MODELS, ModelicaUnit

    observed = ["p", "compressor.m_flow", "m_vent", "compressor.speed"]
    plant = ModelicaUnit("CompressorChargingVolume", observed, [TEST_MODELS])
    r = plant.run(20.0, {}, n_out=201, outputs=("p", "compressor.m_flow", "m_vent", "compressor.speed"))
    assert np.all(np.diff(r["p"]) > -1e-6)
    assert r["compressor.m_flow"][-1] == pytest.approx(r["m_vent"][-1], rel=1e-4)
    steady = plant.steady({})
    assert steady["p"] == pytest.approx(r["p"][-1], rel=1e-4)
    assert 2.0e5 < steady["p"] < 3.0e5  # 1e-8 kg/(s Pa) vents the compressor's ~1.3 g/s at about 2.3 bar abs
