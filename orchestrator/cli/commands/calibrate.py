"""Fit the twin's parameters to a measured trace, as a calibration file describes (format: docs/calibration.md).

CONFIG is a calibration TOML: the scenario, the trace (a CSV beside it), the measured inputs replayed into the twin,
the measured signals compared with twin signals, cycle features with weights, and the fitted parameters with their
start values and bounds. Results go to results/calibration/NAME/ (or --out): fit.json (fitted values, 95 %
intervals, correlations, identifiability warnings, residual statistics), fitted_scenario.toml and
plots/overlay_SIGNAL.png. Exit codes: 0 fitted, 1 fitted with identifiability warnings, 2 a bad file or trace,
3 the twin failed.

Example:
  o2twin calibrate docs/examples/calibration/calibration.toml --workers 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from orchestrator.calibration import CalibrationResult, calibrate, load_calibration
from orchestrator.results.run import RESULTS_ROOT

NAME = "calibrate"
HELP = "fit parameters to a measured trace (least squares from a cyclic steady state snapshot) and report them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("config", type=Path, help="calibration file (.toml)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default results/calibration/NAME)")
    parser.add_argument("--workers", type=int, default=None, help="parallel evaluations (default: every core)")


def print_result(res: CalibrationResult, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    lines = [f"{'parameter':<28} {'start':>11} {'fitted':>11} {'95 % interval':>27}"]
    st = res.statistics
    for i, name in enumerate(res.names):
        lines.append(
            f"{name:<28} {res.start[i]:>11.5g} {res.values[i]:>11.5g}   [{st.ci_low[i]:.5g}, {st.ci_high[i]:.5g}]"
        )
    lines.append(f"cost {res.cost_start:.6g} -> {res.cost:.6g}; {res.evaluations} runs in {res.wall_time_s:.0f} s")
    lines.extend(f"warning: {w}" for w in res.warnings)
    lines.extend(f"note (at the start values): {w}" for w in res.start_warnings)
    if res.out_dir is not None:
        lines.append(f"results in {res.out_dir}")
    print("\n".join(lines), file=stream)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        print("o2twin calibrate: --workers must be >= 1", file=sys.stderr)
        return 2
    config = load_calibration(args.config)
    out = args.out if args.out is not None else RESULTS_ROOT / "calibration" / config.name
    result = calibrate(config, out=out, workers=args.workers, progress=lambda text: print(text, flush=True))
    print_result(result)
    return 1 if result.warnings else 0
