"""The browser cannot make the dashboard read a file outside the results and scenario folders, nor open a file as a
device (hazard: a page on the loopback address, or an exposed one, reads any file the server can)."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.dashboard.folders import Folders, PathNotAllowed, check_device_url, inside
from orchestrator.hil.sim.virtual import open_pty


@pytest.fixture
def folders(tmp_path, monkeypatch) -> Folders:
    """A results and a scenario folder under tmp_path, with a secret file beside them and links leading out."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "default" / "run1").mkdir(parents=True)
    (tmp_path / "results" / "default" / "run1" / "metrics.json").write_text("{}")
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.toml").write_text("[scenario]\nname = 'mine'\n")
    (tmp_path / "scenarios" / "notes.txt").write_text("not a scenario")
    (tmp_path / "secret.toml").write_text("password = 'x'")
    (tmp_path / "results" / "escape").symlink_to(tmp_path)
    (tmp_path / "results" / "secret-link.toml").symlink_to(tmp_path / "secret.toml")
    return Folders(results=(tmp_path / "results").resolve(), scenarios=((tmp_path / "scenarios").resolve(),))


def test_files_inside_the_folders_are_found(folders, tmp_path):
    assert folders.scenario_file("scenarios/mine.toml") == (tmp_path / "scenarios" / "mine.toml").resolve()
    assert folders.scenario_file(str(tmp_path / "scenarios" / "mine.toml")).name == "mine.toml"
    assert folders.result_path("default/run1") == (tmp_path / "results" / "default" / "run1").resolve()
    assert folders.result_path("default/run1/metrics.json").is_file()


@pytest.mark.parametrize(
    "text",
    [
        "../secret.toml",
        "secret.toml",
        "/etc/passwd",
        "results/../secret.toml",
        "results/escape/secret.toml",  # a link inside results that leads out
        "results/secret-link.toml",
        "~/x.toml",
        "scenarios/../../etc/hosts.toml",
    ],
)
def test_scenario_files_outside_the_folders_are_refused(folders, text):
    with pytest.raises(PathNotAllowed, match="outside the folders"):
        folders.scenario_file(text)


@pytest.mark.parametrize("text", ["../secret.toml", "/etc/passwd", "escape/secret.toml", "default/../../secret.toml"])
def test_results_paths_outside_the_results_folder_are_refused(folders, text):
    with pytest.raises(PathNotAllowed, match="outside the folders"):
        folders.result_path(text)


def test_only_existing_scenario_files_are_accepted(folders):
    with pytest.raises(PathNotAllowed, match=r"must end in \.toml or \.ssp"):
        folders.scenario_file("scenarios/notes.txt")
    with pytest.raises(PathNotAllowed, match="does not exist"):
        folders.scenario_file("scenarios/missing.toml")
    with pytest.raises(PathNotAllowed, match="not a usable path"):
        folders.scenario_file("scenarios/mine.toml\0")


@pytest.fixture(scope="module")
def fuzz_roots(tmp_path_factory) -> tuple[Path, tuple[Path, Path]]:
    base = tmp_path_factory.mktemp("fuzz").resolve()
    roots = (base / "results", base / "scenarios")
    for root in roots:
        root.mkdir()
    (base / "results" / "escape").symlink_to(base)
    (base / "results" / "loop").symlink_to(base / "results" / "loop")
    return base, roots


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=string.printable + "é/", max_size=40))
@example(text="..")
@example(text="escape")
@example(text="escape/results")
@example(text="loop/x")
@example(text="//etc")
def test_no_text_resolves_outside_the_folders(fuzz_roots, text):
    """Whatever the text, inside() returns a path inside a root or refuses: it never hands out another path."""
    base, roots = fuzz_roots
    try:
        path = inside(text, roots, what="path", base=base / "results")
    except PathNotAllowed:
        return
    assert any(path == r.resolve() or path.is_relative_to(r.resolve()) for r in roots)
    assert os.path.realpath(path) == str(path)


def test_a_device_url_must_name_a_serial_device(tmp_path):
    master, slave, path = open_pty()
    try:
        assert check_device_url(f"serial://{path}") == f"serial://{path}"
        assert check_device_url(path) == path  # a plain path is serial://PATH
    finally:
        os.close(master)
        os.close(slave)
    regular = tmp_path / "data.bin"
    regular.write_bytes(b"x")
    for url in (f"serial://{regular}", str(regular), "serial:///etc/passwd", f"serial://{tmp_path}", "/dev/null",
                "serial:///dev/zero"):  # fmt: skip
        with pytest.raises(PathNotAllowed, match="not a serial device"):
            check_device_url(url)
    with pytest.raises(PathNotAllowed, match="cannot be opened"):
        check_device_url(f"serial://{tmp_path / 'none'}")
    with pytest.raises(PathNotAllowed, match="scheme 'file'"):
        check_device_url(f"file://{regular}")
    assert check_device_url("socket://127.0.0.1:5000") == "socket://127.0.0.1:5000"


def test_the_named_scenarios_are_listed(folders):
    assert folders.scenario_names() == ["mine"]
    assert Folders.current().results == Path.cwd().resolve() / "results"
