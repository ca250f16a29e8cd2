"""`o2twin sweep`: grids and seeds from the command line, a sweep file, clear errors, Ctrl-C and resuming."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time

import pandas as pd
import pytest

from orchestrator.cli.main import main
from orchestrator.paths import PROJECT_ROOT
from tests.sweep.conftest import ALLOW

ALLOW_ARGS = [arg for module in ALLOW for arg in ("--allow-module", module)]


def test_a_grid_with_seeds_from_the_command_line(tiny_scenario, tmp_path, capsys):
    out = tmp_path / "study"
    code = main(["-q", "sweep", str(tiny_scenario), "--grid", "lag.k=1:3:3", "--seeds", "2", "--stop-time", "1.0",
                 "--set", "src.level=2.0", "--workers", "2", "--out", str(out), *ALLOW_ARGS])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "cases      6" in printed and "failed     0" in printed
    table = pd.read_parquet(out / "table.parquet")
    assert list(table["lag.k"]) == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0] and list(table["seed"]) == [0, 1] * 3
    assert (table["src.level"] == 2.0).all() and (table["simulated_time_s"] == 1.0).all()
    assert (table["points"] == 11).all()  # 1 s at 0.1 s: the stop time reached every case


def test_samples_and_failures_set_the_exit_code(tiny_scenario, tmp_path, capsys):
    out = tmp_path / "lhs"
    code = main(["-q", "sweep", str(tiny_scenario), "--sample", "lag.fail_time=0.5:4", "--samples", "4", "--seed",
                 "3", "--workers", "2", "--out", str(out), *ALLOW_ARGS])  # fmt: skip
    table = pd.read_csv(out / "table.csv")
    # one Latin-hypercube point in each quarter of 0.5..4 s: the cases failing before the 2 s stop time failed
    assert sorted((table["lag.fail_time"] - 0.5) // 0.875) == [0, 1, 2, 3]
    assert list(table["status"]) == ["failed" if t < 2.0 else "ok" for t in table["lag.fail_time"]]
    assert code == 3 and "failed     2" in capsys.readouterr().out


def test_a_sweep_file_and_a_dry_run(tiny_scenario, tmp_path, capsys):
    study = tiny_scenario.parent / "gains.toml"
    study.write_text('[sweep]\nscenario = "tiny"\nseeds = [4, 5]\n[grid]\n"lag.k" = [0.5, 1.5]\n', encoding="utf-8")
    assert main(["sweep", str(study), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "4 cases" in listing and "lag.k=1.5 seed=5" in listing
    out = tmp_path / "from_file"
    assert main(["-q", "sweep", str(study), "--workers", "1", "--out", str(out), "--no-plots", *ALLOW_ARGS]) == 0
    table = pd.read_csv(out / "table.csv")
    assert list(zip(table["lag.k"], table["seed"], strict=True)) == [(0.5, 4), (0.5, 5), (1.5, 4), (1.5, 5)]
    assert not (out / "plots").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "lag.k"], "--grid 'lag.k': expected SLAVE.PARAMETER=VALUES"),
        (["--grid", "lag.kk=1,2"], "lag.kk: lag has no parameter 'kk' (did you mean 'k'?)"),
        (["--samples", "3"], "--samples N and --sample SLAVE.PARAM=LOW:HIGH go together"),
        (["--sample", "lag.k=2:1", "--samples", "3"], "--sample 'lag.k=2:1': the range 2:1 must be finite"),
        (["--seeds", "many"], "--seeds 'many'"),
        (["--scheduler", "somewhere"], "--scheduler somewhere: give the scheduler's address"),
        (["--workers", "0"], "--workers 0: give at least 1 worker"),
        (["--cases-per-task", "0"], "--cases-per-task '0': give a whole number of cases of at least 1, or auto"),
        (["--cases-per-task", "two"], "--cases-per-task 'two': give a whole number of cases of at least 1, or auto"),
        (["--cases-per-task", "1.5"], "--cases-per-task '1.5': give a whole number"),
        (["--cases-per-task", "4"], "--cases-per-task (cases_per_task) is for a Dask cluster (--scheduler or"),
    ],
)
def test_bad_options_give_one_clear_error(tiny_scenario, tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    assert main(["sweep", str(tiny_scenario), "--out", str(out), *ALLOW_ARGS, *args]) == 2
    errors = capsys.readouterr().err
    assert message in errors and "Traceback" not in errors
    assert not out.exists()


def test_a_scheduler_that_is_not_there_is_one_clear_error(tiny_scenario, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("orchestrator.sweep.dask_cluster.CONNECT_TIMEOUT_S", 1)
    code = main(["sweep", str(tiny_scenario), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "x"),
                 *ALLOW_ARGS])  # fmt: skip
    assert code == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_ctrl_c_keeps_the_finished_cases_and_a_restart_runs_only_the_rest(tiny_scenario, tmp_path):
    """An interrupted study (Ctrl-C in a terminal reaches the whole process group) writes the table of the cases it
    finished and exits 130; the same command again runs only the cases that are missing."""
    slow = tiny_scenario.parent / "slow.toml"
    slow.write_text(
        'extends = "tiny"\n[slaves.slow]\nblock = "tests.support.blocks:Slow"\n'
        "[slaves.slow.parameters]\ndelay_s = 0.02\n",
        encoding="utf-8",
    )
    out = tmp_path / "interrupted"
    command = [sys.executable, "-m", "orchestrator.cli", "-q", "sweep", str(slow), "--grid", "lag.k=1:8:8",
               "--workers", "1", "--out", str(out), *ALLOW_ARGS]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}  # the test blocks' modules, from another folder
    # SIGINT at its default disposition, as in a terminal: a shell's background job (CI started with `&`) inherits
    # it ignored, and Python then leaves it ignored, so the study would never see the Ctrl-C
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and len(list((out / "rows").glob("*.json"))) < 2:
        time.sleep(0.05)
    assert proc.poll() is None, "the study ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    first = pd.read_csv(out / "table.csv")
    assert 2 <= len(first) < 8 and (first["status"] == "ok").all()
    rows_before = {p.name: p.read_text() for p in (out / "rows").iterdir()}
    assert len(rows_before) == len(first)  # the case stopped by Ctrl-C is not recorded as finished

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    table = pd.read_csv(out / "table.csv")
    assert list(table["lag.k"]) == [float(k) for k in range(1, 9)] and (table["status"] == "ok").all()
    assert {p.name: p.read_text() for p in (out / "rows").iterdir() if p.name in rows_before} == rows_before


def test_the_progress_bar_shows_cases_failures_and_the_eta_on_a_terminal(tiny_scenario, tmp_path):
    main_fd, sub_fd = pty.openpty()
    fcntl.ioctl(sub_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    command = [sys.executable, "-m", "orchestrator.cli", "sweep", str(tiny_scenario), "--grid", "lag.fail_time=1,5",
               "--workers", "1", "--no-plots", "--out", str(tmp_path / "p"), *ALLOW_ARGS]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=sub_fd, stdout=subprocess.DEVNULL)
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 4096)
        except OSError:  # the pty closes when the command exits
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main_fd)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 3  # one case failed
    assert "2/2" in screen and "failed 1" in screen and "case" in screen and "<" in screen  # done, failures, ETA
