#!/usr/bin/env python3
"""Benchmark of the controllers: the SafetyWatchdog's cost per step and the controllers' share of a co-simulation.

1. Per-step cost (CPython) of each controller block through the slave interface (set_inputs + step, as the master
   calls it) with inputs that change every step (a pressure wave, a slowly rising purity), best of several repeats.
   The watchdog's target is < 20 us per step.
2. The controllers' share of the total co-simulation time: runs a scenario (default: scenarios/default.toml for
   --stop-time seconds) and reads the per-slave wall times the run records in metrics.json.

The figures go to docs/controllers-benchmark.md (and stdout). Usage:
    scripts/bench_controllers.py [--steps N] [--scenario NAME] [--stop-time S] [--no-run] [--no-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

from controllers.fuzzy import FuzzyTitrator
from controllers.pid import PressurePID
from controllers.schedule import PressureSchedule
from controllers.sensors import PulseOximeter, SensorNoise
from controllers.sequencer import PSASequencer
from controllers.watchdog import SafetyWatchdog
from orchestrator.paths import PROJECT_ROOT
from orchestrator.units import barg_to_pa, degc_to_k, slpm_to_m3s

log = logging.getLogger("bench_controllers")
CONTROLLER_CLASSES = ("SafetyWatchdog", "PressurePID", "PSASequencer", "FuzzyTitrator", "PressureSchedule",
                      "PulseOximeter", "SensorNoise")  # fmt: skip


def _inputs(block_name: str, k: int, ts: float) -> dict[str, float]:
    t = k * ts
    if block_name == "watchdog":
        return {
            "duty_req": 0.8,
            "cmd_feed_A_req": 1.0 if (k // 75) % 2 == 0 else 0.0,
            "cmd_feed_B_req": 0.0 if (k // 75) % 2 == 0 else 1.0,
            "cmd_vent_A_req": 0.0,
            "cmd_vent_B_req": 1.0,
            "cmd_equalize_req": 0.0,
            "Q_set_req": slpm_to_m3s(2.0),
            "p_feed": barg_to_pa(1.5) + 0.3e5 * math.sin(2 * math.pi * t / 7.5),
            "sensor_O2": 0.92 + 0.002 * math.sin(t),
            "T_head": degc_to_k(50.0 + 1e-3 * t),
            "sensor_Q": slpm_to_m3s(2.0) * (1 + 0.01 * math.sin(t)),
            "reset": 0.0,
        }
    if block_name == "pid":
        return {"p_measured": barg_to_pa(1.5) + 0.3e5 * math.sin(2 * math.pi * t / 7.5), "duty_applied": -1.0}
    if block_name == "titrator":
        return {"spo2": 0.90 + 0.02 * math.sin(t / 30.0), "signal_quality": 1.0}
    if block_name == "schedule":
        return {"Q_set": slpm_to_m3s(2.0 + math.sin(t / 60.0))}
    if block_name == "oximeter":
        return {"spo2_site": 0.90 + 0.02 * math.sin(t / 30.0), "motion": 0.5, "perfusion": 1.0, "probe_on": 1.0}
    if block_name == "sensor_noise":
        return {}
    return {"cycle_time_scale": 1.0, "cycle_time_trim": 1.0}


def per_step_cost(steps: int, repeats: int = 5) -> dict[str, float]:
    """Best-of-`repeats` mean time per set_inputs + step call, in microseconds, for each controller block."""
    blocks = {
        "watchdog": (SafetyWatchdog, 0.05),
        "pid": (PressurePID, 0.1),
        "sequencer": (PSASequencer, 0.05),
        "titrator": (FuzzyTitrator, 1.0),
        "schedule": (PressureSchedule, 0.1),
        "oximeter": (PulseOximeter, 1.0),
        "sensor_noise": (SensorNoise, 0.05),
    }
    result = {}
    for name, (cls, ts) in blocks.items():
        n = steps if name not in ("titrator", "oximeter") else max(1000, steps // 50)  # both sampled at 1 Hz
        inputs = [_inputs(name, k, ts) for k in range(n)]
        best = math.inf
        for _ in range(repeats):
            block = cls(name, ts)
            block.setup(0.0)
            t0 = time.perf_counter()
            for k in range(n):
                block.set_inputs(inputs[k])
                block.step(k * ts, ts)
            best = min(best, (time.perf_counter() - t0) / n)
        result[name] = best * 1e6
    return result


def scenario_share(scenario: str, stop_time: float) -> dict:
    """Run a scenario and return wall times per slave, the controllers' share and the real-time factor."""
    from orchestrator.results.run import run
    from orchestrator.scenario.load import load_scenario

    spec = load_scenario(scenario)
    controllers = [n for n, s in spec.slaves.items() if s.block and s.block.split(":")[1] in CONTROLLER_CLASSES]
    with tempfile.TemporaryDirectory(prefix="bench_controllers_") as tmp:
        result = run(scenario, out=Path(tmp) / "out", stop_time=stop_time, plots=False)
    metrics = result.metrics
    if result.exit_code != 0:
        raise RuntimeError(f"scenario {scenario} failed: {metrics.get('error')}")
    per_slave = {k: v for k, v in metrics["slave_wall_time_s"].items() if v is not None}
    total_slaves = sum(per_slave.values())
    ctrl = sum(per_slave.get(n, 0.0) for n in controllers)
    return {
        "scenario": spec.name,
        "simulated_s": metrics["simulated_time_s"],
        "wall_s": metrics["wall_time_s"],
        "rtf": metrics["real_time_factor"],
        "per_slave_s": per_slave,
        "controllers": controllers,
        "controllers_s": ctrl,
        "share_of_slaves": ctrl / total_slaves if total_slaves > 0 else float("nan"),
        "share_of_wall": ctrl / metrics["wall_time_s"] if metrics["wall_time_s"] else float("nan"),
        "macro_steps": metrics["steps"].get("macro_steps"),
    }


def report(costs: dict[str, float], share: dict | None, share_error: str | None, steps: int) -> str:
    lines = [
        "# Controllers benchmark",
        "",
        f"Written by `scripts/bench_controllers.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()} on {platform.machine()} ({platform.processor() or 'cpu'}); "
        "a shared machine, so treat the figures as indicative.",
        "",
        "## Cost per step (CPython, set_inputs + step through the slave interface)",
        "",
        "| block | us per step | note |",
        "| --- | --- | --- |",
    ]
    notes = {
        "watchdog": "target < 20 us",
        "pid": "",
        "sequencer": "",
        "titrator": "Mamdani inference with scikit-fuzzy, sampled at 1 Hz",
        "schedule": "feed-pressure setpoint from the flow",
        "oximeter": "pulse oximeter sensor model, sampled at 1 Hz",
        "sensor_noise": "seeded noise of four plant sensors",
    }
    for name, us in costs.items():
        lines.append(f"| {name} | {us:.1f} | {notes.get(name, '')} |")
    lines += ["", f"{steps} steps per block (the titrator and the oximeter fewer), best of 5 repeats.", ""]
    lines += ["## Share of the co-simulation time", ""]
    if share is None:
        lines.append(f"Not measured: {share_error}")
    else:
        lines += [
            f"Scenario `{share['scenario']}`, {share['simulated_s']:.0f} s simulated in {share['wall_s']:.1f} s "
            f"(real-time factor {share['rtf']:.1f}), {share['macro_steps']} macro steps.",
            "",
            "| slave | wall time, s | share of slave time |",
            "| --- | --- | --- |",
        ]
        total = sum(share["per_slave_s"].values())
        for name, s in sorted(share["per_slave_s"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {name} | {s:.3f} | {100 * s / total:.1f} % |")
        lines += [
            "",
            f"Controllers ({', '.join(share['controllers'])}): {share['controllers_s']:.3f} s, "
            f"{100 * share['share_of_slaves']:.1f} % of the slaves' time, {100 * share['share_of_wall']:.1f} % "
            "of the run's wall time.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps per block for the per-step cost")
    parser.add_argument("--scenario", default="default", help="scenario for the share of co-simulation time")
    parser.add_argument("--stop-time", type=float, default=60.0, help="simulated seconds of that scenario")
    parser.add_argument("--no-run", action="store_true", help="skip the scenario run")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/controllers-benchmark.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    costs = per_step_cost(args.steps)
    share, share_error = None, "skipped (--no-run)"
    if not args.no_run:
        try:
            share = scenario_share(args.scenario, args.stop_time)
        except Exception as err:  # report why (e.g. an FMU that cannot be exported yet) instead of failing
            share_error = f"{type(err).__name__}: {err}"
    text = report(costs, share, share_error, args.steps)
    sys.stdout.write(text)
    if not args.no_docs:
        path = Path(PROJECT_ROOT) / "docs" / "controllers-benchmark.md"
        path.write_text(text, encoding="utf-8")
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
