#!/usr/bin/env python3
"""Export the co-simulation models as FMI 3.0 and as FMI 2.0 and compare them (docs/interop.md, "FMI 3.0 export").

For each model: fmpy's validate_fmu on the FMI 3.0 FMU, then fmpy's simulate_fmu of both FMUs as Co-Simulation and
as Model Exchange, printing the largest difference over every output (the same runtime under both APIs: 0 expected).
The FMUs land in fmus/ (<Model_Name>.fmu and <Model_Name>_fmi3.fmu). Usage:
    scripts/interop_fmi3.py [MODEL ...] [--stop-time S]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
from fmpy import simulate_fmu
from fmpy.validation import validate_fmu

from orchestrator.export import export_model
from orchestrator.export.api import cosim_models

log = logging.getLogger("interop_fmi3")


def compare(model: str, stop_time: float) -> list[str]:
    """Markdown table rows for one model: validation problems and the largest FMI 3.0 - FMI 2.0 difference."""
    started = time.perf_counter()
    fmu3 = export_model(model, fmi_version=3, backend="builtin")
    fmu2 = export_model(model, backend="builtin")
    problems = validate_fmu(str(fmu3))
    rows = []
    for fmi_type in ("CoSimulation", "ModelExchange"):
        r3 = simulate_fmu(str(fmu3), fmi_type=fmi_type, stop_time=stop_time)
        r2 = simulate_fmu(str(fmu2), fmi_type=fmi_type, stop_time=stop_time)
        names = [n for n in r2.dtype.names if n != "time"]
        diff = max(float(np.max(np.abs(np.asarray(r3[n]) - np.asarray(r2[n])))) for n in names)
        rows.append(f"| {model} | {fmi_type} | {len(problems)} | {len(names)} | {diff:.3g} |")
    log.info("%s done in %.1f s", model, time.perf_counter() - started)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="Modelica names (default: every co-simulation model but the plant)")
    parser.add_argument("--stop-time", type=float, default=5.0, help="simulated seconds per run (default 5)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models = args.models or [m for m in cosim_models() if ".CoSim." in m]
    print("| model | interface | validation problems | outputs | max abs difference FMI 3.0 - 2.0 |")
    print("| --- | --- | --- | --- | --- |")
    for model in models:
        for row in compare(model, args.stop_time):
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
