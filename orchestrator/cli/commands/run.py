"""Run a scenario and write a results directory: signals (CSV, .mat), events, metrics.json and plots.

SCENARIO is a path to a .toml (or .ssp) file or the name of a file in scenarios/ (without .toml); without it the
default scenario runs. Results go to results/<scenario>/<UTC time>/ (results/<scenario>/latest points to the
newest) unless --out names a directory. --controllers SET runs the scenario under a controller set (a name in
controller_sets/ or a .toml path), applied as `o2twin compare` applies it. A failure mid-run exits non-zero with the time and slave; everything
recorded up to it stays on disk.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from orchestrator.results.run import run as run_scenario
from orchestrator.scenario.controller_set import apply_controller_set, known_controller_sets, load_controller_set
from orchestrator.scenario.load import DEFAULT_SCENARIO
from orchestrator.scenario.overrides import parse_assignments
from orchestrator.scenario.spec import ScenarioSpec

NAME = "run"
HELP = "run a scenario (default: scenarios/default.toml) and write its results directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", default=None, help="scenario name in scenarios/ or path to a .toml/.ssp")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default results/NAME/TIMESTAMP)")
    parser.add_argument("--overwrite", action="store_true", help="allow --out to name a directory that has results")
    parser.add_argument("--stop-time", type=float, default=None, help="override the scenario's stop time, s")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SLAVE.PARAM=VALUE",
        help="override a slave parameter (repeatable), e.g. --set psa.blockage=0.3",
    )
    parser.add_argument(
        "--allow-module",
        dest="allow_modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="trust a Python module: the scenario may use its blocks and summary functions as MODULE:Name "
        "(repeatable; found on the Python path or as MODULE.py beside the scenario). Without it only blocks "
        "registered as entry points (group o2twin.blocks) are used",
    )
    parser.add_argument(
        "--controllers",
        default=None,
        metavar="SET",
        help="run under a controller set: a name in controller_sets/ or a .toml path (as `o2twin compare` applies it; "
        f"shipped: {', '.join(known_controller_sets())})",
    )
    parser.add_argument("--plant", default=None, metavar="URL", help="hardware in the loop: device URL for [plant]")
    parser.add_argument("--no-plots", action="store_true", help="do not write PNG plots")


def print_summary(out_dir: Path, metrics: dict[str, Any], stream: TextIO | None = None) -> None:
    """The short report `o2twin run` prints at the end."""
    stream = stream or sys.stdout
    rtf = metrics.get("real_time_factor")
    lines = [
        f"scenario   {metrics['scenario']['name']}",
        f"status     {metrics['status']}" + (f" ({metrics['error']})" if metrics.get("error") else ""),
        f"sim time   {metrics['simulated_time_s']:.6g} s of {metrics['stop_time_s'] - metrics['start_time_s']:.6g} s",
        f"wall time  {metrics['wall_time_s']:.3f} s",
        f"RTF        {rtf:.1f}x real time" if rtf else "RTF        -",
    ]
    for key, value in (metrics.get("summary") or {}).items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<10} {shown}")
    lines.append(f"results    {out_dir}")
    print("\n".join(lines), file=stream)


def scenario_under(scenario: str | None, controllers: str | None) -> ScenarioSpec | str | None:
    """The scenario argument, or the scenario (default: the default scenario) under the controller set."""
    if controllers is None:
        return scenario
    return apply_controller_set(scenario or DEFAULT_SCENARIO, load_controller_set(controllers))


def run(args: argparse.Namespace) -> int:
    result = run_scenario(
        scenario_under(args.scenario, args.controllers),
        out=args.out,
        overwrite=args.overwrite,
        stop_time=args.stop_time,
        overrides=parse_assignments(args.overrides),
        plant=args.plant,
        plots=not args.no_plots,
        progress=not bool(getattr(args, "quiet", False)),
        allow_modules=args.allow_modules,
    )
    print_summary(result.out_dir, result.metrics)
    return result.exit_code
