"""A run killed outright (SIGKILL, no finally) leaves signals.csv and result.mat readable up to the last flush."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from orchestrator.results.matfile import read_dsres
from orchestrator.results.signals import read_signals_csv
from tests.support.blocks import ALLOW

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_mid_run_keeps_streamed_results(tmp_path, lag_fmu):
    scenario = tmp_path / "slow.toml"
    scenario.write_text(f"""
[scenario]
stop_time = 1000.0
[master]
step = 0.1
[slaves.slow]
block = "tests.support.blocks:Slow"
[slaves.slow.parameters]
delay_s = 0.01
[slaves.a]
fmu = "{lag_fmu}"
[[connections]]
from = "slow.value"
to = "a.u"
[outputs]
record = ["a.y"]
""")
    out = tmp_path / "res"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "-q", "run", str(scenario), *ALLOW, "--out", str(out), "--no-plots"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        csv = out / "signals.csv"
        # wait until at least two flushes (0.5 s of wall time each) have reached the disk
        while time.monotonic() < deadline:
            if csv.exists() and csv.read_text().count("\n") > 60:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.1)
        else:
            raise AssertionError("no streamed rows appeared within 60 s")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    data = read_signals_csv(csv)
    mat = read_dsres(out / "result.mat")
    rows = len(data["time"])
    assert rows > 60 and not (out / "metrics.json").exists()  # it really died without cleaning up
    np.testing.assert_allclose(data["time"], np.arange(rows) * 0.1, atol=1e-9)
    # the .mat holds every point of its last flush; the CSV may hold the same or (flushed first) a few more
    n = len(mat["time"])
    assert 0 < n <= rows and rows - n < 100
    np.testing.assert_array_equal(mat["a.y"], data["a.y"][:n])
    np.testing.assert_array_equal(mat["slow.value"], data["slow.value"][:n])
