"""What the standard plots show (orchestrator/results/plots.py): the run's context read from its results directory,
the decorations each kind of plot gets, the alarm timeline by name, the watchdog's intervention, the overview page."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from orchestrator.results.plots import RunContext, _alarm_spans, _plot_one, write_plots
from orchestrator.scenario.spec import PlotSpec

SCENARIO = """
[scenario]
name = "demo"
[slaves.titrator]
block = "controllers.fuzzy:FuzzyTitrator"
[slaves.titrator.parameters]
spo2_target_low = 0.88
spo2_target_high = 0.92
[slaves.watchdog]
block = "controllers.watchdog:SafetyWatchdog"
[slaves.watchdog.parameters]
purity_grace_s = 100.0
t_max_degc = 85.0
[[events]]
time = 200.0
description = "walks"
set = { "patient.metabolic_rate" = 2.0 }
[[events]]
time = 200.0
description = "walks"
set = { "oximeter.motion" = 0.6 }
[[events]]
time = 300.0
description = "sits"
set = { "patient.metabolic_rate" = 1.0 }
"""
ALARMS = [
    {"time": 50.0, "source": "watchdog", "text": "x", "name": "LOW_SPO2", "priority": "medium", "active": True},
    {"time": 80.0, "source": "watchdog", "text": "x", "name": "LOW_SPO2", "priority": "medium", "active": False},
    {"time": 350.0, "source": "watchdog", "text": "x", "name": "THERMAL_SHUTDOWN", "priority": "high", "active": True},
    {"time": 10.0, "source": "master", "text": "set a.b = 1"},
]


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    (tmp_path / "metrics.json").write_text(json.dumps({"scenario": {"name": "demo"}, "started_utc": "2026-01-01"}))
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ALARMS))
    return tmp_path


def signals():
    t = np.arange(0.0, 400.0, 0.5)
    return t, {
        "time": t,
        "patient.SpO2": 0.9 + 0.01 * np.sin(t / 30),
        "psa.p_feed": 101325 + 1e5 * (1 + 0.3 * np.sin(2 * np.pi * t / 7.5)),
        "schedule.p_setpoint": np.full_like(t, 201325.0),
        "psa.y_O2_product": np.full_like(t, 0.93),
        "compressor.T_head": 300 + 0.1 * t,
        "pid.duty": np.full_like(t, 0.8),
        "watchdog.duty": np.where(t > 350, 0.0, 0.8),
        "watchdog.alarm_code": np.zeros_like(t),
    }


UNITS = {"patient.SpO2": "1", "psa.p_feed": "Pa", "schedule.p_setpoint": "Pa", "psa.y_O2_product": "1",
         "compressor.T_head": "K", "pid.duty": "1", "watchdog.duty": "1", "watchdog.alarm_code": "1"}  # fmt: skip


def figure(run_dir, title, names, unit=None):
    t, data = signals()
    ctx = RunContext.from_dir(run_dir)
    return _plot_one(plt, t, data, UNITS, PlotSpec(title, names, unit=unit), names, ctx, {}, 12)


def labels(ax) -> list[str]:
    return [h.get_label() for h in ax.get_legend_handles_labels()[0]]


def test_context_is_read_from_the_results_files(run_dir):
    ctx = RunContext.from_dir(run_dir)
    assert ctx.scenario == "demo" and run_dir.name in ctx.run_id
    assert ctx.events == [(200.0, "walks"), (300.0, "sits")]  # one marker per event, not per action
    assert ctx.block_parameter("SafetyWatchdog", "purity_grace_s", 240.0) == 100.0
    assert ctx.alarms["LOW_SPO2"] == ("medium", [(50.0, 80.0)])
    assert ctx.alarms["THERMAL_SHUTDOWN"] == ("high", [(350.0, float("inf"))])  # still active at the end


def test_alarm_spans_pair_starts_and_ends():
    events = [{"time": float(k), "name": "A", "priority": "low", "active": k % 2 == 0} for k in range(6)]
    assert _alarm_spans(events) == {"A": ("low", [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)])}


def test_spo2_plot_has_band_warm_up_alarm_line_and_events(run_dir):
    fig = figure(run_dir, "SpO2", ["patient.SpO2"], "%")
    ax = fig.axes[0]
    text = labels(ax)
    assert "target 88-92 %" in text and any("warm-up (100 s" in x for x in text)
    assert any("low-SpO2 alarm 85 %" in x for x in text)
    assert any("arterial SpO2" in x and "[%]" in x for x in text)  # description and display unit
    assert [a.get_text() for a in ax.texts] == ["1", "2"]  # numbered event markers
    assert "scenario demo" in ax.get_title() and "run " in ax.get_title()
    assert any("walks (200 s)" in x.get_text() for x in fig.texts)


def test_pressure_plot_has_setpoint_limits_and_a_zoom(run_dir):
    fig = figure(run_dir, "Pressures", ["psa.p_feed"])
    main, zoom = fig.axes
    text = labels(main)
    assert any("setpoint" in x for x in text)
    assert any("3.5 bar(g)" in x for x in text) and any("relief valve opens 2.41" in x for x in text)
    x = zoom.lines[0].get_xdata()
    assert x.min() >= 400.0 - 0.5 - 22.5 and "PSA cycles" in zoom.get_title()


def test_purity_and_temperature_limits(run_dir):
    assert any(
        "low-purity alarm 87 %" in x for x in labels(figure(run_dir, "Purity", ["psa.y_O2_product"], "%").axes[0])
    )
    text = labels(figure(run_dir, "Temperature", ["compressor.T_head"]).axes[0])
    assert any("thermal trip 85" in x for x in text) and any("reset allowed below 70" in x for x in text)


def test_alarms_are_shown_by_name_and_priority(run_dir):
    ax = figure(run_dir, "Alarms", ["watchdog.alarm_code"]).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LOW_SPO2 (medium)", "THERMAL_SHUTDOWN (high)"]


def test_watchdog_intervention_is_shaded_against_the_request(run_dir):
    ax = figure(run_dir, "Duty", ["pid.duty", "watchdog.duty"], "%").axes[0]
    assert "watchdog intervention (request cut)" in labels(ax)
    assert any("requested by the controller" in x for x in labels(ax))


def test_write_plots_adds_one_overview_page(run_dir):
    _, data = signals()
    files = write_plots(run_dir, data, UNITS, [PlotSpec("SpO2", ["patient.SpO2"], unit="%")])
    assert [f.name for f in files] == ["spo2.png", "overview.png"]
    assert all(f.stat().st_size > 10_000 for f in files)
