"""What the comparison measures of one run: the session summary, watchdog interventions, compute times, traces.

The clinical and energy figures are the run's own metrics.json summary (the scenario's ``[metrics] summary``,
controllers.metrics.concentrator_summary for the shipped scenarios): the same definitions for every controller.
Added here, from the run's files only (so a finished run directory gives the same row as a fresh run):

- ``watchdog_interventions``: how many watchdog conditions started (events with ``active`` true: the watchdog emits
  one per alarm condition start, with its name and priority);
- ``update_p50_ms.SLAVE``, ``update_p99_ms.SLAVE``: wall time per sample of each Python block (metrics.json
  ``slaves``), of which the comparison reports the controller set's ``timed`` blocks;
- ``traces.csv`` in the run's folder: SpO2 (%), delivered flow (L/min), purity (%) and compressor energy (Wh) on a
  1 s grid, for the overlay plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from orchestrator.results.files import write_text_atomic
from orchestrator.sweep.case import flatten

if TYPE_CHECKING:
    from orchestrator.results.run import RunResult

TRACES_NAME = "traces.csv"
TRACE_INTERVAL_S = 1.0

#: The table's metrics: (column, what it is, better: +1 higher, -1 lower, 0 not ranked).
METRICS: tuple[tuple[str, str, int], ...] = (
    ("time_in_target_pct", "time in SpO2 target, %", +1),
    ("time_below_88_pct", "time SpO2 < 88 %, %", -1),
    ("time_below_85_pct", "time SpO2 < 85 %, %", -1),
    ("time_above_96_pct", "time SpO2 > 96 %, %", -1),
    ("iae_pct_min", "IAE outside the band, %-min", -1),
    ("desaturations", "desaturation episodes (< 88 % for >= 10 s)", -1),
    ("o2_delivered_l", "O2 used, standard L", -1),
    ("energy_wh", "compressor energy, Wh", -1),
    ("alarms_raised", "alarms raised", -1),
    ("watchdog_interventions", "watchdog interventions", -1),
    ("compute_p50_ms", "controller compute time p50, ms", 0),
    ("compute_p99_ms", "controller compute time p99, ms", 0),
)

#: Trace columns: (name, variables searched in the signals (first found), scale from SI).
_TRACES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("spo2_pct", ("SpO2", "sensor_SpO2"), 100.0),
    ("flow_lpm", ("Q_product",), 60000.0),
    ("purity_pct", ("y_O2_product",), 100.0),
    ("power_w", ("power",), 1.0),
)


def watchdog_interventions(events: Sequence[Mapping[str, Any]]) -> int:
    """The number of watchdog conditions that started (events flagged ``active``)."""
    return sum(1 for e in events if e.get("active") is True)


def compute_times(slaves: Mapping[str, Any]) -> dict[str, float]:
    """Per Python block, its update wall time p50/p99 in ms (from metrics.json ``slaves``)."""
    out: dict[str, float] = {}
    for name, entry in slaves.items():
        if isinstance(entry, Mapping) and entry.get("update_calls"):
            out[f"update_p50_ms.{name}"] = 1000.0 * float(entry["update_p50_s"])
            out[f"update_p99_ms.{name}"] = 1000.0 * float(entry["update_p99_s"])
    return out


def _column(signals: pd.DataFrame, variables: tuple[str, ...]) -> np.ndarray | None:
    for var in variables:
        for name in signals.columns:
            if str(name).split(".", 1)[-1] == var:
                return np.asarray(signals[name], dtype=float)
    return None


def traces(signals: pd.DataFrame) -> pd.DataFrame:
    """SpO2, flow, purity and cumulative energy on a 1 s grid (columns missing from the signals are left out)."""
    t = np.asarray(signals.index, dtype=float)
    if len(t) == 0:
        return pd.DataFrame({"time_s": []})
    grid = np.arange(t[0], t[-1] + 1e-9, TRACE_INTERVAL_S)
    frame = {"time_s": grid}
    for name, variables, scale in _TRACES:
        values = _column(signals, variables)
        if values is None:
            continue
        if name == "power_w":
            clean = np.nan_to_num(values)
            energy = np.concatenate([[0.0], np.cumsum(0.5 * (clean[1:] + clean[:-1]) * np.diff(t))]) / 3600.0
            frame["energy_wh"] = np.interp(grid, t, energy)
        else:
            frame[name] = np.interp(grid, t, values * scale)
    return pd.DataFrame(frame)


def run_row(metrics: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The comparison's metrics of one run from its metrics.json and events (see the module docstring)."""
    summary = metrics.get("summary")
    row: dict[str, Any] = flatten(summary) if isinstance(summary, Mapping) else {}
    row["watchdog_interventions"] = watchdog_interventions(events)
    slaves = metrics.get("slaves")
    row.update(compute_times(slaves if isinstance(slaves, Mapping) else {}))
    return row


def compare_row(result: RunResult) -> dict[str, Any]:
    """The sweep row function of a comparison: ``run_row`` plus traces.csv written into the run's folder."""
    row = run_row(result.metrics, result.events)
    if (Path(result.out_dir) / "signals.csv").is_file():
        write_text_atomic(Path(result.out_dir) / TRACES_NAME, traces(result.signals).to_csv(index=False))
    return row
