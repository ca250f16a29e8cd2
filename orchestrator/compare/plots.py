"""Overlay plots of a comparison: SpO2, flow, purity and energy against time, one figure per scenario.

Each controller set is one colour: its mean over the seeds as a line and the range over the seeds as a band (the
traces.csv of every run, orchestrator.compare.metrics.traces).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PANELS = (
    ("spo2_pct", "SpO2 (%)"),
    ("flow_lpm", "delivered flow (L/min)"),
    ("purity_pct", "delivered O2 purity (%)"),
    ("energy_wh", "compressor energy (Wh)"),
)


def overlay(scenario: str, traces: Mapping[str, Sequence[pd.DataFrame]], path: Path) -> Path:
    """One figure of the four panels for ``scenario``; ``traces`` maps a controller set to its runs' traces."""
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(10, 11), sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (controller, runs) in enumerate(traces.items()):
        colour = colours[k % len(colours)]
        for ax, (column, _) in zip(axes, PANELS, strict=True):
            usable = [r for r in runs if column in r and len(r)]
            if not usable:
                continue
            n = min(len(r) for r in usable)
            t = usable[0]["time_s"].to_numpy()[:n]
            values = np.vstack([r[column].to_numpy()[:n] for r in usable])
            ax.plot(t, values.mean(axis=0), color=colour, label=f"{controller} ({len(usable)} runs)")
            if len(usable) > 1:
                ax.fill_between(t, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.2, linewidth=0)
    for ax, (_, label) in zip(axes, PANELS, strict=True):
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="best", fontsize="small")
    axes[0].set_title(f"{scenario}: mean over seeds (line) and range (band)")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
