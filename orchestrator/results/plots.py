"""Standard PNG plots of a run: the groups of signals a scenario declares ([[plots]]), or one figure per slave.

Values are recorded in SI; plots show what users read on a device (bar(g), degC, L/min, %) through the
conversions in orchestrator/units.py.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import PlotSpec
from orchestrator.units import DISPLAY_UNITS

log = logging.getLogger("o2twin.results")

PLOTS_DIR = "plots"
#: SI units converted automatically when a plot names no unit ("1" is left alone: duty, counts and fractions
#: share it, so "%" must be asked for).
AUTO_CONVERT = ("Pa", "K", "m3/s")


def _identity(x):
    return x


def display_conversion(si_unit: str | None, display: str | None) -> tuple[str, Callable]:
    """(label unit, conversion) for a signal in si_unit shown as display (None: automatic, "SI": none).

    Raises SystemDefinitionError when display cannot be reached from si_unit.
    """
    if display == "SI" or (display is None and si_unit not in AUTO_CONVERT):
        return si_unit or "", _identity
    if display is None:
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


def write_plots(
    out_dir: str | os.PathLike,
    data: Mapping[str, np.ndarray],
    units: Mapping[str, str | None],
    plots: Sequence[PlotSpec] | None = None,
    max_lines: int = 12,
) -> list[Path]:
    """Write one PNG per plot into out_dir/plots/; returns the files. data has "time" and the signals (SI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not plots:
        plots = default_plots([k for k in data if k != "time"], units)
    folder = Path(out_dir) / PLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    t = np.asarray(data["time"])
    written: list[Path] = []
    for p in plots:
        present = [s for s in p.signals if s in data]
        if not present:
            log.warning("plot '%s': none of its signals were recorded; skipped", p.title)
            continue
        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
        labels = set()
        for s in present[:max_lines]:
            try:
                label_unit, convert = display_conversion(units.get(s), p.unit)
            except SystemDefinitionError as err:
                log.warning("plot '%s': %s; shown in SI", p.title, err)
                label_unit, convert = units.get(s) or "", _identity
            ax.plot(t, convert(np.asarray(data[s], dtype=float)), label=s, linewidth=1.2)
            labels.add(label_unit)
        if len(present) > max_lines:
            log.warning("plot '%s': showing the first %d of %d signals", p.title, max_lines, len(present))
        ax.set_title(p.title)
        ax.set_xlabel("time [s]")
        ax.set_ylabel(", ".join(sorted(u for u in labels if u)) or "value")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
        fig.tight_layout()
        path = folder / (p.file or _file_name(p.title))
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
