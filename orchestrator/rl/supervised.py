"""A scenario with the DQN supervisor in the loop: the spec transformation shared by training and evaluation.

The supervisor (``controllers.dqn:DQNSupervisor``, found through the block registry) takes the pressure schedule's
connection to ``pid.p_setpoint`` (adding an offset to the scheduled setpoint) and drives the unconnected
``sequencer.cycle_time_scale``; it reads only measured signals. The PID, sequencer, titrator and watchdog stay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from orchestrator.cosim.system import Connection
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import ParameterValue, ScenarioSpec, SlaveSpec

#: The supervisor's slave name in a scenario.
SUPERVISOR = "supervisor"
#: The block the supervisor is (a name in the block registry, the o2twin.blocks entry points).
SUPERVISOR_BLOCK = "DQNSupervisor"
#: Its sample time (s): the period statistics are taken at this rate.
SUPERVISOR_SAMPLE_S = 0.25

#: measured signal -> supervisor input (what the device measures; never a hidden plant state)
SENSOR_WIRING = {
    "schedule.p_setpoint": "p_schedule",
    "psa.sensor_p_feed": "p_feed",
    "psa.sensor_O2": "sensor_O2",
    "psa.sensor_Q": "sensor_Q",
    "watchdog.Q_set": "Q_set",
    "oximeter.spo2": "spo2",
    "oximeter.signal_quality": "signal_quality",
    "compressor.T_head": "T_head",
    "watchdog.duty": "duty",
    "watchdog.alarm_code": "alarm_code",
}
#: supervisor output -> the supervisory input it drives
COMMAND_WIRING = {"p_setpoint": "pid.p_setpoint", "cycle_time_scale": "sequencer.cycle_time_scale"}


def with_supervisor(spec: ScenarioSpec, parameters: Mapping[str, ParameterValue] | None = None) -> ScenarioSpec:
    """``spec`` with the DQN supervisor added and wired; ``parameters`` are the block's (policy, period_s, ...).

    The titrator's SpO2 target range is copied to the supervisor (its observation measures SpO2 against it).
    """
    missing = [
        name for name in ("schedule", "pid", "sequencer", "psa", "oximeter", "watchdog") if name not in spec.slaves
    ]
    if missing:
        raise SystemDefinitionError(
            f"{spec.name}: the DQN supervisor needs the concentrator's slaves; missing: {', '.join(missing)}"
        )
    if SUPERVISOR in spec.slaves:
        raise SystemDefinitionError(f"{spec.name}: already has a slave named {SUPERVISOR!r}")
    params: dict[str, ParameterValue] = {}
    titrator = spec.slaves.get("titrator")
    if titrator is not None:
        for key in ("spo2_target_low", "spo2_target_high"):
            if key in titrator.parameters:
                params[key] = titrator.parameters[key]
    watchdog = spec.slaves["watchdog"]
    if "p_ambient" in watchdog.parameters:
        params["p_ambient"] = watchdog.parameters["p_ambient"]
    # The action input is set from outside (the Gymnasium environment) or unused (own policy), never connected:
    # its start value is stated so that building the system does not warn about it.
    params["action"] = 0.0
    params.update(parameters or {})
    slave = SlaveSpec(name=SUPERVISOR, block=SUPERVISOR_BLOCK, sample_time=SUPERVISOR_SAMPLE_S, parameters=params)
    driven = set(COMMAND_WIRING.values())
    connections = [c for c in spec.connections if c.target not in driven]
    connections += [Connection(source, f"{SUPERVISOR}.{target}") for source, target in SENSOR_WIRING.items()]
    connections += [Connection(f"{SUPERVISOR}.{source}", target) for source, target in COMMAND_WIRING.items()]
    slaves = {**spec.slaves, SUPERVISOR: slave}
    sequencer = spec.slaves["sequencer"]
    if "cycle_time_scale" in sequencer.parameters:  # a start value for the now connected input
        kept = {k: v for k, v in sequencer.parameters.items() if k != "cycle_time_scale"}
        slaves["sequencer"] = dataclasses.replace(sequencer, parameters=kept)
    return dataclasses.replace(spec, slaves=slaves, connections=connections)
