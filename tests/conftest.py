"""Session fixtures shared by every test folder: hand-written test FMUs and the Reference FMUs, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lag_fmu import build_lag_fmu


@pytest.fixture(scope="session")
def lag_fmu(tmp_path_factory) -> Path:
    """Path to Lag.fmu: x' = (k*u - x)/T, y = x (Co-Simulation only, no state get/set, fail_time parameter)."""
    return build_lag_fmu(tmp_path_factory.mktemp("lag_fmu"))


@pytest.fixture(scope="session")
def lag_fmu_degc(tmp_path_factory) -> Path:
    """The Lag FMU with its input u declared in degC (the output stays in K): connections need a conversion."""
    return build_lag_fmu(tmp_path_factory.mktemp("lag_fmu_degc"), input_unit="degC", file_name="LagC.fmu")


def _reference_fmus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, version: int):
    from tests.support.reference_fmus import build_cached, missing_tools

    why = missing_tools()
    if why:
        pytest.skip(f"Reference FMUs cannot be built: {why}")
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("reference-fmus") if cache is not None else tmp_path_factory.mktemp("reference_fmus")
    return build_cached(Path(root), version)


@pytest.fixture(scope="session")
def reference_fmus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The FMI 2.0 Reference FMUs (Stair, VanDerPol, Feedthrough, ...), built with CMake once (cached by the
    sources' hash in pytest's cache folder)."""
    return _reference_fmus(request, tmp_path_factory, 2)


@pytest.fixture(scope="session")
def reference_fmus3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The FMI 3.0 Reference FMUs (also Clocks, Roberts, StateSpace), built and cached like reference_fmus."""
    return _reference_fmus(request, tmp_path_factory, 3)
