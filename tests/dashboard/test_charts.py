"""The live charts' thinning: at most the asked number of points per line, the extremes of every line kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.dashboard.charts import Series


@given(
    st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), min_size=1, max_size=3000),
    st.integers(2, 500),
)
def test_the_envelope_keeps_every_lines_extremes_in_at_most_max_points(values, max_points):
    raw = np.asarray(values)
    times = np.arange(len(raw)) * 0.1
    shown = Series(times, {"x": raw, "y": -raw}).envelope(max_points)
    assert len(shown.times) <= max_points
    assert len(shown.times) == len(shown.columns["x"]) == len(shown.columns["y"])
    assert np.all(np.diff(shown.times) >= 0) and shown.times[0] == times[0] and shown.times[-1] <= times[-1]
    for name in ("x", "y"):
        line, original = shown.columns[name], (raw if name == "x" else -raw)
        if np.isnan(original).all():
            assert np.isnan(line).all()
        else:
            assert np.nanmax(line) == np.nanmax(original) and np.nanmin(line) == np.nanmin(original)


def test_a_fast_oscillation_keeps_its_swing_in_a_long_run():
    """A PSA-like pressure (10 s cycle) over 600 s sampled at 0.1 s: 200 points still span the whole swing in
    every part of the run, where every n-th sample would alias it."""
    times = np.arange(6000) * 0.1
    pressure = np.sin(2 * np.pi * times / 10.0)
    shown = Series(times, {"p": pressure}).envelope(200)
    assert len(shown.times) <= 200
    for part in np.array_split(shown.columns["p"], 4):
        assert part.max() > 0.99 and part.min() < -0.99


def test_a_live_chart_is_sent_as_plain_json_with_gaps_as_null():
    """What the live_charts component receives: JSON (no NaN, which the browser's JSON.parse refuses), every line on
    the chart's times, values rounded but not changed beyond their sixth decimal, the band in % when given."""
    import json

    from orchestrator.dashboard.live_charts import chart_payload

    times = np.array([0.0, 0.1, 0.2, 0.30000000000000004])
    spo2 = np.array([88.123456789, float("nan"), 91.5, 92.0])
    chart = chart_payload(Series(times, {"patient.SpO2": spo2}), "Patient SpO2", "%", (88.0, 92.0))
    decoded = json.loads(json.dumps(chart, allow_nan=False))
    assert decoded == {
        "title": "Patient SpO2",
        "y_label": "%",
        "band": [88.0, 92.0],
        "time": [0.0, 0.1, 0.2, 0.3],
        "lines": {"patient.SpO2": [88.123457, None, 91.5, 92.0]},
    }
    assert chart_payload(Series(times, {}), "Flow", "L/min")["band"] is None
