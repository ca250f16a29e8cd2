"""metrics.json: what was run (scenario hash, FMU GUIDs, package versions) and how it went (times, status)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

METRICS_NAME = "metrics.json"

#: Packages whose versions decide results; recorded in every metrics.json.
TRACKED_PACKAGES = ("o2twin", "fmpy", "numpy", "scipy", "casadi", "pymoca", "matplotlib")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the tracked packages and of Python (None where a package is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def text_hash(text: str) -> str:
    """sha256 of a text (the scenario as run), hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    """Write metrics.json atomically (a temporary file renamed), so a reader never sees half a file."""
    path = Path(out_dir) / METRICS_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """metrics.json (or a results dir) -> dict."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    return json.loads(path.read_text(encoding="utf-8"))
