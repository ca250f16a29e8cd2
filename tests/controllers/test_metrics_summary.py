"""concentrator_summary on known signals: time in range (after warm-up and whole session), thresholds, IAE,
desaturation episodes, delivery, purity, energy, and alarms by name and priority."""

from __future__ import annotations

import numpy as np
import pytest

from controllers.alarms import BIT
from controllers.metrics import concentrator_summary
from orchestrator.scenario.spec import ScenarioSpec, SlaveSpec


def spec_with(low=0.88, high=0.92, grace=100.0) -> ScenarioSpec:
    return ScenarioSpec(
        name="m",
        stop_time=400.0,
        slaves={
            "titrator": SlaveSpec(
                "titrator", block="controllers.fuzzy:FuzzyTitrator",
                parameters={"spo2_target_low": low, "spo2_target_high": high},
            ),
            "watchdog": SlaveSpec("watchdog", block="controllers.watchdog:SafetyWatchdog",
                                  parameters={"purity_grace_s": grace}),
        },
    )  # fmt: skip


def test_summary_values():
    t = np.arange(0.0, 400.0 + 1e-9, 1.0)
    spo2 = np.where(t < 100, 0.80, np.where(t < 250, 0.90, 0.94))  # after warm-up: 150 s in range, 151 s above
    code = np.zeros_like(t)
    code[(t >= 120) & (t < 130)] = BIT["LOW_PURITY"]
    code[(t >= 200) & (t < 210)] = BIT["LOW_PURITY"] | BIT["THERMAL_SHUTDOWN"]
    signals = {
        "time": t,
        "patient.SpO2": spo2,
        "psa.y_O2_product": np.where(t < 320, 0.5, 0.93),
        "psa.Q_product": np.full_like(t, 2.0 / 60_000.0),
        "compressor.power": np.full_like(t, 360.0),
        "compressor.T_head": 300.0 + 0.1 * t,
        "watchdog.alarm_code": code,
    }
    s = concentrator_summary(signals, spec_with())
    assert s["warmup_s"] == 100.0
    assert s["time_in_target_pct"] == pytest.approx(100 * 150 / 301)
    assert s["time_hyperoxia_pct"] == pytest.approx(100 * 151 / 301)
    assert s["time_hypoxaemia_pct"] == 0.0
    assert s["purity_steady_pct"] == pytest.approx(93.0)
    assert s["energy_wh"] == pytest.approx(360.0 * 400.0 / 3600.0)
    product_m3 = 2.0 / 60_000.0 * 400.0
    assert s["specific_energy_kwh_per_m3"] == pytest.approx(40.0 / 1000.0 / product_m3)
    assert s["alarms_raised"] == 3 and s["alarm_highest"] == "high"
    assert s["alarms"] == "LOW_PURITY (medium) x2, THERMAL_SHUTDOWN (high) x1"
    assert (s["alarms_high"], s["alarms_medium"], s["alarms_low"]) == (1, 2, 0)
    assert s["t_head_max_degc"] == pytest.approx(300.0 + 40.0 - 273.15)


def test_summary_without_some_signals_leaves_them_out():
    t = np.linspace(0.0, 10.0, 11)
    s = concentrator_summary({"time": t, "patient.sensor_SpO2": np.full(11, 0.96)}, spec_with(0.94, 0.98))
    assert s["time_in_target_pct"] == 100.0 and s["warmup_s"] == 5.0
    assert "energy_wh" not in s and "alarms_raised" not in s


def test_whole_session_and_after_warm_up_differ_by_the_cold_start():
    t = np.arange(0.0, 400.0 + 1e-9, 1.0)
    spo2 = np.where(t < 100, 0.80, 0.90)
    s = concentrator_summary({"time": t, "patient.SpO2": spo2}, spec_with())
    assert s["time_in_target_pct"] == 100.0 and s["time_below_85_pct"] == 0.0
    assert s["time_in_target_pct_session"] == pytest.approx(100 * 301 / 401)
    assert s["time_below_85_pct_session"] == pytest.approx(100 * 100 / 401)
    # IAE: 8 points below the band from 0 to 99 s plus half of the 99-100 s step (trapezoid) = 13.27 %-min
    assert s["iae_pct_min_session"] == pytest.approx(8.0 * 99.5 / 60.0, rel=1e-6)
    assert s["iae_pct_min"] == 0.0


def test_desaturation_episodes_need_ten_seconds_below_88():
    t = np.arange(0.0, 600.0, 1.0)
    spo2 = np.full_like(t, 0.90)
    spo2[300:305] = 0.86  # 5 s: too short to count
    spo2[400:430] = 0.84  # 30 s
    spo2[500:512] = 0.87  # 12 s
    s = concentrator_summary({"time": t, "patient.SpO2": spo2}, spec_with(grace=100.0))
    assert s["desaturations"] == 2
    assert s["desaturation_longest_s"] == pytest.approx(30.0)
    assert s["desaturation_total_s"] == pytest.approx(42.0)
    assert s["time_below_88_pct"] == pytest.approx(100 * 47 / 500)


def test_o2_delivered_and_energy_per_litre():
    t = np.arange(0.0, 600.0 + 1e-9, 1.0)
    signals = {
        "time": t,
        "psa.Q_product": np.full_like(t, 2.0 / 60_000.0),  # 2 L/min for 10 minutes: 20 L of product
        "psa.y_O2_product": np.full_like(t, 0.9),
        "compressor.power": np.full_like(t, 120.0),  # 20 Wh
    }
    s = concentrator_summary(signals, spec_with())
    assert s["product_delivered_l"] == pytest.approx(20.0)
    assert s["o2_delivered_l"] == pytest.approx(18.0)
    assert s["energy_wh_per_l_o2"] == pytest.approx(20.0 / 18.0)
    assert s["specific_energy_kwh_per_m3"] == pytest.approx(1.0)
    assert s["flow_mean_lpm"] == pytest.approx(2.0)
