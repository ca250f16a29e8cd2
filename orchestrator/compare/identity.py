"""The content identity of a controller set as applied to a scenario: what a comparison's resume must notice.

A comparison's case id (orchestrator.sweep.case_id) hashes the scenario as written (the applied set's slaves, their
parameters and wiring, and the FMUs) but not what the set's blocks read at run time: the MPC's exported CasADi
functions, a DQN's policy .npz, the block's own code. ``controller_digest`` hashes the controller-set file and every
file its blocks reference, so that a changed artifact gives the cases new ids and ``o2twin compare`` runs them again
instead of reusing results of the old one.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from pathlib import Path

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.build import export_prediction_models
from orchestrator.scenario.controller_set import ControllerSet
from orchestrator.scenario.registry import BlockRegistry
from orchestrator.scenario.spec import ScenarioSpec

log = logging.getLogger(__name__)


def controller_files(cset: ControllerSet, spec: ScenarioSpec, registry: BlockRegistry | None = None) -> dict[str, Path]:
    """The files the set's slaves in ``spec`` (the scenario with the set applied) depend on, by a label.

    For each slave the set adds or changes that is a block: the module file of its class, the CasADi functions of
    the Modelica classes it predicts with (exported now when out of date, as a run would), and the files the block
    says its parameter values name (``PythonBlock.referenced_files``, e.g. the DQN's policy). FMU slaves are left
    out: the sweep engine hashes the FMU files themselves.
    """
    registry = registry if registry is not None else BlockRegistry()
    files: dict[str, Path] = {}
    for name in sorted(cset.slaves):
        slave = spec.slaves.get(name)
        if slave is None or slave.kind != "block":
            continue
        where = f"{cset.source}: [slaves.{name}]"
        block = registry.block(str(slave.block), where)
        source = inspect.getsourcefile(block)
        if source:
            files[f"{name}:code"] = Path(source)
        for k, path in enumerate(export_prediction_models(block, slave, spec)):
            files[f"{name}:model{k}"] = path
            files[f"{name}:model{k}.json"] = path.with_name(path.name + ".json")
        referenced = getattr(block, "referenced_files", None)
        if callable(referenced):
            try:
                paths = referenced(slave.parameters)
            except SystemDefinitionError as err:
                raise SystemDefinitionError(f"{where}: {err}") from None
            for k, path in enumerate(paths):
                files[f"{name}:file{k}"] = Path(path)
    return files


def controller_digest(cset: ControllerSet, spec: ScenarioSpec, registry: BlockRegistry | None = None) -> str:
    """SHA-256 (hex, 16 digits) of the controller-set file and every file of ``controller_files``."""
    h = hashlib.sha256()
    source = Path(cset.source) if cset.source else None
    h.update(source.read_bytes() if source is not None and source.is_file() else cset.name.encode("utf-8"))
    for label, path in sorted(controller_files(cset, spec, registry).items()):
        try:
            data = path.read_bytes()
        except OSError as err:
            raise SystemDefinitionError(f"{cset.source}: {label}: cannot read {path} ({err})") from None
        h.update(b"\0" + label.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    digest = h.hexdigest()[:16]
    log.debug("controller set %s on %s: digest %s", cset.name, spec.name, digest)
    return digest
