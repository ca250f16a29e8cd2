"""The patient's day in O2Twin.Patient.Adult: activity, sleep, acute events, the initial state, on the exported FMU.

Checks against physiology with closed-form expectations: O2 uptake follows a change of activity with first-order
on-kinetics (tau_VO2 45 s); awake, alveolar ventilation follows CO2 production, so PaCO2 holds below the
ventilatory capacity and rises when the capacity limits (PaCO2 = 0.863 VCO2/V_A); the sleep drive scales the
alveolar ventilation (PaCO2 / drive); cardiac output rises 5.5 x the rise of O2 uptake (Astrand); an acute V/Q
impairment and exertion desaturate a COPD patient on a fixed flow; the patient starts in equilibrium with the
flow it breathed before the session.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.units import slpm_to_m3s
from orchestrator.validation.fmu_sim import FMUSimulator, load_fmu

NAME = "O2Twin.CoSim.Patient"
OUTPUTS = ["SpO2", "PaCO2", "VO2", "respiratory_rate"]
MMHG = 133.322387415
REST = {"metabolic_rate": 1.0, "ventilation_drive": 1.0, "vq_impairment": 0.0}


@pytest.fixture(scope="module")
def patient_fmu():
    from orchestrator.export.api import export_model

    return export_model(NAME)


def simulate(fmu, params: dict, inputs: dict, seconds: float, before: dict | None = None, dt: float = 1.0):
    """Outputs every dt seconds (first row: t = 0 with the `before` inputs, if any, then `inputs`)."""

    def merged(values: dict) -> dict:
        return {"y_O2_supply": 0.93, "Q_O2": 0.0, **REST, **values}

    start = merged(before if before is not None else inputs)  # inputs at initialisation: the initial equilibrium
    sim = FMUSimulator(load_fmu(fmu, OUTPUTS, {**params, **start}))
    rows = [sim.outputs(None)]
    u = np.array([merged(inputs)[n] for n in sim.model.input_names])
    for _ in range(round(seconds / dt)):
        sim.step(dt, u)
        rows.append(sim.outputs(u))
    return {name: np.array([r[i] for r in rows]) for i, name in enumerate(OUTPUTS)}


COPD = {"copd": 1.0}
ON_2L = {"Q_O2": slpm_to_m3s(2.0)}


def test_o2_uptake_follows_activity_with_its_kinetics(patient_fmu):
    r = simulate(patient_fmu, COPD, {**ON_2L, "metabolic_rate": 2.5}, 300.0, before=ON_2L)
    vo2 = r["VO2"]
    rest, target = vo2[0], 2.5 * vo2[0]
    assert rest == pytest.approx(300e-6 / 60, rel=1e-6)  # the COPD preset's resting VO2
    assert vo2[45] == pytest.approx(rest + (target - rest) * (1 - math.exp(-1)), rel=0.01)  # tau_VO2 = 45 s
    assert vo2[-1] == pytest.approx(target, rel=0.002)


def test_paco2_holds_awake_and_rises_when_ventilation_is_limited(patient_fmu):
    healthy = simulate(patient_fmu, {"copd": 0.0}, {"metabolic_rate": 3.0}, 600.0, before={})
    assert healthy["PaCO2"][-1] == pytest.approx(healthy["PaCO2"][0], rel=0.01)  # isocapnic below the capacity
    assert healthy["respiratory_rate"][-1] > 1.3 * healthy["respiratory_rate"][0]
    limited = {**COPD, "ventilatory_capacity_copd": 15e-3 / 60}  # 15 L/min: a very severe patient
    copd = simulate(patient_fmu, limited, {**ON_2L, "metabolic_rate": 3.0}, 600.0, before=ON_2L)
    # COPD preset: 20 /min, V_T 0.45 L, V_D 0.25 L: V_A 4 L/min at rest, 12 L/min asked for at 3x the CO2, at
    # V_T = 0.45 (3^0.4) L that is V_E = V_A V_T/(V_T - V_D) > 15 L/min: PaCO2 rises by demand/capacity
    v_t = 0.45 * 3.0**0.4
    v_e_demand = 12.0 * v_t / (v_t - 0.25)
    assert copd["PaCO2"][-1] / copd["PaCO2"][0] == pytest.approx(v_e_demand / 15.0, rel=0.02)
    assert copd["SpO2"][-1] < copd["SpO2"][0] - 0.05


def test_sleep_hypoventilation_raises_paco2_by_the_drive(patient_fmu):
    r = simulate(patient_fmu, COPD, {**ON_2L, "ventilation_drive": 0.85}, 900.0, before=ON_2L)
    assert r["PaCO2"][-1] == pytest.approx(r["PaCO2"][0] / 0.85, rel=0.01)  # PaCO2 = 0.863 VCO2 / V_A
    assert r["SpO2"][-1] < r["SpO2"][0] - 0.005


def test_exertion_and_acute_impairment_desaturate_copd_on_a_fixed_flow(patient_fmu):
    rest = simulate(patient_fmu, COPD, ON_2L, 600.0)["SpO2"][-1]
    walking = simulate(patient_fmu, COPD, {**ON_2L, "metabolic_rate": 2.0}, 600.0, before=ON_2L)["SpO2"][-1]
    impaired = simulate(patient_fmu, COPD, {**ON_2L, "vq_impairment": 1.0}, 600.0, before=ON_2L)["SpO2"][-1]
    print(f"COPD on 2 L/min: rest {rest:.3f}, walking {walking:.3f}, acute impairment {impaired:.3f}")
    assert walking < rest - 0.02
    assert impaired < rest - 0.05


def test_patient_starts_in_equilibrium_with_the_flow_before_the_session(patient_fmu):
    """On 3 L/min before, the unit delivering nothing yet: SpO2 starts where 3 L/min holds it, then falls."""
    at_altitude = {**COPD, "P_baro": 79500.0}
    before = simulate(patient_fmu, {**at_altitude, "Q_O2_before": slpm_to_m3s(3.0)}, {"Q_O2": 0.0}, 120.0)
    steady_3l = simulate(patient_fmu, at_altitude, {"Q_O2": slpm_to_m3s(3.0)}, 1.0)
    assert before["SpO2"][0] == pytest.approx(steady_3l["SpO2"][0], abs=1e-6)
    assert before["SpO2"][0] > 0.85  # not the 36 % of room air at 2000 m (issue 11)
    assert before["SpO2"][-1] < before["SpO2"][0] - 0.1  # and then room air takes over
