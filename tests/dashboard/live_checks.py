"""Checks of the live view shared by the browser tests (test_browser.py, test_browser_single_port.py)."""

from __future__ import annotations

import time

from orchestrator.dashboard.browser import DashboardPage


def watch_a_run_update_live(ui: DashboardPage, scenario: str, stop_time_s: float, timeout_s: float) -> None:
    """Start a run on the live page and watch it to its end: several distinct, increasing simulated times and
    changing live values must show while it runs."""
    ui.start_run("live", scenario, stop_time_s)
    seen: list[float] = []
    values: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while "status ok" not in ui.status_text():
        assert time.monotonic() < deadline, ui.status_text()
        t = ui.simulated_time_s()
        if t is not None and (not seen or t != seen[-1]):
            seen.append(t)
        values.add(ui.live_text("live-values"))
        time.sleep(0.2)
    assert len(seen) >= 3 and seen == sorted(seen), seen
    assert len(values - {""}) >= 3, values


def untick_and_tick_a_plot(ui: DashboardPage, title: str) -> None:
    """Untick a plot in the live view: its chart goes and the others stay; ticked again, it comes back."""
    box = ui.live_frame().get_by_role("checkbox", name=title)
    box.uncheck()
    ui.wait_until(lambda: title not in ui.live_chart_titles(), 30, f"the {title} chart gone")
    assert "Patient SpO2" in ui.live_chart_titles()
    box.check()
    ui.wait_until(lambda: title in ui.live_chart_titles(), 30, f"the {title} chart back")
