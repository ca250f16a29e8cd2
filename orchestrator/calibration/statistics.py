"""What the Jacobian at the fit says: confidence intervals, correlations, identifiability.

The parameters are fitted scaled by their start values (z = p / |p_start|); the covariance of z is
``s^2 (J^T J)^-1`` with ``s^2 = |r|^2 / (m - n)``, the residual variance (so it does not depend on the scales given),
and the 95 % intervals are ``p +- t(0.975, m - n) * sd``. They assume independent residuals: a waveform's residuals
are correlated in time when the model is wrong, and the intervals are then too narrow (docs/calibration.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

log = logging.getLogger(__name__)

#: A parameter is reported as not identifiable when its 95 % interval is wider than this fraction of its value,
CI_LIMIT = 0.5
#: when it correlates with another beyond this,
CORRELATION_LIMIT = 0.95
#: or when the column-scaled Jacobian's condition number exceeds this (a combination of parameters is not seen).
CONDITION_LIMIT = 1e6


@dataclass
class FitStatistics:
    """Standard deviations (parameter units), 95 % intervals, correlations and identifiability warnings."""

    std: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    correlation: np.ndarray
    condition_number: float
    residual_variance: float
    warnings: list[str] = field(default_factory=list)


def fit_statistics(names: list[str], values: np.ndarray, ref: np.ndarray, jac: np.ndarray, residuals: np.ndarray) -> FitStatistics:  # fmt: skip
    """Statistics of a fit: ``values`` (parameter units), ``ref`` the scale of each, ``jac`` d residuals / d (p/ref)."""
    m, n = jac.shape
    dof = max(m - n, 1)
    s2 = float(residuals @ residuals) / dof
    norms = np.linalg.norm(jac, axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    scaled = jac / safe
    sv = np.linalg.svd(scaled, compute_uv=False)
    condition = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
    cov_scaled = s2 * np.linalg.pinv(scaled.T @ scaled)
    cov = cov_scaled / np.outer(safe, safe) * np.outer(ref, ref)
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    std = np.where(norms > 0, std, np.inf)
    half = stats.t.ppf(0.975, dof) * std
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov)))
    corr = np.nan_to_num(corr, nan=0.0)
    result = FitStatistics(std, values - half, values + half, corr, condition, s2)
    result.warnings = identifiability_warnings(names, values, half, corr, norms, condition)
    for text in result.warnings:
        log.warning("identifiability: %s", text)
    return result


def identifiability_warnings(names: list[str], values: np.ndarray, half: np.ndarray, corr: np.ndarray,
                             norms: np.ndarray, condition: float) -> list[str]:  # fmt: skip
    """One line per parameter the chosen signals cannot pin down, and per strongly correlated pair."""
    out = []
    top = float(np.max(norms)) if norms.size else 0.0
    for i, name in enumerate(names):
        if norms[i] <= 1e-9 * max(top, 1e-300):
            out.append(f"{name}: the mapped signals do not change with it (zero Jacobian column)")
        elif not np.isfinite(half[i]) or half[i] > CI_LIMIT * abs(values[i]):
            out.append(
                f"{name}: 95 % interval +-{half[i]:.3g} is more than {CI_LIMIT:.0%} of its value {values[i]:.4g}; "
                "the signals hardly determine it (fix it, or map a signal it drives)"
            )
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(corr[i, j]) > CORRELATION_LIMIT:
                out.append(
                    f"{names[i]} and {names[j]} are correlated ({corr[i, j]:+.3f}): the signals determine a "
                    "combination of them, not each one"
                )
    if condition > CONDITION_LIMIT:
        out.append(f"the scaled Jacobian is near singular (condition number {condition:.3g})")
    return out
