"""The shipped scenario files: each loads, passes the safety topology check and uses the default system."""

from __future__ import annotations

from pathlib import Path

import pytest

from controllers.watchdog import check_topology
from orchestrator.scenario.load import load_scenario

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
NAMED = ["default", "exercise", "high_altitude", "compressor_wear", "stuck_valve", "o2_sensor_drift", "blocked_cannula",
         "high_ambient_temperature", "night", "exacerbation"]  # fmt: skip


@pytest.mark.parametrize("name", ["rest", *NAMED])
def test_scenario_loads_and_is_guarded(name):
    spec = load_scenario(SCENARIO_DIR / f"{name}.toml")
    assert spec.name == name and spec.description and "\n" not in spec.description
    assert spec.watchdog == "watchdog"
    check_topology(spec)
    assert spec.summary == "controllers.metrics:concentrator_summary"
    assert {p.file for p in spec.plots} >= {"pressures.png", "purity.png", "spo2.png", "flow.png",
                                            "compressor_power.png", "compressor_temperature.png", "valves.png",
                                            "alarms.png"}  # fmt: skip


@pytest.mark.parametrize("name", NAMED)
def test_named_scenario_is_the_default_system(name):
    """Same slaves, wiring, master and recording as rest.toml: only parameters and events differ."""
    base = load_scenario(SCENARIO_DIR / "rest.toml")
    spec = load_scenario(SCENARIO_DIR / f"{name}.toml")
    assert spec.connections == base.connections
    assert spec.master == base.master and spec.outputs == base.outputs and spec.plots == base.plots
    assert {n: (s.fmu, s.block, s.sample_time) for n, s in spec.slaves.items()} == {
        n: (s.fmu, s.block, s.sample_time) for n, s in base.slaves.items()
    }
    assert spec != base


def test_rated_flow_scenario_is_the_default_unit_at_a_fixed_flow():
    """The bench rating check: the default plant and control with the flow dialled in, no patient."""
    base = load_scenario(SCENARIO_DIR / "default.toml")
    spec = load_scenario(SCENARIO_DIR / "rated_flow.toml")
    check_topology(spec)
    assert spec.slaves["manual"].block == "controllers.manual:FixedFlow"
    assert spec.slaves["manual"].parameters["flow_slpm"] == 5.0
    assert set(spec.slaves) == (set(base.slaves) - {"patient", "oximeter", "titrator"}) | {"manual"}
    for name in ("pid", "sequencer", "sensor_noise"):
        assert spec.slaves[name] == base.slaves[name], name
    for name in (
        "compressor",
        "psa",
        "schedule",
        "watchdog",
    ):  # the same plant at sea level (default: the patient's home)
        assert spec.slaves[name].block == base.slaves[name].block and spec.slaves[name].fmu == base.slaves[name].fmu


def test_manual_baseline_is_the_default_session_at_a_fixed_flow():
    """The manual arm: default's patient, unit and events; a FixedFlow prescription instead of the titrator."""
    base = load_scenario(SCENARIO_DIR / "default.toml")
    spec = load_scenario(SCENARIO_DIR / "manual_baseline.toml")
    check_topology(spec)
    assert spec.summary == base.summary
    assert set(spec.slaves) == (set(base.slaves) - {"titrator"}) | {"manual"}
    for name in set(base.slaves) - {"titrator"}:
        assert spec.slaves[name] == base.slaves[name], name
    assert spec.events == base.events and spec.stop_time == base.stop_time and spec.seed == base.seed
    assert spec.slaves["manual"].parameters["flow_slpm"] == 2.0
