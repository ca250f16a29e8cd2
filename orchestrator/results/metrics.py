"""metrics.json: what was run (scenario hash, FMU GUIDs, package versions) and how it went (times, status)."""

from __future__ import annotations

import functools
import json
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestrator.results.files import write_text_atomic

METRICS_NAME = "metrics.json"

#: Packages whose versions decide results; recorded in every metrics.json.
TRACKED_PACKAGES = ("o2twin", "fmpy", "numpy", "scipy", "casadi", "pymoca", "matplotlib")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the tracked packages and of Python (None where a package is not installed)."""
    return dict(_versions_at_start())


@functools.cache
def _versions_at_start() -> dict[str, str | None]:
    """Read once per process, which runs the packages it imported at their versions then (reading the installed
    metadata is a noticeable part of a short run, which a sweep worker repeats for every case)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def write_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write metrics.json atomically (a temporary file renamed), so a reader never sees half a file;
    ResultWriteError naming it when it cannot be written."""
    text = json.dumps(_jsonable(metrics), indent=2, allow_nan=False) + "\n"
    return write_text_atomic(Path(out_dir) / METRICS_NAME, text)


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """metrics.json (or a results dir) -> dict."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    return json.loads(path.read_text(encoding="utf-8"))
