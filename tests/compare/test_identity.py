"""A comparison's resume notices a changed controller artifact: the case identity hashes the controller-set file and
every file its blocks read (the DQN's policy, the MPC's exported prediction model, the blocks' code)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import controllers.dqn as dqn_module
from orchestrator.compare import run_comparison
from orchestrator.compare.controller_set import apply_controller_set, load_controller_set
from orchestrator.compare.identity import controller_digest, controller_files
from orchestrator.compare.study import comparison_cases
from orchestrator.paths import FMUS_DIR, POLICIES_DIR, PROJECT_ROOT
from orchestrator.sweep.case import case_id


@pytest.fixture
def own_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped policy in a policies/ folder of the test's own (the DQN block looks it up there)."""
    folder = tmp_path / "policies"
    (folder / "dqn").mkdir(parents=True)
    shutil.copy(POLICIES_DIR / "dqn" / "policy.npz", folder / "dqn" / "policy.npz")
    monkeypatch.setattr(dqn_module, "POLICIES_DIR", folder)
    return folder


def _retrain(policy: Path) -> None:
    """A different policy of the same shape (as retraining would give): one weight moved."""
    with np.load(policy) as data:
        arrays = {k: data[k].copy() for k in data.files}
    name = next(k for k, v in arrays.items() if v.dtype.kind == "f" and v.size > 1)
    arrays[name].flat[0] += 0.125
    np.savez(policy, **arrays)


def test_the_mpc_set_depends_on_its_exported_model_and_code() -> None:
    cset = load_controller_set("mpc")
    files = controller_files(cset, apply_controller_set("default", cset))
    paths = set(files.values())
    assert FMUS_DIR / "O2Twin_Control_SupervisoryModel.casadi" in paths
    assert FMUS_DIR / "O2Twin_Control_SupervisoryModel.casadi.json" in paths
    assert (PROJECT_ROOT / "controllers" / "mpc.py").resolve() in {p.resolve() for p in paths}


def test_a_changed_policy_changes_the_digest_and_the_case_ids(own_policies: Path) -> None:
    cset = load_controller_set("dqn")
    spec = apply_controller_set("default", cset)
    assert own_policies / "dqn" / "policy.npz" in controller_files(cset, spec).values()
    before = controller_digest(cset, spec)
    ids_before = [case_id("scenario", c) for c in comparison_cases([cset], ["default"], [0, 1])]
    assert controller_digest(cset, spec) == before  # the same files: the same identity
    _retrain(own_policies / "dqn" / "policy.npz")
    assert controller_digest(cset, spec) != before
    ids_after = [case_id("scenario", c) for c in comparison_cases([cset], ["default"], [0, 1])]
    assert not set(ids_before) & set(ids_after)


def test_a_changed_set_file_changes_the_digest(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "controller_sets" / "fixed-flow.toml").read_text()
    path = tmp_path / "fixed-flow.toml"
    path.write_text(text)
    first = controller_digest(load_controller_set(path), apply_controller_set("default", load_controller_set(path)))
    path.write_text(text.replace('description = "A fixed', 'description = "Another fixed'))
    second = controller_digest(load_controller_set(path), apply_controller_set("default", load_controller_set(path)))
    assert first != second


def test_resume_reruns_a_case_whose_policy_changed(tmp_path: Path, own_policies: Path) -> None:
    def compare():
        return run_comparison(["dqn"], ["default"], seeds=[3], out=tmp_path / "cmp", stop_time=2.0, workers=1)

    first = compare()
    assert list(first.runs["status"]) == ["ok"]
    (old_id,) = first.runs["case_id"]
    assert list(compare().runs["case_id"]) == [old_id]  # unchanged: resumed, not run again
    _retrain(own_policies / "dqn" / "policy.npz")
    third = compare()
    (new_id,) = third.runs["case_id"]
    assert new_id != old_id and list(third.runs["status"]) == ["ok"]
    assert (tmp_path / "cmp" / "sweep" / "cases" / new_id / "metrics.json").is_file()
