"""A calibration's files: fit.json, the fitted scenario, before/after overlay plots of every mapped signal."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.calibration.config import CalibrationConfig
from orchestrator.results.files import write_text_atomic
from orchestrator.scenario.overrides import apply_overrides
from orchestrator.scenario.toml import dumps_scenario

log = logging.getLogger(__name__)


def residual_statistics(measured: np.ndarray, twin: np.ndarray, scale: float) -> dict[str, float]:
    """Residual figures of one signal (SI): mean (bias), RMS, largest absolute, RMS in units of its scale."""
    diff = twin - measured
    rms = float(np.sqrt(np.mean(diff**2)))
    return {
        "mean": float(np.mean(diff)),
        "rms": rms,
        "max_abs": float(np.max(np.abs(diff))),
        "rms_in_scales": rms / scale,
    }


def write_fitted_scenario(config: CalibrationConfig, fitted: Mapping[str, float], out: Path) -> Path:
    """The calibration's scenario with the fitted values in its [slaves.NAME.parameters] (the trace not included)."""
    spec = apply_overrides(config.scenario, dict(fitted))
    path = out / "fitted_scenario.toml"
    header = f"# {config.scenario.name} with the parameters fitted by o2twin calibrate {config.source.name}\n"
    write_text_atomic(path, header + dumps_scenario(spec))
    return path


def write_fit_json(out: Path, report: Mapping[str, Any]) -> Path:
    path = out / "fit.json"
    write_text_atomic(path, json.dumps(_finite(report), indent=2) + "\n")
    return path


def _finite(value: Any) -> Any:
    """JSON without NaN/inf (they become null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def overlay_plots(config: CalibrationConfig, times: np.ndarray, measured: Mapping[str, np.ndarray],
                  before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], out: Path) -> list[Path]:  # fmt: skip
    """One PNG per mapped signal: the trace, the twin before (start values) and after the fit, and the residual."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in config.signals:
        fig, (ax, axr) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
        ax.plot(times, measured[s.name], ".", ms=2, color="0.4", label=f"measured ({s.column})")
        ax.plot(times, before[s.name], color="tab:orange", lw=1, label="twin, start values")
        ax.plot(times, after[s.name], color="tab:blue", lw=1, label="twin, fitted")
        ax.set_ylabel(f"{s.twin} (SI)")
        ax.set_title(f"{config.name}: {s.name}")
        ax.legend(loc="best", fontsize=8)
        axr.plot(times, before[s.name] - measured[s.name], color="tab:orange", lw=0.8)
        axr.plot(times, after[s.name] - measured[s.name], color="tab:blue", lw=0.8)
        axr.set_ylabel("twin - measured")
        axr.set_xlabel("trace time (s)")
        fig.tight_layout()
        path = folder / f"overlay_{s.name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
