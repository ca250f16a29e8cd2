"""The many-runs engine on a real dask.distributed LocalCluster (a scheduler and worker processes started here):
the same table as the local pool, bit-identical to a plain run, a killed worker retried once."""

from __future__ import annotations

import dataclasses
import json

import pytest

from orchestrator import load_scenario, run
from orchestrator.sweep import Case, run_cases
from tests.sweep.conftest import ALLOW

#: What the table holds that depends on where and when a case ran, not on what it computed.
CIRCUMSTANCES = ["wall_time_s", "cpu_time_s", "worker", "pid", "own_extractions"]


def test_a_small_grid_on_a_local_cluster_matches_the_pool(tiny_scenario, tmp_path, dask_cluster):
    cases = [Case(tiny_scenario, {"lag.k": 1.0}, seed=0), Case(tiny_scenario, {"lag.k": 3.0}, seed=1)]
    cases.append(Case(tiny_scenario, {"lag.fail_time": 1.0}))
    on_dask = run_cases(cases, out=tmp_path / "dask", scheduler=dask_cluster.scheduler_address, allow_modules=ALLOW)
    on_pool = run_cases(cases, out=tmp_path / "pool", workers=2, allow_modules=ALLOW)
    assert list(on_dask["status"]) == ["ok", "ok", "failed"]
    assert on_dask.drop(columns=CIRCUMSTANCES).equals(on_pool.drop(columns=CIRCUMSTANCES))
    # the Dask workers are other processes than the pool's and the caller's, each with its own FMU extractions
    assert set(on_dask["worker"]).isdisjoint(on_pool["worker"]) and on_dask["worker"].nunique() == 2
    assert (on_dask["own_extractions"] >= 1).all()
    assert (tmp_path / "dask" / "table.parquet").exists()


def test_the_scheduler_comes_from_the_environment(tiny_scenario, dask_cluster, monkeypatch):
    monkeypatch.setenv("O2TWIN_DASK_SCHEDULER", dask_cluster.scheduler_address)
    table = run_cases([Case(tiny_scenario, {"lag.k": 1.0})], allow_modules=ALLOW)
    assert table["status"][0] == "ok"
    assert int(table["pid"][0]) in dask_cluster_pids(dask_cluster)  # it ran on a worker of the cluster


def test_a_client_the_caller_holds_stays_open(tiny_scenario, dask_cluster):
    from distributed import Client

    with Client(dask_cluster.scheduler_address) as client:
        first = run_cases([Case(tiny_scenario, {"lag.k": 1.0})], scheduler=client, allow_modules=ALLOW)
        second = run_cases([Case(tiny_scenario, {"lag.k": 2.0})], scheduler=client, allow_modules=ALLOW)
        assert client.status == "running"
    assert list(first["status"]) == list(second["status"]) == ["ok"]
    assert second["y_final"][0] == 2 * first["y_final"][0]


def dask_cluster_pids(cluster) -> set[int]:
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        return set(client.run(_pid).values())


def _pid() -> int:
    import os

    return os.getpid()


def test_a_killed_dask_worker_is_retried_once_then_recorded_as_failed(tiny_scenario, tmp_path, dask_cluster):
    flag = tmp_path / "flag"
    flag.mkdir()
    cases = [
        Case(tiny_scenario, {"killer.kill_at_s": 1.0}),
        Case(tiny_scenario, {"killer.kill_at_s": 1.0, "killer.once_flag": str(flag)}),
        Case(tiny_scenario, {"lag.k": 2.0}),
    ]
    table = run_cases(cases, out=tmp_path / "k", scheduler=dask_cluster.scheduler_address, allow_modules=ALLOW)
    assert list(table["status"]) == ["failed", "ok", "ok"]
    assert table["attempts"][0] == 2 and "died 2 times" in table["error"][0] and "retried 1 time" in table["error"][0]
    assert (flag / "killed").exists()


def test_the_same_case_is_bit_identical_on_a_pool_worker_a_dask_worker_and_a_plain_run(tmp_path, dask_cluster):
    """The default scenario (the real plant FMUs), one case: the same metrics and the same signals, to the bit.
    The pool's one worker runs another case first, so this one runs on the FMU folders that case left (fmu_reuse)."""
    case = Case("default", {"psa.blockage": 0.2, "patient.copd": 0.5}, seed=3, stop_time=8.0)
    before = Case("default", {"psa.blockage": 0.4, "patient.copd": 0.1}, seed=4, stop_time=8.0)
    spec = dataclasses.replace(load_scenario("default"), seed=3)
    plain = run(spec, out=tmp_path / "plain", stop_time=8.0, overrides=case.overrides, plots=False)
    assert plain.ok
    pool = run_cases([before, case], out=tmp_path / "pool", workers=1, keep_signals=True)
    assert pool["worker"][0] == pool["worker"][1]
    outs = {
        "pool": pool.iloc[[1]].reset_index(drop=True),
        "dask": run_cases([case], out=tmp_path / "dask", scheduler=dask_cluster.scheduler_address, keep_signals=True),
    }
    summary = plain.metrics["summary"]
    assert summary, "the default scenario has a summary"
    plain_signals = (plain.out_dir / "signals.csv").read_bytes()
    for name, table in outs.items():
        case_dir = tmp_path / name / "cases" / table["case_id"][0]
        metrics = json.loads((case_dir / "metrics.json").read_text())
        assert metrics["summary"] == summary, name
        for key in ("recorded_points", "steps", "simulated_time_s", "fmu_guids"):
            assert metrics[key] == plain.metrics[key], (name, key)
        assert metrics["scenario"]["seed"] == 3
        assert (case_dir / "signals.csv").read_bytes() == plain_signals, name
        row = table.iloc[0]
        for key, value in summary.items():
            assert row[key] == value, (name, key)
    assert outs["pool"]["case_id"][0] == outs["dask"]["case_id"][0]


@pytest.mark.slow
def test_a_latin_hypercube_study_of_the_default_scenario_on_both_backends(tmp_path, dask_cluster):
    """Twelve 60 s cases of the default scenario, sampled over two parameters with three seeds, give the same
    table on the local pool and on the cluster."""
    from orchestrator.sweep import Sampling, SweepDesign

    design = SweepDesign(
        scenario="default",
        sampling=Sampling(4, {"psa.blockage": (0.0, 0.4), "patient.copd": (0.0, 1.0)}, "lhs", 1),
        seeds=[0, 1, 2],
        stop_time=60.0,
    )
    cases = design.cases()
    on_pool = run_cases(cases, out=tmp_path / "pool", workers=2)
    on_dask = run_cases(cases, out=tmp_path / "dask", scheduler=dask_cluster.scheduler_address)
    assert len(on_pool) == 12 and (on_pool["status"] == "ok").all()
    keep = [c for c in on_pool.columns if c not in ("wall_time_s", "cpu_time_s", "worker")]
    assert on_pool[keep].equals(on_dask[keep])
    assert {p.name for p in (tmp_path / "pool" / "plots").iterdir()} >= {"failures.png"}
