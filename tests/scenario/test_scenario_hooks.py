"""Hooks before a system is built: the safety topology check ([safety]) and hardware in the loop ([plant])."""

from __future__ import annotations

import pytest

from orchestrator.cli.main import main
from orchestrator.errors import O2TwinError, SystemDefinitionError
from orchestrator.results.run import prepare_spec
from orchestrator.scenario.build import apply_hooks
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.registry import BlockRegistry

# The plant FMUs are named by Modelica class; the hooks run on the spec, before any FMU is exported or loaded.
BYPASS = """
[scenario]
name = "bypass"
stop_time = 10.0
[slaves.compressor]
fmu = "O2Twin.CoSim.Compressor"
[slaves.src]
block = "tests.support.blocks:Source"
[slaves.watchdog]
block = "controllers.watchdog:SafetyWatchdog"
[safety]
watchdog = "watchdog"
[[connections]]
from = "src.value"
to = "compressor.duty"
"""


def test_watchdog_bypass_is_rejected_before_building(tmp_path, capsys):
    path = tmp_path / "bypass.toml"
    path.write_text(BYPASS)
    with pytest.raises(SystemDefinitionError, match=r"actuator input 'compressor.duty' must be driven by the watchdog"):
        apply_hooks(load_scenario(path))
    out = tmp_path / "res"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bypass.toml: [[connections]] #1" in err and "Traceback" not in err
    assert not out.exists()


def test_watchdog_must_be_the_safety_block(tmp_path):
    path = tmp_path / "wd.toml"
    path.write_text(BYPASS.replace("controllers.watchdog:SafetyWatchdog", "tests.support.blocks:Source"))
    with pytest.raises(SystemDefinitionError, match=r"'tests.support.blocks:Source', which is no safety watchdog"):
        apply_hooks(load_scenario(path), BlockRegistry(["tests.support.blocks"]))


def test_plant_url_goes_through_the_hil_adapter(tmp_path, capsys):
    """--plant hands the spec to orchestrator.hil.host.plant.apply_plant (through the run pipeline); a bad URL is its clear error, not a crash."""
    path = tmp_path / "plant.toml"
    path.write_text(BYPASS.replace('[safety]\nwatchdog = "watchdog"\n', ""))
    with pytest.raises(O2TwinError) as info:
        prepare_spec(load_scenario(path), plant="nonsense://nowhere")
    assert "nonsense://nowhere" in str(info.value) or "device" in str(info.value).lower()
    capsys.readouterr()
    code = main(["run", str(path), "--plant", "nonsense://nowhere", "--out", str(tmp_path / "r")])
    assert code in (2, 4)
    assert "Traceback" not in capsys.readouterr().err


HIL = """
[scenario]
name = "hil-cli"
stop_time = 0.5
[master]
step = 0.02
[slaves.compressor]
fmu = "O2Twin.CoSim.Compressor"
[slaves.psa]
fmu = "fmus/O2Twin_CoSim_PSAUnit.fmu"
[slaves.pid]
block = "controllers.pid:PressurePID"
sample_time = 0.02
[[connections]]
from = "compressor.m_flow"
to = "psa.m_flow_feed"
[[connections]]
from = "psa.p_feed"
to = "compressor.p_discharge"
[[connections]]
from = "psa.sensor_p_feed"
to = "pid.p_measured"
[[connections]]
from = "pid.duty"
to = "compressor.duty"
[outputs]
record = ["psa.p_bed_A"]
"""


def test_run_with_plant_url_against_the_virtual_device(tmp_path):
    """`o2twin run --plant URL`: the device replaces the plant; its samples and link figures join the results."""
    from orchestrator.hil.device.hardware import BenchHardware
    from orchestrator.hil.link.description import load_description
    from orchestrator.hil.sim.virtual import VirtualDevice
    from orchestrator.results.metrics import read_metrics
    from orchestrator.results.signals import read_signals_csv

    path = tmp_path / "hil.toml"
    path.write_text(HIL)
    description = load_description()
    out = tmp_path / "res"
    with VirtualDevice(BenchHardware(description), description) as vd:
        assert main(["-q", "run", str(path), "--plant", vd.url, "--out", str(out), "--no-plots"]) == 0
    metrics = read_metrics(out)
    assert metrics["status"] == "ok" and metrics["hil"]["commands_sent"] == 25
    assert metrics["real_time_factor"] < 1.2  # paced by the wall clock, never faster than real time
    assert (out / "device_samples.csv").stat().st_size > 0
    signals = read_signals_csv(out / "signals.csv")
    assert signals["time"][-1] == pytest.approx(0.5) and "psa.p_bed_A" in signals
    assert 'block = "orchestrator.hil.host.plant:DeviceSlave"' in (out / "scenario.toml").read_text()
