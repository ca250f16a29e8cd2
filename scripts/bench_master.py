#!/usr/bin/env python3
"""Benchmark of the co-simulation master: overhead per macro step and per slave, and the concentrator system.

1. Overhead. Chains of the small Lag FMU (tests/support/lag_fmu.py) and copies of the split CoupledOscillators
   (exported by the built-in exporter; Mass2 has direct feedthrough) run for a fixed number of macro steps four
   ways on the same FMUs, interleaved, pinned to one core, CPU time, medians of --repeats:
     - a C loop making the same FMI calls as the master (the floor: the FMUs' own work and nothing else);
     - ecos, the C++ co-simulation engine of the `ecospy` wheel (a benchmark-only dependency: pip install
       'o2twin[bench]'; its binaries need Debian's libtbb12: sudo apt-get install libtbb12); skipped with the
       reason when it cannot be loaded;
     - the master (Simulation.run, Gauss-Seidel, no recorder) on its Python path (compiled_coupling = false)
       and on its compiled coupling path.
   Overhead per slave per step = (time - C loop) / steps / slaves.
2. The concentrator: the default scenario (compressor + PSA unit + patient FMUs, controllers, watchdog) for one
   simulated hour, if its FMUs can be exported here; reports the real-time factor and the share of wall time spent
   outside the slaves (master overhead).

3. With --compare-tree DIR (another checkout, e.g. `git worktree add DIR main`): the concentrator (--hours) in this
   checkout and in DIR, each in a child process with its checkout first on the Python path, alternating, CPU time,
   best of --repeats (a before/after comparison of any change, the master's whole package or the blocks included).
   With --compare-with FILE (another version's orchestrator/cosim/master/simulation.py, e.g. from `git show
   REV:orchestrator/cosim/master/simulation.py`): both Simulation classes, interleaved in this one process on the same
   FMUs, timed in CPU time (best of 7), so a before/after comparison holds on a loaded machine.

4. With --loop-paths SECONDS: only the concentrator loop, its step-by-step path (every block stepped, written, read
   and timed every macro step, sensor noise drawn sample by sample, scikit-fuzzy's centroid, MacroStepper.step's
   general path instead of the lean step) against its fast paths
   (issue 17), the default
   scenario over SECONDS simulated, interleaved in one process, CPU time, best of --repeats (identical results:
   tests/controllers/test_loop_fast_paths.py).

Figures go to docs/orchestrator-benchmark.md (and stdout). Usage:
    scripts/bench_master.py [--steps N] [--lengths 2,8,32] [--copies 1,4,16] [--repeats 5] [--hours H]
                            [--no-concentrator] [--no-docs] [--compare-with FILE] [--compare-tree DIR]
                            [--loop-paths SECONDS]
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.paths import PROJECT_ROOT

log = logging.getLogger("bench_master")


def export_oscillators(out_dir: Path) -> dict[str, Path]:
    from orchestrator.export import export_model

    models = PROJECT_ROOT / "tests" / "export" / "models"
    return {
        name: export_model(f"CoupledOscillators.{name}", models_dir=models, out_dir=out_dir)
        for name in ("Mass1", "Mass2")
    }


def oscillator_system(fmus: dict[str, Path], copies: int):
    from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
    from orchestrator.cosim.system import System

    system = System()
    for k in range(copies):
        system.add(FmuCoSimSlave(f"m1_{k}", fmus["Mass1"]))
        system.add(FmuCoSimSlave(f"m2_{k}", fmus["Mass2"]))
        system.connect(f"m1_{k}.x1", f"m2_{k}.x1")
        system.connect(f"m1_{k}.v1", f"m2_{k}.v1")
        system.connect(f"m2_{k}.F", f"m1_{k}.F")
    return system


def chain_system(lag: Path, length: int):
    """length Lag FMUs (x' = (k u - x) / T, y = x; no feedthrough) in a chain: lag{k-1}.y -> lag{k}.u."""
    from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
    from orchestrator.cosim.system import System

    system = System()
    for k in range(length):
        system.add(FmuCoSimSlave(f"lag{k}", lag))
        if k:
            system.connect(f"lag{k - 1}.y", f"lag{k}.u")
    system.start_values["lag0.u"] = 1.0
    return system


def build_lag(out_dir: Path) -> Path:
    """The hand-written Lag FMU of the tests (C, compiled with the exporter's build functions)."""
    import sys

    sys.path.insert(0, str(PROJECT_ROOT))
    from tests.support.lag_fmu import build_lag_fmu

    return build_lag_fmu(out_dir)


def master_cpu(make_system: Callable[[], Any], steps: int, h: float, compiled: bool) -> float:
    """CPU time of Simulation.run over steps macro steps (no recorder), after set-up."""
    from orchestrator.cosim.master import MasterOptions, Simulation

    sim = Simulation(make_system(), MasterOptions(step=h, stop_time=steps * h, compiled_coupling=compiled))
    sim.initialise()
    t0 = time.process_time()
    sim.run()
    return time.process_time() - t0


def c_loop_cpu(make_system: Callable[[], Any], steps: int, h: float) -> float:
    """CPU time of the same FMI calls as the master makes (fmi2SetReal of the connected inputs, fmi2DoStep,
    fmi2GetReal of the outputs, slave by slave in Gauss-Seidel order) in a C loop, with no master around it."""
    from orchestrator.cosim.master import MasterOptions, Simulation
    from orchestrator.cosim.master.kernel import library

    sim = Simulation(make_system(), MasterOptions(step=h, stop_time=steps * h))
    sim.initialise()
    segments = sim.stepper.segments
    if len(segments) != 1 or len(sim.stepper.items or ()) != 1:
        raise RuntimeError("the C loop needs every slave on the compiled path (a C compiler, FMI 2.0 CS FMUs)")
    segment = segments[0]
    values = (ctypes.c_double * len(sim.coupling.v))(*sim.coupling.v)
    failed, status = ctypes.c_int(), ctypes.c_int()
    t0 = time.process_time()
    rc = library().ck_loop(segment.table.records, segment.count, values, 0.0, h, steps, failed, status)
    cpu = time.process_time() - t0
    if rc:
        raise RuntimeError(f"the C loop failed (call {rc}, slave {failed.value}, status {status.value})")
    sim.finish()
    return cpu


def ecos_cpu(make_system: Callable[[], Any], steps: int, h: float) -> float:
    """CPU time of ecos (the ecospy wheel: its C++ engine, in-process) stepping the same FMUs and connections."""
    from ecospy import EcosSimulation, EcosSimulationStructure

    system = make_system()
    structure = EcosSimulationStructure()
    for name, slave in system.slaves.items():
        structure.add_model(name, str(slave.fmu_path))
    for c in system.connections:
        structure.make_real_connection(c.source.replace(".", "::", 1), c.target.replace(".", "::", 1))
    sim = EcosSimulation(structure=structure, step_size=h)
    for qualified, value in system.start_values.items():
        sim.set_real(qualified.replace(".", "::", 1), float(value))
    sim.init()
    t0 = time.process_time()
    sim.step(steps)
    cpu = time.process_time() - t0
    sim.terminate()
    sim.free()
    return cpu


def ecos_available() -> str | None:
    """None when ecospy runs here, else why not."""
    try:
        import ecospy  # noqa: F401
    except ImportError as exc:
        return f"ecospy is not installed (pip install 'o2twin[bench]'; its binaries need Debian's libtbb12): {exc}"
    except OSError as exc:
        return f"ecospy's binaries do not load ({exc}); on Debian/Ubuntu: sudo apt-get install libtbb12"
    return None


def overhead_table(cases: list[tuple[str, int, Callable[[], Any]]], steps: int, h: float, repeats: int) -> list[str]:
    """Per case (label, slaves, system factory): medians of CPU time over interleaved repeats, per macro step, and
    the overhead per slave per step of ecos and both master paths against the C loop."""
    no_ecos = ecos_available()
    if no_ecos:
        print(f"ecos skipped: {no_ecos}")
    rows = [
        "| system | slaves | C loop (us/step) | ecos (us/step) | master, Python path (us/step) | "
        "master, compiled path (us/step) | overhead per slave per step: ecos / Python path / compiled path (us) | "
        "compiled path overhead / ecos overhead |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    runners: dict[str, Callable[[Callable[[], Any]], float]] = {
        "c": lambda make: c_loop_cpu(make, steps, h),
        "python": lambda make: master_cpu(make, steps, h, compiled=False),
        "compiled": lambda make: master_cpu(make, steps, h, compiled=True),
    }
    if not no_ecos:
        runners["ecos"] = lambda make: ecos_cpu(make, steps, h)
    for label, n_slaves, make in cases:
        samples: dict[str, list[float]] = {k: [] for k in runners}
        for _ in range(repeats):
            for key, run in runners.items():
                samples[key].append(run(make))
        per = {k: statistics.median(v) / steps * 1e6 for k, v in samples.items()}
        over = {k: (per[k] - per["c"]) / n_slaves for k in per}
        ecos = f"{per['ecos']:.1f}" if "ecos" in per else "skipped"
        ecos_over = f"{over['ecos']:.2f}" if "ecos" in over else "-"
        ratio = f"{over['compiled'] / over['ecos']:.1f}" if "ecos" in over and over["ecos"] > 0 else "-"
        rows.append(
            f"| {label} | {n_slaves} | {per['c']:.1f} | {ecos} | {per['python']:.1f} | {per['compiled']:.1f} | "
            f"{ecos_over} / {over['python']:.2f} / {over['compiled']:.2f} | {ratio} |"
        )
        print(rows[-1], flush=True)
    if no_ecos:
        rows += ["", f"ecos was not measured: {no_ecos}."]
    return rows


def concentrator(hours: float) -> list[str]:
    """Run the default scenario for `hours` simulated hours without recorders; return markdown lines."""
    from orchestrator.errors import O2TwinError
    from orchestrator.scenario.build import build_simulation
    from orchestrator.scenario.load import load_scenario

    try:
        spec = load_scenario("default")
        spec.stop_time = hours * 3600.0
        sim = build_simulation(spec)
        t0 = time.perf_counter()
        sim.initialise()
        setup = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        sim.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    except (O2TwinError, AttributeError, TypeError) as exc:
        line = f"The concentrator system could not be run here: {exc}"
        print(line)
        return [line]
    meta = sim.metadata()
    in_step = {name: s.get("wall_s", 0.0) for name, s in meta["slaves"].items()}
    in_io = {name: s.get("io_s", 0.0) for name, s in meta["slaves"].items()}
    total_step, total_io = sum(in_step.values()), sum(in_io.values())
    master_s = wall - total_step - total_io
    steps = meta["macro_steps"]
    loops = sim.stats["loop_solves"]
    blocks = {name: s for name, s in meta["slaves"].items() if "update_calls" in s}
    controllers_s = sum(in_step[name] for name in blocks)
    lines = [
        f"Default scenario, {hours:g} h simulated ({steps} macro steps of {meta['step']} s, {meta['algorithm']}, "
        f"{len(in_step)} slaves, {loops} algebraic-loop solves): wall {wall:.1f} s (set-up {setup:.1f} s), "
        f"**{spec.stop_time / wall:.0f}x faster than real time** (CPU time of the run {cpu:.1f} s: "
        f"{spec.stop_time / cpu:.0f}x).",
        "",
        f"- in the slaves' step (FMU doStep, Python blocks' update): {total_step:.1f} s ({100 * total_step / wall:.1f} %)",
        f"- of that, the Python controllers (the {len(blocks)} blocks' update() calls, which the blocks time "
        f"themselves): **{controllers_s:.2f} s ({100 * controllers_s / wall:.1f} %)**",
        f"- in FMI get/set/directional-derivative calls (incl. the loop iterations): {total_io:.1f} s "
        f"({100 * total_io / wall:.1f} %)",
        f"- master's own Python work (with the blocks' input/output handling around their update()): "
        f"{master_s:.1f} s (**{100 * master_s / wall:.1f} %**), "
        f"{1e6 * master_s / steps / len(in_step):.1f} us per slave per macro step",
        "",
        "| slave | wall time in step (s) | in get/set (s) | share of the run | update() calls, p50 / p99 (us) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, w in sorted(in_step.items(), key=lambda kv: -kv[1]):
        b = blocks.get(name)
        calls = f"{b['update_calls']}, {1e6 * b['update_p50_s']:.1f} / {1e6 * b['update_p99_s']:.1f}" if b else "-"
        lines.append(f"| {name} | {w:.2f} | {in_io[name]:.2f} | {100 * (w + in_io[name]) / wall:.1f} % | {calls} |")
    print("\n".join(lines))
    return lines


def compare(other_file: Path, fmus: dict[str, Path], copies_list: list[int], steps: int, h: float) -> list[str]:
    """CPU time of this Simulation against the one in other_file, interleaved: oscillators and 10 min of the
    concentrator (the other version must run on this version's slaves, events and options)."""
    import importlib.util

    from orchestrator.cosim.master import MasterOptions, Simulation
    from orchestrator.scenario.build import build_simulation
    from orchestrator.scenario.load import load_scenario

    spec = importlib.util.spec_from_file_location("other_simulation", other_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    versions = {"other": module.Simulation, "this": Simulation}

    def oscillators(cls: type, copies: int) -> float:
        sim = cls(oscillator_system(fmus, copies), MasterOptions(step=h, stop_time=steps * h))
        sim.initialise()
        t0 = time.process_time()
        sim.run()
        return time.process_time() - t0

    def concentrator_cpu(cls: type) -> float:
        scenario = load_scenario("default")
        scenario.stop_time = 600.0
        built = build_simulation(scenario)
        sim = built if cls is Simulation else cls(built.system, built.options, built.events, [], built._record_names)
        sim.initialise()
        t0 = time.process_time()
        sim.run()
        return time.process_time() - t0

    rows = ["| case | other (CPU s, best of 7) | this (CPU s, best of 7) | this / other |", "| --- | --- | --- | --- |"]
    cases: list[tuple[str, Callable[[type], float]]] = [
        (f"{2 * c} oscillator slaves, {steps} steps", lambda cls, c=c: oscillators(cls, c)) for c in copies_list
    ]
    cases.append(("concentrator, 600 s simulated", concentrator_cpu))
    for label, run in cases:
        best = {name: run(cls) for name, cls in versions.items()}
        for _ in range(6):
            for name, cls in versions.items():
                best[name] = min(best[name], run(cls))
        rows.append(f"| {label} | {best['other']:.3f} | {best['this']:.3f} | {best['this'] / best['other']:.3f} |")
        print(rows[-1], flush=True)
    return rows


#: Run in a child process inside another checkout: the default scenario's CPU time (and the final signal table's
#: hash, to show both computed the same) for argv[1] simulated seconds.
_CHILD = """
import os, sys, time
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
from orchestrator.scenario.build import build_simulation
from orchestrator.scenario.load import load_scenario
spec = load_scenario("default")
spec.stop_time = float(sys.argv[1])
sim = build_simulation(spec)
sim.initialise()
t0, w0 = time.process_time(), time.perf_counter()
sim.run()
cpu, wall = time.process_time() - t0, time.perf_counter() - w0
blocks = sum(s.update_times.total_s for s in sim.system.slaves.values() if hasattr(s, "update_times"))
print(cpu, wall, blocks, hash(tuple(sim.coupling.v)))
"""


def compare_tree(other: Path, seconds: float, repeats: int) -> list[str]:
    """CPU time of the default scenario (seconds simulated, no recorders) in this checkout and in another one
    (other: e.g. `git worktree add DIR main`, or `git archive main | tar -x -C DIR`), each run in a child process
    with that checkout first on the Python path (this environment's packages), alternating, best of repeats."""
    import subprocess
    import sys

    trees = {"other": other.resolve(), "this": PROJECT_ROOT}
    best: dict[str, tuple[float, float, float]] = {}  # (CPU s, wall s, blocks' update() s) of the best run
    walls: dict[str, list[float]] = {label: [] for label in trees}
    hashes: dict[str, str] = {}
    for _ in range(repeats):
        for label, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=str(tree))
            out = subprocess.run([sys.executable, "-c", _CHILD, str(seconds)], cwd=tree, env=env, check=True,
                                 capture_output=True, text=True).stdout.split()  # fmt: skip
            cpu, wall, blocks, hashes[label] = float(out[0]), float(out[1]), float(out[2]), out[3]
            walls[label].append(wall)
            if label not in best or cpu < best[label][0]:
                best[label] = (cpu, wall, blocks)
    per_hour = 3600.0 / seconds
    rows = [
        f"Default scenario, {seconds:g} s simulated, CPU time of the run (one core, child processes alternating), "
        f"best of {repeats}; load average {os.getloadavg()[0]:.1f} at the end; the same final values both: "
        f"{hashes['this'] == hashes['other']}",
        "",
        "| checkout | CPU s per simulated hour | real-time factor (CPU) | real-time factors (wall, each run) | "
        "blocks' update() s per hour |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, tree in trees.items():
        cpu, _, blocks = best[label]
        wall_factors = ", ".join(f"{seconds / w:.0f}x" for w in walls[label])
        rows.append(f"| {label} ({tree}) | {cpu * per_hour:.2f} | {seconds / cpu:.0f}x | {wall_factors} | "
                    f"{blocks * per_hour:.2f} |")  # fmt: skip
    rows += ["", f"this / other CPU: {best['this'][0] / best['other'][0]:.3f}"]
    print("\n".join(rows), flush=True)
    return rows


def slow_paths() -> Callable[[], None]:
    """Select the concentrator loop's step-by-step path (as before issue 17's fast paths: every block stepped, read
    and written every macro step and timed by the master, sensor noise drawn one sample at a time, the titrator's
    centroid by scikit-fuzzy, no lean macro step); returns the
    function that selects the fast paths again. The results are identical (tests/controllers/test_loop_fast_paths.py)."""
    import numpy as np
    import skfuzzy

    from controllers import fuzzy
    from controllers.sensors import SensorNoise
    from orchestrator.cosim.master.lean import LeanStep
    from orchestrator.cosim.slaves.python_block import PythonBlock

    saved = PythonBlock.idle_test, PythonBlock.own_step_wall_s, SensorNoise.BATCH, fuzzy.centroid, LeanStep.build
    PythonBlock.idle_test = lambda self, names: None  # type: ignore[method-assign]
    PythonBlock.own_step_wall_s = lambda self: None  # type: ignore[method-assign]
    SensorNoise.BATCH = 1
    fuzzy.centroid = lambda x, mfx: float(skfuzzy.defuzz(np.array(x), np.array(mfx), "centroid"))
    LeanStep.build = staticmethod(lambda *args: None)  # type: ignore[method-assign,assignment]

    def restore() -> None:
        PythonBlock.idle_test, PythonBlock.own_step_wall_s, SensorNoise.BATCH, fuzzy.centroid = saved[:4]  # type: ignore[method-assign]
        LeanStep.build = staticmethod(saved[4])  # type: ignore[method-assign]

    return restore


def loop_paths(seconds: float, repeats: int) -> list[str]:
    """CPU time of the default scenario (seconds simulated, no recorders) on the loop's step-by-step path and on its
    fast paths, interleaved in this process, best of repeats; with the blocks' update() CPU time per hour."""
    from orchestrator.scenario.build import build_simulation
    from orchestrator.scenario.load import load_scenario

    def once(fast: bool) -> tuple[float, float]:
        restore = None if fast else slow_paths()
        try:
            spec = load_scenario("default")
            spec.stop_time = seconds
            sim = build_simulation(spec)
            sim.initialise()
            t0 = time.process_time()
            sim.run()
            cpu = time.process_time() - t0
            blocks = sum(s.update_times.total_s for s in sim.system.slaves.values() if hasattr(s, "update_times"))
            return cpu, blocks
        finally:
            if restore is not None:
                restore()

    best = {"step-by-step": (float("inf"), 0.0), "fast paths": (float("inf"), 0.0)}
    for _ in range(repeats):
        for label, fast in (("step-by-step", False), ("fast paths", True)):
            cpu, blocks = once(fast)
            if cpu < best[label][0]:
                best[label] = (cpu, blocks)
    per_hour = 3600.0 / seconds
    rows = [
        f"Default scenario, {seconds:g} s simulated, CPU time (process_time, one core), best of {repeats} interleaved; "
        f"load average {os.getloadavg()[0]:.1f} at the end:",
        "",
        "| loop path | CPU s per simulated hour | real-time factor (CPU) | blocks' update() wall s per hour |",
        "| --- | --- | --- | --- |",
    ]
    for label, (cpu, blocks) in best.items():
        rows.append(f"| {label} | {cpu * per_hour:.2f} | {seconds / cpu:.0f}x | {blocks * per_hour:.2f} |")
    ratio = best["fast paths"][0] / best["step-by-step"][0]
    rows += ["", f"fast / step-by-step CPU: {ratio:.3f}"]
    print("\n".join(rows), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="macro steps per overhead run")
    parser.add_argument("--lengths", default="2,8,32", help="lengths of the chain of Lag FMUs")
    parser.add_argument("--copies", default="1,4,16", help="copies of the oscillator pair (2 slaves each)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repetitions; medians are reported")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours of the concentrator run")
    parser.add_argument("--no-concentrator", action="store_true")
    parser.add_argument("--no-docs", action="store_true", help="print only; do not write the docs page")
    parser.add_argument("--compare-with", type=Path, help="another version's master/simulation.py to time against")
    parser.add_argument("--compare-tree", type=Path, metavar="DIR",
                        help="only time the concentrator (--hours, no recorders) in this checkout against the one in "
                        "DIR (another revision), child processes alternating, CPU time, best of --repeats; print")  # fmt: skip
    parser.add_argument("--loop-paths", type=float, metavar="SECONDS",
                        help="only time the concentrator loop's step-by-step path against its fast paths (issue 17) "
                        "over SECONDS simulated, interleaved, best of --repeats; print, no docs")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core: CPU times free of migrations
    h = 1e-3
    copies = [int(c) for c in args.copies.split(",") if c]
    lengths = [int(n) for n in args.lengths.split(",") if n]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.loop_paths:
        loop_paths(args.loop_paths, args.repeats)
        return 0
    if args.compare_tree:
        compare_tree(args.compare_tree, args.hours * 3600.0, args.repeats)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fmus = export_oscillators(Path(tmp))
        if args.compare_with:
            compare(args.compare_with, fmus, copies, args.steps, h)
            return 0
        lag = build_lag(Path(tmp))
        cases: list[tuple[str, int, Callable[[], Any]]] = [
            (f"chain of {n} Lag FMUs", n, lambda n=n: chain_system(lag, n)) for n in lengths
        ]
        cases += [(f"{c} CoupledOscillators pair(s)", 2 * c, lambda c=c: oscillator_system(fmus, c)) for c in copies]
        table = overhead_table(cases, args.steps, h, args.repeats)
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    conc = [] if args.no_concentrator else concentrator(args.hours)
    if args.no_docs:
        return 0
    page = [
        "# Co-simulation master: benchmark",
        "",
        f"Generated by `scripts/bench_master.py` on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}, pinned to one core; load average "
        f"{load:.1f} at the start of the overhead runs and {load_end:.1f} at their end (the machine is shared). "
        f"CPU times, medians of {args.repeats} interleaved repetitions.",
        "",
        "## Master overhead",
        "",
        f"Each system runs {args.steps} macro steps of {h} s four ways on the same FMUs: a C loop making the same FMI "
        "calls as the master (fmi2SetReal of the connected inputs, fmi2DoStep, fmi2GetReal of the outputs, slave "
        "by slave; the floor), ecos (the C++ engine of the `ecospy` wheel, in-process, fixed step), and the master "
        "with its Python path and with its compiled coupling path. Overhead per slave per step = (time - C loop) / "
        "steps / slaves. The Lag FMU (tests/support/lag_fmu.py) is a one-state hand-written FMU without feedthrough; "
        "in the CoupledOscillators pairs (exported by the built-in exporter) Mass2 has direct feedthrough. ecos's "
        "own sequence of FMI calls differs (it reads and writes through its own connection model), so its figure "
        "is its whole cost above the same floor.",
        "",
        *table,
        "",
        "## The concentrator system",
        "",
        *(conc or ["Not run (--no-concentrator)."]),
        "",
    ]
    out = PROJECT_ROOT / "docs" / "orchestrator-benchmark.md"
    out.write_text("\n".join(page))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
