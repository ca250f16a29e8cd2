#!/usr/bin/env python3
"""Speed and accuracy of the PSAUnit FMU (built-in exporter, Co-Simulation): real-time factor at cyclic operation,
and the error against a tight-tolerance reference run of the same FMU.

The FMU (fmus/O2Twin_CoSim_PSAUnit.fmu, exported when missing or stale) runs the validation cycle (3 s feed/vent,
0.5 s equalisation per bed; 7 s) at the rated point with 0.25 s communication steps and the valve commands set at
every step, as the co-simulation master does. Timing: after --warm cycles from a cold start (not timed), --cycles
cycles through direct ctypes calls (fmi2SetReal + fmi2DoStep, no recording), pinned to one core; the best of
--repeats runs, each from the same saved FMU state. With --baseline OTHER.fmu (an FMU of the same model built by an
earlier exporter), both are timed interleaved in the same run, and the CPU-time ratio is reported. Accuracy: the
same schedule with outputs recorded at every communication step, at the default tolerance and at --ref-rtol, from
the same cold start; the error is the largest deviation of each output over the timed cycles.

    .venv/bin/python scripts/bench_psa.py [--cycles 100] [--repeats 5] [--baseline old.fmu] [--write-docs]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LOG = logging.getLogger("bench_psa")
MODEL = "O2Twin.CoSim.PSAUnit"
CYCLE = [  # (duration s, valves open)
    (3.0, ("cmd_feed_A", "cmd_vent_B")),
    (0.5, ("cmd_feed_A", "cmd_equalize")),
    (3.0, ("cmd_feed_B", "cmd_vent_A")),
    (0.5, ("cmd_feed_B", "cmd_equalize")),
]
VALVES = ("cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize")
OPERATING_POINT = {"m_flow_feed": 1.28e-3, "T_feed": 298.15, "Q_set": 5.0 / 60000.0}  # rated: 5 L/min
OUTPUTS = ("p_feed", "p_bed_A", "p_bed_B", "p_tank", "y_O2_product", "Q_product", "T_bed_A")
DOC = ROOT / "docs" / "fmu-runtime.md"


class Runner:
    """One FMU instance driven by direct ctypes calls (the FMU's own cost, not fmpy's)."""

    def __init__(self, fmu: Path, rtol: float, comm_step: float) -> None:
        from fmpy import extract, read_model_description
        from fmpy.fmi2 import FMU2Slave

        md = read_model_description(str(fmu))
        vr = {v.name: v.valueReference for v in md.modelVariables}
        self.slave = FMU2Slave(
            guid=md.guid,
            unzipDirectory=extract(str(fmu)),
            modelIdentifier=md.coSimulation.modelIdentifier,
            instanceName="bench",
        )
        self.slave.instantiate()
        self.slave.setupExperiment(tolerance=rtol, startTime=0.0)
        self.slave.enterInitializationMode()
        self.slave.exitInitializationMode()
        self.component = self.slave.component
        dll = self.slave.dll
        self.set_real, self.do_step, self.get_real = dll.fmi2SetReal, dll.fmi2DoStep, dll.fmi2GetReal
        self.do_step.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_int]
        names = [*VALVES, *OPERATING_POINT]
        self.in_vr = (ctypes.c_uint * len(names))(*(vr[n] for n in names))
        self.out_vr = (ctypes.c_uint * len(OUTPUTS))(*(vr[n] for n in OUTPUTS))
        self.out = (ctypes.c_double * len(OUTPUTS))()
        self.phases = []
        for duration, open_valves in CYCLE:
            values = [1.0 if v in open_valves else 0.0 for v in VALVES] + list(OPERATING_POINT.values())
            n = max(1, round(duration / comm_step))
            self.phases.append(((ctypes.c_double * len(values))(*values), duration / n, n))
        self.t = 0.0

    def cycles(self, count: int, record: list | None = None) -> None:
        c, n_in = self.component, len(self.in_vr)
        for _ in range(count):
            for values, h, n in self.phases:
                for _ in range(n):
                    self.set_real(c, self.in_vr, n_in, values)
                    if self.do_step(c, self.t, h, 1) != 0:
                        raise RuntimeError(f"fmi2DoStep failed at t = {self.t:g} s")
                    self.t += h
                    if record is not None:
                        self.get_real(c, self.out_vr, len(OUTPUTS), self.out)
                        record.append(list(self.out))

    def save(self) -> tuple[float, object]:
        return self.t, self.slave.getFMUstate()

    def restore(self, saved: tuple[float, object]) -> None:
        self.t = saved[0]
        self.slave.setFMUstate(saved[1])


def timed(runners: dict[str, Runner], cycles: int, repeats: int) -> dict[str, dict[str, float]]:
    """Best CPU and wall time per runner over interleaved repeats, each from the state saved before."""
    saved = {k: r.save() for k, r in runners.items()}
    best = {k: {"cpu_s": float("inf"), "wall_s": float("inf")} for k in runners}
    for _ in range(repeats):
        for key, runner in runners.items():
            runner.restore(saved[key])
            wall, cpu = time.perf_counter(), time.process_time()
            runner.cycles(cycles)
            best[key]["cpu_s"] = min(best[key]["cpu_s"], time.process_time() - cpu)
            best[key]["wall_s"] = min(best[key]["wall_s"], time.perf_counter() - wall)
    return best


def accuracy(fmu: Path, warm: int, cycles: int, comm_step: float, reference: np.ndarray, rtol: float) -> dict:
    """Largest deviation of each output from the reference over the timed cycles (absolute and / range)."""
    runner = Runner(fmu, rtol, comm_step)
    runner.cycles(warm)
    rows: list = []
    runner.cycles(cycles, rows)
    values = np.array(rows)
    span = np.ptp(reference, axis=0)
    deviation = np.max(np.abs(values - reference), axis=0)
    return {
        name: {"max_abs": float(deviation[i]), "max_over_range": float(deviation[i] / span[i])}
        for i, name in enumerate(OUTPUTS)
    }


def reference_run(fmu: Path, warm: int, cycles: int, comm_step: float, rtol: float) -> np.ndarray:
    runner = Runner(fmu, rtol, comm_step)
    runner.cycles(warm)
    rows: list = []
    runner.cycles(cycles, rows)
    return np.array(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmu", type=Path, help="FMU to time (default: export O2Twin.CoSim.PSAUnit into fmus/)")
    parser.add_argument("--baseline", type=Path, help="an FMU of the same model from an earlier exporter, timed too")
    parser.add_argument("--warm", type=int, default=60, help="untimed cycles from the cold start (default 60)")
    parser.add_argument("--cycles", type=int, default=100, help="timed cycles of 7 s (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the best counts (default 5)")
    parser.add_argument("--comm-step", type=float, default=0.25, help="communication step in s (default 0.25)")
    parser.add_argument("--rtol", type=float, default=1e-6, help="tolerance of the timed runs (default 1e-6)")
    parser.add_argument("--ref-rtol", type=float, default=1e-10, help="tolerance of the reference (default 1e-10)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "psa_benchmark.json")
    parser.add_argument("--write-docs", action="store_true", help="write the summary into docs/fmu-runtime.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    if args.fmu is None:
        sys.path.insert(0, str(ROOT))
        from orchestrator.export import export_model

        args.fmu = export_model(MODEL)
    fmus = {"this": args.fmu, **({"baseline": args.baseline} if args.baseline else {})}
    runners = {k: Runner(f, args.rtol, args.comm_step) for k, f in fmus.items()}
    for runner in runners.values():
        runner.cycles(args.warm)
    times = timed(runners, args.cycles, args.repeats)
    simulated = args.cycles * sum(d for d, _ in CYCLE)
    LOG.info("reference run at rtol %g ...", args.ref_rtol)
    reference = reference_run(args.fmu, args.warm, args.cycles, args.comm_step, args.ref_rtol)
    result: dict = {
        "model": f"{MODEL} (10 cells per bed), built-in exporter, Co-Simulation through ctypes",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (1 used), Python {platform.python_version()}",
        "schedule": f"{args.warm} untimed + {args.cycles} timed 7 s cycles, {args.comm_step} s communication step,"
        f" rtol {args.rtol:g}; best of {args.repeats}",
        "reference": f"the same FMU at rtol {args.ref_rtol:g}",
    }
    for key, fmu in fmus.items():
        err = accuracy(fmu, args.warm, args.cycles, args.comm_step, reference, args.rtol)
        result[key] = {
            "fmu": str(fmu),
            "real_time_factor_wall": round(simulated / times[key]["wall_s"], 1),
            "real_time_factor_cpu": round(simulated / times[key]["cpu_s"], 1),
            **{k: round(v, 4) for k, v in times[key].items()},
            "largest_error_over_range": max(e["max_over_range"] for e in err.values()),
            "purity_error_abs": err["y_O2_product"]["max_abs"],
            "errors": err,
        }
    if "baseline" in result:
        result["speedup_cpu"] = round(times["baseline"]["cpu_s"] / times["this"]["cpu_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"model: {result['model']}; {result['machine']}",
        f"schedule: {result['schedule']}; accuracy against {result['reference']}",
    ]
    for key in fmus:
        r = result[key]
        lines.append(
            f"{key}: {r['real_time_factor_wall']:.0f}x real time (wall), {r['real_time_factor_cpu']:.0f}x (CPU);"
            f" largest error / range {r['largest_error_over_range']:.1e}, purity error {r['purity_error_abs']:.1e}"
        )
    if "speedup_cpu" in result:
        lines.append(f"CPU-time ratio baseline / this: {result['speedup_cpu']:.2f}")
    for line in lines:
        LOG.info(line)
    if args.write_docs:
        text = DOC.read_text()
        block = "<!-- PSA-BENCH:START -->\n```\n" + "\n".join(lines) + "\n```\n<!-- PSA-BENCH:END -->"
        text = re.sub(r"<!-- PSA-BENCH:START -->.*?<!-- PSA-BENCH:END -->", block, text, flags=re.S)
        DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
