"""End to end in headless chromium (as test_browser.py): the live view where the browser cannot reach the live data
server's port (a proxy that forwards only the dashboard's port), and with `o2twin dashboard --single-port`. Either
way a run's live values update and the fault run's alarm appears, through the dashboard's own port only; with
--single-port a hardware-in-the-loop run's link health and time update as well."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.dashboard.browser import DashboardPage, headless_page, unavailable
from orchestrator.dashboard.server import DashboardServer
from tests.dashboard.live_checks import untick_and_tick_a_plot, watch_a_run_update_live

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = [
    pytest.mark.usefixtures("concentrator_fmus"),
    pytest.mark.skipif(unavailable() is not None, reason=f"no headless browser here: {unavailable()}"),
    pytest.mark.flaky(reruns=1, reruns_delay=2),  # wall-clock waits on a loaded machine, as in test_browser.py
]
FEED = "/live?token="


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux: its socket inodes matched in /proc/net/tcp and tcp6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:] if Path(table).exists() else []:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def watch_a_run_then_a_fault_runs_alarm(ui: DashboardPage) -> None:
    """A 3600 s run whose status line and live values change as it runs, then blocked_cannula's OCCLUSION alarm;
    a plot unticked in the live view goes, and comes back when ticked (the page is told: no fetch names them)."""
    watch_a_run_update_live(ui, "default", 3600, 180)
    ui.start_run("live", "blocked_cannula", 310)  # the cannula kinks at 300 s: OCCLUSION about 5 s later
    ui.wait_until(lambda: "OCCLUSION" in ui.text_of("alarm-panel"), 150, "the OCCLUSION alarm")
    assert "Patient SpO2" in ui.live_text("live-values")
    ui.wait_until(lambda: len(ui.live_chart_titles()) >= 7, 30, "the live charts")
    ui.wait_for_status("ok", 120)
    untick_and_tick_a_plot(ui, "O2 purity")


def test_a_live_view_that_cannot_reach_the_data_port_goes_through_the_dashboards_port(tmp_path):
    """The browser's requests to the data server fail (aborted, as a proxy forwarding one port refuses them): after
    a few failed fetches the page says so and the live view keeps updating through Streamlit's port."""
    with DashboardServer(cwd=tmp_path, log_path=tmp_path / "server.log") as server, headless_page() as page:
        failed: list[str] = []

        def refuse(route: Route) -> None:
            failed.append(route.request.url)
            route.abort("connectionrefused")

        page.route(f"**{FEED}*", refuse)
        ui = DashboardPage(page, server.url)
        ui.open("live")
        watch_a_run_then_a_fault_runs_alarm(ui)
        assert len(failed) >= 3  # it did try the data server first
        note = ui.page.get_by_text("Live view in single-port mode")
        assert note.count() == 1 and "not reachable from the browser" in note.inner_text()
        assert len(listening_ports(server.process.pid)) == 2  # type: ignore[union-attr]  # the data server's too


def test_a_dashboard_started_with_single_port_serves_the_live_view_through_its_own_port(tmp_path, virtual_device):
    with DashboardServer(cwd=tmp_path, log_path=tmp_path / "server.log", single_port=True) as server:
        with headless_page() as page:
            fetched: list[str] = []
            page.on("request", lambda r: fetched.append(r.url) if FEED in r.url else None)
            ui = DashboardPage(page, server.url)
            ui.open("live")
            watch_a_run_then_a_fault_runs_alarm(ui)
            assert fetched == []  # no fetch to a data server: the live data came in the component's arguments
            assert "started with --single-port" in ui.page.get_by_text("Live view in single-port mode").inner_text()
            # the hardware-in-the-loop page shares the live view: the link's health and the run's time update too
            ui.open("hil")
            ui.fill("hil-device", virtual_device)
            ui.start_run("hil", "default", 6)
            ui.wait_until(lambda: " ms" in ui.text_of("link-health"), 60, "the link's latency")
            ui.wait_until(lambda: (ui.simulated_time_s() or 0.0) >= 4.0, 30, "4 s of the device run")
            ui.wait_for_status("ok", 60)
            assert fetched == []
        assert listening_ports(server.process.pid) == {server.port}  # type: ignore[union-attr]  # no data server
