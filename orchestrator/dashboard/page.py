"""What every view of the dashboard shares: the run manager, the folders, cached reads of finished runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from orchestrator.dashboard.folders import Folders
from orchestrator.dashboard.live import RunManager
from orchestrator.dashboard.runs import RunInfo, read_metrics

if TYPE_CHECKING:
    import pandas as pd

    from orchestrator.dashboard.live_data import LiveDataServer

#: Seconds between two refreshes of the live views (at least two a second).
REFRESH_S = 0.4
#: Colours of the alarm priorities (IEC 60601-1-8 uses red for high, yellow for medium and low; cyan for low here).
PRIORITY_COLOURS = {"high": "red", "medium": "orange", "low": "blue"}


@st.cache_resource
def run_manager() -> RunManager:
    """The dashboard's one live run, shared by every browser tab on it."""
    return RunManager()


@st.cache_resource
def live_data_server() -> LiveDataServer:
    """The live view's data server (live_data.py), on the dashboard's own address and a free port."""
    from orchestrator.dashboard.live_data import LiveDataServer

    return LiveDataServer(run_manager(), st.get_option("server.address") or "127.0.0.1").start()


def folders() -> Folders:
    return Folders.current()


@st.cache_data(max_entries=16, show_spinner=False)
def _signals(path: str, mtime_ns: int) -> pd.DataFrame:
    return RunInfo(Path(path), "").signals()


def run_signals(run: RunInfo) -> pd.DataFrame:
    """A finished run's signals, read once per file version."""
    csv = run.path / "signals.csv"
    return _signals(str(run.path), csv.stat().st_mtime_ns if csv.is_file() else 0)


def open_run_folder(key: str) -> RunInfo | None:
    """The run folder a browser names (its key under results/); None (and an error shown) if it is not one."""
    from orchestrator.dashboard.folders import PathNotAllowed

    try:
        path = folders().result_path(key)
    except PathNotAllowed as err:
        st.error(str(err))
        return None
    metrics = read_metrics(path)
    if metrics is None:
        st.error(f"{key}: not a finished run (no readable metrics.json)")
        return None
    return RunInfo(path, key, metrics)


def priority_badge(priority: str) -> str:
    return f":{PRIORITY_COLOURS.get(priority, 'gray')}-badge[{priority.upper()}]"


def summary_table(summary: dict[str, Any]) -> None:
    """A run's summary metrics as a two-column table."""
    import pandas as pd

    if not summary:
        st.caption("No summary metrics.")
        return
    rows = [{"metric": k, "value": shown_value(v)} for k, v in summary.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def shown_value(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:.4g}"
    return str(value)
