"""Compare controllers on the same scenarios and seeds, or compare finished runs.

Controller sets are TOML files in controller_sets/ (or paths): which blocks of a scenario they replace, with which
blocks and parameters (docs/compare.md). Every set runs every scenario with every seed on the many-runs engine
(a local process pool, or Dask with --scheduler); the comparison goes to results/compare/NAME/ (or --out):
summary.md and summary.csv (mean and spread over the seeds, ranking), runs.csv (one row per run),
plots/overlay_SCENARIO.png (SpO2, flow, purity, energy) and report.md. Running the same command again resumes.

Examples:
  o2twin compare --controllers pid-fuzzy,mpc,fixed-flow --scenarios default,exercise --seeds 20
  o2twin compare --controllers pid-fuzzy,my_sets/bangbang.toml --scenarios default --seeds 3 --stop-time 600
  o2twin compare results/default results/manual_baseline --labels fuzzy,manual
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.compare import compare_runs, known_controller_sets, run_comparison
from orchestrator.errors import SimulationError, SystemDefinitionError
from orchestrator.sweep.dask_cluster import SCHEDULER_ENV
from orchestrator.sweep.design import parse_seeds

NAME = "compare"
HELP = "compare controller sets on the same scenarios and seeds (or finished run folders): table, plots, report"


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_dirs", nargs="*", type=Path, help="finished run folders to compare (no simulation)")
    parser.add_argument(
        "--controllers",
        type=_names,
        default=None,
        metavar="A,B,...",
        help=f"controller sets: names in controller_sets/ ({', '.join(known_controller_sets())}) or .toml paths",
    )
    parser.add_argument("--scenarios", type=_names, default=["default"], metavar="A,B,...", help="default: default")
    parser.add_argument("--seeds", default="20", metavar="N|A,B,C", help="a count (0..N-1) or a list (default 20)")
    parser.add_argument("--stop-time", type=float, default=None, help="stop time of every run, s")
    parser.add_argument("--labels", type=_names, default=[], metavar="A,B,...", help="with run folders: their names")
    parser.add_argument("--out", type=Path, default=None, help="the comparison's folder (default results/compare/..)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: every core)")
    parser.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:8786", help=f"a Dask scheduler (default: ${SCHEDULER_ENV})"
    )
    parser.add_argument(
        "--allow-module",
        dest="allow_modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="trust a Python module's blocks (as for o2twin run)",
    )


def run(args: argparse.Namespace) -> int:
    if args.run_dirs:
        if args.controllers:
            raise SystemDefinitionError("give either run folders or --controllers, not both")
        comparison = compare_runs(args.run_dirs, out=args.out, labels=args.labels)
    else:
        if not args.controllers:
            raise SystemDefinitionError("give --controllers A,B (controller sets) or run folders to compare")
        comparison = run_comparison(
            args.controllers,
            args.scenarios,
            parse_seeds(args.seeds),
            out=args.out,
            stop_time=args.stop_time,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not bool(getattr(args, "quiet", False)),
            allow_modules=args.allow_modules,
        )
    sys.stdout.write((comparison.out_dir / "summary.md").read_text(encoding="utf-8"))
    print(f"report: {comparison.out_dir / 'report.md'}")
    failed = ~comparison.runs["status"].isin(("ok", "terminated"))
    return SimulationError.exit_code if failed.any() else 0
