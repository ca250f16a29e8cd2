"""The page logic under Streamlit's AppTest: widgets, state, errors shown for a bad scenario or path, a run
started from the page and found again in the results browser, compare and study views."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import orchestrator
from orchestrator.dashboard.page import run_manager
from orchestrator.dashboard.server import APP

pytestmark = pytest.mark.usefixtures("concentrator_fmus")


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The dashboard script in a fresh working directory (its results/ is tmp_path/results), no run left over."""
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    yield at
    run = run_manager().current
    if run is not None and run.active:
        run.stop()
        run.wait(60)
    st.cache_resource.clear()


def button(at: AppTest, label: str):
    (found,) = [b for b in at.button if b.label == label]
    return found


def texts(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.error, *at.info, *at.success])


def live_view(at: AppTest) -> dict:
    """What the live_charts component was given to draw first (live_data.live_payload) and where to fetch more."""
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def live_status(at: AppTest) -> str:
    """The live status line (drawn by the component): NAME · status STATUS · simulated time T s of STOP s."""
    if not at.get("component_instance"):
        return ""
    return "".join(text for text, _ in live_view(at)["initial"]["status_line"])


def test_the_live_page_offers_the_scenarios_and_their_settings(app):
    app.run()
    assert not app.exception
    (view,) = [r for r in app.radio if r.label == "View"]
    assert view.value == "live"
    (scenario,) = [s for s in app.selectbox if s.label == "Scenario"]
    assert scenario.value == "default" and {"blocked_cannula", "stuck_valve"} <= set(scenario.options)
    assert not button(app, "Start").disabled and button(app, "Stop").disabled and button(app, "Pause").disabled
    assert "Controllers (the scenario's own): pid (controllers.pid:PressurePID)" in texts(app)
    assert len(app.dataframe) == 2  # patient settings; plant, environment, faults and controller settings
    patient = app.dataframe[0].value
    values = dict(zip(patient["parameter"], patient["value"], strict=True))
    assert values["patient.copd"] == "1.0" and all(name.startswith("patient.") for name in values)
    assert "No run yet" in texts(app)


def test_a_bad_scenario_file_is_shown_as_an_error_and_cannot_start(app, tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bad.toml").write_text('[scenario]\nname = "bad"\n[slaves.x]\nfmu = "O2Twin.Nope"\n')
    (tmp_path / "secret.toml").write_text("")
    app.run()
    (source,) = [r for r in app.radio if r.label == "Scenario from"]
    source.set_value("file").run()
    app.text_input[0].input("results/bad.toml").run()
    assert not app.exception
    assert any("Scenario cannot be used" in e.value and "bad.toml" in e.value for e in app.error), texts(app)
    assert button(app, "Start").disabled
    app.text_input[0].input("../secret.toml").run()
    assert any("outside the folders the dashboard may read" in e.value for e in app.error)
    assert button(app, "Start").disabled
    app.text_input[0].input("results/missing.toml").run()
    assert any("does not exist" in e.value for e in app.error)


def test_a_bad_override_is_shown_and_cannot_start(app):
    app.run()
    app.text_area[0].input("nope.k=1").run()
    assert any("no slave 'nope'" in e.value for e in app.error)
    assert button(app, "Start").disabled
    app.text_area[0].input("psa.blockage").run()
    assert any("expected SLAVE.PARAMETER=VALUE" in e.value for e in app.error)


def test_a_run_started_on_the_page_runs_with_its_controller_set_and_overrides_and_is_found_in_the_results(
    app, tmp_path
):
    """The run goes under the controller set picked on the page (fixed-flow: its FixedFlow block replaces the
    titrator and its 2 L/min command, a signal only that set records, is in the run's signals) with its overrides."""
    from orchestrator.results.signals import read_signals_csv

    app.run()
    (controllers,) = [s for s in app.selectbox if s.label == "Controller set"]
    assert controllers.value == "the scenario's own" and {"pid-fuzzy", "fixed-flow"} <= set(controllers.options)
    controllers.set_value("fixed-flow").run()
    assert "Controllers (under controller set fixed-flow): " in texts(
        app
    ) and "manual (controllers.manual:FixedFlow)" in texts(app)
    assert "titrator (" not in texts(app)
    (stop,) = [n for n in app.number_input if n.label.startswith("Stop time")]
    stop.set_value(3.0).run()
    app.text_area[0].input("psa.blockage=0.25").run()
    assert not app.error
    button(app, "Start").click().run()
    deadline = time.monotonic() + 90
    while "status ok" not in live_status(app):
        assert time.monotonic() < deadline, (live_status(app), texts(app))
        time.sleep(0.5)
        app.run()
    assert button(app, "Start").disabled is False and button(app, "Stop").disabled
    view = live_view(app)  # the live view (live_charts component), drawn from the feed
    assert "simulated time 3.0 s of 3 s" in live_status(app) and view["initial"]["progress"] == 1.0
    charts = {c["title"]: c for c in view["initial"]["charts"]}
    assert {"Patient SpO2", "O2 purity", "Pressures"} <= set(charts) and any(": last " in t for t in charts)
    assert charts["Patient SpO2"]["time"][-1] == pytest.approx(3.0)
    assert charts["Patient SpO2"]["band"] is None  # fixed-flow has no titrator, so no SpO2 target band
    (folder,) = (tmp_path / "results" / "default").glob("2*")
    assert "blockage = 0.25" in (folder / "scenario.toml").read_text()
    signals = read_signals_csv(folder / "signals.csv")
    assert "manual.Q_set" in signals and all(abs(v - 2.0 / 60_000) < 1e-12 for v in signals["manual.Q_set"])  # m3/s
    assert json.loads((folder / "metrics.json").read_text())["simulated_time_s"] == pytest.approx(3.0)

    app.query_params["view"] = "results"
    (view,) = [r for r in app.radio if r.label == "View"]
    view.set_value("results").run()
    assert not app.exception
    assert any(s.value == "default: ok" for s in app.subheader)
    downloads = {b.proto.label for b in app.get("download_button")}
    assert {"signals.csv", "result.mat", "metrics.json", "events.jsonl", "scenario.toml"} <= downloads


def _two_runs(tmp_path: Path) -> None:
    for copd in (0.0, 1.0):
        orchestrator.run("default", stop_time=2.0, overrides={"patient.copd": copd}, plots=False)


def test_the_compare_view_overlays_two_runs(app, tmp_path):
    _two_runs(tmp_path)
    app.query_params["view"] = "compare"
    app.run()
    assert not app.exception
    (runs,) = [m for m in app.multiselect if m.label == "Runs"]
    assert len(runs.value) == 2
    (signals,) = [m for m in app.multiselect if m.label == "Signals"]
    assert "patient.SpO2" in signals.value
    charts = app.get("vega_lite_chart")
    assert len(charts) == len(signals.value) >= 1
    runs.set_value(runs.value[:1]).run()
    assert any("Choose two or more runs" in i.value for i in app.info)


def test_the_studies_view_shows_a_sweep_table(app, tmp_path):
    sweep = tmp_path / "results" / "sweeps" / "blockage"
    sweep.mkdir(parents=True)
    (sweep / "table.csv").write_text("case_id,psa.blockage,status,spo2_mean_pct\nc1,0.1,ok,90.5\nc2,0.5,ok,88.1\n")
    (sweep / "sweep.json").write_text("{}")
    app.query_params["view"] = "studies"
    app.run()
    assert not app.exception
    assert any(s.value == "sweeps/blockage (sweep, 2 rows)" for s in app.subheader)
    assert len(app.dataframe) == 1 and list(app.dataframe[0].value["spo2_mean_pct"]) == [90.5, 88.1]


def test_the_studies_view_shows_a_comparison_with_its_runs(app, tmp_path):
    comparison = tmp_path / "results" / "compare" / "pid-fuzzy__default"
    comparison.mkdir(parents=True)
    (comparison / "summary.csv").write_text(
        "scenario,controller,runs,spo2_mean_pct\nall,pid,2,91.0\nall,fuzzy,2,92.5\n"
    )
    (comparison / "runs.csv").write_text("controller,scenario,seed,status\npid,default,0,ok\nfuzzy,default,0,ok\n")
    (comparison / "report.md").write_text("# Controller comparison\n")
    app.query_params["view"] = "studies"
    app.run()
    assert not app.exception
    assert any(s.value == "compare/pid-fuzzy__default (comparison, 2 rows)" for s in app.subheader)
    assert [list(d.value.columns)[:2] for d in app.dataframe] == [
        ["scenario", "controller"],
        ["controller", "scenario"],
    ]
    assert list(app.dataframe[0].value["spo2_mean_pct"]) == [91.0, 92.5]
    assert {e.label for e in app.expander} >= {"runs.csv (2 rows)", "report.md"}


def test_a_run_folder_named_in_the_address_must_be_inside_the_results(app, tmp_path):
    _two_runs(tmp_path)
    app.query_params["view"] = "results"
    app.query_params["run"] = "../../etc"
    app.run()
    assert not app.exception
    # an unknown key is not offered: the browser shows the newest run instead of reading elsewhere
    assert any(s.value.startswith("default: ok") for s in app.subheader)
