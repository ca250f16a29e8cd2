"""The DQN supervisor's guard (controllers/dqn.py): near an alarm limit the policy's action never trades a gas or
patient margin for energy, and the pressure setpoint stays above the low-pressure alarm. The network itself is
unchanged (test_policy_equivalence.py and test_shipped_policy.py check its greedy actions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.dqn import ACTIONS, FEATURES, DQNSupervisor, QNetwork, allowed_actions, guarded_action
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import P_ATM_PA
from tests.rl.test_supervisor_block import SENSORS

DOWN, LONGER, HOLD, UP, SHORTER = (ACTIONS.index(a) for a in ("pressure_down", "cycle_longer", "hold", "pressure_up",
                                                              "cycle_shorter"))  # fmt: skip


def preferring(*order: str) -> QNetwork:
    """A network whose Q-values rank the actions in ``order`` (first = best), whatever it observes."""
    bias = np.zeros(len(ACTIONS))
    for rank, name in enumerate(order):
        bias[ACTIONS.index(name)] = len(order) - rank
    return QNetwork([np.zeros((len(FEATURES), len(ACTIONS)))], [bias])


def policy_block(network: QNetwork, **params) -> DQNSupervisor:
    """The block in policy mode (the shipped policy file loaded, then replaced by ``network``)."""
    block = DQNSupervisor("supervisor", 0.25)
    block.setup(0.0, {"period_s": 1.0, "start_s": 1.0, "policy": "dqn/policy.npz", **params})
    block._network = network
    return block


def run(block: DQNSupervisor, t_end: float, changes: dict[float, dict[str, float]] | None = None) -> list[dict]:
    """Step the block to t_end; changes[t] updates the sensor readings from time t."""
    u, outs = dict(SENSORS), []
    for k in range(round(t_end / 0.25) + 1):
        t = k * 0.25
        u.update((changes or {}).get(t, {}))
        block.set_inputs(u)
        block.step(t, 0.25)
        outs.append(dict(block.get_outputs(), t=t))
    return outs


def barg(pa: float) -> float:
    return (pa - P_ATM_PA) / 1e5


def test_the_guard_keeps_the_setpoint_above_the_low_pressure_alarm_the_network_alone_would_cross():
    greedy_down = preferring("pressure_down", "hold")
    alone = run(policy_block(greedy_down, guard=0.0), 12.0)
    assert barg(alone[-1]["p_setpoint"]) == pytest.approx(0.4)  # schedule 0.8 - 0.4: below LOW_PRESSURE's 0.5
    guarded = run(policy_block(greedy_down), 12.0)
    assert min(barg(o["p_setpoint"]) for o in guarded) == pytest.approx(0.6)  # schedule 0.8 - 0.2
    assert guarded[-1]["p_offset_bar"] == pytest.approx(-0.2)
    assert guarded[-1]["guard_overrides"] > 0
    # the schedule falling under an offset taken earlier: the output is floored at p_guard_barg
    fell = run(policy_block(greedy_down), 12.0, {8.0: {"p_schedule": P_ATM_PA + 0.65e5}})
    assert barg(fell[-1]["p_setpoint"]) == pytest.approx(0.6)


@pytest.mark.parametrize("reading", [{"sensor_O2": 0.895}, {"spo2": 0.86}])
def test_near_an_alarm_limit_the_economy_is_given_back_not_held_or_deepened(reading):
    """The network would lengthen the cycle, then hold; once the O2 reading (or SpO2) nears its alarm level the
    block shortens the cycle every period until the scale is nominal, and only then holds."""
    net = preferring("cycle_longer", "hold", "cycle_shorter", "pressure_up")
    outs = run(policy_block(net), 16.0, {6.0: reading})
    scale = {o["t"]: o["cycle_time_scale"] for o in outs}
    assert scale[6.0] == pytest.approx(1.3)  # decisions at t = 1 .. 6 (periods up to [5, 6)) had margin
    assert [scale[float(t)] for t in range(7, 13)] == pytest.approx([1.25, 1.2, 1.15, 1.1, 1.05, 1.0])
    assert scale[16.0] == pytest.approx(1.0)  # at nominal the network's "hold" is permitted again
    assert outs[-1]["p_offset_bar"] == 0.0


def test_a_preferred_pressure_up_stuck_at_its_limit_does_not_hold_the_cycle_economy():
    """The drift episodes' case: the network prefers "pressure up" near the limit, but at the offset's maximum it
    moves nothing, so the guard shortens the cycle instead."""
    net = preferring("cycle_longer", "pressure_up", "hold", "cycle_shorter")
    outs = run(policy_block(net, p_offset_max_bar=0.1), 20.0, {6.0: {"sensor_O2": 0.895}})
    assert outs[-1]["p_offset_bar"] == pytest.approx(0.1)
    assert outs[-1]["cycle_time_scale"] == pytest.approx(1.0)


def test_without_the_guard_the_network_alone_deepens_the_economy_near_the_limit():
    net = preferring("cycle_longer", "hold")
    outs = run(policy_block(net, guard=0.0), 16.0, {6.0: {"sensor_O2": 0.895}})
    assert outs[-1]["cycle_time_scale"] == pytest.approx(1.3)
    assert outs[-1]["guard_overrides"] == 0.0


def test_the_action_input_is_applied_unguarded_as_in_training():
    block = DQNSupervisor("supervisor", 0.25)
    block.setup(0.0, {"period_s": 1.0, "start_s": 1.0})
    outs = run(block, 12.0, {0.0: {"action": float(DOWN), "sensor_O2": 0.88}})
    assert outs[-1]["p_offset_bar"] == pytest.approx(-0.4)


def test_guard_parameters_are_checked():
    with pytest.raises(SystemDefinitionError, match="guard"):
        policy_block(preferring("hold"), guard=0.5)
    with pytest.raises(SystemDefinitionError, match="purity_guard"):
        policy_block(preferring("hold"), purity_guard=90.0)


@given(
    near=st.booleans(),
    offset=st.sampled_from([-0.4, -0.05, 0.0, 0.2, 0.4]) | st.floats(-0.4, 0.4),
    scale=st.sampled_from([0.7, 1.0, 1.05, 1.3]) | st.floats(0.7, 1.3),
    after_down=st.floats(0.0, 2.4),
    q=st.lists(st.floats(-1e6, 1e6), min_size=len(ACTIONS), max_size=len(ACTIONS)),
)
def test_the_guarded_action_never_lowers_pressure_or_lengthens_the_cycle_near_an_alarm(near, offset, scale, after_down,
                                                                                      q):  # fmt: skip
    allowed = allowed_actions(
        near_alarm=near,
        p_offset_bar=offset,
        cycle_scale=scale,
        p_setpoint_after_down_barg=after_down,
        p_guard_barg=0.6,
        p_offset_max_bar=0.4,
        scale_min=0.7,
    )
    action = guarded_action(np.array(q), allowed)
    assert allowed[action]  # whatever the Q-values, the choice is permitted (the set is never empty)
    if near:
        assert action not in (DOWN, LONGER)
        if offset < 0 or scale > 1:  # an economy on: a move that gives margin back, not a step stuck at its limit
            assert (action == UP and offset < 0.4) or (action == SHORTER and scale > 0.7)
    if after_down < 0.6 - 1e-9:
        assert action != DOWN
    if not near and after_down >= 0.6:
        assert allowed.all()  # with margin the network is free
