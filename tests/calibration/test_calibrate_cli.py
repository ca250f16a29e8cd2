"""`o2twin calibrate`: its help, and a bad calibration file as one message with exit code 2 (nothing run)."""

from __future__ import annotations

import subprocess
import sys

from tests.calibration.conftest import EXAMPLE


def o2twin(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_names_the_file_format_and_outputs():
    done = o2twin("calibrate", "--help")
    assert done.returncode == 0
    for text in ("CONFIG", "fit.json", "fitted_scenario.toml", "--workers"):
        assert text in done.stdout


def test_a_bad_file_is_one_message_and_exit_code_2(tmp_path):
    (tmp_path / "plant.toml").write_text((EXAMPLE / "plant.toml").read_text())
    bad = tmp_path / "cal.toml"
    bad.write_text('[calibration]\nscenario = "plant.toml"\ntrace = "../../etc/trace.csv"\nwindow = [0.0, 1.0]\n')
    done = o2twin("calibrate", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "must be a .csv path inside" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
