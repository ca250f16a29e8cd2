"""The registry reads the installed entry points once per process, and again when a folder of the Python path
changes (a package installed or removed meanwhile): a sweep worker builds the same scenario for every case."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from orchestrator.scenario import registry
from orchestrator.scenario.registry import BLOCK_GROUP, BlockRegistry


def test_entry_points_are_read_once_until_the_python_path_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reads: list[str] = []
    real = registry.entry_points

    def counting(group: str):  # the real scan, counted
        reads.append(group)
        return real(group=group)

    monkeypatch.setattr(registry, "entry_points", counting)
    monkeypatch.setattr(registry, "_ENTRY_POINTS", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    blocks = BlockRegistry()
    assert blocks.block("PressurePID").__name__ == "PressurePID"
    assert blocks.block("controllers.pid:PressurePID").__name__ == "PressurePID"
    assert reads == [BLOCK_GROUP]
    later = time.time() + 10
    os.utime(tmp_path, (later, later))  # as when a package is installed into that folder
    assert "PressurePID" in blocks.names()
    assert reads == [BLOCK_GROUP, BLOCK_GROUP]
