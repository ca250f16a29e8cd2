"""Studies: sweeps (`o2twin sweep`, results/sweeps/NAME/) and controller comparisons, as tables and plots.

Any folder under results/ with a table.csv, table.parquet or (a comparison's) summary.csv is a study; the page shows
its table, its other tables, its plots (PNG) and its report (Markdown) when it has them, and a small chart of one
metric against one parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from orchestrator.dashboard.page import folders
from orchestrator.dashboard.runs import StudyInfo, find_studies

if TYPE_CHECKING:
    import pandas as pd


def render() -> None:
    st.header("Sweeps and comparisons")
    studies = find_studies(folders().results)
    if not studies:
        st.info(
            f"No sweeps or comparisons in {folders().results} yet (folders with a table.csv or table.parquet, "
            "as `o2twin sweep` writes, or a summary.csv, as `o2twin compare` writes)."
        )
        return
    by_key = {s.key: s for s in studies}
    key = st.selectbox("Study", list(by_key), format_func=lambda k: f"{k} ({by_key[k].kind})", key="study")
    show(by_key[key])


def show(study: StudyInfo) -> None:
    table = study.table()
    st.subheader(f"{study.key} ({study.kind}, {len(table)} rows)")
    if table.empty:
        st.warning(f"{study.path}: no readable table")
    else:
        st.dataframe(table, hide_index=True, width="stretch")
        metric_chart(table)
    for name, extra in study.extra_tables().items():
        with st.expander(f"{name} ({len(extra)} rows)"):
            st.dataframe(extra, hide_index=True, width="stretch")
    for report in study.reports():
        with st.expander(report.name):
            st.markdown(report.read_text(encoding="utf-8", errors="replace"))
    plots = study.plots()
    if plots:
        columns = st.columns(2)
        for i, path in enumerate(plots):
            columns[i % 2].image(str(path), caption=path.name)


def metric_chart(table: pd.DataFrame) -> None:
    """One numeric column against another (a metric against a swept parameter)."""
    numeric = [c for c in table.columns if str(table[c].dtype).startswith(("float", "int"))]
    if len(numeric) < 2:
        return
    x_col, y_col = st.columns(2)
    x = x_col.selectbox("x", numeric, index=0, key="study-x")
    y = y_col.selectbox("y", numeric, index=len(numeric) - 1, key="study-y")
    st.scatter_chart(table, x=x, y=y)
