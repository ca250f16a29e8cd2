"""check_topology: no plant actuator may be driven around the SafetyWatchdog."""

from __future__ import annotations

import pytest

from controllers.watchdog import ACTUATORS, SENSORS, check_topology
from orchestrator.cosim.system import Connection
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import EventSpec, InputSpec, ScenarioSpec, SlaveSpec


def wired_spec() -> ScenarioSpec:
    slaves = {
        "compressor": SlaveSpec("compressor", fmu="O2Twin.CoSim.Compressor"),
        "psa": SlaveSpec("psa", fmu="fmus/O2Twin_CoSim_PSAUnit.fmu"),
        "pid": SlaveSpec("pid", block="controllers.pid:PressurePID"),
        "watchdog": SlaveSpec("watchdog", block="controllers.watchdog:SafetyWatchdog"),
    }
    conns = [Connection("watchdog.duty", "compressor.duty")]
    conns += [Connection(f"watchdog.{a}", f"psa.{a}") for a in ACTUATORS[1:]]
    conns += [Connection("pid.duty", "watchdog.duty_req")]
    conns += [Connection("psa.sensor_p_feed", "watchdog.p_feed"),
              Connection("psa.sensor_O2", "watchdog.sensor_O2"),
              Connection("compressor.T_head", "watchdog.T_head"),
              Connection("psa.sensor_Q", "watchdog.sensor_Q")]  # fmt: skip
    return ScenarioSpec(
        name="t", stop_time=1.0, slaves=slaves, connections=conns, watchdog="watchdog", source="scenarios/t.toml"
    )


def test_fully_guarded_system_passes():
    check_topology(wired_spec())


def test_controller_wired_straight_to_the_plant_is_rejected_naming_the_connection():
    spec = wired_spec()
    spec.connections[0] = Connection("pid.duty", "compressor.duty")
    with pytest.raises(SystemDefinitionError, match=r"scenarios/t.toml: \[\[connections\]\] #1 \('pid.duty' -> "
                       r"'compressor.duty'\).*watchdog.duty"):  # fmt: skip
        check_topology(spec)


def test_unconnected_actuator_is_rejected():
    spec = wired_spec()
    del spec.connections[3]  # watchdog.cmd_vent_A -> psa.cmd_vent_A
    with pytest.raises(SystemDefinitionError, match=r"'psa\.cmd_vent_A' is not connected"):
        check_topology(spec)


def test_crossed_wiring_and_scaling_are_rejected():
    spec = wired_spec()
    spec.connections[1] = Connection("watchdog.cmd_feed_B", "psa.cmd_feed_A")
    with pytest.raises(SystemDefinitionError, match="same name"):
        check_topology(spec)
    spec = wired_spec()
    spec.connections[0] = Connection("watchdog.duty", "compressor.duty", gain=2.0)
    with pytest.raises(SystemDefinitionError, match="gain 1"):
        check_topology(spec)


@pytest.mark.parametrize("sensor", SENSORS)
def test_blind_watchdog_is_rejected(sensor):
    spec = wired_spec()
    spec.connections = [c for c in spec.connections if not (c.target_slave == "watchdog" and c.target_var == sensor)]
    with pytest.raises(SystemDefinitionError, match=f"watchdog.{sensor}' is not connected"):
        check_topology(spec)


def test_watchdog_must_be_the_safety_watchdog_block():
    spec = wired_spec()
    spec.watchdog = "pid"
    with pytest.raises(SystemDefinitionError, match="SafetyWatchdog"):
        check_topology(spec)


@pytest.mark.parametrize("source", ["sequencer.cmd_feed_A", "pid.duty"])
def test_no_controller_can_reset_the_watchdog(source):
    """Hazard: after a trip the compressor restarts only on the operator's reset. A connection into watchdog.reset
    was accepted: wired to the sequencer's feed-A command (a 7.5 s square wave), a frozen pressure reading let the
    compressor run 80 s of 120 s, restarted after every stuck trip. Now refused, naming the connection and the
    event that resets instead."""
    spec = wired_spec()
    spec.connections.append(Connection(source, "watchdog.reset"))
    with pytest.raises(SystemDefinitionError, match=rf"#{len(spec.connections)} \('{source}' -> 'watchdog.reset'\)"
                       r".*operator's.*set = \{ \"watchdog.reset\" = 1.0 \}"):  # fmt: skip
        check_topology(spec)


@pytest.mark.parametrize(
    "table",
    [InputSpec("profile", targets={"duty": "compressor.duty"}, rows=[[0.0, 0.5]], columns=["duty"]),
     InputSpec("profile", slave="psa", rows=[[0.0, 1.0]], columns=["cmd_feed_A"]),
     InputSpec("profile", slave="psa", file="psa.csv")],
    ids=["targets", "slave_columns", "slave_every_column"],
)  # fmt: skip
def test_no_time_table_can_feed_a_plant_actuator(table):
    """Hazard: only the watchdog drives the plant's actuators, time tables included. An [[inputs]] table on an
    actuator the check did not require connected (a block stand-in for the plant under hardware in the loop) was
    accepted: a table of duty 0.5 kept the device at 0.5 after the watchdog's thermal trip at 88 degC."""
    spec = wired_spec()
    spec.inputs = [table]
    with pytest.raises(SystemDefinitionError, match=r"\[\[inputs\]\] #1 \('profile'\).*(actuator|columns)"):
        check_topology(spec)


def test_a_time_table_may_feed_requests_and_other_plant_inputs():
    spec = wired_spec()
    spec.inputs = [InputSpec("profile", targets={"d": "watchdog.duty_req", "b": "psa.blockage"}, rows=[[0.0, 0.4, 0.1]],
                             columns=["d", "b"]),
                   InputSpec("walk", slave="psa", rows=[[0.0, 0.1]], columns=["blockage"])]  # fmt: skip
    check_topology(spec)


@pytest.mark.parametrize("variable", ["duty", "cmd_vent_A", "Q_set", "alarm_code", "thermal_trip"])
def test_no_event_can_change_what_the_watchdog_commands(variable):
    """Hazard: while a trip latches, the compressor is off, whatever the scenario schedules. A drift on the
    watchdog's output was accepted: `drift watchdog.duty at 1/s` from 2 s in `rest` with the thermal trip latched
    (t_max_degc 20) ran the compressor up to 324 rad/s with watchdog.duty recorded at 2.9."""
    spec = wired_spec()
    spec.events = [EventSpec(2.0, "drift", "watchdog", variable, 1.0)]
    with pytest.raises(SystemDefinitionError, match=rf"t=2 s drift 'watchdog\.{variable}'.*no event may change"):
        check_topology(spec)


def test_events_on_the_watchdog_inputs_stay_allowed():
    """Sensor faults and the operator's reset are events on the watchdog's inputs; a release changes nothing."""
    spec = wired_spec()
    spec.events = [EventSpec(1.0, "override", "watchdog", "p_feed", 2e5), EventSpec(2.0, "set", "watchdog", "reset", 1.0),
                   EventSpec(3.0, "release", "watchdog", "p_feed"), EventSpec(4.0, "override", "psa", "cmd_feed_A", 1.0)]  # fmt: skip
    check_topology(spec)
