"""SSP exchange of whole scenarios: ``import_ssp`` (an .ssp archive -> a checked ScenarioSpec) and ``export_ssp``
(a spec -> an .ssp archive, its FMUs found or exported as a run would). The SSP format itself is in ssp/."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.scenario.build import resolve_fmu
from orchestrator.scenario.parse import parse_scenario, safe_name
from orchestrator.scenario.spec import ScenarioSpec
from orchestrator.scenario.ssp.read import read_ssp
from orchestrator.scenario.ssp.write import write_ssp


def import_ssp(ssp_path: str | os.PathLike, fmu_dir: str | os.PathLike | None = None) -> ScenarioSpec:
    """Read an .ssp into a ScenarioSpec; FMUs are unpacked into fmu_dir (default: '<ssp name>_fmus' beside it)."""
    path = Path(ssp_path)
    return parse_scenario(read_ssp(path, fmu_dir), source=str(path), default_name=safe_name(path.stem))


def export_ssp(spec: ScenarioSpec, out_path: str | os.PathLike, fmu_paths: dict[str, Path] | None = None) -> Path:
    """Write the spec's system as an SSP 1.0 archive; returns the path.

    fmu_paths maps FMU slave names to .fmu files; missing ones are resolved like a run does (a path, or an export
    of the Modelica class).
    """
    paths = dict(fmu_paths or {})
    for s in spec.slaves.values():
        if s.kind == "fmu" and s.name not in paths:
            paths[s.name] = resolve_fmu(s, spec)
    return write_ssp(spec, out_path, paths)
