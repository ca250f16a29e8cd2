"""The shipped `dqn` controller set (controller_sets/dqn.toml) puts the supervisor into a scenario exactly as the
training environment does (orchestrator.rl.supervised.with_supervisor), so `o2twin compare` evaluates the policy on
the loop it was trained on."""

from __future__ import annotations

from orchestrator.compare.controller_set import apply_controller_set, load_controller_set
from orchestrator.rl.supervised import SUPERVISOR, with_supervisor
from orchestrator.scenario.load import load_scenario


def _wiring(spec) -> set[tuple[str, str]]:
    return {(c.source, c.target) for c in spec.connections}


def test_the_dqn_set_wires_the_supervisor_as_training_does() -> None:
    from_set = apply_controller_set("default", load_controller_set("dqn"))
    from_env = with_supervisor(load_scenario("default"))
    assert _wiring(from_set) == _wiring(from_env)
    assert from_set.slaves[SUPERVISOR].block.endswith("DQNSupervisor")
    assert from_set.slaves[SUPERVISOR].parameters["policy"] == "dqn/policy.npz"
    # the supervisory inputs have one driver each: the supervisor
    for target in ("pid.p_setpoint", "sequencer.cycle_time_scale"):
        assert [c.source.split(".")[0] for c in from_set.connections if c.target == target] == [SUPERVISOR]


def test_the_supervised_loop_has_no_unconnected_supervisor_input() -> None:
    """The supervisor's action input is set from outside (or unused): stated, so the system check does not warn."""
    from orchestrator.scenario.build import build_system

    warnings = build_system(with_supervisor(load_scenario("default")), check=False).check()
    assert not [w for w in warnings if f"input {SUPERVISOR}." in w], warnings
