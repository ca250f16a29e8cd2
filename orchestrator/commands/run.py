"""Run a scenario and write a results directory: signals (CSV, .mat), events, metrics.json and plots.

SCENARIO is a path to a .toml (or .ssp) file or the name of a file in scenarios/ (without .toml); without it the
default scenario runs. Results go to results/<scenario>/<UTC time>/ (results/<scenario>/latest points to the
newest) unless --out names a directory. A failure mid-run exits non-zero with the time and slave; everything
recorded up to it stays on disk.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib
import logging
import os
import re
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from orchestrator.errors import O2TwinError, SimulationError, SystemDefinitionError

NAME = "run"
HELP = "run a scenario (default: scenarios/default.toml) and write its results directory"

log = logging.getLogger("o2twin.run")

RESULT_FILES = ("metrics.json", "signals.csv", "result.mat")
#: Everything a run may write; --overwrite removes these first so no stale file survives from an earlier run.
RUN_OUTPUTS = (*RESULT_FILES, "events.jsonl", "scenario.toml", "traceback.txt", "device_samples.csv", "plots")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", default=None, help="scenario name in scenarios/ or path to a .toml/.ssp")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default results/NAME/TIMESTAMP)")
    parser.add_argument("--overwrite", action="store_true", help="allow --out to name a directory that has results")
    parser.add_argument("--stop-time", type=float, default=None, help="override the scenario's stop time, s")
    parser.add_argument("--plant", default=None, metavar="URL", help="hardware in the loop: device URL for [plant]")
    parser.add_argument("--no-plots", action="store_true", help="do not write PNG plots")


def results_dir(name: str, out: Path | None, overwrite: bool) -> Path:
    """The directory a run writes to; never silently mixes two runs' files."""
    if out is not None:
        if out.exists() and not out.is_dir():
            raise SystemDefinitionError(f"--out {out}: exists and is not a directory")
        existing = [f for f in RESULT_FILES if (out / f).exists()]
        if existing and not overwrite:
            raise SystemDefinitionError(
                f"--out {out}: already holds results ({', '.join(existing)}); choose another directory or add --overwrite"
            )
        for name in RUN_OUTPUTS if existing else ():
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        out.mkdir(parents=True, exist_ok=True)
        return out
    base = Path("results") / name
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path, n = base / stamp, 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{n}"
    path.mkdir(parents=True)
    latest = base / "latest"
    try:
        if latest.is_symlink() or not latest.exists():
            tmp = base / f".latest-{os.getpid()}"
            tmp.symlink_to(path.name)
            os.replace(tmp, latest)
    except OSError as err:  # e.g. no symlinks on this file system: the timestamped dir is still there
        log.debug("could not update %s: %s", latest, err)
    return path


def _logs_around_progress_bar(progress: bool) -> contextlib.AbstractContextManager:
    """While a progress bar is shown, log lines are printed above it instead of through it."""
    if progress and sys.stderr.isatty():
        from tqdm.contrib.logging import logging_redirect_tqdm

        return logging_redirect_tqdm()
    return contextlib.nullcontext()


def _failing_slave(exc: BaseException) -> str | None:
    """The slave a failure came from: named by the error ("slave NAME ...", as the slaves and the master word
    theirs), else the innermost frame of the traceback whose `self` is a Slave (a Python block that raised)."""
    from orchestrator.slaves.base import Slave

    named = re.match(r"slave (\w+)\b", str(exc))
    if named:
        return named.group(1)
    name = None
    tb = exc.__traceback__
    while tb is not None:
        obj = tb.tb_frame.f_locals.get("self")
        if isinstance(obj, Slave):
            name = obj.name
        tb = tb.tb_next
    return name


def _call_summary(spec: Any, out_dir: Path, recorder: Any) -> dict[str, Any] | None:
    """Run the scenario's [metrics] summary function on what was recorded; None when there is none."""
    if spec.summary is None:
        return None
    from orchestrator.results.signals import CSV_NAME, read_signals_csv

    module_name, function_name = spec.summary.split(":")
    try:
        fn = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as err:
        log.error("[metrics] summary = '%s' cannot be loaded: %s", spec.summary, err)
        return {"error": f"cannot load {spec.summary}: {err}"}
    if not (out_dir / CSV_NAME).exists():
        return None
    signals = read_signals_csv(out_dir / CSV_NAME)
    if len(signals.get("time", ())) == 0:
        return None
    try:
        result = fn(signals, spec)
    except Exception as err:  # a broken metrics function must not hide the run's own results
        log.error("[metrics] summary %s failed: %s: %s", spec.summary, type(err).__name__, err)
        return {"error": f"{type(err).__name__}: {err}"}
    if not isinstance(result, dict):
        return {"error": f"{spec.summary} returned {type(result).__name__}, not a dict"}
    return result


def _run_metrics(
    spec: Any,
    meta: dict[str, Any],
    recorder: Any,
    status: str,
    error: str | None,
    failed_slave: str | None,
    failed_at: float | None,
) -> dict[str, Any]:
    """metrics.json content from the spec, the master's finish metadata and what the recorder wrote."""
    from orchestrator.results.metrics import package_versions
    from orchestrator.scenario import scenario_hash

    # how far the master got (may pass the last recorded point when recording is coarser than the step)
    sim_time = meta.get("time")
    if sim_time is None:
        sim_time = recorder.last_time if recorder.last_time is not None else spec.start_time
    slaves = meta.get("slaves", {})
    return {
        "status": status,
        "error": error,
        "failed_slave": failed_slave,
        "failed_at_s": failed_at,
        "scenario": {
            "name": spec.name,
            "description": spec.description,
            "source": spec.source,
            "hash": scenario_hash(spec),
            "seed": spec.seed,
        },
        "started_utc": None,
        "start_time_s": spec.start_time,
        "stop_time_s": spec.stop_time,
        "simulated_time_s": sim_time - spec.start_time,
        "wall_time_s": None,
        "real_time_factor": None,
        "recorded_points": recorder.rows,
        "master": {
            k: meta.get(k) for k in ("algorithm", "step", "extrapolation", "error_control", "tolerance", "loop_solver")
        },
        "steps": {k: meta.get(k) for k in ("macro_steps", "rejected_steps", "slave_steps", "loop_solves")},
        "slaves": slaves,
        "fmu_guids": {n: s["guid"] for n, s in slaves.items() if s.get("guid")},
        "slave_wall_time_s": {n: s.get("wall_s") for n, s in slaves.items()},
        "master_wall_time_s": meta.get("wall_time_s"),
        "versions": package_versions(),
    }


def execute(
    scenario: str | Path | None,
    out: Path | None = None,
    *,
    overwrite: bool = False,
    stop_time: float | None = None,
    plant: str | None = None,
    plots: bool = True,
    progress: bool = True,
) -> tuple[int, Path | None, dict[str, Any]]:
    """Run a scenario end to end; returns (exit code, results dir, metrics). User errors before the run raise."""
    from orchestrator.results.metrics import write_metrics
    from orchestrator.results.plots import check_plots, write_plots
    from orchestrator.results.recorder import ResultRecorder
    from orchestrator.results.signals import CSV_NAME, read_signals_csv
    from orchestrator.scenario import (
        apply_hooks,
        build_simulation,
        load_scenario,
        parameter_constants,
        scenario_text,
        signal_descriptions,
    )

    spec = load_scenario(scenario)
    if stop_time is not None:
        if not stop_time > spec.start_time:
            raise SystemDefinitionError(f"--stop-time {stop_time:g} must be after the start time {spec.start_time:g} s")
        dropped = [e for e in spec.events if e.time > stop_time]
        if dropped:
            log.info("--stop-time %g s: %d scheduled event(s) after it will not happen", stop_time, len(dropped))
        spec = dataclasses.replace(spec, stop_time=stop_time, events=[e for e in spec.events if e.time <= stop_time])
    spec = apply_hooks(spec, plant)

    sim = build_simulation(spec)  # every definition error surfaces here, before anything is written
    try:
        units = sim.metadata()["units"]
        if spec.plots:
            check_plots(spec.plots, units, spec.source)
        out_dir = results_dir(spec.name, out, overwrite)
    except BaseException:
        for slave in sim.system.slaves.values():
            slave.terminate()
        raise
    (out_dir / "scenario.toml").write_text(scenario_text(spec), encoding="utf-8")
    recorder = ResultRecorder(
        out_dir,
        progress=progress,
        descriptions=signal_descriptions(sim.system, list(units)),
        constants=parameter_constants(spec),
    )
    sim.recorders.append(recorder)
    watchdog = sim.system.slaves.get(spec.watchdog) if spec.watchdog else None
    if watchdog is not None and hasattr(watchdog, "event_listener"):
        watchdog.event_listener = recorder.log_event  # alarms land in the results' event log
    hil = None
    if spec.plant is not None:  # hardware in the loop: device samples next to the results, link figures in metrics
        hil = importlib.import_module("orchestrator.hil.plant")
        hil.attach_results(sim.system, out_dir)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    wall0 = time.perf_counter()
    status, error, failed_slave, failed_at = "ok", None, None, None
    exit_code = 0
    try:
        with _logs_around_progress_bar(progress):
            sim.run()
    except KeyboardInterrupt:
        status, error = "stopped", "interrupted (Ctrl-C)"
        exit_code = 130
    except O2TwinError as err:
        status, error = "failed", str(err)
        failed_slave, exit_code = _failing_slave(err), err.exit_code
    except Exception as err:  # a Python block or adapter that raised: a bug, reported with its traceback on disk
        status, error = "failed", f"{type(err).__name__}: {err}"
        failed_slave, exit_code = _failing_slave(err), SimulationError.exit_code
        (out_dir / "traceback.txt").write_text("".join(traceback.format_exception(err)), encoding="utf-8")
    finally:
        if status != "ok":
            failed_at = sim.time if sim.initialised else spec.start_time
            try:
                sim.finish(status="failed" if status == "failed" else "stopped", error=error)
            except Exception:  # finishing is best effort after a failure
                log.debug("finish after failure raised", exc_info=True)
        if not sim.initialised:  # failed while setting up the slaves: release them, leave empty signal files
            for slave in sim.system.slaves.values():
                try:
                    slave.terminate()
                except Exception:  # best effort after the real error
                    log.debug("terminating %s failed", slave.name, exc_info=True)
        if recorder.signals is None:
            recorder.on_start(list(units), sim.metadata())
        if error is not None:
            recorder.log_event(failed_at if failed_at is not None else spec.start_time, "run", f"{status}: {error}")
        recorder.close()
        wall = time.perf_counter() - wall0
        metrics = _run_metrics(
            spec, dict(recorder.finish_metadata or sim.metadata()), recorder, status, error, failed_slave, failed_at
        )
        metrics.update(started_utc=started, wall_time_s=wall)
        metrics["real_time_factor"] = metrics["simulated_time_s"] / wall if wall > 0 else None
        if hil is not None:
            try:
                metrics.update(hil.hil_metrics(sim.system))
            except Exception as err:  # link figures are extra; never lose the run's metrics over them
                log.warning("hardware-in-the-loop figures unavailable: %s", err)
        if status != "stopped" or recorder.rows:
            summary = _call_summary(spec, out_dir, recorder)
            if summary is not None:
                metrics["summary"] = summary
        write_metrics(out_dir, metrics)
        if plots and recorder.rows > 0:
            try:
                data = read_signals_csv(out_dir / CSV_NAME)
                write_plots(out_dir, data, recorder.units, spec.plots)
            except Exception as err:  # plots are a convenience; their failure must not cost the results
                log.warning("plots could not be written: %s", err)
    if status == "failed":
        where = f" in slave {failed_slave}" if failed_slave and not error.startswith(f"slave {failed_slave}") else ""
        at = f" at t = {failed_at:.6g} s" if failed_at is not None else ""
        log.error("run failed%s%s: %s", at, where, error)
        log.error("results up to the failure are in %s", out_dir)
    return exit_code, out_dir, metrics


def print_summary(out_dir: Path, metrics: dict[str, Any], stream=None) -> None:
    """The short report `o2twin run` prints at the end."""
    stream = stream or sys.stdout
    rtf = metrics.get("real_time_factor")
    lines = [
        f"scenario   {metrics['scenario']['name']}",
        f"status     {metrics['status']}" + (f" ({metrics['error']})" if metrics.get("error") else ""),
        f"sim time   {metrics['simulated_time_s']:.6g} s of {metrics['stop_time_s'] - metrics['start_time_s']:.6g} s",
        f"wall time  {metrics['wall_time_s']:.3f} s",
        f"RTF        {rtf:.1f}x real time" if rtf else "RTF        -",
    ]
    for key, value in (metrics.get("summary") or {}).items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<10} {shown}")
    lines.append(f"results    {out_dir}")
    print("\n".join(lines), file=stream)


def run(args: argparse.Namespace) -> int:
    quiet = bool(getattr(args, "quiet", False))
    code, out_dir, metrics = execute(
        args.scenario,
        args.out,
        overwrite=args.overwrite,
        stop_time=args.stop_time,
        plant=args.plant,
        plots=not args.no_plots,
        progress=not quiet,
    )
    print_summary(out_dir, metrics)
    return code
