"""Runs that start from a snapshot: the FMU states serialised at t continue the run as if it had never stopped,
with the run's own tunable parameter values, in this process (run) and in the many-runs engine (run_cases)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orchestrator.calibration.config import load_calibration
from orchestrator.calibration.evaluate import replay_spec, take_snapshot
from orchestrator.calibration.synthetic import write_calibration
from orchestrator.calibration.trace import read_trace
from orchestrator.errors import SimulationError
from orchestrator.results.run import open_run, run
from orchestrator.sweep import Case, run_cases
from tests.calibration.conftest import parameter_tables

HEAD = "window = [20.0, 30.0]\n"


@pytest.fixture(scope="module")
def replay(tmp_path_factory, brief_trace):
    folder = tmp_path_factory.mktemp("replay")
    params = parameter_tables({"compressor.eta_v0": 0.9}, {"compressor.eta_v0": (0.3, 0.99)})
    config = load_calibration(write_calibration(folder, brief_trace, HEAD, params))
    return replay_spec(config, read_trace(config.trace, config.time_column, config.units))


def _signals(result, names):
    frame = result.signals
    return frame.index.to_numpy(), {n: frame[n].to_numpy() for n in names}


NAMES = ["psa.p_bed_A", "psa.sensor_O2", "compressor.power", "psa.p_tank"]


def test_a_run_from_a_snapshot_continues_the_run(tmp_path, replay):
    whole = run(replay, out=tmp_path / "whole", plots=False)
    state = take_snapshot(replay, 20.0, {})
    assert state is not None and state.time_s == pytest.approx(20.0) and set(state.fmu_states) == {"compressor", "psa"}
    part = run(dataclasses.replace(replay, start_time=20.0), out=tmp_path / "part", plots=False, start_state=state)
    assert part.status == "ok"
    t_whole, a = _signals(whole, NAMES)
    t_part, b = _signals(part, NAMES)
    assert t_part[0] == pytest.approx(20.0) and t_part[-1] == pytest.approx(30.0)
    for name in NAMES:
        ref = np.interp(t_part, t_whole, a[name])
        assert np.max(np.abs(b[name] - ref)) <= 1e-4 * np.max(np.abs(ref)) + 1e-9, name


def test_the_runs_own_parameter_values_apply_after_the_restore(tmp_path, replay):
    state = take_snapshot(replay, 20.0, {"compressor.eta_v0": 0.9})
    spec = dataclasses.replace(replay, start_time=20.0)
    with open_run(spec, out=tmp_path / "r", plots=False, overrides={"compressor.eta_v0": 0.6}, start_state=state) as s:
        s.advance(until=20.5)
        assert s.simulation.get("compressor.eta_v0") == pytest.approx(0.6)


def test_a_state_from_another_time_is_refused(tmp_path, replay):
    state = take_snapshot(replay, 20.0, {})
    result = run(dataclasses.replace(replay, start_time=10.0), out=tmp_path / "r", plots=False, start_state=state)
    assert result.status == "failed" and "taken at t = 20 s" in result.error


def test_cases_of_the_many_runs_engine_start_from_it(replay):
    state = take_snapshot(replay, 20.0, {})
    spec = dataclasses.replace(replay, start_time=20.0)
    cases = [Case(spec, {"compressor.eta_v0": v}, start_state=state) for v in (0.92, 0.6)]
    cold = Case(spec, {"compressor.eta_v0": 0.92})
    table = run_cases([*cases, cold], workers=2, plots=False, row=_tank_pressure_row)
    assert list(table["status"]) == ["ok"] * 3
    warm, _, cold_row = table["p_tank_start"]
    assert warm > 1.5e5  # the snapshot's pressurised tank, not the cold start's ambient
    assert cold_row == pytest.approx(101325.0, rel=0.02)
    assert table["p_tank_end"][1] < table["p_tank_end"][0]  # less air delivered with the lower efficiency
    assert len(set(table["case_id"])) == 3  # the start state is part of a case's identity


def _tank_pressure_row(result):
    frame = result.signals
    return {"p_tank_start": float(frame["psa.p_tank"].iloc[0]), "p_tank_end": float(frame["psa.p_tank"].iloc[-1])}


def test_a_simulation_started_already_cannot_take_a_start_state(tmp_path, replay):
    state = take_snapshot(replay, 20.0, {})
    with open_run(dataclasses.replace(replay, start_time=20.0), out=tmp_path / "r", plots=False) as s:
        s.simulation.initialise()
        with pytest.raises(SimulationError, match="started already"):
            s.simulation.start_from(state)
