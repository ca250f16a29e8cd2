"""A trace recorded from the virtual HIL device (the plant FMUs in real time behind a pseudo-terminal, with
parameter values other than the model's defaults: the "unit" to calibrate) fitted by `calibrate`.

The compressor test rig of tests/hil (duty and discharge pressure commanded, speed, flow, temperatures and power
measured) is driven through a profile for 6 s of wall time; its host-side log is the trace, its commands the
replayed inputs of a compressor-only scenario.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from orchestrator.calibration import calibrate
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.master.simulation import Simulation
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.cosim.system import System
from orchestrator.errors import O2TwinError
from orchestrator.hil.device.hardware import VirtualPlantHardware
from orchestrator.hil.host.device_slave import SerialDevice
from orchestrator.hil.link.description import load_description
from orchestrator.hil.sim.virtual import VirtualDevice
from orchestrator.paths import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.flaky(reruns=1, reruns_delay=1)]

RIG = PROJECT_ROOT / "tests" / "hil" / "compressor_device.toml"
#: The unit's values (the FMU's defaults: eta_v0 0.92, J_rotor 2e-3 kg m2)
TRUTH = {"eta_v0": 0.83, "J_rotor": 2.6e-3}
STEP_S = 0.02
LOG = ("speed", "m_flow", "T_discharge", "power")

SCENARIO = """
[scenario]
name = "compressor_rig"
description = "The compressor alone, duty and discharge pressure from a trace"
stop_time = 6.0
[master]
step = 0.02
[slaves.compressor]
fmu = "O2Twin.CoSim.Compressor"
[outputs]
record = ["compressor.speed", "compressor.m_flow", "compressor.T_discharge", "compressor.power"]
"""

CALIBRATION = """
[calibration]
name = "hil_rig"
scenario = "rig.toml"
trace = "hil_trace.csv"
window = [1.0, 6.0]
rounds = 6
max_evaluations = 4
[inputs]
duty = "compressor.duty"
p_discharge = "compressor.p_discharge"
[signals.speed]
twin = "compressor.speed"
[signals.m_flow]
twin = "compressor.m_flow"
[[parameters]]
name = "compressor.eta_v0"
start = 0.581
bounds = [0.3, 0.99]
[[parameters]]
name = "compressor.J_rotor"
start = 1.82e-3
bounds = [5e-4, 1e-2]
"""


class Profile(PythonBlock):
    """Duty 0 -> 0.8 over 1 s, 0.4 from 2.5 s, 0.7 from 4 s; discharge 1 -> 2.5 bar(a) over 2 s, 1.8 bar from 3.5 s."""

    OUTPUTS = (Variable("duty", "output", unit="1", start=0.0),
               Variable("p_discharge", "output", unit="Pa", start=101325.0))  # fmt: skip

    def reset(self) -> None:
        pass

    def update(self, t, inputs):
        duty = 0.8 * min(1.0, t) if t < 2.5 else (0.4 if t < 4.0 else 0.7)
        p = 101325.0 + 1.5e5 * min(1.0, t / 2.0) if t < 3.5 else 1.8e5
        return {"duty": duty, "p_discharge": p}


def record_hil_trace(path: Path, fmu: Path, stop_s: float = 6.0) -> Path:
    """Drive the virtual rig (parameters TRUTH) through Profile and write the host's log as the trace."""
    from orchestrator.cosim.slaves.fmu import FmuCoSimSlave

    desc = load_description(RIG)
    hw = VirtualPlantHardware(desc, {"compressor": FmuCoSimSlave("compressor", fmu)}, plant_step_s=0.01,
                              parameters={"compressor": TRUTH})  # fmt: skip
    rows: list[list[float]] = []
    with VirtualDevice(hw, desc, rt_priority=10) as vd:
        device = SerialDevice(vd.url, desc, {"sample_rate_hz": 100, "stale_after_s": 0.5, "rt_priority": 10})
        system = System()
        system.add(device.parts["compressor"])
        system.add(Profile("profile", STEP_S))
        system.connect("profile.duty", "compressor.duty")
        system.connect("profile.p_discharge", "compressor.p_discharge")
        sim = Simulation(system, MasterOptions(step=STEP_S, stop_time=stop_s))

        def log(s: Simulation) -> None:
            rows.append([s.time, s.get("profile.duty"), s.get("profile.p_discharge"),
                         *(s.get(f"compressor.{n}") for n in LOG)])  # fmt: skip

        try:
            sim.run(callback=log)
        finally:
            sim.finish()
        assert device.metrics()["link_losses"] == 0
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time", "duty", "p_discharge", *LOG])
        writer.writerow([0.0, 0.0, 101325.0, *(rows[0][3:])])  # the rig at rest before the first step
        writer.writerows(rows)
    return path


def test_a_trace_of_the_virtual_hil_device_is_fitted(tmp_path):
    from orchestrator.export import export_model

    try:
        built = export_model("O2Twin.CoSim.Compressor")
    except O2TwinError as err:
        pytest.skip(f"the compressor FMU cannot be exported here: {err}")
    fmu = tmp_path / "Compressor.fmu"
    shutil.copyfile(Path(getattr(built, "path", built)), fmu)
    folder = tmp_path / "cal"
    folder.mkdir()
    record_hil_trace(folder / "hil_trace.csv", fmu)
    (folder / "rig.toml").write_text(SCENARIO)
    (folder / "cal.toml").write_text(CALIBRATION)
    result = calibrate(folder / "cal.toml", out=tmp_path / "out", workers=2)
    # the flow constant within 3 %; the rotor inertia only within 15 %: it shows in the speed transients, which the
    # device's real-time plant (10 ms steps, commands acting a few ms late) shifts (measured: 2.37e-3, 9 % low)
    assert result.fitted["compressor.eta_v0"] == pytest.approx(TRUTH["eta_v0"], rel=0.03)
    assert result.fitted["compressor.J_rotor"] == pytest.approx(TRUTH["J_rotor"], rel=0.15)
