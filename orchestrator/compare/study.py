"""Compare controllers: the same scenarios and seeds under every controller set, on the many-runs engine.

``run_comparison(["pid-fuzzy", "mpc"], ["default", "exercise"], seeds=20)`` builds one case per controller set x
scenario x seed (orchestrator.sweep.Case, tagged with the set's name), runs them with ``run_cases`` (local pool,
or Dask when a scheduler is given; resumable in ``out/sweep``), and writes the comparison: runs.csv, summary.csv,
summary.md, plots/overlay_SCENARIO.png and report.md. ``compare_runs(run_dirs)`` writes the same from finished run
folders without simulating. See docs/compare.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from orchestrator.compare import plots, table
from orchestrator.compare.controller_set import ControllerSet, apply_controller_set, load_controller_set
from orchestrator.compare.identity import controller_digest
from orchestrator.compare.metrics import METRICS, TRACES_NAME, compare_row, run_row, traces
from orchestrator.errors import SystemDefinitionError
from orchestrator.results.events import read_events
from orchestrator.results.run import RESULTS_ROOT, RunResult
from orchestrator.scenario.load import load_scenario
from orchestrator.sweep import Case, run_cases

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """What a comparison wrote: the per-run table, the ranked summary and the files."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)


def comparison_cases(
    sets: Sequence[ControllerSet], scenarios: Sequence[str], seeds: Sequence[int], stop_time: float | None = None
) -> list[Case]:
    """One case per controller set x scenario x seed (seeds vary fastest), tagged controller = the set's name.

    Each case's identity includes the content hash of the set's file and of every file its blocks read
    (orchestrator.compare.identity), so resuming after a changed policy or prediction model runs the case again.
    """
    cases = []
    for cset in sets:
        for scenario in scenarios:
            spec = apply_controller_set(scenario, cset)
            identity = {"controller_set": controller_digest(cset, spec)}
            for seed in seeds:
                cases.append(
                    Case(spec, seed=int(seed), stop_time=stop_time, tags={"controller": cset.name}, identity=identity)
                )
    return cases


def default_out(controllers: Sequence[str], scenarios: Sequence[str]) -> Path:
    """results/compare/SETS__SCENARIOS (names joined by '+', cut to a folder name's length)."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{'+'.join(controllers)}__{'+'.join(scenarios)}")[:120]
    return RESULTS_ROOT / "compare" / name


def run_comparison(
    controllers: Sequence[str | Path],
    scenarios: Sequence[str],
    seeds: int | Sequence[int] = 20,
    *,
    out: str | os.PathLike | None = None,
    stop_time: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = False,
    allow_modules: Sequence[str] = (),
) -> Comparison:
    """Run every controller set on every scenario and seed (``seeds``: a count, 0..N-1, or a list) and compare."""
    sets = [load_controller_set(c) for c in controllers]
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise SystemDefinitionError(f"controller sets named twice: {', '.join(names)}")
    if not scenarios:
        raise SystemDefinitionError("give at least one scenario to compare on")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise SystemDefinitionError("give at least one seed")
    root = Path(out) if out is not None else default_out(names, scenarios)
    cases = comparison_cases(sets, scenarios, seed_list, stop_time)
    log.info(
        "comparing %s on %s, %d seeds: %d runs", ", ".join(names), ", ".join(scenarios), len(seed_list), len(cases)
    )
    rows = run_cases(
        cases,
        out=root / "sweep",
        row=compare_row,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        allow_modules=allow_modules,
        plots=False,
    )
    runs = rows.copy()
    runs["scenario"] = [_scenario_name(c) for c in cases]
    run_traces = [_read_traces(root / "sweep" / "cases" / str(cid)) for cid in runs["case_id"]]
    return write_comparison(runs, {s.name: s.timed for s in sets}, run_traces, root)


def _scenario_name(case: Case) -> str:
    return str(getattr(case.scenario, "name", case.scenario))


def _read_traces(folder: Path) -> pd.DataFrame | None:
    path = folder / TRACES_NAME
    return pd.read_csv(path) if path.is_file() else None


def compare_runs(
    run_dirs: Sequence[str | os.PathLike], *, out: str | os.PathLike | None = None, labels: Sequence[str] = ()
) -> Comparison:
    """Compare finished run folders (``o2twin run`` results) without simulating.

    Each folder is one run; its controller is ``labels[i]`` (default: the folder's name), its scenario and seed
    those of its metrics.json; the timed block is the one that drives the watchdog's flow request in its
    scenario.toml. Folders with the same label and scenario are seeds of one entry.
    """
    if labels and len(labels) != len(run_dirs):
        raise SystemDefinitionError(f"give one label per run folder ({len(run_dirs)}), got {len(labels)}")
    rows, run_traces, timed = [], [], defaultdict(set)
    for i, folder in enumerate(Path(d) for d in run_dirs):
        metrics = _read_metrics(folder)
        label = labels[i] if labels else folder.name
        scenario = metrics.get("scenario", {})
        events = read_events(folder) if (folder / "events.jsonl").is_file() else []
        row = {
            "controller": label,
            "scenario": scenario.get("name", "?"),
            "seed": scenario.get("seed"),
            "status": metrics.get("status", "ok"),
            "run_dir": str(folder),
            **run_row(metrics, events),
        }
        rows.append(row)
        signals = folder / "signals.csv"
        run_traces.append(traces(RunResult("ok", 0, folder, {}).signals) if signals.is_file() else None)
        timed[label].update(_flow_supervisors(folder))
    root = Path(out) if out is not None else RESULTS_ROOT / "compare" / "runs"
    return write_comparison(pd.DataFrame(rows), {k: sorted(v) for k, v in timed.items()}, run_traces, root)


def _read_metrics(folder: Path) -> dict[str, Any]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise SystemDefinitionError(f"{folder}: no metrics.json; give the folder of a finished `o2twin run`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SystemDefinitionError(f"{path}: cannot be read ({err})") from None
    if not isinstance(data, dict):
        raise SystemDefinitionError(f"{path}: not a metrics file (a JSON object)")
    return data


def _flow_supervisors(folder: Path) -> list[str]:
    """The slaves that drive the watchdog's flow request in a run's scenario.toml (empty when unknown)."""
    path = folder / "scenario.toml"
    if not path.is_file():
        return []
    try:
        spec = load_scenario(path)
    except SystemDefinitionError:
        return []
    watchdog = spec.watchdog or "watchdog"
    return [c.source.split(".", 1)[0] for c in spec.connections if c.target == f"{watchdog}.Q_set_req"]


def write_comparison(
    runs: pd.DataFrame,
    timed: Mapping[str, Sequence[str]],
    run_traces: Sequence[pd.DataFrame | None],
    root: Path,
) -> Comparison:
    """Write runs.csv, summary.csv, summary.md, the overlay plots and report.md into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    runs = table.compute_columns(runs, {k: list(v) for k, v in timed.items()})
    ranked = table.rank(table.summarise(runs))
    files = {"runs.csv": root / "runs.csv", "summary.csv": root / "summary.csv", "summary.md": root / "summary.md"}
    front = [c for c in ("controller", "scenario", "seed", "status", "error") if c in runs]
    metric_columns = [m[0] for m in METRICS if m[0] in runs]
    rest = [c for c in runs.columns if c not in front and c not in metric_columns]
    runs[front + metric_columns + rest].to_csv(files["runs.csv"], index=False)
    ranked.to_csv(files["summary.csv"], index=False)
    text = table.markdown(ranked)
    files["summary.md"].write_text(text, encoding="utf-8")
    grouped: dict[str, dict[str, list[pd.DataFrame]]] = defaultdict(lambda: defaultdict(list))
    for (_, row), trace in zip(runs.iterrows(), run_traces, strict=True):
        if trace is not None and row.get("status", "ok") in ("ok", "terminated"):
            grouped[str(row["scenario"])][str(row["controller"])].append(trace)
    for scenario, by_controller in grouped.items():
        name = re.sub(r"[^A-Za-z0-9_.+-]", "_", scenario)
        files[f"plots/overlay_{name}.png"] = plots.overlay(
            scenario, by_controller, root / "plots" / f"overlay_{name}.png"
        )
    files["report.md"] = root / "report.md"
    files["report.md"].write_text(_report(runs, text, files), encoding="utf-8")
    return Comparison(runs=runs, summary=ranked, out_dir=root, files=files)


def _report(runs: pd.DataFrame, table_text: str, files: Mapping[str, Path]) -> str:
    controllers = ", ".join(dict.fromkeys(str(c) for c in runs["controller"]))
    scenarios = ", ".join(dict.fromkeys(str(s) for s in runs["scenario"]))
    seeds = sorted({int(s) for s in runs["seed"].dropna()}) if "seed" in runs else []
    failed = runs[~runs["status"].isin(("ok", "terminated"))] if "status" in runs else runs.iloc[0:0]
    lines = [
        "# Controller comparison",
        "",
        f"Controller sets: {controllers}. Scenarios: {scenarios}. Seeds: {len(seeds)} ({', '.join(map(str, seeds))}).",
        f"Runs: {len(runs)}, failed: {len(failed)}.",
        "",
        "Mean ± standard deviation over the seeds; rank 1 is best (mean rank over the ranked metrics; compute",
        "times are not ranked). Metric definitions: docs/compare.md.",
        "",
        table_text,
    ]
    if len(failed):
        lines += ["## Failed runs", ""]
        for _, row in failed.iterrows():
            lines.append(f"- {row['controller']} / {row['scenario']} / seed {row.get('seed')}: {row.get('error')}")
        lines.append("")
    overlays = [k for k in files if k.startswith("plots/")]
    if overlays:
        lines += ["## Overlays", ""] + [f"![{k}]({k})" for k in overlays] + [""]
    lines += ["Per-run values: runs.csv; the table as CSV: summary.csv.", ""]
    return "\n".join(lines)
