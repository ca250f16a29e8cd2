"""Fixtures for the master tests: hand-written linear FMUs (lti_fmu.c, compiled with gcc) and helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.lti_fmu import build_lti_fmu, gcc_available
from tests.support.lti_reference import OSC, oscillator_matrices


@pytest.fixture(scope="session")
def fmu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not gcc_available():
        pytest.skip("gcc is not installed: the test FMUs are compiled from C")
    return tmp_path_factory.mktemp("fmus")


@pytest.fixture(scope="session")
def oscillator_fmus(fmu_dir: Path):
    """Factory: (mass1.fmu, mass2.fmu) with the given capabilities, built once per combination."""
    cache: dict[tuple, tuple[Path, Path]] = {}

    def make(**caps) -> tuple[Path, Path]:
        key = tuple(sorted(caps.items()))
        if key not in cache:
            a1, b1, a2, b2, _ = oscillator_matrices(OSC)
            tag = "_".join(f"{k}{int(v)}" for k, v in key) or "full"
            eye = np.eye(2)
            units = {"x": "m", "v": "m/s", "x_other": "m"}
            m1 = build_lti_fmu(fmu_dir, f"Mass1_{tag}", a1, b1, eye, [[0.0], [0.0]], ["s", "w"], ["x_other"],
                               ["x", "v"], [1.0, 0.0], units, **caps)  # fmt: skip
            m2 = build_lti_fmu(fmu_dir, f"Mass2_{tag}", a2, b2, eye, [[0.0], [0.0]], ["s", "w"], ["x_other"],
                               ["x", "v"], [0.0, 0.0], units, **caps)  # fmt: skip
            cache[key] = (m1, m2)
        return cache[key]

    return make
