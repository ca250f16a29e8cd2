"""One case of a study: a scenario, the parameter values it overrides, its seed; and how a run becomes a table row.

A case is what ``run()`` takes: a scenario (a ScenarioSpec, a .toml/.ssp path or a name in scenarios/), overrides
addressed as ``--set`` addresses them ("slave.parameter"), the scenario seed and a stop time. ``tags`` are extra
columns for the table (a controller set's name, a patient's label); they are part of the case's identity too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.scenario.spec import ParameterValue, ScenarioSpec

if TYPE_CHECKING:
    from orchestrator.cosim.master.start_state import StartState
    from orchestrator.results.run import RunResult

#: A function turning a finished (or failed) run into the metric columns of its row. It runs in the worker, while
#: the run's results directory (``result.out_dir``, ``result.signals``) still exists, so it must be importable there
#: (a module-level function; Dask also ships closures).
RowFunction = Callable[["RunResult"], Mapping[str, Any]]

#: Columns the engine writes itself; a metric of the same name is stored as "metric.NAME".
OUTCOME_COLUMNS = (
    "case_id",
    "scenario",
    "seed",
    "status",
    "error",
    "failed_slave",
    "failed_at_s",
    "simulated_time_s",
    "wall_time_s",
    "cpu_time_s",
    "attempts",
    "worker",
)


#: The statuses of a case that ran to its end: "terminated" is a run a slave ended early on purpose (fmi2Terminate).
SUCCESS = ("ok", "terminated")


@dataclass
class Case:
    """One run of a study (see the module docstring); ``seed=None`` keeps the scenario's own seed."""

    scenario: ScenarioSpec | str | Path | None = None
    overrides: Mapping[str, ParameterValue] = field(default_factory=dict)
    seed: int | None = None
    stop_time: float | None = None  #: s; None: the scenario's stop time
    tags: Mapping[str, ParameterValue] = field(default_factory=dict)
    #: FMU states to start from (taken at the scenario's start time), e.g. a cyclic steady state; None: cold start
    start_state: StartState | None = None
    #: content hashes of what a run reads besides the scenario's own files (e.g. a controller set's policy or model
    #: files: orchestrator.compare.identity), by name; part of the case's id, so a changed file re-runs the case
    identity: Mapping[str, str] = field(default_factory=dict)


def case_id(scenario_digest: str, case: Case) -> str:
    """A case's id: a hash of its scenario (spec and files), overrides, seed, stop time, tags, start state and the
    content hashes of its ``identity``.

    The same case always gets the same id, so a restarted study finds the cases it has finished.
    """
    identity = {
        "scenario": scenario_digest,
        "overrides": sorted((str(k), _json_value(v)) for k, v in case.overrides.items()),
        "seed": case.seed,
        "stop_time": case.stop_time,
        "tags": sorted((str(k), _json_value(v)) for k, v in case.tags.items()),
    }
    if case.start_state is not None:  # only then, so the ids of cold-start cases stay as they were
        identity["start_state"] = case.start_state.digest()
    if case.identity:  # likewise: only then
        identity["files"] = sorted((str(k), str(v)) for k, v in case.identity.items())
    text = json.dumps(identity, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _json_value(value: Any) -> Any:
    """A value as it enters the id: numbers exactly (repr of floats), everything else as JSON sees it."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"case parameter values must be finite, got {value!r}")
        return repr(value)
    return value


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with dotted keys; lists and other non-scalars -> JSON text."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)
    return out


def summary_row(result: RunResult) -> dict[str, Any]:
    """The default row: the run's metrics.json summary (the scenario's [metrics] summary function), flattened."""
    summary = result.metrics.get("summary")
    return flatten(summary) if isinstance(summary, Mapping) else {}


def describe_function(fn: Callable[..., Any]) -> str:
    """'module:qualified.name' of a function (what a study records as its row function)."""
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
