"""Training the DQN supervisor with Stable-Baselines3 (``o2twin train dqn``): vectorised environments over processes,
training curves, checkpoints exported to ``.npz`` with their provenance.

The exploration schedule is fixed in steps (``EXPLORATION_STEPS``), not as a fraction of the run, so the policy at a
checkpoint of N steps equals the policy of a run of ``--timesteps N`` with the same seed and environments.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.paths import PROJECT_ROOT
from orchestrator.rl.env import ConcentratorEnv
from orchestrator.rl.export import file_sha256, weights_sha256, write_policy

log = logging.getLogger(__name__)

#: Exploration decays linearly from 1 to EXPLORATION_FINAL over this many steps (all environments together).
EXPLORATION_STEPS = 4000
EXPLORATION_FINAL = 0.05
#: DQN settings (Stable-Baselines3 names); the network is SB3's MlpPolicy with two hidden layers of 64.
DQN_SETTINGS: dict[str, Any] = {
    "learning_rate": 5e-4,
    "buffer_size": 50_000,
    "learning_starts": 500,
    "batch_size": 64,
    "gamma": 0.9,
    "train_freq": 1,
    "gradient_steps": 1,
    "target_update_interval": 500,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": EXPLORATION_FINAL,
    "policy_kwargs": {"net_arch": [64, 64]},
}
CURVE_COLUMNS = ("episode", "timesteps", "wall_s", "scenario", "episode_seed", "return", "energy_wh_per_l_o2",
                 "time_in_target_pct", "alarms_raised", "watchdog_intervention_pct")  # fmt: skip


@dataclasses.dataclass
class TrainConfig:
    """What a training run is: everything the provenance records."""

    timesteps: int
    seed: int = 0
    n_envs: int = 2
    warmup_s: float = 240.0
    episode_s: float = 360.0
    period_s: float = 7.5
    checkpoint_every: int = 2000


def make_env(config: TrainConfig) -> ConcentratorEnv:
    """One training environment (a top-level function so that subprocesses can build it)."""
    from stable_baselines3.common.monitor import Monitor

    env = ConcentratorEnv(warmup_s=config.warmup_s, episode_s=config.episode_s, period_s=config.period_s)
    return Monitor(env)  # type: ignore[return-value]


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "orchestrator", "controllers"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def train_dqn(config: TrainConfig, out: Path, tensorboard: Path | None = None) -> dict[str, Any]:
    """Train, writing to ``out``: model.zip, policy.npz, provenance.json, curve.csv, curve.png (and checkpoints/).

    ``tensorboard``: also write TensorBoard event files under this folder (Stable-Baselines3's ``tensorboard_log``,
    a run folder ``dqn_N`` per run): SB3's own scalars (rollout/, train/, time/) and the curve's per-episode figures
    (``episode/``; with several environments, the mean of the episodes that ended at the same step), dumped
    after every episode.
    """
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    vec_cls = SubprocVecEnv if config.n_envs > 1 else DummyVecEnv
    venv = make_vec_env(make_env, n_envs=config.n_envs, seed=config.seed, vec_env_cls=vec_cls,
                        env_kwargs={"config": config})  # fmt: skip
    settings = dict(DQN_SETTINGS, exploration_fraction=min(1.0, EXPLORATION_STEPS / config.timesteps))
    model = DQN("MlpPolicy", venv, seed=config.seed, verbose=0, device="cpu",
                tensorboard_log=str(tensorboard) if tensorboard is not None else None, **settings)  # fmt: skip
    curve = _CurveRecorder(out / "curve.csv", config, out)
    curve.commit = _commit()  # the code this run imports now, whatever the checkout becomes while it trains
    t0 = time.perf_counter()
    try:
        log_interval = 1 if tensorboard is not None else 4  # episodes between SB3's log dumps (4: its default)
        model.learn(config.timesteps, callback=curve.callback(model), tb_log_name="dqn", log_interval=log_interval)
    finally:
        venv.close()
    wall = time.perf_counter() - t0
    provenance = _finish(model, config, out, config.timesteps, wall, curve)
    plot_curve(out / "curve.csv", out / "curve.png")
    return provenance


def _finish(model: Any, config: TrainConfig, out: Path, timesteps: int, wall: float, curve: _CurveRecorder) -> dict:
    model.save(out / "model.zip")
    policy = out / "policy.npz"
    write_policy(model, policy)
    provenance = {
        "algorithm": "stable-baselines3 DQN",
        "config": dataclasses.asdict(config) | {"timesteps": timesteps},
        "dqn_settings": DQN_SETTINGS | {"exploration_steps": EXPLORATION_STEPS},
        "commit": curve.commit,
        "policy_file": policy.name,
        "policy_sha256": file_sha256(policy),
        "weights_sha256": weights_sha256(policy),
        "curve": "curve.csv",
        "episodes": curve.episodes,
        "wall_time_s": round(wall, 1),
        "reproduce": f"o2twin train dqn --timesteps {timesteps} --seed {config.seed} --envs {config.n_envs}",
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


class _CurveRecorder:
    """Per-episode rows of the training curve (return, energy per litre, time in target), written as they come."""

    def __init__(self, path: Path, config: TrainConfig, out: Path) -> None:
        self.path, self.config, self.out = path, config, out
        self.episodes = 0
        self.commit = "unknown"
        self._acc: dict[int, dict[str, float]] = {}
        self._t0 = time.perf_counter()
        with path.open("w", newline="") as f:
            csv.writer(f).writerow(CURVE_COLUMNS)

    def callback(self, model: Any) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        recorder = self

        class Callback(BaseCallback):
            def _on_step(self) -> bool:
                for row in recorder.on_step(self.locals["infos"], self.locals["dones"], self.num_timesteps):
                    for column in CURVE_COLUMNS[5:]:  # in SB3's next dump: the mean of the episodes ended at once
                        self.logger.record_mean(f"episode/{column}", float(row[column]))
                every = recorder.config.checkpoint_every
                if every and self.num_timesteps % every < recorder.config.n_envs and self.num_timesteps >= every:
                    recorder.checkpoint(model, self.num_timesteps)
                return True

        return Callback()

    def on_step(self, infos: list[dict], dones: np.ndarray, timesteps: int) -> list[dict[str, Any]]:
        """Accumulate one vectorised step; returns the curve rows of the episodes it finished (CURVE_COLUMNS)."""
        finished = []
        for i, (info, done) in enumerate(zip(infos, dones, strict=True)):
            acc = self._acc.setdefault(i, {"e": 0.0, "l": 0.0, "in": 0.0, "n": 0, "alarms": 0.0, "wd": 0.0})
            if "energy_wh" in info:
                acc["e"] += info["energy_wh"]
                acc["l"] += info["o2_l"]
                acc["in"] += info["spo2_in_target"]
                acc["alarms"] += info["alarms_raised"]
                acc["wd"] += info["watchdog_intervention"]
                acc["n"] += 1
            if done and "episode" in info:
                n = max(acc["n"], 1)
                self.episodes += 1
                row = (self.episodes, timesteps, round(time.perf_counter() - self._t0, 1), info.get("scenario", ""),
                       info.get("episode_seed", ""), info["episode"]["r"],
                       acc["e"] / acc["l"] if acc["l"] > 0 else float("nan"), 100 * acc["in"] / n, acc["alarms"],
                       100 * acc["wd"] / n)  # fmt: skip
                with self.path.open("a", newline="") as f:
                    csv.writer(f).writerow(row)
                finished.append(dict(zip(CURVE_COLUMNS, row, strict=True)))
                self._acc[i] = {"e": 0.0, "l": 0.0, "in": 0.0, "n": 0, "alarms": 0.0, "wd": 0.0}
        return finished

    def checkpoint(self, model: Any, timesteps: int) -> None:
        folder = self.out / "checkpoints" / f"{timesteps:07d}"
        folder.mkdir(parents=True, exist_ok=True)
        wall = time.perf_counter() - self._t0
        _finish(model, self.config, folder, timesteps, wall, self)
        shutil.copyfile(self.path, folder / "curve.csv")  # the curve so far: a checkpoint is a complete policy folder
        plot_curve(folder / "curve.csv", folder / "curve.png")
        log.info("checkpoint at %d steps (%.0f s): %s", timesteps, wall, folder)


def plot_curve(csv_path: Path, png_path: Path) -> None:
    """The training curve: episode return, energy per litre of O2 and time in target against timesteps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(csv_path)
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    for ax, column, label in zip(axes, ("return", "energy_wh_per_l_o2", "time_in_target_pct"),
                                 ("episode return", "energy per litre O2 (Wh/L)", "SpO2 time in target (%)"),
                                 strict=True):  # fmt: skip
        if len(df):
            ax.plot(df["timesteps"], df[column], ".", alpha=0.4, label="episode")
            ax.plot(df["timesteps"], df[column].rolling(10, min_periods=1).mean(), "-", label="mean of 10")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="lower right")
    axes[-1].set_xlabel("timesteps (supervisory periods, all environments)")
    fig.suptitle("DQN supervisor: training curve")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
