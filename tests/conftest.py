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


@pytest.fixture(scope="session")
def reference_fmus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The FMI 2.0 Reference FMUs (Stair, VanDerPol, Feedthrough, ...), built with CMake once per test session."""
    from tests.support.reference_fmus import build, missing_tools

    why = missing_tools()
    if why:
        pytest.skip(f"Reference FMUs cannot be built: {why}")
    return build(tmp_path_factory.mktemp("reference_fmus"))
