"""Run a scenario many times: a grid of parameter values, random or Latin-hypercube samples, seeds as an axis.

SCENARIO is a scenario (a name in scenarios/ or a .toml/.ssp file) or a sweep file (a .toml with a [sweep] table:
see docs/sweeps.md). Parameters are addressed as with `o2twin run --set`: SLAVE.PARAMETER. The cases are the
product of the grid axes, the samples and the seeds.

Results go to results/sweeps/NAME/ (or --out): table.parquet and table.csv (one row per case: parameters, status,
error, metrics), cases/ID/ (metrics.json, events.jsonl; everything with --keep-signals) and plots/. Run the same
command again to resume: finished cases are skipped. Cases run on a local process pool (every core), or on a Dask
cluster with --scheduler tcp://HOST:8786 (or O2TWIN_DASK_SCHEDULER).

Examples:
  o2twin sweep default --grid psa.blockage=0:0.5:6 --seeds 5 --stop-time 120
  o2twin sweep default --sample patient.copd=0:1 --sample psa.blockage=0:0.3 --samples 200 --seed 1
  o2twin sweep studies/blockage.toml --scheduler tcp://cluster:8786
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from orchestrator.errors import O2TwinError, SimulationError
from orchestrator.results.run import RESULTS_ROOT
from orchestrator.scenario.overrides import parse_assignments
from orchestrator.sweep.batches import MAX_BATCH, TARGET_BATCH_S
from orchestrator.sweep.dask_cluster import SCHEDULER_ENV
from orchestrator.sweep.design import (
    SAMPLING_METHODS,
    Sampling,
    SweepDefinitionError,
    SweepDesign,
    assignments_to_grid,
    parse_seeds,
    ranges_from,
)
from orchestrator.sweep.engine import run_cases
from orchestrator.sweep.studyfile import is_sweep_file, load_sweep_file

NAME = "sweep"
HELP = "run a scenario over a grid, samples or seeds (local pool or Dask) and write one table of every case"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("scenario", nargs="?", default=None, help="scenario name or .toml/.ssp file, or a sweep file")
    design = parser.add_argument_group("what varies")
    design.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="SLAVE.PARAM=VALUES",
        help="a grid axis: START:STOP:NUM (NUM values, both ends included) or a list A,B,C (repeatable)",
    )
    design.add_argument(
        "--sample",
        action="append",
        default=[],
        metavar="SLAVE.PARAM=LOW:HIGH",
        help="a parameter to sample in a range (repeatable); with --samples N",
    )
    design.add_argument("--samples", type=int, default=None, metavar="N", help="number of sample points")
    design.add_argument("--method", choices=SAMPLING_METHODS, default="lhs", help="sampling: Latin hypercube or random")
    design.add_argument("--seed", type=int, default=0, help="seed of the sampler (not of the scenario)")
    design.add_argument(
        "--seeds", default=None, metavar="N|A,B,...", help="scenario seeds as an axis: a count (0..N-1) or a list"
    )
    design.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SLAVE.PARAM=VALUE",
        help="a fixed override for every case (repeatable)",
    )
    design.add_argument("--stop-time", type=float, default=None, help="override the scenario's stop time, s")
    where = parser.add_argument_group("where it runs and what is kept")
    where.add_argument("--out", type=Path, default=None, help="the study's folder (default results/sweeps/NAME)")
    where.add_argument("--workers", type=int, default=None, help="local worker processes (default: every core)")
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:8786",
        help=f"run on this Dask scheduler's cluster (default: ${SCHEDULER_ENV}, else the local pool)",
    )
    where.add_argument(
        "--cases-per-task",
        default="auto",
        metavar="N|auto",
        help=f"on Dask, the cases one task runs in turn (one scheduler round trip per task): N, or auto (the default: "
        f"about {TARGET_BATCH_S:g} s of cases from their measured wall time, at most {MAX_BATCH}; one per task until "
        "a case has finished)",
    )
    where.add_argument("--keep-signals", action="store_true", help="keep each case's whole results directory")
    where.add_argument("--retry-failed", action="store_true", help="when resuming, run the failed cases again")
    where.add_argument("--no-plots", action="store_true", help="do not write the summary plots")
    where.add_argument(
        "--allow-module",
        dest="allow_modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="trust a Python module's blocks and summary functions (as in `o2twin run`; needed on every worker)",
    )
    where.add_argument("--dry-run", action="store_true", help="list the cases and stop")


def design_from(args: argparse.Namespace) -> SweepDesign:
    """The study the options (or the sweep file) describe; options add to a sweep file's design."""
    if args.scenario is not None and is_sweep_file(args.scenario):
        design = load_sweep_file(args.scenario)
    else:
        name = Path(args.scenario).stem if args.scenario else "default"
        design = SweepDesign(scenario=args.scenario, name=name)
    design.grid.update(assignments_to_grid(args.grid))
    design.overrides.update(parse_assignments(args.overrides))
    if args.sample or args.samples is not None:
        if not args.sample or args.samples is None:
            raise SweepDefinitionError("--samples N and --sample SLAVE.PARAM=LOW:HIGH go together")
        ranges = ranges_from(args.sample)
        if design.sampling is not None:
            raise SweepDefinitionError("the sweep file has [samples] already; change it there")
        design.sampling = Sampling(args.samples, ranges, args.method, args.seed)
    if args.seeds is not None:
        design.seeds = parse_seeds(args.seeds)
    if args.stop_time is not None:
        design.stop_time = args.stop_time
    return design


def parse_cases_per_task(text: str) -> int | None:
    """--cases-per-task: a positive whole number, or "auto" (None: the engine sizes the batches)."""
    if text.strip().lower() == "auto":
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise O2TwinError(
            f"--cases-per-task {text!r}: give a whole number of cases of at least 1, or auto (the default: "
            "batches sized from the cases' wall time)"
        )
    return number


def run(args: argparse.Namespace) -> int:
    cases_per_task = parse_cases_per_task(args.cases_per_task)
    design = design_from(args)
    cases = design.cases()
    if args.dry_run:
        for i, case in enumerate(cases, 1):
            seed = "" if case.seed is None else f" seed={case.seed}"
            print(f"{i:5d} {' '.join(f'{k}={v!r}' for k, v in case.overrides.items())}{seed}")
        print(f"{len(cases)} cases")
        return 0
    out = args.out if args.out is not None else RESULTS_ROOT / "sweeps" / design.name
    table = run_cases(
        cases,
        out=out,
        workers=args.workers,
        scheduler=args.scheduler,
        cases_per_task=cases_per_task,
        keep_signals=args.keep_signals,
        allow_modules=args.allow_modules,
        retry_failed=args.retry_failed,
        progress=not bool(getattr(args, "quiet", False)),
        plots=not args.no_plots,
    )
    print_summary(table, out, plots=not args.no_plots)
    return SimulationError.exit_code if (table["status"] == "failed").any() else 0


def print_summary(table: Any, out: Path, stream: Any = None, plots: bool = True) -> None:
    """Cases, failures (the first few errors) and where the table is."""
    stream = stream or sys.stdout
    failed = table[table["status"] == "failed"]
    lines = [f"cases      {len(table)}", f"ok         {len(table) - len(failed)}", f"failed     {len(failed)}"]
    for _, row in failed.head(5).iterrows():
        lines.append(f"  {row['case_id']}: {row['error']}")
    if len(failed) > 5:
        lines.append(f"  ... {len(failed) - 5} more (see the table's error column)")
    lines.append(f"table      {out / 'table.parquet'} (and table.csv)")
    if plots:
        lines.append(f"plots      {out / 'plots'}")
    print("\n".join(lines), file=stream)
