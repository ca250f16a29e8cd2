#!/usr/bin/env python3
"""Measure the Reference FMU corpus (docs/interop.md): every model as FMI 2.0 and 3.0, in Co-Simulation and Model
Exchange, run through the master to the reference's end; prints the markdown table of errors and tolerances.

The cases, the error measure and the tolerances are those of the tests (tests/support/reference_corpus.py); the
FMUs are built with CMake from ../shared/third_party/Reference-FMUs into a temporary folder. Usage:
    scripts/interop_corpus.py [--brief]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the corpus is defined once, beside the tests

from tests.support.reference_corpus import CASES, INTERFACES, run_case
from tests.support.reference_fmus import build, missing_tools


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brief", action="store_true", help="the default suite's short runs instead of full ones")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    why = missing_tools()
    if why:
        print(f"cannot build the Reference FMUs: {why}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        fmus = {v: build(Path(tmp) / f"fmi{v}", version=v) for v in (2, 3)}
        print("| model | FMI | interface | compared | error | tolerance | wall s | note |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for c in CASES:
            for version in c.versions:
                for interface in ("cs", "me"):
                    print(row(c, version, interface, fmus[version][c.model], args.brief))
    return 0


def row(c, version: int, interface: str, fmu: Path, brief: bool) -> str:
    head = f"| {c.model} | {version}.0 | {interface.upper()} |"
    if c.refused:
        try:
            INTERFACES[interface]("m", fmu)
        except Exception as exc:  # the refusal is the result
            reason = str(exc).split(f"{fmu.name}'", 1)[-1].strip()
            return f"{head} - | not run | - | - | refused: {reason} |"
        return f"{head} - | RAN (expected a refusal) | - | - | |"
    if not c.columns:
        return f"{head} every output | exact | 0 | - | see test_reference_corpus.py (also Feedthrough_in.csv) |"
    stop = c.brief_stop if brief else c.stop
    t0 = time.perf_counter()
    outcome = run_case(c, fmu, interface, stop)
    wall = time.perf_counter() - t0
    columns = ", ".join(c.columns[interface])
    ok = "" if outcome.error <= c.tolerance[interface] else " **over**"
    return (f"{head} {columns} (0-{stop:g} s) | {outcome.error:.2g}{ok} | {c.tolerance[interface]:g} | {wall:.2f} | "
            f"{outcome.status} |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
