"""What the Jacobian says about a fit: confidence intervals, correlations and practical identifiability.

The parameters are fitted scaled by their start values (z = p / |p_start|), and every residual is a difference in
units of its scale (by default the signal's noise level), so column j of the Jacobian is how far, in noise levels,
the signals move when parameter j changes by 100 % of its start value. From it (Brun, Reichert and Kuensch 2001,
"Practical identifiability analysis of large environmental simulation models"; Bates and Watts 1988):

- **sensitivity**: the root mean square move of the signals, in scales, for a 1 % change (0.01 |J_j| / sqrt(blocks));
- **collinearity index** of a subset K: 1 / smallest singular value of its unit-length columns: a change of one
  parameter of K can be made up by the others to within 1/index of its effect (Brun et al. call 10-15 critical;
  with thousands of samples the standard errors below tell whether it matters, so the warning is at 30);
- **covariance** ``s^2 (J^T J)^-1`` with ``s^2`` the residual variance, giving each parameter's relative standard
  error and the pairwise correlations. Residuals correlated in time (a model that does not fit, not white noise)
  carry less information than their number says: each block's rows are weighted by its effective sample size
  ``n (1 - rho) / (1 + rho)`` with rho the lag-1 autocorrelation of its residuals (the AR(1) inflation), so the
  intervals widen where the fit leaves structure.
At the start values (``a_priori=True``) the residuals are not yet noise: ``s^2`` is then the value of residuals at
the level of their scales (the cost a perfect fit would leave) and no inflation is applied, so the figures say what
the chosen signals could determine if the model fitted (an experiment-design check, before the fit runs).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

log = logging.getLogger(__name__)

#: A parameter is not identifiable when its relative standard error exceeds this (95 % interval wider than about
#: +-10 %, with the AR(1) inflation for residuals correlated in time),
RSE_LIMIT = 0.05
#: when it correlates with another beyond this,
CORRELATION_LIMIT = 0.95
#: when it belongs to a subset whose collinearity index exceeds this whatever the amount of data (the other
#: parameters make up a change of it to within 1/30 of its effect),
COLLINEARITY_LIMIT = 30.0
#: Subsets over this (Brun et al. 2001: 10-15 is critical when data are few) are reported, and named in the warning
#: of a parameter whose standard error is too large: they say why.
COLLINEARITY_NOTE = 10.0
#: or when a 1 % change of it moves the signals by less than this fraction of their scale (RMS over the blocks).
SENSITIVITY_LIMIT = 0.01
#: Subsets are searched up to this size (all of them up to 12 parameters).
MAX_SUBSET = 12


@dataclass(frozen=True)
class Block:
    """A block of the residual vector: a signal's waveform or one feature (rows in order, ``size`` of them)."""

    name: str
    size: int
    weight: float = 1.0


@dataclass
class FitStatistics:
    """Standard deviations (parameter units), 95 % intervals, correlations and identifiability figures/warnings."""

    std: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    correlation: np.ndarray
    condition_number: float
    residual_variance: float
    relative_std: np.ndarray = field(default_factory=lambda: np.empty(0))
    sensitivity: np.ndarray = field(default_factory=lambda: np.empty(0))  #: RMS move in scales for a 1 % change
    collinear: list[tuple[tuple[str, ...], float]] = field(default_factory=list)  #: smallest subsets over the limit
    effective_samples: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unidentifiable: list[str] = field(default_factory=list)  #: the parameters named by a warning


def fit_statistics(names: list[str], values: np.ndarray, ref: np.ndarray, jac: np.ndarray, residuals: np.ndarray,
                   blocks: Sequence[Block] | None = None, *, a_priori: bool = False,
                   hints: dict[str, str] | None = None) -> FitStatistics:  # fmt: skip
    """Statistics of a fit: ``values`` (parameter units), ``ref`` the scale of each, ``jac`` d residuals / d (p/ref),
    ``blocks`` the layout of the residual vector (None: one block). ``hints``: parameter name -> what would
    determine it (added to its warning)."""
    m, n = jac.shape
    blocks = list(blocks) if blocks else [Block("residuals", m)]
    norms = np.linalg.norm(jac, axis=0)
    sensitivity = 0.01 * norms / np.sqrt(max(sum(b.weight for b in blocks), 1e-300))
    if a_priori:
        factors = {b.name: 1.0 for b in blocks}
        s2 = sum(b.weight for b in blocks) / max(m - n, 1)
        weighted_jac, dof = jac, max(m - n, 1)
    else:
        factors = {b.name: _inflation(r) for b, r in zip(blocks, _split(residuals, blocks), strict=True)}
        rows = np.concatenate([np.full(b.size, 1.0 / np.sqrt(factors[b.name])) for b in blocks])
        effective = float(sum(b.size / factors[b.name] for b in blocks))
        dof = max(effective - n, 1.0)
        s2 = float(np.sum((residuals * rows) ** 2)) / dof
        weighted_jac = jac * rows[:, None]
    safe = np.where(norms > 0, norms, 1.0)
    unit = jac / safe
    sv = np.linalg.svd(unit, compute_uv=False)
    condition = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
    wnorms = np.where(np.linalg.norm(weighted_jac, axis=0) > 0, np.linalg.norm(weighted_jac, axis=0), 1.0)
    cov_unit = s2 * np.linalg.pinv((weighted_jac / wnorms).T @ (weighted_jac / wnorms))
    cov = cov_unit / np.outer(wnorms, wnorms) * np.outer(ref, ref)
    std = np.where(norms > 0, np.sqrt(np.clip(np.diag(cov), 0.0, None)), np.inf)
    half = stats.t.ppf(0.975, dof) * std
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov))), nan=0.0)
        rse = np.where(values != 0, std / np.abs(values), np.inf)
    result = FitStatistics(std, values - half, values + half, corr, condition, s2, rse, sensitivity)
    seen = norms > 0
    result.collinear = collinear_subsets(unit[:, seen], [x for x, k in zip(names, seen, strict=True) if k])
    result.effective_samples = {b.name: b.size / factors[b.name] for b in blocks}
    shares = _block_shares(jac, blocks)
    result.warnings, result.unidentifiable = identifiability_warnings(
        names, values, result, corr, norms, shares, hints or {}
    )
    return result


def collinearity_index(unit_columns: np.ndarray) -> float:
    """1 / the smallest singular value of unit-length sensitivity columns (inf when they are dependent)."""
    sv = np.linalg.svd(unit_columns, compute_uv=False)
    return float(1.0 / sv[-1]) if sv[-1] > 1e-12 else float("inf")


def collinear_subsets(unit: np.ndarray, kept: list[str]) -> list[tuple[tuple[str, ...], float]]:
    """The smallest subsets of parameters (2 or more) whose collinearity index exceeds COLLINEARITY_NOTE: none of
    their own subsets does. ``unit``: the unit-length columns of the parameters ``kept`` (a non-zero column)."""
    found: list[tuple[tuple[str, ...], float]] = []
    count = len(kept)
    for size in range(2, min(count, MAX_SUBSET) + 1):
        for combo in itertools.combinations(range(count), size):
            members = {kept[i] for i in combo}
            if any(set(f[0]) <= members for f in found):
                continue
            index = collinearity_index(unit[:, list(combo)])
            if index > COLLINEARITY_NOTE:
                found.append((tuple(kept[i] for i in combo), index))
    return found


def identifiability_warnings(names: list[str], values: np.ndarray, st: FitStatistics, corr: np.ndarray,
                             norms: np.ndarray, shares: list[dict[str, float]],
                             hints: dict[str, str]) -> tuple[list[str], list[str]]:  # fmt: skip
    """One line per reason a parameter cannot be pinned down by the chosen signals, naming it and what would help;
    and the names of those parameters."""
    out: list[str] = []
    bad: list[str] = []
    top = float(np.max(norms)) if norms.size else 0.0

    def flag(name: str) -> None:
        if name not in bad:
            bad.append(name)

    for i, name in enumerate(names):
        if norms[i] <= 1e-9 * max(top, 1e-300):
            out.append(f"{name}: the mapped signals do not change with it (zero sensitivity); {_help(name, hints)}")
            flag(name)
            continue
        where = _where(shares[i])
        if st.sensitivity[i] < SENSITIVITY_LIMIT:
            out.append(
                f"{name}: a 1 % change moves the signals by only {st.sensitivity[i]:.2g} of their scale (RMS; shows "
                f"in {where}): too weak to pin it down against noise and model error; {_help(name, hints)}"
            )
            flag(name)
        if not np.isfinite(st.relative_std[i]) or st.relative_std[i] > RSE_LIMIT:
            partners = [f"{{{', '.join(m)}}} ({g:.3g})" for m, g in st.collinear if name in m]
            why = f"; it is nearly collinear with: {', '.join(partners)}" if partners else ""
            out.append(
                f"{name}: relative standard error {st.relative_std[i]:.1%} (95 % interval "
                f"[{st.ci_low[i]:.4g}, {st.ci_high[i]:.4g}]): the signals hardly determine it (shows in {where}"
                f"{why}); {_help(name, hints)}"
            )
            flag(name)
    for i, j in itertools.combinations(range(len(names)), 2):
        if abs(corr[i, j]) > CORRELATION_LIMIT:
            out.append(
                f"{names[i]} and {names[j]} are correlated ({corr[i, j]:+.3f}): the signals determine a combination "
                f"of them, not each one; {_help(names[i], hints)}; {_help(names[j], hints)}"
            )
            flag(names[i])
            flag(names[j])
    for members, index in st.collinear:
        if index <= COLLINEARITY_LIMIT:
            continue
        listed = ", ".join(members)
        out.append(
            f"{{{listed}}}: collinearity index {index:.3g} > {COLLINEARITY_LIMIT:g}: the signals move them nearly "
            f"alike, so a change of one is made up by the others to within {1 / index:.0%}; fix all but one, or add "
            f"signals or operating points that separate them ({'; '.join(_help(x, hints) for x in members)})"
        )
        for x in members:
            flag(x)
    for text in out:
        log.warning("identifiability: %s", text)
    return out, bad


def _help(name: str, hints: dict[str, str]) -> str:
    return hints.get(name, f"map a signal that {name} drives, or fix it at a known value")


def _where(share: dict[str, float]) -> str:
    """The blocks that carry most of a parameter's sensitivity, e.g. 'waveform:o2 (71 %), cycle_max:p_feed (20 %)'."""
    ranked = sorted(share.items(), key=lambda kv: -kv[1])[:2]
    return ", ".join(f"{k} ({v:.0%})" for k, v in ranked if v > 0.005) or "no signal"


def _split(values: np.ndarray, blocks: Sequence[Block]) -> list[np.ndarray]:
    edges = np.cumsum([0, *(b.size for b in blocks)])
    return [values[a:b] for a, b in itertools.pairwise(edges)]


def _block_shares(jac: np.ndarray, blocks: Sequence[Block]) -> list[dict[str, float]]:
    """Per parameter: the fraction of its squared sensitivity in each block."""
    parts = _split(jac, blocks)
    total = np.sum(jac**2, axis=0)
    safe = np.where(total > 0, total, 1.0)
    return [
        {b.name: float(np.sum(p[:, j] ** 2) / safe[j]) for b, p in zip(blocks, parts, strict=True)}
        for j in range(jac.shape[1])
    ]


def _inflation(r: np.ndarray) -> float:
    """How many residuals of a block count as one independent one: (1 + rho) / (1 - rho) for the lag-1
    autocorrelation rho of its residuals (0 when negative), at most the block's size."""
    if r.size < 3:
        return 1.0
    centred = r - np.mean(r)
    denom = float(centred @ centred)
    rho = float(centred[:-1] @ centred[1:]) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.999)
    return float(min((1.0 + rho) / (1.0 - rho), r.size))
