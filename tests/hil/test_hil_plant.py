"""apply_plant: the device takes the plant slaves' places in a scenario, and a run goes through the real master."""

from __future__ import annotations

import csv
import dataclasses
import json
import time

import pytest

from orchestrator.errors import SystemDefinitionError
from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.host.plant import DeviceSlave, apply_plant, attach_results, hil_metrics
from orchestrator.hil.sim.virtual import VirtualDevice
from orchestrator.results.run import prepare_spec
from orchestrator.scenario.build import build_simulation
from orchestrator.scenario.parse import parse_scenario
from orchestrator.scenario.spec import Connection

SCENARIO = {
    "scenario": {"name": "hil-check", "stop_time": 1.0},
    "master": {"algorithm": "gauss-seidel", "step": 0.02},
    "slaves": {
        "compressor": {"fmu": "O2Twin.CoSim.Compressor", "parameters": {"T_ambient": 298.15}},
        "psa": {"fmu": "fmus/O2Twin_CoSim_PSAUnit.fmu"},
        "pid": {"block": "controllers.pid:PressurePID", "sample_time": 0.02},
    },
    "connections": [
        {"from": "compressor.m_flow", "to": "psa.m_flow_feed"},
        {"from": "compressor.T_discharge", "to": "psa.T_feed"},
        {"from": "psa.p_feed", "to": "compressor.p_discharge"},
        {"from": "psa.sensor_p_feed", "to": "pid.p_measured"},
        {"from": "pid.duty", "to": "compressor.duty"},
    ],
    "outputs": {"record": ["psa.p_bed_A", "psa.link_ok"]},
    # feed valve A open, so the device's dead-head interlock lets the compressor run
    "events": [{"time": 0.0, "set": {"psa.cmd_feed_A": 1.0}}],
}


def _spec(**changes):
    raw = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in SCENARIO.items()}
    raw.update(changes)
    return parse_scenario(raw, source="hil-check.toml")


def test_apply_plant_swaps_both_plant_units_and_keeps_every_name():
    spec = apply_plant(_spec(), "serial:///dev/ttyUSB0?baud=115200")
    assert spec.slaves["compressor"].block == "orchestrator.hil.host.plant:DeviceSlave"
    assert spec.slaves["psa"].block == "orchestrator.hil.host.plant:DeviceSlave"
    assert spec.slaves["pid"].block == "controllers.pid:PressurePID"
    assert [(c.source, c.target) for c in spec.connections] == [
        ("psa.sensor_p_feed", "pid.p_measured"),
        ("pid.duty", "compressor.duty"),
    ]
    assert spec.plant.replaces == ["compressor", "psa"]
    comp = DeviceSlave("compressor", 0.02)
    assert comp.info.real_time and not comp.info.can_rollback
    assert comp.variables["duty"].causality == "input" and comp.variables["T_head"].unit == "K"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outputs": {"record": ["psa.N_feed[1]"]}}, r"'psa.N_feed\[1\]' is not provided by the device"),
        (
            {"connections": [*SCENARIO["connections"], {"from": "pid.duty", "to": "psa.p_feed"}]},
            r"'psa.p_feed' is a device output; expected input",
        ),
        ({"plant": {"device": "loop://", "replaces": ["psa"]}}, r"no slave for compressor; list them"),
        ({"plant": {"device": "loop://", "link_timeout": 3}}, r"unknown option 'link_timeout'"),
    ],
)
def test_apply_plant_names_what_the_device_cannot_do(change, message):
    spec = _spec(**change)
    with pytest.raises(SystemDefinitionError, match=message):
        apply_plant(spec, spec.plant.device if spec.plant else "loop://")


@pytest.mark.flaky(reruns=2, reruns_delay=1)  # wall clock over a pty: a loaded machine may deliver fewer samples
def test_a_scenario_runs_through_the_master_with_the_virtual_device(description, tmp_path):
    hw = BenchHardware(description)
    hw.fixed["sensor_p_feed"] = 1.2e5  # below the PID's setpoint: it asks for duty
    with VirtualDevice(hw, description) as vd:
        spec = prepare_spec(_spec(plant={"device": vd.url, "sample_rate_hz": 100}))
        sim = build_simulation(spec)
        attach_results(sim.system, tmp_path)
        wall0 = time.perf_counter()
        try:
            sim.run()
        finally:
            sim.finish()
        wall = time.perf_counter() - wall0
        metrics = hil_metrics(sim.system)["hil"]
    assert wall >= 0.95  # paced to the wall clock: 1 s simulated takes 1 s
    assert metrics["realtime"]["steps"] == 50
    assert metrics["commands_sent"] == 50 and metrics["bad_crc"] == 0
    # the PID's duty (driven by the bench device's p_feed sensor) reached the device
    duties = [a["duty"] for a in hw.applied[1:-1]]
    assert len(duties) >= 49 and max(duties) > 0
    rows = list(csv.DictReader((tmp_path / "device_samples.csv").open()))
    assert len(rows) == metrics["samples"] >= 90
    json.dumps(metrics)  # metrics.json material


@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_o2twin_run_with_plant_url_writes_device_samples_and_hil_metrics(description, tmp_path):
    from orchestrator.results.run import run
    from orchestrator.scenario.toml import dumps_table

    scenario = tmp_path / "hil-check.toml"
    scenario.write_text(dumps_table(SCENARIO), encoding="utf-8")
    hw = BenchHardware(description)
    with VirtualDevice(hw, description) as vd:
        result = run(scenario, out=tmp_path / "out", plant=vd.url, plots=False, stop_time=0.5)
    out_dir = result.out_dir
    assert result.exit_code == 0, result.error
    on_disk = json.loads((out_dir / "metrics.json").read_text())
    assert on_disk["hil"]["commands_sent"] == 25 and on_disk["hil"]["realtime"]["steps"] == 25
    rows = list(csv.DictReader((out_dir / "device_samples.csv").open()))
    assert len(rows) == on_disk["hil"]["samples"] > 0
    header = (out_dir / "signals.csv").read_text().splitlines()[0]
    assert "psa.sensor_p_feed" in header and "psa.link_ok" in header  # names unchanged by the swap


def test_with_hardware_in_the_loop_only_the_device_link_drives_the_watchdog_link_ok():
    """A lost link must reach the watchdog (LINK_LOSS, both safe states): a scenario's own source for the watchdog's
    link_ok would hide it, so with --plant it is refused."""
    spec = prepare_spec("rest")
    wired = apply_plant(spec, "loop://")
    assert [c.source for c in wired.connections if c.target == "watchdog.link_ok"] == ["psa.link_ok"]
    other = Connection("psa.sensor_p_feed", "watchdog.link_ok")
    with pytest.raises(SystemDefinitionError, match=r"link_ok is the device link's \('psa.link_ok'"):
        apply_plant(dataclasses.replace(spec, connections=[*spec.connections, other]), "loop://")
