"""The alarm board (active alarms from the event log, acknowledged state) and the finder of runs and studies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.dashboard.alarms import AlarmBoard
from orchestrator.dashboard.runs import find_runs, find_studies


def alarm(t: float, name: str, priority: str, active: bool) -> dict:
    """An event as the safety watchdog writes it to events.jsonl."""
    state = "start" if active else "end"
    return {"time": t, "source": "watchdog", "text": f"{name} {state}", "name": name, "priority": priority,
            "value": 0.5, "active": active}  # fmt: skip


def test_active_alarms_follow_their_start_and_end_events():
    board = AlarmBoard()
    board.apply({"time": 1.0, "source": "master", "text": "set psa.blockage = 0.9"})  # not an alarm
    board.apply(alarm(2.0, "LOW_PURITY", "medium", True))
    board.apply(alarm(3.0, "OCCLUSION", "medium", True))
    board.apply(alarm(4.0, "NO_FLOW", "high", True))
    board.apply(alarm(5.0, "LOW_TEMPERATURE", "low", True))
    assert [a.name for a in board.ordered()] == ["NO_FLOW", "LOW_PURITY", "OCCLUSION", "LOW_TEMPERATURE"]
    assert board.highest == "high"
    board.apply(alarm(6.0, "NO_FLOW", "high", False))
    assert board.highest == "medium" and "NO_FLOW" not in board.active
    assert board.raised == {"LOW_PURITY": 1, "OCCLUSION": 1, "NO_FLOW": 1, "LOW_TEMPERATURE": 1}


def test_acknowledged_alarms_stay_active_and_a_new_start_is_unacknowledged():
    board = AlarmBoard().apply_all([alarm(1.0, "OCCLUSION", "medium", True), alarm(1.5, "LOW_SPO2", "medium", True)])
    board.acknowledge(["OCCLUSION"])
    assert board.active["OCCLUSION"].acknowledged and not board.active["LOW_SPO2"].acknowledged
    assert board.unacknowledged == 1
    board.acknowledge()
    assert board.unacknowledged == 0 and set(board.active) == {"OCCLUSION", "LOW_SPO2"}
    board.apply(alarm(2.0, "OCCLUSION", "medium", False))
    board.apply(alarm(3.0, "OCCLUSION", "medium", True))
    assert not board.active["OCCLUSION"].acknowledged and board.raised["OCCLUSION"] == 2
    board.acknowledge(["NOT_ACTIVE"])  # nothing to acknowledge: no error, nothing changes
    assert board.unacknowledged == 1


def _run(folder: Path, started: str, status: str = "ok", **extra) -> Path:
    folder.mkdir(parents=True)
    metrics = {"status": status, "started_utc": started, "scenario": {"name": folder.parent.name},
               "simulated_time_s": 10.0, **extra}  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "signals.csv").write_text("time,patient.SpO2\ns,1\n0,0.9\n1,0.91\n")
    (folder / "events.jsonl").write_text(json.dumps(alarm(0.5, "LOW_SPO2", "medium", True)) + "\n")
    return folder


def test_runs_are_found_newest_first_and_studies_apart(tmp_path):
    results = tmp_path / "results"
    _run(results / "default" / "20260101-000000", "2026-01-01T00:00:00")
    newest = _run(results / "default" / "20260102-000000", "2026-01-02T00:00:00", status="stopped")
    (results / "default" / "latest").symlink_to("20260102-000000")  # not listed twice
    _run(results / "custom_out", "2025-12-31T00:00:00", status="failed")
    broken = results / "default" / "broken"
    broken.mkdir()
    (broken / "metrics.json").write_text("{not json")
    sweep = results / "sweeps" / "blockage"
    _run(sweep / "cases" / "c0001", "2026-01-03T00:00:00")  # a case of the sweep: part of the study, not a run
    (sweep / "table.csv").write_text(
        "case_id,psa.blockage,status,spo2_mean_pct\nc0001,0.1,ok,90.5\nc0002,0.5,ok,88.1\n"
    )
    (sweep / "sweep.json").write_text(json.dumps({"name": "blockage"}))
    (sweep / "plots").mkdir()
    (sweep / "plots" / "failures.png").write_bytes(b"\x89PNG")
    (results / "compare_pid_fuzzy").mkdir()
    (results / "compare_pid_fuzzy" / "table.csv").write_text("controller,iae\npid,1.5\nfuzzy,1.2\n")
    (results / "compare_pid_fuzzy" / "report.md").write_text("# Comparison\n")
    # `o2twin compare`'s folder (docs/compare.md): summary.csv and runs.csv, its sweep's study inside
    comparison = results / "compare" / "pid-fuzzy__default"
    _run(comparison / "sweep" / "cases" / "c0001", "2026-01-04T00:00:00")
    (comparison / "sweep" / "table.csv").write_text("case_id,status\nc0001,ok\n")
    (comparison / "summary.csv").write_text(
        "scenario,controller,runs,spo2_mean_pct\nall,pid,2,91.0\nall,fuzzy,2,92.5\n"
    )
    (comparison / "runs.csv").write_text("controller,scenario,seed,status\npid,default,0,ok\nfuzzy,default,0,ok\n")
    (comparison / "plots").mkdir()
    (comparison / "plots" / "overlay_default.png").write_bytes(b"\x89PNG")

    runs = find_runs(results)
    assert [r.key for r in runs] == ["default/20260102-000000", "default/20260101-000000", "custom_out",
                                     "default/broken"]  # fmt: skip
    assert runs[0].path == newest and runs[0].status == "stopped" and runs[0].name == "default"
    assert runs[-1].status == "unreadable metrics.json"
    assert set(runs[0].files()) == {"signals.csv", "metrics.json", "events.jsonl"}
    assert runs[0].signals()["patient.SpO2"].tolist() == [0.9, 0.91]
    assert runs[0].units()["patient.SpO2"] == "1"
    (newest / "scenario.toml").write_text('[[plots]]\ntitle = "SpO2"\nsignals = ["patient.SpO2"]\nunit = "%"\n')
    assert runs[0].plot_units() == {"patient.SpO2": "%"}
    assert runs[1].plot_units() == {}  # no scenario.toml
    assert runs[0].events()[0]["name"] == "LOW_SPO2"
    assert runs[-1].signals().empty and runs[-1].events() == []

    studies = {s.key: s for s in find_studies(results)}
    assert set(studies) == {"sweeps/blockage", "compare_pid_fuzzy", "compare/pid-fuzzy__default"}
    assert studies["sweeps/blockage"].kind == "sweep" and studies["compare_pid_fuzzy"].kind == "comparison"
    compared = studies["compare/pid-fuzzy__default"]
    assert compared.kind == "comparison" and compared.table()["spo2_mean_pct"].tolist() == [91.0, 92.5]
    assert list(compared.extra_tables()["runs.csv"]["controller"]) == ["pid", "fuzzy"]
    assert [p.name for p in compared.plots()] == ["overlay_default.png"]
    assert studies["sweeps/blockage"].extra_tables() == {}
    assert studies["sweeps/blockage"].table()["spo2_mean_pct"].tolist() == [90.5, 88.1]
    assert [p.name for p in studies["sweeps/blockage"].plots()] == ["failures.png"]
    assert [p.name for p in studies["compare_pid_fuzzy"].reports()] == ["report.md"]


def test_an_unreadable_study_table_gives_an_empty_table(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "table.parquet").write_bytes(b"not parquet")
    (study,) = find_studies(tmp_path)
    assert study.table().empty and study.manifest() == {}


@pytest.mark.parametrize("missing", [True, False])
def test_no_results_folder_means_no_runs(tmp_path, missing):
    results = tmp_path / "results"
    if not missing:
        results.mkdir()
    assert find_runs(results) == [] and find_studies(results) == []
