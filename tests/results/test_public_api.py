"""The public Python API end to end: `orchestrator.run` and `orchestrator.open_run` on the default scenario."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pandas as pd
import pytest

import orchestrator
from orchestrator.errors import SystemDefinitionError


def test_run_returns_metrics_events_paths_and_signals(tmp_path):
    result = orchestrator.run("default", out=tmp_path / "r", stop_time=3.0, overrides={"patient.copd": 0.0})
    assert result.ok and result.exit_code == 0 and result.status == "ok"
    assert result.metrics["simulated_time_s"] == pytest.approx(3.0)
    assert {"signals.csv", "result.mat", "metrics.json", "events.jsonl", "scenario.toml"} <= set(result.paths)
    frame = result.signals
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "time"
    assert frame.index[0] == 0.0 and frame.index[-1] == pytest.approx(3.0)
    assert "patient.SpO2" in frame.columns and frame["patient.SpO2"].between(0, 1).all()
    assert isinstance(result.events, list)
    # the override reached the slave: the scenario saved with the results carries it
    assert "copd = 0.0" in (result.out_dir / "scenario.toml").read_text()
    fig = result.plot(["patient.SpO2"])
    assert fig.axes[0].get_lines()


def test_open_run_steps_and_closes_as_stopped(tmp_path):
    with orchestrator.open_run("default", out=tmp_path / "s", stop_time=10.0, plots=False) as session:
        session.advance(until=1.0)
        t1 = session.simulation.time
        session.advance(until=2.0)
        assert (t1, session.simulation.time) == (pytest.approx(1.0), pytest.approx(2.0))
        result = session.close()
    assert result.status == "stopped" and result.metrics["simulated_time_s"] == pytest.approx(2.0)
    assert result.signals.index[-1] == pytest.approx(2.0)


def test_definition_errors_raise_before_any_results_dir(tmp_path):
    with pytest.raises(SystemDefinitionError, match="no slave 'nope'"):
        orchestrator.run("default", out=tmp_path / "x", overrides={"nope.k": 1})
    assert not (tmp_path / "x").exists()


def _cli_stderr_on_a_terminal(args: list[str], cwd) -> str:
    """Run `o2twin ARGS` with stderr on a pseudo-terminal (where a progress bar would show) and return it."""
    main_fd, sub_fd = pty.openpty()
    fcntl.ioctl(sub_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a terminal 120 columns wide
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, stderr=sub_fd,
                            stdout=subprocess.DEVNULL)  # fmt: skip
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 4096)
        except OSError:  # the pty is closed once the child exits
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main_fd)
    assert proc.returncode == 0
    return b"".join(chunks).decode(errors="replace")


def test_quiet_flag_before_the_command_hides_the_progress_bar(tmp_path):
    common = ["run", "default", "--stop-time", "20", "--no-plots", "--overwrite", "--out", str(tmp_path / "q")]
    assert "s sim" in _cli_stderr_on_a_terminal(common, tmp_path)  # the bar shows on a terminal...
    assert "s sim" not in _cli_stderr_on_a_terminal(["-q", *common], tmp_path)  # ...and -q hides it
    # `o2twin -q` alone runs the default scenario, still quietly (it used to re-parse without sys.argv)
    assert "s sim" not in _cli_stderr_on_a_terminal(["-q"], tmp_path)
    assert (tmp_path / "results" / "default" / "latest" / "metrics.json").is_file()


def test_the_documented_example_runs(tmp_path):
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "run_from_python.py"
    done = subprocess.run([sys.executable, str(example), "--stop-time", "6", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "stepped run: ok" in done.stderr
    assert (tmp_path / "whole" / "api_plot.png").stat().st_size > 0


def test_a_slave_asking_to_stop_ends_the_run_as_terminated(reference_fmus, tmp_path):
    """Reference FMU Stair sets fmi2Terminated at t = 9 s: the run ends there, cleanly, with exit code 0."""
    scenario = tmp_path / "stair.toml"
    scenario.write_text(
        f'[scenario]\nstop_time = 20.0\n[master]\nstep = 0.2\n[slaves.stair]\nfmu = "{reference_fmus["Stair"]}"\n'
        '[outputs]\nrecord = ["stair.counter"]\n'
    )
    result = orchestrator.run(scenario, out=tmp_path / "out", plots=False)
    assert (result.status, result.exit_code, result.failed_at) == ("terminated", 0, None)
    assert result.metrics["status"] == "terminated" and result.metrics["simulated_time_s"] < 20.0
    assert any(e["text"].startswith("terminated:") for e in result.events)
