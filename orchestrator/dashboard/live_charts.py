"""The live page's charts: a small Streamlit component that draws lines on canvases (live_charts_frontend/).

The live page redraws every 0.4 s. Vega-Lite charts are re-created by the browser at each redraw, which cost it
about 0.25 s of CPU per redraw for the six live plots (docs/dashboard.md, "Benchmark"): more than the core a run
leaves free. This component keeps its canvases and only redraws their lines from the points it is sent: plain
lists, already thinned to at most LIVE_POINTS per line (Series.envelope), in display units, NaN sent as null.
The finished-run views keep Vega-Lite (orchestrator.dashboard.charts.line_chart): they are drawn once.
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


def live_charts(charts: list[dict[str, Any]], key: str, columns: int = 2, height: int = CHART_HEIGHT) -> None:
    """Draw the charts (chart_payload), ``columns`` a row, each plotting area ``height`` px high. The key keeps the
    component's frame (and its canvases) from one redraw to the next."""
    _component(charts=charts, columns=columns, height=height, key=key, default=None)
