"""The agent's command line (`o2twin device`, scripts/pi_agent.py) and the Raspberry Pi hardware layer."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import DeviceError
from orchestrator.hil.device.hardware import PiHardware
from orchestrator.hil.host.device_slave import SerialDevice

ROOT = Path(__file__).resolve().parents[2]


def test_o2twin_device_prints_the_port_and_serves_a_host(tmp_path):
    link = tmp_path / "o2twin-device"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli.main",
            "device",
            "--hardware",
            "bench",
            "--link",
            str(link),
            "--duration",
            "4",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("virtual device (bench) on /dev/pts/")
        assert f"o2twin run --plant serial://{link}" in proc.stdout.readline()
        deadline = time.monotonic() + 3
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        dev = SerialDevice(f"serial://{link}")
        psa = dev.parts["psa"]
        psa.setup(0.0)
        out = psa.get_outputs(["link_ok", "p_feed"])
        psa.terminate()
        assert out["link_ok"] == 1.0 and out["p_feed"] > 5000.0
    finally:
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not link.exists()  # the symlink goes with the agent


def _agent(*extra: str) -> subprocess.Popen:
    """`o2twin device --hardware bench ...` with SIGINT at its default (a shell's background job ignores it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.main", "device", "--hardware", "bench", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_stops_the_agent_before_its_duration_runs_out():
    """issue 10: `o2twin device --duration N` ignored Ctrl-C until N ran out."""
    proc = _agent("--duration", "60")
    try:
        assert proc.stdout.readline().startswith("virtual device (bench) on /dev/pts/")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - t0 < 5.0, "stopped at Ctrl-C, not after --duration"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.parametrize("delay_s", [0.2, 0.5, 0.9])
def test_ctrl_c_during_start_up_prints_no_traceback(delay_s):
    """issue 10: Ctrl-C while the agent was still starting printed a traceback.

    The delay counts from the moment the interpreter runs code: a Ctrl-C inside CPython's own start-up (before
    site is imported, easily 0.2 s on a loaded machine) is the interpreter's fatal error, not the agent's."""
    launcher = (
        "import runpy, sys; print('interpreter up', file=sys.stderr, flush=True); "
        "runpy.run_module('orchestrator.cli.main', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, "device", "--hardware", "bench", "--duration", "60"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr.readline().strip() == "interpreter up"
        time.sleep(delay_s)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err + out, err
    assert proc.returncode in (0, 130, -signal.SIGINT)  # 0 when it was serving already


def test_pi_agent_help_explains_every_option():
    out = subprocess.run([sys.executable, "scripts/pi_agent.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    for option in ("--hardware", "--virtual", "--port", "--baud", "--link", "--description", "--wiring",
                   "--compressor-fmu", "--psa-fmu", "--parameter", "--plant-step", "--rt-priority",
                   "--duration"):  # fmt: skip
        assert option in out


def test_pi_hardware_without_the_pi_extra_says_how_to_install_it(description):
    if importlib.util.find_spec("gpiozero") and importlib.util.find_spec("smbus2"):
        pytest.skip("gpiozero and smbus2 are installed: this checks the message when they are not")
    with pytest.raises(DeviceError, match=r"pip install 'o2twin\[pi\]'"):
        PiHardware(description)


def test_pi_hardware_on_a_raspberry_pi(description):
    if not Path("/dev/gpiochip0").exists() or importlib.util.find_spec("gpiozero") is None:
        pytest.skip("not a Raspberry Pi with gpiozero: real GPIO/I2C hardware is needed for this test")
    hw = PiHardware(description)
    try:
        readings = hw.read()
        assert set(readings) == set(description.sensor_names)
    finally:
        hw.close()


def test_virtual_plant_parameters_from_the_command_line(description):
    from orchestrator.hil.device.agent_cli import parse_parameters

    assert parse_parameters(["psa.T_ambient=303.15", "compressor.wear_factor=0.8"], description) == {
        "psa": {"T_ambient": 303.15},
        "compressor": {"wear_factor": 0.8},
    }
    with pytest.raises(DeviceError, match="PART one of compressor, psa"):
        parse_parameters(["patient.copd=1"], description)
    with pytest.raises(DeviceError, match="must be a number"):
        parse_parameters(["psa.T_ambient=warm"], description)
