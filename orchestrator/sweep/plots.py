"""A study's summary plots (PNG, in OUT/plots/): each metric against each varied parameter, the metrics'
distributions over seeds, and a failure map. Drawn with matplotlib's object API (no pyplot, no global backend)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from orchestrator.sweep.case import SUCCESS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: At most this many metrics per figure (the first ones of the table).
MAX_METRICS = 12
#: Box plots per parameter combination up to this many combinations, one histogram beyond.
MAX_GROUPS = 12
STATUS_COLOURS = {"ok": "tab:green", "terminated": "tab:olive", "failed": "tab:red"}


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric metrics that differ between successful cases: columns after "worker" (the row function's)."""
    import pandas as pd

    names = list(frame.columns)
    start = names.index("worker") + 1 if "worker" in names else len(names)
    ok = frame[frame["status"].isin(SUCCESS)]
    return [
        c
        for c in names[start:]
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and ok[c].nunique(dropna=True) > 1
    ][:MAX_METRICS]


def varied(frame: pd.DataFrame, parameters: Sequence[str]) -> list[str]:
    """The parameters (and the seed) that take more than one value in the table."""
    names = [p for p in [*parameters, "seed"] if p in frame.columns]
    return [p for p in dict.fromkeys(names) if frame[p].nunique(dropna=True) > 1]


def write_summary_plots(frame: pd.DataFrame, parameters: Sequence[str], folder: Path) -> list[Path]:
    """Every summary plot the table allows; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    axes = varied(frame, parameters)
    metrics = metric_columns(frame)
    ok = frame[frame["status"].isin(SUCCESS)]
    written = [failure_map(frame, [p for p in axes if _numeric(frame, p)], folder / "failures.png")]
    for parameter in axes:
        if parameter != "seed" and _numeric(frame, parameter) and metrics and not ok.empty:
            written.append(metric_vs_parameter(ok, parameter, metrics, folder / f"metrics_vs_{_file(parameter)}.png"))
    if "seed" in axes and metrics and not ok.empty:
        others = [p for p in axes if p != "seed"]
        written.append(distributions(ok, metrics, others, folder / "distributions_over_seeds.png"))
    log.info("sweep plots: %s", ", ".join(p.name for p in written))
    return written


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(frame[column]))


def _file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _grid(n: int) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    cols = min(3, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), dpi=100, layout="constrained")
    axs = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axs[n:]:
        ax.set_visible(False)
    return fig, axs[:n]


def metric_vs_parameter(ok: pd.DataFrame, parameter: str, metrics: list[str], path: Path) -> Path:
    """Each metric against one parameter: every case a dot, the mean over repeated values (seeds) a line."""
    fig, axs = _grid(len(metrics))
    for ax, metric in zip(axs, metrics, strict=True):
        ax.plot(ok[parameter], ok[metric], ".", alpha=0.5, color="tab:blue")
        means = ok.groupby(parameter)[metric].mean()
        if len(means) < len(ok):
            ax.plot(means.index, means.to_numpy(), "-", color="tab:orange", label="mean")
            ax.legend(fontsize="small")
        ax.set_xlabel(parameter)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"metrics vs {parameter} ({len(ok)} successful cases)")
    fig.savefig(path)
    return path


def distributions(ok: pd.DataFrame, metrics: list[str], others: list[str], path: Path) -> Path:
    """Each metric's spread over seeds: box plots per combination of the other parameters, or one histogram."""
    fig, axs = _grid(len(metrics))
    groups = list(ok.groupby(others)) if others else [((), ok)]
    for ax, metric in zip(axs, metrics, strict=True):
        if len(groups) <= MAX_GROUPS:
            data = [np.asarray(g[metric].dropna(), dtype=float) for _, g in groups]
            if len(groups) > 1:
                ax.boxplot(data)
                ax.set_xticks(range(1, len(groups) + 1), [_label(others, key) for key, _ in groups])
                ax.tick_params(axis="x", labelrotation=45, labelsize="x-small")
            else:
                ax.hist(data[0], bins="auto")
                ax.set_xlabel(metric)
        else:
            ax.hist(np.asarray(ok[metric].dropna(), dtype=float), bins="auto")
            ax.set_xlabel(metric)
        ax.set_title(metric, fontsize="small")
        ax.grid(alpha=0.3)
    fig.suptitle(f"distributions over {ok['seed'].nunique()} seeds")
    fig.savefig(path)
    return path


def _label(names: list[str], key: object) -> str:
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(
        f"{n.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{n}={v}"
        for n, v in zip(names, values, strict=False)
    )


def failure_map(frame: pd.DataFrame, axes: list[str], path: Path) -> Path:
    """Which cases failed: over the first two numeric varied parameters, or one against the case number, or the
    counts of each status when nothing varies."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    status = frame["status"].astype(str)
    if axes:
        x = frame[axes[0]]
        y = frame[axes[1]] if len(axes) > 1 else np.arange(len(frame))
        for name in sorted(set(status)):
            pick = status == name
            ax.scatter(x[pick], np.asarray(y)[pick], c=STATUS_COLOURS.get(name, "tab:gray"), label=name, s=30)
        ax.set_xlabel(axes[0])
        ax.set_ylabel(axes[1] if len(axes) > 1 else "case number")
        ax.legend()
    else:
        counts = status.value_counts()
        ax.bar(counts.index, counts.to_numpy(), color=[STATUS_COLOURS.get(s, "tab:gray") for s in counts.index])
        ax.set_ylabel("cases")
    failed = int((status == "failed").sum())
    ax.set_title(f"failure map: {failed} of {len(frame)} cases failed")
    ax.grid(alpha=0.3)
    fig.savefig(path)
    return path
