"""Export a scenario's system to SSP 1.0 (.ssp) for other tools, or import an .ssp as a TOML scenario.

`o2twin ssp export SCENARIO OUT.ssp`: FMU components, connectors with units, connections (gain/offset), parameter
values (.ssv), the FMUs; o2twin-only settings (master, events, Python blocks) in an annotation. With --closed-loop
the Python blocks are FMU components too (pythonfmu), so other tools run the closed loop.
`o2twin ssp import IN.ssp OUT.toml`: the FMUs are extracted to OUT_fmus/ beside OUT.toml.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from orchestrator.errors import SystemDefinitionError

NAME = "ssp"
HELP = "export a scenario to SSP 1.0 (.ssp) or import an .ssp as a scenario (.toml)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ssp_action", metavar="ACTION", required=True)
    exp = sub.add_parser("export", help="scenario -> .ssp")
    exp.add_argument("scenario", help="scenario name in scenarios/ or path to a .toml")
    exp.add_argument("out", type=Path, help="the .ssp file to write")
    exp.add_argument("--closed-loop", action="store_true",
                     help="also export the Python blocks (controllers, watchdog) as FMUs, so other tools run the "
                          "closed loop (needs pythonfmu: pip install 'o2twin[interop]')")  # fmt: skip
    imp = sub.add_parser("import", help=".ssp -> scenario .toml")
    imp.add_argument("ssp", type=Path, help="the .ssp file to read")
    imp.add_argument("out", type=Path, help="the .toml scenario to write (FMUs go to OUT_fmus/ beside it)")
    for p in (exp, imp):
        p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def run(args: argparse.Namespace) -> int:
    from orchestrator.scenario.exchange import export_ssp, import_ssp
    from orchestrator.scenario.load import load_scenario
    from orchestrator.scenario.toml import dumps_scenario

    if args.out.exists() and not args.force:
        raise SystemDefinitionError(f"{args.out} exists; choose another name or add --force")
    if args.ssp_action == "export":
        if args.out.suffix.lower() != ".ssp":
            raise SystemDefinitionError(f"{args.out}: the output of `ssp export` must end in .ssp")
        spec = load_scenario(args.scenario)
        path = export_ssp(spec, args.out, closed_loop=args.closed_loop)
        print(f"wrote {path}")
        return 0
    if args.out.suffix.lower() != ".toml":
        raise SystemDefinitionError(f"{args.out}: the output of `ssp import` must end in .toml")
    fmu_dir = args.out.with_name(args.out.stem + "_fmus")
    spec = import_ssp(args.ssp, fmu_dir=fmu_dir)
    # extracted FMUs are referenced relative to the written scenario, so the pair can be moved together
    for slave in spec.slaves.values():
        if slave.fmu is not None and slave.fmu_is_path:
            p = Path(slave.fmu)
            if p.is_absolute() and p.parent == fmu_dir.resolve():
                slave.fmu = f"{fmu_dir.name}/{p.name}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps_scenario(spec), encoding="utf-8")
    print(f"wrote {args.out} ({len(spec.slaves)} slaves, FMUs in {fmu_dir})")
    return 0
