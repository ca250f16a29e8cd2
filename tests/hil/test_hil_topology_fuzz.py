"""Hazard, fuzzed: with hardware in the loop, nothing reaches the device's actuators but the watchdog's commands.

Generated scenarios wire each actuator input of the plant (compressor.duty, psa.cmd_*, psa.Q_set) from the
watchdog's output of the same name, another watchdog output, a controller, or not at all, with or without a gain or
offset; the plant is the FMUs or block stand-ins listed in [plant] replaces; scheduled events set, override, drift
or release actuators, requests and the device's own fault inputs; a time table ([[inputs]]) feeds one of them. The
property is stated on what a run would do, not on the checks' code: whenever prepare_spec (the pipeline of
`o2twin run --plant` and the dashboard) accepts a scenario, every connection into a device actuator comes from the
watchdog's output of the same name with gain 1 and offset 0, no event other than a release acts on one or on the
watchdog output that drives it, and no time table feeds one. A refused scenario is always safe. No device is opened
(the device is reached only when the system is built), so each example costs milliseconds.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.errors import O2TwinError
from orchestrator.results.run import prepare_spec
from orchestrator.scenario.parse import parse_scenario
from tests.hil.test_hil_watchdog import scenario

VALVES = ("cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize")
#: The device inputs the watchdog guards, by slave.
ACTUATORS = ("compressor.duty", *(f"psa.{v}" for v in VALVES), "psa.Q_set")
SOURCES = st.sampled_from(["same", "watchdog.duty", "watchdog.cmd_vent_A", "pid.duty", "flow.Q_set",
                           "sequencer.cmd_feed_A", None])  # fmt: skip
WIRING = st.fixed_dictionaries(
    {a: st.tuples(SOURCES, st.sampled_from([1.0, 1.0, 0.5]), st.sampled_from([0.0, 0.0, 0.1])) for a in ACTUATORS}
)
#: The watchdog's outputs that drive the device (an event on one changes the command on its way to the device).
COMMANDS = tuple(f"watchdog.{a.split('.', 1)[1]}" for a in ACTUATORS)
EVENT_TARGETS = st.sampled_from([*ACTUATORS, *COMMANDS, "psa.blockage", "watchdog.duty_req", "watchdog.reset",
                                 "psa.sensor_p_feed", "compressor.T_head"])  # fmt: skip
EVENT = st.tuples(st.sampled_from(["set", "override", "drift", "release"]), EVENT_TARGETS,
                  st.sampled_from([0.0, 0.5, 1.0]))  # fmt: skip
CASE = st.fixed_dictionaries(
    {
        "wiring": WIRING,
        "stand_ins": st.booleans(),  # the plant as block stand-ins listed in [plant] replaces, else the FMUs
        "replaces": st.booleans(),  # list the plant slaves in [plant] replaces explicitly
        "events": st.lists(EVENT, max_size=4),
        "table": st.none() | EVENT_TARGETS,  # an [[inputs]] time table feeding this input
    }
)


def build(case: dict) -> dict:
    """The raw scenario of one generated case (the HIL watchdog test's system, rewired)."""
    raw = copy.deepcopy(scenario(with_watchdog=True))
    raw["connections"] = [c for c in raw["connections"] if c["to"] not in ACTUATORS]
    for target, (source, gain, offset) in case["wiring"].items():
        if source is None:
            continue
        src = f"watchdog.{target.split('.', 1)[1]}" if source == "same" else source
        raw["connections"].append({"from": src, "to": target, "gain": gain, "offset": offset})
    if case["stand_ins"]:
        for name in ("compressor", "psa"):
            raw["slaves"][name] = {"block": "controllers.manual:FixedFlow", "sample_time": 0.05}
    raw["plant"] = {"device": "loop://"}
    if case["replaces"] or case["stand_ins"]:
        raw["plant"]["replaces"] = ["compressor", "psa"]
    events = []
    for i, (action, target, value) in enumerate(case["events"]):
        entry: dict = {"time": 0.1 * (i + 1)}
        if action == "release":
            entry[action] = [target]
        else:
            entry[action] = {target: {"rate": value} if action == "drift" else value}
        events.append(entry)
    raw["events"] = events
    if case.get("table") is not None:
        raw["inputs"] = [{"name": "profile", "columns": ["v"], "table": [[0.0, 0.5], [10.0, 0.5]],
                          "to": {"v": case["table"]}}]  # fmt: skip
    return raw


def check(case: dict) -> None:
    try:
        spec = prepare_spec(parse_scenario(build(case), source="fuzz.toml"))
    except O2TwinError:
        return  # refused: nothing reaches the device
    for c in spec.connections:
        if c.target in ACTUATORS:
            assert c.source == f"watchdog.{c.target_var}" and c.gain == 1.0 and c.offset == 0.0, (
                f"accepted: {c.source} -> {c.target} (gain {c.gain}, offset {c.offset}) drives the device"
            )
    for e in spec.events:
        assert e.target not in (*ACTUATORS, *COMMANDS) or e.action == "release", (
            f"accepted: {e.action} on {e.target} at {e.time}"
        )
    for table in spec.inputs:
        assert not set(table.targets.values()) & set(ACTUATORS), f"accepted: a time table feeds {table.targets}"


SAFE_WIRING = {a: ("same", 1.0, 0.0) for a in ACTUATORS}
#: The defects of session 8: an override on the device's duty; a PID wired to a block stand-in's duty.
OVERRIDE_DUTY = {
    "wiring": SAFE_WIRING,
    "stand_ins": False,
    "replaces": False,
    "events": [("override", ACTUATORS[0], 0.5)],
}
STAND_IN_PID = {"wiring": {**SAFE_WIRING, "compressor.duty": ("pid.duty", 1.0, 0.0)}, "stand_ins": True,
                "replaces": True, "events": []}  # fmt: skip
#: A time table feeding a block stand-in's duty (no connection drives it, so the table may).
STAND_IN_TABLE = {"wiring": {**SAFE_WIRING, "compressor.duty": (None, 1.0, 0.0)}, "stand_ins": True,
                  "replaces": True, "events": [], "table": "compressor.duty"}  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASE)
@example(OVERRIDE_DUTY)
@example(STAND_IN_PID)
@example(STAND_IN_TABLE)
@example({**OVERRIDE_DUTY, "events": [("drift", "watchdog.duty", 1.0)]})
def test_whatever_a_scenario_wires_or_schedules_only_the_watchdog_drives_the_device(case):
    check(case)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASE)
def test_only_the_watchdog_drives_the_device_long_campaign(case):
    check(case)


def test_the_safe_wiring_is_accepted():
    """The property is not met by refusing everything: the shipped wiring, with events on requests and on the
    device's own fault inputs, is accepted."""
    case = {"wiring": SAFE_WIRING, "stand_ins": False, "replaces": False,
            "events": [("set", "psa.blockage", 0.5), ("override", "watchdog.duty_req", 0.4)]}  # fmt: skip
    spec = prepare_spec(parse_scenario(build(case), source="fuzz.toml"))
    assert {c.target for c in spec.connections} >= set(ACTUATORS)
