"""Residuals and cycle features on signals whose answers are known by hand; identifiability from the Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.calibration.residuals import auto_scale, cycle_starts, first_time_at, noise_level
from orchestrator.calibration.statistics import fit_statistics


def test_cycle_starts_are_the_rising_crossings():
    t = np.arange(0.0, 20.0, 0.5)
    square = (np.floor(t / 5.0) % 2 == 1).astype(float)  # rises at 5 and 15 s
    assert cycle_starts(t, square, 0.5) == pytest.approx([4.75, 14.75])  # halfway between the samples


def test_first_time_at_from_below_and_above():
    t = np.linspace(0, 10, 101)
    assert first_time_at(t, 0.21 + 0.06 * t, 0.90) == pytest.approx(10.0)  # never reached: the last time
    assert first_time_at(t, 0.21 + 0.1 * t, 0.90) == pytest.approx(6.9)
    assert first_time_at(t, 5 - t, 2.0) == pytest.approx(3.0)


def test_noise_level_sees_white_noise_not_a_slow_swing():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 60, 6001)
    swing = 1e5 * np.sin(2 * np.pi * t / 7.5)
    values = swing + rng.normal(0, 200.0, t.size)
    assert noise_level(values) == pytest.approx(200.0, rel=0.15)
    assert auto_scale(swing) == pytest.approx(2e5 * 1e-3, rel=0.01)  # noise-free: 1e-3 of the range


def test_confidence_intervals_and_correlation_of_a_linear_fit():
    """y = a x + b with noise: the intervals of least squares theory, and no warning."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 200)
    jac = np.column_stack([x, np.ones_like(x)])  # d r / d (p / ref) with ref = 1
    residuals = rng.normal(0, 0.1, x.size)
    stats = fit_statistics(["a", "b"], np.array([2.0, 1.0]), np.ones(2), jac, residuals)
    sd_a = 0.1 / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert stats.std[0] == pytest.approx(sd_a, rel=0.15)
    assert stats.correlation[0, 1] == pytest.approx(-np.sqrt(3) / 2, abs=0.05)  # x in [0, 1] against the intercept
    assert stats.ci_low[0] < 2.0 < stats.ci_high[0]
    assert stats.warnings == []


def test_unidentifiable_parameters_are_named():
    x = np.linspace(0, 1, 100)
    residuals = np.random.default_rng(1).normal(0, 0.1, x.size)
    twins = np.column_stack([x, 2 * x + 1e-9 * x**2, np.zeros_like(x)])  # a and b act alike, c not at all
    stats = fit_statistics(["a", "b", "c"], np.ones(3), np.ones(3), twins, residuals)
    text = "\n".join(stats.warnings)
    assert "c: the mapped signals do not change with it" in text
    assert "a and b are correlated" in text
    assert "near singular" in text
