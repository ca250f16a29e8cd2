"""The live view's data path: the worker's packed samples, the page's sample table, what the live_charts component
fetches (status line, values, charts, the zoom at full resolution) and the server it fetches from (token, plots,
nothing else), and when the page's Streamlit part is asked to rerun (LiveState.revision)."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.dashboard.live import LiveRun, LiveState, RunManager, SampleTable
from orchestrator.dashboard.live_data import LIVE_POINTS, LiveDataServer, live_payload, parse_plots
from orchestrator.dashboard.protocol import RunRequest, decode, encode, pack_rows, unpack_rows

SIGNALS = ["psa.p_feed", "patient.SpO2", "psa.cycle_time"]
PLOTS = [
    {"title": "Pressures", "signals": ["psa.p_feed"], "unit": "bar(g)"},
    {"title": "Patient SpO2", "signals": ["patient.SpO2"], "unit": "%"},
    {"title": "PSA cycle time", "signals": ["psa.cycle_time"], "unit": None},
]


@given(st.lists(st.tuples(*[st.floats(allow_nan=True, allow_infinity=True)] * 3), max_size=50))
def test_packed_rows_come_back_bit_for_bit(rows):
    """Samples go from the worker to the page as float64 bytes: every value, NaN and infinities included."""
    message = decode(encode({"kind": "data", "rows": [list(r) for r in rows]}))
    back = unpack_rows(message["rows"], 3)
    assert back.shape == (len(rows), 3)
    assert np.array_equal(back, np.asarray(rows, dtype=float).reshape(-1, 3), equal_nan=True)


def test_the_sample_table_grows_and_keeps_what_it_handed_out():
    table = SampleTable(["a"])
    first = np.column_stack([np.arange(1000.0), -np.arange(1000.0)])
    table.append(first)
    handed_out = table.column("a")
    table.append(np.column_stack([np.arange(1000.0, 5000.0), -np.arange(1000.0, 5000.0)]))  # grows past 1024 rows
    assert table.n == 5000 and np.array_equal(handed_out, -np.arange(1000.0))
    assert np.array_equal(table.column("time"), np.arange(5000.0)) and table.latest() == {"time": 4999.0, "a": -4999.0}


def fed_state(rows: np.ndarray, events: list[dict] | None = None) -> LiveState:
    """A LiveState fed the messages a worker sends (protocol.encode, then decode, as the page reads them)."""
    state = LiveState(RunRequest("default", stop_time=600.0))
    parameters = {"titrator.spo2_target_low": 0.88, "titrator.spo2_target_high": 0.92}
    started = {"kind": "started", "name": "default", "out_dir": "results/default/x", "start_time_s": 0.0,
               "stop_time_s": 600.0, "signals": SIGNALS, "units": {"psa.p_feed": "Pa", "patient.SpO2": "1",
               "psa.cycle_time": "s"}, "plots": PLOTS, "parameters": parameters, "hil": False}  # fmt: skip
    state.apply(decode(encode(started)))
    state.apply(decode(encode({"kind": "data", "time_s": float(rows[-1, 0]), "rows": rows.tolist(),
                               "events": events or [], "paused": False})))  # fmt: skip
    return state


def samples(n: int, dt_s: float = 0.1) -> np.ndarray:
    t = np.arange(n) * dt_s
    pressure = 101325.0 + 1e5 * (1 + np.sin(2 * math.pi * t / 7.5))  # Pa absolute: 0-2 bar(g)
    return np.column_stack([t, pressure, 0.9 + 0.01 * np.sin(t / 50), np.full(n, 7.5)])


def test_the_payload_has_the_status_line_values_and_chosen_charts_with_a_full_resolution_zoom():
    rows = samples(6000)
    payload = json.loads(json.dumps(live_payload(fed_state(rows), [0, 1]), allow_nan=False))
    line = "".join(text for text, _ in payload["status_line"])
    assert line == "default · status running · simulated time 599.9 s of 600 s"
    assert payload["active"] and payload["progress"] == pytest.approx(599.9 / 600) and payload["chosen"] == [0, 1]
    assert payload["plots"] == ["Pressures", "Patient SpO2", "PSA cycle time"]
    values = "".join(text for row in payload["values"] for text, _ in row)
    assert "Pressures (psa.p_feed) " in values and " bar(g)" in values and "Patient SpO2 (patient.SpO2) " in values
    assert "PSA cycle time" not in values  # not chosen
    whole, zoom, spo2 = payload["charts"]
    assert [whole["title"], zoom["title"], spo2["title"]] == ["Pressures", "Pressures: last 15 s", "Patient SpO2"]
    assert len(whole["time"]) <= LIVE_POINTS and spo2["band"] == [88.0, 92.0]
    # the zoom: the last two PSA cycles (15 s), every sample of them, in bar(g)
    recent = rows[rows[:, 0] >= rows[-1, 0] - 15.0]
    assert zoom["time"] == pytest.approx(recent[:, 0].tolist())
    assert zoom["lines"]["psa.p_feed"] == pytest.approx(((recent[:, 1] - 101325.0) / 1e5).tolist(), abs=1e-6)
    # the long chart keeps the whole swing of the oscillation however thinned
    assert min(whole["lines"]["psa.p_feed"]) == pytest.approx(0.0, abs=1e-3)
    assert max(whole["lines"]["psa.p_feed"]) == pytest.approx(2.0, abs=1e-3)


def test_the_page_reruns_only_for_what_its_streamlit_part_shows():
    state = fed_state(samples(10))
    before = state.revision
    state.apply({"kind": "data", "time_s": 2.0, "rows": pack_rows(samples(10)[:, :4].tolist()), "events": []})
    state.apply({"kind": "closing"})
    assert state.revision == before  # samples and the results being written: the live view's own
    state.apply({"kind": "data", "time_s": 3.0, "events": [{"time": 3.0, "source": "watchdog", "text": "LOW_SPO2",
                 "name": "LOW_SPO2", "priority": "medium", "active": True}]})  # fmt: skip
    assert state.revision == before + 1 and [a.name for a in state.active_alarms()] == ["LOW_SPO2"]
    state.apply({"kind": "finished", "status": "ok"})
    assert state.revision == before + 2 and not state.active


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", []), ("0,2,5", [0, 2, 5]), ("1,x", None), ("../etc", None), ("-1", None), ("1" * 4, None)],
)
def test_the_plots_argument_is_plot_numbers_only(text, expected):
    assert parse_plots(text) == expected


class FinishedRun:
    """What RunManager.current holds, for the server's point of view: a run and its state."""

    def __init__(self, state: LiveState) -> None:
        self.state = state


def get(url: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def test_the_live_data_server_answers_only_the_token_holder_with_the_current_runs_data():
    manager = RunManager()
    server = LiveDataServer(manager, "127.0.0.1").start()
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        base = f"http://127.0.0.1:{server.port}"
        code, body, _ = get(f"{base}/live?token={server.token}&plots=0")
        assert code == 200 and body["revision"] == -1 and body["charts"] == []  # no run yet
        run: LiveRun = FinishedRun(fed_state(samples(100)))  # type: ignore[assignment]
        manager.current = run
        code, body, headers = get(f"{base}/live?token={server.token}&plots=1")
        assert code == 200 and [c["title"] for c in body["charts"]] == ["Patient SpO2"]
        assert headers["Cache-Control"] == "no-store" and headers["Content-Type"] == "application/json"
        assert get(f"{base}/live?token=nope&plots=1")[0] == 403
        assert get(f"{base}/live?plots=1")[0] == 403
        assert get(f"{base}/live?token={server.token}&plots=/etc/passwd")[0] == 400
        assert get(f"{base}/results/default?token={server.token}")[0] == 404
    finally:
        server.close()


@pytest.mark.parametrize(("host", "url_host"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_the_live_data_server_listens_on_the_dashboards_own_address(host, url_host):
    server = LiveDataServer(RunManager(), host).start()
    try:
        assert server.host == host
        assert get(f"http://{url_host}:{server.port}/live?token={server.token}")[0] == 200
    finally:
        server.close()
