#!/usr/bin/env python3
"""Solve time of the MPC per call: p50 and p99 of SupervisoryMPC.update (estimator + IPOPT solve) in closed loop.

The plant is the prediction model itself (O2Twin.Control.SupervisoryModel, RK4 between samples) with the oximeter's
noise, 1 % display steps and a third of its readings dropped, and a patient whose gas exchange worsens and recovers
(exercise-like steps), so the solver works on changing problems as in a session. Every call is timed with
perf_counter; the target is p99 < 100 ms at the 5 s sample period (a Raspberry Pi 4 is about 5x slower: 500 ms
of 5 s). The machine's load average is printed with the figures (the machine is shared).

Usage: scripts/bench_mpc.py [--samples 240] [--horizon 12] [--seed 0] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sys
import time

import numpy as np

from controllers.mpc import SupervisoryMPC
from orchestrator.export.functions import export_functions
from orchestrator.paths import PROJECT_ROOT

TARGET_P99_S = 0.100
DOC = PROJECT_ROOT / "docs" / "controllers.md"


def gas_exchange_at(t: float) -> float:
    """The patient's V/Q impairment share over time: at rest, walking, brisk, back to rest (s)."""
    for start, value in ((600.0, 0.35), (420.0, 0.75), (240.0, 0.6)):
        if t >= start:
            return value
    return 0.35


def closed_loop(samples: int, horizon: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    rng = np.random.default_rng(seed)
    block = SupervisoryMPC("mpc", 5.0)
    block.setup(0.0, {"horizon": horizon, "time_limit_s": 5.0})
    m = block.model
    step, out = m.rk4_step(5.0, substeps=4), m.output_function()
    u = block._model_inputs(block.u_applied, np.array([-0.01, gas_exchange_at(0.0)]))
    x = m.steady_state(u)
    times: list[float] = []
    cpu_times: list[float] = []
    failures, spo2_low = 0, 0
    for k in range(samples):
        t = 5.0 * k
        y = np.array(out(x, u)).ravel()
        spo2 = np.round(100 * (y[m.output("spo2_display")] + rng.normal(0, 0.01))) / 100
        inputs = {
            "spo2": spo2 if rng.random() > 0.3 else float("nan"),
            "signal_quality": 1.0,
            "sensor_O2": y[m.output("sensor_O2")] + rng.normal(0, 0.001),
            "p_feed": y[m.output("p_feed")] + rng.normal(0, 0.1e5),
            "sensor_Q": y[m.output("Q_product")],
        }
        block.set_inputs(inputs)
        started, cpu = time.perf_counter(), time.process_time()
        block.step(t, 5.0)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu)
        o = block.get_outputs()
        failures += o["solver_ok"] == 0.0
        spo2_low += y[m.output("SpO2")] < 0.88
        u = block._model_inputs(
            np.array([(o["p_setpoint"] - block.p["p_ambient"]) / 1e5, o["Q_set"] * 60000.0, o["cycle_time_scale"]]),
            np.array([-0.01, gas_exchange_at(t)]),
        )
        x = np.array(step(x, u)).ravel()
    solved = np.array(times) > 0.002  # calls before the first usable reading only run the estimator
    info = {"failures": failures, "spo2_below_88_pct": 100.0 * spo2_low / samples}
    return np.array(times)[solved], np.array(cpu_times)[solved], info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=240, help="MPC calls (5 s each: 240 = 20 min)")
    parser.add_argument("--horizon", type=int, default=12, help="prediction intervals")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-docs", action="store_true", help="update the figures in docs/controllers.md")
    args = parser.parse_args(argv)
    export_functions("O2Twin.Control.SupervisoryModel")
    load_before = os.getloadavg()[0]
    times, cpu, info = closed_loop(args.samples, args.horizon, args.seed)
    load_after = os.getloadavg()[0]
    p50, p99, worst = np.percentile(times, 50), np.percentile(times, 99), times.max()
    cpu50, cpu99 = np.percentile(cpu, 50), np.percentile(cpu, 99)
    line = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load_before:.1f} -> {load_after:.1f}: horizon {args.horizon} x 5 s, "
        f"{len(times)} solving calls: wall p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms, max {1000 * worst:.0f} ms; "
        f"CPU time p50 {1000 * cpu50:.0f} ms, p99 {1000 * cpu99:.0f} ms; {info['failures']} failed solves; "
        f"target wall p99 < {1000 * TARGET_P99_S:.0f} ms: {'met' if p99 < TARGET_P99_S else 'NOT met'}"
    )
    print(line)
    if args.write_docs:
        text = DOC.read_text(encoding="utf-8")
        block = f"<!-- bench_mpc -->\n{line}\n<!-- /bench_mpc -->"
        DOC.write_text(re.sub(r"<!-- bench_mpc -->.*?<!-- /bench_mpc -->", block, text, flags=re.S), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
