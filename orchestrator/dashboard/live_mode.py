"""How the live view gets its data, per browser session: from the live data server on a second port (two-port
mode, the default and the cheapest: no Streamlit rerun per redraw), or through the dashboard's own port
(single-port mode: Streamlit reruns the live fragment every REFRESH_S and hands the live data to the component
in its arguments).

Behind a proxy that forwards only the dashboard's port (JupyterHub, a cloud IDE's port forwarding, an SSH tunnel of
one port) the component's fetches fail; it then sets its value to ``{"unreachable": PORT, "why": TEXT}`` and the
session switches to single-port mode for good. ``o2twin dashboard --single-port`` (the environment variable
SINGLE_PORT_ENV) starts every session in that mode and never starts the data server. In single-port mode the
component sends the plots ticked in it as its value ``{"plots": [numbers]}`` (in two-port mode it names them in
its fetches).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import streamlit as st

from orchestrator.dashboard.live_data import MAX_PLOTS
from orchestrator.dashboard.server import SINGLE_PORT_ENV

#: The session's reason for single-port mode, once its live view could not fetch from the data server.
REASON_KEY = "o2twin-single-port"


def started_single_port() -> bool:
    """Whether the dashboard was started with --single-port (no live data server at all)."""
    return os.environ.get(SINGLE_PORT_ENV, "") not in ("", "0")


def single_port_reason() -> str | None:
    """Why this session's live view is in single-port mode; None: it fetches from the data server."""
    if started_single_port():
        return "the dashboard was started with --single-port"
    reason = st.session_state.get(REASON_KEY)
    return reason if isinstance(reason, str) else None


def note(reason: str) -> str:
    """The page's note on single-port mode (what and why)."""
    return f"Live view in single-port mode: {reason}; updating through the dashboard's own port, slower."


def take_component_value(key: str) -> bool:
    """Read the live_charts component's value (``key``: its key): a plot choice is kept for single-port mode; a
    report of failed fetches switches this session to single-port mode. True when it switched just now (the caller
    reruns the whole page, so that the fragment reruns itself every REFRESH_S)."""
    value = st.session_state.get(key)
    if not isinstance(value, dict):
        return False  # None, or a revision (two-port mode: a rerun for alarms, events, status)
    plots = value.get("plots")
    if isinstance(plots, list) and len(plots) <= MAX_PLOTS and all(type(p) is int and p >= 0 for p in plots):
        st.session_state[f"{key}-plots"] = plots
    if "unreachable" in value and single_port_reason() is None:
        st.session_state[REASON_KEY] = _unreachable(value)
        return True
    return False


def _unreachable(value: dict[str, Any]) -> str:
    port, why = value.get("unreachable"), value.get("why")
    where = f"live data port {port}" if type(port) is int else "the live data port"
    detail = f" ({why[:80]})" if isinstance(why, str) and why else ""
    return f"{where} not reachable from the browser{detail}"


def chosen_plots(key: str, default: Sequence[int]) -> Sequence[int]:
    """The plots the component ``key`` last asked for in single-port mode, else ``default``."""
    plots = st.session_state.get(f"{key}-plots")
    return plots if isinstance(plots, list) else default
