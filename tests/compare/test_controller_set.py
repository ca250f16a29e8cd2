"""Controller sets: the file format's checks and what applying a set does to a scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.compare.controller_set import (
    apply_controller_set,
    apply_to_table,
    known_controller_sets,
    load_controller_set,
    parse_controller_set,
)
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.load import load_scenario, read_scenario_table, resolve_scenario_path


def test_shipped_sets_are_listed_and_load() -> None:
    assert {"pid-fuzzy", "fixed-flow"} <= set(known_controller_sets())
    for name in ("pid-fuzzy", "fixed-flow"):
        assert load_controller_set(name).name == name


def test_pid_fuzzy_leaves_the_scenario_as_it_is() -> None:
    spec = apply_controller_set("default", load_controller_set("pid-fuzzy"))
    plain = load_scenario("default")
    assert spec.slaves == plain.slaves
    assert spec.connections == plain.connections
    assert spec.events == plain.events


def test_fixed_flow_replaces_the_titrator_and_its_wiring() -> None:
    spec = apply_controller_set("default", load_controller_set("fixed-flow"))
    assert "titrator" not in spec.slaves and spec.slaves["manual"].block == "controllers.manual:FixedFlow"
    drivers = [c.source for c in spec.connections if c.target == "watchdog.Q_set_req"]
    assert drivers == ["manual.Q_set"]
    named = [c.source for c in spec.connections] + [c.target for c in spec.connections] + spec.outputs.record
    assert not any(n.startswith("titrator.") for n in named)
    assert not any(s.startswith("titrator.") for p in spec.plots for s in p.signals)
    assert len(spec.events) == len(load_scenario("default").events)  # the patient's session is kept


def test_a_connection_to_a_driven_input_replaces_the_old_one_and_events_of_removed_slaves_go(tmp_path: Path) -> None:
    cset = parse_controller_set(
        {
            "controller_set": {"name": "flat", "remove": ["titrator", "schedule"]},
            "slaves": {"manual": {"block": "FixedFlow"}, "pid": {"parameters": {"kp": 0.5}}},
            "connections": [
                {"from": "manual.Q_set", "to": "watchdog.Q_set_req"},
                {"from": "psa.sensor_p_feed", "to": "pid.p_setpoint"},
            ],
            "outputs": {"record": ["manual.Q_set"]},
        },
        tmp_path / "flat.toml",
    )
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'extends = "rest"\n[scenario]\nname = "s"\n[[events]]\ntime = 5.0\n'
        'set = { "titrator.spo2_target_low" = 0.9, "patient.metabolic_rate" = 2.0 }\n'
        '[[events]]\ntime = 6.0\nset = { "titrator.spo2_target_high" = 0.95 }\n'
    )
    spec = apply_controller_set(scenario, cset)
    assert spec.slaves["pid"].parameters["kp"] == 0.5 and spec.slaves["pid"].block == "controllers.pid:PressurePID"
    assert [c.source for c in spec.connections if c.target == "pid.p_setpoint"] == ["psa.sensor_p_feed"]
    assert [(e.slave, e.variable) for e in spec.events] == [("patient", "metabolic_rate")]
    assert "manual.Q_set" in spec.outputs.record
    assert cset.timed == ("manual",)  # default: the blocks the set adds


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"controller": {}}, "[controller]: unknown table"),
        ({"controller_set": {"nmae": "x"}}, "'nmae': unknown key"),
        ({"controller_set": {"name": "a/b"}}, "'name': use letters"),
        ({"controller_set": {"remove": "titrator"}}, "'remove': give a list"),
        ({"connections": [{"from": "a.b"}]}, "[[connections]] #1: needs 'from' and 'to'"),
        ({"outputs": {"interval": 1.0}}, "[outputs]: only 'record'"),
        ({"from_scenario": {"mpc.p_ambient": "watchdog"}}, "[from_scenario] 'mpc.p_ambient': give \"slave.parameter\""),
        ({"from_scenario": {"mpc.p_ambient": "watchdog.p_ambient"}}, "'mpc' is not one of this set's [slaves]"),
    ],
)
def test_bad_files_are_one_error_naming_the_file_and_key(tmp_path: Path, raw: dict, message: str) -> None:
    with pytest.raises(SystemDefinitionError, match=r"x\.toml: .*" + __import__("re").escape(message)):
        parse_controller_set(raw, tmp_path / "x.toml")


def test_from_scenario_copies_the_sites_value_where_the_scenario_gives_one(tmp_path: Path) -> None:
    raw = {
        "slaves": {"supervisor": {"block": "DQNSupervisor", "parameters": {"p_ambient": 95000.0}}},
        "from_scenario": {"supervisor.p_ambient": "watchdog.p_ambient", "supervisor.period_s": "titrator.nothing"},
    }
    cset = parse_controller_set(raw, tmp_path / "x.toml")
    altitude = apply_to_table(read_scenario_table(resolve_scenario_path("high_altitude")), cset)
    assert altitude["slaves"]["supervisor"]["parameters"]["p_ambient"] == 79500.0  # the watchdog's, at 2000 m
    assert "period_s" not in altitude["slaves"]["supervisor"]["parameters"]  # not given: the block's own value
    with pytest.raises(SystemDefinitionError, match=r"x\.toml: \[from_scenario\] .*has no slave 'watchdog'"):
        apply_to_table({"slaves": {"psa": {}}}, cset)


def test_a_set_that_removes_what_the_scenario_lacks_is_refused() -> None:
    cset = load_controller_set("fixed-flow")
    with pytest.raises(SystemDefinitionError, match=r"'remove' names titrator, which .*manual_baseline"):
        apply_controller_set("manual_baseline", cset)


def test_unknown_set_lists_the_known_ones() -> None:
    with pytest.raises(SystemDefinitionError, match=r"no controller set 'pid_fuzy'.*pid-fuzzy"):
        load_controller_set("pid_fuzy")


def test_a_blocks_bad_parameter_names_the_set(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[controller_set]\nremove = ["titrator"]\n[[connections]]\nfrom = "x"\nto = "watchdog.Q_set_req"\n')
    with pytest.raises(SystemDefinitionError, match="with controller set bad from"):
        apply_controller_set("default", load_controller_set(path))
