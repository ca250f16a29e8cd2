"""The Gymnasium environment over the twin: the Gymnasium contract, observations, reward figures and the watchdog."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium", reason="the rl extra (pip install -e '.[rl]') is not installed")

from orchestrator.rl.env import ConcentratorEnv  # noqa: E402
from orchestrator.rl.episodes import HELD_OUT_SCENARIOS, TRAINING_SCENARIOS, draw_episode, held_out_seeds  # noqa: E402
from orchestrator.rl.supervised import SUPERVISOR  # noqa: E402
from orchestrator.units import pa_to_barg  # noqa: E402

PRESSURE_UP = 1
SHORT = {"warmup_s": 15.0, "episode_s": 22.5, "scenarios": ("rest",)}


def test_check_env_passes():
    from gymnasium.utils.env_checker import check_env

    env = ConcentratorEnv(**SHORT)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_an_episode_is_one_step_per_period_to_its_truncation_with_the_reward_figures():
    env = ConcentratorEnv(**SHORT)
    try:
        obs, info = env.reset(options={"episode_seed": 3})
        assert env.observation_space.contains(obs) and info["episode_seed"] == 3
        steps = []
        done = False
        while not done:
            obs, reward, terminated, truncated, step = env.step(0)
            assert env.observation_space.contains(obs) and np.isfinite(reward)
            steps.append(step)
            done = terminated or truncated
        assert not terminated and [s["time_s"] for s in steps] == [22.5, 30.0, 37.5]
        for s in steps:  # the compressor runs and the unit delivers some oxygen from the start
            assert s["energy_wh"] > 0 and s["o2_l"] > 0 and 0 <= s["spo2_in_target"] <= 1
    finally:
        env.close()


def test_the_observation_holds_only_supervisor_outputs_computed_from_measured_signals():
    from orchestrator.rl.supervised import SENSOR_WIRING

    measured = {"sensor_p_feed", "sensor_O2", "sensor_Q", "spo2", "signal_quality", "T_head", "duty", "Q_set",
                "alarm_code", "p_setpoint"}  # fmt: skip
    assert {source.split(".", 1)[1] for source in SENSOR_WIRING} <= measured


def test_episodes_are_drawn_by_seed_and_held_out_seeds_and_scenarios_stay_out_of_training():
    assert draw_episode(12) == draw_episode(12)
    assert draw_episode(12) != draw_episode(13)
    training = {draw_episode(s).scenario for s in range(200)}
    assert training == set(TRAINING_SCENARIOS) and not training & set(HELD_OUT_SCENARIOS)
    env = ConcentratorEnv(**SHORT)
    try:
        env.reset(seed=5)
        assert env.episode is not None and env.episode.seed < held_out_seeds(1)[0]
    finally:
        env.close()


def test_the_watchdog_still_vetoes_an_unsafe_action_fed_through_the_environment():
    """ "Pressure up" every period with a wide offset range asks for far more than a (lowered) 1.2 bar(g) limit: the
    watchdog caps the compressor (OVERPRESSURE), the environment counts the intervention and the reward pays for it."""
    env = ConcentratorEnv(
        warmup_s=15.0,
        episode_s=60.0,
        scenarios=("rest",),
        supervisor={"p_step_bar": 0.5, "p_offset_max_bar": 1.6},
        overrides={"watchdog.p_max_barg": 1.2},
    )
    try:
        env.reset(options={"episode_seed": 1})
        sim = env._session.simulation  # type: ignore[union-attr]
        setpoints, readings, interventions, rewards = [], [], [], []
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(PRESSURE_UP)
            setpoints.append(pa_to_barg(sim.get(f"{SUPERVISOR}.p_setpoint")))
            readings.append(pa_to_barg(sim.get("psa.sensor_p_feed")))
            interventions.append(info["watchdog_intervention"])
            rewards.append(reward)
            done = terminated or truncated
        assert max(setpoints) > 2.0  # the unsafe request reached the PID
        assert sum(interventions) > 0  # the watchdog acted on it
        assert max(readings[2:]) < 1.2 + 0.35  # and held the feed pressure near its limit, far below the request
        assert min(rewards) < -1.0
    finally:
        env.close()
