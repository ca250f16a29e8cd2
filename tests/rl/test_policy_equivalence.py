"""The numpy Q-network (controllers/dqn.py) takes the same actions as the Stable-Baselines3 policy it came from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="the rl extra (pip install -e '.[rl]') is not installed")

from controllers.dqn import FEATURES, QNetwork
from orchestrator.rl.env import N_ACTIONS, N_FEATURES, OBS_LIMIT
from orchestrator.rl.export import FEATURES as EXPORTED_FEATURES
from orchestrator.rl.export import write_policy


def sb3_actions(model, observations: np.ndarray) -> np.ndarray:
    actions, _ = model.predict(observations.astype(np.float32), deterministic=True)
    return np.asarray(actions)


def numpy_actions(path: Path, observations: np.ndarray) -> np.ndarray:
    net = QNetwork.load(path)
    return np.array([net.act(o.astype(np.float32)) for o in observations])


def test_the_block_and_the_exporter_agree_on_the_observation():
    assert EXPORTED_FEATURES == FEATURES and len(FEATURES) == N_FEATURES


def test_an_exported_network_acts_as_its_sb3_policy(tmp_path):
    """An untrained SB3 DQN (random weights) on 1,000 observations spread over the whole observation space."""
    import gymnasium as gym
    from stable_baselines3 import DQN

    class Spaces(gym.Env):
        observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, shape=(N_FEATURES,), dtype=np.float32)
        action_space = gym.spaces.Discrete(N_ACTIONS)

    model = DQN("MlpPolicy", Spaces(), seed=3, device="cpu", policy_kwargs={"net_arch": [64, 64]})
    path = tmp_path / "policy.npz"
    write_policy(model, path)
    obs = np.random.default_rng(3).uniform(-3, 3, size=(1000, N_FEATURES)).astype(np.float32)
    np.testing.assert_array_equal(numpy_actions(path, obs), sb3_actions(model, obs))
    assert len(set(sb3_actions(model, obs))) > 1  # the comparison sees more than one action
