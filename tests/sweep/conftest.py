"""The sweep tests' small scenario: a step into the hand-written Lag FMU, seeded noise, a worker killer and an
extraction probe (tests.support.sweep_blocks), 2 s simulated; the study of cases that kill their worker, shared by
the local pool's and Dask's tests; and a Dask LocalCluster the tests start themselves."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.sweep import Case
from tests.support import blocks, sweep_blocks

#: The modules the small scenario takes its blocks and summary from.
ALLOW = (blocks.MODULE, sweep_blocks.MODULE)

TINY = f"""
[scenario]
name = "tiny"
stop_time = 2.0
seed = 0

[master]
step = 0.1

[slaves.src]
block = "{blocks.MODULE}:Source"
[slaves.src.parameters]
level = 1.0

[slaves.lag]
fmu = "Lag.fmu"
[slaves.lag.parameters]
k = 2.0
T = 1.0

[slaves.noise]
block = "{blocks.MODULE}:Noise"

[slaves.killer]
block = "{sweep_blocks.MODULE}:Killer"

[slaves.probe]
block = "{sweep_blocks.MODULE}:ExtractionProbe"

[[connections]]
from = "src.value"
to = "lag.u"

[outputs]
record = ["lag.y", "noise.value", "probe.own_extractions", "killer.alive"]

[metrics]
summary = "{sweep_blocks.MODULE}:summary"
"""


@pytest.fixture(scope="session")
def tiny_scenario(tmp_path_factory, lag_fmu) -> Path:
    """tiny.toml with Lag.fmu beside it."""
    folder = tmp_path_factory.mktemp("tiny_scenario")
    shutil.copy(lag_fmu, folder / "Lag.fmu")
    path = folder / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


@dataclass
class KillerStudy:
    """Four cases around two that kill their worker: ok, always killing, killing once (its retry runs), ok."""

    cases: list[Case]
    flag: Path  #: the once-killer's folder: it writes "killed" there when it kills its worker


@pytest.fixture
def killer_study(tiny_scenario, tmp_path) -> KillerStudy:
    flag = tmp_path / "flag"
    flag.mkdir()
    cases = [
        Case(tiny_scenario, {"lag.k": 1.0}),
        Case(tiny_scenario, {"killer.kill_at_s": 1.0}),  # kills its worker every time
        Case(tiny_scenario, {"killer.kill_at_s": 1.0, "killer.once_flag": str(flag)}),  # only the first time
        Case(tiny_scenario, {"lag.k": 2.0}),
    ]
    return KillerStudy(cases, flag)


@pytest.fixture(autouse=True)
def _no_scheduler_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("O2TWIN_DASK_SCHEDULER", raising=False)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[object]:
    """A real dask.distributed LocalCluster: scheduler and 2 single-threaded worker processes, one retry."""
    from orchestrator.sweep.dask_cluster import start_local_cluster

    cluster = start_local_cluster(2)
    try:
        yield cluster
    finally:
        cluster.close()
