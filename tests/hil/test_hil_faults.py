"""Fault injection over real pseudo-terminals: a seeded FaultLink between the host and the virtual device.

Each test runs a short real-time loop at 100 Hz (one to three seconds) and checks the documented behaviour:
bad frames are counted and never acted on, stale data makes the host command the safe state, command loss makes
the device's own fail-safe engage, the run recovers when the link returns within link_timeout_s and otherwise
ends with a DeviceError, and every received sample is recorded.
"""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from orchestrator.errors import DeviceError
from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.host.device_slave import SerialDevice
from orchestrator.hil.link.protocol import FaultCode
from orchestrator.hil.sim.faultlink import DEVICE_TO_HOST, HOST_TO_DEVICE, FaultConfig, FaultLink
from orchestrator.hil.sim.virtual import VirtualDevice

# These tests run against the wall clock over real pseudo-terminals: a scheduling hiccup on a loaded machine can
# miss a deadline. A rerun (at most two) tells such a hiccup from a real fault, which fails every time.
pytestmark = pytest.mark.flaky(reruns=2, reruns_delay=1)

OPTIONS = {"sample_rate_hz": 100, "command_timeout_s": 0.3, "stale_after_s": 0.1, "link_timeout_s": 3.0}


class Rig:
    """Host SerialDevice <-> FaultLink <-> VirtualDevice(BenchHardware), torn down by the fixture."""

    def __init__(self, description, tmp_path, config: FaultConfig, seed: int = 1, **options) -> None:
        config.active_after_s = 0.3  # per-frame faults hit the running session, not the first HELLO
        self.hw = BenchHardware(description)
        self.vd = None
        self.link = FaultLink(config, seed=seed, link_dir=tmp_path, on_restart=lambda: self.vd.restart())
        self.vd = VirtualDevice(self.hw, description, port=self.link.device_port).start()
        self.link.start()
        self.samples_csv = tmp_path / "device_samples.csv"
        self.device = SerialDevice(self.link.url, description,
                                   {**OPTIONS, **options, "samples_path": str(self.samples_csv)})  # fmt: skip

    def close(self) -> None:
        self.device.parts["psa"].terminate()
        self.vd.stop()
        self.link.close()
        self.vd.close()

    def applied_duties(self) -> list[float]:
        return [a["duty"] for a in self.hw.applied]

    def csv_rows(self) -> list[dict]:
        self.device.link.flush()
        return list(csv.DictReader(self.samples_csv.open()))


@pytest.fixture
def rig(description, tmp_path):
    rigs = []

    def make(config: FaultConfig, **kw) -> Rig:
        r = Rig(description, tmp_path, config, **kw)
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        r.close()


def assert_only_sent_commands_applied_in_order(r: Rig, sent: list[float]) -> None:
    """Applied duties are safe (0) or commands the host sent, and never an older command after a newer one."""
    allowed = {float(np.float32(x)) for x in sent}  # values travel as float32
    newest = 0.0
    for duty in r.applied_duties():
        if duty == 0.0:
            continue
        assert duty in allowed, f"the device applied duty {duty}, which the host never sent"
        assert duty > newest, f"a stale or duplicated command (duty {duty}) was applied after {newest}"
        newest = duty


def assert_every_sample_recorded(r: Rig) -> None:
    r.device.link.close()  # stop the reader, so the counts and the file are final
    m = r.device.link.stats
    rows = r.csv_rows()
    assert len(rows) == m.samples == len(r.device.link.records)
    keys = [(row["boot_id"], row["seq"]) for row in rows]
    assert len(set(keys)) == len(keys), "a duplicated sample was recorded twice"


def test_corrupted_bytes_are_detected_counted_and_never_acted_on(rig, drive):
    r = rig(FaultConfig(corrupt=0.15))
    trace = drive(r.device, 150)
    m = r.device.link.stats
    agent = r.vd.agent
    assert r.link.counts(HOST_TO_DEVICE).corrupted > 5 and r.link.counts(DEVICE_TO_HOST).corrupted > 5
    assert m.bad_crc + m.bad_cobs + m.undersize >= r.link.counts(DEVICE_TO_HOST).corrupted - 1
    assert agent.decoder.stats.rejected >= r.link.counts(HOST_TO_DEVICE).corrupted - 1
    assert_only_sent_commands_applied_in_order(r, trace.duty_cmd)
    # every recorded sample carries the bench signature of a command the device really applied
    sigs = [r.hw.signature(a) for a in r.hw.applied]
    col = 7 + r.hw.description.sensor_names.index("p_feed")
    assert all(min(abs(row[col] - 5000.0 - s) for s in sigs) < 1e-3 for row in r.device.link.records)
    assert_every_sample_recorded(r)


def test_dropped_frames_are_counted_and_the_link_stays_up(rig, drive):
    r = rig(FaultConfig(drop=0.2))
    trace = drive(r.device, 150)
    m = r.device.link.stats
    assert m.dropped >= r.link.counts(DEVICE_TO_HOST).dropped // 2 > 0
    assert sum(trace.link_ok[5:]) >= 0.9 * len(trace.link_ok[5:])
    assert_only_sent_commands_applied_in_order(r, trace.duty_cmd)
    assert_every_sample_recorded(r)


def test_duplicated_frames_are_dropped_on_both_sides(rig, drive):
    r = rig(FaultConfig(duplicate=0.3))
    trace = drive(r.device, 150)
    m = r.device.link.stats
    assert m.duplicates > 10
    assert r.vd.agent.stats.commands_stale > 10  # duplicated commands seen and not applied
    assert_only_sent_commands_applied_in_order(r, trace.duty_cmd)
    assert_every_sample_recorded(r)


def test_reordered_frames_late_samples_recorded_late_commands_ignored(rig, drive):
    r = rig(FaultConfig(reorder=0.3))
    trace = drive(r.device, 150)
    m = r.device.link.stats
    assert m.samples_late > 5 and m.reordered >= m.samples_late
    assert r.vd.agent.stats.commands_stale > 5
    assert_only_sent_commands_applied_in_order(r, trace.duty_cmd)
    assert_every_sample_recorded(r)
    # late samples are in the results, not used as the current value: recorded device times are not monotonic
    times = [row[3] for row in r.device.link.records]
    assert any(b < a for a, b in itertools.pairwise(times))


def test_garbage_bursts_are_discarded(rig, drive):
    r = rig(FaultConfig(garbage=0.3, garbage_bytes=(1, 100)))
    trace = drive(r.device, 150)
    m = r.device.link.stats
    assert m.bytes_discarded > 100
    assert r.vd.agent.decoder.stats.bytes_discarded > 100
    assert_only_sent_commands_applied_in_order(r, trace.duty_cmd)
    assert sum(trace.link_ok[5:]) >= 0.9 * len(trace.link_ok[5:])
    assert_every_sample_recorded(r)


def test_stall_longer_than_timeout_engages_device_failsafe_then_recovers(rig, drive):
    r = rig(FaultConfig(stalls=[(0.6, 0.8)]))
    trace = drive(r.device, 200)  # 2 s: stall 0.6-1.4 s
    m = r.device.link.stats
    agent = r.vd.agent
    assert agent.stats.failsafe_engaged == 1
    safe = [a for a in r.hw.applied if a["duty"] == 0.0 and a["cmd_vent_A"] == 1.0 and a["cmd_vent_B"] == 1.0]
    assert len(safe) >= 2  # boot + the fail-safe (compressor off, both beds vented)
    # the FAULT raised during the stall was lost with everything else; the host hears of it when it clears
    assert any(code == FaultCode.COMMAND_TIMEOUT for _, code, _, _ in r.device.link.fault_log)
    assert m.link_losses >= 1 and m.recoveries >= 1
    assert 0.0 in trace.link_ok and trace.link_ok[-1] == 1.0
    assert agent.failsafe is False and agent.stats.sessions >= 2  # a new HELLO cleared it
    assert r.hw.applied[-1]["duty"] > 0.0  # commands are applied again after recovery
    assert not r.hw.alarm_on
    assert_only_sent_commands_applied_in_order(r, trace.duty_cmd)
    assert_every_sample_recorded(r)


def test_stale_sensor_data_makes_the_host_command_the_safe_state(rig, drive):
    # only device -> host stalls: commands keep arriving, but the host sees stale samples
    r = rig(FaultConfig(stalls=[(0.5, 0.6, DEVICE_TO_HOST)]))
    trace = drive(r.device, 150)
    assert 0.0 in trace.link_ok
    duties = r.applied_duties()
    first_safe = duties.index(0.0, 1)  # the host's safe command reached the device
    assert any(d > 0 for d in duties[first_safe:])  # and normal commands resumed after the link came back
    assert r.vd.agent.stats.failsafe_engaged == 0  # commands never stopped, so the device had no reason to
    assert r.device.link.stats.recoveries >= 1


def test_stall_with_on_link_loss_stop_ends_the_run_with_device_error(rig, drive):
    r = rig(FaultConfig(stalls=[(0.5, 2.0)]), on_link_loss="stop")
    with pytest.raises(DeviceError, match=r"link lost .*on_link_loss = 'stop'; results up to here are saved"):
        drive(r.device, 200)
    # what arrived before the stall (0.5 s at 100 Hz; fewer on a loaded machine) is on disk, every sample of it
    assert_every_sample_recorded(r)
    assert len(r.csv_rows()) >= 10


def test_device_restart_mid_run_is_detected_and_recovered(rig, drive):
    r = rig(FaultConfig(restarts=[0.6]))
    trace = drive(r.device, 150)
    m = r.device.link.stats
    assert len(r.vd.agents) == 2
    assert m.device_restarts == 1 and m.recoveries >= 1
    assert trace.link_ok[-1] == 1.0
    boots = {row["boot_id"] for row in r.csv_rows()}
    assert len(boots) == 2  # samples of both boots are in the results
    assert_every_sample_recorded(r)


def test_cable_unplugged_and_back_recovers(rig, drive):
    r = rig(FaultConfig(unplugs=[(0.5, 0.5)]))
    trace = drive(r.device, 180)
    m = r.device.link.stats
    assert m.port_lost >= 1 and m.reopens >= 1 and m.recoveries >= 1
    assert r.vd.agent.stats.failsafe_engaged == 1  # 0.5 s without commands > 0.3 s timeout
    assert trace.link_ok[-1] == 1.0
    assert_every_sample_recorded(r)


def test_cable_unplugged_for_good_ends_the_run_with_a_clear_error(rig, drive):
    r = rig(FaultConfig(unplugs=[(0.4, 60.0)]), link_timeout_s=0.8)
    with pytest.raises(DeviceError, match=r"no usable link .*port is gone \(cable unplugged\?\).*results up to here"):
        drive(r.device, 300)
    assert r.vd.agent.stats.failsafe_engaged == 1
    assert len(r.csv_rows()) >= 30
