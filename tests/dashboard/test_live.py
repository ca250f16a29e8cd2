"""A live run from the dashboard's side: the worker runs the public pipeline (open_run) and what it reports is
exactly what the run records; pause, stop, definition errors, a dying worker, hardware in the loop."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest

from orchestrator.dashboard.live import LiveRun, RunManager
from orchestrator.dashboard.protocol import RunRequest
from orchestrator.errors import O2TwinError
from orchestrator.results.events import read_events
from orchestrator.results.signals import read_signals_csv

pytestmark = pytest.mark.usefixtures("concentrator_fmus")


def wait_for(condition, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_live_feed_is_what_the_run_records(in_tmp):
    request = RunRequest("blocked_cannula", overrides={"patient.copd": 1.0}, stop_time=40.0)
    run = LiveRun.start(request)
    assert run.wait(120), "the run did not end"
    state = run.state
    assert state.status == "ok", state.error
    assert state.out_dir is not None and (in_tmp / state.out_dir).is_dir()
    recorded = read_signals_csv(in_tmp / state.out_dir / "signals.csv")
    assert np.array_equal(state.columns["time"], recorded["time"])
    assert {"patient.SpO2", "psa.p_feed", "psa.y_O2_product", "compressor.power", "compressor.T_head"} <= set(
        state.signals
    )
    for name in state.signals:  # bit for bit (NaN where the run recorded NaN: an oximeter without a reading)
        assert np.array_equal(np.asarray(state.columns[name], dtype=float), recorded[name], equal_nan=True), name
    logged = read_events(in_tmp / state.out_dir)
    assert [e["text"] for e in state.events] == [e["text"] for e in logged]
    # the COPD patient desaturates on the cold start: the watchdog raises alarms, and the board follows the log
    alarm_events = [e for e in logged if "name" in e and "active" in e]
    assert any(e["active"] for e in alarm_events)
    last_state = {e["name"]: e["active"] for e in alarm_events}
    assert set(state.alarms.active) == {name for name, active in last_state.items() if active}
    for name in last_state:
        assert state.alarms.raised.get(name, 0) == sum(e["active"] for e in alarm_events if e["name"] == name)
    assert state.result is not None and state.result["summary"]["alarms_raised"] >= 1
    assert state.parameters["titrator.spo2_target_low"] == 0.88


def test_pause_holds_the_run_and_stop_ends_it_as_stopped(in_tmp):
    run = LiveRun.start(RunRequest("default"))
    wait_for(lambda: run.state.time_s > 2.0, what="the run to start")
    run.pause()
    wait_for(lambda: run.state.status == "paused", 10, "the pause")
    held = run.state.time_s
    time.sleep(1.0)
    assert run.state.time_s == held and run.state.status == "paused"
    run.resume()
    wait_for(lambda: run.state.time_s > held + 1.0, 30, "the run to go on")
    run.stop()
    assert run.wait(60)
    assert run.state.status == "stopped"
    metrics = json.loads((in_tmp / run.state.out_dir / "metrics.json").read_text())
    assert metrics["status"] == "stopped" and held < metrics["simulated_time_s"] < 600.0


def test_a_definition_error_is_reported_and_nothing_is_written(in_tmp):
    run = LiveRun.start(RunRequest("default", overrides={"nope.k": 1}))
    assert run.wait(60)
    assert run.state.status == "error" and "no slave 'nope'" in (run.state.error or "")
    assert not (in_tmp / "results").exists()


def test_a_worker_that_dies_is_reported(in_tmp):
    run = LiveRun.start(RunRequest("default"))
    wait_for(lambda: run.state.status == "running", what="the run to start")
    os.kill(run.process.pid, signal.SIGKILL)
    assert run.wait(30)
    assert run.state.status == "error" and "ended unexpectedly (exit code -9)" in (run.state.error or "")


def test_one_run_at_a_time(in_tmp):
    manager = RunManager()
    first = manager.start(RunRequest("default", stop_time=1.0))
    with pytest.raises(O2TwinError, match="a run is in progress"):
        manager.start(RunRequest("default", stop_time=1.0))
    assert first.wait(60) and first.state.status == "ok"
    second = manager.start(RunRequest("default", overrides={"nope.k": 1}))  # ended runs do not block new ones
    assert manager.current is second and second.wait(60) and second.state.status == "error"


@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_a_hardware_in_the_loop_run_reports_its_link_health(in_tmp, virtual_device):
    run = LiveRun.start(RunRequest("default", stop_time=3.0, plant=virtual_device))
    assert run.wait(60)
    state = run.state
    assert state.status == "ok", state.error
    assert state.hil_enabled and state.hil is not None
    assert state.hil["frames"] > 0 and state.hil["dropped"] == 0
    assert state.hil["command_latency_p50_ms"] > 0 and state.hil["realtime"]["steps"] > 0
    assert state.hil["url"] == virtual_device


def test_a_hardware_in_the_loop_run_is_never_paused(in_tmp, virtual_device):
    """The page offers no pause for a device run; the worker holds to it too: a paused host sends no commands, and
    the device goes to its fail-safe (compressor off, beds vented) after its command timeout."""
    run = LiveRun.start(RunRequest("default", stop_time=3.0, plant=virtual_device))
    wait_for(lambda: run.state.time_s > 0.5 or run.state.status != "running", 60, "the run's first second")
    run.pause()
    assert run.wait(30), "a paused device run must go on to its end"
    assert run.state.status == "ok", run.state.error
    assert run.state.time_s == pytest.approx(3.0)
