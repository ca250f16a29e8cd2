"""Episodes of the DQN environment: a scenario, its conditions and its noise, all drawn from one seed.

Each episode seed picks a scenario (the patient's session and faults) and draws the ambient temperature, the
patient's activity at the start and the severity of the patient's gas-exchange impairment; the seed is also the
scenario's seed (sensor noise, oximeter artefacts). Training draws seeds below ``HELD_OUT_SEED_START`` and only
``TRAINING_SCENARIOS``; evaluation uses ``held_out_seeds()`` and also ``HELD_OUT_SCENARIOS``, which training never
sees.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

#: Scenarios training episodes are drawn from (rest, activity, altitude, a worn compressor).
TRAINING_SCENARIOS = ("rest", "default", "exercise", "high_altitude", "compressor_wear")
#: Scenarios only evaluation uses (faults the policy never trained on).
HELD_OUT_SCENARIOS = ("blocked_cannula", "o2_sensor_drift")
#: Training seeds are 0 .. HELD_OUT_SEED_START - 1; evaluation seeds start here.
HELD_OUT_SEED_START = 1_000_000
#: Ranges drawn per episode: ambient temperature (degC), metabolic rate at the start (x rest), impairment scale.
AMBIENT_DEGC = (15.0, 35.0)
METABOLIC_RATE = (0.8, 1.6)
SEVERITY_SCALE = (0.85, 1.15)
#: The patient parameters the severity scale multiplies (where the scenario sets them).
SEVERITY_PARAMETERS = ("shunt_fraction_copd", "dPO2_VQ_copd")


@dataclasses.dataclass(frozen=True)
class Episode:
    """One episode's scenario, overrides ({"slave.parameter": value}), scenario seed and impairment scale."""

    seed: int
    scenario: str
    overrides: dict[str, Any]
    severity: float  #: multiplies the scenario's patient shunt fraction and V/Q impairment (SEVERITY_PARAMETERS)


def draw_episode(seed: int, scenarios: tuple[str, ...] = TRAINING_SCENARIOS) -> Episode:
    """The episode of ``seed``: the same seed always gives the same episode."""
    rng = np.random.Generator(np.random.PCG64(seed))
    scenario = scenarios[int(rng.integers(len(scenarios)))]
    ambient_k = float(rng.uniform(*AMBIENT_DEGC)) + 273.15
    severity = float(rng.uniform(*SEVERITY_SCALE))
    overrides: dict[str, Any] = {
        "compressor.T_ambient": ambient_k,
        "psa.T_ambient": ambient_k,
        "patient.metabolic_rate": float(rng.uniform(*METABOLIC_RATE)),
    }
    return Episode(seed=seed, scenario=scenario, overrides=overrides, severity=severity)


def held_out_seeds(n: int) -> list[int]:
    """The first ``n`` evaluation seeds (never used in training)."""
    return list(range(HELD_OUT_SEED_START, HELD_OUT_SEED_START + n))


def training_seed(rng: np.random.Generator) -> int:
    """A training episode seed drawn from the environment's generator."""
    return int(rng.integers(HELD_OUT_SEED_START))
