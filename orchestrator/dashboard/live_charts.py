"""The live view: a small Streamlit component (live_charts_frontend/) that draws the run's status line, progress,
newest values and charts (lines on canvases), and keeps them current by itself.

Vega-Lite charts re-created at every redraw cost the browser about 0.25 s of CPU per redraw for the six live plots,
and even a Streamlit rerun of a status line alone costs it some 60 ms (docs/dashboard.md, "Benchmark"): the core a
run leaves free is not enough. So the component keeps its canvases and, every ``refresh_ms`` while the run is
active, fetches the live data (orchestrator.dashboard.live_data: plain lists, thinned to at most LIVE_POINTS per
line by Series.envelope, in display units, NaN as null) and redraws; no Streamlit rerun. When the data it fetched
has a newer revision than the one it was drawn with (status, alarms, events, link figures), it sets its value to
that revision, which reruns the page's fragment. The finished-run views keep Vega-Lite (charts.line_chart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit.components.v1 as components

from orchestrator.dashboard.charts import CHART_HEIGHT, Series

FRONTEND = Path(__file__).with_name("live_charts_frontend")
#: Decimals kept of a value (display units: %, bar(g), L/min, W, degC) and of a time (s).
VALUE_DECIMALS = 6
TIME_DECIMALS = 3

_component = components.declare_component("live_charts", path=str(FRONTEND))


def chart_payload(series: Series, title: str, y_label: str, band: tuple[float, float] | None = None) -> dict[str, Any]:
    """One chart as the component draws it: {title, y_label, band: [low, high] or None, time: [s], lines: {name:
    [value or None]}}, rounded so the message stays small."""
    return {
        "title": title,
        "y_label": y_label,
        "band": None if band is None else [float(band[0]), float(band[1])],
        "time": _plain(series.times, TIME_DECIMALS),
        "lines": {name: _plain(values, VALUE_DECIMALS) for name, values in series.columns.items()},
    }


def _plain(values: np.ndarray, decimals: int) -> list[float | None]:
    """JSON-ready numbers (JSON has no NaN: a gap in a line is null)."""
    rounded = np.round(np.asarray(values, dtype=float), decimals)
    return [None if v != v else v for v in rounded.tolist()]


def live_charts(
    initial: dict[str, Any],
    feed: dict[str, Any] | None,
    key: str,
    refresh_ms: int = 400,
    columns: int = 2,
    height: int = CHART_HEIGHT,
) -> None:
    """Draw ``initial`` (live_data.live_payload: status line, progress, values, charts ``columns`` a row, each
    plotting area ``height`` px high), then, while it says the run is active, fetch newer data every refresh_ms
    from ``feed`` ({port, token, plots}: live_data.LiveDataServer; None: draw only what is given). The key keeps
    the component's frame (and its canvases) from one rerun to the next."""
    _component(initial=initial, feed=feed, refresh_ms=refresh_ms, columns=columns, height=height, key=key,
               default=None)  # fmt: skip
