"""The dashboard in a real headless browser: Debian's chromium driven by Playwright (extra ``.[dashboard]``).

The end-to-end test, the screenshots in docs/figures and the benchmark (scripts/bench_dashboard.py) share this
code. Playwright drives the system's chromium (``CHROMIUM``): ``playwright install`` (which downloads a browser of
its own) is never needed. ``unavailable()`` says why a browser cannot run here, for a test to skip with.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = "/usr/bin/chromium"
#: Flags that work in containers without a GPU, a sandbox or a network (Playwright adds --headless itself).
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1500, "height": 1000}


def unavailable() -> str | None:
    """Why the browser cannot run here (None: it can)."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install 'o2twin[dashboard]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian: apt-get install chromium chromium-driver; .ci/run installs it)"
    return None


@contextlib.contextmanager
def headless_page() -> Iterator[Page]:
    """A page of a fresh headless chromium (its own profile folder, removed afterwards)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="o2twin-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=list(CHROMIUM_FLAGS),
                viewport=VIEWPORT,  # type: ignore[arg-type]
            )
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class DashboardPage:
    """A user at the dashboard: opens views, sets up and starts runs, reads what the page shows."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.page.set_default_timeout(30_000)

    def open(self, view: str) -> None:
        self.page.goto(f"{self.url}/?view={view}")
        self.page.get_by_role("heading").first.wait_for()
        self.settle()

    def settle(self) -> None:
        """Wait until the app's script run has finished (Streamlit shows a running indicator meanwhile)."""
        with contextlib.suppress(Exception):
            self.page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=30_000)

    def keyed(self, key: str) -> Locator:
        """The element of the widget or container created with key=KEY."""
        return self.page.locator(f".st-key-{key}")

    def choose_scenario(self, view: str, name: str) -> None:
        """Pick a named scenario: type its name into the select box and take the option."""
        from playwright.sync_api import Error as PlaywrightError

        box = self.keyed(f"{view}-name").locator("input")
        for attempt in range(3):  # a redraw of the page can close the list under the pointer: open it again
            try:
                box.click()
                box.fill(name)
                self.page.get_by_role("option", name=name, exact=True).click(timeout=5_000)
                break
            except PlaywrightError:  # a timeout or a detached element after a redraw
                if attempt == 2:
                    raise
                self.settle()
        self.settle()

    def fill(self, key: str, text: str, selector: str = "input") -> None:
        """Type into a text or number input and commit it (Enter), as a user does."""
        field = self.keyed(key).locator(selector)
        field.fill(text)
        field.press("Control+Enter" if selector == "textarea" else "Enter")
        self.settle()

    def start_run(self, view: str, scenario: str, stop_time_s: float, overrides: str = "") -> None:
        self.choose_scenario(view, scenario)
        self.fill(f"{view}-stop", f"{stop_time_s:g}")
        if overrides:
            self.fill(f"{view}-set", overrides, "textarea")
        start = self.page.get_by_role("button", name="Start", exact=True)
        start.wait_for()
        self.wait_until(lambda: start.is_enabled(), 30, "the Start button to be enabled")
        start.click()

    def watch_status(self) -> None:
        """Record, inside the page, the time of every change of the live status line (see status_changes); a
        script in the page costs far less than reading the page from here every few milliseconds, and textContent
        (unlike innerText) needs no layout of the page, so the watching costs the browser almost nothing. The line
        is drawn by the live_charts component, in its frame (same origin as the page)."""
        self.page.evaluate(
            """() => {
                window.__o2twinChanges = [];
                let last = null;
                setInterval(() => {
                    const frame = document.querySelector("iframe[title$='live_charts']");
                    const doc = frame ? frame.contentDocument : null;
                    const el = doc ? doc.getElementById('live-status') : null;
                    const text = el ? el.textContent : null;
                    if (text && text !== last) {
                        last = text;
                        window.__o2twinChanges.push([performance.now() / 1000, text]);
                    }
                }, 25);
            }"""
        )

    def status_changes(self) -> list[tuple[float, str]]:
        """(page time in s, status text) at every change since watch_status()."""
        return [(float(t), str(text)) for t, text in self.page.evaluate("() => window.__o2twinChanges || []")]

    def live_chart_titles(self) -> list[str]:
        """The titles of the live charts the page has drawn (canvases in the live_charts component's frame)."""
        return [
            str(t)
            for t in self.live_frame()
            .locator("canvas")
            .evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
        ]

    def live_frame(self) -> Any:
        """The live_charts component's frame (status line, values and charts of the live view)."""
        return self.page.frame_locator("iframe[title$='live_charts']")

    def live_text(self, element_id: str) -> str:
        """The text of an element of the live view ("live-status", "live-values"); "" while it is not drawn."""
        try:
            return self.live_frame().locator(f"#{element_id}").inner_text(timeout=2_000)
        except Exception:  # not drawn yet, or being redrawn
            return ""

    def status_text(self) -> str:
        """The live status line: NAME · status STATUS · simulated time T s of STOP s."""
        return self.live_text("live-status")

    def simulated_time_s(self) -> float | None:
        found = re.search(r"simulated time ([0-9.]+) s", self.status_text())
        return float(found.group(1)) if found else None

    def wait_for_status(self, status: str, timeout_s: float = 120.0) -> None:
        self.wait_until(lambda: f"status {status}" in self.status_text(), timeout_s, f"status {status}")

    def text_of(self, key: str) -> str:
        """The element's text, or "" while the page does not show it (yet)."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            return self.keyed(key).inner_text(timeout=2_000)
        except PlaywrightError:
            return ""

    def wait_until(self, condition: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dashboard did not show {what} within {timeout_s:g} s")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path
