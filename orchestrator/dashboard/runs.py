"""Finished runs and studies in the results folder, as the results browser and the compare view list them.

A run folder is one with a metrics.json (results/<scenario>/<UTC time>/ by default, or any --out inside results/).
A study folder is one with a table.csv or table.parquet (a sweep's: results/sweeps/NAME/, `o2twin sweep`) or a
summary.csv (a controller comparison's: results/compare/NAME/, `o2twin compare`, whose table is summary.csv, with
runs.csv beside it); the runs inside a study (its cases) belong to the study and are not listed as runs.
Readers are tolerant: a folder whose files are missing or unreadable is shown with what could be read.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.results.events import EVENTS_NAME, read_events
from orchestrator.results.signals import CSV_NAME, read_signal_units, read_signals_csv

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: How deep under the results folder runs and studies are looked for.
MAX_DEPTH = 4
#: The files that make a folder a study, in the order its main table is read from.
STUDY_TABLES = ("table.csv", "summary.csv", "table.parquet")
#: More tables a study may have (a comparison's one row per run), shown under the main one.
EXTRA_TABLES = ("runs.csv",)
#: Files of a run offered for download (those that exist), with their MIME types.
DOWNLOADS = {
    "signals.csv": "text/csv",
    "result.mat": "application/octet-stream",
    "metrics.json": "application/json",
    "events.jsonl": "application/jsonl",
    "scenario.toml": "application/toml",
    "device_samples.csv": "text/csv",
}
REPORTS = ("report.md", "README.md", "summary.md")


@dataclass
class RunInfo:
    """One finished (or failed, or stopped) run folder."""

    path: Path
    key: str  #: the folder relative to the results folder ("default/20261206-101010")
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        scenario = self.metrics.get("scenario")
        return str(scenario.get("name")) if isinstance(scenario, dict) else self.path.parent.name

    @property
    def status(self) -> str:
        return str(self.metrics.get("status", "unknown"))

    @property
    def started(self) -> str:
        return str(self.metrics.get("started_utc") or "")

    @property
    def label(self) -> str:
        simulated = self.metrics.get("simulated_time_s")
        span = f", {simulated:g} s" if isinstance(simulated, int | float) else ""
        return f"{self.key} ({self.status}{span})"

    def files(self) -> dict[str, Path]:
        """The downloadable files this run has."""
        return {n: self.path / n for n in DOWNLOADS if (self.path / n).is_file()}

    def plots(self) -> list[Path]:
        return sorted((self.path / "plots").glob("*.png"))

    def events(self) -> list[dict[str, Any]]:
        try:
            return read_events(self.path / EVENTS_NAME) if (self.path / EVENTS_NAME).is_file() else []
        except (OSError, ValueError) as err:
            log.warning("%s: events unreadable: %s", self.path / EVENTS_NAME, err)
            return []

    def summary(self) -> dict[str, Any]:
        summary = self.metrics.get("summary")
        return summary if isinstance(summary, dict) else {}

    def signals(self) -> pd.DataFrame:
        """Every recorded signal (SI) indexed by time; empty when signals.csv is missing or unreadable."""
        import pandas as pd

        try:
            data = read_signals_csv(self.path / CSV_NAME)
        except (OSError, ValueError) as err:
            log.warning("%s: signals unreadable: %s", self.path / CSV_NAME, err)
            return pd.DataFrame()
        return pd.DataFrame({k: v for k, v in data.items() if k != "time"}, index=pd.Index(data["time"], name="time"))

    def plot_units(self) -> dict[str, str]:
        """The display unit of each signal in the run's [[plots]] (from the scenario.toml saved with the run)."""
        try:
            raw = tomllib.loads((self.path / "scenario.toml").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        found: dict[str, str] = {}
        plots = raw.get("plots")
        for plot in plots if isinstance(plots, list) else ():
            if isinstance(plot, dict) and isinstance(plot.get("unit"), str) and isinstance(plot.get("signals"), list):
                for signal in plot["signals"]:
                    found.setdefault(str(signal), plot["unit"])
        return found

    def units(self) -> dict[str, str]:
        try:
            return read_signal_units(self.path / CSV_NAME)
        except (OSError, ValueError):
            return {}


@dataclass
class StudyInfo:
    """A folder of many runs summarised in a table: a sweep or a controller comparison."""

    path: Path
    key: str

    @property
    def kind(self) -> str:
        if (self.path / "sweep.json").is_file():
            return "sweep"
        if (self.path / "summary.csv").is_file() or "compar" in self.key.lower():
            return "comparison"
        return "study"

    def table(self) -> pd.DataFrame:
        """The study's main table (table.csv, summary.csv, else table.parquet when pyarrow is installed); empty if
        unreadable."""
        name = next((n for n in STUDY_TABLES if (self.path / n).is_file()), STUDY_TABLES[0])
        return _read_table(self.path / name)

    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """The study's other tables by file name (a comparison's runs.csv), those that exist."""
        return {n: _read_table(self.path / n) for n in EXTRA_TABLES if (self.path / n).is_file()}

    def plots(self) -> list[Path]:
        return sorted(self.path.glob("*.png")) + sorted((self.path / "plots").glob("*.png"))

    def reports(self) -> list[Path]:
        return [self.path / n for n in REPORTS if (self.path / n).is_file()]

    def manifest(self) -> dict[str, Any]:
        try:
            raw = json.loads((self.path / "sweep.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet table; empty (with a warning in the log) when missing or unreadable."""
    import pandas as pd

    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, ImportError) as err:
        log.warning("%s: table unreadable: %s", path, err)
        return pd.DataFrame()


def _folders(root: Path, depth: int = 0) -> Iterator[Path]:
    """Real folders under root (symbolic links are not followed: results/<name>/latest points at a run listed
    anyway), breadth first down to MAX_DEPTH, skipping hidden ones."""
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        yield child
        if depth + 1 < MAX_DEPTH and not is_study(child):
            yield from _folders(child, depth + 1)


def is_study(folder: Path) -> bool:
    return any((folder / n).is_file() for n in STUDY_TABLES)


def read_metrics(folder: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        log.debug("%s: no readable metrics.json: %s", folder, err)
        return None
    return raw if isinstance(raw, dict) else None


def find_runs(results: Path) -> list[RunInfo]:
    """Run folders under results, newest first."""
    runs = []
    for folder in _folders(results):
        if is_study(folder) or not (folder / "metrics.json").is_file():
            continue
        metrics = read_metrics(folder) or {"status": "unreadable metrics.json"}
        runs.append(RunInfo(folder, folder.relative_to(results).as_posix(), metrics))
    runs.sort(key=lambda r: (r.started, r.key), reverse=True)
    return runs


def find_studies(results: Path) -> list[StudyInfo]:
    """Study folders (sweeps, comparisons) under results, by name."""
    return [StudyInfo(f, f.relative_to(results).as_posix()) for f in _folders(results) if is_study(f)]
