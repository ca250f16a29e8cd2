"""`o2twin compare`: two controller sets x two scenarios x two seeds on the sweep engine give the table, the ranking,
the overlay plots and the report; finished run folders compare without simulating."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from orchestrator import run
from orchestrator.cli.main import main
from orchestrator.compare import run_comparison
from orchestrator.compare.metrics import METRICS

STOP_S = 8.0  # enough for every controller to act a few times; the figures are not what is checked here


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("cmp")
    return run_comparison(
        ["pid-fuzzy", "fixed-flow"], ["default", "exercise"], seeds=[0, 1], out=out, stop_time=STOP_S, workers=2
    )


def test_every_set_runs_every_scenario_and_seed(comparison) -> None:
    runs = comparison.runs
    assert len(runs) == 8 and set(runs["status"]) == {"ok"}
    combos = {(r.controller, r.scenario, r.seed) for r in runs.itertuples()}
    assert combos == {(c, s, k) for c in ("pid-fuzzy", "fixed-flow") for s in ("default", "exercise") for k in (0, 1)}
    # the same seed gives the same patient and noise: the fixed flow's delivered O2 differs only with the controller
    fixed = runs[runs["controller"] == "fixed-flow"]
    assert fixed["o2_delivered_l"].nunique() <= 2  # one value per scenario at most (seeds change only the noise)


def test_the_table_has_mean_spread_and_a_ranking(comparison) -> None:
    summary = pd.read_csv(comparison.out_dir / "summary.csv")
    assert set(summary["scenario"]) == {"default", "exercise", "all"}
    for column, _, _ in METRICS:
        assert f"{column}.mean" in summary and f"{column}.sd" in summary
    for _, group in summary.groupby("scenario"):
        assert sorted(group["rank"]) == [1, 2]
    # compute time: the titrator's update is timed (a Mamdani inference: well above zero), fixed flow's is cheap
    timed = summary[summary["scenario"] == "all"].set_index("controller")
    assert timed.loc["pid-fuzzy", "compute_p50_ms.mean"] > timed.loc["fixed-flow", "compute_p50_ms.mean"] > 0
    text = (comparison.out_dir / "summary.md").read_text()
    assert "### default" in text and "| 1 |" in text and "±" in text


def test_overlay_plots_and_report_page(comparison) -> None:
    for scenario in ("default", "exercise"):
        png = comparison.out_dir / "plots" / f"overlay_{scenario}.png"
        assert png.stat().st_size > 10_000
    report = (comparison.out_dir / "report.md").read_text()
    assert "![plots/overlay_default.png](plots/overlay_default.png)" in report and "Runs: 8, failed: 0" in report


def test_finished_runs_compare_without_simulating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dirs = [run("default", out=tmp_path / f"run{s}", stop_time=4.0, overrides={}, plots=False).out_dir for s in (0, 1)]
    code = main(["compare", *map(str, dirs), "--labels", "a,b", "--out", str(tmp_path / "cmp")])
    assert code == 0
    assert "| a |" in capsys.readouterr().out
    runs = pd.read_csv(tmp_path / "cmp" / "runs.csv")
    assert list(runs["controller"]) == ["a", "b"] and runs["compute_p50_ms"].notna().all()
    assert (tmp_path / "cmp" / "plots" / "overlay_default.png").is_file()


def test_cli_refuses_neither_runs_nor_sets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--scenarios", "default"]) == 2
    assert "give --controllers" in capsys.readouterr().err
