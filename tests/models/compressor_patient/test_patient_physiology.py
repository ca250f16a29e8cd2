"""Patient physiology against published numbers (physics.md): Severinghaus check points, room-air SpO2, FiO2 per
L/min of O2 on a nasal cannula, altitude, the COPD target range, and the response times. Runs the exported FMU
through the master's FMU slave."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.optimize import brentq

from orchestrator.units import slpm_to_m3s
from tests.support.model_units import unit

log = logging.getLogger(__name__)

NAME = "O2Twin.CoSim.Patient"
MMHG = 133.322387415
SETTLE_S = 1200.0  # > 15 time constants of the slowest (COPD lung wash-in, ~60 s) plus blood and oximeter
HEALTHY = {"copd": 0.0}
COPD = {"copd": 1.0}


#: A smoke run of each kind the tests use decides whether the FMU can serve them.
SMOKE = [
    ({"Q_O2": slpm_to_m3s(q), "y_O2_supply": 0.93}, {"copd": c, "P_baro": p})
    for q in (0.0, 2.0)
    for c, p in ((0.0, 101325.0), (1.0, 101325.0), (0.0, 55e3), (1.0, 79495.0))
]


@pytest.fixture(scope="module")
def patient():
    u = unit(NAME, smoke=SMOKE)
    log.info("patient checks run on the %s path", u.backend)
    return u


def severinghaus(po2_mmhg: float) -> float:
    return 1.0 / (23400.0 / (po2_mmhg**3 + 150.0 * po2_mmhg) + 1.0)


def on_cannula(patient, flow_slpm: float, params: dict, purity: float = 1.0) -> dict[str, float]:
    return patient.steady({"Q_O2": slpm_to_m3s(flow_slpm), "y_O2_supply": purity}, params, settle_s=SETTLE_S)


@pytest.mark.parametrize(
    ("pao2_mmhg", "spo2_percent", "knob"),
    [(40.0, 75.0, "P_baro"), (60.0, 90.6, "P_baro"), (80.0, 95.7, "P_baro"), (100.0, 97.7, "Q_O2")],
)
def test_patient_spo2_at_severinghaus_check_points(patient, pao2_mmhg, spo2_percent, knob):
    """Drive the healthy patient to a given PaO2 (by altitude, or O2 flow above room air) and read its SpO2."""

    def state(x: float) -> dict[str, float]:
        if knob == "P_baro":
            return patient.steady({"Q_O2": 0.0, "y_O2_supply": 1.0}, {**HEALTHY, "P_baro": x}, settle_s=SETTLE_S)
        return on_cannula(patient, x, HEALTHY)

    lo, hi = (50e3, 101325.0) if knob == "P_baro" else (0.0, 2.0)
    x = brentq(lambda v: state(v)["PaO2"] / MMHG - pao2_mmhg, lo, hi, xtol=1e-6 * hi)
    s = state(x)
    log.info("PaO2 %.2f mmHg (%s = %.4g) -> SpO2 %.2f %%", s["PaO2"] / MMHG, knob, x, 100 * s["SpO2"])
    assert s["PaO2"] / MMHG == pytest.approx(pao2_mmhg, abs=0.05)
    assert 100.0 * s["SpO2"] == pytest.approx(spo2_percent, abs=0.1)
    assert s["sensor_SpO2"] == pytest.approx(s["SpO2"], abs=1e-4)


def test_patient_healthy_room_air_at_sea_level(patient):
    s = on_cannula(patient, 0.0, HEALTHY)
    log.info(
        "healthy room air: PAO2 %.1f, PaO2 %.1f, PaCO2 %.1f mmHg, SpO2 %.2f %%",
        s["PAO2"] / MMHG,
        s["PaO2"] / MMHG,
        s["PaCO2"] / MMHG,
        100 * s["SpO2"],
    )
    assert s["FiO2"] == pytest.approx(0.2095, abs=1e-4)
    assert s["PaCO2"] / MMHG == pytest.approx(40.0, abs=2.0)
    # alveolar gas equation: FiO2 (PB - 47) - PaCO2/0.8 ~ 100 mmHg
    assert s["PAO2"] / MMHG == pytest.approx(0.2095 * (760 - 47) - s["PaCO2"] / MMHG / 0.8, abs=0.01)
    assert 95.0 <= s["PAO2"] / MMHG <= 101.0
    assert 96.0 <= 100 * s["SpO2"] <= 98.0
    assert s["SpO2"] == pytest.approx(severinghaus(s["PaO2"] / MMHG), abs=1e-4)


def test_patient_fio2_rises_3_to_4_percent_per_litre(patient):
    flows = [0.0, 1.0, 2.0, 3.0]
    healthy = [on_cannula(patient, q, HEALTHY)["FiO2"] for q in flows]
    slope = np.polyfit(flows, healthy, 1)[0] * 100
    log.info("healthy FiO2 %s, slope %.2f %%/(L/min)", np.round(healthy, 4), slope)
    assert np.all(np.diff(healthy) > 0)
    assert 3.0 <= slope <= 4.0
    # supply purity scales the gain: 93 % O2 gives (0.93 - 0.2095)/(1 - 0.2095) of it
    at_93 = on_cannula(patient, 2.0, HEALTHY, purity=0.93)["FiO2"]
    assert at_93 - 0.2095 == pytest.approx((healthy[2] - 0.2095) * (0.93 - 0.2095) / (1 - 0.2095), rel=1e-6)
    # faster breathing (COPD preset: larger minute ventilation) dilutes the same flow more
    copd = [on_cannula(patient, q, COPD)["FiO2"] for q in flows]
    assert np.polyfit(flows, copd, 1)[0] * 100 < slope
    # at 6 L/min the rule of thumb says 44 %, measurements at rest 26-54 % (Wettstein 2005)
    assert 0.30 <= on_cannula(patient, 6.0, HEALTHY)["FiO2"] <= 0.46


def test_patient_altitude_lowers_spo2(patient):
    spo2 = []
    for p_baro in (101325.0, 89875.0, 79495.0):  # sea level, 1000 m, 2000 m (standard atmosphere)
        spo2.append(on_cannula(patient, 0.0, {**HEALTHY, "P_baro": p_baro})["SpO2"])
    log.info("healthy SpO2 at 0/1000/2000 m: %s", np.round(100 * np.array(spo2), 2))
    assert spo2[0] > spo2[1] > spo2[2]
    assert spo2[0] - spo2[2] > 0.02
    # the same O2 flow lifts FiO2 more at altitude (fewer moles per breath)
    fio2_sea = on_cannula(patient, 2.0, HEALTHY)["FiO2"]
    fio2_2000 = on_cannula(patient, 2.0, {**HEALTHY, "P_baro": 79495.0})["FiO2"]
    assert fio2_2000 > fio2_sea


def test_patient_copd_needs_1_to_3_litres_for_the_88_92_target(patient):
    room = on_cannula(patient, 0.0, COPD)
    log.info("COPD room air: PaCO2 %.1f mmHg, SpO2 %.2f %%", room["PaCO2"] / MMHG, 100 * room["SpO2"])
    assert 50.0 <= room["PaCO2"] / MMHG <= 55.0
    assert room["SpO2"] < 0.88
    spo2 = [on_cannula(patient, q, COPD, purity=0.93)["SpO2"] for q in (1.0, 2.0, 3.0)]
    log.info("COPD SpO2 at 1/2/3 L/min of 93 %% O2: %s", np.round(100 * np.array(spo2), 2))
    assert room["SpO2"] < spo2[0] < spo2[1] < spo2[2]
    assert 0.88 <= spo2[0] <= 0.92
    assert any(0.88 <= s <= 0.92 for s in spo2)
    # hyperoxia (> 96 %) is not reached on a low-flow cannula by this patient
    assert spo2[2] < 0.96


def test_patient_spo2_responds_with_physiological_and_oximeter_lags(patient):
    """Step 0 -> 2 L/min: SpO2 rises over tens of seconds, the oximeter reading lags behind it."""
    r = patient.run(
        600.0,
        {"Q_O2": slpm_to_m3s(2.0), "y_O2_supply": 0.93},
        COPD,
        initial_inputs={"Q_O2": 0.0, "y_O2_supply": 0.93},
        n_out=601,
        outputs=("SpO2", "sensor_SpO2", "PAO2"),
    )
    t, spo2, sensor = r["time"], r["SpO2"], r["sensor_SpO2"]
    assert np.all(np.diff(spo2) > -1e-9) and np.all(np.diff(sensor) > -1e-9)
    rise = spo2[-1] - spo2[0]
    assert rise > 0.04
    t63 = t[np.argmax(spo2 - spo2[0] >= 0.632 * rise)]
    t63_sensor = t[np.argmax(sensor - sensor[0] >= 0.632 * rise)]
    log.info("COPD 0 -> 2 L/min: SpO2 63 %% after %.0f s, oximeter after %.0f s", t63, t63_sensor)
    assert 20.0 <= t63 <= 150.0
    assert t63_sensor > t63 + 5.0
    assert np.all(sensor[1:] <= spo2[1:] * (1 + 1e-6))  # a lag never leads, within the FMU tolerance (1e-6)
    assert sensor[-1] == pytest.approx(spo2[-1], abs=2e-4)


def test_patient_fmu_starts_in_equilibrium():
    """The exported FMU initialises (initial equations der(x) = 0) for both presets, on and off O2, and holds."""
    from orchestrator.errors import O2TwinError, SimulationError
    from orchestrator.export.api import export_model
    from tests.support.model_units import FmuUnit

    try:
        fmu = FmuUnit(NAME, export_model(NAME))
    except O2TwinError as err:
        pytest.skip(f"the built-in exporter cannot build FMUs here: {err}")
    failed = []
    for inputs, params in SMOKE:
        try:
            r = fmu.run(60.0, inputs, params, n_out=7, outputs=("SpO2", "sensor_SpO2", "PAO2"))
        except SimulationError as err:
            failed.append(f"{params} {inputs}: {err}")
            continue
        for name in ("SpO2", "sensor_SpO2", "PAO2"):
            assert np.ptp(r[name]) <= 1e-6 * abs(r[name][0]), f"{name} drifts from its initial equilibrium"
    assert not failed, (
        "FMU initialisation failed (runtime o2_model.c: the damped Newton reports 'stalled' once the residual "
        "is at round-off instead of accepting the converged point): " + "; ".join(failed)
    )
