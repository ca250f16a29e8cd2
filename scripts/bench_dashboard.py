#!/usr/bin/env python3
"""Benchmark the dashboard: how much a watched run slows down, and how often the page refreshes.

Pairs of the same run, interleaved so that a change in the machine's load hits both sides alike:
- without the dashboard: `o2twin run default --stop-time T` (the CLI, as a user runs it);
- with the dashboard: `o2twin dashboard` serving a headless chromium (orchestrator.dashboard.browser) that starts
  the same run on the live page and watches it to its end (live plots of the scenario's first six plots, alarms).
The figure compared is the run's own wall time (metrics.json "wall_time_s": from the built simulation to its last
result written, plots excluded), so worker start-up and the page's loading are not counted on either side. The
target (issue 18): the run with the dashboard attached takes at most 1.2x as long. The page's refresh rate is the
number of distinct simulated times the browser read per second of the run (target >= 2 per second).

    .venv/bin/python scripts/bench_dashboard.py                 # print the figures
    .venv/bin/python scripts/bench_dashboard.py --write-docs    # also put them into docs/dashboard.md
    .venv/bin/python scripts/bench_dashboard.py --single-port   # the dashboard started with --single-port
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.dashboard.browser import DashboardPage, headless_page, unavailable
from orchestrator.dashboard.server import DashboardServer

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "dashboard.md"
START, END = "<!-- bench_dashboard:start -->", "<!-- bench_dashboard:end -->"
SCENARIO = "default"


def plain_run(cwd: Path, stop_time_s: float, out: Path) -> tuple[float, float]:
    """The run without the dashboard; returns its wall time (s, metrics.json) and the CPU time (s) of its whole
    process (start-up, plots and all, as the worker's is counted)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "run", SCENARIO, "-q", "--stop-time", f"{stop_time_s:g}",
         "--out", str(out)],
        cwd=cwd, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return float(json.loads((out / "metrics.json").read_text())["wall_time_s"]), cpu


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Which processes are which (by command line): the run worker, the dashboard server, the browser.
ROLES = {"worker": "orchestrator.dashboard.worker", "server": "streamlit", "browser": "chromium"}


def cpu_seconds_by_role() -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU time in s so far) of this benchmark's worker, server and browser processes (Linux /proc;
    descendants of this process only, so another dashboard or browser on the machine is not counted)."""
    parents: dict[int, int] = {}
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        role = next((r for r, marker in ROLES.items() if marker in cmdline), None)
        if role is not None:
            found[int(entry.name)] = (role, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return {pid: found[pid] for pid in found if _descends_from(pid, os.getpid(), parents)}


def _descends_from(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    while pid > 1:
        pid = parents.get(pid, 0)
        if pid == ancestor:
            return True
    return False


def follow_worker_to_its_end(latest: dict[int, tuple[str, float]], timeout_s: float = 120.0) -> None:
    """Read the worker's CPU time every 0.1 s until it has exited (it writes its plots after metrics.json), so its
    whole process is counted, as the plain run's is."""
    deadline = time.monotonic() + timeout_s
    for pid in [p for p, (role, _) in latest.items() if role == "worker"]:
        while time.monotonic() < deadline:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                break  # it has exited
            if fields[0] == "Z":
                break
            latest[pid] = ("worker", (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
            time.sleep(0.1)


def finished_run(cwd: Path, before: set[Path]) -> Path | None:
    new = [f for f in set((cwd / "results" / SCENARIO).glob("2*")) - before if (f / "metrics.json").exists()]
    return new[0] if new else None


def watched_run(ui: DashboardPage, cwd: Path, stop_time_s: float) -> tuple[float, float, int, dict[str, float]]:
    """The run started and watched on the live page; returns its wall time (s), the page's refreshes per second while
    it ran (distinct simulated times the page showed, timed by a script inside the page), how many it showed, and the
    CPU time (s) each role used from the Start click to the run's end (the worker: its whole process)."""
    before = set((cwd / "results" / SCENARIO).glob("2*"))
    ui.open("live")
    ui.watch_status()
    ui.start_run("live", SCENARIO, stop_time_s)
    start = cpu_seconds_by_role()  # from the Start click: the run set-up's page runs are not the live page's cost
    latest = dict(start)
    deadline = time.monotonic() + 3600
    while (folder := finished_run(cwd, before)) is None:
        text = ui.status_text()
        if time.monotonic() > deadline or "status error" in text or "status failed" in text:
            raise RuntimeError(f"the watched run did not finish: {text}")
        latest.update(cpu_seconds_by_role())
        time.sleep(1.0)  # this side only waits: reading the page costs the browser CPU time
    latest.update(cpu_seconds_by_role())
    follow_worker_to_its_end(latest)
    cpu: dict[str, float] = dict.fromkeys(ROLES, 0.0)
    for pid, (role, seconds) in latest.items():
        cpu[role] += seconds - (0.0 if role == "worker" else start.get(pid, (role, 0.0))[1])  # the whole worker
    ui.wait_for_status("ok", 120)
    shown = [
        (t, m.group(1))
        for t, text in ui.status_changes()
        if (m := re.search(r"running · simulated time ([0-9.]+) s", text))
    ]
    times = [t for i, (t, sim) in enumerate(shown) if i == 0 or sim != shown[i - 1][1]]
    wall = float(json.loads((folder / "metrics.json").read_text())["wall_time_s"])
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 else float("nan")
    return wall, rate, len(times), cpu


def measure(pairs: int, stop_time_s: float, single_port: bool = False) -> dict:
    cwd = Path(tempfile.mkdtemp(prefix="o2twin-bench-dashboard-"))
    plain: list[float] = []
    watched: list[float] = []
    rates: list[float] = []
    loads: list[float] = []
    cpus: list[dict[str, float]] = []
    plain_cpu: list[float] = []
    refreshes: list[int] = []
    with DashboardServer(cwd=cwd, single_port=single_port) as server, headless_page() as page:
        ui = DashboardPage(page, server.url)
        plain_run(cwd, 5.0, cwd / "warm-up")  # FMUs exported and cached, files in the page cache
        for i in range(pairs):
            page.goto("about:blank")  # nothing drawn while the plain run runs
            wall, cpu_s = plain_run(cwd, stop_time_s, cwd / f"plain-{i}")
            plain.append(wall)
            plain_cpu.append(cpu_s)
            wall, rate, shown, cpu = watched_run(ui, cwd, stop_time_s)
            watched.append(wall)
            rates.append(rate)
            refreshes.append(shown)
            cpus.append(cpu)
            loads.append(os.getloadavg()[0])
            print(f"pair {i + 1}: without {plain[-1]:.2f} s, with {wall:.2f} s (x{wall / plain[-1]:.3f}), "
                  f"{rate:.2f} refreshes/s, load {loads[-1]:.1f}", flush=True)  # fmt: skip
    ratios = [w / p for w, p in zip(watched, plain, strict=True)]
    return {
        "stop_time_s": stop_time_s,
        "mode": "Streamlit reruns (`--single-port`)" if single_port else "fetches from the live data server",
        "plain_s": plain,
        "watched_s": watched,
        "ratios": ratios,
        "ratio_median": statistics.median(ratios),
        "refresh_hz": rates,
        "refresh_hz_min": min(rates),
        "load": loads,
        "cpu": cpus,
        "plain_cpu_s": plain_cpu,
        "refreshes": refreshes,
        "machine": f"{os.cpu_count()}-core {platform.machine()}, CPython {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }


def table(r: dict) -> str:
    lines = [
        f"Measured {r['date']} on this project's {r['machine']} machine; default scenario, {r['stop_time_s']:g} s "
        f"simulated, {len(r['ratios'])} interleaved pairs, live view: {r['mode']} (load average during the pairs: "
        f"{', '.join(f'{x:.1f}' for x in r['load'])}).",
        "",
        "| pair | without dashboard (s) | with dashboard (s) | ratio | page refreshes per second | CPU s: plain run / "
        "worker / server / browser | CPU ms per page refresh: server / browser |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = zip(r["plain_s"], r["watched_s"], r["ratios"], r["refresh_hz"], r["plain_cpu_s"], r["cpu"], r["refreshes"],
               strict=True)  # fmt: skip
    for i, (p, w, q, hz, plain_cpu, cpu, n) in enumerate(rows):
        shares = " / ".join(f"{cpu[role]:.1f}" for role in ROLES)
        per_refresh = " / ".join(f"{1000 * cpu[role] / max(n, 1):.0f}" for role in ("server", "browser"))
        lines.append(
            f"| {i + 1} | {p:.2f} | {w:.2f} | {q:.3f} | {hz:.2f} | {plain_cpu:.1f} / {shares} | {per_refresh} |"
        )
    lines.append("")
    lines.append(
        f"Median slow-down **{r['ratio_median']:.3f}x** (target <= 1.2x); slowest page refresh rate "
        f"**{r['refresh_hz_min']:.2f} per second** (target >= 2)."
    )
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC}: no {START} ... {END} section to replace")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs of runs (default: %(default)s)")
    parser.add_argument("--stop-time", type=float, default=600.0, help="simulated seconds (default: %(default)s)")
    parser.add_argument(
        "--single-port",
        action="store_true",
        help="the dashboard started with --single-port (the live view rerun by Streamlit 2.5 times a second)",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"replace the figures in {DOC.relative_to(ROOT)}")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"cannot benchmark the dashboard: {reason}")
    result = measure(args.pairs, args.stop_time, args.single_port)
    text = table(result)
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
