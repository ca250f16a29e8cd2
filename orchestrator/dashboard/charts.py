"""Charts of the dashboard: the scenario's plots, their thinning (Series), and Vega-Lite specs for finished runs.

A plot is one of the scenario's [[plots]] (title, signals, display unit): values recorded in SI are shown in the
units users read on a device through orchestrator.results.plots.display_conversion (the same as the PNG plots).
The SpO2 plot carries the titrator's target band when the scenario sets one; a pressure plot has a companion that
zooms on the last PSA cycles. The live page draws its charts with its own component (orchestrator.dashboard.
live_charts); the finished-run views draw Vega-Lite charts from here: numpy arrays straight into an Arrow table
and plain dict specs, no pandas frames, no Altair validation on the way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from orchestrator.errors import SystemDefinitionError
from orchestrator.results.plots import display_conversion

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Parameters that give the SpO2 target band (fractions), looked up on any slave of the scenario.
BAND_PARAMETERS = ("spo2_target_low", "spo2_target_high")
#: The pressure zoom shows this many PSA cycles (the length of a cycle from a recorded "*.cycle_time" signal).
ZOOM_CYCLES = 2
ZOOM_DEFAULT_S = 30.0
CHART_HEIGHT = 160


@dataclass(frozen=True)
class Series:
    """Signals sampled at common times: ``times`` (s) and one array per signal."""

    times: np.ndarray
    columns: dict[str, np.ndarray]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Series:
        """A DataFrame indexed by time (a finished run's signals) as a Series."""
        return cls(frame.index.to_numpy(dtype=float), {str(c): frame[c].to_numpy(dtype=float) for c in frame.columns})

    def envelope(self, max_points: int) -> Series:
        """At most max_points per line: the samples in bins, each bin drawn as its lowest then its highest value
        (NaN ignored), so a fast oscillation (the PSA pressures) keeps its swing however long the run."""
        n = len(self.times)
        if n <= max_points:
            return self
        size = -(-n // max(1, max_points // 2))  # samples per bin
        starts = np.arange(0, n, size)
        times = np.empty(2 * len(starts))
        times[0::2], times[1::2] = self.times[starts], self.times[np.minimum(starts + size // 2, n - 1)]
        columns = {}
        for name, values in self.columns.items():
            drawn = np.empty(2 * len(starts))
            with np.errstate(invalid="ignore"):
                drawn[0::2], drawn[1::2] = np.fmin.reduceat(values, starts), np.fmax.reduceat(values, starts)
            columns[name] = drawn
        return Series(times, columns)

    def thinned(self, max_points: int) -> Series:
        """Every n-th sample, so a chart draws at most max_points per line."""
        stride = max(1, -(-len(self.times) // max_points))
        return Series(self.times[::stride], {k: v[::stride] for k, v in self.columns.items()})


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
        """(axis label, {signal: conversion}) for the signals of this plot."""
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


def displayed(series: Series, view: PlotView, units: Mapping[str, str | None]) -> tuple[Series, str]:
    """The plot's signals converted to display units, and the axis label."""
    label, converters = view.label_and_converters(units)
    columns = {
        s: np.asarray(converters[s](series.columns[s]), dtype=float) for s in view.signals if s in series.columns
    }
    return Series(series.times, columns), label


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


def long_table(lines: Mapping[str, tuple[np.ndarray, np.ndarray]], color: str) -> pa.Table:
    """time, <color> (the line's name), value: one row per finite point of every line (what Vega-Lite draws)."""
    import pyarrow as pa

    names = list(lines)
    times = np.concatenate([lines[n][0] for n in names]) if names else np.empty(0)
    values = np.concatenate([lines[n][1] for n in names]) if names else np.empty(0)
    which = np.repeat(np.arange(len(names), dtype=np.int32), [len(lines[n][1]) for n in names])
    keep = np.isfinite(values)
    label = pa.DictionaryArray.from_arrays(which[keep], pa.array(names, pa.string()))
    return pa.table({"time": times[keep], color: label, "value": values[keep]})


def line_chart(
    series: Series,
    title: str,
    y_label: str,
    band: tuple[float, float] | None = None,
    color: str = "signal",
    height: int = CHART_HEIGHT,
) -> tuple[pa.Table, dict[str, Any]]:
    """(data, Vega-Lite spec) for st.vega_lite_chart: every signal of series against time, one line each;
    band: a shaded target range on the y axis."""
    data = long_table({name: (series.times, values) for name, values in series.columns.items()}, color)
    return data, spec(title, y_label, color, band, height)


def spec(title: str, y_label: str, color: str, band: tuple[float, float] | None, height: int) -> dict[str, Any]:
    lines = {
        "mark": {"type": "line", "clip": True},
        "encoding": {
            "x": {"field": "time", "type": "quantitative", "title": "time [s]", "scale": {"zero": False}},
            "y": {"field": "value", "type": "quantitative", "title": y_label, "scale": {"zero": False}},
            "color": {"field": color, "type": "nominal", "legend": {"orient": "bottom", "title": None}},
        },
    }
    # the height is the plotting area's; the width fits the column
    out: dict[str, Any] = {
        "title": title,
        "height": height,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "usermeta": {"embedOptions": {"renderer": "canvas"}},  # redrawing a canvas costs the browser less than SVG
    }
    if band is None:
        out.update(lines)
    else:
        shade = {
            "data": {"values": [{"low": band[0], "high": band[1]}]},
            "mark": {"type": "rect", "opacity": 0.15, "color": "green"},
            "encoding": {"y": {"field": "low", "type": "quantitative"}, "y2": {"field": "high"}},
        }
        out["layer"] = [shade, lines]
    return out


def overlay(runs: Mapping[str, Series], signal: str, y_label: str) -> tuple[pa.Table, dict[str, Any]]:
    """One signal of several runs on one chart (the compare view): runs maps a run's label to its signals."""
    lines = {label: (s.times, s.columns[signal]) for label, s in runs.items() if signal in s.columns}
    return long_table(lines, "run"), spec(signal, y_label, "run", None, CHART_HEIGHT + 60)


def plot_views(raw: Sequence[Mapping[str, Any]]) -> list[PlotView]:
    return [PlotView.from_mapping(p) for p in raw]
