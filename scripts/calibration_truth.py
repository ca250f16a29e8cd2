"""Write a synthetic-truth trace for a calibration: the bench rating check run with known parameter values.

  .venv/bin/python scripts/calibration_truth.py OUT.csv [--set psa.k_LDF_N2=14 ...] [--stop-time 90]

Without --set the truth is that of docs/examples/calibration/calibration.toml (k_LDF_N2 = 14, eta_v0 = 0.85).
"""

from __future__ import annotations

import argparse
import logging

from orchestrator.calibration.synthetic import synthetic_trace
from orchestrator.scenario.overrides import parse_assignments

EXAMPLE_TRUTH = {"psa.k_LDF_N2": 14.0, "compressor.eta_v0": 0.85}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the trace CSV to write")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SLAVE.PARAM=VALUE")
    parser.add_argument("--stop-time", type=float, default=90.0, help="trace length, s")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    truth = {k: float(v) for k, v in parse_assignments(args.overrides).items()} or EXAMPLE_TRUTH  # type: ignore[arg-type]
    path = synthetic_trace(args.out, truth, stop_time=args.stop_time, seed=args.seed)
    print(f"wrote {path} (truth: {truth})")


if __name__ == "__main__":
    main()
