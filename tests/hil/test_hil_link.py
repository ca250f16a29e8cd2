"""A HIL session over a real pseudo-terminal: handshake, commands, samples, refusal of wrong peers, URLs."""

from __future__ import annotations

import csv
import dataclasses
import threading

import pytest

from orchestrator.errors import DeviceError
from orchestrator.hil.device.agent import Agent
from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.host.device_slave import SerialDevice
from orchestrator.hil.link.description import Channel
from orchestrator.hil.link.ports import TcpServerPort, parse_url
from orchestrator.hil.sim.virtual import VirtualDevice

# These tests run against the wall clock over real pseudo-terminals: a scheduling hiccup on a loaded machine can
# miss a deadline. A rerun (at most two) tells such a hiccup from a real fault, which fails every time.
pytestmark = pytest.mark.flaky(reruns=2, reruns_delay=1)


def test_commands_reach_the_hardware_and_every_sample_is_recorded(description, tmp_path, drive):
    hw = BenchHardware(description)
    samples_csv = tmp_path / "device_samples.csv"
    with VirtualDevice(hw, description) as vd:
        options = {"sample_rate_hz": 100, "stale_after_s": 0.5, "samples_path": str(samples_csv)}
        dev = SerialDevice(vd.url, description, options)
        trace = drive(dev, 100)
        dev.parts["psa"].terminate()
    m = dev.metrics()
    # every command went out, was applied in order, and nothing else was applied
    applied = [a["duty"] for a in hw.applied[1:]]  # the first entry is the agent's safe state at boot
    assert applied[: len(trace.duty_cmd)] == pytest.approx(trace.duty_cmd[: len(applied)], rel=1e-6)
    assert len(applied) >= 99  # every command: the link is lossless without faults
    assert hw.applied[-1]["duty"] == 0.0  # BYE: the device went to the safe state
    # every sample reports the bench signature of a command the device applied (p_feed is channel 5)
    signatures = [hw.signature(a) for a in hw.applied]
    p_feed_col = 7 + description.sensor_names.index("p_feed")
    for row in dev.link.records:
        assert min(abs(row[p_feed_col] - 5000.0 - s) for s in signatures) < 1e-3
    assert all(ok == 1.0 for ok in trace.link_ok)
    # every received sample is on disk, once
    rows = list(csv.DictReader(samples_csv.open()))
    assert len(rows) == m["samples"] >= 80  # 100 Hz for 1 s, fewer when the machine is loaded
    assert len({r["seq"] for r in rows}) == len(rows)
    assert m["bad_crc"] == m["dropped"] == m["duplicates"] == 0
    assert m["realtime"]["steps"] == 100
    assert m["command_latency_p50_ms"] > 0


def test_version_mismatch_at_hello_is_refused_with_a_clear_message(description):
    hw = BenchHardware(description)
    with VirtualDevice(hw, description, protocol_major=2) as vd:
        dev = SerialDevice(vd.url, description, {"hello_timeout_s": 0.5})
        with pytest.raises(DeviceError, match=r"refused protocol version 1\.0 .*device speaks protocol 2\.x"):
            dev.parts["psa"].setup(0.0)
    assert len(hw.applied) == 1  # only the boot-time safe state: no command was ever applied


def test_a_device_with_other_channels_is_refused(description):
    other = dataclasses.replace(description, sensors=[*description.sensors, Channel("extra", "psa", "Pa")])
    with VirtualDevice(BenchHardware(other), other) as vd:
        dev = SerialDevice(vd.url, description, {"hello_timeout_s": 0.5})
        with pytest.raises(DeviceError, match=r"19 sensors.*differ from the description"):
            dev.parts["psa"].setup(0.0)


def test_no_answer_and_missing_port_are_clear_errors(description, tmp_path):
    dev = SerialDevice("loop://", description, {"hello_timeout_s": 0.1, "hello_tries": 2})
    with pytest.raises(DeviceError, match=r"does not answer HELLO \(2 tries"):
        dev.parts["psa"].setup(0.0)
    dev = SerialDevice(f"serial://{tmp_path}/ttyNONE?baud=115200", description)
    with pytest.raises(DeviceError, match=r"cannot open .*ttyNONE"):
        dev.parts["psa"].setup(0.0)


def test_url_parsing():
    assert parse_url("serial:///dev/ttyUSB0?baud=1000000") == ("/dev/ttyUSB0", 1000000)
    assert parse_url("/dev/ttyAMA0") == ("/dev/ttyAMA0", 115200)
    assert parse_url("rfc2217://pi.local:4000") == ("rfc2217://pi.local:4000", 115200)
    with pytest.raises(DeviceError, match="unknown option 'parity'"):
        parse_url("serial:///dev/ttyUSB0?parity=N")
    with pytest.raises(DeviceError, match="baud must be a positive integer"):
        parse_url("serial:///dev/ttyUSB0?baud=fast")


def test_socket_url_reaches_an_agent_on_tcp(description, drive):
    hw = BenchHardware(description)
    server = TcpServerPort(0, "127.0.0.1")
    stop = threading.Event()
    agent = Agent(server, hw, description)
    thread = threading.Thread(target=agent.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        dev = SerialDevice(
            f"socket://127.0.0.1:{server.port}", description, {"sample_rate_hz": 100, "stale_after_s": 0.5}
        )
        trace = drive(dev, 30)
        dev.parts["psa"].terminate()
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert all(ok == 1.0 for ok in trace.link_ok)
    assert agent.stats.commands_applied == 30
    assert agent.stats.failsafe_engaged == 0  # BYE ended the session cleanly
    assert not agent.in_session and hw.applied[-1]["duty"] == 0.0


def test_a_refusal_of_a_message_type_this_host_does_not_know_is_logged_not_dropped(description, caplog):
    """A newer device may NACK a type this host has no name for: the warning names it by number (it used to fail
    in the reader and count as a bad frame, unseen)."""
    from orchestrator.hil.host.session import DeviceLink
    from orchestrator.hil.link.protocol import Nack, pack_message

    link = DeviceLink("loop://", description)
    with caplog.at_level("WARNING", logger="orchestrator.hil.host.session"):
        link._handle(pack_message(Nack(0x7F, 3, 1, "not supported"), 1))
    assert "device refused message type 0x7f #3: not supported" in caplog.text
    assert link.stats.protocol_errors == 0 and link.stats.nacks == 1
