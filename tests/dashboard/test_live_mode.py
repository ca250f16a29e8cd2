"""The live view's two modes under Streamlit's AppTest (live_mode.py): the page hands the live_charts component its
data server's port until the component reports failed fetches, then, in single-port mode, the same live data the
data server answers, for the plots the component asks for; `o2twin dashboard --single-port` starts in that mode."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from orchestrator.cli.main import build_parser
from orchestrator.dashboard.page import live_data_server, run_manager
from orchestrator.dashboard.server import APP, SINGLE_PORT_ENV

pytestmark = pytest.mark.usefixtures("concentrator_fmus")
KEY = "live-charts"  # the live page's component


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The dashboard script in a fresh working directory, no run left over."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SINGLE_PORT_ENV, raising=False)
    st.cache_resource.clear()
    yield AppTest.from_file(str(APP), default_timeout=60)
    run = run_manager().current
    if run is not None and run.active:
        run.stop()
        run.wait(60)
    st.cache_resource.clear()


def component_args(at: AppTest) -> dict:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def captions(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def finish_a_short_run(at: AppTest) -> None:
    """Start a 2 s run of the default scenario from the page and rerun the page until it has finished."""
    at.run()
    (stop,) = [n for n in at.number_input if n.label.startswith("Stop time")]
    stop.set_value(2.0).run()
    (start,) = [b for b in at.button if b.label == "Start"]
    start.click().run()
    deadline = time.monotonic() + 90
    while run_manager().current is None or run_manager().current.active:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.5)
    at.run()
    assert not at.exception


def served(plots: str) -> dict:
    """What the live data server answers the component's fetch for these plot numbers (the run's current state)."""
    server = live_data_server()
    url = f"http://{server.host}:{server.port}/live?token={server.token}&plots={plots}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def test_failed_fetches_switch_the_session_to_single_port_with_the_data_the_server_answers(app):
    finish_a_short_run(app)
    args = component_args(app)
    assert args["feed"]["port"] == live_data_server().port and "single-port" not in captions(app)
    app.session_state[KEY] = 3  # a revision (two-port mode's rerun for alarms or status): no switch
    app.run()
    assert component_args(app)["feed"]["port"] == live_data_server().port
    app.session_state[KEY] = {"unreachable": args["feed"]["port"], "why": "3 fetches failed: network error"}
    app.run()
    assert not app.exception
    args = component_args(app)
    assert args["feed"]["port"] is None and args["feed"]["token"] is None  # nothing to fetch from
    port = live_data_server().port
    assert captions(app).count("Live view in single-port mode") == 1
    assert f"live data port {port} not reachable from the browser (3 fetches failed: network error)" in captions(app)
    # one function builds both: the arguments carry exactly what the data server answers for the same run state
    assert args["initial"] == served("0,1,2,3,4,5") and args["initial"]["charts"]
    app.session_state[KEY] = {"plots": [1, 3]}  # the plots ticked in the component
    app.run()
    assert component_args(app)["initial"] == served("1,3") and served("1,3")["chosen"] == [1, 3]
    app.session_state[KEY] = {"plots": ["../etc", 1]}  # not plot numbers: the last choice stays
    app.run()
    assert component_args(app)["initial"]["chosen"] == [1, 3] and "single-port" in captions(app)


def test_single_port_from_the_start_hands_the_data_in_the_arguments(app, monkeypatch):
    monkeypatch.setenv(SINGLE_PORT_ENV, "1")  # what `o2twin dashboard --single-port` sets
    finish_a_short_run(app)
    args = component_args(app)
    assert args["feed"]["port"] is None and "started with --single-port" in captions(app)
    assert args["initial"]["status_line"] and "status ok" in "".join(t for t, _ in args["initial"]["status_line"])


def test_the_single_port_option_is_on_the_command_line():
    assert build_parser().parse_args(["dashboard"]).single_port is False
    assert build_parser().parse_args(["dashboard", "--single-port"]).single_port is True
