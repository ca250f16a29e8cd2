"""The shipped DQN policy: its files match the provenance, and its evaluation is reproducible from a seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestrator.paths import POLICIES_DIR
from orchestrator.rl.export import file_sha256, weights_sha256

SHIPPED = POLICIES_DIR / "dqn"
#: 1,000 observations recorded in the twin on held-out episodes (scripts/evaluate_dqn.py --observations): the
#: shipped policy's own episodes first, then the fixed setting's and random actions'.
RECORDED = Path(__file__).parent / "data" / "observations.npy"


def provenance() -> dict:
    return json.loads((SHIPPED / "provenance.json").read_text())


def test_the_policy_file_is_the_one_its_provenance_describes():
    prov = provenance()
    policy = SHIPPED / prov["policy_file"]
    assert file_sha256(policy) == prov["policy_sha256"]
    assert weights_sha256(policy) == prov["weights_sha256"]
    assert prov["config"]["timesteps"] > 0 and isinstance(prov["config"]["seed"], int) and prov["commit"]
    assert prov["reproduce"].startswith("o2twin train dqn --timesteps")
    assert "guard is part of the controller, not of the network" in prov["controller_note"]
    curve = pd.read_csv(SHIPPED / prov["curve"])
    assert len(curve) == prov["episodes"] and curve["timesteps"].max() <= prov["config"]["timesteps"]
    assert (SHIPPED / "curve.png").stat().st_size > 0


def test_the_shipped_policy_evaluation_is_reproducible_from_its_seed():
    """One held-out episode of the recorded evaluation (policies/dqn/evaluation.csv), run again by the block."""
    pytest.importorskip("gymnasium", reason="the rl extra (pip install -e '.[rl]') is not installed")
    from orchestrator.rl.evaluate import evaluate

    table = pd.read_csv(SHIPPED / "evaluation.csv")
    recorded = table[table["controller"] == "dqn/policy.npz"].iloc[0]
    (again,) = evaluate(["dqn/policy.npz"], [int(recorded["episode_seed"])])
    assert again.scenario == recorded["scenario"]
    assert again.episode_return == pytest.approx(recorded["episode_return"], rel=1e-9)
    assert again.energy_wh == pytest.approx(recorded["energy_wh"], rel=1e-9)
    assert again.time_in_target_pct == pytest.approx(recorded["time_in_target_pct"], rel=1e-9)


def test_the_shipped_policy_acts_as_its_sb3_model_on_1000_recorded_observations():
    pytest.importorskip("stable_baselines3", reason="the rl extra (pip install -e '.[rl]') is not installed")
    from stable_baselines3 import DQN

    from controllers.dqn import QNetwork

    obs = np.load(RECORDED)
    assert obs.shape == (1000, 13)
    model = DQN.load(SHIPPED / "model.zip", device="cpu")
    sb3, _ = model.predict(obs, deterministic=True)
    net = QNetwork.load(SHIPPED / "policy.npz")
    numpy_actions = np.array([net.act(o) for o in obs])
    np.testing.assert_array_equal(numpy_actions, np.asarray(sb3))
    assert len(set(numpy_actions)) > 1  # the recorded states make the policy choose more than one action
