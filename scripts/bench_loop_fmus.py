#!/usr/bin/env python3
"""The exported FMUs inside the concentrator loop: solver work per simulated second, real-time factor and accuracy,
optionally against a baseline export of the same models (e.g. one built by an earlier exporter).

In the closed loop the FMUs' inputs change at every macro step (the compressor's flow and temperature, the sensor
noise, the patient's supply), unlike bench_psa.py's fixed operating point. For each variant ("this": the FMUs the
default scenario exports into fmus/; "baseline", when given: the .fmu files of the same names in --baseline-fmus):

1. counters: the FMUs' own statistics (logStatistics at fmi2Terminate: integrator steps, right-hand sides,
   Jacobians, LU factorisations, restarts) per simulated second over --count-seconds of the default scenario;
2. speed: CPU time of --hours of the default scenario (no recorders, as scripts/bench_master.py), the variants
   interleaved, best of --repeats, pinned to one core: the real-time factors and their ratio hold on a loaded
   machine;
3. accuracy: the default scenario's signals (purity, pressures, flow, SpO2) every 0.1 s over --check-seconds, at
   the FMUs' default tolerance, against a reference run (the baseline, else this export, with every FMU at
   --ref-tolerance); the largest deviation of each signal relative to its range in the reference (for both
   variants: the baseline's own error is the yard stick, since the closed loop's discrete decisions, such as the
   oximeter's 1 % display steps, amplify any difference).

    .venv/bin/python scripts/bench_loop_fmus.py [--baseline-fmus OLD_FMUS_DIR] [--hours 1] [--repeats 2]
                                                [--check-seconds 900] [--count-seconds 140] [--skip speed,...]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LOG = logging.getLogger("bench_loop_fmus")
SIGNALS = ("psa.y_O2_product", "psa.p_feed", "psa.p_bed_A", "psa.p_tank", "psa.Q_product", "patient.SpO2")
STATS = re.compile(
    r"(\d+) steps, (\d+) rejected \((\d+) Newton failures\), (\d+) f, (\d+) Jacobians, (\d+) LU .*?(\d+) restarts"
)
STAT_NAMES = ("steps", "rejected", "newton_failures", "f", "jacobians", "lu", "restarts")


def build(baseline: Path | None, seconds: float, tolerance: float | None = None):
    """The default scenario's Simulation, its FMU slaves from baseline/ when given, at tolerance when given."""
    from orchestrator.scenario.build import build_simulation, resolve_fmu
    from orchestrator.scenario.load import load_scenario

    spec = load_scenario("default")
    spec.stop_time = seconds
    for slave in spec.slaves.values():
        if slave.kind != "fmu":
            continue
        if baseline is not None:
            slave.fmu = str(baseline / resolve_fmu(slave, spec).name)
        if tolerance is not None:
            slave.tolerance = tolerance
    return build_simulation(spec)


def counters(baseline: Path | None, seconds: float) -> dict[str, dict[str, float]]:
    """Each FMU slave's solver statistics per simulated second (from its logStatistics line at terminate)."""
    found: dict[str, dict[str, float]] = {}

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            m = STATS.search(record.getMessage())
            if m:
                name = record.name.rsplit(".", 1)[-1]
                found[name] = {k: int(v) / seconds for k, v in zip(STAT_NAMES, m.groups(), strict=True)}

    fmu_log = logging.getLogger("o2twin.fmu")
    handler, level, propagate = Catch(), fmu_log.level, fmu_log.propagate
    fmu_log.addHandler(handler)
    fmu_log.setLevel(logging.DEBUG)
    fmu_log.propagate = False
    try:
        sim = build(baseline, seconds)
        sim.initialise()
        for slave in sim.system.slaves.values():
            if hasattr(slave, "set_debug_logging"):
                slave.set_debug_logging(["logStatistics"])
        sim.run()
        sim.finish()
    finally:
        fmu_log.removeHandler(handler)
        fmu_log.setLevel(level)
        fmu_log.propagate = propagate
    return found


def cpu_seconds(baseline: Path | None, seconds: float) -> float:
    sim = build(baseline, seconds)
    sim.initialise()
    t0 = time.process_time()
    sim.run()
    return time.process_time() - t0


def trace(baseline: Path | None, seconds: float, tolerance: float | None) -> np.ndarray:
    """SIGNALS every 0.1 s (rows) over seconds of the default scenario."""
    sim = build(baseline, seconds, tolerance)
    sim.initialise()
    rows = []
    for k in range(1, round(seconds / 0.1) + 1):
        sim.run(until=k * 0.1)
        rows.append([float(sim.get(s)) for s in SIGNALS])
    sim.finish()
    return np.array(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-fmus", type=Path, help="folder with the baseline .fmu files (optional)")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours of each timed run (default 1)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per variant, interleaved; best counts")
    parser.add_argument("--check-seconds", type=float, default=900.0, help="simulated s of the accuracy runs")
    parser.add_argument("--count-seconds", type=float, default=140.0, help="simulated s of the counter runs")
    parser.add_argument("--ref-tolerance", type=float, default=1e-8, help="FMU tolerance of the reference run")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: counters,speed,accuracy")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("orchestrator").setLevel(logging.ERROR)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core: CPU times free of migrations
    sys.path.insert(0, str(ROOT))
    skip = set(args.skip.split(","))
    variants: dict[str, Path | None] = {"this": None}
    if args.baseline_fmus:
        variants = {"baseline": args.baseline_fmus.resolve(), **variants}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    LOG.info("%s, load average %.1f at the start", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load)
    if "counters" not in skip:
        for name, where in variants.items():
            for slave, per_s in counters(where, args.count_seconds).items():
                LOG.info(
                    "%-8s %-10s per simulated s: %s",
                    name,
                    slave,
                    ", ".join(f"{k} {v:.1f}" for k, v in per_s.items()),
                )
    if "speed" not in skip:
        best = {name: float("inf") for name in variants}
        for _ in range(args.repeats):
            for name, where in variants.items():
                best[name] = min(best[name], cpu_seconds(where, args.hours * 3600.0))
        for name in variants:
            LOG.info(
                "%-8s default scenario, %g h: %.1f s CPU, %.0fx real time (CPU)",
                name,
                args.hours,
                best[name],
                args.hours * 3600.0 / best[name],
            )
        if "baseline" in best:
            LOG.info("CPU-time ratio baseline / this: %.2f", best["baseline"] / best["this"])
    if "accuracy" not in skip:
        reference = trace(variants.get("baseline"), args.check_seconds, args.ref_tolerance)
        span = np.ptp(reference, axis=0)
        for name, where in variants.items():
            deviation = np.max(np.abs(trace(where, args.check_seconds, None) - reference), axis=0) / span
            LOG.info(
                "%-8s largest error / range against the %s at tolerance %g, %g s: %s",
                name,
                "baseline" if "baseline" in variants else "same FMUs",
                args.ref_tolerance,
                args.check_seconds,
                ", ".join(f"{s} {e:.1e}" for s, e in zip(SIGNALS, deviation, strict=True)),
            )
    LOG.info("load average %.1f at the end", os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
