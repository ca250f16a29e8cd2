"""`extends = "base"`: a scenario file states only what differs from another (issue 11)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.load import describe_scenario_file, load_scenario, merge_tables, scenario_text

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

BASE = """
[scenario]
name = "base"
description = "the base"
stop_time = 10.0
seed = 3
[master]
step = 0.5
algorithm = "jacobi"
[slaves.a]
fmu = "A.fmu"
[slaves.a.parameters]
k = 1.0
T = 2.0
[slaves.b]
block = "m:B"
[[connections]]
from = "a.y"
to = "b.u"
[[events]]
time = 1.0
set = { "a.k" = 2.0 }
[outputs]
record = ["a.y", "a.x"]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_child_merges_tables_appends_arrays_of_tables_and_replaces_the_rest(tmp_path):
    _write(tmp_path, "base.toml", BASE)
    child = _write(
        tmp_path,
        "child.toml",
        """
extends = "base"
[scenario]
stop_time = 20.0
[master]
step = 0.25
[slaves.a.parameters]
T = 5.0
[slaves.b]
fmu = "B.fmu"
[[events]]
time = 2.0
set = { "a.k" = 3.0 }
[outputs]
record = ["a.y"]
""",
    )
    spec = load_scenario(child)
    assert spec.name == "child" and spec.description == "the base" and spec.seed == 3  # name: the file's own
    assert spec.stop_time == 20.0 and spec.master.step == 0.25 and spec.master.algorithm == "jacobi"
    assert spec.slaves["a"].parameters == {"k": 1.0, "T": 5.0} and spec.slaves["a"].fmu == "A.fmu"
    assert spec.slaves["b"].fmu == "B.fmu" and spec.slaves["b"].block is None  # fmu replaces the base's block
    assert [(e.time, e.value) for e in spec.events] == [(1.0, 2.0), (2.0, 3.0)]
    assert [c.source for c in spec.connections] == ["a.y"]
    assert spec.outputs.record == ["a.y"]
    assert spec.source == str(child)
    assert "extends" not in scenario_text(spec)  # the results keep the whole scenario as run
    assert describe_scenario_file(child) == "the base"


def test_chains_and_relative_paths(tmp_path):
    _write(tmp_path, "base.toml", BASE)
    (tmp_path / "variants").mkdir()
    _write(tmp_path / "variants", "middle.toml", 'extends = "../base.toml"\n')
    with pytest.raises(SystemDefinitionError, match=r"middle.toml: 'extends' = '../base.toml' must be a scenario name"):
        load_scenario(tmp_path / "variants" / "middle.toml")
    _write(tmp_path / "variants", "base2.toml", BASE.replace("seed = 3", "seed = 4"))
    _write(tmp_path / "variants", "middle.toml", 'extends = "base2.toml"\n[scenario]\ndescription = "middle"\n')
    spec = load_scenario(_write(tmp_path / "variants", "leaf.toml", 'extends = "middle"\n'))
    assert spec.seed == 4 and spec.description == "middle" and spec.name == "leaf"


@pytest.mark.parametrize(
    ("extends", "message"),
    [
        ('"/etc/passwd.toml"', "must be a scenario name or a .toml path inside"),
        ('"nowhere"', "'extends' = 'nowhere': no nowhere.toml beside it"),
        ("3", "'extends' must be a scenario name or a .toml file, got 3"),
        ('"loop"', "makes a cycle"),
    ],
)
def test_bad_extends_is_one_clear_error(tmp_path, extends, message):
    _write(tmp_path, "loop.toml", 'extends = "child"\n')
    child = _write(tmp_path, "child.toml", f"extends = {extends}\n")
    with pytest.raises(SystemDefinitionError, match=message):
        load_scenario(child)


def test_merge_rules():
    base = {"t": {"x": 1, "y": {"z": 1}}, "arr": [{"a": 1}], "list": [1, 2], "s": "x"}
    child = {"t": {"y": {"w": 2}}, "arr": [{"a": 2}], "list": [3], "s": "y"}
    assert merge_tables(base, child) == {
        "t": {"x": 1, "y": {"z": 1, "w": 2}},
        "arr": [{"a": 1}, {"a": 2}],
        "list": [3],
        "s": "y",
    }
    assert base["arr"] == [{"a": 1}]  # the base is not changed


@pytest.mark.parametrize("path", sorted(p for p in SCENARIOS.glob("*.toml") if p.stem != "rest"), ids=lambda p: p.stem)
def test_named_scenarios_extend_the_base_or_say_why_not(path):
    """Named scenarios (default included) state only their differences from rest.toml, the system at rest
    (test_scenario_files checks they keep its system); events are what a scenario adds, so they are not counted."""
    raw = tomllib.loads(path.read_text())
    if raw.get("extends") != "rest":
        # a scenario that changes the system itself (other slaves) is a file of its own
        assert set(raw["slaves"]) != set(tomllib.loads((SCENARIOS / "rest.toml").read_text())["slaves"])
        return
    assert "connections" not in raw and "plots" not in raw and "master" not in raw
    text = path.read_text()
    assert len(text.split("[[events]]", 1)[0].splitlines()) < 40
