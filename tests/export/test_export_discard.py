"""The project's own FMU under the master's error control: an integrator failure inside fmi2DoStep is an
fmi2Discard, so the master rejects the macro step, restores the FMU state and retries smaller, and the run
recovers (with a fixed step the same failure ends the run with a clear error).

DrainLoop.DrainTank cannot be integrated below level 0 (its orifice outflow is k sqrt(h)): held over a long macro step,
the controller's initial pump flow drains it past 0, while with short steps the control loop keeps it above."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from orchestrator.errors import O2TwinError, SimulationError

MODELS = Path(__file__).resolve().parent / "models"
STOP_S = 10.0


@pytest.fixture(scope="module")
def drain_fmus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from orchestrator.export import export_model

    out = tmp_path_factory.mktemp("drain")
    try:
        return {
            n: export_model(f"DrainLoop.{n}", models_dir=MODELS, out_dir=out) for n in ("DrainTank", "LevelController")
        }
    except O2TwinError as exc:  # e.g. no C compiler
        pytest.skip(f"cannot export DrainLoop: {exc}")


def run(fmus: dict[str, Path], options: MasterOptions) -> tuple[Simulation, MemoryRecorder]:
    system = System()
    system.add(FmuCoSimSlave("tank", fmus["DrainTank"]))
    system.add(FmuCoSimSlave("controller", fmus["LevelController"]))
    system.connect("tank.level", "controller.level")
    system.connect("controller.q_pump", "tank.q_pump")
    recorder = MemoryRecorder()
    sim = Simulation(system, options, recorders=[recorder])
    sim.run()
    return sim, recorder


def test_fixed_step_run_ends_on_the_discard(drain_fmus: dict[str, Path]) -> None:
    with pytest.raises(
        SimulationError, match=r"slave tank rejected the step from t = 0 s by 2 s \(fmi2DoStep returned Discard\)"
    ):
        run(drain_fmus, MasterOptions(step=2.0, stop_time=STOP_S))


def test_error_control_retries_the_discarded_step_smaller_and_recovers(
    drain_fmus: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        sim, rec = run(drain_fmus, MasterOptions(step=2.0, stop_time=STOP_S, error_control=True, tolerance=1e-4))
    retries = [r.getMessage() for r in caplog.records if "retrying with a smaller step" in r.getMessage()]
    assert retries and all(
        "slave tank rejected the step" in m and "(fmi2DoStep returned Discard)" in m for m in retries
    ), retries
    assert "integration failed" in retries[0]  # the FMU's own reason travels with it
    assert sim.stats["rejected_steps"] >= len(retries)
    level = np.array(rec.column("tank.level"))
    assert rec.times[-1] == pytest.approx(STOP_S)
    assert np.all(level > 0.0)
    # the recovered run is the control loop's trajectory: it settles where kp (h_ref - h) = k sqrt(h)
    h_eq = ((-0.5 + np.sqrt(0.25 + 4 * 0.2)) / 2) ** 2
    assert level[-1] == pytest.approx(h_eq, rel=1e-2)
