"""Evaluating supervisors on the DQN environment: a trained policy run by the block itself, the fixed setting
(always "hold": the shipped schedule and cycle), and random actions, on the same episode seeds.

A trained policy is evaluated as it is deployed: the DQNSupervisor block loads the ``.npz`` (``policy`` parameter)
and chooses its actions with numpy; the environment only measures the reward. Episodes come from held-out seeds
(episodes.py), drawn from the training scenarios and the held-out ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator.rl.env import N_ACTIONS, ConcentratorEnv
from orchestrator.rl.episodes import HELD_OUT_SCENARIOS, TRAINING_SCENARIOS, held_out_seeds

#: Every scenario an evaluation episode may be drawn from.
EVALUATION_SCENARIOS = TRAINING_SCENARIOS + HELD_OUT_SCENARIOS
#: The policies ``evaluate`` knows besides a policy file.
FIXED = "fixed"
RANDOM = "random"


@dataclasses.dataclass
class EpisodeResult:
    """One evaluation episode's figures."""

    controller: str
    episode_seed: int
    scenario: str
    episode_return: float
    energy_wh: float
    o2_l: float
    time_in_target_pct: float
    purity_shortfall: float
    alarms_raised: int
    watchdog_intervention_pct: float
    actions: list[int]
    observations: list[list[float]]

    @property
    def energy_wh_per_l_o2(self) -> float:
        return self.energy_wh / self.o2_l if self.o2_l > 0 else math.nan

    def row(self) -> dict[str, Any]:
        """The figures as a flat table row (no per-step lists)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("actions", "observations")}
        out["energy_wh_per_l_o2"] = self.energy_wh_per_l_o2
        return out


def run_episode(
    env: ConcentratorEnv, controller: str, seed: int, rng: np.random.Generator | None = None
) -> EpisodeResult:
    """One episode of ``seed`` under ``controller`` (FIXED, RANDOM, or a policy name: the block acts itself)."""
    obs, info = env.reset(options={"episode_seed": seed})
    rng = rng if rng is not None else np.random.Generator(np.random.PCG64(seed))
    totals = {"r": 0.0, "e": 0.0, "l": 0.0, "in": 0.0, "short": 0.0, "alarms": 0, "wd": 0.0}
    actions: list[int] = []
    observations: list[list[float]] = []
    n, done = 0, False
    while not done:
        observations.append([float(x) for x in obs])
        action = int(rng.integers(N_ACTIONS)) if controller == RANDOM else 0
        obs, reward, terminated, truncated, step_info = env.step(action)
        done = terminated or truncated
        if "error" in step_info:
            totals["r"] += reward
            break
        actions.append(int(step_info["action"]))
        totals["r"] += reward
        totals["e"] += step_info["energy_wh"]
        totals["l"] += step_info["o2_l"]
        totals["in"] += step_info["spo2_in_target"]
        totals["short"] += step_info["purity_shortfall"]
        totals["alarms"] += step_info["alarms_raised"]
        totals["wd"] += step_info["watchdog_intervention"]
        n += 1
    n = max(n, 1)
    return EpisodeResult(
        controller=controller,
        episode_seed=seed,
        scenario=info["scenario"],
        episode_return=totals["r"],
        energy_wh=totals["e"],
        o2_l=totals["l"],
        time_in_target_pct=100.0 * totals["in"] / n,
        purity_shortfall=totals["short"] / n,
        alarms_raised=int(totals["alarms"]),
        watchdog_intervention_pct=100.0 * totals["wd"] / n,
        actions=actions,
        observations=observations,
    )


def evaluation_env(controller: str, **env_kwargs: Any) -> ConcentratorEnv:
    """The environment for one controller: a policy name puts the block in charge of its own actions."""
    supervisor = dict(env_kwargs.pop("supervisor", {}) or {})
    if controller not in (FIXED, RANDOM):
        supervisor["policy"] = controller
    return ConcentratorEnv(scenarios=EVALUATION_SCENARIOS, supervisor=supervisor, **env_kwargs)


def evaluate(controllers: Sequence[str], seeds: Sequence[int] | int = 10, **env_kwargs: Any) -> list[EpisodeResult]:
    """Every controller on every seed (an int: that many held-out seeds); rows in controller, seed order."""
    seed_list = held_out_seeds(seeds) if isinstance(seeds, int) else list(seeds)
    results = []
    for controller in controllers:
        env = evaluation_env(controller, **dict(env_kwargs))
        try:
            results += [run_episode(env, controller, seed) for seed in seed_list]
        finally:
            env.close()
    return results
