"""How a run ends when it is ended from outside (issue 10, section 4): SIGTERM and SIGHUP stop it like Ctrl-C, a
killed run's FMU folders are removed by the next run, and a full disk is one clear error with consistent files."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cli.main import main
from orchestrator.results.events import read_events
from orchestrator.results.matfile import read_dsres
from orchestrator.results.metrics import read_metrics
from orchestrator.results.signals import read_signals_csv
from tests.support.blocks import ALLOW

REPO = Path(__file__).resolve().parents[2]


def _scenario(lag_fmu: Path, block: str = "Slow", stop_time: float = 1000.0, delay_s: float = 0.01) -> str:
    parameters = f"[slaves.src.parameters]\ndelay_s = {delay_s}" if block == "Slow" else ""
    return f"""
[scenario]
name = "ending"
stop_time = {stop_time}
[master]
step = 0.1
[slaves.src]
block = "tests.support.blocks:{block}"
{parameters}
[slaves.a]
fmu = "{lag_fmu}"
[[connections]]
from = "src.value"
to = "a.u"
[outputs]
record = ["a.y"]
"""


def _env(tmpdir: Path) -> dict[str, str]:
    tmpdir.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(tmpdir),  # the FMU extraction folders land here, where the test can see them
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _start(scenario: Path, out: Path, tmpdir: Path, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "orchestrator.cli", "-q", "run", str(scenario), *ALLOW, "--out", str(out),
               "--no-plots"]  # fmt: skip
    return subprocess.Popen(command, env=_env(tmpdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _wait_for_rows(proc: subprocess.Popen, csv: Path, rows: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if csv.exists() and csv.read_text().count("\n") > rows:
            return
        assert proc.poll() is None, proc.communicate()[1].decode()
        time.sleep(0.1)
    raise AssertionError(f"no {rows} streamed rows within 60 s")


def _same_rows(out: Path) -> int:
    csv, mat = read_signals_csv(out / "signals.csv"), read_dsres(out / "result.mat")
    assert len(csv["time"]) == len(mat["time"])
    for name in ("time", "a.y", "src.value"):
        np.testing.assert_array_equal(csv[name], mat[name])
    return len(csv["time"])


def _extraction_folders(tmpdir: Path) -> list[Path]:
    root = tmpdir / "o2twin-fmus"
    return sorted(root.iterdir()) if root.is_dir() else []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_terminating_signals_end_the_run_like_ctrl_c(tmp_path, lag_fmu, signum):
    scenario = tmp_path / "slow.toml"
    scenario.write_text(_scenario(lag_fmu))
    out, tmpdir = tmp_path / "res", tmp_path / "tmp"
    proc = _start(scenario, out, tmpdir)
    try:
        _wait_for_rows(proc, out / "signals.csv", 20)
        assert len(_extraction_folders(tmpdir)) == 1  # the Lag FMU, unpacked while the run goes on
        proc.send_signal(signum)
        printed, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum
    assert "Traceback" not in err.decode() and f"status     stopped (terminated ({name}))" in printed.decode()
    metrics = read_metrics(out)
    assert metrics["status"] == "stopped" and metrics["error"] == f"terminated ({name})"
    rows = _same_rows(out)
    assert rows == metrics["recorded_points"] > 20
    assert any(e["source"] == "run" and name in e["text"] for e in read_events(out))
    assert _extraction_folders(tmpdir) == []  # nothing left in the temp folder


def test_a_killed_runs_fmu_folders_are_removed_by_the_next_run(tmp_path, lag_fmu):
    scenario = tmp_path / "slow.toml"
    scenario.write_text(_scenario(lag_fmu))
    tmpdir = tmp_path / "tmp"
    proc = _start(scenario, tmp_path / "killed", tmpdir)
    try:
        _wait_for_rows(proc, tmp_path / "killed" / "signals.csv", 5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = _extraction_folders(tmpdir)
    assert len(left) == 1 and (left[0] / "modelDescription.xml").is_file()  # SIGKILL: nothing could clean up
    quick = tmp_path / "quick.toml"
    quick.write_text(_scenario(lag_fmu, block="Source", stop_time=0.5))
    after = _start(quick, tmp_path / "next", tmpdir)
    assert after.wait(timeout=120) == 0, after.communicate()[1].decode()
    assert _extraction_folders(tmpdir) == []


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _check_write_failure(out: Path, err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    failure = [line for line in lines if "cannot write" in line]
    assert len(failure) == 1 and str(out) in failure[0]
    assert "signals.csv" in failure[0] or "result.mat" in failure[0]
    assert not (out / "traceback.txt").exists()
    metrics = read_metrics(out)
    assert metrics["status"] == "failed" and "cannot write" in metrics["error"]
    assert _same_rows(out) == metrics["recorded_points"] > 0


def test_file_size_limit_is_one_clear_error_and_consistent_files(tmp_path, lag_fmu):
    """RLIMIT_FSIZE: the kernel refuses the write that would pass 96 KiB (EFBIG), as a full disk refuses (ENOSPC)."""
    scenario = tmp_path / "fast.toml"
    scenario.write_text(_scenario(lag_fmu, delay_s=0.0005))  # fast, but slow enough to flush during the run
    out = tmp_path / "res"
    proc = _start(scenario, out, tmp_path / "tmp", preexec_fn=_limit_file_size(96 * 1024))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err.decode()
    _check_write_failure(out, err.decode())
    assert (out / "signals.csv").stat().st_size <= 96 * 1024


@pytest.fixture
def small_filesystem(tmp_path):
    """A 256 KiB tmpfs (needs the right to mount, e.g. root in a container); skipped where it cannot be made."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.decode().strip() or made.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_is_one_clear_error_and_consistent_files(tmp_path, lag_fmu, small_filesystem, capsys):
    scenario = tmp_path / "fast.toml"
    scenario.write_text(_scenario(lag_fmu, delay_s=0.0005))
    out = small_filesystem / "res"
    assert main(["-q", "run", str(scenario), *ALLOW, "--out", str(out), "--no-plots"]) == 3
    err = capsys.readouterr().err
    assert "No space left on device" in err
    _check_write_failure(out, err)
