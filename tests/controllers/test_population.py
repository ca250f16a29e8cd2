"""The virtual patient population: seeded sampling, documented ranges, FMU parameter names, and the physiology the
samples produce on the exported patient FMU (resting PaCO2 as drawn, room-air SpO2 ordered by severity)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.population import (
    _DISTRIBUTIONS,
    KINDS,
    barometric_pressure_pa,
    resting_paco2_mmhg,
    sample_patient,
)
from orchestrator.paths import MODELS_DIR
from orchestrator.validation.fmu_sim import FMUSimulator, load_fmu

MMHG = 133.322387415


def test_same_seed_same_patient_and_seeds_differ():
    assert sample_patient("copd_moderate", 7) == sample_patient("copd_moderate", 7)
    assert sample_patient("copd_moderate", 7) != sample_patient("copd_moderate", 8)
    assert sample_patient("copd_mild", 7).shunt_fraction != sample_patient("copd_severe", 7).shunt_fraction


@given(st.sampled_from(KINDS), st.integers(min_value=0, max_value=2**31))
def test_every_sample_lies_in_its_class_ranges(kind, seed):
    patient = sample_patient(kind, seed)
    for name, table in _DISTRIBUTIONS.items():
        _, _, low, high = table[kind]
        assert low <= getattr(patient, name) <= high, name
    assert 0.0 <= patient.altitude_m <= 2500.0
    assert 8.0 <= patient.respiratory_rate_per_min <= 35.0


def test_class_means_are_the_documented_ones():
    """200 patients per class: the sample means sit near the table's means (truncation moves them a little)."""
    for kind in KINDS:
        sample = [sample_patient(kind, s) for s in range(200)]
        for name in ("shunt_fraction", "vq_mismatch_mmhg", "paco2_mmhg", "ventilatory_capacity_l_min"):
            mean, sd, _, _ = _DISTRIBUTIONS[name][kind]
            assert np.mean([getattr(p, name) for p in sample]) == pytest.approx(mean, abs=0.3 * sd + 1e-12), name
        altitudes = np.array([p.altitude_m for p in sample])
        assert 0.7 < np.mean(altitudes < 300.0) < 0.9  # 80 % live below 300 m


def test_parameters_name_real_fmu_parameters():
    source = (MODELS_DIR / "O2Twin" / "Patient" / "Adult.mo").read_text()
    declared = set(re.findall(r"parameter Real (\w+)", source))
    for kind in KINDS:
        patient = sample_patient(kind, 0)
        for name in patient.patient_parameters():
            slave, parameter = name.split(".", 1)
            assert slave == "patient" and parameter in declared, name
        assert set(patient.plant_parameters()) == {
            f"{s}.p_ambient" for s in ("compressor", "psa", "watchdog", "schedule")
        }


def test_altitude_pressure_is_the_standard_atmosphere():
    assert barometric_pressure_pa(0.0) == pytest.approx(101325.0)
    assert barometric_pressure_pa(2000.0) == pytest.approx(79495.0, rel=1e-3)


@pytest.mark.parametrize("bad", [("copd", 0), ("healthy", -1), ("healthy", 1.5)])
def test_bad_kind_or_seed_is_refused(bad):
    with pytest.raises(ValueError, match=r"seed|class"):
        sample_patient(*bad)


def _steady(fmu: Path, patient, flow_slpm: float) -> dict[str, float]:
    params = {k.split(".", 1)[1]: v for k, v in patient.patient_parameters().items()}
    start = {"Q_O2": flow_slpm / 60000.0, "y_O2_supply": 0.93, "P_baro": 101325.0}
    sim = FMUSimulator(load_fmu(fmu, ["SpO2", "PaCO2"], {**params, **start}))
    spo2, paco2 = sim.outputs(None)
    return {"SpO2": float(spo2), "PaCO2_mmhg": float(paco2) / MMHG}


def test_samples_on_the_patient_fmu_are_physiological():
    """8 patients per class at sea level: PaCO2 as drawn; room-air SpO2 falls with severity (measured means
    about 97, 95, 92.5 and 84 %); severe COPD needs oxygen (below 90 % on room air on average) and 2 L/min of 93 %
    O2 lifts it to about 91 %."""
    from orchestrator.export.api import export_model

    fmu = export_model("O2Twin.CoSim.Patient")
    means = {}
    for kind in KINDS:
        room, on_2l = [], []
        for seed in range(8):
            patient = sample_patient(kind, seed)
            r = _steady(fmu, patient, 0.0)
            assert r["PaCO2_mmhg"] == pytest.approx(resting_paco2_mmhg(patient), rel=0.01)
            room.append(r["SpO2"])
            on_2l.append(_steady(fmu, patient, 2.0)["SpO2"])
        means[kind] = (float(np.mean(room)), float(np.mean(on_2l)))
    print({k: tuple(round(100 * v, 1) for v in m) for k, m in means.items()})
    room_means = [means[k][0] for k in KINDS]
    assert room_means == sorted(room_means, reverse=True)
    assert means["healthy"][0] > 0.95 and means["copd_severe"][0] < 0.90
    assert 0.88 <= means["copd_severe"][1] <= 0.95
