"""Standard PNG plots of a run: the groups of signals a scenario declares ([[plots]]), or one figure per slave, and
one overview page per run.

Values are recorded in SI; plots show what users read on a device (bar(g), degC, L/min, %) through the
conversions in orchestrator/units.py. Every page names the scenario and the run; legends give each signal's
description and display unit. A plot is decorated by what it shows (docs/results.md, "Plots"):

* SpO2: the titrator's target band, the warm-up, and the scenario's events as numbered markers;
* O2 purity: the watchdog's low-purity alarm line;
* pressures: the feed-pressure setpoint, the watchdog's limits and the relief valve's setting, and a zoom on the
  last few PSA cycles (a long run is otherwise a solid band);
* temperatures: the thermal trip and its reset line;
* the watchdog's alarm_code: one row per alarm condition, by name, coloured by priority;
* the compressor duty: the controller's request against what the watchdog let through, the difference shaded.

The context (scenario, run, events, limits) is read from the run's own files in the results directory
(metrics.json, scenario.toml, events.jsonl: the watchdog logs each alarm's start and end with its name and
priority); nothing in them is executed.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.errors import SystemDefinitionError
from orchestrator.results.events import read_events
from orchestrator.scenario.spec import PlotSpec
from orchestrator.units import DISPLAY_UNITS, P_ATM_PA

log = logging.getLogger(__name__)

PLOTS_DIR = "plots"
OVERVIEW_FILE = "overview.png"
#: SI units converted automatically when a plot names no unit ("1" is left alone: duty, counts and fractions
#: share it, so "%" must be asked for).
AUTO_CONVERT = ("Pa", "K", "m3/s")
SPO2_VARS = ("SpO2", "sensor_SpO2", "spo2")
PURITY_VARS = ("y_O2_product", "sensor_O2")
RELIEF_SETTING_BARG = 2.41  # models/O2Twin/Components/ReliefValve.mo
PRIORITY_COLOURS = {"high": "tab:red", "medium": "tab:orange", "low": "tab:olive"}
#: What the concentrator's signals are, for legends when the scenario gives no description.
DESCRIPTIONS = {
    "SpO2": "arterial SpO2 (patient)",
    "sensor_SpO2": "SpO2 at the probe site",
    "spo2": "oximeter display",
    "y_O2_product": "delivered O2 purity",
    "sensor_O2": "O2 sensor reading",
    "p_feed": "feed pressure",
    "sensor_p_feed": "feed pressure reading",
    "p_bed_A": "bed A pressure",
    "p_bed_B": "bed B pressure",
    "p_tank": "product tank pressure",
    "p_setpoint": "feed pressure setpoint",
    "Q_set": "flow setpoint",
    "Q_product": "delivered flow",
    "T_head": "compressor head temperature",
    "T_discharge": "compressor outlet air",
    "power": "compressor electrical power",
    "duty": "compressor duty",
    "alarm_level": "highest alarm priority (0-3)",
    "pid.duty": "duty requested by the controller",
    "watchdog.duty": "duty applied (after the watchdog)",
    "watchdog.Q_set": "flow setpoint applied (after the watchdog)",
}


def _identity(x: Any) -> Any:
    return x


def display_conversion(si_unit: str | None, display: str | None) -> tuple[str, Callable]:
    """(label unit, conversion) for a signal in si_unit shown as display (None: automatic, "SI": none).

    Raises SystemDefinitionError when display cannot be reached from si_unit.
    """
    if display == "SI" or (display is None and si_unit not in AUTO_CONVERT):
        return si_unit or "", _identity
    if display is None and si_unit is not None:
        return DISPLAY_UNITS[si_unit]
    for si, (shown, fn) in DISPLAY_UNITS.items():
        if shown == display:
            if si_unit not in (si, None, ""):
                raise SystemDefinitionError(f"cannot show a signal in '{si_unit}' as '{display}' (needs '{si}')")
            return shown, fn
    raise SystemDefinitionError(f"unknown display unit '{display}'")


def check_plots(plots: Sequence[PlotSpec], units: Mapping[str, str | None], source: str = "") -> None:
    """Check before a run that every plotted signal is recorded and convertible to the plot's unit."""
    for i, p in enumerate(plots, 1):
        for s in p.signals:
            where = f"{source or '<scenario>'}: [[plots]] #{i} '{p.title}'"
            if s not in units:
                raise SystemDefinitionError(f"{where}: signal '{s}' is not recorded; add it to [outputs] record")
            try:
                display_conversion(units[s], p.unit)
            except SystemDefinitionError as err:
                raise SystemDefinitionError(f"{where}: signal '{s}': {err}") from None


def _file_name(title: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower() or "plot"
    return f"{stem}.png"


def _var(signal: str) -> str:
    return signal.split(".", 1)[-1]


def default_plots(signals: Sequence[str], units: Mapping[str, str | None]) -> list[PlotSpec]:
    """One plot per slave and unit for the recorded signals (used when a scenario declares no [[plots]])."""
    groups: dict[tuple[str, str], list[str]] = {}
    for s in signals:
        slave = s.split(".", 1)[0]
        groups.setdefault((slave, units.get(s) or ""), []).append(s)
    plots = []
    for (slave, unit), names in groups.items():
        title = f"{slave} [{unit}]" if unit else slave
        plots.append(PlotSpec(title=title, signals=names, file=_file_name(f"{slave}_{unit or 'other'}")))
    return plots


# ---------------------------------------------------------------------------------------------------------------
# the run's context, from its results directory


@dataclass
class RunContext:
    """What the plots say about the run beyond its signals (all optional: a bare directory gives defaults)."""

    scenario: str = ""
    run_id: str = ""
    events: list[tuple[float, str]] = field(default_factory=list)  #: (time s, description) of scheduled events
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  #: slave -> parameters, from scenario.toml
    blocks: dict[str, str] = field(default_factory=dict)  #: slave -> block reference
    #: alarm name -> (priority, [(start s, end s), ...]) from the watchdog's entries in events.jsonl
    alarms: dict[str, tuple[str, list[tuple[float, float]]]] = field(default_factory=dict)

    @classmethod
    def from_dir(cls, out_dir: Path) -> RunContext:
        ctx = cls(run_id=out_dir.name)
        metrics = out_dir / "metrics.json"
        if metrics.exists():
            import json

            try:
                meta = json.loads(metrics.read_text(encoding="utf-8"))
                ctx.scenario = str(meta.get("scenario", {}).get("name", ""))
                ctx.run_id = f"{out_dir.name} ({meta.get('started_utc', '')})".replace(" ()", "")
            except (ValueError, OSError) as err:
                log.debug("plots: metrics.json unreadable: %s", err)
        scenario = out_dir / "scenario.toml"
        if scenario.exists():
            try:
                raw = tomllib.loads(scenario.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, OSError) as err:
                log.debug("plots: scenario.toml unreadable: %s", err)
                raw = {}
            ctx.scenario = ctx.scenario or str(raw.get("scenario", {}).get("name", ""))
            for name, table in raw.get("slaves", {}).items():
                if isinstance(table, dict):
                    ctx.parameters[name] = dict(table.get("parameters", {}))
                    if "block" in table:
                        ctx.blocks[name] = str(table["block"])
            for ev in raw.get("events", []):
                if isinstance(ev, dict) and isinstance(ev.get("time"), int | float):
                    entry = (float(ev["time"]), str(ev.get("description", "")))
                    if entry not in ctx.events:  # one entry per action of the same event
                        ctx.events.append(entry)
        if (out_dir / "events.jsonl").exists():
            ctx.alarms = _alarm_spans(read_events(out_dir / "events.jsonl"))
        return ctx

    def block_parameter(self, block_class: str, name: str, default: float) -> float:
        for slave, ref in self.blocks.items():
            if ref.endswith(f":{block_class}") and name in self.parameters.get(slave, {}):
                value = self.parameters[slave][name]
                if isinstance(value, int | float):
                    return float(value)
        return default

    @property
    def p_ambient_pa(self) -> float:
        return self.block_parameter("SafetyWatchdog", "p_ambient", P_ATM_PA)

    def title(self, what: str) -> str:
        head = " | ".join(
            x for x in (self.scenario and f"scenario {self.scenario}", self.run_id and f"run {self.run_id}") if x
        )
        return f"{what}\n{head}" if head else what


# ---------------------------------------------------------------------------------------------------------------
# drawing


def _label(signal: str, unit: str, descriptions: Mapping[str, str]) -> str:
    text = descriptions.get(signal) or DESCRIPTIONS.get(signal) or DESCRIPTIONS.get(_var(signal), "")
    unit_text = f" [{unit}]" if unit else ""
    return f"{text}{unit_text} ({signal})" if text else f"{signal}{unit_text}"


def _draw_lines(ax, t, data, units, p: PlotSpec, present, descriptions, max_lines: int) -> set[str]:
    shown_units = set()
    for s in present[:max_lines]:
        try:
            label_unit, convert = display_conversion(units.get(s), p.unit)
        except SystemDefinitionError as err:
            log.warning("plot '%s': %s; shown in SI", p.title, err)
            label_unit, convert = units.get(s) or "", _identity
        ax.plot(t, convert(np.asarray(data[s], dtype=float)), label=_label(s, label_unit, descriptions), linewidth=1.1)
        shown_units.add(label_unit)
    return shown_units


def _events(ax, ctx: RunContext, t_max: float) -> None:
    """Numbered vertical markers at the scenario's events; the numbers are explained under the plot."""
    shown = [(t, d) for t, d in ctx.events if t <= t_max]
    for k, (te, _) in enumerate(shown, 1):
        ax.axvline(te, color="0.4", linestyle=":", linewidth=0.9)
        ax.annotate(str(k), (te, 1.0), xycoords=("data", "axes fraction"), fontsize=7, ha="center", va="bottom")
    if shown:
        legend = "; ".join(f"{k}: {d or 'event'} ({te:g} s)" for k, (te, d) in enumerate(shown, 1))
        ax.figure.text(0.01, 0.005, "events " + legend, fontsize=6.5, wrap=True, va="bottom")


def _decorate_spo2(ax, ctx: RunContext, t: np.ndarray) -> None:
    low = 100 * ctx.block_parameter("FuzzyTitrator", "spo2_target_low", 0.88)
    high = 100 * ctx.block_parameter("FuzzyTitrator", "spo2_target_high", 0.92)
    ax.axhspan(low, high, color="tab:green", alpha=0.12, label=f"target {low:.0f}-{high:.0f} %")
    warmup = min(ctx.block_parameter("SafetyWatchdog", "purity_grace_s", 240.0), 0.5 * float(t[-1] - t[0]))
    ax.axvspan(t[0], t[0] + warmup, color="0.85", alpha=0.5, label=f"warm-up ({warmup:g} s, not counted)")
    spo2_low = 100 * ctx.block_parameter("SafetyWatchdog", "spo2_low", 0.85)
    ax.axhline(spo2_low, color="tab:red", linestyle="--", linewidth=0.8, label=f"low-SpO2 alarm {spo2_low:.0f} %")


def _decorate_purity(ax, ctx: RunContext) -> None:
    limit = 100 * ctx.block_parameter("SafetyWatchdog", "purity_min", 0.87)
    ax.axhline(limit, color="tab:red", linestyle="--", linewidth=0.9, label=f"low-purity alarm {limit:.0f} %")


def _decorate_pressure(ax, ctx: RunContext, unit: str) -> None:
    if unit != "bar(g)":
        return
    for value, text, style in (
        (ctx.block_parameter("SafetyWatchdog", "p_max_barg", 3.0), "watchdog: duty reduced above", "--"),
        (ctx.block_parameter("SafetyWatchdog", "p_hard_max_barg", 3.5), "watchdog: compressor off above", "-"),
        (RELIEF_SETTING_BARG, "relief valve opens", "-."),
    ):
        ax.axhline(value, color="tab:red", linestyle=style, linewidth=0.8, label=f"{text} {value:g} bar(g)")


def _decorate_temperature(ax, ctx: RunContext) -> None:
    trip = ctx.block_parameter("SafetyWatchdog", "t_max_degc", 85.0)
    reset = trip - ctx.block_parameter("SafetyWatchdog", "t_reset_hysteresis_k", 15.0)
    ax.axhline(trip, color="tab:red", linestyle="--", linewidth=0.9, label=f"thermal trip {trip:g} degC")
    ax.axhline(reset, color="tab:blue", linestyle=":", linewidth=0.9, label=f"reset allowed below {reset:g} degC")


def _alarm_spans(events: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, list[tuple[float, float]]]]:
    """Alarm name -> (priority, [(start, end)]) from the event log's entries that carry name, priority, active."""
    spans: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    open_at: dict[str, float] = {}
    for e in events:
        name, active = e.get("name"), e.get("active")
        if not isinstance(name, str) or not isinstance(active, bool) or not isinstance(e.get("time"), int | float):
            continue
        priority = str(e.get("priority", ""))
        spans.setdefault(name, (priority, []))
        if active:
            open_at.setdefault(name, float(e["time"]))
        elif name in open_at:
            spans[name][1].append((open_at.pop(name), float(e["time"])))
    for name, start in open_at.items():
        spans[name][1].append((start, float("inf")))  # still active at the end
    return {k: v for k, v in spans.items() if v[1]}


def _draw_alarm_timeline(ax, ctx: RunContext, t_end: float) -> None:
    """One row per alarm condition that was raised, a bar for each time it was active, coloured by priority."""
    order = {"high": 0, "medium": 1, "low": 2}
    rows = sorted(ctx.alarms.items(), key=lambda kv: (-order.get(kv[1][0], 3), kv[0]))  # high priority on top
    for row, (_, (priority, spans)) in enumerate(rows):
        bars = [(start, min(end, t_end) - start) for start, end in spans]
        ax.broken_barh(bars, (row - 0.35, 0.7), color=PRIORITY_COLOURS.get(priority, "0.5"), linewidth=0)
    ax.set_yticks(range(len(rows)), [f"{name} ({priority})" for name, (priority, _) in rows], fontsize=7)
    ax.set_ylim(-0.8, max(len(rows), 1) - 0.2)
    if not rows:
        ax.text(0.5, 0.5, "no alarm", transform=ax.transAxes, ha="center", va="center")


def _shade_intervention(
    ax, t: np.ndarray, data: Mapping[str, np.ndarray], present: Sequence[str], scale: float
) -> None:
    """Where the watchdog applied less duty than the controller asked for: shaded, with a legend entry."""
    requested = [s for s in present if _var(s) == "duty" and not s.startswith("watchdog.")]
    applied = [s for s in present if s == "watchdog.duty"]
    if not requested or not applied:
        return
    req = np.clip(np.asarray(data[requested[0]], dtype=float), 0, 1) * scale
    app = np.asarray(data[applied[0]], dtype=float) * scale
    cut = app < req - 0.01 * scale
    if cut.any():
        ax.fill_between(t, app, req, where=cut, color="tab:red", alpha=0.25, step="post",
                        label="watchdog intervention (request cut)")  # fmt: skip


def _zoom_cycles(ax, t, data, units, present, descriptions, seconds: float = 22.5) -> None:
    """The last `seconds` (three 7.5 s PSA cycles) of the pressure signals."""
    window = t >= t[-1] - seconds
    for s in present:
        convert = display_conversion(units.get(s), None)[1]
        ax.plot(t[window], convert(np.asarray(data[s], dtype=float)[window]), linewidth=1.0)
    ax.set_title(f"last {seconds:g} s (about three PSA cycles)", fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("time [s]")


def _kind(present: Sequence[str], units: Mapping[str, str | None]) -> str:
    names = {_var(s) for s in present}
    if names & set(SPO2_VARS):
        return "spo2"
    if names & set(PURITY_VARS):
        return "purity"
    if "alarm_code" in names:
        return "alarms"
    if all(units.get(s) == "Pa" for s in present):
        return "pressure"
    if names & {"T_head", "T_discharge"}:
        return "temperature"
    if "duty" in names:
        return "duty"
    return "plain"


def _plot_one(plt, t, data, units, p: PlotSpec, present, ctx: RunContext, descriptions, max_lines: int):
    kind = _kind(present, units)
    if kind == "pressure":
        fig, (ax, zoom) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100, gridspec_kw={"width_ratios": [3, 1]})
    else:
        fig, ax = plt.subplots(figsize=(10, 4.8), dpi=100)
        zoom = None
    if kind == "alarms":
        _draw_alarm_timeline(ax, ctx, float(t[-1]))
        shown_units = {""}
    else:
        shown_units = _draw_lines(ax, t, data, units, p, present, descriptions, max_lines)
    unit = next(iter(u for u in shown_units if u), "")
    if kind == "spo2":
        _decorate_spo2(ax, ctx, t)
    elif kind == "purity" and unit == "%":
        _decorate_purity(ax, ctx)
    elif kind == "pressure":
        if "schedule.p_setpoint" in data and "schedule.p_setpoint" not in present:
            sp = display_conversion("Pa", None)[1](np.asarray(data["schedule.p_setpoint"], dtype=float))
            ax.plot(t, sp, color="k", linestyle="--", linewidth=1.0, label="feed pressure setpoint [bar(g)]")
        _decorate_pressure(ax, ctx, unit)
        _zoom_cycles(zoom, t, data, units, present, descriptions)
    elif kind == "temperature" and unit == "degC":
        _decorate_temperature(ax, ctx)
    elif kind == "duty":
        _shade_intervention(ax, t, data, present, 100.0 if unit == "%" else 1.0)
    _events(ax, ctx, float(t[-1]))
    if len(present) > max_lines:
        log.warning("plot '%s': showing the first %d of %d signals", p.title, max_lines, len(present))
    ax.set_title(ctx.title(p.title), fontsize=10)
    ax.set_xlabel("time [s]")
    ax.set_ylabel(", ".join(sorted(u for u in shown_units if u)) or ("alarm" if kind == "alarms" else "value"))
    ax.grid(True, alpha=0.3)
    if kind != "alarms":
        ax.legend(fontsize="x-small", loc="best")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def write_plots(
    out_dir: str | os.PathLike,
    data: Mapping[str, np.ndarray],
    units: Mapping[str, str | None],
    plots: Sequence[PlotSpec] | None = None,
    max_lines: int = 12,
    descriptions: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write one PNG per plot and the overview page into out_dir/plots/; returns the files. data has "time" and the
    signals (SI); the run's context (scenario, events, limits) is read from out_dir (see the module doc)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    ctx = RunContext.from_dir(out_dir)
    descriptions = dict(descriptions or {})
    if not plots:
        plots = default_plots([k for k in data if k != "time"], units)
    folder = out_dir / PLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    t = np.asarray(data["time"])
    written: list[Path] = []
    for p in plots:
        present = [s for s in p.signals if s in data]
        if not present:
            log.warning("plot '%s': none of its signals were recorded; skipped", p.title)
            continue
        fig = _plot_one(plt, t, data, units, p, present, ctx, descriptions, max_lines)
        path = folder / (p.file or _file_name(p.title))
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    overview = write_overview(plt, folder, t, data, units, ctx, descriptions)
    if overview is not None:
        written.append(overview)
    return written


#: Panels of the overview page: (title, signals by variable name, display unit).
OVERVIEW_PANELS = (
    ("Patient SpO2", ("SpO2", "spo2"), "%"),
    ("Flow", ("Q_set", "Q_product"), "L/min"),
    ("O2 purity", ("y_O2_product", "sensor_O2"), "%"),
    ("Feed pressure", ("p_feed", "p_setpoint"), "bar(g)"),
    ("Compressor", ("T_head",), "degC"),
    ("Alarms", ("alarm_code",), None),
)


def _overview_signals(data: Mapping[str, np.ndarray], variables: Sequence[str]) -> list[str]:
    found = []
    for var in variables:
        for name in data:
            if name != "time" and _var(name) == var and name not in found:
                found.append(name)
                break
    return found


def write_overview(plt, folder: Path, t, data, units, ctx: RunContext, descriptions) -> Path | None:
    """One page with the session at a glance (the panels that the recorded signals allow)."""
    panels = [(title, _overview_signals(data, vars_), unit) for title, vars_, unit in OVERVIEW_PANELS]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.0 * len(panels) + 1.0), dpi=100, sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (title, signals, unit) in zip(axes, panels, strict=True):
        spec = PlotSpec(title=title, signals=signals, unit=unit)
        if title == "Alarms":
            _draw_alarm_timeline(ax, ctx, float(t[-1]))
        else:
            _draw_lines(ax, t, data, units, spec, signals, descriptions, 4)
            ax.legend(fontsize="x-small", loc="upper right")
        if title == "Patient SpO2":
            _decorate_spo2(ax, ctx, t)
        elif title == "O2 purity":
            _decorate_purity(ax, ctx)
        elif title == "Compressor":
            _decorate_temperature(ax, ctx)
        ax.set_ylabel(f"{title}\n[{unit}]" if unit else title, fontsize=8)
        ax.grid(True, alpha=0.3)
        for te, _ in ctx.events:
            if te <= t[-1]:
                ax.axvline(te, color="0.4", linestyle=":", linewidth=0.8)
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(ctx.title("Overview"), fontsize=11)
    _events(axes[-1], ctx, float(t[-1]))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = folder / OVERVIEW_FILE
    fig.savefig(path)
    plt.close(fig)
    return path
