"""The live page: set up a run, start, pause and stop it, and watch it (status, alarms, link health, plots).

The same page serves hardware in the loop (``hil=True``): the run set-up asks for the device URL and the page shows
the link's health. The live part is a Streamlit fragment around the live_charts component, which redraws the
status line, values and charts every REFRESH_S from data it fetches itself (orchestrator.dashboard.live_data) and
reruns the fragment only when the alarms, events, link figures or status change (LiveState.revision). Where the
browser cannot reach the data server's port, the session goes to single-port mode (live_mode.py): the fragment
reruns every REFRESH_S and hands the component the same live data.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from orchestrator.dashboard.live import LiveRun, LiveState
from orchestrator.dashboard.live_charts import live_charts
from orchestrator.dashboard.live_data import live_payload
from orchestrator.dashboard.live_mode import chosen_plots, note, single_port_reason, take_component_value
from orchestrator.dashboard.page import (
    REFRESH_S,
    folders,
    live_data_server,
    priority_badge,
    run_manager,
    summary_table,
)
from orchestrator.dashboard.run_setup import run_setup
from orchestrator.errors import O2TwinError

#: How many of the scenario's plots are live by default (the first ones it declares).
DEFAULT_LIVE_PLOTS = 6
#: Without CSS animations and transitions (Streamlit's running indicator, elements fading while redrawn) the
#: browser does not repaint the page between two redraws of the live view: its compositing work while a run is
#: watched drops to a fraction (docs/dashboard.md, "Benchmark").
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
    """Status, values and plots (the live_charts component, which keeps them current by itself), alarms and link
    health (rerun by the component when the run's revision changes: status, alarms, events, link figures)."""
    state = run.state
    st.session_state[f"{key}-was-active"] = run.active
    single_port = single_port_reason()
    if single_port is not None:
        st.caption(note(single_port))

    @st.fragment(run_every=REFRESH_S if single_port is not None and run.active else None)
    def body() -> None:
        if take_component_value(f"{key}-charts"):
            st.rerun()  # switched to single-port mode: the fragment must rerun itself from now on
        revision = state.revision  # first: a change while this draws makes the component ask again
        left, right = st.columns([1, 2])
        with left:
            alarm_panel(state, key)
            if state.hil_enabled:
                link_health(state.hil)
        with right:
            live_view(state, revision, key, single_port is not None)
            status(state)
        if not run.active and st.session_state.get(f"{key}-was-active"):
            st.session_state[f"{key}-was-active"] = False
            st.rerun()  # the run ended: redraw the whole page (controls, no more refreshing)

    body()


def live_view(state: LiveState, revision: int, key: str, single_port: bool = False) -> None:
    """The live_charts component: drawn now from the state (the first DEFAULT_LIVE_PLOTS plots), then kept current by
    its own fetches (live_data.py), with the plots the user ticks in it (kept in the browser for the next runs). In
    single-port mode (no port in its feed) it fetches nothing: each rerun hands it the live data of the plots it
    asked for, built by the same live_payload as the data server's answer."""
    feed: dict[str, object] = {"port": None, "token": None, "default_plots": DEFAULT_LIVE_PLOTS, "view": key}
    plots = chosen_plots(f"{key}-charts", range(DEFAULT_LIVE_PLOTS)) if single_port else range(DEFAULT_LIVE_PLOTS)
    if not single_port:
        server = live_data_server()
        feed.update(port=server.port, token=server.token)
    initial = {**live_payload(state, plots), "revision": revision}
    live_charts(initial, feed, key=f"{key}-charts", refresh_ms=round(1000 * REFRESH_S))


def status(state: LiveState) -> None:
    """The run's error, and its summary once finished (the status line is the component's)."""
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
