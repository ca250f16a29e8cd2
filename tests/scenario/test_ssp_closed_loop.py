"""A closed loop other tools can run (issue 16): `o2twin ssp export --closed-loop` makes every Python block
(controllers, sensor models, the watchdog) an FMU component (pythonfmu), so fmpy runs the whole concentrator from the
SSP archive alone and gets the result of `o2twin run` within the stated tolerance; o2twin's own import still
restores the Python blocks."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator import load_scenario, run
from orchestrator.cli.main import main
from orchestrator.cosim.slaves.block_fmu import pythonfmu_missing
from orchestrator.scenario.exchange import export_ssp, import_ssp
from tests.support.fmpy_ssp import simulate_in_subprocess

pytestmark = pytest.mark.skipif(pythonfmu_missing() is not None, reason=str(pythonfmu_missing()))

STOP_S = 120.0
#: signal -> largest difference allowed between fmpy and o2twin: of the mean over the run (relative), and at any
#: recorded point (absolute; None: not compared point by point)
TOLERANCES = {
    "psa.p_feed": (2e-3, None),
    "psa.p_tank": (3e-3, None),
    "psa.Q_product": (3e-3, None),
    "watchdog.duty": (3e-3, None),
    "titrator.Q_set": (3e-3, 3e-6),
    "psa.y_O2_product": (3e-3, 0.01),
    "patient.SpO2": (1e-3, 2e-3),
    "compressor.T_head": (1e-4, 0.05),
}


def test_exported_closed_loop_runs_in_fmpy_as_in_o2twin(tmp_path):
    spec = load_scenario("rest")
    spec.stop_time = STOP_S
    ssp = export_ssp(spec, tmp_path / "closed.ssp", closed_loop=True)
    record = [*TOLERANCES, "watchdog.failsafe", "watchdog.alarm_level"]
    fmpy = simulate_in_subprocess(ssp, STOP_S, spec.master.step, record, tmp_path / "fmpy.npz")
    ours = run(spec, out=tmp_path / "run", plots=False)
    assert ours.status == "ok"
    t = fmpy["time"]
    assert t[-1] == pytest.approx(STOP_S)
    for name, (mean_rel, point_abs) in TOLERANCES.items():
        o2 = np.interp(t, ours.signals.index.to_numpy(), ours.signals[name].to_numpy())
        assert abs(fmpy[name].mean() - o2.mean()) <= mean_rel * abs(o2.mean()), name
        if point_abs is not None:
            assert np.max(np.abs(fmpy[name] - o2)) <= point_abs, name
    # the loop is closed in fmpy: the watchdog lets the compressor run, the unit makes oxygen, nothing latches
    assert fmpy["watchdog.duty"].mean() > 0.5 and fmpy["psa.y_O2_product"][-1] > 0.8
    assert not fmpy["watchdog.failsafe"].any() and fmpy["watchdog.alarm_level"].max() < 3


def test_closed_loop_archive_round_trips_to_python_blocks(tmp_path):
    """o2twin's import skips the blocks' FMU components (named in the annotation) and runs them as blocks again."""
    spec = load_scenario("rest")
    ssp = tmp_path / "closed.ssp"
    assert main(["-q", "ssp", "export", "rest", str(ssp), "--closed-loop"]) == 0
    back = import_ssp(ssp, tmp_path / "fmus")
    assert {n: s.kind for n, s in back.slaves.items()} == {n: s.kind for n, s in spec.slaves.items()}
    assert back.connections == spec.connections
    assert {n: s.parameters for n, s in back.slaves.items()} == {n: s.parameters for n, s in spec.slaves.items()}
