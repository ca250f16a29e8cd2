"""Fixtures of the FMU runtime tests: hand-built models packaged once per session (each build compiles C)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import runtime_models


@pytest.fixture(scope="session")
def fmu_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """fmu_of('van_der_pol') -> path of the packaged FMU of runtime_models.van_der_pol() (built on first use)."""
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (cc/gcc) on PATH: the runtime tests compile FMUs")
    folder = tmp_path_factory.mktemp("runtime_fmus")
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = runtime_models.package(getattr(runtime_models, name)(), folder)
        return built[name]

    return get
