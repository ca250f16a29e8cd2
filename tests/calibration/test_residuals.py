"""Residuals and cycle features on signals whose answers are known by hand; identifiability from the Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.calibration.residuals import auto_scale, cycle_starts, first_time_at, noise_level
from orchestrator.calibration.statistics import Block, fit_statistics


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


def _fd_jacobian(model, p: np.ndarray, ref: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d model / d (p / ref) by forward differences (as the fit takes it)."""
    y0 = model(p)
    return np.column_stack([(model(p + np.eye(p.size)[j] * h * ref[j]) - y0) / h for j in range(p.size)])


def test_parameters_that_enter_only_as_a_product_are_named():
    """y = a * b * exp(-c t): a and b are not identifiable apart (c is); the warning names them and the fix."""
    t = np.linspace(0, 5, 300)
    noise = np.random.default_rng(2).normal(0, 1.0, t.size)

    def model(p):
        return 100 * p[0] * p[1] * np.exp(-p[2] * t)

    p = np.array([2.0, 3.0, 0.7])
    jac = _fd_jacobian(model, p, p)
    st = fit_statistics(["a", "b", "c"], p, p, jac, noise, [Block("y", t.size)], hints={"a": "measure a alone"})
    text = "\n".join(st.warnings)
    assert "a and b are correlated" in text and "{a, b}: collinearity index" in text
    assert "measure a alone" in text  # the hint says what would help
    assert sorted(st.unidentifiable) == ["a", "b"]  # c is determined: not named
    assert st.relative_std[2] < 0.01


def test_a_parameter_the_signals_do_not_see_and_a_weak_one_are_named():
    t = np.linspace(0, 5, 300)
    y = np.column_stack([np.sin(t), np.cos(t), np.zeros_like(t), 1e-4 * t])  # d y / d (p / ref)
    st = fit_statistics(["a", "b", "unseen", "weak"], np.ones(4), np.ones(4), y, np.zeros(t.size) + 0.01)
    text = "\n".join(st.warnings)
    assert "unseen: the mapped signals do not change with it" in text
    assert "weak: a 1 % change moves the signals by only" in text
    assert sorted(st.unidentifiable) == ["unseen", "weak"]


def test_a_collinear_triple_is_found_though_no_pair_correlates():
    """c acts like a + b (to 0.5 %): no two sensitivity columns are alike (cosines below 0.75), the collinearity
    index of the three is high (Brun et al. 2001); the smallest such subset is named, not its supersets."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2))
    c = x[:, 0] + x[:, 1] + 0.005 * rng.normal(size=400)
    jac = np.column_stack([x, c, rng.normal(size=400)]) * 50
    st = fit_statistics(["a", "b", "c", "d"], np.ones(4), np.ones(4), jac, rng.normal(size=400))
    unit = jac / np.linalg.norm(jac, axis=0)
    assert np.max(np.abs(unit.T @ unit - np.eye(4))) < 0.75
    assert [m for m, _ in st.collinear] == [("a", "b", "c")]
    assert sorted(st.unidentifiable) == ["a", "b", "c"]


def test_residuals_correlated_in_time_widen_the_intervals():
    """A residual that drifts (model error, not white noise) carries less information than its length says."""
    t = np.linspace(0, 10, 500)
    jac = np.column_stack([np.sin(t), t / 10])
    white = np.random.default_rng(5).normal(0, 0.1, t.size)
    drift = 0.1 * np.sin(0.3 * t) + 0.01 * white
    st_white = fit_statistics(["a", "b"], np.ones(2), np.ones(2), jac, white, [Block("y", t.size)])
    st_drift = fit_statistics(["a", "b"], np.ones(2), np.ones(2), jac, drift, [Block("y", t.size)])
    assert st_white.effective_samples["y"] > 300
    assert st_drift.effective_samples["y"] < 10
    assert st_drift.std[0] > 5 * st_white.std[0]


def test_a_priori_statistics_use_the_scales_not_the_misfit():
    """At the start the residuals are model error: the a priori figures assume residuals at their scales."""
    t = np.linspace(0, 10, 400)
    jac = 5 * np.column_stack([np.sin(t), np.cos(t)]) / np.sqrt(t.size)  # a block of weight 1 is scaled by sqrt(1/n)
    misfit = np.full(t.size, 3.0)  # 30 % away: large residuals
    st = fit_statistics(["a", "b"], np.ones(2), np.ones(2), jac, misfit, [Block("y", t.size)], a_priori=True)
    assert st.residual_variance == pytest.approx(1.0 / (t.size - 2))
    assert st.warnings == []


def test_unidentifiable_parameters_are_named():
    x = np.linspace(0, 1, 100)
    residuals = np.random.default_rng(1).normal(0, 0.1, x.size)
    twins = np.column_stack([x, 2 * x + 1e-9 * x**2, np.zeros_like(x)])  # a and b act alike, c not at all
    stats = fit_statistics(["a", "b", "c"], np.ones(3), np.ones(3), twins, residuals)
    text = "\n".join(stats.warnings)
    assert "c: the mapped signals do not change with it" in text
    assert "a and b are correlated" in text
    assert "{a, b}: collinearity index" in text
