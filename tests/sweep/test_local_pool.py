"""The many-runs engine on the local process pool: a small grid, a failing case, a killed worker, resuming."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from orchestrator.errors import SystemDefinitionError
from orchestrator.results.signals import read_signals_csv
from orchestrator.sweep import Case, run_cases
from orchestrator.sweep.case import OUTCOME_COLUMNS
from tests.sweep.conftest import ALLOW


def lag_output(k: float, level: float = 1.0, t_end: float = 2.0, time_constant: float = 1.0) -> float:
    """The Lag FMU's exact answer to a step of `level` at t = 0: k * level * (1 - exp(-t / T))."""
    return k * level * (1.0 - math.exp(-t_end / time_constant))


def test_a_small_grid_on_two_workers(tiny_scenario, tmp_path):
    cases = [Case(tiny_scenario, {"lag.k": k}, seed=s) for k in (1.0, 3.0) for s in (0, 1)]
    cases.append(Case(tiny_scenario, {"lag.fail_time": 1.0}, seed=0))  # a case that fails mid-run
    out = tmp_path / "study"
    table = run_cases(cases, out=out, workers=2, allow_modules=ALLOW, keep_signals=False)

    # the cases' own columns, the outcome, then the metrics
    n = len(OUTCOME_COLUMNS)
    assert list(table.columns[: n + 2]) == ["case_id", "scenario", "lag.k", "lag.fail_time", *OUTCOME_COLUMNS[2:]]
    assert len(table) == 5 and list(table["status"]) == ["ok"] * 4 + ["failed"]
    ok = table[table["status"] == "ok"]
    for _, row in ok.iterrows():
        assert row["y_final"] == pytest.approx(lag_output(row["lag.k"]), rel=1e-12)
    # the seed drives the noise: the same seed gives the same noise whatever the gain, another seed another one
    noise = ok.set_index(["lag.k", "seed"])["noise_mean"]
    assert noise[(1.0, 0)] == noise[(3.0, 0)] and noise[(1.0, 1)] == noise[(3.0, 1)]
    assert noise[(1.0, 0)] != noise[(1.0, 1)]
    # the failing case records its error and the study went on
    failed = table[table["status"] == "failed"].iloc[0]
    assert "fail_time" in failed["error"] and failed["failed_slave"] == "lag" and failed["failed_at_s"] == 1.0
    assert failed["lag.fail_time"] == 1.0 and math.isnan(ok["lag.fail_time"].iloc[0])

    # worker processes, each extracting its FMU into a folder of its own (named after its pid); on a loaded machine
    # one worker may run every one of these short cases before the other has started
    assert table["worker"].nunique() in (1, 2)
    assert (table["cpu_time_s"] > 0).all()  # every case, the failed one too, with its worker's CPU time
    assert (table["own_extractions"] >= 1).all()
    assert all(w.endswith(f":{int(p)}") for w, p in zip(table["worker"], table["pid"], strict=True))

    # the files: the table as Parquet and CSV, each case's metrics and events, no signals without keep_signals
    assert pd.read_parquet(out / "table.parquet").equals(table)
    assert list(pd.read_csv(out / "table.csv")["case_id"]) == list(table["case_id"])
    for cid in table["case_id"]:
        files = {p.name for p in (out / "cases" / cid).iterdir()}
        assert {"metrics.json", "events.jsonl"} <= files and "signals.csv" not in files
        assert json.loads((out / "rows" / f"{cid}.json").read_text())["case_id"] == cid
    failed_metrics = json.loads((out / "cases" / failed["case_id"] / "metrics.json").read_text())
    assert failed_metrics["status"] == "failed" and failed_metrics["failed_slave"] == "lag"
    assert {p.name for p in (out / "plots").iterdir()} == {
        "failures.png",
        "metrics_vs_lag.k.png",
        "distributions_over_seeds.png",
    }
    manifest = json.loads((out / "sweep.json").read_text())
    assert [c["case_id"] for c in manifest["cases"]] == list(table["case_id"])


def test_keep_signals_keeps_each_case_whole(tiny_scenario, tmp_path):
    table = run_cases(
        [Case(tiny_scenario, {"lag.k": 2.0})], out=tmp_path / "s", workers=1, allow_modules=ALLOW, keep_signals=True
    )
    case_dir = tmp_path / "s" / "cases" / table["case_id"][0]
    assert {"signals.csv", "result.mat", "metrics.json", "events.jsonl", "scenario.toml"} <= {
        p.name for p in case_dir.iterdir()
    }
    signals = read_signals_csv(case_dir / "signals.csv")
    assert signals["lag.y"][-1] == pytest.approx(lag_output(2.0), rel=1e-12)


def test_a_killed_worker_is_retried_once_then_recorded_as_failed(killer_study, tmp_path):
    table = run_cases(killer_study.cases, out=tmp_path / "k", workers=2, allow_modules=ALLOW).set_index("case_id")
    rows = list(table.itertuples())
    assert [r.status for r in rows] == ["ok", "failed", "ok", "ok"]
    assert [r.attempts for r in rows] == [1, 2, 2, 1]
    assert "died" in str(rows[1].error) and "retried once" in str(rows[1].error)
    assert (killer_study.flag / "killed").exists()
    assert not list((tmp_path / "k" / ".running").iterdir())  # no case left marked as running


def test_a_restarted_study_skips_its_finished_cases(tiny_scenario, tmp_path):
    out = tmp_path / "r"
    first = run_cases([Case(tiny_scenario, {"lag.k": k}) for k in (1.0, 2.0)], out=out, workers=1, allow_modules=ALLOW)
    rows_before = {p.name: p.read_text() for p in (out / "rows").iterdir()}
    grown = [Case(tiny_scenario, {"lag.k": k}) for k in (1.0, 2.0, 3.0, 4.0)]
    second = run_cases(grown, out=out, workers=1, allow_modules=ALLOW)
    assert len(second) == 4 and (second["status"] == "ok").all()
    # the two finished cases were not run again: their rows (worker pid, wall time) are untouched
    assert {p.name: p.read_text() for p in (out / "rows").iterdir() if p.name in rows_before} == rows_before
    assert list(second["worker"][:2]) == list(first["worker"])
    assert second["worker"][2] != first["worker"][0]  # a new pool ran the new ones
    assert list(pd.read_parquet(out / "table.parquet")["lag.k"]) == [1.0, 2.0, 3.0, 4.0]


def test_a_restart_can_retry_the_failed_cases(tiny_scenario, tmp_path):
    out = tmp_path / "f"
    cases = [Case(tiny_scenario, {"lag.fail_time": 1.0}), Case(tiny_scenario, {"lag.k": 1.0})]
    first = run_cases(cases, out=out, workers=1, allow_modules=ALLOW)
    again = run_cases(cases, out=out, workers=1, allow_modules=ALLOW, retry_failed=True)
    assert list(first["status"]) == list(again["status"]) == ["failed", "ok"]
    assert again["wall_time_s"][0] != first["wall_time_s"][0] and again["wall_time_s"][1] == first["wall_time_s"][1]


def test_definition_errors_stop_the_study_before_any_run(tiny_scenario, tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(SystemDefinitionError, match=r"lag\.kk: lag has no parameter 'kk' \(did you mean 'k'\?\)"):
        run_cases([Case(tiny_scenario, {"lag.kk": 1.0})], out=out, allow_modules=ALLOW)
    with pytest.raises(SystemDefinitionError, match="no slave 'nope'"):
        run_cases([Case(tiny_scenario, {"nope.k": 1.0})], out=out, allow_modules=ALLOW)
    with pytest.raises(SystemDefinitionError, match="is an output of lag"):
        run_cases([Case(tiny_scenario, {"lag.y": 1.0})], out=out, allow_modules=ALLOW)
    assert not out.exists()


def test_a_value_out_of_its_range_fails_that_case_only(tiny_scenario, tmp_path):
    """A value the slave refuses (Lag's T must be > 0) is that case's failure, found by its own run."""
    table = run_cases(
        [Case(tiny_scenario, {"lag.T": 0.0}), Case(tiny_scenario, {"lag.T": 2.0})],
        out=tmp_path / "v",
        workers=1,
        allow_modules=ALLOW,
    )
    assert list(table["status"]) == ["failed", "ok"]
    assert "T must be > 0" in table["error"][0]
    assert table["y_final"][1] == pytest.approx(lag_output(2.0, time_constant=2.0), rel=1e-12)


def test_a_row_function_shapes_the_metrics(tiny_scenario):
    table = run_cases([Case(tiny_scenario, {"lag.k": 2.0}, tags={"label": "two"})], row=final_lag_row, workers=1,
                      allow_modules=ALLOW)  # fmt: skip
    assert table.attrs["out_dir"] is None  # no folder asked for: a temporary one, gone
    assert list(table.columns[:3]) == ["case_id", "label", "scenario"]
    assert table["label"][0] == "two" and table["y_peak"][0] == pytest.approx(lag_output(2.0), rel=1e-12)
    assert table["metric.status"][0] == "from the row"  # a metric named like a column keeps its value, prefixed


def final_lag_row(result):
    """A row function (module level, so the pool can send it): reads the run's signals in the worker."""
    return {"y_peak": float(result.signals["lag.y"].max()), "status": "from the row"}
