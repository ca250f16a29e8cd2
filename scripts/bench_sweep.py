"""Benchmark of the many-runs engine (orchestrator.sweep): runs per minute of the default scenario (60 s simulated)
on 1 and 2 local workers and on a 2-worker Dask LocalCluster, and what each backend costs per case.

Targets (issue 12): >= 1.8x from 1 to 2 local workers; Dask's overhead per case < 5 % of a 60 s-simulated case.
The overhead of a backend is the worker time not spent inside cases, per case:
(wall time x workers - sum of the cases' own wall times) / cases, as a fraction of the mean case time measured on
one worker. Each configuration runs the same cases (distinct seeds) in a fresh temporary study, so nothing is
resumed; rounds alternate the configurations, and the best round of each is reported with the machine's load.
Dask runs twice per round on the same cluster: batches as the engine sizes them, and one case per task (the peer
that shows what the batches save). The Dask LocalCluster is started for its own measurements only (and warmed with two short cases), as an idle one
takes CPU time from the local pool's measurements.

The wall-clock figures depend on what else the machine runs; the CPU times do much less, so they are reported too:
each case's CPU time in its worker (the table's cpu_time_s), the caller's CPU time per case (this process, all its
threads: the pool's management, recording the rows, the table; with Dask also the LocalCluster's scheduler, which
runs in this process), and from them the 1 -> 2 ratio the two CPU times allow on a machine with nothing else to do:
2 x case CPU on 1 worker / (case CPU on 2 workers + caller's CPU per case on 2 workers).

    python scripts/bench_sweep.py [--cases 40] [--rounds 2] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "sweeps.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
#: The peer of the Dask figure, in the same rounds: one case per task, as before batches (orchestrator.sweep.batches).
SINGLE = "Dask LocalCluster, 2 workers, one case per task"
BLOCK = re.compile(r"(<!-- bench_sweep -->\n).*?(<!-- /bench_sweep -->)", re.S)


def caller_cpu_s() -> float:
    """CPU time of this process so far (user + system, all threads), s."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, cases: list, **backend) -> dict:
    from orchestrator.sweep import run_cases

    load = os.getloadavg()[0]
    cpu0 = caller_cpu_s()
    t0 = time.perf_counter()
    table = run_cases(cases, **backend)
    wall = time.perf_counter() - t0
    caller_cpu = caller_cpu_s() - cpu0
    if not (table["status"] == "ok").all():
        raise SystemExit(f"{label}: a case failed: {table.loc[table['status'] != 'ok', 'error'].iloc[0]}")
    workers = backend.get("workers") or 2
    case_s = float(table["wall_time_s"].sum())
    return {
        "label": label,
        "wall_s": wall,
        "runs_per_min": len(cases) / wall * 60.0,
        "case_mean_s": case_s / len(cases),
        "case_cpu_mean_s": float(table["cpu_time_s"].sum()) / len(cases),
        "caller_cpu_per_case_s": caller_cpu / len(cases),
        "overhead_per_case_s": (wall * workers - case_s) / len(cases),
        "load_before": load,
    }


def best(results: list[dict], label: str) -> dict:
    return max((r for r in results if r["label"] == label), key=lambda r: r["runs_per_min"])


def cpu_ratio(one: dict, two: dict) -> float:
    """The 1 -> 2 workers ratio the CPU times allow on two otherwise idle cores (see the module docstring)."""
    return 2 * one["case_cpu_mean_s"] / (two["case_cpu_mean_s"] + two["caller_cpu_per_case_s"])


def report(figures: dict, n_cases: int, stop_time: float, loads: tuple[float, float]) -> str:
    one, two, dask = figures["1 local worker"], figures["2 local workers"], figures["Dask LocalCluster, 2 workers"]
    single = figures[SINGLE]
    unit = one["case_mean_s"]
    lines = [
        f"Measured {dt.date.today().isoformat()} on this project's {os.cpu_count()}-core {platform.machine()} machine "
        f"(CPython {platform.python_version()}), {n_cases} cases of the default scenario ({stop_time:g} s "
        f"simulated each), best of the rounds; load average {loads[0]:.1f} before and {loads[1]:.1f} after "
        "(the cores are shared with other work).",
        "",
        "| configuration | wall time | runs per minute | mean case time | mean case CPU | caller's CPU per case "
        "| overhead per case |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in (one, two, dask, single):
        share = f["overhead_per_case_s"] / unit
        lines.append(
            f"| {f['label']} | {f['wall_s']:.1f} s | {f['runs_per_min']:.1f} | {f['case_mean_s']:.2f} s | "
            f"{f['case_cpu_mean_s']:.2f} s | {f['caller_cpu_per_case_s'] * 1000:.1f} ms | "
            f"{f['overhead_per_case_s'] * 1000:.0f} ms ({100 * share:.1f} % of a case) |"
        )
    scaling = two["runs_per_min"] / one["runs_per_min"]
    dask_share = dask["overhead_per_case_s"] / unit
    caller_share = two["caller_cpu_per_case_s"] / two["case_cpu_mean_s"]
    waited = (two["case_mean_s"] / two["case_cpu_mean_s"] - 1, one["case_mean_s"] / one["case_cpu_mean_s"] - 1)
    lines += [
        "",
        f"- 1 -> 2 local workers: {scaling:.2f}x the runs per minute (target >= 1.8x: "
        f"{'met' if scaling >= 1.8 else 'NOT met'}).",
        f"- The caller's CPU per case on 2 local workers: {two['caller_cpu_per_case_s'] * 1000:.1f} ms, "
        f"{100 * caller_share:.1f} % of a case's CPU time; a case's CPU time is {two['case_cpu_mean_s']:.3f} s on "
        f"2 workers and {one['case_cpu_mean_s']:.3f} s on 1. The ratio these CPU times allow on two otherwise idle "
        f"cores: {cpu_ratio(one, two):.2f}x. A case took {100 * waited[0]:.0f} % longer than its CPU time on 2 "
        f"workers and {100 * waited[1]:.0f} % on 1 (waiting for a core).",
        f"- Dask's overhead per case: {dask['overhead_per_case_s'] * 1000:.0f} ms, {100 * dask_share:.1f} % of a "
        f"{stop_time:g} s-simulated case (target < 5 %: {'met' if dask_share < 0.05 else 'NOT met'}); the local "
        f"pool's: {100 * two['overhead_per_case_s'] / unit:.1f} %; with one case per task (the same cluster, "
        f"the same rounds): {100 * single['overhead_per_case_s'] / unit:.1f} %.",
    ]
    return "\n".join(lines)


def write_docs(text: str, summary: str) -> None:
    page = DOCS.read_text(encoding="utf-8")
    if not BLOCK.search(page):
        raise SystemExit(f"{DOCS}: no <!-- bench_sweep --> block to fill")
    DOCS.write_text(BLOCK.sub(lambda m: m.group(1) + text + "\n" + m.group(2), page), encoding="utf-8")
    rows = BENCHMARKS.read_text(encoding="utf-8").splitlines()
    row = (
        "| many runs: 1 -> 2 local workers; Dask overhead per case (default scenario, 60 s) | >= 1.8x; < 5 % | "
        f"{summary} | `bench_sweep.py` | [sweeps.md](sweeps.md#benchmark) |"
    )
    rows = [r for r in rows if not r.startswith("| many runs:")]
    last = max(i for i, r in enumerate(rows) if r.startswith("| "))
    rows.insert(last + 1, row)
    BENCHMARKS.write_text("\n".join(rows) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=40, help="cases per configuration")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the three configurations")
    parser.add_argument("--stop-time", type=float, default=60.0, help="simulated seconds per case")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/sweeps.md")
    args = parser.parse_args(argv)

    from orchestrator import run
    from orchestrator.sweep import Case, run_cases
    from orchestrator.sweep.dask_cluster import start_local_cluster

    run("default", stop_time=1.0, plots=False, out=ROOT / "build" / "bench_sweep_warmup", overwrite=True)  # FMUs
    cases = [Case("default", seed=i, stop_time=args.stop_time) for i in range(args.cases)]
    run_cases(cases[:2], workers=2, plots=False)  # starts the pool's forkserver, which later pools reuse
    loads_before = os.getloadavg()[0]
    results = []
    for round_ in range(args.rounds):
        results.append(measure("1 local worker", cases, workers=1, plots=False))
        results.append(measure("2 local workers", cases, workers=2, plots=False))
        # the cluster runs only while it is measured: idle, its scheduler and nannies (in this process) and its
        # workers take about 8 % of a core (heartbeats, monitors), which the local pool's figures would carry
        cluster = start_local_cluster(2, silence_logs=40)
        try:
            warm = [Case("default", seed=10_000 + i, stop_time=1.0) for i in range(2)]
            run_cases(warm, scheduler=cluster.scheduler_address, plots=False)  # the workers import and unpack once
            results.append(measure("Dask LocalCluster, 2 workers", cases, scheduler=cluster.scheduler_address,
                                   plots=False))  # fmt: skip
            results.append(measure(SINGLE, cases, scheduler=cluster.scheduler_address, cases_per_task=1,
                                   plots=False))  # fmt: skip
        finally:
            cluster.close()
        print(f"round {round_ + 1}: " + ", ".join(f"{r['label']} {r['runs_per_min']:.1f}/min" for r in
                                                  results[-4:]), file=sys.stderr)  # fmt: skip
    labels = ("1 local worker", "2 local workers", "Dask LocalCluster, 2 workers", SINGLE)
    figures = {label: best(results, label) for label in labels}
    text = report(figures, args.cases, args.stop_time, (loads_before, os.getloadavg()[0]))
    print(text)
    if args.write_docs:
        one, two, dask = (figures[label] for label in labels[:3])
        scaling = two["runs_per_min"] / one["runs_per_min"]
        dask_share = dask["overhead_per_case_s"] / one["case_mean_s"]
        summary = (
            f"{scaling:.2f}x ({one['runs_per_min']:.0f} -> {two['runs_per_min']:.0f} runs/min): "
            f"{'met' if scaling >= 1.8 else '**not met**'}; CPU times allow {cpu_ratio(one, two):.2f}x, the caller "
            f"{100 * two['caller_cpu_per_case_s'] / two['case_cpu_mean_s']:.1f} % of a case's CPU; Dask "
            f"{100 * dask_share:.1f} %: {'met' if dask_share < 0.05 else '**not met**'} "
            f"({dt.date.today().isoformat()}, load {loads_before:.1f})"
        )
        write_docs(text, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
