"""Fixtures of the HIL tests: the default device description, bench hardware, a driver for a short real-time run."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from orchestrator.hil.host.device_slave import SerialDevice
from orchestrator.hil.link.description import DeviceDescription, load_description


@pytest.fixture(scope="session")
def description() -> DeviceDescription:
    return load_description()


@dataclass
class RunTrace:
    """What a driven run saw at every step: the commanded duty, link_ok, device_failsafe, p_feed output."""

    duty_cmd: list[float] = field(default_factory=list)
    link_ok: list[float] = field(default_factory=list)
    failsafe: list[float] = field(default_factory=list)
    p_feed: list[float] = field(default_factory=list)


def _drive(device: SerialDevice, steps: int, h: float = 0.01, trace: RunTrace | None = None) -> RunTrace:
    """Step both parts like a master would: duty = k / 10000 at step k (unique, increasing), feeds A/B alternating."""
    trace = trace or RunTrace()
    comp, psa = device.parts["compressor"], device.parts["psa"]
    if not device._opened:
        comp.setup(0.0)
        psa.setup(0.0)
    k0 = len(trace.duty_cmd)
    for i in range(steps):
        k = k0 + i + 1
        duty = k / 10000.0
        comp.set_inputs({"duty": duty})
        feed_a = float((k // 20) % 2)  # the beds take turns: one feed valve is always open (the device's interlock)
        psa.set_inputs({"cmd_feed_A": feed_a, "cmd_feed_B": 1.0 - feed_a, "cmd_vent_A": 0.0, "cmd_vent_B": 0.0})
        t = (k - 1) * h
        assert comp.step(t, h) and psa.step(t, h)
        out = psa.get_outputs(["link_ok", "device_failsafe", "p_feed"])
        trace.duty_cmd.append(duty)
        trace.link_ok.append(out["link_ok"])
        trace.failsafe.append(out["device_failsafe"])
        trace.p_feed.append(out["p_feed"])
    return trace


@pytest.fixture
def drive():
    """The step driver (a fixture, since the tests directory is not a package)."""
    return _drive
