"""The one run pipeline: scenario -> checked System -> steppable Simulation -> results directory -> RunResult.

``run()`` runs a scenario to its end; ``open_run()`` gives a RunSession for callers that step it themselves (the
dashboard, the Gymnasium environment). The CLI, the benchmarks, the tests and the features built on runs (compare,
sweep, calibrate, train) all come through here. Definition errors raise before any results directory is made; a
failure during the run is recorded (status, slave, time) and every result written up to it stays on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import O2TwinError, SimulationError, SlaveCrash, SystemDefinitionError
from orchestrator.results.events import read_events
from orchestrator.results.files import ResultWriteError, write_text_atomic
from orchestrator.results.metrics import package_versions, write_metrics
from orchestrator.results.plots import check_plots, write_plots
from orchestrator.results.recorder import ResultRecorder
from orchestrator.results.signals import CSV_NAME, read_signal_units, read_signals_csv
from orchestrator.scenario.build import (
    apply_hooks,
    build_simulation,
    parameter_values,
    signal_descriptions,
)
from orchestrator.scenario.load import load_scenario, scenario_hash, scenario_text
from orchestrator.scenario.overrides import apply_overrides
from orchestrator.scenario.registry import BlockRegistry, SummaryFunction
from orchestrator.scenario.spec import ScenarioSpec

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from orchestrator.cosim.master.simulation import Simulation
    from orchestrator.cosim.master.start_state import StartState

log = logging.getLogger(__name__)

RESULT_FILES = ("metrics.json", "signals.csv", "result.mat")
#: Everything a run may write; overwrite=True removes these first so no stale file survives from an earlier run.
RUN_OUTPUTS = (
    *RESULT_FILES,
    "events.jsonl",
    "scenario.toml",
    "traceback.txt",
    "device_samples.csv",
    "plots",
    ".o2twin-reserve",
)
RESULTS_ROOT = Path("results")


def results_dir(name: str, out: Path | None, overwrite: bool) -> Path:
    """The directory a run writes to; never silently mixes two runs' files."""
    if out is not None:
        return _explicit_results_dir(Path(out), overwrite)
    base = RESULTS_ROOT / name
    if Path(name).name != name or name in ("", ".", "..") or "\0" in name:  # parse_scenario already refuses these
        raise SystemDefinitionError(f"scenario name {name!r} cannot name a folder under {RESULTS_ROOT}/")
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


def _explicit_results_dir(out: Path, overwrite: bool) -> Path:
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


def registry_for(spec: ScenarioSpec, allow_modules: Sequence[str] = ()) -> BlockRegistry:
    """The block registry of a run: installed entry points, plus the modules the user allowed (found on the Python
    path or beside the scenario file)."""
    folders = [Path(spec.source).resolve().parent] if spec.source else []
    return BlockRegistry(allow_modules, folders)


def prepare_spec(
    scenario: ScenarioSpec | str | Path | None,
    *,
    stop_time: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    plant: str | None = None,
    registry: BlockRegistry | None = None,
) -> ScenarioSpec:
    """The spec a run uses: loaded, with --set overrides and --stop-time applied, the blocks' scenario checks
    (the safety watchdog's topology check), then hardware in the loop ([plant] or --plant replaces the plant) and
    the checks again on the system with the device in it."""
    spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
    if overrides:
        spec = apply_overrides(spec, overrides)
    if stop_time is not None:
        if not stop_time > spec.start_time:
            raise SystemDefinitionError(f"--stop-time {stop_time:g} must be after the start time {spec.start_time:g} s")
        dropped = [e for e in spec.events if e.time > stop_time]
        if dropped:
            log.info("--stop-time %g s: %d scheduled event(s) after it will not happen", stop_time, len(dropped))
        spec = dataclasses.replace(spec, stop_time=stop_time, events=[e for e in spec.events if e.time <= stop_time])
    registry = registry if registry is not None else registry_for(spec)
    spec = apply_hooks(spec, registry)
    if plant is not None or spec.plant is not None:
        # and again on the system with the device in it: the device's actuators are what the watchdog must guard,
        # whatever the slaves it replaced were (a block stand-in is no FMU the first check would know as the plant)
        spec = apply_hooks(_apply_plant(spec, plant), registry)
    return spec


def _apply_plant(spec: ScenarioSpec, plant_url: str | None) -> ScenarioSpec:
    """Hardware in the loop: the device at the URL ([plant] device or --plant) replaces the plant slaves."""
    from orchestrator.hil.host.plant import apply_plant

    url = plant_url if plant_url is not None else spec.plant.device if spec.plant is not None else ""
    if spec.plant is not None:
        samples_file(spec)  # a bad samples_path is a definition error, before any device is opened
    log.info("hardware in the loop: %s replaces %s", url, ", ".join(spec.plant.replaces) if spec.plant else "the plant")
    return apply_plant(spec, url)


def samples_file(spec: ScenarioSpec) -> str:
    """The file name of the device samples ([plant] samples_path): always written inside the results directory."""
    from orchestrator.hil.host.plant import SAMPLES_FILE

    value = spec.plant.options.get("samples_path") if spec.plant is not None else None
    if value is None:
        return SAMPLES_FILE
    where = f"{spec.source or '<scenario>'}: [plant]"
    if not isinstance(value, str) or not value.endswith(".csv") or Path(value).name != value or value.startswith("."):
        raise SystemDefinitionError(
            f"{where}: samples_path = {value!r} must be a plain file name ending in .csv (written inside the run's "
            "results directory), not a path"
        )
    return value


@dataclasses.dataclass
class RunResult:
    """What a finished (or failed, or stopped) run left: status, metrics and the files in ``out_dir``."""

    status: str
    exit_code: int
    out_dir: Path
    metrics: dict[str, Any]
    error: str | None = None
    failed_slave: str | None = None
    failed_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def paths(self) -> dict[str, Path]:
        """The files this run wrote, by name (signals.csv, result.mat, events.jsonl, metrics.json, plots/...)."""
        return {p.relative_to(self.out_dir).as_posix(): p for p in sorted(self.out_dir.rglob("*")) if p.is_file()}

    @property
    def events(self) -> list[dict[str, Any]]:
        """The event log (events.jsonl) as a list of dicts: time_s, source, text and extra fields."""
        path = self.out_dir / "events.jsonl"
        return read_events(path) if path.exists() else []

    @functools.cached_property
    def signals(self) -> pd.DataFrame:
        """Every recorded signal as a pandas DataFrame indexed by time (s), columns "slave.variable" in SI units."""
        import pandas as pd

        data = read_signals_csv(self.out_dir / CSV_NAME)
        frame = pd.DataFrame({k: v for k, v in data.items() if k != "time"}, index=data.get("time"))
        frame.index.name = "time"
        return frame

    @property
    def units(self) -> dict[str, str]:
        """The unit of every column of ``signals`` (signals.csv's units line; "" where none is declared)."""
        return read_signal_units(self.out_dir / CSV_NAME)

    def plot(self, signals: list[str] | None = None) -> Figure:
        """A quick figure of the given signals (default: every recorded signal) against time."""
        import matplotlib.pyplot as plt

        frame = self.signals if signals is None else self.signals[signals]
        fig, ax = plt.subplots(figsize=(10, 5))
        frame.plot(ax=ax)
        ax.set_xlabel("time (s)")
        ax.set_title(f"{self.metrics.get('scenario', {}).get('name', '')}: {self.status}")
        return fig


class RunSession:
    """A run in progress: the built Simulation and the recorder writing its results directory.

    Step it with ``advance()`` (or drive ``simulation`` directly); ``close()`` writes metrics.json and plots and
    returns the RunResult. Use it as a context manager so a failure still closes the files.
    """

    def __init__(
        self,
        spec: ScenarioSpec,
        out: Path | None,
        *,
        overwrite: bool,
        plots: bool,
        progress: bool,
        registry: BlockRegistry | None = None,
        start_state: StartState | None = None,
    ) -> None:
        self.spec = spec
        registry = registry if registry is not None else registry_for(spec)
        self._summary: SummaryFunction | None = None
        if spec.summary is not None:
            self._summary = registry.summary(spec.summary, f"{spec.source or '<scenario>'}: [metrics]")
        self.simulation: Simulation = build_simulation(spec, registry=registry)  # every definition error surfaces here
        sim = self.simulation
        if start_state is not None:
            sim.start_from(start_state)
        try:
            self.units = sim.metadata()["units"]
            if spec.plots:
                check_plots(spec.plots, self.units, spec.source)
            self.out_dir = results_dir(spec.name, out, overwrite)
            write_text_atomic(self.out_dir / "scenario.toml", scenario_text(spec))
            self.recorder = ResultRecorder(
                self.out_dir,
                progress=progress,
                descriptions=signal_descriptions(sim.system, list(self.units)),
                constants=functools.partial(parameter_values, sim.system, spec),
            )
            self._reserve = _reserve_space(self.out_dir)
        except BaseException:
            for slave in sim.system.slaves.values():
                slave.terminate()
            raise
        sim.recorders.append(self.recorder)
        self._hil = None
        if spec.plant is not None:  # hardware in the loop: device samples next to the results, link figures
            from orchestrator.hil.host import plant as hil

            self._hil = hil
            for device in hil.devices_in(sim.system):  # never a path from the scenario: always inside out_dir
                device.link.opt.samples_path = str(self.out_dir / samples_file(spec))
        self._plots = plots
        self._progress = progress
        self._started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._wall0 = time.perf_counter()
        self.result: RunResult | None = None

    def __enter__(self) -> RunSession:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.result is None:
            self.close(exc)
        return isinstance(exc, O2TwinError | KeyboardInterrupt) or (exc is not None and isinstance(exc, Exception))

    def advance(self, until: float | None = None, callback: Callable[[Simulation], Any] | None = None) -> None:
        """Run the simulation to ``until`` (default: the stop time); errors propagate to the caller.

        Meanwhile SIGTERM and SIGHUP end the run like Ctrl-C (see ``stop_on_signals``).
        """
        with stop_on_signals(), _logs_around_progress_bar(self._progress):
            self.simulation.run(until=until, callback=callback)

    def close(self, exc: BaseException | None = None) -> RunResult:
        """Finish the run (as failed or stopped when exc is given), write metrics.json and plots; idempotent.

        Signals are held back meanwhile, so a second Ctrl-C or SIGTERM cannot cut the ending short.
        """
        if self.result is not None:
            return self.result
        with signals_deferred():
            self.result = self._close(exc)
        return self.result

    def _close(self, exc: BaseException | None) -> RunResult:
        status, error, failed_slave, exit_code = _outcome(exc)
        sim, spec, recorder = self.simulation, self.spec, self.recorder
        if status == "ok" and sim.finish_status == "terminated":
            status = "terminated"  # a slave asked to stop (fmi2Terminated): a clean end before the stop time
        elif status == "ok" and sim.initialised and sim.time < spec.stop_time:
            status = "stopped"  # the caller closed the session before the stop time
        if exc is not None and (not isinstance(exc, KeyboardInterrupt | O2TwinError) or isinstance(exc, SlaveCrash)):
            self._write_traceback(exc)
        failed_at = None
        if status not in ("ok", "terminated"):
            failed_at = sim.time if sim.initialised else spec.start_time
            try:
                sim.finish(status="failed" if status == "failed" else "stopped", error=error)
            except Exception:  # finishing is best effort after a failure
                log.debug("finish after failure raised", exc_info=True)
        self._release_slaves()
        if recorder.signals is None and recorder.write_error is None:
            recorder.on_start(list(self.units), sim.metadata())
        recorder.close_signals()
        self._reserve.unlink(missing_ok=True)  # room for the ending (events, metrics.json) even on a full disk
        write_error = recorder.write_error
        if write_error is not None and status != "failed":  # the results are incomplete: the run did not succeed
            status, error, exit_code = "failed", str(write_error), write_error.exit_code
            failed_at = sim.time if sim.initialised else spec.start_time
        if error is not None:
            recorder.log_event(failed_at if failed_at is not None else spec.start_time, "run", f"{status}: {error}")
        recorder.close()
        metrics = self._metrics(status, error, failed_slave, failed_at)
        try:
            write_metrics(self.out_dir, metrics)
        except ResultWriteError as err:
            if status != "failed":
                status, error, exit_code, failed_at = "failed", str(err), err.exit_code, sim.time
                metrics.update(status=status, error=error)
            else:
                log.error("%s", err)
        if self._plots and recorder.rows > 0 and recorder.write_error is None:
            try:
                write_plots(self.out_dir, read_signals_csv(self.out_dir / CSV_NAME), recorder.units, spec.plots)
            except Exception as err:  # plots are a convenience; their failure must not cost the results
                log.warning("plots could not be written: %s", err)
        if status == "failed":
            self._report_failure(str(error), failed_slave, failed_at)
        return RunResult(status, exit_code, self.out_dir, metrics, error, failed_slave, failed_at)

    def _write_traceback(self, exc: BaseException) -> None:
        """traceback.txt for a bug (an exception that is not a user error): whole, or not at all."""
        try:
            write_text_atomic(self.out_dir / "traceback.txt", "".join(traceback.format_exception(exc)))
        except ResultWriteError as err:
            log.error("%s", err)

    def _release_slaves(self) -> None:
        """Failed while setting up the slaves: release them (the master finishes only initialised runs)."""
        if self.simulation.initialised:
            return
        for slave in self.simulation.system.slaves.values():
            try:
                slave.terminate()
            except Exception:  # best effort after the real error
                log.debug("terminating %s failed", slave.name, exc_info=True)

    def _report_failure(self, error: str, failed_slave: str | None, failed_at: float | None) -> None:
        where = f" in slave {failed_slave}" if failed_slave and not error.startswith(f"slave {failed_slave}") else ""
        at = f" at t = {failed_at:.6g} s" if failed_at is not None else ""
        log.error("run failed%s%s: %s", at, where, error)
        log.error("results up to the failure are in %s", self.out_dir)

    def _metrics(self, status: str, error: str | None, failed_slave: str | None, failed_at: float | None) -> dict:
        wall = time.perf_counter() - self._wall0
        meta = dict(self.recorder.finish_metadata or self.simulation.metadata())
        metrics = run_metrics(self.spec, meta, self.recorder, status, error, failed_slave, failed_at)
        metrics.update(started_utc=self._started, wall_time_s=wall)
        metrics["real_time_factor"] = metrics["simulated_time_s"] / wall if wall > 0 else None
        if self._hil is not None:
            try:
                metrics.update(self._hil.hil_metrics(self.simulation.system))
            except Exception as err:  # link figures are extra; never lose the run's metrics over them
                log.warning("hardware-in-the-loop figures unavailable: %s", err)
        if status != "stopped" or self.recorder.rows:
            summary = _call_summary(self._summary, self.spec, self.out_dir)
            if summary is not None:
                metrics["summary"] = summary
        return metrics


def open_run(
    scenario: ScenarioSpec | str | Path | None = None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    stop_time: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    plant: str | None = None,
    plots: bool = True,
    progress: bool = False,
    allow_modules: Sequence[str] = (),
    start_state: StartState | None = None,
) -> RunSession:
    """Build a scenario's simulation and its results directory; step it through the returned RunSession.

    ``allow_modules`` names Python modules the scenario may take blocks and summary functions from besides the
    registered ones (as `o2twin run --allow-module`); see orchestrator.scenario.registry. ``start_state``
    (orchestrator.cosim.master.start_state) starts the FMUs from serialised states taken at the run's start time.
    """
    spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
    registry = registry_for(spec, allow_modules)
    spec = prepare_spec(spec, stop_time=stop_time, overrides=overrides, plant=plant, registry=registry)
    return RunSession(
        spec,
        Path(out) if out is not None else None,
        overwrite=overwrite,
        plots=plots,
        progress=progress,
        registry=registry,
        start_state=start_state,
    )


def run(
    scenario: ScenarioSpec | str | Path | None = None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    stop_time: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    plant: str | None = None,
    plots: bool = True,
    progress: bool = False,
    allow_modules: Sequence[str] = (),
    start_state: StartState | None = None,
) -> RunResult:
    """Run a scenario (a spec, a .toml/.ssp path or a name in scenarios/; None: the default) to its end.

    ``overrides`` maps "slave.parameter" to a value (as `o2twin run --set`); ``allow_modules`` and
    ``start_state`` as in open_run.
    Definition errors raise
    O2TwinError before anything is written; a failure or Ctrl-C during the run is recorded in the returned
    RunResult (status "failed" or "stopped", exit_code non-zero) with every result up to it on disk.
    """
    with stop_on_signals():  # also while building: SIGTERM then stops with a message, not a traceback
        session = open_run(
            scenario,
            out=out,
            overwrite=overwrite,
            stop_time=stop_time,
            overrides=overrides,
            plant=plant,
            plots=plots,
            progress=progress,
            allow_modules=allow_modules,
            start_state=start_state,
        )
        with session:
            session.advance()
        return session.close()


#: Bytes set aside in the results directory while a run goes on, freed to write its ending on a full disk.
RESERVE_BYTES = 64 * 1024
RESERVE_NAME = ".o2twin-reserve"


def _reserve_space(out_dir: Path) -> Path:
    """A file of RESERVE_BYTES (really written, so the space is taken) that the run's ending deletes."""
    path = out_dir / RESERVE_NAME
    try:
        with open(path, "wb") as f:
            f.write(bytes(RESERVE_BYTES))
    except OSError as err:
        path.unlink(missing_ok=True)
        raise ResultWriteError(path, err) from None
    return path


def _outcome(exc: BaseException | None) -> tuple[str, str | None, str | None, int]:
    """(status, error text, failing slave, exit code) of a run that ended with exc (None: it completed)."""
    if exc is None:
        return "ok", None, None, 0
    if isinstance(exc, RunInterrupted):
        return "stopped", f"terminated ({exc.signal_name})", None, exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "stopped", "interrupted (Ctrl-C)", None, 130
    if isinstance(exc, O2TwinError):
        return "failed", str(exc), getattr(exc, "slave", None), exc.exit_code
    # a bug outside any slave (the master raises SlaveCrash for a slave's), reported with its traceback on disk
    return "failed", f"{type(exc).__name__}: {exc}", None, SimulationError.exit_code


class RunInterrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a run: it ends as Ctrl-C does (status "stopped"), exit code 128 + the signal."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"terminated by {self.signal_name}")


#: Signals that end a run the way Ctrl-C does.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise RunInterrupted (a KeyboardInterrupt) while the block runs; a file size limit
    (SIGXFSZ) becomes a write error instead of killing the process. Only in the main thread (elsewhere Python cannot
    handle signals); the previous handlers come back afterwards."""
    if not _in_main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise RunInterrupted(signum)

    handlers: dict[Any, Any] = {sig: stop for sig in STOP_SIGNALS}
    if hasattr(signal, "SIGXFSZ"):
        handlers[signal.SIGXFSZ] = signal.SIG_IGN
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while the block runs (writing a run's ending); the last one held is
    delivered again afterwards, to the handler there was before, so an interrupted caller still stops."""
    if not _in_main_thread():
        yield
        return
    held: list[int] = []
    sigs = (signal.SIGINT, *STOP_SIGNALS)
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held:
        signal.raise_signal(held[-1])


def _logs_around_progress_bar(progress: bool) -> contextlib.AbstractContextManager:
    """While a progress bar is shown, log lines are printed above it instead of through it."""
    if progress and sys.stderr.isatty():
        from tqdm.contrib.logging import logging_redirect_tqdm

        return logging_redirect_tqdm()
    return contextlib.nullcontext()


def _call_summary(fn: SummaryFunction | None, spec: ScenarioSpec, out_dir: Path) -> dict[str, Any] | None:
    """Run the scenario's [metrics] summary function on what was recorded; None when there is none."""
    if fn is None or not (out_dir / CSV_NAME).exists():
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


def run_metrics(
    spec: ScenarioSpec,
    meta: dict[str, Any],
    recorder: ResultRecorder,
    status: str,
    error: str | None,
    failed_slave: str | None,
    failed_at: float | None,
) -> dict[str, Any]:
    """metrics.json content from the spec, the master's finish metadata and what the recorder wrote."""
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
