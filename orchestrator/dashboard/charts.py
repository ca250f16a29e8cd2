"""Charts of the dashboard (Vega-Lite specs that Streamlit draws): the scenario's plots, live and finished.

A plot is one of the scenario's [[plots]] (title, signals, display unit): values recorded in SI are shown in the
units users read on a device through orchestrator.results.plots.display_conversion (the same as the PNG plots).
The SpO2 plot carries the titrator's target band when the scenario sets one; a pressure plot has a companion that
zooms on the last PSA cycles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import SystemDefinitionError
from orchestrator.results.plots import display_conversion

if TYPE_CHECKING:
    import pandas as pd

#: Parameters that give the SpO2 target band (fractions), looked up on any slave of the scenario.
BAND_PARAMETERS = ("spo2_target_low", "spo2_target_high")
#: The pressure zoom shows this many PSA cycles (the length of a cycle from a recorded "*.cycle_time" signal).
ZOOM_CYCLES = 2
ZOOM_DEFAULT_S = 30.0
CHART_HEIGHT = 160


@dataclass(frozen=True)
class PlotView:
    """One plot as the page draws it."""

    title: str
    signals: tuple[str, ...]
    unit: str | None  #: the display unit the scenario asked for (None: automatic, "SI": none)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PlotView:
        return cls(str(raw["title"]), tuple(raw["signals"]), raw.get("unit"))

    def label_and_converters(self, units: Mapping[str, str | None]) -> tuple[str, dict[str, Any]]:
        """(axis label, {signal: conversion}) for the signals of this plot that have units known."""
        labels, converters = set(), {}
        for s in self.signals:
            try:
                label, fn = display_conversion(units.get(s), self.unit)
            except SystemDefinitionError:
                label, fn = units.get(s) or "", _identity
            labels.add(label)
            converters[s] = fn
        return ", ".join(sorted(u for u in labels if u)) or "value", converters

    @property
    def is_spo2(self) -> bool:
        return "spo2" in self.title.lower() or any("spo2" in s.lower() for s in self.signals)

    @property
    def is_pressure(self) -> bool:
        return self.unit == "bar(g)" or "pressure" in self.title.lower()


def _identity(x: Any) -> Any:
    return x


def displayed(frame: pd.DataFrame, view: PlotView, units: Mapping[str, str | None]) -> tuple[pd.DataFrame, str]:
    """The plot's columns of frame converted to display units, and the axis label."""
    label, converters = view.label_and_converters(units)
    columns = {s: converters[s](frame[s].to_numpy(dtype=float)) for s in view.signals if s in frame.columns}
    import pandas as pd

    return pd.DataFrame(columns, index=frame.index), label


def spo2_band(parameters: Mapping[str, Any]) -> tuple[float, float] | None:
    """The SpO2 target band in % from the scenario's parameters (e.g. titrator.spo2_target_low), if it has one."""
    found: dict[str, float] = {}
    for qualified, value in parameters.items():
        name = qualified.rsplit(".", 1)[-1]
        if name in BAND_PARAMETERS and isinstance(value, int | float) and not isinstance(value, bool):
            found.setdefault(name, float(value))
    if len(found) < 2:
        return None
    low, high = (found[n] for n in BAND_PARAMETERS)
    return low * 100.0, high * 100.0


def zoom_window_s(latest: Mapping[str, float]) -> float:
    """Length of the pressure zoom: ZOOM_CYCLES PSA cycles, from the newest "*.cycle_time" value (s) if recorded."""
    for name, value in latest.items():
        if name.endswith(".cycle_time") and isinstance(value, int | float) and math.isfinite(value) and value > 0:
            return ZOOM_CYCLES * float(value)
    return ZOOM_DEFAULT_S


def line_chart(
    frame: pd.DataFrame,
    title: str,
    y_label: str,
    band: tuple[float, float] | None = None,
    color: str = "signal",
    height: int = CHART_HEIGHT,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(data, Vega-Lite spec) for st.vega_lite_chart: every column of frame against its time index, one line each;
    band: a shaded target range on the y axis. Plain specs, not Altair objects: the live page redraws them twice a
    second and Altair's schema validation would cost more than the drawing."""
    long = _long_format(frame, color)
    lines = {
        "mark": {"type": "line", "clip": True},
        "encoding": {
            "x": {"field": "time", "type": "quantitative", "title": "time [s]", "scale": {"zero": False}},
            "y": {"field": "value", "type": "quantitative", "title": y_label, "scale": {"zero": False}},
            "color": {"field": color, "type": "nominal", "legend": {"orient": "bottom", "title": None}},
        },
    }
    # the height is the plotting area's; the width fits the column
    spec: dict[str, Any] = {"title": title, "height": height, "autosize": {"type": "fit-x", "contains": "padding"}}
    if band is None:
        spec.update(lines)
    else:
        shade = {
            "data": {"values": [{"low": band[0], "high": band[1]}]},
            "mark": {"type": "rect", "opacity": 0.15, "color": "green"},
            "encoding": {"y": {"field": "low", "type": "quantitative"}, "y2": {"field": "high"}},
        }
        spec["layer"] = [shade, lines]
    return long, spec


def _long_format(frame: pd.DataFrame, color: str) -> pd.DataFrame:
    """time, <color> (the column's name), value: one row per point of every column (what Vega-Lite draws)."""
    import numpy as np
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    times = frame.index.to_numpy(dtype=float)
    values = np.concatenate([frame[c].to_numpy(dtype=float) for c in frame.columns]) if columns else np.empty(0)
    long = pd.DataFrame({"time": np.tile(times, len(columns)), color: np.repeat(columns, len(times)), "value": values})
    return long[np.isfinite(values)]


def overlay(frames: Mapping[str, pd.DataFrame], signal: str, title: str, y_label: str) -> tuple[pd.DataFrame, dict]:
    """One signal of several runs on one chart (the compare view): frames maps a run's label to its signals."""
    import pandas as pd

    joined = pd.concat({label: f[signal] for label, f in frames.items() if signal in f.columns}, axis=1)
    joined.index.name = "time"
    return line_chart(joined, title, y_label, color="run", height=CHART_HEIGHT + 60)


def thin(frame: pd.DataFrame, max_points: int = 1500) -> pd.DataFrame:
    """Every n-th row so a chart draws at most max_points per line."""
    stride = max(1, -(-len(frame) // max_points))
    return frame.iloc[::stride]


def latest_values(frame: pd.DataFrame) -> dict[str, float]:
    if frame.empty:
        return {}
    row = frame.iloc[-1]
    return {str(k): float(v) for k, v in row.items()}


def plot_views(raw: Sequence[Mapping[str, Any]]) -> list[PlotView]:
    return [PlotView.from_mapping(p) for p in raw]
