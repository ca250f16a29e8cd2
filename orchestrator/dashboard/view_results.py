"""The results browser: finished runs under results/, one at a time (summary, alarms, events, plots, downloads),
and the compare view (two or more runs overlaid)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from orchestrator.dashboard.alarms import AlarmBoard, is_alarm_event
from orchestrator.dashboard.charts import PlotView, Series, displayed, overlay
from orchestrator.dashboard.page import folders, open_run_folder, run_signals, shown_value, summary_table
from orchestrator.dashboard.runs import DOWNLOADS, RunInfo, find_runs

#: Points per run and signal in a compare chart.
COMPARE_POINTS = 1500


def _runs() -> list[RunInfo]:
    runs = find_runs(folders().results)
    if not runs:
        st.info(f"No finished runs in {folders().results} yet: start one on the Live run page or with `o2twin run`.")
    return runs


def render_results() -> None:
    st.header("Results")
    runs = _runs()
    if not runs:
        return
    keys = [r.key for r in runs]
    wanted = st.query_params.get("run")
    index = keys.index(wanted) if wanted in keys else 0
    labels = {r.key: r.label for r in runs}
    key = st.selectbox("Run", keys, index=index, format_func=labels.__getitem__, key="results-run")
    run = open_run_folder(key)
    if run is not None:
        run_report(run)


def run_report(run: RunInfo) -> None:
    """One run: status, summary metrics, alarms, event log, plots, downloads."""
    metrics = run.metrics
    st.subheader(f"{run.name}: {run.status}")
    st.caption(
        f"{run.key} · started {run.started or '?'} · simulated {metrics.get('simulated_time_s', '?')} s · "
        f"wall {_num(metrics.get('wall_time_s'))} s"
    )
    if metrics.get("error"):
        st.error(f"{metrics.get('error')} (slave {metrics.get('failed_slave')}, t = {metrics.get('failed_at_s')} s)")
    downloads(run)
    summary, alarms = st.columns(2)
    with summary:
        st.markdown("**Summary metrics**")
        summary_table(run.summary())
    events = run.events()
    with alarms:
        alarm_history(events)
    with st.expander("Event log"):
        st.dataframe(
            [{"time [s]": e.get("time"), "source": e.get("source"), "text": e.get("text")} for e in events],
            hide_index=True,
            width="stretch",
        )
    if "hil" in metrics:
        with st.expander("Hardware-in-the-loop link"):
            st.json(metrics["hil"])
    plots = run.plots()
    if plots:
        st.markdown("**Plots**")
        columns = st.columns(2)
        for i, path in enumerate(plots):
            columns[i % 2].image(str(path), caption=path.name)


def alarm_history(events: list[dict[str, Any]]) -> None:
    """How often each alarm condition was raised, and those still active at the end."""
    st.markdown("**Alarms**")
    board = AlarmBoard().apply_all(events)
    raised = [e for e in events if is_alarm_event(e) and e.get("active")]
    if not raised:
        st.caption("No alarm was raised.")
        return
    rows = [
        {
            "alarm": name,
            "priority": next(str(e["priority"]) for e in raised if e["name"] == name),
            "raised": count,
            "active at the end": name in board.active,
        }
        for name, count in board.raised.items()
    ]
    st.dataframe(rows, hide_index=True, width="stretch")


def downloads(run: RunInfo) -> None:
    files = run.files()
    columns = st.columns(max(len(files), 1))
    for column, (name, path) in zip(columns, files.items(), strict=False):
        column.download_button(
            name,
            data=_reader(path),
            file_name=f"{run.name}_{run.path.name}_{name}",
            mime=DOWNLOADS[name],
            key=f"download-{run.key}-{name}",
            on_click="ignore",
        )


def _reader(path: Path) -> Callable[[], bytes]:
    """The file's bytes, read when the button is pressed (not on every redraw of the page)."""
    return path.read_bytes


def _num(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "?"


def render_compare() -> None:
    """Two or more runs overlaid: chosen signals against time, and their summary metrics side by side."""
    st.header("Compare runs")
    runs = _runs()
    if len(runs) < 2:
        if runs:
            st.info("The compare view needs at least two finished runs.")
        return
    by_key = {r.key: r for r in runs}
    chosen = st.multiselect(
        "Runs", list(by_key), default=list(by_key)[:2], format_func=lambda k: by_key[k].label, key="compare-runs"
    )
    if len(chosen) < 2:
        st.info("Choose two or more runs.")
        return
    selected = [r for k in chosen if (r := open_run_folder(k)) is not None]
    frames = {r.key: run_signals(r) for r in selected}
    common = sorted(set.intersection(*(set(f.columns) for f in frames.values()))) if frames else []
    default = [s for s in ("patient.SpO2", "psa.y_O2_product", "psa.Q_product") if s in common] or common[:1]
    signals = st.multiselect("Signals", common, default=default, key="compare-signals")
    units = selected[0].units() if selected else {}
    shown_as = selected[0].plot_units() if selected else {}  # the unit the scenario's plots show it in
    with st.container(key="compare-charts"):
        for signal in signals:
            view = PlotView(signal, (signal,), shown_as.get(signal))
            shown = {
                k: displayed(Series.from_frame(f), view, units)[0].thinned(COMPARE_POINTS) for k, f in frames.items()
            }
            label = view.label_and_converters(units)[0]
            data, spec = overlay(shown, signal, label)
            st.vega_lite_chart(data, spec, width="stretch")
    st.markdown("**Summary metrics**")
    table = {r.key: {k: shown_value(v) for k, v in r.summary().items()} for r in selected}
    st.dataframe(table, width="stretch")
