"""Synthetic truth fitted back: a trace of the closed-loop twin with known parameter values and sensor noise, fitted
from start values 30 % away by `calibrate` (snapshot at the window's start, parallel evaluations).

Brief (default suite): the compressor's volumetric efficiency and the exhaust valve's orifice, within 2 %.
Slow: eight parameters (orchestrator.calibration.synthetic.EIGHT_PARAMETERS) through a cold start and two more
operating points, within 2 % and without an identifiability warning.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from orchestrator.calibration import calibrate
from orchestrator.calibration.synthetic import (
    EIGHT_HEAD,
    EIGHT_OPERATING_POINTS,
    EIGHT_PARAMETERS,
    EIGHT_SIGNALS,
    EIGHT_TRACE_S,
    synthetic_trace,
    truth_overrides,
    write_calibration,
)
from orchestrator.calibration.synthetic import parameter_tables as synthetic_tables
from tests.calibration.conftest import BRIEF_TRUTH, parameter_tables

BRIEF_HEAD = """name = "brief"
window = [28.0, 50.0]
settle_s = 7.5
rounds = 8
max_evaluations = 3
"""


def test_two_parameters_fitted_back_within_2_percent(tmp_path, brief_trace):
    start = {name: value * 0.7 for name, value in BRIEF_TRUTH.items()}
    bounds = {"compressor.eta_v0": (0.3, 0.99), "psa.d_vent_valve": (1.5e-3, 8e-3)}
    config = write_calibration(tmp_path / "cal", brief_trace, BRIEF_HEAD, parameter_tables(start, bounds))
    out = tmp_path / "out"
    result = calibrate(config, out=out, workers=2)

    for name, truth in BRIEF_TRUTH.items():
        assert abs(result.fitted[name] / truth - 1) < 0.02, (name, result.fitted[name], truth)
    assert result.cost < 0.01 * result.cost_start
    assert result.warnings == [] and result.start_warnings == []  # well posed: no identifiability warning
    # the outputs: fit.json with intervals that hold the truth, plots of every mapped signal, the fitted scenario
    report = json.loads((out / "fit.json").read_text())
    for name, truth in BRIEF_TRUTH.items():
        low, high = report["parameters"][name]["ci95"]
        assert low < result.fitted[name] < high and high - low < 0.04 * truth  # both well determined
    corr = np.array(report["correlation"]["matrix"])
    assert corr.shape == (2, 2) and np.allclose(np.diag(corr), 1.0)
    assert report["residuals"]["p_feed"]["fitted"]["rms"] < report["residuals"]["p_feed"]["start"]["rms"] / 5
    for signal in ("p_feed", "p_tank", "o2", "p_bed_A", "power"):
        assert (out / "plots" / f"overlay_{signal}.png").stat().st_size > 1000
    fitted_scenario = (out / "fitted_scenario.toml").read_text()
    assert f"eta_v0 = {result.fitted['compressor.eta_v0']!r}" in fitted_scenario


@pytest.mark.slow
def test_eight_parameters_fitted_back_within_2_percent(tmp_path):
    """Isotherm (N2 Henry pre-factor of both beds), LDF, feed and exhaust valves, purge orifice, tank volume and
    two compressor constants, from 30 % away, through the cold start and two more operating points of
    EIGHT_OPERATING_POINTS (the figures of scripts/bench_calibration.py, docs/benchmarks.md)."""
    trace = synthetic_trace(tmp_path / "trace.csv", truth_overrides(EIGHT_PARAMETERS), stop_time=EIGHT_TRACE_S,
                            operating_points=EIGHT_OPERATING_POINTS)  # fmt: skip
    head = 'name = "eight"\n' + EIGHT_HEAD
    config = write_calibration(tmp_path / "cal", trace, head, synthetic_tables(EIGHT_PARAMETERS), signals=EIGHT_SIGNALS)
    result = calibrate(config, out=tmp_path / "out", workers=2)
    errors = {name: result.fitted[name] / truth - 1 for name, (_, truth, _, _) in EIGHT_PARAMETERS.items()}
    assert max(abs(e) for e in errors.values()) < 0.02, errors
    assert result.warnings == [], result.warnings
