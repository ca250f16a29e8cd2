"""The live view's data: what the live_charts component shows (status line, progress, newest values, charts), built
from the LiveState, and the small HTTP server the component fetches it from while the run goes on.

Redrawing the live view by rerunning Streamlit's script costs the browser some 60 ms of CPU per redraw even for a
status line alone (Streamlit's own work per rerun), on a machine where every core the page takes is time the run
loses (docs/dashboard.md, "Benchmark"). So the component fetches ``GET /live`` every REFRESH_S and redraws its
canvases and text; Streamlit reruns the fragment only when the LiveState's revision changes (status, alarms,
events, link figures).

The server listens on the dashboard's own address (127.0.0.1 unless ``--host`` says otherwise) on a free port, and
answers only ``GET /live?token=TOKEN&plots=I,J,...``: the current run's live data, the plots named by their
index in the run's plot list (the ones ticked in the live view). The token (random, per dashboard process) is handed to the page in the component's
arguments, so a page from elsewhere cannot read the feed; the request names no file and no path.
"""

from __future__ import annotations

import hmac
import http.server
import json
import logging
import secrets
import socket
import threading
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.dashboard.charts import PlotView, displayed, plot_views, spo2_band, zoom_window_s
from orchestrator.dashboard.live_charts import chart_payload

if TYPE_CHECKING:
    from orchestrator.dashboard.live import LiveState, RunManager

log = logging.getLogger(__name__)

#: Points per line in a live chart (Series.envelope: the lowest and highest value of each of LIVE_POINTS / 2 bins):
#: the browser's work per redraw grows with the points it draws.
LIVE_POINTS = 200
VALUES_PER_ROW = 3
#: At most this many plots per request (a scenario has a handful).
MAX_PLOTS = 64
#: A piece of text and whether it is drawn bold.
Span = tuple[str, bool]


def live_payload(state: LiveState, chosen: Sequence[int]) -> dict[str, Any]:
    """What the live view draws: {revision, active, status_line, progress, caption, plots (every plot's title),
    chosen, values, charts}; ``chosen``: indices into the run's plots (others ignored). The revision is read first,
    so data newer than it is never missed."""
    revision = state.revision
    wanted = set(chosen)
    every = plot_views(state.plots)
    views = [v for i, v in enumerate(every) if i in wanted]
    latest = state.latest()
    span = max(state.stop_time_s - state.start_time_s, 1e-9)
    return {
        "revision": revision,
        "active": state.active,
        "status_line": status_line(state),
        "progress": min(max((state.time_s - state.start_time_s) / span, 0.0), 1.0),
        "caption": None if state.out_dir is None else f"results: {state.out_dir}",
        "plots": [v.title for v in every],
        "chosen": [i for i in range(len(every)) if i in wanted],
        "values": value_rows(state, views, latest),
        "charts": charts(state, views, latest) if state.signals else [],
    }


def status_line(state: LiveState) -> list[Span]:
    """NAME · status STATUS · simulated time T s of STOP s."""
    line: list[Span] = [(state.name or state.request.scenario, True), (" · status ", False), (state.status, True)]
    line += [(" · simulated time ", False), (f"{state.time_s:.1f} s", True)]
    if state.stop_time_s:
        line.append((f" of {state.stop_time_s:g} s", False))
    return line


def value_rows(state: LiveState, views: list[PlotView], latest: dict[str, float]) -> list[list[Span]]:
    """The newest value of the first signal of each plot, in display units, VALUES_PER_ROW a row."""
    cells: list[list[Span]] = []
    for view in views:
        if not view.signals or view.signals[0] not in latest:
            continue
        signal = view.signals[0]
        label, converters = view.label_and_converters(state.units)
        value = float(converters[signal](latest[signal]))
        cells.append([(f"{view.title} ({signal}) ", False), (f"{value:.3g} {label.split(',')[0]}", True)])
    rows = []
    for i in range(0, len(cells), VALUES_PER_ROW):
        row: list[Span] = []
        for k, cell in enumerate(cells[i : i + VALUES_PER_ROW]):
            row += ([(" · ", False)] if k else []) + cell
        rows.append(row)
    return rows


def charts(state: LiveState, views: list[PlotView], latest: dict[str, float]) -> list[dict[str, Any]]:
    """The chosen plots (chart_payload); the SpO2 plot with its target band, a pressure plot followed by a zoom on
    its last PSA cycles, drawn from every sample of that window (at most LIVE_POINTS a line)."""
    band = spo2_band(state.parameters)
    out: list[dict[str, Any]] = []
    for view in views:
        shown, label = displayed(state.series(view.signals, max_points=LIVE_POINTS), view, state.units)
        out.append(chart_payload(shown, view.title, label, band if view.is_spo2 else None))
        if view.is_pressure:
            window = zoom_window_s(latest)
            recent = state.series(view.signals, since_s=state.time_s - window, max_points=LIVE_POINTS)
            zoomed, label = displayed(recent, view, state.units)
            out.append(chart_payload(zoomed, f"{view.title}: last {window:.0f} s", label))
    return out


def parse_plots(text: str) -> list[int] | None:
    """The ``plots`` argument: comma-separated indices (at most MAX_PLOTS); None if it is anything else."""
    if text == "":
        return []
    parts = text.split(",")
    if len(parts) > MAX_PLOTS or not all(p.isascii() and p.isdigit() and len(p) <= 3 for p in parts):
        return None
    return [int(p) for p in parts]


class _IPv6Server(http.server.ThreadingHTTPServer):
    """For a dashboard on an IPv6 address (``--host ::1``)."""

    address_family = socket.AF_INET6


class LiveDataServer:
    """``GET /live`` for the live_charts component, in a thread of the dashboard's process (module docstring)."""

    def __init__(self, manager: RunManager, host: str = "127.0.0.1", port: int = 0) -> None:
        self.manager = manager
        self.token = secrets.token_urlsafe(24)
        server_class = _IPv6Server if ":" in host else http.server.ThreadingHTTPServer
        self._http = server_class((host, port), self._handler())
        self._http.daemon_threads = True
        self.host, self.port = str(self._http.server_address[0]), int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True, name="dashboard live data")

    def start(self) -> LiveDataServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for a request path."""
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        token = (query.get("token") or [""])[0]
        if url.path != "/live":
            return 404, {"error": "not found"}
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return 403, {"error": "forbidden"}
        chosen = parse_plots((query.get("plots") or [""])[0])
        if chosen is None:
            return 400, {"error": "plots: comma-separated plot numbers"}
        run = self.manager.current
        if run is None:
            return 200, {"revision": -1, "active": False, "status_line": [], "progress": 0, "caption": None,
                         "plots": [], "chosen": [], "values": [], "charts": []}  # fmt: skip
        return 200, live_payload(run.state, chosen)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the name http.server calls
                code, body = server.answer(self.path)
                data = json.dumps(body, allow_nan=False).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Access-Control-Allow-Origin", "*")  # the page's origin differs by port; token-gated
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("live data: " + format, *args)

        return Handler
