"""SSP exchange of whole scenarios: ``import_ssp`` (an .ssp archive -> a checked ScenarioSpec) and ``export_ssp``
(a spec -> an .ssp archive, its FMUs found or exported as a run would). The SSP format itself is in ssp/."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from orchestrator.scenario import step_check
from orchestrator.scenario.build import build_system, resolve_fmu
from orchestrator.scenario.parse import parse_scenario, safe_name
from orchestrator.scenario.spec import ScenarioSpec
from orchestrator.scenario.ssp.read import read_ssp_system
from orchestrator.scenario.ssp.write import write_ssp


def import_ssp(
    ssp_path: str | os.PathLike, fmu_dir: str | os.PathLike | None = None, check_step: bool = True
) -> ScenarioSpec:
    """Read an .ssp into a ScenarioSpec; FMUs are unpacked into fmu_dir (default: '<ssp name>_fmus' beside it).

    Another tool's archive gets the step it suggests (ssp/hints.py); with check_step, that step is checked by step
    halving and, where it only was a guess, refined (orchestrator.scenario.step_check; warnings say what changed).
    """
    path = Path(ssp_path)
    read = read_ssp_system(path, fmu_dir)
    spec = parse_scenario(read.raw, source=str(path), default_name=safe_name(path.stem))
    return step_check.check_step(spec, read.step) if check_step else spec


def export_ssp(
    spec: ScenarioSpec,
    out_path: str | os.PathLike,
    fmu_paths: dict[str, Path] | None = None,
    closed_loop: bool = False,
) -> Path:
    """Write the spec's system as an SSP 1.0 archive; returns the path.

    fmu_paths maps FMU slave names to .fmu files; missing ones are resolved like a run does (a path, or an export
    of the Modelica class). With closed_loop, every Python block also becomes an FMU component (pythonfmu, see
    orchestrator.cosim.slaves.block_fmu) holding the values a run gives it, so other tools run the closed loop.
    """
    paths = dict(fmu_paths or {})
    for s in spec.slaves.values():
        if s.kind == "fmu" and s.name not in paths:
            paths[s.name] = resolve_fmu(s, spec)
    if not closed_loop:
        return write_ssp(spec, out_path, paths)
    with tempfile.TemporaryDirectory(prefix="o2twin-ssp-") as tmp:
        return write_ssp(spec, out_path, paths, block_fmus=_block_fmus(spec, Path(tmp)))


def _block_fmus(spec: ScenarioSpec, folder: Path) -> dict[str, Path]:
    """An FMU of every Python block of the spec, with the parameter values, input start values and sample time a
    run gives it (the scenario's seed included), in folder."""
    from orchestrator.cosim.slaves.block_fmu import build_block_fmu
    from orchestrator.cosim.slaves.python_block import PythonBlock

    system = build_system(spec)
    try:
        built = {}
        for name, slave in system.slaves.items():
            if not isinstance(slave, PythonBlock):
                continue
            block = f"{type(slave).__module__}:{type(slave).__qualname__}"
            built[name] = build_block_fmu(block, name, slave.sample_time, system.slave_parameters(name),
                                          folder / f"{name}.fmu")  # fmt: skip
        return built
    finally:
        for slave in system.slaves.values():
            slave.terminate()
