"""Scenario bundles: a scenario and every file its runs read travel as data, so a worker needs no shared folder."""

from __future__ import annotations

import dataclasses
import math
import shutil

import pytest

from orchestrator.scenario.load import load_scenario
from orchestrator.sweep.bundle import SCENARIO_FILE, bundle_scenario, unpack
from orchestrator.sweep.case import summary_row
from orchestrator.sweep.worker import CaseJob, execute_case
from tests.support import blocks

LOCAL_MODULE = "sweep_bundle_local_blocks"

SCENARIO = f"""
[scenario]
name = "fed"
stop_time = 2.0

[master]
step = 0.1

[slaves.lag]
fmu = "fmus/Lag.fmu"
[slaves.lag.parameters]
k = 2.0

[slaves.const]
block = "{LOCAL_MODULE}:Const"

[[inputs]]
file = "profiles/u.csv"
to = {{ u = "lag.u" }}
interpolation = "hold"

[outputs]
record = ["lag.y", "const.value"]

[metrics]
summary = "{blocks.MODULE}:final_values"
"""

LOCAL_BLOCKS = """
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock


class Const(PythonBlock):
    OUTPUTS = (Variable("value", "output", start=0.0),)

    def reset(self):
        pass

    def update(self, t, inputs):
        return {"value": 7.0}
"""


def test_a_bundle_runs_after_the_scenario_folder_is_gone(tmp_path, lag_fmu):
    folder = tmp_path / "scenario"
    (folder / "fmus").mkdir(parents=True)
    (folder / "profiles").mkdir()
    shutil.copy(lag_fmu, folder / "fmus" / "Lag.fmu")
    (folder / "profiles" / "u.csv").write_text("time,u\n0,3.0\n10,3.0\n", encoding="utf-8")
    (folder / f"{LOCAL_MODULE}.py").write_text(LOCAL_BLOCKS, encoding="utf-8")
    (folder / "fed.toml").write_text(SCENARIO, encoding="utf-8")
    allow = (blocks.MODULE, LOCAL_MODULE)

    bundle = bundle_scenario(load_scenario(folder / "fed.toml"), allow)
    names = set(bundle.files)
    assert {SCENARIO_FILE, "profiles/u.csv", f"{LOCAL_MODULE}.py"} <= names
    assert any(n.startswith(".fmus/") and n.endswith("/Lag.fmu") for n in names)
    assert bundle.files["profiles/u.csv"] == (folder / "profiles" / "u.csv").read_bytes()
    shutil.rmtree(folder)  # a remote worker has none of these files

    job = CaseJob("c1", bundle.digest, {"lag.k": 4.0}, seed=None, stop_time=None, row=summary_row, allow_modules=allow)
    outcome = execute_case(bundle, job)
    assert outcome.status == "ok", outcome.error
    assert outcome.metrics["final lag.y"] == pytest.approx(4.0 * 3.0 * (1 - math.exp(-2.0)), rel=1e-12)
    assert outcome.metrics["final const.value"] == 7.0
    assert {"metrics.json", "events.jsonl"} <= set(outcome.files)


def test_unpacking_is_content_addressed_and_whole(tmp_path, lag_fmu, tiny_scenario):
    bundle = bundle_scenario(load_scenario(tiny_scenario))
    spec = unpack(bundle, root=tmp_path)
    folder = tmp_path / bundle.digest
    assert spec.source == str(folder / SCENARIO_FILE)
    assert spec.slaves["lag"].fmu.startswith(".fmus/") and (folder / spec.slaves["lag"].fmu).read_bytes() == (
        lag_fmu.read_bytes()
    )
    assert unpack(bundle, root=tmp_path) == spec  # a second unpack finds the folder there
    assert [p.name for p in tmp_path.iterdir()] == [bundle.digest]  # no staging folder left behind
    changed = bundle_scenario(dataclasses.replace(load_scenario(tiny_scenario), seed=9))
    assert changed.digest != bundle.digest  # another spec, another bundle
