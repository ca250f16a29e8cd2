"""The agent's command line (`o2twin device`, scripts/pi_agent.py) and the Raspberry Pi hardware layer."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import DeviceError
from orchestrator.hil.device.hardware import PiHardware
from orchestrator.hil.host.serial_device import SerialDevice

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
