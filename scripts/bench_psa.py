#!/usr/bin/env python3
"""Speed benchmark of the PSAUnit FMU: one hour of simulated operation at cyclic steady state (fmpy, CS).

Exports (or reuses) fmus/O2Twin_CoSim_PSAUnit.fmu, runs it from a cold start to cyclic steady state at the rated
point (not timed), then times one hour of cycles with the validation cycle timing, the valve commands changed at
the step boundaries and a 0.25 s communication step, on one core. The integrator statistics come from the
runtime's logStatistics message at fmi2Terminate; they cover the whole run (warm-up to CSS included), so the
steps per cycle are reported as well. Writes docs/figures/psa_benchmark.json and prints a summary.

    .venv/bin/python scripts/bench_psa.py [--hours 1] [--comm-step 0.25]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.validation.fmu_sim import FMUSimulator  # noqa: E402
from orchestrator.validation.psa_validation import (  # noqa: E402
    RATED_FEED_KG_S,
    RATED_FLOW_SLPM,
    CycleTiming,
    OperatingPoint,
    PSARun,
    psa_fmu,
)

LOG = logging.getLogger("bench_psa")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours to time (default 1)")
    parser.add_argument("--comm-step", type=float, default=0.25, help="communication step in s (default 0.25)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "psa_benchmark.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    model = psa_fmu()
    timing = CycleTiming()
    op = OperatingPoint(RATED_FEED_KG_S, RATED_FLOW_SLPM)
    run = PSARun(model, timing)
    messages: list[str] = []
    run.sim = FMUSimulator(model, messages=messages)  # same FMU, with the runtime's messages collected
    css = run.run_to_css(op, tolerance=5e-5, max_cycles=500)
    LOG.info("%s", css.report())

    cycles = round(args.hours * 3600.0 / timing.period_s)
    n_comm = 0
    start = time.perf_counter()
    for _ in range(cycles):
        for duration, commands in timing.steps():
            u = run.inputs(op, commands)
            n = max(1, round(duration / args.comm_step))
            for _ in range(n):
                run.sim.step(duration / n, u)
                n_comm += 1
    wall = time.perf_counter() - start
    simulated = cycles * timing.period_s
    y = run.sim.outputs(None)
    purity = run.output(y, "y_O2_product")

    # statistics of the runtime (integrator steps etc.): logged at fmi2Terminate with category logStatistics
    run.sim.debug_logging(["logStatistics"])
    run.sim.close()
    stats = " | ".join(m for m in messages if m.startswith("logStatistics")) or "(no statistics message)"
    steps_match = re.search(r"(\d+)\s+steps", stats)
    nx = sum(1 for v in model.value_refs if v.startswith("der("))
    result = {
        "model": "O2Twin.CoSim.PSAUnit (FMU, built-in exporter, fmpy Co-Simulation)",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip() + f", {os.cpu_count()} cores (1 used)",
        "n_cells_per_bed": 10,
        "states_total": nx,
        "states_per_bed": 7 * 10,
        "cycle_s": timing.period_s,
        "cycles": cycles,
        "simulated_s": simulated,
        "wall_s": round(wall, 3),
        "real_time_factor": round(simulated / wall, 1),
        "wall_per_cycle_ms": round(1000 * wall / cycles, 2),
        "communication_steps": n_comm,
        "integrator_statistics": stats,
        "integrator_steps": int(steps_match.group(1)) if steps_match else None,
        "statistics_cover_s": round(run.sim.t, 1),
        "integrator_steps_per_cycle": (
            round(int(steps_match.group(1)) / (run.sim.t / timing.period_s), 1) if steps_match else None
        ),
        "purity_at_end": round(purity, 4),
        "css": css.report(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
