"""Calibration budget: a fit of eight parameters from a synthetic-truth trace, timed (issue 15: < 30 min here).

The bench rating check (rated_flow) runs 120 s with the eight values of
orchestrator.calibration.synthetic.EIGHT_PARAMETERS (isotherm, LDF, valve, purge, tank and compressor constants);
`calibrate` fits them back from starts 30 % away (alternately below and above) on the open-loop plant, compared over
45 s of the trace, and the script prints each parameter's error against the truth, the number of runs, the wall
time against the 30 min budget and the machine's load average (the figure only means something with it).

  .venv/bin/python scripts/bench_calibration.py [--workers 2] [--out results/bench_calibration]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from orchestrator.calibration import calibrate
from orchestrator.calibration.synthetic import (
    EIGHT_PARAMETERS,
    parameter_tables,
    synthetic_trace,
    truth_overrides,
    write_calibration,
)

BUDGET_S = 30 * 60.0
HEAD = """name = "bench8"
window = [60.0, 120.0]
settle_s = 15.0
rounds = 12
max_evaluations = 4
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/bench_calibration"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    trace = synthetic_trace(args.out / "trace.csv", truth_overrides(EIGHT_PARAMETERS), stop_time=120.0)
    config = write_calibration(args.out / "cal", trace, HEAD, parameter_tables(EIGHT_PARAMETERS))
    t0 = time.perf_counter()
    result = calibrate(config, out=args.out / "fit", workers=args.workers,
                       progress=lambda s: print(f"{time.perf_counter() - t0:7.1f} s  {s}", flush=True))  # fmt: skip
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    print("\n| parameter | truth | start | fitted | error | 95 % interval |\n| --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for name, (_, truth, start, _) in EIGHT_PARAMETERS.items():
        fitted = result.fitted[name]
        i = result.names.index(name)
        err = fitted / truth - 1
        worst = max(worst, abs(err))
        ci = f"[{result.statistics.ci_low[i]:.4g}, {result.statistics.ci_high[i]:.4g}]"
        print(f"| {name} | {truth:.4g} | {start:.4g} | {fitted:.4g} | {err:+.2%} | {ci} |")
    print(
        f"\n{len(result.names)} parameters, {result.evaluations} runs, wall {wall:.0f} s = {wall / BUDGET_S:.0%} of the "
        f"30 min budget; worst error {worst:.2%}; cost {result.cost_start:.4g} -> {result.cost:.4g}; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min), {load_after[1]:.1f} (5 min), "
        f"{os.cpu_count()} cores"
    )
    for w in result.warnings:
        print(f"warning: {w}")
    return 0 if wall < BUDGET_S and worst < 0.02 else 1


if __name__ == "__main__":
    raise SystemExit(main())
