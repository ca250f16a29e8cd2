"""ConcentratorEnv: a Gymnasium environment over the twin, one step per supervisory period of the DQN supervisor.

reset() opens a run (``orchestrator.open_run``) of the episode's scenario with the supervisor in the loop
(``with_supervisor``), advances through the cold start to the supervisor's first decision and returns the
observation of the last period: the supervisor block's ``obs_*`` outputs, computed from measured signals only
(controllers/dqn.py FEATURES). step(action) sets the block's ``action`` input, advances one period and returns the
next observation, the reward of that period (reward.py) and its figures in ``info``. The episode is truncated at
``episode_s`` after the first decision; it terminates early only if the simulation fails. Every run writes a
small results directory under a temporary folder the environment removes on close().
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from orchestrator.errors import SimulationError
from orchestrator.results.run import RunSession, open_run
from orchestrator.rl.episodes import SEVERITY_PARAMETERS, Episode, draw_episode, training_seed
from orchestrator.rl.reward import RewardMeter
from orchestrator.rl.supervised import SUPERVISOR, with_supervisor
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.spec import OutputsSpec, ScenarioSpec

log = logging.getLogger(__name__)

#: The supervisor's action and observation sizes (controllers/dqn.py ACTIONS and FEATURES; the environment knows
#: the block only by its variables, as the layering requires).
N_ACTIONS = 5
N_FEATURES = 13
OBS_LIMIT = 10.0
#: Reward when the simulation fails during a step (the episode then terminates).
FAILURE_REWARD = -10.0


class ConcentratorEnv(gym.Env[np.ndarray, np.int64]):
    """The DQN supervisor's environment (see the module docstring).

    ``warmup_s``: cold start before the first decision (a whole number of periods); ``episode_s``: decisions after
    it; ``period_s``: the supervisory period; ``scenarios``: drawn by episode seed (episodes.py); ``episode_seeds``:
    a fixed list cycled through by successive resets (evaluation) instead of seeds drawn from the generator;
    ``overrides``: applied to every episode after its own; ``supervisor``: extra block parameters.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium's convention: a class attribute)

    def __init__(
        self,
        *,
        warmup_s: float = 240.0,
        episode_s: float = 360.0,
        period_s: float = 7.5,
        scenarios: Sequence[str] | None = None,
        episode_seeds: Sequence[int] | None = None,
        overrides: Mapping[str, Any] | None = None,
        supervisor: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not (period_s > 0 and warmup_s >= period_s and episode_s >= period_s):
            raise ValueError("need period_s > 0, warmup_s >= period_s and episode_s >= period_s")
        self.warmup_s, self.episode_s, self.period_s = float(warmup_s), float(episode_s), float(period_s)
        self.scenarios = tuple(scenarios) if scenarios is not None else None
        self.episode_seeds = list(episode_seeds) if episode_seeds is not None else None
        self._next_seed_index = 0
        self.extra_overrides = dict(overrides or {})
        self.supervisor_parameters = dict(supervisor or {})
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        self.observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, shape=(N_FEATURES,), dtype=np.float32)
        self._tmp = Path(tempfile.mkdtemp(prefix="o2twin-rl-"))
        self._session: RunSession | None = None
        self._meter: RewardMeter | None = None
        self._t_next = 0.0
        self._t_end = 0.0
        self.episode: Episode | None = None

    # --- Gymnasium API -------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._close_session()
        episode_seed = (options or {}).get("episode_seed")
        if episode_seed is None and self.episode_seeds is not None:
            episode_seed = self.episode_seeds[self._next_seed_index % len(self.episode_seeds)]
            self._next_seed_index += 1
        if episode_seed is None:
            episode_seed = training_seed(self.np_random)
        kwargs = {"scenarios": self.scenarios} if self.scenarios is not None else {}
        self.episode = draw_episode(int(episode_seed), **kwargs)
        spec = self.episode_spec(self.episode)
        self._session = open_run(spec, out=self._tmp / "run", overwrite=True, plots=False)
        spo2_range = (float(self._param("spo2_target_low", spec)), float(self._param("spo2_target_high", spec)))
        self._meter = RewardMeter(*spo2_range)
        self._session.advance(until=self.warmup_s)
        self._t_next = self.warmup_s
        self._t_end = self.warmup_s + self.episode_s
        return self._observation(), {"episode_seed": self.episode.seed, "scenario": self.episode.scenario}

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._session is None or self._meter is None:
            raise RuntimeError("call reset() before step()")
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        sim = self._session.simulation
        sim.set(f"{SUPERVISOR}.action", float(a))
        self._meter.start(sim)
        self._t_next = min(self._t_next + self.period_s, self._t_end)
        try:
            self._session.advance(until=self._t_next, callback=self._meter)
        except SimulationError as err:
            log.warning("episode %s: the simulation failed: %s", self.episode, err)
            self._close_session(err)
            return np.zeros(N_FEATURES, dtype=np.float32), FAILURE_REWARD, True, False, {"error": str(err)}
        totals = self._meter.totals
        info = totals.info()
        info.update(
            action=int(sim.get(f"{SUPERVISOR}.last_action")),  # what the block applied (in policy mode: its own)
            time_s=self._t_next,
            scenario=self.episode.scenario if self.episode else "",
            episode_seed=self.episode.seed if self.episode else -1,
        )
        truncated = self._t_next >= self._t_end - 1e-9
        return self._observation(), float(totals.reward()), False, truncated, info

    def close(self) -> None:
        self._close_session()
        shutil.rmtree(self._tmp, ignore_errors=True)
        super().close()

    # --- helpers -------------------------------------------------------------------------------------------------
    def episode_spec(self, episode: Episode) -> ScenarioSpec:
        """The scenario one episode runs: its scenario, overrides and seed, the supervisor in the loop."""
        spec = load_scenario(episode.scenario)
        patient = spec.slaves.get("patient")
        overrides = dict(episode.overrides)
        if patient is not None:
            for name in SEVERITY_PARAMETERS:
                value = patient.parameters.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    overrides[f"patient.{name}"] = float(value) * episode.severity
        overrides.update(self.extra_overrides)
        params = {"period_s": self.period_s, "start_s": self.warmup_s, "policy": "", **self.supervisor_parameters}
        spec = with_supervisor(spec, params)
        from orchestrator.scenario.overrides import apply_overrides

        spec = apply_overrides(spec, overrides)
        stop = self.warmup_s + self.episode_s
        outputs = OutputsSpec(record=[], interval=self.period_s)  # the environment reads the simulation, not files
        return _replace(spec, seed=episode.seed, stop_time=stop, outputs=outputs, plots=[], summary=None, stop=stop)

    def _param(self, name: str, spec: ScenarioSpec) -> Any:
        return spec.slaves[SUPERVISOR].parameters.get(name, {"spo2_target_low": 0.88, "spo2_target_high": 0.92}[name])

    def _observation(self) -> np.ndarray:
        assert self._session is not None
        get = self._session.simulation.get
        obs = np.array([get(f"{SUPERVISOR}.obs_{i}") for i in range(N_FEATURES)], dtype=np.float64)
        obs = np.nan_to_num(obs, nan=0.0)
        return np.clip(obs, -OBS_LIMIT, OBS_LIMIT).astype(np.float32)

    def _close_session(self, exc: BaseException | None = None) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            try:
                session.close(exc)
            except Exception:  # closing is best effort: the environment's figures come from the simulation
                log.debug("closing the episode's run failed", exc_info=True)


def _replace(spec: ScenarioSpec, *, stop: float, **changes: Any) -> ScenarioSpec:
    import dataclasses

    events = [e for e in spec.events if e.time <= stop]
    return dataclasses.replace(spec, events=events, **changes)


def episode_return_baseline(env: ConcentratorEnv, seed: int, action: int = 0) -> float:
    """The return of one episode under a constant action (0 = hold: the fixed-setting baseline)."""
    env.reset(options={"episode_seed": seed})
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(action)
        total += reward
        done = terminated or truncated
    return total if math.isfinite(total) else FAILURE_REWARD
