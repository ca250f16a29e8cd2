"""The live page: set up a run, start, pause and stop it, and watch it (status, alarms, link health, plots).

The same page serves hardware in the loop (``hil=True``): the run set-up asks for the device URL and the page shows
the link's health. The live part is a Streamlit fragment that redraws itself every REFRESH_S while the run is
active, from the LiveState the worker's messages fill (orchestrator.dashboard.live).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from orchestrator.dashboard.charts import PlotView, displayed, plot_views, spo2_band, zoom_window_s
from orchestrator.dashboard.live import LiveRun, LiveState
from orchestrator.dashboard.live_charts import chart_payload, live_charts
from orchestrator.dashboard.page import (
    REFRESH_S,
    folders,
    priority_badge,
    run_manager,
    summary_table,
)
from orchestrator.dashboard.run_setup import run_setup
from orchestrator.errors import O2TwinError

#: How many of the scenario's plots are live by default (the first ones it declares).
DEFAULT_LIVE_PLOTS = 6
#: Points per line in a live chart (Series.envelope: the lowest and highest value of each of LIVE_POINTS / 2 bins):
#: the browser's work per redraw grows with the points it draws.
LIVE_POINTS = 200
VALUES_PER_ROW = 3
#: The live page redraws itself every REFRESH_S: without CSS animations and transitions (Streamlit's running
#: indicator, elements fading while redrawn) the browser does not repaint the page between two redraws: its
#: compositing work while a run is watched drops to a fraction (docs/dashboard.md, "Benchmark").
STILL_PAGE = "<style>*, *::before, *::after {animation: none !important; transition: none !important;}</style>"


def render(hil: bool = False) -> None:
    key = "hil" if hil else "live"
    st.header("Hardware in the loop" if hil else "Live run")
    st.html(STILL_PAGE)
    manager = run_manager()
    run = manager.current
    active = run is not None and run.active
    with st.expander("Run set-up", expanded=not active):
        setup = run_setup(folders(), key, hil)
    controls(run, setup.request, hil)
    run = manager.current
    if run is None:
        st.info("No run yet: set one up and press Start.")
        return
    if run.request.plant is not None and not hil:
        st.caption("The run in progress is a hardware-in-the-loop run (its link health is on that page).")
    live_panel(run, key)


def controls(run: LiveRun | None, request: Any, hil: bool) -> None:
    active = run is not None and run.active
    start, pause, stop = st.columns(3)
    if start.button("Start", type="primary", disabled=request is None or active, width="stretch"):
        try:
            run_manager().start(request)
        except O2TwinError as err:
            st.error(str(err))
        st.rerun()
    paused = run is not None and run.state.status == "paused"
    can_pause = active and run is not None and run.request.plant is None  # a device cannot be paused
    if pause.button("Resume" if paused else "Pause", disabled=not can_pause, width="stretch"):
        assert run is not None
        run.resume() if paused else run.pause()
    if stop.button("Stop", disabled=not active, width="stretch"):
        assert run is not None
        run.stop()
    if hil and active:
        st.caption("A hardware-in-the-loop run cannot be paused: without commands the device goes to its fail-safe.")


def live_panel(run: LiveRun, key: str) -> None:
    """Status, alarms, link health and plots; redrawn every REFRESH_S while the run is active."""
    state = run.state
    every = REFRESH_S if run.active else None
    st.session_state[f"{key}-was-active"] = run.active

    @st.fragment(run_every=every)
    def body() -> None:
        status(state)
        left, right = st.columns([1, 2])
        with left:
            alarm_panel(state, key)
            if state.hil_enabled:
                link_health(state.hil)
        titles = [p["title"] for p in state.plots]
        if titles:  # known once the run has started; the choice is kept for the runs that follow
            with right:
                chosen = st.multiselect("Live plots", titles, default=titles[:DEFAULT_LIVE_PLOTS], key=f"{key}-plots")
                views = [v for v in plot_views(state.plots) if v.title in chosen]
                live_values(state, views, state.latest())
            plots(state, views, key)
        if not run.active and st.session_state.get(f"{key}-was-active"):
            st.session_state[f"{key}-was-active"] = False
            st.rerun()  # the run ended: redraw the whole page (controls, no more refreshing)

    body()


def status(state: LiveState) -> None:
    span = max(state.stop_time_s - state.start_time_s, 1e-9)
    done = min(max((state.time_s - state.start_time_s) / span, 0.0), 1.0)
    with st.container(key="live-status"):
        st.markdown(
            f"**{state.name or state.request.scenario}** · status **{state.status}** · "
            f"simulated time **{state.time_s:.1f} s**" + (f" of {state.stop_time_s:g} s" if state.stop_time_s else "")
        )
        st.progress(done)
        if state.out_dir is not None:
            st.caption(f"results: {state.out_dir}")
    if state.error:
        st.error(state.error)
    if state.result is not None:
        summary = state.result.get("summary")
        if isinstance(summary, dict):
            with st.expander("Summary metrics", expanded=True):
                summary_table(summary)


def alarm_panel(state: LiveState, key: str) -> None:
    """Active alarms by priority, acknowledged or not, and the event log."""
    alarms = state.active_alarms()
    with st.container(key="alarm-panel", border=True):
        st.subheader("Alarms", anchor=False)
        if not alarms:
            st.success("No active alarm")
        for a in alarms:
            ack = " · acknowledged" if a.acknowledged else ""
            st.markdown(f"{priority_badge(a.priority)} **{a.name}** since {a.since_s:.1f} s{ack}")
        st.button(
            "Acknowledge all",
            key=f"{key}-ack",
            disabled=not any(not a.acknowledged for a in alarms),
            on_click=state.acknowledge,
        )
        if st.toggle("Event log", key=f"{key}-log"):  # drawn only when asked: it is the page's largest element
            events = state.recent_events()
            if events:
                st.dataframe(_event_rows(events), hide_index=True, width="stretch", height=240)
            else:
                st.caption("No events yet.")


def _event_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"time [s]": round(float(e.get("time", 0.0)), 3), "source": e.get("source", ""), "text": e.get("text", "")}
        for e in events
    ]


def link_health(hil: dict[str, Any] | None) -> None:
    """The device link's figures: command latency, step jitter, lost and corrupted frames."""
    with st.container(key="link-health", border=True):
        st.subheader("Link health", anchor=False)
        if not hil:
            st.caption("Waiting for the first link figures.")
            return
        realtime = hil.get("realtime") or {}
        latency = (hil.get("command_latency_p50_ms"), hil.get("command_latency_p99_ms"))
        jitter = (realtime.get("jitter_p50_ms"), realtime.get("jitter_p99_ms"))
        st.markdown(
            "| | p50 | p99 |\n| --- | --- | --- |\n"
            f"| command latency | {_ms(latency[0])} | {_ms(latency[1])} |\n"
            f"| step jitter | {_ms(jitter[0])} | {_ms(jitter[1])} |"
        )
        corrupted = int(hil.get("bad_crc", 0)) + int(hil.get("bad_cobs", 0))
        st.markdown(
            f"lost frames **{hil.get('dropped', 0)}** · corrupted (CRC/COBS) **{corrupted}** · "
            f"late **{hil.get('samples_late', 0)}** · link losses **{hil.get('link_losses', 0)}** · "
            f"deadline misses **{realtime.get('deadline_misses', 0)}**"
        )
        st.caption(f"{hil.get('frames', 0)} frames from {hil.get('url', '')}")


def _ms(value: Any) -> str:
    return f"{value:.2f} ms" if isinstance(value, int | float) else "–"


def plots(state: LiveState, views: list[PlotView], key: str) -> None:
    """The chosen plots, two a row; the SpO2 plot with its target band, a pressure plot with a zoom (drawn by the
    live_charts component: canvases redrawn in place, far cheaper for the browser than Vega-Lite charts)."""
    if not state.signals:
        st.caption("Plots appear when the run has started.")
        return
    latest = state.latest()
    band = spo2_band(state.parameters)
    charts: list[dict[str, Any]] = []
    for view in views:
        shown, label = displayed(state.series(view.signals, max_points=LIVE_POINTS), view, state.units)
        charts.append(chart_payload(shown, view.title, label, band if view.is_spo2 else None))
        if view.is_pressure:
            window = zoom_window_s(latest)
            recent = state.series(view.signals, since_s=state.time_s - window, max_points=LIVE_POINTS)
            zoomed, label = displayed(recent, view, state.units)
            charts.append(chart_payload(zoomed, f"{view.title}: last {window:.0f} s", label))
    live_charts(charts, key=f"{key}-charts")


def live_values(state: LiveState, views: list[PlotView], latest: dict[str, float]) -> None:
    """The newest value of the first signal of each plot, in display units."""
    shown = [(v, v.signals[0]) for v in views if v.signals and v.signals[0] in latest]
    if not shown:
        return
    cells = []
    for view, signal in shown:
        label, converters = view.label_and_converters(state.units)
        value = float(converters[signal](latest[signal]))
        cells.append(f"{view.title} ({signal}) **{value:.3g} {label.split(',')[0]}**")
    lines = [" · ".join(cells[i : i + VALUES_PER_ROW]) for i in range(0, len(cells), VALUES_PER_ROW)]
    with st.container(key="live-values"):  # one element, redrawn cheaply (a metric widget per value costs more)
        st.markdown("  \n".join(lines))
