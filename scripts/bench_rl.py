"""How fast the DQN environment and learner run, and what an hour of training buys (docs/rl.md, "What the twin's
speed allows").

Measures, in this process: ConcentratorEnv.reset (build the run, 240 s cold start) and step (one 7.5 s period) over
--episodes held-out episodes, in wall and CPU seconds; and one DQN gradient step (Stable-Baselines3, the shipped
settings: batch 64, two hidden layers of 64, one torch thread) in CPU seconds. CPU seconds do not depend on how
busy the machine is; wall seconds do, so the load average is printed with them. From the CPU figures it estimates
the training rate of `o2twin train dqn --envs N` on N free cores: each vectorised step costs one environment step
per core, the learner's gradient step after it, and a reset every 48 decisions.

    python scripts/bench_rl.py --episodes 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from orchestrator.rl.env import ConcentratorEnv
from orchestrator.rl.episodes import held_out_seeds
from orchestrator.rl.evaluate import EVALUATION_SCENARIOS
from orchestrator.rl.train import DQN_SETTINGS


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def time_env(episodes: int) -> dict[str, float]:
    """Mean wall and CPU seconds of a reset and of a step, and the decisions per episode."""
    env = ConcentratorEnv(scenarios=EVALUATION_SCENARIOS)
    reset_w = reset_c = step_w = step_c = 0.0
    steps = 0
    try:
        for seed in held_out_seeds(episodes):
            w0, c0 = clocks()
            env.reset(options={"episode_seed": seed})
            w1, c1 = clocks()
            reset_w, reset_c = reset_w + w1 - w0, reset_c + c1 - c0
            done = False
            while not done:
                w0, c0 = clocks()
                _, _, terminated, truncated, _ = env.step(0)
                w1, c1 = clocks()
                step_w, step_c, steps = step_w + w1 - w0, step_c + c1 - c0, steps + 1
                done = terminated or truncated
    finally:
        env.close()
    return {"reset_wall": reset_w / episodes, "reset_cpu": reset_c / episodes, "step_wall": step_w / steps,
            "step_cpu": step_c / steps, "steps_per_episode": steps / episodes}  # fmt: skip


def time_gradient_step(n: int = 300) -> float:
    """CPU seconds of one DQN gradient step on a filled replay buffer (no simulation)."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN

    torch.set_num_threads(1)

    class Shapes(gym.Env):  # the environment's spaces only: DQN.train never steps it
        observation_space = gym.spaces.Box(-10.0, 10.0, shape=(13,), dtype=np.float32)
        action_space = gym.spaces.Discrete(5)

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
            return np.zeros(13, dtype=np.float32), {}

    model = DQN("MlpPolicy", Shapes(), seed=0, device="cpu", **DQN_SETTINGS)
    model._setup_learn(total_timesteps=1)
    rng = np.random.default_rng(0)
    for _ in range(1000):
        obs, nxt = rng.normal(size=(1, 13)).astype(np.float32), rng.normal(size=(1, 13)).astype(np.float32)
        model.replay_buffer.add(obs, nxt, np.array([rng.integers(5)]), np.array([-1.0]), np.array([False]), [{}])
    model.train(gradient_steps=10, batch_size=64)  # warm up
    c0 = time.process_time()
    model.train(gradient_steps=n, batch_size=64)
    return (time.process_time() - c0) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=2, help="held-out episodes to time (2)")
    parser.add_argument("--cores", type=int, nargs="+", default=[2, 16, 32], help="core counts to estimate for")
    args = parser.parse_args(argv)
    env = time_env(args.episodes)
    grad = time_gradient_step()
    load = os.getloadavg()[0]
    per_step = env["step_cpu"] + env["reset_cpu"] / env["steps_per_episode"]
    print(f"load average {load:.1f}; {args.episodes} episodes of {env['steps_per_episode']:.0f} decisions")
    print(f"reset: {env['reset_wall']:.2f} s wall, {env['reset_cpu']:.2f} s CPU")
    print(f"step:  {env['step_wall'] * 1e3:.0f} ms wall, {env['step_cpu'] * 1e3:.0f} ms CPU "
          f"({7.5 / env['step_cpu']:.0f}x real time per CPU second)")  # fmt: skip
    print(f"gradient step: {grad * 1e3:.2f} ms CPU; environment CPU per decision with its share of the reset: "
          f"{per_step * 1e3:.0f} ms")  # fmt: skip
    for cores in args.cores:
        rate = cores / (per_step + grad)  # one decision per core, then the learner's step
        print(f"--envs {cores} on {cores} free cores: about {rate:.1f} steps/s, {rate * 3600:,.0f} steps per hour "
              f"(100,000 steps in {100_000 / rate / 3600:.1f} h)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
