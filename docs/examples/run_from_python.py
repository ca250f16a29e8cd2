"""O2 Twin from Python: run a scenario, read its results, step a run yourself.

    .venv/bin/python docs/examples/run_from_python.py [--stop-time 120] [--out results/api-example]

Uses only the public API (``from orchestrator import ...``); see docs/api.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from orchestrator import open_run, run

log = logging.getLogger("o2twin.example")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stop-time", type=float, default=120.0, help="simulated seconds (default 120)")
    parser.add_argument("--out", type=Path, default=Path("results/api-example"), help="results folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    # 1. A whole run: the default scenario with a healthier patient, results in one folder.
    result = run("default", out=args.out / "whole", overwrite=True, stop_time=args.stop_time,
                 overrides={"patient.copd": 0.5})  # fmt: skip
    log.info("status %s, %d signals, %d events", result.status, result.signals.shape[1], len(result.events))
    spo2 = result.signals["patient.SpO2"] * 100
    log.info("SpO2 at the end %.1f %% (min %.1f %%)", spo2.iloc[-1], spo2.min())
    result.plot(["psa.y_O2_product", "patient.SpO2"]).savefig(args.out / "whole" / "api_plot.png")

    # 2. A run stepped from outside: advance, look, change an input, go on (what a supervisor or an RL agent does).
    with open_run("default", out=args.out / "stepped", overwrite=True, stop_time=args.stop_time) as session:
        sim = session.simulation
        session.advance(until=args.stop_time / 2)
        log.info("t = %.0f s: feed pressure %.3f bar(a)", sim.time, sim.get("psa.p_feed") / 1e5)
        sim.set("schedule.p_low_barg", 1.0)  # a higher feed pressure setpoint at low flow (a tunable parameter)
        session.advance()
    log.info("stepped run: %s, results in %s", session.result.status, session.result.out_dir)


if __name__ == "__main__":
    main()
