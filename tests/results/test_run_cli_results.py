"""`o2twin run` end to end on a hand-written FMU and Python blocks: results, failures, exit codes, summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cli.main import main
from orchestrator.results.events import read_events
from orchestrator.results.matfile import read_dsres
from orchestrator.results.metrics import read_metrics
from orchestrator.results.signals import read_signal_units, read_signals_csv
from orchestrator.scenario import load as scenario_module
from tests.support.blocks import ALLOW


def _scenario(lag_fmu, extra: str = "", b_params: str = "T = 1.0", crash: str | None = None) -> str:
    text = f"""
[scenario]
name = "lagpair"
description = "two lags behind a step"
stop_time = 2.0

[master]
algorithm = "jacobi"
step = 0.1

[slaves.src]
block = "tests.support.blocks:Source"
[slaves.src.parameters]
level = 1.0

[slaves.a]
fmu = "{lag_fmu}"
[slaves.a.parameters]
k = 2.0
T = 0.5

[slaves.b]
fmu = "{lag_fmu}"
[slaves.b.parameters]
{b_params}

[[connections]]
from = "src.value"
to = "a.u"

[[connections]]
from = "a.y"
to = "b.u"
gain = 0.5

[[events]]
time = 1.0
description = "gain of a halves"
set = {{ "a.k" = 1.0 }}

[outputs]
record = ["b.y"]
interval = 0.1

[[plots]]
title = "Lags"
signals = ["a.y", "b.y"]
unit = "degC"

[metrics]
summary = "tests.support.blocks:final_values"
"""
    if crash is not None:
        text += f"""
[slaves.crash]
block = "tests.support.blocks:Crasher"
[slaves.crash.parameters]
{crash}

[[connections]]
from = "b.y"
to = "crash.u"
"""
    return text + extra


@pytest.fixture
def write_scenario(tmp_path, lag_fmu):
    def write(name: str = "lagpair.toml", **kwargs) -> str:
        path = tmp_path / name
        path.write_text(_scenario(lag_fmu, **kwargs))
        return str(path)

    return write


def test_run_writes_a_complete_results_dir(write_scenario, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", *ALLOW, write_scenario(), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "status     ok" in printed and "RTF" in printed and "final a.y" in printed
    csv = read_signals_csv(out / "signals.csv")
    mat = read_dsres(out / "result.mat")
    assert list(csv) == ["time", "src.value", "a.y", "b.y"]  # connected signals + [outputs] record
    np.testing.assert_allclose(csv["time"], np.arange(21) * 0.1, atol=1e-12)
    for name in csv:
        np.testing.assert_array_equal(csv[name], mat[name])
    # the connection's gain reaches b: b is a lag of 0.5 * a.y, so it stays below 0.5 * max(a.y)
    assert np.all(csv["b.y"] <= 0.5 * csv["a.y"].max() + 1e-12)
    # a follows k*u = 2 with T = 0.5 s until the event at 1 s sets k = 1, then falls towards 1
    i1 = round(1.0 / 0.1)
    assert np.all(np.diff(csv["a.y"][: i1 + 1]) >= 0) and 1.5 < csv["a.y"][i1] < 2.0
    assert csv["a.y"][-1] < csv["a.y"][i1 + 1]
    assert mat["a.k"][0] == 2.0 and mat["b.T"][0] == 1.0  # scenario parameters stored as constants
    # ... and every other parameter at its value in the run, as Dymola's result files hold them
    assert mat["b.k"][0] == 1.0 and mat["a.fail_time"][0] == 1e300 and mat["src.t_step"][0] == 0.0
    assert read_signal_units(out / "signals.csv") == {"time": "s", "src.value": "K", "a.y": "K", "b.y": "K"}
    assert (out / "signals.csv").read_text().splitlines()[1] == "s,K,K,K"
    metrics = read_metrics(out)
    assert metrics["status"] == "ok" and metrics["error"] is None
    assert metrics["simulated_time_s"] == pytest.approx(2.0)
    assert metrics["fmu_guids"] == {
        "a": "{8c4e810f-3df3-4a00-8276-176fa3c9f000}",
        "b": "{8c4e810f-3df3-4a00-8276-176fa3c9f000}",
    }
    assert set(metrics["slave_wall_time_s"]) == {"src", "a", "b"}
    assert metrics["versions"]["fmpy"] and len(metrics["scenario"]["hash"]) == 64
    assert metrics["summary"]["points"] == 21 and metrics["summary"]["final a.y"] == csv["a.y"][-1]
    assert metrics["real_time_factor"] > 0
    assert any("a.k" in e["text"] and e["time"] == 1.0 for e in read_events(out))
    assert (out / "plots" / "lags.png").stat().st_size > 1000
    assert (out / "scenario.toml").read_text().startswith("[scenario]")


def test_same_scenario_same_hash_and_bit_identical_results(write_scenario, tmp_path):
    path = write_scenario()
    assert main(["-q", "run", *ALLOW, path, "--out", str(tmp_path / "r1"), "--no-plots"]) == 0
    assert main(["-q", "run", *ALLOW, path, "--out", str(tmp_path / "r2"), "--no-plots"]) == 0
    assert (tmp_path / "r1" / "signals.csv").read_bytes() == (tmp_path / "r2" / "signals.csv").read_bytes()
    assert read_metrics(tmp_path / "r1")["scenario"]["hash"] == read_metrics(tmp_path / "r2")["scenario"]["hash"]
    assert not (tmp_path / "r1" / "plots").exists()


@pytest.mark.parametrize("discard", [0, 1], ids=["fmi2Error", "fmi2Discard"])
def test_failing_fmu_mid_run_keeps_results(write_scenario, tmp_path, capsys, discard):
    out = tmp_path / "res"
    path = write_scenario(b_params=f"T = 1.0\nfail_time = 1.25\ndiscard = {discard}")
    code = main(["run", *ALLOW, path, "--out", str(out)])
    assert code == 3
    message = capsys.readouterr().err
    assert "slave b" in message and "t = 1.2" in message and "injected failure" in message
    csv = read_signals_csv(out / "signals.csv")
    mat = read_dsres(out / "result.mat")
    assert csv["time"][-1] == pytest.approx(1.2) and len(csv["time"]) == 13
    np.testing.assert_array_equal(csv["b.y"], mat["b.y"])
    metrics = read_metrics(out)
    assert metrics["status"] == "failed" and metrics["failed_slave"] == "b"
    assert "injected failure" in metrics["error"] and metrics["failed_at_s"] == pytest.approx(1.2)
    assert metrics["summary"]["points"] == 13  # the summary runs on what was recorded
    assert any(e["source"] == "run" and "failed" in e["text"] for e in read_events(out))
    assert (out / "plots" / "lags.png").exists()


def test_python_block_crash_keeps_results_and_traceback(write_scenario, tmp_path, capsys):
    out = tmp_path / "res"
    code = main(["run", *ALLOW, write_scenario(crash="crash_time = 0.55"), "--out", str(out), "--no-plots"])
    assert code == 3
    metrics = read_metrics(out)
    assert metrics["status"] == "failed" and metrics["failed_slave"] == "crash"
    assert "RuntimeError: controller bug at t=0.6" in metrics["error"]
    assert "controller bug" in (out / "traceback.txt").read_text()
    csv = read_signals_csv(out / "signals.csv")
    assert 0.5 <= csv["time"][-1] < 0.65
    assert read_dsres(out / "result.mat")["time"].tolist() == csv["time"].tolist()


def test_interrupt_stops_with_results_on_disk(write_scenario, tmp_path):
    out = tmp_path / "res"
    code = main(["run", *ALLOW, write_scenario(crash="crash_time = 0.75\ninterrupt = true"), "--out", str(out)])
    assert code == 130
    metrics = read_metrics(out)
    assert metrics["status"] == "stopped"
    assert 0.7 <= read_signals_csv(out / "signals.csv")["time"][-1] < 0.85


def test_stop_time_override_and_default_results_dir(write_scenario, tmp_path, monkeypatch):
    path = write_scenario()
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "run", *ALLOW, path, "--stop-time", "0.5", "--no-plots"]) == 0
    runs = [p for p in (tmp_path / "results" / "lagpair").iterdir() if p.name != "latest"]
    assert len(runs) == 1
    latest = tmp_path / "results" / "lagpair" / "latest"
    assert latest.resolve() == runs[0].resolve()
    assert read_signals_csv(latest / "signals.csv")["time"][-1] == pytest.approx(0.5)
    assert main(["-q", "run", *ALLOW, path, "--stop-time", "0.2", "--no-plots"]) == 0  # a second run never overwrites
    assert len([p for p in (tmp_path / "results" / "lagpair").iterdir() if p.name != "latest"]) == 2


def test_out_dir_with_results_is_refused(write_scenario, tmp_path, capsys):
    path = write_scenario()
    out = tmp_path / "res"
    assert main(["-q", "run", *ALLOW, path, "--out", str(out), "--no-plots", "--stop-time", "0.2"]) == 0
    assert main(["-q", "run", *ALLOW, path, "--out", str(out), "--no-plots"]) == 2
    assert "already holds results" in capsys.readouterr().err
    (out / "traceback.txt").write_text("from an earlier run")
    assert main(["-q", "run", *ALLOW, path, "--out", str(out), "--no-plots", "--overwrite", "--stop-time", "0.3"]) == 0
    assert not (out / "traceback.txt").exists()  # no stale file from the earlier run survives
    assert read_signals_csv(out / "signals.csv")["time"][-1] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[connections]]\nfrom = "a.yy"\nto = "crash_free.u"\n', "names unknown slave 'crash_free'"),
        ('[[plots]]\ntitle = "x"\nsignals = ["a.y"]\nunit = "bar(g)"\n', "cannot show a signal in 'K' as 'bar(g)'"),
        ('[[events]]\ntime = 0.5\noverride = { "a.y" = 1.0 }\n', "'a.y' is a output; expected input"),
        ('[[events]]\ntime = 0.5\nset = { "a.kk" = 1.0 }\n', "a has no variable 'kk' (did you mean 'k'?)"),
        # issue 10: these were tracebacks or ran
        ('[[events]]\ntime = 0.5\nset = { "a.k" = "high" }\n', "a.k value 'high' is not a finite number"),
    ],
)
def test_definition_errors_exit_2_before_writing(write_scenario, tmp_path, capsys, extra, message):
    out = tmp_path / "res"
    assert main(["run", *ALLOW, write_scenario(extra=extra), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "lagpair.toml" in err
    assert not out.exists()
    assert "Traceback" not in err


def _with_min_time_constant(lag_fmu, tmp_path):
    """The Lag FMU with min="0.001" on its time constant T, as an exporter writes it from Modelica's min."""
    import zipfile

    fmu = tmp_path / "LagMin.fmu"
    with zipfile.ZipFile(lag_fmu) as zin, zipfile.ZipFile(fmu, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "modelDescription.xml":
                data = data.replace(b'<Real start="1" unit="s"/></ScalarVariable>\n    <ScalarVariable name="fail_time"',
                                    b'<Real start="1" unit="s" min="0.001"/></ScalarVariable>\n    <ScalarVariable name="fail_time"')  # fmt: skip
                assert b'min="0.001"' in data
            zout.writestr(item, data)
    return fmu


@pytest.mark.parametrize(
    ("b_params", "message"),
    [
        ('T = "slow"', "[slaves.b.parameters]: b.T is a Real; got the text 'slow'"),
        ("T = -1.0", "[slaves.b.parameters]: b.T = -1.0 s is below its minimum 0.001 s (declared by the slave)"),
    ],
)
def test_parameter_of_the_wrong_type_or_out_of_range_is_a_definition_error(
    tmp_path, lag_fmu, capsys, b_params, message
):
    """Checked against the FMU's modelDescription while building, before any results directory (issue 10/11)."""
    path = tmp_path / "lagpair.toml"
    text = _scenario(lag_fmu, b_params=b_params)
    path.write_text(
        text.replace(
            f'[slaves.b]\nfmu = "{lag_fmu}"', f'[slaves.b]\nfmu = "{_with_min_time_constant(lag_fmu, tmp_path)}"'
        )
    )
    out = tmp_path / "res"
    assert main(["run", *ALLOW, str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()


def test_unknown_variable_in_connection_names_the_connection(write_scenario, tmp_path, capsys):
    path = write_scenario(extra='[[connections]]\nfrom = "a.yy"\nto = "b.k"\n')
    assert main(["run", *ALLOW, path, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "a.yy -> b.k" in err and "did you mean 'y'" in err


def test_missing_fmu_and_block(tmp_path, capsys, lag_fmu):
    path = tmp_path / "x.toml"
    path.write_text(_scenario(lag_fmu).replace(str(lag_fmu), "nowhere/Lag.fmu"))
    assert main(["run", *ALLOW, str(path)]) == 2
    assert "x.toml: [slaves.a]: FMU file 'nowhere/Lag.fmu' not found" in capsys.readouterr().err
    path.write_text(_scenario(lag_fmu).replace("tests.support.blocks:Source", "tests.support.blocks:Nope"))
    assert main(["run", *ALLOW, str(path)]) == 2
    assert "module 'tests.support.blocks' has no 'Nope'" in capsys.readouterr().err


def test_no_argument_without_default_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scenario_module, "SCENARIOS_DIR", tmp_path / "scenarios")
    assert main(["run"]) == 2
    assert "no scenario 'default'" in capsys.readouterr().err


def test_scenarios_command_lists_descriptions(tmp_path, monkeypatch, capsys, lag_fmu):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "lagpair.toml").write_text(_scenario(lag_fmu))
    (folder / "broken.toml").write_text("[scenario\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scenario_module, "SCENARIOS_DIR", folder)
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("lagpair") and "two lags behind a step" in line for line in lines)
    assert any(line.startswith("broken") and "unreadable" in line for line in lines)
    assert main(["run", *ALLOW, "lagpair", "--out", str(tmp_path / "r"), "--no-plots", "--stop-time", "0.3"]) == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["scenario"]["name"] == "lagpair"
    assert not math.isnan(read_signals_csv(tmp_path / "r" / "signals.csv")["a.y"][-1])


def test_failure_during_initialisation(write_scenario, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", *ALLOW, write_scenario(b_params="T = 0.0"), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "slave b" in err and "T must be > 0" in err
    metrics = read_metrics(out)
    assert metrics["status"] == "failed" and metrics["failed_at_s"] == 0.0 and metrics["recorded_points"] == 0
    csv = read_signals_csv(out / "signals.csv")
    assert list(csv) == ["time", "src.value", "a.y", "b.y"] and len(csv["time"]) == 0
    assert read_dsres(out / "result.mat")["time"].shape == (0,)


def test_scenario_seed_reaches_seeded_blocks(tmp_path, lag_fmu):
    def run(seed: int, name: str) -> np.ndarray:
        path = tmp_path / f"{name}.toml"
        path.write_text(f"""
[scenario]
stop_time = 1.0
seed = {seed}
[slaves.noise]
block = "tests.support.blocks:Noise"
[slaves.a]
fmu = "{lag_fmu}"
[[connections]]
from = "noise.value"
to = "a.u"
[outputs]
record = ["a.y"]
""")
        assert main(["-q", "run", *ALLOW, str(path), "--out", str(tmp_path / name), "--no-plots"]) == 0
        return read_signals_csv(tmp_path / name / "signals.csv")["a.y"]

    first, again, other = run(7, "s7"), run(7, "s7b"), run(8, "s8")
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert read_dsres(tmp_path / "s7" / "result.mat")["a.y"].tolist() == first.tolist()


def test_set_overrides_parameters_from_the_command_line(write_scenario, tmp_path, capsys):
    """`o2twin run --set slave.param=value`: TOML values, a later --set wins, errors name the option."""
    path = write_scenario()
    out = tmp_path / "set"
    assert main(["-q", "run", *ALLOW, path, "--out", str(out), "--no-plots", "--set", "a.k=5", "--set", "a.k=3.0",
                 "--set", "src.level=2.0"]) == 0  # fmt: skip
    mat = read_dsres(out / "result.mat")
    assert mat["a.k"][0] == 3.0 and mat["src.level"][0] == 2.0  # parameters as constants in result.mat
    assert "k = 3.0" in (out / "scenario.toml").read_text()  # the scenario as run
    csv = read_signals_csv(out / "signals.csv")
    assert csv["src.value"][-1] == 2.0 and csv["a.y"][9] > 4.0  # a follows k*u = 6 (until the event sets k = 1)
    for bad, message in [
        ("a.k", "--set 'a.k': expected SLAVE.PARAMETER=VALUE"),
        ("nope.k=1", "--set nope.k: the scenario has no slave 'nope' (slaves: a, b, src)"),
        ("a.kk=1", "a has no variable 'kk' (did you mean 'k'?)"),
        ('a.k="fast"', "a.k is a Real; got the text 'fast'"),
    ]:
        assert main(["-q", "run", *ALLOW, path, "--out", str(tmp_path / "bad"), "--set", bad]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and not (tmp_path / "bad").exists()


def test_event_values_carry_units(write_scenario, tmp_path):
    path = write_scenario(extra='[[events]]\ntime = 0.5\ndrift = { "a.y" = { rate = 0.5 } }\n')
    out = tmp_path / "units"
    assert main(["-q", "run", *ALLOW, path, "--out", str(out), "--no-plots"]) == 0
    texts = [e["text"] for e in read_events(out)]
    assert "drift a.y at 0.5 K/s" in texts and "set a.k = 1" in texts  # k is dimensionless: no unit


def test_a_volume_below_its_modelica_minimum_is_refused(tmp_path, capsys):
    """Issue 11: V_tank = -1 ran "ok" with zero flow; the exporter writes Modelica's min, the build checks it."""
    out = tmp_path / "res"
    assert main(["-q", "run", "default", "--set", "psa.V_tank=-1", "--out", str(out), "--stop-time", "1"]) == 2
    err = capsys.readouterr().err
    assert "psa.V_tank = -1 m3 is below its minimum 1e-06 m3" in err and not out.exists()


def test_fmu_without_a_binary_for_this_platform_is_a_definition_error(write_scenario, tmp_path, lag_fmu, capsys):
    """Issue 10: a missing or wrong-platform binary was a simulation failure (exit 3) after the results dir."""
    import zipfile

    other = tmp_path / "LagWin.fmu"
    with zipfile.ZipFile(lag_fmu) as zin, zipfile.ZipFile(other, "w") as zout:
        for item in zin.namelist():
            zout.writestr(item.replace("binaries/linux64/Lag.so", "binaries/win64/Lag.dll"), zin.read(item))
    path = write_scenario()
    Path(path).write_text(Path(path).read_text().replace(str(lag_fmu), str(other)))
    out = tmp_path / "res"
    assert main(["-q", "run", *ALLOW, path, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "win64" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
