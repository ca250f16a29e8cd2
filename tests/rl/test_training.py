"""`o2twin train dqn`: its command line and files, and (slow suite) a short training that beats random actions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("stable_baselines3", reason="the rl extra (pip install -e '.[rl]') is not installed")

from controllers.dqn import QNetwork
from orchestrator.cli.main import main
from orchestrator.rl.env import N_ACTIONS, ConcentratorEnv
from orchestrator.rl.episodes import held_out_seeds
from orchestrator.rl.export import file_sha256
from orchestrator.rl.train import TrainConfig, train_dqn


def test_train_help_names_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dqn", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--timesteps", "--seed", "--out", "--envs"):
        assert option in out


def test_train_writes_the_policy_its_provenance_and_the_curve(tmp_path):
    out = tmp_path / "dqn"
    argv = ["train", "dqn", "--timesteps", "6", "--envs", "1", "--warmup-s", "15", "--episode-s", "15",
            "--checkpoint-every", "0", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["config"]["timesteps"] == 6 and prov["config"]["seed"] == 0
    assert prov["policy_sha256"] == file_sha256(out / "policy.npz")
    assert QNetwork.load(out / "policy.npz").n_actions == N_ACTIONS
    curve = pd.read_csv(out / "curve.csv")
    assert len(curve) == 3 and {"return", "energy_wh_per_l_o2", "time_in_target_pct"} <= set(curve.columns)
    assert (out / "curve.png").stat().st_size > 0 and (out / "model.zip").exists()


def test_train_writes_tensorboard_event_files_with_the_curves_figures(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard (in the rl extra: pip install -e '.[rl]') is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, tb = tmp_path / "dqn", tmp_path / "tb"
    argv = ["train", "dqn", "--timesteps", "6", "--envs", "1", "--warmup-s", "15", "--episode-s", "15",
            "--checkpoint-every", "0", "--out", str(out), "--tensorboard", str(tb)]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tb.iterdir()  # SB3's folder for this run, dqn_1
    assert run_dir.name == "dqn_1" and any(f.name.startswith("events.out.tfevents.") for f in run_dir.iterdir())
    events = EventAccumulator(str(run_dir))
    events.Reload()
    curve = pd.read_csv(out / "curve.csv")
    energy = [e.value for e in events.Scalars("episode/energy_wh_per_l_o2")]
    assert energy == pytest.approx(list(curve["energy_wh_per_l_o2"]), rel=1e-6)  # one event per episode of the curve
    assert "rollout/ep_rew_mean" in events.Tags()["scalars"]  # and SB3's own scalars


def test_bad_arguments_are_one_clear_error(capsys):
    assert main(["train", "dqn", "--timesteps", "0"]) != 0
    assert "--timesteps" in capsys.readouterr().err


def greedy_return(env: ConcentratorEnv, act, seed: int) -> float:
    obs, _ = env.reset(options={"episode_seed": seed})
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += reward
        done = terminated or truncated
    return total


@pytest.mark.slow
def test_a_short_training_run_beats_random_actions(tmp_path):
    config = TrainConfig(timesteps=1200, seed=1, n_envs=2, warmup_s=60.0, episode_s=90.0, checkpoint_every=0)
    train_dqn(config, tmp_path)
    net = QNetwork.load(tmp_path / "policy.npz")
    rng = np.random.default_rng(0)
    env = ConcentratorEnv(warmup_s=60.0, episode_s=90.0)
    try:
        seeds = held_out_seeds(4)
        trained = [greedy_return(env, net.act, s) for s in seeds]
        random = [greedy_return(env, lambda _obs: int(rng.integers(N_ACTIONS)), s) for s in seeds]
    finally:
        env.close()
    assert np.mean(trained) > np.mean(random)
