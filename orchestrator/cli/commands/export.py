"""Export Modelica models to FMI 2.0 (or, with --fmi-version 3, FMI 3.0) FMUs (Model Exchange + Co-Simulation).

Each model lands in OUT_DIR/<Model_Name>.fmu (dots become underscores) and is recorded in OUT_DIR/manifest.json
with the hash of its Modelica sources: a model whose sources, backend and exporter are unchanged is not rebuilt.
A failed build leaves the previous FMU in place.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from orchestrator.errors import O2TwinError
from orchestrator.export.api import BACKENDS, COSIM_PACKAGES, FMI_VERSIONS, cosim_models, export_model
from orchestrator.paths import FMUS_DIR, MODELS_DIR

NAME = "export"
HELP = "export Modelica models to FMUs in fmus/ (built-in exporter, or OpenModelica when installed)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `o2twin export`."""
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="full Modelica name of a model to export, e.g. O2Twin.CoSim.PSAUnit (several allowed)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help=f"export every model of the packages {' and '.join(COSIM_PACKAGES)} found in the model folder"
        " (the co-simulation units and the monolithic plant)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto (default): OpenModelica when omc is on PATH and OMPython is installed, else the built-in exporter;"
        " builtin: pymoca ->"
        " CasADi -> C, needs only a C compiler; openmodelica: omc through OMPython (error if omc is missing)",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=MODELS_DIR,
        help=f"folder of the Modelica sources; every .mo file under it is loaded (default: {MODELS_DIR})",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=FMUS_DIR,
        help=f"where the FMUs and manifest.json are written (default: {FMUS_DIR})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild even when the manifest says the FMU is up to date",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind a parameter at export, e.g. --param nCells=30 (structural parameters such as array sizes);"
        " the variant lands in its own FMU (O2Twin_CoSim_PSAUnit__nCells_30.fmu); repeatable; see docs/exporter.md",
    )

    parser.add_argument(
        "--fmi-version",
        type=int,
        choices=FMI_VERSIONS,
        default=2,
        help="2 (default) or 3: FMI 3.0 from the built-in exporter, written to <Model_Name>_fmi3.fmu",
    )


def _parameters(items: list[str]) -> dict[str, str]:
    """--param NAME=VALUE options as a mapping (the exporter checks names and values)."""
    out: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise O2TwinError(f"--param {item!r}: write NAME=VALUE, e.g. --param nCells=30")
        out[name.strip()] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Export the requested models; the first failure stops with one message (earlier FMUs stay)."""
    names = list(args.models)
    if args.all:
        names += [m for m in cosim_models(args.models_dir) if m not in names]
    if not names:
        raise O2TwinError("nothing to export: name one or more models (e.g. O2Twin.CoSim.PSAUnit) or pass --all")
    parameters = _parameters(args.param)
    if parameters and args.all:
        raise O2TwinError("--param binds parameters of named models; name them instead of passing --all")
    for name in names:
        started = time.perf_counter()
        path = export_model(
            name,
            models_dir=args.models_dir,
            out_dir=args.out_dir,
            backend=args.backend,
            force=args.force,
            parameters=parameters,
            fmi_version=args.fmi_version,
        )
        print(f"{name} -> {path} ({time.perf_counter() - started:.1f} s)")
    return 0
