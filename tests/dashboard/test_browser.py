"""End to end in a real headless browser (Debian's chromium, driven by Playwright) against `o2twin dashboard` started
on a free local port: a run whose live values update, a fault-scenario run whose alarm appears and is acknowledged,
a hardware-in-the-loop run against the virtual device with its link health, then the compare and results views
of these two runs (the tests run in this order, on one dashboard).

The screenshots of docs/figures come from here: O2TWIN_DASHBOARD_FIGURES=docs/figures pytest tests/dashboard -k browser
(by default they go to the test's temporary folder, so a test run changes nothing in the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import orchestrator
from orchestrator.dashboard.browser import DashboardPage, headless_page, unavailable
from orchestrator.dashboard.server import DashboardServer
from tests.dashboard.live_checks import untick_and_tick_a_plot, watch_a_run_update_live

pytestmark = [
    pytest.mark.usefixtures("concentrator_fmus"),
    pytest.mark.skipif(unavailable() is not None, reason=f"no headless browser here: {unavailable()}"),
    # wall-clock waits on a machine that may be loaded: a rerun tells a hiccup from a fault, which fails every time
    pytest.mark.flaky(reruns=1, reruns_delay=2),
]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The dashboard served from a fresh folder (runs write to its results/), and a browser page on it."""
    cwd = tmp_path_factory.mktemp("dashboard")
    with DashboardServer(cwd=cwd, log_path=cwd / "server.log") as server, headless_page() as page:
        yield DashboardPage(page, server.url), cwd


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> Path:
    folder = os.environ.get("O2TWIN_DASHBOARD_FIGURES")
    return Path(folder) if folder else tmp_path_factory.mktemp("figures")


def test_a_fault_scenario_run_updates_live_and_raises_an_alarm_that_can_be_acknowledged(dashboard, figures):
    ui, cwd = dashboard
    ui.open("live")
    # A run long enough to watch: the twin runs at 300-400x real time, so 3600 s take about ten seconds of wall time (the
    # 305 s before the fault scenario's alarm can pass between two refreshes of the page).
    fetched: list[tuple[str, int]] = []  # the live view's own fetches of its data (live_data.py), and their answers
    ui.page.on("response", lambda r: fetched.append((r.url, r.status)) if "/live?token=" in r.url else None)
    watch_a_run_update_live(ui, "default", 3600, 150)
    assert len(fetched) >= 5 and {status for _, status in fetched} == {200}, fetched[:5]  # fetched, not rerun
    ui.start_run("live", "blocked_cannula", 310)  # the cannula kinks at 300 s: OCCLUSION about 5 s later
    ui.wait_until(lambda: "OCCLUSION" in ui.text_of("alarm-panel"), 150, "the OCCLUSION alarm")
    live_values = ui.live_text("live-values")
    assert "Patient SpO2" in live_values and "%" in live_values and "bar(g)" in live_values
    # SpO2, purity, pressures and their zoom, flow, power, temperature: canvases of the live_charts component
    ui.wait_until(lambda: len(ui.live_chart_titles()) >= 7, 30, "the live charts")
    charts = ui.live_chart_titles()
    assert {"Patient SpO2", "O2 purity", "Pressures"} <= set(charts) and len(charts) >= 7, charts
    assert any(": last " in title for title in charts)
    assert "MEDIUM" in ui.text_of("alarm-panel")
    ui.screenshot(figures / "dashboard_live.png")
    ui.keyed("live-ack").get_by_role("button").click()
    ui.wait_until(lambda: "acknowledged" in ui.text_of("alarm-panel"), 30, "the alarm acknowledged")
    ui.wait_for_status("ok", 120)
    assert list((cwd / "results" / "blocked_cannula").glob("2*/metrics.json"))
    untick_and_tick_a_plot(ui, "O2 purity")  # the plots are ticked in the live view (ticked again after)


def test_a_hardware_in_the_loop_run_shows_its_link_health(dashboard, figures, virtual_device):
    ui, cwd = dashboard
    ui.open("hil")
    ui.fill("hil-device", virtual_device)
    ui.start_run("hil", "default", 6)
    ui.wait_until(lambda: " ms" in ui.text_of("link-health"), 60, "the link's latency")
    health = ui.text_of("link-health")
    assert "lost frames" in health and "command latency" in health and "step jitter" in health
    ui.wait_until(lambda: (ui.simulated_time_s() or 0.0) >= 4.0, 30, "4 s of the device run")
    ui.screenshot(figures / "dashboard_hil.png")
    ui.wait_for_status("ok", 60)
    assert list((cwd / "results" / "default").glob("2*/device_samples.csv"))


def test_the_compare_and_results_views_show_the_finished_runs(dashboard, figures):
    ui, cwd = dashboard
    for name in ("blocked_cannula", "default"):  # the runs of the tests above, when this test runs alone
        if not list((cwd / "results" / name).glob("2*/metrics.json")):
            orchestrator.run(name, out=cwd / "results" / name / "20000101-000000", stop_time=2.0)
    ui.open("compare")
    ui.wait_until(lambda: ui.keyed("compare-charts").locator(".stVegaLiteChart").count() >= 1, 60, "compare charts")
    body = ui.page.inner_text("body")
    assert "blocked_cannula/" in body and "default/" in body
    ui.screenshot(figures / "dashboard_compare.png")
    ui.open("results")
    ui.page.get_by_text("Summary metrics").first.wait_for()
    ui.page.get_by_role("button", name="signals.csv").wait_for()
    ui.screenshot(figures / "dashboard_results.png")
