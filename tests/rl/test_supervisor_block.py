"""The DQN supervisor block (controllers/dqn.py): its actions, limits, decision grid, policy files and numpy network."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controllers.dqn import ACTIONS, FEATURES, DQNSupervisor, QNetwork, policy_path
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import P_ATM_PA

SENSORS = {
    "p_schedule": P_ATM_PA + 0.8e5,
    "p_feed": P_ATM_PA + 1.0e5,
    "sensor_O2": 0.93,
    "sensor_Q": 2.0 / 60000,
    "Q_set": 2.0 / 60000,
    "spo2": 0.90,
    "signal_quality": 1.0,
    "T_head": 313.15,
    "duty": 0.6,
    "alarm_code": 0.0,
    "action": 0.0,
}


def make_block(**params) -> DQNSupervisor:
    block = DQNSupervisor("supervisor", 0.25)
    block.setup(0.0, {"period_s": 1.0, "start_s": 2.0, **params})
    return block


def run(block: DQNSupervisor, t_end: float, actions: dict[float, int] | None = None, **sensors) -> list[dict]:
    """Step the block on its sample grid to t_end; actions[t] sets the action input from time t."""
    outs = []
    u = dict(SENSORS, **sensors)
    for k in range(round(t_end / 0.25) + 1):
        t = k * 0.25
        if actions and t in actions:
            u["action"] = float(actions[t])
        block.set_inputs(u)
        block.step(t, 0.25)
        outs.append(dict(block.get_outputs(), t=t))
    return outs


def test_actions_move_the_offset_and_scale_one_step_per_decision_within_their_limits():
    block = make_block(p_offset_max_bar=0.1)
    outs = run(block, 6.0, {0.0: ACTIONS.index("pressure_up")})
    offsets = [o["p_offset_bar"] for o in outs]
    assert max(offsets) == pytest.approx(0.1)  # clamped after two decisions (t = 2, 3), though five were taken
    assert offsets[outs.index(next(o for o in outs if o["t"] == 2.0)) - 1] == 0.0  # nothing before start_s
    assert outs[-1]["decisions"] == 5.0  # t = 2, 3, 4, 5, 6
    assert outs[-1]["p_setpoint"] == pytest.approx(SENSORS["p_schedule"] + 0.1e5)
    block = make_block(scale_max=1.1)
    outs = run(block, 6.0, {0.0: ACTIONS.index("cycle_longer")})
    assert outs[-1]["cycle_time_scale"] == pytest.approx(1.1)


def test_the_setpoint_never_leaves_its_floor_and_ceiling():
    block = make_block(p_offset_min_bar=-2.0, p_step_bar=1.0, p_setpoint_min_barg=0.5)
    outs = run(block, 6.0, {0.0: ACTIONS.index("pressure_down")})
    assert min(o["p_setpoint"] for o in outs) == pytest.approx(P_ATM_PA + 0.5e5)


def test_unusable_external_actions_hold():
    for bad in (math.nan, 7.0, -1.0, math.inf):
        outs = run(make_block(), 4.0, {0.0: 1, 1.0: bad})  # type: ignore[dict-item]
        assert outs[-1]["p_offset_bar"] == 0.0 and outs[-1]["cycle_time_scale"] == 1.0


def test_observations_are_the_statistics_of_the_period_that_just_ended():
    block = make_block()
    u = dict(SENSORS)
    for k in range(8):  # t = 0 .. 1.75: one full period [1, 2) after the first boundary at t = 1
        u["sensor_O2"] = 0.89 if k >= 4 else 0.92
        block.set_inputs(u)
        block.step(k * 0.25, 0.25)
    obs = np.array([block.get_outputs()[f"obs_{i}"] for i in range(len(FEATURES))])
    assert obs[FEATURES.index("purity_mean")] == pytest.approx((0.89 - 0.90) / 0.05)
    assert obs[FEATURES.index("purity_trend")] == pytest.approx((0.89 - 0.92) / 0.01)
    assert obs[FEATURES.index("spo2_error")] == pytest.approx(0.0)
    assert obs[FEATURES.index("spo2_valid")] == 1.0


def test_a_reading_without_signal_counts_as_no_spo2():
    outs = run(make_block(), 1.75, spo2=math.nan)
    assert outs[-1][f"obs_{FEATURES.index('spo2_valid')}"] == 0.0
    assert outs[-1][f"obs_{FEATURES.index('spo2_error')}"] == 0.0


def test_periods_off_the_sample_grid_and_bad_ranges_are_refused():
    with pytest.raises(SystemDefinitionError, match="period_s"):
        make_block(period_s=0.3)
    with pytest.raises(SystemDefinitionError, match="scale_min"):
        make_block(scale_min=0.2)
    with pytest.raises(SystemDefinitionError, match=r"2\.4"):
        make_block(p_setpoint_max_barg=3.0)


@pytest.mark.parametrize("name", ["../pyproject.toml", "/etc/passwd.npz", "dqn/../../x.npz", "dqn/policy.txt"])
def test_a_policy_is_only_ever_a_npz_under_policies(name):
    with pytest.raises(SystemDefinitionError, match="policies"):
        policy_path(name)


def test_the_numpy_network_is_relu_layers_and_takes_the_first_maximum(tmp_path):
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(len(FEATURES), 8)), rng.normal(size=(8, len(ACTIONS)))]
    b = [rng.normal(size=8), rng.normal(size=len(ACTIONS))]
    net = QNetwork(w, b)
    x = rng.normal(size=len(FEATURES))
    expected = np.maximum(x @ w[0] + b[0], 0) @ w[1] + b[1]
    np.testing.assert_allclose(net.q_values(x), expected)
    assert net.act(x) == int(np.argmax(expected))
    tie = QNetwork([np.zeros((len(FEATURES), len(ACTIONS)))], [np.zeros(len(ACTIONS))])
    assert tie.act(x) == 0
    path = tmp_path / "net.npz"
    np.savez(path, W0=w[0], b0=b[0], W1=w[1], b1=b[1], features=np.array(FEATURES[:-1]))
    with pytest.raises(ValueError, match="retrain"):
        QNetwork.load(path)  # trained on other features: refused
