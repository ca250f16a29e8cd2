"""[[inputs]]: time tables (CSV or inline) feed slave inputs, interpolated as FMI 2.0 treats inputs (issue 11)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cli.main import main
from orchestrator.errors import SystemDefinitionError
from orchestrator.results.signals import read_signals_csv
from orchestrator.scenario.build import build_system
from orchestrator.scenario.load import load_scenario, scenario_text
from tests.support.blocks import ALLOW


def _lag_scenario(lag_fmu: Path, inputs: str, algorithm: str = "jacobi") -> str:
    return f"""
[scenario]
name = "replay"
stop_time = 3.0
[master]
algorithm = "{algorithm}"
step = 0.25
[slaves.a]
fmu = "{lag_fmu}"
[outputs]
record = ["a.y"]
{inputs}"""


def _run(tmp_path: Path, text: str, name: str = "replay.toml") -> dict[str, np.ndarray]:
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / f"res_{name}"
    assert main(["-q", "run", str(path), *ALLOW, "--out", str(out), "--no-plots"]) == 0
    return read_signals_csv(out / "signals.csv")


def test_inline_table_linear_and_hold(tmp_path, lag_fmu):
    rows = "table = [[0.0, 0.0], [1.0, 2.0], [2.0, 2.0], [2.0, -1.0]]"
    linear = _run(tmp_path, _lag_scenario(lag_fmu, f'[[inputs]]\ncolumns = ["u"]\n{rows}\nto = {{ u = "a.u" }}\n'))
    t = linear["time"]
    # the Lag input u is a continuous Real: linear between time points; a time given twice is a step
    expected = np.interp(t, [0.0, 1.0, 2.0], [0.0, 2.0, 2.0])
    expected[t >= 2.0] = -1.0
    np.testing.assert_allclose(linear["inputs1.u"], expected, atol=1e-12)
    held = _run(
        tmp_path,
        _lag_scenario(
            lag_fmu,
            f'[[inputs]]\nname = "profile"\ncolumns = ["u"]\n{rows}\nto = {{ u = "a.u" }}\ninterpolation = "hold"\n',
        ),
        "held.toml",
    )
    np.testing.assert_allclose(held["profile.u"], np.where(t < 1.0, 0.0, np.where(t < 2.0, 2.0, -1.0)), atol=1e-12)
    # the lag integrates what it was fed: the ramp feeds it from the start, the held table only from 1 s
    assert linear["a.y"][8] > held["a.y"][8] > 0


def test_csv_beside_the_scenario_round_trips(tmp_path, lag_fmu):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "walk.csv").write_text("time,level,other\n0,1.0,5\n1.5,3.0,5\n3,3.0,5\n")
    text = _lag_scenario(lag_fmu, '[[inputs]]\nfile = "profiles/walk.csv"\nto = { level = "a.u" }\n')
    data = _run(tmp_path, text)
    np.testing.assert_allclose(data["inputs1.level"], np.interp(data["time"], [0, 1.5, 3], [1, 3, 3]), atol=1e-12)
    assert "inputs1.other" not in data  # only the columns that feed an input
    spec = load_scenario(tmp_path / "replay.toml")
    assert '[[inputs]]\nname = "inputs1"\nfile = "profiles/walk.csv"\nto = { level = "a.u" }' in scenario_text(spec)


@pytest.mark.parametrize(
    ("inputs", "files", "message"),
    [
        ('file = "/etc/hosts"\nto = { u = "a.u" }', {}, "'file' = '/etc/hosts' must be a path inside the scenario's"),
        ('file = "../p.csv"\nto = { u = "a.u" }', {}, "must be a path inside the scenario's folder"),
        ('file = "p.csv"\nto = { u = "a.u" }', {"p.csv": "time,v\n0,1\n"}, "has no column 'u' (columns: v)"),
        ('file = "p.csv"\nto = { v = "a.u" }', {"p.csv": "time,v\n0,1\n1,x\n"}, "p.csv line 3: column 'v' holds 'x'"),
        ('file = "p.csv"\nto = { v = "a.u" }', {"p.csv": "time,v\n1,1\n0,1\n"}, "row 2 goes back in time"),
        ('file = "p.csv"\nto = { v = "a.u" }', {"p.csv": "t,v\n0,1\n"}, "the first line must be the header 'time,"),
        ('columns = ["y"]\ntable = [[0.0, 1.0]]\nto = { y = "a.y" }', {}, "'a.y' is an output; a table feeds inputs"),
        ('columns = ["v"]\ntable = [[0.0, 1.0]]\nto = { v = "a.uu" }', {}, "a has no input 'uu' (did you mean 'u'?)"),
        ('columns = ["v"]\ntable = [[0.0, 1.0]]\nto = { v = "b.u" }', {}, "names unknown slave 'b'"),
        ('name = "a"\ncolumns = ["v"]\ntable = [[0.0, 1.0]]\nto = { v = "a.u" }', {}, "'name' = 'a' is taken"),
        ('columns = ["v"]\ntable = [[0.0]]\nto = { v = "a.u" }', {}, "every row of 'table' must hold a time and 1"),
        ('table = [[0.0, 1.0]]\nto = { v = "a.u" }', {}, "an inline 'table' needs 'columns'"),
    ],
)
def test_bad_tables_are_one_clear_error(tmp_path, lag_fmu, inputs, files, message):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    path = tmp_path / "bad.toml"
    path.write_text(_lag_scenario(lag_fmu, f"[[inputs]]\n{inputs}\n"))
    with pytest.raises(SystemDefinitionError, match=re.escape(message)) as info:
        system = build_system(load_scenario(path))
        for slave in system.slaves.values():
            slave.terminate()
    assert str(info.value).startswith(str(path))


@pytest.fixture(scope="module")
def feedthrough(tmp_path_factory) -> Path:
    from tests.support.reference_fmus import build, missing_tools

    why = missing_tools()
    if why:
        pytest.skip(f"Reference FMUs cannot be built: {why}")
    return build(tmp_path_factory.mktemp("reference_fmus"), ("Feedthrough",))["Feedthrough"]


def test_reference_feedthrough_input_file_follows_the_fmi_rule(tmp_path, feedthrough):
    """Reference-FMUs' Feedthrough_in.csv: the continuous input is interpolated, the discrete ones are held."""
    from tests.support.reference_fmus import source_dir

    source = source_dir()
    assert source is not None
    shutil.copy(source / "tests" / "resources" / "Feedthrough_in.csv", tmp_path / "Feedthrough_in.csv")
    text = f"""
[scenario]
name = "feedthrough"
stop_time = 4.0
[master]
algorithm = "jacobi"
step = 0.25
[slaves.ft]
fmu = "{feedthrough}"
[[inputs]]
file = "Feedthrough_in.csv"
slave = "ft"
columns = ["Float64_continuous_input", "Float64_discrete_input", "Int32_input"]
[outputs]
record = ["ft.Float64_continuous_output", "ft.Float64_discrete_output", "ft.Int32_output"]
"""
    data = _run(tmp_path, text, "feedthrough.toml")
    t = data["time"]
    # rows: t=0: 3, t=1: 3, then a step to 2 at t=1, 3 at t=2, ... (the continuous input ramps from 2 to 3 in 1..2)
    continuous = np.where(t < 1.0, 3.0, np.where(t < 2.0, 2.0 + (t - 1.0), 3.0))
    discrete = np.where(t < 1.0, 3.0, np.where(t < 2.0, 2.0, 3.0))
    np.testing.assert_allclose(data["ft.Float64_continuous_output"], continuous, atol=1e-12)
    np.testing.assert_allclose(data["ft.Float64_discrete_output"], discrete, atol=1e-12)
    np.testing.assert_array_equal(data["ft.Int32_output"], np.where(t < 3.0, 1.0, 2.0))
