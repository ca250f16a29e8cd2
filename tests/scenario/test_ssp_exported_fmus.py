"""SSP and `o2twin run` on FMUs from our own exporter (slow: compiles two FMUs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fmpy.ssp.ssd import read_ssd

from orchestrator.cli.main import main
from orchestrator.results.matfile import read_dsres
from orchestrator.results.metrics import read_metrics
from orchestrator.scenario.exchange import export_ssp, import_ssp
from orchestrator.scenario.load import load_scenario
from tests.support.blocks import ALLOW

MODELS = Path(__file__).resolve().parents[1] / "export" / "models"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oscillator_fmus(tmp_path_factory):
    try:
        from orchestrator.export import export_model
    except ImportError as err:  # pragma: no cover - the exporter is part of the package
        pytest.skip(f"exporter unavailable: {err}")
    out = tmp_path_factory.mktemp("fmus")
    return {
        name: export_model(f"CoupledOscillators.{name}", models_dir=MODELS, out_dir=out) for name in ("Mass1", "Mass2")
    }


def test_exported_fmus_through_ssp_and_run(oscillator_fmus, tmp_path):
    scenario = tmp_path / "osc.toml"
    scenario.write_text(f"""
[scenario]
name = "osc"
stop_time = 2.0
[master]
step = 0.01
[slaves.m1]
fmu = "{oscillator_fmus["Mass1"]}"
[slaves.m2]
fmu = "{oscillator_fmus["Mass2"]}"
[slaves.m2.parameters]
kc = 50.0
[[connections]]
from = "m1.x1"
to = "m2.x1"
[[connections]]
from = "m1.v1"
to = "m2.v1"
[[connections]]
from = "m2.F"
to = "m1.F"
[outputs]
record = ["m2.x2"]
""")
    spec = load_scenario(scenario)
    ssp = export_ssp(spec, tmp_path / "osc.ssp")
    ssd = read_ssd(str(ssp))
    units = {u.name: u for u in ssd.units}
    assert {"m", "m/s", "N"} <= set(units)
    assert (units["N"].kg, units["N"].m, units["N"].s) == (1, 1, -2)  # base units from the FMU's UnitDefinitions
    back = import_ssp(ssp, fmu_dir=tmp_path / "x")
    assert back.slaves["m2"].parameters == {"kc": 50.0} and len(back.connections) == 3
    out = tmp_path / "res"
    assert main(["-q", "run", *ALLOW, str(scenario), "--out", str(out), "--no-plots"]) == 0
    mat = read_dsres(out / "result.mat")
    assert mat["time"][-1] == pytest.approx(2.0) and len(mat["time"]) == 201
    # the coupled masses exchange energy: mass 2 starts at rest and moves
    assert mat["m2.x2"][0] == 0.0 and np.max(np.abs(mat["m2.x2"])) > 1e-3
    metrics = read_metrics(out)
    assert set(metrics["fmu_guids"]) == {"m1", "m2"} and metrics["status"] == "ok"
