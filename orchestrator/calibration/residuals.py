"""Residuals between a measured trace and the twin: waveforms and cycle features, scaled and weighted.

Each block of residuals (one signal's waveform, one feature) is ``(twin - measured) / scale * sqrt(weight / n)``
with n its length, so a block adds ``weight * mean((difference / scale)^2)`` to the cost whatever its length.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.calibration.config import CalibrationConfig, CalibrationError, Feature
from orchestrator.calibration.statistics import Block

#: A signal's automatic scale is at least this fraction of its range (a noise-free signal would weigh infinitely).
MIN_SCALE_OF_RANGE = 1e-3


def noise_level(values: np.ndarray) -> float:
    """A robust estimate of white measurement noise (s.d.): the MAD of second differences / sqrt(6) (second
    differences remove the signal's slopes; the median ignores its switching edges)."""
    d = np.diff(values, 2)
    if d.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(6.0))


def auto_scale(values: np.ndarray) -> float:
    """A signal's residual scale when none is given: its noise level, at least 1e-3 of its range."""
    spread = float(np.ptp(values)) if values.size else 0.0
    scale = max(noise_level(values), MIN_SCALE_OF_RANGE * spread)
    return scale if scale > 0 else max(abs(float(np.mean(values))) * 1e-3, 1e-12)


def cycle_starts(times: np.ndarray, values: np.ndarray, threshold: float) -> np.ndarray:
    """Times (s) at which ``values`` rises through ``threshold`` (a cycle starts), linearly interpolated."""
    above = values >= threshold
    idx = np.flatnonzero(~above[:-1] & above[1:])
    v0, v1 = values[idx], values[idx + 1]
    frac = np.where(v1 != v0, (threshold - v0) / np.where(v1 != v0, v1 - v0, 1.0), 0.0)
    return times[idx] + frac * (times[idx + 1] - times[idx])


def first_time_at(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """The first time (s) the signal reaches ``level`` (from below or above); the last time when it never does."""
    start = values[0]
    reached = values >= level if start < level else values <= level
    hits = np.flatnonzero(reached)
    return float(times[hits[0]]) if hits.size else float(times[-1])


@dataclass
class Comparison:
    """What a residual vector is built from: compared times, measured signals, scales and cycle starts."""

    times: np.ndarray  #: s (trace time) of the compared samples
    measured: dict[str, np.ndarray]  #: signal name -> measured values at ``times`` (SI)
    scales: dict[str, float]  #: signal name -> residual scale (SI)
    cycles: np.ndarray  #: cycle start times (s) within the compared part, from the trace


def make_comparison(config: CalibrationConfig, times: np.ndarray, measured: Mapping[str, np.ndarray],
                    cycle_values: np.ndarray | None) -> Comparison:  # fmt: skip
    """Scales and cycles of the compared part of the trace."""
    scales = {s.name: s.scale if s.scale is not None else auto_scale(measured[s.name]) for s in config.signals}
    cycles = np.empty(0)
    if cycle_values is not None:
        cycles = cycle_starts(times, cycle_values, config.cycle_threshold)
        if any(f.kind.startswith("cycle_") for f in config.features) and cycles.size < 2:
            raise CalibrationError(
                f"{config.source}: [cycles] column '{config.cycle_column}' starts fewer than 2 cycles in the compared "
                "window; lengthen the window or lower [cycles] threshold"
            )
    return Comparison(times, dict(measured), scales, cycles)


def residual_blocks(
    config: CalibrationConfig, comp: Comparison, twin: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The weighted, scaled residuals by block name ("waveform:SIGNAL", "KIND:SIGNAL"), in a fixed order."""
    blocks: dict[str, np.ndarray] = {}
    for s in config.signals:
        if s.weight > 0:
            diff = (twin[s.name] - comp.measured[s.name]) / comp.scales[s.name]
            blocks[f"waveform:{s.name}"] = diff * np.sqrt(s.weight / diff.size)
    for i, f in enumerate(config.features):
        if f.weight > 0:
            diff = _feature_difference(f, comp, twin[f.signal], comp.measured[f.signal])
            blocks[f"{f.kind}:{f.signal}#{i + 1}"] = diff * np.sqrt(f.weight / diff.size)
    return blocks


def block_layout(config: CalibrationConfig, comp: Comparison, twin: Mapping[str, np.ndarray]) -> list[Block]:
    """The blocks of residual_vector in order: name, size and weight of each."""
    weights = {f"waveform:{s.name}": s.weight for s in config.signals}
    weights.update({f"{f.kind}:{f.signal}#{i + 1}": f.weight for i, f in enumerate(config.features)})
    return [Block(name, r.size, weights[name]) for name, r in residual_blocks(config, comp, twin).items()]


def residual_vector(config: CalibrationConfig, comp: Comparison, twin: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate(list(residual_blocks(config, comp, twin).values()))


def _feature_difference(f: Feature, comp: Comparison, twin: np.ndarray, meas: np.ndarray) -> np.ndarray:
    """(twin - measured) / scale of one feature: one value per cycle, or one value."""
    t = comp.times
    if f.kind == "time_to":
        scale = f.scale or 1.0
        assert f.value is not None  # checked when the file was read
        return np.array([(first_time_at(t, twin, f.value) - first_time_at(t, meas, f.value)) / scale])
    if f.kind == "cycle_time":
        scale = f.scale or 1.0
        return np.array([(_period(t, twin) - _period(t, meas)) / scale])
    scale = f.scale or comp.scales[f.signal]
    if f.kind == "mean":
        return np.array([(np.mean(twin) - np.mean(meas)) / scale])
    reduce = _REDUCERS[f.kind]
    edges = np.searchsorted(t, comp.cycles)
    pairs = list(itertools.pairwise(edges))
    return np.array([(reduce(twin[a:b]) - reduce(meas[a:b])) / scale for a, b in pairs if b > a])


_REDUCERS: dict[str, Callable[[np.ndarray], Any]] = {
    "cycle_min": lambda x: np.min(x),
    "cycle_max": lambda x: np.max(x),
    "cycle_mean": lambda x: np.mean(x),
}


def _period(times: np.ndarray, values: np.ndarray) -> float:
    """Mean cycle time (s) of a signal (its own rising edges through the mean of its range)."""
    level = 0.5 * (float(np.min(values)) + float(np.max(values)))
    starts = cycle_starts(times, values, level)
    if starts.size < 2:
        return float(times[-1] - times[0])
    return float(np.mean(np.diff(starts)))
