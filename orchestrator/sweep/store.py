"""A study's folder on disk: one row per finished case, the kept results of each case, and the table of them all.

```
OUT/
  sweep.json            what the study is (its cases and row function), rewritten at each start
  table.parquet         every case's parameters, status, error and metrics (also table.csv)
  rows/CASE_ID.json     the row of one finished case: a study restarted on OUT skips these cases
  cases/CASE_ID/        the case's results: metrics.json and events.jsonl (everything with --keep-signals)
  plots/                metric vs parameter, distributions over seeds, failure map
```

A case's files are written before its row, so a case whose row exists is complete on disk.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from orchestrator.errors import O2TwinError
from orchestrator.results.files import ResultWriteError, write_text_atomic
from orchestrator.sweep.case import OUTCOME_COLUMNS
from orchestrator.sweep.worker import CaseOutcome

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

TABLE_PARQUET = "table.parquet"
TABLE_CSV = "table.csv"
MANIFEST = "sweep.json"


class SweepStore:
    """The folder of one study (layout in the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise O2TwinError(f"--out {self.root}: exists and is not a directory")
        for folder in (self.rows_dir, self.cases_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ResultWriteError(folder, err) from None

    @property
    def rows_dir(self) -> Path:
        return self.root / "rows"

    @property
    def cases_dir(self) -> Path:
        return self.root / "cases"

    @property
    def running_dir(self) -> Path:
        return self.root / ".running"

    def finished_rows(self, case_ids: Iterable[str], retry_failed: bool = False) -> dict[str, dict[str, Any]]:
        """The rows already recorded for these cases (a restarted study skips them); failed ones too unless
        ``retry_failed``. An unreadable row counts as not finished."""
        rows = {}
        for cid in case_ids:
            path = self.rows_dir / f"{cid}.json"
            try:
                row = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as err:
                log.warning("%s cannot be read (%s): the case runs again", path, err)
                continue
            if isinstance(row, dict) and not (retry_failed and row.get("status") == "failed"):
                rows[cid] = row
        return rows

    def record(self, columns: Mapping[str, Any], outcome: CaseOutcome) -> dict[str, Any]:
        """Write a finished case: its files under cases/ID/, then its row under rows/ID.json; returns the row."""
        case_dir = self.cases_dir / outcome.case_id
        if case_dir.exists():
            shutil.rmtree(case_dir)
        for name, data in outcome.files.items():
            rel = PurePosixPath(name)
            if rel.is_absolute() or ".." in rel.parts:  # a worker only ever sends names inside its results folder
                log.warning("case %s: ignoring result file %r (not a relative path)", outcome.case_id, name)
                continue
            target = case_dir / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError as err:
                raise ResultWriteError(target, err) from None
        row = compose_row(columns, outcome)
        write_text_atomic(self.rows_dir / f"{outcome.case_id}.json", json.dumps(row, indent=1, allow_nan=True))
        return row

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_text_atomic(self.root / MANIFEST, json.dumps(manifest, indent=1, default=str))

    def write_table(self, frame: pd.DataFrame) -> dict[str, Path]:
        """table.parquet (pyarrow) and table.csv, each written whole or not at all."""
        paths = {"csv": self.root / TABLE_CSV, "parquet": self.root / TABLE_PARQUET}
        tmp_csv = paths["csv"].with_name(TABLE_CSV + ".tmp")
        try:
            frame.to_csv(tmp_csv, index=False)
            os.replace(tmp_csv, paths["csv"])
        except OSError as err:
            tmp_csv.unlink(missing_ok=True)
            raise ResultWriteError(paths["csv"], err) from None
        tmp_parquet = paths["parquet"].with_name(TABLE_PARQUET + ".tmp")
        try:
            parquet_ready(frame).to_parquet(tmp_parquet, engine="pyarrow", index=False)
            os.replace(tmp_parquet, paths["parquet"])
        except ImportError:
            tmp_parquet.unlink(missing_ok=True)
            log.warning("%s not written: pyarrow is not installed (pip install 'o2twin[sweep]')", paths["parquet"])
            del paths["parquet"]
        except OSError as err:
            tmp_parquet.unlink(missing_ok=True)
            raise ResultWriteError(paths["parquet"], err) from None
        return paths


def compose_row(columns: Mapping[str, Any], outcome: CaseOutcome) -> dict[str, Any]:
    """A case's row: its own columns (id, tags, scenario, parameters, seed), the outcome, then its metrics."""
    row: dict[str, Any] = dict(columns)
    row.update(
        status=outcome.status,
        error=outcome.error,
        failed_slave=outcome.failed_slave,
        failed_at_s=outcome.failed_at_s,
        simulated_time_s=outcome.simulated_time_s,
        wall_time_s=outcome.wall_time_s,
        cpu_time_s=outcome.cpu_time_s,
        attempts=outcome.attempts,
        worker=outcome.worker,
    )
    for name, value in outcome.metrics.items():
        key = name if name not in row and name not in OUTCOME_COLUMNS else f"metric.{name}"
        row[key] = value
    return row


def parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet wants one type per column: a column mixing numbers and text is written as text."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype != object:
            continue
        kinds = {_kind(v) for v in column if not _missing(v)}
        if len(kinds) > 1:
            out[name] = [None if _missing(v) else str(v) for v in column]
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
