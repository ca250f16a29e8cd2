"""A Python block as an FMU (pythonfmu): a valid FMI 2.0 Co-Simulation FMU whose variables are the block's, with the
values it is given as start values; bad references are refused. Running such FMUs: tests/scenario/test_ssp_closed_loop.py."""

from __future__ import annotations

import json
import zipfile

import pytest
from fmpy import read_model_description

from orchestrator.cosim.slaves.block_fmu import build_block_fmu, pythonfmu_missing
from orchestrator.errors import SystemDefinitionError

pytestmark = pytest.mark.skipif(pythonfmu_missing() is not None, reason=str(pythonfmu_missing()))


def test_block_fmu_declares_the_block_interface_with_the_given_values(tmp_path):
    fmu = build_block_fmu("controllers.pid:PressurePID", "pid", 0.1, {"kp": 0.9, "manual": 1.0}, tmp_path / "pid.fmu")
    md = read_model_description(fmu, validate=True)  # fmpy's schema and rule checks
    assert md.fmiVersion == "2.0" and md.coSimulation.modelIdentifier == "O2TwinBlock_pid"
    variables = {v.name: v for v in md.modelVariables}
    assert variables["kp"].causality == "parameter" and float(variables["kp"].start) == 0.9
    assert variables["manual"].causality == "input" and float(variables["manual"].start) == 1.0
    assert variables["duty"].causality == "output" and variables["duty"].initial == "exact"
    with zipfile.ZipFile(fmu) as z:
        config = json.loads(z.read("resources/block.json"))
    assert config["block"] == "controllers.pid:PressurePID" and config["sample_time"] == 0.1


def test_block_fmu_refuses_what_it_cannot_build(tmp_path):
    with pytest.raises(SystemDefinitionError, match=r"slave x: block reference 'os.system' is not 'module:Class'"):
        build_block_fmu("os.system", "x", 0.1, {}, tmp_path / "x.fmu")
    with pytest.raises(SystemDefinitionError, match=r"slave x: cannot export block controllers.pid:Nothing"):
        build_block_fmu("controllers.pid:Nothing", "x", 0.1, {}, tmp_path / "x.fmu")
