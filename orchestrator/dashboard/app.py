"""The dashboard's Streamlit script (`o2twin dashboard` serves it): one view at a time, chosen in the sidebar or
with ``?view=NAME`` in the address (live, hil, results, compare, studies)."""

from __future__ import annotations

import streamlit as st

from orchestrator.dashboard import view_live, view_results, view_studies

VIEWS = {
    "live": ("Live run", view_live.render),
    "hil": ("Hardware in the loop", lambda: view_live.render(hil=True)),
    "results": ("Results", view_results.render_results),
    "compare": ("Compare runs", view_results.render_compare),
    "studies": ("Sweeps and comparisons", view_studies.render),
}


def main() -> None:
    st.set_page_config(page_title="O2 Twin", layout="wide")
    st.sidebar.title("O2 Twin")
    names = list(VIEWS)
    asked = st.query_params.get("view", "live")
    view = st.sidebar.radio(
        "View", names, index=names.index(asked) if asked in names else 0, format_func=lambda n: VIEWS[n][0]
    )
    if st.query_params.get("view") != view:
        st.query_params["view"] = view
    VIEWS[view][1]()


main()
