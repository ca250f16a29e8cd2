"""Fixtures of the orchestrator I/O tests: a hand-written test FMU compiled once per session."""

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
