"""The comparison table: each metric's mean and spread over seeds per controller set and scenario, and a ranking.

Ranking (per scenario, and over all scenarios): each ranked metric (orchestrator.compare.metrics.METRICS, better
higher or lower) ranks the controller sets by their mean (1 = best, ties share the better rank); a set's score is
the mean of its ranks over the ranked metrics it has; rank 1 is the lowest score, ties broken by time in target.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from orchestrator.compare.metrics import METRICS

KEYS = ("controller", "scenario")


def compute_columns(runs: pd.DataFrame, timed: dict[str, Sequence[str]]) -> pd.DataFrame:
    """Add compute_p50_ms / compute_p99_ms: the largest of the controller set's timed blocks, per run."""
    runs = runs.copy()
    for q in ("p50", "p99"):
        values = []
        for _, row in runs.iterrows():
            names = timed.get(str(row["controller"]), ())
            cells = [row.get(f"update_{q}_ms.{n}") for n in names]
            found = [float(v) for v in cells if v is not None and pd.notna(v)]
            values.append(max(found) if found else np.nan)
        runs[f"compute_{q}_ms"] = values
    return runs


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per controller set and scenario: runs, failed runs, and mean and sd of every metric over seeds."""
    ok = runs[runs["status"].isin(("ok", "terminated"))] if "status" in runs else runs
    rows = []
    for (controller, scenario), group in runs.groupby(list(KEYS), sort=False):
        good = ok[(ok["controller"] == controller) & (ok["scenario"] == scenario)]
        row: dict[str, object] = {"controller": controller, "scenario": scenario, "runs": len(group)}
        row["failed"] = len(group) - len(good)
        for column, _, _ in METRICS:
            values = pd.to_numeric(good[column], errors="coerce") if column in good else pd.Series(dtype=float)
            row[f"{column}.mean"] = float(values.mean()) if values.notna().any() else np.nan
            row[f"{column}.sd"] = float(values.std(ddof=1)) if values.notna().sum() > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def rank(summary: pd.DataFrame) -> pd.DataFrame:
    """Add the rank of each controller set within its scenario, and an 'all' scenario with the overall ranking."""
    parts = []
    overall = summary.groupby("controller", sort=False).mean(numeric_only=True).reset_index()
    overall.insert(1, "scenario", "all")
    for frame in (summary, overall):
        for _, group in frame.groupby("scenario", sort=False):
            parts.append(_ranked(group))
    return pd.concat(parts, ignore_index=True)


def _ranked(group: pd.DataFrame) -> pd.DataFrame:
    group = group.copy()
    ranks = []
    for column, _, better in METRICS:
        if better == 0 or f"{column}.mean" not in group or group[f"{column}.mean"].isna().all():
            continue
        ranks.append(group[f"{column}.mean"].rank(ascending=better < 0, method="min"))
    score = pd.concat(ranks, axis=1).mean(axis=1) if ranks else pd.Series(0.0, index=group.index)
    group["score"] = score
    tie = -group.get("time_in_target_pct.mean", pd.Series(0.0, index=group.index)).fillna(0.0)
    order = sorted(group.index, key=lambda i: (score[i], tie[i]))
    group.loc[order, "rank"] = range(1, len(order) + 1)
    group["rank"] = group["rank"].astype(int)
    return group.sort_values("rank")


def _cell(mean: float, sd: float) -> str:
    if pd.isna(mean):
        return "-"
    digits = 2 if abs(mean) < 10 else 1
    return f"{mean:.{digits}f}" if pd.isna(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown(ranked: pd.DataFrame) -> str:
    """The ranked table as Markdown: one table per scenario (mean ± sd over seeds), 'all' last."""
    lines = []
    metrics = [m for m in METRICS if f"{m[0]}.mean" in ranked]
    for scenario, group in ranked.groupby("scenario", sort=False):
        lines += [f"### {scenario}", ""]
        lines.append("| rank | controller | runs (failed) | " + " | ".join(m[1] for m in metrics) + " |")
        lines.append("| --- " * (3 + len(metrics)) + "|")
        for _, row in group.iterrows():
            cells = [_cell(row[f"{m[0]}.mean"], row.get(f"{m[0]}.sd", np.nan)) for m in metrics]
            runs = f"{row['runs']:.0f} ({row['failed']:.0f})" if scenario != "all" else "-"
            lines.append(f"| {row['rank']} | {row['controller']} | {runs} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
